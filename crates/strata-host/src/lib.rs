//! Finds, loads and calls strategy plugins. The only crate in Strata that loads libraries.
//!
//! A plugin is untrusted code at a boundary, so this crate:
//! - reads the header's magic and ABI version before anything else and refuses another major
//!   version, naming the file and both versions;
//! - copies everything the plugin describes into owned Rust values and validates it (UTF-8,
//!   lengths, kinds, flags) before anyone sees it;
//! - allocates every output buffer itself and validates what comes back: feature counts and
//!   names, JSON state, finite feature values, label text;
//! - marks a plugin dead once it has panicked (the SDK turns a panic into a status code) and
//!   refuses further calls to it;
//! - keeps each library loaded for as long as a [`Plugin`] handle to it exists. Nothing a
//!   plugin returns is borrowed past a call (sinks copy), so no returned data outlives it.
//!
//! What it cannot do: protect against a plugin that writes through wild pointers or aborts.
//! Loading a plugin runs its code; only load files you trust as much as the `strata` binary.

mod call;
pub mod declared;
mod discover;
mod trust;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use libloading::Library;
use strata_abi::{self as abi, PluginHeader, RoleSpecV1, StrRef, StrategyTableV1};
pub use strata_abi::{ColumnKind, Metric};

pub use call::{
    Batch, BatchColumn, BatchValues, CategoricalProfile, FitOutput, NumericProfile, Profile,
};
pub use discover::{Refused, Registry, SearchPath, is_plugin_file, plugin_file_name, search_dirs};

/// Plugin ABI version this host speaks.
pub const HOST_ABI: (u16, u16) = (abi::ABI_MAJOR, abi::ABI_MINOR);

/// Why a plugin could not be loaded, found or called.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The operating system's loader refused the file (or, from [`Registry::find`], the file was
    /// refused earlier).
    #[error("{path}: cannot load the library: {message}")]
    Load {
        /// The plugin file.
        path: PathBuf,
        /// The loader's message, or the reason the file was refused.
        message: String,
    },
    /// The library exports no [`ENTRY_SYMBOL`](abi::ENTRY_SYMBOL).
    #[error("{path}: not a Strata plugin (no `strata_plugin_entry` symbol)")]
    NoEntry {
        /// The library file.
        path: PathBuf,
    },
    /// The entry returned no header, or one without the magic number or a function table.
    #[error("{path}: not a Strata plugin ({reason})")]
    NotAPlugin {
        /// The library file.
        path: PathBuf,
        /// What was missing or wrong.
        reason: String,
    },
    /// The plugin was built for another ABI major version.
    #[error(
        "{path}: plugin ABI version {}.{} is not supported by this strata (ABI {}.{}); \
         rebuild the plugin against strata-plugin-api {}.x",
        plugin.0, plugin.1, host.0, host.1, host.0
    )]
    AbiMismatch {
        /// The plugin file.
        path: PathBuf,
        /// The plugin's ABI version, (major, minor).
        plugin: (u16, u16),
        /// This host's ABI version, [`HOST_ABI`].
        host: (u16, u16),
    },
    /// The plugin's description breaks the ABI's rules (a bad name, kind, flag or length).
    #[error("{path}: invalid plugin description: {what}")]
    Invalid {
        /// The plugin file.
        path: PathBuf,
        /// Which rule was broken, and by what.
        what: String,
    },
    /// The plugin reported an error, e.g. it rejected its input or options.
    #[error("strategy '{strategy}' failed in {call}: {message}")]
    Failed {
        /// The strategy's name.
        strategy: String,
        /// The call that failed: `"fit"`, `"transform"`, `"label"` or `"preprocessing"`.
        call: &'static str,
        /// The plugin's message, trimmed and cut to 2000 characters.
        message: String,
    },
    /// The plugin panicked; it is dead from then on.
    #[error(
        "strategy '{strategy}' panicked in {call}: {message}; the plugin is disabled for this run"
    )]
    Panicked {
        /// The strategy's name.
        strategy: String,
        /// The call that panicked: `"fit"`, `"transform"`, `"label"` or `"preprocessing"`.
        call: &'static str,
        /// The panic message, with its location when known.
        message: String,
    },
    /// A call to a plugin that panicked earlier.
    #[error("strategy '{strategy}' is disabled after an earlier panic")]
    Dead {
        /// The strategy's name.
        strategy: String,
    },
    /// The plugin returned something the host refuses: a wrong count, a bad name, non-UTF-8 text,
    /// invalid JSON or a non-finite feature.
    #[error("strategy '{strategy}' returned invalid {call} output: {what}")]
    BadOutput {
        /// The strategy's name.
        strategy: String,
        /// The call whose output was refused: `"fit"`, `"transform"`, `"label"` or `"preprocessing"`.
        call: &'static str,
        /// What was wrong with it.
        what: String,
    },
    /// The plugin's `transform` wrote a feature that is not a finite number.
    #[error(
        "strategy '{strategy}' returned invalid transform output: feature {} of row {} is \
         {value} (every feature must be a finite number)",
        feature + 1,
        row + 1
    )]
    NonFinite {
        /// The strategy's name.
        strategy: String,
        /// The feature's index (0-based).
        feature: usize,
        /// The row's index in the batch handed to the call (0-based).
        row: usize,
        /// The value written.
        value: f32,
    },
    /// No loaded plugin provides the strategy asked for.
    #[error(
        "unknown strategy '{name}'; available: {available}. `strata plugins` lists what was found and what was refused"
    )]
    UnknownStrategy {
        /// The name asked for.
        name: String,
        /// The strategies loaded, comma-separated, or `none (searched …)` naming the folders.
        available: String,
    },
}

