//! PostgreSQL through the binary, against the real server `scripts/test.sh` starts (a
//! throwaway cluster, `scripts/pg-cluster.sh`, named by `STRATA_TEST_POSTGRES`): a table and a
//! query as input segment exactly as the same rows as CSV do; typed columns (NULL, numeric,
//! text, integer, date, timestamp) read as the CSV of them reads; assignments written back and
//! read again, with the membership changes; a failed or killed run leaves the previous table
//! intact; a wrong password, an unreachable server and a missing table each fail clearly, with
//! the password masked. Without the server a test returns early, saying so, unless
//! `STRATA_REQUIRE_POSTGRES` is set (the test script sets it once the server runs).

use std::path::Path;

use crate::util::*;

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

/// The URL's password (the test cluster's URL always has one).
fn password(url: &str) -> String {
    let userinfo = url.split("://").nth(1).unwrap().split('@').next().unwrap();
    userinfo.split(':').nth(1).unwrap().to_owned()
}

/// Creates `table` from `columns` (SQL) and loads `csv` (with a header) into it.
fn load(c: &mut postgres::Client, table: &str, columns: &str, csv: &[u8]) {
    c.batch_execute(&format!(
        "DROP TABLE IF EXISTS {table} CASCADE; CREATE TABLE {table} ({columns})"
    ))
    .unwrap();
    let mut w = c
        .copy_in(&format!(
            "COPY {table} FROM STDIN (FORMAT csv, HEADER true)"
        ))
        .unwrap();
    std::io::Write::write_all(&mut w, csv).unwrap();
    w.finish().unwrap();
}

/// `strata ARGS`, asserting success; returns stdout.
fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?} failed:\n{}", text(&o.stderr));
    text(&o.stdout)
}

