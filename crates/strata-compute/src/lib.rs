//! The distance work of k-means, behind one trait so that a CPU and a GPU implementation give
//! the same answers.
//!
//! A [`Backend`] binds a row-major f32 matrix (n × d) once ([`Backend::bind`]) and then runs
//! Lloyd assignment passes against k centroids ([`BoundData::step`]): every row goes to its
//! nearest centroid (squared Euclidean; ties to the lowest index), and the pass returns
//! per-centroid sums and counts and the inertia. Final labels and distances are read once, at
//! the end ([`BoundData::assignments`]). That shape suits a GPU: data uploaded once, only
//! centroids up and labels back per iteration.
//!
//! [`cpu::CpuBackend`] is the reference: multi-threaded with rayon, near-ties decided in f64,
//! partial sums reduced in a fixed order so results do not depend on the thread count. Its
//! tally ([`cpu::tally_pass`]) is public so that a backend deciding labels elsewhere gets the
//! same sums, bit for bit.

pub mod cpu;
pub mod exact;
pub mod fixed;

pub use cpu::CpuBackend;

/// A borrowed row-major f32 matrix with `n` rows of `d` columns.
#[derive(Debug, Clone, Copy)]
pub struct MatrixRef<'a> {
    data: &'a [f32],
    n: usize,
    d: usize,
}

impl<'a> MatrixRef<'a> {
    /// Views `data` as `n` rows of `d` columns; an error unless `d > 0` and `data.len() == n × d`.
    pub fn new(data: &'a [f32], n: usize, d: usize) -> Result<MatrixRef<'a>, ComputeError> {
        if d == 0 || n.checked_mul(d) != Some(data.len()) {
            return Err(ComputeError::Shape(format!(
                "{} values are not {n} rows of {d} columns",
                data.len()
            )));
        }
        Ok(MatrixRef { data, n, d })
    }

    /// Number of rows.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of columns; never 0.
    pub fn d(&self) -> usize {
        self.d
    }

    /// All values, row-major.
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// Row `i`. Panics if `i >= n`.
    #[inline]
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.d..(i + 1) * self.d]
    }
}

/// Which kind of device ran the work: asserted by tests, reported in outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The CPU, through rayon.
    Cpu,
    /// A GPU, through wgpu.
    Gpu,
}

impl BackendKind {
    /// The lowercase name shown in outputs: `"cpu"` or `"gpu"`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Gpu => "gpu",
        }
    }
}

/// Why a backend could not run a pass.
#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    /// A matrix or centroid buffer whose length does not fit its dimensions, or a call out of
    /// order.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A centroid holds NaN or an infinity.
    #[error("centroid {index} has a non-finite coordinate")]
    NonFiniteCentroid {
        /// The centroid's index, 0 to k − 1.
        index: usize,
    },
    /// The backend cannot be used on this machine (e.g. no GPU adapter).
    #[error("the {backend} backend is unavailable: {reason}")]
    Unavailable {
        /// Which backend, e.g. `"gpu"`.
        backend: &'static str,
        /// What is missing, for the user.
        reason: String,
    },
    /// The device reported an error or timed out mid-work.
    #[error("the device failed while {stage}: {message}")]
    Device {
        /// What the backend was doing, e.g. `"reading labels"`.
        stage: &'static str,
        /// The device's own message.
        message: String,
    },
}

/// What one assignment pass returns: enough to compute the next centroids and the inertia.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutput {
    /// Per-centroid sums of assigned rows, k × d, accumulated in f64.
    pub sums: Vec<f64>,
    /// Rows assigned to each centroid.
    pub counts: Vec<u64>,
    /// Σ‖x − c‖² over rows and their nearest centroids, each term computed directly.
    pub inertia: f64,
    /// Rows whose label differs from the previous pass (all rows on the first pass).
    pub changed: u64,
    /// Rows whose nearest centroid was searched (among all k, or with Yinyang's bounds among
    /// some groups of centroids); the others were settled by bounds carried from the previous
    /// pass, with the same result.
    pub searched: u64,
    /// Row-to-centroid distances (or scores) computed: n·k for an exhaustive pass.
    pub scores: u64,
    /// Which bounds the pass kept.
    pub bounds: Bounds,
}

/// The bounds a pass kept to skip rows and distances, for logs and the bench: each gives the
/// labels an exhaustive pass gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounds {
    /// None: every row compared with every centroid (the GPU's passes, every first pass).
    None,
    /// Hamerly's: one lower bound a row on the distance to every other centroid.
    Hamerly,
    /// Yinyang's (Ding et al. 2015): one lower bound a row per group of centroids.
    Yinyang {
        /// Groups of centroids.
        groups: u32,
    },
}

