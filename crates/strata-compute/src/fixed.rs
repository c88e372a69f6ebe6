//! Exact per-centroid sums: every value is put on a fixed-point grid chosen per feature, and
//! the sums are integers.
//!
//! Integer addition is associative, so a sum does not depend on the order its terms were
//! added in: a pass that tallies every row, a pass that only moves the rows whose label
//! changed from one centroid's sum to another's, and (later) a device reducing in its own
//! order all give the same bits. That is what lets a Lloyd pass skip rows whose label its
//! bounds settle (their sums do not change) while staying bit-identical to an exhaustive pass,
//! and both backends agree by construction.
//!
//! The grid: feature f's values are scaled by 2^s(f), with s(f) the largest power for which
//! the feature's largest magnitude stays below 2^51, and rounded to the nearest integer (ties
//! to even). A value within 2^27 of the feature's largest magnitude is represented exactly
//! (an f32 has 24 significant bits); smaller ones are rounded to 2^−51 of it, far below
//! an f32 centroid's own resolution. A block of 64 rows sums in i64 (below 2^57), totals in
//! i128.

use crate::MatrixRef;

/// Largest magnitude of a quantized value: 2^51, so that the f64 trick below is exact and 64
/// of them fit an i64.
const VALUE_BITS: i32 = 51;

/// `1.5 · 2^52`: adding it to an f64 of magnitude below 2^51 rounds that value to an integer
/// (ties to even) in the low mantissa bits.
const MAGIC: f64 = 6_755_399_441_055_744.0;

/// The fixed-point grid of one matrix: a power-of-two scale per feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedScale {
    /// 2^s(f) per feature.
    scale: Vec<f64>,
    /// 2^−s(f) per feature.
    unscale: Vec<f64>,
}

impl FixedScale {
    /// The grid for values whose largest magnitude per feature is `max_abs` (non-finite
    /// magnitudes count as `f32::MAX`).
    pub fn new(max_abs: &[f32]) -> FixedScale {
        let shift = |m: f32| -> i32 {
            let m = if m.is_finite() { m } else { f32::MAX };
            if m <= 0.0 {
                return 0;
            }
            // m < 2^e with e = ⌊log2 m⌋ + 1, read off the f64 exponent (m is a normal f64).
            let e = ((f64::from(m).to_bits() >> 52) & 0x7ff) as i32 - 1023 + 1;
            VALUE_BITS - e
        };
        let scale: Vec<f64> = max_abs.iter().map(|&m| pow2(shift(m))).collect();
        let unscale = max_abs.iter().map(|&m| pow2(-shift(m))).collect();
        FixedScale { scale, unscale }
    }

    /// The grid of a matrix's columns (one parallel pass).
    pub fn of(data: MatrixRef<'_>) -> FixedScale {
        use rayon::prelude::*;
        let d = data.d();
        let max_abs = data
            .data()
            .par_chunks(d * 4096)
            .map(|rows| {
                let mut m = vec![0f32; d];
                for row in rows.chunks_exact(d) {
                    for (m, &v) in m.iter_mut().zip(row) {
                        *m = m.max(v.abs());
                    }
                }
                m
            })
            .reduce(
                || vec![0f32; d],
                |a, b| a.iter().zip(&b).map(|(x, y)| x.max(*y)).collect(),
            );
        FixedScale::new(&max_abs)
    }

    /// The grid of a single column of non-negative values (row norms, known in f32 and
    /// quantized from f64: one more bit of headroom covers the difference).
    pub fn of_column(values: &[f32]) -> FixedScale {
        use rayon::prelude::*;
        let max = values.par_iter().map(|v| v.abs()).reduce(|| 0.0, f32::max);
        FixedScale::new(&[max * 2.0])
    }

    /// Feature `f`'s grid exponent `s`: its values are kept as round(v · 2^s).
    pub fn shift(&self, f: usize) -> i32 {
        ((self.scale[f].to_bits() >> 52) & 0x7ff) as i32 - 1023
    }

    /// Number of features.
    pub fn d(&self) -> usize {
        self.scale.len()
    }

    /// Feature `f`'s value `v` on the grid.
    #[inline(always)]
    pub fn quantize(&self, f: usize, v: f32) -> i64 {
        quantize(v, self.scale[f])
    }

    /// Feature `f`'s value `v`, known in f64 and of magnitude below the grid's bound, on the
    /// grid.
    #[inline(always)]
    pub fn quantize_f64(&self, f: usize, v: f64) -> i64 {
        let x = v * self.scale[f];
        ((x + MAGIC).to_bits() as i64) - (MAGIC.to_bits() as i64)
    }

    /// A grid sum of feature `f` back in the data's units (rounded once, to f64).
    #[inline]
    pub fn value(&self, f: usize, sum: i128) -> f64 {
        sum as f64 * self.unscale[f]
    }

    /// `acc[f] += q(row[f])` for every feature; explicit AVX2 when `AVX2` (the caller then
    /// runs with AVX2 enabled), the same integers either way.
    #[inline(always)]
    pub(crate) fn add_row<const AVX2: bool>(&self, acc: &mut [i64], row: &[f32]) {
        self.add_row_from::<AVX2>(acc, row, 0);
    }

