//! A 2-D picture of the feature space for the report: principal component analysis of the
//! feature matrix, and a sample of customers and every centroid projected onto the first two
//! components.
//!
//! The components come from the covariance of a seeded sample of rows ([`BASIS_ROWS`]), found
//! by power iteration with deflation; only the two leading ones are needed, so the cost is
//! O(rows·d² + d²·iterations). Above [`DENSE_MAX_D`] features a d × d matrix would not fit
//! (50,000 features: 20 GB), so the components come from the rows' Gram matrix instead
//! (m × m for m = [`GRAM_CELLS`] / d sampled rows: the same leading eigenvalues, and the
//! eigenvectors mapped back through the rows), O(m²·d) time and O(m·d) memory. Every sum runs in a fixed order and each axis's
//! sign is fixed (its largest component positive), so the picture is the same on any thread
//! count. No I/O.

use rayon::prelude::*;

/// Rows the covariance is estimated from (a seeded sample above it).
pub const BASIS_ROWS: usize = 20_000;
/// Customers drawn in the scatter (a seeded sample above it).
pub const PLOT_ROWS: usize = 2_000;
const CHUNK_ROWS: usize = 1024;
/// Most features for which the covariance is formed as a d × d matrix.
pub const DENSE_MAX_D: usize = 256;
/// Cells of the centred sample (rows × d) the Gram path holds: about 32 MB of f64.
pub const GRAM_CELLS: usize = 4_000_000;
const MAX_ITER: usize = 1_000;

/// Customers and centroids on the first two principal components.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// Fraction of the total variance along each component.
    pub explained: [f64; 2],
    /// (x, y, segment) per plotted customer.
    pub points: Vec<(f64, f64, usize)>,
    /// (x, y, segment) per k-means centroid.
    pub centroids: Vec<(f64, f64, usize)>,
    /// Rows the matrix had.
    pub rows: usize,
}

/// Projects `matrix` (n × `d`, row-major) with its `labels`, and `centroids` (row-major, d
/// columns) each with its exported segment from `centroid_segment`. `None` when there are no
/// rows or no features.
pub fn project(
    matrix: &[f32],
    d: usize,
    labels: &[u32],
    centroids: &[f32],
    centroid_segment: impl Fn(usize) -> usize,
    seed: u64,
) -> Option<Projection> {
    let n = matrix.len().checked_div(d)?;
    if n == 0 {
        return None;
    }
    let basis = strata_quality::sample_rows(n, BASIS_ROWS, seed ^ 0x5ca7_7e12);
    let (mean, total, (v1, l1), (v2, l2)) = if d <= DENSE_MAX_D {
        let (mean, cov) = covariance(matrix, d, &basis);
        let total: f64 = (0..d).map(|i| cov[i * d + i]).sum();
        let (v1, l1) = leading(&cov, d);
        let deflated: Vec<f64> = (0..d * d)
            .map(|ij| cov[ij] - l1 * v1[ij / d] * v1[ij % d])
            .collect();
        let second = if d > 1 {
            leading(&deflated, d)
        } else {
            (vec![0.0; d], 0.0)
        };
        (mean, total, (v1, l1), second)
    } else {
        let m = (GRAM_CELLS / d)
            .clamp(2, basis.len().max(2))
            .min(basis.len());
        gram_components(matrix, d, &basis[..m])
    };
    let on = |row: &[f32]| -> (f64, f64) {
        let (mut x, mut y) = (0.0, 0.0);
        for ((&r, m), (a, b)) in row.iter().zip(&mean).zip(v1.iter().zip(&v2)) {
            let c = r as f64 - m;
            x += c * a;
            y += c * b;
        }
        (x, y)
    };
    let points = strata_quality::sample_rows(n, PLOT_ROWS, seed)
        .into_iter()
        .map(|i| {
            let (x, y) = on(&matrix[i * d..(i + 1) * d]);
            (x, y, labels[i] as usize)
        })
        .collect();
    let centroids = centroids
        .chunks_exact(d)
        .enumerate()
        .map(|(c, row)| {
            let (x, y) = on(row);
            (x, y, centroid_segment(c))
        })
        .collect();
    let share = |l: f64| {
        if total > 0.0 {
            (l / total).max(0.0)
        } else {
            0.0
        }
    };
    Some(Projection {
        explained: [share(l1), share(l2)],
        points,
        centroids,
        rows: n,
    })
}

