//! Unit tests: the reference cases of `docs/research/kprototypes-kmodes-0.12.2.md` (kmodes
//! 0.12.2's own STOCKS test and a generated set with running-sum drift), numpy's pairwise
//! sum, the starts, and independence from the thread count.

use super::*;

/// kmodes' STOCKS test data: price (numeric), sector and country (codes in sorted order).
fn stocks() -> (Vec<f64>, Vec<u32>) {
    let rows: [(f64, &str, &str); 12] = [
        (738.5, "tech", "USA"),
        (369.5, "nrg", "USA"),
        (368.2, "tech", "USA"),
        (346.7, "tech", "USA"),
        (343.5, "fin", "USA"),
        (282.4, "fin", "USA"),
        (282.1, "tel", "CN"),
        (279.7, "cons", "USA"),
        (257.2, "cons", "USA"),
        (205.2, "tel", "USA"),
        (192.1, "tech", "USA"),
        (195.7, "nrg", "NL"),
    ];
    let sector = ["cons", "fin", "nrg", "tech", "tel"];
    let country = ["CN", "NL", "USA"];
    let code = |v: &[&str], x: &str| v.iter().position(|s| *s == x).unwrap() as u32;
    let num = rows.iter().map(|r| r.0).collect();
    let cat = rows
        .iter()
        .flat_map(|r| [code(&sector, r.1), code(&country, r.2)])
        .collect();
    (num, cat)
}

#[test]
fn stocks_as_kmodes_fits_it() {
    let (num, cat) = stocks();
    let data = Data::new(&num, 1, &cat, 2).unwrap();
    let init = Init::Given {
        num: vec![356.975, 275.35, 738.5, 197.667],
        cat: vec![3, 2, 0, 2, 3, 2, 2, 2],
    };
    let f = fit(&Params::new(4).init(init), &data).unwrap();
    assert_eq!(f.gamma, 69.90333603547751);
    assert_eq!(f.labels, [2, 0, 0, 0, 0, 1, 1, 1, 1, 3, 3, 3]);
    assert_eq!(f.cost, 1664.4708549504871);
    assert_eq!(f.iterations, 1);
    assert_eq!(f.epoch_costs, [1664.4708549504871, 1664.4708549504871]);
    assert_eq!(
        f.num_centroids,
        [356.975, 275.35, 738.5, 197.66666666666666]
    );
    assert_eq!(f.cat_centroids, [3, 2, 0, 2, 3, 2, 2, 2]);
}

