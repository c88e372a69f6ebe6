//! Unit tests of k-means: planted blobs recovered, inertia never rising, a case worked by hand,
//! k = 1 and k = n, empty-cluster reseeding, parameters checked before work, reproducible
//! seeding, fixed centroids reproducing the fit, and the same fit on one and two threads.

use super::*;
use strata_compute::CpuBackend;

/// Well-separated Gaussian-ish blobs from a fixed generator: (data, true labels).
fn blobs(n_per: usize, centers: &[[f32; 3]], spread: f32, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut data = Vec::new();
    let mut truth = Vec::new();
    for i in 0..n_per {
        for (c, center) in centers.iter().enumerate() {
            let _ = i;
            for &m in center {
                // Sum of uniforms: a cheap bell shape.
                let u: f32 = (0..4)
                    .map(|_| (rng.next_u32() as f32 / u32::MAX as f32) - 0.5)
                    .sum();
                data.push(m + spread * u);
            }
            truth.push(c as u32);
        }
    }
    (data, truth)
}

use rand_core::RngCore;

/// Adjusted Rand index between two labelings.
fn ari(a: &[u32], b: &[u32]) -> f64 {
    use std::collections::HashMap;
    let mut table: HashMap<(u32, u32), f64> = HashMap::new();
    let mut ra: HashMap<u32, f64> = HashMap::new();
    let mut rb: HashMap<u32, f64> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *table.entry((x, y)).or_default() += 1.0;
        *ra.entry(x).or_default() += 1.0;
        *rb.entry(y).or_default() += 1.0;
    }
    let c2 = |x: f64| x * (x - 1.0) / 2.0;
    let n = a.len() as f64;
    let index: f64 = table.values().map(|&v| c2(v)).sum();
    let sa: f64 = ra.values().map(|&v| c2(v)).sum();
    let sb: f64 = rb.values().map(|&v| c2(v)).sum();
    let expected = sa * sb / c2(n);
    (index - expected) / ((sa + sb) / 2.0 - expected)
}

const CENTERS: [[f32; 3]; 4] = [
    [0.0, 0.0, 0.0],
    [10.0, 0.0, 0.0],
    [0.0, 10.0, 0.0],
    [0.0, 0.0, 10.0],
];

#[test]
fn recovers_planted_blobs() {
    let (data, truth) = blobs(500, &CENTERS, 2.0, 7);
    let m = MatrixRef::new(&data, truth.len(), 3).unwrap();
    let params = KMeansParams::new(4).check().unwrap();
    let fit = fit(&params, &CpuBackend, m, &mut Silent).unwrap();
    let score = ari(&fit.labels, &truth);
    assert!(score >= 0.95, "ARI {score}");
    assert!(fit.converged);
    assert_eq!(fit.counts.iter().sum::<u64>(), truth.len() as u64);
}

#[test]
fn inertia_never_increases() {
    let (data, truth) = blobs(300, &CENTERS, 8.0, 11); // overlapping: many iterations
    let m = MatrixRef::new(&data, truth.len(), 3).unwrap();
    let params = KMeansParams::new(6).tol(0.0).n_init(2).check().unwrap();
    let fit = fit(&params, &CpuBackend, m, &mut Silent).unwrap();
    for run in &fit.runs {
        assert!(
            run.history.len() > 2,
            "too few iterations to test: {:?}",
            run.history
        );
        for w in run.history.windows(2) {
            assert!(
                w[1] <= w[0] * (1.0 + 1e-9),
                "inertia rose: {} -> {}",
                w[0],
                w[1]
            );
        }
        // The history after the first pass comes from exact moments; the final inertia is the
        // row-by-row sum of f32 distances, within their rounding (6e-8 relative each).
        assert!(run.inertia <= *run.history.last().unwrap() * (1.0 + 1e-6));
    }
}

#[test]
fn same_result_on_one_and_two_threads() {
    let (data, truth) = blobs(4000, &CENTERS, 6.0, 3);
    let m = MatrixRef::new(&data, truth.len(), 3).unwrap();
    let params = KMeansParams::new(5).n_init(2).check().unwrap();
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fit(&params, &CpuBackend, m, &mut Silent).unwrap())
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.centroids, b.centroids);
    assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
    assert_eq!(a.iterations, b.iterations);
}

#[test]
fn small_case_by_hand() {
    // Two obvious pairs on a line; given starting centroids, one step settles it.
    let data = [0.0f32, 2.0, 10.0, 12.0];
    let m = MatrixRef::new(&data, 4, 1).unwrap();
    let params = KMeansParams::new(2)
        .init(Init::Centroids(vec![0.0, 2.0]))
        .check()
        .unwrap();
    let fit = fit(&params, &CpuBackend, m, &mut Silent).unwrap();
    // Step 1 from (0, 2): {0} and {2, 10, 12}, inertia 0 + 0 + 64 + 100 → centroids 0 and 8.
    // Step 2: {0, 2} and {10, 12}, inertia 0 + 4 + 4 + 16 → centroids 1 and 11.
    // Step 3: 1 + 1 + 1 + 1, no row changes → converged.
    assert_eq!(fit.centroids, vec![1.0, 11.0]);
    assert_eq!(fit.labels, vec![0, 0, 1, 1]);
    assert_eq!(fit.inertia, 4.0);
    assert_eq!(fit.runs[0].history, vec![164.0, 24.0, 4.0]);
    assert!(fit.converged);
}

