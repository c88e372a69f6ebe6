//! `fit`: from a CSV file to segments and their output files.
//!
//! Three stages: [`load`] reads the input (a customer table, or a transaction log aggregated
//! per customer) and binds the strategy's roles; the segmentation puts each customer in a
//! segment (k-means on the plugin's features, or RFM scores); the rest profiles the segments,
//! names them and writes every output at once.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use rayon::prelude::*;
use strata_behavior::{Behaviour, RfmCuts, RfmScores, RfmSegment, TxOptions, TxReport};
use strata_compute::{Backend, CpuBackend, MatrixRef};
use strata_host::{
    Batch, BatchColumn, BatchValues, ColumnKind, Metric, Plugin, PluginInfo, Profile, Registry,
};
use strata_ingest::{ColumnData, Header, IdColumn, ParseAs, ReadPlan, Table};
use strata_kmeans::{KMeansFit, KMeansParams, Observer, RunSummary};
use tracing::{debug, info, warn};

use crate::progress::{NoProgress, Progress};

use crate::model::{InputSpec, KMeansRecord, Model, StrategyRef};
use crate::output::{
    BackendReport, CategoricalJson, FileWriter, InputReport, LevelJson, NumericJson, SegmentJson,
    SegmentsFile, write_json,
};
use crate::profile::{compute_profiles, key_traits};
use crate::select::{KCandidate, KSelection};
use crate::settings::{Mode, Source};
use crate::{
    BackendChoice, Binding, CoreError, FitSettings, MissingPolicy, resolve_bindings,
    resolve_transaction_columns, write_atomically,
};

/// Rows per plugin `transform` call: large enough to amortise the call, small enough to spread
/// over threads.
const TRANSFORM_ROWS: usize = 16_384;

/// One segment, for the summary table.
#[derive(Debug, Clone)]
pub struct SegmentSummary {
    pub index: usize,
    pub size: u64,
    pub share: f64,
    pub label: String,
    pub key_traits: Vec<String>,
    /// The segment's share of the value measure's total, when the strategy has one.
    pub value_share: Option<f64>,
    pub attractiveness: crate::Attractiveness,
}

/// Wall time per stage of a fit, reported to a [`Progress`] as stages start and end.
pub(crate) struct Stages<'p> {
    start: std::time::Instant,
    laps: Vec<(&'static str, f64)>,
    pub progress: &'p dyn Progress,
}

impl<'p> Stages<'p> {
    fn new(progress: &'p dyn Progress) -> Stages<'p> {
        Stages {
            start: std::time::Instant::now(),
            laps: Vec::new(),
            progress,
        }
    }

    /// Announces the stage `name` (its time counts from the previous lap).
    pub fn begin(&self, name: &'static str) {
        self.progress.stage(name);
    }

    /// Ends the stage `name`: records the time since the previous lap.
    pub fn lap(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        let seconds = (now - self.start).as_secs_f64();
        self.laps.push((name, seconds));
        self.progress.stage_done(name, seconds);
        self.start = now;
    }
}

/// How a k-means run ended.
#[derive(Debug, Clone)]
pub struct KMeansSummary {
    pub inertia: f64,
    pub iterations: usize,
    pub converged: bool,
    pub backend: String,
    pub quality: strata_quality::Quality,
    pub stability: Option<Stability>,
    /// The k-selection table (`--k auto`).
    pub k_selection: Option<KSelection>,
}

/// What a fit did, for the caller to print.
#[derive(Debug, Clone)]
pub struct FitReport {
    pub strategy: String,
    pub strategy_version: String,
    pub mode: Mode,
    pub rows: usize,
    pub rows_used: usize,
    pub rows_dropped: usize,
    pub imputed: BTreeMap<String, usize>,
    pub skipped_columns: Vec<String>,
    pub transactions: Option<TxReport>,
    pub features: usize,
    pub k: usize,
    /// `None` in RFM mode.
    pub kmeans: Option<KMeansSummary>,
    /// Wall seconds per stage, in order (ingest, features, k-means, profiles, output).
    pub timings: Vec<(&'static str, f64)>,
    pub segments: Vec<SegmentSummary>,
    /// The value measure segments' value shares are of (when the strategy has one).
    pub value_measure: Option<crate::ValueMeasure>,
    /// Segments merged away by `--min-segment-size` (k-means numbering).
    pub merged: Vec<crate::privacy::MergedSegment>,
    pub ids_pseudonymized: bool,
    pub written: Vec<PathBuf>,
}

/// Logs k-means progress (never row data) and forwards iterations to the [`Progress`].
struct LogObserver<'p> {
    progress: &'p dyn Progress,
    runs: usize,
    max_iter: usize,
    /// Log each restart's end at debug rather than info (many fits under `--k auto`).
    quiet_runs: bool,
}

impl Observer for LogObserver<'_> {
    fn run_started(&mut self, run: usize, runs: usize) {
        debug!("k-means run {}/{runs}", run + 1);
    }
    fn iteration(&mut self, run: usize, iteration: usize, inertia: f64, shift: f64) {
        debug!(run = run + 1, iteration, inertia, shift, "lloyd step");
        self.progress
            .iteration(run, self.runs, iteration, self.max_iter, inertia);
    }
    fn empty_cluster_reseeded(&mut self, run: usize, cluster: usize) {
        debug!(
            "run {}: segment {cluster} was empty and was reseeded",
            run + 1
        );
    }
    fn run_finished(&mut self, run: usize, s: &RunSummary) {
        let outcome = if s.converged {
            "converged"
        } else {
            "hit --max-iter"
        };
        if self.quiet_runs {
            debug!(
                "k-means run {}: inertia {:.6e} after {} iterations ({outcome})",
                run + 1,
                s.inertia,
                s.iterations
            );
        } else {
            info!(
                "k-means run {}: inertia {:.6e} after {} iterations ({outcome})",
                run + 1,
                s.inertia,
                s.iterations
            );
        }
    }
}

pub(crate) fn parse_as(b: &Binding) -> ParseAs {
    match b.kind {
        ColumnKind::Numeric if b.auto => ParseAs::AutoNumeric,
        ColumnKind::Numeric => ParseAs::Numeric,
        ColumnKind::Date => ParseAs::Date,
        ColumnKind::Categorical | ColumnKind::Id => ParseAs::Text,
    }
}

pub(crate) fn batch<'a>(bindings: &'a [Binding], table: &'a Table) -> Batch<'a> {
    let columns = bindings
        .iter()
        .zip(&table.columns)
        .map(|(b, c)| BatchColumn {
            role: &b.role,
            name: &b.column,
            kind: b.kind,
            values: match &c.data {
                ColumnData::Numeric(v) => BatchValues::Numeric(v),
                ColumnData::Categorical { codes, dict } => BatchValues::Categorical { codes, dict },
                ColumnData::NotNumeric { .. } => unreachable!("set aside before building a batch"),
            },
        })
        .collect();
    Batch {
        n_rows: table.n_rows,
        columns,
    }
}

/// Runs the plugin's `transform` over all rows, in parallel chunks, into a row-major matrix.
pub(crate) fn transform_all(
    plugin: &Plugin,
    state: &str,
    batch: &Batch<'_>,
    d: usize,
) -> Result<Vec<f32>, CoreError> {
    let n = batch.n_rows;
    let mut matrix = vec![0f32; n * d];
    let results: Vec<Result<(), strata_host::HostError>> = matrix
        .par_chunks_mut(TRANSFORM_ROWS * d)
        .enumerate()
        .map(|(c, out)| {
            let start = c * TRANSFORM_ROWS;
            let end = start + out.len() / d;
            plugin.transform(state, &batch.rows(start, end), d, out, start)
        })
        .collect();
    results.into_iter().collect::<Result<(), _>>()?;
    Ok(matrix)
}

/// Scales each row to unit length (rows of zeros stay zero), for cosine distance.
pub(crate) fn normalise_rows(matrix: &mut [f32], d: usize) {
    matrix
        .par_chunks_mut(d)
        .for_each(strata_plugin_api::prep::unit_normalise);
}

/// Work per Lloyd pass (n·k·d) below which `auto` keeps to the CPU: moving the data to a GPU
/// and back costs more than it saves.
const GPU_MIN_WORK: f64 = 2e8;

/// Distance work per row (k·d) below which `auto` keeps to the CPU. Each GPU pass still reads a
/// label per row back and tallies the sums on the host (n·d, for bit-equal centroids), so the
/// device pays only when k·d is large. Measured per pass on 2M × 16 uniform rows, an H200
/// against 16 host cores (`lloyd_fixed`): k = 16 CPU 15 ms, GPU 37 ms; k = 64 31 / 39;
/// k = 256 102 / 64; k = 1024 373 / 153. The crossover is near k·d = 1,600.
const GPU_MIN_ROW_WORK: usize = 2048;

