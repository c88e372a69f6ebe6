//! The clustering stage: k-means on the feature matrix. The k-means++ restarts (and, under
//! `--k auto`, the choice of k) run on every row or on a sample of them; Lloyd then runs on
//! every row from the best start; the restarts' agreement is the segmentation's stability.
//! Segments are numbered and merged later ([`crate::segments`]): a [`KMeansRun`] is k-means'
//! own answer.

use std::path::Path;

use rayon::prelude::*;
use strata_compute::MatrixRef;
use strata_host::PluginInfo;
use strata_ingest::{ColumnData, ParseAs, ReadPlan};
use strata_kmeans::{KMeansFit, KMeansParams, Observer, RunSummary};
use tracing::{debug, info, warn};

use crate::backend::Runner;
use crate::output::{BackendReport, SampleInit, Stability};
use crate::progress::Progress;
use crate::select::{KCandidate, KSelection};
use crate::{CoreError, FitSettings};

/// Rows the silhouette is computed on exactly; a seeded sample of this many above it. About
/// 0.1 s at 16 features on two cores.
pub(crate) const SILHOUETTE_ROWS: usize = 10_000;

/// Logs k-means progress (never row data) and forwards iterations to the [`Progress`].
pub(crate) struct LogObserver<'p> {
    progress: &'p dyn Progress,
    runs: usize,
    max_iter: usize,
    /// Log each restart's end at debug rather than info (many fits under `--k auto`).
    quiet_runs: bool,
}

impl<'p> LogObserver<'p> {
    pub fn new(progress: &'p dyn Progress, runs: usize, max_iter: usize, quiet_runs: bool) -> Self {
        LogObserver {
            progress,
            runs,
            max_iter,
            quiet_runs,
        }
    }
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
        // The backend's choice of bounds and what they saved (searched rows, per step).
        debug!(
            "k-means run {}: bounds {}, rows searched per step {:?}",
            run + 1,
            s.bounds.as_deref().unwrap_or("none"),
            s.searched
        );
    }
}

/// Reads `--init FILE`: a header that names the features in order, then one row of scaled
/// coordinates per centroid. Returns (k, centroids row-major).
pub(crate) fn read_init(
    path: &Path,
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

/// The k-means parameters of a fit (`--init` read and checked against the features), before
/// the data is transformed.
pub(crate) fn kmeans_params(
    settings: &FitSettings,
    info: &PluginInfo,
    features: &[String],
) -> Result<strata_kmeans::CheckedParams, CoreError> {
    let init = match &settings.cluster().init {
        Some(path) => Some(read_init(path, features, settings.cluster().k)?),
        None => None,
    };
    let default_k = match &settings.cluster().k_range {
        Some(r) => *r.start(),
        None => info.default_k as usize,
    };
    let k = init
        .as_ref()
        .map_or(settings.cluster().k.unwrap_or(default_k), |(k, _)| *k);
    let mut params = KMeansParams::new(k)
        .seed(settings.cluster().seed)
        .max_iter(settings.cluster().max_iter)
        .tol(settings.cluster().tol)
        .n_init(settings.cluster().n_init);
    if let Some((_, centroids)) = init {
        params = params.init(strata_kmeans::Init::Centroids(centroids));
    }
    Ok(params.check()?)
}

/// An error when `k` segments cannot be made from `n` customers.
pub(crate) fn check_k(settings: &FitSettings, k: usize, n: usize) -> Result<(), CoreError> {
    if k > n {
        return Err(CoreError::KTooLarge {
            k,
            n,
            path: settings.input().path.clone(),
        });
    }
    Ok(())
}

/// How far the restarts in `runs` agree with the winner, on `rows` rows (`None` with one run).
fn stability(runs: &[RunSummary], rows: usize) -> Option<Stability> {
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

/// What k-means did: the fit on every row and how it got there.
pub(crate) struct KMeansRun {
    /// The fit on every row (labels, distances, centroids and counts in k-means' numbering).
    pub fit: KMeansFit,
    pub n_init: usize,
    /// Starting centroids chosen on a sample of the rows (streamed fits of many rows).
    pub sample: Option<SampleInit>,
    /// How far the k-means++ restarts agree (`None` with one run).
    pub stability: Option<Stability>,
    /// The k-selection table (`--k auto`).
    pub k_selection: Option<KSelection>,
    pub backend: BackendReport,
}

pub(crate) fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.4}"))
}

