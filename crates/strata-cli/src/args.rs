//! Command-line flags, and their conversion into validated library settings (the one place
//! raw flags become settings).

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use strata_core::{
    BackendChoice, FitSettings, FitSettingsBuilder, MissingPolicy, RoleMap, Streaming,
};

#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about = "Customer segmentation from the command line: CSV in, segments a marketer can act on out",
    long_about = "Customer segmentation from the command line.\n\n\
        A strategy plugin (demographic, features, ...) turns CSV columns into feature vectors; \
        Strata clusters them with k-means and writes per-customer assignments, segment profiles \
        in the data's own units, and a model that can score new customers.\n\n\
        Start with `strata plugins` to see the strategies and their roles, then \
        `strata fit --help`.",
    after_help = "Example:\n  strata fit --strategy demographic --id-column CustomerID \\\n    --map gender=Genre --map \"income=Annual Income (k$)\" --k 5 --out out/ customers.csv"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// More log output on stderr (-v info, -vv debug with every k-means step). STRATA_LOG
    /// overrides, e.g. STRATA_LOG=debug.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// How log lines on stderr look: `text` for people, `json` (one object per line: level,
    /// message, fields) for pipelines. JSON also turns progress bars off.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,
    /// Never draw progress bars (they are drawn only when stderr is a terminal anyway, and
    /// never with --quiet).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Worker threads (default: one per core). Results are identical for any count.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Another folder to load strategy plugins from (repeatable). Searched after the folder
    /// of the strata executable and the folders in STRATA_PLUGIN_PATH.
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    pub plugin_dirs: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Segment the customers in a CSV file and write assignments, profiles and a model.
    Fit(Box<FitArgs>),
    /// Fit every k of a range and print inertia, silhouette, Davies-Bouldin and
    /// Calinski-Harabasz for each, with a recommended k (writes no segments).
    ChooseK(Box<ChooseKArgs>),
    /// Score new customers with a saved model (model.json from a fit): the same columns,
    /// scaling and centroids, streaming the file.
    Assign(AssignArgs),
    /// Add up the partial.json tallies of assign runs of one model (shards scored on many
    /// machines, Spark partitions) into that run's segments.json and report.html.
    Merge(MergeArgs),
    /// A part of the customers → their feature rows with a saved model (what assign computes
    /// before it labels them): id and one float32 column per feature.
    Transform(TransformArgs),
    /// One Lloyd pass over a part of the customers against a model's centroids: exact sums
    /// per centroid in a step.json, which `strata recenter` adds up across parts.
    Step(StepArgs),
    /// A model with new centroids: from the step.json tallies of one Lloyd pass over parts of
    /// the customers, or from a CSV of centroids refined elsewhere.
    Recenter(RecenterArgs),
    /// A saved model as one SQL query that scores a table in the warehouse: the strategy's
    /// preprocessing as SQL expressions, then the nearest centroid (Spark SQL, PostgreSQL,
    /// SQLite, DuckDB).
    ExportSql(ExportSqlArgs),
    /// How customers moved between two runs: migration matrix, new/gone/moved, population
    /// stability index per segment and overall, profile shifts.
    Compare(CompareArgs),
    /// List the strategy plugins found (and the files refused, with why).
    Plugins(PluginsArgs),
    /// List the GPU adapters wgpu sees (Vulkan, Metal, DX12) and their key limits.
    Devices,
    /// Write synthetic customers with planted segments (deterministic by seed, streamed).
    Synth(SynthArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BackendArg {
    /// The GPU when a hardware adapter exists, n·k·d ≥ 2·10⁸ and k·d ≥ 2048 (k ≥ 128 for 16
    /// features: below that 16 CPU cores beat an H200 per pass); otherwise the CPU. The choice
    /// and its reason are logged and in segments.json.
    Auto,
    /// Multi-threaded CPU backend.
    Cpu,
    /// wgpu compute shaders; an error when no adapter exists.
    Gpu,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AlgorithmArg {
    /// k-means on every feature; categorical columns one-hot encoded.
    Kmeans,
    /// k-prototypes (Huang): squared distance on the numeric features plus γ per categorical
    /// mismatch, with each segment's modes as its categorical centre. Needs a strategy that
    /// writes categorical codes (plugin ABI 1.4: demographic, psychographic); a fixed k, on a
    /// table held in memory; its labelling passes run on --backend, its online passes on the
    /// CPU.
    Kprototypes,
    /// k-prototypes when the strategy declares categorical features for the bound columns,
    /// k-means otherwise; the choice and its reason are logged and in segments.json.
    Auto,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StreamArg {
    /// Stream a customer table larger than a quarter of the memory available.
    Auto,
    /// Always stream (customer tables clustered with k-means).
    Always,
    /// Always hold the whole table in memory.
    Never,
}

/// How the assignments are stored (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// assignments.csv: text, one record per customer.
    Csv,
    /// assignments.parquet: typed columns (id as the input typed it, segment an integer,
    /// label a dictionary, distance and ratio as float32, ambiguous a boolean), Snappy.
    Parquet,
    /// assignments.arrows: an Arrow IPC stream with the Parquet file's columns.
    Arrow,
}

impl From<FormatArg> for strata_core::AssignmentsFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Csv => Self::Csv,
            FormatArg::Parquet => Self::Parquet,
            FormatArg::Arrow => Self::Arrow,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// k-means on the strategy's features.
    Kmeans,
    /// RFM quintile scores and named RFM segments.
    Rfm,
}

fn parse_date_format(s: &str) -> Result<strata_core::DateFormat, String> {
    s.parse()
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MissingArg {
    /// Fill with the median (numeric) or the most frequent category; counts are reported.
    Impute,
    /// Leave rows with a missing value out of the segmentation; the count is reported.
    Drop,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScaleArg {
    /// (x − mean) / standard deviation.
    Zscore,
    /// (x − median) / interquartile range: outliers pull less.
    Robust,
    /// Values as they are.
    None,
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Stopping rule: after each Lloyd step Strata computes the centroid shift \
        Σⱼ‖cⱼ(new) − cⱼ(old)‖² in the scaled feature space and stops, converged, when it is at or \
        below TOL × (mean over features of the feature's variance), or when no customer changed \
        segment; otherwise it stops after MAX_ITER steps and reports that it did not converge. \
        This is scikit-learn's rule, so --tol means the same in both.\n\n\
        Outputs in DIR (written only when the whole fit succeeded, each via a temporary file):\n  \
        assignments.csv  id, segment, label, distance, boundary_ratio, ambiguous: one row per \
        customer, in input order (assignments.parquet or assignments.arrows with --format: the \
        same columns, typed); with --value-model also p_alive, expected_purchases, \
        expected_value and clv\n  \
        segments.json    k, inertia, iterations, converged, and per segment its size, share, \
        label and centroid in the data's own units; value_model and each segment's predicted \
        value with --value-model, outcomes with --outcome\n  \
        model.json       bindings, scaling, centroids and options: what scores new customers\n  \
        report.html      the page for a marketer (sizes, value, predicted value, outcomes, \
        attractiveness, profiles, the segment map)\n  \
        value_summary.csv  with --value-model: id, frequency, recency, T, monetary_value per \
        customer (lifetimes' layout)\n\n\
        Segments are numbered by size, 0 the largest. The same input, seed and options give the \
        same segments on any number of threads."
)]
pub struct FitArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// kmeans: cluster the strategy's features. rfm: score recency, frequency and monetary
    /// into quintiles and name the standard RFM segments (behavioral strategy).
    #[arg(long, value_enum, default_value_t = ModeArg::Kmeans, help_heading = "Clustering")]
    pub mode: ModeArg,
    /// Number of segments, or `auto`: fit every k of --k-range, score each (silhouette,
    /// Davies-Bouldin, Calinski-Harabasz) and keep the recommended one; the table goes into
    /// segments.json and the summary. Default: the strategy's k.
    #[arg(long, short = 'k', value_name = "N|auto", value_parser = parse_k, help_heading = "Clustering")]
    pub k: Option<KArg>,
    #[command(flatten)]
    pub kmeans: KmeansArgs,
    /// Start k-means from these centroids instead of k-means++: a CSV whose header names the
    /// features in order (as in segments.json) and whose rows are centroids in the scaled
    /// feature space (e.g. a previous model's). k is the number of rows; one run.
    #[arg(long, value_name = "FILE", help_heading = "Clustering")]
    pub init: Option<PathBuf>,
    /// Stream the file instead of holding it whole: memory for the f32 feature matrix and the
    /// ids only, for files of tens of millions of customers. The file is read three times
    /// (a sample the strategy learns its preprocessing from, the features, the profiles), and
    /// k-means++ restarts run on a sample of the rows before Lloyd runs on all of them.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = StreamArg::Auto, help_heading = "Large files")]
    pub stream: StreamArg,
    /// Streamed fits: megabytes of the file, in chunks spread over all of it, that the
    /// strategy learns its preprocessing (scaling, imputation, categories) from. A file no
    /// larger is read whole, as an in-memory fit reads it.
    #[arg(long, value_name = "MB", default_value_t = strata_core::DEFAULT_PREP_SAMPLE_MB, help_heading = "Large files")]
    pub prep_sample: u64,
    /// Most distinct values a bound categorical column may have: each value becomes a
    /// feature, so a column of 30,000 postal codes would make 30,000 features. Group the
    /// values (postal code to region) rather than raise this far.
    #[arg(long, value_name = "N", default_value_t = strata_core::DEFAULT_MAX_CATEGORIES, help_heading = "Large files")]
    pub max_categories: usize,
    /// Streamed fits: rows (every ⌈n / ROWS⌉-th) the k-means++ restarts (and --k auto) run on;
    /// Lloyd then runs on every row from the best restart's centroids, and the inertia gap is
    /// reported.
    #[arg(long, value_name = "ROWS", default_value_t = strata_core::DEFAULT_INIT_SAMPLE, help_heading = "Large files")]
    pub init_sample: usize,
    /// Flag a customer as ambiguous (between two segments) when the distance to its centroid
    /// over the distance to the second-nearest is above R (1: exactly between the two).
    /// assignments.csv has the ratio and the flag; segments.json counts the flagged per segment.
    #[arg(long, value_name = "R", default_value_t = strata_core::DEFAULT_AMBIGUOUS_RATIO)]
    pub ambiguous_ratio: f64,
    /// Print each segment's rule, a short filter over the input columns in the data's units
    /// ("Annual Income (k$) > 69.5 and Spending Score (1-100) <= 40.5") with its precision
    /// (of the customers it catches, the share in the segment) and recall (of the segment,
    /// the share it catches), and write them as SQL WHERE clauses to segment_rules.sql for a
    /// CRM or ads tool. segments.json and the report carry the rules either way. Rules come
    /// from a one-vs-rest decision tree per segment (on a seeded sample of 100,000 customers
    /// above that).
    #[arg(long, help_heading = "Output")]
    pub rules: bool,
    /// The depth of the rules' trees: at most this many conditions per alternative.
    #[arg(long, value_name = "N", default_value_t = strata_core::DEFAULT_RULES_DEPTH, help_heading = "Output")]
    pub rules_depth: usize,
    /// No exported segment with fewer customers than N: smaller ones are merged into the
    /// segment whose centroid is nearest among the larger ones (said in the summary and in
    /// segments.json), so exported segments cannot single people out.
    #[arg(long, value_name = "N", help_heading = "Privacy")]
    pub min_segment_size: Option<u64>,
    #[command(flatten)]
    pub privacy: PrivacyArgs,
    /// Output folder (created if missing).
    #[arg(long, short = 'o', value_name = "DIR", help_heading = "Output")]
    pub out: PathBuf,
    /// How the assignments are stored: assignments.csv, assignments.parquet (typed columns,
    /// for Spark, pandas, DuckDB and warehouses) or assignments.arrows (an Arrow IPC stream).
    /// `strata compare` and --to read each.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = FormatArg::Csv, help_heading = "Output")]
    pub format: FormatArg,
    #[command(flatten)]
    pub value: ValueArgs,
    #[command(flatten)]
    pub outcomes: OutcomeArgs,
    #[command(flatten)]
    pub to: ToArgs,
}

/// `--outcome`, `--outcomes` and `--treatment` (fit).
#[derive(Debug, Args)]
#[command(next_help_heading = "Outcomes and campaign tests")]
pub struct OutcomeArgs {
    /// A column evaluated by segment, never clustered (repeatable): binary (1/0, true/false,
    /// yes/no: converted, churned, responded) as a rate with a Wilson 95% interval, or numeric
    /// (next-period revenue) as a mean with a t interval; per segment its lift against the
    /// whole base, and a test of whether segments differ (chi-square for rates, ANOVA's F for
    /// means) with its p-value. In segments.json (`outcomes`), the summary and the report. No
    /// role may take the column, so it never reaches the strategy.
    #[arg(long = "outcome", value_name = "COLUMN")]
    pub outcome: Vec<String>,
    /// Read the --outcome and --treatment columns from this table instead of the input: one
    /// row per customer, joined by the input's id column (same header name). Needed for a
    /// transaction log or a summary.
    #[arg(long, value_name = "FILE")]
    pub outcomes: Option<PathBuf>,
    /// A column saying who got the campaign: treated or control (also 1/0, true/false,
    /// yes/no). Per segment and outcome: treated − control with a 95% interval (Newcombe's
    /// for rates, Welch's for means), the segments where it pays ranked, and a warning where
    /// an arm has too few customers (under 30, or under 5 with or without the outcome) to say.
    #[arg(long, value_name = "COLUMN")]
    pub treatment: Option<String>,
}

/// `--value-model` and its options (fit with `--transactions`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Predicted value")]
pub struct ValueArgs {
    /// Predict each customer's future from their purchase history: bgnbd fits BG/NBD (Fader,
    /// Hardie & Lee 2005: purchases and the probability a customer is still active) and
    /// Gamma-Gamma (Fader & Hardie 2013: the value of a purchase) by maximum likelihood.
    /// assignments gain p_alive, expected_purchases, expected_value and clv; segments.json
    /// gains value_model (parameters, standard errors, log-likelihood) and per segment its
    /// predicted CLV, mean P(alive) and customers at risk; attractiveness then ranks by
    /// predicted CLV per customer. Needs --transactions; summaries are lifetimes' (frequency:
    /// repeat purchase periods; recency and T in periods; value: mean of the repeat periods').
    #[arg(long, value_enum, value_name = "MODEL")]
    pub value_model: Option<ValueModelArg>,
    /// The time unit purchases are counted in: day, or week (Monday to Sunday). A customer's
    /// purchases in one period count once, their values summed.
    #[arg(long, value_enum, default_value_t = PeriodArg::Day, requires = "value_model")]
    pub period: PeriodArg,
    /// Periods to predict over (default: a year, 365 days or 52 weeks).
    #[arg(long, value_name = "PERIODS", requires = "value_model")]
    pub horizon: Option<u32>,
    /// Discount rate per period of the CLV: period i's expected value is divided by
    /// (1 + RATE)^i (default 0: undiscounted).
    #[arg(
        long,
        value_name = "RATE",
        default_value_t = 0.0,
        requires = "value_model"
    )]
    pub discount_rate: f64,
    /// Count a customer as at risk of churning when P(alive) is below P.
    #[arg(long, value_name = "P", default_value_t = strata_core::DEFAULT_AT_RISK_BELOW, requires = "value_model")]
    pub at_risk_below: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValueModelArg {
    /// BG/NBD for purchases and churn, Gamma-Gamma for the value of a purchase.
    Bgnbd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeriodArg {
    /// Calendar days.
    Day,
    /// Weeks from Monday to Sunday.
    Week,
}

impl ValueArgs {
    /// The value model's settings; `summary`: the input is a value summary, whose periods
    /// only the user knows, so --horizon is required.
    fn settings(
        &self,
        summary: bool,
    ) -> Result<Option<strata_core::ValueModelSettings>, strata_core::CoreError> {
        if summary && self.value_model.is_some() && self.horizon.is_none() {
            return Err(strata_core::CoreError::Settings(
                "--summary: give --horizon in the summary's own periods (52 for a year of weeks)"
                    .into(),
            ));
        }
        Ok(self.value_model.map(|ValueModelArg::Bgnbd| {
            let period = match self.period {
                PeriodArg::Day => strata_core::Period::Day,
                PeriodArg::Week => strata_core::Period::Week,
            };
            let v = strata_core::ValueModelSettings::new(period)
                .discount_rate(self.discount_rate)
                .at_risk_below(self.at_risk_below);
            match self.horizon {
                Some(h) => v.horizon(h),
                None => v,
            }
        }))
    }
}

/// A PostgreSQL table or query as the input, shared by `fit`, `choose-k` and `assign`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Databases")]
pub struct FromArgs {
    /// Read the customers from PostgreSQL instead of a file: a URL such as
    /// postgresql://user@host:5432/database (a socket folder as ?host=/run/postgresql), with
    /// --table or --query. What the URL leaves out comes from PGHOST, PGPORT, PGUSER,
    /// PGDATABASE and PGPASSWORD, then ~/.pgpass (or PGPASSFILE), as for psql; prefer those
    /// to a password in the URL, which other users can see in the process list. The
    /// password is masked in every message and output. The rows are read once, by one COPY
    /// (a consistent snapshot), into a temporary Arrow file the run then reads (and removes);
    /// column types come from the database (numeric through its exact digits, timestamps in
    /// UTC, NULL as missing). No TLS: use a local socket or a tunnel.
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,
    /// With --from: the table to read (name or schema.name; unquoted names fold to lower
    /// case as in SQL). Rows come in the server's order; use --query with ORDER BY for a
    /// fixed one. Without --from (or with --query), --table names the --to table instead.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// With --from: a SELECT whose rows are the customers (any query that can stand in a
    /// FROM clause; its columns bind by name).
    #[arg(long, value_name = "SQL", requires = "from")]
    pub query: Option<String>,
}

/// Writing the assignments to a PostgreSQL table, shared by `fit` and `assign`.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Databases")]
pub struct ToArgs {
    /// Also write the assignments to a PostgreSQL table (URL as for --from): id, segment,
    /// label, distance, boundary_ratio, ambiguous (and the RFM columns) and the run's id,
    /// created if absent. Atomic: the rows are loaded into a new table that replaces the old
    /// one in the same transaction, so a failed or interrupted run leaves the previous table
    /// intact and readers never see half a run. With --pseudonymize-ids the table holds
    /// pseudonyms only. Beside it, TABLE_changes gains a row for every customer who entered
    /// or left a segment since the previous run (change = entered/exited, run_id,
    /// changed_at), what reverse-ETL tools sync as audience events. Segments are known by
    /// number: `strata assign` with the same model keeps them, a new fit may renumber.
    /// The run's files are written to --out first; a failed write-back leaves them there.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// The --to table (name or schema.name); --table works too when it is not the --from
    /// table. Without --to, the table is written in the --from database. A table of that
    /// name that strata did not write (no id, segment, label and run_id columns) is never
    /// replaced.
    #[arg(long, value_name = "NAME")]
    pub to_table: Option<String>,
}

/// Pseudonymized ids, shared by `fit` and `assign`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Privacy")]
pub struct PrivacyArgs {
    /// Write a keyed hash of each id instead of the id: HMAC-SHA-256 under a secret salt,
    /// 32 hex digits. The same salt gives the same pseudonyms in every run (so runs can be
    /// compared); keep it secret, and keep it to join results back to customers.
    #[arg(long)]
    pub pseudonymize_ids: bool,
    /// The secret salt for --pseudonymize-ids (at least 16 bytes). Prefer the STRATA_ID_SALT
    /// environment variable: a command line is visible to other users of the machine.
    #[arg(long, value_name = "SECRET", requires = "pseudonymize_ids")]
    pub salt: Option<String>,
}

impl PrivacyArgs {
    /// The salt, from --salt or STRATA_ID_SALT, when ids are to be pseudonymized.
    pub fn salt(&self) -> Result<Option<strata_core::Salt>, strata_core::CoreError> {
        if !self.pseudonymize_ids {
            return Ok(None);
        }
        let secret = match &self.salt {
            Some(s) => s.clone().into_bytes(),
            None => match std::env::var_os("STRATA_ID_SALT") {
                Some(s) => s.into_encoded_bytes(),
                None => {
                    return Err(strata_core::CoreError::Settings(
                        "--pseudonymize-ids needs a secret salt: set STRATA_ID_SALT (or pass \
                         --salt)"
                            .into(),
                    ));
                }
            },
        };
        strata_core::Salt::new(secret).map(Some)
    }
}

/// `--k N` or `--k auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KArg {
    Auto,
    N(usize),
}

fn parse_k(s: &str) -> Result<KArg, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(KArg::Auto);
    }
    s.parse()
        .map(KArg::N)
        .map_err(|_| format!("expected a number of segments or 'auto', got '{s}'"))
}

