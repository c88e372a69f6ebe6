//! Lloyd iterations from given centroids, for the peer benchmark (`bench/run.sh`):
//! `lloyd_fixed DATA.f32 N D INIT.f32 K ITERS [cpu|gpu]`. The files hold little-endian f32,
//! row-major. Prints one JSON line: iterations, seconds, ms per iteration, final inertia.

#![allow(
    clippy::unwrap_used,
    reason = "a measuring tool: a failure stops it where it happened"
)]

use std::time::Instant;

use strata_compute::{Backend, CpuBackend, MatrixRef};
use strata_kmeans::{Init, KMeansParams, Silent};

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
    let backend: Box<dyn Backend> = match a.get(6).map(String::as_str) {
        Some("gpu") => {
            Box::new(strata_gpu::GpuBackend::new(Default::default()).expect("a GPU adapter"))
        }
        _ => Box::new(CpuBackend::new()),
    };
    let params = KMeansParams::new(k)
        .init(Init::Centroids(init))
        .max_iter(iters)
        .tol(0.0)
        .check()
        .unwrap();
    let m = MatrixRef::new(&data, n, d).unwrap();
    let t = Instant::now();
    let fit = strata_kmeans::fit(&params, backend.as_ref(), m, &mut Silent).unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{{\"iterations\": {}, \"seconds\": {secs:.6}, \"ms_per_iter\": {:.4}, \"inertia\": {:.10e}, \"backend\": \"{}\"}}",
        fit.iterations,
        secs * 1e3 / fit.iterations as f64,
        fit.inertia,
        backend.describe()
    );
}
