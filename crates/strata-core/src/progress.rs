//! What a long fit tells whoever runs it while it runs: the stage it is in, bytes read, each
//! k-means iteration. The CLI draws progress bars from these calls; a library user can ignore
//! them ([`NoProgress`]). Nothing here carries row data.

/// Callbacks from a running fit, on the thread that called
/// [`fit_with_progress`](crate::fit_with_progress).
pub trait Progress {
    /// A stage starts: "ingest", "features", "k-means", "rfm scores", "value model",
    /// "outcomes", "profiles" (with the segment rules) or "output".
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

/// Wall time per stage of a run, reported to a [`Progress`] as stages start and end.
pub(crate) struct Stages<'p> {
    start: std::time::Instant,
    laps: Vec<(&'static str, f64)>,
    pub progress: &'p dyn Progress,
}

impl<'p> Stages<'p> {
    pub fn new(progress: &'p dyn Progress) -> Stages<'p> {
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

    /// Every stage ended so far, with its seconds, in order.
    pub fn laps(&self) -> &[(&'static str, f64)] {
        &self.laps
    }

    /// The seconds of every lap of the stage `name` (0 when it did not run).
    pub fn total(&self, name: &str) -> f64 {
        self.laps
            .iter()
            .filter(|(s, _)| *s == name)
            .map(|(_, t)| *t)
            // An empty float sum is -0.0; a stage that did not run took 0 s.
            .fold(0.0, |a, b| a + b)
    }
}
