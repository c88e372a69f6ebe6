//! The rules stage: each segment's rule over the input columns in the data's units
//! ([`strata_rules`]), with precision and recall on every customer the fit segmented, for
//! `segments.json`, the summary, the report and `segment_rules.sql`.
//!
//! The columns are the profiled ones ([`crate::input::profiled_columns`]): what the strategy
//! bound, personal roles left out, so a rule names nothing a profile would not show. Trees are
//! grown on a seeded sample of at most [`TRAIN_ROWS`] customers. A held fit counts precision
//! and recall on every customer; a streamed one, which sees its rows a batch at a time,
//! gathers the same seeded sample in its profiles pass ([`Sample`]) and counts them on it (on
//! every customer when there are no more than [`TRAIN_ROWS`], so its rules are the held
//! fit's).

use std::collections::HashMap;
use std::fmt::Write as _;

use strata_abi::ColumnKind;
use strata_format::rules::{RulesReport, SQL_FILE, SegmentRule};
use strata_ingest::ColumnData;
use strata_rules::{Column, Values};

use crate::{Binding, FitSettings};

/// Customers the trees are grown on (a seeded sample above it).
pub(crate) const TRAIN_ROWS: usize = 100_000;

/// What the stage found: how, and each segment's rule in export order.
pub(crate) struct Rules {
    pub report: RulesReport,
    pub segments: Vec<SegmentRule>,
}

/// The rules of the `k` segments `labels` over `columns` (the profiled ones), counted on
/// every row given; `customers`: how many the fit segmented (more than the rows given when
/// they are a streamed fit's sample). `None` without a column a rule could use.
pub(crate) fn find(
    settings: &FitSettings,
    columns: &[(&Binding, &ColumnData)],
    labels: &[u32],
    k: usize,
    customers: usize,
) -> Option<Rules> {
    let usable: Vec<Column<'_>> = columns
        .iter()
        .filter_map(|(b, data)| {
            let values = match data {
                ColumnData::Numeric(v) => Values::Numeric {
                    values: v,
                    date: b.kind == ColumnKind::Date,
                },
                ColumnData::Categorical { codes, dict } => Values::Categorical { codes, dict },
                ColumnData::NotNumeric { .. } => return None,
            };
            Some(Column {
                name: &b.column,
                values,
            })
        })
        .collect();
    let n = labels.len();
    if usable.is_empty() || n == 0 {
        return None;
    }
    let depth = settings.output().rules_depth;
    let sample = (n > TRAIN_ROWS)
        .then(|| strata_quality::sample_rows(n, TRAIN_ROWS, settings.cluster().seed));
    let found = strata_rules::rules(&usable, labels, k, sample.as_deref(), depth);
    let segments = found
        .iter()
        .enumerate()
        .map(|(s, rule)| {
            let c = rule.counts(&usable, labels, s as u32);
            SegmentRule {
                text: rule.text(),
                sql: rule.sql(),
                alternatives: rule.alternatives.clone(),
                precision: c.precision(),
                recall: c.recall(),
                caught: c.caught,
                caught_in_segment: c.caught_in_segment,
            }
        })
        .collect();
    Some(Rules {
        report: RulesReport {
            method: format!(
                "per segment, a one-vs-rest classification tree (CART, Gini impurity, at most \
                 {depth} levels, as scikit-learn's DecisionTreeClassifier grows one) over the \
                 input columns, categorical ones as one indicator per value, the rule being \
                 the union of the leaves where the segment's customers are the majority"
            ),
            max_depth: depth,
            rows: sample.as_ref().map_or(n, Vec::len),
            sampled: sample.is_some() || n < customers,
            evaluated_on: n as u64,
            columns: usable.iter().map(|c| c.name.to_owned()).collect(),
        },
        segments,
    })
}

/// A streamed fit's rows for its rules: the seeded sample [`find`] would draw, gathered batch by
/// batch in the profiles pass (categories re-coded to one dictionary across batches).
pub(crate) struct Sample {
    /// The customers sampled from.
    n: usize,
    /// The sampled rows' indices, ascending.
    rows: Vec<usize>,
    /// How many of `rows` have been gathered.
    at: usize,
    columns: Vec<(Binding, Gathered)>,
    labels: Vec<u32>,
}

enum Gathered {
    Numeric(Vec<f64>),
    Categorical {
        codes: Vec<u32>,
        dict: Vec<String>,
        index: HashMap<String, u32>,
    },
    Unusable,
}