/// `strata ARGS`, asserting a clear failure that mentions every needle and never `secret`.
fn refused(args: &[&str], needles: &[&str], secret: &str) -> String {
    let o = run(args);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?} should fail:\n{err}");
    assert!(!err.contains("panicked at"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in:\n{err}");
    }
    assert!(!err.contains(secret), "the password leaked:\n{err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const DEMOGRAPHIC: &str = "customer_id text, age integer, gender text, income numeric(8,1), \
     education text, marital_status text, region text, household_size integer";

#[test]
fn a_table_and_a_query_segment_as_the_same_rows_as_csv() {
    let Some(url) = server() else { return };
    let csv = repo().join("tests/fixtures/small_demographic.csv");
    let mut c = client(&url);
    load(
        &mut c,
        "e2e_demographic",
        DEMOGRAPHIC,
        &std::fs::read(&csv).unwrap(),
    );
    let fit = [
        "-s",
        "demographic",
        "--id-column",
        "customer_id",
        "--k",
        "3",
    ];
    let (_d, want, _) = fit_ok(&csv, &fit);
    let want_rows = std::fs::read(want.join("assignments.csv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inputs: [&[&str]; 3] = [
        &["--table", "e2e_demographic"],
        &[
            "--query",
            "SELECT * FROM e2e_demographic ORDER BY customer_id;",
        ],
        &["--table", "E2E_Demographic", "--stream", "always"],
    ];
    for (i, input) in inputs.iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        let mut args = vec!["fit", "--from", &url];
        args.extend_from_slice(input);
        args.extend_from_slice(&fit);
        args.extend_from_slice(&["--out", s(&out)]);
        ok(&args);
        assert!(
            std::fs::read(out.join("assignments.csv")).unwrap() == want_rows,
            "{input:?}: assignments differ from the CSV's"
        );
        let seg = json(&out.join("segments.json"));
        assert_eq!(seg["input"]["format"], "postgresql");
        let file = seg["input"]["file"].as_str().unwrap();
        assert!(file.contains(":***@"), "{file}");
        assert!(!file.contains(&password(&url)), "{file}");
        assert_eq!(
            json(&out.join("model.json"))["input"]["format"],
            "postgresql"
        );
    }
    // Scoring from the database gives the fit's assignments too.
    let scored = dir.path().join("scored");
    ok(&[
        "assign",
        "--model",
        s(&want.join("model.json")),
        "--from",
        &url,
        "--table",
        "e2e_demographic",
        "--out",
        s(&scored),
    ]);
    assert!(std::fs::read(scored.join("assignments.csv")).unwrap() == want_rows);
}

/// Behavioral customers with every type the issue names, and NULLs in each, as a table and as
/// the CSV `psql \copy` would write of it.
#[test]
fn typed_columns_and_nulls_read_as_their_csv_does() {
    let Some(url) = server() else { return };
    let mut rows = String::from("id,last_purchase,last_day,frequency,monetary,channel\n");
    for i in 0..120u32 {
        let day = 1 + (i * 7) % 28;
        let month = 1 + (i * 5) % 12;
        let nul = |every: u32, v: String| if i % every == 3 { String::new() } else { v };
        rows.push_str(&format!(
            "c{i:03},{},{},{},{},{}\n",
            nul(
                11,
                format!("2024-{month:02}-{day:02} {:02}:{:02}:00", i % 24, i % 60)
            ),
            nul(13, format!("2024-{month:02}-{day:02}")),
            nul(7, (1 + i % 9).to_string()),
            nul(5, format!("{}.{:02}", 10 + (i * 37) % 900, (i * 13) % 100)),
            nul(17, ["web", "store", "phone"][(i % 3) as usize].to_owned()),
        ));
    }
    let mut c = client(&url);
    load(
        &mut c,
        "e2e_behaviour",
        "id text, last_purchase timestamp, last_day date, frequency integer, \
         monetary numeric(10,2), channel text",
        rows.as_bytes(),
    );
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("behaviour.csv");
    std::fs::write(&csv, &rows).unwrap();
    for date_column in ["last_purchase", "last_day"] {
        let map = format!("last_purchase={date_column}");
        let fit = [
            "-s",
            "behavioral",
            "--id-column",
            "id",
            "--k",
            "3",
            "-m",
            &map,
            "-m",
            "frequency=frequency",
            "-m",
            "monetary=monetary",
            "-m",
            "channel=channel",
        ];
        let (_d, want, _) = fit_ok(&csv, &fit);
        let out = dir.path().join(date_column);
        let mut args = vec!["fit", "--from", &url, "--table", "e2e_behaviour"];
        args.extend_from_slice(&fit);
        args.extend_from_slice(&["--out", s(&out)]);
        ok(&args);
        assert_eq!(
            std::fs::read_to_string(out.join("assignments.csv")).unwrap(),
            std::fs::read_to_string(want.join("assignments.csv")).unwrap(),
            "bound to {date_column}"
        );
        let seg = json(&out.join("segments.json"));
        assert_eq!(
            seg["input"]["missing"],
            json(&want.join("segments.json"))["input"]["missing"]
        );
    }
}

/// Fits Mall_Customers (shared real data) from a query and writes the assignments back;
/// returns the run's folder.
fn fit_to_table(url: &str, dir: &Path, name: &str, table: &str) -> std::path::PathBuf {
    let out = dir.join(name);
    ok(&[
        "fit",
        "--from",
        url,
        "--query",
        "SELECT * FROM e2e_mall ORDER BY \"CustomerID\"",
        "-s",
        "features",
        "--id-column",
        "CustomerID",
        "-m",
        "features=Age,Annual Income (k$),Spending Score (1-100)",
        "--k",
        "5",
        "--out",
        s(&out),
        "--to",
        url,
        "--table",
        table,
    ]);
    out
}

fn load_mall(c: &mut postgres::Client) {
    let csv = std::fs::read(shared("mall_customers/Mall_Customers.csv")).unwrap();
    let csv: Vec<u8> = csv.into_iter().filter(|&b| b != b'\r').collect();
    load(
        c,
        "e2e_mall",
        "\"CustomerID\" text, \"Genre\" text, \"Age\" integer, \"Annual Income (k$)\" numeric, \
         \"Spending Score (1-100)\" integer",
        &csv,
    );
}

/// The table's rows as assignments.csv writes them (the columns it has), in id order.
fn table_rows(c: &mut postgres::Client, table: &str) -> Vec<Vec<String>> {
    c.query(
        &format!(
            "SELECT id, segment::text, label, distance::text, boundary_ratio::text, \
             ambiguous::text, run_id FROM {table} ORDER BY id"
        ),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (0..7).map(|i| r.get::<_, String>(i)).collect())
    .collect()
}

#[test]
fn assignments_written_back_read_again_and_moves_are_recorded() {
    let Some(url) = server() else { return };
    let mut c = client(&url);
    load_mall(&mut c);
    c.batch_execute("DROP TABLE IF EXISTS e2e_segments, e2e_segments_changes")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = fit_to_table(&url, dir.path(), "first", "e2e_segments");
    let mut file = read_csv(&out.join("assignments.csv"));
    file.remove(0);
    file.sort();
    let rows = table_rows(&mut c, "e2e_segments");
    assert_eq!(rows.len(), 200);
    let run_id = rows[0][6].clone();
    for (r, f) in rows.iter().zip(&file) {
        assert_eq!(r[0], f[0]);
        assert_eq!(r[1], f[1]);
        assert_eq!(r[2], f[2]);
        // Shortest f32 digits read back as a double: the same number.
        assert_eq!(
            r[3].parse::<f32>().unwrap(),
            f[3].parse::<f32>().unwrap(),
            "{r:?} {f:?}"
        );
        assert_eq!(r[4].parse::<f64>().unwrap(), f[4].parse::<f64>().unwrap());
        assert_eq!(r[5], if f[5] == "true" { "true" } else { "false" });
        assert_eq!(r[6], run_id, "one run id on every row");
    }
    let entered: i64 = c
        .query_one(
            "SELECT count(*) FROM e2e_segments_changes WHERE change = 'entered'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(entered, 200, "on the first run every customer entered");

    // The written table is an input like any other: score it with the model and write the
    // result to the same table, from assignments kept as Parquet this time. Same model, same
    // customers: nobody moved.
    let scored = dir.path().join("scored");
    let stdout = ok(&[
        "assign",
        "--model",
        s(&out.join("model.json")),
        "--from",
        &url,
        "--query",
        "SELECT * FROM e2e_mall",
        "--format",
        "parquet",
        "--out",
        s(&scored),
        // Without --to: written where the input is.
        "--to-table",
        "e2e_segments",
    ]);
    assert!(
        stdout.contains("0 entered a segment, 0 left one"),
        "{stdout}"
    );
    assert!(scored.join("assignments.parquet").is_file());
    let again = table_rows(&mut c, "e2e_segments");
    assert_eq!(again.len(), 200);
    assert_ne!(again[0][6], run_id, "the new run's id");
    for (r, f) in again.iter().zip(&file) {
        assert_eq!(r[..3], f[..3], "from Parquet");
        assert_eq!(r[3].parse::<f32>().unwrap(), f[3].parse::<f32>().unwrap());
        assert_eq!(r[5], if f[5] == "true" { "true" } else { "false" });
    }

    // Customers who change segment show as one exit and one entry each.
    c.batch_execute(
        "UPDATE e2e_mall SET \"Spending Score (1-100)\" = 100 - \"Spending Score (1-100)\" \
         WHERE \"CustomerID\" <= '0040'",
    )
    .unwrap();
    let moved = ok(&[
        "assign",
        "--model",
        s(&out.join("model.json")),
        "--from",
        &url,
        "--table",
        "e2e_mall",
        "--out",
        s(&dir.path().join("moved")),
        "--to",
        &url,
        "--to-table",
        "e2e_segments",
    ]);
    let counts: Vec<(String, i64)> = c
        .query(
            "SELECT change, count(*) FROM e2e_segments_changes WHERE run_id = \
             (SELECT run_id FROM e2e_segments LIMIT 1) GROUP BY change ORDER BY change",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(counts.len(), 2, "{moved}");
    assert_eq!(counts[0].1, counts[1].1);
    assert!(counts[0].1 > 0 && counts[0].1 <= 40, "{counts:?}");
    assert!(
        moved.contains(&format!(
            "{} entered a segment, {} left one",
            counts[0].1, counts[0].1
        )),
        "{moved}"
    );
}

#[test]
fn a_failed_or_killed_run_leaves_the_previous_table_intact() {
    let Some(url) = server() else { return };
    let mut c = client(&url);
    load_mall(&mut c);
    c.batch_execute("DROP TABLE IF EXISTS e2e_kept, e2e_kept_changes")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    fit_to_table(&url, dir.path(), "first", "e2e_kept");
    let before = table_rows(&mut c, "e2e_kept");
    let changes = |c: &mut postgres::Client| -> i64 {
        c.query_one("SELECT count(*) FROM e2e_kept_changes", &[])
            .unwrap()
            .get(0)
    };
    let changes_before = changes(&mut c);

    // A bad column: the fit fails before anything is written anywhere.
    let bad_out = dir.path().join("bad");
    refused(
        &[
            "fit",
            "--from",
            &url,
            "--table",
            "e2e_mall",
            "-s",
            "features",
            "--id-column",
            "CustomerID",
            "-m",
            "features=Age,Income",
            "--out",
            s(&bad_out),
            "--to",
            &url,
            "--to-table",
            "e2e_kept",
        ],
        &["Income"],
        &password(&url),
    );
    assert!(!bad_out.exists());
    assert_eq!(table_rows(&mut c, "e2e_kept"), before);

    // Killed while the write-back waits on a reader's lock: the server rolls it back.
    let mut reader = client(&url);
    let mut lock = reader.transaction().unwrap();
    lock.batch_execute("LOCK TABLE e2e_kept IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let mut child = strata()
        .args([
            "fit",
            "--from",
            &url,
            "--table",
            "e2e_mall",
            "-s",
            "features",
            "--id-column",
            "CustomerID",
            "-m",
            "features=Age,Annual Income (k$)",
            "--k",
            "3",
            "--out",
            s(&dir.path().join("killed")),
            "--to",
            &url,
            "--to-table",
            "e2e_kept",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let waiting = (0..600).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'strata' \
                 AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0);
        n > 0
    });
    assert!(waiting, "the write-back never reached the locked table");
    child.kill().unwrap();
    child.wait().unwrap();
    lock.rollback().unwrap();
    // The server notices the closed connection and rolls its transaction back.
    let gone = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'strata'",
                &[],
            )
            .unwrap()
            .get(0);
        n == 0
    });
    assert!(gone, "the killed run's session is still open");
    assert_eq!(table_rows(&mut c, "e2e_kept"), before);
    assert_eq!(changes(&mut c), changes_before);
    let leftovers: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'e2e_kept\\_\\_%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(leftovers, 0);
}

#[test]
fn bad_credentials_servers_and_tables_fail_clearly_with_the_password_masked() {
    let Some(url) = server() else { return };
    let secret = password(&url);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let fit = |from: &str, table: &str| {
        vec![
            "fit".to_owned(),
            "--from".into(),
            from.into(),
            "--table".into(),
            table.into(),
            "-s".into(),
            "features".into(),
            "--out".into(),
            s(&out).into(),
        ]
    };
    let wrong = url.replace(&format!(":{secret}@"), ":Wrong-Passw0rd@");
    let e = refused(
        &strs(&fit(&wrong, "e2e_mall")),
        &[
            "cannot connect to postgresql://strata:***@",
            "password authentication failed",
        ],
        &secret,
    );
    assert!(!e.contains("Wrong-Passw0rd"), "{e}");
    // Nothing listens on port 1.
    refused(
        &strs(&fit(
            "postgresql://strata:Wrong-Passw0rd@127.0.0.1:1/strata",
            "e2e_mall",
        )),
        &["cannot connect to postgresql://strata:***@127.0.0.1:1/strata"],
        "Wrong-Passw0rd",
    );
    refused(
        &strs(&fit(&url, "no_such_table")),
        &[
            "cannot read table \"no_such_table\"",
            "does not exist",
            ":***@",
        ],
        &secret,
    );
    refused(
        &strs(&fit(&url, "bad;name")),
        &["--table", "bad table name"],
        &secret,
    );
    refused(
        &["fit", "--from", &url, "-s", "features", "--out", s(&out)],
        &["--from needs --table NAME or --query"],
        &secret,
    );
    assert!(!out.exists(), "no output may be written on error");
}

/// Borrows owned arguments as the `&str`s the runner takes.
fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `export-sql --dialect postgresql` run on the server gives every customer the segment
/// `strata assign` gives (a row may differ only where its two nearest centroids tie within
/// float rounding; none does here), for the demographic strategy with log-scaled income,
/// one-hot categories and imputed missing values.
#[test]
fn exported_sql_scores_in_postgresql_as_assign_does() {
    let Some(url) = server() else { return };
    let mut c = client(&url);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("customers.csv");
    synth_to(&csv, "demographic", 20_000, 31);
    load(
        &mut c,
        "strata_sql_customers",
        DEMOGRAPHIC,
        &std::fs::read(&csv).unwrap(),
    );
    let (_f, fit, _) = fit_ok(
        &csv,
        &[
            "-s",
            "demographic",
            "--k",
            "5",
            "--id-column",
            "customer_id",
        ],
    );
    let model = fit.join("model.json");
    let scored = dir.path().join("scored");
    ok(&["assign", "--model", s(&model), s(&csv), "-o", s(&scored)]);
    let sql = ok(&[
        "export-sql",
        "--model",
        s(&model),
        "--dialect",
        "postgresql",
        "--table",
        "strata_sql_customers",
    ]);
    let rows = c.query(sql.as_str(), &[]).unwrap();
    assert_eq!(rows.len(), 20_000);
    let got: std::collections::HashMap<String, (i32, String)> = rows
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                (r.get::<_, i32>(1), r.get::<_, String>(2)),
            )
        })
        .collect();
    let want = read_csv(&scored.join("assignments.csv"));
    let mut differ = 0;
    for r in &want[1..] {
        let (segment, label) = &got[&r[0]];
        if segment.to_string() != r[1] {
            let ratio: f64 = r[4].parse().unwrap();
            assert!(ratio > 1.0 - 1e-5, "customer {} is no tie: {r:?}", r[0]);
            differ += 1;
        } else {
            assert_eq!(label, &r[2]);
        }
    }
    assert_eq!(differ, 0, "every customer scored as assign does");
}

