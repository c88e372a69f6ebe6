//! k-prototypes for customers described by numbers and categories (Huang 1997, "Clustering
//! large data sets with mixed numeric and categorical values"; 1998): the distance of a
//! customer to a prototype is the squared Euclidean distance on the numeric part plus γ times
//! the number of categorical attributes that differ, and a prototype is the numeric means and
//! the categorical modes of its customers. So a segment's centre says "Married", never "0.4
//! Married", and no dummy-variable mean stands in for a customer.
//!
//! # The same algorithm as kmodes, step for step
//!
//! This is the `KPrototypes` of the `kmodes` package (0.12.2; `docs/research/` has the reading
//! of its source), so that the same data, γ and initial prototypes give the same labels and
//! cost, bit for bit (tested against a committed kmodes fixture):
//!
//! - **Cost** per customer: `num + γ · mismatches`, the numeric part summed as numpy sums (a
//!   plain sum below 8 columns, its pairwise sum from 8), ties to the lowest prototype.
//! - **γ** by default: half the mean of the numeric columns' population standard deviations
//!   (kmodes ≥ 0.12.2; columns summed pairwise over the rows, as numpy does).
//! - **Initial assignment** in row order with the prototypes fixed, then means and modes
//!   (ties to the smallest code).
//! - **Iterations are online** (Huang's): rows are visited in order and a row that is closer to
//!   another prototype moves at once, updating both prototypes' running sums and modes before
//!   the next row is looked at (a mode changes only when another value's count becomes strictly
//!   larger). After each pass every row is labelled again against the final prototypes, and the
//!   fit stops when a pass moves no row, the cost does not fall, or `max_iter` passes ran.
//! - **Cao's initialisation** (deterministic categorical prototypes by density and distance)
//!   and **Huang's**, each with numeric prototypes drawn around the column means; restarts keep
//!   the lowest cost.
//!
//! Where kmodes draws random numbers (numpy's Mersenne Twister), this crate draws its own,
//! seeded: the numeric part of a Cao or Huang start, Huang's categorical draws, and the row
//! moved into a prototype that lost its last customer. Given initial prototypes and no
//! prototype emptied during a pass, nothing random happens and the results are kmodes'.
//! Categorical codes are the caller's: kmodes codes each column's values in sorted order, and
//! its ties ("smallest code") follow that order, so a caller wanting its exact ties codes the
//! same way.
//!
//! The online pass is sequential by nature; the labelling passes run in parallel with the cost
//! summed in row order, so the result does not depend on the thread count.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rayon::prelude::*;

/// Why a fit cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The data's sizes do not add up, or a value is not finite.
    #[error("{0}")]
    Data(String),
    /// A parameter is out of range.
    #[error("{0}")]
    Params(String),
    /// A start left a prototype without any customer.
    #[error("{0}")]
    Empty(String),
    /// The [`Screen`] failed (a device error).
    #[error("{0}")]
    Screen(String),
}

/// Set on a [`Screen`]'s label when the row's two nearest prototypes are too close for the
/// screen's arithmetic to order: the row is decided again exactly.
pub const SCREEN_TIE: u32 = 1 << 31;

/// A labelling pass run elsewhere (a GPU, in f32) and checked here: for every row of the data
/// it was built for, its nearest prototype, with [`SCREEN_TIE`] set when the screen's error
/// bound cannot order the two nearest. Rows without the flag keep the screen's label and
/// their cost is computed here, exactly as [`assign`] computes it; flagged rows are labelled
/// here from scratch. So a sound screen gives the CPU's labels and cost bit for bit, and only
/// the flagged rows cost k distances on the CPU.
pub trait Screen: Sync {
    /// Every row's nearest of the `k` prototypes (`num`: k × numeric columns, `cat`: k ×
    /// categorical ones) under the distance with weight `gamma`, flagged as above.
    fn nearest(&self, num: &[f64], cat: &[u32], k: usize, gamma: f64) -> Result<Vec<u32>, String>;
}

/// Customers as two row-major blocks: `n × dn` numbers and `n × dc` category codes.
#[derive(Debug, Clone, Copy)]
pub struct Data<'a> {
    num: &'a [f64],
    cat: &'a [u32],
    n: usize,
    dn: usize,
    dc: usize,
}