/// Picks the compute backend and says why.
fn choose_backend(
    choice: BackendChoice,
    n: usize,
    k: usize,
    d: usize,
) -> Result<(Box<dyn Backend>, String), CoreError> {
    let open = || strata_gpu::GpuBackend::new(strata_gpu::GpuOptions::default());
    match choice {
        BackendChoice::Cpu => Ok((Box::new(CpuBackend::new()), "--backend cpu".into())),
        BackendChoice::Gpu => match open() {
            Ok(gpu) => Ok((Box::new(gpu), "--backend gpu".into())),
            Err(e) => Err(CoreError::Settings(format!("--backend gpu: {e}"))),
        },
        BackendChoice::Auto => {
            let work = n as f64 * k as f64 * d as f64;
            if work < GPU_MIN_WORK {
                return Ok((
                    Box::new(CpuBackend::new()),
                    format!("auto: n·k·d = {work:.0} is too little work to pay for a GPU transfer"),
                ));
            }
            if k * d < GPU_MIN_ROW_WORK {
                return Ok((
                    Box::new(CpuBackend::new()),
                    format!(
                        "auto: k·d = {} is under {GPU_MIN_ROW_WORK}; the CPU is faster at that \
                         width (--backend gpu to override)",
                        k * d
                    ),
                ));
            }
            match open() {
                Ok(gpu) if gpu.is_software() => Ok((
                    Box::new(CpuBackend::new()),
                    format!(
                        "auto: the only adapter, {}, is a software renderer",
                        gpu.adapter().name
                    ),
                )),
                Ok(gpu) => Ok((
                    Box::new(gpu),
                    format!("auto: n·k·d = {work:.0} on a GPU adapter"),
                )),
                Err(e) => Ok((Box::new(CpuBackend::new()), format!("auto: {e}"))),
            }
        }
    }
}

/// Renumbers segments by size, largest first (ties: original order), so segment 0 is always
/// the biggest. Permutes centroids, labels and counts together.
fn order_by_size(fit: &mut KMeansFit) {
    let (k, d) = (fit.k, fit.d);
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| fit.counts[b].cmp(&fit.counts[a]).then(a.cmp(&b)));
    let mut new_of_old = vec![0u32; k];
    for (new, &old) in order.iter().enumerate() {
        new_of_old[old] = new as u32;
    }
    fit.centroids = order
        .iter()
        .flat_map(|&o| fit.centroids[o * d..(o + 1) * d].to_vec())
        .collect();
    fit.counts = order.iter().map(|&o| fit.counts[o]).collect();
    fit.labels
        .par_iter_mut()
        .for_each(|l| *l = new_of_old[*l as usize]);
}

/// Makes labels unique by numbering repeats: "Young (2)".
fn dedupe_labels(labels: &mut [String]) {
    for i in 1..labels.len() {
        let base = labels[i].clone();
        let mut n = 1;
        while labels[..i].contains(&labels[i]) {
            n += 1;
            labels[i] = format!("{base} ({n})");
        }
    }
}

