//! The errors of the pipeline: each says what went wrong and where.

use std::path::PathBuf;

/// Why a fit, an assignment or a comparison failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A setting is invalid or settings contradict each other; the message names the setting
    /// (usually by its command-line flag) and says what is wrong.
    #[error("invalid setting: {0}")]
    Settings(String),
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
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file, or the temporary file, being written.
        path: PathBuf,
        /// The I/O error that stopped the write.
        source: std::io::Error,
    },
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
