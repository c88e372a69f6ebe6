//! Where plugins are looked for, and which files count as plugins.
//!
//! Folders, in order: the folder of the running executable, each entry of
//! `STRATA_PLUGIN_PATH` (the platform's path-list syntax; relative entries are ignored, since
//! they would resolve against whatever folder `strata` is run from), then each `--plugin-dir`.
//! Only files named like `libstrata_strategy_NAME.so` (`.dylib` on macOS,
//! `strata_strategy_NAME.dll` on Windows) are loaded: that is what `cargo build` makes of a crate
//! named `strata-strategy-NAME`, and it keeps the host from running arbitrary libraries it
//! happens to find. A command that runs one strategy loads only that strategy's file
//! ([`Registry::on_demand`]); `strata plugins` loads them all ([`Registry::discover`]). Every
//! file is judged by [`crate::trust`] before it is loaded. When two files declare the same
//! strategy, the first found wins and the other is listed as refused.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

/// The strategy a plugin file is named for: `libstrata_strategy_NAME.so` → `NAME`.
fn strategy_of_file(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let stem = name
        .strip_prefix(std::env::consts::DLL_PREFIX)?
        .strip_suffix(std::env::consts::DLL_SUFFIX)?
        .strip_prefix(STEM_PREFIX)?;
    Some(stem.to_owned())
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

/// The folders to search, and the `STRATA_PLUGIN_PATH` entries left out.
#[derive(Debug, Clone, Default)]
pub struct SearchPath {
    /// The folders to search, in order, without repeats.
    pub dirs: Vec<PathBuf>,
    /// Entries of `STRATA_PLUGIN_PATH` that are not searched, and why.
    pub ignored: Vec<Refused>,
}

/// The folders to search, in order, without repeats: the executable's folder, the absolute
/// entries of `STRATA_PLUGIN_PATH` (`env_path`), then `plugin_dirs` (given on the command line,
/// so a relative one is meant: it is made absolute against the current folder).
pub fn search_dirs(env_path: Option<&std::ffi::OsStr>, plugin_dirs: &[PathBuf]) -> SearchPath {
    let mut found = SearchPath::default();
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    if let Some(p) = env_path {
        for d in std::env::split_paths(p).filter(|d| !d.as_os_str().is_empty()) {
            if d.is_absolute() {
                dirs.push(d);
            } else {
                found.ignored.push(Refused {
                    reason: format!(
                        "STRATA_PLUGIN_PATH entry '{}' is relative: it would load code from \
                         whatever folder strata is run in; give an absolute path",
                        d.display()
                    ),
                    path: d,
                });
            }
        }
    }
    dirs.extend(
        plugin_dirs
            .iter()
            .map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone())),
    );
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
    found.dirs = dirs;
    found
}

/// A file that looked like a plugin but was not loaded, and why.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The file.
    pub path: PathBuf,
    /// Why it was not loaded, for the user (without the file name).
    pub reason: String,
}

/// The plugins found in a set of folders: all of them ([`discover`](Registry::discover)), or
/// each strategy's file when it is first asked for ([`on_demand`](Registry::on_demand)).
#[derive(Debug, Default)]
pub struct Registry {
    dirs: Vec<PathBuf>,
    on_demand: bool,
    found: Mutex<Found>,
}

#[derive(Debug, Default)]
struct Found {
    plugins: Vec<Arc<Plugin>>,
    refused: Vec<Refused>,
    /// Strategies already looked for (on demand).
    looked_for: Vec<String>,
}

