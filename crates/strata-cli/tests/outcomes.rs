//! KPIs and campaign tests by segment (`--outcome`, `--outcomes`, `--treatment`): planted
//! effects recovered within their intervals, outcome columns kept from the strategy, the
//! join of a second table, and the errors.

use std::collections::HashMap;

use crate::util::*;

/// Planted per persona by `strata synth --campaign` (strata_synth::CAMPAIGN): control rate,
/// lift when treated, revenue mean.
const PLANTED: [(f64, f64, f64); 4] = [
    (0.05, 0.00, 20.0),
    (0.10, 0.10, 50.0),
    (0.20, 0.02, 80.0),
    (0.08, 0.15, 30.0),
];

#[test]
fn planted_campaign_effects_are_recovered_within_their_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let (data, truth) = (dir.path().join("c.csv"), dir.path().join("t.csv"));
    let o = run(&[
        "synth",
        "--kind",
        "demographic",
        "--rows",
        "20000",
        "--seed",
        "5",
        "--campaign",
        "--out",
        data.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (_d, out, stdout) = fit_ok(
        &data,
        &[
            "-s",
            "demographic",
            "--id-column",
            "customer_id",
            "--k",
            "4",
            "--outcome",
            "converted",
            "--outcome",
            "revenue",
            "--treatment",
            "treated",
        ],
    );
    let persona: HashMap<String, usize> = read_csv(&truth)[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap()))
        .collect();
    let rows = read_csv(&data);
    let treated: HashMap<String, bool> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), r[9] == "treated"))
        .collect();
    // Each fitted segment's expected rates: its customers' planted rates, averaged by arm.
    let assignments = read_csv(&out.join("assignments.csv"));
    // Per segment: treated n, treated rate sum, control n, control rate sum, revenue sum.
    let mut expect = [[0.0f64; 5]; 4];
    for r in &assignments[1..] {
        let j: usize = r[1].parse().unwrap();
        let (base, lift, revenue) = PLANTED[persona[&r[0]]];
        let e = &mut expect[j];
        if treated[&r[0]] {
            e[0] += 1.0;
            e[1] += base + lift;
        } else {
            e[2] += 1.0;
            e[3] += base;
        }
        e[4] += revenue;
    }
    let seg = json(&out.join("segments.json"));
    let outcomes = seg["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 2);
    let within = |i: &serde_json::Value, x: f64| {
        i["low"].as_f64().unwrap() <= x && x <= i["high"].as_f64().unwrap()
    };
    let conv = &outcomes[0];
    assert_eq!(
        (conv["column"].as_str(), conv["kind"].as_str()),
        (Some("converted"), Some("rate"))
    );
    assert_eq!(conv["test"]["method"], "chi-square");
    assert!(
        conv["test"]["p_value"].as_f64().unwrap() < 1e-10,
        "segments differ"
    );
    // 95% intervals: of the 12 below, 0.6 miss on average and 3 or more in 2% of samples.
    let mut misses = Vec::new();
    let mut pays = Vec::new();
    for s in conv["segments"].as_array().unwrap() {
        let j = s["segment"].as_u64().unwrap() as usize;
        let e = &s["treatment"];
        let (t, c) = (expect[j][1] / expect[j][0], expect[j][3] / expect[j][2]);
        for (what, interval, planted) in [
            ("treated", &e["treated"]["interval"], t),
            ("control", &e["control"]["interval"], c),
            ("effect", &e["interval"], t - c),
        ] {
            if !within(interval, planted) {
                misses.push(format!("segment {j} {what}: {interval} misses {planted}"));
            }
        }
        assert_eq!(e["treated"]["n"].as_f64().unwrap(), expect[j][0]);
        if e["pays"] == true {
            pays.push((e["rank"].as_u64().unwrap(), t - c));
        }
    }
    assert!(misses.len() <= 2, "{misses:?}");
    // The segments with the planted 10- and 15-point lifts pay, ranked by their effect.
    pays.sort_by_key(|p| p.0);
    assert!(
        pays.len() >= 2 && pays[0].1 > 0.09 && pays[1].1 > 0.09,
        "{pays:?}"
    );
    let revenue = &outcomes[1];
    assert_eq!(
        (revenue["kind"].as_str(), revenue["test"]["method"].as_str()),
        (Some("mean"), Some("anova-f"))
    );
    for s in revenue["segments"].as_array().unwrap() {
        let j = s["segment"].as_u64().unwrap() as usize;
        let mean = expect[j][4] / (expect[j][0] + expect[j][2]);
        // The planted means differ by persona; a segment's mixture mean is within its interval
        // widened by the impurity of the segment (a few customers of another persona).
        let got = s["value"].as_f64().unwrap();
        assert!(
            (got - mean).abs() < 1.0,
            "segment {j}: mean {got} against {mean}"
        );
    }
    assert!(stdout.contains("Outcome converted (rate"), "{stdout}");
    assert!(stdout.contains("Campaign (treated)"), "{stdout}");
    // Never clustered: no feature or binding is made from the outcome or treatment columns.
    let model = json(&out.join("model.json"));
    let bound: Vec<&str> = model["input"]["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["column"].as_str().unwrap())
        .collect();
    for c in ["converted", "treated", "revenue"] {
        assert!(!bound.contains(&c), "{c} bound: {bound:?}");
    }
}

#[test]
fn outcome_columns_never_reach_the_strategy_even_when_every_numeric_column_would() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("c.csv");
    let o = run(&[
        "synth",
        "--kind",
        "demographic",
        "--rows",
        "500",
        "--seed",
        "2",
        "--campaign",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    // The features strategy takes every numeric column: converted and revenue are numeric.
    let (_d, out, _) = fit_ok(
        &data,
        &[
            "-s",
            "features",
            "--id-column",
            "customer_id",
            "--k",
            "3",
            "--outcome",
            "converted",
            "--outcome",
            "revenue",
        ],
    );
    let features = json(&out.join("segments.json"))["features"].clone();
    let names: Vec<&str> = features
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .all(|f| !f.contains("converted") && !f.contains("revenue")),
        "{names:?}"
    );
    assert!(names.iter().any(|f| f.contains("age")), "{names:?}");
    // Binding one to a role is refused, naming why.
    let o = run(&[
        "fit",
        "-s",
        "demographic",
        "--id-column",
        "customer_id",
        "--outcome",
        "converted",
        "--map",
        "household_size=converted",
        "-o",
        dir.path().join("o").to_str().unwrap(),
        data.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("'converted' is an outcome column"),
        "{}",
        text(&o.stderr)
    );
    // A bad value names its line and column.
    let bad = dir.path().join("bad.csv");
    let t = std::fs::read_to_string(&data).unwrap();
    let (head, body) = t.split_at(t.find('\n').unwrap());
    std::fs::write(
        &bad,
        format!("{head}{}", body.replacen(",treated,", ",maybe,", 1)),
    )
    .unwrap();
    let o = run(&[
        "fit",
        "-s",
        "demographic",
        "--id-column",
        "customer_id",
        "--outcome",
        "converted",
        "--treatment",
        "treated",
        "-o",
        dir.path().join("o").to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(
        e.contains("column 10 ('treated'): expected treated or control"),
        "{e}"
    );
}

#[test]
fn outcomes_join_a_transaction_log_by_customer_id() {
    let dir = tempfile::tempdir().unwrap();
    let log = shared(super::behavioral::DEC2010);
    // Outcomes for every other customer of the log: churned when the id is odd.
    let ids = log_customer_ids(&log);
    let mut table = String::from("CustomerID,churned\n");
    for id in ids.iter().step_by(2) {
        let odd = id.trim_end_matches(".0").parse::<u64>().unwrap() % 2 == 1;
        table.push_str(&format!("{id},{}\n", if odd { "yes" } else { "no" }));
    }
    let file = dir.path().join("outcomes.csv");
    std::fs::write(&file, table).unwrap();
    let (_d, out, _) = fit_log(
        &log,
        &[
            "--k",
            "3",
            "--outcome",
            "churned",
            "--outcomes",
            file.to_str().unwrap(),
        ],
    );
    let seg = json(&out.join("segments.json"));
    let o = &seg["outcomes"][0];
    // The rate per segment, recomputed from the assignments and the file.
    let churned: HashMap<String, bool> = read_csv(&file)[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1] == "yes"))
        .collect();
    let a = read_csv(&out.join("assignments.csv"));
    let matched = a[1..]
        .iter()
        .filter(|r| churned.contains_key(&r[0]))
        .count();
    assert!(matched > 0 && matched < a.len() - 1);
    assert_eq!(o["overall"]["n"].as_u64().unwrap() as usize, matched);
    let mut tally = [(0u64, 0u64); 3];
    for r in &a[1..] {
        if let Some(&ch) = churned.get(&r[0]) {
            let j: usize = r[1].parse().unwrap();
            tally[j].0 += 1;
            tally[j].1 += u64::from(ch);
        }
    }
    for s in o["segments"].as_array().unwrap() {
        let j = s["segment"].as_u64().unwrap() as usize;
        assert_eq!(s["n"].as_u64().unwrap(), tally[j].0);
        assert_eq!(s["with_outcome"].as_u64().unwrap(), tally[j].1);
    }
    // Without --outcomes a log has no per-customer outcome column.
    let o = run(&[
        "fit",
        "-s",
        "behavioral",
        "--transactions",
        log.to_str().unwrap(),
        "--outcome",
        "churned",
        "-o",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert!(
        text(&o.stderr).contains("--outcomes FILE"),
        "{}",
        text(&o.stderr)
    );
}
