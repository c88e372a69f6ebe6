//! Segment rules (`--rules`): each segment's rule against scikit-learn's trees on the shared
//! data, its precision and recall recomputed here from the input and assignments.csv, and the
//! SQL file.

use std::collections::HashMap;

use crate::util::*;

/// A condition of segments.json's `alternatives`, tested on a raw CSV field, as SQL would:
/// an empty field is NULL.
fn holds(c: &serde_json::Value, field: &str) -> bool {
    let field = field.trim();
    let or_missing = c["or_missing"].as_bool().unwrap_or(false);
    if field.is_empty() {
        return or_missing;
    }
    match c["op"].as_str().unwrap() {
        "=" => field == c["category"].as_str().unwrap(),
        "<>" => field != c["category"].as_str().unwrap(),
        op => {
            let v: f64 = field.parse().unwrap();
            let t = c["threshold"].as_f64().unwrap();
            if op == "<=" { v <= t } else { v > t }
        }
    }
}

/// Precision and recall of each segment's rule, recomputed from the input file, the
/// assignments and the rule's conditions; `ids` names the input's id column (`None`: the
/// assignments' ids are row numbers).
fn recount(input: &std::path::Path, out: &std::path::Path, ids: Option<&str>) -> Vec<(f64, f64)> {
    let rows = read_csv(input);
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let by_id: HashMap<String, &Vec<String>> = rows[1..]
        .iter()
        .enumerate()
        .map(|(i, r)| (ids.map_or((i + 1).to_string(), |c| r[col(c)].clone()), r))
        .collect();
    let assigned = read_csv(&out.join("assignments.csv"));
    let seg = json(&out.join("segments.json"));
    let mut segments: Vec<serde_json::Value> = seg["segments"].as_array().unwrap().clone();
    segments.sort_by_key(|s| s["segment"].as_u64());
    segments
        .iter()
        .map(|s| {
            let number = s["segment"].as_u64().unwrap().to_string();
            let alternatives = s["rule"]["alternatives"].as_array().unwrap();
            let (mut caught, mut both, mut inside) = (0u64, 0u64, 0u64);
            for a in &assigned[1..] {
                let row = by_id[&a[0]];
                let hit = alternatives.iter().any(|conj| {
                    conj.as_array()
                        .unwrap()
                        .iter()
                        .all(|c| holds(c, &row[col(c["column"].as_str().unwrap())]))
                });
                let is = a[1] == number;
                caught += u64::from(hit);
                both += u64::from(hit && is);
                inside += u64::from(is);
            }
            let (p, r) = (both as f64 / caught as f64, both as f64 / inside as f64);
            assert_eq!(s["rule"]["precision"].as_f64(), Some(p), "segment {number}");
            assert_eq!(s["rule"]["recall"].as_f64(), Some(r), "segment {number}");
            assert_eq!(s["rule"]["caught"].as_u64(), Some(caught));
            (p, r)
        })
        .collect()
}

/// On Mall (demographic, with gender), the Young People Survey's categorical columns and
/// Wholesale, every segment has a rule whose precision and recall are within 0.01 of those of
/// scikit-learn's DecisionTreeClassifier(max_depth=3) on the same columns and segments
/// (tests/fixtures/rules, with its script), and equal to a recount from the input file.
#[test]
fn rules_match_scikit_learn_and_a_recount_on_the_shared_data() {
    let fixture = json(&repo().join("tests/fixtures/rules/sklearn_rules.json"));
    assert_eq!(fixture["max_depth"], 3);
    for (name, case) in fixture["cases"].as_object().unwrap() {
        let input = shared(case["file"].as_str().unwrap());
        let mut args: Vec<&str> = case["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        args.push("--rules");
        let (_d, out, stdout) = fit_ok(&input, &args);
        let labels: Vec<u64> = read_csv(&out.join("assignments.csv"))[1..]
            .iter()
            .map(|r| r[1].parse().unwrap())
            .collect();
        let want: Vec<u64> = case["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(labels, want, "{name}: the fit the trees were grown on");
        let seg = json(&out.join("segments.json"));
        assert_eq!(seg["rules"]["columns"], case["columns"], "{name}");
        let id = args
            .iter()
            .position(|a| *a == "--id-column")
            .map(|i| args[i + 1]);
        let recounted = if args.contains(&"--missing") {
            Vec::new() // rows dropped: the assignments' row numbers skip them
        } else {
            recount(&input, &out, id)
        };
        for s in seg["segments"].as_array().unwrap() {
            let n = s["segment"].as_u64().unwrap() as usize;
            let sk = &case["segments"][n];
            let rule = &s["rule"];
            for m in ["precision", "recall"] {
                let (ours, theirs) = (rule[m].as_f64().unwrap(), sk[m].as_f64().unwrap());
                assert!(
                    (ours - theirs).abs() <= 0.01,
                    "{name} segment {n} {m}: {ours} against scikit-learn's {theirs}"
                );
            }
            if let Some(&(p, r)) = recounted.get(n) {
                assert_eq!(
                    (rule["precision"].as_f64(), rule["recall"].as_f64()),
                    (Some(p), Some(r))
                );
            }
            assert!(
                stdout.contains(rule["text"].as_str().unwrap()),
                "{name}: the summary prints segment {n}'s rule\n{stdout}"
            );
        }
        let sql = std::fs::read_to_string(out.join("segment_rules.sql")).unwrap();
        assert_eq!(
            sql.matches("SELECT * FROM customers\nWHERE ").count(),
            seg["k"].as_u64().unwrap() as usize,
            "{sql}"
        );
        assert!(
            sql.lines()
                .filter(|l| l.starts_with("--"))
                .all(|l| !l.contains(';')),
            "a semicolon only ends a statement: {sql}"
        );
        let report = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(report.contains("Segment rules a CRM can apply"), "{name}");
    }
}

/// Without --rules the rules are still in segments.json and the report, but not printed, and
/// no SQL file is written (one left by an earlier --rules run in the folder goes).
#[test]
fn without_rules_the_json_and_report_keep_them_and_no_sql_is_left() {
    let input = shared("mall_customers/Mall_Customers.csv");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let base = [
        "fit",
        "-s",
        "features",
        "--id-column",
        "CustomerID",
        "--k",
        "5",
        "--out",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ];
    let o = run(&[&base[..], &["--rules", "--rules-depth", "2"]].concat());
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("Segment rules (decision trees of depth <= 2"));
    let seg = json(&out.join("segments.json"));
    for s in seg["segments"].as_array().unwrap() {
        for a in s["rule"]["alternatives"].as_array().unwrap() {
            assert!(a.as_array().unwrap().len() <= 2, "{s}");
        }
    }
    assert!(out.join("segment_rules.sql").exists());
    let o = run(&base);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!text(&o.stdout).contains("Segment rules"));
    assert!(
        !out.join("segment_rules.sql").exists(),
        "the old SQL is not this run's"
    );
    let seg = json(&out.join("segments.json"));
    assert_eq!(seg["rules"]["max_depth"], 3);
    assert!(seg["segments"][0]["rule"]["precision"].as_f64().is_some());
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("Segment rules a CRM can apply"));

    let o = run(&[&base[..], &["--rules-depth", "0"]].concat());
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("--rules-depth must be 1 to 6"),
        "{}",
        text(&o.stderr)
    );
}
