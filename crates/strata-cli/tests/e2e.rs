//! End-to-end tests: the real `strata` binary on fixture files, outputs parsed and checked.
//!
//! Plugins are found beside the binary, so run `cargo build --workspace` before `cargo test`
//! (`scripts/test.sh` does). Tests on real data read `../shared/data` (present in CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use strata_core::Model;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_strata"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn strata() -> Command {
    let lib = bin_dir().join(strata_host::plugin_file_name("demographic"));
    assert!(
        lib.exists(),
        "{} is missing: build the plugins first with `cargo build --workspace` (scripts/test.sh does)",
        lib.display()
    );
    let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
    c.env_remove("STRATA_PLUGIN_PATH").env_remove("STRATA_LOG");
    c
}

fn run(args: &[&str]) -> Output {
    strata().args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn shared(rel: &str) -> PathBuf {
    let p = repo().join("../shared/data").join(rel);
    assert!(
        p.exists(),
        "{} is missing: the real-data tests need ../shared/data beside the repo",
        p.display()
    );
    p
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks the three outputs against each other and the input; returns assignments rows.
fn check_outputs(out: &Path, input_ids: &[String], k: usize) -> Vec<Vec<String>> {
    let rows = read_csv(&out.join("assignments.csv"));
    assert_eq!(rows[0], vec!["id", "segment", "label", "distance"]);
    let body = &rows[1..];
    assert_eq!(body.len(), input_ids.len(), "one row per customer");
    let ids: Vec<&String> = body.iter().map(|r| &r[0]).collect();
    assert_eq!(
        ids,
        input_ids.iter().collect::<Vec<_>>(),
        "ids untouched and in input order"
    );
    let seg = json(&out.join("segments.json"));
    assert_eq!(seg["k"], k);
    let segments = seg["segments"].as_array().unwrap();
    assert_eq!(segments.len(), k);
    let mut total = 0;
    for (j, s) in segments.iter().enumerate() {
        let size = s["size"].as_u64().unwrap() as usize;
        let label = s["label"].as_str().unwrap();
        assert!(!label.is_empty());
        let in_file = body.iter().filter(|r| r[1] == j.to_string()).count();
        assert_eq!(in_file, size, "segment {j} size matches assignments.csv");
        assert!(
            body.iter()
                .filter(|r| r[1] == j.to_string())
                .all(|r| r[2] == label)
        );
        total += size;
    }
    assert_eq!(total, input_ids.len(), "segment sizes sum to rows");
    assert!(
        body.iter()
            .all(|r| r[3].parse::<f64>().is_ok_and(|d| d.is_finite() && d >= 0.0))
    );
    let model = Model::load(&out.join("model.json")).expect("model.json reloads");
    assert_eq!(model.k, k);
    assert_eq!(
        model.labels,
        segments
            .iter()
            .map(|s| s["label"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    );
    rows
}

fn ids_of(path: &Path, column: usize) -> Vec<String> {
    read_csv(path)[1..]
        .iter()
        .map(|r| r[column].clone())
        .collect()
}

/// Runs `strata fit ARGS --out DIR INPUT` into a fresh folder and asserts it succeeded.
/// Returns the folder's guard, the output folder and stdout.
fn fit_ok(input: &Path, args: &[&str]) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut all = vec!["fit"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap(), input.to_str().unwrap()]);
    let o = run(&all);
    assert!(o.status.success(), "{all:?} failed:\n{}", text(&o.stderr));
    (dir, out, text(&o.stdout))
}

#[test]
fn demo_data_end_to_end() {
    let input = repo().join("examples/customers.csv");
    let (_dir, out, stdout) = fit_ok(&input, &["--id-column", "customer_id", "--k", "4"]);
    check_outputs(&out, &ids_of(&input, 0), 4);
    assert!(
        stdout.contains("Segmented 2000 of 2000 customers"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Missing values imputed: age 40"),
        "{stdout}"
    );
    let seg = json(&out.join("segments.json"));
    assert_eq!(seg["input"]["missing"]["income"], 51);
    // The planted personas differ in age: the segments must too.
    let mut ages: Vec<f64> = seg["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["centroid"]["age"].as_f64().unwrap())
        .collect();
    ages.sort_by(f64::total_cmp);
    assert!(ages[0] < 32.0 && ages[3] > 60.0, "ages {ages:?}");
}

#[test]
fn mall_customers_as_in_the_issue() {
    let input = shared("mall_customers/Mall_Customers.csv");
    let (_dir, out, stdout) = fit_ok(
        &input,
        &[
            "--strategy",
            "demographic",
            "--id-column",
            "CustomerID",
            "--map",
            "gender=Genre",
            "--map",
            "age=Age",
            "--map",
            "income=Annual Income (k$)",
            "--k",
            "5",
        ],
    );
    let rows = check_outputs(&out, &ids_of(&input, 0), 5);
    assert_eq!(rows[1][0], "0001", "zero-padded ids stay text");
    let seg = json(&out.join("segments.json"));
    let labels: std::collections::HashSet<&str> = seg["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels.len(), 5, "five distinct names: {labels:?}");
    assert!(stdout.contains("KEY TRAITS"));
}

#[test]
fn features_strategy_on_wholesale_spend() {
    let input = shared("wholesale_customers/Wholesale customers data.csv");
    let spend = "features=Fresh,Milk,Grocery,Frozen,Detergents_Paper,Delicassen";
    let (_dir, out, _) = fit_ok(
        &input,
        &[
            "--strategy",
            "features",
            "--id-column",
            "Customer ID",
            "--map",
            spend,
            "--k",
            "3",
        ],
    );
    check_outputs(&out, &ids_of(&input, 0), 3);
    let seg = json(&out.join("segments.json"));
    assert_eq!(seg["features"].as_array().unwrap().len(), 6);
    // Without --map, every numeric column but the id is used (Channel and Region included).
    let (_dir, out, _) = fit_ok(&input, &["-s", "features", "--id-column", "Customer ID"]);
    assert_eq!(
        json(&out.join("segments.json"))["features"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
}

#[test]
fn same_segments_on_one_and_two_threads() {
    let input = repo().join("examples/customers.csv");
    let (_d1, one, _) = fit_ok(&input, &["--threads", "1", "--id-column", "customer_id"]);
    let (_d2, two, _) = fit_ok(&input, &["--threads", "2", "--id-column", "customer_id"]);
    for f in ["assignments.csv", "model.json"] {
        let (a, b) = (
            std::fs::read(one.join(f)).unwrap(),
            std::fs::read(two.join(f)).unwrap(),
        );
        assert!(a == b, "{f} differs between 1 and 2 threads");
    }
}

#[test]
fn golden_assignments_on_a_small_fixture() {
    let input = repo().join("tests/fixtures/small_demographic.csv");
    let (_dir, out, _) = fit_ok(&input, &["--id-column", "customer_id", "--k", "3"]);
    let got = std::fs::read_to_string(out.join("assignments.csv")).unwrap();
    let golden = repo().join("tests/golden/small_demographic.assignments.csv");
    if std::env::var_os("STRATA_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden)
        .unwrap_or_else(|_| panic!("{} missing: run with STRATA_BLESS=1 once", golden.display()));
    assert!(
        got == want,
        "assignments changed; if intended, re-bless with STRATA_BLESS=1"
    );
}

#[test]
fn missing_drop_leaves_rows_out_and_says_so() {
    let input = repo().join("examples/customers.csv");
    let (_dir, out, stdout) = fit_ok(&input, &["--id-column", "customer_id", "--missing", "drop"]);
    let seg = json(&out.join("segments.json"));
    let dropped = seg["input"]["rows_dropped"].as_u64().unwrap() as usize;
    assert!(dropped > 0);
    assert_eq!(
        seg["input"]["rows_used"].as_u64().unwrap() as usize,
        2000 - dropped
    );
    assert_eq!(
        read_csv(&out.join("assignments.csv")).len() - 1,
        2000 - dropped
    );
    assert!(stdout.contains(&format!("Rows dropped for missing values: {dropped}.")));
}

#[test]
fn plugins_lists_strategies_and_roles() {
    let o = run(&["plugins"]);
    assert!(o.status.success());
    let s = text(&o.stdout);
    assert!(
        s.contains("demographic") && s.contains("features") && s.contains("1.0"),
        "{s}"
    );
    let o = run(&["plugins", "--strategy", "features"]);
    assert!(text(&o.stdout).contains("default: every numeric column"));
}

/// Runs a fit that must fail: non-zero exit, `needles` in stderr, no output folder.
fn fails(args: &[&str], input: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.csv");
    std::fs::write(&file, input).unwrap();
    let out = dir.path().join("out");
    let mut all = vec!["fit"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap(), file.to_str().unwrap()]);
    let o = run(&all);
    let err = text(&o.stderr);
    assert!(!o.status.success(), "should fail: {all:?}");
    assert!(
        !err.contains("panicked at"),
        "a panic is not an error message: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in:\n{err}");
    }
    assert!(!out.exists(), "no output may be written on error");
}

const SMALL: &str = "id,age,gender\n1,30,F\n2,40,M\n3,50,F\n";

#[test]
fn clear_errors_for_bad_input() {
    fails(&["--k", "0"], SMALL, &["k must be at least 1"]);
    fails(
        &["--k", "4"],
        SMALL,
        &["k = 4 is more than the 3 customers", "in.csv"],
    );
    fails(&[], "", &["in.csv: the file is empty"]);
    fails(
        &[],
        "id,age\n",
        &["in.csv: the file has a header but no data rows"],
    );
    fails(
        &["--strategy", "nope"],
        SMALL,
        &["unknown strategy 'nope'", "demographic", "features"],
    );
    fails(
        &[],
        "id,colour\n1,red\n",
        &["no role of strategy 'demographic' is bound", "'colour'"],
    );
    fails(
        &["--map", "age=Agee"],
        SMALL,
        &["in.csv: no column named 'Agee'", "'age'"],
    );
    fails(
        &[],
        "id,age\n1,NA\n2,\n",
        &["column 'age' (role age) has no values"],
    );
    fails(
        &[],
        "id,age\n1,30\n2,old\n",
        &["in.csv, line 3, column 2 ('age'): expected a number, found 'old'"],
    );
    fails(
        &["--id-column", "id"],
        "id,age\n7,30\n7,40\n",
        &["duplicate id in column 'id' on lines 2 and 3"],
    );
    fails(
        &["--id-column", "ID"],
        SMALL,
        &["--id-column 'ID' is not in the header"],
    );
    fails(
        &[],
        "id,age\n1,30\n2\n",
        &["line 3: expected 2 fields like the header, found 1"],
    );
}

#[test]
fn unwritable_output_is_an_error_and_old_outputs_survive_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, SMALL).unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let o = run(&[
        "fit",
        "--k",
        "2",
        "--out",
        blocker.join("sub").to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("cannot write"),
        "{}",
        text(&o.stderr)
    );

    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("assignments.csv"), "previous run").unwrap();
    std::fs::write(&input, "id,age\n1,30\n2,old\n").unwrap();
    let o = run(&[
        "fit",
        "--out",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_eq!(
        std::fs::read_to_string(out.join("assignments.csv")).unwrap(),
        "previous run"
    );
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        1,
        "no temporary files left"
    );
}

/// Copies a test plugin into a fresh folder under a discoverable name.
fn plugin_dir(built: &str, as_name: &str) -> tempfile::TempDir {
    let file = format!(
        "{}strata_testplugin_{built}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let src = bin_dir().join(&file);
    assert!(
        src.exists(),
        "{} missing: run `cargo build --workspace`",
        src.display()
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        &src,
        dir.path().join(strata_host::plugin_file_name(as_name)),
    )
    .unwrap();
    dir
}

#[test]
fn a_plugin_with_another_abi_version_is_refused_by_name() {
    let dir = plugin_dir("bad_abi", "badabi");
    let file = dir.path().join(strata_host::plugin_file_name("badabi"));
    let o = run(&["plugins", "--plugin-dir", dir.path().to_str().unwrap()]);
    assert!(o.status.success());
    let s = text(&o.stdout);
    assert!(s.contains(&format!("refused {}", file.display())), "{s}");
    assert!(
        s.contains("plugin ABI version 99.3 is not supported by this strata (ABI 1.0)"),
        "{s}"
    );
    fails(
        &[
            "--strategy",
            "badabi",
            "--plugin-dir",
            dir.path().to_str().unwrap(),
        ],
        SMALL,
        &[file.to_str().unwrap(), "99.3", "ABI 1.0"],
    );
}

#[test]
fn a_panicking_plugin_is_an_error_not_a_crash() {
    let dir = plugin_dir("panicky", "panicky");
    fails(
        &[
            "--strategy",
            "panicky",
            "--plugin-dir",
            dir.path().to_str().unwrap(),
        ],
        SMALL,
        &["strategy 'panicky' panicked in fit: deliberate panic in fit"],
    );
}

#[test]
fn help_teaches_the_stopping_rule_and_outputs() {
    let o = run(&["fit", "--help"]);
    let s = text(&o.stdout);
    for n in [
        "Stopping rule",
        "TOL × (mean over features",
        "assignments.csv",
        "--map <ROLE=COLUMN>",
    ] {
        assert!(s.contains(n), "{n:?} missing from fit --help");
    }
}
