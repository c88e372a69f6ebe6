//! `assign`: model → input (streamed) → features → nearest saved centroid → profiles →
//! description → outputs; scores new customers with a saved model (`model.json`).
//!
//! The model's column bindings select the columns, the strategy plugin that fitted it (the same
//! name, a compatible version) turns them into features with the saved state, and each row goes
//! to its nearest saved centroid. The file is read once, a batch of chunks at a time: memory
//! holds a batch, never the file. `assignments.csv` is written as the rows come, to a
//! temporary name renamed into place at the end with `segments.json` (the new customers'
//! profiles under the model's segments) and `report.html`, so a failure leaves nothing
//! half-written.

use std::path::{Path, PathBuf};

use strata_compute::MatrixRef;
use strata_host::{PluginInfo, Registry};
use strata_ingest::ReadPlan;
use tracing::info;

use super::outputs::{Made, RunFacts, segments_file};
use crate::assignments::{AssignmentRows, AssignmentsWriter, Shape};
use crate::backend::Runner;
use crate::describe::{SegmentSummary, ambiguous_counts, describe};
use crate::features::{Features, parse_as};
use crate::input::profiled_columns;
use crate::input::stream::RowStream;
use crate::model::{Model, StrategyRef};
use crate::output::{InputReport, ScoredWith, open_run, write_json};
use crate::progress::{NoProgress, Progress};
use crate::tally::{
    PARTIAL_FILE, PARTIAL_FORMAT, PARTIAL_FORMAT_VERSION, Partial, Tally, model_fingerprint,
};
use crate::{
    BackendChoice, Binding, CoreError, DEFAULT_AMBIGUOUS_RATIO, MissingPolicy, Mode, Source,
};

/// A validated scoring job. Build it with [`AssignSettings::builder`].
#[derive(Debug, Clone)]
pub struct AssignSettings {
    /// The `model.json` a fit wrote (`--model`).
    pub model: PathBuf,
    /// The customer file to score: one row per customer, with the model's columns by name.
    pub input: PathBuf,
    /// The folder `assignments.csv`, `segments.json` and `report.html` go to (`--out`).
    pub out: PathBuf,
    /// Which compute backend labels the rows (`--backend`).
    pub backend: BackendChoice,
    /// The input's field delimiter; `None`: sniffed from the header.
    pub delimiter: Option<u8>,
    /// Customers whose distance ratio to the two nearest centroids is above this are flagged
    /// ambiguous (`--ambiguous-ratio`, in (0, 1]).
    pub ambiguous_ratio: f64,
    /// Replace ids in the output by HMAC-SHA-256 under this secret (`--pseudonymize-ids`);
    /// the fit's salt gives the fit's pseudonyms.
    pub id_salt: Option<crate::Salt>,
    /// What the input file stands for, when it is a copy (standard input spooled to a
    /// temporary file, a database table read into one).
    pub origin: Option<crate::Origin>,
    /// Write into a folder that holds a fit's results (`--force`), replacing its
    /// assignments.csv, segments.json and report.html; without it such an `--out` is refused.
    pub force: bool,
    /// How the assignments are stored (`--format`).
    pub format: crate::AssignmentsFormat,
}

/// Builder for [`AssignSettings`]; [`build`](AssignSettingsBuilder::build) validates.
#[derive(Debug, Clone)]
pub struct AssignSettingsBuilder {
    s: AssignSettings,
}

impl AssignSettings {
    /// A scoring job with the defaults: `--backend auto`, a sniffed delimiter, the default
    /// ambiguous ratio, ids as they are.
    pub fn builder(
        model: impl Into<PathBuf>,
        input: impl Into<PathBuf>,
        out: impl Into<PathBuf>,
    ) -> AssignSettingsBuilder {
        AssignSettingsBuilder {
            s: AssignSettings {
                model: model.into(),
                input: input.into(),
                out: out.into(),
                backend: BackendChoice::Auto,
                delimiter: None,
                ambiguous_ratio: DEFAULT_AMBIGUOUS_RATIO,
                id_salt: None,
                origin: None,
                force: false,
                format: crate::AssignmentsFormat::Csv,
            },
        }
    }
}

