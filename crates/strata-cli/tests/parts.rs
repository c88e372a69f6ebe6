//! Partition-sized building blocks: `assign` parts and their `partial.json`, `strata merge`.

use std::path::Path;

use crate::util::*;

/// Writes rows `range` of the CSV `all` (header kept) to `path`.
fn part_of(all: &Path, range: std::ops::Range<usize>, path: &Path) {
    let text = std::fs::read_to_string(all).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let body: Vec<&str> = lines.skip(range.start).take(range.len()).collect();
    std::fs::write(path, format!("{header}\n{}\n", body.join("\n"))).unwrap();
}

/// segments.json without what is about the run rather than the customers: the timings and
/// the backend's reasoning (each part chose for its own rows).
fn customers_view(path: &Path) -> serde_json::Value {
    let mut v = json(path);
    let o = v.as_object_mut().unwrap();
    o.remove("timings_s");
    o["backend"].as_object_mut().unwrap().remove("reason");
    v
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?} failed:\n{}", text(&o.stderr));
    text(&o.stdout)
}

#[test]
fn merged_parts_equal_one_assign_over_all_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let all = dir.path().join("customers.csv");
    synth_to(&all, "demographic", 12_000, 5);
    let (_fit_dir, fit, _) = fit_ok(&all, &["-s", "demographic", "--k", "4"]);
    let model = fit.join("model.json");
    let model = model.to_str().unwrap();

    ok(&[
        "assign",
        "--model",
        model,
        all.to_str().unwrap(),
        "-o",
        &d("whole"),
    ]);
    // Three uneven parts: two into folders, one through a pipe keeping its tally.
    for (name, range) in [
        ("p1.csv", 0..1),
        ("p2.csv", 1..7_000),
        ("p3.csv", 7_000..12_000),
    ] {
        part_of(&all, range, &dir.path().join(name));
    }
    ok(&["assign", "--model", model, &d("p1.csv"), "-o", &d("s1")]);
    ok(&["assign", "--model", model, &d("p2.csv"), "-o", &d("s2")]);
    let piped = strata()
        .args([
            "assign",
            "--model",
            model,
            "-",
            "-o",
            "-",
            "--partial",
            &d("p3.json"),
        ])
        .stdin(std::fs::File::open(d("p3.csv")).unwrap())
        .output()
        .unwrap();
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    assert!(text(&piped.stdout).starts_with("id,segment,label"));

    // Merged as a tree: (p2 + p3) first, then p1 and that; the order of parts is free too.
    let out = ok(&[
        "merge",
        "--model",
        model,
        &d("s2"),
        &d("p3.json"),
        "-o",
        &d("m23"),
    ]);
    assert!(
        out.contains("Merged 2 parts: 11999 of 11999 customers"),
        "{out}"
    );
    let out = ok(&[
        "merge",
        "--model",
        model,
        &d("m23"),
        &d("s1"),
        "-o",
        &d("merged"),
        "--input-name",
        all.to_str().unwrap(),
    ]);
    assert!(
        out.contains("Merged 2 parts: 12000 of 12000 customers"),
        "{out}"
    );
    let whole = customers_view(&dir.path().join("whole/segments.json"));
    let merged = customers_view(&dir.path().join("merged/segments.json"));
    assert_eq!(
        merged, whole,
        "merged segments.json differs from one assign's"
    );
    assert!(dir.path().join("merged/report.html").is_file());
    assert!(!dir.path().join("merged/assignments.csv").exists());
    // The merged tally merges like any part: with the whole run's it counts every row twice.
    let tally = json(&dir.path().join("merged/partial.json"));
    assert_eq!(tally["format"], "strata-partial");
    assert_eq!(
        tally["profile"]["sizes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        12_000
    );
    let out = ok(&[
        "merge",
        "--model",
        model,
        &d("merged"),
        &d("whole"),
        "-o",
        &d("twice"),
    ]);
    assert!(out.contains("24000 of 24000"), "{out}");
}

