//! Choosing k (`strata fit --k auto`, `strata choose-k`): every k of a range is fitted with the
//! same seed and restarts, scored with [`strata_quality`], and one is recommended by [`RULE`].
//!
//! The table and the rule are written to `segments.json` (`k_selection`) so that a reader can
//! see why a k was chosen and overrule it with `--k N`.

use serde::{Deserialize, Serialize};

/// How much lower than the best silhouette a smaller k may score and still be preferred.
pub const SILHOUETTE_SLACK: f64 = 0.01;

/// The recommendation rule, as written to `segments.json` and printed.
pub const RULE: &str = "highest silhouette; a smaller k scoring within 0.01 of it is preferred, \
    since fewer segments are easier to act on";

/// One k of the range, fitted and scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KCandidate {
    /// The number of segments fitted.
    pub k: usize,
    /// Within-segment sum of squares on the rows the range was evaluated on.
    pub inertia: f64,
    /// Mean silhouette in [-1, 1], higher is better; `None` when the fit left a single
    /// segment with rows.
    pub silhouette: Option<f64>,
    /// Davies-Bouldin index, lower is better (0 at best); `None` with a single segment.
    pub davies_bouldin: Option<f64>,
    /// Calinski-Harabasz index, higher is better; `None` with a single segment, or when every
    /// row sits on its centroid.
    pub calinski_harabasz: Option<f64>,
    /// Lloyd iterations of the winning restart.
    pub iterations: usize,
    /// Whether the winning restart converged within the iteration limit.
    pub converged: bool,
    /// Lowest adjusted Rand index of a restart against the winning one (`None` with one run):
    /// the optimiser's agreement with itself.
    pub min_agreement: Option<f64>,
    /// The weakest segment's mean Jaccard under resampling (refits on half-samples; see
    /// `resampling` in segments.json): whether this k's segments come back. `None` when not
    /// measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_jaccard: Option<f64>,
}

/// The k-selection table and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KSelection {
    /// How `chosen` was picked ([`RULE`]).
    pub rule: String,
    /// The range asked for, inclusive (`--k-range`); `candidates` stops short of its end
    /// when there are fewer rows than that.
    pub range: [usize; 2],
    /// Rows every k was fitted and scored on.
    pub rows: usize,
    /// Whether those rows were a sample of the data (streamed fits choose on their k-means++
    /// sample).
    pub sampled: bool,
    /// Rows the silhouette was computed on for each k (the same rows for every k).
    pub silhouette_rows: usize,
    /// The seed of the silhouette's sample; `None` when it was computed on every row.
    pub silhouette_seed: Option<u64>,
    /// Each k tried, in increasing order.
    pub candidates: Vec<KCandidate>,
    /// The recommended k.
    pub chosen: usize,
}

/// The k [`RULE`] recommends: the highest silhouette, then the smallest k within
/// [`SILHOUETTE_SLACK`] of it. Without any silhouette (every k left a single segment with
/// rows), the smallest k.
pub fn recommend(candidates: &[KCandidate]) -> Option<usize> {
    let best = candidates
        .iter()
        .filter_map(|c| c.silhouette)
        .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
    match best {
        Some(best) => candidates
            .iter()
            .filter(|c| c.silhouette.is_some_and(|s| s >= best - SILHOUETTE_SLACK))
            .map(|c| c.k)
            .min(),
        None => candidates.iter().map(|c| c.k).min(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(k: usize, silhouette: Option<f64>) -> KCandidate {
        KCandidate {
            min_jaccard: None,
            k,
            inertia: 1.0,
            silhouette,
            davies_bouldin: None,
            calinski_harabasz: None,
            iterations: 1,
            converged: true,
            min_agreement: None,
        }
    }

    #[test]
    fn the_highest_silhouette_wins() {
        let t = [c(2, Some(0.40)), c(3, Some(0.61)), c(4, Some(0.55))];
        assert_eq!(recommend(&t), Some(3));
    }

    #[test]
    fn a_smaller_k_within_the_slack_is_preferred() {
        // 4 is best by 0.005 over 3: 3 is preferred; 2 is 0.015 behind and is not.
        let t = [
            c(2, Some(0.500)),
            c(3, Some(0.510)),
            c(4, Some(0.515)),
            c(5, Some(0.2)),
        ];
        assert_eq!(recommend(&t), Some(3));
    }

    #[test]
    fn undefined_silhouettes_fall_back_to_the_smallest_k() {
        assert_eq!(recommend(&[c(3, None), c(2, None)]), Some(2));
        assert_eq!(recommend(&[c(2, None), c(3, Some(0.1))]), Some(3));
        assert_eq!(recommend(&[]), None);
    }
}
