// The distance work of a Lloyd pass on the GPU for Strata's k-means (crates/strata-gpu).
//
//   assign   one invocation per row and chunk of centroids [j0, j1): nearest and second-nearest
//            centroid (squared Euclidean, computed directly as Σ(x − c)², never the expanded
//            form), carried across chunks in `best`/`second`, ties to the lowest index. After
//            the last chunk the label's bit 30 says the two nearest are within the relative
//            tolerance `tie`, where f32 cannot be trusted to order them: the host decides those
//            rows again in f64. Chunks bound the work of one dispatch (driver watchdogs;
//            llvmpipe stops loops after ~65k iterations).
//
// The host reads the labels back and tallies sums, counts and inertia itself, in the CPU
// backend's exact order, so both backends give bit-identical centroids (see ARCHITECTURE.md).

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
    if (p.j0 != 0u) {
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
    if (p.j1 == p.k && s - b <= p.tie * max(s, 1.0e-30)) {
        flag = TIE;
    }
    labels[row] = label | flag;
    best[row] = b;
    second[row] = s;
}
