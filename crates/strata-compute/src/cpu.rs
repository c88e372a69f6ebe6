//! The CPU reference backend: rayon over fixed row chunks, f32 scores with near-ties decided in
//! f64, ordered reduction.
//!
//! Determinism: rows are cut into chunks whose size depends only on (n, k, d), never on the
//! thread count; each chunk accumulates its own partial sums, and the partials are added in
//! chunk order. So 1 thread and 16 threads give bit-identical sums, inertia and labels.

use std::cmp::Ordering;

use rayon::prelude::*;

use crate::{
    Assignments, Backend, BackendKind, BoundData, ComputeError, FarRow, MatrixRef, StepOutput,
    check_centroids, farthest_rows,
};

/// Multi-threaded CPU backend (uses the current rayon pool).
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuBackend;

impl CpuBackend {
    /// The backend; it holds nothing, the threads are rayon's.
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
/// (vectorised); summed in a fixed order, so the result is reproducible. Always inlined, so
/// that it is compiled at the vector width of the kernel that calls it.
#[inline(always)]
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

/// Rows computed together in the distance kernels: each loaded group of centroid coordinates
/// feeds this many rows' accumulators.
const ROWS: usize = 4;

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
    fn new(centroids: &[f32], k: usize, d: usize, lanes: usize) -> Prepared {
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

    /// `dots[r·kp + j] = x_r · c_j` for the rows of `block` with the portable tile; returns
    /// the filled part of `dots`.
    #[inline(always)]
    fn dots<'b>(&self, block: &[f32], d: usize, dots: &'b mut [f32]) -> &'b mut [f32] {
        let dots = &mut dots[..block.len() / d * self.kp];
        if self.lanes == 16 {
            block_dots::<16>(block, &self.ctg, d, self.kp, dots);
        } else {
            block_dots::<8>(block, &self.ctg, d, self.kp, dots);
        }
        dots
    }

    /// Scores of two centroids closer than this (for a row with ‖x‖² = `x_norm`) are too close
    /// to call in f32.
    #[inline(always)]
    fn margin(&self, x_norm: f32) -> f32 {
        self.tie * (x_norm + self.max_norm)
    }
}

/// The f32 decision for one row: the best centroid, or `None` when another centroid's score
/// is within the tie margin (or the scores are not finite) and f64 must decide.
type Pick = Option<u32>;

/// Portable kernel: `dots[r·kp + j] = x_r · c_j` for the rows of `block` (row-major, `d` wide),
/// with centroids in groups of `W`; for every 4 rows and group, 4 × W accumulators gain one
/// multiply-add per feature. Always inlined, so it vectorises at the width of its caller.
#[inline(always)]
fn block_dots<const W: usize>(block: &[f32], ctg: &[f32], d: usize, kp: usize, dots: &mut [f32]) {
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
                        acc[q][l] += xf * c[l];
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
                    acc[l] += xf * c[l];
                }
            }
            dots[r * kp + g * W..r * kp + (g + 1) * W].copy_from_slice(&acc);
        }
    }
}

/// Best score of a row's scores and whether another is within `margin` of it: two passes over
/// fixed-width groups, which the compiler vectorises (no data-dependent branches).
#[inline(always)]
fn best_of<const W: usize>(scores: &[f32], margin: f32) -> Pick {
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
    (near == 1 && first != usize::MAX).then_some(first as u32)
}

/// Portable picks for the rows of `block`.
fn picks_portable(
    block: &[f32],
    x_norms: &[f32],
    prep: &Prepared,
    d: usize,
    dots: &mut [f32],
    picks: &mut [Pick],
) {
    let kp = prep.kp;
    let dots = prep.dots(block, d, dots);
    for ((scores, pick), &xn) in dots.chunks_exact_mut(kp).zip(picks.iter_mut()).zip(x_norms) {
        for (s, &c) in scores.iter_mut().zip(&prep.norms) {
            *s = c - 2.0 * *s;
        }
        let margin = prep.margin(xn);
        *pick = if prep.lanes == 16 {
            best_of::<16>(scores, margin)
        } else {
            best_of::<8>(scores, margin)
        };
    }
}

