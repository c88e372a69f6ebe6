//! `report.html`: one self-contained page per fit or comparison that a marketer opens in a
//! browser, with every chart drawn as inline SVG.
//!
//! The page loads nothing and runs no script: its content security policy forbids both, so
//! it can be mailed, archived or opened offline and shows the same thing. This crate only
//! renders: it takes plain data ([`FitReport`], [`CompareReport`]) and returns the HTML as a
//! string; `strata-core` gathers the data and writes the file with the run's other outputs.
//! It has no dependencies and does no I/O.
//!
//! Nothing here sees customer ids: a report holds aggregates, labels and, for the projection
//! scatter, anonymous points.

mod charts;
pub mod fmt;
mod html;
pub mod svg;

use charts::{Bar, BarRow, Cell, Column, Dot, hbars, heat_grid, k_line, scatter};
use fmt::{int, num, opt, pct};
use html::{Page, esc, table};
use svg::{index_colours, segment_colour, share_colours};

/// One headline figure: a label, its value and an optional line under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// What the figure is, e.g. `"Customers"`.
    pub label: String,
    /// The figure, already formatted.
    pub value: String,
    /// A line of context under the figure, e.g. what a score means.
    pub hint: Option<String>,
}

impl Fact {
    /// A fact with no hint.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Fact {
            label: label.into(),
            value: value.into(),
            hint: None,
        }
    }

    /// Adds the line shown under the value.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// A segment as the report shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The segment's number, from 0; also picks its colour in every chart.
    pub number: usize,
    /// The segment's label, as the strategy named it.
    pub label: String,
    /// Number of customers in the segment.
    pub size: u64,
    /// Share of customers, in [0, 1].
    pub share: f64,
    /// Share of the value measure's total (with a value measure).
    pub value_share: Option<f64>,
    /// Mean of the value measure per customer of the segment (with a value measure).
    pub value_per_customer: Option<f64>,
    /// Attractiveness score (0–100) and rank (1 is best).
    pub attractiveness: Option<(f64, usize)>,
    /// Customers flagged ambiguous.
    pub ambiguous: Option<u64>,
    /// Short phrases saying what sets the segment apart; may be empty.
    pub key_traits: Vec<String>,
    /// Its mean Jaccard under resampling and that reading (a fit's k-means segments).
    pub stability: Option<(f64, String)>,
    /// A rule over the input columns that picks it: the rule in words, its precision and
    /// recall (`None` where undefined).
    pub rule: Option<(String, Option<f64>, Option<f64>)>,
}

/// One row of the profile heatmap: a numeric column or one level of a categorical column,
/// with one cell per segment.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatRow {
    /// What the row measures: a column's name, or `column = level` for a category.
    pub name: String,
    /// One cell per segment, in the order of [`FitReport::segments`].
    pub cells: Vec<HeatCell>,
}

/// A segment's index for one row (segment over overall × 100; `None` where undefined) and
/// what the tooltip says (the figures it came from, in the data's units).
#[derive(Debug, Clone, PartialEq)]
pub struct HeatCell {
    /// Segment over overall × 100 (100 is average); `None` where undefined, e.g. no customer of the
    /// segment has a value.
    pub index: Option<f64>,
    /// The tooltip: the figures the index came from, in the data's units.
    pub detail: String,
}

/// The profile heatmap: rows in the order to show, and how many were left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// The rows shown, most distinguishing first.
    pub rows: Vec<HeatRow>,
    /// Rows left out of the page for space; they are in `segments.json`.
    pub omitted: usize,
}

/// A 2-D projection of the feature space: a sample of customers and the centroids.
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    /// Label of the horizontal axis.
    pub x_title: String,
    /// Label of the vertical axis.
    pub y_title: String,
    /// (x, y, segment) per sampled customer.
    pub points: Vec<(f64, f64, usize)>,
    /// (x, y, segment) per centroid (several per segment where small segments were merged).
    pub centroids: Vec<(f64, f64, usize)>,
    /// What was projected and sampled.
    pub note: String,
}

/// The customers on a map (a strategy with `latitude` and `longitude` roles).
#[derive(Debug, Clone, PartialEq)]
pub struct GeoMap {
    /// (longitude, latitude, segment) per drawn customer.
    pub points: Vec<(f64, f64, usize)>,
    /// Per segment: (longitude, latitude) of its centre, its radius in km, its number.
    pub centres: Vec<(f64, f64, f64, usize)>,
    /// Per segment: its radius as a ring of (latitude, longitude) points, its number.
    pub rings: Vec<(Vec<(f64, f64)>, usize)>,
    /// The longitude the map is centred on.
    pub lon0: f64,
    /// What was drawn and how.
    pub note: String,
}