/// What to read and how to turn it into features: shared by `fit` and `choose-k`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// The customers, one row per customer: a CSV file (header required), a Parquet file or
    /// a folder of Parquet part files (as Spark writes them; names starting with _ or . are
    /// skipped), or an Arrow IPC file or stream. The format is known from the file's first
    /// bytes; columns bind by name and a columnar file's types come from its schema.
    #[arg(
        value_name = "INPUT",
        required_unless_present_any = ["transactions", "from", "summary"],
        conflicts_with_all = ["transactions", "from", "summary"]
    )]
    pub input: Option<PathBuf>,
    /// A transaction log instead of a customer table: one row per purchase line, aggregated per
    /// customer into recency, frequency, monetary, avg_order_value, tenure and
    /// interpurchase_days (for the behavioral strategy). Bind its columns with --map
    /// customer_id=, timestamp=, amount= (or quantity= and unit_price=), invoice=; the usual
    /// headers (CustomerID, InvoiceDate, Quantity, UnitPrice, InvoiceNo) are found without.
    #[arg(
        long,
        value_name = "LOG.csv",
        help_heading = "Transaction logs",
        conflicts_with = "from"
    )]
    pub transactions: Option<PathBuf>,
    /// A per-customer value summary instead of a log, as lifetimes and PyMC-Marketing users
    /// keep them (and as a --value-model fit writes value_summary.csv): frequency (repeat
    /// purchase periods), recency and T (periods from the first purchase to the last and to
    /// the end), optionally monetary_value (mean value of the repeat purchases). Columns are
    /// found by those names (also x, t_x, zbar; id or CustomerID for the id) or bound with
    /// --map customer_id=, frequency=, recency=, t=, monetary_value=. Needs --value-model and
    /// --horizon in the summary's periods; the behavioral strategy segments measures derived
    /// from it (recency = T − recency, frequency + 1 purchases, ...).
    #[arg(
        long,
        value_name = "SUMMARY.csv",
        help_heading = "Transaction logs",
        conflicts_with_all = ["from", "transactions"]
    )]
    pub summary: Option<PathBuf>,
    /// Measure behaviour as of this day, YYYY-MM-DD (default: the day after the last purchase);
    /// later transactions are left out.
    #[arg(long, value_name = "DATE", help_heading = "Transaction logs")]
    pub as_of: Option<String>,
    /// Date layout of the transaction log: iso, mdy (12/31/2010 8:26), dmy (31/12/2010) or
    /// ymd (20101231). Default: detected; required when slash dates could be either. A
    /// Parquet or Arrow log's date and timestamp columns are typed and need none.
    #[arg(long, value_name = "LAYOUT", value_parser = parse_date_format, help_heading = "Transaction logs")]
    pub date_format: Option<strata_core::DateFormat>,
    /// Strategy plugin to use (see `strata plugins`).
    #[arg(long, short = 's', default_value = "demographic")]
    pub strategy: String,
    /// Bind a role to a column: ROLE=COLUMN, or for group roles ROLE=COL_A,COL_B or a glob
    /// ("features=spend_*"). Repeatable. Unbound roles match a header with the role's name,
    /// ignoring case and punctuation.
    #[arg(long = "map", short = 'm', value_name = "ROLE=COLUMN")]
    pub maps: Vec<RoleMap>,
    /// Column holding the customer id, copied to the outputs untouched (default: the 1-based
    /// row number). Never used as a feature and never logged.
    #[arg(long, value_name = "COLUMN")]
    pub id_column: Option<String>,
    /// Accept repeated ids (otherwise a repeated id is an error naming both lines).
    #[arg(long)]
    pub allow_duplicate_ids: bool,
    /// Field delimiter of a CSV input: one character or `tab` (default: sniffed among `,` `;`
    /// and tab). Columnar inputs have none.
    #[arg(long, value_name = "CHAR", value_parser = strata_core::parse_delimiter)]
    pub delimiter: Option<u8>,
    /// How numeric features are scaled (default: the strategy's, z-score for the bundled ones).
    #[arg(long, value_enum)]
    pub scale: Option<ScaleArg>,
    /// A strategy-specific option, KEY=VALUE (repeatable); `strata plugins --strategy NAME`
    /// lists what a strategy accepts.
    #[arg(long = "option", short = 'O', value_name = "KEY=VALUE", value_parser = strata_core::parse_option)]
    pub options: Vec<(String, String)>,
    /// Group industry codes (NAICS, SIC) by their first N digits: shorthand for
    /// `--option industry_level=N` (firmographic strategy).
    #[arg(long, value_name = "N")]
    pub industry_level: Option<u8>,
    /// What to do with missing values in bound columns.
    #[arg(long, value_enum, default_value_t = MissingArg::Impute)]
    pub missing: MissingArg,
    // Last: its help heading would carry on to the arguments after it.
    #[command(flatten)]
    pub database: FromArgs,
}

