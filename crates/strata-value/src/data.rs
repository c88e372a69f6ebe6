//! The summaries as the fits read them, built once per fit so that an evaluation of a
//! log-likelihood costs a few table look-ups and two transcendental calls per row:
//! - equal rows are merged into one with a weight (customers with the same summary add the
//!   same term);
//! - the log-gamma terms depend on a row only through its frequency, so they are computed
//!   once per distinct frequency and evaluation; the logarithms of α + T and α + t_x once
//!   per distinct T and t_x;
//! - the sum runs over fixed blocks of rows in parallel, and the blocks' sums are added in
//!   order: the same bits on any number of threads.

use libm::lgamma;
use rayon::prelude::*;

use crate::{BgNbd, GammaGamma};

/// Rows per block of a sum: the unit of parallel work, fixed so that sums do not depend on
/// the thread count.
const BLOCK: usize = 4096;

/// Distinct values of a column and each row's index among them.
#[derive(Debug, Clone)]
struct Levels {
    values: Vec<f64>,
    index: Vec<u32>,
}

impl Levels {
    fn of(column: impl Iterator<Item = f64> + Clone) -> Levels {
        let mut values: Vec<f64> = column.clone().collect();
        values.sort_by(f64::total_cmp);
        values.dedup_by(|a, b| a.to_bits() == b.to_bits());
        let index = column
            .map(|v| values.partition_point(|&u| u.total_cmp(&v).is_lt()) as u32)
            .collect();
        Levels { values, index }
    }
}

/// Rows sorted and merged: each distinct row once, with how many times it occurred.
fn merged<const N: usize>(rows: impl Iterator<Item = [f64; N]>) -> (Vec<[f64; N]>, Vec<f64>) {
    let mut rows: Vec<[f64; N]> = rows.collect();
    rows.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut out: Vec<[f64; N]> = Vec::new();
    let mut weights: Vec<f64> = Vec::new();
    for r in rows {
        match out.last() {
            Some(last) if last.iter().zip(&r).all(|(a, b)| a.to_bits() == b.to_bits()) => {
                *weights.last_mut().expect("a weight per row") += 1.0;
            }
            _ => {
                out.push(r);
                weights.push(1.0);
            }
        }
    }
    (out, weights)
}

/// Σ f(i) over `0..n`, in fixed blocks summed in parallel and added in order.
fn block_sum(n: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    let blocks: Vec<f64> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| (b * BLOCK..((b + 1) * BLOCK).min(n)).map(&f).sum::<f64>())
        .collect();
    blocks.iter().sum()
}

/// A BG/NBD summary (x, t_x, T), merged and indexed.
#[derive(Debug, Clone)]
pub(crate) struct BgNbdData {
    rows: Vec<[f64; 3]>,
    weight: Vec<f64>,
    x: Levels,
    t_x: Levels,
    t: Levels,
}

impl BgNbdData {
    pub fn new(x: &[f64], t_x: &[f64], t: &[f64]) -> BgNbdData {
        let rows = x.iter().zip(t_x).zip(t).map(|((&x, &tx), &t)| [x, tx, t]);
        let (rows, weight) = merged(rows);
        BgNbdData::from_rows(rows, weight)
    }

    fn from_rows(rows: Vec<[f64; 3]>, weight: Vec<f64>) -> BgNbdData {
        BgNbdData {
            x: Levels::of(rows.iter().map(|r| r[0])),
            t_x: Levels::of(rows.iter().map(|r| r[1])),
            t: Levels::of(rows.iter().map(|r| r[2])),
            rows,
            weight,
        }
    }

    /// Distinct rows.
    pub fn len(&self) -> usize {
        self.weight.len()
    }

    /// Every `every`-th distinct row, with its weight: a systematic sample for a first fit.
    pub fn sample(&self, every: usize) -> BgNbdData {
        BgNbdData::from_rows(
            self.rows.iter().step_by(every).copied().collect(),
            self.weight.iter().step_by(every).copied().collect(),
        )
    }

