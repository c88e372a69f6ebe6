//! Settings of a fit, validated in one place before any work starts.

use std::path::PathBuf;

use strata_format::assignments::AssignmentsFormat;
use strata_kmeans::{DEFAULT_MAX_ITER, DEFAULT_N_INIT, DEFAULT_SEED, DEFAULT_TOL};

use crate::CoreError;
pub use strata_format::{MissingPolicy, Mode};

/// `--map ROLE=COLUMNS`: binds a strategy role to a column, a list of columns or a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMap {
    /// The role's name, trimmed and lowercased.
    pub role: String,
    /// What the role is bound to, trimmed: a header, or for a multi-column role a header or a
    /// comma-separated list of headers and globs.
    pub spec: String,
}

impl std::str::FromStr for RoleMap {
    type Err = String;
    fn from_str(s: &str) -> Result<RoleMap, String> {
        match s.split_once('=') {
            Some((role, spec)) if !role.trim().is_empty() && !spec.trim().is_empty() => {
                Ok(RoleMap {
                    role: role.trim().to_ascii_lowercase(),
                    spec: spec.trim().to_owned(),
                })
            }
            _ => Err(format!(
                "expected ROLE=COLUMN (e.g. age=Age or \"features=f*\"), got '{s}'"
            )),
        }
    }
}

/// What the input file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// One row per customer.
    Customers,
    /// One row per purchase line (`--transactions`): aggregated per customer first.
    Transactions,
    /// One row per customer in lifetimes' layout (`--summary`): frequency, recency, T and
    /// optionally monetary_value, in periods; the value model's input as it is.
    Summary,
}

/// Which clustering algorithm segments the features (`--algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// k-means on every feature, categorical columns one-hot encoded (the default).
    KMeans,
    /// k-prototypes (Huang): squared Euclidean on the numeric features plus γ × the number of
    /// categorical mismatches, with modes as the categorical centres. The strategy must write
    /// categorical codes (plugin ABI 1.4).
    KPrototypes,
    /// k-prototypes when the strategy declares categorical features, k-means otherwise; the
    /// run says which and why.
    Auto,
}

impl Algorithm {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::KMeans => "kmeans",
            Algorithm::KPrototypes => "kprototypes",
            Algorithm::Auto => "auto",
        }
    }
}

/// Which compute backend runs the distance work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// The GPU when a hardware adapter exists and the distance work is large enough to pay
    /// for the transfer; otherwise the CPU.
    Auto,
    /// The multi-threaded CPU backend (`--backend cpu`).
    Cpu,
    /// wgpu compute shaders (`--backend gpu`); an error when no adapter can be opened.
    Gpu,
}

/// Whether a fit holds the whole table in memory or streams the file (`--stream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streaming {
    /// Stream a customer table clustered with k-means when the file is larger than a quarter
    /// of the memory available.
    Auto,
    /// Always stream (`--stream always`); only for customer tables clustered with k-means.
    Always,
    /// Always hold the whole table in memory (`--stream never`).
    Never,
}

/// Default `--prep-sample`: megabytes of a streamed file the strategy learns its
/// preprocessing from.
pub const DEFAULT_PREP_SAMPLE_MB: u64 = 256;
/// Most segments a model may have, and so the largest `--k`: a damaged model cannot make
/// `assign` allocate without bound.
pub const MAX_MODEL_K: usize = 65_536;

/// Default `--max-categories`: distinct values of one categorical column, each a feature.
pub const DEFAULT_MAX_CATEGORIES: usize = 1_000;
/// Default `--init-sample`: rows a streamed fit chooses its starting centroids on.
pub const DEFAULT_INIT_SAMPLE: usize = 1_000_000;

/// A validated fit job: its settings grouped by concern, each group read through its getter.
/// Only [`FitSettings::builder`] makes one, so every `FitSettings` has passed
/// [`FitSettingsBuilder::build`]'s checks.
#[derive(Debug, Clone)]
pub struct FitSettings {
    input: InputSettings,
    strategy: StrategySettings,
    cluster: ClusterSettings,
    privacy: PrivacySettings,
    output: OutputSettings,
    value: Option<ValueModelSettings>,
    outcomes: OutcomeSettings,
}

/// Outcome columns evaluated by segment and never clustered (`--outcome`, `--outcomes`,
/// `--treatment`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutcomeSettings {
    /// The outcome columns, in the order given (`--outcome`, repeatable).
    pub columns: Vec<String>,
    /// A second table holding them, one row per customer joined by id (`--outcomes`);
    /// `None`: they are in the input.
    pub file: Option<PathBuf>,
    /// The treatment column (treated or control per customer), in the same table as the
    /// outcomes (`--treatment`).
    pub treatment: Option<String>,
}