    /// [`add_row`](Self::add_row) for a part of a row whose first value is feature `first`.
    #[inline(always)]
    pub(crate) fn add_row_from<const AVX2: bool>(
        &self,
        acc: &mut [i64],
        row: &[f32],
        first: usize,
    ) {
        let scale = &self.scale[first..];
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: `AVX2` is only set in code that runs after AVX2 was detected.
            unsafe { add_row_avx2(scale, acc, row) };
            return;
        }
        for ((a, &v), &s) in acc.iter_mut().zip(row).zip(scale) {
            *a += quantize(v, s);
        }
    }
}

/// 2^e as an f64, for e within f64's normal range (|e| ≤ 1022 here: shifts lie in −77..=200).
fn pow2(e: i32) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// `v · scale` rounded to the nearest integer, ties to even (`scale` a power of two that puts
/// |v| below 2^51, so the product is exact and the rounding is the only one).
#[inline(always)]
fn quantize(v: f32, scale: f64) -> i64 {
    let x = f64::from(v) * scale;
    ((x + MAGIC).to_bits() as i64) - (MAGIC.to_bits() as i64)
}

/// [`FixedScale::add_row`] with AVX2: four values at a time widened to f64, scaled, rounded by
/// the same `MAGIC` addition, and added as 64-bit integers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn add_row_avx2(scale: &[f64], acc: &mut [i64], row: &[f32]) {
    use std::arch::x86_64::*;
    let n = acc.len().min(row.len()).min(scale.len());
    let full = n / 4 * 4;
    // SAFETY: the vector loads and stores cover lanes i..i + 4 ≤ full ≤ n of all three slices.
    unsafe {
        let magic = _mm256_set1_pd(MAGIC);
        let magic_bits = _mm256_set1_epi64x(MAGIC.to_bits() as i64);
        let mut i = 0;
        while i < full {
            let x = _mm256_cvtps_pd(_mm_loadu_ps(row.as_ptr().add(i)));
            let x = _mm256_mul_pd(x, _mm256_loadu_pd(scale.as_ptr().add(i)));
            let q = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(x, magic)), magic_bits);
            let p = acc.as_mut_ptr().add(i) as *mut __m256i;
            _mm256_storeu_si256(p, _mm256_add_epi64(_mm256_loadu_si256(p), q));
            i += 4;
        }
    }
    for f in full..n {
        acc[f] += quantize(row[f], scale[f]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_near_the_largest_are_exact() {
        let s = FixedScale::new(&[3.0, 1e-30, 0.0, 1e30]);
        for (f, v) in [(0, 3.0f32), (0, -2.5), (0, 1.0e-3), (1, 1e-30), (3, -1e30)] {
            let q = s.quantize(f, v);
            assert_eq!(
                s.value(f, i128::from(q)),
                f64::from(v),
                "feature {f} value {v}"
            );
            assert!(q.unsigned_abs() < 1 << 51);
        }
        assert_eq!(s.quantize(2, 0.0), 0);
    }

    #[test]
    fn tiny_values_round_to_the_grid() {
        let s = FixedScale::new(&[1.0]);
        // The grid step for a feature whose largest magnitude is 1.0 is 2^-50.
        let step = 2f64.powi(-50);
        let v = 3.3e-16f32;
        let back = s.value(0, i128::from(s.quantize(0, v)));
        assert!((back - f64::from(v)).abs() <= step / 2.0);
    }

    #[test]
    fn avx2_rows_match_portable_rows() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        for d in [1, 3, 4, 7, 16, 33] {
            let rows: Vec<f32> = (0..d * 50)
                .map(|i| ((i * 7919) % 1013) as f32 / 37.0 - 13.0)
                .map(|v| if v.abs() < 1.0 { v * 1e-9 } else { v })
                .collect();
            let max: Vec<f32> = (0..d)
                .map(|f| rows.chunks(d).map(|r| r[f].abs()).fold(0.0, f32::max))
                .collect();
            let s = FixedScale::new(&max);
            let (mut a, mut b) = (vec![0i64; d], vec![0i64; d]);
            for row in rows.chunks(d) {
                s.add_row::<true>(&mut a, row);
                s.add_row::<false>(&mut b, row);
            }
            assert_eq!(a, b, "d = {d}");
        }
    }

    #[test]
    fn sums_do_not_depend_on_order() {
        let d = 2;
        let rows: Vec<f32> = (0..2000).map(|i| (i as f32 * 0.7311).sin() * 1e3).collect();
        let s = FixedScale::new(&[1e3, 1e3]);
        let forward = rows.chunks(d).fold(vec![0i64; d], |mut a, r| {
            s.add_row::<false>(&mut a, r);
            a
        });
        let backward = rows.chunks(d).rev().fold(vec![0i64; d], |mut a, r| {
            s.add_row::<false>(&mut a, r);
            a
        });
        assert_eq!(forward, backward);
    }
}
