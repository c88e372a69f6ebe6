//! Helpers shared by the end-to-end test files: run the real `strata` binary, read its outputs.
//!
//! Plugins are found beside the binary, so run `cargo build --workspace` before `cargo test`
//! (`scripts/test.sh` does). Tests on real data read `../shared/data` (present in CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use strata_core::Model;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_strata"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn strata() -> Command {
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

/// The features strategy with the `id` column as the id: the arguments most generated-data
/// tests start with.
pub const FEATURES_BY_ID: [&str; 4] = ["-s", "features", "--id-column", "id"];

/// `strata fit FEATURES_BY_ID EXTRA --out OUT INPUT`.
pub fn features_fit(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["fit"];
    args.extend_from_slice(&FEATURES_BY_ID);
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", out.to_str().unwrap(), input.to_str().unwrap()]);
    run(&args)
}

pub fn run(args: &[&str]) -> Output {
    strata().args(args).output().unwrap()
}

/// Writes `strata synth --kind KIND --rows ROWS --seed SEED` to `path`, asserting it worked.
pub fn synth_to(path: &Path, kind: &str, rows: usize, seed: u64) {
    let o = run(&[
        "synth",
        "--kind",
        kind,
        "--rows",
        &rows.to_string(),
        "--seed",
        &seed.to_string(),
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn shared(rel: &str) -> PathBuf {
    let p = repo().join("../shared/data").join(rel);
    assert!(
        p.exists(),
        "{} is missing: the real-data tests need ../shared/data beside the repo",
        p.display()
    );
    p
}

pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks the three outputs against each other and the input; returns assignments rows.
pub fn check_outputs(out: &Path, input_ids: &[String], k: usize) -> Vec<Vec<String>> {
    let rows = read_csv(&out.join("assignments.csv"));
    assert_eq!(rows[0][..4], ["id", "segment", "label", "distance"]);
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
    // A distance to the centroid for k-means; none in RFM mode, which has no centroids.
    let rfm = seg["mode"] == "rfm";
    assert!(
        body.iter().all(|r| if rfm {
            r[3].is_empty()
        } else {
            r[3].parse::<f64>().is_ok_and(|d| d.is_finite() && d >= 0.0)
        }),
        "distance column"
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

pub fn ids_of(path: &Path, column: usize) -> Vec<String> {
    read_csv(path)[1..]
        .iter()
        .map(|r| r[column].clone())
        .collect()
}

/// Runs `strata fit ARGS --out DIR INPUT` into a fresh folder and asserts it succeeded.
/// Returns the folder's guard, the output folder and stdout.
pub fn fit_ok(input: &Path, args: &[&str]) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut all = vec!["fit"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap(), input.to_str().unwrap()]);
    let o = run(&all);
    assert!(o.status.success(), "{all:?} failed:\n{}", text(&o.stderr));
    (dir, out, text(&o.stdout))
}

/// Runs a fit that must fail: non-zero exit, `needles` in stderr, no output folder.
pub fn fails(args: &[&str], input: &str, needles: &[&str]) {
    fails_with_env(&[], args, input, needles)
}

/// [`fails`] with extra environment variables for the `strata` process.
pub fn fails_with_env(env: &[(&str, &str)], args: &[&str], input: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.csv");
    std::fs::write(&file, input).unwrap();
    let out = dir.path().join("out");
    let mut all = vec!["fit"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap(), file.to_str().unwrap()]);
    let o = strata()
        .args(&all)
        .envs(env.iter().copied())
        .output()
        .unwrap();
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

/// Copies a test plugin into a fresh folder under a discoverable name.
pub fn plugin_dir(built: &str, as_name: &str) -> tempfile::TempDir {
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

/// Runs `strata fit --transactions LOG ARGS` into a fresh folder and asserts success.
pub fn fit_log(log: &Path, args: &[&str]) -> (tempfile::TempDir, PathBuf, String) {
    fit_behavioral("--transactions", log, args)
}

/// Runs `strata fit --strategy behavioral FLAG INPUT ARGS` into a fresh folder (FLAG:
/// `--transactions` or `--summary`) and asserts success.
pub fn fit_behavioral(
    flag: &str,
    input: &Path,
    args: &[&str],
) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut all = vec![
        "fit",
        "--strategy",
        "behavioral",
        flag,
        input.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = run(&all);
    assert!(o.status.success(), "{all:?} failed:\n{}", text(&o.stderr));
    (dir, out, text(&o.stdout))
}

/// The distinct customer ids of a transaction log's CustomerID column, sorted (rows without
/// one left out).
pub fn log_customer_ids(log: &Path) -> Vec<String> {
    let rows = read_csv(log);
    let c = rows[0].iter().position(|h| h == "CustomerID").unwrap();
    let mut ids: Vec<String> = rows[1..]
        .iter()
        .map(|r| r[c].clone())
        .filter(|s| !s.is_empty())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
