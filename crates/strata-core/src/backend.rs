//! Backend choice: which compute backend runs the distance work, why, and the fallback to the
//! CPU under `auto` when the GPU cannot hold the data (with `--backend gpu` that is an error).

use strata_compute::{Backend, CpuBackend, MatrixRef};
use strata_kmeans::{KMeansFit, Observer};
use tracing::{info, warn};

use crate::output::BackendReport;
use crate::{BackendChoice, CoreError};

/// Work per Lloyd pass (n·k·d) below which `auto` keeps to the CPU: moving the data to a GPU
/// and back costs more than it saves.
pub(crate) const GPU_MIN_WORK: f64 = 2e8;

/// Distance work per row (k·d) below which `auto` keeps to the CPU. Each GPU pass still reads a
/// label per row back and tallies the sums on the host (n·d, for bit-equal centroids), so the
/// device pays only when k·d is large. The crossover measured on an H200 against 16 host cores
/// is near k·d = 1,600 (figures in bench/NOTES.md).
const GPU_MIN_ROW_WORK: usize = 2048;

/// A GPU adapter opened for the distance work, or why there is none.
#[cfg(feature = "gpu")]
pub(crate) fn open_gpu() -> Result<strata_gpu::GpuBackend, String> {
    strata_gpu::GpuBackend::new(strata_gpu::GpuOptions::default()).map_err(|e| e.to_string())
}

/// Why there is no GPU in a build without the `gpu` feature.
#[cfg(not(feature = "gpu"))]
pub(crate) const NO_GPU: &str = "this strata was built without GPU support (cargo feature `gpu`); \
                                 build it with default features, or use --backend cpu";

/// Picks the compute backend and says why.
fn choose_backend(
    choice: BackendChoice,
    n: usize,
    k: usize,
    d: usize,
) -> Result<(Box<dyn Backend>, String), CoreError> {
    let cpu = || -> Box<dyn Backend> { Box::new(CpuBackend::new()) };
    match choice {
        BackendChoice::Cpu => Ok((cpu(), "--backend cpu".into())),
        #[cfg(feature = "gpu")]
        BackendChoice::Gpu => match open_gpu() {
            Ok(gpu) => Ok((Box::new(gpu), "--backend gpu".into())),
            Err(reason) => Err(CoreError::GpuUnavailable { reason }),
        },
        #[cfg(not(feature = "gpu"))]
        BackendChoice::Gpu => Err(CoreError::GpuUnavailable {
            reason: NO_GPU.into(),
        }),
        BackendChoice::Auto => {
            let work = n as f64 * k as f64 * d as f64;
            if work < GPU_MIN_WORK {
                return Ok((
                    cpu(),
                    format!("auto: n·k·d = {work:.0} is too little work to pay for a GPU transfer"),
                ));
            }
            if k * d < GPU_MIN_ROW_WORK {
                return Ok((
                    cpu(),
                    format!(
                        "auto: k·d = {} is under {GPU_MIN_ROW_WORK}; the CPU is faster at that \
                         width (--backend gpu to override)",
                        k * d
                    ),
                ));
            }
            #[cfg(feature = "gpu")]
            let chosen = match open_gpu() {
                Ok(gpu) if gpu.is_software() => (
                    cpu(),
                    format!(
                        "auto: the only adapter, {}, is a software renderer",
                        gpu.adapter().name
                    ),
                ),
                Ok(gpu) => (
                    Box::new(gpu) as Box<dyn Backend>,
                    format!("auto: n·k·d = {work:.0} on a GPU adapter"),
                ),
                Err(e) => (cpu(), format!("auto: {e}")),
            };
            #[cfg(not(feature = "gpu"))]
            let chosen = (cpu(), format!("auto: {NO_GPU}"));
            Ok(chosen)
        }
    }
}

/// The backend a run works on, and why.
pub(crate) struct Runner {
    choice: BackendChoice,
    backend: Box<dyn Backend>,
    reason: String,
}

impl Runner {
    /// Chooses the backend for `n` rows, up to `k` centroids and `d` features.
    pub fn new(choice: BackendChoice, n: usize, k: usize, d: usize) -> Result<Self, CoreError> {
        let (backend, reason) = choose_backend(choice, n, k, d)?;
        info!(
            "distance work on {n} × {d}, k up to {k}, on {} ({reason})",
            backend.describe()
        );
        Ok(Runner {
            choice,
            backend,
            reason,
        })
    }

    fn with_fallback<T>(
        &mut self,
        mut work: impl FnMut(&dyn Backend) -> Result<T, strata_kmeans::KMeansError>,
    ) -> Result<T, CoreError> {
        match work(self.backend.as_ref()) {
            Err(strata_kmeans::KMeansError::Compute(
                e @ strata_compute::ComputeError::Unavailable { .. },
            )) if self.choice == BackendChoice::Auto => {
                warn!("{e}; continuing on the CPU");
                self.reason = format!("auto: fell back to the CPU ({e})");
                self.backend = Box::new(CpuBackend::new());
                Ok(work(self.backend.as_ref())?)
            }
            other => Ok(other?),
        }
    }

    /// Fits k-means on `data`.
    pub fn fit(
        &mut self,
        params: &strata_kmeans::CheckedParams,
        data: MatrixRef<'_>,
        observer: &mut dyn Observer,
    ) -> Result<KMeansFit, CoreError> {
        self.with_fallback(|b| strata_kmeans::fit(params, b, data, &mut *observer))
    }

    /// Labels every row against fixed centroids (one pass, no update).
    pub fn assign(
        &mut self,
        data: MatrixRef<'_>,
        centroids: &[f32],
        k: usize,
    ) -> Result<strata_kmeans::Assigned, CoreError> {
        self.with_fallback(|b| strata_kmeans::assign(b, data, centroids, k))
    }

    /// The backend in use, as `segments.json` reports it.
    pub fn report(&self) -> BackendReport {
        BackendReport {
            kind: self.backend.kind().name().into(),
            description: self.backend.describe(),
            reason: self.reason.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without the `gpu` feature `auto` is the CPU and `gpu` an error, both saying why.
    #[cfg(not(feature = "gpu"))]
    #[test]
    fn a_build_without_the_gpu_says_so() {
        let (backend, reason) = choose_backend(BackendChoice::Auto, 10_000_000, 256, 16).unwrap();
        assert_eq!(backend.kind(), strata_compute::BackendKind::Cpu);
        assert!(reason.contains("without GPU support"), "{reason}");
        let Err(e @ CoreError::GpuUnavailable { .. }) =
            choose_backend(BackendChoice::Gpu, 10, 2, 2)
        else {
            panic!("--backend gpu must be refused without the gpu feature");
        };
        let e = e.to_string();
        assert!(
            e.contains("without GPU support") && e.contains("--backend cpu"),
            "{e}"
        );
    }

    /// `auto` keeps narrow or small work on the CPU before it even looks for an adapter, and
    /// says why.
    #[test]
    fn auto_keeps_work_the_gpu_would_not_speed_up_on_the_cpu() {
        let cases = [
            (1_000, 4, 3, "too little work"),
            (10_000_000, 16, 16, "k·d = 256 is under 2048"),
            (2_000_000, 64, 16, "k·d = 1024 is under 2048"),
        ];
        for (n, k, d, why) in cases {
            let (backend, reason) = choose_backend(BackendChoice::Auto, n, k, d).unwrap();
            assert_eq!(
                backend.kind(),
                strata_compute::BackendKind::Cpu,
                "{n} {k} {d}"
            );
            assert!(reason.contains(why), "{reason}");
        }
    }
}
