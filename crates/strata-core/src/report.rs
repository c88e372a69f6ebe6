//! What goes into `report.html`: the fit's (or scoring run's) `segments.json` and its
//! projection, turned into the plain data `strata-report` draws from (a comparison's view is
//! `strata-compare`'s).
//!
//! Only aggregates reach the report: sizes, shares, means, indices, metrics and the
//! projection's anonymous points. No customer id does, pseudonymised or not.

use strata_report::{
    Fact, FitReport, HeatCell, HeatRow, Heatmap, KPoint, KSelection, OutcomeTable,
    PredictedSegment, Scatter, Segment, ValueModel,
    fmt::{int, num, opt, pct},
};

use crate::output::SegmentsFile;
use crate::projection::Projection;

/// Rows of the profile heatmap at most; the others are counted and left to segments.json.
pub const HEATMAP_ROWS: usize = 30;
/// A categorical level appears in the heatmap when at least this share of all customers has it.
const LEVEL_MIN_SHARE: f64 = 0.02;

fn generator() -> String {
    format!("strata {}", env!("CARGO_PKG_VERSION"))
}

fn file_name(path: &str) -> &str {
    std::path::Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path)
}

/// Kaufman and Rousseeuw's reading of a mean silhouette.
fn silhouette_reading(s: f64) -> &'static str {
    if s > 0.70 {
        "strong structure"
    } else if s > 0.50 {
        "reasonable structure"
    } else if s > 0.25 {
        "weak structure: segments overlap"
    } else {
        "no substantial structure"
    }
}

/// Segments a report draws: past this, the largest are drawn and the page says so (a page
/// of 65,536 segments would be gigabytes that no one reads; segments.json has them all).
pub(crate) const MAX_REPORT_SEGMENTS: usize = 200;