/// k-means options shared by `fit` and `choose-k`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Clustering")]
pub struct KmeansArgs {
    /// The k tried by --k auto (and choose-k), LO..HI inclusive. Giving it implies --k auto.
    #[arg(long, value_name = "LO..HI", value_parser = strata_core::parse_k_range)]
    pub k_range: Option<std::ops::RangeInclusive<usize>>,
    /// With --k auto, the smallest share of the customers every segment must hold for its k
    /// to be chosen, as a fraction (0.02 = 2%): a segment too small to act on does not count.
    #[arg(long, value_name = "FRACTION", default_value_t = strata_core::select::DEFAULT_MIN_SHARE)]
    pub min_share: f64,
    /// Random seed for k-means++ seeding; the default is fixed so runs are reproducible.
    #[arg(long, default_value_t = strata_kmeans_defaults::SEED)]
    pub seed: u64,
    /// Most Lloyd steps per run.
    #[arg(long, default_value_t = strata_kmeans_defaults::MAX_ITER)]
    pub max_iter: usize,
    /// Convergence tolerance, relative to the data's mean feature variance (see below).
    #[arg(long, default_value_t = strata_kmeans_defaults::TOL)]
    pub tol: f64,
    /// k-means++ restarts; the run with the lowest inertia wins.
    #[arg(long, default_value_t = strata_kmeans_defaults::N_INIT)]
    pub n_init: usize,
    /// Compute backend for the distance work.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// The clustering algorithm: k-means, or k-prototypes for tables that are mostly
    /// categorical (its segments have modes, "Married", where k-means' one-hot means say
    /// "0.4 Married").
    #[arg(long, value_enum, default_value_t = AlgorithmArg::Kmeans)]
    pub algorithm: AlgorithmArg,
    /// k-prototypes' weight of one categorical mismatch against the squared numeric distance
    /// (default: half the mean standard deviation of the numeric features, kmodes' rule).
    #[arg(long, value_name = "GAMMA", allow_negative_numbers = true)]
    pub gamma: Option<f64>,
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "For each k of --k-range (default 2..12), Strata fits k-means with the \
        given seed and restarts and prints its inertia (lower with every k; look for the bend), \
        silhouette (-1..1, higher is better), Davies-Bouldin (lower is better) and \
        Calinski-Harabasz (higher is better). The silhouette is exact up to 10,000 customers \
        and computed on a seeded sample above that.\n\n\
        Each k is also refitted on 20 seeded half-samples (RESAMPLED: the weakest segment's \
        mean Jaccard with its best match; above 0.75 it comes back, Hennig's \
        \"stable\") and its smallest segment's share is shown (SMALLEST).\n\n\
        Recommended k: the largest k whose segments are all stable and each hold at least \
        --min-share of the customers (default 2%): the most detail that is real and big \
        enough to act on. When no k passes, the highest silhouette, a smaller k within 0.01 \
        preferred. The runner-up is named with the reason it lost. The chosen k is then \
        checked against 19 single Gaussian blobs of the data's covariance cut the same way: \
        when the data's segments leave no less spread within them than a blob's do, Strata \
        says there is no good k (the segments are a partition of a continuum). `strata fit \
        --k auto` applies the same rule and goes on with the chosen k."
)]
pub struct ChooseKArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub kmeans: KmeansArgs,
    /// Also write the table as JSON to this file.
    #[arg(long, value_name = "FILE.json")]
    pub json: Option<PathBuf>,
}

