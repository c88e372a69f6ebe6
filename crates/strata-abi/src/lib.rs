//! The C ABI between the `strata` host and a strategy plugin, version 1: frozen, and a crate of
//! its own so that the host links the contract and nothing of the author SDK (which plugins
//! get from `strata-plugin-api`, re-exported there as `abi`).
//!
//! Everything here is `#[repr(C)]` and plain data: no Rust trait objects, no Rust-owned
//! collections cross the boundary. The rules, in the order the host applies them:
//!
//! 1. A plugin exports one symbol, [`ENTRY_SYMBOL`], an `extern "C" fn() -> *const PluginHeader`.
//! 2. The host reads [`PluginHeader::magic`] and the version (`abi_major`, `abi_minor`) **before
//!    anything else**. A different major version is refused without touching the table: the
//!    layout of everything after the header belongs to the major version.
//! 3. The function table starts with its own size in bytes and only ever grows at the end. A
//!    minor version adds fields after the last one; a host reads a field only if the table's
//!    `size` covers it, so old plugins work with new hosts and new plugins with old hosts.
//! 4. The host allocates every output buffer (the feature matrix) and hands the plugin a
//!    [`Sink`] for variable-length output (strings, JSON); the plugin copies into it. Each side
//!    frees only what it allocated.
//! 5. Every call returns a [`Status`]. A panic inside the plugin is caught by the SDK and
//!    reported as [`Status::Panicked`]; the host treats that plugin as dead from then on.
//! 6. The host validates every length, dimension, string and non-finite value a plugin returns.
//! 7. The host may call `transform` concurrently from several threads on disjoint row ranges, so
//!    a plugin keeps no mutable global state: what it learned in `fit` comes back as `state`.

use std::ffi::c_void;
use std::marker::PhantomData;

/// Name of the one exported symbol.
pub const ENTRY_SYMBOL: &[u8] = b"strata_plugin_entry\0";
/// "STRA" in ASCII: tells a Strata plugin header from a random symbol of the same name.
pub const MAGIC: u32 = 0x5354_5241;
/// Major version of this ABI. A host and a plugin interoperate only when majors are equal.
pub const ABI_MAJOR: u16 = 1;
/// Minor version: grows when fields are added at the end of the function table.
/// 1.1 added [`StrategyTableV1::docs`]; 1.2 added the role flags [`ROLE_VALUE`] and
/// [`ROLE_PERSONAL`]; 1.3 added [`StrategyTableV1::preprocessing`]; 1.4 added
/// [`StrategyTableV1::categorical`] and the host option [`CATEGORICAL_OPTION`].
pub const ABI_MINOR: u16 = 4;

/// The first thing the host reads. Its layout is frozen for every ABI version.
#[repr(C)]
pub struct PluginHeader {
    /// Always [`MAGIC`]; anything else is not a Strata plugin.
    pub magic: u32,
    /// ABI major version the plugin was built against; the host refuses any but its own.
    pub abi_major: u16,
    /// ABI minor version the plugin was built against: decides which role flags it may set.
    pub abi_minor: u16,
    /// Points to the function table of `abi_major` (for v1: [`StrategyTableV1`]).
    pub table: *const c_void,
}

/// Result code of every plugin call.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The call succeeded; its outputs are in the sinks (or the output buffer).
    Ok = 0,
    /// The plugin rejected the input or options; the message sink says why.
    Error = 1,
    /// The plugin panicked; the message sink has the panic message. The plugin is dead.
    Panicked = 2,
}

impl Status {
    /// The status for a raw return code, or `None` for a code this ABI does not define (the host
    /// then treats the plugin as dead).
    pub fn from_raw(raw: i32) -> Option<Status> {
        match raw {
            0 => Some(Status::Ok),
            1 => Some(Status::Error),
            2 => Some(Status::Panicked),
            _ => None,
        }
    }
}

/// A borrowed UTF-8 string: pointer and length in bytes, not NUL-terminated.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct StrRef {
    /// First byte of the string; may be null when `len` is 0.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