/// The report of a fit, or of a scoring run (`scored_with` set, no projection).
pub(crate) fn fit_report(
    f: &SegmentsFile,
    projection: Option<&Projection>,
    places: Option<&[(f64, f64, usize)]>,
) -> FitReport {
    let (cut, cut_projection);
    let (f, projection, hidden) = if f.segments.len() > MAX_REPORT_SEGMENTS {
        cut = SegmentsFile {
            segments: f.segments[..MAX_REPORT_SEGMENTS].to_vec(),
            ..f.clone()
        };
        cut_projection = projection.map(|p| Projection {
            points: p
                .points
                .iter()
                .copied()
                .filter(|q| q.2 < MAX_REPORT_SEGMENTS)
                .collect(),
            centroids: p
                .centroids
                .iter()
                .copied()
                .filter(|q| q.2 < MAX_REPORT_SEGMENTS)
                .collect(),
            ..p.clone()
        });
        (
            &cut,
            cut_projection.as_ref(),
            f.segments.len() - MAX_REPORT_SEGMENTS,
        )
    } else {
        (f, projection, 0)
    };
    let mut notes = fit_notes(f);
    if hidden > 0 {
        notes.push(format!(
            "This page shows the {MAX_REPORT_SEGMENTS} largest of the {} segments; \
             segments.json and the assignments have every one.",
            f.k
        ));
    }
    let scored = f.scored_with.as_ref();
    let title = match scored {
        Some(_) => format!("Customers scored: {}", file_name(&f.input.file)),
        None => format!("Customer segments: {}", file_name(&f.input.file)),
    };
    let subtitle = format!(
        "{} segments from the {} strategy {} ({}){}",
        f.k,
        f.strategy.name,
        f.strategy.version,
        match (f.mode, f.algorithm.as_ref().and_then(|a| a.gamma)) {
            (crate::Mode::Kmeans, Some(gamma)) => format!("k-prototypes, γ {gamma:.3}"),
            (crate::Mode::Kmeans, None) => "k-means".into(),
            (crate::Mode::Rfm, _) => "RFM scores".into(),
        },
        scored.map_or_else(String::new, |s| format!(", with the model {}", s.model))
    );
    FitReport {
        title,
        subtitle,
        generator: generator(),
        facts: fit_facts(f),
        notes,
        segments: f
            .segments
            .iter()
            .map(|s| Segment {
                number: s.segment,
                label: s.label.clone(),
                size: s.size,
                share: s.share,
                value_share: s.value.as_ref().and_then(|v| v.share),
                value_per_customer: s.value.as_ref().map(|v| v.per_customer),
                attractiveness: s.attractiveness.as_ref().map(|a| (a.score, a.rank)),
                ambiguous: s.ambiguous,
                // A k-prototypes segment's categorical centre: each column's mode and share.
                key_traits: s
                    .modes
                    .iter()
                    .map(|m| match (&m.value, m.share) {
                        (Some(v), Some(share)) => {
                            format!("mode {} {v} ({:.0}%)", m.column, 100.0 * share)
                        }
                        (Some(v), None) => format!("mode {} {v}", m.column),
                        (None, _) => format!("mode {} (a category the fit never saw)", m.column),
                    })
                    .chain(s.key_traits.iter().cloned())
                    .collect(),
                stability: s
                    .resampling
                    .as_ref()
                    .map(|r| (r.jaccard, r.reading.clone())),
                rule: s
                    .rule
                    .as_ref()
                    .map(|r| (r.text.clone(), r.precision, r.recall)),
            })
            .collect(),
        geo_map: geo_map(f, places),
        rules_method: f.rules.as_ref().map(|r| {
            format!(
                "{}; trees grown on {} customers{}, precision and recall counted on {} \
                 customers{}",
                r.method,
                int(r.rows as u64),
                if r.sampled { " (a seeded sample)" } else { "" },
                int(r.evaluated_on),
                if r.evaluated_on == r.rows as u64 && r.sampled {
                    " (the same sample: a streamed fit)"
                } else {
                    ""
                }
            )
        }),
        value_measure: f
            .value_measure
            .as_ref()
            .map(|v| format!("{} ({})", v.role, v.columns.join(" + "))),
        attractiveness_rule: f.attractiveness_rule.clone(),
        heatmap: heatmap(f),
        scatter: scatter(f, projection),
        value_model: f.value_model.as_ref().map(|v| value_model(f, v)),
        outcomes: f.outcomes.iter().map(|o| outcome_table(f, o)).collect(),
        k_selection: f.k_selection.as_ref().map(|sel| KSelection {
            candidates: sel
                .candidates
                .iter()
                .map(|c| KPoint {
                    k: c.k,
                    inertia: c.inertia,
                    silhouette: c.silhouette,
                    davies_bouldin: c.davies_bouldin,
                    calinski_harabasz: c.calinski_harabasz,
                    stability: c.min_jaccard,
                    smallest: c.min_share,
                })
                .collect(),
            chosen: sel.chosen,
            rule: format!("{} (minimum share {:.1}%)", sel.rule, sel.min_share * 100.0),
            reasons: std::iter::once(format!("Chosen k = {}: {}.", sel.chosen, sel.reason))
                .chain(
                    sel.runner_up
                        .iter()
                        .map(|r| format!("Runner-up k = {}: {}.", r.k, r.why)),
                )
                .chain(
                    sel.null_reference
                        .iter()
                        .map(|r| format!("Against structureless data: {}.", r.reading)),
                )
                .collect(),
            note: if sel.sampled {
                format!(
                    "Every k was fitted on a sample of {} rows (the streamed fit's k-means++ \
                     sample); silhouette on {} rows.",
                    int(sel.rows as u64),
                    int(sel.silhouette_rows as u64)
                )
            } else {
                format!(
                    "Every k was fitted on all {} rows; silhouette on {} rows{}.",
                    int(sel.rows as u64),
                    int(sel.silhouette_rows as u64),
                    sel.silhouette_seed
                        .map_or_else(String::new, |s| format!(" (a sample, seed {s})"))
                )
            },
        }),
    }
}

