//! Property-based fuzzing of every reader of files a user or another program hands Strata: CSV
//! ingest on random bytes shaped like CSV, `model.json` under random edits of a real model, and
//! compare's run reader under random edits of a real run. The property is the one a reader
//! owes: an answer or an error, never a panic, a hang or an unbounded allocation. Cases per
//! property: `STRATA_FUZZ_CASES` (CI runs the default, 200, in seconds; longer runs set more).

use std::path::Path;

use proptest::prelude::*;

use crate::util::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("STRATA_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(200);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Bytes biased toward what breaks CSV readers: delimiters, quotes, line ends, digits, signs,
/// NUL, invalid UTF-8 and the missing-value tokens.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b",".to_vec()),
        Just(b";".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"NA".to_vec()),
        Just(b"1e309".to_vec()),
        Just(b"-0".to_vec()),
        Just(b"2024-02-30".to_vec()),
        Just(vec![0u8]),
        Just(vec![0xff, 0xfe]),
        Just(b"\xEF\xBB\xBF".to_vec()),
        "[a-z]{1,6}".prop_map(String::into_bytes),
        "-?[0-9]{1,5}(\\.[0-9]{1,3})?".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 1..4),
    ];
    proptest::collection::vec(piece, 0..200).prop_map(|v| v.concat())
}

/// `text` with `edits` applied: each replaces a slice at a relative position by new bytes.
fn edit(text: &[u8], edits: &[(f64, usize, Vec<u8>)]) -> Vec<u8> {
    let mut out = text.to_vec();
    for (at, len, with) in edits {
        if out.is_empty() {
            out.extend_from_slice(with);
            continue;
        }
        let start = ((*at * out.len() as f64) as usize).min(out.len() - 1);
        let end = (start + len).min(out.len());
        out.splice(start..end, with.iter().copied());
    }
    out
}

fn edits() -> impl Strategy<Value = Vec<(f64, usize, Vec<u8>)>> {
    let with = prop_oneof![
        "[0-9]{1,12}".prop_map(String::into_bytes),
        Just(b"-1".to_vec()),
        Just(b"null".to_vec()),
        Just(b"4294967295".to_vec()),
        Just(b"1e39".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"[]".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    proptest::collection::vec((0.0..1.0f64, 0usize..12, with), 1..6)
}

fn demo_fit() -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, out, _) = fit_ok(
        &repo().join("examples/customers.csv"),
        &["--id-column", "customer_id", "--k", "3"],
    );
    (dir, out)
}

#[test]
fn csv_ingest_answers_every_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.csv");
    proptest!(config(), |(bytes in csvish(), by_name in any::<bool>())| {
        std::fs::write(&file, &bytes).unwrap();
        if let Ok(header) = strata_ingest::read_header(&file, None) {
            let n = header.names.len().min(8);
            let plan = strata_ingest::ReadPlan {
                id_column: by_name.then_some(0).filter(|_| n > 1),
                allow_duplicate_ids: !by_name,
                columns: (usize::from(by_name && n > 1)..n)
                    .map(|i| (i, [
                        strata_ingest::ParseAs::AutoNumeric,
                        strata_ingest::ParseAs::Text,
                        strata_ingest::ParseAs::Numeric,
                        strata_ingest::ParseAs::Date,
                    ][i % 4]))
                    .collect(),
            };
            let _ = strata_ingest::read_table(&header, &plan);
        }
    });
}

#[test]
fn model_json_answers_every_edit() {
    let (_d, out) = demo_fit();
    let model = std::fs::read(out.join("model.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.json");
    proptest!(config(), |(e in edits())| {
        std::fs::write(&file, edit(&model, &e)).unwrap();
        let _ = Model::load(&file);
    });
}

#[test]
fn compare_answers_every_edit_of_a_run() {
    let (_d, out) = demo_fit();
    let assignments = std::fs::read(out.join("assignments.csv")).unwrap();
    let segments = std::fs::read(out.join("segments.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&run_dir).unwrap();
    let good = strata_compare::read_run(&out).unwrap();
    proptest!(config(), |(ea in edits(), es in edits(), with_segments in any::<bool>())| {
        std::fs::write(run_dir.join("assignments.csv"), edit(&assignments, &ea)).unwrap();
        let seg = run_dir.join("segments.json");
        if with_segments {
            std::fs::write(&seg, edit(&segments, &es)).unwrap();
        } else if seg.exists() {
            std::fs::remove_file(&seg).unwrap();
        }
        if let Ok(run) = strata_compare::read_run(Path::new(&run_dir)) {
            let _ = strata_compare::compare(&good, &run);
            let _ = strata_compare::compare(&run, &good);
        }
    });
}
