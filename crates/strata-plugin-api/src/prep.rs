//! Preprocessing helpers the bundled strategies share: missing-value imputation, numeric
//! scaling (z-score, robust, log for skewed money columns) and weighted one-hot encoding.
//!
//! Every helper is fit on training rows and stores what it learned in a serde type, so the
//! same transformation is applied when new customers are scored with a saved model.

use std::collections::HashMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::MISSING_CODE;
use crate::error::Error;

/// How a categorical column becomes features: one weighted indicator per category (k-means),
/// or one feature holding the category's code (k-prototypes, which counts mismatches; ABI 1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoricalAs {
    /// A [`OneHot`].
    OneHot,
    /// The index of the category in the sorted levels.
    Codes,
}

/// How numeric features are scaled before clustering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// (x − mean) / standard deviation.
    Zscore,
    /// (x − median) / interquartile range: outliers pull less.
    Robust,
    /// Values used as they are.
    None,
}

impl FromStr for Scale {
    type Err = Error;
    fn from_str(s: &str) -> Result<Scale, Error> {
        match s.to_ascii_lowercase().as_str() {
            "zscore" | "z-score" | "standard" => Ok(Scale::Zscore),
            "robust" => Ok(Scale::Robust),
            "none" => Ok(Scale::None),
            other => Err(Error(format!(
                "unknown scaling '{other}': expected zscore, robust or none"
            ))),
        }
    }
}

/// Linear-interpolated quantile (numpy's default) of sorted values.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Linear-interpolated quantile (numpy's default) of the present values, found by a radix
/// selection (a few passes over the values, no copy of them) rather than by sorting or by
/// selecting in a copy: fitting a 10M-row column's median was 80 MB written and faulted in,
/// then a selection over it; it is now three streaming passes.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let (frac, at_lo, next) = ranked(values, |n| {
        let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
        let lo = pos.floor() as usize;
        (lo, pos - lo as f64)
    })?;
    if frac == 0.0 {
        return Some(at_lo);
    }
    Some(at_lo + (next - at_lo) * frac)
}

/// Where `x` stands in `f64::total_cmp`'s order, as an unsigned integer.
#[inline]
fn order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | 1 << 63 }
}

/// The value whose [`order_key`] is `k`.
#[inline]
fn from_order_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Candidates at most this many are gathered and sorted by [`ranked`] rather than counted by
/// another digit.
const RADIX_GATHER: usize = 1 << 15;

/// The values of ranks `lo` and `lo + 1` (0-based, in `f64::total_cmp` order) among the
/// present values, with `rank(n)` choosing `lo` and a fraction (returned first) from their
/// count `n`; the second value is the first's when `lo` is the last rank.
///
/// A most-significant-digit radix selection on the values' order keys, 16 bits a pass: each
/// pass counts the candidates (the values whose key starts with the digits found so far) by
/// their next digit and keeps the digit holding rank `lo`; once few candidates are left they
/// are gathered and sorted. When rank `lo` is the last of its digit's candidates, rank `lo + 1`
/// is the first of the next digit's, so one pass of a maximum and a minimum finishes. Exact:
/// the answer is a value of the input, bit for bit.
fn ranked(values: &[f64], rank: impl FnOnce(usize) -> (usize, f64)) -> Option<(f64, f64, f64)> {
    const DIGIT: u32 = 16;
    let (mut prefix, mut known) = (0u64, 0u32);
    // The candidates' keys, and each one's next digit, for the digits known so far.
    let candidates = |prefix: u64, known: u32| {
        values
            .iter()
            .filter(|x| !x.is_nan())
            .map(|&x| order_key(x))
            .filter(move |&k| known == 0 || k >> (64 - known) == prefix)
            .map(move |k| (k, ((k << known) >> (64 - DIGIT)) as usize))
    };
    let mut hist = vec![0usize; 1 << DIGIT];
    for (_, digit) in candidates(prefix, known) {
        hist[digit] += 1;
    }
    let n: usize = hist.iter().sum();
    if n == 0 {
        return None;
    }
    let (mut r, frac) = rank(n);
    loop {
        let mut b = 0;
        while r >= hist[b] {
            r -= hist[b];
            b += 1;
        }
        if r + 1 == hist[b] {
            // Rank `lo` is its digit's largest candidate; the next is the smallest of the next
            // digit that has any (none when `lo` is the last rank of all).
            let next = (b + 1..hist.len()).find(|&c| hist[c] > 0);
            let (mut max, mut min) = (0u64, u64::MAX);
            for (k, digit) in candidates(prefix, known) {
                if digit == b {
                    max = max.max(k);
                } else if Some(digit) == next {
                    min = min.min(k);
                }
            }
            let at_lo = from_order_key(max);
            let at_hi = if next.is_some() {
                from_order_key(min)
            } else {
                at_lo
            };
            return Some((frac, at_lo, at_hi));
        }
        prefix = (prefix << DIGIT) | b as u64;
        known += DIGIT;
        if known == 64 {
            let v = from_order_key(prefix);
            return Some((frac, v, v));
        }
        if hist[b] <= RADIX_GATHER {
            let mut few: Vec<u64> = candidates(prefix, known).map(|(k, _)| k).collect();
            few.sort_unstable();
            return Some((frac, from_order_key(few[r]), from_order_key(few[r + 1])));
        }
        hist.fill(0);
        for (_, digit) in candidates(prefix, known) {
            hist[digit] += 1;
        }
    }
}