/// A value model fitted beside the segments (`--value-model bgnbd`): BG/NBD and Gamma-Gamma
/// on each customer's purchase history, with predictions over a horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ValueModelSettings {
    /// The time unit purchases are counted in (`--period`).
    pub period: strata_value::Period,
    /// Periods to predict over (`--horizon`), at least 1.
    pub horizon: u32,
    /// Discount rate per period of the CLV (`--discount-rate`), finite and ≥ 0.
    pub discount_rate: f64,
    /// A customer with P(alive) below this is at risk (`--at-risk-below`), in (0, 1).
    pub at_risk_below: f64,
}

/// Default `--at-risk-below`: a customer more likely gone than active.
pub const DEFAULT_AT_RISK_BELOW: f64 = 0.5;

impl ValueModelSettings {
    /// A value model counting in `period`, predicting over a year of them (365 days or 52
    /// weeks), undiscounted, at risk below [`DEFAULT_AT_RISK_BELOW`].
    pub fn new(period: strata_value::Period) -> ValueModelSettings {
        ValueModelSettings {
            period,
            horizon: match period {
                strata_value::Period::Day => 365,
                strata_value::Period::Week => 52,
            },
            discount_rate: 0.0,
            at_risk_below: DEFAULT_AT_RISK_BELOW,
        }
    }
    /// Sets the periods predicted over.
    pub fn horizon(mut self, v: u32) -> Self {
        self.horizon = v;
        self
    }
    /// Sets the discount rate per period.
    pub fn discount_rate(mut self, v: f64) -> Self {
        self.discount_rate = v;
        self
    }
    /// Sets the P(alive) below which a customer is at risk.
    pub fn at_risk_below(mut self, v: f64) -> Self {
        self.at_risk_below = v;
        self
    }
    /// The period's name, as `segments.json` writes it.
    pub fn period_name(&self) -> &'static str {
        match self.period {
            strata_value::Period::Day => "day",
            strata_value::Period::Week => "week",
        }
    }
}

/// What is read and how: the file, its kind, the bindings, ids, missing values, dates and
/// streaming.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InputSettings {
    /// The CSV file to segment: the customer table, or the transaction log with
    /// [`Source::Transactions`].
    pub path: PathBuf,
    /// Whether `input` is a customer table or a transaction log (`--transactions`).
    pub source: Source,
    /// Explicit role bindings (`--map`), in the order given; no role twice.
    pub maps: Vec<RoleMap>,
    /// The header of the customer id column (`--id-column`); `None`: ids are the 1-based row
    /// numbers. Never a feature, and never logged.
    pub id_column: Option<String>,
    /// Accept repeated ids instead of failing on the second (`--allow-duplicate-ids`).
    pub allow_duplicate_ids: bool,
    /// The field delimiter (`--delimiter`); `None`: sniffed among `,`, `;` and tab. Never a
    /// quote or a line break.
    pub delimiter: Option<u8>,
    /// What to do with rows that miss a value in a bound column (`--missing`).
    pub missing: MissingPolicy,
    /// The day behaviour is measured at, in days since 1970-01-01 (`--as-of`); `None`: the day
    /// after the last purchase.
    pub as_of: Option<f64>,
    /// Forced date layout (`--date-format`).
    pub date_format: Option<strata_ingest::DateFormat>,
    /// Whether to stream the file or hold it whole (`--stream`).
    pub streaming: Streaming,
    /// Streamed fits: megabytes of the file (spread over it) the strategy learns from.
    pub prep_sample_mb: u64,
    /// Most distinct values a bound categorical column may have (`--max-categories`): each
    /// becomes a feature, so a column of postal codes would make the matrix enormous.
    pub max_categories: usize,
    /// What `path` stands for, when it is a copy (see [`Origin`]).
    pub origin: Option<Origin>,
}

/// What an input file stands for when it is a copy made for the run: standard input spooled
/// to a temporary file, or a database table or query read into one. The outputs and the log
/// name the origin, never the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The input as the outputs name it: `-`, or the database (password masked) and table.
    pub name: String,
    /// The format recorded for it (`postgresql`); `None`: the copy's own, as read.
    pub format: Option<String>,
}

impl InputSettings {
    /// The input as the outputs and the log name it: its origin, or its path.
    pub fn name(&self) -> String {
        self.origin
            .as_ref()
            .map_or_else(|| self.path.display().to_string(), |o| o.name.clone())
    }

    /// The format recorded for the input: its origin's, or `format`'s (the one read).
    pub fn format_name(&self, format: strata_ingest::Format) -> String {
        Origin::format_name(self.origin.as_ref(), format)
    }
}

impl Origin {
    /// `origin`'s format if it has one, else `read`'s name.
    pub fn format_name(origin: Option<&Origin>, read: strata_ingest::Format) -> String {
        origin
            .and_then(|o| o.format.clone())
            .unwrap_or_else(|| read.name().to_owned())
    }
}