/// One k tried under `--k auto`.
#[derive(Debug, Clone, PartialEq)]
pub struct KPoint {
    /// The number of segments tried.
    pub k: usize,
    /// Sum of squared distances from each customer to its centroid.
    pub inertia: f64,
    /// Mean silhouette; `None` where undefined (see `strata-quality`).
    pub silhouette: Option<f64>,
    /// Davies–Bouldin index; `None` where undefined.
    pub davies_bouldin: Option<f64>,
    /// Calinski–Harabasz index; `None` where undefined.
    pub calinski_harabasz: Option<f64>,
    /// The weakest segment's mean Jaccard under resampling; `None` when not measured.
    pub stability: Option<f64>,
    /// The smallest segment's share of the customers.
    pub smallest: Option<f64>,
}

/// The k-selection table with the choice and its rule.
#[derive(Debug, Clone, PartialEq)]
pub struct KSelection {
    /// Every k tried, in increasing order.
    pub candidates: Vec<KPoint>,
    /// The k chosen; one of the candidates'.
    pub chosen: usize,
    /// How the k was chosen, in a phrase (shown as "Rule: …").
    pub rule: String,
    /// Why this k, the runner-up and the check against structureless data, a sentence each.
    pub reasons: Vec<String>,
    /// What the candidates were fitted and scored on, e.g. a sample.
    pub note: String,
}

/// Everything a fit's report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    /// The page's heading.
    pub title: String,
    /// The line under the heading: segments, strategy and mode.
    pub subtitle: String,
    /// "strata 0.1.0": the footer and the generator tag.
    pub generator: String,
    /// Headline figures for the summary.
    pub facts: Vec<Fact>,
    /// Things the reader must know (merged segments, unstable restarts, sampling).
    pub notes: Vec<String>,
    /// The segments, in the order the tables and legends list them.
    pub segments: Vec<Segment>,
    /// The value measure's name, when the strategy has one.
    pub value_measure: Option<String>,
    /// How the attractiveness score is computed, in a phrase for the chart's caption.
    pub attractiveness_rule: String,
    /// The profile heatmap.
    pub heatmap: Heatmap,
    /// The projection, or why there is none.
    pub scatter: Result<Scatter, String>,
    /// The k-selection section; `None` unless k was chosen by `--k auto`.
    pub k_selection: Option<KSelection>,
    /// Predicted value and churn risk; `None` without a value model.
    pub value_model: Option<ValueModel>,
    /// Outcome columns by segment (KPIs and campaign tests); empty without `--outcome`.
    pub outcomes: Vec<OutcomeTable>,
    /// How the segments' rules were found, in a sentence; `None` without rules.
    pub rules_method: Option<String>,
    /// The customers on a map; `None` without coordinates.
    pub geo_map: Option<GeoMap>,
}

/// One outcome's section: a sentence for the whole base, the test, and tables (text cells,
/// escaped when drawn).
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeTable {
    /// The heading: the column and whether it is a rate or a mean.
    pub title: String,
    /// The whole base's figure and the test of whether segments differ, in sentences.
    pub lines: Vec<String>,
    /// Per segment: segment, customers, rate or mean, 95% interval, lift.
    pub rows: Vec<Vec<String>>,
    /// With a treatment column, per segment: segment, treated, control, effect, its 95%
    /// interval, whether it pays, rank or the warning; empty without one.
    pub effects: Vec<Vec<String>>,
}

/// A value model's section: what was fitted and each segment's predicted value and risk.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueModel {
    /// What was fitted and over what horizon, in a sentence.
    pub what: String,
    /// Each parameter: its name and its value with its standard error, formatted.
    pub params: Vec<(String, String)>,
    /// The fit's caveats.
    pub notes: Vec<String>,
    /// The P(alive) below which a customer is at risk.
    pub at_risk_below: f64,
    /// The segments, in the order of [`FitReport::segments`].
    pub segments: Vec<PredictedSegment>,
}

/// One segment under the value model.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictedSegment {
    /// The segment's number (its colour).
    pub number: usize,
    /// Its label.
    pub label: String,
    /// Its share of all predicted CLV (`None` without purchase values).
    pub clv_share: Option<f64>,
    /// Predicted CLV per customer.
    pub clv_mean: Option<f64>,
    /// Its rank by predicted CLV, 1 the largest.
    pub clv_rank: Option<usize>,
    /// Mean P(alive).
    pub p_alive_mean: f64,
    /// Share of its customers at risk.
    pub at_risk_share: f64,
    /// Mean expected purchases over the horizon.
    pub expected_purchases_mean: f64,
}