/// AVX2/FMA picks for the rows of `block`, centroids in groups of 8 (`prep.lanes == 8`).
///
/// Per 4 rows, the scores ‖c‖² − 2x·c of one or two groups are built in 4 × 2 vector
/// accumulators (each centroid load feeds 4 FMAs, each broadcast row value 2) and stored to
/// `scores`; each row's argmin and tie count are then vector min, compare and mask operations
/// over its scores, with no per-centroid branch.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt,bmi1")]
fn picks_avx2(
    block: &[f32],
    x_norms: &[f32],
    prep: &Prepared,
    d: usize,
    scores: &mut [f32],
    picks: &mut [Pick],
) {
    use std::arch::x86_64::*;
    debug_assert_eq!(prep.lanes, 8);
    let kp = prep.kp;
    let groups = kp / 8;
    let n = block.len() / d;
    // Four rows × two groups: 8 accumulators. (Six rows, 12 accumulators, measured slower:
    // blocks of 64 rows do not split into tiles of six.)
    const TILE: usize = 4;
    assert!(scores.len() >= TILE * kp && picks.len() >= n && x_norms.len() >= n);
    assert!(prep.ctg.len() == kp * d && prep.norms.len() == kp);
    let ctg = prep.ctg.as_ptr();
    let two = _mm256_set1_ps(2.0);
    let mut r = 0;
    while r < n {
        // A short last tile repeats its last row; the repeats are computed and ignored.
        let last = n - 1;
        let row_at = |q: usize| {
            let i = (r + q).min(last);
            &block[i * d..(i + 1) * d]
        };
        // Written out: `array::from_fn` here was not inlined and cost 6% of the pass.
        let rows: [&[f32]; TILE] = [row_at(0), row_at(1), row_at(2), row_at(3)];
        let mut g = 0;
        while g < groups {
            let pair = g + 1 < groups;
            // SAFETY: for every f < d, (g·d + f)·8 + 8 ≤ kp·d, and with `pair`
            // ((g + 1)·d + f)·8 + 8 ≤ kp·d (asserted lengths above); the norms reads end at
            // (g + 2)·8 ≤ kp; the score stores end at (q·kp + (g + 2)·8) ≤ TILE·kp.
            unsafe {
                let c0 = ctg.add(g * d * 8);
                let c1 = ctg.add((g + 1).min(groups - 1) * d * 8);
                let mut a0 = [_mm256_setzero_ps(); TILE];
                let mut a1 = [_mm256_setzero_ps(); TILE];
                if pair {
                    for f in 0..d {
                        let v0 = _mm256_loadu_ps(c0.add(f * 8));
                        let v1 = _mm256_loadu_ps(c1.add(f * 8));
                        for q in 0..TILE {
                            let x = _mm256_set1_ps(*rows[q].get_unchecked(f));
                            a0[q] = _mm256_fmadd_ps(x, v0, a0[q]);
                            a1[q] = _mm256_fmadd_ps(x, v1, a1[q]);
                        }
                    }
                } else {
                    for f in 0..d {
                        let v0 = _mm256_loadu_ps(c0.add(f * 8));
                        for q in 0..TILE {
                            let x = _mm256_set1_ps(*rows[q].get_unchecked(f));
                            a0[q] = _mm256_fmadd_ps(x, v0, a0[q]);
                        }
                    }
                }
                let n0 = _mm256_loadu_ps(prep.norms.as_ptr().add(g * 8));
                let s = scores.as_mut_ptr();
                for (q, a) in a0.iter().enumerate() {
                    _mm256_storeu_ps(s.add(q * kp + g * 8), _mm256_fnmadd_ps(two, *a, n0));
                }
                if pair {
                    let n1 = _mm256_loadu_ps(prep.norms.as_ptr().add(g * 8 + 8));
                    for (q, a) in a1.iter().enumerate() {
                        _mm256_storeu_ps(s.add(q * kp + g * 8 + 8), _mm256_fnmadd_ps(two, *a, n1));
                    }
                }
            }
            g += if pair { 2 } else { 1 };
        }
        for q in 0..TILE.min(n - r) {
            let row = &scores[q * kp..(q + 1) * kp];
            // SAFETY: `row` holds `groups` whole groups of 8.
            picks[r + q] = unsafe {
                let p = row.as_ptr();
                let mut m = _mm256_loadu_ps(p);
                for g in 1..groups {
                    m = _mm256_min_ps(m, _mm256_loadu_ps(p.add(g * 8)));
                }
                // Horizontal min: every lane ends up holding the smallest score.
                m = _mm256_min_ps(m, _mm256_permute2f128_ps::<1>(m, m));
                m = _mm256_min_ps(m, _mm256_shuffle_ps::<0b01_00_11_10>(m, m));
                m = _mm256_min_ps(m, _mm256_shuffle_ps::<0b10_11_00_01>(m, m));
                let best = _mm256_cvtss_f32(m);
                let thr = _mm256_set1_ps(best + prep.margin(x_norms[r + q]));
                let (mut near, mut first) = (0u32, u32::MAX);
                for g in 0..groups {
                    let v = _mm256_loadu_ps(p.add(g * 8));
                    near += (_mm256_movemask_ps(_mm256_cmp_ps::<_CMP_LE_OQ>(v, thr)) as u32)
                        .count_ones();
                    let eq = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(v, m)) as u32;
                    if first == u32::MAX && eq != 0 {
                        first = g as u32 * 8 + eq.trailing_zeros();
                    }
                }
                (near == 1 && first != u32::MAX).then_some(first)
            };
        }
        r += TILE;
    }
}

