//! Yinyang bounds (Ding, Zhao, Shen, Musuvathi & Mytkowicz, "Yinyang K-Means", ICML 2015)
//! for the CPU pass at large k: a lower bound per row for each *group* of centroids instead of
//! Hamerly's one bound on all of them.
//!
//! With one bound on every other centroid, a row is read whenever the single nearest-other
//! distance, loosened by the largest drift of any centroid, falls below its upper bound; at
//! k = 64 or 256 that is most rows on most passes, and each is then searched among all k.
//! Group bounds loosen by their own group's largest drift, so a row that is not settled as a
//! whole is searched only in the groups whose bound it does not clear: a few groups of 8 or 16
//! centroids instead of k.
//!
//! The groups are the distance kernel's own groups of `lanes` centroids ([`Prepared`]), after
//! ordering the centroids so that each group holds centroids near each other
//! ([`group_order`]); the order is fixed for a series of passes with the same k (the bounds
//! refer to it) and renewed by each exhaustive pass. Hamerly's bound is kept beside them and
//! tested first, as in the paper's global filter; the group bounds are stored with their
//! group's summed drift added ([`store`]), so a row settled by Hamerly's bound costs nothing
//! more, and a row whose group bounds leave more than half of the groups is searched among
//! all k with the block kernel ([`split`]).
//!
//! Measured on the bench's shapes (bench/NOTES.md, "Yinyang bounds"), these bounds compute
//! fewer distances than Hamerly's (on clustered data 18% of n·k against 28% at k = 256) but
//! take longer per pass: the group bookkeeping costs more than the distances it saves against
//! the blocked AVX-512 kernel. [`super::Pruning::Auto`] therefore keeps Hamerly's; these are
//! chosen only when asked for ([`super::Pruning::Yinyang`]), to measure them.
//!
//! Exactness is the same argument as Hamerly's ([`Moved`]): every bound is pushed outwards by
//! more than the rounding of the operations that made it, a skipped group's centroids are all
//! strictly farther than the row's own centroid, and among the centroids searched a pick is
//! kept only when no other score is within the tie margin; otherwise the row is decided in f64
//! among all k, exactly as an exhaustive pass decides it. So labels, and with them the exact
//! sums, are those of an exhaustive pass.

use super::{
    BLOCK, DOWN, Partial, Pass, Pick, Prepared, Totals, block_dots, lower_sq_of, nearest_two,
    record_move, settles, sq_dist, sq_dist_f64, upper_of,
};

/// An order of the k centroids in which each run of `lanes` (a group of the layout) holds
/// centroids near each other: repeatedly, the ungrouped centroid farthest from the centroids'
/// mean and its `lanes − 1` nearest ungrouped ones (ties to the lowest index). Deterministic;
/// O(k²·d / lanes), small beside a pass. Only speed depends on it, never a label.
pub(super) fn group_order(centroids: &[f32], k: usize, d: usize, lanes: usize) -> Vec<u32> {
    let c = |j: u32| &centroids[j as usize * d..(j as usize + 1) * d];
    let mut mean = vec![0f64; d];
    for j in 0..k as u32 {
        for (m, &v) in mean.iter_mut().zip(c(j)) {
            *m += f64::from(v) / k as f64;
        }
    }
    let from_mean = |j: u32| {
        c(j).iter()
            .zip(&mean)
            .map(|(&v, &m)| (f64::from(v) - m).powi(2))
            .sum::<f64>()
    };
    let mut left: Vec<u32> = (0..k as u32).collect();
    let mut order = Vec::with_capacity(k);
    while !left.is_empty() {
        let (at, _) = left
            .iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |best, (at, &j)| {
                let v = from_mean(j);
                if v > best.1 { (at, v) } else { best }
            });
        let seed = left.remove(at);
        let mut near: Vec<(f64, u32)> = left
            .iter()
            .map(|&j| (sq_dist_f64(c(seed), c(j)), j))
            .collect();
        near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        near.truncate(lanes - 1);
        order.push(seed);
        order.extend(near.iter().map(|&(_, j)| j));
        left.retain(|j| !near.iter().any(|&(_, n)| n == *j));
    }
    order
}

/// The largest drift (`Moved::drift`, by centroid) in each group of the layout.
pub(super) fn group_drift(drift: &[f32], prep: &Prepared) -> Vec<f32> {
    prep.index
        .chunks_exact(prep.lanes)
        .map(|group| {
            group
                .iter()
                .filter(|&&j| j != u32::MAX)
                .map(|&j| drift[j as usize])
                .fold(0.0, f32::max)
        })
        .collect()
}

