//! The safe side of the plugin API: the [`Strategy`] trait and the views it works with.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi::{ColumnKind, Metric};
use crate::error::Error;
pub use crate::matrix::FeatureMatrix;

/// One input role a strategy understands, e.g. `age` (numeric) or `features` (a numeric group).
#[derive(Debug, Clone, Copy)]
pub struct Role {
    /// The role's name, as bound on the command line (`--map NAME=COLUMN`): lowercase letters,
    /// digits, `-` or `_`.
    pub name: &'static str,
    /// The kind of values the host parses the bound columns into.
    pub kind: ColumnKind,
    /// The user must bind the role; the host refuses to run without it.
    pub required: bool,
    /// Binds a group of columns rather than one.
    pub multi: bool,
    /// When unbound, takes every numeric column but the id.
    pub default_all_numeric: bool,
    /// Measures value to the business; segments report their share of its total.
    pub value: bool,
    /// Personal data: kept out of outputs, profiles, labels and logs.
    pub personal: bool,
    /// One line shown by `strata plugins`.
    pub description: &'static str,
}

impl Role {
    /// An optional single-column role of `kind`; the builder methods below add flags.
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
    /// An optional single-column numeric role.
    pub const fn numeric(name: &'static str, description: &'static str) -> Role {
        Role::new(name, ColumnKind::Numeric, description)
    }
    /// An optional single-column categorical role.
    pub const fn categorical(name: &'static str, description: &'static str) -> Role {
        Role::new(name, ColumnKind::Categorical, description)
    }
    /// Makes the role one the user must bind.
    pub const fn required(mut self) -> Role {
        self.required = true;
        self
    }
    /// Lets the role bind a group of columns (`--map "features=a,b"` or a glob).
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
    /// Makes the role a numeric group that, left unbound, takes every numeric column but the id.
    /// Implies [`multi`](Self::multi).
    pub const fn all_numeric_by_default(mut self) -> Role {
        self.multi = true;
        self.default_all_numeric = true;
        self
    }
}

/// What a strategy says about itself; read by the host when it loads the plugin.
#[derive(Debug, Clone, Copy)]
pub struct StrategyInfo {
    /// The strategy's name, as given to `--strategy`: lowercase letters, digits, `-` or `_`, at
    /// most 64 bytes.
    pub name: &'static str,
    /// The strategy's version (free text, non-empty); stored in saved models.
    pub version: &'static str,
    /// One line for `strata plugins`.
    pub description: &'static str,
    /// The input roles, in the order `strata plugins` lists them; at least one.
    pub roles: &'static [Role],
    /// How the host compares feature vectors when clustering.
    pub metric: Metric,
    /// Number of segments used when the user gives no `-k`; at least 1.
    pub default_k: u32,
}

impl StrategyInfo {
    /// A strategy called `name`, at `version` (pass `env!("CARGO_PKG_VERSION")`), with these
    /// roles; Euclidean, default `k` 5 and no description until the methods below say otherwise.
    /// A `const fn`, so a plugin can declare its info as a constant beside its roles.
    pub const fn new(name: &'static str, version: &'static str, roles: &'static [Role]) -> Self {
        StrategyInfo {
            name,
            version,
            description: "",
            roles,
            metric: Metric::Euclidean,
            default_k: 5,
        }
    }

    /// With this one-line description.
    pub const fn description(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// With this metric.
    pub const fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }

    /// With this default number of segments.
    pub const fn default_k(mut self, k: u32) -> Self {
        self.default_k = k;
        self
    }
}

/// Values of one column.
#[derive(Debug, Clone)]
pub enum Values<'a> {
    /// Numeric or date values; NaN is missing.
    Numeric(&'a [f64]),
    /// Codes into `dict`; [`crate::MISSING_CODE`] is missing.
    Categorical {
        /// One code per row.
        codes: &'a [u32],
        /// The distinct texts, indexed by code.
        dict: Vec<&'a str>,
    },
}

/// One bound input column.
#[derive(Debug, Clone)]
pub struct Column<'a> {
    /// Name of the role the column is bound to.
    pub role: &'a str,
    /// The column's CSV header.
    pub name: &'a str,
    /// What the host parsed the column as.
    pub kind: ColumnKind,
    /// The column's values, one per row.
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
    /// Each column's index by name (the first of a name), so a strategy that looks every
    /// column up by name stays linear in the number of columns.
    pub(crate) by_name: std::collections::HashMap<&'a str, usize>,
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
        Ok(Input::indexed(n_rows, columns))
    }

    /// The input with its name index built.
    pub(crate) fn indexed(n_rows: usize, columns: Vec<Column<'a>>) -> Input<'a> {
        let mut by_name = std::collections::HashMap::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            by_name.entry(c.name).or_insert(i);
        }
        Input {
            n_rows,
            columns,
            by_name,
        }
    }

    /// Number of rows; every column has this many values.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Every bound column.
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
        self.by_name.get(name).map(|&i| &self.columns[i])
    }

    /// The column bound to `name`, or the error every strategy gives when a column its state
    /// was fitted on is not in the input.
    pub fn require_column(&self, name: &str) -> Result<&Column<'a>, Error> {
        self.column(name)
            .ok_or_else(|| Error(format!("the input has no column '{name}'")))
    }
}

