//! The CPU reference backend: rayon over fixed row chunks, f32 scores with near-ties decided in
//! f64, ordered reduction.
//!
//! Determinism: rows are cut into chunks whose size depends only on (n, k, d), never on the
//! thread count; each chunk keeps its own inertia, and those are added in chunk order. The sums
//! are exact integers on a fixed-point grid ([`crate::fixed`]), added per thread in whatever
//! order the threads take the chunks: integer addition gives the same totals in any order. So
//! 1 thread and 16 threads give bit-identical sums, inertia and labels.

use std::cmp::Ordering;

use rayon::prelude::*;

mod yinyang;

use crate::fixed::FixedScale;
use crate::{
    Assignments, Backend, BackendKind, BoundData, Bounds, ComputeError, FarRow, MatrixRef,
    StepOutput, check_centroids, farthest_rows,
};

/// Multi-threaded CPU backend (uses the current rayon pool).
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuBackend;

impl CpuBackend {
    /// The backend; it holds nothing, the threads are rayon's.
    pub fn new() -> CpuBackend {
        CpuBackend
    }

    /// [`Backend::bind`] with the bounds chosen by the caller instead of
    /// [`Pruning::Auto`]'s rule: for measuring which bounds pay at which shape (the bench's
    /// `lloyd_fixed`). Every choice gives the same labels and sums.
    pub fn bind_with<'a>(&self, data: MatrixRef<'a>, pruning: Pruning) -> Box<dyn BoundData + 'a> {
        Box::new(CpuBound::new(data, pruning, Kernel::detect()))
    }
}

impl Backend for CpuBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }

    fn describe(&self) -> String {
        format!(
            "cpu ({} threads, {})",
            rayon::current_num_threads(),
            Kernel::detect().name()
        )
    }

    fn bind<'a>(&'a self, data: MatrixRef<'a>) -> Result<Box<dyn BoundData + 'a>, ComputeError> {
        Ok(Box::new(CpuBound::new(
            data,
            Pruning::Auto,
            Kernel::detect(),
        )))
    }
}

/// Which bounds the CPU's Lloyd passes keep to skip rows and distances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pruning {
    /// Every row searched among all k (tests: bounds change nothing).
    Off,
    /// Hamerly's: one lower bound a row.
    Hamerly,
    /// Yinyang's group bounds (beside Hamerly's) wherever there are at least two groups.
    Yinyang,
    /// The backend's choice: Hamerly's at every shape, since Yinyang's measured slower at
    /// every shape tried (`cpu/yinyang.rs`, bench/NOTES.md).
    Auto,
}

impl Pruning {
    /// Group bounds a row keeps besides Hamerly's for k centroids in groups of `lanes`, d
    /// features: none, or one per group with Yinyang's bounds.
    fn groups(self, k: usize, d: usize, lanes: usize) -> usize {
        let t = k.div_ceil(lanes);
        match self {
            // At most max(d, 16) bounds a row, so they never take much more than the matrix.
            Pruning::Yinyang if t >= 2 && t <= d.max(16) => t,
            _ => 0,
        }
    }
}

impl CpuBound<'_> {
    fn new(data: MatrixRef<'_>, pruning: Pruning, kernel: Kernel) -> CpuBound<'_> {
        let n = data.n();
        let norms = row_norms(data);
        let ledger = Ledger::new(Scales::new(data, &norms));
        CpuBound {
            data,
            norms,
            ledger,
            labels: vec![u32::MAX; n],
            nearest: vec![f32::INFINITY; n],
            nearest_fresh: false,
            upper: vec![f32::INFINITY; n],
            lower: vec![0.0; n],
            groups: Vec::new(),
            drift_sums: Vec::new(),
            centroids: Vec::new(),
            pruning,
            order: Vec::new(),
            kernel,
        }
    }
}

struct CpuBound<'a> {
    data: MatrixRef<'a>,
    /// ‖x‖² per row.
    norms: Vec<f32>,
    /// Exact totals of the current labels.
    ledger: Ledger,
    labels: Vec<u32>,
    /// Squared distance of each row to its centroid; only `nearest_fresh` after an exhaustive
    /// pass (a bounded pass does not read settled rows).
    nearest: Vec<f32>,
    nearest_fresh: bool,
    /// Per row, an upper bound on the distance to its own centroid and a lower bound on the
    /// distance to every other (see [`Moved`]), valid for `centroids`.
    upper: Vec<f32>,
    lower: Vec<f32>,
    /// With Yinyang's bounds, per row a lower bound for each group of `order` (row-major),
    /// stored with the group's `drift_sums` added ([`yinyang::store`]).
    groups: Vec<f32>,
    drift_sums: Vec<f64>,
    /// Centroids of the last pass (empty before the first).
    centroids: Vec<f32>,
    /// Which bounds Lloyd passes keep.
    pruning: Pruning,
    /// With Yinyang's bounds, the layout order of the centroids their groups refer to
    /// ([`yinyang::group_order`]), fixed from the exhaustive pass that starts a series.
    order: Vec<u32>,
    /// The distance kernel, detected at bind (tests choose each one).
    kernel: Kernel,
}

/// Rows per chunk: a fixed function of the shape, so the reduction order never depends on
/// threads. Chunks are at least 2048 rows; their partial sums are capped near 64 MiB in all.
pub fn chunk_rows(n: usize, k: usize, d: usize) -> usize {
    const MIN_ROWS: usize = 2048;
    const PARTIAL_BYTES: usize = 64 << 20;
    let per_partial = (k * d * 16 + k * 24).max(1);
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

/// [`sq_dist_f32`], with explicit AVX2 when `AVX2` (the caller then runs with AVX2 enabled):
/// the same operations in the same order, so the same bits.
#[inline(always)]
fn sq_dist<const AVX2: bool>(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if AVX2 {
        // SAFETY: `AVX2` is only set in code that runs after AVX2 was detected.
        return unsafe { sq_dist_avx2(a, b) };
    }
    sq_dist_f32(a, b)
}

/// [`sq_dist_f32`] in AVX2: eight lanes of separately rounded `acc += t · t` (no FMA, as the
/// portable loop), the remainder through a masked load (zero terms leave a lane unchanged),
/// and the lanes summed as ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn sq_dist_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let full = n / 8 * 8;
    let mut acc = _mm256_setzero_ps();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    // SAFETY: every unmasked load reads lanes i..i + 8 ≤ full ≤ n of both slices; the masked
    // load touches only the lanes i..n.
    unsafe {
        while i < full {
            let t = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(t, t));
            i += 8;
        }
        if i < n {
            let rem = (n - i) as i32;
            let mask = _mm256_cmpgt_epi32(
                _mm256_set1_epi32(rem),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            );
            let t = _mm256_sub_ps(
                _mm256_maskload_ps(pa.add(i), mask),
                _mm256_maskload_ps(pb.add(i), mask),
            );
            acc = _mm256_add_ps(acc, _mm256_mul_ps(t, t));
        }
        let lo = _mm256_castps256_ps128(acc);
        let hi = _mm256_extractf128_ps::<1>(acc);
        // [a0 + a1, a2 + a3, a4 + a5, a6 + a7], then [(a0 + a1) + (a2 + a3), (a4 + a5) + (a6 + a7)].
        let pairs = _mm_hadd_ps(lo, hi);
        let quads = _mm_hadd_ps(pairs, pairs);
        _mm_cvtss_f32(quads) + _mm_cvtss_f32(_mm_shuffle_ps::<0b01>(quads, quads))
    }
}