/// Which implementation builds the picks; chosen once per pass from what the CPU runs. Every
/// kernel feeds the same f64 tie check, so the labels do not depend on which one ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Kernel {
    fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("popcnt")
            && std::is_x86_feature_detected!("bmi1")
        {
            return Kernel::Avx2;
        }
        Kernel::Portable
    }

    fn lanes(self, k: usize) -> usize {
        match self {
            // 16 centroids per group (two vector registers) when k > 8.
            Kernel::Portable => {
                if k > 8 {
                    16
                } else {
                    8
                }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => 8,
        }
    }
}

/// What one chunk's pass shares with every other chunk.
struct Pass<'p> {
    centroids: &'p [f32],
    prep: &'p Prepared,
    k: usize,
    d: usize,
    kernel: Kernel,
}

/// One chunk of an assignment pass: labels, distances, and this chunk's partial sums.
///
/// The nearest centroid is found with the f32 score ‖c‖² − 2x·c; when another score is within
/// the score's error bound of the best, the row is decided in f64 instead, so labels are those
/// of an exact f64 comparison whatever the kernel. The distance kept (and added to the
/// inertia) is then computed directly as Σ(x − c)², never from the score.
fn assign_chunk(
    pass: &Pass<'_>,
    rows: &[f32],
    norms: &[f32],
    labels: &mut [u32],
    nearest: &mut [f32],
) -> Partial {
    match pass.kernel {
        Kernel::Portable => assign_chunk_with::<false>(pass, rows, norms, labels, nearest),
        // SAFETY: `Kernel::Avx2` is only chosen after AVX2, FMA, POPCNT and BMI1 were detected.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => unsafe { assign_chunk_avx2(pass, rows, norms, labels, nearest) },
    }
}

/// The chunk loop compiled with AVX2 and FMA enabled, so the direct distance and the block sums
/// are vectorised at that width too.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt,bmi1")]
fn assign_chunk_avx2(
    pass: &Pass<'_>,
    rows: &[f32],
    norms: &[f32],
    labels: &mut [u32],
    nearest: &mut [f32],
) -> Partial {
    assign_chunk_with::<true>(pass, rows, norms, labels, nearest)
}

