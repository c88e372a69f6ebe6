//! How good a segmentation is, measured on the feature matrix it was made from, and how much
//! two segmentations of the same customers agree.
//!
//! The definitions are scikit-learn's (`silhouette_score`, `davies_bouldin_score`,
//! `calinski_harabasz_score`, `adjusted_rand_score`), so the numbers can be read against what an
//! analyst already knows; a test holds them to values computed with scikit-learn (the fixture
//! and the script that made it are in `tests/fixtures/quality`). Distances are Euclidean, in
//! f64 from the f32 features; every sum runs in a fixed order, so the results do not depend on
//! the thread count. No I/O.
//!
//! Silhouette is O(n²·d): it is exact up to a row limit the caller states and computed on a
//! seeded uniform sample of rows above it (as scikit-learn's `sample_size`), and says which.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rayon::prelude::*;
use std::collections::HashSet;

/// Quality of one segmentation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quality {
    /// Mean silhouette in [-1, 1] (higher: customers sit well inside their segment); `None`
    /// with one segment.
    pub silhouette: Option<f64>,
    /// Rows the silhouette was computed on: every row, or the sample's size when sampled.
    pub silhouette_rows: usize,
    /// Whether those rows were a seeded sample, taken when the data has more rows than the
    /// caller's exact limit.
    pub silhouette_sampled: bool,
    /// The sample's seed (when sampled).
    pub silhouette_seed: Option<u64>,
    /// Mean over segments of the worst (spread_i + spread_j) / distance(i, j); lower is better,
    /// 0 at best. `None` with one segment.
    pub davies_bouldin: Option<f64>,
    /// Between-segment over within-segment dispersion, each per degree of freedom; higher is
    /// better. `None` with one segment, or when every row sits on its centroid.
    pub calinski_harabasz: Option<f64>,
}

/// Per-segment means (k × d, f64) and sizes, with the number of segments that have rows.
struct Means {
    centroids: Vec<f64>,
    sizes: Vec<usize>,
    used: usize,
}

fn means(data: &[f32], d: usize, labels: &[u32], k: usize) -> Means {
    let partial: Vec<(Vec<f64>, Vec<usize>)> = data
        .par_chunks(CHUNK_ROWS * d.max(1))
        .zip(labels.par_chunks(CHUNK_ROWS))
        .map(|(rows, ls)| {
            let mut sums = vec![0f64; k * d];
            let mut sizes = vec![0usize; k];
            for (row, &l) in rows.chunks_exact(d).zip(ls) {
                let l = l as usize;
                sizes[l] += 1;
                for (s, &x) in sums[l * d..(l + 1) * d].iter_mut().zip(row) {
                    *s += x as f64;
                }
            }
            (sums, sizes)
        })
        .collect();
    let mut centroids = vec![0f64; k * d];
    let mut sizes = vec![0usize; k];
    for (s, c) in &partial {
        for (a, b) in centroids.iter_mut().zip(s) {
            *a += b;
        }
        for (a, b) in sizes.iter_mut().zip(c) {
            *a += b;
        }
    }
    for (j, &size) in sizes.iter().enumerate() {
        for s in &mut centroids[j * d..(j + 1) * d] {
            *s /= size.max(1) as f64;
        }
    }
    let used = sizes.iter().filter(|&&c| c > 0).count();
    Means {
        centroids,
        sizes,
        used,
    }
}

fn sq_dist(a: &[f32], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &c)| {
            let t = x as f64 - c;
            t * t
        })
        .sum()
}

/// Rows per parallel chunk: fixed, so the sums' order never depends on the thread count.
const CHUNK_ROWS: usize = 4096;

/// Calinski–Harabasz index: [Σ_j n_j‖c_j − c‖² / (k − 1)] / [Σ‖x − c_label‖² / (n − k)].
pub fn calinski_harabasz(data: &[f32], d: usize, labels: &[u32], k: usize) -> Option<f64> {
    calinski_harabasz_with(data, d, labels, &means(data, d, labels, k))
}

fn calinski_harabasz_with(data: &[f32], d: usize, labels: &[u32], m: &Means) -> Option<f64> {
    let (n, k, used) = (labels.len(), m.sizes.len(), m.used);
    if used < 2 || n <= used {
        return None;
    }
    let (centroids, sizes) = (&m.centroids, &m.sizes);
    let overall: Vec<f64> = (0..d)
        .map(|f| {
            (0..k)
                .map(|j| centroids[j * d + f] * sizes[j] as f64)
                .sum::<f64>()
                / n as f64
        })
        .collect();
    let between: f64 = (0..k)
        .map(|j| {
            let c = &centroids[j * d..(j + 1) * d];
            sizes[j] as f64
                * c.iter()
                    .zip(&overall)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
        })
        .sum();
    let within = within_sum(data, d, labels, centroids);
    if within == 0.0 {
        return None;
    }
    Some(between * (n - used) as f64 / (within * (used - 1) as f64))
}

