//! Customer value models from a per-customer summary of a transaction log: BG/NBD (Fader,
//! Hardie & Lee 2005, "Counting your customers the easy way") for the number of future
//! purchases and the probability a customer is still active, and Gamma-Gamma (Fader & Hardie
//! 2013) for the value per purchase. Both fitted by maximum likelihood, deterministically;
//! no I/O.
//!
//! A customer is summarised as the `lifetimes` package summarises one
//! (`summary_data_from_transaction_data`): `frequency` x, the repeat purchase periods;
//! `recency` t_x, from the first purchase to the last; `T`, from the first purchase to the end
//! of observation; and for Gamma-Gamma the mean value of the repeat purchases.
//!
//! The log-likelihoods are the papers' closed forms, evaluated with log-gamma and a
//! log-sum-exp so that they neither overflow nor lose the smaller term at CDNOW's and Online
//! Retail's ranges. They are minimised by Nelder–Mead on the parameters' logarithms
//! ([`optimize`]), with standard errors from the Hessian at the optimum.

mod data;
pub mod optimize;
mod summary;

pub use summary::{Period, Purchase, Summary, summarise};

use libm::lgamma;

/// Why a model cannot be fitted to the summary given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// The columns have different lengths.
    #[error("the summary's columns have different lengths ({0})")]
    Lengths(String),
    /// A customer's summary is impossible.
    #[error("customer {index}: {message}")]
    Customer {
        /// 0-based position in the summary.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// Nothing to fit.
    #[error("{0}")]
    Empty(String),
}

/// A fitted model's parameters and how the fit went.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted<P> {
    /// The maximum-likelihood parameters.
    pub params: P,
    /// Their standard errors, in the same order as the parameters' names (`None` when the
    /// Hessian at the optimum is not positive definite).
    pub std_errors: Option<Vec<f64>>,
    /// The log-likelihood at the optimum (summed over customers).
    pub log_likelihood: f64,
    /// Optimiser iterations: Nelder–Mead's on the whole summary, or the Newton steps that
    /// polished a sample's optimum on a large one (see [`SAMPLE_ROWS`]).
    pub iterations: usize,
    /// Whether the stopping rule held.
    pub converged: bool,
}

/// A model's parameters as the optimiser sees them: positive numbers in a fixed order.
trait Params: Sized {
    /// Where the search starts (`lifetimes` starts every parameter at 1).
    const START: &'static [f64];
    /// The parameters from their values in order.
    fn from_slice(p: &[f64]) -> Self;
}

/// Distinct summary rows above which a fit first finds the optimum of a systematic sample of
/// about this many rows by Nelder–Mead, then polishes it on every row by Newton steps: a few
/// dozen evaluations of the full log-likelihood instead of over a thousand.
pub const SAMPLE_ROWS: usize = 20_000;

/// A fit's rows: merged summaries that can be sampled.
trait Rows {
    fn len(&self) -> usize;
    fn sample(&self, every: usize) -> Self;
}

impl Rows for data::BgNbdData {
    fn len(&self) -> usize {
        self.len()
    }
    fn sample(&self, every: usize) -> Self {
        self.sample(every)
    }
}

impl Rows for data::GammaGammaData {
    fn len(&self) -> usize {
        self.len()
    }
    fn sample(&self, every: usize) -> Self {
        self.sample(every)
    }
}

/// The maximum-likelihood parameters of the summed log-likelihood of `rows`, with their
/// standard errors.
fn fit_mle<P: Params, D: Rows>(rows: &D, log_likelihood: impl Fn(&D, &P) -> f64) -> Fitted<P> {
    let nll = |p: &[f64]| -log_likelihood(rows, &P::from_slice(p));
    let min = if rows.len() > SAMPLE_ROWS {
        let sample = rows.sample(rows.len().div_ceil(SAMPLE_ROWS));
        let start = optimize::minimise_positive(
            |p: &[f64]| -log_likelihood(&sample, &P::from_slice(p)),
            P::START,
            20_000,
        );
        optimize::polish(nll, &start.x, 20_000)
    } else {
        optimize::minimise_positive(nll, P::START, 20_000)
    };
    Fitted {
        params: P::from_slice(&min.x),
        std_errors: optimize::standard_errors(nll, &min.x),
        log_likelihood: -min.value,
        iterations: min.iterations,
        converged: min.converged,
    }
}

