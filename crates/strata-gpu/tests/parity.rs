//! The GPU backend against the CPU oracle. On CI these run on lavapipe (Mesa's software Vulkan);
//! each test asserts it really ran on a wgpu adapter. A test skips only when no Vulkan driver is
//! installed at all, and never when `STRATA_REQUIRE_GPU` is set (CI's test script sets it after
//! installing the driver), so a broken setup fails instead of passing quietly.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test, with its place"
)]

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use strata_compute::{Backend, BackendKind, CpuBackend, MatrixRef};
use strata_gpu::{GpuBackend, GpuOptions};
use strata_kmeans::{Init, KMeansParams, Silent};

fn vulkan_driver_installed() -> bool {
    ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
        .iter()
        .any(|d| std::fs::read_dir(d).is_ok_and(|mut e| e.next().is_some()))
}

fn gpu(opts: GpuOptions) -> Option<GpuBackend> {
    match GpuBackend::new(opts) {
        Ok(g) => {
            assert_eq!(g.kind(), BackendKind::Gpu);
            let backend = g.adapter().backend;
            assert!(
                matches!(
                    backend,
                    wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12
                ),
                "ran on {backend:?}, not a compute-capable primary backend"
            );
            eprintln!("running on {}", g.describe());
            Some(g)
        }
        Err(e) if std::env::var_os("STRATA_REQUIRE_GPU").is_some() => {
            panic!("STRATA_REQUIRE_GPU is set but the GPU backend is unavailable: {e}")
        }
        Err(e) if vulkan_driver_installed() => panic!("a Vulkan driver is installed but: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: no Vulkan driver installed ({e})");
            None
        }
    }
}

fn random(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * d)
        .map(|_| (rng.next_u32() as f32 / u32::MAX as f32) * 10.0 - 5.0)
        .collect()
}

/// Bit-equality of two vectors, reporting the first difference rather than both vectors.
fn same<T: PartialEq + std::fmt::Debug>(gpu: &[T], cpu: &[T], what: &str) {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths");
    if let Some(i) = (0..gpu.len()).find(|&i| gpu[i] != cpu[i]) {
        let differ = (0..gpu.len()).filter(|&i| gpu[i] != cpu[i]).count();
        panic!(
            "{what}: {differ} of {} differ, first at {i}: gpu {:?}, cpu {:?}",
            gpu.len(),
            gpu[i],
            cpu[i]
        );
    }
}

/// One pass on both backends from the same centroids: labels identical, and sums, counts,
/// inertia and changed rows bit-identical (the host tallies the device's labels in the CPU
/// pass's order); distances of the final read within f32 rounding.
fn one_pass(gpu: &GpuBackend, n: usize, d: usize, k: usize, seed: u64) {
    let data = random(n, d, seed);
    let m = MatrixRef::new(&data, n, d).unwrap();
    let c = random(k, d, seed + 1);
    let mut gb = gpu.bind(m).unwrap();
    let mut cb = CpuBackend.bind(m).unwrap();
    let (gs, cs) = (gb.step(&c, k).unwrap(), cb.step(&c, k).unwrap());
    let (ga, ca) = (gb.assignments().unwrap(), cb.assignments().unwrap());
    let shape = format!("n={n} d={d} k={k}");
    same(&ga.labels, &ca.labels, &format!("labels ({shape})"));
    // The device's own picks stand for nearly every row: re-deciding in f64 (which would mask
    // a wrong distance on the device) changed almost none.
    assert!(
        ga.redecided as usize <= n / 100,
        "{} of {n} labels redecided ({shape})",
        ga.redecided
    );
    same(&gs.counts, &cs.counts, &format!("counts ({shape})"));
    same(&gs.sums, &cs.sums, &format!("sums ({shape})"));
    assert_eq!(
        gs.inertia.to_bits(),
        cs.inertia.to_bits(),
        "inertia ({shape})"
    );
    assert_eq!(gs.changed, n as u64, "every row is new on the first pass");
    assert_eq!(
        gb.step(&c, k).unwrap().changed,
        0,
        "nothing changes on a repeat pass"
    );
    assert_eq!(gb.farthest(5).unwrap(), cb.farthest(5).unwrap());
    for (g, c) in ga.nearest.iter().zip(&ca.nearest) {
        assert!((g - c).abs() <= 1e-4 * c.max(1.0), "distance {g} vs {c}");
    }
}