/// Median of the present values.
pub fn median(values: &[f64]) -> Option<f64> {
    quantile(values, 0.5)
}

/// Mean and population standard deviation of the present values (two-pass, f64).
pub fn mean_std(values: &[f64]) -> Option<(f64, f64)> {
    mean_std_of(|| values.iter().copied())
}

/// [`mean_std`] of the values `values()` yields (called once per pass), in that order: the
/// same bits as `mean_std` of them collected, without collecting them.
fn mean_std_of<I: Iterator<Item = f64>>(values: impl Fn() -> I) -> Option<(f64, f64)> {
    let mut n = 0usize;
    let mut sum = 0.0;
    for x in values().filter(|x| !x.is_nan()) {
        n += 1;
        sum += x;
    }
    if n == 0 {
        return None;
    }
    let mean = sum / n as f64;
    let var = values()
        .filter(|x| !x.is_nan())
        .map(|x| (x - mean) * (x - mean))
        .sum::<f64>()
        / n as f64;
    Some((mean, var.sqrt()))
}

/// Sample skewness (Fisher–Pearson, population moments) of the present values.
pub fn skewness(values: &[f64]) -> Option<f64> {
    let (mean, std) = mean_std(values)?;
    if std == 0.0 {
        return Some(0.0);
    }
    let (n, m3) = values
        .iter()
        .filter(|x| !x.is_nan())
        .fold((0usize, 0.0), |(n, s), &x| {
            (n + 1, s + ((x - mean) / std).powi(3))
        });
    Some(m3 / n as f64)
}

/// `sign(x) · ln(1 + |x|)`: a log scale for money that can be negative (refunds stay below 0).
/// The other logs a strategy needs are `ln(1 + x)` (for counts and sizes that cannot be
/// negative) and [`NumericScaler::fit`]'s log-if-skewed.
#[inline]
pub fn signed_log(x: f64) -> f64 {
    x.signum() * x.abs().ln_1p()
}

/// Skewness above which a non-negative money column is log-scaled.
pub const LOG_SKEW_THRESHOLD: f64 = 1.0;

/// A fitted numeric column: impute, optionally `ln(1 + x)`, then centre and scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericScaler {
    /// Column the scaler was fit on (its CSV header).
    pub column: String,
    /// Value used for missing entries (the training median, in the data's units).
    pub impute: f64,
    /// Whether `ln(1 + x)` is applied before centring.
    pub log: bool,
    /// Subtracted before dividing by `scale`: the mean (z-score), the median (robust) or 0 (none),
    /// after any log.
    pub center: f64,
    /// Divisor; 1 when the column is constant.
    pub scale: f64,
    /// Multiplier applied after scaling (the column's weight in the distance).
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

