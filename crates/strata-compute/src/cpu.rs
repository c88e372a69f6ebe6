//! The CPU reference backend: rayon over fixed row chunks, f64 distances, ordered reduction.
//!
//! Determinism: rows are cut into chunks whose size depends only on (n, k, d), never on the
//! thread count; each chunk accumulates its own partial sums, and the partials are added in
//! chunk order. So 1 thread and 16 threads give bit-identical sums, inertia and labels.

use rayon::prelude::*;

use crate::{
    Assignments, Backend, BackendKind, BoundData, ComputeError, FarRow, MatrixRef, StepOutput,
    check_centroids, farthest_rows,
};

/// Multi-threaded CPU backend (uses the current rayon pool).
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuBackend;

impl CpuBackend {
    pub fn new() -> CpuBackend {
        CpuBackend
    }
}

impl Backend for CpuBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }

    fn describe(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }

    fn bind<'a>(&'a self, data: MatrixRef<'a>) -> Result<Box<dyn BoundData + 'a>, ComputeError> {
        let n = data.n();
        Ok(Box::new(CpuBound {
            data,
            labels: vec![u32::MAX; n],
            nearest: vec![f32::INFINITY; n],
            second: vec![f32::INFINITY; n],
            stepped: false,
        }))
    }
}

struct CpuBound<'a> {
    data: MatrixRef<'a>,
    labels: Vec<u32>,
    nearest: Vec<f32>,
    second: Vec<f32>,
    stepped: bool,
}

/// Rows per chunk: a fixed function of the shape, so the reduction order never depends on
/// threads. Chunks are at least 2048 rows; their partial sums are capped near 64 MiB in all.
pub fn chunk_rows(n: usize, k: usize, d: usize) -> usize {
    const MIN_ROWS: usize = 2048;
    const PARTIAL_BYTES: usize = 64 << 20;
    let per_partial = (k * d * 8 + k * 8).max(1);
    let max_chunks = (PARTIAL_BYTES / per_partial).clamp(16, 1024);
    n.div_ceil(max_chunks).max(MIN_ROWS)
}

/// Squared Euclidean distance in f64 over f32 inputs.
#[inline]
pub fn sq_dist_f64(a: &[f32], b: &[f32]) -> f64 {
    // Four accumulators break the dependency chain; the order is fixed, so results are too.
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for j in 0..4 {
            let t = f64::from(x[j]) - f64::from(y[j]);
            acc[j] += t * t;
        }
    }
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        let t = f64::from(*x) - f64::from(*y);
        acc[0] += t * t;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Nearest and second-nearest centroid of one row: (label, nearest², second²).
#[inline]
pub fn nearest_two(row: &[f32], centroids: &[f32], k: usize, d: usize) -> (u32, f64, f64) {
    let mut best = (0u32, f64::INFINITY);
    let mut second = f64::INFINITY;
    for j in 0..k {
        let dist = sq_dist_f64(row, &centroids[j * d..(j + 1) * d]);
        if dist < best.1 {
            second = best.1;
            best = (j as u32, dist);
        } else if dist < second {
            second = dist;
        }
    }
    (best.0, best.1, second)
}

struct Partial {
    sums: Vec<f64>,
    counts: Vec<u64>,
    inertia: f64,
    changed: u64,
}

