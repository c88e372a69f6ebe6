// The distance work of a Lloyd pass on the GPU for Strata's k-means (crates/strata-gpu).
//
//   assign   one invocation per row and chunk of centroids [j0, j1): nearest and second-nearest
//            centroid (squared Euclidean, computed directly as Σ(x − c)², never the expanded
//            form), carried across chunks in `best`/`second`, ties to the lowest index. Where d
//            is a multiple of 4, rows are read as vec4 and the workgroup loads the centroids
//            into workgroup memory a tile at a time, so each centroid is read from the buffer
//            once per workgroup rather than once per row; the four lanes' partial sums are
//            added at the end (any order of non-negative terms keeps the error bound). After
//            the last chunk the label's bit 30 says the two nearest are within the relative
//            tolerance `tie`, where f32 cannot be trusted to order them: the host decides those
//            rows again in f64. Chunks bound the work of one dispatch (driver watchdogs;
//            llvmpipe stops loops after ~65k iterations).
//
//   tally    after assign, one invocation per row and slice of columns [c0, c1): adds the row
//            to its centroid's exact totals. Columns are the d features, put on the CPU's
//            fixed-point grid (round(x · 2^s), ties to even: exact in f32, see `grid`), then the
//            row's squared norm on its grid (computed by the host at bind time) and a count of
//            one. Values are biased by 2^51 to be non-negative, summed as 64-bit (lo, hi) pairs
//            in workgroup memory and then into 96-bit totals in `acc` with carries: integer
//            sums, so any order of rows and workgroups gives the same bits. The slice's first
//            dispatch also counts changed labels, lists the rows flagged as ties (the host
//            decides them again in f64 and moves them between totals) and records the labels.
//
// The host reads back k · (d + 2) totals and the tie list, not labels, on a Lloyd step; on
// other passes it reads the labels and tallies them itself, in the CPU backend's way, so both
// backends give bit-identical centroids (see ARCHITECTURE.md).

struct Params {
    n: u32,            // rows in this tile
    d: u32,            // features
    k: u32,            // centroids
    j0: u32,           // first centroid of this assign dispatch
    j1: u32,           // one past its last centroid
    tie: f32,          // relative gap under which the two nearest count as tied
    _pad0: u32,
    _pad1: u32,
}

const WG: u32 = 256u;
const TIE: u32 = 0x40000000u;
const LABEL: u32 = 0x3fffffffu;
const BIG: f32 = 3.0e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> centroids: array<f32>;
@group(0) @binding(3) var<storage, read_write> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> best: array<f32>;
@group(0) @binding(5) var<storage, read_write> second: array<f32>;

// Rows beyond 65,535 workgroups need a 2-D dispatch; the flat index is rebuilt here.
fn flat(wg: vec3<u32>, nw: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nw.x + wg.x) * WG + li;
}

// A row's nearest and second-nearest distances so far, and the nearest's index.
struct Nearest {
    best: f32,
    second: f32,
    label: u32,
}

// `near` with centroid j at distance `acc` considered: strictly less, in index order, so ties
// go to the lowest index, as on the CPU.
fn consider(near: Nearest, acc: f32, j: u32) -> Nearest {
    if (acc < near.best) {
        return Nearest(acc, near.best, j);
    }
    if (acc < near.second) {
        return Nearest(near.best, acc, near.label);
    }
    return near;
}

// The vec4 views of the rows and the centroids (the same buffers as `x` and `centroids`),
// and one tile of centroids in workgroup memory: 16 KiB.
@group(0) @binding(13) var<storage, read> xv: array<vec4<f32>>;
@group(0) @binding(14) var<storage, read> cv: array<vec4<f32>>;
const TILE: u32 = 1024u;
var<workgroup> ctile: array<vec4<f32>, 1024>;

@compute @workgroup_size(256)
fn assign(@builtin(workgroup_id) wg: vec3<u32>,
          @builtin(num_workgroups) nw: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let row = flat(wg, nw, li);
    // Rows past the end still take part in loading tiles (barriers need every invocation).
    let live = row < p.n;
    var near = Nearest(BIG, BIG, 0u);
    if (live && p.j0 != 0u) {
        near = Nearest(best[row], second[row], labels[row] & LABEL);
    }
    let quads = p.d / 4u;
    if (p.d % 4u == 0u && quads <= TILE) {
        let base = row * quads;
        let per = TILE / quads;
        for (var t0 = p.j0; t0 < p.j1; t0 = t0 + per) {
            let t1 = min(t0 + per, p.j1);
            let count = (t1 - t0) * quads;
            for (var i = li; i < count; i = i + WG) {
                ctile[i] = cv[t0 * quads + i];
            }
            workgroupBarrier();
            if (live) {
                for (var j = t0; j < t1; j = j + 1u) {
                    let cb = (j - t0) * quads;
                    var acc4 = vec4<f32>(0.0);
                    for (var f = 0u; f < quads; f = f + 1u) {
                        let t = xv[base + f] - ctile[cb + f];
                        acc4 = acc4 + t * t;
                    }
                    near = consider(near, (acc4.x + acc4.y) + (acc4.z + acc4.w), j);
                }
            }
            workgroupBarrier();
        }
    } else if (live) {
        let base = row * p.d;
        for (var j = p.j0; j < p.j1; j = j + 1u) {
            let cb = j * p.d;
            var acc = 0.0;
            for (var f = 0u; f < p.d; f = f + 1u) {
                let t = x[base + f] - centroids[cb + f];
                acc = acc + t * t;
            }
            near = consider(near, acc, j);
        }
    }
    if (!live) {
        return;
    }
    var flag = 0u;
    if (p.j1 == p.k && near.second - near.best <= p.tie * max(near.second, 1.0e-30)) {
        flag = TIE;
    }
    labels[row] = near.label | flag;
    best[row] = near.best;
    second[row] = near.second;
}