impl Params for BgNbd {
    const START: &'static [f64] = &[1.0; 4];
    fn from_slice(p: &[f64]) -> Self {
        BgNbd {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        }
    }
}

impl Params for GammaGamma {
    const START: &'static [f64] = &[1.0; 3];
    fn from_slice(p: &[f64]) -> Self {
        GammaGamma {
            p: p[0],
            q: p[1],
            gamma: p[2],
        }
    }
}

/// BG/NBD's parameters: purchase rates Gamma(r, α), dropout probabilities Beta(a, b).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbd {
    /// Shape of the purchase-rate distribution.
    pub r: f64,
    /// Scale (rate) of the purchase-rate distribution.
    pub alpha: f64,
    /// Beta's first shape.
    pub a: f64,
    /// Beta's second shape.
    pub b: f64,
}

/// Checks a BG/NBD summary: equal lengths, x ≥ 0 whole, 0 ≤ t_x ≤ T, t_x = 0 when x = 0.
fn check_summary(x: &[f64], t_x: &[f64], t: &[f64]) -> Result<(), ValueError> {
    if x.len() != t_x.len() || x.len() != t.len() {
        return Err(ValueError::Lengths(format!(
            "{} frequencies, {} recencies, {} ages",
            x.len(),
            t_x.len(),
            t.len()
        )));
    }
    if x.is_empty() {
        return Err(ValueError::Empty("no customers to fit".into()));
    }
    for (i, ((&x, &tx), &t)) in x.iter().zip(t_x).zip(t).enumerate() {
        let bad = |message: String| Err(ValueError::Customer { index: i, message });
        if !(x >= 0.0 && x.fract() == 0.0) {
            return bad(format!("frequency {x} is not a whole number of at least 0"));
        }
        if !(tx >= 0.0 && t.is_finite() && tx <= t) {
            return bad(format!("recency {tx} is not between 0 and T = {t}"));
        }
        if x == 0.0 && tx != 0.0 {
            return bad(format!("no repeat purchase, yet recency {tx} is not 0"));
        }
    }
    Ok(())
}

impl BgNbd {
    /// The parameters' names, in the order of [`Fitted::std_errors`].
    pub const NAMES: [&'static str; 4] = ["r", "alpha", "a", "b"];

    /// One customer's log-likelihood (Fader, Hardie & Lee 2005, eq. 6), in the form
    /// `lifetimes` evaluates: log-gamma terms, and log-sum-exp of the two survival terms.
    pub fn log_likelihood(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let a1 = lgamma(r + x) - lgamma(r) + r * alpha.ln();
        let a2 = lgamma(a + b) + lgamma(b + x) - lgamma(b) - lgamma(a + b + x);
        let a3 = -(r + x) * (alpha + t).ln();
        if x > 0.0 {
            let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + t_x).ln();
            let m = a3.max(a4);
            a1 + a2 + m + ((a3 - m).exp() + (a4 - m).exp()).ln()
        } else {
            a1 + a2 + a3
        }
    }