impl AssignSettingsBuilder {
    /// `--backend`.
    pub fn backend(mut self, v: BackendChoice) -> Self {
        self.s.backend = v;
        self
    }
    /// `--delimiter`; `None` sniffs it from the header.
    pub fn delimiter(mut self, v: Option<u8>) -> Self {
        self.s.delimiter = v;
        self
    }
    /// `--ambiguous-ratio` (checked in [`build`](Self::build)).
    pub fn ambiguous_ratio(mut self, v: f64) -> Self {
        self.s.ambiguous_ratio = v;
        self
    }
    /// `--pseudonymize-ids` with its salt.
    pub fn id_salt(mut self, v: Option<crate::Salt>) -> Self {
        self.s.id_salt = v;
        self
    }
    /// Says what the input file stands for (its path is a spooled copy).
    pub fn origin(mut self, origin: Option<crate::Origin>) -> Self {
        self.s.origin = origin;
        self
    }
    /// `--format`: how the assignments are stored.
    pub fn format(mut self, v: crate::AssignmentsFormat) -> Self {
        self.s.format = v;
        self
    }
    /// `--force`: replace a fit's results in `--out`.
    pub fn force(mut self, v: bool) -> Self {
        self.s.force = v;
        self
    }
    /// The settings, or the first setting out of range.
    pub fn build(self) -> Result<AssignSettings, CoreError> {
        let s = self.s;
        if !(s.ambiguous_ratio > 0.0 && s.ambiguous_ratio <= 1.0) {
            return Err(CoreError::Settings(format!(
                "--ambiguous-ratio must be above 0 and at most 1 (got {})",
                s.ambiguous_ratio
            )));
        }
        // A file, or a device such as /dev/null: anything there that is not a folder.
        if s.out.exists() && !s.out.is_dir() {
            return Err(CoreError::Settings(format!(
                "--out {} is a file, not a folder; give a folder",
                s.out.display()
            )));
        }
        Ok(s)
    }
}

/// What scoring did, for the caller to print.
#[derive(Debug, Clone)]
pub struct AssignReport {
    /// The strategy that scored (the model's).
    pub strategy: String,
    /// The plugin's version.
    pub strategy_version: String,
    /// The plugin version the model was fitted with.
    pub model_strategy_version: String,
    /// Customers in the input.
    pub rows: usize,
    /// Customers scored.
    pub rows_used: usize,
    /// Customers left out for a missing value (the model was fitted with `--missing drop`).
    pub rows_dropped: usize,
    /// The model's segments.
    pub k: usize,
    /// The compute backend that labelled the rows.
    pub backend: String,
    /// The new customers' segments, largest of the model's first.
    pub segments: Vec<SegmentSummary>,
    /// The value measure segments' value shares are of (when the strategy has one).
    pub value_measure: Option<crate::ValueMeasure>,
    /// The files written.
    pub written: Vec<PathBuf>,
}

/// Parses `MAJOR.MINOR.PATCH` (anything after a `-` or `+` ignored).
fn semver(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let t = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(t)
}

/// Whether a plugin of version `have` may score with a model fitted by version `fitted`:
/// Cargo's caret rule (the same major version, the same minor while the major is 0) and not
/// older than the model's. Versions that are not `MAJOR.MINOR.PATCH` must be equal.
pub fn compatible_version(fitted: &str, have: &str) -> bool {
    match (semver(fitted), semver(have)) {
        (Some(f), Some(h)) => {
            let same_line = if f.0 == 0 {
                (f.0, f.1) == (h.0, h.1)
            } else {
                f.0 == h.0
            };
            same_line && h >= f
        }
        _ => fitted == have,
    }
}

pub(crate) fn check_plugin(
    model_path: &Path,
    fitted: &StrategyRef,
    info: &PluginInfo,
) -> Result<(), CoreError> {
    if !compatible_version(&fitted.version, &info.version) {
        return Err(CoreError::Model {
            path: model_path.to_owned(),
            message: format!(
                "fitted with strategy {} {}, but the plugin found is version {} ({}); they are not \
                 compatible (the same major version, the same minor while it is 0.x, and not \
                 older than the model's). Score with the plugin the model was fitted with, or fit \
                 again",
                fitted.name,
                fitted.version,
                info.version,
                info.path.display()
            ),
        });
    }
    Ok(())
}