/// The strategy plugin and what it is given.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StrategySettings {
    /// The strategy plugin's name (`--strategy`).
    pub name: String,
    /// Feature scaling (`--scale`): `zscore`, `robust` or `none`; `None`: the strategy's
    /// default. Passed to the plugin as its `scale` option.
    pub scale: Option<String>,
    /// Strategy-specific options (`--option KEY=VALUE`), passed to the plugin as strings.
    pub options: Vec<(String, String)>,
}

/// How segments are found: k-means (its k, seeding and stopping) or RFM, and on which backend.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClusterSettings {
    /// k-means or RFM segments (`--mode`).
    pub mode: Mode,
    /// The number of segments (`--k N`), at least 1; `None`: the strategy's default (or
    /// `k_range` when set).
    pub k: Option<usize>,
    /// `--k auto`: every k of this range is fitted and scored, and one is recommended by the
    /// rule in [`crate::select`]; the fit goes on with it.
    pub k_range: Option<std::ops::RangeInclusive<usize>>,
    /// `--k auto`: the smallest share of the customers every segment of a chosen k must hold
    /// (`--min-share`), in [0, 0.5).
    pub min_share: f64,
    /// Random seed for k-means++ seeding and for the silhouette's sample (`--seed`).
    pub seed: u64,
    /// Most Lloyd steps per k-means run (`--max-iter`), at least 1.
    pub max_iter: usize,
    /// Convergence tolerance relative to the mean feature variance (`--tol`), finite and ≥ 0.
    pub tol: f64,
    /// k-means++ restarts, the lowest inertia winning (`--n-init`), at least 1.
    pub n_init: usize,
    /// Starting centroids (`--init FILE`): a header naming the features, then one row per
    /// segment, in the scaled feature space.
    pub init: Option<PathBuf>,
    /// Streamed fits: rows (spread over the data) the starting centroids are chosen on.
    pub init_sample: usize,
    /// Which compute backend runs the distance work (`--backend`).
    pub backend: BackendChoice,
    /// k-means or k-prototypes (`--algorithm`).
    pub algorithm: Algorithm,
    /// k-prototypes' weight of a categorical mismatch against the squared numeric distance
    /// (`--gamma`); `None`: kmodes' rule, half the mean standard deviation of the numeric
    /// features.
    pub gamma: Option<f64>,
}

/// What protects the customers in the outputs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PrivacySettings {
    /// No exported segment smaller than this (`--min-segment-size`): smaller ones are merged
    /// into the nearest larger one.
    pub min_segment_size: Option<u64>,
    /// Replace ids in the outputs by HMAC-SHA-256 under this secret (`--pseudonymize-ids`).
    pub id_salt: Option<Salt>,
}

/// Where the run goes and what it flags.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OutputSettings {
    /// The output folder (`--out`); created if missing, and never a file.
    pub folder: PathBuf,
    /// Customers whose nearest-over-second-nearest centroid distance ratio is above this are
    /// flagged as ambiguous (`--ambiguous-ratio`); above 0 and at most 1.
    pub ambiguous_ratio: f64,
    /// How the assignments are stored (`--format`): `assignments.csv`, `.parquet` or `.arrows`.
    pub format: AssignmentsFormat,
    /// `--rules`: print each segment's rule and write `segment_rules.sql` (segments.json and
    /// the report always carry the rules).
    pub rules: bool,
    /// The rule trees' depth limit (`--rules-depth`), 1 to [`MAX_RULES_DEPTH`].
    pub rules_depth: usize,
}

/// The deepest rule tree `--rules-depth` allows: deeper rules are no longer short.
pub const MAX_RULES_DEPTH: usize = 6;

/// A secret key for pseudonymizing ids; never printed (its `Debug` says only its length).
#[derive(Clone, PartialEq, Eq)]
pub struct Salt(Vec<u8>);

/// Shortest salt accepted: a short one could be found by trying every value.
pub const MIN_SALT_LEN: usize = 16;

/// Fewest different bytes a salt may have: a random one of 16 bytes or more has far more.
pub const MIN_SALT_DISTINCT: usize = 6;

impl Salt {
    /// Takes a secret of at least [`MIN_SALT_LEN`] bytes; a shorter one is a
    /// [`CoreError::Settings`].
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Salt, CoreError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SALT_LEN {
            return Err(CoreError::Settings(format!(
                "the id salt must be at least {MIN_SALT_LEN} bytes (got {}); use a long random \
                 secret, e.g. `openssl rand -hex 32`, and keep it to compare runs",
                bytes.len()
            )));
        }
        // Length alone let "aaaaaaaaaaaaaaaa" or 16 spaces through: guessable, so pseudonyms
        // could be reversed by trying ids. A random secret has many different bytes.
        let mut distinct = bytes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < MIN_SALT_DISTINCT {
            return Err(CoreError::Settings(format!(
                "the id salt has only {} different characters: it must be a random secret \
                 (at least {MIN_SALT_DISTINCT} different), e.g. `openssl rand -hex 32`",
                distinct.len()
            )));
        }
        Ok(Salt(bytes))
    }
    /// The secret, to key the HMAC with.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Salt({} bytes, withheld)", self.0.len())
    }
}

