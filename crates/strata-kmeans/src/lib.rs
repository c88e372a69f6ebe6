//! k-means over any [`strata_compute::Backend`]: k-means++ seeding, Lloyd iterations, restarts.
//!
//! This crate does no I/O and knows nothing of customers: it clusters a row-major f32 matrix.
//! Parameters go through [`KMeansParams`] (a builder) into [`CheckedParams`] before any work.
//!
//! Stopping rule: after each Lloyd step the centroid shift Σⱼ‖cⱼ(new) − cⱼ(old)‖² is compared
//! with `tol × v̄`, where v̄ is the mean over features of the data's variance (scikit-learn's
//! rule, so `tol` means the same in both). The fit stops, `converged`, when the shift is at or
//! below that bound or no row changed segment; otherwise after `max_iter` steps, not converged.
//! A final assignment pass then labels every row against the final centroids.
//!
//! Determinism: the random stream is ChaCha8 seeded from `seed` and the restart index, and every
//! reduction runs in a fixed order (see `strata_compute::cpu`), so the same data, seed and
//! parameters give the same centroids and labels on any thread count.

mod init;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use strata_compute::{Backend, BoundData, ComputeError, MatrixRef};

pub use init::kmeans_plus_plus;

/// Default seed: fixed, so two runs without `--seed` agree.
pub const DEFAULT_SEED: u64 = 42;
/// Default cap on Lloyd steps per restart (scikit-learn's).
pub const DEFAULT_MAX_ITER: usize = 300;
/// Default relative tolerance of the stopping rule (scikit-learn's; see the crate docs).
pub const DEFAULT_TOL: f64 = 1e-4;
/// Default number of k-means++ restarts; the one with the lowest inertia wins.
pub const DEFAULT_N_INIT: usize = 3;

/// Why k-means refused the parameters or the data, or the backend failed.
#[derive(Debug, thiserror::Error)]
pub enum KMeansError {
    /// `k` is 0.
    #[error("k must be at least 1 (got {0})")]
    KTooSmall(usize),
    /// `k` exceeds the number of rows.
    #[error("k = {k} is more than the {n} rows to cluster")]
    KTooLarge {
        /// The `k` asked for.
        k: usize,
        /// Rows in the data.
        n: usize,
    },
    /// `max_iter` is 0.
    #[error("max-iter must be at least 1")]
    NoIterations,
    /// `n_init` is 0.
    #[error("n-init must be at least 1")]
    NoRuns,
    /// `tol` is negative, NaN or infinite.
    #[error("tol must be a finite number ≥ 0 (got {0})")]
    BadTol(f64),
    /// Given initial centroids of the wrong size or with a non-finite value; the message says
    /// which.
    #[error("initial centroids: {0}")]
    BadInit(String),
    /// The data holds NaN or an infinity.
    #[error("the data has a non-finite value at row {row}, column {column}")]
    NonFinite {
        /// The first such value's row, 0-based.
        row: usize,
        /// Its column, 0-based.
        column: usize,
    },
    /// The backend failed.
    #[error(transparent)]
    Compute(#[from] ComputeError),
}

/// How the starting centroids are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Greedy k-means++ (as scikit-learn: 2 + ⌊ln k⌋ candidates per centre).
    KMeansPlusPlus,
    /// Given centroids, k × d row-major (one restart only).
    Centroids(Vec<f32>),
}

/// Builder for k-means parameters; [`KMeansParams::check`] validates them.
#[derive(Debug, Clone)]
pub struct KMeansParams {
    k: usize,
    max_iter: usize,
    tol: f64,
    n_init: usize,
    seed: u64,
    init: Init,
}