impl BoundData for CpuBound<'_> {
    fn step(&mut self, centroids: &[f32], k: usize) -> Result<StepOutput, ComputeError> {
        let data = self.data;
        let (n, d) = (data.n(), data.d());
        check_centroids(centroids, k, d)?;
        let chunk = chunk_rows(n, k, d);
        let partials: Vec<Partial> = self
            .labels
            .par_chunks_mut(chunk)
            .zip(self.nearest.par_chunks_mut(chunk))
            .zip(self.second.par_chunks_mut(chunk))
            .enumerate()
            .map(|(c, ((labels, nearest), second))| {
                let start = c * chunk;
                let mut p = Partial {
                    sums: vec![0.0; k * d],
                    counts: vec![0; k],
                    inertia: 0.0,
                    changed: 0,
                };
                for i in 0..labels.len() {
                    let row = data.row(start + i);
                    let (label, best, next) = nearest_two(row, centroids, k, d);
                    if labels[i] != label {
                        p.changed += 1;
                    }
                    labels[i] = label;
                    nearest[i] = best as f32;
                    second[i] = next as f32;
                    p.inertia += best;
                    p.counts[label as usize] += 1;
                    let sum = &mut p.sums[label as usize * d..(label as usize + 1) * d];
                    for (s, &x) in sum.iter_mut().zip(row) {
                        *s += f64::from(x);
                    }
                }
                p
            })
            .collect();
        let mut out = StepOutput {
            sums: vec![0.0; k * d],
            counts: vec![0; k],
            inertia: 0.0,
            changed: 0,
        };
        for p in partials {
            for (s, v) in out.sums.iter_mut().zip(&p.sums) {
                *s += v;
            }
            for (c, v) in out.counts.iter_mut().zip(&p.counts) {
                *c += v;
            }
            out.inertia += p.inertia;
            out.changed += p.changed;
        }
        self.stepped = true;
        Ok(out)
    }

    fn assignments(&mut self) -> Result<Assignments, ComputeError> {
        if !self.stepped {
            return Err(ComputeError::Shape("no assignment pass has run yet".into()));
        }
        Ok(Assignments {
            labels: self.labels.clone(),
            nearest: self.nearest.clone(),
            second: self.second.clone(),
            redecided: 0,
        })
    }

    fn farthest(&mut self, count: usize) -> Result<Vec<FarRow>, ComputeError> {
        Ok(farthest_rows(&self.labels, &self.nearest, count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(data: &[f32], n: usize, d: usize, c: &[f32], k: usize) -> (Vec<u32>, f64) {
        let mut labels = Vec::new();
        let mut inertia = 0.0;
        for i in 0..n {
            let row = &data[i * d..(i + 1) * d];
            let mut best = (0, f64::INFINITY);
            for j in 0..k {
                let dist: f64 = row
                    .iter()
                    .zip(&c[j * d..(j + 1) * d])
                    .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                    .sum();
                if dist < best.1 {
                    best = (j as u32, dist);
                }
            }
            labels.push(best.0);
            inertia += best.1;
        }
        (labels, inertia)
    }

    #[test]
    fn small_case_by_hand() {
        // Rows 0,1 near (0,0); rows 2,3 near (10,10).
        let data = [0.0, 0.0, 1.0, 0.0, 10.0, 10.0, 10.0, 11.0];
        let m = MatrixRef::new(&data, 4, 2).unwrap();
        let centroids = [0.0, 0.0, 10.0, 10.0];
        let backend = CpuBackend::new();
        let mut bound = backend.bind(m).unwrap();
        let out = bound.step(&centroids, 2).unwrap();
        assert_eq!(out.counts, vec![2, 2]);
        assert_eq!(out.sums, vec![1.0, 0.0, 20.0, 21.0]);
        assert_eq!(out.inertia, 2.0);
        assert_eq!(out.changed, 4);
        let a = bound.assignments().unwrap();
        assert_eq!(a.labels, vec![0, 0, 1, 1]);
        assert_eq!(a.nearest, vec![0.0, 1.0, 0.0, 1.0]);
        assert_eq!(a.second, vec![200.0, 181.0, 200.0, 221.0]);
        // Same centroids again: nothing changes.
        assert_eq!(bound.step(&centroids, 2).unwrap().changed, 0);
        let far = bound.farthest(2).unwrap();
        assert_eq!(far.iter().map(|f| f.row).collect::<Vec<_>>(), vec![1, 3]);
    }

    #[test]
    fn ties_go_to_the_lowest_index() {
        let data = [5.0f32, 0.0];
        let m = MatrixRef::new(&data, 1, 2).unwrap();
        let a = CpuBackend.assign(m, &[0.0, 0.0, 10.0, 0.0], 2).unwrap();
        assert_eq!(a.labels, vec![0]);
    }

    #[test]
    fn matches_brute_force_across_chunks_and_odd_widths() {
        let (n, d, k) = (5000, 7, 5);
        let data: Vec<f32> = (0..n * d)
            .map(|i| ((i * 7919) % 1000) as f32 / 37.0)
            .collect();
        let c: Vec<f32> = data[..k * d].iter().map(|v| v + 0.5).collect();
        let m = MatrixRef::new(&data, n, d).unwrap();
        let a = CpuBackend.assign(m, &c, k).unwrap();
        let (labels, inertia) = brute(&data, n, d, &c, k);
        assert_eq!(a.labels, labels);
        let total: f64 = a.nearest.iter().map(|&x| f64::from(x)).sum();
        assert!((total - inertia).abs() / inertia < 1e-6);
    }

    #[test]
    fn same_bits_on_one_and_two_threads() {
        let (n, d, k) = (20_000, 5, 4);
        let data: Vec<f32> = (0..n * d)
            .map(|i| ((i * 104_729) % 977) as f32 * 0.013)
            .collect();
        let c: Vec<f32> = data[..k * d].to_vec();
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let m = MatrixRef::new(&data, n, d).unwrap();
                let mut b = CpuBackend.bind(m).unwrap();
                b.step(&c, k).unwrap()
            })
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(one.inertia.to_bits(), two.inertia.to_bits());
        assert_eq!(one.sums, two.sums);
        assert_eq!(one.counts, two.counts);
    }

    #[test]
    fn rejects_bad_centroids() {
        let data = [0.0f32; 4];
        let m = MatrixRef::new(&data, 2, 2).unwrap();
        assert!(matches!(
            CpuBackend.assign(m, &[0.0, f32::NAN], 1),
            Err(ComputeError::NonFiniteCentroid { index: 0 })
        ));
        assert!(matches!(
            CpuBackend.assign(m, &[0.0; 3], 1),
            Err(ComputeError::Shape(_))
        ));
        assert!(MatrixRef::new(&data, 3, 2).is_err());
    }
}
