//! End-to-end tests of `strata assign`: scoring customers with a saved model.

use std::path::{Path, PathBuf};

use crate::util::*;

/// Runs `strata assign --model MODEL -o DIR INPUT` plus `extra`; returns the output folder.
fn assign_ok(model: &Path, input: &Path, extra: &[&str]) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scored");
    let mut args = vec![
        "assign",
        "--model",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{args:?} failed:\n{}", text(&o.stderr));
    (dir, out, text(&o.stdout))
}

/// Assigning the training data reproduces the fit's assignments byte for byte: with missing
/// values imputed (the demo data) and on a file read in several batches.
#[test]
fn assigning_the_training_data_reproduces_the_fit_exactly() {
    let demo = repo().join("examples/customers.csv");
    let (_f, fit, _) = fit_ok(&demo, &["--id-column", "customer_id", "--k", "4"]);
    let (_a, scored, stdout) = assign_ok(&fit.join("model.json"), &demo, &[]);
    assert!(stdout.contains("Scored 2000 of 2000 customers"), "{stdout}");
    assert_eq!(
        std::fs::read(fit.join("assignments.csv")).unwrap(),
        std::fs::read(scored.join("assignments.csv")).unwrap()
    );
    let (fs, ss) = (
        json(&fit.join("segments.json")),
        json(&scored.join("segments.json")),
    );
    assert_eq!(ss["scored_with"]["fitted_with"], "0.1.0");
    for (f, s) in fs["segments"]
        .as_array()
        .unwrap()
        .iter()
        .zip(ss["segments"].as_array().unwrap())
    {
        assert_eq!(
            (&f["size"], &f["label"], &f["ambiguous"]),
            (&s["size"], &s["label"], &s["ambiguous"])
        );
        assert_eq!(f["categorical"], s["categorical"]);
    }
    // The fit's inertia comes from its last pass's moment sums (f32 row norms); scoring sums
    // every row's f64 distance exactly: they agree to a few parts in a billion.
    let rel = |a: f64, b: f64| (a - b).abs() <= 1e-8 * b.abs();
    assert!(rel(
        ss["inertia"].as_f64().unwrap(),
        fs["inertia"].as_f64().unwrap()
    ));
    // The scoring run's report: the model's segments with these customers' sizes, no map.
    let report = std::fs::read_to_string(scored.join("report.html")).unwrap();
    assert!(report.contains("Customers scored: customers.csv"));
    assert!(report.contains("scored with the saved model"));
    assert!(report.contains(r#"id="chart-sizes""#) && report.contains(r#"id="chart-profile""#));
    assert!(report.contains("A scoring run draws no map") && !report.contains("chart-map"));
    for s in ss["segments"].as_array().unwrap() {
        let label = s["label"].as_str().unwrap();
        assert!(report.contains(label), "{label} is not in the report");
    }

    // 12 MB of synthetic customers: several batches through the stream.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.csv");
    let o = run(&[
        "synth",
        "--rows",
        "120000",
        "--seed",
        "3",
        "--out",
        big.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(std::fs::metadata(&big).unwrap().len() > 3 * (4 << 20));
    let (_g, fit, _) = fit_ok(
        &big,
        &[
            "-s",
            "features",
            "--id-column",
            "id",
            "--k",
            "8",
            "--stream",
            "never",
        ],
    );
    let (_h, scored, _) = assign_ok(&fit.join("model.json"), &big, &[]);
    assert_eq!(
        std::fs::read(fit.join("assignments.csv")).unwrap(),
        std::fs::read(scored.join("assignments.csv")).unwrap()
    );
}

/// New customers: 50 rows of the demo file with the columns reordered and an extra column
/// are scored exactly as the training rows they copy; one more with a region never seen in
/// training is scored too.
#[test]
fn new_customers_are_scored_by_header_name() {
    let demo = repo().join("examples/customers.csv");
    let (_f, fit, _) = fit_ok(&demo, &["--id-column", "customer_id", "--k", "4"]);
    let rows = read_csv(&demo);
    let trained = read_csv(&fit.join("assignments.csv"));
    let head = &rows[0];
    let mut order: Vec<usize> = (0..head.len()).rev().collect();
    order.retain(|&i| i != 0);
    order.insert(0, 0);
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.csv");
    let mut text_out = String::new();
    let line = |r: &Vec<String>| {
        order
            .iter()
            .map(|&i| r[i].clone())
            .collect::<Vec<_>>()
            .join(",")
            + ",x\n"
    };
    text_out.push_str(
        &(order
            .iter()
            .map(|&i| head[i].clone())
            .collect::<Vec<_>>()
            .join(",")
            + ",extra\n"),
    );
    for r in &rows[1..51] {
        text_out.push_str(&line(r));
    }
    let region = head.iter().position(|h| h == "region").unwrap();
    let mut unseen = rows[1].clone();
    unseen[0] = "new-1".into();
    unseen[region] = "Atlantis".into();
    text_out.push_str(&line(&unseen));
    std::fs::write(&new, text_out).unwrap();
    let (_a, scored, _) = assign_ok(&fit.join("model.json"), &new, &[]);
    let got = read_csv(&scored.join("assignments.csv"));
    assert_eq!(got.len(), 52);
    assert_eq!(got[1..51], trained[1..51]);
    assert_eq!(got[51][0], "new-1");
    assert!(
        got[51][1].parse::<usize>().is_ok_and(|s| s < 4),
        "{:?}",
        got[51]
    );
}

#[test]
fn incompatible_or_unfit_input_is_a_clear_error() {
    let demo = repo().join("examples/customers.csv");
    let (_f, fit, _) = fit_ok(&demo, &["--id-column", "customer_id", "--k", "4"]);
    let model = fit.join("model.json");
    let dir = tempfile::tempdir().unwrap();
    let edited = |from: &str, to: &str| {
        let path = dir
            .path()
            .join(format!("{}.json", to.replace(['"', ' ', ':'], "")));
        let m = std::fs::read_to_string(&model).unwrap();
        assert!(m.contains(from), "{from}");
        std::fs::write(&path, m.replacen(from, to, 1)).unwrap();
        path
    };
    let fails_with = |model: &Path, input: &Path, needles: &[&str]| {
        let out = dir.path().join("out");
        let o = run(&[
            "assign",
            "--model",
            model.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ]);
        let err = text(&o.stderr);
        assert!(!o.status.success() && !err.contains("panicked"), "{err}");
        for n in needles {
            assert!(err.contains(n), "expected {n:?} in:\n{err}");
        }
        assert!(
            !out.join("assignments.csv").exists(),
            "nothing half-written"
        );
    };
    fails_with(
        &edited("\"version\": \"0.1.0\"", "\"version\": \"0.3.0\""),
        &demo,
        &[
            "fitted with strategy demographic 0.3.0",
            "plugin found is version 0.1.0",
            "not compatible",
        ],
    );
    fails_with(
        &edited("\"name\": \"demographic\"", "\"name\": \"nosuch\""),
        &demo,
        &["fitted with strategy nosuch 0.1.0, which cannot be loaded"],
    );
    fails_with(
        &dir.path().join("none.json"),
        &demo,
        &["none.json", "cannot read"],
    );
    // Another ABI major, and a k no fit makes (a damaged model must not allocate its way in).
    fails_with(
        &edited("\"abi_major\": 1", "\"abi_major\": 99"),
        &demo,
        &["plugin ABI 99.", "this strata speaks ABI 1.x"],
    );
    fails_with(
        &edited("\"k\": 4", "\"k\": 1000000"),
        &demo,
        &["k = 1000000 is more segments than a model may have (65536)"],
    );
    // A file without the income column.
    let rows = read_csv(&demo);
    let drop = rows[0].iter().position(|h| h == "income").unwrap();
    let lacking = dir.path().join("lacking.csv");
    let body: String = rows
        .iter()
        .take(10)
        .map(|r| {
            let mut r = r.clone();
            r.remove(drop);
            r.join(",") + "\n"
        })
        .collect();
    std::fs::write(&lacking, body).unwrap();
    fails_with(
        &model,
        &lacking,
        &[
            "lacking.csv",
            "column 'income' (role income)",
            "is not in the header",
        ],
    );
    // Text in a numeric column names the line.
    let bad = dir.path().join("bad.csv");
    let mut body: String = rows.iter().take(5).map(|r| r.join(",") + "\n").collect();
    let mut r = rows[5].clone();
    let age = rows[0].iter().position(|h| h == "age").unwrap();
    r[age] = "old".into();
    body.push_str(&(r.join(",") + "\n"));
    std::fs::write(&bad, body).unwrap();
    fails_with(&model, &bad, &["bad.csv", "line 6", "old"]);
}

/// `assign` reads standard input (`-`) and pipes, as the one pass it needs; `fit`, which reads
/// its file more than once, refuses a FIFO at once instead of waiting on it forever.
#[cfg(unix)]
#[test]
fn assign_reads_a_pipe_and_fit_refuses_one() {
    let demo = repo().join("examples/customers.csv");
    let (_f, fit, _) = fit_ok(&demo, &["--id-column", "customer_id", "--k", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("piped");
    let mut child = strata()
        .args([
            "-q",
            "assign",
            "--model",
            fit.join("model.json").to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        &std::fs::read(&demo).unwrap(),
    )
    .unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read(out.join("assignments.csv")).unwrap(),
        std::fs::read(fit.join("assignments.csv")).unwrap()
    );
    assert_eq!(json(&out.join("segments.json"))["input"]["file"], "-");

    let fifo = dir.path().join("in.csv");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut child = strata()
        .args([
            "fit",
            "--out",
            dir.path().join("o").to_str().unwrap(),
            fifo.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed().as_secs() > 30 {
            child.kill().unwrap();
            panic!("fit waited on a FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
}

/// A fit that chose its columns ("every numeric column") scores new customers with those
/// columns as numbers: text in one is an error at its cell, not a crash.
#[test]
fn text_in_a_column_the_fit_chose_is_an_error_at_the_cell() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.csv");
    std::fs::write(&train, "id,a,b\n1,1,2\n2,3,4\n3,5,6\n4,7,8\n").unwrap();
    let (_f, fit, _) = fit_ok(&train, &["-s", "features", "--id-column", "id", "--k", "2"]);
    let new = dir.path().join("new.csv");
    std::fs::write(&new, "id,a,b\n1,1,2\n2,x,4\n").unwrap();
    let out = dir.path().join("scored");
    let o = run(&[
        "assign",
        "--model",
        fit.join("model.json").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        new.to_str().unwrap(),
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("line 3, column 2 ('a'): expected a number, found 'x'"),
        "{err}"
    );
    assert!(!out.exists());
}
