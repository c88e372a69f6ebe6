//! Is there any structure to segment? The chosen k checked against structureless references,
//! as SigClust does (Liu, Hayes, Nobel & Marron 2008): data drawn from one Gaussian with the
//! data's mean and covariance are cut into k by k-means just as the data were, and the data's
//! within-segment share of the total sum of squares is compared with the references'.
//!
//! Stability under resampling cannot make this call: k-means on a single round blob returns
//! the same two halves on every half-sample, so a blob reads "stable" at k = 2. A blob,
//! though, leaves a known share of its spread inside any k pieces, and data with real
//! segments leave much less. A single Gaussian is the strictest "one cluster" null that keeps
//! the data's scale and correlations; a heavy-tailed blob can still beat it, which is why the
//! summary words a pass as "more structure than one blob", not as proof of clusters.
//!
//! [`REFERENCES`] references of at most [`ROWS`] rows each, every one seeded from the fit's
//! seed and fitted on the CPU with the fit's restarts and stopping rule, so the verdict is the
//! same on any thread count and backend.

use strata_format::select::NullReference;

use crate::{CoreError, FitSettings};

/// Reference data sets: with 39, a share below all of them has an empirical p-value of 0.025.
pub(crate) const REFERENCES: usize = 39;
/// How far below the references' median the data's share must also be, relative to it. On
/// many rows a share can beat every blob by a hair (a slight skew does it); a segmentation
/// worth the name removes clearly more spread than cutting a blob does. 5% separates the
/// shared data sets with segments (Mall income × spending 41% below, the Online Retail
/// customers 9%) from Gaussian clouds that beat the references by chance (3%).
pub(crate) const MARGIN: f64 = 0.05;
/// Rows per reference, and rows the mean and covariance are estimated on (a seeded sample
/// above it).
pub(crate) const ROWS: usize = 2_000;

/// The data's (`eval`, n × d) within share at `k`, `within` being its k-means inertia there,
/// against [`REFERENCES`] Gaussian references. `None` with too few rows for k, or no spread.
pub(crate) fn check(
    settings: &FitSettings,
    eval: &[f32],
    d: usize,
    k: usize,
    within: f64,
) -> Result<Option<NullReference>, CoreError> {
    let n = eval.len() / d.max(1);
    if d == 0 || k < 2 || n < 2 * k.max(5) {
        return Ok(None);
    }
    let c = settings.cluster();
    let total = total_sum_of_squares(eval, d);
    if total.is_nan() || total <= 0.0 {
        return Ok(None);
    }
    let within_share = within / total;
    let sample = strata_quality::sample_rows(n, n.min(ROWS), c.seed);
    let (mean, cov) = moments(eval, d, &sample);
    let l = cholesky_psd(&cov, d);
    let m = sample.len();
    let mut shares = Vec::with_capacity(REFERENCES);
    let mut rows = vec![0f32; m * d];
    let mut z = vec![0f64; d];
    for r in 0..REFERENCES {
        let seed = strata_kmeans::run_seed(c.seed ^ 0x0516_C105, r);
        let mut rng = SplitMix(seed);
        for row in rows.chunks_exact_mut(d) {
            for v in z.iter_mut() {
                *v = rng.normal();
            }
            for (i, out) in row.iter_mut().enumerate() {
                let lz: f64 = (0..=i).map(|j| l[i * d + j] * z[j]).sum();
                *out = (mean[i] + lz) as f32;
            }
        }
        let fit = crate::resampling::refit(settings, &rows, d, k, seed)?;
        let t = total_sum_of_squares(&rows, d);
        if t > 0.0 {
            shares.push(fit.inertia / t);
        }
    }
    if shares.is_empty() {
        return Ok(None);
    }
    shares.sort_by(f64::total_cmp);
    let reference_min = shares[0];
    let reference_median = shares[shares.len() / 2];
    let structure =
        within_share < reference_min && within_share < reference_median * (1.0 - MARGIN);
    let reading = if structure {
        format!(
            "the {k} segments leave {:.1}% of the spread within them, less than any of {} \
             single Gaussian blobs of the same mean and covariance cut into {k} (lowest \
             {:.1}%, median {:.1}%): the data have more structure than one blob",
            within_share * 100.0,
            shares.len(),
            reference_min * 100.0,
            reference_median * 100.0
        )
    } else {
        format!(
            "no good k: the {k} segments leave {:.1}% of the spread within them, not clearly \
             less than single Gaussian blobs of the same mean and covariance cut into {k} do \
             (lowest {:.1}%, median {:.1}%; structure needs below the lowest and {:.0}% below \
             the median); these segments are a partition of a continuum, not natural groups, \
             so treat the boundaries as arbitrary",
            within_share * 100.0,
            reference_min * 100.0,
            reference_median * 100.0,
            MARGIN * 100.0
        )
    };
    Ok(Some(NullReference {
        scheme: format!(
            "{} references of {m} rows drawn from one Gaussian with the data's mean and \
             covariance (estimated on {m} rows), each cut by k-means with the fit's seed, \
             restarts and stopping rule; structure when the data's within-segment share of \
             the total sum of squares (SigClust's cluster index, Liu et al. 2008) is below \
             every reference's and at least {:.0}% below their median",
            shares.len(),
            MARGIN * 100.0
        ),
        k,
        references: shares.len(),
        rows: m,
        within_share,
        reference_min,
        reference_median,
        structure,
        reading,
    }))
}