/// Whether `name` can be a strategy's name: what `--strategy` accepts, and what keeps a file
/// name built from it inside the plugin folder.
fn valid_strategy_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Registry {
    /// Loads every plugin file in `dirs` (a folder that does not exist is skipped): for
    /// `strata plugins`, which lists them.
    pub fn discover(dirs: &[PathBuf]) -> Registry {
        let mut found = Found::default();
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
                found.load(path, None);
            }
        }
        Registry {
            dirs: dirs.to_vec(),
            on_demand: false,
            found: Mutex::new(found),
        }
    }

    /// A registry that loads nothing until [`find`](Self::find) asks for a strategy, and then
    /// only that strategy's file (the first trusted one in `dirs`): for the commands that run
    /// one strategy, so no other plugin's code runs.
    pub fn on_demand(dirs: &[PathBuf]) -> Registry {
        Registry {
            dirs: dirs.to_vec(),
            on_demand: true,
            found: Mutex::default(),
        }
    }

    /// The folders searched, in order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The plugins loaded, in the order found; each strategy name once.
    pub fn plugins(&self) -> Vec<Arc<Plugin>> {
        self.found
            .lock()
            .map(|f| f.plugins.clone())
            .unwrap_or_default()
    }

    /// Plugin-named files that were not loaded, and why.
    pub fn refused(&self) -> Vec<Refused> {
        self.found
            .lock()
            .map(|f| f.refused.clone())
            .unwrap_or_default()
    }

    /// The plugin providing strategy `name`; the error lists what is available and, if a
    /// refused file looks like it, why it was refused.
    pub fn find(&self, name: &str) -> Result<Arc<Plugin>, HostError> {
        let Ok(mut found) = self.found.lock() else {
            return Err(HostError::UnknownStrategy {
                name: name.to_owned(),
                available: "none (the plugin registry is unusable after a panic)".to_owned(),
            });
        };
        if self.on_demand
            && valid_strategy_name(name)
            && !found.looked_for.iter().any(|n| n == name)
        {
            found.looked_for.push(name.to_owned());
            let file = plugin_file_name(name);
            for dir in &self.dirs {
                let path = dir.join(&file);
                if std::fs::symlink_metadata(&path).is_ok() && found.load(path, Some(name)) {
                    break;
                }
            }
        }
        if let Some(p) = found.plugins.iter().find(|p| p.name() == name) {
            return Ok(Arc::clone(p));
        }
        // A refused file named after the strategy is almost certainly the one wanted.
        let wanted = plugin_file_name(name);
        if let Some(r) = found
            .refused
            .iter()
            .find(|r| r.path.file_name().is_some_and(|f| f == wanted.as_str()))
        {
            return Err(HostError::Load {
                path: r.path.clone(),
                message: r.reason.clone(),
            });
        }
        let available = if self.on_demand {
            // Named from the files there, none of which is loaded (their code does not run).
            let mut names: Vec<String> = self
                .dirs
                .iter()
                .filter_map(|d| std::fs::read_dir(d).ok())
                .flat_map(|entries| entries.flatten().map(|e| e.path()))
                .filter(|p| is_plugin_file(p))
                .filter_map(|p| strategy_of_file(&p))
                .collect();
            names.sort_unstable();
            names.dedup();
            if names.is_empty() {
                format!("none (searched {})", self.dir_list())
            } else {
                format!("{} (by file name)", names.join(", "))
            }
        } else {
            let mut names: Vec<&str> = found.plugins.iter().map(|p| p.name()).collect();
            names.sort_unstable();
            if names.is_empty() {
                format!("none (searched {})", self.dir_list())
            } else {
                names.join(", ")
            }
        };
        Err(HostError::UnknownStrategy {
            name: name.to_owned(),
            available,
        })
    }

    fn dir_list(&self) -> String {
        self.dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Found {
    /// Judges and loads one file; `expect`: the strategy it must declare (on demand). Returns
    /// whether it was loaded.
    fn load(&mut self, path: PathBuf, expect: Option<&str>) -> bool {
        let trusted = match crate::trust::open_trusted(&path) {
            Ok(t) => t,
            Err(reason) => {
                self.refused.push(Refused { path, reason });
                return false;
            }
        };
        match Plugin::load_trusted(trusted, &path) {
            Ok(p) => {
                if let Some(name) = expect.filter(|&n| n != p.name()) {
                    self.refused.push(Refused {
                        reason: format!(
                            "the file is named for strategy '{name}' but declares '{}'",
                            p.name()
                        ),
                        path,
                    });
                    false
                } else if let Some(first) = self.plugins.iter().find(|q| q.name() == p.name()) {
                    self.refused.push(Refused {
                        reason: format!(
                            "strategy '{}' is already provided by {}",
                            p.name(),
                            first.info().path.display()
                        ),
                        path,
                    });
                    false
                } else {
                    self.plugins.push(Arc::new(p));
                    true
                }
            }
            Err(e) => {
                // The listing already names the file; keep the reason alone.
                let text = e.to_string();
                let prefix = format!("{}: ", path.display());
                let reason = text
                    .strip_prefix(&prefix)
                    .map_or(text.clone(), str::to_owned);
                self.refused.push(Refused { path, reason });
                false
            }
        }
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
        let found = search_dirs(
            Some(std::ffi::OsStr::new("/a:/b::/a:.:plugins:../x")),
            &[PathBuf::from("/c"), PathBuf::from("/b")],
        );
        let tail: Vec<_> = found
            .dirs
            .iter()
            .skip(1)
            .map(|d| d.to_str().unwrap())
            .collect();
        assert_eq!(tail, vec!["/a", "/b", "/c"]);
        let ignored: Vec<_> = found
            .ignored
            .iter()
            .map(|r| r.path.to_str().unwrap())
            .collect();
        assert_eq!(ignored, vec![".", "plugins", "../x"]);
        assert!(found.ignored[0].reason.contains("relative"));
    }

    #[test]
    fn a_non_plugin_library_is_refused_with_a_reason() {
        let dir = std::env::temp_dir().join(format!("strata-host-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(plugin_file_name("junk")), b"not a library").unwrap();
        let reg = Registry::discover(std::slice::from_ref(&dir));
        assert!(reg.plugins().is_empty());
        assert_eq!(reg.refused().len(), 1);
        assert!(
            reg.refused()[0].reason.contains("cannot load the library"),
            "{}",
            reg.refused()[0].reason
        );
        let err = reg.find("junk").unwrap_err().to_string();
        assert!(err.contains("cannot load"), "{err}");
        let err = reg.find("other").unwrap_err().to_string();
        assert!(err.contains("unknown strategy 'other'"), "{err}");
        // On demand, only the asked-for file is opened; a name that is no strategy's opens none.
        let lazy = Registry::on_demand(std::slice::from_ref(&dir));
        assert!(lazy.find("other").is_err() && lazy.refused().is_empty());
        assert!(lazy.find("../junk").is_err() && lazy.refused().is_empty());
        let err = lazy.find("junk").unwrap_err().to_string();
        assert!(err.contains("cannot load"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
