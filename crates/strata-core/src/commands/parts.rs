//! Partition-sized building blocks around a saved model, for running Strata where another
//! engine (Spark, a batch of Kubernetes jobs) splits the customers:
//!
//! - [`transform`]: a part's customers → their feature rows, exactly what `assign` computes
//!   before it labels them (the saved preprocessing, cosine rows made unit length);
//! - [`step`]: a part's customers → one Lloyd pass's tallies against the model's centroids
//!   (rows, exact sums and inertia per centroid, exact per-feature moments), in a
//!   `step.json` that [`recenter`] adds up with the other parts';
//! - [`recenter`]: a model plus new centroids (from the parts' step tallies, or a CSV of
//!   centroids refined elsewhere) → a new model, validated for k and d.
//!
//! Every sum is exact ([`ExactSum`]), so a Lloyd step over parts gives the same centroids
//! however the rows were split and in whatever order the parts come.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use strata_compute::MatrixRef;
use strata_compute::exact::{ExactSum, squared_deviations, two_product};
use strata_host::Registry;
use strata_ingest::IdColumn;
use tracing::info;

use super::assign::Scoring;
use crate::backend::Runner;
use crate::model::Model;
use crate::output::{open_run, write_json};
use crate::progress::Progress;
use crate::tally::{exact_inertia, model_fingerprint};
use crate::{AssignmentsFormat, BackendChoice, CoreError, Salt};

/// What [`transform`] and [`step`] read: a part of the customers and the model to read it with.
#[derive(Debug, Clone)]
pub struct PartInput {
    /// The saved model (`--model`).
    pub model: PathBuf,
    /// The part: a customer file in any format `assign` reads.
    pub input: PathBuf,
    /// A CSV input's delimiter; `None`: sniffed.
    pub delimiter: Option<u8>,
    /// `--pseudonymize-ids` (required when the fit pseudonymised its ids).
    pub id_salt: Option<Salt>,
    /// What the input stands for when it is a spooled copy (standard input).
    pub origin: Option<crate::Origin>,
}

impl PartInput {
    /// The model opened to score the part.
    fn open(&self, registry: &Registry) -> Result<Scoring, CoreError> {
        Scoring::open(
            &self.model,
            self.id_salt.as_ref(),
            &self.input,
            self.delimiter,
            registry,
        )
    }
}

/// An error for a k-prototypes model: `step` and `recenter` are k-means' Lloyd step spread
/// over partitions, and k-prototypes' passes are online, row by row.
fn lloyd_only(model: &Model, path: &Path) -> Result<(), CoreError> {
    match model.kprototypes {
        None => Ok(()),
        Some(_) => Err(CoreError::Model {
            path: path.to_owned(),
            message: "its segments were found by k-prototypes, whose passes move one customer \
                      at a time: step and recenter run k-means' Lloyd step only (fit it with \
                      --algorithm kmeans, or fit on one machine)"
                .into(),
        }),
    }
}