impl KMeansParams {
    /// Parameters for `k` segments, everything else at its default (k-means++, [`DEFAULT_SEED`],
    /// [`DEFAULT_MAX_ITER`], [`DEFAULT_TOL`], [`DEFAULT_N_INIT`]).
    pub fn new(k: usize) -> KMeansParams {
        KMeansParams {
            k,
            max_iter: DEFAULT_MAX_ITER,
            tol: DEFAULT_TOL,
            n_init: DEFAULT_N_INIT,
            seed: DEFAULT_SEED,
            init: Init::KMeansPlusPlus,
        }
    }
    /// Caps the Lloyd steps per restart; at least 1.
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }
    /// Sets the relative tolerance of the stopping rule; finite and ≥ 0 (0: stop only when the
    /// centroids stop moving or no row changes segment).
    pub fn tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }
    /// Sets the number of restarts; at least 1. Ignored with given centroids, which run once.
    pub fn n_init(mut self, v: usize) -> Self {
        self.n_init = v;
        self
    }
    /// Sets the seed every restart's seed is derived from ([`run_seed`]).
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Sets how the starting centroids are chosen.
    pub fn init(mut self, v: Init) -> Self {
        self.init = v;
        self
    }

    /// Validates everything that does not depend on the data.
    pub fn check(self) -> Result<CheckedParams, KMeansError> {
        if self.k == 0 {
            return Err(KMeansError::KTooSmall(self.k));
        }
        if self.max_iter == 0 {
            return Err(KMeansError::NoIterations);
        }
        if self.n_init == 0 {
            return Err(KMeansError::NoRuns);
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(KMeansError::BadTol(self.tol));
        }
        if let Init::Centroids(c) = &self.init {
            if c.is_empty() || c.len() % self.k != 0 {
                return Err(KMeansError::BadInit(format!(
                    "{} values are not {} centroids",
                    c.len(),
                    self.k
                )));
            }
            if c.iter().any(|v| !v.is_finite()) {
                return Err(KMeansError::BadInit("a value is not finite".into()));
            }
        }
        let n_init = if matches!(self.init, Init::Centroids(_)) {
            1
        } else {
            self.n_init
        };
        Ok(CheckedParams {
            inner: KMeansParams { n_init, ..self },
        })
    }
}

/// Parameters that passed [`KMeansParams::check`].
#[derive(Debug, Clone)]
pub struct CheckedParams {
    inner: KMeansParams,
}

impl CheckedParams {
    /// Number of segments; at least 1.
    pub fn k(&self) -> usize {
        self.inner.k
    }
    /// Cap on Lloyd steps per restart; at least 1.
    pub fn max_iter(&self) -> usize {
        self.inner.max_iter
    }
    /// Relative tolerance of the stopping rule; finite and ≥ 0.
    pub fn tol(&self) -> f64 {
        self.inner.tol
    }
    /// Number of restarts; 1 with given centroids.
    pub fn n_init(&self) -> usize {
        self.inner.n_init
    }
    /// The seed every restart's seed is derived from.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }
    /// How the starting centroids are chosen.
    pub fn init(&self) -> &Init {
        &self.inner.init
    }
}

/// Progress callbacks (the CLI turns them into log lines or a progress bar).
pub trait Observer {
    /// A restart begins: its index (from 0) and the number of restarts.
    fn run_started(&mut self, _run: usize, _runs: usize) {}
    /// A Lloyd step of a restart ended: the step's number (from 1), the inertia against the
    /// centroids it started from, and the shift its update made (Σ of squared centroid moves).
    fn iteration(&mut self, _run: usize, _iteration: usize, _inertia: f64, _shift: f64) {}
    /// A cluster of a restart was empty after a step and was moved onto a far row.
    fn empty_cluster_reseeded(&mut self, _run: usize, _cluster: usize) {}
    /// A restart ended, with how it ended.
    fn run_finished(&mut self, _run: usize, _summary: &RunSummary) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// How one restart ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// This restart's seed, derived from the user's by [`run_seed`].
    pub seed: u64,
    /// Inertia of the final pass against the run's final centroids.
    pub inertia: f64,
    /// Lloyd steps run, at most `max_iter`.
    pub iterations: usize,
    /// Whether the stopping rule held within `max_iter` steps.
    pub converged: bool,
    /// Inertia before each step (against the centroids that step started from).
    pub history: Vec<f64>,
    /// Times an empty cluster was moved onto a far row, over all steps.
    pub reseeded: usize,
    /// Adjusted Rand index of this run's final labels against the winning run's (1 for the
    /// winner): how far restarts agree on the segmentation. `None` with one run.
    #[serde(default)]
    pub agreement: Option<f64>,
    /// Rows each Lloyd step searched among all k centroids (the backend settled the rest by
    /// bounds carried from the previous pass): how much the bounds saved.
    #[serde(default)]
    pub searched: Vec<u64>,
    /// Row-to-centroid distances each Lloyd step computed (n·k when exhaustive).
    #[serde(default)]
    pub scores: Vec<u64>,
    /// The bounds the backend kept on its last bounded step (`hamerly`, `yinyang (G
    /// groups)`), `None` when no step used any: the backend's choice for this shape.
    #[serde(default)]
    pub bounds: Option<String>,
}