/// Asks for the cache lines of `row` ahead of its use (a hint: it never faults).
#[inline(always)]
fn prefetch_row(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let (first, last) = (
            row.as_ptr(),
            row.as_ptr().wrapping_add(row.len().max(1) - 1),
        );
        let mut p = first as usize & !63;
        while p <= last as usize {
            // SAFETY: prefetching is a hint; it reads nothing and never faults. `p` lies within
            // the cache lines that `row` spans.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) };
            p += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// `dst.copy_from_slice(row)` inline: a call to `memcpy` per row cost more than the copy.
#[inline(always)]
fn copy_row<const AVX2: bool>(dst: &mut [f32], row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if AVX2 {
        use std::arch::x86_64::*;
        let n = dst.len().min(row.len());
        let full = n / 8 * 8;
        let (pd, pr) = (dst.as_mut_ptr(), row.as_ptr());
        // SAFETY: `AVX2` is only set in code that runs after AVX2 was detected; the vector
        // loads and stores cover lanes i..i + 8 ≤ full ≤ n of both slices.
        unsafe {
            let mut i = 0;
            while i < full {
                _mm256_storeu_ps(pd.add(i), _mm256_loadu_ps(pr.add(i)));
                i += 8;
            }
        }
        for (s, &x) in dst[full..n].iter_mut().zip(&row[full..n]) {
            *s = x;
        }
        return;
    }
    for (s, &x) in dst.iter_mut().zip(row) {
        *s = x;
    }
}

/// ‖x‖² in f64 (each square exact, four accumulators in a fixed order): the moments' term.
#[inline(always)]
fn norm_f64(row: &[f32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut quads = row.chunks_exact(4);
    for q in &mut quads {
        for l in 0..4 {
            acc[l] += f64::from(q[l]) * f64::from(q[l]);
        }
    }
    for (l, &v) in quads.remainder().iter().enumerate() {
        acc[l] += f64::from(v) * f64::from(v);
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
    /// The centroid at each position of the layout (`kp` entries; `u32::MAX` for padding):
    /// the identity, or the order of [`yinyang::group_order`], which puts centroids near each
    /// other into the same group of `lanes`. Picks are positions; labels are centroids.
    index: Vec<u32>,
    /// The position of each centroid (`k` entries): the inverse of `index`.
    position: Vec<u32>,
}

impl Prepared {
    fn new(centroids: &[f32], k: usize, d: usize, lanes: usize) -> Prepared {
        let order: Vec<u32> = (0..k as u32).collect();
        Prepared::ordered(centroids, k, d, lanes, &order)
    }

    /// The layout with centroid `order[p]` at position `p` (`order` is a permutation of
    /// 0..k).
    fn ordered(centroids: &[f32], k: usize, d: usize, lanes: usize, order: &[u32]) -> Prepared {
        debug_assert_eq!(order.len(), k);
        let kp = k.div_ceil(lanes) * lanes;
        let mut ctg = vec![0f32; kp * d];
        let mut index = vec![u32::MAX; kp];
        let mut position = vec![u32::MAX; k];
        for (p, &j) in order.iter().enumerate() {
            let (g, l, j) = (p / lanes, p % lanes, j as usize);
            index[p] = j as u32;
            position[j] = p as u32;
            for f in 0..d {
                ctg[(g * d + f) * lanes + l] = centroids[j * d + f];
            }
        }
        let mut norms = vec![f32::INFINITY; kp];
        for (norm, &j) in norms.iter_mut().zip(order) {
            let j = j as usize;
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
            index,
            position,
        }
    }

    /// Groups of `lanes` positions in the layout.
    fn groups(&self) -> usize {
        self.kp / self.lanes
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

/// Best score of a row's scores and whether another is within `margin` of it, with the best
/// score of the other centroids (for the row's lower bound): passes over fixed-width groups,
/// which the compiler vectorises (no data-dependent branches).
#[inline(always)]
fn best_of<const W: usize>(scores: &[f32], margin: f32) -> (Pick, f32) {
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
    let second = scores
        .iter()
        .enumerate()
        .map(|(j, &s)| if j == first { f32::INFINITY } else { s })
        .fold(f32::INFINITY, f32::min);
    (
        (near == 1 && first != usize::MAX).then_some(first as u32),
        second,
    )
}

/// Portable picks for the rows of `block`, and each row's best score among the other
/// centroids in `seconds`.
#[allow(clippy::too_many_arguments)]
fn picks_portable(
    block: &[f32],
    x_norms: &[f32],
    prep: &Prepared,
    d: usize,
    dots: &mut [f32],
    picks: &mut [Pick],
    seconds: &mut [f32],
    group_mins: &mut [f32],
) {
    let kp = prep.kp;
    let dots = prep.dots(block, d, dots);
    for (r, (((scores, pick), second), &xn)) in dots
        .chunks_exact_mut(kp)
        .zip(picks.iter_mut())
        .zip(seconds.iter_mut())
        .zip(x_norms)
        .enumerate()
    {
        for (s, &c) in scores.iter_mut().zip(&prep.norms) {
            *s = c - 2.0 * *s;
        }
        let margin = prep.margin(xn);
        (*pick, *second) = if prep.lanes == 16 {
            best_of::<16>(scores, margin)
        } else {
            best_of::<8>(scores, margin)
        };
        group_mins_of(scores, prep, *pick, r, group_mins);
    }
}

/// When `out` is wanted (not empty), row `r`'s part of it: per group of the layout, the
/// smallest of the row's `scores` other than the pick's (Yinyang's group bounds). Left as is
/// when the pick was deferred to f64, which then bounds every group itself.
#[inline(always)]
fn group_mins_of(scores: &[f32], prep: &Prepared, pick: Pick, r: usize, out: &mut [f32]) {
    let (Some(winner), false) = (pick, out.is_empty()) else {
        return;
    };
    let (t, w) = (prep.groups(), prep.lanes);
    let winner = winner as usize;
    for (g, (group, m)) in scores
        .chunks_exact(w)
        .zip(&mut out[r * t..(r + 1) * t])
        .enumerate()
    {
        // `if s < min` rather than `f32::min`, so the loop becomes vector compares and
        // blends; the winner's lane is skipped by masking it to +∞.
        let mut min = f32::INFINITY;
        for (l, &s) in group.iter().enumerate() {
            let s = if g * w + l == winner {
                f32::INFINITY
            } else {
                s
            };
            min = if s < min { s } else { min };
        }
        *m = min;
    }
}

/// AVX-512 picks for the rows of `block`, centroids in groups of 16 (`prep.lanes == 16`).
///
/// Per 4 rows, the scores of up to four groups (64 centroids) at a time are built in 4 × G
/// accumulators: each centroid load feeds 4 FMAs and each broadcast row value G, so the FMA
/// units rather than the loads set the pace (the distance work is a small matrix product).
/// Each row's argmin, tie count and best other score are then reductions and mask operations
/// over its scores.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma,popcnt,bmi1")]
#[allow(clippy::too_many_arguments)]
fn picks_avx512(
    block: &[f32],
    x_norms: &[f32],
    prep: &Prepared,
    d: usize,
    scores: &mut [f32],
    picks: &mut [Pick],
    seconds: &mut [f32],
    group_mins: &mut [f32],
) {
    use std::arch::x86_64::*;
    debug_assert_eq!(prep.lanes, 16);
    let kp = prep.kp;
    let groups = kp / 16;
    let n = block.len() / d;
    // Eight rows per tile when there is one group (k ≤ 16: each centroid load then feeds 8
    // FMAs), four with more (4 × up to 4 groups: 16 accumulators).
    let tile_rows = if groups == 1 { 8 } else { 4 };
    assert!(scores.len() >= 8 * kp && picks.len() >= n && x_norms.len() >= n);
    assert!(seconds.len() >= n);
    assert!(group_mins.is_empty() || group_mins.len() >= n * groups);
    assert!(prep.ctg.len() == kp * d && prep.norms.len() == kp);

    /// Scores of `G` groups from group `g` for the `R` rows `rows`, stored at `scores[q·kp..]`.
    ///
    /// SAFETY (caller): groups g..g + G exist (`(g + G)·16 ≤ kp`), every row holds `d` values,
    /// `scores` holds R·kp values, `ctg` kp·d and `norms` kp.
    #[inline(always)]
    unsafe fn tile<const R: usize, const G: usize>(
        rows: [&[f32]; R],
        ctg: *const f32,
        norms: *const f32,
        d: usize,
        kp: usize,
        g: usize,
        scores: *mut f32,
    ) {
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); G]; R];
            for f in 0..d {
                let mut c = [_mm512_setzero_ps(); G];
                for (h, c) in c.iter_mut().enumerate() {
                    *c = _mm512_loadu_ps(ctg.add(((g + h) * d + f) * 16));
                }
                for q in 0..R {
                    let x = _mm512_set1_ps(*rows[q].get_unchecked(f));
                    for h in 0..G {
                        acc[q][h] = _mm512_fmadd_ps(x, c[h], acc[q][h]);
                    }
                }
            }
            let two = _mm512_set1_ps(2.0);
            for h in 0..G {
                let nv = _mm512_loadu_ps(norms.add((g + h) * 16));
                for (q, a) in acc.iter().enumerate() {
                    _mm512_storeu_ps(
                        scores.add(q * kp + (g + h) * 16),
                        _mm512_fnmadd_ps(two, a[h], nv),
                    );
                }
            }
        }
    }

    let (ctg, norms) = (prep.ctg.as_ptr(), prep.norms.as_ptr());
    let mut r = 0;
    while r < n {
        // A short last tile repeats its last row; the repeats are computed and ignored.
        let last = n - 1;
        let row_at = |q: usize| {
            let i = (r + q).min(last);
            &block[i * d..(i + 1) * d]
        };
        let out = scores.as_mut_ptr();
        // SAFETY: each call covers groups g..g + G with g + G ≤ groups (so (g + G)·16 ≤ kp);
        // the lengths of ctg, norms and scores (8·kp) were asserted above.
        unsafe {
            if groups == 1 {
                let rows: [&[f32]; 8] = std::array::from_fn(row_at);
                tile::<8, 1>(rows, ctg, norms, d, kp, 0, out);
            } else {
                let rows: [&[f32]; 4] = [row_at(0), row_at(1), row_at(2), row_at(3)];
                let mut g = 0;
                while g + 4 <= groups {
                    tile::<4, 4>(rows, ctg, norms, d, kp, g, out);
                    g += 4;
                }
                match groups - g {
                    3 => tile::<4, 3>(rows, ctg, norms, d, kp, g, out),
                    2 => tile::<4, 2>(rows, ctg, norms, d, kp, g, out),
                    1 => tile::<4, 1>(rows, ctg, norms, d, kp, g, out),
                    _ => {}
                }
            }
        }
        for q in 0..tile_rows.min(n - r) {
            let row = &scores[q * kp..(q + 1) * kp];
            // SAFETY: `row` holds `groups` whole groups of 16.
            let (pick, second) = unsafe {
                let p = row.as_ptr();
                let mut m = _mm512_loadu_ps(p);
                for g in 1..groups {
                    m = _mm512_min_ps(m, _mm512_loadu_ps(p.add(g * 16)));
                }
                let best = _mm512_reduce_min_ps(m);
                let (bestv, thr) = (
                    _mm512_set1_ps(best),
                    _mm512_set1_ps(best + prep.margin(x_norms[r + q])),
                );
                let (mut near, mut first) = (0u32, u32::MAX);
                for g in 0..groups {
                    let v = _mm512_loadu_ps(p.add(g * 16));
                    near += _mm512_cmp_ps_mask::<_CMP_LE_OQ>(v, thr).count_ones();
                    let eq = u32::from(_mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, bestv));
                    if first == u32::MAX && eq != 0 {
                        first = g as u32 * 16 + eq.trailing_zeros();
                    }
                }
                // The best score of the other centroids: the winner's lane masked to +∞.
                // With group bounds wanted, each group's own best other score too.
                let inf = _mm512_set1_ps(f32::INFINITY);
                let mut m2 = inf;
                let wanted = !group_mins.is_empty();
                for g in 0..groups {
                    let v = _mm512_loadu_ps(p.add(g * 16));
                    let mask = if first / 16 == g as u32 {
                        1u16 << (first % 16)
                    } else {
                        0
                    };
                    let others = _mm512_mask_mov_ps(v, mask, inf);
                    m2 = _mm512_min_ps(m2, others);
                    if wanted {
                        group_mins[(r + q) * groups + g] = _mm512_reduce_min_ps(others);
                    }
                }
                let pick = (near == 1 && first != u32::MAX).then_some(first);
                (pick, _mm512_reduce_min_ps(m2))
            };
            picks[r + q] = pick;
            seconds[r + q] = second;
        }
        r += tile_rows;
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
#[allow(clippy::too_many_arguments)]
fn picks_avx2(
    block: &[f32],
    x_norms: &[f32],
    prep: &Prepared,
    d: usize,
    scores: &mut [f32],
    picks: &mut [Pick],
    seconds: &mut [f32],
    group_mins: &mut [f32],
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
    assert!(seconds.len() >= n);
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
                // The best score of the other centroids: the winner's lane masked to +∞.
                let inf = _mm256_set1_ps(f32::INFINITY);
                let winner = _mm256_set1_epi32(first as i32);
                let mut m2 = inf;
                for g in 0..groups {
                    let lane = _mm256_add_epi32(
                        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                        _mm256_set1_epi32(g as i32 * 8),
                    );
                    let is_winner = _mm256_castsi256_ps(_mm256_cmpeq_epi32(lane, winner));
                    let v = _mm256_blendv_ps(_mm256_loadu_ps(p.add(g * 8)), inf, is_winner);
                    m2 = _mm256_min_ps(m2, v);
                }
                m2 = _mm256_min_ps(m2, _mm256_permute2f128_ps::<1>(m2, m2));
                m2 = _mm256_min_ps(m2, _mm256_shuffle_ps::<0b01_00_11_10>(m2, m2));
                m2 = _mm256_min_ps(m2, _mm256_shuffle_ps::<0b10_11_00_01>(m2, m2));
                seconds[r + q] = _mm256_cvtss_f32(m2);
                (near == 1 && first != u32::MAX).then_some(first)
            };
            group_mins_of(row, prep, picks[r + q], r + q, group_mins);
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
    /// AVX2 for the pass, AVX-512 for the distance tile.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Kernel {
    fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("popcnt")
            && std::is_x86_feature_detected!("bmi1")
        {
            if std::is_x86_feature_detected!("avx512f") {
                return Kernel::Avx512;
            }
            return Kernel::Avx2;
        }
        Kernel::Portable
    }

    /// The instruction set the distance kernel uses, as reports show it.
    fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => "avx512",
        }
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
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => 16,
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
    scales: &'p Scales,
    /// Groups of Yinyang's bounds ([`yinyang`]) a row keeps besides Hamerly's one bound: 0,
    /// or the layout's groups.
    groups: usize,
    /// With Yinyang's bounds, each group's drift summed over the series so far (the group
    /// bounds are stored with it added, [`yinyang::store`]); else empty.
    drift_sums: &'p [f64],
}