/// Reads the part a batch at a time and hands each batch's ids and feature rows to `each`.
/// Returns the rows read and scored.
fn each_batch(
    scoring: &Scoring,
    progress: &dyn Progress,
    mut each: impl FnMut(&IdColumn, MatrixRef<'_>) -> Result<(), CoreError>,
) -> Result<(usize, usize), CoreError> {
    let features = scoring.features()?;
    let mut stream = scoring.stream(progress)?;
    let mut used = 0usize;
    while let Some(batch) = stream.next(|_| Ok(()))? {
        let table = &batch.table;
        if table.n_rows == 0 {
            continue;
        }
        let row_numbers = scoring
            .plan
            .id_column
            .is_none()
            .then(|| batch.row_numbers());
        let ids = row_numbers.as_ref().unwrap_or(&table.ids);
        let scaled = features.transform(&scoring.bindings, table)?;
        let data = MatrixRef::new(&scaled, table.n_rows, scoring.model.d)
            .map_err(strata_kmeans::KMeansError::from)?;
        each(ids, data)?;
        used += table.n_rows;
    }
    if stream.rows == 0 {
        return Err(strata_ingest::IngestError::NoRows {
            path: scoring.header.path.clone(),
        }
        .into());
    }
    Ok((stream.rows, used))
}

/// What [`transform`] did.
#[derive(Debug, Clone)]
pub struct TransformReport {
    /// Customers read.
    pub rows: usize,
    /// Feature rows written (rows with a missing value are left out under `--missing drop`).
    pub rows_written: usize,
    /// Features per row.
    pub d: usize,
    /// The file written.
    pub written: PathBuf,
}

/// Writes the part's feature rows to `out` in `format` (CSV, Parquet or an Arrow IPC
/// stream): the id column as text (under the model's id column name, or `row` for row numbers) and
/// one float32 column per feature, named as in the model. Written to a temporary name beside
/// `out` and renamed into place, so a failure leaves nothing.
pub fn transform(
    part: &PartInput,
    out: &Path,
    format: AssignmentsFormat,
    registry: &Registry,
    progress: &dyn Progress,
) -> Result<TransformReport, CoreError> {
    let out_err = |error| CoreError::Output {
        path: out.to_owned(),
        error,
    };
    let scoring = part.open(registry)?;
    let model = &scoring.model;
    let pseudo = part
        .id_salt
        .as_ref()
        .map(|s| crate::privacy::Pseudonymizer::new(s.bytes()));
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".strata-transform.")
        .tempfile_in(dir)
        .map_err(out_err)?;
    let file = std::io::BufWriter::with_capacity(1 << 20, tmp.reopen().map_err(out_err)?);
    let mut sink = FeatureSink::new(format, model, file).map_err(out_err)?;
    let (rows, rows_written) = each_batch(&scoring, progress, |ids, data| {
        sink.write(ids, data, pseudo.as_ref()).map_err(out_err)
    })?;
    sink.finish().map_err(out_err)?;
    tmp.persist(out).map_err(|e| out_err(e.error))?;
    info!("wrote {rows_written} feature rows of {} features", model.d);
    Ok(TransformReport {
        rows,
        rows_written,
        d: model.d,
        written: out.to_owned(),
    })
}

type FileOut = std::io::BufWriter<std::fs::File>;

/// Feature rows into CSV text or Arrow batches.
enum FeatureSink {
    Csv(FileOut),
    Arrow(Box<arrow_ipc::writer::StreamWriter<FileOut>>, Arc<Schema>),
    Parquet(Box<parquet::arrow::ArrowWriter<FileOut>>, Arc<Schema>),
}

