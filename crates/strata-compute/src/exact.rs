//! Exact sums of f64 values: the total does not depend on the order the terms came in or on
//! how they were split into parts, so partial sums made on many machines merge into the bits
//! one machine gets.
//!
//! [`ExactSum`] is a small superaccumulator (Neal, "Fast exact summation using small and large
//! superaccumulators", 2015): every finite f64 is an integer multiple of 2^−1074 below
//! 2^1024, and the accumulator keeps that integer in 67 signed 32-bit digits held in i64s,
//! so a term is added to at most three digits with no rounding at all. Carries are pushed up
//! every 2^30 additions, long before a digit could overflow. [`ExactSum::value`] rounds the
//! exact total once, to the nearest f64 (ties to even) wherever the result is a normal number.
//!
//! A sum travels between processes as [`ExactSum::terms`]: a few f64s, largest first, whose
//! exact sum is the accumulator's (each term is the rounded rest of the ones before it), which
//! JSON carries without loss.

/// Digits of 32 bits: 2^−1074 · 2^(32·67) covers every finite f64 with room for carries.
const DIGITS: usize = 67;
/// Additions between carry propagations: each adds below 2^32 to a digit, an i64 holds 2^63.
const CARRY_EVERY: u32 = 1 << 30;

/// The exact sum of the f64 values added; see the [module docs](self).
#[derive(Clone, PartialEq, Eq)]
pub struct ExactSum {
    digits: [i64; DIGITS],
    /// Additions since the digits were last normalised.
    pending: u32,
    nan: bool,
    pos_inf: bool,
    neg_inf: bool,
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum::new()
    }
}

impl std::fmt::Debug for ExactSum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExactSum({:?})", self.value())
    }
}

impl ExactSum {
    /// Zero.
    pub const fn new() -> ExactSum {
        ExactSum {
            digits: [0; DIGITS],
            pending: 0,
            nan: false,
            pos_inf: false,
            neg_inf: false,
        }
    }

    /// Adds `x` exactly. Infinities and NaN are remembered apart: the value is then infinite
    /// or NaN as IEEE addition would make it.
    #[inline]
    pub fn add(&mut self, x: f64) {
        let bits = x.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as usize;
        if biased == 0x7ff {
            if x.is_nan() {
                self.nan = true;
            } else if x > 0.0 {
                self.pos_inf = true;
            } else {
                self.neg_inf = true;
            }
            return;
        }
        // x = ±mantissa · 2^(position − 1074), without a branch (data's signs and the error
        // terms of products come in no predictable order): a subnormal has no hidden bit and
        // the position of the smallest normal; a zero adds zeros.
        let normal = u64::from(biased != 0);
        let mantissa = (bits & ((1u64 << 52) - 1)) | (normal << 52);
        let position = biased - normal as usize;
        let shifted = u128::from(mantissa) << (position % 32);
        let sign = 1 - 2 * (bits >> 63) as i64;
        let d = &mut self.digits[position / 32..position / 32 + 3];
        d[0] += sign * (shifted & 0xffff_ffff) as i64;
        d[1] += sign * ((shifted >> 32) & 0xffff_ffff) as i64;
        d[2] += sign * (shifted >> 64) as i64;
        self.pending += 1;
        if self.pending >= CARRY_EVERY {
            self.normalise();
        }
    }

    /// Adds every value of `other` (exactly).
    pub fn merge(&mut self, other: &ExactSum) {
        self.normalise();
        let mut other = other.clone();
        other.normalise();
        for (d, o) in self.digits.iter_mut().zip(other.digits) {
            *d += o;
        }
        // Each digit is now below 2^33 in magnitude: as after two additions.
        self.pending = 2;
        self.nan |= other.nan;
        self.pos_inf |= other.pos_inf;
        self.neg_inf |= other.neg_inf;
    }

    /// Pushes carries up: every digit but the top one in [0, 2^32), the top one signed.
    fn normalise(&mut self) {
        for i in 0..DIGITS - 1 {
            let carry = self.digits[i] >> 32;
            self.digits[i] -= carry << 32;
            self.digits[i + 1] += carry;
        }
        self.pending = 0;
    }

