//! Segment rules in `segments.json` and `segment_rules.sql`: each segment's rule over the
//! input columns ([`strata_rules`]), with its precision and recall on the fitted customers.

use serde::{Deserialize, Serialize};
use strata_rules::Condition;

/// The file of SQL conditions `--rules` writes.
pub const SQL_FILE: &str = "segment_rules.sql";

/// How the rules were made (`rules` in segments.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesReport {
    /// The method, in a sentence.
    pub method: String,
    /// The trees' depth limit (`--rules-depth`).
    pub max_depth: usize,
    /// Customers the trees were grown on.
    pub rows: usize,
    /// Whether those were a seeded sample of the customers.
    pub sampled: bool,
    /// Customers precision and recall are measured on: every customer of a held fit, the
    /// sample of a streamed one.
    pub evaluated_on: u64,
    /// The input columns the rules may use, in order.
    pub columns: Vec<String>,
}

/// One segment's rule (`rule` of a segment in segments.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRule {
    /// The rule in words.
    pub text: String,
    /// The rule as an SQL condition for a WHERE clause (ANSI quoting).
    pub sql: String,
    /// The conjunctions, any of which catches a customer.
    pub alternatives: Vec<Vec<Condition>>,
    /// Of the customers the rule catches, the share in the segment; `null` when it catches
    /// none.
    pub precision: Option<f64>,
    /// Of the segment's customers, the share the rule catches.
    pub recall: Option<f64>,
    /// Customers the rule catches.
    pub caught: u64,
    /// Of those, the segment's.
    pub caught_in_segment: u64,
}

impl SegmentRule {
    /// "catches 88% of the segment; 93% of those it catches belong to it".
    pub fn reading(&self) -> String {
        match (self.recall, self.precision) {
            (Some(r), Some(p)) => format!(
                "catches {:.0}% of the segment; {:.0}% of those it catches belong to it",
                r * 100.0,
                p * 100.0
            ),
            _ => "catches no customer".into(),
        }
    }
}
