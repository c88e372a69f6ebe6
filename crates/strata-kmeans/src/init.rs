//! Greedy k-means++ seeding (Arthur & Vassilvitskii 2007; the greedy variant scikit-learn uses).

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use rayon::prelude::*;
use strata_compute::MatrixRef;
use strata_compute::cpu::sq_dist_f64;

/// Rows per chunk for the sampling sums; fixed so results do not depend on threads.
const CHUNK: usize = 4096;

/// A uniform f64 in [0, 1) from 53 random bits.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform index below `n` (Lemire's multiply-shift; bias under 2⁻⁶⁴·n).
fn index(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// Per-chunk sums of `v`, in chunk order.
fn chunk_sums(v: &[f64]) -> Vec<f64> {
    v.par_chunks(CHUNK).map(|c| c.iter().sum::<f64>()).collect()
}

/// The row where the running sum of `weights` first exceeds `target`.
fn sample(weights: &[f64], sums: &[f64], target: f64) -> usize {
    let mut acc = 0.0;
    for (c, &s) in sums.iter().enumerate() {
        if acc + s > target {
            let start = c * CHUNK;
            for (i, &w) in weights[start..(start + CHUNK).min(weights.len())]
                .iter()
                .enumerate()
            {
                acc += w;
                if acc > target {
                    return start + i;
                }
            }
            return (start + CHUNK).min(weights.len()) - 1;
        }
        acc += s;
    }
    // Rounding left the target past the end: take the last row with weight.
    weights
        .iter()
        .rposition(|&w| w > 0.0)
        .unwrap_or(weights.len() - 1)
}

/// Picks `k` starting centroids from the rows of `data`.
pub fn kmeans_plus_plus(data: MatrixRef<'_>, k: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let (n, d) = (data.n(), data.d());
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centroids = Vec::with_capacity(k * d);
    let first = index(rng, n);
    centroids.extend_from_slice(data.row(first));
    let mut closest: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| sq_dist_f64(data.row(i), data.row(first)))
        .collect();
    for _ in 1..k {
        let sums = chunk_sums(&closest);
        let potential: f64 = sums.iter().sum();
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                if potential > 0.0 {
                    sample(&closest, &sums, unit(rng) * potential)
                } else {
                    index(rng, n)
                }
            })
            .collect();
        // The candidate that lowers the potential most wins; ties go to the earlier draw.
        let mut best = (candidates[0], f64::INFINITY);
        for &c in &candidates {
            let cand = data.row(c);
            let pot: f64 = closest
                .par_chunks(CHUNK)
                .enumerate()
                .map(|(ci, chunk)| {
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(i, &old)| old.min(sq_dist_f64(data.row(ci * CHUNK + i), cand)))
                        .sum::<f64>()
                })
                .collect::<Vec<f64>>()
                .iter()
                .sum();
            if pot < best.1 {
                best = (c, pot);
            }
        }
        let chosen = data.row(best.0);
        closest.par_iter_mut().enumerate().for_each(|(i, old)| {
            *old = old.min(sq_dist_f64(data.row(i), chosen));
        });
        centroids.extend_from_slice(chosen);
    }
    centroids
}