/// Defaults shown in `--help`, taken from the k-means crate so they cannot drift.
mod strata_kmeans_defaults {
    pub const SEED: u64 = strata_core::kmeans_defaults::SEED;
    pub const MAX_ITER: usize = strata_core::kmeans_defaults::MAX_ITER;
    pub const TOL: f64 = strata_core::kmeans_defaults::TOL;
    pub const N_INIT: usize = strata_core::kmeans_defaults::N_INIT;
}

impl DataArgs {
    /// The settings builder for this input, before the command's own options.
    /// `spooled`: the file a database input was read into, and what it stands for.
    fn builder(
        &self,
        out: &std::path::Path,
        spooled: Option<(&std::path::Path, strata_core::Origin)>,
    ) -> Result<FitSettingsBuilder, strata_core::CoreError> {
        let (input, source, origin) = match (&self.input, &self.transactions, spooled) {
            (_, _, Some((copy, origin))) => (copy, strata_core::Source::Customers, Some(origin)),
            (_, Some(log), None) => (log.as_path(), strata_core::Source::Transactions, None),
            (Some(table), None, None) => (table.as_path(), strata_core::Source::Customers, None),
            (None, None, None) => match &self.summary {
                Some(s) => (s.as_path(), strata_core::Source::Summary, None),
                None => unreachable!("clap requires INPUT, --transactions, --summary or --from"),
            },
        };
        let mut b = FitSettings::builder(input, out, &self.strategy)
            .source(source)
            .origin(origin)
            .date_format(self.date_format)
            .as_of(self.as_of.as_deref())?
            .id_column(self.id_column.clone())
            .allow_duplicate_ids(self.allow_duplicate_ids)
            .delimiter(self.delimiter)
            .scale(self.scale.map(|s| {
                match s {
                    ScaleArg::Zscore => "zscore",
                    ScaleArg::Robust => "robust",
                    ScaleArg::None => "none",
                }
                .to_owned()
            }))
            .missing(match self.missing {
                MissingArg::Impute => MissingPolicy::Impute,
                MissingArg::Drop => MissingPolicy::Drop,
            });
        for m in &self.maps {
            b = b.map(m.clone());
        }
        for (k, v) in &self.options {
            b = b.option(k, v);
        }
        if let Some(level) = self.industry_level {
            b = b.option("industry_level", &level.to_string());
        }
        Ok(b)
    }
}