fn io(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> std::io::Error {
    std::io::Error::other(e)
}

impl FeatureSink {
    fn new(
        format: AssignmentsFormat,
        model: &Model,
        mut w: FileOut,
    ) -> std::io::Result<FeatureSink> {
        let id_name = model
            .input
            .id_column
            .clone()
            .unwrap_or_else(|| "row".into());
        // Ids as text, as the reader holds them (row numbers too).
        let mut fields = vec![Field::new(&id_name, DataType::Utf8, true)];
        fields.extend(
            model
                .features
                .iter()
                .map(|f| Field::new(f, DataType::Float32, false)),
        );
        let schema = Arc::new(Schema::new(fields));
        Ok(match format {
            AssignmentsFormat::Csv => {
                let mut line = Vec::new();
                strata_arrow_text::push_field(&mut line, id_name.as_bytes());
                for f in &model.features {
                    line.push(b',');
                    strata_arrow_text::push_field(&mut line, f.as_bytes());
                }
                line.push(b'\n');
                w.write_all(&line)?;
                FeatureSink::Csv(w)
            }
            AssignmentsFormat::Arrow => FeatureSink::Arrow(
                Box::new(arrow_ipc::writer::StreamWriter::try_new(w, &schema).map_err(io)?),
                schema,
            ),
            AssignmentsFormat::Parquet => FeatureSink::Parquet(
                Box::new(
                    parquet::arrow::ArrowWriter::try_new(w, schema.clone(), None).map_err(io)?,
                ),
                schema,
            ),
        })
    }

    fn write(
        &mut self,
        ids: &IdColumn,
        data: MatrixRef<'_>,
        pseudo: Option<&crate::privacy::Pseudonymizer>,
    ) -> std::io::Result<()> {
        let (n, d) = (data.n(), data.d());
        let mut scratch = String::new();
        let mut pseudonym = String::new();
        let mut id = |i: usize, scratch: &mut String| -> Vec<u8> {
            let raw = ids.get(i, scratch);
            match pseudo {
                Some(p) => {
                    p.pseudonym(raw, &mut pseudonym);
                    pseudonym.as_bytes().to_vec()
                }
                None => raw.to_vec(),
            }
        };
        if let FeatureSink::Csv(w) = self {
            use std::io::Write as _;
            let mut text = Vec::with_capacity(n * (d * 12 + 16));
            for i in 0..n {
                strata_arrow_text::push_field(&mut text, &id(i, &mut scratch));
                for &x in data.row(i) {
                    write!(text, ",{x}")?;
                }
                text.push(b'\n');
            }
            return w.write_all(&text);
        }
        let (FeatureSink::Arrow(_, schema) | FeatureSink::Parquet(_, schema)) = &*self else {
            unreachable!("CSV written above")
        };
        let id_column: ArrayRef =
            Arc::new(StringArray::from_iter_values((0..n).map(|i| {
                String::from_utf8_lossy(&id(i, &mut scratch)).into_owned()
            })));
        let mut columns = vec![id_column];
        for f in 0..d {
            columns.push(Arc::new(Float32Array::from_iter_values(
                (0..n).map(|i| data.data()[i * d + f]),
            )));
        }
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(io)?;
        match self {
            FeatureSink::Arrow(w, _) => w.write(&batch).map_err(io),
            FeatureSink::Parquet(w, _) => w.write(&batch).map_err(io),
            FeatureSink::Csv(_) => unreachable!("CSV written above"),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        let w = match self {
            FeatureSink::Csv(w) => w,
            FeatureSink::Arrow(mut w, _) => {
                w.finish().map_err(io)?;
                w.into_inner().map_err(io)?
            }
            FeatureSink::Parquet(w, _) => w.into_inner().map_err(io)?,
        };
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    }
}

/// The `format` of `step.json`.
pub const STEP_FORMAT: &str = "strata-step";
/// Bumped when a field changes meaning.
pub const STEP_FORMAT_VERSION: u32 = 1;

/// `step.json`: one Lloyd pass over a part against a model's centroids. Sums are
/// [`ExactSum::terms`], so parts add up to the bits of one pass over all their rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepTally {
    /// Always [`STEP_FORMAT`].
    pub format: String,
    /// [`STEP_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The model whose centroids the rows were assigned to ([`model_fingerprint`]).
    pub model_fingerprint: String,
    /// Rows per centroid.
    pub counts: Vec<u64>,
    /// Per centroid, per feature (row-major, centroids × d): the terms of the rows' sum.
    pub sums: Vec<Vec<f64>>,
    /// Terms of Σ‖x − c‖² over the rows and their nearest centroid (f64 distances).
    pub inertia: Vec<f64>,
    /// Per feature, the terms of Σx and of Σx² over every row (for the stopping rule's
    /// mean feature variance).
    pub feature_sums: Vec<Vec<f64>>,
    /// See `feature_sums`.
    pub feature_squares: Vec<Vec<f64>>,
}

/// What [`step`] did.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Customers read.
    pub rows: usize,
    /// Customers assigned.
    pub rows_used: usize,
    /// The tally written.
    pub written: PathBuf,
}

/// Running exact sums of one step.
struct StepSums {
    d: usize,
    counts: Vec<u64>,
    sums: Vec<ExactSum>,
    inertia: ExactSum,
    feature_sums: Vec<ExactSum>,
    feature_squares: Vec<ExactSum>,
}

impl StepSums {
    fn new(centroids: usize, d: usize) -> StepSums {
        StepSums {
            d,
            counts: vec![0; centroids],
            sums: vec![ExactSum::new(); centroids * d],
            inertia: ExactSum::new(),
            feature_sums: vec![ExactSum::new(); d],
            feature_squares: vec![ExactSum::new(); d],
        }
    }

    fn add(&mut self, data: MatrixRef<'_>, labels: &[u32], centroids: &[f32]) {
        let d = self.d;
        let k = self.counts.len();
        for &l in labels {
            self.counts[l as usize] += 1;
        }
        self.inertia.merge(&exact_inertia(data, centroids, labels));
        // A feature per task: its k sums, its Σx and Σx².
        let mut per_feature: Vec<(Vec<ExactSum>, &mut ExactSum, &mut ExactSum)> = self
            .feature_sums
            .iter_mut()
            .zip(self.feature_squares.iter_mut())
            .map(|(s, q)| (vec![ExactSum::new(); k], s, q))
            .collect();
        per_feature
            .par_iter_mut()
            .enumerate()
            .for_each(|(f, (sums, total, squares))| {
                for (row, &l) in data.data().chunks_exact(d).zip(labels) {
                    let x = f64::from(row[f]);
                    sums[l as usize].add(x);
                    total.add(x);
                    let (p, e) = two_product(x, x);
                    squares.add(p);
                    squares.add(e);
                }
            });
        for (f, (sums, _, _)) in per_feature.into_iter().enumerate() {
            for (j, s) in sums.iter().enumerate() {
                self.sums[j * d + f].merge(s);
            }
        }
    }
}