impl<'a> Data<'a> {
    /// Checks that both blocks describe the same `n` rows and that every number is finite.
    pub fn new(num: &'a [f64], dn: usize, cat: &'a [u32], dc: usize) -> Result<Data<'a>, Error> {
        if dn + dc == 0 {
            return Err(Error::Data("no column to cluster on".into()));
        }
        let n = num
            .len()
            .checked_div(dn)
            .or_else(|| cat.len().checked_div(dc))
            .unwrap_or(0);
        if num.len() != n * dn || cat.len() != n * dc {
            return Err(Error::Data(format!(
                "{} numbers for {dn} numeric columns and {} codes for {dc} categorical ones do \
                 not make whole rows of the same count",
                num.len(),
                cat.len()
            )));
        }
        if let Some(i) = num.iter().position(|v| !v.is_finite()) {
            return Err(Error::Data(format!(
                "row {}, numeric column {}: {} is not a finite number (impute or drop missing \
                 values first)",
                i / dn.max(1) + 1,
                i % dn.max(1) + 1,
                num[i]
            )));
        }
        Ok(Data {
            num,
            cat,
            n,
            dn,
            dc,
        })
    }

    /// Rows.
    pub fn n(&self) -> usize {
        self.n
    }

    fn xn(&self, i: usize) -> &[f64] {
        &self.num[i * self.dn..(i + 1) * self.dn]
    }

    fn xc(&self, i: usize) -> &[u32] {
        &self.cat[i * self.dc..(i + 1) * self.dc]
    }

    /// The number of distinct codes each categorical column may hold (its largest code + 1).
    fn levels(&self) -> Vec<usize> {
        let mut m = vec![0usize; self.dc];
        for row in self.cat.chunks_exact(self.dc.max(1)) {
            for (l, &c) in m.iter_mut().zip(row) {
                *l = (*l).max(c as usize + 1);
            }
        }
        m
    }
}

/// How the prototypes start.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Cao, Liang & Bai (2009): categorical prototypes by density and distance
    /// (deterministic); numeric ones drawn around the column means. kmodes' default.
    Cao,
    /// Huang (1998): categorical prototypes drawn by frequency, then moved to the nearest
    /// distinct rows; numeric ones drawn around the column means.
    Huang,
    /// Given prototypes: `k × dn` numbers and `k × dc` codes, row-major. One run.
    Given {
        /// The numeric parts.
        num: Vec<f64>,
        /// The categorical parts.
        cat: Vec<u32>,
    },
}

impl Init {
    /// A given start from rows of `data` (0-based), as kmodes users start from rows.
    pub fn rows(data: &Data<'_>, rows: &[usize]) -> Init {
        Init::Given {
            num: rows.iter().flat_map(|&r| data.xn(r).to_vec()).collect(),
            cat: rows.iter().flat_map(|&r| data.xc(r).to_vec()).collect(),
        }
    }
}

/// Parameters of a fit; [`Params::check`] validates them against the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    k: usize,
    gamma: Option<f64>,
    init: Init,
    n_init: usize,
    max_iter: usize,
    seed: u64,
}

/// kmodes' defaults: 100 passes at most, 10 restarts.
pub const DEFAULT_MAX_ITER: usize = 100;
/// kmodes' default restarts (it keeps 10 with Cao, whose numeric part is random).
pub const DEFAULT_N_INIT: usize = 10;

impl Params {
    /// `k` prototypes, Cao's start, γ by kmodes' rule, 10 restarts, 100 passes, seed 0.
    pub fn new(k: usize) -> Params {
        Params {
            k,
            gamma: None,
            init: Init::Cao,
            n_init: DEFAULT_N_INIT,
            max_iter: DEFAULT_MAX_ITER,
            seed: 0,
        }
    }
    /// γ, the weight of one categorical mismatch against squared numeric distance;
    /// `None`: [`default_gamma`].
    pub fn gamma(mut self, g: Option<f64>) -> Params {
        self.gamma = g;
        self
    }
    /// How the prototypes start.
    pub fn init(mut self, init: Init) -> Params {
        self.init = init;
        self
    }
    /// Restarts (a given start runs once).
    pub fn n_init(mut self, n: usize) -> Params {
        self.n_init = n;
        self
    }
    /// The most online passes.
    pub fn max_iter(mut self, n: usize) -> Params {
        self.max_iter = n;
        self
    }
    /// The seed of every random draw.
    pub fn seed(mut self, s: u64) -> Params {
        self.seed = s;
        self
    }