/// Binds the model's columns in the new file's header, by name.
fn bind(
    input: &Path,
    model: &Model,
    header: &strata_ingest::Header,
) -> Result<(Vec<Binding>, ReadPlan), CoreError> {
    let missing = |what: String| CoreError::Binding {
        path: input.to_owned(),
        message: format!(
            "{what}, which the model was fitted with, is not in the header; the header has {}",
            crate::binding::list_headers(header)
        ),
    };
    let id_column = match &model.input.id_column {
        Some(name) => Some(
            header
                .position(name)
                .ok_or_else(|| missing(format!("the id column '{name}'")))?,
        ),
        None => None,
    };
    let bindings = model
        .input
        .bindings
        .iter()
        .map(|b| {
            let index = header
                .position(&b.column)
                .ok_or_else(|| missing(format!("column '{}' (role {})", b.column, b.role)))?;
            // The fit chose its columns; here each is what the model says it is, so text in a
            // numeric column is an error at its cell (never a column quietly set aside).
            Ok(Binding {
                index,
                auto: false,
                ..b.clone()
            })
        })
        .collect::<Result<Vec<_>, CoreError>>()?;
    let plan = ReadPlan {
        id_column,
        // Checking ids for repeats would hold every id; scoring streams.
        allow_duplicate_ids: true,
        columns: bindings.iter().map(|b| (b.index, parse_as(b))).collect(),
    };
    Ok((bindings, plan))
}

/// Refuses an `--out` that holds the `--model` file or a fit's results, unless `--force`:
/// scoring there would replace the fit's assignments and segments with the scored ones.
pub(crate) fn refuse_fit_folder(out: &Path, model: &Path, force: bool) -> Result<(), CoreError> {
    if force || !out.is_dir() {
        return Ok(());
    }
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let model_dir = model
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let what = if same(model_dir, out) {
        Some("the --model file")
    } else {
        // A fit's folder: its manifest says so, or (an older Strata's) it has a model.json.
        let fit = match strata_format::commit::Manifest::read(out)? {
            Some(m) => m.command == "fit",
            None => out.join("model.json").is_file(),
        };
        fit.then_some("a fit's results")
    };
    match what {
        Some(what) => Err(CoreError::OutHoldsFit {
            out: out.to_owned(),
            what,
        }),
        None => Ok(()),
    }
}

/// The saved model, checked to be one `assign` can score with, and its strategy's plugin.
fn scoring_model(
    model_path: &Path,
    id_salt: Option<&crate::Salt>,
    registry: &Registry,
) -> Result<(Model, std::sync::Arc<strata_host::Plugin>), CoreError> {
    let model = Model::load(model_path)?;
    let model_err = |message: String| CoreError::Model {
        path: model_path.to_owned(),
        message,
    };
    if let Some(key) = &model.pseudonyms {
        match id_salt {
            None => {
                return Err(model_err(
                    "the fit pseudonymised its ids (--pseudonymize-ids): add \
                     --pseudonymize-ids with the same salt (STRATA_ID_SALT or --salt) so the \
                     scored ids are its pseudonyms, not the raw ids"
                        .into(),
                ));
            }
            Some(salt)
                if crate::privacy::Pseudonymizer::fingerprint(salt.bytes())
                    != key.salt_fingerprint =>
            {
                return Err(model_err(
                    "the salt given is not the one the fit pseudonymised its ids with: the \
                     scored pseudonyms would not match the fit's"
                        .into(),
                ));
            }
            Some(_) => {}
        }
    }
    if model.mode != Mode::Kmeans {
        return Err(model_err(
            "an RFM model scores with its quintile cuts over a whole customer base; fit again \
             with --mode rfm on the new data instead"
                .into(),
        ));
    }
    if model.input.source != Source::Customers {
        return Err(model_err(
            "the model was fitted on a transaction log or a value summary; assign scores \
             customer tables (one row per customer). Fit the new log with `strata fit \
             --transactions` (or the summary with --summary) instead"
                .into(),
        ));
    }
    let plugin = registry.find(&model.strategy.name).map_err(|e| {
        model_err(format!(
            "fitted with strategy {} {}, which cannot be loaded: {e}",
            model.strategy.name, model.strategy.version
        ))
    })?;
    Ok((model, plugin))
}

/// A saved model opened to score one input: the model checked, its strategy's plugin (a
/// compatible version), and the model's columns bound by name in the input's header. What
/// `assign`, `transform` and `step` share before their first batch.
pub(crate) struct Scoring {
    pub model: Model,
    pub plugin: std::sync::Arc<strata_host::Plugin>,
    pub info: PluginInfo,
    pub header: strata_ingest::Header,
    pub bindings: Vec<Binding>,
    pub plan: ReadPlan,
}

