//! One commit per run: the files a command writes into its output folder become visible
//! together or not at all, and a reader can tell a folder whose files come from different runs.
//!
//! A run opens its folder with [`RunDir::open`], which takes the folder's lock (a second
//! writer waits for the first to finish) and sweeps temporaries that a killed run left. Each
//! output is written in full under a hidden temporary name ([`RunDir::stage`] or
//! [`RunDir::create`]), hashed as it is written, and synced. [`RunDir::commit`] then:
//! 1. hard-links the files it will replace (and the old manifest) to hidden backups;
//! 2. writes `manifest.json`, which names every file of the new run with its size and SHA-256;
//! 3. renames each staged file over its final name, and syncs the folder;
//! 4. removes the backups.
//!
//! If a step fails, the backups are renamed back, so the folder is again the earlier run (or
//! empty of outputs, when there was none), and the error says so. If the process dies between
//! steps 2 and 3, `manifest.json` describes files that are not all there: readers check each
//! file they read against the manifest ([`Manifest::check`]) and refuse such a folder. A
//! folder without a manifest (written by an older Strata) is read as before.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::staged::{Registered, TEMP_SUFFIX, temp_in};
use crate::write::WriteError;

/// The manifest's file name in a run's folder.
pub const MANIFEST: &str = "manifest.json";
/// The lock file every writer of a folder holds while it stages and commits.
pub const LOCK: &str = ".strata.lock";
/// Ending of the backup of a replaced file while a commit runs: `.NAME.strata-prev`.
const PREV_SUFFIX: &str = ".strata-prev";

/// Committing a run's files failed; the message says what the folder holds now.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Writing, syncing or locking failed before any output was replaced: the folder holds
    /// the earlier run as it was.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Replacing the outputs failed part-way, and the earlier files were put back.
    #[error(
        "cannot replace {}: {error}; the earlier run's files in {} were put back as they were",
        path.display(),
        dir.display()
    )]
    RolledBack {
        /// The output folder.
        dir: PathBuf,
        /// The file that could not be replaced.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// Replacing the outputs failed part-way and putting the earlier files back failed too:
    /// the folder mixes two runs, and its manifest says so to every reader.
    #[error(
        "cannot replace {}: {error}; putting the earlier files back failed too ({restore_error}), \
         so {} now mixes two runs ({} from this run); assign and compare will refuse it: run \
         the command again",
        path.display(),
        dir.display(),
        if replaced.is_empty() { "none".to_owned() } else { replaced.join(", ") }
    )]
    Mixed {
        /// The output folder.
        dir: PathBuf,
        /// The file that could not be replaced.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
        /// Why the earlier files could not be put back.
        restore_error: std::io::Error,
        /// The files that hold this run's content.
        replaced: Vec<String>,
    },
}

impl CommitError {
    /// Whether the folder is as it was before the run (nothing of this run is in it).
    pub fn left_folder_untouched(&self) -> bool {
        !matches!(self, CommitError::Mixed { .. })
    }
}

/// `manifest.json`: what a committed run wrote, so that a reader can tell that the files it
/// reads belong together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest's own format version.
    pub manifest_version: u32,
    /// The command that wrote the run: `fit`, `assign` or `compare`.
    pub command: String,
    /// Every file of the run, by name.
    pub files: BTreeMap<String, FileDigest>,
}

/// One file of a run: its size and content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

/// A file of a run folder disagrees with its manifest, or the manifest cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// `manifest.json` exists but cannot be read or parsed.
    #[error("cannot read {}: {message}", path.display())]
    Unreadable {
        /// The manifest.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A file is not the one the manifest lists (or the manifest does not list it).
    #[error(
        "{} is not the file {} lists for this run ({reason}): the folder mixes files of \
         different runs (a write was interrupted, or a file was replaced or edited); run the \
         command that made it again (or, if you edited the file on purpose, delete {})",
        path.display(),
        manifest.display(),
        manifest.display()
    )]
    Mismatch {
        /// The file read.
        path: PathBuf,
        /// The manifest it was checked against.
        manifest: PathBuf,
        /// What differs.
        reason: String,
    },
}

impl Manifest {
    /// The manifest of the folder `dir`, or `None` when it has none (an older Strata's
    /// folder, or one assembled by hand).
    pub fn read(dir: &Path) -> Result<Option<Manifest>, ManifestError> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ManifestError::Unreadable {
                    path,
                    message: e.to_string(),
                });
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ManifestError::Unreadable {
                path,
                message: format!("not a Strata manifest: {e}"),
            })
    }

    /// Checks that `digest` is what the manifest lists for the file `path` (whose name is
    /// looked up).
    pub fn check(&self, dir: &Path, path: &Path, digest: &FileDigest) -> Result<(), ManifestError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let mismatch = |reason: String| ManifestError::Mismatch {
            path: path.to_owned(),
            manifest: dir.join(MANIFEST),
            reason,
        };
        match self.files.get(name) {
            None => Err(mismatch(format!(
                "the manifest of this {} run does not list {name}",
                self.command
            ))),
            Some(want) if want.bytes != digest.bytes => Err(mismatch(format!(
                "{} bytes, the manifest says {}",
                digest.bytes, want.bytes
            ))),
            Some(want) if want.sha256 != digest.sha256 => {
                Err(mismatch("its content hash differs".to_owned()))
            }
            Some(_) => Ok(()),
        }
    }
}