    /// The summed log-likelihood at `m`: [`BgNbd::log_likelihood`] of every customer.
    pub fn log_likelihood(&self, m: &BgNbd) -> f64 {
        let BgNbd { r, alpha, a, b } = *m;
        let constant = -lgamma(r) + r * alpha.ln() + lgamma(a + b) - lgamma(b);
        // Per distinct x: the log-gamma part, and ln a − ln(b + x − 1) for the second term.
        let by_x: Vec<(f64, f64)> = self
            .x
            .values
            .iter()
            .map(|&x| {
                let c = constant + lgamma(r + x) + lgamma(b + x) - lgamma(a + b + x);
                let d = if x > 0.0 {
                    a.ln() - (b + x - 1.0).ln()
                } else {
                    f64::NAN
                };
                (c, d)
            })
            .collect();
        let ln_t: Vec<f64> = self.t.values.iter().map(|&t| (alpha + t).ln()).collect();
        let ln_tx: Vec<f64> = self.t_x.values.iter().map(|&t| (alpha + t).ln()).collect();
        block_sum(self.len(), |i| {
            let xi = self.x.index[i] as usize;
            let x = self.x.values[xi];
            let (c, d) = by_x[xi];
            let a3 = -(r + x) * ln_t[self.t.index[i] as usize];
            let ll = if x > 0.0 {
                let a4 = d - (r + x) * ln_tx[self.t_x.index[i] as usize];
                let m = a3.max(a4);
                c + m + ((a3 - m).exp() + (a4 - m).exp()).ln()
            } else {
                c + a3
            };
            self.weight[i] * ll
        })
    }
}

/// Gamma-Gamma's repeat buyers (x, mean value m), merged and indexed.
#[derive(Debug, Clone)]
pub(crate) struct GammaGammaData {
    weight: Vec<f64>,
    x: Levels,
    m: Vec<f64>,
    ln_m: Vec<f64>,
}

impl GammaGammaData {
    pub fn new(buyers: &[(f64, f64)]) -> GammaGammaData {
        let (rows, weight) = merged(buyers.iter().map(|&(x, m)| [x, m]));
        GammaGammaData {
            weight,
            x: Levels::of(rows.iter().map(|r| r[0])),
            m: rows.iter().map(|r| r[1]).collect(),
            ln_m: rows.iter().map(|r| r[1].ln()).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.weight.len()
    }

    /// Every `every`-th distinct buyer, with its weight.
    pub fn sample(&self, every: usize) -> GammaGammaData {
        let idx: Vec<usize> = (0..self.len()).step_by(every).collect();
        GammaGammaData {
            weight: idx.iter().map(|&i| self.weight[i]).collect(),
            x: Levels::of(idx.iter().map(|&i| self.x.values[self.x.index[i] as usize])),
            m: idx.iter().map(|&i| self.m[i]).collect(),
            ln_m: idx.iter().map(|&i| self.ln_m[i]).collect(),
        }
    }

    /// The summed log-likelihood at `g`: [`GammaGamma::log_likelihood`] of every buyer.
    pub fn log_likelihood(&self, g: &GammaGamma) -> f64 {
        let GammaGamma { p, q, gamma } = *g;
        let constant = -lgamma(q) + q * gamma.ln();
        let by_x: Vec<f64> = self
            .x
            .values
            .iter()
            .map(|&x| {
                let px = p * x;
                constant + lgamma(px + q) - lgamma(px) + px * x.ln()
            })
            .collect();
        block_sum(self.len(), |i| {
            let xi = self.x.index[i] as usize;
            let x = self.x.values[xi];
            let px = p * x;
            let ll = by_x[xi] + (px - 1.0) * self.ln_m[i] - (px + q) * (x * self.m[i] + gamma).ln();
            self.weight[i] * ll
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_tables_give_the_per_customer_sums() {
        // Repeats, a zero-frequency customer, fractional periods.
        let x = [0.0, 2.0, 2.0, 5.0, 2.0, 0.0, 1.0];
        let t_x = [0.0, 10.0, 10.0, 30.5, 12.0, 0.0, 3.0];
        let t = [40.0, 38.0, 38.0, 39.0, 38.0, 20.0, 3.0];
        let m = BgNbd {
            r: 0.24,
            alpha: 4.4,
            a: 0.79,
            b: 2.43,
        };
        let plain: f64 = (0..x.len())
            .map(|i| m.log_likelihood(x[i], t_x[i], t[i]))
            .sum();
        let data = BgNbdData::new(&x, &t_x, &t);
        assert_eq!(data.len(), 6, "the equal pair merged");
        assert!((data.log_likelihood(&m) - plain).abs() < 1e-12 * plain.abs());
        // Sampling every row keeps the weights.
        assert!((data.sample(1).log_likelihood(&m) - plain).abs() < 1e-12 * plain.abs());

        let buyers = [(2.0, 10.0), (2.0, 10.0), (5.0, 3.5), (1.0, 100.0)];
        let g = GammaGamma {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        };
        let plain: f64 = buyers.iter().map(|&(x, v)| g.log_likelihood(x, v)).sum();
        let data = GammaGammaData::new(&buyers);
        assert_eq!(data.len(), 3);
        assert!((data.log_likelihood(&g) - plain).abs() < 1e-12 * plain.abs());
        assert!((data.sample(1).log_likelihood(&g) - plain).abs() < 1e-12 * plain.abs());
    }
}