    /// Validates the parameters against `data`; the first problem is an [`Error::Params`].
    pub fn check(&self, data: &Data<'_>) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Params(m));
        if self.k == 0 || self.k > data.n {
            return bad(format!(
                "k must be 1 to the number of rows, {} (got {})",
                data.n, self.k
            ));
        }
        if self.n_init == 0 {
            return bad("at least one run (n_init ≥ 1)".into());
        }
        if let Some(g) = self.gamma
            && !(g.is_finite() && g >= 0.0)
        {
            return bad(format!("gamma must be a finite number ≥ 0 (got {g})"));
        }
        if let Init::Given { num, cat } = &self.init
            && (num.len() != self.k * data.dn || cat.len() != self.k * data.dc)
        {
            return bad(format!(
                "the given prototypes must be {} numbers and {} codes ({} × {} and {} × {}); \
                 got {} and {}",
                self.k * data.dn,
                self.k * data.dc,
                self.k,
                data.dn,
                self.k,
                data.dc,
                num.len(),
                cat.len()
            ));
        }
        Ok(())
    }
}

/// What a fit found: the best run's labels, cost and prototypes.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Each row's prototype, from the last labelling pass.
    pub labels: Vec<u32>,
    /// The sum of the rows' distances to their prototypes.
    pub cost: f64,
    /// Online passes of the best run (the last one included, even if it moved nothing).
    pub iterations: usize,
    /// The cost after the initial prototypes' update and after each pass.
    pub epoch_costs: Vec<f64>,
    /// `k × dn` numeric prototypes, row-major.
    pub num_centroids: Vec<f64>,
    /// `k × dc` categorical prototypes (modes), row-major.
    pub cat_centroids: Vec<u32>,
    /// The γ used.
    pub gamma: f64,
    /// The run kept (the first with the lowest cost).
    pub best_run: usize,
    /// Every run's final cost.
    pub run_costs: Vec<f64>,
}

