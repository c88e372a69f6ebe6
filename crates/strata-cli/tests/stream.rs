//! End-to-end tests of streamed fits (`--stream`): the real binary on generated files.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::util::*;

/// Writes `strata synth --kind KIND --rows ROWS` (and its truth) into `dir`.
fn synth(dir: &Path, kind: &str, rows: usize) -> (PathBuf, PathBuf) {
    let file = dir.join(format!("{kind}.csv"));
    let truth = dir.join(format!("{kind}.truth.csv"));
    let o = run(&[
        "synth",
        "--kind",
        kind,
        "--rows",
        &rows.to_string(),
        "--seed",
        "7",
        "--out",
        file.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "synth failed: {}", text(&o.stderr));
    (file, truth)
}

fn numbers(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Number(n) => vec![n.as_f64().unwrap()],
        serde_json::Value::Array(a) => a.iter().flat_map(numbers).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(numbers).collect(),
        _ => Vec::new(),
    }
}

/// A file smaller than the preprocessing sample, with fewer rows than the init sample, is
/// segmented by a streamed fit exactly as by an in-memory one: the same assignments byte for
/// byte, the same model, and profiles equal up to the order sums were added in.
#[test]
fn small_streamed_fit_equals_the_in_memory_fit() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = synth(dir.path(), "demographic", 3000);
    let args = [
        "-s",
        "demographic",
        "--id-column",
        "customer_id",
        "--k",
        "4",
    ];
    let (_a, whole, _) = fit_ok(&file, &[&args[..], &["--stream", "never"]].concat());
    let (_b, streamed, _) = fit_ok(&file, &[&args[..], &["--stream", "always"]].concat());
    let assignments = |d: &Path| std::fs::read(d.join("assignments.csv")).unwrap();
    assert_eq!(assignments(&whole), assignments(&streamed));
    check_outputs(&streamed, &ids_of(&file, 0), 4);
    assert_eq!(
        json(&whole.join("model.json")),
        json(&streamed.join("model.json"))
    );
    let (w, s) = (
        json(&whole.join("segments.json")),
        json(&streamed.join("segments.json")),
    );
    assert!(w.get("streamed").is_none());
    assert_eq!(s["streamed"]["prep_sample_one_chunk_in"], 1);
    assert_eq!(s["streamed"]["prep_sample_rows"], 3000);
    assert!(
        s.get("init_sample").is_none(),
        "3000 rows need no init sample"
    );
    assert_eq!(w["segments"].as_array().unwrap().len(), 4);
    assert_eq!(w["quality"], s["quality"]);
    assert_eq!(w["stability"], s["stability"]);
    for (ws, ss) in w["segments"]
        .as_array()
        .unwrap()
        .iter()
        .zip(s["segments"].as_array().unwrap())
    {
        assert_eq!(ws["label"], ss["label"]);
        assert_eq!(ws["size"], ss["size"]);
        let (a, b) = (numbers(ws), numbers(ss));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{x} vs {y}");
        }
    }
}

/// A file of several chunks with a small preprocessing sample and init sample: only some
/// chunks teach the strategy, the restarts run on a sample of rows, the report says so, and
/// the planted segments still come back.
#[test]
fn sampled_streamed_fit_finds_the_planted_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (file, truth) = synth(dir.path(), "features", 120_000);
    assert!(std::fs::metadata(&file).unwrap().len() > 12 << 20);
    let (_g, out, _) = fit_ok(
        &file,
        &[
            "-s",
            "features",
            "--id-column",
            "id",
            "--k",
            "8",
            "--stream",
            "always",
            "--prep-sample",
            "4",
            "--init-sample",
            "5000",
        ],
    );
    let seg = json(&out.join("segments.json"));
    let one_in = seg["streamed"]["prep_sample_one_chunk_in"]
        .as_u64()
        .unwrap();
    assert!(one_in >= 3, "{}", seg["streamed"]);
    let sampled = seg["streamed"]["prep_sample_rows"].as_u64().unwrap();
    assert!(sampled > 0 && sampled < 120_000 / 2, "{sampled}");
    let init = &seg["init_sample"];
    assert_eq!(init["stride"], 24);
    assert_eq!(init["rows"], 5000);
    assert_eq!(init["run_inertias"].as_array().unwrap().len(), 3);
    let (start, end) = (
        init["inertia_at_sample_centroids"].as_f64().unwrap(),
        init["inertia"].as_f64().unwrap(),
    );
    assert!(end <= start && end == seg["inertia"].as_f64().unwrap());
    assert!(init["gap"].as_f64().unwrap() >= 0.0);
    // The segment rules: grown and counted on the seeded sample the profiles pass gathered.
    assert_eq!(
        (
            &seg["rules"]["rows"],
            &seg["rules"]["sampled"],
            &seg["rules"]["evaluated_on"]
        ),
        (
            &serde_json::json!(100_000),
            &serde_json::json!(true),
            &serde_json::json!(100_000)
        )
    );
    for s in seg["segments"].as_array().unwrap() {
        assert!(s["rule"]["recall"].as_f64().is_some(), "{s}");
    }
    // The restarts ran on the sample, so their agreement is measured there; quality on all.
    assert_eq!(seg["stability"]["rows"], 5000);
    assert_eq!(seg["stability"]["runs"], 3);
    let q = &seg["quality"];
    assert_eq!(q["silhouette_rows"], 10_000);
    assert_eq!(q["silhouette_sampled"], true);
    assert!(
        q["silhouette"]
            .as_f64()
            .is_some_and(|s| s > 0.5 && s <= 1.0),
        "{q}"
    );
    assert!(q["davies_bouldin"].as_f64().is_some_and(|v| v > 0.0), "{q}");

    let rows = check_outputs(&out, &ids_of(&file, 0), 8);
    let planted: Vec<String> = read_csv(&truth)[1..].iter().map(|r| r[1].clone()).collect();
    let mut counts = std::collections::HashMap::new();
    for (r, p) in rows[1..].iter().zip(&planted) {
        *counts.entry((r[1].clone(), p.clone())).or_insert(0usize) += 1;
    }
    let pure: usize = (0..8)
        .map(|j| {
            counts
                .iter()
                .filter(|((s, _), _)| *s == j.to_string())
                .map(|(_, c)| *c)
                .max()
                .unwrap_or(0)
        })
        .sum();
    let purity = pure as f64 / planted.len() as f64;
    assert!(purity > 0.95, "purity {purity}");
}