/// One segment's drift between the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// The segment as named in both runs, or `gone: …` / `new: …` when it is in one only.
    pub label: String,
    /// The segment's share of the earlier run's customers, in [0, 1].
    pub a_share: f64,
    /// The segment's share of the later run's customers, in [0, 1].
    pub b_share: f64,
    /// The segment's term of the population stability index.
    pub psi: f64,
    /// `psi` read against [`CompareReport::psi_bands`]: `stable`, `watch` or `shifted`.
    pub reading: String,
}

/// A segment of the later run ranked by attractiveness, growth included.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The segment's number and label in the later run.
    pub label: String,
    /// Attractiveness score, 0 to 100, growth included.
    pub score: f64,
    /// Position by score, 1 being the best.
    pub rank: usize,
    /// Share now over share before.
    pub growth: Option<f64>,
}

/// Everything a comparison's report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareReport {
    /// The page's heading.
    pub title: String,
    /// The line under the heading: the two runs compared.
    pub subtitle: String,
    /// "strata 0.1.0": the footer and the generator tag.
    pub generator: String,
    /// Headline figures for the summary.
    pub facts: Vec<Fact>,
    /// Things the reader must know, e.g. how the runs' segments were paired.
    pub notes: Vec<String>,
    /// The earlier run's segment names, indexed by its segment number.
    pub a_labels: Vec<String>,
    /// The later run's segment names, indexed by its segment number.
    pub b_labels: Vec<String>,
    /// Counts: rows are run A's segments, columns run B's.
    pub migration: Vec<Vec<u64>>,
    /// Customers of the later run missing from the earlier one, by B segment.
    pub new_by_segment: Vec<u64>,
    /// Customers of the earlier run missing from the later one, by A segment.
    pub gone_by_segment: Vec<u64>,
    /// Each segment's drift, in the order the chart lists them.
    pub drift: Vec<Drift>,
    /// The PSI bands behind each reading, as text for the caption, e.g. `"< 0.1 stable, …"`.
    pub psi_bands: String,
    /// The later run's segments with a score, best first.
    pub ranking: Vec<Ranked>,
    /// How the attractiveness score is computed, in a phrase for the chart's caption.
    pub attractiveness_rule: String,
    /// Per matched segment with a value model on either side: its drift label, predicted CLV
    /// per customer before and now, the change, and mean P(alive) before and now (text).
    pub value_change: Vec<Vec<String>>,
}

fn segment_name(s: &Segment) -> String {
    format!("{} · {}", s.number, s.label)
}

/// The fit's `report.html`.
pub fn render_fit(r: &FitReport) -> String {
    let mut page = Page::new();
    page.section("summary", "Summary", "");
    page.facts(&r.facts);
    page.notes(&r.notes);
    page.end_section();

    segments_section(&mut page, r);
    if let Some(method) = &r.rules_method {
        rules_section(&mut page, r, method);
    }
    if let Some(v) = &r.value_model {
        value_section(&mut page, v);
    }
    if !r.outcomes.is_empty() {
        outcomes_section(&mut page, &r.outcomes);
    }
    attractiveness_section(&mut page, r);
    heatmap_section(&mut page, r);
    scatter_section(&mut page, r);
    if let Some(m) = &r.geo_map {
        geo_section(&mut page, r, m);
    }
    if let Some(sel) = &r.k_selection {
        k_section(&mut page, sel);
    }
    page.finish(&r.title, &r.subtitle, &r.generator)
}

