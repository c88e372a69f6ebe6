//! Where plugins are looked for, and which files count as plugins.
//!
//! Folders, in order: the folder of the running executable, each entry of
//! `STRATA_PLUGIN_PATH` (the platform's path-list syntax), then each `--plugin-dir`. Only files
//! named like `libstrata_strategy_NAME.so` (`.dylib` on macOS, `strata_strategy_NAME.dll` on
//! Windows) are loaded: that is what `cargo build` makes of a crate named
//! `strata-strategy-NAME`, and it keeps the host from running arbitrary libraries it happens to
//! find. When two files declare the same strategy, the first found wins and the other is listed
//! as refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{HostError, Plugin};

const STEM_PREFIX: &str = "strata_strategy_";

/// The file name `cargo build` gives the plugin crate `strata-strategy-{stem}`.
pub fn plugin_file_name(stem: &str) -> String {
    format!(
        "{}{STEM_PREFIX}{}{}",
        std::env::consts::DLL_PREFIX,
        stem.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    )
}

/// Whether `path` is named like a Strata strategy plugin.
pub fn is_plugin_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.strip_prefix(std::env::consts::DLL_PREFIX)
        .and_then(|n| n.strip_suffix(std::env::consts::DLL_SUFFIX))
        .is_some_and(|stem| stem.len() > STEM_PREFIX.len() && stem.starts_with(STEM_PREFIX))
}

/// The folders to search, in order, without repeats.
pub fn search_dirs(env_path: Option<&std::ffi::OsStr>, plugin_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    if let Some(p) = env_path {
        dirs.extend(std::env::split_paths(p).filter(|d| !d.as_os_str().is_empty()));
    }
    dirs.extend(plugin_dirs.iter().cloned());
    let mut seen = Vec::new();
    dirs.retain(|d| {
        let key = d.canonicalize().unwrap_or_else(|_| d.clone());
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
    dirs
}

/// Why a plugin file must not be loaded because of who can change it: a file any user can
/// write could be replaced with code that then runs inside `strata`.
#[cfg(unix)]
fn unsafe_permissions(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o002 != 0).then(|| {
        format!(
            "the file is writable by other users (mode {:o}); run `chmod o-w {}` if you trust it",
            mode & 0o777,
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn unsafe_permissions(_path: &Path) -> Option<String> {
    None
}

/// A file that looked like a plugin but was not loaded, and why.
#[derive(Debug)]
pub struct Refused {
    /// The file.
    pub path: PathBuf,
    /// Why it was not loaded, for the user (without the file name).
    pub reason: String,
}

/// The plugins found in a set of folders.
#[derive(Debug, Default)]
pub struct Registry {
    /// The folders searched, in order.
    pub dirs: Vec<PathBuf>,
    /// The plugins loaded, in the order found; each strategy name once.
    pub plugins: Vec<Arc<Plugin>>,
    /// Plugin-named files that were not loaded.
    pub refused: Vec<Refused>,
}

impl Registry {
    /// Loads every plugin file in `dirs` (a folder that does not exist is skipped).
    pub fn discover(dirs: &[PathBuf]) -> Registry {
        let mut reg = Registry {
            dirs: dirs.to_vec(),
            ..Default::default()
        };
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_plugin_file(p))
                .collect();
            files.sort();
            for path in files {
                if let Some(reason) = unsafe_permissions(&path) {
                    reg.refused.push(Refused { path, reason });
                    continue;
                }
                match Plugin::load(&path) {
                    Ok(p) => {
                        if let Some(first) = reg.plugins.iter().find(|q| q.name() == p.name()) {
                            reg.refused.push(Refused {
                                reason: format!(
                                    "strategy '{}' is already provided by {}",
                                    p.name(),
                                    first.info().path.display()
                                ),
                                path,
                            });
                        } else {
                            reg.plugins.push(Arc::new(p));
                        }
                    }
                    Err(e) => {
                        // The listing already names the file; keep the reason alone.
                        let text = e.to_string();
                        let prefix = format!("{}: ", path.display());
                        let reason = text
                            .strip_prefix(&prefix)
                            .map_or(text.clone(), str::to_owned);
                        reg.refused.push(Refused { path, reason });
                    }
                }
            }
        }
        reg
    }

    /// The plugin providing strategy `name`; the error lists what is available and, if a
    /// refused file looks like it, why it was refused.
    pub fn find(&self, name: &str) -> Result<Arc<Plugin>, HostError> {
        if let Some(p) = self.plugins.iter().find(|p| p.name() == name) {
            return Ok(Arc::clone(p));
        }
        // A refused file named after the strategy is almost certainly the one wanted.
        let wanted = plugin_file_name(name);
        if let Some(r) = self
            .refused
            .iter()
            .find(|r| r.path.file_name().is_some_and(|f| f == wanted.as_str()))
        {
            return Err(HostError::Load {
                path: r.path.clone(),
                message: r.reason.clone(),
            });
        }
        let mut names: Vec<&str> = self.plugins.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        let available = if names.is_empty() {
            format!(
                "none (searched {})",
                self.dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            names.join(", ")
        };
        Err(HostError::UnknownStrategy {
            name: name.to_owned(),
            available,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_file_names() {
        let name = plugin_file_name("demographic");
        assert!(is_plugin_file(Path::new(&name)), "{name}");
        assert!(!is_plugin_file(Path::new(&plugin_file_name("")[..])));
        assert!(!is_plugin_file(Path::new(
            "libstrata_testplugin_bad_abi.so"
        )));
        assert!(!is_plugin_file(Path::new("strata")));
    }

    #[test]
    fn search_dirs_keep_order_and_drop_repeats() {
        let dirs = search_dirs(
            Some(std::ffi::OsStr::new("/a:/b::/a")),
            &[PathBuf::from("/c"), PathBuf::from("/b")],
        );
        let tail: Vec<_> = dirs.iter().skip(1).map(|d| d.to_str().unwrap()).collect();
        assert_eq!(tail, vec!["/a", "/b", "/c"]);
    }

    #[test]
    fn a_non_plugin_library_is_refused_with_a_reason() {
        let dir = std::env::temp_dir().join(format!("strata-host-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(plugin_file_name("junk")), b"not a library").unwrap();
        let reg = Registry::discover(std::slice::from_ref(&dir));
        assert!(reg.plugins.is_empty());
        assert_eq!(reg.refused.len(), 1);
        assert!(
            reg.refused[0].reason.contains("cannot load the library"),
            "{}",
            reg.refused[0].reason
        );
        let err = reg.find("junk").unwrap_err().to_string();
        assert!(err.contains("cannot load"), "{err}");
        let err = reg.find("other").unwrap_err().to_string();
        assert!(err.contains("unknown strategy 'other'"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