/// Option keys the host sets itself: `scale` (`--scale`), `as_of_days` (`--as-of`, in days
/// since 1970-01-01) and `categorical` (ABI 1.4: `"codes"` under `--algorithm kprototypes`).
pub const HOST_OPTION_KEYS: &[&str] = &["scale", "as_of_days", crate::abi::CATEGORICAL_OPTION];

/// Options the host passes through (`--scale`, and later strategy-specific ones), as JSON.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub(crate) map: serde_json::Map<String, serde_json::Value>,
}

impl Options {
    /// Parses the options the host passes: a JSON object, or empty text for no options.
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

    /// The raw JSON value of option `key`, if given.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.map.get(key)
    }

    /// Option `key` if it is given as a JSON string; `None` when absent or not a string.
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

    /// How the host wants categorical columns encoded: one indicator per category (the
    /// default), or one code per column for k-prototypes (ABI 1.4,
    /// [`crate::abi::CATEGORICAL_OPTION`]).
    pub fn categorical_as(&self) -> Result<crate::prep::CategoricalAs, Error> {
        match self.get(crate::abi::CATEGORICAL_OPTION) {
            None => Ok(crate::prep::CategoricalAs::OneHot),
            Some(v) if v.as_str() == Some(crate::abi::CATEGORICAL_CODES) => {
                Ok(crate::prep::CategoricalAs::Codes)
            }
            Some(v) => Err(Error(format!(
                "option '{}' is {v}; the host passes \"{}\" or nothing",
                crate::abi::CATEGORICAL_OPTION,
                crate::abi::CATEGORICAL_CODES
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
    /// Feature names, one per matrix column in order; never empty, each unique and non-empty.
    pub features: Vec<String>,
    /// Everything `transform` and `label` need, saved with the model as JSON.
    pub state: S,
}

/// A numeric column's statistics for one segment, in the data's own units.
#[derive(Debug, Clone)]
pub struct NumericStat<'a> {
    /// Name of the role the column is bound to.
    pub role: &'a str,
    /// The column's CSV header.
    pub name: &'a str,
    /// Mean over the segment's customers with a value.
    pub mean: f64,
    /// Mean over all customers with a value.
    pub overall_mean: f64,
    /// Population standard deviation over all customers with a value; 0 for a constant column.
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

/// Share of one category in a segment and overall.
#[derive(Debug, Clone)]
pub struct LevelShare<'a> {
    /// The category's text.
    pub value: &'a str,
    /// Fraction of the segment's customers with a value that have this category, 0 to 1.
    pub share: f64,
    /// Fraction of all customers with a value that have this category, 0 to 1.
    pub overall_share: f64,
}

/// A categorical column's category shares for one segment (largest share first).
#[derive(Debug, Clone)]
pub struct CategoricalStat<'a> {
    /// Name of the role the column is bound to.
    pub role: &'a str,
    /// The column's CSV header.
    pub name: &'a str,
    /// Every category seen overall, largest share in the segment first.
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
    /// The segment's number, from 0 to `k - 1`.
    pub index: u32,
    /// Number of segments in the model.
    pub k: u32,
    /// Number of customers in the segment.
    pub size: u64,
    /// Fraction of all customers that are in the segment, 0 to 1.
    pub share: f64,
    /// Statistics of the numeric columns; a column with no value in the segment is left out.
    pub numeric: Vec<NumericStat<'a>>,
    /// Category shares of the categorical columns.
    pub categorical: Vec<CategoricalStat<'a>>,
}

impl<'a> SegmentProfile<'a> {
    /// The statistics of the first numeric column bound to `role`, if the segment has one.
    pub fn numeric_role(&self, role: &str) -> Option<&NumericStat<'a>> {
        self.numeric.iter().find(|s| s.role == role)
    }
    /// The statistics of the first categorical column bound to `role`, if any.
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
    /// What `fit` learns and `transform` and `label` read back; stored in the saved model as JSON.
    type State: Serialize + DeserializeOwned;

    /// The strategy's name, roles, metric and default `k`; called once when the plugin loads.
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

    /// The preprocessing of `state` as data, when every feature is a scaled column or a
    /// one-hot indicator ([`crate::declare::Preprocessing`]; the SDK's encoders describe
    /// themselves, so a strategy built from them returns
    /// `Some(Preprocessing::of(&state.encoders))`). What `strata export-sql` turns into SQL
    /// that scores in a warehouse; `None` (the default) says the features are computed
    /// otherwise, and export-sql refuses the strategy with that reason.
    fn preprocessing(_state: &Self::State) -> Option<crate::declare::Preprocessing> {
        None
    }

    /// The features of `state` that hold categorical codes (ABI 1.4), for k-prototypes: a
    /// strategy fitted with [`Options::categorical_as`] = codes names them here (the SDK's
    /// encoders do: [`crate::encode::coded_features`]). Empty (the default) when it writes
    /// none, and the host then clusters with k-means.
    fn categorical(_state: &Self::State) -> Vec<crate::declare::CodedFeature> {
        Vec::new()
    }
}
