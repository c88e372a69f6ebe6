//! Choosing k (`strata fit --k auto`, `strata choose-k`): every k of a range is fitted with the
//! same seed and restarts, scored with [`strata_quality`] and by stability under resampling, and
//! one is recommended by [`RULE`] ([`recommend`]), with a runner-up and the reason for each.
//!
//! Why this rule: silhouette alone favours k = 2 on most customer data (a "low-value" and a
//! "high-value" half), which no marketer needs a tool for. What a marketer wants is the most
//! detailed segmentation whose segments are real and usable: each comes back when the
//! customers are resampled (stability, Hennig's clusterboot bands) and each is big enough to
//! act on (a stated minimum share). Among the k that pass both, the largest wins; silhouette
//! decides only when none passes. Stability cannot tell a clustered data set from a smooth one
//! (k-means on one Gaussian blob is stable at k = 2), so the choice is also checked against
//! structureless references ([`NullReference`], filled in by the fit).
//!
//! The table and the rule are written to `segments.json` (`k_selection`) so that a reader can
//! see why a k was chosen and overrule it with `--k N`.

use serde::{Deserialize, Serialize};

/// How much lower than the best silhouette a smaller k may score and still be preferred, when
/// no k passes the stability and share tests.
pub const SILHOUETTE_SLACK: f64 = 0.01;

/// The weakest segment's mean Jaccard under resampling above which a k's segments count as
/// stable (Hennig's "stable" band).
pub const STABLE_JACCARD: f64 = 0.75;

/// The default smallest share of the customers every segment must hold (`--min-share`).
pub const DEFAULT_MIN_SHARE: f64 = 0.02;

/// The recommendation rule, as written to `segments.json` and printed.
pub const RULE: &str = "the largest k whose segments are all stable under resampling (the \
    weakest segment's mean Jaccard above 0.75) and each hold at least the minimum share of the \
    customers; when no k passes, the highest silhouette, a smaller k within 0.01 preferred";

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
    /// The smallest segment's share of the rows the range was evaluated on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_share: Option<f64>,
}

impl KCandidate {
    /// Whether every segment is stable under resampling; `None` when not measured.
    pub fn stable(&self) -> Option<bool> {
        self.min_jaccard.map(|j| j > STABLE_JACCARD)
    }

    /// Why this k does not pass [`RULE`]'s tests, in a phrase; `None` when it passes (or
    /// was not measured).
    pub fn failing(&self, min_share: f64) -> Option<String> {
        let mut why = Vec::new();
        if let Some(j) = self.min_jaccard.filter(|&j| j <= STABLE_JACCARD) {
            why.push(format!(
                "its weakest segment is not stable under resampling (Jaccard {j:.3})"
            ));
        }
        if let Some(s) = self.min_share.filter(|&s| s < min_share) {
            why.push(format!(
                "its smallest segment holds {:.1}% of the customers, under the {:.1}% minimum",
                s * 100.0,
                min_share * 100.0
            ));
        }
        (!why.is_empty()).then(|| why.join(", and "))
    }
}

/// The k that comes closest to the chosen one, and why it lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerUp {
    /// Its number of segments.
    pub k: usize,
    /// Why it was not chosen, in a sentence.
    pub why: String,
}

/// The chosen k checked against structureless data: data with one Gaussian cluster of the
/// same mean and covariance, as SigClust does (Liu, Hayes, Nobel & Marron 2008, "Statistical
/// significance of clustering for high-dimension, low-sample-size data"). k-means with the
/// chosen k is fitted on each reference, and the data's within-segment share of the total sum
/// of squares is compared with the references'. Data with real segments leave much less
/// within them than a single blob cut into k does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NullReference {
    /// How the references are drawn and compared, in a sentence.
    pub scheme: String,
    /// The k checked (the chosen one).
    pub k: usize,
    /// Reference data sets drawn.
    pub references: usize,
    /// Rows in each reference.
    pub rows: usize,
    /// The data's within-segment sum of squares over its total, at k.
    pub within_share: f64,
    /// The lowest of the references' within shares.
    pub reference_min: f64,
    /// The median of the references' within shares.
    pub reference_median: f64,
    /// Whether the data's share is below every reference's (an empirical p-value of at most
    /// 1 / (references + 1)) and clearly below their median (the margin `scheme` states).
    pub structure: bool,
    /// What this means for the choice, in a sentence.
    pub reading: String,
}