fn within_sum(data: &[f32], d: usize, labels: &[u32], centroids: &[f64]) -> f64 {
    data.par_chunks(CHUNK_ROWS * d)
        .zip(labels.par_chunks(CHUNK_ROWS))
        .map(|(rows, ls)| {
            rows.chunks_exact(d)
                .zip(ls)
                .map(|(r, &l)| sq_dist(r, &centroids[l as usize * d..(l as usize + 1) * d]))
                .sum::<f64>()
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum()
}

/// Davies–Bouldin index: the mean over segments of max_{j≠i} (s_i + s_j) / ‖c_i − c_j‖, where
/// s_i is the mean distance of segment i's rows to its centroid. Empty segments are left out.
pub fn davies_bouldin(data: &[f32], d: usize, labels: &[u32], k: usize) -> Option<f64> {
    davies_bouldin_with(data, d, labels, &means(data, d, labels, k))
}

fn davies_bouldin_with(data: &[f32], d: usize, labels: &[u32], m: &Means) -> Option<f64> {
    if m.used < 2 {
        return None;
    }
    let (centroids, sizes, k) = (&m.centroids, &m.sizes, m.sizes.len());
    let partial: Vec<Vec<f64>> = data
        .par_chunks(CHUNK_ROWS * d)
        .zip(labels.par_chunks(CHUNK_ROWS))
        .map(|(rows, ls)| {
            let mut s = vec![0f64; k];
            for (r, &l) in rows.chunks_exact(d).zip(ls) {
                let l = l as usize;
                s[l] += sq_dist(r, &centroids[l * d..(l + 1) * d]).sqrt();
            }
            s
        })
        .collect();
    let mut spread = vec![0f64; k];
    for p in &partial {
        for (s, v) in spread.iter_mut().zip(p) {
            *s += v;
        }
    }
    let live: Vec<usize> = (0..k).filter(|&j| sizes[j] > 0).collect();
    for &j in &live {
        spread[j] /= sizes[j] as f64;
    }
    let worst: f64 = live
        .iter()
        .map(|&i| {
            live.iter()
                .filter(|&&j| j != i)
                .map(|&j| {
                    let c: f64 = (0..d)
                        .map(|f| (centroids[i * d + f] - centroids[j * d + f]).powi(2))
                        .sum::<f64>()
                        .sqrt();
                    // Coincident centroids: scikit-learn counts the pair as 0, not infinity.
                    if c == 0.0 {
                        0.0
                    } else {
                        (spread[i] + spread[j]) / c
                    }
                })
                .fold(0.0, f64::max)
        })
        .sum();
    Some(worst / live.len() as f64)
}

/// `count` distinct indices below `n`, uniformly at random (Floyd's algorithm), ascending.
pub fn sample_rows(n: usize, count: usize, seed: u64) -> Vec<usize> {
    if count >= n {
        return (0..n).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen = HashSet::with_capacity(count);
    for j in n - count..n {
        // 64 random bits modulo at most 2^40 rows: a bias below 1e-7.
        let t = (rng.next_u64() % (j as u64 + 1)) as usize;
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    let mut rows: Vec<usize> = chosen.into_iter().collect();
    rows.sort_unstable();
    rows
}

/// Mean silhouette of `rows` (indices into `data`), each against the others of `rows` only.
///
/// For a row: a = mean distance to the other rows of its segment, b = the least mean distance
/// to the rows of another segment, s = (b − a) / max(a, b); a row alone in its segment scores 0.
///
/// The rows are regrouped by segment into a column-major copy, so each row's distances to a
/// segment are one vectorisable loop over a contiguous block; a distance is computed in f32
/// (relative error about 1e-7, as small as scikit-learn's own expanded-form distances) and
/// summed in f64.
pub fn silhouette_of(
    data: &[f32],
    d: usize,
    labels: &[u32],
    k: usize,
    rows: &[usize],
) -> Option<f64> {
    let mut order: Vec<(u32, usize)> = rows.iter().map(|&i| (labels[i], i)).collect();
    order.sort_unstable();
    let s = order.len();
    let mut starts = vec![0usize; k + 1];
    for &(l, _) in &order {
        starts[l as usize + 1] += 1;
    }
    for j in 0..k {
        starts[j + 1] += starts[j];
    }
    let sizes: Vec<usize> = (0..k).map(|j| starts[j + 1] - starts[j]).collect();
    if sizes.iter().filter(|&&c| c > 0).count() < 2 {
        return None;
    }
    let mut columns = vec![0f32; d * s];
    for (p, &(_, i)) in order.iter().enumerate() {
        for f in 0..d {
            columns[f * s + p] = data[i * d + f];
        }
    }
    let segments = Segments {
        starts: &starts,
        columns: &columns,
        s,
    };
    let scores: Vec<f64> = order
        .par_iter()
        .map(|&(li, i)| {
            let x = &data[i * d..(i + 1) * d];
            let mut sums = vec![0f64; k];
            segments.distance_sums(x, &mut sums);
            row_silhouette(&sums, &sizes, li as usize)
        })
        .collect();
    Some(scores.iter().sum::<f64>() / scores.len() as f64)
}

/// One row's silhouette from its summed distances to each segment's rows (`sums`), the
/// segments' sizes and its own segment `li`: a = mean distance to the others of its segment,
/// b = the least mean distance to another segment's rows, (b − a) / max(a, b); 0 alone.
fn row_silhouette(sums: &[f64], sizes: &[usize], li: usize) -> f64 {
    if sizes[li] <= 1 {
        return 0.0;
    }
    let a = sums[li] / (sizes[li] - 1) as f64;
    let b = (0..sums.len())
        .filter(|&j| j != li && sizes[j] > 0)
        .map(|j| sums[j] / sizes[j] as f64)
        .fold(f64::INFINITY, f64::min);
    let m = a.max(b);
    if m == 0.0 { 0.0 } else { (b - a) / m }
}

/// The silhouette's rows regrouped by segment, column-major: segment j's rows are positions
/// `starts[j]..starts[j + 1]` of each of the `d` columns of `s` values.
struct Segments<'a> {
    starts: &'a [usize],
    columns: &'a [f32],
    s: usize,
}

impl Segments<'_> {
    /// `sums[j]`: the sum of the distances from `x` to segment j's rows. With AVX2 where the
    /// machine has it: the same operations in the same order, eight lanes wide instead of
    /// four, so the same bits (`wide_and_narrow_distance_sums_agree`).
    fn distance_sums(&self, x: &[f32], sums: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was detected just above.
            unsafe { self.distance_sums_avx2(x, sums) };
            return;
        }
        self.distance_sums_with(x, sums);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn distance_sums_avx2(&self, x: &[f32], sums: &mut [f64]) {
        self.distance_sums_with(x, sums);
    }

    #[inline(always)]
    fn distance_sums_with(&self, x: &[f32], sums: &mut [f64]) {
        const BLOCK: usize = 256;
        let (starts, columns, s) = (self.starts, self.columns, self.s);
        let mut acc = [0f32; BLOCK];
        for (j, sum) in sums.iter_mut().enumerate() {
            let mut a = starts[j];
            while a < starts[j + 1] {
                let len = (starts[j + 1] - a).min(BLOCK);
                let acc = &mut acc[..len];
                acc.fill(0.0);
                for (f, &xf) in x.iter().enumerate() {
                    let col = &columns[f * s + a..f * s + a + len];
                    for (t, &y) in acc.iter_mut().zip(col) {
                        let u = xf - y;
                        *t += u * u;
                    }
                }
                // Eight f64 partial sums: a fixed order the compiler can vectorise.
                let mut lanes = [0f64; 8];
                let mut chunks = acc.chunks_exact(8);
                for c in &mut chunks {
                    for (l, &v) in lanes.iter_mut().zip(c) {
                        *l += v.sqrt() as f64;
                    }
                }
                for (l, &v) in lanes.iter_mut().zip(chunks.remainder()) {
                    *l += v.sqrt() as f64;
                }
                *sum += lanes.iter().sum::<f64>();
                a += len;
            }
        }
    }
}

/// Customers described by numbers and category codes, compared by k-prototypes' distance:
/// the squared Euclidean distance of the numbers plus `gamma` per differing category.
#[derive(Debug, Clone, Copy)]
pub struct Mixed<'a> {
    /// n × `dn` numbers, row-major.
    pub num: &'a [f64],
    /// Numbers per row.
    pub dn: usize,
    /// n × `dc` codes, row-major.
    pub cat: &'a [u32],
    /// Codes per row.
    pub dc: usize,
    /// The weight of one categorical mismatch.
    pub gamma: f64,
}

impl Mixed<'_> {
    /// The silhouette's distance between rows `i` and `j`: the square root of k-prototypes'
    /// cost, √(‖x − y‖² + γ · mismatches), a metric (the Euclidean combination of the
    /// numbers' distance and √γ·Hamming), which is the Euclidean distance with no categories.
    fn distance(&self, i: usize, j: usize) -> f64 {
        let (a, b) = (
            &self.num[i * self.dn..(i + 1) * self.dn],
            &self.num[j * self.dn..(j + 1) * self.dn],
        );
        let sq: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
        let (p, q) = (
            &self.cat[i * self.dc..(i + 1) * self.dc],
            &self.cat[j * self.dc..(j + 1) * self.dc],
        );
        let mismatches = p.iter().zip(q).filter(|(x, y)| x != y).count();
        (sq + self.gamma * mismatches as f64).sqrt()
    }
}

