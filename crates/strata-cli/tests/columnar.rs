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

/// An assignments file of any format as its CSV records (header first), read as compare and
/// the write-back read it.
fn records(path: &Path) -> Vec<Vec<String>> {
    let (_, text) = strata_format::assignments::read_as_csv(path).unwrap();
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// Typed rows read back as text equal the CSV's: every field as the CSV prints it but the
/// boundary ratio, which the typed formats keep unrounded (the CSV prints 4 decimals).
fn assert_same_rows(typed: &[Vec<String>], csv: &[Vec<String>], what: &str) {
    assert_eq!(typed.len(), csv.len(), "{what}: rows");
    assert_eq!(typed[0], csv[0], "{what}: header");
    for (t, c) in typed.iter().zip(csv).skip(1) {
        for (i, (a, b)) in t.iter().zip(c).enumerate() {
            if i == 4 {
                let ratio: f32 = a.parse().unwrap();
                assert_eq!(&format!("{ratio:.4}"), b, "{what}: {t:?} against {c:?}");
            } else {
                assert_eq!(a, b, "{what}: {t:?} against {c:?}");
            }
        }
    }
}

/// The Arrow types of the columns of a Parquet file, as its embedded Arrow schema gives them.
fn parquet_types(path: &Path) -> Vec<(String, arrow_schema::DataType)> {
    let file = std::fs::File::open(path).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    reader
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

/// The small customers as Parquet with integer ids (`customer_id` 1, 2, …), written with the
/// arrow crate.
fn integer_id_parquet(csv: &Path, out: &Path) {
    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    let rows = read_csv(csv);
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let text = |name: &str| -> ArrayRef {
        let c = col(name);
        std::sync::Arc::new(StringArray::from_iter_values(
            rows[1..].iter().map(|r| r[c].clone()),
        ))
    };
    let number = |name: &str| -> ArrayRef {
        let c = col(name);
        std::sync::Arc::new(Float64Array::from_iter(
            rows[1..].iter().map(|r| r[c].parse::<f64>().ok()),
        ))
    };
    let ids: ArrayRef = std::sync::Arc::new(Int64Array::from_iter_values(
        (1..rows.len()).map(|i| i as i64 * 1000),
    ));
    let batch = RecordBatch::try_from_iter([
        ("customer_id", ids),
        ("age", number("age")),
        ("gender", text("gender")),
        ("income", number("income")),
        ("education", text("education")),
        ("marital_status", text("marital_status")),
        ("region", text("region")),
        ("household_size", number("household_size")),
    ])
    .unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(out).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// `--format parquet` and `--format arrow`: the run's assignments file is
/// assignments.parquet or assignments.arrows (and no assignments.csv), listed in the
/// manifest, with the CSV's rows, held or streamed; ids typed as the input typed them (text,
/// integers from an integer column, row numbers as integers); segment int32, label a
/// dictionary.
#[test]
fn assignments_are_written_as_parquet_and_arrow_with_the_csv_s_rows() {
    use arrow_schema::DataType as T;
    let csv = repo().join("tests/fixtures/small_demographic.csv");
    let dir = tempfile::tempdir().unwrap();
    let integer_ids = dir.path().join("integer_ids.parquet");
    integer_id_parquet(&csv, &integer_ids);
    let no_id = ["-s", "demographic", "--k", "3"];
    let cases: [(&Path, &[&str], T); 3] = [
        (&csv, &FIT, T::Utf8),
        (&integer_ids, &FIT, T::Int64),
        (&csv, &no_id, T::Int64),
    ];
    for (input, args, id_type) in cases {
        let (_c, want, _) = fit_ok(input, args);
        let want_rows = read_csv(&want.join("assignments.csv"));
        for (format, file) in [
            ("parquet", "assignments.parquet"),
            ("arrow", "assignments.arrows"),
        ] {
            for stream in [false, true] {
                let what = format!("{} as {format} (streamed: {stream})", input.display());
                let mut a = args.to_vec();
                a.extend(["--format", format]);
                if stream {
                    a.extend(["--stream", "always"]);
                }
                let (_d, out, stdout) = fit_ok(input, &a);
                assert!(!out.join("assignments.csv").exists(), "{what}");
                assert!(stdout.contains(file), "{what}: {stdout}");
                let manifest = json(&out.join("manifest.json"));
                assert!(manifest["files"].get(file).is_some(), "{what}: {manifest}");
                assert_same_rows(&records(&out.join(file)), &want_rows, &what);
                if format == "parquet" {
                    let types = parquet_types(&out.join(file));
                    let expected = [
                        ("id", id_type.clone()),
                        ("segment", T::Int32),
                        (
                            "label",
                            T::Dictionary(Box::new(T::Int32), Box::new(T::Utf8)),
                        ),
                        ("distance", T::Float32),
                        ("boundary_ratio", T::Float32),
                        ("ambiguous", T::Boolean),
                    ];
                    let expected: Vec<_> = expected
                        .iter()
                        .map(|(n, t)| (n.to_string(), t.clone()))
                        .collect();
                    assert_eq!(types, expected, "{what}");
                }
            }
        }
    }
}

/// A run whose assignments are Parquet is read by `strata compare` (nobody moved against the
/// same fit as CSV), scored by `assign --format parquet` into the fit's rows, and piped
/// through `assign - -o - --format arrow` as the bytes of the file `assign` writes.
#[test]
fn parquet_and_arrow_runs_compare_score_and_pipe() {
    let csv = repo().join("tests/fixtures/small_demographic.csv");
    let (_c, as_csv, _) = fit_ok(&csv, &FIT);
    let mut args = FIT.to_vec();
    args.extend(["--format", "parquet"]);
    let (_p, as_parquet, _) = fit_ok(&csv, &args);
    let o = run(&[
        "compare",
        as_csv.to_str().unwrap(),
        as_parquet.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("moved to another segment: 0 "), "{out}");

    // A Parquet fit into the CSV fit's folder replaces its assignments.csv; compare reads
    // the file the manifest lists.
    let o = run(&[
        "fit",
        "-s",
        "demographic",
        "--id-column",
        "customer_id",
        "--k",
        "3",
        "--format",
        "parquet",
        "--out",
        as_csv.to_str().unwrap(),
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!as_csv.join("assignments.csv").exists());
    assert!(as_csv.join("assignments.parquet").is_file());

    let model = as_parquet.join("model.json");
    let dir = tempfile::tempdir().unwrap();
    let scored = |format: &str, out: &Path| {
        let o = run(&[
            "assign",
            "--model",
            model.to_str().unwrap(),
            "--format",
            format,
            "-o",
            out.to_str().unwrap(),
            csv.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    scored("parquet", &dir.path().join("p"));
    assert_eq!(
        records(&dir.path().join("p/assignments.parquet")),
        records(&as_parquet.join("assignments.parquet"))
    );
    scored("arrow", &dir.path().join("a"));
    let file = std::fs::read(dir.path().join("a/assignments.arrows")).unwrap();
    let o = strata()
        .args([
            "assign",
            "--model",
            model.to_str().unwrap(),
            "--format",
            "arrow",
            "-",
            "-o",
            "-",
        ])
        .stdin(std::fs::File::open(&csv).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        o.stdout == file,
        "the piped Arrow stream differs from the file"
    );
    // The stream on standard output is itself input for the next tool: read back here.
    let piped = dir.path().join("piped.arrows");
    std::fs::write(&piped, &o.stdout).unwrap();
    assert_eq!(
        records(&piped),
        records(&dir.path().join("a/assignments.arrows"))
    );
}

/// The December 2010 Online Retail log as Parquet, typed as a warehouse would keep it:
/// text codes, integer quantities, timestamps (UTC), prices as decimal(12, 2), customer ids
/// as nullable integers.
fn retail_log_parquet(csv: &Path, out: &Path) {
    use arrow_array::{
        ArrayRef, Decimal128Array, Int64Array, RecordBatch, StringArray, TimestampSecondArray,
    };
    let rows = read_csv(csv);
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let body = &rows[1..];
    let text = |name: &str| -> ArrayRef {
        let c = col(name);
        std::sync::Arc::new(StringArray::from_iter_values(body.iter().map(|r| &r[c])))
    };
    let cents = |name: &str| -> ArrayRef {
        let c = col(name);
        let values = body.iter().map(|r| {
            let v: f64 = r[c].parse().unwrap();
            Some((v * 100.0).round() as i128)
        });
        std::sync::Arc::new(
            Decimal128Array::from_iter(values)
                .with_precision_and_scale(12, 2)
                .unwrap(),
        )
    };
    let date = col("InvoiceDate");
    let seconds = body.iter().map(|r| {
        let days = strata_ingest::parse_date(strata_ingest::DateFormat::Mdy, &r[date]).unwrap();
        (days * 86_400.0).round() as i64
    });
    let customer = col("CustomerID");
    let batch = RecordBatch::try_from_iter([
        ("InvoiceNo", text("InvoiceNo")),
        ("StockCode", text("StockCode")),
        ("Description", text("Description")),
        (
            "Quantity",
            std::sync::Arc::new(Int64Array::from_iter_values(
                body.iter()
                    .map(|r| r[col("Quantity")].parse::<i64>().unwrap()),
            )) as ArrayRef,
        ),
        (
            "InvoiceDate",
            std::sync::Arc::new(
                TimestampSecondArray::from_iter_values(seconds).with_timezone("UTC"),
            ),
        ),
        ("UnitPrice", cents("UnitPrice")),
        (
            "CustomerID",
            std::sync::Arc::new(Int64Array::from_iter(
                body.iter().map(|r| r[customer].parse::<i64>().ok()),
            )),
        ),
        ("Country", text("Country")),
        ("TotalPrice", cents("TotalPrice")),
    ])
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(5_000))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(out).unwrap(),
        batch.schema(),
        Some(props),
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// A transaction log kept as Parquet (timestamps, decimals, integer ids with nulls, several
/// row groups) aggregates to the customers its CSV form does: the same assignments byte for
/// byte, in k-means and RFM mode; a bad value names the row.
#[test]
fn a_transaction_log_in_parquet_segments_as_its_csv_does() {
    let csv = shared("online_retail_dec2010/Online Retail.csv");
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("log.parquet");
    retail_log_parquet(&csv, &parquet);
    for mode in ["kmeans", "rfm"] {
        let fit = |log: &Path| {
            let out = dir.path().join(format!(
                "{mode}-{}",
                log.extension().unwrap().to_str().unwrap()
            ));
            let mut args = vec![
                "fit",
                "-s",
                "behavioral",
                "--mode",
                mode,
                "--as-of",
                "2010-12-10",
                "--transactions",
                log.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ];
            if mode == "kmeans" {
                // The CSV's dates are month-first; the Parquet log's timestamps are typed,
                // so the layout given for text dates does not apply to them.
                args.extend(["--k", "4", "--date-format", "mdy"]);
            }
            let o = run(&args);
            assert!(o.status.success(), "{mode}: {}", text(&o.stderr));
            out
        };
        let (from_csv, from_parquet) = (fit(&csv), fit(&parquet));
        assert!(
            std::fs::read(from_csv.join("assignments.csv")).unwrap()
                == std::fs::read(from_parquet.join("assignments.csv")).unwrap(),
            "{mode}: the Parquet log's assignments differ from the CSV's"
        );
        let a = json(&from_csv.join("segments.json"));
        let b = json(&from_parquet.join("segments.json"));
        assert_eq!(
            a["transactions"]["customers"],
            b["transactions"]["customers"]
        );
        assert_eq!(
            a["transactions"]["rows_without_customer"],
            b["transactions"]["rows_without_customer"]
        );
        assert_eq!(a["segments"], b["segments"], "{mode}");
        assert_eq!(b["input"]["format"], "parquet");
    }
    // The log's integer customer ids stay integers in typed assignments.
    let out = dir.path().join("typed");
    let o = run(&[
        "fit",
        "-s",
        "behavioral",
        "--mode",
        "rfm",
        "--as-of",
        "2010-12-10",
        "--transactions",
        parquet.to_str().unwrap(),
        "--format",
        "parquet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let types = parquet_types(&out.join("assignments.parquet"));
    assert_eq!(types[0], ("id".to_string(), arrow_schema::DataType::Int64));
    assert_eq!(types[9].1, arrow_schema::DataType::Int16, "{types:?}");
    let rows = records(&out.join("assignments.parquet"));
    let csv_rows = read_csv(&dir.path().join("rfm-csv/assignments.csv"));
    assert_eq!(rows.len(), csv_rows.len());
    for (t, c) in rows.iter().zip(&csv_rows).skip(1) {
        assert_eq!(t[..3], c[..3]);
        assert_eq!(t[9..], c[9..], "RFM scores");
    }
}
