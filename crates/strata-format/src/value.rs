//! What a segment is worth (the types `segments.json` and `compare.json` carry, and the
//! attractiveness score, which compare computes again with growth): its share of a value measure's total (the roles a strategy marks as
//! value measures: monetary, spend) and an attractiveness score from size, value per customer
//! and, when two runs are compared, growth, by which segments are ranked.

use serde::{Deserialize, Serialize};

/// How the attractiveness score is computed, as written to `segments.json`.
pub const ATTRACTIVENESS_RULE: &str = "100 × the mean of the parts available, each scaled so \
    the best segment scores 1 (negative values count as 0): size (share of customers), value \
    per customer (when the strategy has a value measure) and growth (share now over share in \
    the earlier run, when two runs are compared); rank 1 is the most attractive, ties to the \
    lower segment number";

/// The value measure of a fit: which role and columns, and its total over every customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueMeasure {
    /// The strategy's value role measured (such as `monetary` or `spend`): the first of its
    /// value roles with bound numeric columns.
    pub role: String,
    /// The columns summed into the measure (several for a group role such as spend).
    pub columns: Vec<String>,
    /// The measure summed over every customer, in the columns' units (negative where, say,
    /// returns outweigh sales).
    pub total: f64,
}

/// One segment's part of the value measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentValue {
    /// The measure summed over the segment's customers, in the columns' units.
    pub total: f64,
    /// `total` over the segment's customer count; 0 for an empty segment.
    pub per_customer: f64,
    /// The segment's total over the total of all segments (`None` when that is not positive).
    pub share: Option<f64>,
}

/// A segment's attractiveness: the score, its rank, and the scaled parts it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attractiveness {
    /// 100 × the mean of the parts available, from 0 to 100.
    pub score: f64,
    /// 1 for the highest score; ties go to the lower segment number.
    pub rank: usize,
    /// The segment's share of customers over the largest share, from 0 to 1.
    pub size: f64,
    /// Value per customer over the largest, negatives as 0, from 0 to 1; `None` without a
    /// value measure or when no segment's value per customer is positive.
    pub value: Option<f64>,
    /// Growth over the largest growth, from 0 to 1; `None` outside a comparison or when no
    /// segment's growth is positive.
    pub growth: Option<f64>,
}

/// Each value over the largest, negatives as 0; `None` when no value is positive.
fn scaled(xs: &[f64]) -> Option<Vec<f64>> {
    let max = xs.iter().copied().fold(0.0, f64::max);
    (max > 0.0).then(|| xs.iter().map(|&x| x.max(0.0) / max).collect())
}

/// Scores and ranks segments by [`ATTRACTIVENESS_RULE`]: `shares` of customers, optional
/// value per customer and growth, one entry per segment.
pub fn attractiveness(
    shares: &[f64],
    value_per_customer: Option<&[f64]>,
    growth: Option<&[f64]>,
) -> Vec<Attractiveness> {
    let size = scaled(shares).unwrap_or_else(|| vec![0.0; shares.len()]);
    let value = value_per_customer.and_then(scaled);
    let growth = growth.and_then(scaled);
    let mut out: Vec<Attractiveness> = (0..shares.len())
        .map(|j| {
            let parts: Vec<f64> = [
                Some(size[j]),
                value.as_ref().map(|v| v[j]),
                growth.as_ref().map(|g| g[j]),
            ]
            .into_iter()
            .flatten()
            .collect();
            Attractiveness {
                score: 100.0 * parts.iter().sum::<f64>() / parts.len() as f64,
                rank: 0,
                size: size[j],
                value: value.as_ref().map(|v| v[j]),
                growth: growth.as_ref().map(|g| g[j]),
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|&a, &b| out[b].score.total_cmp(&out[a].score).then(a.cmp(&b)));
    for (rank, j) in order.into_iter().enumerate() {
        out[j].rank = rank + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attractiveness_averages_scaled_parts_and_ranks() {
        // Segment 0 is big but low-value, segment 1 small and valuable.
        let a = attractiveness(&[0.6, 0.3, 0.1], Some(&[10.0, 40.0, -3.0]), None);
        assert_eq!(a[0].size, 1.0);
        assert_eq!(a[1].value, Some(1.0));
        assert_eq!(a[2].value, Some(0.0));
        assert!((a[0].score - 100.0 * (1.0 + 0.25) / 2.0).abs() < 1e-12);
        assert!((a[1].score - 100.0 * (0.5 + 1.0) / 2.0).abs() < 1e-12);
        // 75 beats 62.5: value per customer outweighs twice the size.
        assert_eq!((a[0].rank, a[1].rank, a[2].rank), (2, 1, 3));
        // Size alone, with growth: ties go to the lower segment.
        let b = attractiveness(&[0.5, 0.5], None, Some(&[1.0, 1.0]));
        assert_eq!((b[0].score, b[0].rank, b[1].rank), (100.0, 1, 2));
    }
}
