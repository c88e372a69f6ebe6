//! Unit tests of the rules: planted rules come back, categories and missing values read as
//! SQL reads them, depth bounds a rule, and the thread count changes nothing.

use super::*;

/// A fixed LCG in [0, 1): the tests' data must not depend on a crate's generator.
fn lcg(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed;
    move || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn a_planted_box_comes_back_as_its_rule() {
    let mut u = lcg(1);
    let n = 2000;
    let x: Vec<f64> = (0..n).map(|_| (u() * 100.0).round()).collect();
    let y: Vec<f64> = (0..n).map(|_| (u() * 10.0).round()).collect();
    let labels: Vec<u32> = (0..n)
        .map(|i| u32::from(x[i] > 60.0 && y[i] <= 3.0))
        .collect();
    let cols = [
        Column {
            name: "income",
            values: Values::Numeric {
                values: &x,
                date: false,
            },
        },
        Column {
            name: "visits",
            values: Values::Numeric {
                values: &y,
                date: false,
            },
        },
    ];
    let r = rules(&cols, &labels, 2, None, 3);
    // Conditions come in the tree's order, the most telling split first.
    assert_eq!(r[1].text(), "visits <= 3.5 and income > 60.5");
    assert_eq!(r[1].sql(), "\"visits\" <= 3.5 AND \"income\" > 60.5");
    let c = r[1].counts(&cols, &labels, 1);
    assert_eq!((c.precision(), c.recall()), (Some(1.0), Some(1.0)));
    // The rest: the complement, as alternatives.
    let c0 = r[0].counts(&cols, &labels, 0);
    assert_eq!((c0.precision(), c0.recall()), (Some(1.0), Some(1.0)));
    assert_eq!(r[0].alternatives.len(), 2, "{}", r[0].text());
}

#[test]
fn categories_become_is_and_is_not() {
    let dict: Vec<String> = ["Rural", "Urban", "Suburban"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let codes: Vec<u32> = (0..300).map(|i| (i % 3) as u32).collect();
    let mut codes_missing = codes.clone();
    codes_missing[0] = MISSING_CODE;
    let labels: Vec<u32> = codes.iter().map(|&c| u32::from(c == 1)).collect();
    let cols = [Column {
        name: "region",
        values: Values::Categorical {
            codes: &codes_missing,
            dict: &dict,
        },
    }];
    let r = rules(&cols, &labels, 2, None, 3);
    assert_eq!(r[1].text(), "region is Urban");
    assert_eq!(r[1].sql(), "\"region\" = 'Urban'");
    assert_eq!(r[0].text(), "region is not Urban (or missing)");
    assert_eq!(r[0].sql(), "(\"region\" <> 'Urban' OR \"region\" IS NULL)");
    for (s, rule) in r.iter().enumerate() {
        let c = rule.counts(&cols, &labels, s as u32);
        assert_eq!((c.precision(), c.recall()), (Some(1.0), Some(1.0)), "{s}");
    }
}

/// Missing values go with `>`, in the tree and in the rule: the rule's counts equal those of
/// the tree's own predictions, computed here from the tree.
#[test]
fn missing_values_go_with_greater_in_the_tree_and_the_rule() {
    let mut u = lcg(3);
    let n = 1000;
    let x: Vec<f64> = (0..n)
        .map(|i| if i % 10 == 0 { f64::NAN } else { u() * 10.0 })
        .collect();
    // The segment: large x, or missing x.
    let labels: Vec<u32> = x
        .iter()
        .map(|&v| u32::from(v.is_nan() || v > 7.0))
        .collect();
    let cols = [Column {
        name: "x",
        values: Values::Numeric {
            values: &x,
            date: false,
        },
    }];
    let r = rules(&cols, &labels, 2, None, 2);
    assert_eq!(r[1].alternatives.len(), 1);
    let cond = &r[1].alternatives[0][0];
    assert!(cond.or_missing && cond.op == Op::Gt, "{cond:?}");
    assert!(r[1].sql().contains("OR \"x\" IS NULL"), "{}", r[1].sql());
    let c = r[1].counts(&cols, &labels, 1);
    assert_eq!((c.precision(), c.recall()), (Some(1.0), Some(1.0)));
    // Segment 0's rule, x <= t, leaves the missing out, as SQL would.
    let c0 = r[0].counts(&cols, &labels, 0);
    assert_eq!(c0.precision(), Some(1.0));
    assert_eq!(c0.caught, c0.in_segment);
    assert!(!r[0].matches(&cols, 0));
}

#[test]
fn depth_bounds_the_rule_and_a_hopeless_segment_has_none() {
    // Segment 1 is every third row and x alternates: no split finds a majority of it.
    let x: Vec<f64> = (0..300).map(|i| f64::from(i % 2)).collect();
    let labels: Vec<u32> = (0..300).map(|i| u32::from(i % 3 == 0)).collect();
    let cols = [Column {
        name: "x",
        values: Values::Numeric {
            values: &x,
            date: false,
        },
    }];
    let r = rules(&cols, &labels, 2, None, 1);
    assert!(r[1].alternatives.is_empty());
    assert_eq!(r[1].sql(), "FALSE");
    assert_eq!(r[1].counts(&cols, &labels, 1).precision(), None);
    // Deeper trees can carve out a few rows, never with more than depth conditions.
    for depth in 1..=4 {
        for rule in rules(&cols, &labels, 2, None, depth) {
            assert!(rule.alternatives.iter().all(|a| a.len() <= depth));
        }
    }
}

#[test]
fn dates_are_written_as_days_and_a_training_sample_is_honoured() {
    // Days 18000..18100 (2019-04-14 on); the segment is from day 18050 (2019-06-03) on.
    let d: Vec<f64> = (0..100).map(|i| 18000.0 + f64::from(i)).collect();
    let labels: Vec<u32> = d.iter().map(|&v| u32::from(v >= 18050.0)).collect();
    let cols = [Column {
        name: "first order",
        values: Values::Numeric {
            values: &d,
            date: true,
        },
    }];
    let r = rules(&cols, &labels, 2, None, 3);
    assert_eq!(r[1].text(), "first order > 2019-06-02");
    assert_eq!(r[1].sql(), "\"first order\" > DATE '2019-06-02'");
    assert_eq!(civil(18049), "2019-06-02");
    // Trained on the even rows only, the threshold moves between the sampled days.
    let even: Vec<usize> = (0..100).step_by(2).collect();
    let r = rules(&cols, &labels, 2, Some(&even), 3);
    let t = r[1].alternatives[0][0].threshold.unwrap();
    assert_eq!(t, 18049.0, "midpoint of 18048 and 18050");
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut u = lcg(9);
    let n = 5000;
    let a: Vec<f64> = (0..n).map(|_| u()).collect();
    let b: Vec<f64> = (0..n).map(|_| u()).collect();
    let labels: Vec<u32> = (0..n)
        .map(|i| (a[i] * 2.0) as u32 + 2 * (b[i] * 2.0) as u32)
        .collect();
    let cols = [
        Column {
            name: "a",
            values: Values::Numeric {
                values: &a,
                date: false,
            },
        },
        Column {
            name: "b",
            values: Values::Numeric {
                values: &b,
                date: false,
            },
        },
    ];
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| rules(&cols, &labels, 4, None, 3));
    let many = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap()
        .install(|| rules(&cols, &labels, 4, None, 3));
    assert_eq!(one, many);
    let c = one[3].counts(&cols, &labels, 3);
    assert!(
        c.precision().unwrap() > 0.99 && c.recall().unwrap() > 0.99,
        "{c:?}"
    );
}

#[test]
fn two_bounds_on_a_column_read_as_a_range() {
    let x: Vec<f64> = (0..100).map(f64::from).collect();
    let labels: Vec<u32> = x
        .iter()
        .map(|&v| u32::from(v > 30.0 && v <= 60.0))
        .collect();
    let cols = [Column {
        name: "age",
        values: Values::Numeric {
            values: &x,
            date: false,
        },
    }];
    let r = rules(&cols, &labels, 2, None, 3);
    assert_eq!(r[1].text(), "30.5 < age <= 60.5");
    assert_eq!(r[1].sql(), "\"age\" <= 60.5 AND \"age\" > 30.5");
    let c = r[1].counts(&cols, &labels, 1);
    assert_eq!((c.precision(), c.recall()), (Some(1.0), Some(1.0)));
}
