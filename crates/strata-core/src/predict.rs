//! The value-model stage (`--value-model bgnbd`): BG/NBD and Gamma-Gamma fitted by maximum
//! likelihood on the segmented customers' purchase summaries; each customer's P(alive),
//! expected purchases and CLV over the horizon; each segment's predicted value and churn
//! risk. The models are `strata-value`'s; this module feeds them and shapes their answers
//! for the outputs.

use strata_format::value::{PerModel, SegmentPrediction, ValueModelReport, ValueParams};
use strata_value::{BgNbd, Fitted, GammaGamma, Summary};

use crate::CoreError;
use crate::settings::ValueModelSettings;

/// What the input stage hands the value model: one summary per segmented customer, in their
/// order, and the last day observed.
#[derive(Debug, Clone)]
pub(crate) struct ValueInput {
    pub summaries: Vec<Summary>,
    /// The observation end, inclusive, in days since 1970-01-01.
    pub observed_until: i64,
}

impl ValueInput {
    /// The customers where `keep` is true (rows left out with `--missing drop`).
    pub fn filter(self, keep: &[bool]) -> ValueInput {
        ValueInput {
            summaries: self
                .summaries
                .into_iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(s, _)| s)
                .collect(),
            ..self
        }
    }
}

/// Per-customer predictions over the horizon, in customer order.
#[derive(Debug, Clone)]
pub(crate) struct Predictions {
    pub p_alive: Vec<f64>,
    pub expected_purchases: Vec<f64>,
    /// Expected value per future purchase (Gamma-Gamma).
    pub expected_value: Vec<f64>,
    /// Expected purchases per period, times the expected value, discounted and summed.
    pub clv: Vec<f64>,
}

/// A fitted value model and its predictions.
#[derive(Debug, Clone)]
pub(crate) struct Predicted {
    pub report: ValueModelReport,
    pub customers: Predictions,
}

/// The optimiser, as `segments.json` states it.
const METHOD: &str = "maximum likelihood: Nelder-Mead on the parameters' logarithms from 1, \
    restarted at each optimum until it holds (simplex spread below 1e-10 relative and the \
    log-likelihood settled); standard errors from a central-difference Hessian";

fn model_error(what: &str, e: strata_value::ValueError) -> CoreError {
    CoreError::ValueModel(format!("cannot fit {what}: {e}"))
}

/// Fits both models to `input` and predicts every customer.
pub(crate) fn fit(
    settings: &ValueModelSettings,
    input: &ValueInput,
) -> Result<Predicted, CoreError> {
    let s = &input.summaries;
    let x: Vec<f64> = s.iter().map(|c| c.frequency).collect();
    let t_x: Vec<f64> = s.iter().map(|c| c.recency).collect();
    let t: Vec<f64> = s.iter().map(|c| c.t).collect();
    let bg = BgNbd::fit(&x, &t_x, &t).map_err(|e| model_error("BG/NBD", e))?;
    // Gamma-Gamma models positive spend: repeat buyers whose repeats are worth something.
    let (gx, gm): (Vec<f64>, Vec<f64>) = s
        .iter()
        .filter(|c| c.frequency > 0.0 && c.monetary > 0.0)
        .map(|c| (c.frequency, c.monetary))
        .unzip();
    let gg = GammaGamma::fit(&gx, &gm).map_err(|e| model_error("Gamma-Gamma", e))?;
    if gg.params.q <= 1.0 {
        return Err(CoreError::ValueModel(format!(
            "Gamma-Gamma's q is {:.4}, at most 1: the mean value of a purchase \
             is infinite under it (spend this heavy-tailed needs its outliers looked at)",
            gg.params.q
        )));
    }
    let customers = predict(settings, &bg.params, &gg.params, s);
    Ok(Predicted {
        report: report(settings, input, &bg, &gg, gx.len()),
        customers,
    })
}

/// Every customer's predictions (`strata_value::predict`: in parallel, each customer's alone,
/// so the order of work does not change a bit).
fn predict(
    settings: &ValueModelSettings,
    bg: &BgNbd,
    gg: &GammaGamma,
    summaries: &[Summary],
) -> Predictions {
    let all = strata_value::predict(bg, gg, settings.horizon, settings.discount_rate, summaries);
    Predictions {
        p_alive: all.iter().map(|p| p.p_alive).collect(),
        expected_purchases: all.iter().map(|p| p.expected_purchases).collect(),
        expected_value: all.iter().map(|p| p.expected_value).collect(),
        clv: all.iter().map(|p| p.clv).collect(),
    }
}

