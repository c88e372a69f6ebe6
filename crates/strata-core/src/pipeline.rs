//! `fit`: from a CSV file to segments and their output files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use rayon::prelude::*;
use strata_compute::{Backend, CpuBackend, MatrixRef};
use strata_host::{Batch, BatchColumn, BatchValues, ColumnKind, Metric, Plugin, Profile, Registry};
use strata_ingest::{ColumnData, IdColumn, ParseAs, ReadPlan, Table};
use strata_kmeans::{KMeansFit, KMeansParams, Observer, RunSummary};
use tracing::{debug, info, warn};

use crate::model::{InputSpec, KMeansRecord, Model, StrategyRef};
use crate::output::{
    BackendReport, CategoricalJson, FileWriter, InputReport, LevelJson, NumericJson, SegmentJson,
    SegmentsFile, write_json,
};
use crate::profile::{compute_profiles, key_traits};
use crate::{
    BackendChoice, Binding, CoreError, FitSettings, MissingPolicy, resolve_bindings,
    write_atomically,
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
}

/// What a fit did, for the caller to print.
#[derive(Debug, Clone)]
pub struct FitReport {
    pub strategy: String,
    pub strategy_version: String,
    pub rows: usize,
    pub rows_used: usize,
    pub rows_dropped: usize,
    pub imputed: BTreeMap<String, usize>,
    pub skipped_columns: Vec<String>,
    pub features: usize,
    pub k: usize,
    pub inertia: f64,
    pub iterations: usize,
    pub converged: bool,
    pub backend: String,
    pub segments: Vec<SegmentSummary>,
    pub written: Vec<PathBuf>,
}

/// Logs k-means progress (never row data).
struct LogObserver;

impl Observer for LogObserver {
    fn run_started(&mut self, run: usize, runs: usize) {
        debug!("k-means run {}/{runs}", run + 1);
    }
    fn iteration(&mut self, run: usize, iteration: usize, inertia: f64, shift: f64) {
        debug!(run = run + 1, iteration, inertia, shift, "lloyd step");
    }
    fn empty_cluster_reseeded(&mut self, run: usize, cluster: usize) {
        debug!(
            "run {}: segment {cluster} was empty and was reseeded",
            run + 1
        );
    }
    fn run_finished(&mut self, run: usize, s: &RunSummary) {
        info!(
            "k-means run {}: inertia {:.6e} after {} iterations ({})",
            run + 1,
            s.inertia,
            s.iterations,
            if s.converged {
                "converged"
            } else {
                "hit --max-iter"
            }
        );
    }
}

fn parse_as(b: &Binding) -> ParseAs {
    match b.kind {
        ColumnKind::Numeric if b.auto => ParseAs::AutoNumeric,
        ColumnKind::Numeric => ParseAs::Numeric,
        ColumnKind::Date => ParseAs::Date,
        ColumnKind::Categorical | ColumnKind::Id => ParseAs::Text,
    }
}

