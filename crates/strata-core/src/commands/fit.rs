//! `fit`: input → features → clustering → segments → profiles → description → outputs, or,
//! under `--mode rfm`, input → RFM scores → profiles → description → outputs. The same stages
//! whether the input is held whole or streamed (a property of [`FitInput`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use strata_host::{Plugin, PluginInfo, Registry};
use tracing::info;

use super::outputs::{Made, RunFacts, segments_file};
use crate::assignments::AssignmentRows;
use crate::cluster::{KMeansRun, check_k, kmeans_params};
use crate::describe::{SegmentSummary, ambiguous_counts, describe, name_segments};
use crate::features::Features;
use crate::input::{Customers, FitInput, Held, Rows};
use crate::model::{InputSpec, KMeansRecord, Model, PseudonymKey, StrategyRef};
use crate::output::Stability;
use crate::output::{FileWriter, InputReport, open_run, write_json};
use crate::progress::{NoProgress, Progress, Stages};
use crate::segments::{Rfm, Segmentation};
use crate::select::KSelection;
use crate::settings::{Algorithm, Mode};
use crate::{CoreError, FitSettings, MissingPolicy};

/// How a k-means run ended, for the summary.
#[derive(Debug, Clone)]
pub struct KMeansSummary {
    /// Sum of squared distances of the customers to their centroids, in the scaled space.
    pub inertia: f64,
    /// Lloyd iterations of the run kept.
    pub iterations: usize,
    /// Whether it stopped because the centroids settled (not at `--max-iter`).
    pub converged: bool,
    /// The compute backend, described.
    pub backend: String,
    /// Silhouette, Davies–Bouldin and Calinski–Harabasz of the exported segments.
    pub quality: strata_quality::Quality,
    /// How far the restarts agree (`None` with one restart): a note on the optimiser.
    pub stability: Option<Stability>,
    /// Whether the segments come back when the customers are resampled, overall and per
    /// segment (in segment order).
    pub resampling: Option<(
        strata_format::segments::Resampling,
        Vec<strata_format::segments::SegmentResampling>,
    )>,
    /// The k-selection table (`--k auto`).
    pub k_selection: Option<KSelection>,
    /// `kmeans` or `kprototypes`, and why (`--algorithm`).
    pub algorithm: (String, String),
    /// k-prototypes' γ, when it ran.
    pub gamma: Option<f64>,
}