/// The value stored for group bound `bound` of a group whose drifts so far sum to `sum`:
/// `bound + sum`, rounded down. Stored so, a bound needs no update while its row is settled:
/// [`load`] subtracts the sum as it is then, which is the bound loosened by every drift since.
#[inline(always)]
pub(super) fn store(bound: f32, sum: f64) -> f32 {
    let exact = f64::from(bound) + sum;
    let v = exact as f32;
    if f64::from(v) > exact {
        v.next_down()
    } else {
        v
    }
}

/// The group bound a [`store`]d value gives now that the group's drifts sum to `sum`, rounded
/// down (the subtraction in f64 errs by at most 2⁻⁵³·|v|; the slack covers it).
#[inline(always)]
pub(super) fn load(v: f32, sum: f64) -> f32 {
    let v = f64::from(v);
    ((v - sum - 1e-15 * v.abs()) as f32) * DOWN
}

/// Searched rows' group bounds, from their search among all k: searched row q is row `r` of
/// `groups` for the q-th `r` of `rows` (nothing without group bounds). Per group, the root of
/// the lower bound of the group's best score other than the pick's (`group_mins`); when the
/// pick was deferred to f64, `lower_sq[q]` (the squared f64 distance to the second-nearest,
/// rounded down) bounds every group. Stored with the pass's drift sums.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn renew_rows(
    pass: &Pass<'_>,
    x_norms: &[f32],
    picks: &[Pick],
    lower_sq: &[f32],
    group_mins: &[f32],
    groups: &mut [f32],
    rows: impl Iterator<Item = usize>,
) {
    let t = pass.groups;
    if t == 0 {
        return;
    }
    let sums = pass.drift_sums;
    for (q, r) in rows.enumerate() {
        let bounds = groups[r * t..(r + 1) * t].iter_mut().zip(sums);
        match picks[q] {
            Some(_) => {
                for ((b, &sum), &m) in bounds.zip(&group_mins[q * t..(q + 1) * t]) {
                    *b = store(lower_sq_of(pass.prep, x_norms[q], m).sqrt() * DOWN, sum);
                }
            }
            None => {
                let l = lower_sq[q].sqrt() * DOWN;
                for (b, &sum) in bounds {
                    *b = store(l, sum);
                }
            }
        }
    }
}

/// The score of one row against the centroid at position `at` of the layout.
#[inline(always)]
fn score_at(row: &[f32], prep: &Prepared, at: usize) -> f32 {
    let (d, w) = (row.len(), prep.lanes);
    let (g, l) = (at / w, at % w);
    let dot: f32 = row
        .iter()
        .enumerate()
        .map(|(f, &x)| x * prep.ctg[(g * d + f) * w + l])
        .sum();
    prep.norms[at] - 2.0 * dot
}

/// Scratch space of [`split`] and [`search`], for up to [`BLOCK`] rows.
pub(super) struct Scratch {
    /// The rows [`split`] left to [`search`]: their data, norms, block rows, and count.
    rows: Vec<f32>,
    norms: [f32; BLOCK],
    which: [usize; BLOCK],
    n: usize,
    /// Each row's group bounds as they are now, and which groups it searches (`need[q·t + g]`),
    /// both from [`split`].
    now: Vec<f32>,
    need: Vec<bool>,
    /// Each group's rows (`members[g·BLOCK..]`, `counts[g]` of them).
    members: Vec<usize>,
    counts: Vec<usize>,
    /// Scores, `scores[q·kp + position]` (only the searched groups' are written).
    scores: Vec<f32>,
    /// A group's rows, copied together, and their dot products with the group.
    gathered: Vec<f32>,
    dots: Vec<f32>,
}

impl Scratch {
    pub(super) fn new(pass: &Pass<'_>) -> Scratch {
        let (t, w) = (pass.groups, pass.prep.lanes);
        Scratch {
            rows: vec![0.0; BLOCK * pass.d],
            norms: [0.0; BLOCK],
            which: [0; BLOCK],
            n: 0,
            now: vec![0.0; BLOCK * t],
            need: vec![false; BLOCK * t],
            members: vec![0; BLOCK * t],
            counts: vec![0; t],
            scores: vec![0.0; BLOCK * pass.prep.kp],
            gathered: vec![0.0; BLOCK * pass.d],
            dots: vec![0.0; BLOCK * w],
        }
    }
}

