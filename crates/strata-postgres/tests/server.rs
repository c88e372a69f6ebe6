//! Against a real PostgreSQL server: the throwaway cluster `scripts/test.sh` starts
//! (`scripts/pg-cluster.sh`), named by `STRATA_TEST_POSTGRES`. Without it a test returns
//! early, saying so, unless `STRATA_REQUIRE_POSTGRES` is set (as the test script sets it once
//! the server runs), so CI cannot pass without the server.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test, with its place"
)]

use std::io::Write;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use strata_postgres::{Database, PgError, Selection, TableName, spool, write_assignments};

fn server() -> Option<String> {
    match std::env::var("STRATA_TEST_POSTGRES") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("STRATA_REQUIRE_POSTGRES").is_some() => {
            panic!("STRATA_REQUIRE_POSTGRES is set but STRATA_TEST_POSTGRES is not")
        }
        Err(_) => {
            eprintln!("no test server (STRATA_TEST_POSTGRES); run scripts/test.sh");
            None
        }
    }
}

fn client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("the test server")
}

fn read(url: &str, selection: Selection) -> Result<(Vec<RecordBatch>, u64), PgError> {
    let db = Database::parse(url)?;
    let mut bytes = Vec::new();
    let spooled = spool(&db, &selection, &mut bytes, |_| {})?;
    let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
    Ok((reader.map(|b| b.unwrap()).collect(), spooled.rows))
}