impl std::fmt::Display for Bounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bounds::None => f.write_str("none"),
            Bounds::Hamerly => f.write_str("hamerly"),
            Bounds::Yinyang { groups } => write!(f, "yinyang ({groups} groups)"),
        }
    }
}

/// Labels and squared distances of the most recent pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignments {
    /// Index of each row's nearest centroid, 0 to k − 1 (ties to the lowest index).
    pub labels: Vec<u32>,
    /// Squared distance to the nearest centroid.
    pub nearest: Vec<f32>,
    /// Squared distance to the second-nearest centroid (infinity when k = 1).
    pub second: Vec<f32>,
    /// Rows whose two nearest centroids were within float tolerance on the device and were
    /// decided again in f64 on the CPU (always 0 on the CPU backend).
    pub redecided: u64,
}

/// A row far from its centroid, used to reseed an empty cluster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FarRow {
    /// Index of the row in the bound matrix.
    pub row: usize,
    /// The centroid the row is assigned to.
    pub label: u32,
    /// Squared Euclidean distance from the row to that centroid.
    pub sq_distance: f32,
}

/// A device that runs k-means assignment passes.
pub trait Backend: Send + Sync {
    /// Which kind of device this backend runs on.
    fn kind(&self) -> BackendKind;

    /// A short description for logs and outputs, e.g. "cpu (2 threads, avx2)".
    fn describe(&self) -> String;

    /// Makes `data` resident for a series of passes (a GPU uploads it here, once).
    fn bind<'a>(&'a self, data: MatrixRef<'a>) -> Result<Box<dyn BoundData + 'a>, ComputeError>;

    /// One-shot assignment of every row to its nearest centroid (scoring new customers).
    fn assign(
        &self,
        data: MatrixRef<'_>,
        centroids: &[f32],
        k: usize,
    ) -> Result<Assignments, ComputeError> {
        let mut bound = self.bind(data)?;
        bound.step(centroids, k)?;
        bound.assignments()
    }
}

/// A matrix bound to a backend.
pub trait BoundData {
    /// Assigns every row to its nearest of the `k` centroids (row-major k × d); the inertia
    /// is the row-by-row sum.
    fn step(&mut self, centroids: &[f32], k: usize) -> Result<StepOutput, ComputeError>;

    /// A step inside a series of Lloyd iterations: the same labels, sums and counts as
    /// [`step`](BoundData::step), bit for bit, but a backend may skip rows whose label bounds
    /// carried from the previous pass settle, and the inertia is computed from exact
    /// per-centroid moments (Σ‖x‖², Σx and counts) instead of row by row whenever a previous
    /// pass with the same k exists. Within rounding of [`step`](BoundData::step)'s, not its
    /// bits; every backend follows this rule, so their outputs stay bit-identical.
    fn lloyd_step(&mut self, centroids: &[f32], k: usize) -> Result<StepOutput, ComputeError>;

    /// Labels and distances of the last [`step`](BoundData::step).
    fn assignments(&mut self) -> Result<Assignments, ComputeError>;

    /// The `count` rows farthest from their centroid after the last step, farthest first
    /// (ties: lower row first).
    fn farthest(&mut self, count: usize) -> Result<Vec<FarRow>, ComputeError>;
}

/// The `count` rows with the largest `nearest` distance, farthest first (ties: lower row
/// first), for reseeding empty clusters.
pub fn farthest_rows(labels: &[u32], nearest: &[f32], count: usize) -> Vec<FarRow> {
    let order_of = |a: &usize, b: &usize| nearest[*b].total_cmp(&nearest[*a]).then(a.cmp(b));
    let mut order: Vec<usize> = (0..nearest.len()).collect();
    let count = count.min(order.len());
    if count == 0 {
        return Vec::new();
    }
    if count < order.len() {
        order.select_nth_unstable_by(count - 1, order_of);
        order.truncate(count);
    }
    order.sort_unstable_by(order_of);
    order
        .into_iter()
        .map(|row| FarRow {
            row,
            label: labels[row],
            sq_distance: nearest[row],
        })
        .collect()
}

/// Checks a centroid matrix against the data's width.
pub fn check_centroids(centroids: &[f32], k: usize, d: usize) -> Result<(), ComputeError> {
    if k == 0 || k.checked_mul(d) != Some(centroids.len()) {
        return Err(ComputeError::Shape(format!(
            "{} centroid values are not {k} centroids of {d} columns",
            centroids.len()
        )));
    }
    if let Some(pos) = centroids.iter().position(|v| !v.is_finite()) {
        return Err(ComputeError::NonFiniteCentroid { index: pos / d });
    }
    Ok(())
}
