//! Unit tests of the quality scores against values scikit-learn computed on the same data
//! (`tests/fixtures/quality`, with the script that made them) and hand-worked cases.

use super::*;

#[derive(serde::Deserialize)]
struct Fixture {
    sklearn: String,
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    d: usize,
    k: usize,
    data: Vec<f64>,
    labels: Vec<u32>,
    planted: Vec<u32>,
    silhouette: f64,
    davies_bouldin: f64,
    calinski_harabasz: f64,
    ari_planted: f64,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/quality/sklearn_quality.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn close(got: Option<f64>, want: f64, what: &str, tol: f64) {
    let got = got.unwrap_or_else(|| panic!("{what}: no value"));
    assert!(
        (got - want).abs() <= tol * want.abs().max(1.0),
        "{what}: {got} vs scikit-learn's {want}"
    );
}

/// The same scores as scikit-learn on the same data and labels. The fixture's data are
/// f32-exact, so only summation order separates the two, and the silhouette's distances in
/// f32 (to 1e-6).
#[test]
fn scores_agree_with_scikit_learn() {
    let f = fixture();
    assert!(!f.sklearn.is_empty());
    for c in &f.cases {
        let data: Vec<f32> = c.data.iter().map(|&v| v as f32).collect();
        assert!(data.iter().zip(&c.data).all(|(&a, &b)| a as f64 == b));
        let n = c.labels.len();
        let q = quality(&data, c.d, &c.labels, c.k, n, 1);
        close(
            q.silhouette,
            c.silhouette,
            &format!("{} silhouette", c.name),
            1e-6,
        );
        close(
            q.davies_bouldin,
            c.davies_bouldin,
            &format!("{} DB", c.name),
            1e-9,
        );
        close(
            q.calinski_harabasz,
            c.calinski_harabasz,
            &format!("{} CH", c.name),
            1e-9,
        );
        assert!(!q.silhouette_sampled && q.silhouette_rows == n);
        close(
            Some(adjusted_rand_index(&c.planted, &c.labels)),
            c.ari_planted,
            &format!("{} ARI", c.name),
            1e-12,
        );
    }
}

/// Above the exact limit the silhouette is a sample's: reported as such, reproducible by seed,
/// and near the exact value.
#[test]
fn sampled_silhouette_is_reported_and_close() {
    let f = fixture();
    let c = f.cases.iter().find(|c| c.name == "overlapping").unwrap();
    let data: Vec<f32> = c.data.iter().map(|&v| v as f32).collect();
    let q = quality(&data, c.d, &c.labels, c.k, 250, 7);
    assert!(q.silhouette_sampled);
    assert_eq!((q.silhouette_rows, q.silhouette_seed), (250, Some(7)));
    assert_eq!(q, quality(&data, c.d, &c.labels, c.k, 250, 7));
    assert!((q.silhouette.unwrap() - c.silhouette).abs() < 0.05);
    assert_ne!(
        q.silhouette,
        quality(&data, c.d, &c.labels, c.k, 250, 8).silhouette
    );
}

#[test]
fn samples_are_distinct_sorted_and_seeded() {
    let s = sample_rows(1000, 100, 3);
    assert_eq!(s.len(), 100);
    assert!(s.windows(2).all(|w| w[0] < w[1]) && s[99] < 1000);
    assert_eq!(s, sample_rows(1000, 100, 3));
    assert_ne!(s, sample_rows(1000, 100, 4));
    assert_eq!(sample_rows(5, 9, 1), vec![0, 1, 2, 3, 4]);
}

#[test]
fn rand_index_ignores_numbering_and_handles_trivial_partitions() {
    let a = [0, 0, 1, 1, 2, 2];
    assert_eq!(adjusted_rand_index(&a, &[2, 2, 0, 0, 1, 1]), 1.0);
    assert_eq!(adjusted_rand_index(&[0; 6], &[0; 6]), 1.0);
    assert!(adjusted_rand_index(&a, &[0, 1, 0, 1, 0, 1]) < 0.0);
}

/// One segment has no between-segment spread: no score rather than a made-up one.
#[test]
fn one_segment_has_no_scores() {
    let data = [0f32, 1.0, 2.0, 3.0];
    let q = quality(&data, 1, &[0, 0, 0, 0], 3, 10, 1);
    assert_eq!(
        (q.silhouette, q.davies_bouldin, q.calinski_harabasz),
        (None, None, None)
    );
}

/// Fixed chunking: one thread and many give the same bits.
#[test]
fn scores_do_not_depend_on_the_thread_count() {
    let f = fixture();
    let c = &f.cases[1];
    let data: Vec<f32> = c.data.iter().map(|&v| v as f32).collect();
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| quality(&data, c.d, &c.labels, c.k, 200, 5))
    };
    assert_eq!(run(1), run(3));
}