/// One Lloyd pass over the part against the model's centroids, its tallies written to `out`
/// as `step.json` (atomically).
pub fn step(
    part: &PartInput,
    out: &Path,
    backend: BackendChoice,
    registry: &Registry,
    progress: &dyn Progress,
) -> Result<StepReport, CoreError> {
    let scoring = part.open(registry)?;
    let model = &scoring.model;
    lloyd_only(model, &part.model)?;
    let centroids: Vec<f32> = model.centroids.concat();
    let k = model.centroids.len();
    let mut sums = StepSums::new(k, model.d);
    let mut runner: Option<Runner> = None;
    let (rows, rows_used) = each_batch(&scoring, progress, |_, data| {
        let runner = match &mut runner {
            Some(r) => r,
            None => runner.insert(Runner::new(backend, data.n(), k, model.d)?),
        };
        let a = runner.assign(data, &centroids, k)?;
        sums.add(data, &a.labels, &centroids);
        Ok(())
    })?;
    let tally = StepTally {
        format: STEP_FORMAT.into(),
        format_version: STEP_FORMAT_VERSION,
        model_fingerprint: model_fingerprint(model),
        counts: sums.counts,
        sums: sums.sums.iter().map(ExactSum::terms).collect(),
        inertia: sums.inertia.terms(),
        feature_sums: sums.feature_sums.iter().map(ExactSum::terms).collect(),
        feature_squares: sums.feature_squares.iter().map(ExactSum::terms).collect(),
    };
    let written = crate::output::write_file_atomically(out, |w| write_json(&tally, w))?;
    Ok(StepReport {
        rows,
        rows_used,
        written,
    })
}

/// Where [`recenter`] takes the new centroids from.
#[derive(Debug, Clone)]
pub enum NewCentroids {
    /// A CSV whose header names the model's features in order and whose rows are the
    /// centroids (as many as the model has), in the scaled feature space.
    File(PathBuf),
    /// `step.json` tallies of one pass over parts of the customers: each centroid moves to
    /// the mean of its rows (a centroid with none stays where it was).
    Steps(Vec<PathBuf>),
}

/// `recenter.json`: how far the centroids moved and whether Lloyd has converged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecenterFile {
    /// Σⱼ‖cⱼ(new) − cⱼ(old)‖², the shift k-means' stopping rule reads.
    pub shift: f64,
    /// `--tol` × the mean feature variance over the steps' rows (`null` for new centroids
    /// from a file).
    pub threshold: Option<f64>,
    /// Whether the shift is at or below the threshold (k-means' rule, scikit-learn's).
    pub converged: bool,
    /// The steps' inertia: Σ‖x − c‖² of the rows against the centroids before the move.
    pub inertia: Option<f64>,
    /// Rows per centroid in the steps.
    pub counts: Option<Vec<u64>>,
    /// Centroids that had no row and stayed where they were.
    pub empty: Vec<usize>,
    /// Rows in the steps.
    pub rows: Option<u64>,
}

/// What [`recenter`] did.
#[derive(Debug, Clone)]
pub struct RecenterReport {
    /// How far the centroids moved and more.
    pub file: RecenterFile,
    /// The files written (`model.json`, `recenter.json`).
    pub written: Vec<PathBuf>,
}