/// The map: the drawn customers (latitude, longitude, segment), each segment's centre and its
/// radius as a ring; centred on the customers' mean direction.
fn geo_map(
    f: &SegmentsFile,
    points: Option<&[(f64, f64, usize)]>,
) -> Option<strata_report::GeoMap> {
    let g = f.geo.as_ref()?;
    let centres: Vec<(f64, f64, f64, usize)> = f
        .segments
        .iter()
        .filter_map(|s| {
            s.geo
                .as_ref()
                .map(|c| (c.longitude, c.latitude, c.radius_km, s.segment))
        })
        .collect();
    let mut sum = [0f64; 3];
    for s in &f.segments {
        if let Some(c) = &s.geo {
            let u = strata_geo::unit_vector(c.latitude, c.longitude);
            for (a, x) in sum.iter_mut().zip(u) {
                *a += x * c.places as f64;
            }
        }
    }
    let lon0 = strata_geo::direction(sum).map_or(0.0, |(_, lon)| lon);
    let points = points.unwrap_or_default();
    Some(strata_report::GeoMap {
        points: points.iter().map(|&(lat, lon, s)| (lon, lat, s)).collect(),
        rings: centres
            .iter()
            .map(|&(lon, lat, km, s)| (strata_geo::ring(lat, lon, km, 48), s))
            .collect(),
        centres,
        lon0,
        note: format!(
            "{} of {} customers drawn, at coordinates rounded to 0.1° (about 11 km); {} with a \
             coordinate missing{}.",
            int(points.len() as u64),
            int(g.customers),
            int(g.missing),
            if g.invalid > 0 {
                format!(
                    ", {} whose coordinates are not places (flagged)",
                    int(g.invalid)
                )
            } else {
                String::new()
            }
        ),
    })
}

/// An outcome's section of the report, in text.
fn outcome_table(f: &SegmentsFile, o: &strata_outcomes::OutcomeReport) -> OutcomeTable {
    let kind = o.kind;
    let show = |v: f64| kind.show(v);
    let interval = |i: Option<strata_outcomes::Interval>| kind.show_interval(i);
    let effect = |v: f64| kind.show_effect(v);
    let effect_interval = |i: Option<strata_outcomes::Interval>| kind.show_effect_interval(i);
    let name = |j: usize| {
        f.segments
            .iter()
            .find(|s| s.segment == j)
            .map_or_else(|| j.to_string(), |s| format!("{j} · {}", s.label))
    };
    let mut lines = vec![format!(
        "Whole base: {} ({}), {} customers with a value.",
        show(o.overall.value),
        interval(o.overall.interval),
        int(o.overall.n)
    )];
    lines.push(match &o.test {
        Some(t) => format!("Do segments differ? {}.", t.describe()),
        None => "No test: too few segments or values.".into(),
    });
    if let (Some(col), Some(e)) = (&o.treatment_column, &o.treatment) {
        lines.push(format!(
            "Campaign ({col}) over the whole base: {} ({}).",
            effect(e.effect),
            effect_interval(e.interval)
        ));
    }
    OutcomeTable {
        title: format!("{} ({})", o.column, kind.name()),
        lines,
        rows: o
            .segments
            .iter()
            .map(|s| {
                let [value, range, lift] = s.cells(kind);
                vec![name(s.segment), int(s.figure.n), value, range, lift]
            })
            .collect(),
        effects: o
            .segments
            .iter()
            .filter_map(|s| {
                let e = s.treatment.as_ref()?;
                Some(vec![
                    name(s.segment),
                    show(e.treated.value),
                    show(e.control.value),
                    effect(e.effect),
                    effect_interval(e.interval),
                    if e.pays { "yes" } else { "no" }.into(),
                    match (&e.rank, &e.warning) {
                        (_, Some(w)) => w.clone(),
                        (Some(r), None) => format!("#{r}"),
                        (None, None) => String::new(),
                    },
                ])
            })
            .collect(),
    }
}

/// A parameter with its standard error, in four significant figures or scientific notation.
fn estimate(value: f64, se: Option<f64>) -> String {
    let show = strata_format::value::show_param;
    match se {
        Some(e) => format!("{} ± {}", show(value), show(e)),
        None => show(value),
    }
}