impl NumericScaler {
    /// Fits on the training values. `log_if_skewed`: take `ln(1 + x)` when every value is
    /// non-negative and the skewness exceeds [`LOG_SKEW_THRESHOLD`].
    pub fn fit(
        column: &str,
        values: &[f64],
        scale: Scale,
        log_if_skewed: bool,
    ) -> Result<NumericScaler, Error> {
        let impute = median(values).ok_or_else(|| {
            Error(format!(
                "column '{column}' has no values: every row is missing"
            ))
        })?;
        let log = log_if_skewed
            && values.iter().filter(|x| !x.is_nan()).all(|&x| x >= 0.0)
            && skewness(values).is_some_and(|s| s > LOG_SKEW_THRESHOLD);
        let transformed = || {
            values
                .iter()
                .map(move |&x| if x.is_nan() { impute } else { x })
                .map(move |x| if log { x.ln_1p() } else { x })
        };
        let (center, spread) = match scale {
            Scale::None => (0.0, 1.0),
            // Two passes over the values as transformed, not a copy of them: a column of 10M
            // values was 80 MB written and faulted in for two sums.
            Scale::Zscore => mean_std_of(transformed).expect("non-empty after imputation"),
            Scale::Robust => {
                let transformed: Vec<f64> = transformed().collect();
                let q = |p| quantile(&transformed, p).expect("non-empty");
                let iqr = q(0.75) - q(0.25);
                // A column with most values equal has IQR 0: fall back to the std, then 1.
                let spread = if iqr > 0.0 {
                    iqr
                } else {
                    mean_std(&transformed).map_or(0.0, |(_, s)| s)
                };
                (q(0.5), spread)
            }
        };
        // Values near f64's limit overflow the mean or the spread; the scaled features would be
        // infinite, and the saved state unreadable (JSON has no infinity).
        if !center.is_finite() || !spread.is_finite() {
            return Err(Error(format!(
                "column '{column}' has values too large to scale (their mean or spread \
                 overflows, e.g. values near 1e308); rescale the column or mark such values \
                 missing"
            )));
        }
        Ok(NumericScaler {
            column: column.to_owned(),
            impute,
            log,
            center,
            scale: if spread > 0.0 && spread.is_finite() {
                spread
            } else {
                1.0
            },
            weight: 1.0,
        })
    }

    /// The scaled feature for one raw value (NaN = missing).
    #[inline]
    pub fn apply(&self, x: f64) -> f32 {
        let x = if x.is_nan() { self.impute } else { x };
        let x = if self.log { x.max(0.0).ln_1p() } else { x };
        ((x - self.center) / self.scale * self.weight) as f32
    }
}

/// A fitted categorical column: one indicator feature per category seen in training.
///
/// Each indicator is weighted by `1/√2`, so two customers in different categories are at
/// squared distance 1, the same as two customers one standard deviation apart on a z-scored
/// numeric, however many categories the column has: a many-valued column cannot dominate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneHot {
    /// Column the encoding was fit on (its CSV header).
    pub column: String,
    /// Categories in feature order (sorted, so the encoding does not depend on row order).
    pub levels: Vec<String>,
    /// Index into `levels` used for missing entries (the most frequent category).
    pub impute: usize,
    /// Value of the indicator that is set; [`ONE_HOT_WEIGHT`] unless a strategy reweights the
    /// column.
    pub weight: f64,
}

/// Indicator weight that puts two different categories at squared distance 1.
pub const ONE_HOT_WEIGHT: f64 = std::f64::consts::FRAC_1_SQRT_2;