/// Default `--ambiguous-ratio`: within 10% of as close to a second segment as to their own.
pub const DEFAULT_AMBIGUOUS_RATIO: f64 = 0.9;

impl FitSettings {
    /// Starts a job that segments `input` with the strategy named `strategy` and writes to the
    /// folder `out`; every other setting starts at its default.
    pub fn builder(
        input: impl Into<PathBuf>,
        out: impl Into<PathBuf>,
        strategy: &str,
    ) -> FitSettingsBuilder {
        FitSettingsBuilder {
            s: FitSettings {
                input: InputSettings {
                    path: input.into(),
                    source: Source::Customers,
                    maps: Vec::new(),
                    id_column: None,
                    allow_duplicate_ids: false,
                    delimiter: None,
                    missing: MissingPolicy::Impute,
                    as_of: None,
                    date_format: None,
                    streaming: Streaming::Auto,
                    prep_sample_mb: DEFAULT_PREP_SAMPLE_MB,
                    max_categories: DEFAULT_MAX_CATEGORIES,
                    origin: None,
                },
                strategy: StrategySettings {
                    name: strategy.to_owned(),
                    scale: None,
                    options: Vec::new(),
                },
                cluster: ClusterSettings {
                    mode: Mode::Kmeans,
                    k: None,
                    k_range: None,
                    min_share: crate::select::DEFAULT_MIN_SHARE,
                    seed: DEFAULT_SEED,
                    max_iter: DEFAULT_MAX_ITER,
                    tol: DEFAULT_TOL,
                    n_init: DEFAULT_N_INIT,
                    init: None,
                    init_sample: DEFAULT_INIT_SAMPLE,
                    backend: BackendChoice::Auto,
                    algorithm: Algorithm::KMeans,
                    gamma: None,
                },
                privacy: PrivacySettings {
                    min_segment_size: None,
                    id_salt: None,
                },
                output: OutputSettings {
                    folder: out.into(),
                    ambiguous_ratio: DEFAULT_AMBIGUOUS_RATIO,
                    rules: false,
                    rules_depth: strata_rules::DEFAULT_MAX_DEPTH,
                    format: AssignmentsFormat::Csv,
                },
                value: None,
                outcomes: OutcomeSettings::default(),
            },
        }
    }

    /// What is read and how: the file, its kind, the bindings, ids, missing values, dates and streaming.
    pub fn input(&self) -> &InputSettings {
        &self.input
    }

    /// The strategy plugin and what it is given.
    pub fn strategy(&self) -> &StrategySettings {
        &self.strategy
    }

    /// How segments are found: k-means (its k, seeding and stopping) or RFM, and on which backend.
    pub fn cluster(&self) -> &ClusterSettings {
        &self.cluster
    }

    /// What protects the customers in the outputs.
    pub fn privacy(&self) -> &PrivacySettings {
        &self.privacy
    }

    /// Where the run goes and what it flags.
    pub fn output(&self) -> &OutputSettings {
        &self.output
    }

    /// The outcome and treatment columns evaluated by segment.
    pub fn outcomes(&self) -> &OutcomeSettings {
        &self.outcomes
    }

    /// The value model fitted beside the segments (`--value-model`), if any.
    pub fn value(&self) -> Option<&ValueModelSettings> {
        self.value.as_ref()
    }

    /// Options handed to the plugin, as a JSON object.
    pub fn plugin_options(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        if let Some(s) = &self.strategy.scale {
            m.insert("scale".into(), serde_json::Value::String(s.clone()));
        }
        for (k, v) in &self.strategy.options {
            m.insert(k.clone(), serde_json::Value::String(v.clone()));
        }
        if let Some(days) = self.input.as_of {
            m.insert(
                "as_of_days".into(),
                serde_json::Value::String(days.to_string()),
            );
        }
        serde_json::Value::Object(m)
    }
}

/// Builder for [`FitSettings`]; [`build`](FitSettingsBuilder::build) validates.
#[derive(Debug, Clone)]
pub struct FitSettingsBuilder {
    s: FitSettings,
}

