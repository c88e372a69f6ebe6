//! The segments stage: how customers end up in the segments a run exports.
//!
//! k-means segments are numbered by size, largest first ([`order_by_size`]); with
//! `--min-segment-size` the small ones are folded into larger ones, which is a map from
//! k-means centroids to exported segments ([`SegmentMap`]): the k-means fit itself is left as
//! it was, and each customer's exported segment is derived from its k-means label. Under
//! `--mode rfm` the segments are the named RFM cells of each customer's scores. Either way the
//! result is a [`Segmentation`].

use rayon::prelude::*;
use strata_behavior::{RfmCuts, RfmScores, RfmSegment};
use strata_ingest::{ColumnData, Table};
use strata_kmeans::KMeansFit;
use tracing::info;

use crate::cluster::KMeansRun;
use crate::privacy::MergedSegment;
use crate::projection::Projection;
use crate::{Binding, CoreError};

/// Renumbers segments by size, largest first (ties: original order), so segment 0 is always
/// the biggest. Permutes centroids, labels and counts together.
pub(crate) fn order_by_size(fit: &mut KMeansFit) -> Vec<usize> {
    let (k, d) = (fit.k, fit.d);
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| fit.counts[b].cmp(&fit.counts[a]).then(a.cmp(&b)));
    let mut new_of_old = vec![0u32; k];
    for (new, &old) in order.iter().enumerate() {
        new_of_old[old] = new as u32;
    }
    fit.centroids = order
        .iter()
        .flat_map(|&o| fit.centroids[o * d..(o + 1) * d].to_vec())
        .collect();
    fit.counts = order.iter().map(|&o| fit.counts[o]).collect();
    fit.labels
        .par_iter_mut()
        .for_each(|l| *l = new_of_old[*l as usize]);
    order
}

/// Which exported segment each k-means centroid belongs to.
#[derive(Debug, Clone)]
pub(crate) struct SegmentMap {
    /// Exported segments.
    pub k: usize,
    /// Per k-means centroid, its exported segment; `None` when each centroid is a segment.
    pub of_centroid: Option<Vec<u32>>,
    /// Segments folded into larger ones (`--min-segment-size`).
    pub merged: Vec<MergedSegment>,
}

impl SegmentMap {
    /// Folds the segments of `fit` (numbered by size) smaller than `min_size` into the nearest
    /// larger one; every centroid its own segment without `min_size`.
    pub fn new(fit: &KMeansFit, min_size: Option<u64>) -> Result<SegmentMap, CoreError> {
        let mut map = SegmentMap {
            k: fit.k,
            of_centroid: None,
            merged: Vec::new(),
        };
        // An empty segment (k above the number of distinct points) is never exported: it is
        // folded like a segment under --min-segment-size, as if the minimum were 1.
        let empty = fit.counts.iter().filter(|&&c| c == 0).count();
        if empty > 0 {
            tracing::warn!(
                "k-means left {empty} of its {} segments empty (the data has fewer distinct \
                 points than k): each is folded into the nearest segment, and {} are exported",
                fit.k,
                fit.k - empty
            );
        }
        let Some(min) = min_size.or((empty > 0).then_some(1)) else {
            return Ok(map);
        };
        let (merged, exported) =
            crate::privacy::merge_small(&fit.counts, &fit.centroids, fit.d, min);
        for s in merged.iter().filter(|s| s.size > 0) {
            info!(
                "k-means segment {} has {} customers, fewer than --min-segment-size {min}: \
                 merged into k-means segment {} (exported as segment {})",
                s.segment, s.size, s.into, s.exported
            );
        }
        if !merged.is_empty() {
            map.k = exported.iter().max().map_or(1, |&m| m as usize + 1);
            map.merged = merged;
            map.of_centroid = Some(exported);
        }
        let n: u64 = fit.counts.iter().sum();
        if n < min {
            return Err(CoreError::MinSegmentTooLarge { min, n });
        }
        Ok(map)
    }

    /// The exported segment of k-means centroid `c`.
    pub fn segment(&self, c: usize) -> usize {
        self.of_centroid.as_ref().map_or(c, |m| m[c] as usize)
    }

    /// Each row's exported segment from its k-means label, when the two differ (`None`: they
    /// are the same).
    pub fn exported(&self, kmeans_labels: &[u32]) -> Option<Vec<u32>> {
        self.of_centroid
            .as_ref()
            .map(|m| kmeans_labels.par_iter().map(|&l| m[l as usize]).collect())
    }
}

