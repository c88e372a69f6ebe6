//! Calling into a plugin: host-owned batches and profiles in, validated outputs back.

use std::ffi::c_void;
use std::sync::atomic::Ordering;

use strata_abi::ColumnKind;
use strata_abi::{
    BatchV1, CategoricalStatV1, ColumnV1, LevelShareV1, NumericStatV1, SegmentProfileV1, Sink,
    Status, StrRef,
};

use crate::{HostError, Plugin};

/// Values of one column handed to a plugin, borrowed from the host's table.
#[derive(Debug, Clone, Copy)]
pub enum BatchValues<'a> {
    /// Numeric or date values; NaN is missing.
    Numeric(&'a [f64]),
    /// Dictionary codes; [`MISSING_CODE`](strata_abi::MISSING_CODE) is missing.
    Categorical {
        /// One code per row.
        codes: &'a [u32],
        /// The distinct texts, indexed by code.
        dict: &'a [String],
    },
}

/// One bound column: the role it plays, its header and its values.
#[derive(Debug, Clone, Copy)]
pub struct BatchColumn<'a> {
    /// Name of the role the column is bound to.
    pub role: &'a str,
    /// The column's CSV header.
    pub name: &'a str,
    /// The kind the role declared, which the values were parsed as.
    pub kind: ColumnKind,
    /// One value per row of the batch.
    pub values: BatchValues<'a>,
}

/// Rows for a plugin call, column by column.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    /// Number of rows; every column holds this many values.
    pub n_rows: usize,
    /// The bound columns.
    pub columns: Vec<BatchColumn<'a>>,
}

impl<'a> Batch<'a> {
    /// Rows `start..end` of this batch (no copy).
    pub fn rows(&self, start: usize, end: usize) -> Batch<'a> {
        let columns = self
            .columns
            .iter()
            .map(|c| BatchColumn {
                values: match c.values {
                    BatchValues::Numeric(v) => BatchValues::Numeric(&v[start..end]),
                    BatchValues::Categorical { codes, dict } => BatchValues::Categorical {
                        codes: &codes[start..end],
                        dict,
                    },
                },
                ..*c
            })
            .collect();
        Batch {
            n_rows: end - start,
            columns,
        }
    }
}

/// The ABI view of a [`Batch`]; owns the arrays the raw pointers point into.
struct RawBatch {
    _dicts: Vec<Vec<StrRef>>,
    columns: Vec<ColumnV1>,
    n_rows: usize,
}

impl RawBatch {
    fn new(batch: &Batch<'_>) -> RawBatch {
        let mut dicts = Vec::new();
        let mut columns = Vec::with_capacity(batch.columns.len());
        for c in &batch.columns {
            let (numeric, codes, dict, dict_len) = match c.values {
                BatchValues::Numeric(v) => {
                    assert_eq!(v.len(), batch.n_rows, "column '{}' length", c.name);
                    (v.as_ptr(), std::ptr::null(), std::ptr::null(), 0)
                }
                BatchValues::Categorical { codes, dict } => {
                    assert_eq!(codes.len(), batch.n_rows, "column '{}' length", c.name);
                    let refs: Vec<StrRef> = dict.iter().map(|s| StrRef::new(s)).collect();
                    // The Vec's heap buffer does not move when the Vec is moved into `dicts`.
                    let ptr = refs.as_ptr();
                    let len = refs.len();
                    dicts.push(refs);
                    (std::ptr::null(), codes.as_ptr(), ptr, len)
                }
            };
            columns.push(ColumnV1 {
                role: StrRef::new(c.role),
                name: StrRef::new(c.name),
                kind: c.kind as u32,
                numeric,
                codes,
                dict,
                dict_len,
            });
        }
        RawBatch {
            _dicts: dicts,
            columns,
            n_rows: batch.n_rows,
        }
    }

    fn abi(&self) -> BatchV1 {
        BatchV1 {
            n_rows: self.n_rows,
            columns: self.columns.as_ptr(),
            n_columns: self.columns.len(),
        }
    }
}

/// Per-column statistics of one segment, in the data's own units.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericProfile {
    /// Name of the role the column is bound to.
    pub role: String,
    /// The column's CSV header.
    pub name: String,
    /// Mean over the segment's customers with a value.
    pub mean: f64,
    /// Mean over all customers with a value.
    pub overall_mean: f64,
    /// Population standard deviation over all customers with a value.
    pub overall_std: f64,
}

/// Category shares of one segment (largest first) next to the overall shares.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalProfile {
    /// Name of the role the column is bound to.
    pub role: String,
    /// The column's CSV header.
    pub name: String,
    /// (category, share in segment, share overall).
    pub levels: Vec<(String, f64, f64)>,
}