#[inline(always)]
fn assign_chunk_with<const AVX2: bool>(
    pass: &Pass<'_>,
    rows: &[f32],
    norms: &[f32],
    labels: &mut [u32],
    nearest: &mut [f32],
) -> Partial {
    let Pass {
        centroids,
        prep,
        k,
        d,
        ..
    } = *pass;
    let kp = prep.kp;
    let mut scratch = vec![0f32; BLOCK * kp];
    let mut picks: [Pick; BLOCK] = [None; BLOCK];
    let mut decided = [0u32; BLOCK];
    let mut tally = Tally::new(k, d);
    for (b, block) in rows.chunks(BLOCK * d).enumerate() {
        let n_rows = block.len() / d;
        let x_norms = &norms[b * BLOCK..b * BLOCK + n_rows];
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: only instantiated inside `assign_chunk_avx2`, which runs after the
            // kernel's features were detected.
            unsafe { picks_avx2(block, x_norms, prep, d, &mut scratch, &mut picks) };
        } else {
            picks_portable(block, x_norms, prep, d, &mut scratch, &mut picks);
        }
        #[cfg(not(target_arch = "x86_64"))]
        picks_portable(block, x_norms, prep, d, &mut scratch, &mut picks);
        for (r, pick) in picks[..n_rows].iter().enumerate() {
            decided[r] = match pick {
                _ if k == 1 => 0,
                Some(j) => *j,
                // Too close to call in f32: decide in f64, exactly as the reference does.
                None => nearest_two(&block[r * d..(r + 1) * d], centroids, k, d).0,
            };
        }
        let range = b * BLOCK..b * BLOCK + n_rows;
        tally.block(
            block,
            &decided[..n_rows],
            centroids,
            &mut labels[range.clone()],
            &mut nearest[range],
        );
    }
    tally.finish()
}

/// A chunk's running totals, kept in one fixed order: the kept distance of each row computed
/// directly (f32 terms, [`sq_dist_f32`]), inertia in four f64 accumulators by row index mod 4,
/// centroid sums in f32 within a block of at most 64 rows and f64 across blocks. The CPU pass
/// and [`tally_pass`] (labels decided on a GPU) both go through it, so equal labels give equal
/// bits.
struct Tally {
    p: Partial,
    inertia: [f64; 4],
    block_sums: Vec<f32>,
    d: usize,
}

impl Tally {
    fn new(k: usize, d: usize) -> Tally {
        Tally {
            p: Partial {
                sums: vec![0.0; k * d],
                counts: vec![0; k],
                inertia: 0.0,
                changed: 0,
            },
            inertia: [0.0; 4],
            block_sums: vec![0.0; k * d],
            d,
        }
    }

    /// Adds one block of rows with their new labels `decided`; `labels` holds the previous
    /// pass's labels (changes are counted) and receives the new ones, `nearest` the distances.
    #[inline(always)]
    fn block(
        &mut self,
        block: &[f32],
        decided: &[u32],
        centroids: &[f32],
        labels: &mut [u32],
        nearest: &mut [f32],
    ) {
        let d = self.d;
        self.block_sums.fill(0.0);
        for (r, &label) in decided.iter().enumerate() {
            let row = &block[r * d..(r + 1) * d];
            let j = label as usize;
            // Inlined into the AVX2 copy of the pass, so it vectorises at that width.
            let best = f64::from(sq_dist_f32(row, &centroids[j * d..(j + 1) * d]));
            self.p.changed += u64::from(labels[r] != label);
            labels[r] = label;
            nearest[r] = best as f32;
            self.inertia[r % 4] += best;
            self.p.counts[j] += 1;
            for (s, &x) in self.block_sums[j * d..(j + 1) * d].iter_mut().zip(row) {
                *s += x;
            }
        }
        // f32 within a block of at most 64 rows, f64 across blocks: error ≤ 64·ε relative.
        for (s, &v) in self.p.sums.iter_mut().zip(&self.block_sums) {
            *s += f64::from(v);
        }
    }

    fn finish(mut self) -> Partial {
        let i = self.inertia;
        self.p.inertia = (i[0] + i[1]) + (i[2] + i[3]);
        self.p
    }
}

/// Adds chunk partials in chunk order (never in completion order).
fn reduce(partials: Vec<Partial>, k: usize, d: usize) -> StepOutput {
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
    out
}

