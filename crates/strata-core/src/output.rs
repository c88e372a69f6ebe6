//! The output formats and atomic writes, from `strata-format`; a `WriteError` becomes
//! [`CoreError::Output`](crate::CoreError::Output).

pub use strata_format::segments::*;
pub(crate) use strata_format::write::{FileWriter, persist_all, stage, temp_file};
pub use strata_format::write::{write_atomically, write_file_atomically, write_json};

impl From<strata_format::write::WriteError> for crate::CoreError {
    fn from(e: strata_format::write::WriteError) -> Self {
        crate::CoreError::Output {
            path: e.path,
            error: e.error,
        }
    }
}