/// Rounding allowance for the bounds, which are kept in f32: each stored bound is pushed
/// outwards by more than the rounding error of the operations that made it, so a row is only
/// settled by its bounds when the exact comparison would settle it too.
const DOWN: f32 = 1.0 - 4.0 * f32::EPSILON;
const UP: f32 = 1.0 + 4.0 * f32::EPSILON;

/// How the centroids moved between two passes with the same k: what Hamerly's bounds need.
///
/// A row keeps an upper bound `u` on its distance (not squared) to its own centroid `a` and a
/// lower bound `l` on its distance to every other. After the centroids move, `u + δ(a)` and
/// `l − max δ(j ≠ a)` still bound them (triangle inequality). When `u` is below
/// `max(l, s(a))`, with `s(a)` half the distance from `a` to its nearest other centroid, no
/// other centroid can be as close, so the row keeps `a` without its data being read. If not,
/// `u` is made exact (one distance) and the test repeated; only rows that fail it again are
/// searched among all k. A settled row is one an exhaustive pass gives the same label: that
/// pass breaks only exact ties (to the lowest index), and a settled row has none. The sums do
/// not move with it, and they are exact integers ([`crate::fixed`]), so the pass's sums are
/// those of an exhaustive pass, bit for bit.
struct Moved {
    /// δ(j) = ‖c_j − c′_j‖, rounded up.
    drift: Vec<f32>,
    /// The largest drift and its centroid, and the second largest.
    top: (f32, usize, f32),
    /// s(j): half the distance from centroid j to its nearest other centroid, rounded down
    /// (+∞ when k = 1).
    half_gap: Vec<f32>,
    /// Search every row without testing bounds (the bounds are still renewed): chosen when the
    /// last pass had to search most rows anyway, as in a fit's first iterations.
    search_all: bool,
}

impl Moved {
    fn new(old: &[f32], new: &[f32], k: usize, d: usize) -> Moved {
        let drift: Vec<f32> = (0..k)
            .map(|j| {
                let range = j * d..(j + 1) * d;
                (sq_dist_f64(&old[range.clone()], &new[range]).sqrt() as f32) / DOWN
            })
            .collect();
        let mut top = (0.0f32, usize::MAX, 0.0f32);
        for (j, &v) in drift.iter().enumerate() {
            if v > top.0 {
                top = (v, j, top.0);
            } else if v > top.2 {
                top.2 = v;
            }
        }
        // k² d / 2 distances per pass: small beside the n·d of an exhaustive pass.
        let mut nearest = vec![f64::INFINITY; k];
        for a in 0..k {
            for b in a + 1..k {
                let g = sq_dist_f64(&new[a * d..(a + 1) * d], &new[b * d..(b + 1) * d]);
                nearest[a] = nearest[a].min(g);
                nearest[b] = nearest[b].min(g);
            }
        }
        let half_gap = nearest
            .iter()
            .map(|&g| ((0.5 * g.sqrt()) as f32) * DOWN)
            .collect();
        Moved {
            drift,
            top,
            half_gap,
            search_all: false,
        }
    }

    /// The largest drift of a centroid other than `a`.
    #[inline(always)]
    fn other(&self, a: usize) -> f32 {
        if a == self.top.1 {
            self.top.2
        } else {
            self.top.0
        }
    }
}

/// Whether a row whose distance to its own centroid is at most `upper` is certainly nearer to
/// it than to any other, every other being at least `bound` away. A NaN never settles a row.
#[inline(always)]
fn settles(upper: f32, bound: f32) -> bool {
    upper < bound
}

/// Upper bound on the distance of a row whose squared distance [`sq_dist_f32`] computed as
/// `sq`: that sum of `d` positive f32 terms errs by less than (d + 4)·ε relative.
#[inline(always)]
fn upper_of(sq: f32, d: usize) -> f32 {
    upper_sq_of(sq, d).sqrt() / DOWN
}

/// Upper bound on the squared distance whose [`sq_dist_f32`] is `sq`.
#[inline(always)]
fn upper_sq_of(sq: f32, d: usize) -> f32 {
    sq * (1.0 + 2.0 * (d as f32 + 4.0) * f32::EPSILON)
}

/// Lower bound on the squared distance of a row (‖x‖² = `x_norm`) to a centroid whose f32
/// score is `score`: the score errs by less than the tie margin.
#[inline(always)]
fn lower_sq_of(prep: &Prepared, x_norm: f32, score: f32) -> f32 {
    (x_norm + score - prep.margin(x_norm)).max(0.0)
}

/// A chunk's rows: their data, norms and the state a pass reads and updates (`groups` holds
/// [`Pass::groups`] values a row).
struct Rows<'c> {
    data: &'c [f32],
    norms: &'c [f32],
    labels: &'c mut [u32],
    nearest: &'c mut [f32],
    upper: &'c mut [f32],
    lower: &'c mut [f32],
    groups: &'c mut [f32],
    /// The sums of the thread running the chunk.
    totals: &'c mut Totals,
}

/// One chunk of an exhaustive pass: every row searched, labels, distances, bounds, and this
/// chunk's exact partial sums.
///
/// The nearest centroid is found with the f32 score ‖c‖² − 2x·c; when another score is within
/// the score's error bound of the best, the row is decided in f64 instead, so labels are those
/// of an exact f64 comparison whatever the kernel. The distance kept (and added to the
/// inertia) is then computed directly as Σ(x − c)², never from the score.
fn full_chunk(pass: &Pass<'_>, rows: Rows<'_>) -> Partial {
    match pass.kernel {
        Kernel::Portable => full_chunk_with::<false>(pass, rows),
        // SAFETY: `Kernel::Avx2` is only chosen after AVX2, FMA, POPCNT and BMI1 were detected.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 | Kernel::Avx512 => unsafe { full_chunk_avx2(pass, rows) },
    }
}

/// [`full_chunk`] compiled with AVX2 and FMA enabled, so the direct distance and the block
/// sums are vectorised at that width too.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt,bmi1")]
fn full_chunk_avx2(pass: &Pass<'_>, rows: Rows<'_>) -> Partial {
    full_chunk_with::<true>(pass, rows)
}

