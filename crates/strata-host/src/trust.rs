//! Whether a plugin file may be loaded, judged on who can change it, as sudo and ssh judge
//! their files: loading a library runs its code inside `strata`, so a file that another user
//! could have written (or replaced, through a folder they can write) is refused.
//!
//! The rule (Unix): the file is a regular file, owned by root or by the user running `strata`,
//! and writable by neither its group nor others; every folder above it is owned by root or the
//! user, and writable by neither its group nor others unless it has the sticky bit (as `/tmp`
//! has: there, others cannot replace a file they do not own). The file is opened once, judged
//! on that open file, and on Linux loaded through `/proc/self/fd/N`, so what was judged is
//! what is loaded (no swap between the check and the load). Elsewhere it is loaded by path
//! after the check.

use std::fs::File;
use std::path::{Path, PathBuf};

/// A plugin file opened and judged safe to load.
#[derive(Debug)]
pub(crate) struct Trusted {
    /// Keeps the judged file open until it is loaded.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    file: File,
    #[cfg_attr(target_os = "linux", allow(dead_code))]
    path: PathBuf,
}

impl Trusted {
    /// Called once the library is loaded from [`load_path`](Self::load_path): the file stays
    /// open for the rest of the process. The loader knows the library by that path, and would
    /// hand back the first library for a second one loaded through a reused descriptor number.
    pub(crate) fn keep_open(self) {
        std::mem::forget(self.file);
    }

    /// The path to hand to the loader: the open file itself where the system allows it.
    pub(crate) fn load_path(&self) -> PathBuf {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.path.clone()
        }
    }
}

/// What the rule needs to know of a file or folder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts {
    /// Owner's user id.
    pub uid: u32,
    /// Permission bits, with the sticky bit.
    pub mode: u32,
}

/// Why a file or folder may not be trusted, or `None`: `user` is the user running `strata`.
/// The file itself is named `the file` (the listing names it); a folder by its path.
pub(crate) fn judge(path: &Path, f: Facts, user: u32, is_dir: bool) -> Option<String> {
    let what = if is_dir {
        format!("the folder {}", path.display())
    } else {
        "the file".to_owned()
    };
    if f.uid != 0 && f.uid != user {
        return Some(format!(
            "{what} is owned by another user (uid {}): only files of root or of the user \
             running strata are loaded",
            f.uid
        ));
    }
    let sticky = is_dir && f.mode & 0o1000 != 0;
    let writers = match (f.mode & 0o020 != 0, f.mode & 0o002 != 0) {
        _ if sticky => None,
        (_, true) => Some("other users"),
        (true, false) => Some("its group"),
        (false, false) => None,
    };
    writers.map(|who| {
        format!(
            "{what} is writable by {who} (mode {:o}), so its code could be replaced; run \
             `chmod go-w {}` if you trust it",
            f.mode & 0o7777,
            path.display()
        )
    })
}

/// Opens `path` and checks it and every folder above it; the error is the reason to give.
#[cfg(unix)]
pub(crate) fn open_trusted(path: &Path) -> Result<Trusted, String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let real = path
        .canonicalize()
        .map_err(|e| format!("cannot resolve the path: {e}"))?;
    // Not opened unless it is a regular file: opening a FIFO would wait for a writer forever.
    let meta = std::fs::metadata(&real).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&real)
        .map_err(|e| format!("cannot open: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    let user = current_user();
    let facts = |m: &std::fs::Metadata| Facts {
        uid: m.uid(),
        mode: m.mode(),
    };
    if let Some(reason) = judge(&real, facts(&meta), user, false) {
        return Err(reason);
    }
    for dir in real.ancestors().skip(1) {
        let m =
            std::fs::metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        if let Some(reason) = judge(dir, facts(&m), user, true) {
            return Err(reason);
        }
    }
    Ok(Trusted { file, path: real })
}

/// Elsewhere there is no owner and mode to judge; the file must be a regular file.
#[cfg(not(unix))]
pub(crate) fn open_trusted(path: &Path) -> Result<Trusted, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    Ok(Trusted {
        file,
        path: path.to_owned(),
    })
}

#[cfg(unix)]
fn current_user() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_as_sudo_and_ssh_apply_it() {
        let p = Path::new("/x/libstrata_strategy_a.so");
        let me = 1000;
        let ok = |uid, mode, dir| judge(p, Facts { uid, mode }, me, dir).is_none();
        // Root's or mine, and written by no one else: loaded.
        assert!(ok(0, 0o755, false) && ok(me, 0o644, false) && ok(me, 0o700, true));
        // Another user's, even read-only.
        assert!(!ok(1001, 0o444, false));
        let why = judge(
            p,
            Facts {
                uid: 1001,
                mode: 0o644,
            },
            me,
            false,
        )
        .unwrap();
        assert!(why.contains("another user (uid 1001)"), "{why}");
        // Group- or world-writable files and folders.
        assert!(!ok(me, 0o664, false) && !ok(me, 0o646, false) && !ok(0, 0o777, true));
        let why = judge(
            p,
            Facts {
                uid: 0,
                mode: 0o775,
            },
            me,
            true,
        )
        .unwrap();
        assert!(
            why.contains("writable by its group") && why.contains("chmod go-w"),
            "{why}"
        );
        // A sticky folder (/tmp) protects the files in it; a sticky file means nothing.
        assert!(ok(0, 0o1777, true) && !ok(me, 0o1666, false));
    }
}