impl Sample {
    /// The sample of `n` customers a fit with `settings` draws.
    pub fn new(settings: &FitSettings, n: usize) -> Sample {
        let mut rows = if n > TRAIN_ROWS {
            strata_quality::sample_rows(n, TRAIN_ROWS, settings.cluster().seed)
        } else {
            (0..n).collect()
        };
        rows.sort_unstable();
        Sample {
            n,
            rows,
            at: 0,
            columns: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Gathers the sampled rows of one batch: `columns` (the profiled ones) and `labels` for the
    /// rows `start..start + labels.len()`.
    pub fn add(&mut self, columns: &[(&Binding, &ColumnData)], labels: &[u32], start: usize) {
        if self.columns.is_empty() {
            self.columns = columns
                .iter()
                .map(|(b, data)| {
                    let g = match data {
                        ColumnData::Numeric(_) => Gathered::Numeric(Vec::new()),
                        ColumnData::Categorical { .. } => Gathered::Categorical {
                            codes: Vec::new(),
                            dict: Vec::new(),
                            index: HashMap::new(),
                        },
                        ColumnData::NotNumeric { .. } => Gathered::Unusable,
                    };
                    ((*b).clone(), g)
                })
                .collect();
        }
        let end = start + labels.len();
        while self.at < self.rows.len() && self.rows[self.at] < end {
            let r = self.rows[self.at] - start;
            self.labels.push(labels[r]);
            for ((_, g), (_, data)) in self.columns.iter_mut().zip(columns) {
                match (g, data) {
                    (Gathered::Numeric(v), ColumnData::Numeric(x)) => v.push(x[r]),
                    (
                        Gathered::Categorical { codes, dict, index },
                        ColumnData::Categorical { codes: c, dict: d },
                    ) => {
                        let code = match d.get(c[r] as usize) {
                            None => strata_ingest::MISSING_CODE,
                            Some(text) => *index.entry(text.clone()).or_insert_with(|| {
                                dict.push(text.clone());
                                (dict.len() - 1) as u32
                            }),
                        };
                        codes.push(code);
                    }
                    (g, _) => *g = Gathered::Unusable,
                }
            }
            self.at += 1;
        }
    }

    /// The rules grown and counted on the gathered rows, and the segments' places
    /// ([`crate::geo`]) summarised on them.
    pub fn finish(
        self,
        settings: &FitSettings,
        k: usize,
    ) -> (Option<Rules>, Option<crate::geo::Places>) {
        let owned: Vec<(Binding, ColumnData)> = self
            .columns
            .into_iter()
            .filter_map(|(b, g)| match g {
                Gathered::Numeric(v) => Some((b, ColumnData::Numeric(v))),
                Gathered::Categorical { codes, dict, .. } => {
                    Some((b, ColumnData::Categorical { codes, dict }))
                }
                Gathered::Unusable => None,
            })
            .collect();
        let borrowed: Vec<(&Binding, &ColumnData)> = owned.iter().map(|(b, c)| (b, c)).collect();
        (
            find(settings, &borrowed, &self.labels, k, self.n),
            crate::geo::find(&borrowed, &self.labels, k, settings.cluster().seed),
        )
    }
}

/// `segment_rules.sql`: one `SELECT … WHERE` per segment, with its reading.
pub(crate) fn sql_file(
    input: &str,
    report: &RulesReport,
    segments: &[(usize, &str, u64, &SegmentRule)],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- {SQL_FILE}: segment rules from strata {} (fit of {}).\n\
         -- Each statement selects one segment's customers from a table with the input's \
         columns.\n\
         -- Replace \"customers\" with that table, or paste the WHERE clause into a CRM or ads \
         tool.\n\
         -- Method: {}.\n\
         -- Precision: of the customers a rule catches, the share in the segment. Recall: of \
         the segment,\n\
         -- the share the rule catches. Both on the {} customers the fit segmented. Rules may \
         overlap.",
        env!("CARGO_PKG_VERSION"),
        one_line(input).replace(';', ","),
        report.method.replace(';', ","),
        report.evaluated_on
    );
    for (segment, label, size, rule) in segments {
        // No semicolon in a comment: tools that split a script on them must see only the
        // statements'.
        let _ = writeln!(
            out,
            "\n-- Segment {segment}: {} ({size} customers): {}.",
            one_line(label).replace(';', ","),
            rule.reading().replace(';', ", and")
        );
        let _ = writeln!(out, "SELECT * FROM customers\nWHERE {};", rule.sql);
    }
    out
}

/// A label on one comment line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}