struct TallyParams {
    n: u32,            // rows in this tile
    d: u32,            // features
    k: u32,            // centroids
    c0: u32,           // first column of this dispatch (d features, then the norm, then the count)
    c1: u32,           // one past its last
    tie_cap: u32,      // entries the tie list holds
    first: u32,        // 1 for the dispatch that counts changes, lists ties and records labels
    row0: u32,         // the tile's first row in the whole matrix
}

@group(0) @binding(6) var<uniform> tp: TallyParams;
@group(0) @binding(7) var<storage, read> prev: array<u32>;          // last pass's decided labels
@group(0) @binding(8) var<storage, read_write> cur: array<u32>;     // this pass's labels
@group(0) @binding(9) var<storage, read> shifts: array<i32>;        // each feature's grid exponent
@group(0) @binding(10) var<storage, read> moment: array<vec2<u32>>; // each row's norm on its grid
@group(0) @binding(11) var<storage, read_write> acc: array<atomic<u32>>; // 3 words per total; changed; ties
@group(0) @binding(12) var<storage, read_write> ties: array<u32>;   // (row, previous label, label)

// Two words per (centroid, column) of one dispatch, 2047 pairs (the host sizes column slices
// to fit), and the workgroup's count of changed labels in the last word: 16 KiB.
const CHANGED: u32 = 4095u;
var<workgroup> wacc: array<atomic<u32>, 4096>;

// r, an integer of magnitude below 2^51 held in an f32, plus 2^51, as 64 bits (lo, hi). Below
// 2^24 it converts directly; above, it has at most 24 significant bits, so its high part
// (r · 2^-32, floored) and the rest are exact in f32.
fn biased(r: f32) -> vec2<u32> {
    let a = abs(r);
    var lo = 0u;
    var hi = 0u;
    if (a < 16777216.0) {
        lo = u32(a);
    } else {
        let h = floor(ldexp(a, -32));
        hi = u32(h);
        lo = u32(a - ldexp(h, 32));
    }
    if (r < 0.0) {
        lo = ~lo + 1u;
        hi = ~hi + select(0u, 1u, lo == 0u);
    }
    return vec2<u32>(lo, hi + 524288u);
}

// Column c of row `row` of the tile, as a biased 64-bit value (the norm and the count are
// non-negative and not biased). x · 2^s is exact in f32 (the host uses the device only when
// every s keeps it in range), and round() is ties-to-even, as the CPU's rounding.
fn column(row: u32, c: u32) -> vec2<u32> {
    if (c < tp.d) {
        return biased(round(ldexp(x[row * tp.d + c], shifts[c])));
    }
    if (c == tp.d) {
        return moment[row];
    }
    return vec2<u32>(1u, 0u);
}

@compute @workgroup_size(256)
fn tally(@builtin(workgroup_id) wg: vec3<u32>,
         @builtin(num_workgroups) nw: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
    let row = flat(wg, nw, li);
    let cols = tp.c1 - tp.c0;
    let used = tp.k * cols;
    for (var i = li; i < 2u * used; i = i + WG) {
        atomicStore(&wacc[i], 0u);
    }
    if (li == 0u) {
        atomicStore(&wacc[CHANGED], 0u);
    }
    workgroupBarrier();
    if (row < tp.n) {
        let raw = labels[row];
        let j = raw & LABEL;
        if (tp.first == 1u) {
            let before = prev[row];
            let counters = tp.k * (tp.d + 2u) * 3u;
            if (j != before) {
                atomicAdd(&wacc[CHANGED], 1u);
            }
            if ((raw & TIE) != 0u) {
                let slot = atomicAdd(&acc[counters + 1u], 1u);
                if (slot < tp.tie_cap) {
                    ties[3u * slot] = tp.row0 + row;
                    ties[3u * slot + 1u] = before;
                    ties[3u * slot + 2u] = j;
                }
            }
            cur[row] = j;
        }
        for (var c = tp.c0; c < tp.c1; c = c + 1u) {
            let v = column(row, c);
            let w = 2u * (j * cols + (c - tp.c0));
            let old = atomicAdd(&wacc[w], v.x);
            atomicAdd(&wacc[w + 1u], v.y + select(0u, 1u, old + v.x < old));
        }
    }
    workgroupBarrier();
    if (li == 0u && tp.first == 1u) {
        let changed = atomicLoad(&wacc[CHANGED]);
        if (changed != 0u) {
            atomicAdd(&acc[tp.k * (tp.d + 2u) * 3u], changed);
        }
    }
    for (var i = li; i < used; i = i + WG) {
        let lo = atomicLoad(&wacc[2u * i]);
        let hi = atomicLoad(&wacc[2u * i + 1u]);
        if (lo == 0u && hi == 0u) {
            continue;
        }
        let g = 3u * ((i / cols) * (tp.d + 2u) + tp.c0 + i % cols);
        let old = atomicAdd(&acc[g], lo);
        let add = hi + select(0u, 1u, old + lo < old);
        let old1 = atomicAdd(&acc[g + 1u], add);
        if (old1 + add < old1) {
            atomicAdd(&acc[g + 2u], 1u);
        }
    }
}