/// One input role, as a plugin declared it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleInfo {
    /// The role's name, as bound with `--map NAME=COLUMN`.
    pub name: String,
    /// The kind of values the role takes.
    pub kind: ColumnKind,
    /// The user must bind the role.
    pub required: bool,
    /// The role binds a group of columns.
    pub multi: bool,
    /// Left unbound, the role takes every numeric column but the id.
    pub default_all_numeric: bool,
    /// A value measure (ABI 1.2): segments report their share of its total.
    pub value: bool,
    /// Personal data (ABI 1.2): never in outputs, profiles, labels or logs.
    pub personal: bool,
    /// One line for `strata plugins`.
    pub description: String,
}

/// What a plugin says about itself, copied and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginInfo {
    /// The strategy's name, as given to `--strategy`: lowercase letters, digits, `-` or `_`.
    pub name: String,
    /// The strategy's version (free text, non-empty).
    pub version: String,
    /// One line for `strata plugins`.
    pub description: String,
    /// The ABI version the plugin was built against, (major, minor).
    pub abi: (u16, u16),
    /// The input roles, in the plugin's order; at least one, names unique.
    pub roles: Vec<RoleInfo>,
    /// How feature vectors are compared.
    pub metric: Metric,
    /// Number of segments used when the user gives no `-k`; at least 1.
    pub default_k: u32,
    /// Longer documentation (ABI 1.1; empty for 1.0 plugins).
    pub docs: String,
    /// The file the plugin was loaded from.
    pub path: PathBuf,
}