impl RunSummary {
    /// The share of the n·k distances of exhaustive steps that the Lloyd steps after the first
    /// computed (1 without bounds); `None` with fewer than two steps.
    pub fn distance_share(&self, n: usize, k: usize) -> Option<f64> {
        let later = self.scores.get(1..).filter(|s| !s.is_empty())?;
        Some(later.iter().sum::<u64>() as f64 / (later.len() * n * k) as f64)
    }
}

/// The result of a fit: the best restart's centroids and the final assignment.
#[derive(Debug, Clone)]
pub struct KMeansFit {
    /// Number of segments.
    pub k: usize,
    /// Number of features per row.
    pub d: usize,
    /// k × d, row-major.
    pub centroids: Vec<f32>,
    /// Each row's segment, 0 to k − 1, against the returned centroids.
    pub labels: Vec<u32>,
    /// Squared distance of each row to its centroid.
    pub nearest: Vec<f32>,
    /// Squared distance of each row to the second-nearest centroid.
    pub second: Vec<f32>,
    /// Rows in each segment.
    pub counts: Vec<u64>,
    /// Σ‖x − c‖² over rows and their segment's centroid.
    pub inertia: f64,
    /// Lloyd steps the winning restart ran.
    pub iterations: usize,
    /// Whether the winning restart met the stopping rule.
    pub converged: bool,
    /// Index of the winning restart.
    pub best_run: usize,
    /// Every restart, in the order they ran.
    pub runs: Vec<RunSummary>,
}

