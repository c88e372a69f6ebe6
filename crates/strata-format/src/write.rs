//! Output files written atomically: every file goes to a temporary name in the output folder
//! and is renamed into place only after all of them were written in full.

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

/// A file to write: its name in the output folder and a function that writes its content.
pub type FileWriter<'a> = (
    &'a str,
    Box<dyn FnOnce(&mut dyn Write) -> std::io::Result<()> + 'a>,
);

/// Writes `files` into `dir` (created if missing). On any error, no file of this call is left
/// behind under its final name, and files from an earlier run are left untouched.
pub fn write_atomically(
    dir: &Path,
    files: Vec<FileWriter<'_>>,
) -> Result<Vec<PathBuf>, WriteError> {
    std::fs::create_dir_all(dir).map_err(|e| out_err(dir, e))?;
    let mut staged = Vec::with_capacity(files.len());
    for (name, write) in files {
        staged.push(stage(dir, name, write)?);
    }
    persist_all(staged)
}

/// Writes the output `name` in full under a temporary name in `dir` (which must exist), for
/// [`persist_all`].
pub fn stage(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(tempfile::NamedTempFile, PathBuf), WriteError> {
    let (mut tmp, target) = temp_file(dir, name)?;
    {
        let mut buf = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        write(&mut buf).map_err(|e| out_err(&target, e))?;
        buf.flush().map_err(|e| out_err(&target, e))?;
    }
    Ok((tmp, target))
}

fn out_err(path: &Path, error: std::io::Error) -> WriteError {
    WriteError {
        path: path.to_owned(),
        error,
    }
}

/// A temporary file in `dir` (which must exist) for the output `name`, and the path it is to
/// be renamed to by [`persist_all`]. Dropped unpersisted, it is deleted.
pub fn temp_file(dir: &Path, name: &str) -> Result<(tempfile::NamedTempFile, PathBuf), WriteError> {
    let target = dir.join(name);
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Temporary files are private by default; outputs get ordinary permissions (the process
    // umask still applies).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let tmp = builder.tempfile_in(dir).map_err(|e| out_err(&target, e))?;
    Ok((tmp, target))
}

/// Syncs every staged file, then renames each into place: nothing is renamed until every
/// file is complete on disk.
pub fn persist_all(
    staged: Vec<(tempfile::NamedTempFile, PathBuf)>,
) -> Result<Vec<PathBuf>, WriteError> {
    for (tmp, target) in &staged {
        tmp.as_file().sync_all().map_err(|e| out_err(target, e))?;
    }
    let mut written = Vec::with_capacity(staged.len());
    for (tmp, target) in staged {
        tmp.persist(&target)
            .map_err(|e| out_err(&target, e.error))?;
        written.push(target);
    }
    Ok(written)
}

/// Writes one file at `path` the same way (temporary name beside it, then renamed).
pub fn write_file_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<PathBuf, WriteError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| WriteError {
            path: path.to_owned(),
            error: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        })?;
    let mut written = write_atomically(dir, vec![(name, Box::new(write))])?;
    Ok(written.remove(0))
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
    fn writes_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let files: Vec<FileWriter> = vec![
            ("a.txt", Box::new(|w: &mut dyn Write| w.write_all(b"first"))),
            (
                "b.txt",
                Box::new(|_: &mut dyn Write| Err(std::io::Error::other("disk full"))),
            ),
        ];
        let err = write_atomically(&out, files).unwrap_err().to_string();
        assert!(err.contains("b.txt") && err.contains("disk full"), "{err}");
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
        assert!(left.is_empty(), "nothing may be left behind: {left:?}");

        let files: Vec<FileWriter> =
            vec![("a.txt", Box::new(|w: &mut dyn Write| w.write_all(b"ok")))];
        write_atomically(&out, files).unwrap();
        assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"ok");
    }

    #[test]
    fn unwritable_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let files: Vec<FileWriter> =
            vec![("a.txt", Box::new(|w: &mut dyn Write| w.write_all(b"ok")))];
        let err = write_atomically(&file.join("sub"), files)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot write") && err.contains("file/sub"),
            "{err}"
        );
    }
}