/// Problems only a full pass sees are still errors that name the line: text in a column the
/// sample held only numbers in, and a duplicate id. A missing value under `--missing drop`
/// drops the row and keeps the other ids.
#[test]
fn streamed_fit_checks_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = synth(dir.path(), "features", 100_000);
    let lines = 100_001;
    let args = |out: &Path| {
        vec![
            "fit".to_owned(),
            "-s".into(),
            "features".into(),
            "--id-column".into(),
            "id".into(),
            "--k".into(),
            "3".into(),
            "--stream".into(),
            "always".into(),
            "--prep-sample".into(),
            "4".into(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    let with_last = |name: &str, last: &str| {
        let path = dir.path().join(name);
        std::fs::copy(&file, &path).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(last.as_bytes()).unwrap();
        path
    };
    let width = read_csv(&file)[0].len();
    let row = |id: &str, f3: &str| {
        let mut cells = vec![id.to_owned()];
        cells.extend((1..width).map(|c| if c == 4 { f3.to_owned() } else { "0.5".into() }));
        cells.join(",") + "\n"
    };

    let text_late = with_last("text.csv", &row("X1", "oops"));
    let out = dir.path().join("out_text");
    let o = strata().args(args(&out)).arg(&text_late).output().unwrap();
    let err = text(&o.stderr);
    assert!(!o.status.success() && !out.exists(), "{err}");
    assert!(
        err.contains(&format!("line {}", lines + 1)) && err.contains("'f3'"),
        "{err}"
    );

    let dup = with_last("dup.csv", &row("1", "0.5"));
    let out = dir.path().join("out_dup");
    let o = strata().args(args(&out)).arg(&dup).output().unwrap();
    let err = text(&o.stderr);
    assert!(!o.status.success() && !out.exists(), "{err}");
    assert!(err.contains(&format!("lines 2 and {}", lines + 1)), "{err}");

    let gap = with_last("gap.csv", &row("X2", ""));
    let out = dir.path().join("out_gap");
    let mut a = args(&out);
    a.extend(["--missing".into(), "drop".into()]);
    let o = strata().args(a).arg(&gap).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let seg = json(&out.join("segments.json"));
    assert_eq!(seg["input"]["rows"], 100_001);
    assert_eq!(seg["input"]["rows_dropped"], 1);
    check_outputs(&out, &ids_of(&file, 0), 3);
}

/// `--k auto` on a streamed fit chooses k on the k-means++ sample (and says so), then runs
/// Lloyd on every row with the chosen k: four planted segments are found.
#[test]
fn streamed_k_auto_chooses_on_the_init_sample() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("four.csv");
    let o = run(&[
        "synth",
        "--rows",
        "30000",
        "--clusters",
        "4",
        "--dims",
        "6",
        "--seed",
        "7",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (_g, out, stdout) = fit_ok(
        &file,
        &[
            "-s",
            "features",
            "--id-column",
            "id",
            "--k-range",
            "2..6",
            "--stream",
            "always",
            "--init-sample",
            "3000",
        ],
    );
    assert!(
        stdout.contains("Choosing k in 2..6 on a sample of 3000 rows"),
        "{stdout}"
    );
    let seg = json(&out.join("segments.json"));
    let sel = &seg["k_selection"];
    assert_eq!(
        (sel["rows"].as_u64(), sel["sampled"].as_bool()),
        (Some(3000), Some(true))
    );
    assert_eq!(sel["chosen"], 4);
    assert_eq!(seg["k"], 4);
    assert_eq!(seg["init_sample"]["rows"], 3000);
    check_outputs(&out, &ids_of(&file, 0), 4);
}

/// A streamed fit reads its file several times; a file rewritten in between (same size, other
/// customers) must stop the fit, not give k-means from one file and profiles from another.
#[test]
fn a_file_rewritten_between_passes_stops_the_fit() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = synth(dir.path(), "features", 1_000_000);
    let other = dir.path().join("other.csv");
    synth_to(&other, "features", 1_000_000, 8);
    let mut child = strata()
        .args([
            "fit",
            "-s",
            "features",
            "--id-column",
            "id",
            "--k",
            "8",
            "--n-init",
            "1",
            "--stream",
            "always",
            "--prep-sample",
            "1",
            "--no-progress",
            "--out",
            dir.path().join("out").to_str().unwrap(),
            input.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    // The sample (pass 1) is read: now replace the file's content in place.
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no pass 1 in:\n{log}"
        );
        log.push_str(&line);
        if line.contains("learning the preprocessing from") {
            break;
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&input)
        .unwrap();
    f.write_all(&std::fs::read(&other).unwrap()).unwrap();
    drop(f);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    log.push_str(&rest);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains("changed between the passes") || log.contains("the file changed"),
        "{log}"
    );
    assert!(!dir.path().join("out").exists());
}