/// Per-customer RFM measures and scores.
pub(crate) struct Rfm {
    pub cuts: RfmCuts,
    /// Recency, frequency, monetary per customer.
    pub values: [Vec<f64>; 3],
    pub scores: Vec<RfmScores>,
}

impl Rfm {
    /// RFM scores when the recency, frequency and monetary roles are all bound.
    pub fn of(bindings: &[Binding], table: &Table) -> Option<Rfm> {
        let column = |role: &str| {
            bindings
                .iter()
                .zip(&table.columns)
                .find(|(b, _)| b.role == role)
                .and_then(|(_, c)| match &c.data {
                    ColumnData::Numeric(v) => Some(v.clone()),
                    _ => None,
                })
        };
        let values = [
            column("recency")?,
            column("frequency")?,
            column("monetary")?,
        ];
        let cuts = RfmCuts::fit(&values[0], &values[1], &values[2]);
        let scores = (0..table.n_rows)
            .map(|i| cuts.score(values[0][i], values[1][i], values[2][i]))
            .collect();
        Some(Rfm {
            cuts,
            values,
            scores,
        })
    }
}

/// k-means segments: the run, its segments and what was measured on the feature matrix.
pub(crate) struct KMeansSegments {
    pub run: KMeansRun,
    pub map: SegmentMap,
    /// Each row's exported segment, when it differs from its k-means label.
    exported: Option<Vec<u32>>,
    pub quality: strata_quality::Quality,
    /// The report's segment map: a sample of customers and the centroids on the first two
    /// principal components.
    pub projection: Option<Projection>,
    /// The names of the features clustered, and the plugin's state.
    pub features: Vec<String>,
    pub state: String,
    /// k-prototypes' comparison and prototypes (in the segments' numbering), when the fit
    /// was one (`--algorithm`); `None` for k-means.
    pub mixed: Option<(crate::mixed::Mixed, crate::mixed::Prototypes)>,
    /// Which algorithm ran and why (`--algorithm`).
    pub algorithm: (String, String),
    /// Whether the segments come back when the customers are resampled (a fit's; `None`
    /// when not measured).
    pub resampling: Option<(
        strata_format::segments::Resampling,
        Vec<strata_format::segments::SegmentResampling>,
    )>,
}

/// How customers were put into segments.
pub(crate) enum Segmentation {
    KMeans(Box<KMeansSegments>),
    Rfm { labels: Vec<u32> },
}

impl Segmentation {
    /// k-means segments of `run` (numbered by size), merged by `map`, with their quality and
    /// segment map measured on `matrix`.
    #[allow(clippy::too_many_arguments)]
    pub fn kmeans(
        mut run: KMeansRun,
        min_segment_size: Option<u64>,
        matrix: &[f32],
        seed: u64,
        features: Vec<String>,
        state: String,
        mut mixed: Option<(crate::mixed::Mixed, crate::mixed::Prototypes)>,
        algorithm: (String, String),
    ) -> Result<Segmentation, CoreError> {
        let order = order_by_size(&mut run.fit);
        if let Some((_, protos)) = &mut mixed {
            protos.reorder(&order);
        }
        let map = SegmentMap::new(&run.fit, min_segment_size)?;
        let exported = map.exported(&run.fit.labels);
        let labels = exported.as_deref().unwrap_or(&run.fit.labels);
        let d = run.fit.d;
        let quality = match &mixed {
            Some((m, _)) => m.quality(matrix, labels, map.k, crate::cluster::SILHOUETTE_ROWS, seed),
            None => strata_quality::quality(
                matrix,
                d,
                labels,
                map.k,
                crate::cluster::SILHOUETTE_ROWS,
                seed,
            ),
        };
        info!(
            "quality: silhouette {} on {} rows, Davies-Bouldin {}, Calinski-Harabasz {}",
            crate::cluster::fmt_opt(quality.silhouette),
            quality.silhouette_rows,
            crate::cluster::fmt_opt(quality.davies_bouldin),
            crate::cluster::fmt_opt(quality.calinski_harabasz)
        );
        let started = std::time::Instant::now();
        // k-prototypes' map is drawn from the numeric features: codes have no axis.
        let numeric = mixed.as_ref().map(|(m, _)| {
            let (rows, dn) = m.numeric_part(matrix);
            (rows, m.numeric_part(&run.fit.centroids).0, dn)
        });
        let (map_rows, map_centroids, map_d) = match &numeric {
            Some((rows, centroids, dn)) => (rows.as_slice(), centroids.as_slice(), *dn),
            None => (matrix, run.fit.centroids.as_slice(), d),
        };
        let projection = if map_d == 0 {
            None
        } else {
            crate::projection::project(
                map_rows,
                map_d,
                labels,
                map_centroids,
                |c| map.segment(c),
                seed,
            )
        };
        if let Some(p) = &projection {
            info!(
                "segment map: {} customers and {} centroids on the first two principal \
                 components ({:.0}% of the variance) in {:.3} s",
                p.points.len(),
                p.centroids.len(),
                100.0 * (p.explained[0] + p.explained[1]),
                started.elapsed().as_secs_f64()
            );
        }
        Ok(Segmentation::KMeans(Box::new(KMeansSegments {
            run,
            map,
            exported,
            quality,
            projection,
            features,
            state,
            mixed,
            algorithm,
            resampling: None,
        })))
    }