/// The sums, counts, inertia and changed rows of a pass whose labels were decided elsewhere
/// (the GPU backend, after re-deciding its near-ties in f64), computed in exactly the CPU
/// pass's chunks and order. Labels equal to the CPU's therefore give bit-equal centroids, so
/// whole fits agree on both backends, not just single passes. `labels` holds the previous
/// pass's labels and receives `decided`; `nearest` receives each row's squared distance.
pub fn tally_pass(
    data: MatrixRef<'_>,
    centroids: &[f32],
    k: usize,
    decided: &[u32],
    labels: &mut [u32],
    nearest: &mut [f32],
) -> Result<StepOutput, ComputeError> {
    let (n, d) = (data.n(), data.d());
    check_centroids(centroids, k, d)?;
    if decided.len() != n || labels.len() != n || nearest.len() != n {
        return Err(ComputeError::Shape(format!(
            "{} labels, {} previous labels and {} distances for {n} rows",
            decided.len(),
            labels.len(),
            nearest.len()
        )));
    }
    let chunk = chunk_rows(n, k, d);
    let partials: Result<Vec<Partial>, ComputeError> = labels
        .par_chunks_mut(chunk)
        .zip(nearest.par_chunks_mut(chunk))
        .enumerate()
        .map(|(c, (labels, nearest))| {
            let start = c * chunk;
            let rows = &data.data()[start * d..(start + labels.len()) * d];
            let decided = &decided[start..start + labels.len()];
            // Checked here, in parallel, rather than in a pass of its own.
            if let Some(bad) = decided.iter().find(|&&l| l as usize >= k) {
                return Err(ComputeError::Shape(format!(
                    "label {bad} with {k} centroids"
                )));
            }
            let mut tally = Tally::new(k, d);
            for (b, block) in rows.chunks(BLOCK * d).enumerate() {
                let range = b * BLOCK..b * BLOCK + block.len() / d;
                tally.block(
                    block,
                    &decided[range.clone()],
                    centroids,
                    &mut labels[range.clone()],
                    &mut nearest[range],
                );
            }
            Ok(tally.finish())
        })
        .collect();
    Ok(reduce(partials?, k, d))
}

/// Exact (f64) distances of each row of `rows` to its centroid `labels[r]` and to its
/// second-nearest centroid. The second is searched only among centroids whose f32 score is
/// within the tie margin of the best other score: the true second-nearest is always among them
/// (its score errs by at most half the margin, as does the best other's), so one or two f64
/// distances per row replace k of them.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn exact_two(
    rows: &[f32],
    x_norms: &[f32],
    labels: &[u32],
    centroids: &[f32],
    (k, d): (usize, usize),
    prep: &Prepared,
    dots: &mut [f32],
    nearest: &mut [f32],
    second: &mut [f32],
) {
    let kp = prep.kp;
    let n = rows.len() / d;
    let dots = prep.dots(rows, d, dots);
    let centroid = |j: usize| &centroids[j * d..(j + 1) * d];
    for r in 0..n {
        let row = &rows[r * d..(r + 1) * d];
        let label = labels[r] as usize;
        nearest[r] = sq_dist_f64(row, centroid(label)) as f32;
        if k < 2 {
            second[r] = f32::INFINITY;
            continue;
        }
        let scores = &dots[r * kp..r * kp + k];
        let score = |j: usize| prep.norms[j] - 2.0 * scores[j];
        let best_other = (0..k)
            .filter(|&j| j != label)
            .map(score)
            .fold(f32::INFINITY, f32::min);
        let limit = best_other + prep.margin(x_norms[r]);
        let exact = (0..k)
            // A NaN score (overflow) is kept: f64 decides it.
            .filter(|&j| j != label && score(j).partial_cmp(&limit) != Some(Ordering::Greater))
            .map(|j| sq_dist_f64(row, centroid(j)))
            .fold(f64::INFINITY, f64::min);
        second[r] = exact as f32;
    }
}

/// [`exact_two`] compiled for AVX2 (its distance tile is most of the final pass).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn exact_two_avx2(
    rows: &[f32],
    x_norms: &[f32],
    labels: &[u32],
    centroids: &[f32],
    shape: (usize, usize),
    prep: &Prepared,
    dots: &mut [f32],
    nearest: &mut [f32],
    second: &mut [f32],
) {
    exact_two(
        rows, x_norms, labels, centroids, shape, prep, dots, nearest, second,
    );
}