/// segment_rules.sql run as it is in PostgreSQL (its table renamed) selects, per segment,
/// exactly the customers segments.json says the rule catches, and as many of the segment's:
/// numeric ranges, categories and missing values (NULL) read as Strata reads them.
#[test]
fn segment_rules_sql_selects_in_postgresql_what_the_rules_say() {
    let Some(url) = server() else { return };
    let mut c = client(&url);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("customers.csv");
    synth_to(&csv, "demographic", 5_000, 12);
    load(
        &mut c,
        "strata_rules_customers",
        DEMOGRAPHIC,
        &std::fs::read(&csv).unwrap(),
    );
    let (_d, out, _) = fit_ok(
        &csv,
        &[
            "-s",
            "demographic",
            "--id-column",
            "customer_id",
            "--k",
            "5",
            "--rules",
        ],
    );
    let sql = std::fs::read_to_string(out.join("segment_rules.sql")).unwrap();
    let statements: Vec<&str> = sql
        .split(';')
        .map(str::trim)
        .filter(|s| s.contains("SELECT"))
        .collect();
    let seg = json(&out.join("segments.json"));
    assert_eq!(statements.len(), seg["k"].as_u64().unwrap() as usize);
    let segment_of: std::collections::HashMap<String, String> =
        read_csv(&out.join("assignments.csv"))[1..]
            .iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
    let mut segments: Vec<serde_json::Value> = seg["segments"].as_array().unwrap().clone();
    segments.sort_by_key(|s| s["segment"].as_u64());
    for (s, statement) in segments.iter().zip(&statements) {
        let query = statement.replace("FROM customers", "FROM strata_rules_customers");
        let rows = c.query(query.as_str(), &[]).unwrap();
        let ids: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
        let number = s["segment"].as_u64().unwrap().to_string();
        let inside = ids.iter().filter(|id| segment_of[*id] == number).count();
        assert_eq!(
            ids.len() as u64,
            s["rule"]["caught"].as_u64().unwrap(),
            "{query}"
        );
        assert_eq!(
            inside as u64,
            s["rule"]["caught_in_segment"].as_u64().unwrap(),
            "{query}"
        );
    }
    assert!(
        sql.contains(" = '") || sql.contains(" <> '"),
        "some rule tests a category:\n{sql}"
    );
}
