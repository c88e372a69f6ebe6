//! The errors of the pipeline: each says what went wrong and where.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("invalid setting: {0}")]
    Settings(String),
    #[error("{path}: {message}")]
    Binding { path: PathBuf, message: String },
    #[error(transparent)]
    Ingest(#[from] strata_ingest::IngestError),
    #[error(transparent)]
    Plugin(#[from] strata_host::HostError),
    #[error(transparent)]
    KMeans(#[from] strata_kmeans::KMeansError),
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Model { path: PathBuf, message: String },
}