/// The research notes' case B2: 300 generated rows, 3 numeric and 2 categorical columns,
/// k = 6 from the first six rows, 12 passes whose running sums drift in the last digits.
#[test]
fn a_drifting_case_matches_kmodes_bit_for_bit() {
    let n = 300;
    let (mut num, mut cat) = (Vec::new(), Vec::new());
    let abcd = ["a", "b", "c", "d"];
    let xyz = ["x", "y", "z"];
    let mut seen_xyz = std::collections::BTreeSet::new();
    for i in 0..n {
        num.extend([
            ((i * 37) % 101) as f64 / 10.0,
            ((i * 53) % 89) as f64 / 7.0,
            ((i * 11) % 17) as f64 / 3.0,
        ]);
        seen_xyz.insert(xyz[(i * i) % 3]);
    }
    // kmodes codes the values present, in sorted order ("z" never occurs: i² mod 3 ≠ 2).
    let present: Vec<&str> = seen_xyz.into_iter().collect();
    assert_eq!(present, ["x", "y"]);
    for i in 0..n {
        cat.push(((i * 7) % 4) as u32);
        cat.push(present.iter().position(|v| *v == xyz[(i * i) % 3]).unwrap() as u32);
    }
    let _ = abcd;
    let data = Data::new(&num, 3, &cat, 2).unwrap();
    let init = Init::Given {
        num: num[..18].to_vec(),
        cat: cat[..12].to_vec(),
    };
    let f = fit(&Params::new(6).init(init), &data).unwrap();
    assert_eq!(f.gamma, 1.3715759303539101);
    assert_eq!(f.cost, 2305.3866048446143);
    assert_eq!(f.iterations, 12);
    assert_eq!(
        f.epoch_costs,
        [
            2606.9055904559887,
            2495.231944587698,
            2428.263723688836,
            2390.350605815863,
            2381.4453722721296,
            2379.1975828555946,
            2372.561693594804,
            2363.165980411224,
            2359.3075852412658,
            2323.016668712165,
            2308.864791069894,
            2305.3866048446143,
            2305.3866048446143
        ]
    );
    assert_eq!(
        f.num_centroids,
        [
            2.5019607843137255,
            2.224089635854342,
            2.4183006535947715,
            2.087499999999999,
            6.583333333333326,
            2.8680555555555567,
            7.637254901960782,
            1.9579831932773104,
            2.7516339869281046,
            2.8826923076923086,
            10.673076923076918,
            2.6923076923076925,
            6.900000000000003,
            5.990881458966569,
            2.6808510638297847,
            7.947058823529412,
            10.221288515406165,
            2.647058823529413
        ]
    );
    assert_eq!(f.cat_centroids, [2, 1, 0, 1, 1, 1, 1, 1, 1, 1, 3, 1]);
    let want = "0,1,2,3,4,5,1,2,5,1,5,1,0,5,0,3,4,0,5,2,3,4,0,3,2,3,4,2,1,2,5,1,2,1,0,5,1,2,5,0,\
        5,1,0,4,0,3,4,3,4,2,3,4,3,1,2,3,4,5,1,2,5,0,5,1,0,5,0,3,4,0,5,0,3,4,0,3,2,3,4,2,1,2,3,1,\
        2,1,0,5,1,2,5,0,5,1,3,4,0,5,4,3,4,0,3,4,3,4,2,3,4,5,1,2,1,0,5,1,0,5,0,5,4,0,5,0,3,4,0,4,\
        2,3,4,2,1,2,3,4,5,1,2,5,1,5,1,0,5,1,3,4,0,5,2,3,4,0,3,2,3,4,2,3,2,5,1,2,1,0,5,1,2,5,0,5,\
        1,0,4,0,3,4,0,4,2,3,4,3,1,2,3,4,5,1,2,5,0,5,1,0,5,0,3,4,0,5,0,3,4,0,3,2,3,4,2,1,2,3,1,2,\
        1,0,5,1,2,5,0,5,1,3,4,0,3,4,3,4,2,3,4,3,1,2,3,4,5,1,2,3,0,5,1,2,5,0,5,4,0,5,0,3,4,0,4,2,\
        3,4,2,1,2,3,4,2,1,2,5,1,5,1,0,5,1,3,4,0,5,2,3,4,0,3,2,3,4,2,3,2,5,1,2,1,0,5,1,2";
    let want: Vec<u32> = want.split(',').map(|v| v.parse().unwrap()).collect();
    assert_eq!(f.labels, want);
    // The labelling pass agrees with the fit.
    assert_eq!(
        assign(&data, &f.num_centroids, &f.cat_centroids, 6, f.gamma),
        (f.labels.clone(), f.cost)
    );
}

#[test]
fn pairwise_sum_is_numpys() {
    // Below 8 values: left to right from 0.
    assert_eq!(pairwise_sum(&[0.1, 0.2, 0.3]), (0.0 + 0.1 + 0.2) + 0.3);
    // 8 to 128: eight accumulators, combined in a tree, then the rest.
    let a: Vec<f64> = (0..11).map(|i| 0.1 * f64::from(i)).collect();
    let r: Vec<f64> = (0..8).map(|j| a[j]).collect();
    let want =
        ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7])) + a[8] + a[9] + a[10];
    assert_eq!(pairwise_sum(&a), want);
    // Above 128: halves at a multiple of 8.
    let b: Vec<f64> = (0..300).map(|i| 1.0 / f64::from(i + 1)).collect();
    assert_eq!(
        pairwise_sum(&b),
        pairwise_sum(&b[..144]) + pairwise_sum(&b[144..])
    );
}