/// The picks of the rows of `search` (row-major, with their norms), each row's best score
/// among the other centroids, and when `group_mins` is not empty, per row and group of the
/// layout the best score other than the pick's ([`group_mins_of`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn search_rows<const AVX2: bool>(
    kernel: Kernel,
    prep: &Prepared,
    d: usize,
    search: &[f32],
    norms: &[f32],
    scratch: &mut [f32],
    picks: &mut [Pick],
    seconds: &mut [f32],
    group_mins: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Avx512 && prep.lanes == 16 {
        // SAFETY: `Kernel::Avx512` is only chosen after AVX-512F (and AVX2, FMA, POPCNT and
        // BMI1) were detected.
        unsafe { picks_avx512(search, norms, prep, d, scratch, picks, seconds, group_mins) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if AVX2 {
        // SAFETY: only instantiated inside functions compiled with AVX2, FMA, POPCNT and
        // BMI1, which run after those features were detected.
        unsafe { picks_avx2(search, norms, prep, d, scratch, picks, seconds, group_mins) };
        return;
    }
    picks_portable(search, norms, prep, d, scratch, picks, seconds, group_mins);
}

/// A row's label and the squares of its bounds from its search: the pick, or f64 when the pick
/// was too close to call (exactly as the reference decides). The upper bound is measured only
/// `with_upper` (an exhaustive pass takes it from its tally). The square roots are taken by
/// [`roots`], a block at a time (vectorised).
#[inline(always)]
fn settle_search<const AVX2: bool>(
    pass: &Pass<'_>,
    row: &[f32],
    x_norm: f32,
    pick: Pick,
    second: f32,
    with_upper: bool,
) -> (u32, f32, f32) {
    let (prep, k, d) = (pass.prep, pass.k, pass.d);
    match pick {
        _ if k == 1 => (0, f32::INFINITY, f32::INFINITY),
        Some(p) => {
            let j = prep.index[p as usize];
            let upper = if with_upper {
                let c = &pass.centroids[j as usize * d..(j as usize + 1) * d];
                upper_sq_of(sq_dist::<AVX2>(row, c), d)
            } else {
                f32::INFINITY
            };
            (j, upper, lower_sq_of(prep, x_norm, second))
        }
        None => {
            let (j, near, second) = nearest_two(row, pass.centroids, k, d);
            (j, (near as f32) / DOWN, (second as f32) * DOWN)
        }
    }
}

/// Bounds from squared bounds: `upper[i] = √upper_sq[i]`, rounded up, and `lower[i] =
/// √lower_sq[i]`, rounded down (in place).
#[inline(always)]
fn roots(upper_sq: &mut [f32], lower_sq: &mut [f32]) {
    for u in upper_sq.iter_mut() {
        *u = u.sqrt() / DOWN;
    }
    for l in lower_sq.iter_mut() {
        *l = l.sqrt() * DOWN;
    }
}

#[inline(always)]
fn full_chunk_with<const AVX2: bool>(pass: &Pass<'_>, rows: Rows<'_>) -> Partial {
    let Pass {
        centroids,
        prep,
        k,
        d,
        scales,
        ..
    } = *pass;
    let Rows {
        data,
        norms,
        labels,
        nearest,
        upper,
        lower,
        groups,
        totals,
    } = rows;
    let kp = prep.kp;
    let t = pass.groups;
    let mut scratch = vec![0f32; BLOCK * kp];
    let mut picks: [Pick; BLOCK] = [None; BLOCK];
    let mut seconds = [0f32; BLOCK];
    let mut decided = [0u32; BLOCK];
    let mut group_mins = vec![0f32; BLOCK * t];
    let mut tally = Tally::new(k, d, scales, totals);
    for (b, block) in data.chunks(BLOCK * d).enumerate() {
        let n_rows = block.len() / d;
        let range = b * BLOCK..b * BLOCK + n_rows;
        let x_norms = &norms[range.clone()];
        search_rows::<AVX2>(
            pass.kernel,
            prep,
            d,
            block,
            x_norms,
            &mut scratch,
            &mut picks,
            &mut seconds,
            &mut group_mins,
        );
        let lower = &mut lower[range.clone()];
        for r in 0..n_rows {
            // The upper bound comes from the tally's exact distance below.
            (decided[r], _, lower[r]) = settle_search::<AVX2>(
                pass,
                &block[r * d..(r + 1) * d],
                x_norms[r],
                picks[r],
                seconds[r],
                false,
            );
        }
        yinyang::renew_rows(
            pass,
            x_norms,
            &picks,
            lower,
            &group_mins,
            &mut groups[range.start * t..range.end * t],
            0..n_rows,
        );
        roots(&mut [], lower);
        tally.block::<AVX2>(
            block,
            &decided[..n_rows],
            centroids,
            &mut labels[range.clone()],
            &mut nearest[range.clone()],
        );
        for (u, &sq) in upper[range.clone()].iter_mut().zip(&nearest[range]) {
            *u = upper_of(sq, d);
        }
    }
    tally.p.searched = labels.len() as u64;
    tally.p.scores = (labels.len() * k) as u64;
    tally.finish()
}

/// One chunk of a bounded pass ([`Moved`]): rows settled by their bounds keep their label and
/// are not read; the others are searched, and those whose label changes are listed as moves
/// for the sums.
fn bounded_chunk(pass: &Pass<'_>, moved: &Moved, rows: Rows<'_>) -> Partial {
    match pass.kernel {
        Kernel::Portable => bounded_chunk_with::<false>(pass, moved, rows),
        // SAFETY: `Kernel::Avx2` is only chosen after AVX2, FMA, POPCNT and BMI1 were detected.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 | Kernel::Avx512 => unsafe { bounded_chunk_avx2(pass, moved, rows) },
    }
}

/// [`bounded_chunk`] compiled with AVX2 and FMA enabled.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt,bmi1")]
fn bounded_chunk_avx2(pass: &Pass<'_>, moved: &Moved, rows: Rows<'_>) -> Partial {
    bounded_chunk_with::<true>(pass, moved, rows)
}

#[inline(always)]
fn bounded_chunk_with<const AVX2: bool>(pass: &Pass<'_>, moved: &Moved, rows: Rows<'_>) -> Partial {
    let Pass { centroids, d, .. } = *pass;
    let t = pass.groups;
    let Rows {
        data,
        norms,
        labels,
        upper,
        lower,
        groups,
        totals,
        ..
    } = rows;
    let (mut scratch, mut picks, mut seconds, mut group_mins) = Search::buffers(pass);
    let mut group_search = (t > 0).then(|| yinyang::Scratch::new(pass));
    // The rows of a block that need a search, copied together: `which[q]` is the block row of
    // gathered row q.
    let mut gathered = vec![0f32; BLOCK * d];
    let mut gathered_norms = [0f32; BLOCK];
    let mut which = [0usize; BLOCK];
    let mut loose = [0usize; BLOCK];
    let mut p = Partial::default();
    let centroid = |j: usize| &centroids[j * d..(j + 1) * d];
    for (b, block) in data.chunks(BLOCK * d).enumerate() {
        let n_rows = block.len() / d;
        let base = b * BLOCK;
        if moved.search_all {
            for (r, w) in which.iter_mut().enumerate().take(n_rows) {
                *w = r;
            }
            p.searched += n_rows as u64;
            search_block::<AVX2>(
                pass,
                &mut p,
                totals,
                block,
                &norms[base..base + n_rows],
                &which[..n_rows],
                Search {
                    scratch: &mut scratch,
                    picks: &mut picks,
                    seconds: &mut seconds,
                    group_mins: &mut group_mins,
                },
                &mut labels[base..base + n_rows],
                &mut upper[base..base + n_rows],
                &mut lower[base..base + n_rows],
                &mut groups[base * t..(base + n_rows) * t],
            );
            continue;
        }
        // A: every row's loosened bounds, without a branch; the rows they do not settle are
        // listed in `loose`.
        let mut n_loose = 0;
        for r in 0..n_rows {
            let i = base + r;
            let a = labels[i] as usize;
            let l = (lower[i] - moved.other(a)) * DOWN;
            let u = (upper[i] + moved.drift[a]) * UP;
            lower[i] = l;
            upper[i] = u;
            loose[n_loose] = r;
            let unsettled = !settles(u, l.max(moved.half_gap[a]));
            n_loose += usize::from(unsettled);
            // The row will be read in B: fetch its lines now, so that the reads of a block's
            // unsettled rows overlap instead of waiting one by one (B is bound by them).
            // Settled rows prefetch the block's first row, already in cache.
            let at = if unsettled { r * d } else { 0 };
            prefetch_row(&block[at..at + d]);
        }
        // B: those rows' upper bounds made exact (their data is read only now), tested again;
        // the rows still not settled are gathered for a search.
        let mut todo = 0;
        for &r in &loose[..n_loose] {
            let i = base + r;
            let a = labels[i] as usize;
            let row = &block[r * d..(r + 1) * d];
            let u = upper_of(sq_dist::<AVX2>(row, centroid(a)), d);
            upper[i] = u;
            copy_row::<AVX2>(&mut gathered[todo * d..(todo + 1) * d], row);
            gathered_norms[todo] = norms[i];
            which[todo] = r;
            todo += usize::from(!settles(u, lower[i].max(moved.half_gap[a])));
        }
        if todo == 0 {
            continue;
        }
        p.searched += todo as u64;
        let groups = &mut groups[base * t..(base + n_rows) * t];
        if let Some(scratch) = &mut group_search {
            // Yinyang: rows whose group bounds leave few groups are searched in those only.
            todo = yinyang::split(
                pass,
                &mut gathered,
                &mut gathered_norms,
                &mut which,
                todo,
                &upper[base..base + n_rows],
                groups,
                scratch,
            );
            yinyang::search::<AVX2>(
                pass,
                &mut p,
                totals,
                scratch,
                &mut labels[base..base + n_rows],
                &mut upper[base..base + n_rows],
                &mut lower[base..base + n_rows],
                groups,
            );
            if todo == 0 {
                continue;
            }
        }
        search_block::<AVX2>(
            pass,
            &mut p,
            totals,
            &gathered[..todo * d],
            &gathered_norms[..todo],
            &which[..todo],
            Search {
                scratch: &mut scratch,
                picks: &mut picks,
                seconds: &mut seconds,
                group_mins: &mut group_mins,
            },
            &mut labels[base..base + n_rows],
            &mut upper[base..base + n_rows],
            &mut lower[base..base + n_rows],
            groups,
        );
    }
    p
}

/// Scratch space of a search.
struct Search<'s> {
    scratch: &'s mut [f32],
    picks: &'s mut [Pick],
    seconds: &'s mut [f32],
    /// [`Pass::groups`] values a row.
    group_mins: &'s mut [f32],
}

