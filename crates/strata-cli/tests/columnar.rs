//! Columnar inputs through the binary: the same customers as CSV, as Parquet (a file, and a
//! Spark-style folder of parts), as an Arrow IPC file and as an Arrow IPC stream give the same
//! segments, held or streamed, fitted or scored, from a file or a pipe; and bad columnar
//! input fails with an error that says where, writing nothing. The fixtures were written by
//! pyarrow (`tests/fixtures/parquet/make.py`).

use std::path::{Path, PathBuf};

use crate::util::*;

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/parquet").join(name)
}

const COLUMNAR: [(&str, &str); 4] = [
    ("small_demographic.parquet", "parquet"),
    ("small_demographic_parts", "parquet"),
    ("small_demographic.arrow", "arrow-file"),
    ("small_demographic.arrows", "arrow-stream"),
];

const FIT: [&str; 6] = [
    "-s",
    "demographic",
    "--id-column",
    "customer_id",
    "--k",
    "3",
];

/// segments.json less what names the input and the clock.
fn comparable(out: &Path) -> serde_json::Value {
    let mut v = json(&out.join("segments.json"));
    let o = v.as_object_mut().unwrap();
    o.remove("timings_s");
    let input = o.get_mut("input").unwrap().as_object_mut().unwrap();
    input.remove("file");
    input.remove("format");
    v
}

#[test]
fn the_same_customers_in_every_format_segment_identically() {
    let csv = repo().join("tests/fixtures/small_demographic.csv");
    let (_c, want, _) = fit_ok(&csv, &FIT);
    let want_rows = std::fs::read(want.join("assignments.csv")).unwrap();
    let want_model = json(&want.join("model.json"));
    assert_eq!(json(&want.join("segments.json"))["input"]["format"], "csv");
    for (name, format) in COLUMNAR {
        for stream in [false, true] {
            let mut args = FIT.to_vec();
            if stream {
                args.extend(["--stream", "always"]);
            }
            let (_d, out, _) = fit_ok(&fixture(name), &args);
            assert!(
                std::fs::read(out.join("assignments.csv")).unwrap() == want_rows,
                "{name} (streamed: {stream}): assignments differ from the CSV's"
            );
            let seg = json(&out.join("segments.json"));
            assert_eq!(seg["input"]["format"], format, "{name}");
            if !stream {
                assert_eq!(comparable(&out), comparable(&want), "{name}");
            }
            let mut model = json(&out.join("model.json"));
            assert_eq!(model["input"]["format"], format);
            assert!(model["input"].get("delimiter").is_none(), "{name}");
            model["input"]["format"] = "csv".into();
            model["input"]["delimiter"] = ",".into();
            assert_eq!(model, want_model, "{name}");
        }
    }
}

/// A model fitted on CSV scores Parquet, and an Arrow stream piped to `strata assign -`,
/// exactly as it scores the CSV file.
#[test]
fn assign_scores_parquet_files_and_arrow_streams_from_a_pipe() {
    let csv = repo().join("tests/fixtures/small_demographic.csv");
    let (_f, fit, _) = fit_ok(&csv, &FIT);
    let model = fit.join("model.json");
    let scored = |input: &str, stdin: Option<&Path>| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("scored");
        let mut cmd = strata();
        cmd.args([
            "assign",
            "--model",
            model.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            input,
        ]);
        if let Some(file) = stdin {
            cmd.stdin(std::fs::File::open(file).unwrap());
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{input}: {}", text(&o.stderr));
        let rows = std::fs::read(out.join("assignments.csv")).unwrap();
        (
            rows,
            json(&out.join("segments.json"))["input"]["format"].clone(),
        )
    };
    let (want, _) = scored(csv.to_str().unwrap(), None);
    assert!(want == std::fs::read(fit.join("assignments.csv")).unwrap());
    for (name, format) in COLUMNAR {
        let (got, f) = scored(fixture(name).to_str().unwrap(), None);
        assert!(got == want, "{name}");
        assert_eq!(f, format);
    }
    let (got, f) = scored("-", Some(&fixture("small_demographic.arrows")));
    assert!(got == want, "an Arrow stream on standard input");
    assert_eq!(f, "arrow-stream");
}