impl KmeansArgs {
    fn apply(&self, b: FitSettingsBuilder) -> FitSettingsBuilder {
        b.seed(self.seed)
            .min_share(self.min_share)
            .max_iter(self.max_iter)
            .tol(self.tol)
            .n_init(self.n_init)
            .backend(backend_choice(self.backend))
            .algorithm(match self.algorithm {
                AlgorithmArg::Kmeans => strata_core::Algorithm::KMeans,
                AlgorithmArg::Kprototypes => strata_core::Algorithm::KPrototypes,
                AlgorithmArg::Auto => strata_core::Algorithm::Auto,
            })
            .gamma(self.gamma)
    }
}

impl FitArgs {
    /// Validated settings for the library; `spooled` as for [`DataArgs::builder`].
    pub fn to_settings(
        &self,
        spooled: Option<(&std::path::Path, strata_core::Origin)>,
    ) -> Result<FitSettings, strata_core::CoreError> {
        let (k, k_range) = match (self.k, &self.kmeans.k_range) {
            (Some(KArg::N(k)), None) => (Some(k), None),
            (Some(KArg::N(_)), Some(_)) => {
                return Err(strata_core::CoreError::Settings(
                    "--k-range is for --k auto; drop it or --k N".into(),
                ));
            }
            (Some(KArg::Auto), r) | (None, r @ Some(_)) => (
                None,
                Some(r.clone().unwrap_or(strata_core::DEFAULT_K_RANGE)),
            ),
            (None, None) => (None, None),
        };
        let b = self
            .kmeans
            .apply(self.data.builder(&self.out, spooled)?)
            .mode(match self.mode {
                ModeArg::Kmeans => strata_core::Mode::Kmeans,
                ModeArg::Rfm => strata_core::Mode::Rfm,
            })
            .init(self.init.clone())
            .k(k)
            .k_range(k_range)
            .streaming(match self.stream {
                StreamArg::Auto => Streaming::Auto,
                StreamArg::Always => Streaming::Always,
                StreamArg::Never => Streaming::Never,
            })
            .prep_sample_mb(self.prep_sample)
            .max_categories(self.max_categories)
            .init_sample(self.init_sample)
            .ambiguous_ratio(self.ambiguous_ratio)
            .rules(self.rules, self.rules_depth)
            .assignments_format(self.format.into())
            .min_segment_size(self.min_segment_size)
            .value_model(self.value.settings(self.data.summary.is_some())?)
            .outcomes(
                self.outcomes.outcome.clone(),
                self.outcomes.outcomes.clone(),
                self.outcomes.treatment.clone(),
            )
            .id_salt(self.privacy.salt()?);
        b.build()
    }
}