fn batch<'a>(bindings: &'a [Binding], table: &'a Table) -> Batch<'a> {
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
fn normalise_rows(matrix: &mut [f32], d: usize) {
    matrix.par_chunks_mut(d).for_each(|row| {
        let norm = row
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 {
            row.iter_mut()
                .for_each(|x| *x = (f64::from(*x) / norm) as f32);
        }
    });
}

fn choose_backend(choice: BackendChoice) -> Result<(Box<dyn Backend>, String), CoreError> {
    match choice {
        BackendChoice::Cpu => Ok((Box::new(CpuBackend::new()), "--backend cpu".into())),
        BackendChoice::Auto => Ok((
            Box::new(CpuBackend::new()),
            "auto: this build has only the CPU backend".into(),
        )),
        BackendChoice::Gpu => Err(CoreError::Settings(
            "--backend gpu: this build of strata has no GPU backend; use --backend cpu or auto"
                .into(),
        )),
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

/// Runs a fit job and writes its outputs.
pub fn fit(settings: &FitSettings, registry: &Registry) -> Result<FitReport, CoreError> {
    let path = settings.input.as_path();
    let plugin = registry.find(&settings.strategy)?;
    let info = plugin.info().clone();
    info!(
        "strategy {} {} from {}",
        info.name,
        info.version,
        info.path.display()
    );
    let (backend, backend_reason) = choose_backend(settings.backend)?;

    let header = strata_ingest::read_header(path, settings.delimiter)?;
    let id_index = match &settings.id_column {
        None => None,
        Some(name) => Some(header.position(name).ok_or_else(|| CoreError::Binding {
            path: path.to_owned(),
            message: format!(
                "--id-column '{name}' is not in the header; the header has {}",
                header.names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
            ),
        })?),
    };
    let mut bindings = resolve_bindings(path, &info, &header, &settings.maps, id_index)?;
    for b in &bindings {
        info!(
            "role {} ← column '{}' ({})",
            b.role,
            b.column,
            b.kind.name()
        );
    }
    let plan = ReadPlan {
        id_column: id_index,
        allow_duplicate_ids: settings.allow_duplicate_ids,
        columns: bindings.iter().map(|b| (b.index, parse_as(b))).collect(),
    };
    let mut table = strata_ingest::read_table(&header, &plan)?;
    let rows = table.n_rows;
    info!("read {rows} rows from {}", path.display());

    // Set aside "every numeric column" candidates that held text.
    let mut skipped_columns = Vec::new();
    let mut keep_col = Vec::new();
    for c in &table.columns {
        let text = matches!(c.data, ColumnData::NotNumeric { .. });
        if text {
            skipped_columns.push(c.name.clone());
        }
        keep_col.push(!text);
    }
    if !skipped_columns.is_empty() {
        info!(
            "left out non-numeric columns: {}",
            skipped_columns.join(", ")
        );
        let mut it = keep_col.iter();
        bindings.retain(|_| *it.next().expect("one flag per binding"));
        let mut it = keep_col.iter();
        table
            .columns
            .retain(|_| *it.next().expect("one flag per column"));
        if bindings.is_empty() {
            return Err(CoreError::Data {
                path: path.to_owned(),
                message: format!(
                    "no numeric column to cluster (non-numeric: {}); bind columns with --map",
                    skipped_columns.join(", ")
                ),
            });
        }
    }

    let mut missing = BTreeMap::new();
    for (b, c) in bindings.iter().zip(&table.columns) {
        let m = c.data.missing();
        if m == rows {
            return Err(CoreError::Data {
                path: path.to_owned(),
                message: format!(
                    "column '{}' (role {}) has no values: every row is missing",
                    b.column, b.role
                ),
            });
        }
        missing.insert(b.column.clone(), m);
    }
    let any_missing = missing.values().any(|&m| m > 0);
    let mut rows_dropped = 0;
    if any_missing {
        match settings.missing {
            MissingPolicy::Impute => {
                for (col, m) in missing.iter().filter(|(_, m)| **m > 0) {
                    info!("imputed {m} missing values in '{col}'");
                }
            }
            MissingPolicy::Drop => {
                let keep: Vec<bool> = (0..rows)
                    .map(|i| table.columns.iter().all(|c| !c.data.is_missing(i)))
                    .collect();
                rows_dropped = keep.iter().filter(|k| !**k).count();
                table = Table {
                    n_rows: rows - rows_dropped,
                    ids: table.ids.filter(&keep),
                    columns: table
                        .columns
                        .iter()
                        .map(|c| strata_ingest::Column {
                            data: c.data.filter(&keep),
                            ..c.clone()
                        })
                        .collect(),
                    lines: table
                        .lines
                        .iter()
                        .zip(&keep)
                        .filter(|(_, k)| **k)
                        .map(|(l, _)| *l)
                        .collect(),
                };
                info!("dropped {rows_dropped} rows with a missing value (--missing drop)");
                if table.n_rows == 0 {
                    return Err(CoreError::Data {
                        path: path.to_owned(),
                        message: "every row has a missing value in a bound column; nothing is left to segment \
                                  (try --missing impute)"
                            .into(),
                    });
                }
            }
        }
    }
    let n = table.n_rows;
    let k = settings.k.unwrap_or(info.default_k as usize);
    if k > n {
        return Err(CoreError::Settings(format!(
            "k = {k} is more than the {n} customers to segment in {}",
            path.display()
        )));
    }
    let params = KMeansParams::new(k)
        .seed(settings.seed)
        .max_iter(settings.max_iter)
        .tol(settings.tol)
        .n_init(settings.n_init)
        .check()?;

    let options = settings.plugin_options();
    let b = batch(&bindings, &table);
    let fitted = plugin.fit(&b, &options.to_string())?;
    let d = fitted.features.len();
    info!("{d} features: {}", fitted.features.join(", "));
    let mut matrix = transform_all(&plugin, &fitted.state, &b, d)?;
    if info.metric == Metric::Cosine {
        normalise_rows(&mut matrix, d);
    }

    info!(
        "clustering {n} × {d} into k = {k} on {} ({backend_reason})",
        backend.describe()
    );
    let data = MatrixRef::new(&matrix, n, d).map_err(strata_kmeans::KMeansError::from)?;
    let mut km = strata_kmeans::fit(&params, backend.as_ref(), data, &mut LogObserver)?;
    if !km.converged {
        warn!(
            "k-means stopped at --max-iter {} before converging",
            settings.max_iter
        );
    }
    order_by_size(&mut km);
    drop(matrix);

    let columns: Vec<(&Binding, &ColumnData)> = bindings
        .iter()
        .zip(table.columns.iter().map(|c| &c.data))
        .collect();
    let profiles = compute_profiles(&columns, &km.labels, k);
    let mut labels = profiles
        .iter()
        .map(|p| plugin.label(&fitted.state, p))
        .collect::<Result<Vec<_>, _>>()?;
    dedupe_labels(&mut labels);

    let state: serde_json::Value =
        serde_json::from_str(&fitted.state).expect("validated by the host");
    let strategy = StrategyRef {
        name: info.name.clone(),
        version: info.version.clone(),
        abi_major: info.abi.0,
        abi_minor: info.abi.1,
    };
    let model = Model {
        format: crate::MODEL_FORMAT.into(),
        format_version: crate::MODEL_FORMAT_VERSION,
        strata_version: env!("CARGO_PKG_VERSION").into(),
        strategy: strategy.clone(),
        input: InputSpec {
            id_column: settings.id_column.clone(),
            delimiter: (header.delimiter as char).to_string(),
            bindings: bindings.clone(),
            missing: settings.missing,
            options,
        },
        metric: info.metric.name().into(),
        features: fitted.features.clone(),
        state,
        k,
        d,
        centroids: km.centroids.chunks(d).map(<[f32]>::to_vec).collect(),
        labels: labels.clone(),
        kmeans: KMeansRecord {
            seed: settings.seed,
            max_iter: settings.max_iter,
            tol: settings.tol,
            n_init: params.n_init(),
            inertia: km.inertia,
            iterations: km.iterations,
            converged: km.converged,
        },
    };

    let segments: Vec<SegmentJson> = profiles
        .iter()
        .zip(&labels)
        .map(|(p, l)| segment_json(p, l))
        .collect();
    let segments_file = SegmentsFile {
        strata_version: env!("CARGO_PKG_VERSION").into(),
        strategy,
        input: InputReport {
            file: path.display().to_string(),
            rows,
            rows_used: n,
            rows_dropped,
            missing_policy: settings.missing,
            missing: missing.clone(),
            skipped_columns: skipped_columns.clone(),
            bindings: bindings.clone(),
        },
        backend: BackendReport {
            kind: backend.kind().name().into(),
            description: backend.describe(),
            reason: backend_reason,
        },
        k,
        inertia: km.inertia,
        iterations: km.iterations,
        converged: km.converged,
        n_init: params.n_init(),
        seed: settings.seed,
        best_run: km.best_run,
        run_inertias: km.runs.iter().map(|r| r.inertia).collect(),
        features: fitted.features.clone(),
        segments,
    };

    let files: Vec<FileWriter> = vec![
        (
            "assignments.csv",
            Box::new(|w: &mut dyn Write| write_assignments(w, &table.ids, &km, &labels)),
        ),
        (
            "segments.json",
            Box::new(|w: &mut dyn Write| write_json(&segments_file, w)),
        ),
        (
            "model.json",
            Box::new(|w: &mut dyn Write| write_json(&model, w)),
        ),
    ];
    let written = write_atomically(&settings.out, files)?;
    for p in &written {
        info!("wrote {}", p.display());
    }

    Ok(FitReport {
        strategy: info.name.clone(),
        strategy_version: info.version.clone(),
        rows,
        rows_used: n,
        rows_dropped,
        imputed: if settings.missing == MissingPolicy::Impute {
            missing
        } else {
            BTreeMap::new()
        },
        skipped_columns,
        features: d,
        k,
        inertia: km.inertia,
        iterations: km.iterations,
        converged: km.converged,
        backend: segments_file.backend.description.clone(),
        segments: profiles
            .iter()
            .zip(&labels)
            .map(|(p, l)| SegmentSummary {
                index: p.index as usize,
                size: p.size,
                share: p.share,
                label: l.clone(),
                key_traits: key_traits(p),
            })
            .collect(),
        written,
    })
}

fn segment_json(p: &Profile, label: &str) -> SegmentJson {
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
                    })
                    .collect(),
            })
            .collect(),
        key_traits: key_traits(p),
    }
}

/// `assignments.csv`: id, segment, label, distance (Euclidean, in the scaled feature space),
/// one row per segmented customer in input order.
fn write_assignments(
    w: &mut dyn Write,
    ids: &IdColumn,
    km: &KMeansFit,
    labels: &[String],
) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let mut out = csv::WriterBuilder::new().from_writer(w);
    out.write_record(["id", "segment", "label", "distance"])?;
    let (mut id_buf, mut seg, mut dist) = (String::new(), String::new(), String::new());
    for (i, (&l, &d2)) in km.labels.iter().zip(&km.nearest).enumerate() {
        seg.clear();
        dist.clear();
        let _ = write!(seg, "{l}");
        let _ = write!(dist, "{}", d2.max(0.0).sqrt());
        out.write_field(ids.get(i, &mut id_buf))?;
        out.write_field(&seg)?;
        out.write_field(&labels[l as usize])?;
        out.write_field(&dist)?;
        out.write_record(None::<&[u8]>)?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
