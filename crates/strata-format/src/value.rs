//! What a segment is worth (the types `segments.json` and `compare.json` carry, and the
//! attractiveness score, which compare computes again with growth): its share of a value measure's total (the roles a strategy marks as
//! value measures: monetary, spend) and an attractiveness score from size, value per customer
//! and, when two runs are compared, growth, by which segments are ranked.

use serde::{Deserialize, Serialize};

/// How the attractiveness score is computed, as written to `segments.json`.
pub const ATTRACTIVENESS_RULE: &str = "100 × the mean of the parts available, each scaled so \
    the best segment scores 1 (negative values count as 0): size (share of customers), value \
    per customer (predicted CLV when a value model ran, otherwise the value measure's, as \
    `attractiveness_value` says) and growth (share now over share in \
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

/// What the attractiveness score's value part is when a value model predicted each
/// customer's lifetime value (`value_model` in `segments.json`).
pub const PREDICTED_VALUE_BASIS: &str = "predicted CLV per customer (value model)";
/// ... and when it is the value measure's past value.
pub const PAST_VALUE_BASIS: &str = "past value per customer (value measure)";

/// A fitted parameter or standard error as text: four decimals, or scientific notation where
/// that would hide it (below 0.01 or from a million).
pub fn show_param(x: f64) -> String {
    if x == 0.0 || (1e-2..1e6).contains(&x.abs()) {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// A fitted buy-till-you-die value model: BG/NBD for purchases and churn, Gamma-Gamma for
/// the value of a purchase, and how the per-customer predictions were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueModelReport {
    /// `bgnbd+gamma-gamma`, or `bgnbd` without purchase values.
    pub model: String,
    /// The time unit every count, recency, T and the horizon are in: `day`, `week`, or the
    /// summary table's own.
    pub period: String,
    /// The observation end (inclusive, YYYY-MM-DD) of a transaction log's summary.
    pub observed_until: Option<String>,
    /// Periods the predictions look ahead.
    pub horizon: u32,
    /// Discount rate per period of the CLV.
    pub discount_rate: f64,
    /// A customer whose P(alive) is below this is counted at risk.
    pub at_risk_below: f64,
    /// Customers the models were fitted on (every customer segmented).
    pub customers: usize,
    /// Of them, customers with a repeat purchase (the ones Gamma-Gamma is fitted on).
    pub repeat_buyers: usize,
    /// The maximum-likelihood parameters.
    pub params: ValueParams,
    /// Their standard errors from the Hessian at the optimum (`null` where it is not
    /// positive definite).
    pub std_errors: Option<ValueParams>,
    /// The fits' log-likelihoods at the optimum.
    pub log_likelihood: PerModel<f64>,
    /// Optimiser iterations of each fit.
    pub iterations: PerModel<usize>,
    /// Whether each fit met its stopping rule.
    pub converged: PerModel<bool>,
    /// How the optimum was searched for.
    pub method: String,
    /// What a reader should know about this fit (a dropout process the data cannot
    /// identify, a flat optimum, a fit that did not converge).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// BG/NBD's r, α, a, b and Gamma-Gamma's p, q, γ (absent without purchase values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValueParams {
    /// Shape of the purchase rates' Gamma.
    pub r: f64,
    /// Rate of the purchase rates' Gamma.
    pub alpha: f64,
    /// Dropout probabilities' Beta, first shape.
    pub a: f64,
    /// Dropout probabilities' Beta, second shape.
    pub b: f64,
    /// Gamma-Gamma's shape of a purchase's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    /// Gamma-Gamma's shape of the customers' mean-value scales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<f64>,
    /// Gamma-Gamma's scale of the customers' mean-value scales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
}

/// One of something per model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PerModel<T> {
    /// BG/NBD's.
    pub bgnbd: T,
    /// Gamma-Gamma's (absent without purchase values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma_gamma: Option<T>,
}

/// A segment's predicted value and churn risk under the value model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentPrediction {
    /// Customers in the segment.
    pub customers: u64,
    /// Mean probability that a customer is still active.
    pub p_alive_mean: f64,
    /// Customers whose P(alive) is below the model's `at_risk_below`.
    pub at_risk: u64,
    /// `at_risk` over `customers`.
    pub at_risk_share: f64,
    /// Mean expected purchases over the horizon.
    pub expected_purchases_mean: f64,
    /// Predicted CLV over the horizon, summed (absent without purchase values).
    pub clv_total: Option<f64>,
    /// ... per customer.
    pub clv_mean: Option<f64>,
    /// The segment's share of all predicted CLV.
    pub clv_share: Option<f64>,
    /// Rank by `clv_total`, 1 the largest (absent without purchase values).
    pub clv_rank: Option<usize>,
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
