//! `segments.json`: what a run says about its segments and how it made them. Written by `fit`
//! and `assign`, read by `compare` and by outside tools.

use serde::Serialize;

/// The model a scoring run used.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ScoredWith {
    /// The model file, as given.
    pub model: String,
    /// The strategy version the model was fitted with.
    pub fitted_with: String,
}

/// What a streamed fit did differently, for `segments.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StreamReport {
    /// Rows the strategy learned its preprocessing from.
    pub prep_sample_rows: usize,
    /// They came from one chunk (about 4 MB) in this many, spread over the file; 1: the whole
    /// file.
    pub prep_sample_one_chunk_in: usize,
    /// Why the fit streamed.
    pub reason: String,
}

/// Agreement between the k-means++ restarts: the adjusted Rand index of each run's labels
/// against the winner's, and what the lowest one means.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Stability {
    /// Restarts compared.
    pub runs: usize,
    /// Each restart's adjusted Rand index against the winner (1 for the winner itself).
    pub agreement: Vec<f64>,
    /// The lowest of them.
    pub min_agreement: f64,
    /// `stable` (every ARI ≥ 0.9), `moderate` (≥ 0.75) or `unstable`.
    pub reading: String,
    /// Rows the runs were compared on (a sample when the restarts ran on one).
    pub rows: usize,
}

/// Starting centroids chosen on a sample, then refined by Lloyd on every row.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SampleInit {
    /// Rows of the sample (every `stride`-th row).
    pub rows: usize,
    /// Every `stride`-th row is in the sample.
    pub stride: usize,
    /// Inertia of each restart on the sample.
    pub run_inertias: Vec<f64>,
    /// The restart kept (lowest inertia on the sample).
    pub best_run: usize,
    /// Inertia over every row at the sample's centroids, before the full Lloyd steps.
    pub inertia_at_sample_centroids: f64,
    /// Inertia over every row after them.
    pub inertia: f64,
    /// How much the full steps lowered the inertia: (at sample centroids − final) / final.
    pub gap: f64,
}

/// Stability under resampling (clusterboot's subset scheme): how the segments were tested
/// and the weakest segment's reading; each segment has its own `resampling`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Resampling {
    /// How the refits were made.
    pub scheme: String,
    /// Refits.
    pub runs: usize,
    /// Customers the half-samples were drawn from (a seeded sample of the segmented ones).
    pub rows: usize,
    /// The lowest segment's mean Jaccard.
    pub min_jaccard: f64,
    /// Its reading: `highly stable`, `stable`, `doubtful` or `unstable`.
    pub reading: String,
    /// How a mean Jaccard is read.
    pub rule: String,
}

/// One segment's stability under resampling.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentResampling {
    /// Mean over the refits of its Jaccard coefficient with the best-matching refit cluster.
    pub jaccard: f64,
    /// Refits where it dissolved (Jaccard at most 0.5).
    pub dissolved: usize,
    /// Refits where it was recovered (Jaccard above 0.75).
    pub recovered: usize,
    /// Its reading, as [`Resampling::reading`].
    pub reading: String,
}

/// Which algorithm found a fit's segments.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AlgorithmReport {
    /// `kmeans` or `kprototypes`.
    pub name: String,
    /// Why: `--algorithm`, or what `auto` found.
    pub reason: String,
    /// k-prototypes' weight of a categorical mismatch (with `inertia` its cost: Σ squared
    /// numeric distance + γ · mismatches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// The features clustered as categories (k-prototypes), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categorical: Vec<String>,
}