#[test]
fn k_equal_to_n_puts_each_row_alone() {
    let data = [1.0f32, 5.0, 9.0, 20.0];
    let m = MatrixRef::new(&data, 4, 1).unwrap();
    let fit = fit(
        &KMeansParams::new(4).check().unwrap(),
        &CpuBackend,
        m,
        &mut Silent,
    )
    .unwrap();
    assert_eq!(fit.inertia, 0.0);
    assert_eq!(fit.counts, vec![1, 1, 1, 1]);
}

#[test]
fn k_one_is_the_mean() {
    let data = [1.0f32, 2.0, 3.0, 6.0];
    let m = MatrixRef::new(&data, 4, 1).unwrap();
    let fit = fit(
        &KMeansParams::new(1).check().unwrap(),
        &CpuBackend,
        m,
        &mut Silent,
    )
    .unwrap();
    assert_eq!(fit.centroids, vec![3.0]);
    assert_eq!(fit.inertia, 4.0 + 1.0 + 0.0 + 9.0);
}

#[test]
fn empty_cluster_is_reseeded_from_the_farthest_row() {
    // Start with a centroid nobody is near: it must be moved onto the farthest row (100).
    let data = [0.0f32, 1.0, 2.0, 100.0];
    let m = MatrixRef::new(&data, 4, 1).unwrap();
    let params = KMeansParams::new(2)
        .init(Init::Centroids(vec![1.0, -1000.0]))
        .check()
        .unwrap();
    let fit = fit(&params, &CpuBackend, m, &mut Silent).unwrap();
    assert_eq!(fit.runs[0].reseeded, 1);
    assert_eq!(fit.labels, vec![0, 0, 0, 1]);
    assert_eq!(fit.centroids, vec![1.0, 100.0]);
}

#[test]
fn parameters_are_checked_before_work() {
    assert!(matches!(
        KMeansParams::new(0).check(),
        Err(KMeansError::KTooSmall(0))
    ));
    assert!(matches!(
        KMeansParams::new(2).tol(-1.0).check(),
        Err(KMeansError::BadTol(_))
    ));
    assert!(matches!(
        KMeansParams::new(2).max_iter(0).check(),
        Err(KMeansError::NoIterations)
    ));
    assert!(matches!(
        KMeansParams::new(2).n_init(0).check(),
        Err(KMeansError::NoRuns)
    ));
    let data = [0.0f32; 3];
    let m = MatrixRef::new(&data, 3, 1).unwrap();
    let p = KMeansParams::new(4).check().unwrap();
    assert!(matches!(
        fit(&p, &CpuBackend, m, &mut Silent),
        Err(KMeansError::KTooLarge { k: 4, n: 3 })
    ));
    let bad = [0.0f32, f32::NAN];
    let m = MatrixRef::new(&bad, 2, 1).unwrap();
    let p = KMeansParams::new(1).check().unwrap();
    assert!(matches!(
        fit(&p, &CpuBackend, m, &mut Silent),
        Err(KMeansError::NonFinite { row: 1, column: 0 })
    ));
    // The first bad value is found past the first chunk of the search, and before a later one.
    let mut big = vec![1.0f32; 3 * 100_000];
    big[3 * 70_001 + 2] = f32::INFINITY;
    big[3 * 90_000] = f32::NAN;
    let m = MatrixRef::new(&big, 100_000, 3).unwrap();
    assert!(matches!(
        fit(&p, &CpuBackend, m, &mut Silent),
        Err(KMeansError::NonFinite {
            row: 70_001,
            column: 2
        })
    ));
}

#[test]
fn seeding_is_reproducible_and_seed_dependent() {
    let (data, truth) = blobs(200, &CENTERS, 3.0, 5);
    let m = MatrixRef::new(&data, truth.len(), 3).unwrap();
    let a = kmeans_plus_plus(m, 4, &mut ChaCha8Rng::seed_from_u64(1));
    let b = kmeans_plus_plus(m, 4, &mut ChaCha8Rng::seed_from_u64(1));
    let c = kmeans_plus_plus(m, 4, &mut ChaCha8Rng::seed_from_u64(2));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

/// Scoring with a fit's final centroids reproduces the fit: the same labels, distances,
/// counts and inertia (what `--k auto` and `strata assign` rely on).
#[test]
fn assign_with_final_centroids_reproduces_the_fit() {
    let (data, truth) = blobs(300, &CENTERS, 6.0, 11);
    let m = MatrixRef::new(&data, truth.len(), 3).unwrap();
    let params = KMeansParams::new(5).n_init(2).check().unwrap();
    let fit = fit(&params, &CpuBackend, m, &mut Silent).unwrap();
    let a = assign(&CpuBackend, m, &fit.centroids, 5).unwrap();
    assert_eq!(a.labels, fit.labels);
    assert_eq!(a.nearest, fit.nearest);
    assert_eq!(a.second, fit.second);
    assert_eq!(a.counts, fit.counts);
    assert_eq!(a.inertia, fit.inertia);
    assert!(matches!(
        assign(&CpuBackend, m, &fit.centroids[..9], 5),
        Err(KMeansError::Compute(_))
    ));
}