/// Splits the rows Hamerly's bound did not settle (`gathered`, row-major, `todo` of them,
/// with their `norms` and block rows `which`, exact upper bounds in `upper`) by how many groups
/// their group bounds leave to search: rows with at most half of them are moved into
/// `scratch` for [`search`]; the others stay, compacted at the front, for a search among all
/// k with the distance kernel (returned: how many). Group bounds of the rows kept are loaded.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn split(
    pass: &Pass<'_>,
    gathered: &mut [f32],
    norms: &mut [f32],
    which: &mut [usize],
    todo: usize,
    upper: &[f32],
    groups: &[f32],
    scratch: &mut Scratch,
) -> usize {
    let (t, d) = (pass.groups, pass.d);
    let sums = pass.drift_sums;
    let (mut wide, mut narrow) = (0, 0);
    for q in 0..todo {
        let r = which[q];
        let u = upper[r];
        let slot = narrow * t..(narrow + 1) * t;
        let mut searched = 0;
        for (((b, need), &v), &sum) in scratch.now[slot.clone()]
            .iter_mut()
            .zip(&mut scratch.need[slot])
            .zip(&groups[r * t..(r + 1) * t])
            .zip(sums)
        {
            *b = load(v, sum);
            *need = !settles(u, *b);
            searched += usize::from(*need);
        }
        if 2 * searched > t {
            gathered.copy_within(q * d..(q + 1) * d, wide * d);
            norms[wide] = norms[q];
            which[wide] = r;
            wide += 1;
        } else {
            scratch.rows[narrow * d..(narrow + 1) * d]
                .copy_from_slice(&gathered[q * d..(q + 1) * d]);
            scratch.norms[narrow] = norms[q];
            scratch.which[narrow] = r;
            narrow += 1;
        }
    }
    scratch.n = narrow;
    wide
}