fn report(
    settings: &ValueModelSettings,
    input: &ValueInput,
    bg: &Fitted<BgNbd>,
    gg: &Fitted<GammaGamma>,
    repeat_buyers: usize,
) -> ValueModelReport {
    let params = |b: &[f64], g: &[f64]| ValueParams {
        r: b[0],
        alpha: b[1],
        a: b[2],
        b: b[3],
        p: Some(g[0]),
        q: Some(g[1]),
        gamma: Some(g[2]),
    };
    let BgNbd { r, alpha, a, b } = bg.params;
    let GammaGamma { p, q, gamma } = gg.params;
    ValueModelReport {
        model: "bgnbd+gamma-gamma".into(),
        period: settings.period_name().into(),
        observed_until: Some({
            let (y, m, d) = strata_arrow_text::civil_from_days(input.observed_until);
            format!("{y:04}-{m:02}-{d:02}")
        }),
        horizon: settings.horizon,
        discount_rate: settings.discount_rate,
        at_risk_below: settings.at_risk_below,
        customers: input.summaries.len(),
        repeat_buyers,
        params: params(&[r, alpha, a, b], &[p, q, gamma]),
        std_errors: match (&bg.std_errors, &gg.std_errors) {
            (Some(b), Some(g)) => Some(params(b, g)),
            _ => None,
        },
        log_likelihood: PerModel {
            bgnbd: bg.log_likelihood,
            gamma_gamma: Some(gg.log_likelihood),
        },
        iterations: PerModel {
            bgnbd: bg.iterations,
            gamma_gamma: Some(gg.iterations),
        },
        converged: PerModel {
            bgnbd: bg.converged,
            gamma_gamma: Some(gg.converged),
        },
        method: METHOD.into(),
        notes: notes(bg, gg),
    }
}

/// A fit's caveats, in words.
fn notes(bg: &Fitted<BgNbd>, gg: &Fitted<GammaGamma>) -> Vec<String> {
    let mut notes = Vec::new();
    let BgNbd { a, b, .. } = bg.params;
    let dropout = a / (a + b);
    if dropout < 1e-3 {
        notes.push(format!(
            "BG/NBD's mean dropout probability after a purchase, a/(a+b), is {dropout:.2e}: the \
             data show almost no churn at this period, so P(alive) is near 1 for every customer \
             and a and b are not identified apart (see their standard errors); a longer \
             observation window or another --period may show it"
        ));
    }
    for (name, converged, se) in [
        ("BG/NBD", bg.converged, bg.std_errors.is_some()),
        ("Gamma-Gamma", gg.converged, gg.std_errors.is_some()),
    ] {
        if !converged {
            notes.push(format!(
                "{name}'s optimiser stopped before its stopping rule held: treat its parameters \
                 with care"
            ));
        }
        if !se {
            notes.push(format!(
                "{name}'s log-likelihood is not curved at the optimum in every direction (its \
                 Hessian is not positive definite): some parameters are not identified, and \
                 there are no standard errors"
            ));
        }
    }
    notes
}

/// Each segment's predicted value and churn risk: `labels` the customers' segments (0..k).
pub(crate) fn by_segment(
    p: &Predictions,
    labels: &[u32],
    k: usize,
    at_risk_below: f64,
) -> Vec<SegmentPrediction> {
    #[derive(Default, Clone)]
    struct Acc {
        n: u64,
        at_risk: u64,
        p_alive: f64,
        purchases: f64,
        clv: f64,
    }
    let mut acc = vec![Acc::default(); k];
    for (i, &l) in labels.iter().enumerate() {
        let a = &mut acc[l as usize];
        a.n += 1;
        a.at_risk += u64::from(p.p_alive[i] < at_risk_below);
        a.p_alive += p.p_alive[i];
        a.purchases += p.expected_purchases[i];
        a.clv += p.clv[i];
    }
    let total: f64 = acc.iter().map(|a| a.clv).sum();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&i, &j| acc[j].clv.total_cmp(&acc[i].clv).then(i.cmp(&j)));
    let mut rank = vec![0; k];
    for (r, j) in order.into_iter().enumerate() {
        rank[j] = r + 1;
    }
    acc.iter()
        .zip(rank)
        .map(|(a, rank)| {
            let per = |v: f64| if a.n == 0 { 0.0 } else { v / a.n as f64 };
            SegmentPrediction {
                customers: a.n,
                p_alive_mean: per(a.p_alive),
                at_risk: a.at_risk,
                at_risk_share: per(a.at_risk as f64),
                expected_purchases_mean: per(a.purchases),
                clv_total: Some(a.clv),
                clv_mean: Some(per(a.clv)),
                clv_share: (total > 0.0).then(|| a.clv / total),
                clv_rank: Some(rank),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_sum_and_rank_their_customers_predictions() {
        let p = Predictions {
            p_alive: vec![0.9, 0.2, 0.6, 0.1],
            expected_purchases: vec![2.0, 0.5, 1.0, 0.1],
            expected_value: vec![10.0, 10.0, 20.0, 5.0],
            clv: vec![20.0, 5.0, 20.0, 0.5],
        };
        let s = by_segment(&p, &[0, 0, 1, 1], 3, 0.5);
        assert_eq!((s[0].customers, s[0].at_risk), (2, 1));
        assert!((s[0].p_alive_mean - 0.55).abs() < 1e-12);
        assert_eq!(s[0].clv_total, Some(25.0));
        assert_eq!(s[1].clv_mean, Some(10.25));
        assert!((s[0].clv_share.unwrap() - 25.0 / 45.5).abs() < 1e-12);
        assert_eq!(
            (s[0].clv_rank, s[1].clv_rank, s[2].clv_rank),
            (Some(1), Some(2), Some(3))
        );
        // An empty segment has means of 0, not NaN.
        assert_eq!((s[2].customers, s[2].p_alive_mean), (0, 0.0));
    }
}