fn segments_section(page: &mut Page, r: &FitReport) {
    page.section(
        "segments",
        "Segments at a glance",
        "How many customers each segment holds and, where the data has a value measure, \
         how much of the total value they bring. Hover over a bar for the figures.",
    );
    let rows: Vec<BarRow> = r
        .segments
        .iter()
        .map(|s| {
            let colour = segment_colour(s.number);
            let mut bars = vec![Bar {
                value: s.share,
                colour: colour.clone(),
                text: format!("{} · {}", pct(s.share), int(s.size)),
                tip: format!(
                    "{}: {} customers, {} of all",
                    s.label,
                    int(s.size),
                    pct(s.share)
                ),
            }];
            if let Some(v) = s.value_share {
                bars.push(Bar {
                    value: v,
                    colour: "#555555".into(),
                    text: format!("{} of value", pct(v)),
                    tip: format!("{}: {} of total value", s.label, pct(v)),
                });
            }
            BarRow {
                label: segment_name(s),
                bars,
            }
        })
        .collect();
    let max = r
        .segments
        .iter()
        .flat_map(|s| [Some(s.share), s.value_share])
        .flatten()
        .fold(0.0, f64::max);
    let caption = match &r.value_measure {
        Some(v) => format!(
            "Share of customers (segment colour) and share of total {v} (grey) per segment."
        ),
        None => "Share of customers per segment.".to_string(),
    };
    page.figure(
        "chart-sizes",
        &hbars(
            &rows,
            max,
            &|v| format!("{:.0}%", 100.0 * v),
            &[],
            "Segment sizes",
        ),
        &caption,
    );

    let value = r.value_measure.is_some();
    let ambiguous = r.segments.iter().any(|s| s.ambiguous.is_some());
    let stability = r.segments.iter().any(|s| s.stability.is_some());
    let mut head = vec!["segment", "#customers", "#share"];
    if value {
        head.extend(["#share of value", "#value per customer"]);
    }
    head.push("#attractiveness");
    if ambiguous {
        head.push("#ambiguous");
    }
    if stability {
        head.push("stability under resampling");
    }
    head.push("what stands out");
    let rows: Vec<Vec<String>> = r
        .segments
        .iter()
        .map(|s| {
            let mut row = vec![
                format!(
                    r#"<span class="swatch" style="background:{}"></span>{}"#,
                    segment_colour(s.number),
                    esc(&segment_name(s))
                ),
                int(s.size),
                pct(s.share),
            ];
            if value {
                row.push(s.value_share.map_or_else(|| "n/a".into(), pct));
                row.push(s.value_per_customer.map_or_else(|| "n/a".into(), num));
            }
            row.push(
                s.attractiveness
                    .map_or_else(|| "n/a".into(), |(sc, rank)| format!("{sc:.1} (#{rank})")),
            );
            if ambiguous {
                row.push(s.ambiguous.map_or_else(|| "n/a".into(), int));
            }
            if stability {
                row.push(s.stability.as_ref().map_or_else(
                    || "n/a".into(),
                    |(j, reading)| format!("{} (Jaccard {j:.2})", esc(reading)),
                ));
            }
            row.push(esc(&s.key_traits.join("; ")));
            row
        })
        .collect();
    page.raw(&table(&head, &rows));
    page.end_section();
}

fn rules_section(page: &mut Page, r: &FitReport, method: &str) {
    page.section(
        "rules",
        "Segment rules a CRM can apply",
        "A short filter over the input columns, in the data's own units, that picks each \
         segment. Precision: of the customers the rule catches, the share in the segment; \
         recall: of the segment, the share the rule catches. `strata fit --rules` writes them \
         as SQL (segment_rules.sql).",
    );
    let share = |v: Option<f64>| v.map_or_else(|| "n/a".into(), pct);
    let rows: Vec<Vec<String>> = r
        .segments
        .iter()
        .filter_map(|s| {
            s.rule.as_ref().map(|(text, precision, recall)| {
                vec![
                    esc(&segment_name(s)),
                    esc(text),
                    share(*precision),
                    share(*recall),
                ]
            })
        })
        .collect();
    page.raw(&table(&["segment", "rule", "#precision", "#recall"], &rows));
    page.notes(&[format!("Method: {method}.")]);
    page.end_section();
}

fn outcomes_section(page: &mut Page, outcomes: &[OutcomeTable]) {
    page.section(
        "outcomes",
        "Outcomes by segment",
        "Columns evaluated, never clustered: each segment's rate (Wilson 95% interval) or mean \
         (t interval), its lift against the whole base, and whether segments differ. With a \
         treatment column, the campaign's effect per segment (treated − control, Newcombe's \
         or Welch's 95% interval; intervals are per segment, not adjusted for comparing \
         several).",
    );
    for o in outcomes {
        page.raw(&format!("<h3>{}</h3>", esc(&o.title)));
        for l in &o.lines {
            page.raw(&format!("<p>{}</p>", esc(l)));
        }
        let cells = |rows: &[Vec<String>]| -> Vec<Vec<String>> {
            rows.iter()
                .map(|r| r.iter().map(|c| esc(c)).collect())
                .collect()
        };
        page.raw(&table(
            &["segment", "#customers", "#value", "#95% interval", "#lift"],
            &cells(&o.rows),
        ));
        if !o.effects.is_empty() {
            page.raw(&table(
                &[
                    "segment",
                    "#treated",
                    "#control",
                    "#effect",
                    "#95% interval",
                    "pays",
                    "rank or why not",
                ],
                &cells(&o.effects),
            ));
        }
    }
    page.end_section();
}