#[test]
fn cao_and_huang_starts_are_seeded_and_runs_keep_the_best() {
    let (num, cat) = stocks();
    let data = Data::new(&num, 1, &cat, 2).unwrap();
    for init in [Init::Cao, Init::Huang] {
        let p = Params::new(3).init(init.clone()).n_init(4).seed(9);
        let a = fit(&p, &data).unwrap();
        assert_eq!(
            a,
            fit(&p, &data).unwrap(),
            "{init:?}: the same seed, the same fit"
        );
        assert_eq!(a.run_costs.len(), 4);
        let lowest = a.run_costs.iter().copied().fold(f64::INFINITY, f64::min);
        assert_eq!(a.cost, lowest);
        assert_eq!(a.run_costs[a.best_run], lowest);
    }
}

#[test]
fn thread_count_changes_nothing() {
    let n = 5000;
    let num: Vec<f64> = (0..n * 2)
        .map(|i| ((i * 7919) % 1000) as f64 / 37.0)
        .collect();
    let cat: Vec<u32> = (0..n * 2).map(|i| ((i * 31) % 5) as u32).collect();
    let data = Data::new(&num, 2, &cat, 2).unwrap();
    let p = Params::new(5).n_init(3).seed(4);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| fit(&p, &data).unwrap());
    let four = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap()
        .install(|| fit(&p, &data).unwrap());
    assert_eq!(one, four);
}

#[test]
fn bad_input_is_refused_clearly() {
    let num = [1.0, f64::NAN];
    let cat = [0, 1];
    assert!(
        Data::new(&num, 1, &cat, 1)
            .unwrap_err()
            .to_string()
            .contains("row 2, numeric column 1")
    );
    let data = Data::new(&[1.0, 2.0], 1, &[0, 1], 1).unwrap();
    assert!(fit(&Params::new(3), &data).is_err());
    let twins = Init::Given {
        num: vec![1.0, 1.0],
        cat: vec![0, 0],
    };
    let e = fit(&Params::new(2).init(twins), &data).unwrap_err();
    assert!(matches!(e, Error::Empty(_)), "{e}");
}

/// A screen that answers from the exact labels, flagging every `every`-th row with a wrong
/// label: what a device screen does when it cannot order two prototypes.
struct Flagging<'a> {
    data: Data<'a>,
    every: usize,
}

impl Screen for Flagging<'_> {
    fn nearest(&self, num: &[f64], cat: &[u32], k: usize, gamma: f64) -> Result<Vec<u32>, String> {
        let (labels, _) = assign(&self.data, num, cat, k, gamma);
        Ok(labels
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                if i % self.every == 0 {
                    ((l + 1) % k as u32) | SCREEN_TIE
                } else {
                    l
                }
            })
            .collect())
    }
}

struct Broken;

impl Screen for Broken {
    fn nearest(&self, _: &[f64], _: &[u32], _: usize, _: f64) -> Result<Vec<u32>, String> {
        Err("device lost".into())
    }
}

#[test]
fn a_screened_fit_decides_flagged_rows_itself_and_equals_the_plain_fit() {
    let (num, cat) = stocks();
    let data = Data::new(&num, 1, &cat, 2).unwrap();
    let params = Params::new(3).seed(5).n_init(3);
    let plain = fit(&params, &data).unwrap();
    for every in [1, 2, 7] {
        let screen = Flagging { data, every };
        let screened = fit_screened(&params, &data, Some(&screen)).unwrap();
        assert_eq!(screened.labels, plain.labels, "every {every}");
        assert_eq!(screened.cost.to_bits(), plain.cost.to_bits());
        assert_eq!(screened.epoch_costs, plain.epoch_costs);
        assert_eq!(screened.num_centroids, plain.num_centroids);
        assert_eq!(screened.cat_centroids, plain.cat_centroids);
    }
    let e = fit_screened(&params, &data, Some(&Broken)).unwrap_err();
    assert!(e.to_string().contains("device lost"), "{e}");
}