    /// The named RFM segment of each customer's scores.
    pub fn rfm(rfm: &Rfm) -> Segmentation {
        Segmentation::Rfm {
            labels: rfm.scores.iter().map(|s| s.segment().index()).collect(),
        }
    }

    /// Segments exported.
    pub fn k(&self) -> usize {
        match self {
            Segmentation::KMeans(s) => s.map.k,
            Segmentation::Rfm { .. } => RfmSegment::ALL.len(),
        }
    }

    /// Each customer's exported segment.
    pub fn labels(&self) -> &[u32] {
        match self {
            Segmentation::KMeans(s) => s.exported.as_deref().unwrap_or(&s.run.fit.labels),
            Segmentation::Rfm { labels } => labels,
        }
    }

    /// Squared distances of each customer to the nearest and second-nearest centroid
    /// (k-means only).
    pub fn sq_distances(&self) -> Option<(&[f32], &[f32])> {
        match self {
            Segmentation::KMeans(s) => Some((&s.run.fit.nearest, &s.run.fit.second)),
            Segmentation::Rfm { .. } => None,
        }
    }

    pub fn kmeans_segments(&self) -> Option<&KMeansSegments> {
        match self {
            Segmentation::KMeans(s) => Some(s),
            Segmentation::Rfm { .. } => None,
        }
    }

    /// The features clustered (none for RFM).
    pub fn features(&self) -> &[String] {
        match self {
            Segmentation::KMeans(s) => &s.features,
            Segmentation::Rfm { .. } => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fit of one feature with these centroids, labels and counts.
    fn one_d_fit(centroids: Vec<f32>, labels: Vec<u32>, counts: Vec<u64>) -> KMeansFit {
        let n = labels.len();
        KMeansFit {
            k: centroids.len(),
            d: 1,
            centroids,
            labels,
            nearest: vec![0.0; n],
            second: vec![0.0; n],
            counts,
            inertia: 0.0,
            iterations: 1,
            converged: true,
            best_run: 0,
            runs: vec![],
        }
    }

    #[test]
    fn segments_are_numbered_by_size() {
        let mut fit = one_d_fit(vec![0.0, 1.0, 2.0], vec![0, 1, 1, 2, 2, 2], vec![1, 2, 3]);
        order_by_size(&mut fit);
        assert_eq!(fit.centroids, vec![2.0, 1.0, 0.0]);
        assert_eq!(fit.counts, vec![3, 2, 1]);
        assert_eq!(fit.labels, vec![2, 1, 1, 0, 0, 0]);
    }

    #[test]
    fn merged_segments_map_centroids_and_leave_the_fit_alone() {
        let fit = one_d_fit(vec![0.0, 10.0, 1.0], vec![0, 0, 0, 1, 1, 2], vec![3, 2, 1]);
        let map = SegmentMap::new(&fit, Some(2)).unwrap();
        assert_eq!(map.k, 2);
        assert_eq!(map.of_centroid.as_deref(), Some(&[0, 1, 0][..]));
        assert_eq!(map.exported(&fit.labels), Some(vec![0, 0, 0, 1, 1, 0]));
        assert_eq!(
            SegmentMap::new(&fit, None).unwrap().exported(&fit.labels),
            None
        );
        assert!(matches!(
            SegmentMap::new(&fit, Some(7)),
            Err(CoreError::MinSegmentTooLarge { min: 7, n: 6 })
        ));
    }
}
