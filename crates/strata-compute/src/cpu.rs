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
        // ‖x‖² per row, once per fit: the tie margin needs it on every pass.
        let norms = data
            .data()
            .par_chunks(data.d())
            .map(|r| r.iter().map(|v| v * v).sum())
            .collect();
        Ok(Box::new(CpuBound {
            data,
            norms,
            labels: vec![u32::MAX; n],
            nearest: vec![f32::INFINITY; n],
            centroids: Vec::new(),
        }))
    }
}

struct CpuBound<'a> {
    data: MatrixRef<'a>,
    /// ‖x‖² per row.
    norms: Vec<f32>,
    labels: Vec<u32>,
    nearest: Vec<f32>,
    /// Centroids of the last pass (empty before the first).
    centroids: Vec<f32>,
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

/// Squared Euclidean distance computed directly in f32 with eight independent accumulators
/// (vectorised); summed in a fixed order, so the result is reproducible.
#[inline]
pub fn sq_dist_f32(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let (x, y): (&[f32; LANES], &[f32; LANES]) =
            (x.try_into().expect("exact"), y.try_into().expect("exact"));
        for l in 0..LANES {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    for (l, (x, y)) in ra.iter().zip(rb).enumerate() {
        let t = x - y;
        acc[l] += t * t;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
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

/// Rows per block: the unit of the distance tile and of the f32 sums.
const BLOCK: usize = 64;

/// Centroids per register group in the distance kernel: 16 (two AVX registers, one AVX-512
/// register) when k > 8, else 8.
fn lanes_for(k: usize) -> usize {
    if k > 8 { 16 } else { 8 }
}

/// Centroids laid out for the blocked distance loop.
struct Prepared {
    /// Centroids per group (8 or 16).
    lanes: usize,
    /// k rounded up to a whole number of groups.
    kp: usize,
    /// Grouped and transposed: for each group of `lanes` centroids, for each feature, that
    /// coordinate of the group's centroids (padding centroids are zero).
    ctg: Vec<f32>,
    /// ‖c‖² per centroid; +∞ for padding, so a padding centroid never wins.
    norms: Vec<f32>,
    /// Largest ‖c‖² of a real centroid, for the tie margin.
    max_norm: f32,
    /// Relative gap below which the f32 decision is re-checked in f64.
    tie: f32,
}

impl Prepared {
    fn new(centroids: &[f32], k: usize, d: usize) -> Prepared {
        let lanes = lanes_for(k);
        let kp = k.div_ceil(lanes) * lanes;
        let mut ctg = vec![0f32; kp * d];
        for j in 0..k {
            let (g, l) = (j / lanes, j % lanes);
            for f in 0..d {
                ctg[(g * d + f) * lanes + l] = centroids[j * d + f];
            }
        }
        let mut norms = vec![f32::INFINITY; kp];
        for (j, norm) in norms.iter_mut().enumerate().take(k) {
            *norm = centroids[j * d..(j + 1) * d]
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>() as f32;
        }
        let max_norm = norms[..k].iter().copied().fold(0.0, f32::max);
        // The f32 score ‖c‖² − 2x·c errs by at most about (d + 1)·ε·(‖x‖² + ‖c‖²); four times
        // that is the margin inside which two centroids count as tied.
        Prepared {
            lanes,
            kp,
            ctg,
            norms,
            max_norm,
            tie: 4.0 * (d as f32 + 2.0) * f32::EPSILON,
        }
    }
}

/// Rows computed together in the distance kernel: each loaded group of centroid coordinates
/// feeds this many rows' accumulators.
const ROWS: usize = 4;

/// `dots[r·kp + j] = x_r · c_j` for the rows of `block` (row-major, `d` wide), with centroids
/// in groups of `W`. For every 4 rows and group, 4 × W accumulators stay in vector registers and
/// gain one fused multiply-add per feature.
#[inline(always)]
fn block_dots<const FMA: bool, const W: usize>(
    block: &[f32],
    ctg: &[f32],
    d: usize,
    kp: usize,
    dots: &mut [f32],
) {
    let fma = |x: f32, c: f32, a: f32| if FMA { x.mul_add(c, a) } else { a + x * c };
    let n = block.len() / d;
    let mut r = 0;
    while r + ROWS <= n {
        let rows: [&[f32]; ROWS] = std::array::from_fn(|q| &block[(r + q) * d..(r + q + 1) * d]);
        for (g, group) in ctg.chunks_exact(d * W).enumerate() {
            let mut acc = [[0f32; W]; ROWS];
            for (f, c) in group.chunks_exact(W).enumerate() {
                let c: &[f32; W] = c.try_into().expect("exact chunk");
                for q in 0..ROWS {
                    let xf = rows[q][f];
                    for l in 0..W {
                        acc[q][l] = fma(xf, c[l], acc[q][l]);
                    }
                }
            }
            for (q, a) in acc.iter().enumerate() {
                let o = (r + q) * kp + g * W;
                dots[o..o + W].copy_from_slice(a);
            }
        }
        r += ROWS;
    }
    for r in r..n {
        let row = &block[r * d..(r + 1) * d];
        for (g, group) in ctg.chunks_exact(d * W).enumerate() {
            let mut acc = [0f32; W];
            for (&xf, c) in row.iter().zip(group.chunks_exact(W)) {
                let c: &[f32; W] = c.try_into().expect("exact chunk");
                for l in 0..W {
                    acc[l] = fma(xf, c[l], acc[l]);
                }
            }
            dots[r * kp + g * W..r * kp + (g + 1) * W].copy_from_slice(&acc);
        }
    }
}

type DotsFn = fn(&[f32], &[f32], usize, usize, &mut [f32]);

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn block_dots_avx2<const W: usize>(
    block: &[f32],
    ctg: &[f32],
    d: usize,
    kp: usize,
    dots: &mut [f32],
) {
    block_dots::<true, W>(block, ctg, d, kp, dots);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn block_dots_avx512<const W: usize>(
    block: &[f32],
    ctg: &[f32],
    d: usize,
    kp: usize,
    dots: &mut [f32],
) {
    block_dots::<true, W>(block, ctg, d, kp, dots);
}

/// Picks the widest kernel this CPU runs for groups of `lanes`. Every kernel feeds the same
/// f64 tie check, so the labels do not depend on which one ran.
fn dots_fn(lanes: usize) -> DotsFn {
    #[cfg(target_arch = "x86_64")]
    {
        let fma = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        if fma && std::is_x86_feature_detected!("avx512f") && lanes == 16 {
            // SAFETY: AVX-512F, AVX2 and FMA were detected on this CPU just above.
            return |b, c, d, kp, o| unsafe { block_dots_avx512::<16>(b, c, d, kp, o) };
        }
        if fma {
            return if lanes == 16 {
                // SAFETY: AVX2 and FMA were detected on this CPU just above.
                |b, c, d, kp, o| unsafe { block_dots_avx2::<16>(b, c, d, kp, o) }
            } else {
                // SAFETY: as above.
                |b, c, d, kp, o| unsafe { block_dots_avx2::<8>(b, c, d, kp, o) }
            };
        }
    }
    if lanes == 16 {
        block_dots::<false, 16>
    } else {
        block_dots::<false, 8>
    }
}

/// Best score of a row's scores and whether another is within `margin` of it: two passes over
/// fixed-width groups, which the compiler vectorises (no data-dependent branches).
#[inline(always)]
fn best_of<const W: usize>(scores: &[f32], margin: f32) -> (usize, f32, bool) {
    let mut mins = [f32::INFINITY; W];
    for group in scores.chunks_exact(W) {
        for l in 0..W {
            mins[l] = mins[l].min(group[l]);
        }
    }
    let best = mins.iter().copied().fold(f32::INFINITY, f32::min);
    let (mut near, mut first) = (0u32, usize::MAX);
    for (j, &s) in scores.iter().enumerate() {
        near += u32::from(s <= best + margin);
        if s == best && first == usize::MAX {
            first = j;
        }
    }
    (first, best, near > 1)
}

/// One chunk of an assignment pass: labels, distances, and this chunk's partial sums.
///
/// The nearest centroid is found with the f32 score ‖c‖² − 2x·c from the blocked kernel; when
/// another score is within the score's error bound of the best, the row is decided in f64
/// instead, so labels are those of an exact f64 comparison whatever the kernel. The distance
/// kept (and added to the inertia) is then computed directly as Σ(x − c)², never from the score.
#[allow(clippy::too_many_arguments)]
fn assign_chunk(
    rows: &[f32],
    norms: &[f32],
    centroids: &[f32],
    prep: &Prepared,
    k: usize,
    d: usize,
    labels: &mut [u32],
    nearest: &mut [f32],
    dots_of: DotsFn,
) -> Partial {
    let mut p = Partial {
        sums: vec![0.0; k * d],
        counts: vec![0; k],
        inertia: 0.0,
        changed: 0,
    };
    let kp = prep.kp;
    let mut dots = vec![0f32; BLOCK * kp];
    let mut block_sums = vec![0f32; k * d];
    for (b, block) in rows.chunks(BLOCK * d).enumerate() {
        let n_rows = block.len() / d;
        dots_of(block, &prep.ctg, d, kp, &mut dots[..n_rows * kp]);
        block_sums.fill(0.0);
        for r in 0..n_rows {
            let i = b * BLOCK + r;
            let row = &block[r * d..(r + 1) * d];
            let scores = &mut dots[r * kp..(r + 1) * kp];
            for (s, &c) in scores.iter_mut().zip(&prep.norms) {
                *s = c - 2.0 * *s;
            }
            let margin = prep.tie * (norms[i] + prep.max_norm);
            let (bj, _, tied) = if prep.lanes == 16 {
                best_of::<16>(scores, margin)
            } else {
                best_of::<8>(scores, margin)
            };
            let (label, best) = if k > 1 && tied {
                // Too close to call in f32: decide in f64, exactly as the reference does.
                let (l, b, _) = nearest_two(row, centroids, k, d);
                (l, b)
            } else {
                (
                    bj as u32,
                    f64::from(sq_dist_f32(row, &centroids[bj * d..(bj + 1) * d])),
                )
            };
            if labels[i] != label {
                p.changed += 1;
            }
            labels[i] = label;
            nearest[i] = best as f32;
            p.inertia += best;
            p.counts[label as usize] += 1;
            for (s, &x) in block_sums[label as usize * d..(label as usize + 1) * d]
                .iter_mut()
                .zip(row)
            {
                *s += x;
            }
        }
        // f32 within a block of at most 64 rows, f64 across blocks: error ≤ 64·ε relative.
        for (s, &v) in p.sums.iter_mut().zip(&block_sums) {
            *s += f64::from(v);
        }
    }
    p
}

impl BoundData for CpuBound<'_> {
    fn step(&mut self, centroids: &[f32], k: usize) -> Result<StepOutput, ComputeError> {
        let data = self.data;
        let (n, d) = (data.n(), data.d());
        check_centroids(centroids, k, d)?;
        let chunk = chunk_rows(n, k, d);
        let prep = Prepared::new(centroids, k, d);
        let dots_of = dots_fn(prep.lanes);
        let norms = &self.norms;
        let partials: Vec<Partial> = self
            .labels
            .par_chunks_mut(chunk)
            .zip(self.nearest.par_chunks_mut(chunk))
            .enumerate()
            .map(|(c, (labels, nearest))| {
                let start = c * chunk;
                let end = start + labels.len();
                let rows = &data.data()[start * d..end * d];
                assign_chunk(
                    rows,
                    &norms[start..end],
                    centroids,
                    &prep,
                    k,
                    d,
                    labels,
                    nearest,
                    dots_of,
                )
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
        self.centroids = centroids.to_vec();
        Ok(out)
    }

    fn assignments(&mut self) -> Result<Assignments, ComputeError> {
        if self.centroids.is_empty() {
            return Err(ComputeError::Shape("no assignment pass has run yet".into()));
        }
        // Once, at the end: exact f64 distances to the nearest and second-nearest centroid.
        let (data, c) = (self.data, &self.centroids);
        let (k, d) = (c.len() / data.d(), data.d());
        let exact: Vec<(u32, f64, f64)> = (0..data.n())
            .into_par_iter()
            .map(|i| nearest_two(data.row(i), c, k, d))
            .collect();
        debug_assert!(exact.iter().zip(&self.labels).all(|(e, &l)| e.0 == l));
        Ok(Assignments {
            labels: self.labels.clone(),
            nearest: exact.iter().map(|e| e.1 as f32).collect(),
            second: exact.iter().map(|e| e.2 as f32).collect(),
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