/// The `step.json` tallies at `parts`, checked to be of `model` (k' centroids of d features),
/// added up.
fn read_steps(model_path: &Path, model: &Model, parts: &[PathBuf]) -> Result<StepSums, CoreError> {
    let (k, d) = (model.centroids.len(), model.d);
    let fingerprint = model_fingerprint(model);
    let mut total = StepSums::new(k, d);
    for path in parts {
        let err = |message: String| CoreError::Data {
            path: path.clone(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let t: StepTally = serde_json::from_slice(&bytes)
            .map_err(|e| err(format!("not a Strata step tally: {e}")))?;
        if t.format != STEP_FORMAT || t.format_version != STEP_FORMAT_VERSION {
            return Err(err(format!(
                "format {} version {} is not {STEP_FORMAT} version {STEP_FORMAT_VERSION}",
                t.format, t.format_version
            )));
        }
        if t.model_fingerprint != fingerprint {
            return Err(err(format!(
                "a step against another model than {}: recenter the model the step ran with",
                model_path.display()
            )));
        }
        if t.counts.len() != k
            || t.sums.len() != k * d
            || t.feature_sums.len() != d
            || t.feature_squares.len() != d
        {
            return Err(err(format!(
                "its tallies are not {k} centroids of {d} features"
            )));
        }
        for (a, b) in total.counts.iter_mut().zip(&t.counts) {
            *a += b;
        }
        let merge = |into: &mut [ExactSum], from: &[Vec<f64>]| {
            for (a, b) in into.iter_mut().zip(from) {
                a.merge(&ExactSum::from_terms(b));
            }
        };
        merge(&mut total.sums, &t.sums);
        merge(&mut total.feature_sums, &t.feature_sums);
        merge(&mut total.feature_squares, &t.feature_squares);
        total.inertia.merge(&ExactSum::from_terms(&t.inertia));
    }
    Ok(total)
}

/// A model with new centroids, written to `out/model.json` with `out/recenter.json`. Refuses
/// centroids of another count or dimension, non-finite values, and steps of another model.
pub fn recenter(
    model_path: &Path,
    from: &NewCentroids,
    tol: Option<f64>,
    out: &Path,
) -> Result<RecenterReport, CoreError> {
    let mut model = Model::load(model_path)?;
    lloyd_only(&model, model_path)?;
    let (k, d) = (model.centroids.len(), model.d);
    let tol = tol.unwrap_or_else(|| {
        model
            .kmeans
            .as_ref()
            .map_or(strata_kmeans::DEFAULT_TOL, |r| r.tol)
    });
    let old: Vec<f32> = model.centroids.concat();
    // The new centroids, and the steps' sums when they come from steps.
    let (new, steps) = match from {
        NewCentroids::File(path) => {
            let (_, c) = crate::cluster::read_init(path, &model.features, Some(k))?;
            (c, None)
        }
        NewCentroids::Steps(parts) => {
            let total = read_steps(model_path, &model, parts)?;
            let mut new = old.clone();
            for j in (0..k).filter(|&j| total.counts[j] > 0) {
                for f in 0..d {
                    new[j * d + f] =
                        (total.sums[j * d + f].value() / total.counts[j] as f64) as f32;
                }
            }
            (new, Some(total))
        }
    };
    if let Some(i) = new.iter().position(|v| !v.is_finite()) {
        return Err(CoreError::Data {
            path: model_path.to_owned(),
            message: format!(
                "new centroid {} has a non-finite value for '{}'",
                i / d + 1,
                model.features[i % d]
            ),
        });
    }
    let shift: f64 = old
        .iter()
        .zip(&new)
        .map(|(&a, &b)| (f64::from(b) - f64::from(a)).powi(2))
        .sum();
    let summary = match steps {
        None => RecenterFile {
            shift,
            threshold: None,
            converged: false,
            inertia: None,
            counts: None,
            empty: Vec::new(),
            rows: None,
        },
        Some(total) => {
            let n: u64 = total.counts.iter().sum();
            let variance = (0..d)
                .map(|f| {
                    squared_deviations(n, &total.feature_sums[f], &total.feature_squares[f])
                        / n.max(1) as f64
                })
                .sum::<f64>()
                / d as f64;
            let threshold = tol * variance;
            RecenterFile {
                shift,
                threshold: Some(threshold),
                converged: shift <= threshold,
                inertia: Some(total.inertia.value()),
                empty: (0..k).filter(|&j| total.counts[j] == 0).collect(),
                counts: Some(total.counts),
                rows: Some(n),
            }
        }
    };
    model.centroids = new.chunks_exact(d).map(<[f32]>::to_vec).collect();
    if let (Some(record), Some(inertia)) = (&mut model.kmeans, summary.inertia) {
        record.iterations += 1;
        record.inertia = inertia;
        record.converged = summary.converged;
    }
    model.validate().map_err(|message| CoreError::Model {
        path: model_path.to_owned(),
        message,
    })?;
    super::assign::refuse_fit_folder(out, model_path, false)?;
    let run = open_run(out, "recenter")?;
    let model_file = run.stage("model.json", |w| write_json(&model, w))?;
    let summary_file = run.stage("recenter.json", |w| write_json(&summary, w))?;
    let written = run.commit(vec![model_file, summary_file])?;
    Ok(RecenterReport {
        file: summary,
        written,
    })
}
