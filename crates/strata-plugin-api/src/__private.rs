//! Glue the [`declare_strategy!`](crate::declare_strategy) macro expands to: the `extern "C"`
//! shims that turn ABI structs into safe views, call the author's [`Strategy`], and make sure no
//! panic crosses the boundary. Not part of the public API.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::abi::{
    self, BatchV1, ColumnKind, Exported, PluginHeader, RoleSpecV1, SegmentProfileV1, Sink, Status,
    StrRef, StrategyTableV1,
};
use crate::error::Error;
use crate::sdk::{
    CategoricalStat, Column, FeatureMatrix, Input, LevelShare, NumericStat, Options,
    SegmentProfile, Strategy, Values,
};

/// The state as stored by the host: the author's state plus the feature count it was fit
/// with, so `transform` can refuse a matrix of the wrong width before writing anything.
#[derive(Serialize, Deserialize)]
struct Envelope<S> {
    n_features: usize,
    state: S,
}

/// Builds the header and table once and returns a pointer the host can read for the life of
/// the library. A panic while building (in `S::info`) yields null, which the host refuses.
pub fn entry<S: Strategy>(
    cell: &'static OnceLock<Option<Exported<PluginHeader>>>,
) -> *const PluginHeader {
    install_panic_hook();
    let header = cell.get_or_init(|| catch_unwind(build_header::<S>).ok().map(Exported::new));
    match header {
        Some(h) => &h.0,
        None => std::ptr::null(),
    }
}

fn leak_str(s: &'static str) -> StrRef {
    StrRef::new(s)
}

fn build_header<S: Strategy>() -> PluginHeader {
    let info = S::info();
    let roles: Vec<RoleSpecV1> = info
        .roles
        .iter()
        .map(|r| RoleSpecV1 {
            name: leak_str(r.name),
            kind: r.kind as u32,
            flags: (if r.required { abi::ROLE_REQUIRED } else { 0 })
                | (if r.multi { abi::ROLE_MULTI } else { 0 })
                | (if r.default_all_numeric {
                    abi::ROLE_DEFAULT_ALL_NUMERIC
                } else {
                    0
                })
                | (if r.value { abi::ROLE_VALUE } else { 0 })
                | (if r.personal { abi::ROLE_PERSONAL } else { 0 }),
            description: leak_str(r.description),
        })
        .collect();
    // Leaked on purpose: built once per process and read by the host until it exits.
    let roles: &'static [RoleSpecV1] = Vec::leak(roles);
    let table: &'static StrategyTableV1 = Box::leak(Box::new(StrategyTableV1 {
        size: std::mem::size_of::<StrategyTableV1>(),
        name: leak_str(info.name),
        version: leak_str(info.version),
        description: leak_str(info.description),
        roles: roles.as_ptr(),
        n_roles: roles.len(),
        metric: info.metric as u32,
        default_k: info.default_k,
        fit: fit_shim::<S>,
        transform: transform_shim::<S>,
        label: label_shim::<S>,
        docs: leak_str(S::docs()),
        preprocessing: Some(preprocessing_shim::<S>),
        categorical: Some(categorical_shim::<S>),
    }));
    PluginHeader {
        magic: abi::MAGIC,
        abi_major: abi::ABI_MAJOR,
        abi_minor: abi::ABI_MINOR,
        table: (table as *const StrategyTableV1).cast(),
    }
}

thread_local! {
    /// Where the last panic on this thread happened, recorded by the hook below.
    static PANIC_LOCATION: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A plugin (a `cdylib`) has its own copy of std and so its own panic hook. Ours records the
/// location for the error message instead of printing to the host's stderr: the host reports
/// the panic itself, once, as an error.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            PANIC_LOCATION.with(|p| *p.borrow_mut() = at);
        }));
    });
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// # Safety
/// `sink` is null or a valid host sink for the duration of the call.
unsafe fn write(sink: *mut Sink, text: &str) {
    if sink.is_null() {
        return;
    }
    // SAFETY: the host passes a live sink; its `write` copies the bytes before returning.
    unsafe { ((*sink).write)((*sink).ctx, text.as_ptr(), text.len()) }
}

/// Runs `body`, turning an error or a panic into a status code and a message.
///
/// # Safety
/// `message` is null or a valid host sink for the duration of the call.
unsafe fn guarded(message: *mut Sink, body: impl FnOnce() -> Result<(), Error>) -> i32 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => Status::Ok as i32,
        Ok(Err(e)) => {
            // SAFETY: per this function's contract.
            unsafe { write(message, &e.0) };
            Status::Error as i32
        }
        Err(payload) => {
            let mut text = panic_message(payload.as_ref());
            if let Some(at) = PANIC_LOCATION.with(|p| p.borrow_mut().take()) {
                text = format!("{text} (at {at})");
            }
            // The message itself must not unwind either; formatting a String cannot.
            // SAFETY: per this function's contract.
            unsafe { write(message, &text) };
            Status::Panicked as i32
        }
    }
}

