//! What a long fit tells whoever runs it while it runs: the stage it is in, bytes read, each
//! k-means iteration. The CLI draws progress bars from these calls; a library user can ignore
//! them ([`NoProgress`]). Nothing here carries row data.

/// Callbacks from a running fit, on the thread that called
/// [`fit_with_progress`](crate::fit_with_progress).
pub trait Progress {
    /// A stage starts: "ingest", "features", "k-means", "rfm scores", "profiles" or "output".
    fn stage(&self, _name: &'static str) {}
    /// Bytes of the input file read so far, out of `total`.
    fn bytes(&self, _done: u64, _total: u64) {}
    /// A k-means iteration ended: restart `run` of `runs` (0-based run), iteration (1-based)
    /// out of at most `max_iter`, and the inertia before its update.
    fn iteration(
        &self,
        _run: usize,
        _runs: usize,
        _iteration: usize,
        _max_iter: usize,
        _inertia: f64,
    ) {
    }
    /// A stage ended after `seconds` of wall time.
    fn stage_done(&self, _name: &'static str, _seconds: f64) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