impl Scoring {
    /// Opens `model_path` to score `input` (see [`scoring_model`] for the model's checks).
    pub fn open(
        model_path: &Path,
        id_salt: Option<&crate::Salt>,
        input: &Path,
        delimiter: Option<u8>,
        registry: &Registry,
    ) -> Result<Scoring, CoreError> {
        let (model, plugin) = scoring_model(model_path, id_salt, registry)?;
        let info = plugin.info().clone();
        check_plugin(model_path, &model.strategy, &info)?;
        let header = strata_ingest::read_header(input, delimiter)?;
        let (bindings, plan) = bind(input, &model, &header)?;
        Ok(Scoring {
            model,
            plugin,
            info,
            header,
            bindings,
            plan,
        })
    }

    /// The saved preprocessing, through the plugin.
    pub fn features(&self) -> Result<Features<'_>, CoreError> {
        Features::saved(
            &self.plugin,
            self.model.features.clone(),
            self.model.state.to_string(),
            self.model.metric,
        )
    }

    /// One pass over the input, a batch at a time (rows with a missing value left out when
    /// the model was fitted with `--missing drop`).
    pub fn stream<'a>(&'a self, progress: &'a dyn Progress) -> Result<RowStream<'a>, CoreError> {
        let drop_rows = self.model.input.missing == MissingPolicy::Drop;
        RowStream::new(
            &self.header,
            &self.plan,
            &self.info,
            &self.bindings,
            drop_rows,
            progress,
        )
    }
}

/// Scores `settings.input` with the model and writes `assignments.csv` and `segments.json`.
pub fn assign(settings: &AssignSettings, registry: &Registry) -> Result<AssignReport, CoreError> {
    assign_with_progress(settings, registry, &NoProgress)
}