impl FitSettingsBuilder {
    /// Adds a role binding (`--map ROLE=COLUMNS`); a role mapped twice fails in
    /// [`build`](Self::build).
    pub fn map(mut self, m: RoleMap) -> Self {
        self.s.input.maps.push(m);
        self
    }
    /// Sets the id column (`--id-column`); `None`: ids are the 1-based row numbers.
    pub fn id_column(mut self, c: Option<String>) -> Self {
        self.s.input.id_column = c;
        self
    }
    /// Accepts repeated ids (`--allow-duplicate-ids`).
    pub fn allow_duplicate_ids(mut self, v: bool) -> Self {
        self.s.input.allow_duplicate_ids = v;
        self
    }
    /// Sets the field delimiter (`--delimiter`); `None`: sniffed.
    pub fn delimiter(mut self, d: Option<u8>) -> Self {
        self.s.input.delimiter = d;
        self
    }
    /// Says what the input file stands for, when it is a copy (standard input, a database).
    pub fn origin(mut self, origin: Option<Origin>) -> Self {
        self.s.input.origin = origin;
        self
    }
    /// Sets the number of segments (`--k N`); `None`: the strategy's default.
    pub fn k(mut self, k: Option<usize>) -> Self {
        self.s.cluster.k = k;
        self
    }
    /// `--k auto --k-range LO..HI`: choose k in this range (checked in [`build`](Self::build)).
    pub fn k_range(mut self, r: Option<std::ops::RangeInclusive<usize>>) -> Self {
        self.s.cluster.k_range = r;
        self
    }
    /// `--min-share`: the smallest share of the customers each segment of a chosen k must
    /// hold (checked in [`build`](Self::build)).
    pub fn min_share(mut self, v: f64) -> Self {
        self.s.cluster.min_share = v;
        self
    }
    /// Sets the k-means++ seed (`--seed`).
    pub fn seed(mut self, v: u64) -> Self {
        self.s.cluster.seed = v;
        self
    }
    /// Sets the most Lloyd steps per run (`--max-iter`).
    pub fn max_iter(mut self, v: usize) -> Self {
        self.s.cluster.max_iter = v;
        self
    }
    /// Sets the convergence tolerance (`--tol`).
    pub fn tol(mut self, v: f64) -> Self {
        self.s.cluster.tol = v;
        self
    }
    /// Sets the number of k-means++ restarts (`--n-init`).
    pub fn n_init(mut self, v: usize) -> Self {
        self.s.cluster.n_init = v;
        self
    }
    /// Sets the feature scaling (`--scale`): `zscore`, `robust` or `none`; `None`: the
    /// strategy's default.
    pub fn scale(mut self, v: Option<String>) -> Self {
        self.s.strategy.scale = v;
        self
    }
    /// Adds a strategy-specific option (`--option KEY=VALUE`).
    pub fn option(mut self, key: &str, value: &str) -> Self {
        self.s
            .strategy
            .options
            .push((key.to_owned(), value.to_owned()));
        self
    }
    /// Sets what to do with missing values (`--missing`).
    pub fn missing(mut self, v: MissingPolicy) -> Self {
        self.s.input.missing = v;
        self
    }
    /// Sets whether the input is a customer table or a transaction log (`--transactions`).
    pub fn source(mut self, v: Source) -> Self {
        self.s.input.source = v;
        self
    }
    /// Sets k-means or RFM segments (`--mode`).
    pub fn mode(mut self, v: Mode) -> Self {
        self.s.cluster.mode = v;
        self
    }
    /// `--as-of`: an ISO date (`YYYY-MM-DD`); checked in [`build`](Self::build).
    pub fn as_of(mut self, v: Option<&str>) -> Result<Self, CoreError> {
        self.s.input.as_of = match v {
            None => None,
            Some(text) => Some(strata_ingest::parse_iso_date(text).ok_or_else(|| {
                CoreError::Settings(format!(
                    "--as-of must be a date like 2011-12-10, got '{text}'"
                ))
            })?),
        };
        Ok(self)
    }
    /// Starts k-means from the centroids in this file (`--init FILE`) instead of k-means++.
    pub fn init(mut self, v: Option<PathBuf>) -> Self {
        self.s.cluster.init = v;
        self
    }
    /// Forces the transaction log's date layout (`--date-format`); `None`: detected.
    pub fn date_format(mut self, v: Option<strata_ingest::DateFormat>) -> Self {
        self.s.input.date_format = v;
        self
    }
    /// Sets the compute backend (`--backend`).
    pub fn backend(mut self, v: BackendChoice) -> Self {
        self.s.cluster.backend = v;
        self
    }
    /// k-means, k-prototypes or the choice by the strategy's features (`--algorithm`).
    pub fn algorithm(mut self, v: Algorithm) -> Self {
        self.s.cluster.algorithm = v;
        self
    }
    /// k-prototypes' γ (`--gamma`); `None`: kmodes' default rule.
    pub fn gamma(mut self, v: Option<f64>) -> Self {
        self.s.cluster.gamma = v;
        self
    }
    /// Sets whether to stream the file (`--stream`).
    pub fn streaming(mut self, v: Streaming) -> Self {
        self.s.input.streaming = v;
        self
    }
    /// Sets the megabytes a streamed fit learns its preprocessing from (`--prep-sample`).
    pub fn prep_sample_mb(mut self, v: u64) -> Self {
        self.s.input.prep_sample_mb = v;
        self
    }
    /// Sets the most distinct values a bound categorical column may have (`--max-categories`).
    pub fn max_categories(mut self, v: usize) -> Self {
        self.s.input.max_categories = v;
        self
    }
    /// Sets the rows a streamed fit chooses its starting centroids on (`--init-sample`).
    pub fn init_sample(mut self, v: usize) -> Self {
        self.s.cluster.init_sample = v;
        self
    }
    /// `--rules` (print the rules, write `segment_rules.sql`) and `--rules-depth`.
    pub fn rules(mut self, write: bool, depth: usize) -> Self {
        self.s.output.rules = write;
        self.s.output.rules_depth = depth;
        self
    }
    /// Sets the distance ratio above which a customer is ambiguous (`--ambiguous-ratio`).
    pub fn ambiguous_ratio(mut self, v: f64) -> Self {
        self.s.output.ambiguous_ratio = v;
        self
    }
    /// Sets how the assignments are stored (`--format`).
    pub fn assignments_format(mut self, v: AssignmentsFormat) -> Self {
        self.s.output.format = v;
        self
    }
    /// Sets the smallest segment exported (`--min-segment-size`); `None`: no merging.
    pub fn min_segment_size(mut self, v: Option<u64>) -> Self {
        self.s.privacy.min_segment_size = v;
        self
    }
    /// Pseudonymizes ids under this secret (`--pseudonymize-ids`); `None`: ids as they are.
    pub fn id_salt(mut self, v: Option<Salt>) -> Self {
        self.s.privacy.id_salt = v;
        self
    }