/// What a fit did, for the caller to print.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// The strategy plugin's name.
    pub strategy: String,
    /// Its version.
    pub strategy_version: String,
    /// k-means or RFM.
    pub mode: Mode,
    /// Customers in the input (after aggregation, for a transaction log).
    pub rows: usize,
    /// Customers segmented.
    pub rows_used: usize,
    /// Customers left out for a missing value (`--missing drop`).
    pub rows_dropped: usize,
    /// Missing values filled in, per column (`--missing impute`; empty otherwise).
    pub imputed: BTreeMap<String, usize>,
    /// Columns "every numeric column" considered that held text.
    pub skipped_columns: Vec<String>,
    /// What aggregating a transaction log did (`--transactions`).
    pub transactions: Option<strata_behavior::TxReport>,
    /// Features clustered (0 for RFM).
    pub features: usize,
    /// Segments exported.
    pub k: usize,
    /// `None` in RFM mode.
    pub kmeans: Option<KMeansSummary>,
    /// Wall seconds per stage, in order (ingest, features, k-means, profiles, output).
    pub timings: Vec<(&'static str, f64)>,
    /// The segments, largest first.
    pub segments: Vec<SegmentSummary>,
    /// The value measure segments' value shares are of (when the strategy has one).
    pub value_measure: Option<crate::ValueMeasure>,
    /// The value model fitted (`--value-model`); each segment then has its prediction.
    pub value_model: Option<strata_format::value::ValueModelReport>,
    /// Outcome columns by segment (`--outcome`).
    pub outcomes: Vec<strata_outcomes::OutcomeReport>,
    /// Each segment's rule (in segment order) and how they were found; `None` without a
    /// column a rule can use.
    pub rules: Option<(
        strata_format::rules::RulesReport,
        Vec<strata_format::rules::SegmentRule>,
    )>,
    /// Where the segments are (with `latitude` and `longitude` roles): how, and each
    /// segment's centre and radius in segment order.
    pub geo: Option<(
        strata_format::geo::GeoReport,
        Vec<Option<strata_format::geo::SegmentGeo>>,
    )>,
    /// Segments merged away by `--min-segment-size` (k-means numbering).
    pub merged: Vec<crate::privacy::MergedSegment>,
    /// Whether the ids in `assignments.csv` are pseudonyms (`--pseudonymize-ids`).
    pub ids_pseudonymized: bool,
    /// The files written.
    pub written: Vec<PathBuf>,
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
    let plugin = registry.find(&settings.strategy().name)?;
    let info = plugin.info().clone();
    info!(
        "strategy {} {} from {}",
        info.name,
        info.version,
        info.path.display()
    );
    let mut clock = Stages::new(progress);
    let (seg, customers, rows, rfm) = segment(settings, &plugin, &mut clock)?;
    // Only a CSV file is opened in spreadsheets as it is.
    if settings.privacy().id_salt.is_none()
        && settings.output().format == crate::AssignmentsFormat::Csv
    {
        crate::assignments::warn_formula_ids(crate::assignments::formula_like_ids(&customers.ids));
    }

    let predicted = match (settings.value(), &customers.value) {
        (Some(v), Some(input)) => {
            clock.begin("value model");
            let p = crate::predict::fit(v, input)?;
            let by_segment =
                crate::predict::by_segment(&p.customers, seg.labels(), seg.k(), v.at_risk_below);
            let r = &p.report.params;
            info!(
                "value model: BG/NBD r {:.4} alpha {:.4} a {:.4} b {:.4}; Gamma-Gamma p {:.4} \
                 q {:.4} gamma {:.4}; {} customers, {} repeat buyers",
                r.r,
                r.alpha,
                r.a,
                r.b,
                r.p.unwrap_or(f64::NAN),
                r.q.unwrap_or(f64::NAN),
                r.gamma.unwrap_or(f64::NAN),
                p.report.customers,
                p.report.repeat_buyers
            );
            clock.lap("value model");
            Some((p, by_segment))
        }
        _ => None,
    };

    let outcomes = match crate::outcomes::read(settings, &customers)? {
        Some(data) => {
            clock.begin("outcomes");
            let r = crate::outcomes::reports(&data, seg.labels(), seg.k());
            clock.lap("outcomes");
            r
        }
        None => Vec::new(),
    };

    clock.begin("profiles");
    let k = seg.k();
    let crate::input::RowFacts {
        profiles,
        rules,
        places,
    } = rows.facts(settings, &info, &customers, seg.labels(), k, progress)?;
    drop(rows);
    let labels = name_segments(
        &seg,
        &plugin,
        &crate::geo::for_labels(&profiles, places.as_ref()),
    )?;
    let model = model(settings, &info, &customers, &seg, &labels, rfm.as_ref());
    let ambiguous = seg
        .sq_distances()
        .map(|(a, b)| ambiguous_counts(seg.labels(), a, b, k, settings.output().ambiguous_ratio));
    if let Some(a) = &ambiguous {
        info!(
            "{} customers are ambiguous (distance ratio to the two nearest centroids above {})",
            a.iter().sum::<u64>(),
            settings.output().ambiguous_ratio
        );
    }
    let described = describe(
        &crate::describe::value_roles(&info),
        &profiles,
        &labels,
        ambiguous.as_deref(),
        predicted.as_ref().map(|(_, s)| s.as_slice()),
    );
    clock.lap("profiles");

    clock.begin("output");
    let km = seg.kmeans_segments();
    let made = match km {
        Some(segments) => Made::KMeans {
            segments,
            seed: settings.cluster().seed,
            min_segment_size: settings.privacy().min_segment_size,
            ambiguous_ratio: settings.output().ambiguous_ratio,
        },
        None => Made::Rfm {
            seed: settings.cluster().seed,
        },
    };
    let facts = RunFacts {
        strategy: model.strategy.clone(),
        mode: settings.cluster().mode,
        input: InputReport {
            file: settings.input().name(),
            format: settings.input().format_name(customers.format),
            rows: customers.rows,
            rows_used: customers.n(),
            rows_dropped: customers.rows_dropped,
            missing_policy: settings.input().missing,
            missing: customers.missing.clone(),
            skipped_columns: customers.skipped_columns.clone(),
            bindings: customers.bindings.clone(),
        },
        transactions: customers.transactions().cloned(),
        streamed: customers.streamed().cloned(),
        features: seg.features().to_vec(),
        ids_pseudonymized: settings.privacy().id_salt.is_some(),
        k,
        segments: described.json,
        value_measure: described.value_measure.clone(),
        attractiveness_value: described.attractiveness_value.clone(),
        value_model: predicted.as_ref().map(|(p, _)| p.report.clone()),
        outcomes: outcomes.clone(),
        rules: rules.as_ref(),
        places: places.as_ref(),
        timings_s: clock
            .laps()
            .iter()
            .map(|(s, t)| (s.to_string(), *t))
            .collect(),
    };
    let segments_file = segments_file(facts, made);
    let rules_sql = match (&rules, settings.output().rules) {
        (Some(r), true) => {
            let by_segment: Vec<(usize, &str, u64, &strata_format::rules::SegmentRule)> =
                segments_file
                    .segments
                    .iter()
                    .filter_map(|s| {
                        r.segments
                            .get(s.segment)
                            .map(|rule| (s.segment, s.label.as_str(), s.size, rule))
                    })
                    .collect();
            Some(crate::rules::sql_file(
                &settings.input().name(),
                &r.report,
                &by_segment,
            ))
        }
        _ => None,
    };
    let report = strata_report::render_fit(&crate::report::fit_report(
        &segments_file,
        km.and_then(|c| c.projection.as_ref()),
        places.as_ref().map(|p| p.points.as_slice()),
    ));
    let pseudo = settings
        .privacy()
        .id_salt
        .as_ref()
        .map(|s| crate::privacy::Pseudonymizer::new(s.bytes()));
    let format = settings.output().format;
    let files: Vec<FileWriter> = vec![
        (
            format.file_name(),
            Box::new(|w: &mut (dyn Write + Send)| {
                AssignmentRows {
                    ids: &customers.ids,
                    segments: seg.labels(),
                    sq_distances: seg.sq_distances(),
                    threshold: settings.output().ambiguous_ratio,
                    labels: &labels,
                    rfm: rfm.as_ref(),
                    predicted: predicted.as_ref().map(|(p, _)| &p.customers),
                    pseudo: pseudo.as_ref(),
                }
                .write_file(format, customers.ids_integer, w)
            }),
        ),
        (
            "segments.json",
            Box::new(|w: &mut (dyn Write + Send)| write_json(&segments_file, w)),
        ),
        (
            "model.json",
            Box::new(|w: &mut (dyn Write + Send)| write_json(&model, w)),
        ),
        (
            "report.html",
            Box::new(|w: &mut (dyn Write + Send)| w.write_all(report.as_bytes())),
        ),
    ];
    let mut files = files;
    let mut superseded = format.others();
    match (&predicted, &customers.value) {
        (Some(_), Some(input)) => files.push((
            crate::predict::SUMMARY_FILE,
            Box::new(|w: &mut (dyn Write + Send)| {
                crate::predict::write_summary(&customers.ids, input, pseudo.as_ref(), w)
            }),
        )),
        // A value model's summary from an earlier fit in this folder is not this run's.
        _ => superseded.push(crate::predict::SUMMARY_FILE),
    }
    match &rules_sql {
        Some(text) => files.push((
            strata_format::rules::SQL_FILE,
            Box::new(move |w: &mut (dyn Write + Send)| w.write_all(text.as_bytes())),
        )),
        None => superseded.push(strata_format::rules::SQL_FILE),
    }
    let mut run = open_run(&settings.output().folder, "fit")?;
    run.supersede(&superseded);
    let mut staged = Vec::with_capacity(files.len());
    for (name, write) in files {
        staged.push(run.stage(name, write)?);
    }
    let written = run.commit(staged)?;
    for p in &written {
        info!("wrote {}", p.display());
    }
    clock.lap("output");
    info!(
        ingest_s = clock.total("ingest"),
        features_s = clock.total("features"),
        k_means_s = clock.total("k-means"),
        k_prototypes_s = clock.total("k-prototypes"),
        rfm_scores_s = clock.total("rfm scores"),
        profiles_s = clock.total("profiles"),
        output_s = clock.total("output"),
        "stage times"
    );

    Ok(FitReport {
        strategy: info.name.clone(),
        strategy_version: info.version.clone(),
        mode: settings.cluster().mode,
        rows: customers.rows,
        rows_used: customers.n(),
        rows_dropped: customers.rows_dropped,
        imputed: if settings.input().missing == MissingPolicy::Impute {
            customers.missing.clone()
        } else {
            BTreeMap::new()
        },
        skipped_columns: customers.skipped_columns.clone(),
        transactions: customers.transactions().cloned(),
        features: seg.features().len(),
        k,
        kmeans: km.map(|c| KMeansSummary {
            inertia: c.run.fit.inertia,
            iterations: c.run.fit.iterations,
            converged: c.run.fit.converged,
            backend: c.run.backend.description.clone(),
            quality: c.quality.clone(),
            stability: c.run.stability.clone(),
            resampling: c.resampling.clone(),
            k_selection: c.run.k_selection.clone(),
            algorithm: c.algorithm.clone(),
            gamma: c.mixed.as_ref().map(|(m, _)| m.gamma),
        }),
        timings: clock.laps().to_vec(),
        segments: described.summary,
        value_measure: described.value_measure,
        value_model: predicted.map(|(p, _)| p.report),
        outcomes,
        rules: rules.map(|r| (r.report, r.segments)),
        geo: places.map(|p| (p.report, p.segments)),
        merged: km.map_or_else(Vec::new, |c| c.map.merged.clone()),
        ids_pseudonymized: settings.privacy().id_salt.is_some(),
        written,
    })
}