#[test]
fn merge_refuses_parts_it_cannot_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let all = dir.path().join("customers.csv");
    synth_to(&all, "demographic", 2_000, 9);
    let (_a, fit_a, _) = fit_ok(&all, &["-s", "demographic", "--k", "3"]);
    let (_b, fit_b, _) = fit_ok(&all, &["-s", "demographic", "--k", "3", "--seed", "2"]);
    let (model_a, model_b) = (fit_a.join("model.json"), fit_b.join("model.json"));
    let (model_a, model_b) = (model_a.to_str().unwrap(), model_b.to_str().unwrap());
    ok(&[
        "assign",
        "--model",
        model_a,
        all.to_str().unwrap(),
        "-o",
        &d("a"),
    ]);
    ok(&[
        "assign",
        "--model",
        model_b,
        all.to_str().unwrap(),
        "-o",
        &d("b"),
    ]);

    let refused = |args: &[&str], needles: &[&str]| {
        let o = run(args);
        let err = text(&o.stderr);
        assert!(!o.status.success(), "should fail: {args:?}");
        assert!(!err.contains("panicked at"), "{err}");
        for n in needles {
            assert!(err.contains(n), "expected {n:?} in:\n{err}");
        }
        assert!(!dir.path().join("out").exists(), "nothing written on error");
    };
    refused(
        &[
            "merge",
            "--model",
            model_a,
            &d("a"),
            &d("b"),
            "-o",
            &d("out"),
        ],
        &["b/partial.json", "scored with another model"],
    );
    std::fs::write(
        dir.path().join("bad.json"),
        "{\"format\": \"strata-partial\"",
    )
    .unwrap();
    refused(
        &[
            "merge",
            "--model",
            model_a,
            &d("a"),
            &d("bad.json"),
            "-o",
            &d("out"),
        ],
        &["bad.json", "not a Strata partial tally"],
    );
    let mut tally = json(&dir.path().join("a/partial.json"));
    tally["ambiguous"] = serde_json::json!([1, 2]);
    std::fs::write(dir.path().join("short.json"), tally.to_string()).unwrap();
    refused(
        &[
            "merge",
            "--model",
            model_a,
            &d("short.json"),
            "-o",
            &d("out"),
        ],
        &["short.json", "2 ambiguous counts for 3 segments"],
    );
    refused(
        &["merge", "--model", model_a, &d("nowhere"), "-o", &d("out")],
        &["nowhere", "cannot read"],
    );
    // A fit's folder is not merged over without --force.
    refused(
        &[
            "merge",
            "--model",
            model_a,
            &d("a"),
            "-o",
            fit_a.to_str().unwrap(),
        ],
        &["holds the --model file"],
    );
}