fn value_section(page: &mut Page, v: &ValueModel) {
    page.section(
        "value",
        "Predicted value and churn risk",
        "What each segment is expected to bring, not what it brought: a buy-till-you-die model \
         fitted on every customer's purchase history predicts their purchases, the value of a \
         purchase and the chance they are still a customer. Hover over a bar for the figures.",
    );
    page.raw(&format!("<p>{}</p>", esc(&v.what)));
    page.notes(&v.notes);
    let mut ranked: Vec<&PredictedSegment> = v.segments.iter().collect();
    ranked.sort_by_key(|s| (s.clv_rank, s.number));
    let has_clv = v.segments.iter().any(|s| s.clv_share.is_some());
    let rows: Vec<BarRow> = ranked
        .iter()
        .map(|s| {
            let name = format!("{} {}", s.number, s.label);
            let mut bars = Vec::new();
            if let Some(share) = s.clv_share {
                bars.push(Bar {
                    value: share,
                    colour: segment_colour(s.number),
                    text: format!("{} of CLV", pct(share)),
                    tip: format!(
                        "{}: {} of predicted CLV, {} per customer",
                        s.label,
                        pct(share),
                        s.clv_mean.map_or_else(|| "n/a".into(), num)
                    ),
                });
            }
            bars.push(Bar {
                value: s.at_risk_share,
                colour: "#b2182b".into(),
                text: format!("{} at risk", pct(s.at_risk_share)),
                tip: format!(
                    "{}: {} of its customers at risk (P(alive) below {}); mean P(alive) {:.3}",
                    s.label,
                    pct(s.at_risk_share),
                    v.at_risk_below,
                    s.p_alive_mean
                ),
            });
            BarRow { label: name, bars }
        })
        .collect();
    let max = v
        .segments
        .iter()
        .flat_map(|s| [s.clv_share, Some(s.at_risk_share)])
        .flatten()
        .fold(0.0, f64::max);
    page.figure(
        "chart-value",
        &hbars(
            &rows,
            max.max(1e-9),
            &|x| format!("{:.0}%", 100.0 * x),
            &[],
            "Predicted value and churn risk",
        ),
        &if has_clv {
            format!(
                "Share of all predicted CLV (segment colour) and share of the segment's customers \
                 at risk, P(alive) below {} (red); segments by predicted CLV.",
                v.at_risk_below
            )
        } else {
            format!(
                "Share of the segment's customers at risk, P(alive) below {} (no purchase \
                 values, so no CLV).",
                v.at_risk_below
            )
        },
    );
    let head = [
        "segment",
        "#predicted CLV per customer",
        "#share of CLV",
        "#expected purchases",
        "#mean P(alive)",
        "#at risk",
    ];
    let rows: Vec<Vec<String>> = ranked
        .iter()
        .map(|s| {
            vec![
                format!(
                    r#"<span class="swatch" style="background:{}"></span>{} {}"#,
                    segment_colour(s.number),
                    s.number,
                    esc(&s.label)
                ),
                s.clv_mean.map_or_else(|| "n/a".into(), num),
                s.clv_share.map_or_else(|| "n/a".into(), pct),
                format!("{:.2}", s.expected_purchases_mean),
                format!("{:.3}", s.p_alive_mean),
                pct(s.at_risk_share),
            ]
        })
        .collect();
    page.raw(&table(&head, &rows));
    let params: Vec<Vec<String>> = v
        .params
        .iter()
        .map(|(n, val)| vec![esc(n), esc(val)])
        .collect();
    page.raw(&table(
        &["parameter", "#estimate ± standard error"],
        &params,
    ));
    page.end_section();
}

fn attractiveness_section(page: &mut Page, r: &FitReport) {
    page.section(
        "attractiveness",
        "Attractiveness ranking",
        "Segments ranked by a score from their size and, where there is a value measure, \
         their value per customer. A starting point for where to spend, not a verdict.",
    );
    let mut ranked: Vec<&Segment> = r
        .segments
        .iter()
        .filter(|s| s.attractiveness.is_some())
        .collect();
    if ranked.is_empty() {
        page.absent("No segment has an attractiveness score.");
        page.end_section();
        return;
    }
    ranked.sort_by_key(|s| s.attractiveness.map(|a| a.1));
    let rows: Vec<BarRow> = ranked
        .iter()
        .map(|s| {
            let (score, rank) = s.attractiveness.expect("filtered");
            BarRow {
                label: format!("#{rank} {}", segment_name(s)),
                bars: vec![Bar {
                    value: score,
                    colour: segment_colour(s.number),
                    text: format!("{score:.1}"),
                    tip: format!("{}: score {score:.1}, rank {rank}", s.label),
                }],
            }
        })
        .collect();
    page.figure(
        "chart-attractiveness",
        &hbars(
            &rows,
            100.0,
            &|v| format!("{v:.0}"),
            &[],
            "Attractiveness ranking",
        ),
        &format!("Score: {}.", r.attractiveness_rule),
    );
    page.end_section();
}