impl StrRef {
    /// The empty string, with a null pointer.
    pub const EMPTY: StrRef = StrRef {
        ptr: std::ptr::null(),
        len: 0,
    };

    /// Borrows `s`: the result is valid only while `s` is.
    pub fn new(s: &str) -> StrRef {
        StrRef {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// # Safety
    /// `ptr` must be null with `len == 0`, or point to `len` readable bytes that stay valid
    /// and unchanged for `'a`.
    pub unsafe fn as_bytes<'a>(self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: guaranteed by the caller, per this function's contract.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// What kind of values a role takes. The host parses the CSV text into this kind.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// f64 values, NaN for missing.
    Numeric = 0,
    /// Codes into a dictionary of distinct texts; [`MISSING_CODE`] for missing.
    Categorical = 1,
    /// Days since 1970-01-01 as f64 (fractional part: time of day), NaN for missing.
    Date = 2,
    /// An identifier, passed like a categorical. Never written to logs.
    Id = 3,
}

impl ColumnKind {
    /// The kind for a raw `kind` field, or `None` for a value this ABI does not define.
    pub fn from_raw(raw: u32) -> Option<ColumnKind> {
        match raw {
            0 => Some(ColumnKind::Numeric),
            1 => Some(ColumnKind::Categorical),
            2 => Some(ColumnKind::Date),
            3 => Some(ColumnKind::Id),
            _ => None,
        }
    }

    /// The lowercase name shown to users, e.g. `"numeric"`.
    pub fn name(self) -> &'static str {
        match self {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Categorical => "categorical",
            ColumnKind::Date => "date",
            ColumnKind::Id => "id",
        }
    }

    /// Whether values travel as `f64` (numeric, date) or as dictionary codes.
    pub fn is_numeric_like(self) -> bool {
        matches!(self, ColumnKind::Numeric | ColumnKind::Date)
    }
}

/// Code of a missing categorical value.
pub const MISSING_CODE: u32 = u32::MAX;

/// The longest segment label the host accepts, in characters (after control characters
/// become spaces and the ends are trimmed). Part of the contract since 1.0: a longer label is
/// refused as a plugin error. The SDK's `label::compose` always fits it.
pub const MAX_LABEL_CHARS: usize = 120;

/// Most features a strategy's `fit` may name (the host refuses more): 65,536.
pub const MAX_FEATURES: usize = 1 << 16;

/// The role must be bound to at least one column.
pub const ROLE_REQUIRED: u32 = 1;
/// The role binds a group of columns (`--map "features=a,b"` or a glob).
pub const ROLE_MULTI: u32 = 1 << 1;
/// Left unbound, the role takes every numeric column but the id.
pub const ROLE_DEFAULT_ALL_NUMERIC: u32 = 1 << 2;
/// (ABI 1.2) The role measures value to the business (spend, monetary, revenue from the
/// customer): a segment's share of its total is reported as the segment's value share.
pub const ROLE_VALUE: u32 = 1 << 3;
/// (ABI 1.2) The role holds personal data (a name, an e-mail, a phone number): its values
/// never reach outputs, profiles, labels or logs.
pub const ROLE_PERSONAL: u32 = 1 << 4;

/// The role flags a plugin of ABI minor version `minor` may set.
pub const fn known_role_flags(minor: u16) -> u32 {
    let base = ROLE_REQUIRED | ROLE_MULTI | ROLE_DEFAULT_ALL_NUMERIC;
    if minor >= 2 {
        base | ROLE_VALUE | ROLE_PERSONAL
    } else {
        base
    }
}

/// One input role a strategy understands.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RoleSpecV1 {
    /// The role's name, as bound on the command line (`--map NAME=COLUMN`): lowercase letters,
    /// digits, `-` or `_`, at most 64 bytes.
    pub name: StrRef,
    /// A [`ColumnKind`] as `u32`.
    pub kind: u32,
    /// Bit set of `ROLE_*` flags.
    pub flags: u32,
    /// One line for `strata plugins` (at most 4096 bytes).
    pub description: StrRef,
}