impl OneHot {
    /// Fits on the training codes of one column: its levels are the categories of `dict` that occur
    /// at least once. An error when every row is missing.
    pub fn fit(column: &str, codes: &[u32], dict: &[&str]) -> Result<OneHot, Error> {
        let mut counts = vec![0usize; dict.len()];
        for &c in codes {
            if c != MISSING_CODE {
                counts[c as usize] += 1;
            }
        }
        let mut levels: Vec<(&str, usize)> = dict
            .iter()
            .zip(&counts)
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (*s, *n))
            .collect();
        if levels.is_empty() {
            return Err(Error(format!(
                "column '{column}' has no values: every row is missing"
            )));
        }
        levels.sort_by(|a, b| a.0.cmp(b.0));
        // Most frequent; ties go to the first in sorted order, so the choice is reproducible.
        let impute = levels
            .iter()
            .enumerate()
            .max_by(|(ia, a), (ib, b)| a.1.cmp(&b.1).then(ib.cmp(ia)))
            .map(|(i, _)| i)
            .expect("non-empty");
        Ok(OneHot {
            column: column.to_owned(),
            levels: levels.into_iter().map(|(s, _)| s.to_owned()).collect(),
            impute,
            weight: ONE_HOT_WEIGHT,
        })
    }

    /// Number of indicator features: one per level.
    pub fn n_features(&self) -> usize {
        self.levels.len()
    }

    /// Feature names: `column=level`.
    pub fn feature_names(&self) -> impl Iterator<Item = String> + '_ {
        self.levels.iter().map(|l| format!("{}={l}", self.column))
    }

    /// Maps a batch's dictionary codes to level indices (`None`: a category unseen in
    /// training, encoded as all zeros).
    pub fn code_map(&self, dict: &[&str]) -> Vec<Option<usize>> {
        let index: HashMap<&str, usize> = self
            .levels
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        dict.iter().map(|s| index.get(s).copied()).collect()
    }

    /// Writes every row's indicators into features `offset..offset + n_features` of `out`
    /// (`code_map` from [`OneHot::code_map`] for the batch's dictionary).
    pub fn write_column(
        &self,
        codes: &[u32],
        code_map: &[Option<usize>],
        out: &mut crate::matrix::FeatureMatrix,
        offset: usize,
    ) {
        let w = self.n_features();
        for (row, &code) in codes.iter().enumerate() {
            self.apply(code, code_map, &mut out.row_mut(row)[offset..offset + w]);
        }
    }

    /// Writes every row's category as its code into feature `offset` of `out`: the level's
    /// index, the imputed level's for a missing value, and `levels.len()` for a category not
    /// seen in training (ABI 1.4's "outside the levels").
    pub fn write_codes(
        &self,
        codes: &[u32],
        code_map: &[Option<usize>],
        out: &mut crate::matrix::FeatureMatrix,
        offset: usize,
    ) {
        let outside = self.levels.len();
        out.set_column(
            offset,
            codes.iter().map(|&code| {
                let level = if code == MISSING_CODE {
                    self.impute
                } else {
                    code_map
                        .get(code as usize)
                        .copied()
                        .flatten()
                        .unwrap_or(outside)
                };
                level as f32
            }),
        );
    }

    /// Writes the indicators for one row into `out` (length `n_features`).
    #[inline]
    pub fn apply(&self, code: u32, code_map: &[Option<usize>], out: &mut [f32]) {
        out.fill(0.0);
        let level = if code == MISSING_CODE {
            Some(self.impute)
        } else {
            code_map.get(code as usize).copied().flatten()
        };
        if let Some(l) = level {
            out[l] = self.weight as f32;
        }
    }
}

