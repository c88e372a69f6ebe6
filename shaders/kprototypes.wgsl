// k-prototypes' labelling pass on the GPU for Strata (crates/strata-gpu, `KPrototypesScreen`).
//
//   label   one invocation per row and chunk of prototypes [j0, j1): the distance of the row to
//           each prototype, Σ(x − c)² over the numeric columns plus γ for each categorical
//           column whose code differs from the prototype's mode, computed in f32; the nearest
//           and second-nearest carried across chunks in `best`/`second`, ties to the lowest
//           index. After the last chunk the label's bit 31 says the two nearest are within
//           the error bound of this arithmetic: the host (strata-kprototypes' `Screen`)
//           decides those rows again in f64, and computes every row's cost there, so the
//           labels and cost are the CPU's bit for bit.
//
// The error bound (`bound`): the prototypes' numeric means are f64 on the host and rounded to
// f32 here, by at most `e` in Euclidean norm (the largest over prototypes, computed by the
// host); the rows are the host's f32 features, exact. For an exact distance D and its f32 value
// D~, |D~ − D| ≤ 2e·√D + e² + ρ·D with ρ covering f32's rounding of the sums and of γ. With
// √D ≤ 1.01·(e + √(D~ + 2e²)) the bound is written in D~ alone; x − bound(x) increases with x,
// so if the second-nearest minus its bound is above the nearest plus its bound, every other
// prototype is farther too, and the order is the exact one.

struct Params {
    n: u32,            // rows
    dn: u32,           // numeric columns
    dc: u32,           // categorical columns
    k: u32,            // prototypes
    j0: u32,           // first prototype of this dispatch
    j1: u32,           // one past its last
    gamma: f32,        // weight of one mismatch
    e: f32,            // largest rounding of a prototype's numeric part, Euclidean norm
    rho: f32,          // relative rounding of f32 sums
    last: u32,         // 1 on the dispatch of the last chunk: flag the near ties
    _pad0: u32,
    _pad1: u32,
}

const WG: u32 = 256u;
const TIE: u32 = 0x80000000u;
const BIG: f32 = 3.0e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> num: array<f32>;
@group(0) @binding(2) var<storage, read> cat: array<u32>;
@group(0) @binding(3) var<storage, read> pnum: array<f32>;
@group(0) @binding(4) var<storage, read> pcat: array<u32>;
@group(0) @binding(5) var<storage, read_write> labels: array<u32>;
@group(0) @binding(6) var<storage, read_write> best: array<f32>;
@group(0) @binding(7) var<storage, read_write> second: array<f32>;

// Rows beyond 65,535 workgroups need a 2-D dispatch; the flat index is rebuilt here.
fn flat(wg: vec3<u32>, nw: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nw.x + wg.x) * WG + li;
}

// How far an f32 distance of `x` can be from the exact one (see the header).
fn bound(x: f32) -> f32 {
    let e = p.e;
    let s = 1.01 * (e + sqrt(x + 2.0 * e * e));
    let a = 2.0 * e * s + e * e;
    return a + p.rho * (x + a) * 1.01;
}

@compute @workgroup_size(256)
fn label(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nw: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let i = flat(wg, nw, li);
    if (i >= p.n) {
        return;
    }
    var b = BIG;
    var s = BIG;
    var l = 0u;
    if (p.j0 > 0u) {
        b = best[i];
        s = second[i];
        l = labels[i];
    }
    for (var j = p.j0; j < p.j1; j = j + 1u) {
        var acc = 0.0;
        for (var f = 0u; f < p.dn; f = f + 1u) {
            let u = num[i * p.dn + f] - pnum[j * p.dn + f];
            acc = acc + u * u;
        }
        var m = 0u;
        for (var f = 0u; f < p.dc; f = f + 1u) {
            if (cat[i * p.dc + f] != pcat[j * p.dc + f]) {
                m = m + 1u;
            }
        }
        acc = acc + p.gamma * f32(m);
        // Strictly less, in index order: ties go to the lowest index, as on the CPU.
        if (acc < b) {
            s = b;
            b = acc;
            l = j;
        } else if (acc < s) {
            s = acc;
        }
    }
    best[i] = b;
    second[i] = s;
    if (p.last == 1u && p.k > 1u) {
        // A non-finite sum, or a gap within the bounds, goes to the host.
        let finite = b < BIG && s < BIG && b == b && s == s;
        if (!finite || s - bound(s) <= b + bound(b)) {
            l = l | TIE;
        }
    }
    labels[i] = l;
}
