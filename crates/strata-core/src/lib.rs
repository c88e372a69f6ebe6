//! Strata's segmentation pipeline, usable without the CLI.
//!
//! [`FitSettings`] (built and validated by [`FitSettingsBuilder`]) describes a job; [`fit`] runs
//! it: read the CSV header, bind the strategy's roles to columns, read only those columns, let
//! the plugin learn and apply its preprocessing, cluster the feature matrix on a compute
//! backend, profile the segments in the data's own units, ask the plugin to name them, and
//! write `assignments.csv`, `segments.json` and `model.json` atomically.
//!
//! Nothing is written until everything has been computed; every file goes to a temporary name
//! in the output folder first and is renamed into place, so a failure leaves no partial output.

mod assignments;
mod backend;
mod binding;
mod cluster;
mod commands;
mod describe;
mod error;
mod features;
mod geo;
mod input;
mod mixed;
mod model;
mod null_reference;
mod outcomes;
mod output;
mod predict;
pub mod privacy;
mod profile;
mod progress;
mod projection;
mod report;
mod resampling;
mod rules;
mod segments;
pub mod select;
mod select_mixed;
mod settings;
pub mod sql;
mod tally;
mod value;

pub use binding::{Binding, Reserved, resolve_bindings, resolve_transaction_columns};
pub use commands::assign::{
    AssignReport, AssignSettings, AssignSettingsBuilder, assign, assign_with_progress,
    compatible_version,
};
pub use commands::choose_k::choose_k;
pub use commands::export_sql::export_sql;
pub use commands::fit::{FitReport, KMeansSummary, fit, fit_with_progress};
pub use commands::merge::{MergeReport, MergeSettings, merge};
pub use commands::parts::{
    NewCentroids, PartInput, RecenterFile, RecenterReport, STEP_FORMAT, STEP_FORMAT_VERSION,
    StepReport, StepTally, TransformReport, recenter, step, transform,
};
pub use describe::SegmentSummary;
pub use error::CoreError;
pub use mixed::KPrototypesRecord;
pub use model::{MODEL_FORMAT, MODEL_FORMAT_VERSION, Model};
pub use output::{
    SampleInit, SegmentsFile, Stability, StreamReport, write_file_atomically, write_json,
};
pub use profile::{SegmentProfile, key_traits};
pub use progress::{NoProgress, Progress};
/// The rule trees' default depth (`--rules-depth`).
pub const DEFAULT_RULES_DEPTH: usize = strata_rules::DEFAULT_MAX_DEPTH;
pub use settings::{
    Algorithm, BackendChoice, DEFAULT_AMBIGUOUS_RATIO, DEFAULT_AT_RISK_BELOW, DEFAULT_INIT_SAMPLE,
    DEFAULT_K_RANGE, DEFAULT_MAX_CATEGORIES, DEFAULT_PREP_SAMPLE_MB, FitSettings,
    FitSettingsBuilder, MAX_K_RANGE_END, MIN_SALT_LEN, MissingPolicy, Mode, Origin,
    OutcomeSettings, RoleMap, Salt, Source, Streaming, ValueModelSettings, parse_delimiter,
    parse_k_range, parse_option,
};
pub use strata_format::assignments::AssignmentsFormat;
pub use strata_format::geo::{GeoReport, SegmentGeo};
pub use strata_format::rules::{RulesReport, SegmentRule};
pub use strata_format::staged::{Registered, remove_staged, temp_in};
pub use strata_format::value::{SegmentPrediction, ValueModelReport, ValueParams, show_param};
pub use strata_ingest::DateFormat;
pub use strata_outcomes::{Interval, Kind as OutcomeKind, OutcomeReport, SegmentOutcome};
pub use strata_value::Period;
pub use tally::{PARTIAL_FILE, PARTIAL_FORMAT, PARTIAL_FORMAT_VERSION, Partial, model_fingerprint};
pub use value::{ATTRACTIVENESS_RULE, Attractiveness, SegmentValue, ValueMeasure, attractiveness};

/// k-means defaults, re-exported for front ends that show them.
pub mod kmeans_defaults {
    /// `--seed`.
    pub const SEED: u64 = strata_kmeans::DEFAULT_SEED;
    /// `--max-iter`: Lloyd iterations at most per restart.
    pub const MAX_ITER: usize = strata_kmeans::DEFAULT_MAX_ITER;
    /// `--tol`: Lloyd stops when the centroids move less than this times the mean feature
    /// variance (scikit-learn's rule).
    pub const TOL: f64 = strata_kmeans::DEFAULT_TOL;
    /// `--n-init`: k-means++ restarts, the lowest inertia kept.
    pub const N_INIT: usize = strata_kmeans::DEFAULT_N_INIT;
}