    /// Evaluates `columns` by segment (`--outcome`), read from `file` (`--outcomes`) or the
    /// input, with a `treatment` column (`--treatment`).
    pub fn outcomes(
        mut self,
        columns: Vec<String>,
        file: Option<PathBuf>,
        treatment: Option<String>,
    ) -> Self {
        self.s.outcomes = OutcomeSettings {
            columns,
            file,
            treatment,
        };
        self
    }

    /// Fits a value model beside the segments (`--value-model`); `None`: none.
    pub fn value_model(mut self, v: Option<ValueModelSettings>) -> Self {
        self.s.value = v;
        self
    }

    /// Checks every setting, alone and against the others; the first problem found is a
    /// [`CoreError::Settings`] naming the flag.
    pub fn build(self) -> Result<FitSettings, CoreError> {
        let s = self.s;
        let bad = |m: String| Err(CoreError::Settings(m));
        if s.cluster.k == Some(0) {
            return bad("k must be at least 1 (got 0)".into());
        }
        if let Some(k) = s.cluster.k.filter(|&k| k > MAX_MODEL_K) {
            return bad(format!(
                "k must be at most {} (got {k}): past that a model cannot be scored",
                MAX_MODEL_K
            ));
        }
        if let Some(r) = &s.cluster.k_range {
            if s.cluster.k.is_some() {
                return bad("give --k a number or --k auto, not both".into());
            }
            if *r.start() < 2 || r.start() > r.end() || *r.end() > MAX_K_RANGE_END {
                return bad(format!(
                    "--k-range must be LO..HI with 2 ≤ LO ≤ HI ≤ {MAX_K_RANGE_END} (got {}..{})",
                    r.start(),
                    r.end()
                ));
            }
            if s.cluster.init.is_some() {
                return bad("--init fixes k by its rows; it cannot go with --k auto".into());
            }
            if s.cluster.mode == Mode::Rfm {
                return bad(
                    "--mode rfm has its 11 named segments; --k auto applies to k-means only".into(),
                );
            }
        }
        if !(0.0..0.5).contains(&s.cluster.min_share) {
            return bad(format!(
                "--min-share must be a fraction in [0, 0.5), e.g. 0.02 for 2% (got {})",
                s.cluster.min_share
            ));
        }
        if s.cluster.max_iter == 0 {
            return bad("--max-iter must be at least 1".into());
        }
        if s.input.max_categories == 0 {
            return bad("--max-categories must be at least 1".into());
        }
        if s.input.prep_sample_mb == 0 {
            return bad("--prep-sample must be at least 1 (MB)".into());
        }
        if !(1..=MAX_RULES_DEPTH).contains(&s.output.rules_depth) {
            return bad(format!(
                "--rules-depth must be 1 to {MAX_RULES_DEPTH} (got {})",
                s.output.rules_depth
            ));
        }
        if !(s.output.ambiguous_ratio > 0.0 && s.output.ambiguous_ratio <= 1.0) {
            return bad(format!(
                "--ambiguous-ratio must be above 0 and at most 1 (got {})",
                s.output.ambiguous_ratio
            ));
        }
        if s.privacy.min_segment_size == Some(0) {
            return bad("--min-segment-size must be at least 1".into());
        }
        if s.privacy.min_segment_size.is_some() && s.cluster.mode == Mode::Rfm {
            return bad(
                "--min-segment-size merges k-means segments; RFM segments are fixed by their scores"
                    .into(),
            );
        }
        if s.cluster.init_sample == 0 {
            return bad("--init-sample must be at least 1 (rows)".into());
        }
        let o = &s.outcomes;
        if o.columns.is_empty() && (o.treatment.is_some() || o.file.is_some()) {
            return bad(
                "--treatment and --outcomes need the outcome columns named with --outcome COL"
                    .into(),
            );
        }
        if !o.columns.is_empty() && o.file.is_none() && s.input.source != Source::Customers {
            return bad(
                "--outcome: a transaction log or summary has no per-customer outcome column; give \
                 them in a table of their own, one row per customer, with --outcomes FILE"
                    .into(),
            );
        }
        let mut names: Vec<&String> = o.columns.iter().chain(&o.treatment).collect();
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return bad(format!(
                "'{}' is named twice among --outcome and --treatment",
                w[0]
            ));
        }
        if s.input.source == Source::Summary && s.value.is_none() {
            return bad(
                "--summary is the value model's input: add --value-model bgnbd (and --horizon \
                 in the summary's periods)"
                    .into(),
            );
        }
        if s.input.streaming == Streaming::Always
            && (s.input.source != Source::Customers || s.cluster.mode == Mode::Rfm)
        {
            return bad(
                "--stream always works on customer tables clustered with k-means; a transaction \
                 log or --mode rfm is read whole"
                    .into(),
            );
        }
        if s.cluster.n_init == 0 {
            return bad("--n-init must be at least 1".into());
        }
        if let Some(g) = s.cluster.gamma {
            if !(g.is_finite() && g >= 0.0) {
                return bad(format!(
                    "--gamma must be a finite number ≥ 0 (got {g}): the weight of one \
                     categorical mismatch against the squared numeric distance"
                ));
            }
            if s.cluster.algorithm == Algorithm::KMeans {
                return bad("--gamma weighs k-prototypes' mismatches: add --algorithm \
                            kprototypes (or auto)"
                    .into());
            }
        }
        if s.cluster.algorithm != Algorithm::KMeans {
            let c = &s.cluster;
            // What k-prototypes does not do yet, refused rather than done some other way.
            let unsupported = [
                (c.mode == Mode::Rfm, "--mode rfm"),
                (c.init.is_some(), "--init"),
                (s.input.streaming == Streaming::Always, "--stream"),
                (s.privacy.min_segment_size.is_some(), "--min-segment-size"),
            ];
            if let Some((_, flag)) = unsupported.iter().find(|(on, _)| *on) {
                return bad(format!(
                    "--algorithm {} does not go with {flag} in this version: k-prototypes \
                     starts from Cao's prototypes, on a table held in memory (use \
                     --algorithm kmeans for {flag})",
                    c.algorithm.name()
                ));
            }
        }
        if let Some(v) = &s.value {
            if s.input.source == Source::Customers {
                return bad(
                    "--value-model reads purchase histories: give a transaction log with \
                     --transactions, or a per-customer summary with --summary"
                        .into(),
                );
            }
            if v.horizon == 0 {
                return bad("--horizon must be at least 1 period".into());
            }
            if !(v.discount_rate.is_finite() && v.discount_rate >= 0.0) {
                return bad(format!(
                    "--discount-rate must be a number ≥ 0 per period (got {})",
                    v.discount_rate
                ));
            }
            if !(v.at_risk_below > 0.0 && v.at_risk_below < 1.0) {
                return bad(format!(
                    "--at-risk-below must be a probability between 0 and 1 (got {})",
                    v.at_risk_below
                ));
            }
        }
        if !(s.cluster.tol.is_finite() && s.cluster.tol >= 0.0) {
            return bad(format!(
                "--tol must be a number ≥ 0 (got {})",
                s.cluster.tol
            ));
        }
        // A file, or a device such as /dev/null: anything there that is not a folder.
        if s.output.folder.exists() && !s.output.folder.is_dir() {
            return bad(format!(
                "--out {} is a file, not a folder; give a folder",
                s.output.folder.display()
            ));
        }
        if let Some(d) = s.input.delimiter
            && (d == b'"' || d == b'\n' || d == b'\r')
        {
            return bad("the delimiter cannot be a quote or a line break".into());
        }
        if let Some(sc) = &s.strategy.scale
            && !matches!(sc.as_str(), "zscore" | "robust" | "none")
        {
            return bad(format!(
                "--scale must be zscore, robust or none (got '{sc}')"
            ));
        }
        for (i, (k, _)) in s.strategy.options.iter().enumerate() {
            if k.is_empty()
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return bad(format!(
                    "--option key '{k}' must be lowercase letters, digits or '_'"
                ));
            }
            if k == "scale" {
                return bad("use --scale rather than --option scale=...".into());
            }
            if s.strategy.options[..i].iter().any(|(o, _)| o == k) {
                return bad(format!("--option {k} is given twice"));
            }
        }
        if s.input.source == Source::Transactions && s.input.id_column.is_some() {
            return bad("with --transactions the customer id comes from the log: use --map customer_id=COLUMN instead of --id-column".into());
        }
        if s.cluster.mode == Mode::Rfm && s.cluster.init.is_some() {
            return bad(
                "--init gives k-means starting centroids; --mode rfm does not cluster".into(),
            );
        }
        if s.cluster.mode == Mode::Rfm && s.cluster.k.is_some() {
            return bad("--mode rfm has its 11 named segments; --k applies to k-means only".into());
        }
        let mut roles: Vec<&str> = s.input.maps.iter().map(|m| m.role.as_str()).collect();
        roles.sort_unstable();
        if let Some(w) = roles.windows(2).find(|w| w[0] == w[1]) {
            return bad(format!(
                "role '{}' is mapped twice; list its columns in one --map",
                w[0]
            ));
        }
        Ok(s)
    }
}