impl ChooseKArgs {
    /// Validated settings: those of `fit --k auto` with the same flags. Nothing is written
    /// to the output folder, so it is only a placeholder.
    pub fn to_settings(
        &self,
        spooled: Option<(&std::path::Path, strata_core::Origin)>,
    ) -> Result<FitSettings, strata_core::CoreError> {
        self.kmeans
            .apply(self.data.builder(std::path::Path::new(""), spooled)?)
            .k_range(Some(
                self.kmeans
                    .k_range
                    .clone()
                    .unwrap_or(strata_core::DEFAULT_K_RANGE),
            ))
            .build()
    }
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "The model's strategy plugin must be found (same name) and compatible: \
        the same major version (the same minor while it is 0.x) and not older than the one \
        that fitted the model. The new file needs the model's id column and every column the \
        model bound, by header name; other columns are ignored. Missing values are imputed \
        with the training values, or the rows left out when the model was fitted with \
        --missing drop. A category not seen in training is scored with its indicators at 0.\n\n\
        The file is read once, a few MB at a time, so any size scores in a fixed amount of \
        memory. Ids are not checked for repeats (that would hold every id).\n\n\
        Outputs in DIR (renamed into place only when scoring succeeded):\n  \
        assignments.csv  id, segment, label, distance, boundary_ratio, ambiguous (as fit's; \
        .parquet or .arrows with --format)\n  \
        segments.json    the new customers' profiles under the model's segments; \
        `strata compare FIT_DIR DIR` shows how they moved.\n\n\
        Assigning the data a model was fitted on gives the fit's assignments exactly."
)]
pub struct AssignArgs {
    /// The model to score with: model.json written by `strata fit`.
    #[arg(long, value_name = "DIR/model.json")]
    pub model: PathBuf,
    /// The customers to score: CSV with a header, Parquet (a file or a folder of parts) or
    /// Arrow IPC, known from the first bytes; `-` reads standard input (as does a pipe or FIFO
    /// path: CSV or an Arrow IPC stream), spooled to a temporary file as it is read, so
    /// `… | strata assign --model M -o OUT -` works (and `-o -`, a pipe through).
    #[arg(
        value_name = "NEW",
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    pub input: Option<PathBuf>,
    /// Field delimiter of a CSV input: one character or `tab` (default: sniffed).
    #[arg(long, value_name = "CHAR", value_parser = strata_core::parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Compute backend for the distance work.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// Flag a customer as ambiguous above this nearest-over-second-nearest distance ratio.
    #[arg(long, value_name = "R", default_value_t = strata_core::DEFAULT_AMBIGUOUS_RATIO)]
    pub ambiguous_ratio: f64,
    #[command(flatten)]
    pub privacy: PrivacyArgs,
    /// Output folder (created if missing). A folder that holds a fit's results (or the
    /// --model file) is refused: scoring would replace the fit's assignments; see --force.
    /// `-` writes the assignments to standard output instead, in --format (once the whole input is
    /// scored, so a failed run writes nothing there; the summary goes to stderr, and
    /// segments.json and report.html are not kept): `… | strata assign --model M - -o - | …`.
    #[arg(long, short = 'o', value_name = "DIR|-", help_heading = "Output")]
    pub out: PathBuf,
    /// Score into a folder that holds a fit's results, replacing its assignments.csv,
    /// segments.json and report.html (its model.json is kept).
    #[arg(long, help_heading = "Output")]
    pub force: bool,
    /// How the assignments are stored: assignments.csv, assignments.parquet or
    /// assignments.arrows (an Arrow IPC stream); with `-o -`, what goes to standard output
    /// (arrow: a stream that `pyarrow.ipc.open_stream`, DuckDB or Spark read).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = FormatArg::Csv, help_heading = "Output")]
    pub format: FormatArg,
    /// Also write this run's partial.json (its exact segment tallies, which `strata merge`
    /// adds up across parts) to FILE: how a part scored with `-o -` keeps its tally. A run
    /// into a folder always has one there too.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub partial: Option<PathBuf>,
    // Last, as their help heading would carry on to the arguments after them.
    #[command(flatten)]
    pub database: FromArgs,
    #[command(flatten)]
    pub to: ToArgs,
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Score the parts anywhere, then merge their tallies:\n  \
    strata assign --model run/model.json part-1.parquet -o scored-1\n  \
    strata assign --model run/model.json part-2.parquet -o scored-2\n  \
    strata merge --model run/model.json scored-1 scored-2 -o scored\n\n\
    Every sum in a tally is exact, so scored/segments.json equals that of one assign over \
    both parts' rows (bar the input's name and the timings), however the rows were split. \
    The merged partial.json merges again, so parts can be added up as a tree."
)]
pub struct MergeArgs {
    /// The model every part was scored with (each part records the model's fingerprint).
    #[arg(long, value_name = "DIR/model.json")]
    pub model: PathBuf,
    /// partial.json files, or assign (or merge) run folders holding one.
    #[arg(value_name = "PART", required = true)]
    pub parts: Vec<PathBuf>,
    /// Output folder (created if missing) for segments.json, report.html and the merged
    /// partial.json.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
    /// What to call the input in segments.json (default: the parts' input when they all name
    /// one, else "N parts").
    #[arg(long, value_name = "NAME")]
    pub input_name: Option<String>,
    /// Merge into a folder that holds a fit's results, replacing its segments.json and
    /// report.html (its model.json is kept, its assignments removed).
    #[arg(long)]
    pub force: bool,
}

