//! strata-outcomes' intervals and tests against statsmodels' and scipy's on the same data
//! (`tests/fixtures/reference.json`, made by `make_reference.py`).

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test, with its place"
)]

use serde_json::Value;
use strata_outcomes::{Values, newcombe, report, wilson};

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn close(got: f64, want: &Value) -> bool {
    let want = want.as_f64().unwrap();
    (got - want).abs() <= 1e-9 * want.abs().max(1e-3)
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn wilson_and_newcombe_equal_statsmodels() {
    let r = reference();
    for c in r["wilson"].as_array().unwrap() {
        let w = wilson(c["s"].as_u64().unwrap(), c["n"].as_u64().unwrap()).unwrap();
        assert!(
            close(w.low, &c["low"]) && close(w.high, &c["high"]),
            "{c} {w:?}"
        );
    }
    for c in r["newcombe"].as_array().unwrap() {
        let u = |k: &str| c[k].as_u64().unwrap();
        let d = newcombe(u("s1"), u("n1"), u("s2"), u("n2")).unwrap();
        assert!(
            close(d.low, &c["low"]) && close(d.high, &c["high"]),
            "{c} {d:?}"
        );
    }
}

#[test]
fn chi_square_equals_scipy() {
    for c in reference()["chi2"].as_array().unwrap() {
        let (mut seg, mut flag) = (Vec::new(), Vec::new());
        for (j, row) in c["table"].as_array().unwrap().iter().enumerate() {
            let yes = row[0].as_u64().unwrap();
            let no = row[1].as_u64().unwrap();
            for i in 0..yes + no {
                seg.push(j as u32);
                flag.push(Some(i < yes));
            }
        }
        let k = c["table"].as_array().unwrap().len();
        let t = report("o", &Values::Binary(flag), &seg, k, None)
            .test
            .unwrap();
        assert!(close(t.statistic, &c["statistic"]), "{c} {t:?}");
        assert!(close(t.p_value, &c["p"]), "{c} {t:?}");
        assert_eq!(t.df, vec![c["df"].as_f64().unwrap()]);
    }
}

#[test]
fn t_welch_and_anova_equal_scipy() {
    let r = reference();
    for c in r["t"].as_array().unwrap() {
        let x = numbers(&c["x"]);
        let seg = vec![0u32; x.len()];
        let out = report("o", &Values::Numeric(x), &seg, 1, None);
        let i = out.segments[0].figure.interval.unwrap();
        assert!(
            close(i.low, &c["low"]) && close(i.high, &c["high"]),
            "{i:?}"
        );
    }
    for c in r["welch"].as_array().unwrap() {
        let (a, b) = (numbers(&c["a"]), numbers(&c["b"]));
        let arms: Vec<Option<bool>> = a
            .iter()
            .map(|_| Some(true))
            .chain(b.iter().map(|_| Some(false)))
            .collect();
        let values: Vec<f64> = a.iter().chain(&b).copied().collect();
        let seg = vec![0u32; values.len()];
        let out = report("o", &Values::Numeric(values), &seg, 1, Some(("t", &arms)));
        let i = out.segments[0]
            .treatment
            .as_ref()
            .unwrap()
            .interval
            .unwrap();
        assert!(
            close(i.low, &c["low"]) && close(i.high, &c["high"]),
            "{i:?}"
        );
    }
    for c in r["anova"].as_array().unwrap() {
        let (mut seg, mut values) = (Vec::new(), Vec::new());
        for (j, g) in c["groups"].as_array().unwrap().iter().enumerate() {
            for x in numbers(g) {
                seg.push(j as u32);
                values.push(x);
            }
        }
        let t = report("o", &Values::Numeric(values), &seg, 3, None)
            .test
            .unwrap();
        assert!(
            close(t.statistic, &c["statistic"]) && close(t.p_value, &c["p"]),
            "{t:?}"
        );
    }
}