    /// The probability that a customer with this summary is still active (1 for a customer
    /// without a repeat purchase: the model lets a customer drop out only after a purchase).
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let log_odds = (r + x) * ((alpha + t).ln() - (alpha + t_x).ln()) + (a / (b + x - 1.0)).ln();
        1.0 / (1.0 + log_odds.exp())
    }

    /// Expected purchases in the next `horizon` periods of a customer with this summary
    /// (Fader, Hardie & Lee 2005, eq. 10), with the Gauss hypergeometric function evaluated
    /// after Euler's transformation where its series would grow before it converges (as
    /// `lifetimes` does for large frequencies).
    pub fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        self.purchases_numerator(horizon, x, t) / self.purchases_denominator(x, t_x, t)
    }

    /// The part of [`expected_purchases`](Self::expected_purchases) that does not depend on
    /// the recency: (a + b + x − 1)/(a − 1) · (1 − ((α + T)/(α + T + t))^(r+x) ₂F₁(r + x,
    /// b + x; a + b + x − 1; t/(α + T + t))).
    fn purchases_numerator(&self, horizon: f64, x: f64, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let (ha, hb, hc) = (r + x, b + x, a + b + x - 1.0);
        let z = horizon / (alpha + t + horizon);
        let ln_hyp = ln_hyp2f1(ha, hb, hc, z);
        let first = (a + b + x - 1.0) / (a - 1.0);
        let second =
            1.0 - (ln_hyp + (r + x) * ((alpha + t).ln() - (alpha + t + horizon).ln())).exp();
        first * second
    }

    /// The rest: 1 + [x > 0] a/(b + x − 1) · ((α + T)/(α + t_x))^(r+x).
    fn purchases_denominator(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        if x > 0.0 {
            1.0 + (a / (b + x - 1.0)) * ((r + x) * ((alpha + t).ln() - (alpha + t_x).ln())).exp()
        } else {
            1.0
        }
    }

    /// Fits BG/NBD to a summary by maximum likelihood, from r = α = a = b = 1 (as `lifetimes`
    /// starts).
    pub fn fit(x: &[f64], t_x: &[f64], t: &[f64]) -> Result<Fitted<BgNbd>, ValueError> {
        check_summary(x, t_x, t)?;
        let rows = data::BgNbdData::new(x, t_x, t);
        Ok(fit_mle(&rows, |d, m: &BgNbd| d.log_likelihood(m)))
    }
}

/// ln ₂F₁(a, b; c; z) for 0 ≤ z < 1 and a, b, c > 0, by its power series; when c − a − b < 0
/// the series of Euler's transformation, (1 − z)^(c−a−b) ₂F₁(c − a, c − b; c; z), whose terms
/// do not grow first (`lifetimes` switches to it when the direct value overflows).
fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let series = |a: f64, b: f64| {
        let (mut term, mut sum) = (1.0f64, 1.0f64);
        for n in 0..1_000_000u32 {
            let n = f64::from(n);
            term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
            sum += term;
            if term.abs() <= 1e-17 * sum.abs() {
                break;
            }
        }
        sum
    };
    if c - a - b < 0.0 {
        series(c - a, c - b).ln() + (c - a - b) * (1.0 - z).ln()
    } else {
        series(a, b).ln()
    }
}

/// Gamma-Gamma's parameters: spend per transaction Gamma(p, ν), ν ~ Gamma(q, γ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGamma {
    /// Shape of the transaction-value distribution.
    pub p: f64,
    /// Shape of the distribution of its scale.
    pub q: f64,
    /// Scale of the distribution of its scale (γ; `v` in `lifetimes`).
    pub gamma: f64,
}

impl GammaGamma {
    /// The parameters' names, in the order of [`Fitted::std_errors`].
    pub const NAMES: [&'static str; 3] = ["p", "q", "gamma"];

    /// One repeat buyer's log-likelihood of their mean transaction value `m` over `x`
    /// transactions (Fader & Hardie 2013), as `lifetimes` writes it.
    pub fn log_likelihood(&self, x: f64, m: f64) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let px = p * x;
        lgamma(px + q) - lgamma(px) - lgamma(q) + q * gamma.ln() + (px - 1.0) * m.ln() + px * x.ln()
            - (px + q) * (x * m + gamma).ln()
    }

    /// The expected value of a customer's future purchases given `x` repeat purchases of mean
    /// value `m`: the population mean γp/(q − 1) and `m`, weighted by px/(px + q − 1) (the
    /// population mean for a customer without a repeat purchase).
    pub fn expected_value(&self, x: f64, m: f64) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let weight = p * x / (p * x + q - 1.0);
        let population = gamma * p / (q - 1.0);
        if x > 0.0 {
            (1.0 - weight) * population + weight * m
        } else {
            population
        }
    }

    /// Fits Gamma-Gamma to the repeat buyers (x > 0) of a summary, from p = q = γ = 1.
    /// Customers without a repeat purchase carry no value information and are left out;
    /// a repeat buyer's mean value must be above 0.
    pub fn fit(x: &[f64], monetary: &[f64]) -> Result<Fitted<GammaGamma>, ValueError> {
        if x.len() != monetary.len() {
            return Err(ValueError::Lengths(format!(
                "{} frequencies, {} monetary values",
                x.len(),
                monetary.len()
            )));
        }
        let mut buyers = Vec::new();
        for (i, (&x, &m)) in x.iter().zip(monetary).enumerate() {
            if x > 0.0 {
                if !(m > 0.0 && m.is_finite()) {
                    return Err(ValueError::Customer {
                        index: i,
                        message: format!(
                            "mean repeat purchase value {m} is not above 0 (Gamma-Gamma models \
                             positive spend; leave out customers whose repeats net to nothing)"
                        ),
                    });
                }
                buyers.push((x, m));
            }
        }
        if buyers.is_empty() {
            return Err(ValueError::Empty(
                "no customer made a repeat purchase: Gamma-Gamma has nothing to fit".into(),
            ));
        }
        let rows = data::GammaGammaData::new(&buyers);
        Ok(fit_mle(&rows, |d, g: &GammaGamma| d.log_likelihood(g)))
    }
}