/// Fits every k of `range` on `eval` (n × d) with the fit's seed and restarts, scores each, and
/// recommends one by [`crate::select::RULE`]. Returns the table and the chosen k's fit, labels
/// included. Only the centroids of the other candidates are kept while the range runs, so
/// memory does not grow with the range.
#[allow(clippy::too_many_arguments)]
pub(crate) fn select_k(
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
        let q = strata_quality::quality(
            eval,
            d,
            &fit.labels,
            k,
            SILHOUETTE_ROWS,
            settings.cluster().seed,
        );
        silhouette = (q.silhouette_rows, q.silhouette_seed);
        let c = KCandidate {
            k,
            inertia: fit.inertia,
            silhouette: q.silhouette,
            davies_bouldin: q.davies_bouldin,
            calinski_harabasz: q.calinski_harabasz,
            iterations: fit.iterations,
            converged: fit.converged,
            min_agreement: stability(&fit.runs, n).map(|s| s.min_agreement),
            min_jaccard: crate::resampling::stability(settings, eval, d, &fit.labels, k, k, None)?
                .map(|(r, _)| r.min_jaccard),
            min_share: fit.counts.iter().min().map(|&c| c as f64 / n as f64),
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
    let min_share = settings.cluster().min_share;
    let pick = crate::select::recommend(&candidates, min_share).expect("the range is not empty");
    let chosen = pick.chosen;
    info!("--k auto chose k = {chosen}: {}", pick.reason);
    let null_reference = crate::null_reference::check(
        settings,
        eval,
        d,
        chosen,
        candidates[chosen - range.start()].inertia,
    )?;
    if let Some(r) = &null_reference {
        info!("against structureless references: {}", r.reading);
    }
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
        min_share,
        reason: pick.reason,
        runner_up: pick.runner_up,
        null_reference,
    };
    Ok((selection, fit))
}

/// Clusters a row-major `matrix` of `d` columns, on the backend the settings ask for. With
/// `init_sample` and more rows than that, the k-means++ restarts (and, under `--k auto`, the
/// choice of k) run on every ⌈n / init_sample⌉-th row and the best one's centroids start Lloyd
/// on every row.
pub(crate) fn run(
    settings: &FitSettings,
    params: strata_kmeans::CheckedParams,
    matrix: &[f32],
    d: usize,
    progress: &dyn Progress,
    init_sample: Option<usize>,
) -> Result<KMeansRun, CoreError> {
    let n = matrix.len() / d.max(1);
    let n_init = params.n_init();
    let plus_plus = matches!(params.init(), strata_kmeans::Init::KMeansPlusPlus);
    let range = settings.cluster().k_range.clone().filter(|_| plus_plus);
    let k_max = range.as_ref().map_or(params.k(), |r| *r.end());
    check_k(settings, params.k(), n)?;
    let mut observer = LogObserver::new(
        progress,
        n_init,
        settings.cluster().max_iter,
        range.is_some(),
    );
    let mut runner = Runner::new(settings.cluster().backend, n, k_max, d)?;
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
    let (fit, sample, stability) = if sampled {
        let full = KMeansParams::new(k)
            .seed(settings.cluster().seed)
            .max_iter(settings.cluster().max_iter)
            .tol(settings.cluster().tol)
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
        let stability = stability(&on_eval.runs, ns);
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
        let stability = stability(&on_eval.runs, n);
        (on_eval, None, stability)
    };
    if !fit.converged {
        warn!(
            "k-means stopped at --max-iter {} before converging",
            settings.cluster().max_iter
        );
    }
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
    Ok(KMeansRun {
        fit,
        n_init,
        sample,
        stability,
        k_selection,
        backend: runner.report(),
    })
}

/// `strata choose-k`'s work on a feature matrix: every k of the range fitted and scored.
pub(crate) fn choose_k(
    settings: &FitSettings,
    params: &strata_kmeans::CheckedParams,
    range: std::ops::RangeInclusive<usize>,
    matrix: &[f32],
    d: usize,
    progress: &dyn Progress,
) -> Result<KSelection, CoreError> {
    let n = matrix.len() / d.max(1);
    let mut runner = Runner::new(settings.cluster().backend, n, *range.end(), d)?;
    let mut observer =
        LogObserver::new(progress, params.n_init(), settings.cluster().max_iter, true);
    let (selection, _) = select_k(
        &mut runner,
        settings,
        params,
        range,
        matrix,
        d,
        false,
        &mut observer,
    )?;
    Ok(selection)
}