/// `strata assign --model M - -o -`, a pipe through: a CSV and an Arrow stream on standard
/// input give the file's assignments.csv byte for byte on standard output, the summary on
/// stderr; a bad input writes nothing to standard output.
#[test]
fn assign_pipes_through_from_standard_input_to_standard_output() {
    let csv = repo().join("tests/fixtures/small_demographic.csv");
    let (_f, fit, _) = fit_ok(&csv, &FIT);
    let model = fit.join("model.json");
    let want = std::fs::read(fit.join("assignments.csv")).unwrap();
    let piped = |stdin: std::fs::File| {
        strata()
            .args(["assign", "--model", model.to_str().unwrap(), "-", "-o", "-"])
            .stdin(stdin)
            .output()
            .unwrap()
    };
    for input in [csv.clone(), fixture("small_demographic.arrows")] {
        let o = piped(std::fs::File::open(&input).unwrap());
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            o.stdout == want,
            "{}: stdout differs from the file's assignments",
            input.display()
        );
        let err = text(&o.stderr);
        assert!(err.contains("SIZE") && !err.contains("wrote"), "{err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    let mut body = std::fs::read_to_string(&csv).unwrap();
    body.push_str(&body.lines().nth(1).unwrap().replacen(',', ",,", 1));
    body.push('\n');
    std::fs::write(&bad, body).unwrap();
    let o = piped(std::fs::File::open(&bad).unwrap());
    assert!(!o.status.success());
    assert!(o.stdout.is_empty(), "a failed run wrote to stdout");
    assert!(
        text(&o.stderr).contains("standard output"),
        "{}",
        text(&o.stderr)
    );
}

/// Bad columnar input: a value that does not fit its role (named by file, row group, row and
/// column), a column of the wrong type, a missing column, a truncated file, a part with other
/// columns. Each a non-zero exit with the message, and no output folder.
#[test]
fn bad_columnar_input_fails_with_where_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = fixture("small_demographic.parquet");
    let bytes = std::fs::read(&parquet).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    std::fs::copy(&parquet, parts.join("part-0.parquet")).unwrap();
    std::fs::copy(fixture("types.parquet"), parts.join("part-1.parquet")).unwrap();
    let p = |path: &Path| path.display().to_string();
    let cases: Vec<(PathBuf, Vec<&str>, Vec<String>)> = vec![
        (
            parquet.clone(),
            vec!["--map", "age=gender"],
            vec![format!(
                "{}, row group 1, row 1, column 3 ('gender'): expected a number, found 'Female'",
                p(&parquet)
            )],
        ),
        (
            fixture("types.parquet"),
            vec![
                "-s",
                "features",
                "--map",
                "features=at",
                "--id-column",
                "id",
            ],
            vec!["column 6 ('at') is of type Timestamp".into()],
        ),
        (
            parquet.clone(),
            vec!["--map", "age=years"],
            vec!["years".into()],
        ),
        (
            cut.clone(),
            vec![],
            vec![format!("{}: cannot read as Parquet", p(&cut))],
        ),
        (
            parts.clone(),
            vec![],
            vec!["every part file must have the same columns".into()],
        ),
    ];
    for (input, extra, needles) in cases {
        let out = dir.path().join("out");
        let mut args = vec!["fit"];
        if !extra.contains(&"-s") {
            args.extend(FIT);
        } else {
            args.extend(["--k", "2"]);
        }
        args.extend(extra.iter().copied());
        args.extend(["--out", out.to_str().unwrap(), input.to_str().unwrap()]);
        let o = run(&args);
        let err = text(&o.stderr);
        assert!(!o.status.success(), "should fail: {args:?}");
        assert!(!err.contains("panicked at"), "{err}");
        for n in &needles {
            assert!(err.contains(n.as_str()), "expected {n:?} in:\n{err}");
        }
        assert!(!out.exists(), "nothing may be written on error: {args:?}");
    }
}