#[test]
fn one_pass_matches_the_cpu_for_odd_widths_k1_and_kn() {
    let Some(g) = gpu(GpuOptions::default()) else {
        return;
    };
    one_pass(&g, 5000, 7, 5, 1); // d not a multiple of 4
    one_pass(&g, 3000, 16, 8, 2);
    one_pass(&g, 777, 3, 1, 3); // k = 1: no second centroid
    one_pass(&g, 64, 5, 64, 4); // k = n
    // Rows as vec4, centroids in two tiles of workgroup memory (512 of d = 8 to a tile), and
    // a last workgroup whose idle invocations still help load them.
    one_pass(&g, 1000, 8, 600, 8);
}

#[test]
fn tiles_of_any_size_give_the_same_answers() {
    let Some(g) = gpu(GpuOptions {
        max_tile_rows: Some(100),
        ..Default::default()
    }) else {
        return;
    };
    one_pass(&g, 1050, 6, 4, 5); // 11 tiles, the last one short
    one_pass(&g, 100, 6, 4, 6); // exactly one full tile
}

#[test]
fn more_workgroups_than_one_dimension_allows_use_a_2d_dispatch() {
    // 3 workgroups per dimension: 2,000 rows need 8 groups of 256, so a 3 × 3 grid.
    let opts = GpuOptions {
        max_workgroups_per_dim: Some(3),
        ..Default::default()
    };
    let Some(g) = gpu(opts) else { return };
    one_pass(&g, 2000, 5, 3, 7);
    one_pass(&g, 2000, 8, 3, 9); // the vec4 path
}

#[test]
fn centroids_far_larger_than_workgroup_memory() {
    // k · d = 1024 × 256 = 262,144 floats (1 MiB), beyond any workgroup memory.
    let Some(g) = gpu(GpuOptions::default()) else {
        return;
    };
    one_pass(&g, 1100, 256, 1024, 8);
}