/// What the host knows about a segment when it asks a plugin to name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The segment's number, from 0 to `k - 1`.
    pub index: u32,
    /// Number of segments in the model.
    pub k: u32,
    /// Number of customers in the segment.
    pub size: u64,
    /// Fraction of all customers that are in the segment, 0 to 1.
    pub share: f64,
    /// Statistics of the numeric columns; a column with no value in the segment is left out.
    pub numeric: Vec<NumericProfile>,
    /// Category shares of the categorical columns.
    pub categorical: Vec<CategoricalProfile>,
}

/// What `fit` returned, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOutput {
    /// Feature names, one per matrix column in order: 1 to 65,536 of them, each unique, non-empty
    /// and at most 512 bytes.
    pub features: Vec<String>,
    /// The plugin's state, a JSON document (stored in the saved model).
    pub state: String,
}

/// Cap on what one sink accepts, so a runaway plugin cannot exhaust memory through it.
const SINK_LIMIT: usize = 256 << 20;

#[derive(Default)]
struct Collector {
    items: Vec<Vec<u8>>,
    bytes: usize,
    overflow: bool,
}

/// Copies one item out of the plugin's memory into the collector behind `ctx`.
unsafe extern "C" fn collect(ctx: *mut c_void, ptr: *const u8, len: usize) {
    if ctx.is_null() {
        return;
    }
    // SAFETY: `ctx` is the `Collector` this host created for the current call; the plugin
    // only hands it back to us, and the call is synchronous.
    let c = unsafe { &mut *ctx.cast::<Collector>() };
    if c.bytes.saturating_add(len) > SINK_LIMIT || (ptr.is_null() && len > 0) {
        c.overflow = true;
        return;
    }
    let bytes = if len == 0 {
        Vec::new()
    } else {
        // SAFETY: the plugin passes `len` readable bytes valid for this call (ABI rule 4).
        unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec()
    };
    c.bytes += len;
    c.items.push(bytes);
}

fn sink(c: &mut Collector) -> Sink {
    Sink {
        ctx: (c as *mut Collector).cast(),
        write: collect,
    }
}

impl Plugin {
    fn check_alive(&self) -> Result<(), HostError> {
        if self.is_dead() {
            return Err(HostError::Dead {
                strategy: self.info.name.clone(),
            });
        }
        Ok(())
    }

    /// Turns a status and the message sink into a result; a panic kills the plugin.
    fn status(&self, call: &'static str, raw: i32, message: &Collector) -> Result<(), HostError> {
        let text = || {
            let joined: Vec<u8> = message.items.concat();
            let s = String::from_utf8_lossy(&joined)
                .trim()
                .chars()
                .take(2000)
                .collect::<String>();
            if s.is_empty() {
                "no message".to_owned()
            } else {
                s
            }
        };
        match Status::from_raw(raw) {
            Some(Status::Ok) => Ok(()),
            Some(Status::Error) => Err(HostError::Failed {
                strategy: self.info.name.clone(),
                call,
                message: text(),
            }),
            Some(Status::Panicked) => {
                self.dead.store(true, Ordering::Release);
                Err(HostError::Panicked {
                    strategy: self.info.name.clone(),
                    call,
                    message: text(),
                })
            }
            None => {
                self.dead.store(true, Ordering::Release);
                Err(self.bad(call, format!("unknown status code {raw}")))
            }
        }
    }

    fn bad(&self, call: &'static str, what: impl Into<String>) -> HostError {
        HostError::BadOutput {
            strategy: self.info.name.clone(),
            call,
            what: what.into(),
        }
    }

    /// Learns the plugin's preprocessing from `batch`.
    pub fn fit(&self, batch: &Batch<'_>, options_json: &str) -> Result<FitOutput, HostError> {
        self.check_alive()?;
        let raw = RawBatch::new(batch);
        let b = raw.abi();
        let (mut features, mut state, mut message) = (
            Collector::default(),
            Collector::default(),
            Collector::default(),
        );
        let (mut f_sink, mut s_sink, mut m_sink) =
            (sink(&mut features), sink(&mut state), sink(&mut message));
        // SAFETY: every pointer refers to host memory alive until the call returns: the batch
        // arrays (`raw`), the option string, and the three sinks and their collectors.
        let code = unsafe {
            (self.fit)(
                &b,
                StrRef::new(options_json),
                &mut f_sink,
                &mut s_sink,
                &mut m_sink,
            )
        };
        self.status("fit", code, &message)?;
        if features.overflow || state.overflow {
            return Err(self.bad("fit", "output larger than 256 MiB"));
        }
        if features.items.is_empty() || features.items.len() > strata_abi::MAX_FEATURES {
            return Err(self.bad(
                "fit",
                format!(
                    "{} features (expected 1 to {})",
                    features.items.len(),
                    strata_abi::MAX_FEATURES
                ),
            ));
        }
        let mut names = Vec::with_capacity(features.items.len());
        let mut seen = std::collections::HashSet::with_capacity(features.items.len());
        for item in features.items {
            let name = String::from_utf8(item)
                .map_err(|_| self.bad("fit", "a feature name is not UTF-8"))?;
            if name.trim().is_empty() || name.len() > 512 || !seen.insert(name.clone()) {
                return Err(self.bad(
                    "fit",
                    format!("feature name '{name}' is empty, too long or repeated"),
                ));
            }
            names.push(name);
        }
        if state.items.len() != 1 {
            return Err(self.bad(
                "fit",
                format!("{} state documents (expected 1)", state.items.len()),
            ));
        }
        let state = String::from_utf8(state.items.remove(0))
            .map_err(|_| self.bad("fit", "the state is not UTF-8"))?;
        serde_json::from_str::<serde_json::Value>(&state)
            .map_err(|e| self.bad("fit", format!("the state is not JSON: {e}")))?;
        Ok(FitOutput {
            features: names,
            state,
        })
    }