/// What [`recommend`] decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    /// The k recommended.
    pub chosen: usize,
    /// Why, in a sentence.
    pub reason: String,
    /// The closest other k and why it lost.
    pub runner_up: Option<RunnerUp>,
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
    /// The smallest share of the customers each segment had to hold (`--min-share`).
    #[serde(default)]
    pub min_share: f64,
    /// Why `chosen` was picked, in a sentence.
    #[serde(default)]
    pub reason: String,
    /// The closest other k and why it lost; `None` with a single k tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_up: Option<RunnerUp>,
    /// The chosen k against structureless references; `None` when not checked (too few
    /// rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_reference: Option<NullReference>,
}

/// The k [`RULE`] recommends, with its reason and the runner-up.
///
/// A k *passes* when its weakest segment is stable under resampling and its smallest holds at
/// least `min_share` of the customers. The largest passing k wins, and the runner-up is the
/// next largest passing k (fewer, broader segments), or, with one passing k, the k with the
/// best silhouette among the others. When no k passes (or stability was not measured), the
/// highest silhouette wins, a smaller k within [`SILHOUETTE_SLACK`] preferred; without any
/// silhouette, the smallest k. `None` for an empty table.
pub fn recommend(candidates: &[KCandidate], min_share: f64) -> Option<Recommendation> {
    let first = candidates.first()?;
    let passing: Vec<&KCandidate> = candidates
        .iter()
        .filter(|c| c.stable() == Some(true) && c.failing(min_share).is_none())
        .collect();
    let by_silhouette = |except: usize| {
        candidates
            .iter()
            .filter(|c| c.k != except && c.silhouette.is_some())
            .max_by(|a, b| a.silhouette.partial_cmp(&b.silhouette).expect("finite"))
    };
    let share = |c: &KCandidate| {
        c.min_share.map_or_else(String::new, |s| {
            format!(", smallest segment {:.1}%", s * 100.0)
        })
    };
    let sil = |c: &KCandidate| {
        c.silhouette
            .map_or_else(|| "n/a".to_owned(), |s| format!("{s:.4}"))
    };
    if let Some(&best) = passing.iter().max_by_key(|c| c.k) {
        let reason = format!(
            "k = {} is the largest k whose segments are all stable under resampling \
             (weakest Jaccard {:.3}{}); silhouette {}",
            best.k,
            best.min_jaccard.unwrap_or(f64::NAN),
            share(best),
            sil(best)
        );
        let runner_up = match passing.iter().filter(|c| c.k < best.k).max_by_key(|c| c.k) {
            Some(&c) => Some(RunnerUp {
                k: c.k,
                why: format!(
                    "also stable (weakest Jaccard {:.3}{}; silhouette {}), with fewer, \
                     broader segments",
                    c.min_jaccard.unwrap_or(f64::NAN),
                    share(c),
                    sil(c)
                ),
            }),
            None => by_silhouette(best.k).map(|c| RunnerUp {
                k: c.k,
                why: format!(
                    "silhouette {}, but {}",
                    sil(c),
                    c.failing(min_share)
                        .unwrap_or_else(|| "its stability was not measured".into())
                ),
            }),
        };
        return Some(Recommendation {
            chosen: best.k,
            reason,
            runner_up,
        });
    }
    let best = candidates
        .iter()
        .filter_map(|c| c.silhouette)
        .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
    let why_none = if candidates.iter().any(|c| c.min_jaccard.is_some()) {
        "no k has all its segments stable under resampling and each at least the minimum share"
    } else {
        "stability under resampling was not measured"
    };
    let chosen = match best {
        Some(best) => candidates
            .iter()
            .filter(|c| c.silhouette.is_some_and(|s| s >= best - SILHOUETTE_SLACK))
            .min_by_key(|c| c.k)
            .expect("the best is among them"),
        None => candidates.iter().min_by_key(|c| c.k).unwrap_or(first),
    };
    Some(Recommendation {
        chosen: chosen.k,
        reason: match best {
            Some(_) => format!(
                "{why_none}, so by silhouette: k = {} scores {} (a smaller k within {} of the \
                 best is preferred)",
                chosen.k,
                sil(chosen),
                SILHOUETTE_SLACK
            ),
            None => format!(
                "{why_none}, and no k has a silhouette, so the smallest k = {}",
                chosen.k
            ),
        },
        runner_up: by_silhouette(chosen.k).map(|c| RunnerUp {
            k: c.k,
            why: format!(
                "silhouette {}{}",
                sil(c),
                c.failing(min_share)
                    .map_or_else(String::new, |w| format!("; {w}"))
            ),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(k: usize, silhouette: Option<f64>) -> KCandidate {
        KCandidate {
            min_jaccard: None,
            min_share: None,
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

    fn m(k: usize, silhouette: f64, jaccard: f64, share: f64) -> KCandidate {
        KCandidate {
            min_jaccard: Some(jaccard),
            min_share: Some(share),
            ..c(k, Some(silhouette))
        }
    }

    fn chosen(t: &[KCandidate]) -> Option<usize> {
        recommend(t, DEFAULT_MIN_SHARE).map(|r| r.chosen)
    }

    #[test]
    fn the_largest_stable_k_wins_over_a_higher_silhouette() {
        // The full Online Retail log's table, rounded: silhouette alone would give 2.
        let t = [
            m(2, 0.2857, 0.955, 0.30),
            m(3, 0.2740, 0.939, 0.10),
            m(4, 0.2645, 0.850, 0.05),
            m(5, 0.2706, 0.853, 0.04),
            m(6, 0.2826, 0.542, 0.03),
            m(7, 0.2669, 0.588, 0.03),
        ];
        let r = recommend(&t, DEFAULT_MIN_SHARE).unwrap();
        assert_eq!(r.chosen, 5);
        assert!(r.reason.contains("largest k"), "{}", r.reason);
        let up = r.runner_up.unwrap();
        assert_eq!(up.k, 4);
        assert!(up.why.contains("fewer, broader"), "{}", up.why);
    }

    #[test]
    fn a_segment_under_the_minimum_share_disqualifies_its_k() {
        let t = [
            m(2, 0.30, 0.95, 0.30),
            m(3, 0.31, 0.90, 0.015),
            m(4, 0.20, 0.50, 0.10),
        ];
        let r = recommend(&t, DEFAULT_MIN_SHARE).unwrap();
        assert_eq!(r.chosen, 2);
        // The only other passing k does not exist: the runner-up is the best silhouette,
        // with the reason it failed.
        let up = r.runner_up.unwrap();
        assert_eq!(up.k, 3);
        assert!(up.why.contains("1.5% of the customers"), "{}", up.why);
        // A lower minimum lets it through.
        assert_eq!(recommend(&t, 0.01).unwrap().chosen, 3);
    }

    #[test]
    fn without_a_passing_k_the_highest_silhouette_wins() {
        let t = [c(2, Some(0.40)), c(3, Some(0.61)), c(4, Some(0.55))];
        assert_eq!(chosen(&t), Some(3));
        let r = recommend(&t, DEFAULT_MIN_SHARE).unwrap();
        assert!(r.reason.contains("not measured"), "{}", r.reason);
        assert_eq!(r.runner_up.unwrap().k, 4);
        let t = [m(2, 0.35, 0.74, 0.5), m(3, 0.33, 0.70, 0.3)];
        let r = recommend(&t, DEFAULT_MIN_SHARE).unwrap();
        assert_eq!(r.chosen, 2);
        assert!(r.reason.contains("no k has all"), "{}", r.reason);
        assert!(r.runner_up.unwrap().why.contains("not stable"));
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
        assert_eq!(chosen(&t), Some(3));
    }

    #[test]
    fn undefined_silhouettes_fall_back_to_the_smallest_k() {
        assert_eq!(chosen(&[c(3, None), c(2, None)]), Some(2));
        assert_eq!(chosen(&[c(2, None), c(3, Some(0.1))]), Some(3));
        assert_eq!(chosen(&[]), None);
    }
}
