//! `--k auto` under k-prototypes: every k of the range fitted on the mixed distance, scored
//! by its silhouette on that distance, its stability under resampling (k-prototypes refits)
//! and its smallest segment, and one recommended by the same rule as k-means'
//! ([`crate::select::RULE`]). The check against structureless data is left out: its
//! references are Gaussian blobs of the numeric covariance, which codes do not have.

use strata_kmeans::KMeansFit;
use tracing::{info, warn};

use crate::mixed::{Mixed, Prototypes};
use crate::output::BackendReport;
use crate::select::{KCandidate, KSelection};
use crate::{CoreError, FitSettings};

/// The k-selection table for `range` on `matrix`, and the chosen k's fit (refitted: the
/// same seed gives the same fit, so only one k's labels are held at a time).
pub(crate) fn select_k(
    settings: &FitSettings,
    mixed: &Mixed,
    matrix: &[f32],
    d: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<(KSelection, (KMeansFit, Prototypes, BackendReport)), CoreError> {
    let n = matrix.len() / d.max(1);
    crate::cluster::check_k(settings, *range.start(), n)?;
    let hi = (*range.end()).min(n);
    if hi < *range.end() {
        warn!(
            "--k-range ends at {}, but only {n} rows: trying k up to {hi}",
            range.end()
        );
    }
    let seed = settings.cluster().seed;
    let mut candidates = Vec::new();
    let mut silhouette = (0, None);
    for k in *range.start()..=hi {
        info!("--k auto: fitting k-prototypes with k = {k}");
        let (fit, _, _) = mixed.fit(settings, matrix, k)?;
        let q = mixed.quality(
            matrix,
            &fit.labels,
            k,
            crate::cluster::SILHOUETTE_ROWS,
            seed,
        );
        silhouette = (q.silhouette_rows, q.silhouette_seed);
        let c = KCandidate {
            k,
            inertia: fit.inertia,
            silhouette: q.silhouette,
            davies_bouldin: None,
            calinski_harabasz: None,
            iterations: fit.iterations,
            converged: fit.converged,
            min_agreement: None,
            min_jaccard: crate::resampling::stability(
                settings,
                matrix,
                d,
                &fit.labels,
                k,
                k,
                Some(mixed),
            )?
            .map(|(r, _)| r.min_jaccard),
            min_share: fit.counts.iter().min().map(|&c| c as f64 / n as f64),
        };
        info!(
            "k = {k}: cost {:.6e}, silhouette {}, weakest Jaccard {}",
            c.inertia,
            crate::cluster::fmt_opt(c.silhouette),
            crate::cluster::fmt_opt(c.min_jaccard)
        );
        candidates.push(c);
    }
    let min_share = settings.cluster().min_share;
    let pick = crate::select::recommend(&candidates, min_share).expect("the range is not empty");
    info!(
        "--k auto chose k = {}: {} (the check against structureless data needs numeric \
         features alone and is not run for k-prototypes)",
        pick.chosen, pick.reason
    );
    let chosen = mixed.fit(settings, matrix, pick.chosen)?;
    let selection = KSelection {
        rule: crate::select::RULE.into(),
        range: [*range.start(), *range.end()],
        rows: n,
        sampled: false,
        silhouette_rows: silhouette.0,
        silhouette_seed: silhouette.1,
        candidates,
        chosen: pick.chosen,
        min_share,
        reason: pick.reason,
        runner_up: pick.runner_up,
        null_reference: None,
    };
    Ok((selection, chosen))
}