/// Binds the strategy's roles to the header of a customer table and plans what to read.
pub(crate) fn customer_plan(
    settings: &FitSettings,
    info: &PluginInfo,
    header: &Header,
) -> Result<(Vec<Binding>, ReadPlan), CoreError> {
    let path = settings.input.as_path();
    let id_index = match &settings.id_column {
        None => None,
        Some(name) => Some(header.position(name).ok_or_else(|| CoreError::Binding {
            path: path.to_owned(),
            message: format!(
                "--id-column '{name}' is not in the header; the header has {}",
                header
                    .names
                    .iter()
                    .map(|n| format!("'{n}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?),
    };
    let bindings = resolve_bindings(path, info, header, &settings.maps, id_index)?;
    let plan = ReadPlan {
        id_column: id_index,
        allow_duplicate_ids: settings.allow_duplicate_ids,
        columns: bindings.iter().map(|b| (b.index, parse_as(b))).collect(),
    };
    Ok((bindings, plan))
}

/// Leaves out the "every numeric column" candidates that held text, from the table and the
/// bindings; returns their names. An error when no column is left.
pub(crate) fn set_aside_text_columns(
    settings: &FitSettings,
    table: &mut Table,
    bindings: &mut Vec<Binding>,
) -> Result<Vec<String>, CoreError> {
    let keep_col: Vec<bool> = table
        .columns
        .iter()
        .map(|c| !matches!(c.data, ColumnData::NotNumeric { .. }))
        .collect();
    let skipped: Vec<String> = table
        .columns
        .iter()
        .zip(&keep_col)
        .filter(|(_, k)| !**k)
        .map(|(c, _)| c.name.clone())
        .collect();
    if skipped.is_empty() {
        return Ok(skipped);
    }
    info!("left out non-numeric columns: {}", skipped.join(", "));
    let mut it = keep_col.iter();
    bindings.retain(|_| *it.next().expect("one flag per binding"));
    let mut it = keep_col.iter();
    table
        .columns
        .retain(|_| *it.next().expect("one flag per column"));
    if bindings.is_empty() {
        return Err(data_error(
            settings,
            format!(
                "no numeric column to cluster (non-numeric: {}); bind columns with --map",
                skipped.join(", ")
            ),
        ));
    }
    Ok(skipped)
}

/// Rows of `table` with every bound value, or `None` when that is all of them.
pub(crate) fn complete_rows(table: &Table) -> Option<Vec<bool>> {
    let keep: Vec<bool> = (0..table.n_rows)
        .map(|i| table.columns.iter().all(|c| !c.data.is_missing(i)))
        .collect();
    keep.contains(&false).then_some(keep)
}

/// `--missing drop`: the table without its rows that miss a bound value, and how many went.
pub(crate) fn drop_incomplete(table: Table) -> (Table, usize) {
    match complete_rows(&table) {
        None => (table, 0),
        Some(keep) => keep_rows(&table, &keep),
    }
}

/// The rows of `table` where `keep` is true, and how many were left out.
pub(crate) fn keep_rows(table: &Table, keep: &[bool]) -> (Table, usize) {
    let dropped = keep.iter().filter(|k| !**k).count();
    let table = Table {
        n_rows: table.n_rows - dropped,
        ids: table.ids.filter(keep),
        columns: table
            .columns
            .iter()
            .map(|c| strata_ingest::Column {
                data: c.data.filter(keep),
                ..c.clone()
            })
            .collect(),
        lines: table
            .lines
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(l, _)| *l)
            .collect(),
    };
    (table, dropped)
}

/// The error for a bound column with no value at all.
pub(crate) fn no_values_error(settings: &FitSettings, b: &Binding) -> CoreError {
    data_error(
        settings,
        format!(
            "column '{}' (role {}) has no values: every row is missing",
            b.column, b.role
        ),
    )
}

/// The error for `--missing drop` leaving nothing.
pub(crate) fn all_dropped_error(settings: &FitSettings) -> CoreError {
    data_error(
        settings,
        "every row has a missing value in a bound column; nothing is left to segment \
         (try --missing impute)"
            .into(),
    )
}

/// The customer table a fit works on, however it was read.
pub(crate) struct Loaded {
    pub table: Table,
    pub bindings: Vec<Binding>,
    pub delimiter: u8,
    /// Customers in the input (after aggregation, for a transaction log).
    pub rows: usize,
    pub rows_dropped: usize,
    pub missing: BTreeMap<String, usize>,
    pub skipped_columns: Vec<String>,
    pub transactions: Option<TxReport>,
}

pub(crate) fn data_error(settings: &FitSettings, message: String) -> CoreError {
    CoreError::Data {
        path: settings.input.clone(),
        message,
    }
}

/// Reads a transaction log, aggregates it per customer and binds the strategy's roles to the
/// aggregated columns by name.
fn load_transactions(
    settings: &FitSettings,
    info: &PluginInfo,
    header: &Header,
) -> Result<(Table, Vec<Binding>, TxReport), CoreError> {
    let path = settings.input.as_path();
    let cols = resolve_transaction_columns(path, header, &settings.maps)?;
    let opts = TxOptions {
        date_format: settings.date_format,
        as_of: settings.as_of,
    };
    let b =
        strata_behavior::transactions::aggregate(header, &cols, &opts).map_err(|e| match e {
            strata_behavior::TxError::Ingest(e) => CoreError::Ingest(e),
            other => data_error(
                settings,
                other
                    .to_string()
                    .replacen(&format!("{}: ", path.display()), "", 1),
            ),
        })?;
    let r = &b.report;
    info!(
        "transactions: {} rows; {} without a customer id skipped; {} returns or cancellations netted; \
         {} after --as-of left out; {} customers ({} with no purchase left out); dates read as {}",
        r.rows,
        r.rows_without_customer,
        r.return_rows,
        r.rows_after_as_of,
        r.customers,
        r.customers_without_purchases,
        r.date_format
    );
    let names: Vec<String> = Behaviour::COLUMNS.iter().map(|s| s.to_string()).collect();
    let synthetic = Header {
        path: path.to_owned(),
        delimiter: header.delimiter,
        names,
    };
    let mut bindings = resolve_bindings(path, info, &synthetic, &[], None)?;
    // A measure no customer has (mean time between purchases when everyone bought once) is
    // left out rather than failing the run: it was derived here, not bound by the user.
    bindings.retain(|bd| {
        let has_values = b.columns[bd.index].1.iter().any(|x| !x.is_nan());
        if !has_values {
            info!("left out {}: no customer has a value", bd.column);
        }
        has_values
    });
    let Behaviour {
        ids,
        columns,
        lines,
        report,
    } = b;
    let table = Table {
        n_rows: lines.len(),
        ids,
        columns: bindings
            .iter()
            .map(|bd| strata_ingest::Column {
                index: bd.index,
                name: bd.column.clone(),
                data: ColumnData::Numeric(columns[bd.index].1.clone()),
            })
            .collect(),
        lines,
    };
    Ok((table, bindings, report))
}

/// Reads the input, binds roles, sets aside text columns, counts and handles missing values.
fn load(
    settings: &FitSettings,
    info: &PluginInfo,
    progress: &dyn Progress,
) -> Result<Loaded, CoreError> {
    let path = settings.input.as_path();
    let header = strata_ingest::read_header(path, settings.delimiter)?;
    let (mut table, mut bindings, transactions) = match settings.source {
        Source::Transactions => {
            let (t, b, r) = load_transactions(settings, info, &header)?;
            (t, b, Some(r))
        }
        Source::Customers => {
            let (bindings, plan) = customer_plan(settings, info, &header)?;
            let total = std::fs::metadata(path).map_or(0, |m| m.len());
            let table = strata_ingest::read_table_with_progress(&header, &plan, &mut |done| {
                progress.bytes(done, total)
            })
            .map_err(|e| crate::privacy::withhold(e, info, &bindings))?;
            info!("read {} rows from {}", table.n_rows, path.display());
            (table, bindings, None)
        }
    };
    for b in &bindings {
        info!(
            "role {} ← column '{}' ({})",
            b.role,
            b.column,
            b.kind.name()
        );
    }
    let rows = table.n_rows;

    let skipped_columns = set_aside_text_columns(settings, &mut table, &mut bindings)?;

    let mut missing = BTreeMap::new();
    for (b, c) in bindings.iter().zip(&table.columns) {
        let m = c.data.missing();
        if m == rows {
            return Err(no_values_error(settings, b));
        }
        missing.insert(b.column.clone(), m);
    }
    let mut rows_dropped = 0;
    if missing.values().any(|&m| m > 0) {
        match settings.missing {
            MissingPolicy::Impute => {
                for (col, m) in missing.iter().filter(|(_, m)| **m > 0) {
                    info!("imputed {m} missing values in '{col}'");
                }
            }
            MissingPolicy::Drop => {
                (table, rows_dropped) = drop_incomplete(table);
                info!("dropped {rows_dropped} rows with a missing value (--missing drop)");
                if table.n_rows == 0 {
                    return Err(all_dropped_error(settings));
                }
            }
        }
    }
    Ok(Loaded {
        table,
        bindings,
        delimiter: header.delimiter,
        rows,
        rows_dropped,
        missing,
        skipped_columns,
        transactions,
    })
}

/// Per-customer RFM measures and scores.
pub(crate) struct Rfm {
    cuts: RfmCuts,
    /// Recency, frequency, monetary per customer.
    values: [Vec<f64>; 3],
    scores: Vec<RfmScores>,
}

/// RFM scores when the recency, frequency and monetary roles are all bound.
fn rfm_of(loaded: &Loaded) -> Option<Rfm> {
    let column = |role: &str| {
        loaded
            .bindings
            .iter()
            .zip(&loaded.table.columns)
            .find(|(b, _)| b.role == role)
            .and_then(|(_, c)| match &c.data {
                ColumnData::Numeric(v) => Some(v.clone()),
                _ => None,
            })
    };
    let values = [
        column("recency")?,
        column("frequency")?,
        column("monetary")?,
    ];
    let cuts = RfmCuts::fit(&values[0], &values[1], &values[2]);
    let scores = (0..loaded.table.n_rows)
        .map(|i| cuts.score(values[0][i], values[1][i], values[2][i]))
        .collect();
    Some(Rfm {
        cuts,
        values,
        scores,
    })
}

/// How customers were put into segments.
pub(crate) struct Segmentation {
    pub k: usize,
    pub labels: Vec<u32>,
    /// Squared distance to the segment's centroid (k-means only).
    pub distances: Option<Vec<f32>>,
    /// Squared distance to the second-nearest centroid (k-means only).
    pub second: Option<Vec<f32>>,
    /// Fixed segment names (RFM); otherwise the plugin names the segments.
    pub names: Option<Vec<String>>,
    pub features: Vec<String>,
    /// The plugin's state (k-means only).
    pub state: Option<String>,
    pub kmeans: Option<Clustered>,
}

/// Reads `--init FILE`: a header that names the features in order, then one row of scaled
/// coordinates per centroid. Returns (k, centroids row-major).
fn read_init(
    path: &std::path::Path,
    features: &[String],
    k_flag: Option<usize>,
) -> Result<(usize, Vec<f32>), CoreError> {
    let header = strata_ingest::read_header(path, None)?;
    let err = |message: String| CoreError::Data {
        path: path.to_owned(),
        message,
    };
    if header.names != features {
        return Err(err(format!(
            "--init must name the features in order ({}); its header has {}",
            features.join(", "),
            header.names.join(", ")
        )));
    }
    let plan = ReadPlan {
        columns: (0..features.len()).map(|i| (i, ParseAs::Numeric)).collect(),
        ..Default::default()
    };
    let table = strata_ingest::read_table(&header, &plan)?;
    let k = table.n_rows;
    if k_flag.is_some_and(|flag| flag != k) {
        return Err(err(format!(
            "--k {} but --init has {k} centroids",
            k_flag.unwrap_or(0)
        )));
    }
    let mut centroids = vec![0f32; k * features.len()];
    for (f, c) in table.columns.iter().enumerate() {
        let ColumnData::Numeric(v) = &c.data else {
            unreachable!("parsed as numbers")
        };
        for (row, &x) in v.iter().enumerate() {
            if x.is_nan() {
                return Err(err(format!(
                    "line {}: centroid {} has no value for '{}'",
                    table.lines[row],
                    row + 1,
                    c.name
                )));
            }
            centroids[row * features.len() + f] = x as f32;
        }
    }
    Ok((k, centroids))
}

/// The strategy's fitted preprocessing, the k-means parameters and the feature matrix of a
/// loaded table.
fn features_of(
    settings: &FitSettings,
    plugin: &Plugin,
    loaded: &Loaded,
) -> Result<
    (
        strata_host::FitOutput,
        strata_kmeans::CheckedParams,
        Vec<f32>,
    ),
    CoreError,
> {
    let info = plugin.info();
    let options = settings.plugin_options();
    let b = batch(&loaded.bindings, &loaded.table);
    let fitted = plugin.fit(&b, &options.to_string())?;
    let params = kmeans_params(settings, info, &fitted.features)?;
    check_k(settings, params.k(), loaded.table.n_rows)?;
    let d = fitted.features.len();
    info!("{d} features: {}", fitted.features.join(", "));
    let mut matrix = transform_all(plugin, &fitted.state, &b, d)?;
    if info.metric == Metric::Cosine {
        normalise_rows(&mut matrix, d);
    }
    Ok((fitted, params, matrix))
}

fn kmeans_segments(
    settings: &FitSettings,
    plugin: &Plugin,
    loaded: &Loaded,
    clock: &mut Stages<'_>,
) -> Result<Segmentation, CoreError> {
    clock.begin("features");
    let (fitted, params, matrix) = features_of(settings, plugin, loaded)?;
    let d = fitted.features.len();
    clock.lap("features");
    clock.begin("k-means");
    let mut clustered = cluster(settings, params, &matrix, d, clock.progress, None)?;
    clock.lap("k-means");
    Ok(Segmentation {
        k: clustered.k,
        labels: std::mem::take(&mut clustered.fit.labels),
        distances: Some(std::mem::take(&mut clustered.fit.nearest)),
        second: Some(std::mem::take(&mut clustered.fit.second)),
        names: None,
        features: fitted.features,
        state: Some(fitted.state),
        kmeans: Some(clustered),
    })
}

/// `strata choose-k`: reads the data as `fit --k auto` does (in memory), fits every k of
/// `settings.k_range` and returns the table with its recommendation. Writes nothing.
pub fn choose_k(
    settings: &FitSettings,
    registry: &Registry,
    progress: &dyn Progress,
) -> Result<KSelection, CoreError> {
    let Some(range) = settings.k_range.clone() else {
        return Err(CoreError::Settings(
            "choose-k needs a range of k (--k-range)".into(),
        ));
    };
    if settings.mode != Mode::Kmeans {
        return Err(CoreError::Settings(
            "choose-k chooses k for k-means; --mode rfm has fixed segments".into(),
        ));
    }
    if let Some(reason) = crate::stream::streaming_reason(settings) {
        return Err(CoreError::Settings(format!(
            "{} would be streamed ({reason}); choose-k reads the whole table. Run `strata fit \
             --k auto`, which streams it and chooses k on its k-means++ sample",
            settings.input.display()
        )));
    }
    let plugin = registry.find(&settings.strategy)?;
    let info = plugin.info().clone();
    let mut clock = Stages::new(progress);
    clock.begin("ingest");
    let loaded = load(settings, &info, progress)?;
    clock.lap("ingest");
    clock.begin("features");
    let (fitted, params, matrix) = features_of(settings, &plugin, &loaded)?;
    let d = fitted.features.len();
    clock.lap("features");
    clock.begin("k-means");
    let n = loaded.table.n_rows;
    let mut runner = Runner::new(settings.backend, n, *range.end(), d)?;
    let mut observer = LogObserver {
        progress,
        runs: params.n_init(),
        max_iter: settings.max_iter,
        quiet_runs: true,
    };
    let (selection, _) = select_k(
        &mut runner,
        settings,
        &params,
        range,
        &matrix,
        d,
        false,
        &mut observer,
    )?;
    clock.lap("k-means");
    Ok(selection)
}

/// The k-means parameters of a fit (`--init` read and checked against the features), before
/// the data is transformed.
pub(crate) fn kmeans_params(
    settings: &FitSettings,
    info: &PluginInfo,
    features: &[String],
) -> Result<strata_kmeans::CheckedParams, CoreError> {
    let init = match &settings.init {
        Some(path) => Some(read_init(path, features, settings.k)?),
        None => None,
    };
    let default_k = match &settings.k_range {
        Some(r) => *r.start(),
        None => info.default_k as usize,
    };
    let k = init
        .as_ref()
        .map_or(settings.k.unwrap_or(default_k), |(k, _)| *k);
    let mut params = KMeansParams::new(k)
        .seed(settings.seed)
        .max_iter(settings.max_iter)
        .tol(settings.tol)
        .n_init(settings.n_init);
    if let Some((_, centroids)) = init {
        params = params.init(strata_kmeans::Init::Centroids(centroids));
    }
    Ok(params.check()?)
}

pub(crate) fn check_k(settings: &FitSettings, k: usize, n: usize) -> Result<(), CoreError> {
    if k > n {
        return Err(CoreError::Settings(format!(
            "k = {k} is more than the {n} customers to segment in {}",
            settings.input.display()
        )));
    }
    Ok(())
}

/// A k-means fit and how it ran.
pub(crate) struct Clustered {
    /// The k-means fit; with merged segments its `labels` are already the exported segments,
    /// while `k`, `centroids` and `counts` stay k-means'.
    pub fit: KMeansFit,
    /// Exported segments (fewer than `fit.k` when small ones were merged).
    pub k: usize,
    /// Segments folded into larger ones (`--min-segment-size`).
    pub merged: Vec<crate::privacy::MergedSegment>,
    /// Per k-means centroid, its exported segment (when segments were merged).
    pub segment_of_centroid: Option<Vec<u32>>,
    pub summary: KMeansSummary,
    pub backend: BackendReport,
    pub n_init: usize,
    /// Starting centroids chosen on a sample of the rows (streamed fits of many rows).
    pub sample: Option<SampleInit>,
    pub quality: strata_quality::Quality,
    /// How far the k-means++ restarts agree (`None` with one run).
    pub stability: Option<Stability>,
    /// The k-selection table (`--k auto`).
    pub k_selection: Option<KSelection>,
    /// The report's segment map: a sample of customers and the centroids on the first two
    /// principal components.
    pub projection: Option<crate::projection::Projection>,
}

/// Rows the silhouette is computed on exactly; a seeded sample of this many above it. About
/// 0.1 s at 16 features on two cores.
pub(crate) const SILHOUETTE_ROWS: usize = 10_000;

/// Agreement between the k-means++ restarts: the adjusted Rand index of each run's labels
/// against the winner's, and what the lowest one means.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Stability {
    pub runs: usize,
    pub agreement: Vec<f64>,
    pub min_agreement: f64,
    /// `stable` (every ARI ≥ 0.9), `moderate` (≥ 0.75) or `unstable`.
    pub reading: String,
    /// Rows the runs were compared on (a sample when the restarts ran on one).
    pub rows: usize,
}

impl Stability {
    fn of(runs: &[RunSummary], rows: usize) -> Option<Stability> {
        let agreement: Vec<f64> = runs.iter().filter_map(|r| r.agreement).collect();
        if agreement.len() < 2 {
            return None;
        }
        let min = agreement.iter().copied().fold(1.0, f64::min);
        let reading = if min >= 0.9 {
            "stable"
        } else if min >= 0.75 {
            "moderate"
        } else {
            "unstable"
        };
        Some(Stability {
            runs: agreement.len(),
            agreement,
            min_agreement: min,
            reading: reading.into(),
            rows,
        })
    }
}

/// Starting centroids chosen on a sample, then refined by Lloyd on every row.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SampleInit {
    /// Rows of the sample (every `stride`-th row).
    pub rows: usize,
    pub stride: usize,
    /// Inertia of each restart on the sample, and the one kept.
    pub run_inertias: Vec<f64>,
    pub best_run: usize,
    /// Inertia over every row at the sample's centroids, before the full Lloyd steps.
    pub inertia_at_sample_centroids: f64,
    /// Inertia over every row after them.
    pub inertia: f64,
    /// How much the full steps lowered the inertia: (at sample centroids − final) / final.
    pub gap: f64,
}

/// The backend a fit runs on, and why; under `auto` it falls back to the CPU when the GPU
/// cannot hold the data (with `gpu` that is an error).
pub(crate) struct Runner {
    choice: BackendChoice,
    pub backend: Box<dyn Backend>,
    pub reason: String,
}

impl Runner {
    /// Chooses the backend for `n` rows, up to `k` segments and `d` features.
    pub fn new(choice: BackendChoice, n: usize, k: usize, d: usize) -> Result<Self, CoreError> {
        let (backend, reason) = choose_backend(choice, n, k, d)?;
        info!(
            "distance work on {n} × {d}, k up to {k}, on {} ({reason})",
            backend.describe()
        );
        Ok(Runner {
            choice,
            backend,
            reason,
        })
    }

    fn with_fallback<T>(
        &mut self,
        mut work: impl FnMut(&dyn Backend) -> Result<T, strata_kmeans::KMeansError>,
    ) -> Result<T, CoreError> {
        match work(self.backend.as_ref()) {
            Err(strata_kmeans::KMeansError::Compute(
                e @ strata_compute::ComputeError::Unavailable { .. },
            )) if self.choice == BackendChoice::Auto => {
                warn!("{e}; continuing on the CPU");
                self.reason = format!("auto: fell back to the CPU ({e})");
                self.backend = Box::new(CpuBackend::new());
                Ok(work(self.backend.as_ref())?)
            }
            other => Ok(other?),
        }
    }

    fn fit(
        &mut self,
        params: &strata_kmeans::CheckedParams,
        data: MatrixRef<'_>,
        observer: &mut LogObserver<'_>,
    ) -> Result<KMeansFit, CoreError> {
        self.with_fallback(|b| strata_kmeans::fit(params, b, data, observer))
    }

    /// Labels every row against fixed centroids (one pass, no update).
    pub fn assign(
        &mut self,
        data: MatrixRef<'_>,
        centroids: &[f32],
        k: usize,
    ) -> Result<strata_kmeans::Assigned, CoreError> {
        self.with_fallback(|b| strata_kmeans::assign(b, data, centroids, k))
    }
}

/// Fits every k of `range` on `eval` (n × d) with the fit's seed and restarts, scores each, and
/// recommends one by [`crate::select::RULE`]. Returns the table and the chosen k's fit, labels
/// included. Only the centroids of the other candidates are kept while the range runs, so
/// memory does not grow with the range.
#[allow(clippy::too_many_arguments)]
fn select_k(
    runner: &mut Runner,
    settings: &FitSettings,
    params: &strata_kmeans::CheckedParams,
    range: std::ops::RangeInclusive<usize>,
    eval: &[f32],
    d: usize,
    sampled: bool,
    observer: &mut LogObserver<'_>,
) -> Result<(KSelection, KMeansFit), CoreError> {
    let n = eval.len() / d.max(1);
    check_k(settings, *range.start(), n)?;
    let hi = (*range.end()).min(n);
    if hi < *range.end() {
        warn!(
            "--k-range ends at {}, but only {n} rows: trying k up to {hi}",
            range.end()
        );
    }
    let data = MatrixRef::new(eval, n, d).map_err(strata_kmeans::KMeansError::from)?;
    let mut candidates = Vec::new();
    let mut fits = Vec::new();
    let mut silhouette = (0, None);
    for k in *range.start()..=hi {
        info!("--k auto: fitting k = {k}");
        let p = KMeansParams::new(k)
            .seed(params.seed())
            .max_iter(params.max_iter())
            .tol(params.tol())
            .n_init(params.n_init())
            .check()?;
        let mut fit = runner.fit(&p, data, observer)?;
        let q = strata_quality::quality(eval, d, &fit.labels, k, SILHOUETTE_ROWS, settings.seed);
        silhouette = (q.silhouette_rows, q.silhouette_seed);
        let c = KCandidate {
            k,
            inertia: fit.inertia,
            silhouette: q.silhouette,
            davies_bouldin: q.davies_bouldin,
            calinski_harabasz: q.calinski_harabasz,
            iterations: fit.iterations,
            converged: fit.converged,
            min_agreement: Stability::of(&fit.runs, n).map(|s| s.min_agreement),
        };
        info!(
            "k = {k}: inertia {:.6e}, silhouette {}, Davies-Bouldin {}, Calinski-Harabasz {}",
            c.inertia,
            fmt_opt(c.silhouette),
            fmt_opt(c.davies_bouldin),
            fmt_opt(c.calinski_harabasz)
        );
        candidates.push(c);
        // The labels are recomputed for the chosen k alone.
        fit.labels = Vec::new();
        fit.nearest = Vec::new();
        fit.second = Vec::new();
        fits.push(fit);
    }
    let chosen = crate::select::recommend(&candidates).expect("the range is not empty");
    info!("--k auto chose k = {chosen} ({})", crate::select::RULE);
    let mut fit = fits.swap_remove(chosen - range.start());
    drop(fits);
    observer.quiet_runs = false;
    let a = runner.assign(data, &fit.centroids, fit.k)?;
    fit.labels = a.labels;
    fit.nearest = a.nearest;
    fit.second = a.second;
    fit.counts = a.counts;
    fit.inertia = a.inertia;
    let selection = KSelection {
        rule: crate::select::RULE.into(),
        range: [*range.start(), *range.end()],
        rows: n,
        sampled,
        silhouette_rows: silhouette.0,
        silhouette_seed: silhouette.1,
        candidates,
        chosen,
    };
    Ok((selection, fit))
}

/// Clusters a row-major `matrix` of `d` columns, on the backend the settings ask for
/// (falling back to the CPU under `auto` when the GPU cannot hold the data). With
/// `init_sample` and more rows than that, the k-means++ restarts (and, under `--k auto`, the
/// choice of k) run on every ⌈n / init_sample⌉-th row and the best one's centroids start Lloyd
/// on every row.
pub(crate) fn cluster(
    settings: &FitSettings,
    params: strata_kmeans::CheckedParams,
    matrix: &[f32],
    d: usize,
    progress: &dyn Progress,
    init_sample: Option<usize>,
) -> Result<Clustered, CoreError> {
    let n = matrix.len() / d.max(1);
    let n_init = params.n_init();
    let plus_plus = matches!(params.init(), strata_kmeans::Init::KMeansPlusPlus);
    let range = settings.k_range.clone().filter(|_| plus_plus);
    let k_max = range.as_ref().map_or(params.k(), |r| *r.end());
    check_k(settings, params.k(), n)?;
    let mut observer = LogObserver {
        progress,
        runs: n_init,
        max_iter: settings.max_iter,
        quiet_runs: range.is_some(),
    };
    let mut runner = Runner::new(settings.backend, n, k_max, d)?;
    let data = MatrixRef::new(matrix, n, d).map_err(strata_kmeans::KMeansError::from)?;
    let stride = init_sample.map_or(1, |s| n.div_ceil(s.max(1)));
    let sampled = stride > 1 && plus_plus && n.div_ceil(stride) >= params.k();
    let rows: Option<Vec<f32>> = sampled.then(|| {
        matrix
            .par_chunks(d * stride)
            .flat_map_iter(|c| c[..d].iter().copied())
            .collect()
    });
    let eval = rows.as_deref().unwrap_or(matrix);
    if sampled {
        info!(
            "choosing starting centroids on every {stride}th row ({} rows)",
            eval.len() / d.max(1)
        );
    }
    let ns = eval.len() / d.max(1);
    let (on_eval, k_selection) = match range {
        Some(range) => {
            let (sel, fit) = select_k(
                &mut runner,
                settings,
                &params,
                range,
                eval,
                d,
                sampled,
                &mut observer,
            )?;
            (fit, Some(sel))
        }
        None => {
            let data = MatrixRef::new(eval, ns, d).map_err(strata_kmeans::KMeansError::from)?;
            (runner.fit(&params, data, &mut observer)?, None)
        }
    };
    // The sample is not needed for Lloyd on every row.
    drop(rows);
    let k = on_eval.k;
    let (mut km, sample, stability) = if sampled {
        let full = KMeansParams::new(k)
            .seed(settings.seed)
            .max_iter(settings.max_iter)
            .tol(settings.tol)
            .init(strata_kmeans::Init::Centroids(on_eval.centroids.clone()))
            .check()?;
        observer.runs = 1;
        let km = runner.fit(&full, data, &mut observer)?;
        let start = km.runs[0].history.first().copied().unwrap_or(km.inertia);
        let gap = if km.inertia > 0.0 {
            (start - km.inertia) / km.inertia
        } else {
            0.0
        };
        info!(
            "Lloyd on all {n} rows took the inertia from {start:.6e} at the sample's centroids \
             to {:.6e} ({:.3}% lower)",
            km.inertia,
            100.0 * gap
        );
        let stability = Stability::of(&on_eval.runs, ns);
        let sample = SampleInit {
            rows: ns,
            stride,
            run_inertias: on_eval.runs.iter().map(|r| r.inertia).collect(),
            best_run: on_eval.best_run,
            inertia_at_sample_centroids: start,
            inertia: km.inertia,
            gap,
        };
        (km, Some(sample), stability)
    } else {
        let stability = Stability::of(&on_eval.runs, n);
        (on_eval, None, stability)
    };
    if !km.converged {
        warn!(
            "k-means stopped at --max-iter {} before converging",
            settings.max_iter
        );
    }
    order_by_size(&mut km);
    if let Some(s) = &stability {
        let say = match s.reading.as_str() {
            "stable" => "the segmentation is stable",
            "moderate" => "the segmentation is moderately stable",
            _ => {
                "the segmentation is unstable: restarts disagree, so read the segments with care (try another k)"
            }
        };
        info!(
            "{} restarts agree to an adjusted Rand index of at least {:.3}: {say}",
            s.runs, s.min_agreement
        );
    }
    // --min-segment-size: fold small segments into the nearest larger; the labels become the
    // exported segments, and the model keeps every centroid with the segment it belongs to.
    let mut merged = Vec::new();
    let mut segment_of_centroid = None;
    let mut k_out = k;
    if let Some(min) = settings.min_segment_size {
        let (m, exported) = crate::privacy::merge_small(&km.counts, &km.centroids, d, min);
        for s in &m {
            info!(
                "k-means segment {} has {} customers, fewer than --min-segment-size {min}: \
                 merged into k-means segment {} (exported as segment {})",
                s.segment, s.size, s.into, s.exported
            );
        }
        if !m.is_empty() {
            for l in km.labels.iter_mut() {
                *l = exported[*l as usize];
            }
            k_out = exported.iter().max().map_or(1, |&m| m as usize + 1);
            merged = m;
            segment_of_centroid = Some(exported);
        }
        if (km.counts.iter().sum::<u64>()) < min {
            return Err(CoreError::Settings(format!(
                "--min-segment-size {min} is more than the {n} customers segmented: no \
                 segment could be exported"
            )));
        }
    }
    let quality =
        strata_quality::quality(matrix, d, &km.labels, k_out, SILHOUETTE_ROWS, settings.seed);
    info!(
        "quality: silhouette {} on {} rows, Davies-Bouldin {}, Calinski-Harabasz {}",
        fmt_opt(quality.silhouette),
        quality.silhouette_rows,
        fmt_opt(quality.davies_bouldin),
        fmt_opt(quality.calinski_harabasz)
    );
    let started = std::time::Instant::now();
    let projection = crate::projection::project(
        matrix,
        d,
        &km.labels,
        &km.centroids,
        |c| segment_of_centroid.as_ref().map_or(c, |s| s[c] as usize),
        settings.seed,
    );
    if let Some(p) = &projection {
        info!(
            "segment map: {} customers and {} centroids on the first two principal components \
             ({:.0}% of the variance) in {:.3} s",
            p.points.len(),
            p.centroids.len(),
            100.0 * (p.explained[0] + p.explained[1]),
            started.elapsed().as_secs_f64()
        );
    }
    let summary = KMeansSummary {
        inertia: km.inertia,
        iterations: km.iterations,
        converged: km.converged,
        backend: runner.backend.describe(),
        quality: quality.clone(),
        stability: stability.clone(),
        k_selection: k_selection.clone(),
    };
    let backend = BackendReport {
        kind: runner.backend.kind().name().into(),
        description: runner.backend.describe(),
        reason: runner.reason,
    };
    Ok(Clustered {
        fit: km,
        k: k_out,
        merged,
        segment_of_centroid,
        summary,
        backend,
        n_init,
        sample,
        quality,
        stability,
        k_selection,
        projection,
    })
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.4}"))
}

fn rfm_segments(info: &PluginInfo, rfm: Option<&Rfm>) -> Result<Segmentation, CoreError> {
    let rfm = rfm.ok_or_else(|| {
        CoreError::Settings(format!(
            "--mode rfm needs the recency, frequency and monetary roles (strategy behavioral); \
             strategy '{}' with these bindings does not provide all three",
            info.name
        ))
    })?;
    Ok(Segmentation {
        k: RfmSegment::ALL.len(),
        labels: rfm.scores.iter().map(|s| s.segment().index()).collect(),
        distances: None,
        second: None,
        names: Some(
            RfmSegment::ALL
                .iter()
                .map(|s| s.name().to_owned())
                .collect(),
        ),
        features: Vec::new(),
        state: None,
        kmeans: None,
    })
}

/// Runs a fit job and writes its outputs.
pub fn fit(settings: &FitSettings, registry: &Registry) -> Result<FitReport, CoreError> {
    fit_with_progress(settings, registry, &NoProgress)
}

/// [`fit`], reporting stages, bytes read and k-means iterations to `progress` as it goes.
pub fn fit_with_progress(
    settings: &FitSettings,
    registry: &Registry,
    progress: &dyn Progress,
) -> Result<FitReport, CoreError> {
    let path = settings.input.as_path();
    let plugin = registry.find(&settings.strategy)?;
    let info = plugin.info().clone();
    info!(
        "strategy {} {} from {}",
        info.name,
        info.version,
        info.path.display()
    );
    let mut clock = Stages::new(progress);
    let (loaded, seg, rfm, profiles, streamed) = match crate::stream::streaming_reason(settings) {
        Some(reason) => {
            let s = crate::stream::fit_streamed(settings, &plugin, &info, reason, &mut clock)?;
            (s.loaded, s.seg, None, s.profiles, Some(s.report))
        }
        None => {
            clock.begin("ingest");
            let loaded = load(settings, &info, progress)?;
            clock.lap("ingest");
            let rfm = rfm_of(&loaded);
            let seg = match settings.mode {
                Mode::Kmeans => kmeans_segments(settings, &plugin, &loaded, &mut clock)?,
                Mode::Rfm => {
                    clock.begin("rfm scores");
                    let seg = rfm_segments(&info, rfm.as_ref())?;
                    clock.lap("rfm scores");
                    seg
                }
            };
            clock.begin("profiles");
            let columns: Vec<(&Binding, &ColumnData)> = loaded
                .bindings
                .iter()
                .zip(loaded.table.columns.iter().map(|c| &c.data))
                .filter(|(b, _)| !crate::binding::is_personal(&info, &b.role))
                .collect();
            let profiles = compute_profiles(&columns, &seg.labels, seg.k);
            (loaded, seg, rfm, profiles, None)
        }
    };
    let n = loaded.table.n_rows;
    let k = seg.k;
    let labels = match (&seg.names, &seg.state) {
        (Some(names), _) => names.clone(),
        (None, Some(state)) => {
            let mut l = profiles
                .segments
                .iter()
                .map(|p| plugin.label(state, p))
                .collect::<Result<Vec<_>, _>>()?;
            dedupe_labels(&mut l);
            l
        }
        (None, None) => unreachable!("a segmentation has names or a plugin state"),
    };

    let strategy = StrategyRef {
        name: info.name.clone(),
        version: info.version.clone(),
        abi_major: info.abi.0,
        abi_minor: info.abi.1,
    };
    let d = seg.features.len();
    let km = seg.kmeans.as_ref();
    let model = Model {
        format: crate::MODEL_FORMAT.into(),
        format_version: crate::MODEL_FORMAT_VERSION,
        strata_version: env!("CARGO_PKG_VERSION").into(),
        strategy: strategy.clone(),
        mode: settings.mode,
        input: InputSpec {
            source: match settings.source {
                Source::Customers => "customers".into(),
                Source::Transactions => "transactions".into(),
            },
            id_column: settings.id_column.clone(),
            delimiter: (loaded.delimiter as char).to_string(),
            bindings: loaded.bindings.clone(),
            missing: settings.missing,
            options: settings.plugin_options(),
        },
        metric: info.metric.name().into(),
        features: seg.features.clone(),
        state: seg.state.as_deref().map_or(serde_json::Value::Null, |s| {
            serde_json::from_str(s).expect("validated by the host")
        }),
        k,
        d,
        centroids: km.map_or_else(Vec::new, |c| {
            c.fit.centroids.chunks(d).map(<[f32]>::to_vec).collect()
        }),
        centroid_segments: km.and_then(|c| c.segment_of_centroid.clone()),
        labels: labels.clone(),
        kmeans: km.map(|c| KMeansRecord {
            seed: settings.seed,
            max_iter: settings.max_iter,
            tol: settings.tol,
            n_init: c.n_init,
            inertia: c.fit.inertia,
            iterations: c.fit.iterations,
            converged: c.fit.converged,
        }),
        rfm: rfm.as_ref().map(|r| r.cuts.clone()),
    };

    let ambiguous = match (&seg.distances, &seg.second) {
        (Some(a), Some(b)) => Some(ambiguous_counts(
            &seg.labels,
            a,
            b,
            k,
            settings.ambiguous_ratio,
        )),
        _ => None,
    };
    if let Some(a) = &ambiguous {
        info!(
            "{} customers are ambiguous (distance ratio to the two nearest centroids above {})",
            a.iter().sum::<u64>(),
            settings.ambiguous_ratio
        );
    }
    let described = describe(&info, &profiles, &labels, ambiguous.as_deref());
    clock.lap("profiles");
    clock.begin("output");
    let segments_file = SegmentsFile {
        strata_version: env!("CARGO_PKG_VERSION").into(),
        strategy,
        mode: settings.mode,
        input: InputReport {
            file: path.display().to_string(),
            rows: loaded.rows,
            rows_used: n,
            rows_dropped: loaded.rows_dropped,
            missing_policy: settings.missing,
            missing: loaded.missing.clone(),
            skipped_columns: loaded.skipped_columns.clone(),
            bindings: loaded.bindings.clone(),
        },
        transactions: loaded.transactions.clone(),
        backend: km.map(|c| c.backend.clone()),
        k,
        inertia: km.map(|c| c.fit.inertia),
        iterations: km.map_or(0, |c| c.fit.iterations),
        converged: km.is_none_or(|c| c.fit.converged),
        n_init: km.map_or(0, |c| c.n_init),
        seed: settings.seed,
        best_run: km.map_or(0, |c| c.fit.best_run),
        run_inertias: km.map_or_else(Vec::new, |c| c.fit.runs.iter().map(|r| r.inertia).collect()),
        features: seg.features.clone(),
        streamed,
        init_sample: km.and_then(|c| c.sample.clone()),
        quality: km.map(|c| c.quality.clone()),
        ambiguous_ratio: ambiguous.is_some().then_some(settings.ambiguous_ratio),
        stability: km.and_then(|c| c.stability.clone()),
        k_selection: km.and_then(|c| c.k_selection.clone()),
        scored_with: None,
        min_segment_size: settings.min_segment_size,
        merged_segments: km.map_or_else(Vec::new, |c| c.merged.clone()),
        ids_pseudonymized: settings.id_salt.is_some(),
        value_measure: described.value_measure.clone(),
        attractiveness_rule: crate::value::ATTRACTIVENESS_RULE.into(),
        segments: described.json,
        timings_s: clock
            .laps
            .iter()
            .map(|(s, t)| (s.to_string(), *t))
            .collect(),
    };

    let report = strata_report::render_fit(&crate::report::fit_report(
        &segments_file,
        km.and_then(|c| c.projection.as_ref()),
    ));
    let pseudo = settings
        .id_salt
        .as_ref()
        .map(|s| crate::privacy::Pseudonymizer::new(s.bytes()));
    let files: Vec<FileWriter> = vec![
        (
            "assignments.csv",
            Box::new(|w: &mut dyn Write| {
                AssignmentRows {
                    ids: &loaded.table.ids,
                    segments: &seg.labels,
                    sq_distances: seg.distances.as_deref().zip(seg.second.as_deref()),
                    threshold: settings.ambiguous_ratio,
                    labels: &labels,
                    rfm: rfm.as_ref(),
                    pseudo: pseudo.as_ref(),
                }
                .write_file(w)
            }),
        ),
        (
            "segments.json",
            Box::new(|w: &mut dyn Write| write_json(&segments_file, w)),
        ),
        (
            "model.json",
            Box::new(|w: &mut dyn Write| write_json(&model, w)),
        ),
        (
            "report.html",
            Box::new(|w: &mut dyn Write| w.write_all(report.as_bytes())),
        ),
    ];
    let written = write_atomically(&settings.out, files)?;
    for p in &written {
        info!("wrote {}", p.display());
    }
    clock.lap("output");
    let lap = |name: &str| {
        clock
            .laps
            .iter()
            .filter(|(s, _)| *s == name)
            .map(|(_, t)| *t)
            // An empty float sum is -0.0; a stage that did not run took 0 s.
            .fold(0.0, |a, b| a + b)
    };
    info!(
        ingest_s = lap("ingest"),
        features_s = lap("features"),
        k_means_s = lap("k-means"),
        rfm_scores_s = lap("rfm scores"),
        profiles_s = lap("profiles"),
        output_s = lap("output"),
        "stage times"
    );

    Ok(FitReport {
        strategy: info.name.clone(),
        strategy_version: info.version.clone(),
        mode: settings.mode,
        rows: loaded.rows,
        rows_used: n,
        rows_dropped: loaded.rows_dropped,
        imputed: if settings.missing == MissingPolicy::Impute {
            loaded.missing.clone()
        } else {
            BTreeMap::new()
        },
        skipped_columns: loaded.skipped_columns.clone(),
        transactions: loaded.transactions.clone(),
        features: d,
        k,
        kmeans: km.map(|c| c.summary.clone()),
        timings: clock.laps.clone(),
        segments: described.summary,
        value_measure: described.value_measure,
        merged: km.map_or_else(Vec::new, |c| c.merged.clone()),
        ids_pseudonymized: settings.id_salt.is_some(),
        written,
    })
}

/// The segments as `segments.json` and the summary show them.
pub(crate) struct Described {
    pub json: Vec<SegmentJson>,
    pub summary: Vec<SegmentSummary>,
    pub value_measure: Option<crate::ValueMeasure>,
}

/// Profiles, labels and ambiguous counts, with each segment's value (when the strategy has a
/// value measure) and attractiveness, in segment order.
pub(crate) fn describe(
    info: &PluginInfo,
    profiles: &crate::profile::Profiles,
    labels: &[String],
    ambiguous: Option<&[u64]>,
) -> Described {
    let segs = &profiles.segments;
    let value_roles: Vec<&str> = info
        .roles
        .iter()
        .filter(|r| r.value)
        .map(|r| r.name.as_str())
        .collect();
    let sizes: Vec<u64> = segs.iter().map(|p| p.size).collect();
    let values = crate::value::segment_values(&profiles.sums, &value_roles, &sizes);
    let per_customer: Option<Vec<f64>> = values
        .as_ref()
        .map(|(_, v)| v.iter().map(|s| s.per_customer).collect());
    let shares: Vec<f64> = segs.iter().map(|p| p.share).collect();
    let attract = crate::value::attractiveness(&shares, per_customer.as_deref(), None);
    let json = segs
        .iter()
        .zip(labels)
        .map(|(p, l)| {
            let j = p.index as usize;
            segment_json(
                p,
                l,
                ambiguous.map(|a| a[j]),
                values.as_ref().map(|(_, v)| v[j].clone()),
                attract[j].clone(),
            )
        })
        .collect();
    let summary = segs
        .iter()
        .zip(labels)
        .map(|(p, l)| {
            let j = p.index as usize;
            SegmentSummary {
                index: j,
                size: p.size,
                share: p.share,
                label: l.clone(),
                key_traits: key_traits(p),
                value_share: values.as_ref().and_then(|(_, v)| v[j].share),
                attractiveness: attract[j].clone(),
            }
        })
        .collect();
    Described {
        json,
        summary,
        value_measure: values.map(|(m, _)| m),
    }
}

/// Distance to the nearest centroid over distance to the second nearest, from squared
/// distances: near 0 deep inside a segment, 1 exactly between two (0 when k = 1).
pub(crate) fn boundary_ratio(nearest: f32, second: f32) -> f32 {
    if !second.is_finite() {
        0.0
    } else if second <= 0.0 {
        1.0
    } else {
        (nearest.max(0.0) / second).sqrt().min(1.0)
    }
}

/// Customers per segment whose boundary ratio is above `threshold`.
pub(crate) fn ambiguous_counts(
    labels: &[u32],
    nearest: &[f32],
    second: &[f32],
    k: usize,
    threshold: f64,
) -> Vec<u64> {
    let mut counts = vec![0u64; k];
    for ((&l, &a), &b) in labels.iter().zip(nearest).zip(second) {
        if f64::from(boundary_ratio(a, b)) > threshold {
            counts[l as usize] += 1;
        }
    }
    counts
}

fn segment_json(
    p: &Profile,
    label: &str,
    ambiguous: Option<u64>,
    value: Option<crate::SegmentValue>,
    attractiveness: crate::Attractiveness,
) -> SegmentJson {
    let mut centroid = serde_json::Map::new();
    for nstat in &p.numeric {
        centroid.insert(nstat.name.clone(), serde_json::json!(nstat.mean));
    }
    for c in &p.categorical {
        let shares: serde_json::Map<String, serde_json::Value> = c
            .levels
            .iter()
            .map(|(v, s, _)| (v.clone(), serde_json::json!(s)))
            .collect();
        centroid.insert(c.name.clone(), serde_json::Value::Object(shares));
    }
    SegmentJson {
        segment: p.index as usize,
        label: label.to_owned(),
        size: p.size,
        share: p.share,
        centroid,
        numeric: p
            .numeric
            .iter()
            .map(|s| NumericJson {
                column: s.name.clone(),
                role: s.role.clone(),
                mean: s.mean,
                overall_mean: s.overall_mean,
                index: (s.overall_mean != 0.0).then(|| s.mean / s.overall_mean * 100.0),
            })
            .collect(),
        categorical: p
            .categorical
            .iter()
            .map(|c| CategoricalJson {
                column: c.name.clone(),
                role: c.role.clone(),
                shares: c
                    .levels
                    .iter()
                    .map(|(v, s, o)| LevelJson {
                        value: v.clone(),
                        share: *s,
                        overall_share: *o,
                        index: (*o > 0.0).then(|| s / o * 100.0),
                    })
                    .collect(),
            })
            .collect(),
        key_traits: key_traits(p),
        ambiguous,
        value,
        attractiveness: Some(attractiveness),
    }
}

/// A measure for people and pipelines: at most two decimals, no trailing zeros, empty when
/// missing (sums of prices otherwise print as 5391.210000000009).
struct Rounded(f64);

impl std::fmt::Display for Rounded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_nan() {
            return Ok(());
        }
        let text = format!("{:.2}", self.0);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        f.write_str(if text == "-0" { "0" } else { text })
    }
}