fn heatmap_section(page: &mut Page, r: &FitReport) {
    page.section(
        "profiles",
        "Profiles: what sets each segment apart",
        "Each cell is an index: the segment's mean (or, for a category, its share) over the \
         mean of all customers, × 100. 100 is average; red is above, blue below; 200 means \
         twice the average. Hover over a cell for the figures in the data's own units.",
    );
    if r.heatmap.rows.is_empty() {
        page.absent("The strategy bound no column that can be profiled.");
        page.end_section();
        return;
    }
    let columns: Vec<Column> = r
        .segments
        .iter()
        .map(|s| Column {
            header: s.number.to_string(),
            tip: segment_name(s),
            colour: Some(segment_colour(s.number)),
        })
        .collect();
    let names: Vec<String> = r.heatmap.rows.iter().map(|h| h.name.clone()).collect();
    let cells: Vec<Vec<Cell>> = r
        .heatmap
        .rows
        .iter()
        .map(|row| {
            row.cells
                .iter()
                .zip(&r.segments)
                .map(|(c, s)| {
                    let (fill, ink) = index_colours(c.index);
                    Cell {
                        fill,
                        ink,
                        text: c.index.map_or_else(|| "n/a".into(), |i| format!("{i:.0}")),
                        tip: format!("{} in {}: {}", row.name, s.label, c.detail),
                    }
                })
                .collect()
        })
        .collect();
    let mut caption = "Rows are ordered by how far their indices stray from 100.".to_string();
    if r.heatmap.omitted > 0 {
        caption.push_str(&format!(
            " {} more rows that differ less are in segments.json.",
            int(r.heatmap.omitted as u64)
        ));
    }
    page.figure(
        "chart-profile",
        &heat_grid(&columns, &names, &cells, "Profile heatmap of indices"),
        &caption,
    );
    legend(page, &r.segments);
    page.end_section();
}

fn legend(page: &mut Page, segments: &[Segment]) {
    let entries: Vec<(String, String)> = segments
        .iter()
        .map(|s| (segment_colour(s.number), segment_name(s)))
        .collect();
    page.legend(&entries);
}

fn scatter_section(page: &mut Page, r: &FitReport) {
    page.section(
        "map",
        "Segment map",
        "Customers placed by the two directions along which they differ most (principal \
         components of the features the segments were made from). Segments that overlap \
         here may still separate on other features; large numbered dots are centroids.",
    );
    match &r.scatter {
        Err(why) => page.absent(why),
        Ok(s) => {
            let dot = |&(x, y, segment): &(f64, f64, usize)| Dot { x, y, segment };
            let points: Vec<Dot> = s.points.iter().map(dot).collect();
            let centroids: Vec<(Dot, String)> = s
                .centroids
                .iter()
                .map(|c| {
                    let label = r
                        .segments
                        .iter()
                        .find(|g| g.number == c.2)
                        .map_or_else(|| c.2.to_string(), segment_name);
                    (dot(c), format!("centroid of {label}"))
                })
                .collect();
            page.figure(
                "chart-map",
                &scatter(
                    &points,
                    &centroids,
                    &s.x_title,
                    &s.y_title,
                    "Segment map: projection scatter",
                ),
                &s.note,
            );
            legend(page, &r.segments);
        }
    }
    page.end_section();
}

fn geo_section(page: &mut Page, r: &FitReport, m: &GeoMap) {
    page.section(
        "geo",
        "Where the segments are",
        "Customers on the globe (an equirectangular projection, no map tiles), coloured by \
         segment; numbered dots are the segments' centres and the rings hold 80% of each \
         segment's customers.",
    );
    let name = |n: usize| {
        r.segments
            .iter()
            .find(|g| g.number == n)
            .map_or_else(|| n.to_string(), segment_name)
    };
    let dot = |&(x, y, segment): &(f64, f64, usize)| Dot { x, y, segment };
    let points: Vec<Dot> = m.points.iter().map(dot).collect();
    let centres: Vec<(Dot, String)> = m
        .centres
        .iter()
        .map(|&(lon, lat, km, n)| {
            (
                Dot {
                    x: lon,
                    y: lat,
                    segment: n,
                },
                format!(
                    "{}: centre {lat:.2}, {lon:.2}; 80% within {km:.0} km",
                    name(n)
                ),
            )
        })
        .collect();
    page.figure(
        "chart-geo",
        &crate::charts::geo_map(&points, &centres, &m.rings, m.lon0, "Map of the segments"),
        &m.note,
    );
    legend(page, &r.segments);
    let rows: Vec<Vec<String>> = m
        .centres
        .iter()
        .map(|&(lon, lat, km, n)| {
            vec![
                esc(&name(n)),
                format!("{lat:.4}"),
                format!("{lon:.4}"),
                format!("{km:.1}"),
            ]
        })
        .collect();
    page.raw(&table(
        &["segment", "#latitude", "#longitude", "#radius km (80%)"],
        &rows,
    ));
    page.end_section();
}