/// [`assign`], reporting bytes read to `progress`.
pub fn assign_with_progress(
    settings: &AssignSettings,
    registry: &Registry,
    progress: &dyn Progress,
) -> Result<AssignReport, CoreError> {
    let start = std::time::Instant::now();
    let path = settings.input.as_path();
    let scoring = Scoring::open(
        &settings.model,
        settings.id_salt.as_ref(),
        path,
        settings.delimiter,
        registry,
    )?;
    let Scoring {
        model,
        info,
        header,
        bindings,
        plan,
        ..
    } = &scoring;
    let (k, d) = (model.k, model.d);
    let centroids: Vec<f32> = model.centroids.concat();
    let n_centroids = model.centroids.len();
    let pseudo = settings
        .id_salt
        .as_ref()
        .map(|s| crate::privacy::Pseudonymizer::new(s.bytes()));
    let features = scoring.features()?;
    let input_name = settings
        .origin
        .as_ref()
        .map_or_else(|| settings.input.display().to_string(), |o| o.name.clone());
    info!(
        "scoring {input_name} with the model in {} (strategy {} {}, k = {k})",
        settings.model.display(),
        info.name,
        info.version
    );

    refuse_fit_folder(&settings.out, &settings.model, settings.force)?;
    let mut run = open_run(&settings.out, "assign")?;
    run.supersede(&settings.format.others());
    let mut staging = run.create(settings.format.file_name())?;
    let target = staging.target().to_owned();
    let out_err = |e: std::io::Error| CoreError::Output {
        path: target.clone(),
        error: e,
    };
    let integer_ids = header.integer_ids(plan.id_column);
    let shape = Shape::new(false, integer_ids, pseudo.is_some());
    let mut file = AssignmentsWriter::new(
        settings.format,
        shape,
        std::io::BufWriter::with_capacity(1 << 20, &mut staging),
    )
    .map_err(out_err)?;

    // A k-prototypes model scores by its mixed distance, on the CPU.
    let mixed = match &model.kprototypes {
        Some(kp) => {
            if settings.backend == BackendChoice::Gpu {
                return Err(CoreError::Settings(
                    "this model's segments were found by k-prototypes, which scores on the CPU \
                     in this version: use --backend cpu or auto"
                        .into(),
                ));
            }
            let declared: Vec<usize> = features.categorical().iter().map(|c| c.index).collect();
            if declared != kp.categorical {
                return Err(CoreError::Model {
                    path: settings.model.clone(),
                    message: format!(
                        "it clusters features {:?} as categories, but strategy '{}' says its \
                         saved state codes {:?}",
                        kp.categorical, info.name, declared
                    ),
                });
            }
            let m = crate::mixed::Mixed::saved(d, kp);
            let protos = m
                .saved_prototypes(kp, &model.centroids)
                .map_err(|message| CoreError::Model {
                    path: settings.model.clone(),
                    message,
                })?;
            info!("scoring by k-prototypes' distance (γ = {})", kp.gamma);
            Some((m, protos))
        }
        None => None,
    };
    let mut runner: Option<Runner> = None;
    let mut tally = Tally::new(k);
    let mut rows_used = 0usize;
    progress.stage("assign");
    let mut stream = scoring.stream(progress)?;
    let mut formula_ids = 0usize;
    while let Some(batch) = stream.next(|_| Ok(()))? {
        let table = &batch.table;
        if table.n_rows == 0 {
            continue;
        }
        // Without an id column the ids are the rows' numbers in the whole file.
        let row_numbers = plan.id_column.is_none().then(|| batch.row_numbers());
        let ids = row_numbers.as_ref().unwrap_or(&table.ids);
        if settings.id_salt.is_none() && settings.format == crate::AssignmentsFormat::Csv {
            formula_ids += crate::assignments::formula_like_ids(ids);
        }
        let scaled = features.transform(bindings, table)?;
        let data =
            MatrixRef::new(&scaled, table.n_rows, d).map_err(strata_kmeans::KMeansError::from)?;
        let (a, costs) = match &mixed {
            Some((m, protos)) => {
                let (a, costs) = m.assign(&scaled, protos, n_centroids)?;
                (a, Some(costs))
            }
            None => {
                let runner = match &mut runner {
                    Some(r) => r,
                    None => {
                        // Rows in the file, estimated from the first batch, for the backend
                        // choice.
                        let (read, total) = stream.bytes();
                        let per_byte = table.n_rows as f64 / read.max(1) as f64;
                        let n = (per_byte * total as f64) as usize;
                        runner.insert(Runner::new(settings.backend, n, n_centroids, d)?)
                    }
                };
                (
                    runner.assign(data, &centroids, n_centroids)?,
                    None::<Vec<f64>>,
                )
            }
        };
        let labels = a.labels;
        let segments = match &model.centroid_segments {
            Some(map) => labels.iter().map(|&l| map[l as usize]).collect(),
            None => labels.clone(),
        };
        let rows = AssignmentRows {
            ids,
            segments: &segments,
            sq_distances: Some((&a.nearest, &a.second)),
            threshold: settings.ambiguous_ratio,
            labels: &model.labels,
            rfm: None,
            predicted: None,
            pseudo: pseudo.as_ref(),
        };
        file.write(&rows).map_err(out_err)?;
        let batch_ambiguous = ambiguous_counts(
            &segments,
            &a.nearest,
            &a.second,
            k,
            settings.ambiguous_ratio,
        );
        match &costs {
            Some(costs) => tally.add_costs(&batch_ambiguous, costs),
            None => tally.add(&batch_ambiguous, data, &centroids, &labels),
        }
        rows_used += table.n_rows;
        tally
            .profiles
            .add(&profiled_columns(info, bindings, &table.columns), &segments);
    }
    let (rows, missing) = (stream.rows, stream.missing);
    if rows == 0 {
        return Err(strata_ingest::IngestError::NoRows {
            path: path.to_owned(),
        }
        .into());
    }
    if rows_used == 0 {
        return Err(CoreError::Data {
            path: path.to_owned(),
            message: "every row misses a value in a bound column, and the model drops such rows \
                      (--missing drop when it was fitted)"
                .into(),
        });
    }
    crate::assignments::warn_formula_ids(formula_ids);
    file.finish().map_err(out_err)?;
    let assignments = staging.finish()?;
    let rows_dropped = rows - rows_used;
    if rows_dropped > 0 {
        info!("left out {rows_dropped} rows with a missing value (the model drops them)");
    }
    let backend = match runner {
        Some(r) => r.report(),
        None => crate::mixed::cpu_report("a k-prototypes model scores on the CPU".into()),
    };
    let partial = Partial {
        format: PARTIAL_FORMAT.into(),
        format_version: PARTIAL_FORMAT_VERSION,
        model_fingerprint: model_fingerprint(model),
        strategy: StrategyRef {
            name: info.name.clone(),
            version: info.version.clone(),
            abi_major: info.abi.0,
            abi_minor: info.abi.1,
        },
        value_roles: crate::describe::value_roles(info),
        input: InputReport {
            file: input_name.clone(),
            format: crate::Origin::format_name(settings.origin.as_ref(), header.format),
            rows,
            rows_used,
            rows_dropped,
            missing_policy: model.input.missing,
            missing: bindings
                .iter()
                .zip(&missing)
                .map(|(b, &m)| (b.column.clone(), m))
                .collect(),
            skipped_columns: Vec::new(),
            bindings: bindings.clone(),
        },
        backend,
        ambiguous_ratio: settings.ambiguous_ratio,
        ids_pseudonymized: settings.id_salt.is_some(),
        ambiguous: tally.ambiguous.clone(),
        inertia: tally.inertia.terms(),
        profile: tally.profiles.to_partial(),
    };
    let timings_s = [("assign".to_owned(), start.elapsed().as_secs_f64())].into();
    let scored = scored_outputs(model, &settings.model, &partial, timings_s)?;
    let partial_file = run.stage(PARTIAL_FILE, |w| write_json(&partial, w))?;
    let segments = run.stage("segments.json", |w| write_json(&scored.segments, w))?;
    let report =
        strata_report::render_fit(&crate::report::fit_report(&scored.segments, None, None));
    let report = run.stage("report.html", |w| w.write_all(report.as_bytes()))?;
    // A fit's model.json in the folder (only with --force) stays, and stays listed.
    let written = run.commit_keeping(
        vec![assignments, segments, report, partial_file],
        &["model.json"],
    )?;
    info!(
        "scored {rows_used} customers in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    Ok(AssignReport {
        strategy: info.name.clone(),
        strategy_version: info.version.clone(),
        model_strategy_version: model.strategy.version.clone(),
        rows,
        rows_used,
        rows_dropped,
        k,
        backend: partial.backend.description,
        segments: scored.summary,
        value_measure: scored.value_measure,
        written,
    })
}