/// The report's value-model section from `segments.json`'s `value_model` and segments.
fn value_model(f: &SegmentsFile, v: &strata_format::value::ValueModelReport) -> ValueModel {
    let p = &v.params;
    let e = v.std_errors.as_ref();
    let mut params = vec![
        ("BG/NBD r".to_owned(), estimate(p.r, e.map(|e| e.r))),
        ("BG/NBD α".into(), estimate(p.alpha, e.map(|e| e.alpha))),
        ("BG/NBD a".into(), estimate(p.a, e.map(|e| e.a))),
        ("BG/NBD b".into(), estimate(p.b, e.map(|e| e.b))),
    ];
    for (name, value, se) in [
        ("Gamma-Gamma p", p.p, e.and_then(|e| e.p)),
        ("Gamma-Gamma q", p.q, e.and_then(|e| e.q)),
        ("Gamma-Gamma γ", p.gamma, e.and_then(|e| e.gamma)),
    ] {
        if let Some(value) = value {
            params.push((name.into(), estimate(value, se)));
        }
    }
    let unit = match &v.observed_until {
        Some(end) => format!("by {}, observed until {end}", v.period),
        None => "in the summary's own periods".into(),
    };
    ValueModel {
        what: format!(
            "{} fitted on {} customers ({} repeat buyers) {unit}; predictions over the next {} \
             periods{}.",
            if p.p.is_some() {
                "BG/NBD and Gamma-Gamma"
            } else {
                "BG/NBD"
            },
            int(v.customers as u64),
            int(v.repeat_buyers as u64),
            v.horizon,
            if v.discount_rate > 0.0 {
                format!(", CLV discounted {}% a period", v.discount_rate * 100.0)
            } else {
                String::new()
            }
        ),
        params,
        notes: v.notes.clone(),
        at_risk_below: v.at_risk_below,
        segments: f
            .segments
            .iter()
            .filter_map(|s| {
                let p = s.predicted.as_ref()?;
                Some(PredictedSegment {
                    number: s.segment,
                    label: s.label.clone(),
                    clv_share: p.clv_share,
                    clv_mean: p.clv_mean,
                    clv_rank: p.clv_rank,
                    p_alive_mean: p.p_alive_mean,
                    at_risk_share: p.at_risk_share,
                    expected_purchases_mean: p.expected_purchases_mean,
                })
            })
            .collect(),
    }
}

fn fit_facts(f: &SegmentsFile) -> Vec<Fact> {
    let mut facts = Vec::new();
    let used = Fact::new("Customers", int(f.input.rows_used as u64));
    facts.push(if f.input.rows_dropped > 0 {
        used.hint(format!(
            "{} rows read, {} dropped for missing values",
            int(f.input.rows as u64),
            int(f.input.rows_dropped as u64)
        ))
    } else {
        used.hint("every row read was used")
    });
    let mut k = Fact::new("Segments", f.k.to_string());
    if let Some(sel) = &f.k_selection {
        k = k.hint(format!(
            "chosen from {}..{} by --k auto",
            sel.range[0], sel.range[1]
        ));
    } else if !f.merged_segments.is_empty() {
        k = k.hint(format!(
            "{} small merged into larger",
            f.merged_segments.len()
        ));
    }
    facts.push(k);
    facts.push(Fact::new(
        "Strategy",
        format!("{} {}", f.strategy.name, f.strategy.version),
    ));
    if let Some(q) = &f.quality {
        if let Some(s) = q.silhouette {
            facts.push(Fact::new("Silhouette", format!("{s:.3}")).hint(silhouette_reading(s)));
        }
        match f.algorithm.as_ref().filter(|a| a.gamma.is_some()) {
            // Modes have no Euclidean centre: the algorithm and why stand where DB would.
            Some(a) => facts.push(Fact::new("Algorithm", "k-prototypes").hint(format!(
                "{}; silhouette on √(numeric² + γ·mismatches)",
                a.reason
            ))),
            None => facts.push(
                Fact::new("Davies–Bouldin", opt(q.davies_bouldin, 3)).hint("lower is better"),
            ),
        }
    }
    if let Some(r) = &f.resampling {
        facts.push(Fact::new("Stability", r.reading.clone()).hint(format!(
            "under resampling: weakest segment's Jaccard {:.2} over {} refits",
            r.min_jaccard, r.runs
        )));
    }
    if let Some(st) = &f.stability {
        facts.push(Fact::new("Restarts", st.reading.clone()).hint(format!(
            "{} k-means restarts agree to ARI ≥ {:.3} (the optimiser)",
            st.runs, st.min_agreement
        )));
    }
    if let Some(v) = &f.value_measure {
        facts
            .push(Fact::new(format!("Total {}", v.role), num(v.total)).hint(v.columns.join(" + ")));
    }
    if let Some(ratio) = f.ambiguous_ratio {
        let total: u64 = f.segments.iter().filter_map(|s| s.ambiguous).sum();
        facts.push(Fact::new("Ambiguous customers", int(total)).hint(format!(
            "nearly as close to a second segment (distance ratio above {ratio})"
        )));
    }
    if let Some(b) = &f.backend {
        // The CPU's description names its thread count, which must not change the page.
        let fact = Fact::new("Computed on", b.kind.clone());
        facts.push(if b.kind == "cpu" {
            fact
        } else {
            fact.hint(b.description.clone())
        });
    }
    facts
}