    /// Writes `batch.n_rows × n_features` features into `out`, then checks every value is
    /// finite. `row_offset` is added to row numbers in error messages.
    pub fn transform(
        &self,
        state: &str,
        batch: &Batch<'_>,
        n_features: usize,
        out: &mut [f32],
        row_offset: usize,
    ) -> Result<(), HostError> {
        self.check_alive()?;
        assert_eq!(out.len(), batch.n_rows * n_features, "output buffer size");
        // A plugin that skips a cell leaves NaN behind, which the check below catches.
        out.fill(f32::NAN);
        let raw = RawBatch::new(batch);
        let b = raw.abi();
        let mut message = Collector::default();
        let mut m_sink = sink(&mut message);
        // SAFETY: `out` is a host buffer of exactly `n_rows * n_features` f32 that nothing
        // else touches during the call; the batch, state and sink live until it returns.
        let code = unsafe {
            (self.transform)(
                StrRef::new(state),
                &b,
                out.as_mut_ptr(),
                batch.n_rows,
                n_features,
                &mut m_sink,
            )
        };
        self.status("transform", code, &message)?;
        if let Some(pos) = out.iter().position(|v| !v.is_finite()) {
            return Err(HostError::NonFinite {
                strategy: self.info.name.clone(),
                feature: pos % n_features,
                row: row_offset + pos / n_features,
                value: out[pos],
            });
        }
        Ok(())
    }

    /// The preprocessing of `state` as data (ABI 1.3): `None` when the plugin's table is
    /// older than 1.3 or the strategy says its features are not declarative; the document
    /// checked for its forms and numbers.
    pub fn preprocessing(
        &self,
        state: &str,
    ) -> Result<Option<crate::declared::Preprocessing>, HostError> {
        self.check_alive()?;
        let Some(f) = self.preprocessing else {
            return Ok(None);
        };
        let (mut out, mut message) = (Collector::default(), Collector::default());
        let (mut o_sink, mut m_sink) = (sink(&mut out), sink(&mut message));
        // SAFETY: the state string and both sinks are host values alive until the call returns.
        let code = unsafe { f(StrRef::new(state), &mut o_sink, &mut m_sink) };
        self.status("preprocessing", code, &message)?;
        if out.overflow {
            return Err(self.bad("preprocessing", "output larger than 256 MiB"));
        }
        match out.items.len() {
            0 => Ok(None),
            1 => crate::declared::parse(&out.items[0])
                .map(Some)
                .map_err(|e| self.bad("preprocessing", e)),
            n => Err(self.bad("preprocessing", format!("{n} documents (expected 1)"))),
        }
    }

    /// Whether the plugin can write categorical columns as codes (ABI 1.4: its table has
    /// [`strata_abi::StrategyTableV1::categorical`]), so the host may pass it
    /// [`strata_abi::CATEGORICAL_OPTION`].
    pub fn writes_codes(&self) -> bool {
        self.categorical.is_some()
    }

    /// Which of the `d` features of `state` are categorical codes (ABI 1.4), checked: a known
    /// version, indices ascending, distinct and below `d`, levels non-empty and distinct.
    /// Empty when the plugin's table is older than 1.4 or the state has none.
    pub fn categorical(
        &self,
        state: &str,
        d: usize,
    ) -> Result<Vec<crate::declared::CategoricalFeature>, HostError> {
        self.check_alive()?;
        let Some(f) = self.categorical else {
            return Ok(Vec::new());
        };
        let (mut out, mut message) = (Collector::default(), Collector::default());
        let (mut o_sink, mut m_sink) = (sink(&mut out), sink(&mut message));
        // SAFETY: the state string and both sinks are host values alive until the call returns.
        let code = unsafe { f(StrRef::new(state), &mut o_sink, &mut m_sink) };
        self.status("categorical", code, &message)?;
        if out.overflow {
            return Err(self.bad("categorical", "output larger than 256 MiB"));
        }
        match out.items.len() {
            1 => crate::declared::parse_categorical(&out.items[0], d)
                .map_err(|e| self.bad("categorical", e)),
            n => Err(self.bad("categorical", format!("{n} documents (expected 1)"))),
        }
    }