/// The mean, total variance and two leading components of `rows` of the matrix through their
/// Gram matrix G = C·Cᵀ / m (C the centred rows, m × d): G and the covariance Cᵀ·C / m have the
/// same non-zero eigenvalues, and an eigenvector u of G maps to Cᵀ·u of the covariance.
#[allow(clippy::type_complexity)]
fn gram_components(
    matrix: &[f32],
    d: usize,
    rows: &[usize],
) -> (Vec<f64>, f64, (Vec<f64>, f64), (Vec<f64>, f64)) {
    let m = rows.len();
    let mut mean = vec![0f64; d];
    for &i in rows {
        for (a, &x) in mean.iter_mut().zip(&matrix[i * d..(i + 1) * d]) {
            *a += x as f64;
        }
    }
    mean.iter_mut().for_each(|x| *x /= m as f64);
    let centred: Vec<f64> = rows
        .iter()
        .flat_map(|&i| {
            matrix[i * d..(i + 1) * d]
                .iter()
                .zip(&mean)
                .map(|(&x, mu)| x as f64 - mu)
        })
        .collect();
    let row = |r: usize| &centred[r * d..(r + 1) * d];
    let gram: Vec<f64> = (0..m * m)
        .into_par_iter()
        .map(|ab| {
            let (a, b) = (ab / m, ab % m);
            row(a).iter().zip(row(b)).map(|(x, y)| x * y).sum::<f64>() / m as f64
        })
        .collect();
    let total: f64 = (0..m).map(|a| gram[a * m + a]).sum();
    // An eigenvector of G to one of the covariance: Cᵀ·u, unit length, largest part positive.
    let back = |u: &[f64]| -> Vec<f64> {
        let mut v = vec![0f64; d];
        for (r, &w) in u.iter().enumerate() {
            for (a, &x) in v.iter_mut().zip(row(r)) {
                *a += w * x;
            }
        }
        if !normalise(&mut v) {
            return vec![0.0; d];
        }
        let biggest = v
            .iter()
            .copied()
            .max_by(|x, y| x.abs().total_cmp(&y.abs()))
            .unwrap_or(0.0);
        if biggest < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
        v
    };
    let (u1, l1) = leading(&gram, m);
    let deflated: Vec<f64> = (0..m * m)
        .map(|ab| gram[ab] - l1 * u1[ab / m] * u1[ab % m])
        .collect();
    let (u2, l2) = leading(&deflated, m);
    (mean, total, (back(&u1), l1), (back(&u2), l2))
}

/// Mean and covariance (d × d, f64) of `rows` of the matrix, summed in fixed chunks in order.
fn covariance(matrix: &[f32], d: usize, rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let m = rows.len() as f64;
    let sums: Vec<Vec<f64>> = rows
        .par_chunks(CHUNK_ROWS)
        .map(|chunk| {
            let mut s = vec![0f64; d];
            for &i in chunk {
                for (a, &x) in s.iter_mut().zip(&matrix[i * d..(i + 1) * d]) {
                    *a += x as f64;
                }
            }
            s
        })
        .collect();
    let mut mean = vec![0f64; d];
    for s in &sums {
        for (a, b) in mean.iter_mut().zip(s) {
            *a += b;
        }
    }
    mean.iter_mut().for_each(|x| *x /= m);
    let parts: Vec<Vec<f64>> = rows
        .par_chunks(CHUNK_ROWS)
        .map(|chunk| {
            let mut c = vec![0f64; d * d];
            let mut centred = vec![0f64; d];
            for &i in chunk {
                for ((c, &x), m) in centred
                    .iter_mut()
                    .zip(&matrix[i * d..(i + 1) * d])
                    .zip(&mean)
                {
                    *c = x as f64 - m;
                }
                for a in 0..d {
                    let ca = centred[a];
                    for (cell, &cb) in c[a * d..a * d + a + 1].iter_mut().zip(&centred) {
                        *cell += ca * cb;
                    }
                }
            }
            c
        })
        .collect();
    let mut cov = vec![0f64; d * d];
    for p in &parts {
        for (a, b) in cov.iter_mut().zip(p) {
            *a += b;
        }
    }
    // Only the lower triangle was summed; mirror it.
    for a in 0..d {
        for b in 0..=a {
            let v = cov[a * d + b] / m;
            cov[a * d + b] = v;
            cov[b * d + a] = v;
        }
    }
    (mean, cov)
}

/// The leading eigenvector (unit length, largest component positive) and eigenvalue of the
/// symmetric positive semi-definite `a` (d × d), by power iteration from its column of
/// largest variance.
fn leading(a: &[f64], d: usize) -> (Vec<f64>, f64) {
    let start = (0..d)
        .max_by(|&i, &j| a[i * d + i].total_cmp(&a[j * d + j]).then(j.cmp(&i)))
        .unwrap_or(0);
    // The column of largest variance plus a little of every axis, so the start is not
    // orthogonal to the leading eigenvector.
    let mut v: Vec<f64> = (0..d)
        .map(|i| a[i * d + start] + 1e-3 * a[start * d + start] * (1.0 + i as f64 / d as f64))
        .collect();
    if !normalise(&mut v) {
        return (vec![0.0; d], 0.0);
    }
    let mut lambda = 0.0;
    for _ in 0..MAX_ITER {
        let mut w: Vec<f64> = (0..d)
            .map(|i| {
                a[i * d..(i + 1) * d]
                    .iter()
                    .zip(&v)
                    .map(|(x, y)| x * y)
                    .sum()
            })
            .collect();
        lambda = w.iter().zip(&v).map(|(x, y)| x * y).sum();
        if !normalise(&mut w) {
            return (vec![0.0; d], 0.0);
        }
        let moved: f64 = w.iter().zip(&v).map(|(x, y)| (x - y) * (x - y)).sum();
        v = w;
        if moved < 1e-20 {
            break;
        }
    }
    let biggest = v
        .iter()
        .copied()
        .max_by(|x, y| x.abs().total_cmp(&y.abs()))
        .unwrap_or(0.0);
    if biggest < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
    (v, lambda.max(0.0))
}