/// `segments.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SegmentsFile {
    /// The Strata that wrote it.
    pub strata_version: String,
    /// The strategy plugin that made the features and names.
    pub strategy: crate::StrategyRef,
    /// k-means or RFM.
    pub mode: crate::Mode,
    /// What was read and what was left out.
    pub input: InputReport,
    /// What aggregating a transaction log did (with `--transactions`).
    pub transactions: Option<crate::TxReport>,
    /// The compute backend (k-means mode).
    pub backend: Option<BackendReport>,
    /// Segments exported.
    pub k: usize,
    /// k-means inertia (`null` in RFM mode).
    pub inertia: Option<f64>,
    /// Lloyd iterations of the restart kept (0 without k-means iterations: RFM, scoring).
    pub iterations: usize,
    /// Whether the restart kept stopped because its centroids settled (true without
    /// k-means iterations).
    pub converged: bool,
    /// k-means++ restarts (`--n-init`; 0 without k-means iterations).
    pub n_init: usize,
    /// `--seed` (of the fit, for a scored run).
    pub seed: u64,
    /// The restart kept.
    pub best_run: usize,
    /// Each restart's inertia.
    pub run_inertias: Vec<f64>,
    /// The features the segments live in, in order (none for RFM).
    pub features: Vec<String>,
    /// Set when the file was streamed rather than held whole (`--stream`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streamed: Option<StreamReport>,
    /// Set when the k-means++ restarts ran on a sample of the rows (streamed fits of many
    /// rows): the sample and the inertia gap to Lloyd on every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_sample: Option<SampleInit>,
    /// Segmentation quality on the feature matrix (k-means mode): silhouette (exact up to
    /// 10,000 rows, on a seeded sample above), Davies-Bouldin, Calinski-Harabasz.
    #[serde(default)]
    pub quality: Option<strata_quality::Quality>,
    /// How far the k-means++ restarts agree (adjusted Rand index against the winner): a note
    /// on the optimiser, not on the segments (see `resampling`).
    #[serde(default)]
    pub stability: Option<Stability>,
    /// Whether the segments come back when the customers are resampled (k-means fits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resampling: Option<Resampling>,
    /// Where the segments are, for a strategy that binds `latitude` and `longitude` (fits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<crate::geo::GeoReport>,
    /// How each segment's `rule` was found (fits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<crate::rules::RulesReport>,
    /// Every k tried under `--k auto`, scored, and the one chosen with the rule used.
    #[serde(default)]
    pub k_selection: Option<crate::select::KSelection>,
    /// The clustering algorithm of a fit and why it ran (`--algorithm`); absent for older
    /// files, RFM and scoring runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<AlgorithmReport>,
    /// The strategy's value measure (a role it marks as such, e.g. monetary or spend) and
    /// its total; each segment then has its `value`.
    #[serde(default)]
    pub value_measure: Option<crate::value::ValueMeasure>,
    /// How each segment's `attractiveness` is scored.
    #[serde(default)]
    pub attractiveness_rule: String,
    /// What its value part is: predicted CLV or past value per customer (absent when there
    /// is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attractiveness_value: Option<String>,
    /// Outcome columns by segment (`--outcome`): rate or mean, 95% interval and lift per
    /// segment, a test of whether segments differ, and with `--treatment` the campaign's
    /// effect per segment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<strata_outcomes::OutcomeReport>,
    /// The value model fitted (`--value-model`): its parameters, standard errors and fit;
    /// each segment then has its `predicted` value and churn risk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_model: Option<crate::value::ValueModelReport>,
    /// Set when the customers were scored with a saved model (`strata assign`) rather than
    /// fitted: segments are the model's.
    #[serde(default)]
    pub scored_with: Option<ScoredWith>,
    /// `--min-segment-size`: no exported segment is smaller.
    #[serde(default)]
    pub min_segment_size: Option<u64>,
    /// The k-means segments merged away by `--min-segment-size`.
    #[serde(default)]
    pub merged_segments: Vec<crate::MergedSegment>,
    /// Whether ids in assignments.csv are pseudonyms (HMAC-SHA-256 under a secret salt, the
    /// first 128 bits in hex) rather than the input's ids.
    #[serde(default)]
    pub ids_pseudonymized: bool,
    /// The nearest-over-second-nearest distance ratio above which a customer is flagged
    /// ambiguous (k-means only).
    #[serde(default)]
    pub ambiguous_ratio: Option<f64>,
    /// The segments in segment order (numbered by size at the fit, 0 the largest).
    pub segments: Vec<SegmentJson>,
    /// Wall seconds per stage before the outputs were written (ingest, features, k-means,
    /// profiles); writing itself is logged and printed.
    #[serde(default)]
    pub timings_s: std::collections::BTreeMap<String, f64>,
}

fn csv() -> String {
    "csv".into()
}

