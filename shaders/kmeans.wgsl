// Lloyd iteration on the GPU for Strata's k-means (crates/strata-gpu).
//
// Three kernels, run in this order each iteration, all deterministic (no atomics, fixed
// summation order):
//   assign   one invocation per row and chunk of centroids [j0, j1): nearest and second-nearest
//            centroid (squared Euclidean, computed directly as Σ(x − c)², never the expanded
//            form), carried across chunks in `best`/`second`; after the last chunk the label's
//            top bit says whether it changed since the previous pass. Chunks bound the work of
//            one dispatch (driver watchdogs; llvmpipe stops loops after ~65k iterations).
//   partial  one invocation per (block of rows, output element): per-block sums of the rows
//            assigned to each centroid, counts, inertia and changed rows.
//   reduce   one invocation per output element: adds the blocks in block order.
// Sums use Kahan-compensated f32, so each stage's error is about 2ε·Σ|x| (ε = 2⁻²⁴) however
// many terms it adds.

struct Params {
    n: u32,            // rows in this tile
    d: u32,            // features
    k: u32,            // centroids
    kd: u32,           // k * d
    block_rows: u32,   // rows per partial-sum block
    block_base: u32,   // index of this tile's first block among all tiles' blocks
    n_blocks: u32,     // blocks over all tiles
    j0: u32,           // first centroid of this assign dispatch
    j1: u32,           // one past its last centroid
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const WG: u32 = 256u;
const CHANGED: u32 = 0x80000000u;
const LABEL: u32 = 0x7fffffffu;
const BIG: f32 = 3.0e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> centroids: array<f32>;
@group(0) @binding(3) var<storage, read_write> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> best: array<f32>;
@group(0) @binding(5) var<storage, read_write> second: array<f32>;
@group(0) @binding(11) var<storage, read_write> previous: array<u32>; // label of the last pass

// Rows beyond 65,535 workgroups need a 2-D dispatch; the flat index is rebuilt here.
fn flat(wg: vec3<u32>, nw: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nw.x + wg.x) * WG + li;
}

@compute @workgroup_size(256)
fn assign(@builtin(workgroup_id) wg: vec3<u32>,
          @builtin(num_workgroups) nw: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let row = flat(wg, nw, li);
    if (row >= p.n) {
        return;
    }
    let base = row * p.d;
    var b = BIG;
    var s = BIG;
    var label = 0u;
    if (p.j0 == 0u) {
        previous[row] = labels[row] & LABEL;
    } else {
        b = best[row];
        s = second[row];
        label = labels[row] & LABEL;
    }
    for (var j = p.j0; j < p.j1; j = j + 1u) {
        let cb = j * p.d;
        var acc = 0.0;
        for (var f = 0u; f < p.d; f = f + 1u) {
            let t = x[base + f] - centroids[cb + f];
            acc = acc + t * t;
        }
        // Strictly less, chunks in order: ties go to the lowest index, as on the CPU.
        if (acc < b) {
            s = b;
            b = acc;
            label = j;
        } else if (acc < s) {
            s = acc;
        }
    }
    var flag = 0u;
    if (p.j1 == p.k) {
        flag = select(0u, CHANGED, previous[row] != label);
    }
    labels[row] = label | flag;
    best[row] = b;
    second[row] = s;
}

// ---- partial sums: bindings of the `partial` and `reduce` pipelines ----

@group(0) @binding(6) var<storage, read_write> psums: array<f32>;    // n_blocks × kd
@group(0) @binding(7) var<storage, read_write> pcounts: array<u32>;  // n_blocks × (k + 1): counts, changed
@group(0) @binding(8) var<storage, read_write> pinertia: array<f32>; // n_blocks

@compute @workgroup_size(256)
fn partial(@builtin(workgroup_id) wg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
    let e = wg.x * WG + li;             // output element
    let block = wg.y;                   // block within this tile
    let first = block * p.block_rows;
    if (first >= p.n || e >= p.kd + p.k + 2u) {
        return;
    }
    let last = min(first + p.block_rows, p.n);
    let out_block = p.block_base + block;
    if (e < p.kd) {
        let j = e / p.d;
        let f = e % p.d;
        var sum = 0.0;
        var comp = 0.0;
        for (var r = first; r < last; r = r + 1u) {
            if ((labels[r] & LABEL) == j) {
                let y = x[r * p.d + f] - comp;
                let t = sum + y;
                comp = (t - sum) - y;
                sum = t;
            }
        }
        psums[out_block * p.kd + e] = sum;
    } else if (e < p.kd + p.k) {
        let j = e - p.kd;
        var count = 0u;
        for (var r = first; r < last; r = r + 1u) {
            count = count + select(0u, 1u, (labels[r] & LABEL) == j);
        }
        pcounts[out_block * (p.k + 1u) + j] = count;
    } else if (e == p.kd + p.k) {
        var changed = 0u;
        for (var r = first; r < last; r = r + 1u) {
            changed = changed + (labels[r] >> 31u);
        }
        pcounts[out_block * (p.k + 1u) + p.k] = changed;
    } else {
        var sum = 0.0;
        var comp = 0.0;
        for (var r = first; r < last; r = r + 1u) {
            let y = best[r] - comp;
            let t = sum + y;
            comp = (t - sum) - y;
            sum = t;
        }
        pinertia[out_block] = sum;
    }
}

@group(0) @binding(9) var<storage, read_write> rsums: array<f32>;    // kd sums, then inertia
@group(0) @binding(10) var<storage, read_write> rcounts: array<u32>; // k counts, then changed

@compute @workgroup_size(256)
fn reduce(@builtin(workgroup_id) wg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let e = wg.x * WG + li;
    if (e < p.kd) {
        var sum = 0.0;
        var comp = 0.0;
        for (var b = 0u; b < p.n_blocks; b = b + 1u) {
            let y = psums[b * p.kd + e] - comp;
            let t = sum + y;
            comp = (t - sum) - y;
            sum = t;
        }
        rsums[e] = sum;
    } else if (e < p.kd + p.k + 1u) {
        let j = e - p.kd;
        var count = 0u;
        for (var b = 0u; b < p.n_blocks; b = b + 1u) {
            count = count + pcounts[b * (p.k + 1u) + j];
        }
        rcounts[j] = count;
    } else if (e == p.kd + p.k + 1u) {
        var sum = 0.0;
        var comp = 0.0;
        for (var b = 0u; b < p.n_blocks; b = b + 1u) {
            let y = pinertia[b] - comp;
            let t = sum + y;
            comp = (t - sum) - y;
            sum = t;
        }
        rsums[p.kd] = sum;
    }
}