/// Mean silhouette of `rows` under k-prototypes' distance ([`Mixed`]), each row against the
/// others of `rows` only; `None` with fewer than two segments among them. Computed in f64,
/// every pair once per row (s² distances for s rows).
pub fn silhouette_mixed(data: &Mixed<'_>, labels: &[u32], k: usize, rows: &[usize]) -> Option<f64> {
    let mut sizes = vec![0usize; k];
    for &i in rows {
        sizes[labels[i] as usize] += 1;
    }
    if sizes.iter().filter(|&&c| c > 0).count() < 2 {
        return None;
    }
    let scores: Vec<f64> = rows
        .par_iter()
        .map(|&i| {
            let mut sums = vec![0f64; k];
            for &j in rows {
                if j != i {
                    sums[labels[j] as usize] += data.distance(i, j);
                }
            }
            row_silhouette(&sums, &sizes, labels[i] as usize)
        })
        .collect();
    Some(scores.iter().sum::<f64>() / scores.len() as f64)
}

/// [`Quality`] under k-prototypes' distance: the silhouette on [`Mixed`] (exact up to
/// `exact_limit` rows, on a seeded sample above), and no Davies–Bouldin or Calinski–Harabasz,
/// which are defined by Euclidean centroids and variances a mode does not have.
pub fn quality_mixed(
    data: &Mixed<'_>,
    labels: &[u32],
    k: usize,
    exact_limit: usize,
    seed: u64,
) -> Quality {
    let n = labels.len();
    let sampled = n > exact_limit;
    let rows = sample_rows(n, exact_limit, seed);
    Quality {
        silhouette: silhouette_mixed(data, labels, k, &rows),
        silhouette_rows: rows.len(),
        silhouette_sampled: sampled,
        silhouette_seed: sampled.then_some(seed),
        davies_bouldin: None,
        calinski_harabasz: None,
    }
}