impl Search<'_> {
    /// Scratch for searches of up to [`BLOCK`] rows.
    fn buffers(pass: &Pass<'_>) -> (Vec<f32>, [Pick; BLOCK], [f32; BLOCK], Vec<f32>) {
        (
            vec![0f32; BLOCK * pass.prep.kp],
            [None; BLOCK],
            [0f32; BLOCK],
            vec![0f32; BLOCK * pass.groups],
        )
    }
}

/// Searches the rows of `search` (row-major, norms `search_norms`; row q is row `which[q]` of
/// a block, and of `labels`, `upper`, `lower`, `groups`): new labels and bounds, and a move
/// for each row whose label changed.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn search_block<const AVX2: bool>(
    pass: &Pass<'_>,
    p: &mut Partial,
    totals: &mut Totals,
    search: &[f32],
    search_norms: &[f32],
    which: &[usize],
    scratch: Search<'_>,
    labels: &mut [u32],
    upper: &mut [f32],
    lower: &mut [f32],
    groups: &mut [f32],
) {
    let d = pass.d;
    let Search {
        scratch,
        picks,
        seconds,
        group_mins,
    } = scratch;
    search_rows::<AVX2>(
        pass.kernel,
        pass.prep,
        d,
        search,
        search_norms,
        scratch,
        picks,
        seconds,
        group_mins,
    );
    p.scores += (which.len() * pass.k) as u64;
    let (mut upper_sq, mut lower_sq) = ([0f32; BLOCK], [0f32; BLOCK]);
    for (q, &r) in which.iter().enumerate() {
        let row = &search[q * d..(q + 1) * d];
        let j;
        (j, upper_sq[q], lower_sq[q]) =
            settle_search::<AVX2>(pass, row, search_norms[q], picks[q], seconds[q], true);
        if j != labels[r] {
            record_move::<AVX2>(pass, p, totals, row, labels[r], j);
            labels[r] = j;
        }
    }
    let m = which.len();
    yinyang::renew_rows(
        pass,
        search_norms,
        picks,
        &lower_sq,
        group_mins,
        groups,
        which.iter().copied(),
    );
    roots(&mut upper_sq[..m], &mut lower_sq[..m]);
    for (q, &r) in which.iter().enumerate() {
        (upper[r], lower[r]) = (upper_sq[q], lower_sq[q]);
    }
}

/// Moves a row's sums, moment and count from centroid `from` to `to` in `totals` (a bounded
/// pass's changes), and counts it as changed.
#[inline(always)]
fn record_move<const AVX2: bool>(
    pass: &Pass<'_>,
    p: &mut Partial,
    totals: &mut Totals,
    row: &[f32],
    from: u32,
    to: u32,
) {
    let d = pass.d;
    let (from, to) = (from as usize, to as usize);
    p.changed += 1;
    let moment = i128::from(pass.scales.norms.quantize_f64(0, norm_f64(row)));
    totals.moments[from] -= moment;
    totals.moments[to] += moment;
    totals.counts[from] -= 1;
    totals.counts[to] += 1;
    let mut q = [0i64; 64];
    for (part, q_part) in row.chunks(64).zip(0..) {
        let q = &mut q[..part.len()];
        q.fill(0);
        pass.scales
            .features
            .add_row_from::<AVX2>(q, part, q_part * 64);
        let (from, to) = (from * d + q_part * 64, to * d + q_part * 64);
        for (f, &v) in q.iter().enumerate() {
            totals.sums[from + f] -= i128::from(v);
            totals.sums[to + f] += i128::from(v);
        }
    }
}

/// The fixed-point grids of one bound matrix: its features, and its rows' squared norms.
#[derive(Debug, Clone)]
pub struct Scales {
    features: FixedScale,
    norms: FixedScale,
}

impl Scales {
    /// The grids for `data`, whose rows' squared norms are `norms`.
    pub fn new(data: MatrixRef<'_>, norms: &[f32]) -> Scales {
        Scales {
            features: FixedScale::of(data),
            norms: FixedScale::of_column(norms),
        }
    }
}

/// ‖x‖² per row in f32 (the picks' tie margin and the moments need it on every pass).
pub fn row_norms(data: MatrixRef<'_>) -> Vec<f32> {
    data.data()
        .par_chunks(data.d())
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect()
}

/// Exact per-centroid totals of the rows' current labels: sums of each feature and of the
/// rows' squared norms on their grids, and counts. Both backends keep one, so their passes'
/// outputs are computed from the same integers.
#[derive(Debug, Clone)]
pub struct Ledger {
    scales: Scales,
    k: usize,
    sums: Vec<i128>,
    moments: Vec<i128>,
    counts: Vec<u64>,
    /// Whether the totals describe the labels of a pass (false before the first).
    valid: bool,
}

impl Ledger {
    /// An empty ledger for a matrix with these grids.
    pub fn new(scales: Scales) -> Ledger {
        Ledger {
            scales,
            k: 0,
            sums: Vec::new(),
            moments: Vec::new(),
            counts: Vec::new(),
            valid: false,
        }
    }

    /// Whether the totals are those of a previous pass with `k` centroids.
    pub fn holds(&self, k: usize) -> bool {
        self.valid && self.k == k
    }

    /// Number of features.
    pub fn d(&self) -> usize {
        self.scales.features.d()
    }

    /// Each feature's grid exponent `s` (values are kept as round(v · 2^s)), for a device that
    /// puts the rows on the same grid.
    pub fn shifts(&self) -> Vec<i32> {
        (0..self.d())
            .map(|f| self.scales.features.shift(f))
            .collect()
    }

    /// `row` on the features' grid, as a pass adds it.
    pub fn quantize_row(&self, row: &[f32]) -> Vec<i64> {
        row.iter()
            .enumerate()
            .map(|(f, &v)| self.scales.features.quantize(f, v))
            .collect()
    }

    /// `row`'s squared norm on the norms' grid, as a pass adds it to its centroid's moment.
    pub fn row_moment(&self, row: &[f32]) -> i64 {
        self.scales.norms.quantize_f64(0, norm_f64(row))
    }

    /// Replaces the totals with ones summed elsewhere (on a device, from the same grids):
    /// `sums` centroid-major, k · d; `moments` and `counts`, k each.
    pub fn set_totals(&mut self, k: usize, sums: Vec<i128>, moments: Vec<i128>, counts: Vec<u64>) {
        assert!(
            sums.len() == k * self.d() && moments.len() == k && counts.len() == k,
            "totals of {k} centroids"
        );
        self.k = k;
        self.sums = sums;
        self.moments = moments;
        self.counts = counts;
        self.valid = true;
    }

    /// Replaces the totals with those of an exhaustive pass.
    fn replace(&mut self, k: usize, totals: Totals) {
        self.k = k;
        self.sums = totals.sums;
        self.moments = totals.moments;
        self.counts = totals.counts.iter().map(|&c| c as u64).collect();
        self.valid = true;
    }

    /// Adds a bounded pass's changes, exactly.
    fn apply(&mut self, delta: &Totals) {
        for (s, v) in self.sums.iter_mut().zip(&delta.sums) {
            *s += v;
        }
        for (s, v) in self.moments.iter_mut().zip(&delta.moments) {
            *s += v;
        }
        for (c, &v) in self.counts.iter_mut().zip(&delta.counts) {
            *c = c.wrapping_add_signed(v);
        }
    }

    /// Σ‖x − c‖² over rows and their centroids, from the totals: Σ_j Q_j − 2 c_j·S_j + n_j‖c_j‖²
    /// in f64 (each term at least 0). Within rounding of the row-by-row sum, not its bits.
    fn moment_inertia(&self, centroids: &[f32]) -> f64 {
        let d = self.scales.features.d();
        let mut total = 0.0;
        for j in 0..self.k {
            let n = self.counts[j] as f64;
            let mut cross = 0.0;
            let mut norm = 0.0;
            for f in 0..d {
                let c = f64::from(centroids[j * d + f]);
                cross += c * self.scales.features.value(f, self.sums[j * d + f]);
                norm += c * c;
            }
            let q = self.scales.norms.value(0, self.moments[j]);
            total += (q - 2.0 * cross + n * norm).max(0.0);
        }
        total
    }

