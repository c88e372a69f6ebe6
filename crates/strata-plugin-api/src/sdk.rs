//! The safe side of the plugin API: the [`Strategy`] trait and the views it works with.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi::{ColumnKind, Metric};
use crate::error::Error;
pub use crate::matrix::FeatureMatrix;

/// One input role a strategy understands, e.g. `age` (numeric) or `features` (a numeric group).
#[derive(Debug, Clone, Copy)]
pub struct Role {
    pub name: &'static str,
    pub kind: ColumnKind,
    pub required: bool,
    /// Binds a group of columns rather than one.
    pub multi: bool,
    /// When unbound, takes every numeric column but the id.
    pub default_all_numeric: bool,
    /// Measures value to the business; segments report their share of its total.
    pub value: bool,
    /// Personal data: kept out of outputs, profiles, labels and logs.
    pub personal: bool,
    pub description: &'static str,
}

impl Role {
    pub const fn new(name: &'static str, kind: ColumnKind, description: &'static str) -> Role {
        Role {
            name,
            kind,
            required: false,
            multi: false,
            default_all_numeric: false,
            value: false,
            personal: false,
            description,
        }
    }
    pub const fn numeric(name: &'static str, description: &'static str) -> Role {
        Role::new(name, ColumnKind::Numeric, description)
    }
    pub const fn categorical(name: &'static str, description: &'static str) -> Role {
        Role::new(name, ColumnKind::Categorical, description)
    }
    pub const fn required(mut self) -> Role {
        self.required = true;
        self
    }
    pub const fn multi(mut self) -> Role {
        self.multi = true;
        self
    }
    /// Marks a numeric role as a value measure (spend, monetary): each segment's share of its
    /// total is reported, and it weighs in the segment's attractiveness.
    pub const fn value(mut self) -> Role {
        self.value = true;
        self
    }
    /// Marks a role as personal data: the host never writes its values to outputs,
    /// profiles, labels or logs (the strategy may still derive features from it).
    pub const fn personal(mut self) -> Role {
        self.personal = true;
        self
    }
    pub const fn all_numeric_by_default(mut self) -> Role {
        self.multi = true;
        self.default_all_numeric = true;
        self
    }
}

/// What a strategy says about itself; read by the host when it loads the plugin.
#[derive(Debug, Clone, Copy)]
pub struct StrategyInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub description: &'static str,
    pub roles: &'static [Role],
    pub metric: Metric,
    pub default_k: u32,
}

/// Values of one column.
#[derive(Debug, Clone)]
pub enum Values<'a> {
    /// Numeric or date values; NaN is missing.
    Numeric(&'a [f64]),
    /// Codes into `dict`; [`crate::MISSING_CODE`] is missing.
    Categorical {
        codes: &'a [u32],
        dict: Vec<&'a str>,
    },
}

/// One bound input column.
#[derive(Debug, Clone)]
pub struct Column<'a> {
    pub role: &'a str,
    /// The column's CSV header.
    pub name: &'a str,
    pub kind: ColumnKind,
    pub values: Values<'a>,
}

impl<'a> Column<'a> {
    /// The numeric values, or an error naming the column if it is categorical.
    pub fn numeric(&self) -> Result<&'a [f64], Error> {
        match &self.values {
            Values::Numeric(v) => Ok(v),
            Values::Categorical { .. } => Err(Error(format!(
                "column '{}' (role {}) is not numeric",
                self.name, self.role
            ))),
        }
    }

    /// Codes and dictionary, or an error naming the column if it is numeric.
    pub fn categorical(&self) -> Result<(&'a [u32], &[&'a str]), Error> {
        match &self.values {
            Values::Categorical { codes, dict } => Ok((codes, dict)),
            Values::Numeric(_) => Err(Error(format!(
                "column '{}' (role {}) is not categorical",
                self.name, self.role
            ))),
        }
    }
}

/// A batch of rows handed to `fit` or `transform`, column by column.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub(crate) n_rows: usize,
    pub(crate) columns: Vec<Column<'a>>,
}

impl<'a> Input<'a> {
    /// Builds an input from columns; every column must have `n_rows` values. Plugin tests use it.
    pub fn new(n_rows: usize, columns: Vec<Column<'a>>) -> Result<Input<'a>, Error> {
        for c in &columns {
            let len = match &c.values {
                Values::Numeric(v) => v.len(),
                Values::Categorical { codes, .. } => codes.len(),
            };
            if len != n_rows {
                return Err(Error(format!(
                    "column '{}' has {len} values, expected {n_rows}",
                    c.name
                )));
            }
        }
        Ok(Input { n_rows, columns })
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    pub fn columns(&self) -> &[Column<'a>] {
        &self.columns
    }

    /// The columns bound to `role`, in binding order.
    pub fn role<'s>(&'s self, role: &'s str) -> impl Iterator<Item = &'s Column<'a>> + 's {
        self.columns.iter().filter(move |c| c.role == role)
    }

    /// An error naming `roles` when no column is bound to any of them, for strategies whose
    /// roles are each optional but which need at least one.
    pub fn require_columns(&self, roles: &[Role]) -> Result<(), Error> {
        if !self.columns.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.name).collect();
        Err(Error(format!(
            "bind at least one of the roles {} (--map ROLE=COLUMN)",
            names.join(", ")
        )))
    }

    /// The column bound to `name` (its CSV header).
    pub fn column(&self, name: &str) -> Option<&Column<'a>> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Option keys the host sets itself: `scale` (`--scale`) and `as_of_days` (`--as-of`, in days
/// since 1970-01-01).
pub const HOST_OPTION_KEYS: &[&str] = &["scale", "as_of_days"];

/// Options the host passes through (`--scale`, and later strategy-specific ones), as JSON.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub(crate) map: serde_json::Map<String, serde_json::Value>,
}

impl Options {
    pub fn from_json(text: &str) -> Result<Options, Error> {
        if text.trim().is_empty() {
            return Ok(Options::default());
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => Ok(Options { map }),
            Ok(_) => Err(Error::new("options must be a JSON object")),
            Err(e) => Err(Error(format!("options are not valid JSON: {e}"))),
        }
    }

    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.map.get(key)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.map.get(key).and_then(|v| v.as_str())
    }