fn fit_notes(f: &SegmentsFile) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(s) = &f.scored_with {
        notes.push(format!(
            "These customers were scored with the saved model {} (fitted with strategy \
             version {}): the segments, labels and scaling are the model's; sizes, shares and \
             profiles are these customers'.",
            s.model, s.fitted_with
        ));
    }
    if let Some(r) = f
        .k_selection
        .as_ref()
        .and_then(|s| s.null_reference.as_ref())
        .filter(|r| !r.structure)
    {
        notes.push(format!("--k auto: {}.", r.reading));
    }
    for m in &f.merged_segments {
        notes.push(format!(
            "A k-means segment of {} customers was smaller than --min-segment-size {} and was \
             merged into segment {}.",
            int(m.size),
            f.min_segment_size.unwrap_or(0),
            m.exported
        ));
    }
    if f.stability
        .as_ref()
        .is_some_and(|s| s.reading == "unstable")
    {
        notes.push(match &f.resampling {
            Some(r) => format!(
                "The k-means restarts disagree: some stopped in a worse optimum and the best \
                 was kept. Under resampling the segments read {} (weakest mean Jaccard {:.2}).",
                r.reading, r.min_jaccard
            ),
            None => "The k-means restarts disagree: the segments depend on the starting points. \
                     Read them with care, or try another k."
                .into(),
        });
    }
    if let Some(q) = &f.quality
        && q.silhouette_sampled
    {
        notes.push(format!(
            "Silhouette was computed on a sample of {} rows (seed {}).",
            int(q.silhouette_rows as u64),
            q.silhouette_seed.unwrap_or(0)
        ));
    }
    if f.ids_pseudonymized {
        notes.push("Customer ids in the assignments are pseudonyms (keyed hashes).".into());
    }
    notes
}