/// Largest k `--k-range` accepts: each k is a whole fit, and past a few dozen segments no
/// marketer reads them.
pub const MAX_K_RANGE_END: usize = 64;

/// Default `--k-range`.
pub const DEFAULT_K_RANGE: std::ops::RangeInclusive<usize> = 2..=12;

/// Parses `--k-range LO..HI` (also `LO..=HI` and `LO-HI`), inclusive.
pub fn parse_k_range(s: &str) -> Result<std::ops::RangeInclusive<usize>, String> {
    let (lo, hi) = s
        .split_once("..=")
        .or_else(|| s.split_once(".."))
        .or_else(|| s.split_once('-'))
        .ok_or_else(|| format!("expected LO..HI, e.g. 2..12, got '{s}'"))?;
    let num = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("expected LO..HI with whole numbers, e.g. 2..12, got '{s}'"))
    };
    Ok(num(lo)?..=num(hi)?)
}

/// Parses `--option KEY=VALUE`.
pub fn parse_option(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!(
            "expected KEY=VALUE (e.g. industry_level=2), got '{s}'"
        )),
    }
}

/// Parses `--delimiter`: one character, or `tab` / `\t`.
pub fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(format!("expected one ASCII character or 'tab', got '{s}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_maps_parse() {
        let m: RoleMap = "Income=Annual Income (k$)".parse().unwrap();
        assert_eq!(
            m,
            RoleMap {
                role: "income".into(),
                spec: "Annual Income (k$)".into()
            }
        );
        assert!("age".parse::<RoleMap>().is_err());
        assert!("=Age".parse::<RoleMap>().is_err());
    }

    #[test]
    fn settings_are_validated() {
        let b = || FitSettings::builder("in.csv", "/tmp/strata-out-x", "demographic");
        assert!(b().build().is_ok());
        for bad in [
            b().k(Some(0)),
            b().max_iter(0),
            b().n_init(0),
            b().tol(-1.0),
            b().tol(f64::NAN),
            b().scale(Some("minmax".into())),
            b().map("age=A".parse().unwrap())
                .map("age=B".parse().unwrap()),
        ] {
            assert!(matches!(bad.build(), Err(CoreError::Settings(_))));
        }
        let s = b()
            .scale(Some("robust".into()))
            .option("industry_level", "2")
            .build()
            .unwrap();
        assert_eq!(
            s.plugin_options(),
            serde_json::json!({"scale": "robust", "industry_level": "2"})
        );
        assert_eq!(parse_k_range("2..12"), Ok(2..=12));
        assert_eq!(parse_k_range("3..=5"), Ok(3..=5));
        assert_eq!(parse_k_range("2-6"), Ok(2..=6));
        assert!(parse_k_range("2..x").is_err());
        assert!(b().k_range(Some(2..=8)).build().is_ok());
        for bad in [
            b().k_range(Some(1..=8)),
            b().k_range(Some(std::ops::RangeInclusive::new(5, 4))),
            b().k_range(Some(2..=8)).k(Some(3)),
            b().k_range(Some(2..=8)).init(Some("c.csv".into())),
        ] {
            assert!(matches!(bad.build(), Err(CoreError::Settings(_))));
        }
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert!(parse_delimiter(";;").is_err());
    }
}