/// Every measure of [`Quality`]; the silhouette is exact up to `exact_limit` rows and on a
/// sample of that many rows (seeded by `seed`) above it.
pub fn quality(
    data: &[f32],
    d: usize,
    labels: &[u32],
    k: usize,
    exact_limit: usize,
    seed: u64,
) -> Quality {
    let n = labels.len();
    assert_eq!(data.len(), n * d, "{n} rows of {d} features");
    let sampled = n > exact_limit;
    let rows = sample_rows(n, exact_limit, seed);
    let m = means(data, d, labels, k);
    Quality {
        silhouette: silhouette_of(data, d, labels, k, &rows),
        silhouette_rows: rows.len(),
        silhouette_sampled: sampled,
        silhouette_seed: sampled.then_some(seed),
        davies_bouldin: davies_bouldin_with(data, d, labels, &m),
        calinski_harabasz: calinski_harabasz_with(data, d, labels, &m),
    }
}

/// Adjusted Rand index of two labelings of the same rows: 1 for the same partition (whatever
/// the numbering), about 0 for unrelated ones.
pub fn adjusted_rand_index(a: &[u32], b: &[u32]) -> f64 {
    assert_eq!(a.len(), b.len(), "two labelings of the same rows");
    let n = a.len() as f64;
    let ka = a.iter().max().map_or(0, |&m| m as usize + 1);
    let kb = b.iter().max().map_or(0, |&m| m as usize + 1);
    let mut table = vec![0u64; ka * kb];
    for (&x, &y) in a.iter().zip(b) {
        table[x as usize * kb + y as usize] += 1;
    }
    let pairs = |c: u64| (c as f64) * (c as f64 - 1.0) / 2.0;
    let index: f64 = table.iter().map(|&c| pairs(c)).sum();
    let rows: f64 = (0..ka)
        .map(|i| pairs(table[i * kb..(i + 1) * kb].iter().sum()))
        .sum();
    let cols: f64 = (0..kb)
        .map(|j| pairs((0..ka).map(|i| table[i * kb + j]).sum()))
        .sum();
    let expected = rows * cols / pairs(n as u64).max(1.0);
    let max = (rows + cols) / 2.0;
    if max == expected {
        // Both partitions trivial (all one segment, or all singletons): they agree.
        return 1.0;
    }
    (index - expected) / (max - expected)
}

#[cfg(test)]
mod tests;