/// What a run read and what it left out.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct InputReport {
    /// The input file, as given.
    pub file: String,
    /// How it was stored: `csv`, `parquet` (a file or a folder of parts), `arrow-file` or
    /// `arrow-stream`. Runs written before the field existed read CSV.
    #[serde(default = "csv")]
    pub format: String,
    /// Customers in the input (after aggregation, for a transaction log).
    pub rows: usize,
    /// Customers segmented.
    pub rows_used: usize,
    /// Customers left out for a missing value (`--missing drop`).
    pub rows_dropped: usize,
    /// What was done with missing values.
    pub missing_policy: crate::MissingPolicy,
    /// Missing values per bound column (imputed, or the reason rows were dropped).
    pub missing: std::collections::BTreeMap<String, usize>,
    /// Columns considered by "every numeric column" that held text and were left out.
    pub skipped_columns: Vec<String>,
    /// Each strategy role and the column it was bound to.
    pub bindings: Vec<crate::Binding>,
}

/// The compute backend a run's distance work ran on.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct BackendReport {
    /// `cpu` or `gpu`.
    pub kind: String,
    /// The backend described: threads, or the adapter and its driver.
    pub description: String,
    /// Why it was chosen (`--backend`, or `auto`'s reasoning, or a fallback).
    pub reason: String,
}

/// One segment in `segments.json`: its size, name and profile in the data's own units.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SegmentJson {
    /// Its number (0 the largest at the fit).
    pub segment: usize,
    /// Its name, from the strategy (or the RFM cell).
    pub label: String,
    /// Customers in it.
    pub size: u64,
    /// Its share of the customers segmented, 0 to 1.
    pub share: f64,
    /// The centroid in the data's own units: numerics as means, categoricals as shares.
    pub centroid: serde_json::Map<String, serde_json::Value>,
    /// Each numeric column's mean in the segment and overall.
    pub numeric: Vec<NumericJson>,
    /// Each categorical column's level shares in the segment and overall.
    pub categorical: Vec<CategoricalJson>,
    /// The few differences from the average that characterise it, as words.
    pub key_traits: Vec<String>,
    /// Customers of the segment flagged ambiguous (k-means only): nearly as close to another
    /// segment's centroid (ratio above `ambiguous_ratio`).
    #[serde(default)]
    pub ambiguous: Option<u64>,
    /// The segment's part of the value measure (when the strategy has one).
    #[serde(default)]
    pub value: Option<crate::value::SegmentValue>,
    /// Score and rank by `attractiveness_rule`.
    #[serde(default)]
    pub attractiveness: Option<crate::value::Attractiveness>,
    /// Predicted value and churn risk under the run's value model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<crate::value::SegmentPrediction>,
    /// Whether the segment comes back when the customers are resampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resampling: Option<SegmentResampling>,
    /// A rule over the input columns that picks the segment, with its precision and recall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<crate::rules::SegmentRule>,
    /// Its centre on the globe and radius (with `latitude` and `longitude` roles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<crate::geo::SegmentGeo>,
    /// Its categorical centre under k-prototypes: each coded column's mode and the share of
    /// the segment that has it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<SegmentMode>,
}

/// A numeric column in one segment.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct NumericJson {
    /// The column's header.
    pub column: String,
    /// The role it was bound to.
    pub role: String,
    /// Its mean over the segment's customers with a value.
    pub mean: f64,
    /// Its mean over every customer with a value.
    pub overall_mean: f64,
    /// Segment mean over overall mean × 100.
    pub index: Option<f64>,
}

/// A categorical column in one segment.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CategoricalJson {
    /// The column's header.
    pub column: String,
    /// The role it was bound to.
    pub role: String,
    /// Each level, largest share in the segment first.
    pub shares: Vec<LevelJson>,
}

/// A k-prototypes segment's mode of one categorical column.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SegmentMode {
    /// The column's header.
    pub column: String,
    /// The mode, as written in the data (`null` for a category the fit never saw).
    pub value: Option<String>,
    /// Its share of the segment's customers with a value, 0 to 1 (`null` when the profile
    /// does not list it).
    pub share: Option<f64>,
}

/// One level of a categorical column in one segment.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LevelJson {
    /// The level as written in the data.
    pub value: String,
    /// Its share of the segment's customers with a value, 0 to 1.
    pub share: f64,
    /// Its share of every customer with a value.
    pub overall_share: f64,
    /// Share in the segment over share overall × 100.
    #[serde(default)]
    pub index: Option<f64>,
}