/// Rows formatted by one task: big enough to amortise the task, small enough that a round of
/// tasks (a few per thread) holds only a few MiB of text.
const FORMAT_ROWS: usize = 16_384;

/// What `assignments.csv` is written from: id, segment, label, distance (Euclidean, in the
/// scaled feature space), boundary_ratio (that distance over the distance to the second-nearest
/// centroid) and ambiguous (`true` when the ratio is above `threshold`); the last three empty
/// without k-means. One row per segmented customer in input order; with RFM measures, also
/// recency, frequency, monetary and their scores.
pub(crate) struct AssignmentRows<'a> {
    pub ids: &'a IdColumn,
    pub segments: &'a [u32],
    /// Squared distances to the nearest and second-nearest centroid.
    pub sq_distances: Option<(&'a [f32], &'a [f32])>,
    pub threshold: f64,
    pub labels: &'a [String],
    pub rfm: Option<&'a Rfm>,
    pub pseudo: Option<&'a crate::privacy::Pseudonymizer>,
}

impl AssignmentRows<'_> {
    /// The whole file: header, then every row.
    fn write_file(&self, w: &mut dyn Write) -> std::io::Result<()> {
        write_assignments_header(w, self.rfm.is_some())?;
        self.write(w)?;
        w.flush()
    }

    /// Every row, no header. Formatting (float printing, pseudonyms) is most of the cost, so
    /// blocks of rows are formatted in parallel and written in row order: the bytes are those
    /// of a single writer.
    pub(crate) fn write<W: Write + ?Sized>(&self, out: &mut W) -> std::io::Result<()> {
        let n = self.segments.len();
        let round = FORMAT_ROWS * 4 * rayon::current_num_threads();
        for first in (0..n).step_by(round.max(1)) {
            let last = (first + round).min(n);
            let blocks: Vec<std::io::Result<Vec<u8>>> = (first..last)
                .step_by(FORMAT_ROWS)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|start| {
                    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
                    self.format(&mut w, start..(start + FORMAT_ROWS).min(last))?;
                    w.into_inner().map_err(|e| e.into_error())
                })
                .collect();
            for block in blocks {
                out.write_all(&block?)?;
            }
        }
        Ok(())
    }

    /// The rows `rows`, formatted into one writer.
    fn format<W: Write>(
        &self,
        out: &mut csv::Writer<W>,
        rows: std::ops::Range<usize>,
    ) -> std::io::Result<()> {
        use std::fmt::Write as _;
        let mut pseudonym = String::new();
        let (mut id_buf, mut buf) = (String::new(), String::new());
        let mut field = |out: &mut csv::Writer<W>, value: std::fmt::Arguments| {
            buf.clear();
            let _ = buf.write_fmt(value);
            out.write_field(&buf)
        };
        for i in rows {
            let l = self.segments[i];
            let id = self.ids.get(i, &mut id_buf);
            match self.pseudo {
                Some(p) => {
                    p.pseudonym(id, &mut pseudonym);
                    out.write_field(&pseudonym)?;
                }
                None => out.write_field(id)?,
            }
            field(out, format_args!("{l}"))?;
            out.write_field(&self.labels[l as usize])?;
            match self.sq_distances {
                Some((near, second)) => {
                    field(out, format_args!("{}", near[i].max(0.0).sqrt()))?;
                    let ratio = boundary_ratio(near[i], second[i]);
                    field(out, format_args!("{ratio:.4}"))?;
                    out.write_field(if f64::from(ratio) > self.threshold {
                        "true"
                    } else {
                        "false"
                    })?;
                }
                None => {
                    for _ in 0..3 {
                        out.write_field("")?;
                    }
                }
            }
            if let Some(r) = self.rfm {
                for v in &r.values {
                    field(out, format_args!("{}", Rounded(v[i])))?;
                }
                let s = r.scores[i];
                for score in [s.r, s.f, s.m] {
                    field(out, format_args!("{score}"))?;
                }
            }
            out.write_record(None::<&[u8]>)?;
        }
        Ok(())
    }
}

