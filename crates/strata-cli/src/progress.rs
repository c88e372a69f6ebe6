//! Progress bars on stderr for long fits: bytes while reading, iterations with the inertia
//! while clustering, a spinner with the stage name otherwise. Drawn only when stderr is a
//! terminal, and never with `--quiet`, `--no-progress` or `--log-format json`; log lines are
//! written around the bar so the two never tear each other.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use strata_core::Progress;

/// The bar being drawn, if any, so log lines can be printed around it.
static BAR: OnceLock<ProgressBar> = OnceLock::new();

/// The progress bars of one command.
pub struct Bars {
    bar: ProgressBar,
}

impl Bars {
    /// Bars on stderr when `enabled` and stderr is a terminal; otherwise nothing is drawn.
    pub fn new(enabled: bool) -> Bars {
        let bar = if enabled && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let _ = BAR.set(bar.clone());
            bar
        } else {
            ProgressBar::hidden()
        };
        Bars { bar }
    }

    /// Clears the bar (the summary follows on stdout).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn style(&self, template: &str) {
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
    }
}

impl Progress for Bars {
    fn stage(&self, name: &'static str) {
        self.style("{spinner} {msg} ({elapsed})");
        self.bar.set_message(name);
        self.bar.set_length(0);
        self.bar.reset();
        self.bar.enable_steady_tick(Duration::from_millis(120));
    }

    fn bytes(&self, done: u64, total: u64) {
        if self.bar.length() != Some(total) {
            self.bar.set_length(total);
            self.style("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} (eta {eta})");
        }
        self.bar.set_position(done);
    }

    fn iteration(&self, run: usize, runs: usize, iteration: usize, max_iter: usize, inertia: f64) {
        if self.bar.length() != Some(max_iter as u64) {
            self.bar.set_length(max_iter as u64);
            self.style("k-means [{bar:30}] iteration {pos}/{len} {msg} ({elapsed})");
        }
        self.bar.set_position(iteration as u64);
        let run = if runs > 1 {
            format!("run {}/{runs}, ", run + 1)
        } else {
            String::new()
        };
        self.bar.set_message(format!("{run}inertia {inertia:.6e}"));
    }
}

/// Where log lines go: stderr, around the bar when one is drawn.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match BAR.get() {
            Some(bar) if !bar.is_hidden() && !bar.is_finished() => {
                bar.suspend(|| std::io::stderr().write_all(buf))?;
                Ok(buf.len())
            }
            _ => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
