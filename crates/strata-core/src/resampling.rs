//! Stability under resampling: whether each segment comes back when the customers are
//! resampled, in the manner of Hennig's clusterboot (fpc, "subset" scheme; Hennig 2007,
//! "Cluster-wise assessment of cluster stability"). The restarts' agreement
//! ([`crate::output::Stability`]) measures the optimiser; this measures the segments.
//!
//! On a seeded sample of at most [`SAMPLE_ROWS`] customers, [`RUNS`] times: half of them
//! drawn without replacement (seeded by the run), k-means refitted on that half with the
//! fit's k, seed, restarts and stopping rule, and each exported segment (restricted to the
//! half) matched to the refit's cluster with the largest Jaccard coefficient. A segment's
//! stability is its mean Jaccard over the runs; it is *dissolved* in a run where that is at
//! most 0.5 and *recovered* where it is above 0.75. Hennig's reading: above 0.85 highly
//! stable, 0.75 stable, 0.6 a pattern with doubtful membership, below that unstable. The
//! runs are sequential and every fit is deterministic, so the figures do not depend on the
//! thread count.

use strata_compute::MatrixRef;
use strata_format::segments::{Resampling, SegmentResampling};
use strata_kmeans::{KMeansParams, Silent};

use crate::{CoreError, FitSettings};

/// Refits on half-samples.
pub(crate) const RUNS: usize = 20;
/// Customers the half-samples are drawn from (a seeded sample above it).
pub(crate) const SAMPLE_ROWS: usize = 10_000;

/// How the reading is made, as `segments.json` states it.
pub(crate) const RULE: &str = "mean Jaccard of the segment with its best-matching cluster \
    over the refits: above 0.85 highly stable, above 0.75 stable, above 0.6 doubtful (a \
    pattern, but membership uncertain), otherwise unstable (Hennig's clusterboot bands)";

fn reading(jaccard: f64) -> &'static str {
    if jaccard > 0.85 {
        "highly stable"
    } else if jaccard > 0.75 {
        "stable"
    } else if jaccard > 0.6 {
        "doubtful"
    } else {
        "unstable"
    }
}

/// k-means with `k` clusters on the row-major `rows` (`d` wide), with the fit's restarts and
/// stopping rule but `seed`, on the CPU and silently: the refits that check a fit (here, and
/// against structureless references in [`crate::null_reference`]).
pub(crate) fn refit(
    settings: &FitSettings,
    rows: &[f32],
    d: usize,
    k: usize,
    seed: u64,
) -> Result<strata_kmeans::KMeansFit, CoreError> {
    let c = settings.cluster();
    let data =
        MatrixRef::new(rows, rows.len() / d.max(1), d).map_err(strata_kmeans::KMeansError::from)?;
    let params = KMeansParams::new(k)
        .seed(seed)
        .max_iter(c.max_iter)
        .tol(c.tol)
        .n_init(c.n_init)
        .check()?;
    Ok(strata_kmeans::fit(
        &params,
        &strata_compute::CpuBackend::new(),
        data,
        &mut Silent,
    )?)
}

/// The stability of the `k_out` exported segments `labels` of `matrix` (n × d), refitting
/// k-means (or k-prototypes, given `mixed`) with `k_fit` clusters as the fit did. `None` with
/// fewer than 2 segments or too few customers to halve.
pub(crate) fn stability(
    settings: &FitSettings,
    matrix: &[f32],
    d: usize,
    labels: &[u32],
    k_out: usize,
    k_fit: usize,
    mixed: Option<&crate::mixed::Mixed>,
) -> Result<Option<(Resampling, Vec<SegmentResampling>)>, CoreError> {
    let n = labels.len();
    let c = settings.cluster();
    let sample = strata_quality::sample_rows(n, n.min(SAMPLE_ROWS), c.seed);
    let half = sample.len() / 2;
    if k_out < 2 || half < k_fit.max(2) {
        return Ok(None);
    }
    // Per refit, each segment's best Jaccard.
    let mut by_run: Vec<Vec<f64>> = Vec::with_capacity(RUNS);
    let mut rows = Vec::with_capacity(half * d);
    for run in 0..RUNS {
        let seed = strata_kmeans::run_seed(c.seed ^ 0x5EED_B007, run);
        let picked: Vec<usize> = strata_quality::sample_rows(sample.len(), half, seed)
            .into_iter()
            .map(|i| sample[i])
            .collect();
        rows.clear();
        for &i in &picked {
            rows.extend_from_slice(&matrix[i * d..(i + 1) * d]);
        }
        let refit_labels = match mixed {
            Some(m) => m.refit_labels(settings, &rows, k_fit, seed)?,
            None => refit(settings, &rows, d, k_fit, seed)?.labels,
        };
        // Overlaps of each segment (restricted to the half) with each refit cluster.
        let mut both = vec![vec![0u64; k_fit]; k_out];
        let (mut in_segment, mut in_cluster) = (vec![0u64; k_out], vec![0u64; k_fit]);
        for (&i, &l) in picked.iter().zip(&refit_labels) {
            let s = labels[i] as usize;
            both[s][l as usize] += 1;
            in_segment[s] += 1;
            in_cluster[l as usize] += 1;
        }
        by_run.push(
            (0..k_out)
                .map(|s| {
                    (0..k_fit)
                        .map(|l| {
                            let union = in_segment[s] + in_cluster[l] - both[s][l];
                            if union == 0 {
                                0.0
                            } else {
                                both[s][l] as f64 / union as f64
                            }
                        })
                        .fold(0.0, f64::max)
                })
                .collect(),
        );
    }
    let segments: Vec<SegmentResampling> = (0..k_out)
        .map(|s| by_run.iter().map(|r| r[s]).collect::<Vec<f64>>())
        .map(|runs| {
            let mean = runs.iter().sum::<f64>() / RUNS as f64;
            SegmentResampling {
                jaccard: mean,
                dissolved: runs.iter().filter(|&&j| j <= 0.5).count(),
                recovered: runs.iter().filter(|&&j| j > 0.75).count(),
                reading: reading(mean).into(),
            }
        })
        .collect();
    let min = segments.iter().map(|s| s.jaccard).fold(1.0, f64::min);
    Ok(Some((
        Resampling {
            scheme: format!(
                "{RUNS} refits of {} (k = {k_fit}, the fit's seed, restarts and stopping \
                 rule) on half of {} customers drawn without replacement",
                if mixed.is_some() {
                    "k-prototypes"
                } else {
                    "k-means"
                },
                sample.len()
            ),
            runs: RUNS,
            rows: sample.len(),
            min_jaccard: min,
            reading: reading(min).into(),
            rule: RULE.into(),
        },
        segments,
    )))
}

#[cfg(test)]
mod tests {
    use super::reading;

    #[test]
    fn hennig_s_bands() {
        assert_eq!(reading(0.9), "highly stable");
        assert_eq!(reading(0.8), "stable");
        assert_eq!(reading(0.7), "doubtful");
        assert_eq!(reading(0.5), "unstable");
    }
}