#[test]
fn every_type_reads_as_its_arrow_type_and_nulls_as_nulls() {
    let Some(url) = server() else { return };
    let mut c = client(&url);
    c.batch_execute(
        "DROP TABLE IF EXISTS types_read;
         CREATE TABLE types_read (id text, small smallint, big bigint, r real, d double precision,
           n numeric(12,2), free numeric, t varchar(10), c char(3), b boolean, day date,
           at timestamp, atz timestamptz, u uuid);
         SET TIME ZONE 'Europe/Lisbon';
         INSERT INTO types_read VALUES
           ('a', 1, 9000000000, 1.5, 0.1, 12.34, 0.30000000000000004, 'x', 'ab', true,
            '2024-03-31', '2024-03-31 14:05:00', '2024-07-01 00:30:00+01', '00000000-0000-0000-0000-000000000001'),
           ('b', NULL, NULL, NULL, NULL, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
    )
    .unwrap();
    let (batches, rows) = read(
        &url,
        Selection::Table(TableName::parse("types_read").unwrap()),
    )
    .unwrap();
    assert_eq!(rows, 2);
    let b = &batches[0];
    let col = |name: &str| b.column(b.schema().index_of(name).unwrap()).clone();
    assert_eq!(col("small").as_primitive::<Int64Type>().value(0), 1);
    assert_eq!(
        col("big").as_primitive::<Int64Type>().value(0),
        9_000_000_000
    );
    assert_eq!(col("r").as_primitive::<Float32Type>().value(0), 1.5);
    assert_eq!(col("d").as_primitive::<Float64Type>().value(0), 0.1);
    // Through the digits: the same f64 as the text 12.34.
    assert_eq!(col("n").as_primitive::<Float64Type>().value(0), 12.34);
    assert_eq!(
        col("free").as_primitive::<Float64Type>().value(0),
        0.300_000_000_000_000_04
    );
    assert_eq!(col("t").as_string::<i32>().value(0), "x");
    // char(n) keeps its padding, which categories trim.
    assert_eq!(col("c").as_string::<i32>().value(0), "ab ");
    assert!(col("b").as_boolean().value(0));
    // 2024-03-31 is 19813 days after 1970-01-01.
    assert_eq!(col("day").as_primitive::<Date32Type>().value(0), 19_813);
    let at = col("at");
    assert_eq!(
        at.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    assert_eq!(
        at.as_primitive::<TimestampMicrosecondType>().value(0),
        (19_813 * 86_400 + 14 * 3600 + 5 * 60) * 1_000_000
    );
    let atz = col("atz");
    assert_eq!(
        atz.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC")))
    );
    // 2024-07-01 00:30 at +01 is 2024-06-30 23:30 UTC, whatever the session's zone.
    assert_eq!(
        atz.as_primitive::<TimestampMicrosecondType>().value(0),
        (19_904 * 86_400 + 23 * 3600 + 30 * 60) * 1_000_000
    );
    assert_eq!(
        col("u").as_string::<i32>().value(0),
        "00000000-0000-0000-0000-000000000001"
    );
    for name in [
        "small", "big", "r", "d", "n", "free", "t", "c", "b", "day", "at", "atz", "u",
    ] {
        assert!(col(name).is_null(1), "{name} row 2 is NULL (or NaN)");
    }
}

#[test]
fn a_query_is_read_in_batches_with_its_own_columns() {
    let Some(url) = server() else { return };
    let (batches, rows) = read(
        &url,
        Selection::Query(
            "SELECT g AS n, g * 0.5 AS half FROM generate_series(1, 150000) g ORDER BY g;".into(),
        ),
    )
    .unwrap();
    assert_eq!(rows, 150_000);
    assert!(batches.len() >= 3, "{} batches", batches.len());
    let last = batches.last().unwrap();
    let n = last.column(0).as_primitive::<Int64Type>();
    assert_eq!(n.value(n.len() - 1), 150_000);
    assert_eq!(
        last.column(1)
            .as_primitive::<Float64Type>()
            .value(n.len() - 1),
        75_000.0
    );
}

#[test]
fn errors_name_the_database_and_never_the_password() {
    let Some(url) = server() else { return };
    let password = url
        .split("://")
        .nth(1)
        .and_then(|s| s.split('@').next())
        .and_then(|s| s.split(':').nth(1))
        .unwrap()
        .to_owned();
    let missing = read(
        &url,
        Selection::Table(TableName::parse("no_such_table").unwrap()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        missing.contains("\"no_such_table\" does not exist"),
        "{missing}"
    );
    assert!(missing.contains(":***@"), "{missing}");
    let bad_query = read(&url, Selection::Query("SELEC 1".into()))
        .unwrap_err()
        .to_string();
    assert!(bad_query.contains("syntax error"), "{bad_query}");
    let wrong = url.replace(&format!(":{password}@"), ":not-the-password@");
    let wrong = read(&wrong, Selection::Query("SELECT 1".into()))
        .unwrap_err()
        .to_string();
    assert!(wrong.contains("password authentication failed"), "{wrong}");
    assert!(!wrong.contains("not-the-password"), "{wrong}");
    let dup = read(&url, Selection::Query("SELECT 1 AS a, 2 AS a".into()))
        .unwrap_err()
        .to_string();
    assert!(dup.contains("two columns are named 'a'"), "{dup}");
    for e in [&missing, &bad_query, &dup] {
        assert!(!e.contains(&password), "{e}");
    }
}

fn assignments(dir: &tempfile::TempDir, rows: &[(&str, u32, &str)]) -> std::path::PathBuf {
    let path = dir.path().join("assignments.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "id,segment,label,distance,boundary_ratio,ambiguous").unwrap();
    for (id, s, label) in rows {
        writeln!(f, "{id},{s},\"{label}\",1.5,0.5000,false").unwrap();
    }
    path
}

#[test]
fn write_back_swaps_the_table_and_records_who_moved() {
    let Some(url) = server() else { return };
    let mut c = client(&url);
    c.batch_execute("DROP TABLE IF EXISTS wb_segments, wb_segments_changes")
        .unwrap();
    let db = Database::parse(&url).unwrap();
    let table = TableName::parse("wb_segments").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = assignments(
        &dir,
        &[
            ("a", 0, "Big, spenders"),
            ("b", 1, "Small"),
            ("c", 1, "Small"),
        ],
    );
    let w = write_assignments(&db, &table, &first, "run-1").unwrap();
    assert_eq!((w.rows, w.entered, w.exited, w.replaced), (3, 3, 0, false));
    let second = assignments(
        &dir,
        &[
            ("a", 0, "Big, spenders"),
            ("b", 0, "Big, spenders"),
            ("d", 1, "Small"),
        ],
    );
    let w = write_assignments(&db, &table, &second, "run-2").unwrap();
    assert_eq!((w.rows, w.entered, w.exited, w.replaced), (3, 2, 2, true));
    let rows: Vec<(String, i32, String, String)> = c
        .query(
            "SELECT id, segment, label, run_id FROM wb_segments ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        rows,
        [
            ("a".into(), 0, "Big, spenders".into(), "run-2".into()),
            ("b".into(), 0, "Big, spenders".into(), "run-2".into()),
            ("d".into(), 1, "Small".into(), "run-2".into()),
        ]
    );
    let changes: Vec<(String, i32, String)> = c
        .query(
            "SELECT id, segment, change FROM wb_segments_changes WHERE run_id = 'run-2' ORDER BY id, change",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        changes,
        [
            ("b".into(), 0, "entered".into()),
            ("b".into(), 1, "exited".into()),
            ("c".into(), 1, "exited".into()),
            ("d".into(), 1, "entered".into()),
        ]
    );
    let (ambiguous, distance): (Option<bool>, Option<f64>) = c
        .query_one(
            "SELECT ambiguous, distance FROM wb_segments WHERE id = 'a'",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((ambiguous, distance), (Some(false), Some(1.5)));
}

#[test]
fn a_failed_write_back_leaves_the_previous_run_and_a_foreign_table_alone() {
    let Some(url) = server() else { return };
    let mut c = client(&url);
    c.batch_execute(
        "DROP TABLE IF EXISTS wf_segments, wf_segments_changes, wf_theirs;
         CREATE TABLE wf_theirs (customer text, score int); INSERT INTO wf_theirs VALUES ('x', 1);",
    )
    .unwrap();
    let db = Database::parse(&url).unwrap();
    let table = TableName::parse("wf_segments").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = assignments(&dir, &[("a", 0, "A"), ("b", 1, "B")]);
    write_assignments(&db, &table, &good, "run-1").unwrap();
    // A segment that is not a number fails in the COPY, after the new table was made.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "id,segment,label,distance,boundary_ratio,ambiguous\na,0,A,1,0.5,false\nb,oops,B,1,0.5,false\n",
    )
    .unwrap();
    let e = write_assignments(&db, &table, &bad, "run-2")
        .unwrap_err()
        .to_string();
    assert!(e.contains("nothing was changed"), "{e}");
    let runs: Vec<String> = c
        .query("SELECT DISTINCT run_id FROM wf_segments", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(runs, ["run-1"]);
    let changes: i64 = c
        .query_one("SELECT count(*) FROM wf_segments_changes", &[])
        .unwrap()
        .get(0);
    assert_eq!(changes, 2);
    let leftovers: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'wf_segments__strata%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(leftovers, 0);
    let e = write_assignments(&db, &TableName::parse("wf_theirs").unwrap(), &good, "run-3")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not one strata wrote"), "{e}");
    let theirs: i64 = c
        .query_one("SELECT count(*) FROM wf_theirs", &[])
        .unwrap()
        .get(0);
    assert_eq!(theirs, 1);
}