/// Numeric columns and common categorical levels, ordered by how far their indices stray
/// from 100 (the most distinguishing first), at most [`HEATMAP_ROWS`].
fn heatmap(f: &SegmentsFile) -> Heatmap {
    // An empty segment (an RFM cell no customer fell in) has no profile: take the columns
    // from the segments that have them, and find each segment's entry by name.
    let numeric = f
        .segments
        .iter()
        .map(|s| &s.numeric)
        .max_by_key(|n| n.len());
    let categorical = f
        .segments
        .iter()
        .map(|s| &s.categorical)
        .max_by_key(|c| c.len());
    let mut rows: Vec<HeatRow> = Vec::new();
    // Each segment's columns by name, looked up once per cell (a wide table has thousands).
    let numeric_of: Vec<std::collections::HashMap<&str, _>> = f
        .segments
        .iter()
        .map(|s| s.numeric.iter().map(|n| (n.column.as_str(), n)).collect())
        .collect();
    let categorical_of: Vec<std::collections::HashMap<&str, _>> = f
        .segments
        .iter()
        .map(|s| {
            s.categorical
                .iter()
                .map(|c| (c.column.as_str(), c))
                .collect()
        })
        .collect();
    for col in numeric.into_iter().flatten() {
        rows.push(HeatRow {
            name: col.column.clone(),
            cells: numeric_of
                .iter()
                .map(|by_name| match by_name.get(col.column.as_str()) {
                    Some(n) => HeatCell {
                        index: n.index.filter(|_| n.overall_mean > 0.0),
                        detail: format!(
                            "mean {} against {} for all customers",
                            num(n.mean),
                            num(n.overall_mean)
                        ),
                    },
                    None => HeatCell {
                        index: None,
                        detail: "no customers".into(),
                    },
                })
                .collect(),
        });
    }
    for col in categorical.into_iter().flatten() {
        for level in &col.shares {
            if level.overall_share < LEVEL_MIN_SHARE {
                continue;
            }
            rows.push(HeatRow {
                name: format!("{} = {}", col.column, level.value),
                cells: categorical_of
                    .iter()
                    .map(|by_name| {
                        let Some(c) = by_name.get(col.column.as_str()) else {
                            return HeatCell {
                                index: None,
                                detail: "no customers".into(),
                            };
                        };
                        let l = c.shares.iter().find(|l| l.value == level.value);
                        HeatCell {
                            index: l.and_then(|l| l.index).or(Some(0.0)),
                            detail: format!(
                                "{} of the segment against {} of all customers",
                                pct(l.map_or(0.0, |l| l.share)),
                                pct(level.overall_share)
                            ),
                        }
                    })
                    .collect(),
            });
        }
    }
    let spread = |r: &HeatRow| {
        r.cells
            .iter()
            .filter_map(|c| c.index)
            .map(|i| strata_report::svg::index_strength(i).abs())
            .fold(0.0, f64::max)
    };
    // Stable: equal spreads keep the columns' order.
    rows.sort_by(|a, b| spread(b).total_cmp(&spread(a)));
    let omitted = rows.len().saturating_sub(HEATMAP_ROWS);
    rows.truncate(HEATMAP_ROWS);
    Heatmap { rows, omitted }
}

fn scatter(f: &SegmentsFile, p: Option<&Projection>) -> Result<Scatter, String> {
    let Some(p) = p else {
        return Err(match (f.mode, &f.scored_with) {
            (crate::Mode::Rfm, _) => "RFM segments are score bands, not regions of a feature \
                                      space, so there is no map to draw."
                .into(),
            (_, Some(_)) => "A scoring run draws no map; the fit's report has it.".into(),
            _ => "No feature matrix to project.".into(),
        });
    };
    let pc = |i: usize| {
        format!(
            "principal component {} ({:.0}% of the variance)",
            i + 1,
            100.0 * p.explained[i]
        )
    };
    let mut note = format!(
        "{} of {} customers (a seeded sample) on the first two principal components of the \
         {} scaled features; together they carry {:.0}% of the variance.",
        int(p.points.len() as u64),
        int(p.rows as u64),
        f.features.len(),
        100.0 * (p.explained[0] + p.explained[1])
    );
    if p.centroids.len() > f.k {
        note.push_str(
            " Segments that took in a small one (--min-segment-size) show one centroid per \
             k-means segment they hold.",
        );
    }
    Ok(Scatter {
        x_title: pc(0),
        y_title: pc(1),
        points: p.points.clone(),
        centroids: p.centroids.clone(),
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silhouette_readings_follow_kaufman_and_rousseeuw() {
        assert_eq!(silhouette_reading(0.75), "strong structure");
        assert_eq!(silhouette_reading(0.55), "reasonable structure");
        assert_eq!(silhouette_reading(0.3), "weak structure: segments overlap");
        assert_eq!(silhouette_reading(0.1), "no substantial structure");
    }
}