    /// The exact total rounded to the nearest f64 (ties to even; a total in the subnormal
    /// range may be rounded twice). Infinite when it is beyond f64's range.
    pub fn value(&self) -> f64 {
        if self.nan || (self.pos_inf && self.neg_inf) {
            return f64::NAN;
        }
        if self.pos_inf {
            return f64::INFINITY;
        }
        if self.neg_inf {
            return f64::NEG_INFINITY;
        }
        let mut n = self.clone();
        n.normalise();
        let negative = n.digits[DIGITS - 1] < 0;
        if negative {
            for v in n.digits.iter_mut() {
                *v = -*v;
            }
            n.normalise();
        }
        let d = n.digits;
        let Some(top) = d.iter().rposition(|&v| v != 0) else {
            return 0.0;
        };
        let digit = |i: isize| -> u128 { if i < 0 { 0 } else { d[i as usize] as u128 } };
        let t = top as isize;
        let mut m = (digit(t) << 64) | (digit(t - 1) << 32) | digit(t - 2);
        // The digits below the three read only decide a rounding: a sticky bit (bit 0 is at
        // least 11 places below the last one an f64 keeps, as the top digit is non-zero).
        if t >= 3 && d[..top - 2].iter().any(|&v| v != 0) {
            m |= 1;
        }
        let v = scale2(m as f64, 32 * (t - 2) as i32 - 1074);
        if negative { -v } else { v }
    }

    /// Terms whose exact sum is this sum, largest first; none for zero. A value that is
    /// infinite or NaN gives that value as its one term.
    pub fn terms(&self) -> Vec<f64> {
        let mut rest = self.clone();
        let mut out = Vec::new();
        loop {
            let v = rest.value();
            if v == 0.0 {
                return out;
            }
            out.push(v);
            if !v.is_finite() {
                return out;
            }
            rest.add(-v);
        }
    }

    /// The sum of `terms` (as [`terms`](Self::terms) wrote them, or any f64s).
    pub fn from_terms(terms: &[f64]) -> ExactSum {
        let mut s = ExactSum::new();
        for &t in terms {
            s.add(t);
        }
        s
    }
}

/// The sum of squared deviations from the mean of `n` values whose exact sum is `s1` and
/// exact sum of squares `s2`: Σ(x − m)² = Σx² − 2mΣx + nm² evaluated exactly for the f64 `m`
/// nearest the mean, less n(μ − m)², which is below ε²μ² per value and left out.
pub fn squared_deviations(n: u64, s1: &ExactSum, s2: &ExactSum) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let nf = n as f64;
    let s1r = s1.value();
    let m = s1r / nf;
    let mut acc = s2.clone();
    // −2m·Σx, with Σx = s1r + the part rounding left out (itself rounded: a term of the order
    // of ε² of the others).
    let mut rest = s1.clone();
    rest.add(-s1r);
    for x in [s1r, rest.value()] {
        let (p, e) = two_product(-2.0 * m, x);
        acc.add(p);
        acc.add(e);
    }
    // n·m², with m² = h + l exactly.
    let (h, l) = two_product(m, m);
    for x in [h, l] {
        let (p, e) = two_product(nf, x);
        acc.add(p);
        acc.add(e);
    }
    acc.value().max(0.0)
}