    /// The option keys present.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Refuses any `--option` key this strategy does not take (`known`), so a typo is an
    /// error rather than silently ignored. Keys the host passes itself ([`HOST_OPTION_KEYS`])
    /// are always accepted.
    pub fn check_known(&self, known: &[&str]) -> Result<(), Error> {
        match self
            .keys()
            .find(|k| !HOST_OPTION_KEYS.contains(k) && !known.contains(k))
        {
            None => Ok(()),
            Some(k) if known.is_empty() => Err(Error(format!(
                "unknown option '{k}': this strategy takes no --option"
            ))),
            Some(k) => Err(Error(format!(
                "unknown option '{k}': this strategy takes {}",
                known.join(", ")
            ))),
        }
    }

    /// The scaling the user asked for (`--scale`), or `default`.
    pub fn scale_or(&self, default: crate::prep::Scale) -> Result<crate::prep::Scale, Error> {
        match self.get_str("scale") {
            None => Ok(default),
            Some(s) => s.parse(),
        }
    }
}

/// What `fit` learned: the feature names (matrix columns, in order) and the state that
/// `transform` and `label` need.
#[derive(Debug, Clone)]
pub struct Fitted<S> {
    pub features: Vec<String>,
    pub state: S,
}

/// A numeric column's statistics for one segment, in the data's own units.
#[derive(Debug, Clone)]
pub struct NumericStat<'a> {
    pub role: &'a str,
    pub name: &'a str,
    pub mean: f64,
    pub overall_mean: f64,
    pub overall_std: f64,
}

impl NumericStat<'_> {
    /// How many overall standard deviations the segment's mean sits from the overall mean.
    pub fn z(&self) -> f64 {
        if self.overall_std > 0.0 && self.overall_std.is_finite() {
            (self.mean - self.overall_mean) / self.overall_std
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone)]
pub struct LevelShare<'a> {
    pub value: &'a str,
    pub share: f64,
    pub overall_share: f64,
}

/// A categorical column's category shares for one segment (largest share first).
#[derive(Debug, Clone)]
pub struct CategoricalStat<'a> {
    pub role: &'a str,
    pub name: &'a str,
    pub levels: Vec<LevelShare<'a>>,
}

impl<'a> CategoricalStat<'a> {
    /// The most common category in the segment, if any.
    pub fn dominant(&self) -> Option<&LevelShare<'a>> {
        self.levels
            .iter()
            .max_by(|a, b| a.share.total_cmp(&b.share).then(b.value.cmp(a.value)))
    }
}

/// What the host knows about a segment when it asks for a label.
#[derive(Debug, Clone)]
pub struct SegmentProfile<'a> {
    pub index: u32,
    pub k: u32,
    pub size: u64,
    pub share: f64,
    pub numeric: Vec<NumericStat<'a>>,
    pub categorical: Vec<CategoricalStat<'a>>,
}

impl<'a> SegmentProfile<'a> {
    pub fn numeric_role(&self, role: &str) -> Option<&NumericStat<'a>> {
        self.numeric.iter().find(|s| s.role == role)
    }
    pub fn categorical_role(&self, role: &str) -> Option<&CategoricalStat<'a>> {
        self.categorical.iter().find(|s| s.role == role)
    }
}

/// A segmentation strategy: how rows become feature vectors and how segments are named.
///
/// Implementations keep no global mutable state: the host may call `transform` from several
/// threads at once, and everything learned in `fit` travels in `State` (stored in the saved
/// model, so it must round-trip through JSON).
pub trait Strategy {
    type State: Serialize + DeserializeOwned;

    fn info() -> StrategyInfo;

    /// Learns scaling, encodings and imputation values from the training rows.
    fn fit(input: &Input, options: &Options) -> Result<Fitted<Self::State>, Error>;

    /// Writes one feature row per input row into `out` (already sized by the host).
    fn transform(state: &Self::State, input: &Input, out: &mut FeatureMatrix) -> Result<(), Error>;

    /// A short human label for a segment, e.g. "Young high-income urban".
    fn label(state: &Self::State, profile: &SegmentProfile) -> String;

    /// What `strata plugins --strategy NAME` prints after the role table: options
    /// (`--option KEY=VALUE`), defaults, how features are built and how labels read.
    fn docs() -> &'static str {
        ""
    }
}