/// # Safety
/// `s` obeys [`StrRef::as_bytes`]'s contract for `'a`.
unsafe fn text<'a>(s: StrRef, what: &str) -> Result<&'a str, Error> {
    // SAFETY: per this function's contract.
    let bytes = unsafe { s.as_bytes() };
    std::str::from_utf8(bytes).map_err(|_| Error(format!("{what} is not valid UTF-8")))
}

/// Views a host batch as an [`Input`].
///
/// # Safety
/// `batch` is a valid [`BatchV1`] whose pointers obey the ABI for `'a`: `n_columns` columns,
/// each with `n_rows` values of the array its kind names and `dict_len` dictionary entries.
unsafe fn input_from<'a>(batch: *const BatchV1) -> Result<Input<'a>, Error> {
    if batch.is_null() {
        return Err(Error::new("host passed no batch"));
    }
    // SAFETY: non-null and valid per this function's contract.
    let batch = unsafe { &*batch };
    let raw_cols = if batch.n_columns == 0 {
        &[][..]
    } else {
        // SAFETY: the host passes `n_columns` initialised columns.
        unsafe { std::slice::from_raw_parts(batch.columns, batch.n_columns) }
    };
    let n = batch.n_rows;
    let mut columns = Vec::with_capacity(raw_cols.len());
    for c in raw_cols {
        // SAFETY: the host's strings live for the call.
        let role = unsafe { text(c.role, "a role name")? };
        // SAFETY: as above.
        let name = unsafe { text(c.name, "a column name")? };
        let kind = ColumnKind::from_raw(c.kind)
            .ok_or_else(|| Error(format!("column '{name}' has unknown kind {}", c.kind)))?;
        let values = if kind.is_numeric_like() {
            if c.numeric.is_null() && n > 0 {
                return Err(Error(format!("column '{name}' has no values")));
            }
            let v = if n == 0 {
                &[][..]
            } else {
                // SAFETY: the host passes `n_rows` f64 values for numeric-like columns.
                unsafe { std::slice::from_raw_parts(c.numeric, n) }
            };
            Values::Numeric(v)
        } else {
            if c.codes.is_null() && n > 0 {
                return Err(Error(format!("column '{name}' has no codes")));
            }
            let codes = if n == 0 {
                &[][..]
            } else {
                // SAFETY: the host passes `n_rows` codes for categorical-like columns.
                unsafe { std::slice::from_raw_parts(c.codes, n) }
            };
            let raw_dict = if c.dict_len == 0 {
                &[][..]
            } else {
                // SAFETY: the host passes `dict_len` dictionary entries.
                unsafe { std::slice::from_raw_parts(c.dict, c.dict_len) }
            };
            let mut dict = Vec::with_capacity(raw_dict.len());
            for s in raw_dict {
                // SAFETY: dictionary strings live for the call.
                dict.push(unsafe { text(*s, "a category")? });
            }
            if let Some(bad) = codes
                .iter()
                .find(|&&code| code != abi::MISSING_CODE && code as usize >= dict.len())
            {
                return Err(Error(format!(
                    "column '{name}' has code {bad} outside its dictionary of {}",
                    dict.len()
                )));
            }
            Values::Categorical { codes, dict }
        };
        columns.push(Column {
            role,
            name,
            kind,
            values,
        });
    }
    Ok(Input::indexed(n, columns))
}

/// # Safety
/// Called by the host through the function table with arguments that obey [`abi::FitFnV1`].
pub unsafe extern "C" fn fit_shim<S: Strategy>(
    batch: *const BatchV1,
    options: StrRef,
    features: *mut Sink,
    state: *mut Sink,
    message: *mut Sink,
) -> i32 {
    // SAFETY: the host's arguments obey the ABI for the duration of this call.
    unsafe {
        guarded(message, || {
            let input = input_from(batch)?;
            let options = Options::from_json(text(options, "the options")?)?;
            let fitted = S::fit(&input, &options)?;
            if fitted.features.is_empty() {
                return Err(Error::new("the strategy produced no features"));
            }
            let envelope = Envelope {
                n_features: fitted.features.len(),
                state: &fitted.state,
            };
            let json = serde_json::to_string(&envelope)
                .map_err(|e| Error(format!("could not serialise the strategy state: {e}")))?;
            for f in &fitted.features {
                write(features, f);
            }
            write(state, &json);
            Ok(())
        })
    }
}

fn parse_state<S: Strategy>(json: &str) -> Result<Envelope<S::State>, Error> {
    serde_json::from_str(json).map_err(|e| {
        Error(format!(
            "the saved state does not match this version of the strategy: {e}"
        ))
    })
}

