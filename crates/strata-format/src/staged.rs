//! The temporary files this process has staged and not yet committed, so that a handler of
//! SIGINT, SIGTERM or SIGHUP can remove them ([`remove_staged`]) before the process exits
//! (a signal ends it without running destructors). Killed with SIGKILL, a run leaves them;
//! the next run in the folder sweeps them ([`crate::commit::RunDir::open`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The registered temporaries.
static STAGED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn register(path: &Path) {
    if let Ok(mut s) = STAGED.lock() {
        s.push(path.to_owned());
    }
}

fn unregister(path: &Path) {
    if let Ok(mut s) = STAGED.lock() {
        s.retain(|p| p != path);
    }
}

/// A temporary file registered for [`remove_staged`] while this guard lives.
#[doc(hidden)]
#[derive(Debug)]
pub struct Registered(PathBuf);

impl Registered {
    /// Registers `path`.
    pub fn new(path: &Path) -> Registered {
        register(path);
        Registered(path.to_owned())
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        unregister(&self.0);
    }
}

/// A new temporary file in `dir` for the output `name`, hidden (`.NAME.XXXXXX.tmp`, the name
/// a run's sweep knows), with ordinary permissions (temporary files are private by default;
/// the process umask still applies), and registered for [`remove_staged`] until the guard is
/// dropped.
pub fn temp_in(dir: &Path, name: &str) -> std::io::Result<(tempfile::NamedTempFile, Registered)> {
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(TEMP_SUFFIX);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let tmp = builder.tempfile_in(dir)?;
    let registered = Registered::new(tmp.path());
    Ok((tmp, registered))
}

/// Ending of a staged (not yet committed) file: `.NAME.XXXXXX.tmp`.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// Removes every temporary file this process has staged and not committed: for a handler of
/// SIGINT, SIGTERM or SIGHUP, which ends the process without running destructors.
pub fn remove_staged() {
    if let Ok(s) = STAGED.lock() {
        for p in s.iter() {
            let _ = std::fs::remove_file(p);
        }
    }
}