/// `x · 2^e` for `e` far outside an f64 exponent's range, in steps that stay exact until the
/// last (which rounds once, unless the result is subnormal).
fn scale2(mut x: f64, mut e: i32) -> f64 {
    let pow = |e: i32| f64::from_bits(((e + 1023) as u64) << 52);
    while e > 1000 {
        x *= pow(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= pow(-1000);
        e += 1000;
    }
    x * pow(e)
}

/// `a · b` as `(p, e)` with `p = fl(a·b)` and `p + e = a·b` exactly (Dekker's product, no
/// fused multiply-add needed), for products that neither overflow nor underflow.
pub fn two_product(a: f64, b: f64) -> (f64, f64) {
    const SPLIT: f64 = 134_217_729.0; // 2^27 + 1
    let split = |x: f64| {
        let c = SPLIT * x;
        let hi = c - (c - x);
        (hi, x - hi)
    };
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    (p, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(values: &[f64]) -> f64 {
        ExactSum::from_terms(values).value()
    }

    #[test]
    fn small_sums_are_exact() {
        assert_eq!(sum(&[]), 0.0);
        assert_eq!(sum(&[1.0, 2.0, 3.5]), 6.5);
        assert_eq!(sum(&[-1.0, 2.0, -3.5]), -2.5);
        assert_eq!(sum(&[0.1, 0.2]), 0.1 + 0.2);
        // Naive summation loses the 1 entirely.
        assert_eq!(sum(&[1e100, 1.0, -1e100]), 1.0);
        assert_eq!(sum(&[1e308, 1e308, -1e308]), 1e308);
        assert_eq!(sum(&[f64::MAX, f64::MAX]), f64::INFINITY);
        assert_eq!(sum(&[5e-324, 5e-324]), 1e-323);
        assert_eq!(sum(&[-0.0]), 0.0);
        assert!(sum(&[1.0, f64::NAN]).is_nan());
        assert!(sum(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert_eq!(sum(&[f64::NEG_INFINITY, 1.0]), f64::NEG_INFINITY);
    }

    #[test]
    fn rounds_once_to_nearest_even() {
        // 1 + 2^-53 is a tie between 1 and its successor: to even (1). Just above it: up.
        let ulp_half = f64::EPSILON / 2.0;
        assert_eq!(sum(&[1.0, ulp_half]), 1.0);
        assert_eq!(sum(&[1.0, ulp_half, 1e-300]), 1.0 + f64::EPSILON);
        assert_eq!(sum(&[1.0, ulp_half, -1e-300]), 1.0);
        let odd = 1.0 + f64::EPSILON;
        assert_eq!(sum(&[odd, ulp_half]), 1.0 + 2.0 * f64::EPSILON);
        assert_eq!(sum(&[-odd, -ulp_half]), -(1.0 + 2.0 * f64::EPSILON));
    }

    /// A deterministic stream of awkward values: magnitudes over many decades, both signs.
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let m = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                m * 10f64.powi(((s >> 3) % 40) as i32 - 20)
            })
            .collect()
    }

    #[test]
    fn order_and_parts_do_not_matter() {
        let v = values(10_000, 7);
        let whole = ExactSum::from_terms(&v);
        let mut reversed = v.clone();
        reversed.reverse();
        assert_eq!(ExactSum::from_terms(&reversed).value(), whole.value());
        for cut in [1, 333, 5_000, 9_999] {
            let mut a = ExactSum::from_terms(&v[..cut]);
            a.merge(&ExactSum::from_terms(&v[cut..]));
            assert_eq!(a.value(), whole.value());
            assert_eq!(a.terms(), whole.terms());
        }
        // Terms carry the sum exactly: summing them again gives the same terms.
        let terms = whole.terms();
        assert!(!terms.is_empty());
        assert_eq!(ExactSum::from_terms(&terms).terms(), terms);
        // The value agrees with a careful sum in higher precision to f64's rounding.
        let mut naive = 0.0f64;
        for x in &v {
            naive += x;
        }
        let scale = v.iter().map(|x| x.abs()).fold(0.0, f64::max);
        assert!((whole.value() - naive).abs() <= 1e-10 * scale);
    }

    #[test]
    fn carries_survive_many_additions() {
        let mut s = ExactSum::new();
        // Force the carry path without 2^30 additions: start near it.
        s.pending = CARRY_EVERY - 5;
        for _ in 0..10 {
            s.add(4_294_967_295.0);
        }
        assert_eq!(s.value(), 10.0 * 4_294_967_295.0);
        for _ in 0..10 {
            s.add(-4_294_967_295.0);
        }
        assert_eq!(s.value(), 0.0);
        assert!(s.terms().is_empty());
    }

    #[test]
    fn squared_deviations_survive_a_large_mean() {
        // Values 1e9 + {0, 1, 2, 3}: Σx²/n − mean² in f64 loses every digit; this keeps them.
        let v = [1e9, 1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0];
        let s1 = ExactSum::from_terms(&v);
        let mut s2 = ExactSum::new();
        for x in v {
            let (p, e) = two_product(x, x);
            s2.add(p);
            s2.add(e);
        }
        assert_eq!(squared_deviations(4, &s1, &s2), 5.0);
        assert_eq!(
            squared_deviations(0, &ExactSum::new(), &ExactSum::new()),
            0.0
        );
    }

    #[test]
    fn dekker_products_are_exact() {
        for (a, b) in [(0.1, 0.3), (1e10 + 0.5, 3.0 / 7.0), (-123.456, 789.012)] {
            let (p, e) = two_product(a, b);
            assert_eq!(p, a * b);
            assert_eq!(e, a.mul_add(b, -p), "{a} × {b}");
        }
    }
}