    /// Asks the plugin for a segment's label.
    pub fn label(&self, state: &str, profile: &Profile) -> Result<String, HostError> {
        self.check_alive()?;
        let numeric: Vec<NumericStatV1> = profile
            .numeric
            .iter()
            .map(|n| NumericStatV1 {
                role: StrRef::new(&n.role),
                name: StrRef::new(&n.name),
                mean: n.mean,
                overall_mean: n.overall_mean,
                overall_std: n.overall_std,
            })
            .collect();
        let levels: Vec<Vec<LevelShareV1>> = profile
            .categorical
            .iter()
            .map(|c| {
                c.levels
                    .iter()
                    .map(|(v, s, o)| LevelShareV1 {
                        value: StrRef::new(v),
                        share: *s,
                        overall_share: *o,
                    })
                    .collect()
            })
            .collect();
        let categorical: Vec<CategoricalStatV1> = profile
            .categorical
            .iter()
            .zip(&levels)
            .map(|(c, l)| CategoricalStatV1 {
                role: StrRef::new(&c.role),
                name: StrRef::new(&c.name),
                levels: l.as_ptr(),
                n_levels: l.len(),
            })
            .collect();
        let raw = SegmentProfileV1 {
            index: profile.index,
            k: profile.k,
            size: profile.size,
            share: profile.share,
            numeric: numeric.as_ptr(),
            n_numeric: numeric.len(),
            categorical: categorical.as_ptr(),
            n_categorical: categorical.len(),
        };
        let (mut label, mut message) = (Collector::default(), Collector::default());
        let (mut l_sink, mut m_sink) = (sink(&mut label), sink(&mut message));
        // SAFETY: the profile and every array and string it points to are host values alive
        // until the call returns, as are the sinks.
        let code = unsafe { (self.label)(StrRef::new(state), &raw, &mut l_sink, &mut m_sink) };
        self.status("label", code, &message)?;
        if label.items.len() != 1 {
            return Err(self.bad(
                "label",
                format!("{} labels (expected 1)", label.items.len()),
            ));
        }
        let text =
            String::from_utf8(label.items.remove(0)).map_err(|_| self.bad("label", "not UTF-8"))?;
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let text = text.trim();
        let max = strata_abi::MAX_LABEL_CHARS;
        if text.is_empty() || text.chars().count() > max {
            return Err(self.bad(
                "label",
                format!("label must be 1 to {max} characters, got '{text}'"),
            ));
        }
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_copies_items_and_caps_size() {
        let mut c = Collector::default();
        let s = sink(&mut c);
        let text = b"hello";
        // SAFETY: `s` points at `c`, alive here; `text` is readable.
        unsafe {
            (s.write)(s.ctx, text.as_ptr(), text.len());
            (s.write)(s.ctx, std::ptr::null(), 0);
            (s.write)(s.ctx, std::ptr::null(), 3);
        }
        assert_eq!(c.items, vec![b"hello".to_vec(), Vec::new()]);
        assert!(c.overflow);
    }

    #[test]
    fn batch_rows_slices_every_column() {
        let nums = [1.0, 2.0, 3.0];
        let codes = [0, 1, 0];
        let dict = vec!["a".to_owned(), "b".to_owned()];
        let b = Batch {
            n_rows: 3,
            columns: vec![
                BatchColumn {
                    role: "x",
                    name: "X",
                    kind: ColumnKind::Numeric,
                    values: BatchValues::Numeric(&nums),
                },
                BatchColumn {
                    role: "g",
                    name: "G",
                    kind: ColumnKind::Categorical,
                    values: BatchValues::Categorical {
                        codes: &codes,
                        dict: &dict,
                    },
                },
            ],
        };
        let part = b.rows(1, 3);
        assert_eq!(part.n_rows, 2);
        assert!(matches!(part.columns[0].values, BatchValues::Numeric(v) if v == [2.0, 3.0]));
        assert!(
            matches!(part.columns[1].values, BatchValues::Categorical { codes, .. } if codes == [1, 0])
        );
        let raw = RawBatch::new(&part);
        assert_eq!(raw.columns[1].dict_len, 2);
    }
}