/// # Safety
/// Called by the host through the function table with arguments that obey
/// [`abi::TransformFnV1`]: `out` points to `n_rows * n_features` writable f32 values.
pub unsafe extern "C" fn transform_shim<S: Strategy>(
    state: StrRef,
    batch: *const BatchV1,
    out: *mut f32,
    n_rows: usize,
    n_features: usize,
    message: *mut Sink,
) -> i32 {
    // SAFETY: the host's arguments obey the ABI for the duration of this call.
    unsafe {
        guarded(message, || {
            let envelope = parse_state::<S>(text(state, "the state")?)?;
            let input = input_from(batch)?;
            if input.n_rows() != n_rows {
                return Err(Error(format!(
                    "output has {n_rows} rows but the batch has {}",
                    input.n_rows()
                )));
            }
            if n_features != envelope.n_features {
                return Err(Error(format!(
                    "output has {n_features} features but the strategy was fit with {}",
                    envelope.n_features
                )));
            }
            let len = n_rows
                .checked_mul(n_features)
                .ok_or_else(|| Error::new("output size overflows"))?;
            if out.is_null() && len > 0 {
                return Err(Error::new("host passed no output buffer"));
            }
            let data = if len == 0 {
                &mut [][..]
            } else {
                // SAFETY: the host allocated `n_rows * n_features` f32 for this call alone.
                std::slice::from_raw_parts_mut(out, len)
            };
            let mut matrix = FeatureMatrix { data, n_features };
            S::transform(&envelope.state, &input, &mut matrix)
        })
    }
}

/// # Safety
/// Called by the host through the function table with arguments that obey
/// [`abi::PreprocessingFnV1`].
pub unsafe extern "C" fn preprocessing_shim<S: Strategy>(
    state: StrRef,
    out: *mut Sink,
    message: *mut Sink,
) -> i32 {
    // SAFETY: the host's arguments obey the ABI for the duration of this call.
    unsafe {
        guarded(message, || {
            let envelope = parse_state::<S>(text(state, "the state")?)?;
            if let Some(p) = S::preprocessing(&envelope.state) {
                let json = serde_json::to_string(&p)
                    .map_err(|e| Error::new(format!("cannot describe the preprocessing: {e}")))?;
                write(out, &json);
            }
            Ok(())
        })
    }
}

/// # Safety
/// Called by the host through the function table with arguments that obey
/// [`abi::CategoricalFnV1`].
pub unsafe extern "C" fn categorical_shim<S: Strategy>(
    state: StrRef,
    out: *mut Sink,
    message: *mut Sink,
) -> i32 {
    // SAFETY: the host's arguments obey the ABI for the duration of this call.
    unsafe {
        guarded(message, || {
            let envelope = parse_state::<S>(text(state, "the state")?)?;
            let doc = crate::declare::CategoricalCodes {
                version: 1,
                features: S::categorical(&envelope.state),
            };
            let json = serde_json::to_string(&doc)
                .map_err(|e| Error::new(format!("cannot list the categorical features: {e}")))?;
            write(out, &json);
            Ok(())
        })
    }
}

/// # Safety
/// Called by the host through the function table with arguments that obey [`abi::LabelFnV1`].
pub unsafe extern "C" fn label_shim<S: Strategy>(
    state: StrRef,
    profile: *const SegmentProfileV1,
    label: *mut Sink,
    message: *mut Sink,
) -> i32 {
    // SAFETY: the host's arguments obey the ABI for the duration of this call.
    unsafe {
        guarded(message, || {
            let envelope = parse_state::<S>(text(state, "the state")?)?;
            if profile.is_null() {
                return Err(Error::new("host passed no profile"));
            }
            let p = &*profile;
            let raw_num = if p.n_numeric == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(p.numeric, p.n_numeric)
            };
            let mut numeric = Vec::with_capacity(raw_num.len());
            for s in raw_num {
                numeric.push(NumericStat {
                    role: text(s.role, "a role name")?,
                    name: text(s.name, "a column name")?,
                    mean: s.mean,
                    overall_mean: s.overall_mean,
                    overall_std: s.overall_std,
                });
            }
            let raw_cat = if p.n_categorical == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(p.categorical, p.n_categorical)
            };
            let mut categorical = Vec::with_capacity(raw_cat.len());
            for c in raw_cat {
                let raw_levels = if c.n_levels == 0 {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(c.levels, c.n_levels)
                };
                let mut levels = Vec::with_capacity(raw_levels.len());
                for l in raw_levels {
                    levels.push(LevelShare {
                        value: text(l.value, "a category")?,
                        share: l.share,
                        overall_share: l.overall_share,
                    });
                }
                categorical.push(CategoricalStat {
                    role: text(c.role, "a role name")?,
                    name: text(c.name, "a column name")?,
                    levels,
                });
            }
            let profile = SegmentProfile {
                index: p.index,
                k: p.k,
                size: p.size,
                share: p.share,
                numeric,
                categorical,
            };
            let text = S::label(&envelope.state, &profile);
            write(label, &text);
            Ok(())
        })
    }
}