    /// The pass's output from the totals; `inertia` is the row-by-row sum when the pass made
    /// one, else it comes from the moments.
    pub fn output(
        &self,
        centroids: &[f32],
        inertia: Option<f64>,
        changed: u64,
        searched: u64,
    ) -> StepOutput {
        let d = self.scales.features.d();
        let sums = self
            .sums
            .iter()
            .enumerate()
            .map(|(i, &s)| self.scales.features.value(i % d, s))
            .collect();
        let k = self.counts.len() as u64;
        StepOutput {
            sums,
            counts: self.counts.clone(),
            inertia: inertia.unwrap_or_else(|| self.moment_inertia(centroids)),
            changed,
            searched,
            scores: searched * k,
            bounds: Bounds::None,
        }
    }
}

/// A chunk's counters: its row-by-row inertia (exhaustive passes), changed, searched rows and
/// scores computed. Its sums go to the [`Totals`] of the thread that ran it.
#[derive(Default)]
struct Partial {
    inertia: f64,
    changed: u64,
    searched: u64,
    /// Row-to-centroid scores computed (a search among all k counts k).
    scores: u64,
}

/// Exact sums on the fixed-point grids, moments and counts, k centroids: an exhaustive pass's
/// totals, or a bounded pass's changes to them. One a thread (not one a chunk): integers add
/// to the same values in any order, so how rayon splits the chunks among threads changes no
/// bit, and a pass zeroes and adds up a few k·d arrays instead of one a chunk (at k·d = 8192
/// that was 64 MiB of fresh pages a pass).
struct Totals {
    sums: Vec<i128>,
    moments: Vec<i128>,
    counts: Vec<i64>,
    /// Scratch of [`Tally`]: the current block's sums, zero outside the centroids it touched.
    block_sums: Vec<i64>,
}

impl Totals {
    fn zero(k: usize, d: usize) -> Totals {
        Totals {
            sums: vec![0; k * d],
            moments: vec![0; k],
            counts: vec![0; k],
            block_sums: vec![0; k * d],
        }
    }

    fn add(mut self, other: Totals) -> Totals {
        for (s, v) in self.sums.iter_mut().zip(other.sums) {
            *s += v;
        }
        for (s, v) in self.moments.iter_mut().zip(other.moments) {
            *s += v;
        }
        for (s, v) in self.counts.iter_mut().zip(other.counts) {
            *s += v;
        }
        self
    }
}

/// Runs `f` on every item with the [`Totals`] of the thread that takes it; returns the
/// results in item order and the totals added up.
fn fold_chunks<I, T, F>(items: I, k: usize, d: usize, f: F) -> (Vec<T>, Totals)
where
    I: IndexedParallelIterator,
    T: Send,
    F: Fn(usize, I::Item, &mut Totals) -> T + Sync + Send,
{
    let (mut results, totals) = items
        .enumerate()
        .fold(
            || (Vec::new(), Totals::zero(k, d)),
            |(mut results, mut totals), (c, item)| {
                let r = f(c, item, &mut totals);
                results.push((c, r));
                (results, totals)
            },
        )
        .reduce(
            || (Vec::new(), Totals::zero(k, d)),
            |(mut a, ta), (b, tb)| {
                a.extend(b);
                (a, ta.add(tb))
            },
        );
    results.sort_unstable_by_key(|&(c, _)| c);
    (results.into_iter().map(|(_, r)| r).collect(), totals)
}

/// A chunk's running totals for an exhaustive pass, kept in one fixed order where order
/// matters: the kept distance of each row computed directly (f32 terms, [`sq_dist_f32`]),
/// inertia in four f64 accumulators by row index mod 4; sums on the fixed-point grid (i64
/// within a block of at most 64 rows, i128 across blocks), where order does not matter. The
/// CPU pass and [`tally_pass`] (labels decided on a GPU) both go through it, so equal labels
/// give equal bits.
struct Tally<'s, 't> {
    p: Partial,
    inertia: [f64; 4],
    /// Where the sums go; its `block_sums` hold the current block's (zero outside the
    /// centroids in `order`).
    totals: &'t mut Totals,
    /// Which centroids the current block touched, and in `order` the same as a list.
    touched: Vec<bool>,
    order: Vec<u32>,
    scales: &'s Scales,
    d: usize,
}

impl<'s, 't> Tally<'s, 't> {
    fn new(k: usize, d: usize, scales: &'s Scales, totals: &'t mut Totals) -> Tally<'s, 't> {
        Tally {
            p: Partial::default(),
            inertia: [0.0; 4],
            totals,
            touched: vec![false; k],
            order: Vec::with_capacity(k.min(BLOCK)),
            scales,
            d,
        }
    }

    /// Adds one block of rows and their new labels `decided`;
    /// `labels` holds the previous pass's labels (changes are counted) and receives the new
    /// ones, `nearest` the distances.
    #[inline(always)]
    fn block<const AVX2: bool>(
        &mut self,
        block: &[f32],
        decided: &[u32],
        centroids: &[f32],
        labels: &mut [u32],
        nearest: &mut [f32],
    ) {
        let d = self.d;
        for ((row, &label), near) in block.chunks_exact(d).zip(decided).zip(nearest.iter_mut()) {
            let j = label as usize;
            *near = sq_dist::<AVX2>(row, &centroids[j * d..(j + 1) * d]);
        }
        self.p.changed += labels
            .iter()
            .zip(decided)
            .map(|(a, b)| u64::from(a != b))
            .sum::<u64>();
        labels.copy_from_slice(decided);
        // Row r into accumulator r mod 4, in row order (a block starts at a multiple of 4).
        let mut inertia = self.inertia;
        let mut quads = nearest.chunks_exact(4);
        for q in &mut quads {
            for l in 0..4 {
                inertia[l] += f64::from(q[l]);
            }
        }
        for (l, &v) in quads.remainder().iter().enumerate() {
            inertia[l] += f64::from(v);
        }
        self.inertia = inertia;
        let features = &self.scales.features;
        for (row, &label) in block.chunks_exact(d).zip(decided) {
            let j = label as usize;
            let totals = &mut *self.totals;
            totals.counts[j] += 1;
            totals.moments[j] += i128::from(self.scales.norms.quantize_f64(0, norm_f64(row)));
            if !self.touched[j] {
                self.touched[j] = true;
                self.order.push(label);
            }
            features.add_row::<AVX2>(&mut totals.block_sums[j * d..(j + 1) * d], row);
        }
        let Totals {
            sums, block_sums, ..
        } = &mut *self.totals;
        for &j in &self.order {
            let j = j as usize;
            let range = j * d..(j + 1) * d;
            for (s, v) in sums[range.clone()].iter_mut().zip(&mut block_sums[range]) {
                *s += i128::from(*v);
                *v = 0;
            }
            self.touched[j] = false;
        }
        self.order.clear();
    }

    fn finish(mut self) -> Partial {
        let i = self.inertia;
        self.p.inertia = (i[0] + i[1]) + (i[2] + i[3]);
        self.p
    }
}

/// Inertia and counters of chunk partials, added in chunk order (never in completion order).
fn reduce_inertia(partials: &[Partial]) -> (f64, u64, u64) {
    partials.iter().fold((0.0, 0, 0), |(i, c, s), p| {
        (i + p.inertia, c + p.changed, s + p.searched)
    })
}

/// The sums, counts, inertia and changed rows of a pass whose labels were decided elsewhere
/// (the GPU backend, after re-deciding its near-ties in f64), tallied as the CPU's exhaustive
/// pass tallies them, into the backend's own [`Ledger`]. Labels equal to the CPU's therefore
/// give bit-equal outputs, so whole fits agree on both backends, not just single passes.
/// `labels` holds the previous pass's labels and receives `decided`; `nearest` receives each
/// row's squared distance. With `lloyd` the inertia follows [`BoundData::lloyd_step`]'s rule.
#[allow(clippy::too_many_arguments)]
pub fn tally_pass(
    ledger: &mut Ledger,
    data: MatrixRef<'_>,
    centroids: &[f32],
    k: usize,
    decided: &[u32],
    labels: &mut [u32],
    nearest: &mut [f32],
    lloyd: bool,
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
    let moments = lloyd && ledger.holds(k);
    let chunk = chunk_rows(n, k, d);
    let scales = &ledger.scales;
    let chunks = labels
        .par_chunks_mut(chunk)
        .zip(nearest.par_chunks_mut(chunk));
    let (partials, totals) = fold_chunks(chunks, k, d, |c, (labels, nearest), totals| {
        let start = c * chunk;
        let rows = &data.data()[start * d..(start + labels.len()) * d];
        let decided = &decided[start..start + labels.len()];
        // Checked here, in parallel, rather than in a pass of its own.
        if let Some(bad) = decided.iter().find(|&&l| l as usize >= k) {
            return Err(ComputeError::Shape(format!(
                "label {bad} with {k} centroids"
            )));
        }
        let mut tally = Tally::new(k, d, scales, totals);
        for (b, block) in rows.chunks(BLOCK * d).enumerate() {
            let range = b * BLOCK..b * BLOCK + block.len() / d;
            tally.block::<false>(
                block,
                &decided[range.clone()],
                centroids,
                &mut labels[range.clone()],
                &mut nearest[range],
            );
        }
        // The device searched every row.
        tally.p.searched = labels.len() as u64;
        Ok(tally.finish())
    });
    let partials = partials
        .into_iter()
        .collect::<Result<Vec<Partial>, ComputeError>>()?;
    let (inertia, changed, searched) = reduce_inertia(&partials);
    ledger.replace(k, totals);
    Ok(ledger.output(centroids, (!moments).then_some(inertia), changed, searched))
}