#[test]
fn a_whole_fit_matches_the_cpu() {
    let Some(g) = gpu(GpuOptions {
        max_tile_rows: Some(700),
        ..Default::default()
    }) else {
        return;
    };
    // Planted blobs in 7 dimensions.
    let (n_per, d, k) = (600, 7, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut data = Vec::new();
    for i in 0..n_per * k {
        for f in 0..d {
            let center = if f == i % k { 8.0 } else { 0.0 };
            data.push(center + (rng.next_u32() as f32 / u32::MAX as f32) * 2.0 - 1.0);
        }
    }
    let m = MatrixRef::new(&data, n_per * k, d).unwrap();
    let params = KMeansParams::new(k).n_init(2).tol(0.0).check().unwrap();
    let on_gpu = strata_kmeans::fit(&params, &g, m, &mut Silent).unwrap();
    let on_cpu = strata_kmeans::fit(&params, &CpuBackend, m, &mut Silent).unwrap();
    // Lloyd steps after the first of each run were summed on the device.
    assert!(g.passes().device >= 2, "{:?}", g.passes());
    same(&on_gpu.labels, &on_cpu.labels, "labels");
    assert_eq!(on_gpu.inertia.to_bits(), on_cpu.inertia.to_bits());
    same(&on_gpu.centroids, &on_cpu.centroids, "centroids");
    assert_eq!(on_gpu.iterations, on_cpu.iterations);
    // An empty cluster is reseeded the same way on both (farthest rows read from the device).
    let bad = Init::Centroids(
        [
            vec![0.0; d],
            vec![1000.0; d],
            vec![8.0; d],
            vec![-1000.0; d],
        ]
        .concat(),
    );
    let p = KMeansParams::new(4).init(bad).check().unwrap();
    let (a, b) = (
        strata_kmeans::fit(&p, &g, m, &mut Silent).unwrap(),
        strata_kmeans::fit(&p, &CpuBackend, m, &mut Silent).unwrap(),
    );
    assert!(a.runs[0].reseeded > 0);
    assert_eq!(a.labels, b.labels);
}

/// Overlapping segments (uniform data, no planted structure): many rows sit near a boundary on
/// every iteration, so centroids that differ in the last bit, or one row ordered differently in
/// f32, send the two fits down different paths. They must not: same centroids, bit for bit, at
/// every k tried, over tiles. (Summing on the device instead moved 58 of 1M customers on an
/// H200; the same fits here differed in their centroids' last bits.)
#[test]
fn whole_fits_on_overlapping_data_agree_bit_for_bit() {
    let Some(g) = gpu(GpuOptions {
        max_tile_rows: Some(4000),
        ..Default::default()
    }) else {
        return;
    };
    let (n, d) = (12_000, 5);
    let data = random(n, d, 21);
    let m = MatrixRef::new(&data, n, d).unwrap();
    for k in [3, 8, 17] {
        let params = KMeansParams::new(k).n_init(2).tol(0.0).check().unwrap();
        let before = g.passes().device;
        let on_gpu = strata_kmeans::fit(&params, &g, m, &mut Silent).unwrap();
        assert!(g.passes().device > before + 5, "k={k}: {:?}", g.passes());
        let on_cpu = strata_kmeans::fit(&params, &CpuBackend, m, &mut Silent).unwrap();
        assert!(on_cpu.iterations > 5, "k={k}: a real descent");
        same(
            &on_gpu.centroids,
            &on_cpu.centroids,
            &format!("centroids, k={k}"),
        );
        same(&on_gpu.labels, &on_cpu.labels, &format!("labels, k={k}"));
        assert_eq!(on_gpu.inertia.to_bits(), on_cpu.inertia.to_bits(), "k={k}");
        assert_eq!(on_gpu.iterations, on_cpu.iterations, "k={k}");
    }
}

/// The tie tolerance covers the device's f32 error at any width, not only small ones.
#[test]
fn tie_tolerance_grows_with_the_width() {
    assert_eq!(strata_gpu::tie_tolerance(4), 1e-5);
    let wide = strata_gpu::tie_tolerance(1000);
    assert!(wide >= 2.0 * 1003.0 * f32::EPSILON / 2.0, "{wide}");
}

/// Summing on the device against summing on the host, through every path the device sums can
/// take: centroids in several column slices of workgroup memory (k = 300), tiles, many rows
/// flagged as near-ties (a tolerance widened to 0.3: each is decided again in f64 and moved
/// between the device's totals), and a tie list too short for them (the step is tallied on
/// the host from the last pass's labels). Every fit gives the CPU's bits.
#[test]
fn device_sums_give_the_cpu_bits_through_ties_slices_and_overflow() {
    let (n, d) = (3000, 9);
    let data = random(n, d, 4);
    let m = MatrixRef::new(&data, n, d).unwrap();
    // (params, tie tolerance, tie list length, whether the list overflows)
    let cases = [
        (KMeansParams::new(5).n_init(2), None, None, false),
        (KMeansParams::new(5).n_init(2), Some(0.3), Some(n), false),
        (KMeansParams::new(5).n_init(2), Some(0.3), Some(3), true),
        (
            KMeansParams::new(300).max_iter(4),
            Some(0.01),
            Some(n),
            false,
        ),
    ];
    for (params, tie_tolerance, max_ties, overflows) in cases {
        let params = params.tol(0.0).check().unwrap();
        let Some(g) = gpu(GpuOptions {
            max_tile_rows: Some(1024),
            max_ties,
            tie_tolerance,
            ..Default::default()
        }) else {
            return;
        };
        let on_gpu = strata_kmeans::fit(&params, &g, m, &mut Silent).unwrap();
        let on_cpu = strata_kmeans::fit(&params, &CpuBackend, m, &mut Silent).unwrap();
        let what = format!(
            "k={}, tolerance {tie_tolerance:?}, ties {max_ties:?}",
            params.k()
        );
        same(
            &on_gpu.centroids,
            &on_cpu.centroids,
            &format!("centroids, {what}"),
        );
        same(&on_gpu.labels, &on_cpu.labels, &format!("labels, {what}"));
        assert_eq!(on_gpu.inertia.to_bits(), on_cpu.inertia.to_bits(), "{what}");
        assert_eq!(on_gpu.iterations, on_cpu.iterations, "{what}");
        let p = g.passes();
        if overflows {
            assert!(p.overflowed > 0, "{what}: {p:?}");
        } else {
            assert!(p.device > 0 && p.overflowed == 0, "{what}: {p:?}");
        }
    }
}

/// Rows exactly tied in exact arithmetic that f32 orders either way: centroids that are
/// rotations of each other, (a, b, c) and (c, a, b), and rows (v, v, v), whose two distances
/// add the same three squares in different orders. f64 sees the tie and gives the lower index;
/// the device's f32 sums often do not, so on a Lloyd step summed on the device those rows come
/// back in the tie list, are decided again, and move between the device's totals; the step's
/// sums, counts, inertia and changed rows are the CPU's, and so is the next step's.
#[test]
fn near_tied_rows_move_between_the_device_totals() {
    let Some(g) = gpu(GpuOptions {
        max_tile_rows: Some(1000),
        max_ties: Some(4000),
        ..Default::default()
    }) else {
        return;
    };
    let (n, d, k) = (4000, 3, 2);
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut data = Vec::with_capacity(n * d);
    for i in 0..n {
        let v = (rng.next_u32() as f32 / u32::MAX as f32) * 3.0 - 1.0;
        if i % 4 == 0 {
            data.extend(random(1, d, i as u64));
        } else {
            data.extend([v, v, v]);
        }
    }
    let m = MatrixRef::new(&data, n, d).unwrap();
    let c = [0.1f32, 0.7, 1.3, 1.3, 0.1, 0.7];
    let mut gb = g.bind(m).unwrap();
    let mut cb = CpuBackend.bind(m).unwrap();
    for step in 0..3 {
        let (gs, cs) = if step == 0 {
            (gb.step(&c, k).unwrap(), cb.step(&c, k).unwrap())
        } else {
            (gb.lloyd_step(&c, k).unwrap(), cb.lloyd_step(&c, k).unwrap())
        };
        same(&gs.counts, &cs.counts, &format!("counts, step {step}"));
        same(&gs.sums, &cs.sums, &format!("sums, step {step}"));
        assert_eq!(gs.inertia.to_bits(), cs.inertia.to_bits(), "step {step}");
        assert_eq!(gs.changed, cs.changed, "step {step}");
    }
    assert_eq!(g.passes().device, 2, "{:?}", g.passes());
    same(
        &gb.assignments().unwrap().labels,
        &cb.assignments().unwrap().labels,
        "labels",
    );
    assert_eq!(gb.farthest(7).unwrap(), cb.farthest(7).unwrap());
}

/// Mixed customers for k-prototypes: `dn` numbers and `dc` codes per row. With `ties`, the
/// numbers are small whole numbers and γ a power of two, so many rows sit at exactly equal
/// distances from two prototypes: the screen must flag them and the host decide them.
fn mixed(n: usize, dn: usize, dc: usize, ties: bool, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let num = (0..n * dn)
        .map(|i| {
            let r = rng.next_u32();
            if ties {
                (r % 4) as f32
            } else {
                // Three clusters along the first column, noise elsewhere.
                let centre = if i % dn == 0 {
                    ((i / dn) % 3) as f32 * 4.0
                } else {
                    0.0
                };
                centre + (r as f32 / u32::MAX as f32) * 2.0 - 1.0
            }
        })
        .collect();
    let cat = (0..n * dc).map(|_| rng.next_u32() % 3).collect();
    (num, cat)
}

#[test]
fn kprototypes_through_the_gpu_screen_is_the_cpu_fit_bit_for_bit() {
    let Some(g) = gpu(GpuOptions::default()) else {
        return;
    };
    for (n, dn, dc, k, gamma, ties) in [
        (3000, 3, 2, 5, None, false),
        (2000, 2, 3, 4, Some(1.0), true),
        (500, 0, 4, 3, Some(1.0), true),
        (800, 4, 0, 6, None, false),
    ] {
        let (num32, cat) = mixed(n, dn, dc, ties, 7 + n as u64);
        let num: Vec<f64> = num32.iter().map(|&v| f64::from(v)).collect();
        let data = strata_kprototypes::Data::new(&num, dn, &cat, dc).unwrap();
        let mut params = strata_kprototypes::Params::new(k)
            .gamma(gamma)
            .n_init(2)
            .seed(11);
        if ties {
            // Start from k distinct rows: whole numbers, so the start's labelling pass meets
            // rows exactly between two prototypes.
            let row = |i: usize| (&num32[i * dn..(i + 1) * dn], &cat[i * dc..(i + 1) * dc]);
            let mut rows: Vec<usize> = Vec::new();
            for i in 0..n {
                if rows.len() < k && rows.iter().all(|&r| row(r) != row(i)) {
                    rows.push(i);
                }
            }
            params = params.init(strata_kprototypes::Init::rows(&data, &rows));
        }
        let cpu = strata_kprototypes::fit(&params, &data).unwrap();
        let screen = strata_gpu::KPrototypesScreen::new(&g, &num32, dn, &cat, dc).unwrap();
        let on_gpu = strata_kprototypes::fit_screened(&params, &data, Some(&screen)).unwrap();
        let case = format!("n {n}, dn {dn}, dc {dc}, k {k}");
        same(&on_gpu.labels, &cpu.labels, &format!("{case}: labels"));
        assert_eq!(on_gpu.cost.to_bits(), cpu.cost.to_bits(), "{case}: cost");
        same(
            &on_gpu.epoch_costs,
            &cpu.epoch_costs,
            &format!("{case}: epoch costs"),
        );
        same(
            &on_gpu.num_centroids,
            &cpu.num_centroids,
            &format!("{case}: means"),
        );
        same(
            &on_gpu.cat_centroids,
            &cpu.cat_centroids,
            &format!("{case}: modes"),
        );
        let counts = screen.counts();
        // Every labelling pass went through the device: the best run's alone is its start's,
        // the one after the start and one per pass.
        assert!(
            counts.passes >= cpu.iterations as u64 + 2,
            "{case}: {counts:?}"
        );
        eprintln!("{case}: {counts:?}");
        if ties {
            assert!(counts.flagged > 0, "{case}: exact ties must be flagged");
        }
    }
}
