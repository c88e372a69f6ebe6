//! The value-model stage (`--value-model bgnbd`): BG/NBD and Gamma-Gamma fitted by maximum
//! likelihood on the segmented customers' purchase summaries; each customer's P(alive),
//! expected purchases and CLV over the horizon; each segment's predicted value and churn
//! risk. The models are `strata-value`'s; this module feeds them and shapes their answers
//! for the outputs.

use rayon::prelude::*;
use strata_format::value::{PerModel, SegmentPrediction, ValueModelReport, ValueParams};
use strata_value::{BgNbd, Fitted, GammaGamma, Summary};

use crate::CoreError;
use crate::settings::ValueModelSettings;

/// What the input stage hands the value model: one summary per segmented customer, in their
/// order, and where they came from.
#[derive(Debug, Clone)]
pub(crate) struct ValueInput {
    pub summaries: Vec<Summary>,
    /// A transaction log's observation end, inclusive, in days since 1970-01-01; `None` for
    /// a summary table (`--summary`), whose periods are its own.
    pub observed_until: Option<i64>,
    /// Whether the summaries have purchase values (a summary table may not): without them
    /// only BG/NBD is fitted, and there is no expected value or CLV.
    pub has_monetary: bool,
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
    /// Expected value per future purchase (Gamma-Gamma), and expected purchases per period
    /// times it, discounted and summed (the CLV); `None` without purchase values.
    pub value: Option<(Vec<f64>, Vec<f64>)>,
}

impl Predictions {
    /// The columns in the assignments' order ([`strata_format::assignments::VALUE_COLUMNS`]).
    pub fn all(&self) -> Vec<&[f64]> {
        let mut c: Vec<&[f64]> = vec![&self.p_alive, &self.expected_purchases];
        if let Some((value, clv)) = &self.value {
            c.extend([value.as_slice(), clv.as_slice()]);
        }
        c
    }

    /// How many columns there are.
    pub fn columns(&self) -> usize {
        if self.value.is_some() { 4 } else { 2 }
    }
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
    log-likelihood settled); above 20,000 distinct summaries, Nelder-Mead on a systematic \
    sample, then Newton steps on every customer until a step gains under 1e-10 relative; \
    standard errors from a central-difference Hessian";

fn model_error(what: &str, e: strata_value::ValueError) -> CoreError {
    CoreError::ValueModel(format!("cannot fit {what}: {e}"))
}

/// Fits BG/NBD (and Gamma-Gamma, with purchase values) to `input` and predicts every
/// customer.
pub(crate) fn fit(
    settings: &ValueModelSettings,
    input: &ValueInput,
) -> Result<Predicted, CoreError> {
    let s = &input.summaries;
    let x: Vec<f64> = s.iter().map(|c| c.frequency).collect();
    let t_x: Vec<f64> = s.iter().map(|c| c.recency).collect();
    let t: Vec<f64> = s.iter().map(|c| c.t).collect();
    let bg = BgNbd::fit(&x, &t_x, &t).map_err(|e| model_error("BG/NBD", e))?;
    let gg = if input.has_monetary {
        // Gamma-Gamma models positive spend: repeat buyers whose repeats are worth something.
        let (gx, gm): (Vec<f64>, Vec<f64>) = s
            .iter()
            .filter(|c| c.frequency > 0.0 && c.monetary > 0.0)
            .map(|c| (c.frequency, c.monetary))
            .unzip();
        let gg = GammaGamma::fit(&gx, &gm).map_err(|e| model_error("Gamma-Gamma", e))?;
        if gg.params.q <= 1.0 {
            return Err(CoreError::ValueModel(format!(
                "Gamma-Gamma's q is {:.4}, at most 1: the mean value of a purchase is infinite \
                 under it (spend this heavy-tailed needs its outliers looked at)",
                gg.params.q
            )));
        }
        Some((gg, gx.len()))
    } else {
        None
    };
    let customers = match &gg {
        Some((g, _)) => {
            let all = strata_value::predict(
                &bg.params,
                &g.params,
                settings.horizon,
                settings.discount_rate,
                s,
            );
            Predictions {
                p_alive: all.iter().map(|p| p.p_alive).collect(),
                expected_purchases: all.iter().map(|p| p.expected_purchases).collect(),
                value: Some((
                    all.iter().map(|p| p.expected_value).collect(),
                    all.iter().map(|p| p.clv).collect(),
                )),
            }
        }
        None => {
            let h = f64::from(settings.horizon);
            let m = &bg.params;
            Predictions {
                p_alive: s
                    .par_iter()
                    .map(|c| m.p_alive(c.frequency, c.recency, c.t))
                    .collect(),
                expected_purchases: s
                    .par_iter()
                    .map(|c| m.expected_purchases(h, c.frequency, c.recency, c.t))
                    .collect(),
                value: None,
            }
        }
    };
    Ok(Predicted {
        report: report(settings, input, &bg, gg.as_ref()),
        customers,
    })
}