pub use strata_abi::unit_normalise;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_quantiles_ignore_missing() {
        assert_eq!(median(&[3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN]), None);
    }

    #[test]
    fn selection_quantiles_equal_sorted_ones() {
        let v: Vec<f64> = (0..1001)
            .map(|i| ((i * 7919) % 1013) as f64 * 0.37 - 50.0)
            .collect();
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        for q in [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999, 1.0] {
            assert_eq!(quantile(&v, q), quantile_sorted(&sorted, q), "q = {q}");
        }
        assert_eq!(quantile(&[f64::NAN], 0.5), None);
    }

    /// The selection `quantile` made before the radix one (a copy, `select_nth_unstable_by`,
    /// the next value as the minimum of those after), kept as the oracle: the same bits.
    fn quantile_by_selection(values: &[f64], q: f64) -> Option<f64> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let (_, &mut at_lo, right) = v.select_nth_unstable_by(lo, f64::total_cmp);
        let frac = pos - lo as f64;
        if frac == 0.0 {
            return Some(at_lo);
        }
        let next = right.iter().copied().fold(f64::INFINITY, f64::min);
        Some(at_lo + (next - at_lo) * frac)
    }

    /// The radix selection against the earlier selection and a sort, on columns that take each
    /// of its ways out: few candidates gathered, many values sharing their leading digits
    /// (several passes), ties spanning a digit, rank `lo` the last of its digit, signed zeros,
    /// infinities, missing.
    #[test]
    fn radix_quantiles_equal_sorted_ones_on_hard_columns() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let n = 100_003;
        let columns: Vec<Vec<f64>> = vec![
            (0..n)
                .map(|_| (next() % 1_000_000) as f64 / 7.0 - 5e4)
                .collect(),
            // Every value in [1, 1.000001): the same first 32 bits of the key.
            (0..n)
                .map(|_| 1.0 + (next() % 1_000_000) as f64 * 1e-12)
                .collect(),
            (0..n).map(|_| (next() % 3) as f64).collect(),
            (0..n)
                .map(|i| match next() % 5 {
                    0 => f64::NAN,
                    1 => -0.0,
                    2 => 0.0,
                    3 if i % 1000 == 0 => f64::INFINITY,
                    _ => -((next() % 100) as f64),
                })
                .collect(),
            // Two values far apart, so the middle ranks straddle two digits.
            (0..n)
                .map(|i| if i % 2 == 0 { -1e9 } else { 3.5 })
                .collect(),
            (0..=RADIX_GATHER).map(|i| i as f64).collect(),
        ];
        for v in &columns {
            let mut sorted: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
            sorted.sort_by(f64::total_cmp);
            for q in [0.0, 1e-5, 0.25, 0.5, 0.5 + 1e-9, 0.75, 0.99999, 1.0] {
                let got = quantile(v, q).map(f64::to_bits);
                assert_eq!(
                    got,
                    quantile_by_selection(v, q).map(f64::to_bits),
                    "q = {q}"
                );
                // A sort agrees but where ∞ − ∞ makes its interpolation NaN.
                let sorted_q = quantile_sorted(&sorted, q).unwrap();
                if !sorted_q.is_nan() {
                    assert_eq!(got, Some(sorted_q.to_bits()), "q = {q}");
                }
            }
        }
    }

    #[test]
    fn zscore_scaler_centres_and_imputes_median() {
        let s = NumericScaler::fit("x", &[1.0, 2.0, 3.0, f64::NAN], Scale::Zscore, false).unwrap();
        assert_eq!(s.impute, 2.0);
        // After imputation the column is 1,2,3,2: mean 2, std sqrt(0.5).
        assert!((s.center - 2.0).abs() < 1e-12);
        assert!((s.scale - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(s.apply(f64::NAN), 0.0);
        assert!((s.apply(3.0) - (1.0 / 0.5f64.sqrt()) as f32).abs() < 1e-6);
    }

    #[test]
    fn skewed_money_is_logged_and_symmetric_is_not() {
        let skewed: Vec<f64> = (0..100)
            .map(|i| if i < 95 { 10.0 } else { 10_000.0 })
            .collect();
        assert!(
            NumericScaler::fit("m", &skewed, Scale::Zscore, true)
                .unwrap()
                .log
        );
        let flat: Vec<f64> = (0..100).map(f64::from).collect();
        assert!(
            !NumericScaler::fit("m", &flat, Scale::Zscore, true)
                .unwrap()
                .log
        );
        let negative = [-5.0, 1.0, 1.0, 1.0, 1000.0];
        assert!(
            !NumericScaler::fit("m", &negative, Scale::Zscore, true)
                .unwrap()
                .log
        );
    }

    #[test]
    fn robust_scaler_uses_median_and_iqr() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 1000.0];
        let s = NumericScaler::fit("x", &v, Scale::Robust, false).unwrap();
        assert_eq!(s.center, 3.5);
        assert_eq!(
            s.scale,
            quantile_sorted(&v, 0.75).unwrap() - quantile_sorted(&v, 0.25).unwrap()
        );
    }

    #[test]
    fn constant_column_scales_by_one() {
        let s = NumericScaler::fit("x", &[4.0, 4.0], Scale::Zscore, false).unwrap();
        assert_eq!(s.scale, 1.0);
        assert_eq!(s.apply(4.0), 0.0);
    }

    #[test]
    fn all_missing_is_an_error_naming_the_column() {
        let e = NumericScaler::fit("Age", &[f64::NAN, f64::NAN], Scale::Zscore, false).unwrap_err();
        assert!(e.0.contains("'Age'"), "{e}");
    }

    #[test]
    fn one_hot_sorted_levels_imputes_most_frequent_and_zeroes_unseen() {
        let dict = ["b", "a", "c"];
        let codes = [0, 0, 1, MISSING_CODE];
        let oh = OneHot::fit("g", &codes, &dict).unwrap();
        assert_eq!(oh.levels, vec!["a", "b"]); // "c" never occurs
        assert_eq!(oh.impute, 1); // "b" is most frequent
        let map = oh.code_map(&dict);
        let mut row = [9.0f32; 2];
        oh.apply(1, &map, &mut row);
        assert_eq!(row, [ONE_HOT_WEIGHT as f32, 0.0]);
        oh.apply(MISSING_CODE, &map, &mut row);
        assert_eq!(row, [0.0, ONE_HOT_WEIGHT as f32]);
        oh.apply(2, &map, &mut row);
        assert_eq!(row, [0.0, 0.0]);
        // Two different categories sit at squared distance 1.
        let d2 = 2.0 * ONE_HOT_WEIGHT * ONE_HOT_WEIGHT;
        assert!((d2 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn scale_parses_and_rejects() {
        assert_eq!("robust".parse::<Scale>().unwrap(), Scale::Robust);
        assert!(
            "minmax"
                .parse::<Scale>()
                .unwrap_err()
                .0
                .contains("zscore, robust or none")
        );
    }
}