fn k_section(page: &mut Page, sel: &KSelection) {
    page.section(
        "choose-k",
        "Choosing the number of segments",
        "Every k in the range was fitted and scored. Inertia always falls as k grows (look \
         for the bend); silhouette and Calinski–Harabasz are better higher, Davies–Bouldin \
         lower. The dashed line is the k chosen.",
    );
    let ks: Vec<usize> = sel.candidates.iter().map(|c| c.k).collect();
    let series: [(&str, &str, Vec<Option<f64>>); 4] = [
        (
            "Silhouette (higher is better)",
            "#4e79a7",
            sel.candidates.iter().map(|c| c.silhouette).collect(),
        ),
        (
            "Inertia (look for the bend)",
            "#f28e2b",
            sel.candidates.iter().map(|c| Some(c.inertia)).collect(),
        ),
        (
            "Davies–Bouldin (lower is better)",
            "#e15759",
            sel.candidates.iter().map(|c| c.davies_bouldin).collect(),
        ),
        (
            "Calinski–Harabasz (higher is better)",
            "#59a14f",
            sel.candidates.iter().map(|c| c.calinski_harabasz).collect(),
        ),
    ];
    page.raw(r#"<div class="grid2">"#);
    for (i, (title, colour, values)) in series.iter().enumerate() {
        if values.iter().flatten().any(|v| v.is_finite()) {
            page.figure(
                &format!("chart-k-{i}"),
                &k_line(&ks, values, sel.chosen, title, colour),
                "",
            );
        } else {
            page.absent(&format!("{title}: undefined for every k tried."));
        }
    }
    page.raw("</div>");
    let rows: Vec<Vec<String>> = sel
        .candidates
        .iter()
        .map(|c| {
            let mark = if c.k == sel.chosen { " ← chosen" } else { "" };
            vec![
                format!("{}{mark}", c.k),
                format!("{:.6e}", c.inertia),
                opt(c.silhouette, 4),
                opt(c.davies_bouldin, 4),
                opt(c.calinski_harabasz, 1),
                opt(c.stability, 3),
                c.smallest
                    .map_or_else(|| "n/a".into(), |s| format!("{:.1}%", s * 100.0)),
            ]
        })
        .collect();
    page.raw(&table(
        &[
            "k",
            "#inertia",
            "#silhouette",
            "#Davies–Bouldin",
            "#Calinski–Harabasz",
            "#stability under resampling (weakest segment)",
            "#smallest segment",
        ],
        &rows,
    ));
    let mut notes = sel.reasons.clone();
    notes.extend([format!("Rule: {}.", sel.rule), sel.note.clone()]);
    page.notes(&notes);
    page.end_section();
}

/// The comparison's `report.html`.
pub fn render_compare(r: &CompareReport) -> String {
    let mut page = Page::new();
    page.section("summary", "Summary", "");
    page.facts(&r.facts);
    page.notes(&r.notes);
    page.end_section();

    page.section(
        "migration",
        "Where customers went",
        "Rows are the earlier run's segments, columns the later run's. Each cell counts the \
         customers in both runs that moved from the row's segment to the column's; its colour \
         is that count's share of the row. The last column counts customers gone, the last \
         row customers new.",
    );
    let mut columns: Vec<Column> = r
        .b_labels
        .iter()
        .map(|l| Column {
            header: l.clone(),
            tip: l.clone(),
            colour: None,
        })
        .collect();
    columns.push(Column {
        header: "gone".into(),
        tip: "customers of the earlier run not in the later one".into(),
        colour: None,
    });
    let mut rows: Vec<String> = r.a_labels.clone();
    rows.push("new".into());
    let mut cells: Vec<Vec<Cell>> = r
        .migration
        .iter()
        .enumerate()
        .map(|(a, counts)| {
            let total: u64 = counts.iter().sum::<u64>() + r.gone_by_segment[a];
            let mut row: Vec<Cell> = counts
                .iter()
                .enumerate()
                .map(|(b, &n)| count_cell(n, total, &r.a_labels[a], &r.b_labels[b]))
                .collect();
            row.push(count_cell(
                r.gone_by_segment[a],
                total,
                &r.a_labels[a],
                "gone",
            ));
            row
        })
        .collect();
    let new_total: u64 = r.new_by_segment.iter().sum();
    let mut new_row: Vec<Cell> = r
        .new_by_segment
        .iter()
        .enumerate()
        .map(|(b, &n)| count_cell(n, new_total, "new", &r.b_labels[b]))
        .collect();
    new_row.push(Cell {
        fill: "#ffffff".into(),
        ink: "#222222",
        text: String::new(),
        tip: "new customers cannot be gone".into(),
    });
    cells.push(new_row);
    page.figure(
        "chart-migration",
        &heat_grid(&columns, &rows, &cells, "Migration matrix"),
        "Counts of customers; colour is the share of the row (where the row's customers went).",
    );
    page.end_section();

    page.section(
        "stability",
        "Population stability per segment",
        &format!(
            "The population stability index (PSI) of each segment's share between the runs. \
             Reading: {}.",
            r.psi_bands
        ),
    );
    let rows: Vec<BarRow> = r
        .drift
        .iter()
        .map(|d| BarRow {
            label: d.label.clone(),
            bars: vec![Bar {
                value: d.psi,
                colour: match d.reading.as_str() {
                    "stable" => "#59a14f".into(),
                    "watch" => "#edc948".into(),
                    _ => "#e15759".into(),
                },
                text: format!(
                    "{:.4} ({}): {} → {}",
                    d.psi,
                    d.reading,
                    pct(d.a_share),
                    pct(d.b_share)
                ),
                tip: format!(
                    "{}: share {} → {}, PSI {:.4} ({})",
                    d.label,
                    pct(d.a_share),
                    pct(d.b_share),
                    d.psi,
                    d.reading
                ),
            }],
        })
        .collect();
    let max = r.drift.iter().map(|d| d.psi).fold(0.0, f64::max);
    page.figure(
        "chart-psi",
        &hbars(
            &rows,
            max,
            &|v| format!("{v:.2}"),
            &[(0.1, "watch".into()), (0.25, "shifted".into())],
            "Population stability index per segment",
        ),
        "Bars: each segment's PSI term; dashed lines at the reading bands.",
    );
    page.end_section();

    page.section(
        "attractiveness",
        "Attractiveness ranking, with growth",
        "The later run's segments ranked by size, value per customer and growth since the \
         earlier run.",
    );
    if r.ranking.is_empty() {
        page.absent("No segment of the later run has an attractiveness score.");
    } else {
        let rows: Vec<BarRow> = r
            .ranking
            .iter()
            .map(|s| BarRow {
                label: format!("#{} {}", s.rank, s.label),
                bars: vec![Bar {
                    value: s.score,
                    colour: "#4e79a7".into(),
                    text: match s.growth {
                        Some(g) => format!("{:.1} (share ×{g:.2})", s.score),
                        None => format!("{:.1}", s.score),
                    },
                    tip: format!("{}: score {:.1}, rank {}", s.label, s.score, s.rank),
                }],
            })
            .collect();
        page.figure(
            "chart-attractiveness",
            &hbars(
                &rows,
                100.0,
                &|v| format!("{v:.0}"),
                &[],
                "Attractiveness ranking with growth",
            ),
            &format!("Score: {}.", r.attractiveness_rule),
        );
    }
    page.end_section();
    if !r.value_change.is_empty() {
        page.section(
            "value",
            "Predicted value, before and now",
            "Where a run fitted a value model: each matched segment's predicted CLV per \
             customer and mean probability of being still active, in the earlier run and now.",
        );
        let rows: Vec<Vec<String>> = r
            .value_change
            .iter()
            .map(|row| row.iter().map(|c| esc(c)).collect())
            .collect();
        page.raw(&table(
            &[
                "segment",
                "#CLV per customer before",
                "#now",
                "#change",
                "#P(alive) before",
                "#now",
            ],
            &rows,
        ));
        page.end_section();
    }
    page.finish(&r.title, &r.subtitle, &r.generator)
}

fn count_cell(n: u64, row_total: u64, from: &str, to: &str) -> Cell {
    let share = if row_total > 0 {
        n as f64 / row_total as f64
    } else {
        0.0
    };
    let (fill, ink) = share_colours(share);
    Cell {
        fill,
        ink,
        text: int(n),
        tip: format!(
            "{from} → {to}: {} customers ({} of the row)",
            int(n),
            pct(share)
        ),
    }
}

#[cfg(test)]
mod tests;