/// A scored run's `segments.json`, and its segments for the summary.
pub(crate) struct ScoredOutputs {
    pub segments: crate::SegmentsFile,
    pub summary: Vec<SegmentSummary>,
    pub value_measure: Option<crate::ValueMeasure>,
}

/// `segments.json` of customers scored with `model`, from their [`Partial`]: one part's
/// (`assign`) or many merged (`strata merge`), by this one function so the two agree.
pub(crate) fn scored_outputs(
    model: &Model,
    model_path: &Path,
    partial: &Partial,
    timings_s: std::collections::BTreeMap<String, f64>,
) -> Result<ScoredOutputs, CoreError> {
    let tally = partial.tally().map_err(|message| CoreError::Model {
        path: model_path.to_owned(),
        message: format!("its scored tallies do not fit it: {message}"),
    })?;
    let profiles = tally.profiles.finish();
    let described = describe(
        &partial.value_roles,
        &profiles,
        &model.labels,
        Some(&tally.ambiguous),
        None,
    );
    let facts = RunFacts {
        strategy: partial.strategy.clone(),
        mode: Mode::Kmeans,
        input: partial.input.clone(),
        transactions: None,
        streamed: None,
        features: model.features.clone(),
        ids_pseudonymized: partial.ids_pseudonymized,
        k: model.k,
        segments: described.json,
        value_measure: described.value_measure.clone(),
        attractiveness_value: described.attractiveness_value.clone(),
        value_model: None,
        outcomes: Vec::new(),
        rules: None,
        places: None,
        timings_s,
    };
    let made = Made::Scored {
        backend: partial.backend.clone(),
        inertia: tally.inertia.value(),
        seed: model.kmeans.as_ref().map_or(0, |r| r.seed),
        ambiguous_ratio: partial.ambiguous_ratio,
        with: ScoredWith {
            model: model_path.display().to_string(),
            fitted_with: model.strategy.version.clone(),
        },
    };
    Ok(ScoredOutputs {
        segments: segments_file(facts, made),
        summary: described.summary,
        value_measure: described.value_measure,
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_versions_follow_the_caret_rule() {
        assert!(compatible_version("1.2.0", "1.2.0"));
        assert!(compatible_version("1.2.0", "1.4.1"));
        assert!(
            !compatible_version("1.2.0", "1.1.9"),
            "older than the model"
        );
        assert!(!compatible_version("1.2.0", "2.0.0"));
        assert!(compatible_version("0.1.0", "0.1.3"));
        assert!(
            !compatible_version("0.1.0", "0.2.0"),
            "0.x: the minor is the line"
        );
        assert!(compatible_version("1.0.0-beta", "1.0.0"));
        assert!(compatible_version("custom", "custom"));
        assert!(!compatible_version("custom", "1.0.0"));
    }
}