/// numpy's `pairwise_sum` (`loops_utils.h.src`): a plain sum below 8 values, eight
/// accumulators up to 128, halves above. Copying it is what makes sums bit-identical to
/// kmodes'.
pub fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut r = 0.0;
        for &v in a {
            r += v;
        }
        r
    } else if n <= 128 {
        let mut r = [0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// Each numeric column's mean and population standard deviation, summed as numpy sums a
/// column.
fn column_moments(data: &Data<'_>) -> (Vec<f64>, Vec<f64>) {
    let n = data.n as f64;
    let mut col = vec![0f64; data.n];
    let mut means = Vec::with_capacity(data.dn);
    let mut stds = Vec::with_capacity(data.dn);
    for j in 0..data.dn {
        for (i, c) in col.iter_mut().enumerate() {
            *c = data.num[i * data.dn + j];
        }
        let m = pairwise_sum(&col) / n;
        col.iter_mut().for_each(|v| *v = (*v - m) * (*v - m));
        means.push(m);
        stds.push((pairwise_sum(&col) / n).sqrt());
    }
    (means, stds)
}

/// kmodes' γ (0.12.2 on): half the mean of the numeric columns' population standard
/// deviations; 0 without numeric columns.
pub fn default_gamma(data: &Data<'_>) -> f64 {
    if data.dn == 0 {
        return 0.0;
    }
    let (_, stds) = column_moments(data);
    0.5 * (pairwise_sum(&stds) / data.dn as f64)
}

/// The prototypes a run moves.
struct Protos {
    k: usize,
    dn: usize,
    dc: usize,
    num: Vec<f64>,
    cat: Vec<u32>,
}

impl Protos {
    /// Every prototype's distance to row `i`, into `out` (k long).
    fn distances(&self, data: &Data<'_>, i: usize, gamma: f64, sq: &mut [f64], out: &mut [f64]) {
        for (l, o) in out.iter_mut().enumerate() {
            *o = self.distance(data, i, l, gamma, sq);
        }
    }

    /// Prototype `l`'s distance to row `i` (kmodes' arithmetic: the numeric squares summed
    /// as numpy sums them, then γ times the mismatches).
    #[inline]
    fn distance(&self, data: &Data<'_>, i: usize, l: usize, gamma: f64, sq: &mut [f64]) -> f64 {
        let (xn, xc) = (data.xn(i), data.xc(i));
        let cn = &self.num[l * self.dn..(l + 1) * self.dn];
        for ((s, &c), &x) in sq.iter_mut().zip(cn).zip(xn) {
            *s = (c - x) * (c - x);
        }
        let num = pairwise_sum(sq);
        let cc = &self.cat[l * self.dc..(l + 1) * self.dc];
        let mis = cc.iter().zip(xc).filter(|(a, b)| a != b).count();
        num + gamma * mis as f64
    }

    /// The nearest prototype of row `i` (the first on ties) and its distance.
    fn nearest(
        &self,
        data: &Data<'_>,
        i: usize,
        gamma: f64,
        sq: &mut [f64],
        d: &mut [f64],
    ) -> (usize, f64) {
        self.distances(data, i, gamma, sq, d);
        let mut best = 0;
        for l in 1..self.k {
            if d[l] < d[best] {
                best = l;
            }
        }
        (best, d[best])
    }
}

/// Every row's nearest prototype and the cost, summed in row order (kmodes' `labels_cost`).
/// The rows run in parallel; the result does not depend on the thread count.
pub fn assign(
    data: &Data<'_>,
    num_centroids: &[f64],
    cat_centroids: &[u32],
    k: usize,
    gamma: f64,
) -> (Vec<u32>, f64) {
    let p = Protos {
        k,
        dn: data.dn,
        dc: data.dc,
        num: num_centroids.to_vec(),
        cat: cat_centroids.to_vec(),
    };
    labels_cost(data, &p, gamma)
}

/// Every row's nearest prototype (the first on ties), its distance and the distance to the
/// second nearest (infinite when k = 1): what flags a customer who sits between two
/// segments. The same distances as [`assign`], so the same labels.
pub fn nearest_two(
    data: &Data<'_>,
    num_centroids: &[f64],
    cat_centroids: &[u32],
    k: usize,
    gamma: f64,
) -> Vec<(u32, f64, f64)> {
    let p = Protos {
        k,
        dn: data.dn,
        dc: data.dc,
        num: num_centroids.to_vec(),
        cat: cat_centroids.to_vec(),
    };
    (0..data.n)
        .into_par_iter()
        .map_init(
            || (vec![0f64; data.dn], vec![0f64; k]),
            |(sq, d), i| {
                p.distances(data, i, gamma, sq, d);
                let mut best = 0;
                for l in 1..k {
                    if d[l] < d[best] {
                        best = l;
                    }
                }
                let second = (0..k)
                    .filter(|&l| l != best)
                    .map(|l| d[l])
                    .fold(f64::INFINITY, f64::min);
                (best as u32, d[best], second)
            },
        )
        .collect()
}

/// [`labels_cost`], through `screen` when there is one.
fn labels_cost_with(
    data: &Data<'_>,
    p: &Protos,
    gamma: f64,
    screen: Option<&dyn Screen>,
) -> Result<(Vec<u32>, f64), Error> {
    let Some(screen) = screen else {
        return Ok(labels_cost(data, p, gamma));
    };
    let raw = screen
        .nearest(&p.num, &p.cat, p.k, gamma)
        .map_err(Error::Screen)?;
    if raw.len() != data.n {
        return Err(Error::Screen(format!(
            "the screen labelled {} rows of {}",
            raw.len(),
            data.n
        )));
    }
    let nearest: Vec<(u32, f64)> = (0..data.n)
        .into_par_iter()
        .map_init(
            || (vec![0f64; data.dn], vec![0f64; p.k]),
            |(sq, d), i| {
                let r = raw[i];
                if r & SCREEN_TIE != 0 || r as usize >= p.k {
                    let (l, c) = p.nearest(data, i, gamma, sq, d);
                    (l as u32, c)
                } else {
                    (r, p.distance(data, i, r as usize, gamma, sq))
                }
            },
        )
        .collect();
    let mut cost = 0.0;
    for &(_, c) in &nearest {
        cost += c;
    }
    Ok((nearest.into_iter().map(|(l, _)| l).collect(), cost))
}

fn labels_cost(data: &Data<'_>, p: &Protos, gamma: f64) -> (Vec<u32>, f64) {
    let nearest: Vec<(u32, f64)> = (0..data.n)
        .into_par_iter()
        .map_init(
            || (vec![0f64; data.dn], vec![0f64; p.k]),
            |(sq, d), i| {
                let (l, c) = p.nearest(data, i, gamma, sq, d);
                (l as u32, c)
            },
        )
        .collect();
    let mut cost = 0.0;
    for &(_, c) in &nearest {
        cost += c;
    }
    (nearest.into_iter().map(|(l, _)| l).collect(), cost)
}

/// A seeded source of the runs' random draws.
struct Rng(ChaCha8Rng);

impl Rng {
    fn unit(&mut self) -> f64 {
        ((self.0.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.0.next_u64()) * n as u128) >> 64) as usize
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit(), self.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The seed of run `run`: every run's draws are fixed in advance, so runs are independent.
pub fn run_seed(seed: u64, run: usize) -> u64 {
    let mut z = seed.wrapping_add((run as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Cao's categorical prototypes (kmodes' `init_cao`): the densest row first, then each next the
/// row farthest, weighted by density, from the prototypes so far.
fn init_cao(data: &Data<'_>, k: usize) -> Vec<u32> {
    let (n, dc) = (data.n, data.dc);
    let mut dens = vec![0f64; n];
    for (a, &m) in data.levels().iter().enumerate() {
        let mut freq = vec![0u64; m];
        for i in 0..n {
            freq[data.cat[i * dc + a] as usize] += 1;
        }
        for (i, d) in dens.iter_mut().enumerate() {
            *d += freq[data.cat[i * dc + a] as usize] as f64 / n as f64 / dc as f64;
        }
    }
    let argmax = |v: &[f64]| {
        let mut b = 0;
        for i in 1..v.len() {
            if v[i] > v[b] {
                b = i;
            }
        }
        b
    };
    let mut protos: Vec<u32> = data.xc(argmax(&dens)).to_vec();
    let mut nearest = vec![f64::INFINITY; n];
    for ik in 1..k {
        let last = &protos[(ik - 1) * dc..ik * dc];
        for (i, m) in nearest.iter_mut().enumerate() {
            let mis = data.xc(i).iter().zip(last).filter(|(a, b)| a != b).count();
            *m = m.min(mis as f64 * dens[i]);
        }
        protos.extend_from_slice(data.xc(argmax(&nearest)));
    }
    protos
}

/// Huang's categorical prototypes (kmodes' `init_huang`): each attribute drawn by frequency,
/// then each prototype moved to the nearest row that is not already a prototype. Ties in
/// distance keep row order (numpy's sort does not promise one).
fn init_huang(data: &Data<'_>, k: usize, rng: &mut Rng) -> Vec<u32> {
    let (n, dc) = (data.n, data.dc);
    if dc == 0 {
        return Vec::new();
    }
    let mut protos = vec![0u32; k * dc];
    for a in 0..dc {
        let mut choices: Vec<u32> = (0..n).map(|i| data.cat[i * dc + a]).collect();
        choices.sort_unstable();
        for l in 0..k {
            protos[l * dc + a] = choices[rng.below(n)];
        }
    }
    for l in 0..k {
        let target = protos[l * dc..(l + 1) * dc].to_vec();
        let mut order: Vec<(usize, usize)> = (0..n)
            .map(|i| {
                let mis = data
                    .xc(i)
                    .iter()
                    .zip(&target)
                    .filter(|(a, b)| a != b)
                    .count();
                (mis, i)
            })
            .collect();
        order.sort();
        let mut pick = 0;
        while pick + 1 < order.len() && protos.chunks_exact(dc).any(|p| p == data.xc(order[pick].1))
        {
            pick += 1;
        }
        let row = data.xc(order[pick].1).to_vec();
        protos[l * dc..(l + 1) * dc].copy_from_slice(&row);
    }
    protos
}

/// The running state of one run: memberships, per-prototype sums and category counts.
struct Run<'d, 'a> {
    data: &'d Data<'a>,
    p: Protos,
    gamma: f64,
    label: Vec<u32>,
    sums: Vec<f64>,
    members: Vec<f64>,
    /// Per prototype, per attribute, a count per code: `offsets[a] + code`.
    freq: Vec<i64>,
    offsets: Vec<usize>,
    width: usize,
}

impl Run<'_, '_> {
    fn counts(&mut self, l: usize, a: usize) -> &mut [i64] {
        let start = l * self.width + self.offsets[a];
        let end = l * self.width + self.offsets[a + 1];
        &mut self.freq[start..end]
    }

    /// The most frequent code, the smallest on ties (kmodes' `get_max_value_key`).
    fn mode(counts: &[i64]) -> u32 {
        let mut best = 0;
        for (c, &v) in counts.iter().enumerate() {
            if v > counts[best] {
                best = c;
            }
        }
        best as u32
    }

    /// Moves row `i` from prototype `from` to `to`: sums, counts and modes, as kmodes'
    /// `_move_point_num` and `_move_point_cat` do.
    fn move_row(&mut self, i: usize, to: usize, from: usize) {
        let (dn, dc) = (self.p.dn, self.p.dc);
        let xn = self.data.xn(i);
        for (j, &x) in xn.iter().enumerate() {
            self.sums[to * dn + j] += x;
            self.sums[from * dn + j] -= x;
        }
        self.members[to] += 1.0;
        self.members[from] -= 1.0;
        self.label[i] = to as u32;
        let xc = self.data.xc(i);
        for (a, &v) in xc.iter().enumerate() {
            let mode_to = self.p.cat[to * dc + a];
            let t = self.counts(to, a);
            t[v as usize] += 1;
            if t[mode_to as usize] < t[v as usize] {
                self.p.cat[to * dc + a] = v;
            }
            let f = self.counts(from, a);
            f[v as usize] -= 1;
            if self.p.cat[from * dc + a] == v {
                let m = Self::mode(self.counts(from, a));
                self.p.cat[from * dc + a] = m;
            }
        }
    }

    fn centre(&mut self, l: usize) {
        let dn = self.p.dn;
        for j in 0..dn {
            self.p.num[l * dn + j] = if self.members[l] != 0.0 {
                self.sums[l * dn + j] / self.members[l]
            } else {
                0.0
            };
        }
    }

    /// One online pass; returns the rows moved.
    fn pass(&mut self, rng: &mut Rng) -> usize {
        let (mut sq, mut d) = (vec![0f64; self.p.dn], vec![0f64; self.p.k]);
        let mut moves = 0;
        for i in 0..self.data.n {
            let (to, _) = self.p.nearest(self.data, i, self.gamma, &mut sq, &mut d);
            let from = self.label[i] as usize;
            if to == from {
                continue;
            }
            moves += 1;
            self.move_row(i, to, from);
            self.centre(to);
            self.centre(from);
            if self.members[from] == 0.0 {
                // kmodes moves a random customer of the largest prototype into the empty one
                // and leaves both numeric parts as they are until a later move.
                let mut counts = vec![0usize; self.p.k];
                for &l in &self.label {
                    counts[l as usize] += 1;
                }
                let mut largest = 0;
                for l in 1..self.p.k {
                    if counts[l] > counts[largest] {
                        largest = l;
                    }
                }
                let rows: Vec<usize> = (0..self.data.n)
                    .filter(|&r| self.label[r] as usize == largest)
                    .collect();
                let r = rows[rng.below(rows.len())];
                self.move_row(r, from, largest);
            }
        }
        moves
    }
}

/// One run from `start` (numeric and categorical prototypes); `Err(Empty)` when the initial
/// assignment leaves a prototype without a row.
fn run(
    data: &Data<'_>,
    k: usize,
    gamma: f64,
    start: (Vec<f64>, Vec<u32>),
    max_iter: usize,
    rng: &mut Rng,
    screen: Option<&dyn Screen>,
) -> Result<Fit, Error> {
    let (dn, dc) = (data.dn, data.dc);
    let levels = data.levels();
    let mut offsets = vec![0usize];
    for m in &levels {
        offsets.push(offsets.last().copied().unwrap_or(0) + m);
    }
    let width = *offsets.last().unwrap_or(&0);
    // Codes in the start beyond the data's never match a row; room for them in the counts.
    let mut r = Run {
        data,
        p: Protos {
            k,
            dn,
            dc,
            num: start.0,
            cat: start.1,
        },
        gamma,
        label: vec![0; data.n],
        sums: vec![0.0; k * dn],
        members: vec![0.0; k],
        freq: vec![0; k * width],
        offsets,
        width,
    };
    // The initial assignment labels every row against the fixed start (a labelling pass),
    // then adds the rows up in row order.
    let (start_labels, _) = labels_cost_with(data, &r.p, gamma, screen)?;
    for (i, &l) in start_labels.iter().enumerate() {
        let l = l as usize;
        r.label[i] = l as u32;
        r.members[l] += 1.0;
        for (j, &x) in data.xn(i).iter().enumerate() {
            r.sums[l * dn + j] += x;
        }
        let xc = data.xc(i);
        for (a, &v) in xc.iter().enumerate() {
            r.counts(l, a)[v as usize] += 1;
        }
    }
    if let Some(l) = r.members.iter().position(|&m| m == 0.0) {
        return Err(Error::Empty(format!(
            "prototype {l} is nearest to no row at the start (two prototypes the same, or one \
             far from every row)"
        )));
    }
    for l in 0..k {
        r.centre(l);
        for a in 0..dc {
            let m = Run::mode(r.counts(l, a));
            r.p.cat[l * dc + a] = m;
        }
    }
    let (mut labels, mut cost) = labels_cost_with(data, &r.p, gamma, screen)?;
    let mut epoch_costs = vec![cost];
    let mut iterations = 0;
    let mut converged = false;
    while iterations < max_iter && !converged {
        iterations += 1;
        let moves = r.pass(rng);
        let (l, c) = labels_cost_with(data, &r.p, gamma, screen)?;
        converged = moves == 0 || c >= cost;
        epoch_costs.push(c);
        cost = c;
        labels = l;
    }
    Ok(Fit {
        labels,
        cost,
        iterations,
        epoch_costs,
        num_centroids: r.p.num,
        cat_centroids: r.p.cat,
        gamma,
        best_run: 0,
        run_costs: Vec::new(),
    })
}

/// Most starts a run draws before giving up on one that gives every prototype a row.
const MAX_INIT_TRIES: usize = 100;

/// Fits k-prototypes: `n_init` runs (one for a given start), the first with the lowest cost
/// kept.
pub fn fit(params: &Params, data: &Data<'_>) -> Result<Fit, Error> {
    fit_screened(params, data, None)
}

/// [`fit`] with its labelling passes (the start's assignment and the pass after every
/// epoch) through `screen` when given: the same answer, bit for bit, from a sound screen.
/// The online passes stay here: they move one row at a time.
pub fn fit_screened(
    params: &Params,
    data: &Data<'_>,
    screen: Option<&dyn Screen>,
) -> Result<Fit, Error> {
    params.check(data)?;
    let k = params.k;
    let gamma = params.gamma.unwrap_or_else(|| default_gamma(data));
    let runs = match params.init {
        Init::Given { .. } => 1,
        _ => params.n_init,
    };
    let (means, stds) = column_moments(data);
    let results: Vec<Result<Fit, Error>> = (0..runs)
        .into_par_iter()
        .map(|run_index| {
            let mut rng = Rng(ChaCha8Rng::seed_from_u64(run_seed(params.seed, run_index)));
            let mut tries = 0;
            loop {
                tries += 1;
                let start = match &params.init {
                    Init::Given { num, cat } => (num.clone(), cat.clone()),
                    init => {
                        let cat = match init {
                            Init::Huang => init_huang(data, k, &mut rng),
                            _ => init_cao(data, k),
                        };
                        let mut num = vec![0f64; k * data.dn];
                        for l in 0..k {
                            for j in 0..data.dn {
                                num[l * data.dn + j] = means[j] + rng.normal() * stds[j];
                            }
                        }
                        (num, cat)
                    }
                };
                match run(data, k, gamma, start, params.max_iter, &mut rng, screen) {
                    Err(Error::Empty(why))
                        if !matches!(params.init, Init::Given { .. }) && tries < MAX_INIT_TRIES =>
                    {
                        let _ = why;
                    }
                    other => return other,
                }
            }
        })
        .collect();
    let mut best: Option<Fit> = None;
    let mut run_costs = Vec::with_capacity(runs);
    for (i, r) in results.into_iter().enumerate() {
        let f = r?;
        run_costs.push(f.cost);
        if best.as_ref().is_none_or(|b| f.cost < b.cost) {
            best = Some(Fit { best_run: i, ..f });
        }
    }
    let mut best = best.ok_or_else(|| Error::Params("no run".into()))?;
    best.run_costs = run_costs;
    Ok(best)
}

#[cfg(test)]
mod tests;