/// Seed of restart `run`: SplitMix64 of the user's seed and the run index, so runs differ but
/// each is reproducible on its own.
pub fn run_seed(seed: u64, run: usize) -> u64 {
    let mut z = seed.wrapping_add((run as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mean over features of the per-feature variance, in f64 (for the stopping rule).
pub fn mean_feature_variance(data: MatrixRef<'_>) -> f64 {
    let (n, d) = (data.n(), data.d());
    if n == 0 {
        return 0.0;
    }
    let chunk = 8192;
    let sums = fixed_order_sum(data, chunk, |row, acc: &mut Vec<f64>| {
        for (a, &x) in acc.iter_mut().zip(row) {
            *a += f64::from(x);
        }
    });
    let means: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
    let sq = fixed_order_sum(data, chunk, |row, acc: &mut Vec<f64>| {
        for ((a, &x), m) in acc.iter_mut().zip(row).zip(&means) {
            let t = f64::from(x) - m;
            *a += t * t;
        }
    });
    sq.iter().map(|s| s / n as f64).sum::<f64>() / d as f64
}

/// Per-column sums over rows, chunked in a fixed order.
fn fixed_order_sum(
    data: MatrixRef<'_>,
    chunk: usize,
    f: impl Fn(&[f32], &mut Vec<f64>) + Sync,
) -> Vec<f64> {
    let d = data.d();
    let partials: Vec<Vec<f64>> = data
        .data()
        .par_chunks(chunk * d)
        .map(|rows| {
            let mut acc = vec![0.0; d];
            for row in rows.chunks_exact(d) {
                f(row, &mut acc);
            }
            acc
        })
        .collect();
    let mut total = vec![0.0; d];
    for p in partials {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

fn check_finite(data: MatrixRef<'_>) -> Result<(), KMeansError> {
    // Whole chunks tested without a branch per value (it vectorises), then the first bad
    // value found in the first bad chunk: a per-value parallel search cost a tenth of a fit.
    const CHUNK: usize = 1 << 16;
    let values = data.data();
    let bad_chunk = values
        .par_chunks(CHUNK)
        .position_first(|c| c.iter().fold(false, |bad, v| bad | !v.is_finite()));
    match bad_chunk {
        Some(c) => {
            let pos = c * CHUNK
                + values[c * CHUNK..]
                    .iter()
                    .position(|v| !v.is_finite())
                    .expect("the chunk has one");
            Err(KMeansError::NonFinite {
                row: pos / data.d(),
                column: pos % data.d(),
            })
        }
        None => Ok(()),
    }
}

/// Clusters `data` into `params.k()` segments on `backend`.
pub fn fit(
    params: &CheckedParams,
    backend: &dyn Backend,
    data: MatrixRef<'_>,
    observer: &mut dyn Observer,
) -> Result<KMeansFit, KMeansError> {
    let (n, d, k) = (data.n(), data.d(), params.k());
    if k > n {
        return Err(KMeansError::KTooLarge { k, n });
    }
    check_finite(data)?;
    if let Init::Centroids(c) = params.init()
        && c.len() != k * d
    {
        return Err(KMeansError::BadInit(format!(
            "{} values are not {k} centroids of {d} features",
            c.len()
        )));
    }
    let tol_abs = params.tol() * mean_feature_variance(data);
    let mut bound = backend.bind(data)?;

    let mut best: Option<(Vec<f32>, usize)> = None;
    let mut runs: Vec<RunSummary> = Vec::with_capacity(params.n_init());
    // Every run's final centroids, to compare the runs' segmentations at the end.
    let mut finals: Vec<Vec<f32>> = Vec::with_capacity(params.n_init());
    let mut last_step = None;
    for run in 0..params.n_init() {
        observer.run_started(run, params.n_init());
        let seed = run_seed(params.seed(), run);
        let start = match params.init() {
            Init::Centroids(c) => c.clone(),
            Init::KMeansPlusPlus => kmeans_plus_plus(data, k, &mut ChaCha8Rng::seed_from_u64(seed)),
        };
        let (step, centroids, summary) = lloyd(
            bound.as_mut(),
            data,
            start,
            k,
            params.max_iter(),
            tol_abs,
            run,
            seed,
            observer,
        )?;
        observer.run_finished(run, &summary);
        let better = match &best {
            None => true,
            Some((_, b)) => summary.inertia < runs[*b].inertia,
        };
        runs.push(summary);
        if params.n_init() > 1 {
            finals.push(centroids.clone());
        }
        if better {
            best = Some((centroids, run));
        }
        last_step = Some(step);
    }
    let (centroids, best_run) = best.expect("n_init ≥ 1");
    // Labels and distances must match the returned centroids. When the winner is the last
    // run, the device already holds its final pass; otherwise run one against the winner.
    let step = match last_step {
        Some(step) if best_run + 1 == runs.len() => step,
        _ => bound.step(&centroids, k)?,
    };
    let a = bound.assignments()?;
    let step_counts = step.counts;
    let step_inertia = step.inertia;
    // Stability: each other run's labels against the winner's (one more pass per run).
    for (r, c) in finals.iter().enumerate() {
        runs[r].agreement = Some(if r == best_run {
            1.0
        } else {
            bound.step(c, k)?;
            strata_quality::adjusted_rand_index(&a.labels, &bound.assignments()?.labels)
        });
    }
    let summary = &runs[best_run];
    Ok(KMeansFit {
        k,
        d,
        centroids,
        labels: a.labels,
        nearest: a.nearest,
        second: a.second,
        counts: step_counts,
        inertia: step_inertia,
        iterations: summary.iterations,
        converged: summary.converged,
        best_run,
        runs,
    })
}

/// Every row labelled with its nearest of fixed centroids: what scoring new customers with a
/// saved model, or relabelling with a fit's final centroids, needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Assigned {
    /// Each row's nearest centroid, 0 to k − 1 (ties to the lowest index).
    pub labels: Vec<u32>,
    /// Squared distance to the nearest centroid.
    pub nearest: Vec<f32>,
    /// Squared distance to the second-nearest centroid (infinity when k = 1).
    pub second: Vec<f32>,
    /// Rows assigned to each centroid.
    pub counts: Vec<u64>,
    /// Σ‖x − c‖² over rows and their nearest centroid.
    pub inertia: f64,
}

/// Labels every row of `data` with its nearest of the `k` centroids (k × d, row-major): one
/// assignment pass, no update. The labels are those [`fit`] gives for the same final centroids,
/// on either backend.
pub fn assign(
    backend: &dyn Backend,
    data: MatrixRef<'_>,
    centroids: &[f32],
    k: usize,
) -> Result<Assigned, KMeansError> {
    strata_compute::check_centroids(centroids, k, data.d())?;
    check_finite(data)?;
    let mut bound = backend.bind(data)?;
    let step = bound.step(centroids, k)?;
    let a = bound.assignments()?;
    Ok(Assigned {
        labels: a.labels,
        nearest: a.nearest,
        second: a.second,
        counts: step.counts,
        inertia: step.inertia,
    })
}

/// Lloyd iterations from `centroids` until the stopping rule holds.
#[allow(clippy::too_many_arguments)]
fn lloyd(
    bound: &mut dyn BoundData,
    data: MatrixRef<'_>,
    mut centroids: Vec<f32>,
    k: usize,
    max_iter: usize,
    tol_abs: f64,
    run: usize,
    seed: u64,
    observer: &mut dyn Observer,
) -> Result<(strata_compute::StepOutput, Vec<f32>, RunSummary), KMeansError> {
    let d = data.d();
    let mut history = Vec::new();
    let mut searched = Vec::new();
    let mut scores = Vec::new();
    let mut bounds = None;
    let mut converged = false;
    let mut iterations = 0;
    let mut reseeded = 0;
    for iteration in 1..=max_iter {
        iterations = iteration;
        let mut step = bound.lloyd_step(&centroids, k)?;
        history.push(step.inertia);
        searched.push(step.searched);
        scores.push(step.scores);
        if step.bounds != strata_compute::Bounds::None {
            bounds = Some(step.bounds.to_string());
        }
        reseeded += reseed_empty(bound, data, &mut step, &mut centroids, k, run, observer)?;
        let mut shift = 0.0;
        for j in 0..k {
            let count = step.counts[j];
            if count == 0 {
                continue; // only when k > distinct rows: keep the centroid where it is
            }
            for f in 0..d {
                let new = (step.sums[j * d + f] / count as f64) as f32;
                let old = &mut centroids[j * d + f];
                let t = f64::from(new) - f64::from(*old);
                shift += t * t;
                *old = new;
            }
        }
        observer.iteration(run, iteration, step.inertia, shift);
        if shift <= tol_abs || (step.changed == 0 && iteration > 1) {
            converged = true;
            break;
        }
    }
    let last = bound.step(&centroids, k)?;
    let inertia = last.inertia;
    Ok((
        last,
        centroids,
        RunSummary {
            seed,
            inertia,
            iterations,
            converged,
            history,
            reseeded,
            agreement: None,
            searched,
            scores,
            bounds,
        },
    ))
}

/// Moves each empty cluster onto the row farthest from its centroid (then the next farthest),
/// taking that row out of the cluster it was in, as scikit-learn does.
fn reseed_empty(
    bound: &mut dyn BoundData,
    data: MatrixRef<'_>,
    step: &mut strata_compute::StepOutput,
    centroids: &mut [f32],
    k: usize,
    run: usize,
    observer: &mut dyn Observer,
) -> Result<usize, KMeansError> {
    let d = data.d();
    let empty: Vec<usize> = (0..k).filter(|&j| step.counts[j] == 0).collect();
    if empty.is_empty() {
        return Ok(0);
    }
    let far = bound.farthest(empty.len())?;
    let mut done = 0;
    for (&j, f) in empty.iter().zip(&far) {
        if f.sq_distance <= 0.0 {
            break; // every row sits on a centroid: nothing to move
        }
        let row = data.row(f.row);
        let from = f.label as usize;
        if step.counts[from] <= 1 {
            continue;
        }
        step.counts[from] -= 1;
        for (s, &x) in step.sums[from * d..(from + 1) * d].iter_mut().zip(row) {
            *s -= f64::from(x);
        }
        step.counts[j] = 1;
        for (s, &x) in step.sums[j * d..(j + 1) * d].iter_mut().zip(row) {
            *s = f64::from(x);
        }
        centroids[j * d..(j + 1) * d].copy_from_slice(row);
        observer.empty_cluster_reseeded(run, j);
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests;