/// A loaded plugin. Cloning shares the library, which stays loaded while any clone lives.
pub struct Plugin {
    info: PluginInfo,
    fit: abi::FitFnV1,
    transform: abi::TransformFnV1,
    label: abi::LabelFnV1,
    /// ABI 1.3: the preprocessing as data; `None` for older tables or when not provided.
    preprocessing: Option<abi::PreprocessingFnV1>,
    /// ABI 1.4: which features are categorical codes; `None` for older tables or when not
    /// provided.
    categorical: Option<abi::CategoricalFnV1>,
    dead: AtomicBool,
    // Last field: dropped after everything that points into it.
    _lib: Arc<Library>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// What the plugin says about itself, validated.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The strategy's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Whether the plugin has panicked; every call then fails with [`HostError::Dead`].
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Loads the library at `path`, once it is judged safe to load (no other user could have
    /// written it or the folders above it), and reads its description.
    pub fn load(path: &Path) -> Result<Plugin, HostError> {
        let trusted = trust::open_trusted(path).map_err(|message| HostError::Load {
            path: path.to_owned(),
            message,
        })?;
        Plugin::load_trusted(trusted, path)
    }

    /// Loads the judged, open file `trusted` (found at `path`) and reads its description.
    pub(crate) fn load_trusted(trusted: trust::Trusted, path: &Path) -> Result<Plugin, HostError> {
        // SAFETY: loading a library runs its initialisers. That is the trust the user gives
        // a file by putting it in a plugin folder (documented in `strata plugins --help`);
        // we load only files named like Strata plugins, from the folders the user chose, that
        // no other user could have written (`trust`), and exactly the file that was judged.
        let load_path = trusted.load_path();
        let lib = unsafe { Library::new(&load_path) }.map_err(|e| HostError::Load {
            path: path.to_owned(),
            // The loader names the descriptor it was given; the user knows the file.
            message: e.to_string().replace(
                &load_path.display().to_string(),
                &path.display().to_string(),
            ),
        })?;
        trusted.keep_open();
        // SAFETY: the symbol's type is fixed by ABI rule 1 for every version: a C function
        // with no arguments returning a pointer to the frozen header layout.
        let entry: libloading::Symbol<'_, unsafe extern "C" fn() -> *const PluginHeader> =
            unsafe { lib.get(abi::ENTRY_SYMBOL) }.map_err(|_| HostError::NoEntry {
                path: path.to_owned(),
            })?;
        // SAFETY: calling the entry is the first use the ABI defines; SDK plugins catch any
        // panic inside it and return null instead.
        let header = unsafe { entry() };
        if header.is_null() {
            return Err(HostError::NotAPlugin {
                path: path.to_owned(),
                reason: "its entry returned no header".into(),
            });
        }
        // SAFETY: non-null, and the header layout is frozen across versions; we read only
        // the magic and the version before deciding anything else.
        let (magic, major, minor, table) = unsafe {
            (
                (*header).magic,
                (*header).abi_major,
                (*header).abi_minor,
                (*header).table,
            )
        };
        if magic != abi::MAGIC {
            return Err(HostError::NotAPlugin {
                path: path.to_owned(),
                reason: format!("bad magic number {magic:#x}"),
            });
        }
        if major != abi::ABI_MAJOR {
            return Err(HostError::AbiMismatch {
                path: path.to_owned(),
                plugin: (major, minor),
                host: HOST_ABI,
            });
        }
        if table.is_null() {
            return Err(HostError::NotAPlugin {
                path: path.to_owned(),
                reason: "its header has no function table".into(),
            });
        }
        let table = table.cast::<StrategyTableV1>();
        // SAFETY: major version 1 promises a `StrategyTableV1` prefix that starts with `size`.
        let size = unsafe { (*table).size };
        if size < abi::TABLE_V1_0_SIZE {
            return Err(HostError::Invalid {
                path: path.to_owned(),
                what: format!(
                    "function table of {size} bytes is smaller than ABI 1.0's {}",
                    abi::TABLE_V1_0_SIZE
                ),
            });
        }
        // SAFETY: `size` covers every ABI 1.0 field and the plugin keeps the table alive as
        // long as the library is loaded (ABI rule 3). Only the 1.0 prefix is read through this
        // reference; later fields are read below only when `size` covers them.
        let t = unsafe { &*table };
        let mut info = read_info(path, t, (major, minor))?;
        if size >= abi::TABLE_V1_1_SIZE {
            // SAFETY: `size` says the plugin's table has the 1.1 `docs` field.
            let docs = unsafe { std::ptr::addr_of!((*table).docs).read() };
            info.docs = read_str(path, docs, "the documentation", 64 * 1024)?;
        }
        let preprocessing = if size >= abi::TABLE_V1_3_SIZE {
            // SAFETY: `size` says the plugin's table has the 1.3 `preprocessing` field.
            unsafe { std::ptr::addr_of!((*table).preprocessing).read() }
        } else {
            None
        };
        let categorical = if size >= abi::TABLE_V1_4_SIZE {
            // SAFETY: `size` says the plugin's table has the 1.4 `categorical` field.
            unsafe { std::ptr::addr_of!((*table).categorical).read() }
        } else {
            None
        };
        Ok(Plugin {
            preprocessing,
            categorical,
            info,
            fit: t.fit,
            transform: t.transform,
            label: t.label,
            dead: AtomicBool::new(false),
            _lib: Arc::new(lib),
        })
    }
}

fn invalid(path: &Path, what: impl Into<String>) -> HostError {
    HostError::Invalid {
        path: path.to_owned(),
        what: what.into(),
    }
}

/// Copies a plugin string, checking pointer, length and UTF-8.
fn read_str(path: &Path, s: StrRef, what: &str, max: usize) -> Result<String, HostError> {
    if s.len > max {
        return Err(invalid(
            path,
            format!("{what} is {} bytes long (at most {max})", s.len),
        ));
    }
    if s.ptr.is_null() && s.len > 0 {
        return Err(invalid(path, format!("{what} is a null pointer")));
    }
    // SAFETY: non-null (or empty) and bounded above; the plugin promises the bytes live as
    // long as the library (ABI rule 3). We copy them at once.
    let bytes = unsafe { s.as_bytes() };
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| invalid(path, format!("{what} is not UTF-8")))
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn read_info(path: &Path, t: &StrategyTableV1, abi: (u16, u16)) -> Result<PluginInfo, HostError> {
    let name = read_str(path, t.name, "the strategy name", 64)?;
    if !valid_name(&name) {
        return Err(invalid(
            path,
            format!("strategy name '{name}' must be lowercase letters, digits, '-' or '_'"),
        ));
    }
    let version = read_str(path, t.version, "the version", 64)?;
    if version.is_empty() {
        return Err(invalid(path, "the version is empty"));
    }
    let description = read_str(path, t.description, "the description", 4096)?;
    const MAX_ROLES: usize = 256;
    if t.n_roles > MAX_ROLES {
        return Err(invalid(
            path,
            format!("{} roles (at most {MAX_ROLES})", t.n_roles),
        ));
    }
    if t.n_roles == 0 {
        return Err(invalid(path, "it declares no input roles"));
    }
    if t.roles.is_null() {
        return Err(invalid(path, "the role list is a null pointer"));
    }
    // SAFETY: non-null, `n_roles` is bounded, and the array lives as long as the library.
    let raw: &[RoleSpecV1] = unsafe { std::slice::from_raw_parts(t.roles, t.n_roles) };
    let mut roles = Vec::with_capacity(raw.len());
    // A flag means something only from the minor version that defined it on.
    let known = abi::known_role_flags(abi.1);
    for r in raw {
        let rname = read_str(path, r.name, "a role name", 64)?;
        if !valid_name(&rname) || roles.iter().any(|x: &RoleInfo| x.name == rname) {
            return Err(invalid(
                path,
                format!("role name '{rname}' is empty, malformed or repeated"),
            ));
        }
        let kind = ColumnKind::from_raw(r.kind)
            .ok_or_else(|| invalid(path, format!("role '{rname}' has unknown kind {}", r.kind)))?;
        if r.flags & !known != 0 {
            return Err(invalid(
                path,
                format!(
                    "role '{rname}' has flags {:#x} unknown to ABI {}.{}",
                    r.flags & !known,
                    abi.0,
                    abi.1
                ),
            ));
        }
        let default_all_numeric = r.flags & abi::ROLE_DEFAULT_ALL_NUMERIC != 0;
        if default_all_numeric && kind != ColumnKind::Numeric {
            return Err(invalid(
                path,
                format!("role '{rname}' takes all numeric columns but is not numeric"),
            ));
        }
        roles.push(RoleInfo {
            description: read_str(path, r.description, "a role description", 4096)?,
            name: rname,
            kind,
            required: r.flags & abi::ROLE_REQUIRED != 0,
            multi: r.flags & abi::ROLE_MULTI != 0,
            default_all_numeric,
            value: r.flags & abi::ROLE_VALUE != 0,
            personal: r.flags & abi::ROLE_PERSONAL != 0,
        });
    }
    let metric = Metric::from_raw(t.metric)
        .ok_or_else(|| invalid(path, format!("unknown metric {}", t.metric)))?;
    if t.default_k == 0 {
        return Err(invalid(path, "default k is 0"));
    }
    Ok(PluginInfo {
        name,
        version,
        description,
        abi,
        roles,
        metric,
        default_k: t.default_k,
        docs: String::new(),
        path: path.to_owned(),
    })
}