/// Reads the input and puts every customer in a segment: k-means on the strategy's features,
/// or RFM scores. Returns the segmentation, the customers, where their profiles are read from,
/// and the RFM measures when the three RFM roles are bound to a held table.
fn segment(
    settings: &FitSettings,
    plugin: &Plugin,
    clock: &mut Stages<'_>,
) -> Result<(Segmentation, Customers, Rows, Option<Rfm>), CoreError> {
    let info = plugin.info();
    Ok(match settings.cluster().mode {
        Mode::Kmeans => {
            clock.begin("ingest");
            let input = FitInput::open(settings, info, clock.progress)?;
            clock.lap("ingest");
            // A held table with the three RFM roles also gets its RFM measures and scores.
            let rfm = match &input {
                FitInput::Held(h) => Rfm::of(&h.bindings, &h.table),
                FitInput::Streamed(_) => None,
            };
            let (seg, customers, rows) = kmeans(settings, plugin, input, clock)?;
            (seg, customers, rows, rfm)
        }
        // RFM scores rank every customer against all the others: the table is held whole.
        Mode::Rfm => {
            clock.begin("ingest");
            let held = Held::load(settings, info, clock.progress)?;
            clock.lap("ingest");
            clock.begin("rfm scores");
            let rfm = Rfm::of(&held.bindings, &held.table).ok_or_else(|| {
                CoreError::RfmWithoutMeasures {
                    strategy: info.name.clone(),
                }
            })?;
            let seg = Segmentation::rfm(&rfm);
            clock.lap("rfm scores");
            let (customers, columns) = held.into_customers();
            (seg, customers, Rows::Held(columns), Some(rfm))
        }
    })
}

