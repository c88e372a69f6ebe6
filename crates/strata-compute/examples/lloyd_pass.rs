//! Times Lloyd assignment passes on random data: `cargo run --release -p strata-compute
//! --example lloyd_pass -- N D K [PASSES]`. Prints the median time per pass (ms) and the floor
//! given by reading the matrix once at the memory bandwidth passed in `STRATA_BW_GBS` (default
//! 27, this machine kind's measured copy bandwidth). Used to keep `bench/NOTES.md`.

#![allow(
    clippy::unwrap_used,
    reason = "a measuring tool: a failure stops it where it happened"
)]

use std::time::Instant;

use strata_compute::{Backend, CpuBackend, MatrixRef};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let (n, d, k) = (args[0], args[1], args[2]);
    let passes = args.get(3).copied().unwrap_or(20);
    // A cheap deterministic generator: no dependency, same data every run.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 10.0 - 5.0
    };
    let data: Vec<f32> = (0..n * d).map(|_| next()).collect();
    let centroids: Vec<f32> = data[..k * d].to_vec();
    let m = MatrixRef::new(&data, n, d).unwrap();
    let mut bound = CpuBackend.bind(m).unwrap();
    let mut times = Vec::new();
    let mut inertia = 0.0;
    for _ in 0..passes {
        let t = Instant::now();
        inertia = bound.step(&centroids, k).unwrap().inertia;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let bw: f64 = std::env::var("STRATA_BW_GBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(27.0);
    let floor = (n * d * 4) as f64 / (bw * 1e9) * 1e3;
    println!(
        "n={n} d={d} k={k} threads={} median {:.2} ms/pass (min {:.2}), floor {:.2} ms, ratio {:.1}, inertia {inertia:.6e}",
        rayon::current_num_threads(),
        times[times.len() / 2],
        times[0],
        floor,
        times[times.len() / 2] / floor
    );
}