impl BoundData for CpuBound<'_> {
    fn step(&mut self, centroids: &[f32], k: usize) -> Result<StepOutput, ComputeError> {
        let data = self.data;
        let (n, d) = (data.n(), data.d());
        check_centroids(centroids, k, d)?;
        let chunk = chunk_rows(n, k, d);
        let kernel = Kernel::detect();
        let prep = Prepared::new(centroids, k, d, kernel.lanes(k));
        let pass = Pass {
            centroids,
            prep: &prep,
            k,
            d,
            kernel,
        };
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
                assign_chunk(&pass, rows, &norms[start..end], labels, nearest)
            })
            .collect();
        self.centroids = centroids.to_vec();
        Ok(reduce(partials, k, d))
    }

    fn assignments(&mut self) -> Result<Assignments, ComputeError> {
        if self.centroids.is_empty() {
            return Err(ComputeError::Shape("no assignment pass has run yet".into()));
        }
        // Once, at the end: exact f64 distances to the nearest and second-nearest centroid.
        let (data, c) = (self.data, &self.centroids);
        let (k, d) = (c.len() / data.d(), data.d());
        let mut nearest = vec![0f32; data.n()];
        let mut second = vec![f32::INFINITY; data.n()];
        let kernel = Kernel::detect();
        let prep = Prepared::new(c, k, d, Kernel::Portable.lanes(k));
        nearest
            .par_chunks_mut(BLOCK)
            .zip(second.par_chunks_mut(BLOCK))
            .enumerate()
            .for_each_init(
                || vec![0f32; BLOCK * prep.kp],
                |dots, (b, (near, sec))| {
                    let start = b * BLOCK;
                    let rows = &data.data()[start * d..(start + near.len()) * d];
                    let (norms, labels) = (
                        &self.norms[start..start + near.len()],
                        &self.labels[start..start + near.len()],
                    );
                    #[cfg(target_arch = "x86_64")]
                    if kernel != Kernel::Portable {
                        // SAFETY: a non-portable kernel is only detected with AVX2 and FMA.
                        unsafe {
                            exact_two_avx2(rows, norms, labels, c, (k, d), &prep, dots, near, sec)
                        };
                        return;
                    }
                    exact_two(rows, norms, labels, c, (k, d), &prep, dots, near, sec);
                },
            );
        Ok(Assignments {
            labels: self.labels.clone(),
            nearest,
            second,
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

    /// What the GPU backend relies on for whole-fit parity: the same labels tallied outside
    /// the pass give the pass's bits, over several chunks, a partial last block, a duplicate
    /// centroid (exact ties) and a second pass whose changed rows are counted against the first.
    #[test]
    fn tally_of_the_pass_labels_gives_the_pass_bits() {
        let (n, d, k) = (9_001, 7, 5);
        let data: Vec<f32> = (0..n * d)
            .map(|i| ((i * 7_919) % 1_013) as f32 * 0.017 - 8.0)
            .collect();
        let m = MatrixRef::new(&data, n, d).unwrap();
        let mut c: Vec<f32> = data[..k * d].to_vec();
        c.copy_within(0..d, d);
        let mut bound = CpuBackend.bind(m).unwrap();
        let mut labels = vec![u32::MAX; n];
        let mut nearest = vec![0f32; n];
        for pass in 0..2 {
            let want = bound.step(&c, k).unwrap();
            let decided = bound.assignments().unwrap().labels;
            let got = tally_pass(m, &c, k, &decided, &mut labels, &mut nearest).unwrap();
            assert_eq!(want.inertia.to_bits(), got.inertia.to_bits(), "pass {pass}");
            assert_eq!(want.sums, got.sums, "pass {pass}");
            assert_eq!(want.counts, got.counts, "pass {pass}");
            assert_eq!(want.changed, got.changed, "pass {pass}");
            assert_eq!(labels, decided);
            let far = bound.farthest(3).unwrap();
            assert_eq!(far, farthest_rows(&labels, &nearest, 3), "pass {pass}");
            // Move towards the means so the second pass changes some labels.
            for (j, centroid) in c.chunks_mut(d).enumerate() {
                let count = want.counts[j].max(1) as f64;
                for (f, v) in centroid.iter_mut().enumerate() {
                    *v = (want.sums[j * d + f] / count) as f32;
                }
            }
        }
        assert!(tally_pass(m, &c, k, &vec![k as u32; n], &mut labels, &mut nearest).is_err());
        assert!(tally_pass(m, &c, k, &[0; 3], &mut labels, &mut nearest).is_err());
    }

    /// Every row the AVX2 kernel decides in f32 gets the label brute force in f64 gives, and
    /// so does every row the portable kernel decides; near-ties are deferred (a duplicate
    /// centroid makes some). Group counts 1 to 9, odd widths.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_picks_match_portable_picks() {
        if Kernel::detect() != Kernel::Avx2 {
            eprintln!("no AVX2 on this CPU: only the portable kernel exists here");
            return;
        }
        for (d, k) in [
            (1, 1),
            (3, 2),
            (16, 8),
            (7, 9),
            (16, 16),
            (5, 17),
            (64, 64),
            (9, 70),
        ] {
            let n = 203;
            let data: Vec<f32> = (0..n * d)
                .map(|i| ((i * 7919 + d) % 613) as f32 / 61.0 - 5.0)
                .collect();
            let mut c: Vec<f32> = data[..k * d].iter().map(|v| v * 0.9 + 0.1).collect();
            if k > 2 {
                // A copy of row 0's nearest centroid: row 0 (at least) is then a tie.
                let j0 = brute(&data[..d], 1, d, &c, k).0[0] as usize;
                let other = (j0 + 1) % k;
                let copy = c[j0 * d..(j0 + 1) * d].to_vec();
                c[other * d..(other + 1) * d].copy_from_slice(&copy);
            }
            let norms: Vec<f32> = data
                .chunks(d)
                .map(|r| r.iter().map(|v| v * v).sum())
                .collect();
            let (p8, p16) = (
                Prepared::new(&c, k, d, 8),
                Prepared::new(&c, k, d, Kernel::Portable.lanes(k)),
            );
            let truth = brute(&data, n, d, &c, k).0;
            let mut scratch = vec![0f32; BLOCK * p8.kp.max(p16.kp)];
            let mut deferred = 0;
            for (b, (block, x_norms)) in data.chunks(BLOCK * d).zip(norms.chunks(BLOCK)).enumerate()
            {
                let m = x_norms.len();
                let (mut fast, mut slow) = ([None; BLOCK], [None; BLOCK]);
                // SAFETY: AVX2, FMA, POPCNT and BMI1 were detected above.
                unsafe { picks_avx2(block, x_norms, &p8, d, &mut scratch, &mut fast) };
                picks_portable(block, x_norms, &p16, d, &mut scratch, &mut slow);
                for r in 0..m {
                    let want = truth[b * BLOCK + r];
                    for pick in [fast[r], slow[r]] {
                        match pick {
                            Some(j) => assert_eq!(j, want, "d={d} k={k} row {}", b * BLOCK + r),
                            None => deferred += 1,
                        }
                    }
                }
            }
            if k > 2 {
                assert!(deferred > 0, "the duplicated centroid should defer row 0");
            }
            // And the labels of a whole pass are those of brute force in f64.
            let m = MatrixRef::new(&data, n, d).unwrap();
            let a = CpuBackend.assign(m, &c, k).unwrap();
            assert_eq!(a.labels, truth, "d={d} k={k}");
        }
    }

    /// The shortcut for the second-nearest distance (f64 only for centroids near the best
    /// other score) gives exactly what computing all k distances in f64 gives, ties included.
    #[test]
    fn nearest_and_second_are_those_of_all_f64_distances() {
        for (d, k) in [(1, 1), (2, 2), (16, 8), (7, 9), (5, 17), (64, 64), (3, 40)] {
            let n = 700;
            let data: Vec<f32> = (0..n * d)
                .map(|i| ((i * 104_729 + 7 * d) % 389) as f32 / 23.0 - 8.0)
                .collect();
            let mut c: Vec<f32> = data[d..(k + 1) * d].iter().map(|v| v * 0.8 - 0.3).collect();
            if k > 3 {
                // Duplicate centroids: equal second distances.
                let copy = c[..d].to_vec();
                c[2 * d..3 * d].copy_from_slice(&copy);
            }
            let m = MatrixRef::new(&data, n, d).unwrap();
            let a = CpuBackend.assign(m, &c, k).unwrap();
            for i in 0..n {
                let (l, near, sec) = nearest_two(m.row(i), &c, k, d);
                assert_eq!(a.labels[i], l, "d={d} k={k} row {i}");
                assert_eq!(a.nearest[i], near as f32, "d={d} k={k} row {i}");
                assert_eq!(a.second[i], sec as f32, "d={d} k={k} row {i}");
            }
        }
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