/// The options the plugin's `fit` gets: the user's, and, when k-prototypes may run and the
/// plugin can write them (ABI 1.4), the request for categorical codes.
pub(super) fn fit_options(settings: &FitSettings, plugin: &Plugin) -> serde_json::Value {
    let mut options = settings.plugin_options();
    if settings.cluster().algorithm != Algorithm::KMeans
        && plugin.writes_codes()
        && let Some(map) = options.as_object_mut()
    {
        map.insert(
            strata_abi::CATEGORICAL_OPTION.into(),
            strata_abi::CATEGORICAL_CODES.into(),
        );
    }
    options
}

/// Which algorithm clusters the features, and why: k-means unless `--algorithm` asks for
/// k-prototypes, or `auto` finds categorical codes among the features.
pub(super) fn choose_algorithm(
    settings: &FitSettings,
    plugin: &Plugin,
    features: &Features<'_>,
) -> Result<(bool, String), CoreError> {
    let info = plugin.info();
    let coded: Vec<String> = features
        .categorical()
        .iter()
        .map(|c| crate::binding::shown(&features.names()[c.index]))
        .collect();
    let why_not = if !plugin.writes_codes() {
        Some(format!(
            "strategy '{}' speaks plugin ABI {}.{}, which has no categorical codes (1.4 added \
             them)",
            info.name, info.abi.0, info.abi.1
        ))
    } else if coded.is_empty() {
        Some(format!(
            "strategy '{}' declares no categorical features for these columns",
            info.name
        ))
    } else if info.metric != strata_host::Metric::Euclidean {
        Some(format!(
            "strategy '{}' compares with the {} metric; k-prototypes' numeric part is Euclidean",
            info.name,
            info.metric.name()
        ))
    } else {
        None
    };
    let listed = || {
        let shown: Vec<&str> = coded.iter().take(8).map(String::as_str).collect();
        let more = coded.len().saturating_sub(8);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    match (settings.cluster().algorithm, why_not) {
        (Algorithm::KMeans, _) => Ok((false, "--algorithm kmeans (the default)".into())),
        (Algorithm::KPrototypes, Some(why)) => Err(CoreError::Settings(format!(
            "--algorithm kprototypes needs categorical features, but {why}: use --algorithm \
             kmeans, or bind categorical columns"
        ))),
        (Algorithm::KPrototypes, None) => Ok((
            true,
            format!(
                "--algorithm kprototypes, on {} categorical feature{} ({})",
                coded.len(),
                if coded.len() == 1 { "" } else { "s" },
                listed()
            ),
        )),
        (Algorithm::Auto, Some(why)) => Ok((false, format!("auto: k-means, because {why}"))),
        (Algorithm::Auto, None) => Ok((
            true,
            format!(
                "auto: k-prototypes, because strategy '{}' declares {} categorical feature{} \
                 ({}), whose modes a segment can have and whose one-hot means no customer has",
                info.name,
                coded.len(),
                if coded.len() == 1 { "" } else { "s" },
                listed()
            ),
        )),
    }
}

/// The k-means path: features → clustering → segments.
fn kmeans(
    settings: &FitSettings,
    plugin: &Plugin,
    input: FitInput,
    clock: &mut Stages<'_>,
) -> Result<(Segmentation, Customers, Rows), CoreError> {
    let info = plugin.info();
    clock.begin("features");
    let features = Features::learn(
        plugin,
        input.bindings(),
        input.prep(),
        &fit_options(settings, plugin),
    )?;
    let (prototypes, why) = choose_algorithm(settings, plugin, &features)?;
    info!(
        "clustering with {}: {why}",
        if prototypes {
            "k-prototypes"
        } else {
            "k-means"
        }
    );
    let params = kmeans_params(settings, info, features.names())?;
    if let Some(n) = input.rows_known() {
        check_k(settings, params.k(), n)?;
    }
    let init_sample = input.init_sample(settings);
    let features_d = features.d();
    let categorical = features.categorical().to_vec();
    let (matrix, customers, rows) = input.features(settings, info, &features, clock.progress)?;
    clock.lap("features");

    let (run, mixed) = if prototypes {
        clock.begin("k-prototypes");
        let m =
            crate::mixed::Mixed::new(features_d, &categorical, settings.cluster().gamma, &matrix);
        let (k_selection, (fit, protos, backend)) = match settings.cluster().k_range.clone() {
            Some(range) => {
                let (sel, fit) =
                    crate::select_mixed::select_k(settings, &m, &matrix, features_d, range)?;
                (Some(sel), fit)
            }
            None => {
                check_k(settings, params.k(), matrix.len() / features_d.max(1))?;
                (None, m.fit(settings, &matrix, params.k())?)
            }
        };
        let run = KMeansRun {
            fit,
            n_init: settings.cluster().n_init,
            sample: None,
            stability: None,
            k_selection,
            backend,
        };
        (run, Some((m, protos)))
    } else {
        clock.begin("k-means");
        let run: KMeansRun = crate::cluster::run(
            settings,
            params,
            &matrix,
            features.d(),
            clock.progress,
            init_sample,
        )?;
        (run, None)
    };
    let algorithm = (
        if prototypes { "kprototypes" } else { "kmeans" }.to_owned(),
        why,
    );
    let (names, state) = features.into_parts();
    let k_fit = run.fit.centroids.len() / features_d.max(1);
    let mut seg = Segmentation::kmeans(
        run,
        settings.privacy().min_segment_size,
        &matrix,
        settings.cluster().seed,
        names,
        state,
        mixed,
        algorithm,
    )?;
    let started = std::time::Instant::now();
    let resampling = crate::resampling::stability(
        settings,
        &matrix,
        features_d,
        seg.labels(),
        seg.k(),
        k_fit,
        seg.kmeans_segments()
            .and_then(|s| s.mixed.as_ref())
            .map(|(m, _)| m),
    )?;
    if let Segmentation::KMeans(s) = &mut seg {
        if let Some((r, per_segment)) = &resampling {
            info!(
                "stability under resampling: {} refits in {:.3} s, lowest segment Jaccard {:.3} \
                 ({}); per segment {:?}",
                r.runs,
                started.elapsed().as_secs_f64(),
                r.min_jaccard,
                r.reading,
                per_segment
                    .iter()
                    .map(|p| (p.jaccard * 1000.0).round() / 1000.0)
                    .collect::<Vec<_>>()
            );
        }
        s.resampling = resampling;
    }
    drop(matrix);
    clock.lap(if prototypes {
        "k-prototypes"
    } else {
        "k-means"
    });
    Ok((seg, customers, rows))
}

/// `model.json`: what scores new customers the way this fit did.
fn model(
    settings: &FitSettings,
    info: &PluginInfo,
    customers: &Customers,
    seg: &Segmentation,
    labels: &[String],
    rfm: Option<&Rfm>,
) -> Model {
    let km = seg.kmeans_segments();
    let d = seg.features().len();
    Model {
        format: crate::MODEL_FORMAT.into(),
        format_version: crate::MODEL_FORMAT_VERSION,
        strata_version: env!("CARGO_PKG_VERSION").into(),
        strategy: StrategyRef {
            name: info.name.clone(),
            version: info.version.clone(),
            abi_major: info.abi.0,
            abi_minor: info.abi.1,
        },
        mode: settings.cluster().mode,
        input: InputSpec {
            source: settings.input().source,
            id_column: settings.input().id_column.clone(),
            format: settings.input().format_name(customers.format),
            delimiter: customers
                .format
                .delimiter()
                .map(|d| (d as char).to_string()),
            bindings: customers.bindings.clone(),
            missing: settings.input().missing,
            options: settings.plugin_options(),
        },
        metric: info.metric,
        features: seg.features().to_vec(),
        state: km.map_or(serde_json::Value::Null, |c| {
            serde_json::from_str(&c.state).expect("validated by the host")
        }),
        k: seg.k(),
        d,
        centroids: km.map_or_else(Vec::new, |c| {
            c.run.fit.centroids.chunks(d).map(<[f32]>::to_vec).collect()
        }),
        centroid_segments: km.and_then(|c| c.map.of_centroid.clone()),
        labels: labels.to_vec(),
        kmeans: km.map(|c| KMeansRecord {
            seed: settings.cluster().seed,
            max_iter: settings.cluster().max_iter,
            tol: settings.cluster().tol,
            n_init: c.run.n_init,
            inertia: c.run.fit.inertia,
            iterations: c.run.fit.iterations,
            converged: c.run.fit.converged,
        }),
        rfm: rfm.map(|r| r.cuts.clone()),
        pseudonyms: settings.privacy().id_salt.as_ref().map(|s| PseudonymKey {
            salt_fingerprint: crate::privacy::Pseudonymizer::fingerprint(s.bytes()),
        }),
        kprototypes: km.and_then(|c| {
            c.mixed
                .as_ref()
                .map(|(m, protos)| m.record(settings, protos, &c.run.fit))
        }),
    }
}