/// The silhouette's distance sums with AVX2 are the portable code's bits: the same
/// operations in the same order, only more lanes at a time.
#[test]
fn wide_and_narrow_distance_sums_agree() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        let (s, d) = (1000, 7);
        let mut state: u32 = 99;
        let columns: Vec<f32> = (0..s * d)
            .map(|_| {
                state = state.wrapping_mul(1664525).wrapping_add(1013904223);
                (state >> 8) as f32 / 65536.0 - 128.0
            })
            .collect();
        let starts = [0, 3, 300, 301, 1000];
        let segments = Segments {
            starts: &starts,
            columns: &columns,
            s,
        };
        for row in 0..20 {
            let x: Vec<f32> = (0..d).map(|f| columns[f * s + row * 37]).collect();
            let (mut wide, mut narrow) = (vec![0f64; 4], vec![0f64; 4]);
            // SAFETY: AVX2 was detected above.
            unsafe { segments.distance_sums_avx2(&x, &mut wide) };
            segments.distance_sums_with(&x, &mut narrow);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&wide), bits(&narrow), "row {row}");
        }
    }
}

#[test]
fn mixed_silhouette_without_categories_is_the_euclidean_one() {
    let n = 300;
    let data: Vec<f32> = (0..n * 3)
        .map(|i| ((i * 7919) % 101) as f32 * 0.1 + if i % 3 == 0 { (i / 90) as f32 } else { 0.0 })
        .collect();
    let labels: Vec<u32> = (0..n).map(|i| (i * 3 / n) as u32).collect();
    let rows: Vec<usize> = (0..n).collect();
    let euclid = silhouette_of(&data, 3, &labels, 3, &rows).unwrap();
    let num: Vec<f64> = data.iter().map(|&x| f64::from(x)).collect();
    let mixed = Mixed {
        num: &num,
        dn: 3,
        cat: &[],
        dc: 0,
        gamma: 0.7,
    };
    let m = silhouette_mixed(&mixed, &labels, 3, &rows).unwrap();
    assert!((euclid - m).abs() < 1e-5, "{euclid} vs {m}");
}

#[test]
fn mixed_silhouette_counts_mismatches_times_gamma() {
    // Two rows per segment; numbers equal, so only the categories separate them:
    // within a segment the codes agree (distance 0), across they differ in one code
    // (distance √γ): every row scores (√γ − 0) / √γ = 1.
    let num = [0.0f64; 4];
    let cat = [0u32, 0, 1, 1];
    let labels = [0u32, 0, 1, 1];
    let data = Mixed {
        num: &num,
        dn: 1,
        cat: &cat,
        dc: 1,
        gamma: 2.0,
    };
    assert_eq!(
        silhouette_mixed(&data, &labels, 2, &[0, 1, 2, 3]),
        Some(1.0)
    );
    // One row moved to the other segment's codes: a = √2 for it against its partner.
    let cat = [0u32, 1, 1, 1];
    let data = Mixed { cat: &cat, ..data };
    let s = silhouette_mixed(&data, &labels, 2, &[0, 1, 2, 3]).unwrap();
    // Row 0: a = √2, b = √2 → 0. Row 1: a = √2, b = 0 → −1. Rows 2, 3: a = 0, b = mean(√2, 0)
    // = √2/2 → 1 each. Mean (0 − 1 + 1 + 1) / 4 = 0.25.
    assert!((s - 0.25).abs() < 1e-12, "{s}");
    let q = quality_mixed(&data, &labels, 2, 10, 1);
    assert_eq!(q.davies_bouldin, None);
    assert_eq!(q.calinski_harabasz, None);
    assert_eq!(q.silhouette_rows, 4);
}