/// The header of `assignments.csv` (RFM measures and scores when `rfm`).
pub(crate) fn write_assignments_header<W: Write + ?Sized>(
    out: &mut W,
    rfm: bool,
) -> std::io::Result<()> {
    let mut head = vec![
        "id",
        "segment",
        "label",
        "distance",
        "boundary_ratio",
        "ambiguous",
    ];
    if rfm {
        head.extend([
            "recency",
            "frequency",
            "monetary",
            "r_score",
            "f_score",
            "m_score",
        ]);
    }
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(&head)?;
    out.write_all(&w.into_inner().map_err(|e| e.into_error())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks formatted in parallel, over several rounds and a short last block, give the
    /// bytes of one writer going through the rows in order.
    #[test]
    fn parallel_assignment_rows_are_the_serial_bytes() {
        let n = FORMAT_ROWS * 4 * rayon::current_num_threads() * 2 + 777;
        let ids = IdColumn::RowNumbers(n);
        let segments: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
        let near: Vec<f32> = (0..n).map(|i| i as f32 * 0.25).collect();
        let second: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 + 1.0).collect();
        let labels = ["a".to_string(), "b, \"quoted\"".into(), "c".into()];
        let rows = AssignmentRows {
            ids: &ids,
            segments: &segments,
            sq_distances: Some((&near, &second)),
            threshold: 0.9,
            labels: &labels,
            rfm: None,
            pseudo: None,
        };
        let mut serial = csv::WriterBuilder::new().from_writer(Vec::new());
        rows.format(&mut serial, 0..n).unwrap();
        let serial = serial.into_inner().unwrap();
        let mut parallel = Vec::new();
        rows.write(&mut parallel).unwrap();
        assert_eq!(parallel.len(), serial.len());
        assert!(parallel == serial, "the parallel bytes differ");
        assert_eq!(parallel.iter().filter(|&&b| b == b'\n').count(), n);
    }

    /// `auto` keeps narrow or small work on the CPU before it even looks for an adapter, and
    /// says why.
    #[test]
    fn auto_keeps_work_the_gpu_would_not_speed_up_on_the_cpu() {
        let cases = [
            (1_000, 4, 3, "too little work"),
            (10_000_000, 16, 16, "k·d = 256 is under 2048"),
            (2_000_000, 64, 16, "k·d = 1024 is under 2048"),
        ];
        for (n, k, d, why) in cases {
            let (backend, reason) = choose_backend(BackendChoice::Auto, n, k, d).unwrap();
            assert_eq!(
                backend.kind(),
                strata_compute::BackendKind::Cpu,
                "{n} {k} {d}"
            );
            assert!(reason.contains(why), "{reason}");
        }
    }

    #[test]
    fn measures_are_rounded_for_output() {
        let show = |x| Rounded(x).to_string();
        assert_eq!(show(5391.210000000009), "5391.21");
        assert_eq!(show(34.0), "34");
        assert_eq!(show(2.5), "2.5");
        assert_eq!(show(-0.001), "0");
        assert_eq!(show(f64::NAN), "");
    }

    #[test]
    fn labels_are_made_unique() {
        let mut l = vec!["A".to_string(), "B".into(), "A".into(), "A".into()];
        dedupe_labels(&mut l);
        assert_eq!(l, vec!["A", "B", "A (2)", "A (3)"]);
    }

    #[test]
    fn segments_are_numbered_by_size() {
        let mut fit = KMeansFit {
            k: 3,
            d: 1,
            centroids: vec![0.0, 1.0, 2.0],
            labels: vec![0, 1, 1, 2, 2, 2],
            nearest: vec![0.0; 6],
            second: vec![0.0; 6],
            counts: vec![1, 2, 3],
            inertia: 0.0,
            iterations: 1,
            converged: true,
            best_run: 0,
            runs: vec![],
        };
        order_by_size(&mut fit);
        assert_eq!(fit.centroids, vec![2.0, 1.0, 0.0]);
        assert_eq!(fit.counts, vec![3, 2, 1]);
        assert_eq!(fit.labels, vec![2, 1, 1, 0, 0, 0]);
    }

    #[test]
    fn cosine_rows_become_unit_length() {
        let mut m = vec![3.0, 4.0, 0.0, 0.0];
        normalise_rows(&mut m, 2);
        assert_eq!(m, vec![0.6, 0.8, 0.0, 0.0]);
    }
}
