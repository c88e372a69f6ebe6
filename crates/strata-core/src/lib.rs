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

mod assign;
mod binding;
pub mod compare;
mod error;
mod model;
mod output;
mod pipeline;
pub mod privacy;
mod profile;
mod progress;
mod projection;
mod report;
pub mod select;
mod settings;
mod stream;
mod value;

pub use assign::{
    AssignReport, AssignSettings, AssignSettingsBuilder, assign, assign_with_progress,
    compatible_version,
};
pub use binding::{Binding, resolve_bindings, resolve_transaction_columns};
pub use error::CoreError;
pub use model::{MODEL_FORMAT, MODEL_FORMAT_VERSION, Model};
pub use output::{SegmentsFile, write_atomically, write_file_atomically, write_json};
pub use pipeline::{
    FitReport, SampleInit, SegmentSummary, Stability, choose_k, fit, fit_with_progress,
};
pub use profile::{SegmentProfile, key_traits};
pub use progress::{NoProgress, Progress};
pub use settings::{
    BackendChoice, DEFAULT_AMBIGUOUS_RATIO, DEFAULT_INIT_SAMPLE, DEFAULT_K_RANGE,
    DEFAULT_PREP_SAMPLE_MB, FitSettings, FitSettingsBuilder, MAX_K_RANGE_END, MIN_SALT_LEN,
    MissingPolicy, Mode, RoleMap, Salt, Source, Streaming, parse_delimiter, parse_k_range,
    parse_option,
};
pub use strata_ingest::DateFormat;
pub use stream::StreamReport;
pub use value::{ATTRACTIVENESS_RULE, Attractiveness, SegmentValue, ValueMeasure, attractiveness};

/// k-means defaults, re-exported for front ends that show them.
pub mod kmeans_defaults {
    pub const SEED: u64 = strata_kmeans::DEFAULT_SEED;
    pub const MAX_ITER: usize = strata_kmeans::DEFAULT_MAX_ITER;
    pub const TOL: f64 = strata_kmeans::DEFAULT_TOL;
    pub const N_INIT: usize = strata_kmeans::DEFAULT_N_INIT;
}
