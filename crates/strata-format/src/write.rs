//! Single files written atomically, the error every output write reports, and JSON as Strata
//! writes it. A run's several files are committed together by [`crate::commit`].

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Writing an output file (or its temporary copy) failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {error}", path.display())]
pub struct WriteError {
    /// The file, or the temporary file, being written.
    pub path: PathBuf,
    /// The I/O error that stopped the write; quoted in the message, so not also exposed as
    /// the error's `source()`.
    pub error: std::io::Error,
}

/// Writes one file at `path` atomically: in full under a temporary name beside it, synced,
/// then renamed into place (one rename, so a reader sees the old file or the new one). For
/// files that stand alone (`choose-k --json`, `synth`); a run's several outputs go through
/// [`crate::commit`].
pub fn write_file_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<PathBuf, WriteError> {
    let err = |error| WriteError {
        path: path.to_owned(),
        error,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        ))
    })?;
    std::fs::create_dir_all(dir).map_err(err)?;
    let (mut tmp, _registered) = crate::staged::temp_in(dir, name).map_err(err)?;
    {
        let mut buf = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        write(&mut buf).map_err(err)?;
        buf.flush().map_err(err)?;
    }
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(path.to_owned())
}

/// Writes `value` as pretty JSON with a final newline.
pub fn write_json<T: Serialize>(value: &T, w: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, value)?;
    w.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_file_atomically(&path, |w| w.write_all(b"old")).unwrap();
        let err = write_file_atomically(&path, |_| Err(std::io::Error::other("disk full")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.json") && err.contains("disk full"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn unwritable_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let err = write_file_atomically(&file.join("sub").join("a.txt"), |w| w.write_all(b"ok"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot write") && err.contains("file/sub"),
            "{err}"
        );
    }
}
