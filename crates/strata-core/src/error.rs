//! The errors of the pipeline: each says what went wrong and where.

use std::path::PathBuf;

/// Bytes as GiB with one decimal, for messages.
pub(crate) fn gib(bytes: f64) -> String {
    format!("{:.1} GiB", bytes / (1u64 << 30) as f64)
}

/// Why a fit, an assignment or a comparison failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A setting is invalid or settings contradict each other; the message names the setting
    /// (usually by its command-line flag) and says what is wrong.
    #[error("invalid setting: {0}")]
    Settings(String),
    /// More segments were asked for than there are customers.
    #[error("invalid setting: k = {k} is more than the {n} customers to segment in {}", path.display())]
    KTooLarge {
        /// The k asked for (`--k`, the strategy's default, or the start of `--k-range`).
        k: usize,
        /// Customers left to segment.
        n: usize,
        /// The input.
        path: PathBuf,
    },
    /// `--min-segment-size` is larger than every customer together.
    #[error(
        "invalid setting: --min-segment-size {min} is more than the {n} customers segmented: no \
         segment could be exported"
    )]
    MinSegmentTooLarge {
        /// `--min-segment-size`.
        min: u64,
        /// Customers segmented.
        n: u64,
    },
    /// `--backend gpu`, and no GPU can be used.
    #[error("invalid setting: --backend gpu: {reason}")]
    GpuUnavailable {
        /// Why: no adapter, a driver error, or a build without the `gpu` feature.
        reason: String,
    },
    /// `--mode rfm` without the recency, frequency and monetary roles bound.
    #[error(
        "invalid setting: --mode rfm needs the recency, frequency and monetary roles (strategy \
         behavioral); strategy '{strategy}' with these bindings does not provide all three"
    )]
    RfmWithoutMeasures {
        /// The strategy that was asked for.
        strategy: String,
    },
    /// A streamed fit's feature matrix would not fit in memory.
    #[error(
        "invalid setting: the feature matrix of about {rows} rows × {features} features needs {} \
         and {} of memory is available; Strata does not cluster out of core yet: fit a sample \
         of the file",
        gib(*.need_bytes),
        gib(*.available_bytes)
    )]
    MatrixTooLarge {
        /// Rows expected, from the preprocessing sample's rows per chunk.
        rows: usize,
        /// Features per row.
        features: usize,
        /// Bytes the f32 matrix needs.
        need_bytes: f64,
        /// Bytes of memory available.
        available_bytes: f64,
    },
    /// `choose-k` without a range of k.
    #[error("invalid setting: choose-k needs a range of k (--k-range)")]
    ChooseKWithoutRange,
    /// `choose-k` under `--mode rfm`.
    #[error("invalid setting: choose-k chooses k for k-means; --mode rfm has fixed segments")]
    ChooseKWithRfm,
    /// `choose-k` on a file a fit would stream.
    #[error(
        "invalid setting: {} would be streamed ({reason}); choose-k reads the whole table. Run \
         `strata fit --k auto`, which streams it and chooses k on its k-means++ sample",
        path.display()
    )]
    ChooseKOnStreamedInput {
        /// The input.
        path: PathBuf,
        /// Why a fit would stream it.
        reason: String,
    },
    /// The input's header does not fit the job: a `--map` names an unknown role or column, a
    /// column is bound twice, a required role (or a column the model was fitted with) is not
    /// in the header, or `--id-column` is absent.
    #[error("{path}: {message}")]
    Binding {
        /// The input file whose header was searched.
        path: PathBuf,
        /// What could not be bound and why.
        message: String,
    },
    /// Reading or parsing an input CSV failed.
    #[error(transparent)]
    Ingest(#[from] strata_ingest::IngestError),
    /// Loading a strategy plugin or calling into it failed.
    #[error(transparent)]
    Plugin(#[from] strata_host::HostError),
    /// k-means rejected its parameters or data, or failed to run.
    #[error(transparent)]
    KMeans(#[from] strata_kmeans::KMeansError),
    /// A file was read but its content cannot be used: no usable rows remain, an `--init`
    /// file does not match the features, or a previous run's output is unreadable.
    #[error("{path}: {message}")]
    Data {
        /// The file whose content is at fault.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Writing an output file (or its temporary copy) failed.
    #[error("cannot write {path}: {error}")]
    Output {
        /// The file, or the temporary file, being written.
        path: PathBuf,
        /// The I/O error that stopped the write; quoted in the message, so not also exposed as
        /// the error's `source()`.
        error: std::io::Error,
    },
    /// Replacing the outputs of an earlier run failed part-way; the message says what the
    /// folder holds now.
    #[error(transparent)]
    Commit(strata_format::commit::CommitError),
    /// A file of a run folder is not the one the folder's manifest lists: the folder mixes
    /// files of different runs.
    #[error(transparent)]
    MixedRun(#[from] strata_format::commit::ManifestError),
    /// `assign --out` names a folder that holds a fit's results (or the model itself), which
    /// scoring would replace.
    #[error(
        "--out {} holds {what}: scoring into it would replace the fit's assignments.csv, \
         segments.json and report.html with the scored customers'; give another --out, or add \
         --force to replace them (model.json is kept)",
        out.display()
    )]
    OutHoldsFit {
        /// The `--out` folder.
        out: PathBuf,
        /// What it holds: "the --model file" or "a fit's results".
        what: &'static str,
    },
    /// The strategy said a feature holds categorical codes (ABI 1.4), then wrote a value there
    /// that is no code of its levels.
    #[error(
        "strategy '{strategy}' wrote {value} for feature '{feature}' at line {line}, which it \
         declared holds the codes of {levels} categories (a whole number from 0 to {levels}): \
         the plugin is faulty, or its saved state is damaged"
    )]
    BadCategoryCode {
        /// The strategy's name.
        strategy: String,
        /// The row's line in the input file.
        line: u64,
        /// The feature's name.
        feature: String,
        /// What it wrote.
        value: f32,
        /// How many categories the feature has.
        levels: usize,
    },
    /// The strategy made a feature that is not a finite number from a row of the input.
    #[error(
        "{error}: line {line}, feature '{feature}'; a value in that row is probably too large or \
         too small for the strategy to scale (such as 1e308), or the saved state is damaged"
    )]
    NonFiniteFeature {
        /// The row's line in the input file.
        line: u64,
        /// The feature's name.
        feature: String,
        /// The host's report, quoted.
        error: strata_host::HostError,
    },
    /// The value model (`--value-model`) cannot be fitted to these customers.
    #[error("--value-model: {0}")]
    ValueModel(String),
    /// A saved model cannot be read, fails its checks, or cannot score this input (for
    /// example an RFM model, or a plugin version it was not fitted with).
    #[error("{path}: {message}")]
    Model {
        /// The `model.json` file.
        path: PathBuf,
        /// What is wrong with the model or why it cannot be used.
        message: String,
    },
}

impl CoreError {
    /// Whether the output folder is as it was before the failed run: true for every error
    /// but a commit that could not put the earlier files back.
    pub fn left_outputs_untouched(&self) -> bool {
        match self {
            CoreError::Commit(e) => e.left_folder_untouched(),
            _ => true,
        }
    }
}