/// The distance a strategy wants its features compared with.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Squared Euclidean distance on the feature vectors.
    Euclidean = 0,
    /// Cosine distance: the host unit-normalises each row, then clusters with Euclidean k-means.
    Cosine = 1,
}

impl Metric {
    /// The metric for a raw `metric` field, or `None` for a value this ABI does not define.
    pub fn from_raw(raw: u32) -> Option<Metric> {
        match raw {
            0 => Some(Metric::Euclidean),
            1 => Some(Metric::Cosine),
            _ => None,
        }
    }

    /// The lowercase name shown to users, e.g. `"cosine"`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Euclidean => "euclidean",
            Metric::Cosine => "cosine",
        }
    }
}

/// One input column, columnar. Exactly one of `numeric` / `codes` is non-null, by `kind`.
#[repr(C)]
pub struct ColumnV1 {
    /// Name of the role the column is bound to.
    pub role: StrRef,
    /// The CSV header of the column.
    pub name: StrRef,
    /// A [`ColumnKind`] as `u32`.
    pub kind: u32,
    /// `n_rows` values when `kind` is numeric or date.
    pub numeric: *const f64,
    /// `n_rows` codes when `kind` is categorical or id.
    pub codes: *const u32,
    /// The dictionary the codes index into.
    pub dict: *const StrRef,
    /// Number of entries in `dict`; 0 (with `dict` possibly null) for numeric and date columns.
    pub dict_len: usize,
}

/// A batch of rows, column by column.
#[repr(C)]
pub struct BatchV1 {
    /// Number of rows; every column holds this many values.
    pub n_rows: usize,
    /// `n_columns` columns; may be null when `n_columns` is 0.
    pub columns: *const ColumnV1,
    /// Number of columns in `columns`.
    pub n_columns: usize,
}

/// Where a plugin writes variable-length output. Each `write` call delivers one item (a feature
/// name, a JSON document, a label, a message), which the host copies before `write` returns.
#[repr(C)]
pub struct Sink {
    /// Opaque host context, passed back as `write`'s first argument.
    pub ctx: *mut c_void,
    /// Copies `len` bytes at `ptr` (one UTF-8 item) into the host's memory.
    pub write: unsafe extern "C" fn(ctx: *mut c_void, ptr: *const u8, len: usize),
}

/// Per-column statistics of one segment, in the data's own units.
#[repr(C)]
pub struct NumericStatV1 {
    /// Name of the role the column is bound to.
    pub role: StrRef,
    /// The column's CSV header.
    pub name: StrRef,
    /// Mean over the segment's customers with a value.
    pub mean: f64,
    /// Mean over all customers with a value.
    pub overall_mean: f64,
    /// Standard deviation over all customers with a value.
    pub overall_std: f64,
}

/// Share of one category in a segment and overall.
#[repr(C)]
pub struct LevelShareV1 {
    /// The category's text.
    pub value: StrRef,
    /// Fraction of the segment's customers with a value that have this category, 0 to 1.
    pub share: f64,
    /// Fraction of all customers with a value that have this category, 0 to 1.
    pub overall_share: f64,
}

/// Per-segment category shares of one categorical column.
#[repr(C)]
pub struct CategoricalStatV1 {
    /// Name of the role the column is bound to.
    pub role: StrRef,
    /// The column's CSV header.
    pub name: StrRef,
    /// `n_levels` category shares, largest in the segment first; may be null when `n_levels` is 0.
    pub levels: *const LevelShareV1,
    /// Number of entries in `levels`.
    pub n_levels: usize,
}

/// What the host knows about a segment, handed to `label`.
#[repr(C)]
pub struct SegmentProfileV1 {
    /// The segment's number, from 0 to `k - 1`.
    pub index: u32,
    /// Number of segments in the model.
    pub k: u32,
    /// Number of customers in the segment.
    pub size: u64,
    /// Fraction of all customers that are in the segment, 0 to 1.
    pub share: f64,
    /// `n_numeric` column statistics; may be null when `n_numeric` is 0.
    pub numeric: *const NumericStatV1,
    /// Number of entries in `numeric`.
    pub n_numeric: usize,
    /// `n_categorical` column statistics; may be null when `n_categorical` is 0.
    pub categorical: *const CategoricalStatV1,
    /// Number of entries in `categorical`.
    pub n_categorical: usize,
}