/// The sum over rows of the squared distance to the column means, in f64.
fn total_sum_of_squares(x: &[f32], d: usize) -> f64 {
    let n = x.len() / d;
    let mut mean = vec![0f64; d];
    for row in x.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    x.chunks_exact(d)
        .map(|row| {
            row.iter()
                .zip(&mean)
                .map(|(&v, m)| (f64::from(v) - m).powi(2))
                .sum::<f64>()
        })
        .sum()
}

/// The mean and the (population) covariance, row-major d × d, of the rows `sample` of `x`.
fn moments(x: &[f32], d: usize, sample: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let m = sample.len() as f64;
    let mut mean = vec![0f64; d];
    for &i in sample {
        for (a, &v) in mean.iter_mut().zip(&x[i * d..(i + 1) * d]) {
            *a += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|a| *a /= m);
    let mut cov = vec![0f64; d * d];
    let mut dev = vec![0f64; d];
    for &i in sample {
        for ((e, &v), mu) in dev.iter_mut().zip(&x[i * d..(i + 1) * d]).zip(&mean) {
            *e = f64::from(v) - mu;
        }
        for a in 0..d {
            for b in 0..=a {
                cov[a * d + b] += dev[a] * dev[b];
            }
        }
    }
    for a in 0..d {
        for b in 0..=a {
            cov[a * d + b] /= m;
            cov[b * d + a] = cov[a * d + b];
        }
    }
    (mean, cov)
}

/// The lower-triangular L with L Lᵀ = `a` (d × d, symmetric positive semi-definite). A pivot
/// that rounding leaves at or below a tiny fraction of the diagonal (a feature that is a linear
/// combination of others, as one-hot columns are) gets a zero column: the reference then has
/// the same exact dependency.
fn cholesky_psd(a: &[f64], d: usize) -> Vec<f64> {
    let scale = (0..d).map(|i| a[i * d + i]).fold(0.0, f64::max);
    let floor = scale * 1e-12;
    let mut l = vec![0f64; d * d];
    for j in 0..d {
        let pivot = a[j * d + j] - (0..j).map(|p| l[j * d + p].powi(2)).sum::<f64>();
        if pivot <= floor {
            continue;
        }
        let ljj = pivot.sqrt();
        l[j * d + j] = ljj;
        for i in j + 1..d {
            let s = a[i * d + j] - (0..j).map(|p| l[i * d + p] * l[j * d + p]).sum::<f64>();
            l[i * d + j] = s / ljj;
        }
    }
    l
}

/// SplitMix64 with Box–Muller normals: small, seeded, and the same on every platform.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit(), self.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reproduces_the_matrix_and_survives_a_dependent_column() {
        // Columns 0 and 2 are equal (rank 2): the pivot of column 2 is zero.
        let a = [4.0, 2.0, 4.0, 2.0, 5.0, 2.0, 4.0, 2.0, 4.0];
        let l = cholesky_psd(&a, 3);
        for i in 0..3 {
            for j in 0..3 {
                let llt: f64 = (0..3).map(|p| l[i * 3 + p] * l[j * 3 + p]).sum();
                assert!((llt - a[i * 3 + j]).abs() < 1e-12, "{i},{j}: {llt}");
            }
        }
    }

    #[test]
    fn normals_have_unit_variance() {
        let mut r = SplitMix(7);
        let v: Vec<f64> = (0..100_000).map(|_| r.normal()).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
    }
}