/// The part of the customers `transform` and `step` read, and the model.
#[derive(Debug, Args)]
pub struct PartArgs {
    /// The saved model: model.json written by `strata fit` (or `strata recenter`).
    #[arg(long, value_name = "DIR/model.json")]
    pub model: PathBuf,
    /// The customers: CSV, Parquet or Arrow IPC with the model's columns by name; `-` reads
    /// standard input (CSV or an Arrow IPC stream), spooled to a temporary file.
    #[arg(value_name = "PART")]
    pub input: PathBuf,
    /// Field delimiter of a CSV input: one character or `tab` (default: sniffed).
    #[arg(long, value_name = "CHAR", value_parser = strata_core::parse_delimiter)]
    pub delimiter: Option<u8>,
    #[command(flatten)]
    pub privacy: PrivacyArgs,
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "The features of new customers, for a model trained elsewhere \
    (Spark MLlib's KMeans continuing from Strata's centroids, say):\n  \
    strata transform --model run/model.json customers.parquet -o features.parquet --format parquet\n\n\
    The rows are exactly those `strata assign` labels: the saved preprocessing, and rows of a \
    cosine strategy made unit length."
)]
pub struct TransformArgs {
    #[command(flatten)]
    pub part: PartArgs,
    /// Where the feature rows go; `-` writes them to standard output once the whole part is
    /// transformed (so a failed run writes nothing there).
    #[arg(long, short = 'o', value_name = "FILE|-")]
    pub out: PathBuf,
    /// csv, parquet, or arrow (an Arrow IPC stream).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = FormatArg::Csv)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
#[command(after_long_help = "Lloyd's algorithm over parts scored anywhere:\n  \
    strata step --model m0/model.json part-1.parquet -o s1.json\n  \
    strata step --model m0/model.json part-2.parquet -o s2.json\n  \
    strata recenter --model m0/model.json --steps s1.json s2.json -o m1\n\n\
    m1/recenter.json says how far the centroids moved and whether k-means' stopping rule \
    holds; repeat from m1 until it does. Every sum is exact: the centroids do not depend on \
    how the rows were split.")]
pub struct StepArgs {
    #[command(flatten)]
    pub part: PartArgs,
    /// Where the step.json tally goes; `-` writes it to standard output.
    #[arg(long, short = 'o', value_name = "FILE|-")]
    pub out: PathBuf,
    /// Compute backend for the distance work.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("from").required(true).args(["steps", "centroids"])))]
pub struct RecenterArgs {
    /// The model whose centroids are replaced (its strategy, state, labels and bindings are
    /// kept).
    #[arg(long, value_name = "DIR/model.json")]
    pub model: PathBuf,
    /// step.json tallies of one pass over parts of the customers against --model: each
    /// centroid moves to the mean of its rows (one without rows stays put).
    #[arg(long, value_name = "STEP", num_args = 1..)]
    pub steps: Vec<PathBuf>,
    /// A CSV of new centroids: a header naming the model's features in order, one row per
    /// centroid (as many as the model has), in the scaled feature space.
    #[arg(long, value_name = "FILE")]
    pub centroids: Option<PathBuf>,
    /// The stopping rule's tolerance (default: the model's --tol): converged when the
    /// centroids' squared shift is at most this times the mean feature variance.
    #[arg(long, value_name = "TOL")]
    pub tol: Option<f64>,
    /// Output folder (created if missing) for model.json and recenter.json.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DialectArg {
    /// Spark SQL and Databricks.
    Spark,
    /// PostgreSQL.
    Postgresql,
    /// SQLite 3.35 or later (its math functions).
    Sqlite,
    /// DuckDB.
    Duckdb,
}

impl From<DialectArg> for strata_core::sql::Dialect {
    fn from(d: DialectArg) -> Self {
        match d {
            DialectArg::Spark => Self::Spark,
            DialectArg::Postgresql => Self::Postgresql,
            DialectArg::Sqlite => Self::Sqlite,
            DialectArg::Duckdb => Self::Duckdb,
        }
    }
}

#[derive(Debug, Args)]
#[command(after_long_help = "Score the customers where they live:\n  \
    strata export-sql --model run/model.json --dialect postgresql --table crm.customers > score.sql\n  \
    psql -f score.sql\n\n\
    The query returns the id column, segment and label for every row of the table: the \
    features as SQL expressions (rounded to 4-byte floats where the dialect has them, as \
    Strata rounds them), the centroids as a small table, and the nearest kept with ties to \
    the lowest centroid. It equals `strata assign` on the same rows but for rows whose two \
    nearest centroids tie within float rounding. NULL is a missing value. Strategies whose \
    features are computed in the plugin (not stated as scaled columns and one-hot \
    indicators) are refused with that reason.")]
pub struct ExportSqlArgs {
    /// The model: model.json written by `strata fit` (or `strata recenter`).
    #[arg(long, value_name = "DIR/model.json")]
    pub model: PathBuf,
    /// The SQL dialect.
    #[arg(long, value_enum)]
    pub dialect: DialectArg,
    /// The table to score (`schema.table` quoted part by part), with the model's columns by
    /// name.
    #[arg(long, value_name = "TABLE")]
    pub table: String,
    /// Write the query to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl AssignArgs {
    /// The settings; `input` is the file to read, and `origin` what it stands for when it
    /// is a copy (standard input or a database, spooled); `out` the folder the run is made
    /// in (`--out`, or a temp folder for `--out -`).
    pub fn to_settings(
        &self,
        input: &std::path::Path,
        origin: Option<strata_core::Origin>,
        out: &std::path::Path,
    ) -> Result<strata_core::AssignSettings, strata_core::CoreError> {
        strata_core::AssignSettings::builder(&self.model, input, out)
            .origin(origin)
            .backend(backend_choice(self.backend))
            .delimiter(self.delimiter)
            .ambiguous_ratio(self.ambiguous_ratio)
            .id_salt(self.privacy.salt()?)
            .force(self.force)
            .format(self.format.into())
            .build()
    }
}

impl From<BackendArg> for BackendChoice {
    fn from(b: BackendArg) -> BackendChoice {
        backend_choice(b)
    }
}

fn backend_choice(b: BackendArg) -> BackendChoice {
    match b {
        BackendArg::Auto => BackendChoice::Auto,
        BackendArg::Cpu => BackendChoice::Cpu,
        BackendArg::Gpu => BackendChoice::Gpu,
    }
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "RUN_A and RUN_B are output folders of `strata fit` or `strata assign` \
        (assignments.csv, and segments.json when present), or two assignments.csv files. \
        Customers are matched by id (ids must be unique in each; pseudonymized runs compare \
        when both used the same salt).\n\n\
        Segments correspond one to one when RUN_B was scored with RUN_A's model (`strata \
        assign`); otherwise each of A's segments is matched to the B segment it shares the most \
        customers with, largest overlap first.\n\n\
        Population stability index per segment: (b − a) · ln(b / a) over the two runs' shares \
        (floored at 0.0001); overall, their sum. Reading: < 0.1 stable, 0.1–0.25 watch, \
        > 0.25 shifted. Profile shift (with both segments.json): each numeric column's segment \
        mean in A and B, the change as a percentage of A's overall mean, and their root mean \
        square."
)]
pub struct CompareArgs {
    /// The earlier run: an output folder or an assignments.csv.
    #[arg(value_name = "RUN_A")]
    pub a: PathBuf,
    /// The later run.
    #[arg(value_name = "RUN_B")]
    pub b: PathBuf,
    /// Write compare.json into this folder (created if missing).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SynthKind {
    /// Numeric columns f0.. around planted centres (for the `features` strategy).
    Features,
    /// Age, gender, income, education, marital status, region, household size.
    Demographic,
    /// Survey: 1-5 Likert items, 0-10 interest scores, a lifestyle (psychographic strategy).
    Psychographic,
    /// Per customer: recency, frequency, monetary, order value, tenure, channel (behavioral).
    Behavioral,
    /// B2B accounts: NAICS industry, employees, revenue, region, spend per line, stage.
    Firmographic,
    /// An invoice log with returns; --rows counts log lines (behavioral --transactions).
    Transactions,
    /// Latitude and longitude around six cities, one on the date line (demographic's
    /// location roles).
    Geographic,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Customers to write.
    #[arg(long)]
    pub rows: u64,
    /// Random seed: the same seed gives the same file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = SynthKind::Features)]
    pub kind: SynthKind,
    /// Numeric columns (features kind).
    #[arg(long, default_value_t = 16)]
    pub dims: usize,
    /// Planted segments (features kind).
    #[arg(long, default_value_t = 8)]
    pub clusters: usize,
    /// Output CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub out: PathBuf,
    /// Also write each row's planted segment here (id,segment).
    #[arg(long, value_name = "FILE.csv")]
    pub truth: Option<PathBuf>,
    /// Demographic kind: also a campaign's columns, converted (0/1), treated
    /// (treated/control, half at random) and revenue, with a planted conversion rate and
    /// campaign lift per persona (for testing --outcome and --treatment).
    #[arg(long)]
    pub campaign: bool,
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Plugins are shared libraries named libstrata_strategy_NAME.so \
    (.dylib on macOS, strata_strategy_NAME.dll on Windows), looked for in the folder of the \
    strata executable, then in STRATA_PLUGIN_PATH, then in each --plugin-dir. Loading a plugin \
    runs its code: only put files you trust in those folders."
)]
pub struct PluginsArgs {
    /// Show one strategy's roles in full.
    #[arg(long)]
    pub strategy: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_become_settings() {
        let cli = Cli::parse_from([
            "strata",
            "fit",
            "--map",
            "age=Age",
            "--k",
            "3",
            "--missing",
            "drop",
            "--out",
            "o",
            "in.csv",
        ]);
        let Command::Fit(f) = cli.command else {
            panic!()
        };
        let s = f.to_settings(None).unwrap();
        assert_eq!(s.cluster().k, Some(3));
        assert_eq!(s.input().missing, MissingPolicy::Drop);
        assert_eq!(s.input().maps[0].role, "age");
        let cli = Cli::parse_from(["strata", "fit", "--k", "auto", "--out", "o", "in.csv"]);
        let Command::Fit(f) = cli.command else {
            panic!()
        };
        let s = f.to_settings(None).unwrap();
        assert_eq!(
            (s.cluster().k, s.cluster().k_range.clone()),
            (None, Some(strata_core::DEFAULT_K_RANGE))
        );
        let cli = Cli::parse_from(["strata", "fit", "--k-range", "3..5", "-o", "o", "in.csv"]);
        let Command::Fit(f) = cli.command else {
            panic!()
        };
        assert_eq!(f.to_settings(None).unwrap().cluster().k_range, Some(3..=5));
        let cli = Cli::parse_from(["strata", "fit", "--k", "0", "--out", "o", "in.csv"]);
        let Command::Fit(f) = cli.command else {
            panic!()
        };
        assert!(f.to_settings(None).is_err());
    }
}