/// Learn the preprocessing from the data (scaling, encodings, imputation values).
///
/// `options` is a JSON object (e.g. `{"scale":"zscore"}`). On success the plugin writes its
/// feature names to `features` (one item each, in column order of the matrix) and its state as
/// one JSON document to `state`. On failure it writes a message to `message`.
pub type FitFnV1 = unsafe extern "C" fn(
    batch: *const BatchV1,
    options: StrRef,
    features: *mut Sink,
    state: *mut Sink,
    message: *mut Sink,
) -> i32;

/// Turn rows into features with a state from `fit`: writes `n_rows × n_features` f32 values,
/// row-major, into `out`, which the host allocated.
pub type TransformFnV1 = unsafe extern "C" fn(
    state: StrRef,
    batch: *const BatchV1,
    out: *mut f32,
    n_rows: usize,
    n_features: usize,
    message: *mut Sink,
) -> i32;

/// Name a segment from its profile: writes one short human label to `label`.
pub type LabelFnV1 = unsafe extern "C" fn(
    state: StrRef,
    profile: *const SegmentProfileV1,
    label: *mut Sink,
    message: *mut Sink,
) -> i32;

/// Describe the preprocessing of a state from `fit` as data (ABI 1.3): writes one JSON
/// document to `out` when every feature is one of the declarative forms below, or nothing
/// when the strategy computes its features otherwise. What `strata export-sql` turns into SQL.
///
/// The document, version 1 (every number finite; features in the matrix's column order):
///
/// ```json
/// {"version": 1, "features": [
///   {"scaled": {"column": "age", "impute": 40.0, "transform": "none",
///               "center": 42.8, "scale": 15.2, "weight": 1.0}},
///   {"indicator": {"column": "gender", "level": "Female", "on_missing": false,
///                  "weight": 0.7071067811865476}}
/// ]}
/// ```
///
/// - `scaled`: `x` the column's value, or `impute` when missing; then `transform` (`none`;
///   `log1p`: ln(1 + max(x, 0)); `signed_log1p`: sign(x) · ln(1 + |x|)); the feature is
///   `((x − center) / scale · weight)` computed in f64 and rounded to f32.
/// - `indicator`: `weight` (rounded to f32) when the column's text equals `level`, or when it
///   is missing and `on_missing` is true; otherwise 0.
pub type PreprocessingFnV1 =
    unsafe extern "C" fn(state: StrRef, out: *mut Sink, message: *mut Sink) -> i32;

/// The host option (ABI 1.4) that asks a strategy for its categorical columns as codes:
/// `"categorical": "codes"` in `fit`'s options. A strategy that honours it writes each such
/// column as one feature holding the category's code (0, 1, … into a list of levels) instead
/// of one indicator per category, and names those features in [`CategoricalFnV1`]'s
/// document. The host passes it only to plugins of minor version 4 or later, and only for
/// k-prototypes; without it a strategy's features are as before.
pub const CATEGORICAL_OPTION: &str = "categorical";
/// The value of [`CATEGORICAL_OPTION`] that asks for codes.
pub const CATEGORICAL_CODES: &str = "codes";

/// Which features of a state from `fit` are categorical codes (ABI 1.4): writes one JSON
/// document to `out`:
///
/// ```json
/// {"version": 1, "features": [{"index": 3, "levels": ["Female", "Male"]}]}
/// ```
///
/// Feature `index` (0-based, in the matrix's column order, ascending and distinct) holds, on
/// every row, a whole number `c` with `0 <= c <= levels.len()`: the row's category is
/// `levels[c]`, and `levels.len()` stands for a category outside the levels (one `fit` never
/// saw), which matches no segment's mode. Levels are distinct, non-empty texts; a strategy that wants k-prototypes' ties
/// to match the `kmodes` package lists them in sorted order, as kmodes codes them. An empty
/// `features` list says the state has no categorical codes (the state was fitted without
/// [`CATEGORICAL_OPTION`]). The host checks every code `transform` returns against its levels.
pub type CategoricalFnV1 =
    unsafe extern "C" fn(state: StrRef, out: *mut Sink, message: *mut Sink) -> i32;