#[test]
fn transform_writes_the_rows_assign_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let all = dir.path().join("customers.csv");
    synth_to(&all, "demographic", 3_000, 11);
    let (_f, fit, _) = fit_ok(
        &all,
        &[
            "-s",
            "demographic",
            "--k",
            "3",
            "--id-column",
            "customer_id",
        ],
    );
    let model_path = fit.join("model.json");
    let model = Model::load(&model_path).unwrap();
    let m = model_path.to_str().unwrap();
    ok(&[
        "transform",
        "--model",
        m,
        all.to_str().unwrap(),
        "-o",
        &d("features.csv"),
    ]);
    let rows = read_csv(&dir.path().join("features.csv"));
    let mut header = vec!["customer_id".to_owned()];
    header.extend(model.features.iter().cloned());
    assert_eq!(rows[0], header);
    // Each row's nearest centroid is the segment the fit gave it.
    let assigned = read_csv(&fit.join("assignments.csv"));
    assert_eq!(rows.len(), assigned.len());
    for (row, a) in rows[1..].iter().zip(&assigned[1..]) {
        assert_eq!(row[0], a[0]);
        let x: Vec<f32> = row[1..].iter().map(|v| v.parse().unwrap()).collect();
        let dist = |c: &Vec<f32>| -> f64 {
            x.iter()
                .zip(c)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum()
        };
        let nearest = (0..model.k)
            .min_by(|&i, &j| dist(&model.centroids[i]).total_cmp(&dist(&model.centroids[j])))
            .unwrap();
        assert_eq!(nearest.to_string(), a[1], "customer {}", a[0]);
    }
    // Parquet: the same values, typed.
    ok(&[
        "transform",
        "--model",
        m,
        all.to_str().unwrap(),
        "-o",
        &d("features.parquet"),
        "--format",
        "parquet",
    ]);
    let file = std::fs::File::open(d("features.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut n = 0;
    for batch in reader {
        let batch = batch.unwrap();
        let age = batch
            .column(1)
            .as_any()
            .downcast_ref::<arrow_array::Float32Array>()
            .unwrap();
        for i in 0..batch.num_rows() {
            assert_eq!(age.value(i).to_string(), rows[1 + n + i][1]);
        }
        n += batch.num_rows();
    }
    assert_eq!(n, 3_000);
    // A bad value fails with where it is, and writes nothing.
    let bad = dir.path().join("bad.csv");
    let content = std::fs::read_to_string(&all).unwrap();
    let mut lines: Vec<String> = content.lines().map(str::to_owned).collect();
    let age_at = lines[0].split(',').position(|c| c == "age").unwrap();
    let mut cells: Vec<String> = lines[5].split(',').map(str::to_owned).collect();
    cells[age_at] = "old".into();
    lines[5] = cells.join(",");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let o = run(&[
        "transform",
        "--model",
        m,
        bad.to_str().unwrap(),
        "-o",
        &d("bad.out"),
    ]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("line 6") && err.contains("age"), "{err}");
    assert!(!dir.path().join("bad.out").exists());
}

#[test]
fn lloyd_steps_over_parts_recenter_as_one_pass_over_all_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let all = dir.path().join("customers.csv");
    synth_to(&all, "demographic", 9_000, 13);
    // A model fitted on a sample: its centroids are not yet those of all rows.
    part_of(&all, 0..900, &dir.path().join("sample.csv"));
    let (_f, fit, _) = fit_ok(
        &dir.path().join("sample.csv"),
        &["-s", "demographic", "--k", "4"],
    );
    let m = fit.join("model.json");
    let m = m.to_str().unwrap();
    for (name, range) in [("a.csv", 0..2_000), ("b.csv", 2_000..9_000)] {
        part_of(&all, range, &dir.path().join(name));
    }
    ok(&["step", "--model", m, &d("a.csv"), "-o", &d("a.json")]);
    ok(&["step", "--model", m, &d("b.csv"), "-o", &d("b.json")]);
    ok(&[
        "step",
        "--model",
        m,
        all.to_str().unwrap(),
        "-o",
        &d("all.json"),
    ]);
    let out = ok(&[
        "recenter",
        "--model",
        m,
        "--steps",
        &d("b.json"),
        &d("a.json"),
        "-o",
        &d("parts"),
    ]);
    assert!(out.contains("Centroids moved by"), "{out}");
    ok(&[
        "recenter",
        "--model",
        m,
        "--steps",
        &d("all.json"),
        "-o",
        &d("whole"),
    ]);
    let parts = Model::load(&dir.path().join("parts/model.json")).unwrap();
    let whole = Model::load(&dir.path().join("whole/model.json")).unwrap();
    assert_eq!(
        parts.centroids, whole.centroids,
        "the split changed the centroids"
    );
    let before = Model::load(Path::new(m)).unwrap();
    assert_ne!(parts.centroids, before.centroids);
    let summary = json(&dir.path().join("parts/recenter.json"));
    assert_eq!(summary["rows"], 9_000);
    assert_eq!(summary["counts"].as_array().unwrap().len(), 4);
    // The new model scores like any other.
    ok(&[
        "assign",
        "--model",
        &d("parts/model.json"),
        all.to_str().unwrap(),
        "-o",
        &d("scored"),
    ]);

    // Centroids from a file: checked for k and d.
    let mut csv = before.features.join(",") + "\n";
    for c in &before.centroids[..3] {
        csv += &(c
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",")
            + "\n");
    }
    std::fs::write(dir.path().join("three.csv"), &csv).unwrap();
    let o = run(&[
        "recenter",
        "--model",
        m,
        "--centroids",
        &d("three.csv"),
        "-o",
        &d("bad"),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("but --init has 3 centroids"),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir.path().join("bad").exists());
    csv += &(before.centroids[3]
        .iter()
        .map(|v| (v + 0.5).to_string())
        .collect::<Vec<_>>()
        .join(",")
        + "\n");
    std::fs::write(dir.path().join("four.csv"), &csv).unwrap();
    ok(&[
        "recenter",
        "--model",
        m,
        "--centroids",
        &d("four.csv"),
        "-o",
        &d("filed"),
    ]);
    let filed = Model::load(&dir.path().join("filed/model.json")).unwrap();
    assert_eq!(filed.centroids[..3], before.centroids[..3]);
    assert_eq!(filed.centroids[3][0], before.centroids[3][0] + 0.5);
    // A step of another model is refused.
    let o = run(&[
        "recenter",
        "--model",
        &d("whole/model.json"),
        "--steps",
        &d("a.json"),
        "-o",
        &d("bad"),
    ]);
    assert!(
        text(&o.stderr).contains("a step against another model"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn export_sql_refuses_what_it_cannot_state() {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("firms.csv");
    synth_to(&all, "firmographic", 500, 3);
    // Firmographic computes its features in the plugin (industry groups, bands, spend mix).
    let (_f, fit, _) = fit_ok(
        &all,
        &[
            "-s",
            "firmographic",
            "--k",
            "3",
            "--id-column",
            "account_id",
        ],
    );
    let model = fit.join("model.json");
    let o = run(&[
        "export-sql",
        "--model",
        model.to_str().unwrap(),
        "--dialect",
        "sqlite",
        "--table",
        "t",
    ]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("does not state its preprocessing"), "{err}");
    // Without an id column a query has nothing to return the segment by.
    let demo = dir.path().join("people.csv");
    synth_to(&demo, "demographic", 500, 3);
    let (_g, fit, _) = fit_ok(&demo, &["-s", "demographic", "--k", "3"]);
    let model = fit.join("model.json");
    let o = run(&[
        "export-sql",
        "--model",
        model.to_str().unwrap(),
        "--dialect",
        "spark",
        "--table",
        "t",
    ]);
    assert!(
        text(&o.stderr).contains("has no id column"),
        "{}",
        text(&o.stderr)
    );
}