/// One customer's predictions (see [`predict`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The probability the customer is still active.
    pub p_alive: f64,
    /// Expected purchases over the horizon.
    pub expected_purchases: f64,
    /// Expected value of a future purchase (Gamma-Gamma).
    pub expected_value: f64,
    /// [`clv`] over the horizon.
    pub clv: f64,
}

/// Every customer's predictions over `horizon` periods at `discount_rate` a period: what
/// [`BgNbd::p_alive`], [`BgNbd::expected_purchases`], [`GammaGamma::expected_value`] and
/// [`clv`] give one at a time, computed in parallel and faster: the hypergeometric part of
/// the expected purchases does not depend on the recency, so the CLV's per-period sum is
/// computed once per distinct (frequency, T), then divided by each customer's own
/// denominator (equal to `clv` to rounding: the sum is factored differently).
pub fn predict(
    bg: &BgNbd,
    gg: &GammaGamma,
    horizon: u32,
    discount_rate: f64,
    customers: &[Summary],
) -> Vec<Prediction> {
    use rayon::prelude::*;
    let mut pairs: Vec<(u64, u64)> = customers
        .iter()
        .map(|c| (c.frequency.to_bits(), c.t.to_bits()))
        .collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    let h = f64::from(horizon);
    // Per distinct (x, T): the numerator at the horizon and the discounted sum of its steps.
    let sums: Vec<(f64, f64)> = pairs
        .par_iter()
        .map(|&(x, t)| {
            let (x, t) = (f64::from_bits(x), f64::from_bits(t));
            let (mut before, mut total) = (0.0, 0.0);
            for i in 1..=horizon {
                let i = f64::from(i);
                let now = bg.purchases_numerator(i, x, t);
                total += (now - before) / (1.0 + discount_rate).powf(i);
                before = now;
            }
            let at_horizon = if horizon == 0 {
                0.0
            } else {
                bg.purchases_numerator(h, x, t)
            };
            (at_horizon, total)
        })
        .collect();
    customers
        .par_iter()
        .map(|c| {
            let (x, tx, t) = (c.frequency, c.recency, c.t);
            let at = pairs
                .binary_search(&(x.to_bits(), t.to_bits()))
                .expect("every customer's pair is listed");
            let (numerator, steps) = sums[at];
            let denominator = bg.purchases_denominator(x, tx, t);
            let value = gg.expected_value(x, c.monetary);
            Prediction {
                p_alive: bg.p_alive(x, tx, t),
                expected_purchases: numerator / denominator,
                expected_value: value,
                clv: value * steps / denominator,
            }
        })
        .collect()
}

/// Customer lifetime value over `horizon` whole periods with a `discount_rate` per period:
/// Σᵢ (E[Y(i)] − E[Y(i − 1)]) · value / (1 + d)ⁱ for i = 1 … horizon, the form `lifetimes`
/// computes (its `customer_lifetime_value` with the period as its unit).
pub fn clv(
    model: &BgNbd,
    value: f64,
    horizon: u32,
    discount_rate: f64,
    x: f64,
    t_x: f64,
    t: f64,
) -> f64 {
    let mut total = 0.0;
    let mut before = 0.0;
    for i in 1..=horizon {
        let i = f64::from(i);
        let now = model.expected_purchases(i, x, t_x, t);
        total += value * (now - before) / (1.0 + discount_rate).powf(i);
        before = now;
    }
    total
}