/// Searches the rows [`split`] put in `scratch` (row q is row `which[q]` of a block and of
/// `labels`, `upper`, `lower`, `groups`), each only in the groups whose bound its upper bound
/// does not clear, the rows of a group computed together with the distance kernel's tile:
/// new labels, Hamerly's bound and the searched groups' bounds, and a move for each row whose
/// label changed.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn search<const AVX2: bool>(
    pass: &Pass<'_>,
    p: &mut Partial,
    totals: &mut Totals,
    scratch: &mut Scratch,
    labels: &mut [u32],
    upper: &mut [f32],
    lower: &mut [f32],
    groups: &mut [f32],
) {
    let Pass {
        centroids,
        prep,
        k,
        d,
        ..
    } = *pass;
    let (t, w, kp) = (pass.groups, prep.lanes, prep.kp);
    let sums = pass.drift_sums;
    let centroid = |j: usize| &centroids[j * d..(j + 1) * d];
    let Scratch {
        rows: search,
        norms: search_norms,
        which,
        n,
        now,
        need,
        members,
        counts,
        scores,
        gathered,
        dots,
    } = scratch;
    let which = &which[..*n];
    // Each group's rows.
    counts.fill(0);
    for q in 0..which.len() {
        for g in 0..t {
            members[g * BLOCK + counts[g]] = q;
            counts[g] += usize::from(need[q * t + g]);
        }
    }
    // Each group's scores for its rows, computed together.
    for g in 0..t {
        let m = counts[g];
        if m == 0 {
            continue;
        }
        let rows = &members[g * BLOCK..g * BLOCK + m];
        for (slot, &q) in rows.iter().enumerate() {
            gathered[slot * d..(slot + 1) * d].copy_from_slice(&search[q * d..(q + 1) * d]);
        }
        let ctg = &prep.ctg[g * d * w..(g + 1) * d * w];
        let dots = &mut dots[..m * w];
        if w == 16 {
            block_dots::<16>(&gathered[..m * d], ctg, d, w, dots);
        } else {
            block_dots::<8>(&gathered[..m * d], ctg, d, w, dots);
        }
        let norms = &prep.norms[g * w..(g + 1) * w];
        for (slot, &q) in rows.iter().enumerate() {
            let out = &mut scores[q * kp + g * w..q * kp + (g + 1) * w];
            for ((s, &dot), &c) in out.iter_mut().zip(&dots[slot * w..]).zip(norms) {
                *s = c - 2.0 * dot;
            }
        }
        p.scores += (m * w) as u64;
    }
    // Each row decided among its searched groups and its own centroid.
    for (q, &r) in which.iter().enumerate() {
        let a = labels[r] as usize;
        let row = &search[q * d..(q + 1) * d];
        let x_norm = search_norms[q];
        let need = &need[q * t..(q + 1) * t];
        let now = &mut now[q * t..(q + 1) * t];
        let scores = &scores[q * kp..(q + 1) * kp];
        let own = prep.position[a] as usize;
        let own_group = own / w;
        let own_searched = need[own_group];
        let mut best = (f32::INFINITY, usize::MAX);
        for g in (0..t).filter(|&g| need[g]) {
            for (l, &s) in scores[g * w..(g + 1) * w].iter().enumerate() {
                if s < best.0 {
                    best = (s, g * w + l);
                }
            }
        }
        let own_score = if own_searched {
            scores[own]
        } else {
            p.scores += 1;
            let s = score_at(row, prep, own);
            if s < best.0 {
                best = (s, own);
            }
            s
        };
        // Another candidate within the margin of the best: too close to call in f32.
        let limit = best.0 + prep.margin(x_norm);
        let mut near = usize::from(!own_searched && own_score <= limit);
        for g in (0..t).filter(|&g| need[g]) {
            near += scores[g * w..(g + 1) * w]
                .iter()
                .filter(|&&s| s <= limit)
                .count();
        }
        let j = if near == 1 && best.1 != usize::MAX {
            let at = best.1;
            let j = prep.index[at] as usize;
            for g in (0..t).filter(|&g| need[g]) {
                let mut min = f32::INFINITY;
                for (l, &s) in scores[g * w..(g + 1) * w].iter().enumerate() {
                    let s = if g * w + l == at { f32::INFINITY } else { s };
                    min = if s < min { s } else { min };
                }
                now[g] = lower_sq_of(prep, x_norm, min).sqrt() * DOWN;
            }
            if j != a {
                // The old centroid is now one of the others: its group's bound covers it.
                if !own_searched {
                    let l = lower_sq_of(prep, x_norm, own_score).sqrt() * DOWN;
                    now[own_group] = now[own_group].min(l);
                }
                upper[r] = upper_of(sq_dist::<AVX2>(row, centroid(j)), d);
            }
            for g in (0..t).filter(|&g| need[g] || (j != a && g == own_group)) {
                groups[r * t + g] = store(now[g], sums[g]);
            }
            j as u32
        } else {
            let (j, near, second) = nearest_two(row, centroids, k, d);
            p.scores += k as u64;
            upper[r] = ((near as f32) / DOWN).sqrt() / DOWN;
            let l = ((second as f32) * DOWN).sqrt() * DOWN;
            now.fill(l);
            for (b, &sum) in groups[r * t..(r + 1) * t].iter_mut().zip(sums) {
                *b = store(l, sum);
            }
            j
        };
        // Hamerly's bound: the nearest group's.
        lower[r] = now
            .iter()
            .fold(f32::INFINITY, |m, &v| if v < m { v } else { m });
        if j != labels[r] {
            record_move::<AVX2>(pass, p, totals, row, labels[r], j);
            labels[r] = j;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order is a permutation, and groups gather near centroids: two far clumps of
    /// `lanes` centroids each land in separate groups whatever their indices.
    #[test]
    fn groups_gather_near_centroids() {
        let (k, d, lanes) = (16, 2, 8);
        let centroids: Vec<f32> = (0..k)
            .flat_map(|j| {
                let x = if j % 2 == 0 { 0.0 } else { 100.0 };
                [x + j as f32 * 0.01, 1.0]
            })
            .collect();
        let order = group_order(&centroids, k, d, lanes);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..k as u32).collect::<Vec<_>>());
        for group in order.chunks(lanes) {
            let parity = group[0] % 2;
            assert!(group.iter().all(|j| j % 2 == parity), "{order:?}");
        }
        let odd = group_order(&centroids[..5 * d], 5, d, 2);
        assert_eq!(odd.len(), 5);
    }

    /// The score of one centroid, read from the grouped layout, is within half the tie
    /// margin of the exact one (as the block kernel's are), padding excluded.
    #[test]
    fn scores_read_from_the_layout_are_within_the_margin() {
        for (d, k, lanes) in [(1, 9, 8), (7, 40, 16), (32, 48, 8), (33, 33, 16)] {
            let c: Vec<f32> = (0..k * d)
                .map(|i| ((i * 37 % 101) as f32) / 50.0 - 1.0)
                .collect();
            let row: Vec<f32> = (0..d).map(|f| (f as f32 * 0.3).sin()).collect();
            let order: Vec<u32> = (0..k as u32).rev().collect();
            let prep = Prepared::ordered(&c, k, d, lanes, &order);
            let x_norm: f32 = row.iter().map(|v| v * v).sum();
            let margin = f64::from(prep.margin(x_norm));
            for at in 0..k {
                let j = prep.index[at] as usize;
                assert_eq!(prep.position[j] as usize, at);
                let exact = sq_dist_f64(&row, &c[j * d..(j + 1) * d]) - f64::from(x_norm);
                let s = f64::from(score_at(&row, &prep, at));
                assert!((s - exact).abs() <= margin / 2.0, "d={d} k={k} at {at}");
            }
            assert!(prep.index[k..].iter().all(|&j| j == u32::MAX));
        }
    }
}
