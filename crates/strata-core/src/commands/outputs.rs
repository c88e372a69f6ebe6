//! The outputs stage: `segments.json` assembled in one place for every command, from what the
//! run read and described and how its segments were made.

use std::collections::BTreeMap;

use strata_behavior::TxReport;

use crate::model::StrategyRef;
use crate::output::{
    BackendReport, InputReport, ScoredWith, SegmentJson, SegmentsFile, StreamReport,
};
use crate::segments::KMeansSegments;
use crate::settings::Mode;

/// What every run reports, however its segments were made.
pub(crate) struct RunFacts<'a> {
    pub strategy: StrategyRef,
    pub mode: Mode,
    pub input: InputReport,
    pub transactions: Option<TxReport>,
    pub streamed: Option<StreamReport>,
    /// The features the segments live in (none for RFM).
    pub features: Vec<String>,
    pub ids_pseudonymized: bool,
    /// Segments exported.
    pub k: usize,
    pub segments: Vec<SegmentJson>,
    pub value_measure: Option<crate::ValueMeasure>,
    /// What the attractiveness score's value part is (`None` without one).
    pub attractiveness_value: Option<String>,
    /// The value model fitted (`--value-model`).
    pub value_model: Option<strata_format::value::ValueModelReport>,
    /// Outcome columns by segment (`--outcome`).
    pub outcomes: Vec<strata_outcomes::OutcomeReport>,
    /// Each segment's rule over the input columns (fits).
    pub rules: Option<&'a crate::rules::Rules>,
    /// Where the segments are (fits with coordinate roles).
    pub places: Option<&'a crate::geo::Places>,
    /// Wall seconds per stage.
    pub timings_s: BTreeMap<String, f64>,
}

/// How a run's segments were made.
pub(crate) enum Made<'a> {
    /// k-means fitted on these customers.
    KMeans {
        segments: &'a KMeansSegments,
        seed: u64,
        min_segment_size: Option<u64>,
        ambiguous_ratio: f64,
    },
    /// RFM scores.
    Rfm { seed: u64 },
    /// Scored against a saved model's centroids (`strata assign`).
    Scored {
        backend: BackendReport,
        inertia: f64,
        /// The seed the model was fitted with.
        seed: u64,
        ambiguous_ratio: f64,
        with: ScoredWith,
    },
}

/// `segments.json` of a run.
///
/// Format version 1 keeps the k-means fields flat at the top level. A run without k-means
/// iterations (RFM, or scoring) fills them as a fit that made none would (`iterations` 0,
/// `converged` true, no restarts); a reader tells a scored run by `scored_with`.
pub(crate) fn segments_file(facts: RunFacts<'_>, made: Made<'_>) -> SegmentsFile {
    let RunFacts {
        strategy,
        mode,
        input,
        transactions,
        streamed,
        features,
        ids_pseudonymized,
        k,
        segments,
        value_measure,
        attractiveness_value,
        value_model,
        outcomes,
        rules,
        places,
        timings_s,
    } = facts;
    let mut segments = segments;
    for seg in &mut segments {
        if let Some(r) = rules {
            seg.rule = r.segments.get(seg.segment).cloned();
        }
        if let Some(p) = places {
            seg.geo = p.segments.get(seg.segment).cloned().flatten();
        }
    }
    let mut file = SegmentsFile {
        strata_version: env!("CARGO_PKG_VERSION").into(),
        strategy,
        mode,
        input,
        transactions,
        backend: None,
        k,
        inertia: None,
        iterations: 0,
        converged: true,
        n_init: 0,
        seed: 0,
        best_run: 0,
        run_inertias: Vec::new(),
        features,
        streamed,
        init_sample: None,
        quality: None,
        stability: None,
        resampling: None,
        rules: rules.map(|r| r.report.clone()),
        geo: places.map(|p| p.report.clone()),
        k_selection: None,
        algorithm: None,
        value_measure,
        attractiveness_rule: crate::value::ATTRACTIVENESS_RULE.into(),
        attractiveness_value,
        outcomes,
        value_model,
        scored_with: None,
        min_segment_size: None,
        merged_segments: Vec::new(),
        ids_pseudonymized,
        ambiguous_ratio: None,
        segments,
        timings_s,
    };
    match made {
        Made::KMeans {
            segments: s,
            seed,
            min_segment_size,
            ambiguous_ratio,
        } => {
            let fit = &s.run.fit;
            file.backend = Some(s.run.backend.clone());
            file.inertia = Some(fit.inertia);
            file.iterations = fit.iterations;
            file.converged = fit.converged;
            file.n_init = s.run.n_init;
            file.seed = seed;
            file.best_run = fit.best_run;
            file.run_inertias = fit.runs.iter().map(|r| r.inertia).collect();
            file.init_sample = s.run.sample.clone();
            file.quality = Some(s.quality.clone());
            file.stability = s.run.stability.clone();
            if let Some((r, per_segment)) = &s.resampling {
                file.resampling = Some(r.clone());
                for seg in &mut file.segments {
                    seg.resampling = per_segment.get(seg.segment).cloned();
                }
            }
            file.k_selection = s.run.k_selection.clone();
            if let Some((m, _)) = &s.mixed {
                // Without --min-segment-size (refused with k-prototypes) each centroid is a
                // segment.
                for seg in &mut file.segments {
                    seg.modes = m
                        .modes(&fit.centroids, seg.segment)
                        .into_iter()
                        .map(|(f, value)| {
                            let column = s.features.get(f).cloned().unwrap_or_default();
                            let share = value.and_then(|v| {
                                seg.categorical
                                    .iter()
                                    .find(|c| c.column == column)
                                    .and_then(|c| c.shares.iter().find(|l| l.value == v))
                                    .map(|l| l.share)
                            });
                            strata_format::segments::SegmentMode {
                                column,
                                value: value.map(str::to_owned),
                                share,
                            }
                        })
                        .collect();
                }
            }
            file.algorithm = Some(strata_format::segments::AlgorithmReport {
                name: s.algorithm.0.clone(),
                reason: s.algorithm.1.clone(),
                gamma: s.mixed.as_ref().map(|(m, _)| m.gamma),
                categorical: s.mixed.as_ref().map_or_else(Vec::new, |(m, _)| {
                    m.categorical()
                        .iter()
                        .filter_map(|&f| s.features.get(f).cloned())
                        .collect()
                }),
            });
            file.min_segment_size = min_segment_size;
            file.merged_segments = s.map.merged.clone();
            file.ambiguous_ratio = Some(ambiguous_ratio);
        }
        Made::Rfm { seed } => file.seed = seed,
        Made::Scored {
            backend,
            inertia,
            seed,
            ambiguous_ratio,
            with,
        } => {
            file.backend = Some(backend);
            file.inertia = Some(inertia);
            file.seed = seed;
            file.ambiguous_ratio = Some(ambiguous_ratio);
            file.scored_with = Some(with);
        }
    }
    file
}