/// Scales `v` to unit length; false when it is (numerically) zero.
fn normalise(v: &mut [f64]) -> bool {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm.is_nan() || norm <= 1e-300 {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points spread ±3 along (1, 1, 0)/√2 and ±1 along (0, 0, 1), over a seeded grid.
    fn planted(n: usize) -> Vec<f32> {
        let mut m = Vec::with_capacity(n * 3);
        for i in 0..n {
            let a = 3.0 * ((i * 7919 % 1000) as f64 / 500.0 - 1.0);
            let b = (i * 104_729 % 997) as f64 / 498.5 - 1.0;
            let s = std::f64::consts::FRAC_1_SQRT_2;
            m.extend([(a * s + 10.0) as f32, (a * s - 4.0) as f32, b as f32]);
        }
        m
    }

    #[test]
    fn finds_the_planted_axes_in_order() {
        let n = 5000;
        let m = planted(n);
        let labels = vec![0u32; n];
        let p = project(&m, 3, &labels, &m[..6], |c| c, 7).unwrap();
        // Variance along the axes: 3² / 3 = 3 and 1 / 3; nothing else.
        let want = 3.0 / (3.0 + 1.0 / 3.0);
        assert!((p.explained[0] - want).abs() < 0.01, "{:?}", p.explained);
        assert!((p.explained[0] + p.explained[1] - 1.0).abs() < 1e-6);
        assert_eq!(p.points.len(), PLOT_ROWS);
        assert_eq!(p.centroids.len(), 2);
        assert_eq!(p.centroids[1].2, 1);
        // The first axis is (1, 1, 0)/√2: a point's x is its offset along it.
        let (x, y, _) = p.centroids[0];
        let a = (m[0] as f64 - 10.0 + m[1] as f64 + 4.0) * std::f64::consts::FRAC_1_SQRT_2;
        assert!((x - a).abs() < 0.05, "{x} vs {a}");
        assert!((y.abs() - (m[2] as f64).abs()).abs() < 0.05, "{y}");
    }

    #[test]
    fn the_picture_does_not_depend_on_threads() {
        let m = planted(30_000);
        let labels: Vec<u32> = (0..30_000).map(|i| (i % 4) as u32).collect();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| project(&m, 3, &labels, &m[..12], |c| c, 42).unwrap())
        };
        assert_eq!(run(1), run(4));
    }

    #[test]
    fn many_features_project_through_the_gram_matrix_to_the_same_picture() {
        // The planted data widened with near-constant columns: the Gram path (d above
        // DENSE_MAX_D) finds the planted axes, as the dense path does on the narrow data.
        let n = 600;
        let narrow = planted(n);
        let d = 3;
        let wide_d = DENSE_MAX_D + 44;
        let wide: Vec<f32> = (0..n)
            .flat_map(|i| {
                let mut row = narrow[i * d..(i + 1) * d].to_vec();
                row.extend((0..wide_d - d).map(|j| ((i * 7 + j) % 3) as f32 * 1e-3));
                row
            })
            .collect();
        let labels = vec![0u32; n];
        let a = project(&narrow, d, &labels, &narrow[..d], |_| 0, 1).unwrap();
        let b = project(&wide, wide_d, &labels, &wide[..wide_d], |_| 0, 1).unwrap();
        assert!(
            (a.explained[0] - b.explained[0]).abs() < 1e-3,
            "{a:?} {b:?}"
        );
        for (p, q) in a.points.iter().zip(&b.points) {
            assert!(
                (p.0 - q.0).abs() < 1e-2 && (p.1 - q.1).abs() < 1e-2,
                "{p:?} {q:?}"
            );
        }
    }

    #[test]
    fn one_feature_and_constant_data_still_project() {
        let m: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let p = project(&m, 1, &[0; 100], &[5.0], |_| 0, 1).unwrap();
        assert_eq!(p.explained, [1.0, 0.0]);
        assert!(p.points.iter().all(|q| q.1 == 0.0));
        let flat = vec![2.0f32; 40];
        let p = project(&flat, 2, &[0; 20], &[2.0, 2.0], |_| 0, 1).unwrap();
        assert_eq!(p.explained, [0.0, 0.0]);
        assert!(p.points.iter().all(|q| q.0 == 0.0 && q.1 == 0.0));
        assert!(project(&[], 2, &[], &[], |_| 0, 1).is_none());
        assert!(project(&[1.0], 0, &[], &[], |_| 0, 1).is_none());
    }
}