/// Each row's squared distance to centroid `labels[r]`, as [`tally_pass`] computes it (for a
/// backend whose passes did not compute them on the host).
pub fn label_distances(data: MatrixRef<'_>, centroids: &[f32], labels: &[u32], out: &mut [f32]) {
    let d = data.d();
    const ROWS: usize = 4096;
    out.par_chunks_mut(ROWS)
        .zip(labels.par_chunks(ROWS))
        .enumerate()
        .for_each(|(c, (out, labels))| {
            let rows = &data.data()[c * ROWS * d..(c * ROWS + labels.len()) * d];
            for ((row, &j), o) in rows.chunks_exact(d).zip(labels).zip(out) {
                let j = j as usize;
                *o = sq_dist::<false>(row, &centroids[j * d..(j + 1) * d]);
            }
        });
}

/// Each row's squared distance to its centroid as an exhaustive pass's tally computes it.
fn nearest_of(kernel: Kernel, rows: &[f32], labels: &[u32], c: &[f32], d: usize, near: &mut [f32]) {
    #[inline(always)]
    fn with<const AVX2: bool>(rows: &[f32], labels: &[u32], c: &[f32], d: usize, near: &mut [f32]) {
        for ((row, &j), out) in rows.chunks_exact(d).zip(labels).zip(near) {
            let j = j as usize;
            *out = sq_dist::<AVX2>(row, &c[j * d..(j + 1) * d]);
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,popcnt,bmi1")]
    fn with_avx2(rows: &[f32], labels: &[u32], c: &[f32], d: usize, near: &mut [f32]) {
        with::<true>(rows, labels, c, d, near)
    }
    match kernel {
        Kernel::Portable => with::<false>(rows, labels, c, d, near),
        // SAFETY: `Kernel::Avx2` is only chosen after AVX2, FMA, POPCNT and BMI1 were detected.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 | Kernel::Avx512 => unsafe { with_avx2(rows, labels, c, d, near) },
    }
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

impl CpuBound<'_> {
    /// One pass: exhaustive unless `lloyd` and the bounds of a previous pass with the same k
    /// carry over. The inertia is the row-by-row sum after an exhaustive pass that was asked
    /// for or that starts a series; else from the ledger's moments (see
    /// [`BoundData::lloyd_step`]), whether or not rows were settled, so the rule does not
    /// depend on the bounds.
    fn pass(
        &mut self,
        centroids: &[f32],
        k: usize,
        lloyd: bool,
    ) -> Result<StepOutput, ComputeError> {
        let data = self.data;
        let (n, d) = (data.n(), data.d());
        check_centroids(centroids, k, d)?;
        let moments = lloyd && self.ledger.holds(k);
        let chunk = chunk_rows(n, k, d);
        let kernel = self.kernel;
        let lanes = kernel.lanes(k);
        let t = self.pruning.groups(k, d, lanes);
        // The bounds hold for the last pass's centroids; they carry over when k is the same.
        let carry = moments && self.centroids.len() == centroids.len();
        if t > 0 && (!carry || self.order.len() != k) {
            self.order = yinyang::group_order(centroids, k, d, lanes);
        }
        let prep = if t > 0 {
            Prepared::ordered(centroids, k, d, lanes, &self.order)
        } else {
            Prepared::new(centroids, k, d, lanes)
        };
        if self.groups.len() != n * t {
            self.groups = vec![0.0; n * t];
        }
        let moved = carry.then(|| {
            let mut moved = Moved::new(&self.centroids, centroids, k, d);
            // When the bounds would leave most rows to be read (a fit's first iterations),
            // testing them first costs more than it saves: every row is searched (the bounds
            // are renewed all the same).
            moved.search_all = self.pruning == Pruning::Off || self.mostly_unsettled(&moved);
            moved
        });
        // A series starts at an exhaustive pass: the group bounds are then stored as they are.
        match &moved {
            Some(m) if t > 0 => {
                for (sum, drift) in self
                    .drift_sums
                    .iter_mut()
                    .zip(yinyang::group_drift(&m.drift, &prep))
                {
                    *sum += f64::from(drift);
                }
            }
            _ => self.drift_sums = vec![0.0; t],
        }
        let pass = Pass {
            centroids,
            prep: &prep,
            k,
            d,
            kernel,
            scales: &self.ledger.scales,
            groups: t,
            drift_sums: &self.drift_sums,
        };
        let norms = &self.norms;
        // Without group bounds every chunk gets an empty slice of them.
        let n_chunks = n.div_ceil(chunk);
        let groups: Vec<&mut [f32]> = if t > 0 {
            self.groups.chunks_mut(chunk * t).collect()
        } else {
            (0..n_chunks).map(|_| <&mut [f32]>::default()).collect()
        };
        let chunks = self
            .labels
            .par_chunks_mut(chunk)
            .zip(self.nearest.par_chunks_mut(chunk))
            .zip(self.upper.par_chunks_mut(chunk))
            .zip(self.lower.par_chunks_mut(chunk))
            .zip(groups);
        let (partials, totals) = fold_chunks(
            chunks,
            k,
            d,
            |c, ((((labels, nearest), upper), lower), groups), totals| {
                let start = c * chunk;
                let end = start + labels.len();
                let rows = Rows {
                    data: &data.data()[start * d..end * d],
                    norms: &norms[start..end],
                    labels,
                    nearest,
                    upper,
                    lower,
                    groups,
                    totals,
                };
                match &moved {
                    Some(moved) => bounded_chunk(&pass, moved, rows),
                    None => full_chunk(&pass, rows),
                }
            },
        );
        self.centroids = centroids.to_vec();
        let (inertia, changed, searched) = reduce_inertia(&partials);
        let scores: u64 = partials.iter().map(|p| p.scores).sum();
        if moved.is_some() {
            self.ledger.apply(&totals);
            self.nearest_fresh = false;
        } else {
            self.ledger.replace(k, totals);
            self.nearest_fresh = true;
        }
        let exact = (!moments).then_some(inertia);
        let mut out = self.ledger.output(centroids, exact, changed, searched);
        out.scores = scores;
        out.bounds = match (&moved, t) {
            (None, _) => Bounds::None,
            (Some(m), _) if m.search_all => Bounds::None,
            (Some(_), 0) => Bounds::Hamerly,
            (Some(_), t) => Bounds::Yinyang { groups: t as u32 },
        };
        Ok(out)
    }
}

impl CpuBound<'_> {
    /// Whether the bounds, loosened by `moved`, would leave most rows unsettled, judged on
    /// every 61st row before the pass (a few reads a sampled row; the labels, and so the
    /// sample's answer, do not depend on the thread count, and the answer changes only the
    /// speed of the pass, never its result). Measured against the last pass's count, which
    /// it replaced: the first bounded pass of a fit, which the last pass cannot predict, no
    /// longer tests every row's bounds in vain.
    fn mostly_unsettled(&self, moved: &Moved) -> bool {
        const STRIDE: usize = 61;
        let (mut seen, mut loose) = (0usize, 0usize);
        for i in (0..self.labels.len()).step_by(STRIDE) {
            let a = self.labels[i] as usize;
            let l = (self.lower[i] - moved.other(a)) * DOWN;
            let u = (self.upper[i] + moved.drift[a]) * UP;
            seen += 1;
            loose += usize::from(!settles(u, l.max(moved.half_gap[a])));
        }
        2 * loose > seen
    }
}

impl BoundData for CpuBound<'_> {
    fn step(&mut self, centroids: &[f32], k: usize) -> Result<StepOutput, ComputeError> {
        self.pass(centroids, k, false)
    }

    fn lloyd_step(&mut self, centroids: &[f32], k: usize) -> Result<StepOutput, ComputeError> {
        self.pass(centroids, k, true)
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
        let kernel = self.kernel;
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
        if !self.nearest_fresh {
            // After a bounded pass: the distances an exhaustive pass would have kept.
            let (data, c) = (self.data, &self.centroids);
            let d = data.d();
            let kernel = self.kernel;
            self.nearest
                .par_chunks_mut(BLOCK)
                .zip(self.labels.par_chunks(BLOCK))
                .enumerate()
                .for_each(|(b, (near, labels))| {
                    let rows = &data.data()[b * BLOCK * d..(b * BLOCK + near.len()) * d];
                    nearest_of(kernel, rows, labels, c, d, near);
                });
            self.nearest_fresh = true;
        }
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
        let mut ledger = Ledger::new(Scales::new(m, &row_norms(m)));
        let mut labels = vec![u32::MAX; n];
        let mut nearest = vec![0f32; n];
        for pass in 0..4 {
            // Exhaustive and Lloyd passes, as a fit mixes them.
            let lloyd = pass != 2;
            let want = if lloyd {
                bound.lloyd_step(&c, k).unwrap()
            } else {
                bound.step(&c, k).unwrap()
            };
            let decided = bound.assignments().unwrap().labels;
            let got = tally_pass(
                &mut ledger,
                m,
                &c,
                k,
                &decided,
                &mut labels,
                &mut nearest,
                lloyd,
            )
            .unwrap();
            assert_eq!(want.inertia.to_bits(), got.inertia.to_bits(), "pass {pass}");
            assert_eq!(want.sums, got.sums, "pass {pass}");
            assert_eq!(want.counts, got.counts, "pass {pass}");
            assert_eq!(want.changed, got.changed, "pass {pass}");
            assert_eq!(labels, decided);
            let far = bound.farthest(3).unwrap();
            assert_eq!(far, farthest_rows(&labels, &nearest, 3), "pass {pass}");
            // Move towards the means so the next pass changes some labels.
            for (j, centroid) in c.chunks_mut(d).enumerate() {
                let count = want.counts[j].max(1) as f64;
                for (f, v) in centroid.iter_mut().enumerate() {
                    *v = (want.sums[j * d + f] / count) as f32;
                }
            }
        }
        let bad = vec![k as u32; n];
        let shape = |d: &[u32], l: &mut Vec<u32>, near: &mut Vec<f32>, ledger: &mut Ledger| {
            tally_pass(ledger, m, &c, k, d, l, near, false).is_err()
        };
        assert!(shape(&bad, &mut labels, &mut nearest, &mut ledger));
        assert!(shape(&[0; 3], &mut labels, &mut nearest, &mut ledger));
    }

    /// The kernels this CPU can run.
    fn kernels() -> Vec<Kernel> {
        let mut all = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        if Kernel::detect() != Kernel::Portable {
            all.push(Kernel::Avx2);
            if Kernel::detect() == Kernel::Avx512 {
                all.push(Kernel::Avx512);
            }
        }
        all
    }

    /// Lloyd iterations with bounds, without them (every row searched) and with an exhaustive
    /// pass each time: the same labels, sums and counts bit for bit on every pass, and the
    /// moments' inertia within rounding of the row-by-row sum.
    #[test]
    fn bounded_passes_give_the_bits_of_exhaustive_ones() {
        for (n, d, k, spread) in [
            (5_000, 1, 3, 0.3),
            (7_001, 3, 8, 0.5),
            (6_000, 16, 8, 3.0),
            (4_000, 9, 17, 1.0),
            (3_000, 33, 70, 2.0),
            (2_500, 32, 130, 4.0),
            (2_000, 4, 1, 1.0),
        ] {
            // Blobs around k centres plus noise: bounds settle most rows, not all.
            let data: Vec<f32> = (0..n * d)
                .map(|i| {
                    let (r, f) = (i / d, i % d);
                    let centre = ((r % k.max(1)) * 7 + f * 3) % 11;
                    centre as f32 + spread * (((i * 7_919 + 13) % 1_009) as f32 / 1_009.0 - 0.5)
                })
                .collect();
            let m = MatrixRef::new(&data, n, d).unwrap();
            // Every kernel this CPU runs, with each kind of bounds, against the portable one,
            // exhaustive.
            let mut bounded: Vec<CpuBound> = kernels()
                .into_iter()
                .flat_map(|kernel| {
                    [Pruning::Hamerly, Pruning::Yinyang, Pruning::Auto]
                        .map(|pruning| CpuBound::new(m, pruning, kernel))
                })
                .collect();
            let mut all = CpuBound::new(m, Pruning::Off, Kernel::detect());
            let mut exhaustive = CpuBound::new(m, Pruning::Auto, Kernel::Portable);
            let mut c: Vec<f32> = data[..k * d].to_vec();
            if k > 2 {
                c.copy_within(0..d, 2 * d); // two equal centroids: rows tie between them
            }
            let mut settled = 0;
            // Yinyang passes that searched rows in some groups only.
            let mut skipped_groups = 0;
            for pass in 0..12 {
                let a = all.lloyd_step(&c, k).unwrap();
                let e = exhaustive.step(&c, k).unwrap();
                for bounded in &mut bounded {
                    let b = bounded.lloyd_step(&c, k).unwrap();
                    let what = format!(
                        "n={n} d={d} k={k} {:?} {:?} pass {pass}",
                        bounded.kernel, bounded.pruning
                    );
                    assert_eq!(bounded.labels, exhaustive.labels, "{what}");
                    assert_eq!(b.sums, e.sums, "{what}");
                    assert_eq!((&b.counts, b.changed), (&e.counts, e.changed), "{what}");
                    assert_eq!(a.inertia.to_bits(), b.inertia.to_bits(), "{what}");
                    // The row-by-row sum adds f32 distances (each rounded, by up to 6e-8
                    // relative); the moments are exact sums: they agree to well within 1e-6.
                    let rel = (b.inertia - e.inertia).abs() / e.inertia.max(1e-300);
                    assert!(rel < 1e-6, "{what}: inertia {} vs {}", b.inertia, e.inertia);
                    if pass == 0 {
                        assert_eq!(b.inertia.to_bits(), e.inertia.to_bits(), "{what}");
                    }
                    settled += n as u64 - b.searched;
                    if let Bounds::Yinyang { .. } = b.bounds {
                        skipped_groups += u64::from(b.scores < b.searched * k as u64);
                    }
                    assert_eq!(
                        bounded.farthest(4).unwrap(),
                        exhaustive.farthest(4).unwrap(),
                        "{what}"
                    );
                }
                let what = format!("n={n} d={d} k={k} pass {pass}");
                assert_eq!(all.labels, exhaustive.labels, "{what}");
                assert_eq!(a.sums, e.sums, "{what}");
                assert_eq!(a.searched, n as u64, "{what}");
                for (j, centroid) in c.chunks_mut(d).enumerate() {
                    if e.counts[j] > 0 {
                        for (f, v) in centroid.iter_mut().enumerate() {
                            *v = (e.sums[j * d + f] / e.counts[j] as f64) as f32;
                        }
                    }
                }
                if pass == 6 {
                    // A reseed-like jump: one centroid onto a far row.
                    c[..d].copy_from_slice(&data[(n - 1) * d..]);
                }
            }
            assert!(
                settled > 0,
                "n={n} d={d} k={k}: the bounds never settled a row"
            );
            if k >= 64 {
                assert!(
                    skipped_groups > 0,
                    "n={n} d={d} k={k}: no Yinyang pass skipped a group"
                );
            }
            let want = exhaustive.assignments().unwrap();
            for bounded in &mut bounded {
                assert_eq!(bounded.assignments().unwrap().labels, want.labels);
            }
        }
    }

    /// Every row the AVX2 kernel decides in f32 gets the label brute force in f64 gives, and
    /// so does every row the portable kernel decides; near-ties are deferred (a duplicate
    /// centroid makes some). Group counts 1 to 9, odd widths.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_picks_match_portable_picks() {
        if Kernel::detect() == Kernel::Portable {
            eprintln!("no AVX2 on this CPU: only the portable kernel exists here");
            return;
        }
        let avx512 = std::is_x86_feature_detected!("avx512f");
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
                let (mut fast_second, mut slow_second) = ([0f32; BLOCK], [0f32; BLOCK]);
                let mut fast_groups = vec![f32::NAN; BLOCK * p8.groups()];
                let mut slow_groups = vec![f32::NAN; BLOCK * p16.groups()];
                // SAFETY: AVX2, FMA, POPCNT and BMI1 were detected above.
                unsafe {
                    picks_avx2(
                        block,
                        x_norms,
                        &p8,
                        d,
                        &mut scratch,
                        &mut fast,
                        &mut fast_second,
                        &mut fast_groups,
                    )
                };
                picks_portable(
                    block,
                    x_norms,
                    &p16,
                    d,
                    &mut scratch,
                    &mut slow,
                    &mut slow_second,
                    &mut slow_groups,
                );
                let (mut wide, mut wide_second) = ([None; BLOCK], [0f32; BLOCK]);
                let p_wide = Prepared::new(&c, k, d, 16);
                let mut wide_scratch = vec![0f32; BLOCK * p_wide.kp];
                let mut wide_groups = vec![f32::NAN; BLOCK * p_wide.groups()];
                if avx512 {
                    // SAFETY: AVX-512F (with AVX2, FMA, POPCNT and BMI1) was detected.
                    unsafe {
                        picks_avx512(
                            block,
                            x_norms,
                            &p_wide,
                            d,
                            &mut wide_scratch,
                            &mut wide,
                            &mut wide_second,
                            &mut wide_groups,
                        )
                    };
                } else {
                    (wide, wide_second) = (slow, slow_second);
                    wide_groups.clone_from(&slow_groups);
                }
                for r in 0..m {
                    let want = truth[b * BLOCK + r];
                    let row = &data[(b * BLOCK + r) * d..(b * BLOCK + r + 1) * d];
                    // The exact distance to the nearest other centroid, which the lower bound
                    // made from the second score must not exceed.
                    let second = (0..k)
                        .filter(|&j| j != want as usize)
                        .map(|j| sq_dist_f64(row, &c[j * d..(j + 1) * d]).sqrt())
                        .fold(f64::INFINITY, f64::min);
                    for (pick, sec, prep, groups) in [
                        (fast[r], fast_second[r], &p8, &fast_groups),
                        (slow[r], slow_second[r], &p16, &slow_groups),
                        (wide[r], wide_second[r], &p_wide, &wide_groups),
                    ] {
                        match pick {
                            Some(j) => {
                                assert_eq!(j, want, "d={d} k={k} row {}", b * BLOCK + r);
                                let low = f64::from(lower_sq_of(prep, x_norms[r], sec)).sqrt();
                                assert!(low <= second, "d={d} k={k}: {low} > {second}");
                                // Each group's bound holds for every centroid of the group
                                // but the pick, and one of them attains the group's score.
                                let t = prep.groups();
                                for j in (0..k).filter(|&j| j != want as usize) {
                                    let g = j / prep.lanes;
                                    let low = lower_sq_of(prep, x_norms[r], groups[r * t + g]);
                                    let exact = sq_dist_f64(row, &c[j * d..(j + 1) * d]);
                                    assert!(f64::from(low) <= exact, "d={d} k={k} group {g}");
                                }
                            }
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