fn report(
    settings: &ValueModelSettings,
    input: &ValueInput,
    bg: &Fitted<BgNbd>,
    gg: Option<&(Fitted<GammaGamma>, usize)>,
) -> ValueModelReport {
    let params = |b: &[f64], g: Option<&[f64]>| ValueParams {
        r: b[0],
        alpha: b[1],
        a: b[2],
        b: b[3],
        p: g.map(|g| g[0]),
        q: g.map(|g| g[1]),
        gamma: g.map(|g| g[2]),
    };
    let BgNbd { r, alpha, a, b } = bg.params;
    let gg_params = gg.map(|(g, _)| [g.params.p, g.params.q, g.params.gamma]);
    let std_errors = match (&bg.std_errors, gg) {
        (Some(b), None) => Some(params(b, None)),
        (Some(b), Some((g, _))) => g.std_errors.as_ref().map(|g| params(b, Some(g))),
        (None, _) => None,
    };
    ValueModelReport {
        model: if gg.is_some() {
            "bgnbd+gamma-gamma"
        } else {
            "bgnbd"
        }
        .into(),
        period: match input.observed_until {
            Some(_) => settings.period_name().into(),
            None => "the summary's".into(),
        },
        observed_until: input.observed_until.map(|day| {
            let (y, m, d) = strata_arrow_text::civil_from_days(day);
            format!("{y:04}-{m:02}-{d:02}")
        }),
        horizon: settings.horizon,
        discount_rate: settings.discount_rate,
        at_risk_below: settings.at_risk_below,
        customers: input.summaries.len(),
        repeat_buyers: match gg {
            Some((_, n)) => *n,
            None => input.summaries.iter().filter(|c| c.frequency > 0.0).count(),
        },
        params: params(&[r, alpha, a, b], gg_params.as_ref().map(|g| g.as_slice())),
        std_errors,
        log_likelihood: PerModel {
            bgnbd: bg.log_likelihood,
            gamma_gamma: gg.map(|(g, _)| g.log_likelihood),
        },
        iterations: PerModel {
            bgnbd: bg.iterations,
            gamma_gamma: gg.map(|(g, _)| g.iterations),
        },
        converged: PerModel {
            bgnbd: bg.converged,
            gamma_gamma: gg.map(|(g, _)| g.converged),
        },
        method: METHOD.into(),
        notes: notes(bg, gg.map(|(g, _)| g)),
    }
}

/// A fit's caveats, in words.
fn notes(bg: &Fitted<BgNbd>, gg: Option<&Fitted<GammaGamma>>) -> Vec<String> {
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
    let fits = [
        Some(("BG/NBD", bg.converged, bg.std_errors.is_some())),
        gg.map(|g| ("Gamma-Gamma", g.converged, g.std_errors.is_some())),
    ];
    for (name, converged, se) in fits.into_iter().flatten() {
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

/// The file a value model's per-customer summaries are written to, beside the assignments.
pub(crate) const SUMMARY_FILE: &str = "value_summary.csv";

/// `value_summary.csv`: id, frequency, recency, T, monetary_value per customer in input order,
/// with lifetimes' column names, so that lifetimes or PyMC-Marketing can read it as it is and
/// `strata fit --summary` can fit it again. Ids as in the assignments (pseudonyms when asked).
pub(crate) fn write_summary(
    ids: &strata_ingest::IdColumn,
    input: &ValueInput,
    pseudo: Option<&crate::privacy::Pseudonymizer>,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(["id", "frequency", "recency", "T", "monetary_value"])?;
    let (mut scratch, mut pseudonym) = (String::new(), String::new());
    // Whole periods print as integers, as lifetimes writes them; the rest shortest.
    let number = |v: f64| -> String {
        if v.fract() == 0.0 && v.abs() < 1e15 {
            itoa::Buffer::new().format(v as i64).to_owned()
        } else {
            ryu::Buffer::new().format(v).to_owned()
        }
    };
    for (i, s) in input.summaries.iter().enumerate() {
        let id = ids.get(i, &mut scratch);
        let id = match pseudo {
            Some(p) => {
                p.pseudonym(id, &mut pseudonym);
                pseudonym.as_bytes()
            }
            None => id,
        };
        let fields = [s.frequency, s.recency, s.t, s.monetary].map(number);
        out.write_record([
            id,
            fields[0].as_bytes(),
            fields[1].as_bytes(),
            fields[2].as_bytes(),
            fields[3].as_bytes(),
        ])?;
    }
    out.flush()
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
        if let Some((_, clv)) = &p.value {
            a.clv += clv[i];
        }
    }
    let total: f64 = acc.iter().map(|a| a.clv).sum();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&i, &j| acc[j].clv.total_cmp(&acc[i].clv).then(i.cmp(&j)));
    let mut rank = vec![0; k];
    for (r, j) in order.into_iter().enumerate() {
        rank[j] = r + 1;
    }
    let has_value = p.value.is_some();
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
                clv_total: has_value.then_some(a.clv),
                clv_mean: has_value.then(|| per(a.clv)),
                clv_share: (has_value && total > 0.0).then(|| a.clv / total),
                clv_rank: has_value.then_some(rank),
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
            value: Some((vec![10.0, 10.0, 20.0, 5.0], vec![20.0, 5.0, 20.0, 0.5])),
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
