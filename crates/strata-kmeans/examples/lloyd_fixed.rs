//! Lloyd iterations from given centroids, for the peer benchmark (`bench/run.sh`):
//! `lloyd_fixed DATA.f32 N D INIT.f32 K ITERS [cpu|gpu] [auto|hamerly|yinyang|off]`. The files
//! hold little-endian f32, row-major; the last argument forces the CPU's bounds (default: the
//! backend's own choice). Prints one JSON line: iterations, seconds, ms per iteration, final
//! inertia, the bounds used and the share of rows and of n·k distances the steps after the
//! first computed, `steps_ms`, the wall time of each Lloyd step (pass and update) as the
//! observer saw it, and on the GPU `gpu_passes`: passes summed on the device and tallied on
//! the host.

#![allow(
    clippy::unwrap_used,
    reason = "a measuring tool: a failure stops it where it happened"
)]

use std::time::Instant;

use strata_compute::cpu::Pruning;
use strata_compute::{Backend, BackendKind, BoundData, ComputeError, CpuBackend, MatrixRef};
use strata_kmeans::{Init, KMeansParams, Observer};

/// Times each Lloyd step: the gap between consecutive `iteration` calls (the first from the
/// start of the run).
struct Steps {
    last: Instant,
    ms: Vec<f64>,
}

impl Observer for Steps {
    fn run_started(&mut self, _run: usize, _runs: usize) {
        self.last = Instant::now();
    }
    fn iteration(&mut self, _run: usize, _iteration: usize, _inertia: f64, _shift: f64) {
        let now = Instant::now();
        self.ms.push((now - self.last).as_secs_f64() * 1e3);
        self.last = now;
    }
}

/// The CPU backend with its bounds forced.
struct Forced(Pruning);

impl Backend for Forced {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }
    fn describe(&self) -> String {
        CpuBackend.describe()
    }
    fn bind<'a>(&'a self, data: MatrixRef<'a>) -> Result<Box<dyn BoundData + 'a>, ComputeError> {
        Ok(CpuBackend.bind_with(data, self.0))
    }
}

fn read_f32(path: &str, len: usize) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(bytes.len(), len * 4, "{path}: expected {len} f32 values");
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| a[i].parse::<usize>().expect("a number");
    let (n, d, k, iters) = (num(1), num(2), num(4), num(5));
    let data = read_f32(&a[0], n * d);
    let init = read_f32(&a[3], k * d);
    let gpu = (a.get(6).map(String::as_str) == Some("gpu"))
        .then(|| strata_gpu::GpuBackend::new(Default::default()).expect("a GPU adapter"));
    let pruning = match a.get(7).map(String::as_str) {
        None | Some("auto") => Pruning::Auto,
        Some("hamerly") => Pruning::Hamerly,
        Some("yinyang") => Pruning::Yinyang,
        Some("off") => Pruning::Off,
        Some(other) => panic!("bounds: auto, hamerly, yinyang or off, not {other}"),
    };
    let cpu = Forced(pruning);
    let backend: &dyn Backend = match &gpu {
        Some(g) => g,
        None => &cpu,
    };
    let params = KMeansParams::new(k)
        .init(Init::Centroids(init))
        .max_iter(iters)
        .tol(0.0)
        .check()
        .unwrap();
    let m = MatrixRef::new(&data, n, d).unwrap();
    let mut steps = Steps {
        last: Instant::now(),
        ms: Vec::new(),
    };
    let t = Instant::now();
    let fit = strata_kmeans::fit(&params, backend, m, &mut steps).unwrap();
    let secs = t.elapsed().as_secs_f64();
    // The share of rows the Lloyd passes after the first searched among all k centroids.
    let run = &fit.runs[fit.best_run];
    let later = run.searched.get(1..).unwrap_or(&[]);
    let searched_share = if later.is_empty() {
        1.0
    } else {
        later.iter().sum::<u64>() as f64 / (later.len() * n) as f64
    };
    let distance_share = run.distance_share(n, k).unwrap_or(1.0);
    let bounds = run.bounds.as_deref().unwrap_or("none");
    // On the GPU: passes whose sums were reduced on the device, and tallied on the host.
    let passes = gpu.as_ref().map_or("null".to_owned(), |g| {
        let p = g.passes();
        format!(
            "{{\"device\": {}, \"host\": {}, \"overflowed\": {}}}",
            p.device, p.host, p.overflowed
        )
    });
    let kernel = backend.describe();
    let kernel = kernel
        .split(", ")
        .nth(1)
        .map_or("gpu", |k| k.trim_end_matches(')'));
    println!(
        "{{\"iterations\": {}, \"seconds\": {secs:.6}, \"ms_per_iter\": {:.4}, \"inertia\": {:.10e}, \"backend\": \"{}\", \"kernel\": \"{kernel}\", \"searched_share\": {searched_share:.4}, \"distance_share\": {distance_share:.4}, \"bounds\": \"{bounds}\", \"gpu_passes\": {passes}, \"steps_ms\": [{}]}}",
        fit.iterations,
        secs * 1e3 / fit.iterations as f64,
        fit.inertia,
        backend.describe(),
        steps
            .ms
            .iter()
            .map(|v| format!("{v:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