/// Reads a file of a run folder whole and checks it against the folder's manifest, if it has
/// one.
pub fn read_checked(path: &Path) -> Result<Vec<u8>, ReadCheckedError> {
    let bytes = std::fs::read(path).map_err(|error| ReadCheckedError::Io {
        path: path.to_owned(),
        error,
    })?;
    check_against_manifest(path, &digest_of(&bytes))?;
    Ok(bytes)
}

/// Checks a file's digest against the manifest of the folder it is in, if that folder has one.
pub fn check_against_manifest(path: &Path, digest: &FileDigest) -> Result<(), ManifestError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match Manifest::read(dir)? {
        Some(m) => m.check(dir, path, digest),
        None => Ok(()),
    }
}

/// Reading a file of a run folder failed, or it disagrees with the folder's manifest.
#[derive(Debug, thiserror::Error)]
pub enum ReadCheckedError {
    /// The file cannot be read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not the one the folder's manifest lists.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// The size and SHA-256 of `bytes`.
pub fn digest_of(bytes: &[u8]) -> FileDigest {
    FileDigest {
        bytes: bytes.len() as u64,
        sha256: hex(&Sha256::digest(bytes)),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A reader that hashes what passes through it, for checking a large file against its
/// manifest in the same pass that parses it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The digest of everything read so far.
    pub fn digest(&self) -> FileDigest {
        FileDigest {
            bytes: self.bytes,
            sha256: hex(&self.hasher.clone().finalize()),
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// An output folder opened for one run: locked, swept of stale temporaries, ready to stage
/// files and commit them together.
pub struct RunDir {
    dir: PathBuf,
    command: &'static str,
    /// Held until the run is committed or dropped; the lock goes with it.
    _lock: File,
    /// Whether this run created the folder (then a failed run removes it again if empty).
    created: bool,
    committed: bool,
    /// Files an earlier run may have left that this run's files take the place of (the
    /// assignments in another format): removed at the commit, under the lock, when the
    /// folder's previous manifest lists them (a file no manifest lists is not Strata's).
    superseded: Vec<String>,
}

impl std::fmt::Debug for RunDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunDir")
            .field("dir", &self.dir)
            .field("command", &self.command)
            .finish()
    }
}

/// A file written in full under a temporary name, waiting for [`RunDir::commit`].
#[derive(Debug)]
pub struct Staged {
    name: String,
    tmp: tempfile::TempPath,
    digest: FileDigest,
    /// Keeps the file registered for the signal handler until the commit renames it.
    _registered: Registered,
}

/// A file being written for a run: write to it (through a `BufWriter`: every write is hashed),
/// then [`finish`](Staging::finish) it.
pub struct Staging {
    name: String,
    target: PathBuf,
    file: tempfile::NamedTempFile,
    registered: Registered,
    hasher: Sha256,
    bytes: u64,
}

impl Write for Staging {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Staging {
    /// The path the file will have once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes and syncs the file: it is complete on disk, under its temporary name.
    pub fn finish(self) -> Result<Staged, WriteError> {
        let target = self.target;
        let err = |error| WriteError {
            path: target.clone(),
            error,
        };
        let tmp = self.file;
        tmp.as_file().sync_all().map_err(err)?;
        Ok(Staged {
            name: self.name,
            tmp: tmp.into_temp_path(),
            digest: FileDigest {
                bytes: self.bytes,
                sha256: hex(&self.hasher.finalize()),
            },
            _registered: self.registered,
        })
    }
}

/// The step of a commit a test makes fail (see [`RunDir::commit_failing_at`]). Files are
/// numbered in commit order: 0 is `manifest.json`, then the run's files as given.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Backing up file `i`, which is about to be replaced.
    Backup(usize),
    /// Renaming staged file `i` over its final name.
    Replace(usize),
    /// Syncing the folder after the renames.
    SyncDir,
}

impl RunDir {
    /// Opens `dir` (created if missing) for a run of `command`: takes its lock, waiting while
    /// another run holds it (`waiting` is called once first, to say so), then removes
    /// temporaries and backups that a killed run left.
    pub fn open(
        dir: &Path,
        command: &'static str,
        waiting: impl FnOnce(),
    ) -> Result<RunDir, WriteError> {
        let err = |path: &Path, error| WriteError {
            path: path.to_owned(),
            error,
        };
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
        let lock_path = dir.join(LOCK);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| err(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                waiting();
                lock.lock().map_err(|e| err(&lock_path, e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(&lock_path, e)),
        }
        let run = RunDir {
            dir: dir.to_owned(),
            command,
            _lock: lock,
            created,
            committed: false,
            superseded: Vec::new(),
        };
        run.sweep();
        Ok(run)
    }

    /// Removes what an earlier run that died (kill -9, power loss) left: staged temporaries and
    /// commit backups. Safe, since every writer holds the lock this run holds now.
    fn sweep(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let ours = name.starts_with('.')
                && name != LOCK
                && (is_staged_name(name) || name.ends_with(PREV_SUFFIX));
            if ours && e.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Starts writing the output `name`, under a temporary name until the commit.
    pub fn create(&self, name: &str) -> Result<Staging, WriteError> {
        let target = self.dir.join(name);
        let (tmp, registered) = temp_in(&self.dir, name).map_err(|error| WriteError {
            path: target.clone(),
            error,
        })?;
        Ok(Staging {
            name: name.to_owned(),
            target,
            file: tmp,
            registered,
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    /// Writes the output `name` in full with `write`, under a temporary name until the commit.
    pub fn stage(
        &self,
        name: &str,
        write: impl FnOnce(&mut (dyn Write + Send)) -> std::io::Result<()>,
    ) -> Result<Staged, WriteError> {
        let mut s = self.create(name)?;
        let target = s.target.clone();
        let err = |error| WriteError {
            path: target.clone(),
            error,
        };
        {
            let mut buf = std::io::BufWriter::with_capacity(1 << 20, &mut s);
            write(&mut buf).map_err(err)?;
            buf.flush().map_err(err)?;
        }
        s.finish()
    }

    /// Names files of an earlier run that this one supersedes without replacing them by name
    /// (`assignments.parquet` after `assignments.csv`): at the commit, once the new files are
    /// in place and while the folder is still locked, each one the previous manifest listed is
    /// removed. One that cannot be removed stays, unlisted: the new manifest names the run.
    pub fn supersede(&mut self, names: &[&str]) {
        self.superseded = names.iter().map(|n| (*n).to_owned()).collect();
    }

    /// Makes `files` the run in this folder, all together (see the module docs); returns their
    /// paths.
    pub fn commit(self, files: Vec<Staged>) -> Result<Vec<PathBuf>, CommitError> {
        self.commit_failing_at(files, &[], None)
    }

    /// [`commit`](Self::commit), and lists the folder's existing files `keep` in the manifest
    /// as part of the run (for `assign --force` into a fit's folder, whose `model.json` stays
    /// usable). A name in `keep` that is not a file in the folder is left out.
    pub fn commit_keeping(
        self,
        files: Vec<Staged>,
        keep: &[&str],
    ) -> Result<Vec<PathBuf>, CommitError> {
        self.commit_failing_at(files, keep, None)
    }

    /// [`commit`](Self::commit), with an injected failure at `fail` (for tests of every step).
    #[doc(hidden)]
    pub fn commit_failing_at(
        mut self,
        files: Vec<Staged>,
        keep: &[&str],
        fail: Option<Step>,
    ) -> Result<Vec<PathBuf>, CommitError> {
        let inject = |step: Step| -> std::io::Result<()> {
            if fail == Some(step) {
                Err(std::io::Error::other(format!(
                    "injected failure at {step:?}"
                )))
            } else {
                Ok(())
            }
        };
        let previous = Manifest::read(&self.dir).ok().flatten();
        let mut listed: BTreeMap<String, FileDigest> = BTreeMap::new();
        for name in keep {
            let path = self.dir.join(name);
            if path.is_file() {
                let bytes = std::fs::read(&path)
                    .map_err(|error| CommitError::Write(WriteError { path, error }))?;
                listed.insert((*name).to_owned(), digest_of(&bytes));
            }
        }
        listed.extend(files.iter().map(|f| (f.name.clone(), f.digest.clone())));
        let manifest = Manifest {
            manifest_version: 1,
            command: self.command.to_owned(),
            files: listed,
        };
        let manifest = self
            .stage(MANIFEST, |w| crate::write::write_json(&manifest, w))
            .map_err(CommitError::Write)?;

        // 1. Backups of what will be replaced: hard links (a copy where the file system has
        // none). The manifest comes first, so it is the first file replaced.
        let mut order: Vec<&Staged> = files.iter().collect();
        order.insert(0, &manifest);
        let mut backups: Vec<(PathBuf, Option<PathBuf>)> = Vec::with_capacity(order.len());
        for (i, f) in order.iter().enumerate() {
            let target = self.dir.join(&f.name);
            let prev = self.dir.join(format!(".{}{PREV_SUFFIX}", f.name));
            let _ = std::fs::remove_file(&prev);
            let linked = if target.is_file() {
                let backed_up = inject(Step::Backup(i)).and_then(|()| {
                    std::fs::hard_link(&target, &prev)
                        .or_else(|_| std::fs::copy(&target, &prev).map(|_| ()))
                });
                match backed_up {
                    Ok(()) => Some(prev),
                    Err(error) => {
                        self.remove_backups(&backups);
                        return Err(CommitError::Write(WriteError {
                            path: target,
                            error,
                        }));
                    }
                }
            } else {
                None
            };
            backups.push((target, linked));
        }

        // 2 and 3. The manifest, then each file over its final name.
        let mut written = Vec::with_capacity(files.len());
        for (i, f) in order.iter().enumerate() {
            let target = &backups[i].0;
            let result = inject(Step::Replace(i)).and_then(|()| std::fs::rename(&f.tmp, target));
            if let Err(error) = result {
                return Err(self.roll_back(
                    &backups,
                    i,
                    target.clone(),
                    error,
                    &order[1.min(i)..i],
                ));
            }
            if i > 0 {
                written.push(target.clone());
            }
        }
        if let Err(error) = inject(Step::SyncDir).and_then(|()| sync_dir(&self.dir)) {
            return Err(self.roll_back(
                &backups,
                backups.len(),
                self.dir.clone(),
                error,
                &order[1..],
            ));
        }

        // 4. The backups are no longer needed, nor what this run supersedes.
        self.remove_backups(&backups);
        self.committed = true;
        if let Some(previous) = previous {
            for name in &self.superseded {
                if previous.files.contains_key(name) && !files.iter().any(|f| &f.name == name) {
                    let _ = std::fs::remove_file(self.dir.join(name));
                }
            }
        }
        Ok(written)
    }

    /// Puts back the earlier files after a failed replace: the first `done` of `backups` were
    /// already replaced; the others' backups are removed.
    fn roll_back(
        &self,
        backups: &[(PathBuf, Option<PathBuf>)],
        done: usize,
        path: PathBuf,
        error: std::io::Error,
        replaced: &[&Staged],
    ) -> CommitError {
        self.remove_backups(&backups[done..]);
        let mut restore_error = None;
        for (target, prev) in backups[..done].iter().rev() {
            let r = match prev {
                Some(prev) => std::fs::rename(prev, target),
                None => std::fs::remove_file(target),
            };
            if let Err(e) = r {
                restore_error.get_or_insert(e);
            }
        }
        let _ = sync_dir(&self.dir);
        match restore_error {
            None => CommitError::RolledBack {
                dir: self.dir.clone(),
                path,
                error,
            },
            Some(restore_error) => CommitError::Mixed {
                dir: self.dir.clone(),
                path,
                error,
                restore_error,
                replaced: replaced.iter().map(|f| f.name.clone()).collect(),
            },
        }
    }

    fn remove_backups(&self, backups: &[(PathBuf, Option<PathBuf>)]) {
        for (_, prev) in backups {
            if let Some(p) = prev {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

impl Drop for RunDir {
    /// A run that never committed removes the folder it created, when nothing else is in it
    /// (so a failed first run leaves no empty folder behind).
    fn drop(&mut self) {
        if self.committed || !self.created {
            return;
        }
        let only_lock = std::fs::read_dir(&self.dir).is_ok_and(|entries| {
            entries.flatten().all(|e| {
                e.file_name() == LOCK || e.file_name().to_str().is_some_and(is_staged_name)
            })
        });
        if only_lock {
            self.sweep();
            let _ = std::fs::remove_file(self.dir.join(LOCK));
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// A file of a run: its name in the output folder and a function that writes its content.
pub type FileWriter<'a> = (
    &'a str,
    Box<dyn FnOnce(&mut (dyn Write + Send)) -> std::io::Result<()> + 'a>,
);

/// Writes a whole run into `dir` in one commit: opens it ([`RunDir::open`], calling `waiting`
/// if another run holds it), stages every file and commits them together.
pub fn write_run(
    dir: &Path,
    command: &'static str,
    files: Vec<FileWriter<'_>>,
    waiting: impl FnOnce(),
) -> Result<Vec<PathBuf>, CommitError> {
    let run = RunDir::open(dir, command, waiting)?;
    let mut staged = Vec::with_capacity(files.len());
    for (name, write) in files {
        staged.push(run.stage(name, write)?);
    }
    run.commit(staged)
}

/// Whether `name` is a staged temporary's name: `.NAME.XXXXXX.tmp`.
fn is_staged_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX) && name[1..].contains('.')
}

/// Syncs the folder itself, so the renames in it survive a power loss.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
