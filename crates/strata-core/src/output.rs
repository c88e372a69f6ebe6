//! The output formats and the run commit, from `strata-format`; a `WriteError` becomes
//! [`CoreError::Output`](crate::CoreError::Output), a `CommitError`
//! [`CoreError::Commit`](crate::CoreError::Commit).

pub use strata_format::commit::{FileWriter, RunDir};
pub use strata_format::segments::*;
pub use strata_format::write::{write_file_atomically, write_json};

impl From<strata_format::write::WriteError> for crate::CoreError {
    fn from(e: strata_format::write::WriteError) -> Self {
        crate::CoreError::Output {
            path: e.path,
            error: e.error,
        }
    }
}

impl From<strata_format::commit::CommitError> for crate::CoreError {
    fn from(e: strata_format::commit::CommitError) -> Self {
        match e {
            strata_format::commit::CommitError::Write(w) => w.into(),
            other => crate::CoreError::Commit(other),
        }
    }
}

/// Opens `dir` for a run of `command`, saying in the log when it waits for another run.
pub(crate) fn open_run(
    dir: &std::path::Path,
    command: &'static str,
) -> Result<RunDir, crate::CoreError> {
    Ok(RunDir::open(dir, command, || {
        tracing::warn!(
            "another strata run is writing to {}; waiting for it to finish",
            dir.display()
        );
    })?)
}