/// The function table of ABI major version 1. New fields go at the end only.
#[repr(C)]
pub struct StrategyTableV1 {
    /// `size_of::<StrategyTableV1>()` as the plugin was compiled: tells which fields exist.
    pub size: usize,
    /// The strategy's name, as given to `--strategy`: lowercase letters, digits, `-` or `_`, at
    /// most 64 bytes.
    pub name: StrRef,
    /// The strategy's version (free text, non-empty, at most 64 bytes).
    pub version: StrRef,
    /// One line for `strata plugins` (at most 4096 bytes).
    pub description: StrRef,
    /// `n_roles` role specifications.
    pub roles: *const RoleSpecV1,
    /// Number of entries in `roles`: 1 to 256.
    pub n_roles: usize,
    /// A [`Metric`] as `u32`.
    pub metric: u32,
    /// Number of segments used when the user gives no `-k`; at least 1.
    pub default_k: u32,
    /// Learns the preprocessing from the training rows.
    pub fit: FitFnV1,
    /// Turns rows into features with the state from `fit`.
    pub transform: TransformFnV1,
    /// Names a segment from its profile.
    pub label: LabelFnV1,
    // ---- ABI 1.1 ----
    /// Documentation for `strata plugins --strategy NAME`: roles, options, defaults, labels.
    pub docs: StrRef,
    // ---- ABI 1.3 ----
    /// Describes the preprocessing as data ([`PreprocessingFnV1`]); null when the strategy
    /// does not.
    pub preprocessing: Option<PreprocessingFnV1>,
    // ---- ABI 1.4 ----
    /// Names the features that are categorical codes ([`CategoricalFnV1`]); null when the
    /// strategy never writes codes.
    pub categorical: Option<CategoricalFnV1>,
}

/// Size of the ABI 1.0 table: a table at least this large has every 1.0 field.
pub const TABLE_V1_0_SIZE: usize = std::mem::offset_of!(StrategyTableV1, docs);
/// Size of the ABI 1.1 (and 1.2) table.
pub const TABLE_V1_1_SIZE: usize = std::mem::offset_of!(StrategyTableV1, preprocessing);
/// Size of the ABI 1.3 table.
pub const TABLE_V1_3_SIZE: usize = std::mem::offset_of!(StrategyTableV1, categorical);
/// Size of the ABI 1.4 table.
pub const TABLE_V1_4_SIZE: usize = std::mem::size_of::<StrategyTableV1>();

/// Wrapper that lets a plugin keep ABI structs (which hold raw pointers) in a `static`.
#[repr(transparent)]
pub struct Exported<T>(pub T, PhantomData<*const ()>);

impl<T> Exported<T> {
    /// Wraps `value`; a `const fn` so the wrapper can initialise a `static`.
    pub const fn new(value: T) -> Self {
        Exported(value, PhantomData)
    }
}

// SAFETY: an `Exported` value is built once and never mutated afterwards; the raw pointers it
// holds point to data that is equally immutable and lives as long as the library (statics or
// leaked allocations), so sharing it between threads cannot race.
unsafe impl<T> Sync for Exported<T> {}
// SAFETY: as above: immutable data with no thread affinity.
unsafe impl<T> Send for Exported<T> {}

/// What [`Metric::Cosine`] means for the rows: each divided by its Euclidean length (computed in
/// f64); a row of zeros stays zero. The host applies it to every feature row of a cosine
/// strategy, and a strategy may apply it itself (the SDK re-exports it as
/// `prep::unit_normalise`); applying it twice gives the same row.
pub fn unit_normalise(row: &mut [f32]) {
    let norm = row
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        for x in row.iter_mut() {
            *x = (f64::from(*x) / norm) as f32;
        }
    }
}
