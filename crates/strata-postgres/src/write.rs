//! A run's assignments written to a table, all or nothing, and what changed since the run
//! before written beside it.
//!
//! One transaction does everything: a new table is created and loaded (`COPY … FROM STDIN`
//! of the run's assignments as CSV: `assignments.csv` as it is, or the Parquet or Arrow
//! file's records as text), compared with the table it replaces, which is dropped, and
//! the new one takes its name. Until the commit, readers see the previous run whole; after
//! it, this one whole. A failure, or a process killed part way, rolls the transaction back on
//! the server and leaves everything as it was.
//!
//! The changes table (`NAME_changes`) gains a row per customer that entered a segment and per
//! customer that left one (`change` is `entered` or `exited`), with the run's id and time: the
//! shape reverse-ETL tools sync to CRMs and ad platforms as audience events. A segment is
//! known by its number, which a model keeps: `strata assign` with the same model compares
//! like with like, while a new fit may number its segments differently (each row carries the
//! label too).

use std::io::BufRead;
use std::path::Path;

use crate::names::{TableName, literal, quote};
use crate::{Database, PgError};

/// The columns `assignments.csv` can have, and their SQL types.
const COLUMNS: &[(&str, &str)] = &[
    ("id", "text NOT NULL"),
    ("segment", "integer NOT NULL"),
    ("label", "text NOT NULL"),
    ("distance", "double precision"),
    ("boundary_ratio", "double precision"),
    ("ambiguous", "boolean"),
    ("recency", "double precision"),
    ("frequency", "double precision"),
    ("monetary", "double precision"),
    ("r_score", "smallint"),
    ("f_score", "smallint"),
    ("m_score", "smallint"),
];

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Rows in the segments table.
    pub rows: u64,
    /// Customers who entered a segment, and who left one, since the table's previous run (every
    /// customer entered, on the first).
    pub entered: u64,
    /// See `entered`.
    pub exited: u64,
    /// Whether a previous run's table was replaced.
    pub replaced: bool,
    /// The changes table.
    pub changes_table: TableName,
}

/// Writes `assignments` (a run's `assignments.csv`, `.parquet` or `.arrows`) to `table` in
/// `database`, with `run_id` on every row, replacing the table's previous run atomically.
pub fn write_assignments(
    database: &Database,
    table: &TableName,
    assignments: &Path,
    run_id: &str,
) -> Result<Written, PgError> {
    let failed = |message: String| PgError::Write {
        database: database.shown().to_owned(),
        table: table.to_string(),
        message,
    };
    let (header, mut records) = csv_of(assignments)?;
    for name in &header {
        if !COLUMNS.iter().any(|(c, _)| c == name) {
            return Err(failed(format!(
                "{} has the column '{name}', which this version cannot write",
                assignments.display()
            )));
        }
    }
    let mut client = database.connect()?;
    let sql = |e: postgres::Error| failed(crate::server_message(&e));
    let mut tx = client.transaction().map_err(sql)?;
    // Another run writing the same table waits here for it to finish, instead of failing
    // half way through on a name taken.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&table.to_string()],
    )
    .map_err(sql)?;
    let existing = columns_of(&mut tx, table).map_err(sql)?;
    let replaced = match &existing {
        None => false,
        Some(cols) => {
            for needed in ["id", "segment", "label", "run_id"] {
                if !cols.iter().any(|c| c == needed) {
                    return Err(failed(format!(
                        "the table exists and has no '{needed}' column, so it is not one strata \
                         wrote; it was left alone (choose another --table, or drop it)"
                    )));
                }
            }
            true
        }
    };
    let load = table.sibling(&format!("{}__strata_load", table.name()));
    let mut create: Vec<String> = header
        .iter()
        .map(|name| {
            let ty = COLUMNS
                .iter()
                .find(|(c, _)| c == name)
                .map(|(_, t)| *t)
                .expect("checked above");
            format!("{} {ty}", quote(name))
        })
        .collect();
    create.push(format!("run_id text NOT NULL DEFAULT {}", literal(run_id)));
    tx.batch_execute(&format!(
        "DROP TABLE IF EXISTS {load}; CREATE TABLE {load} ({})",
        create.join(", "),
        load = load.sql()
    ))
    .map_err(sql)?;
    let list: Vec<String> = header.iter().map(|c| quote(c)).collect();
    {
        let mut w = tx
            .copy_in(&format!(
                "COPY {} ({}) FROM STDIN (FORMAT csv)",
                load.sql(),
                list.join(", ")
            ))
            .map_err(sql)?;
        std::io::copy(&mut records, &mut w)
            .map_err(|e| failed(format!("while sending {}: {e}", assignments.display())))?;
        w.finish().map_err(sql)?;
    }
    tx.batch_execute(&format!(
        "ALTER TABLE {} ALTER COLUMN run_id DROP DEFAULT",
        load.sql()
    ))
    .map_err(sql)?;
    let changes = table.sibling(&format!("{}_changes", table.name()));
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {} (id text NOT NULL, segment integer NOT NULL, \
         label text NOT NULL, change text NOT NULL, run_id text NOT NULL, \
         changed_at timestamptz NOT NULL)",
        changes.sql()
    ))
    .map_err(sql)?;
    let insert = |source: &str, other: &str, change: &str| {
        format!(
            "INSERT INTO {changes} (id, segment, label, change, run_id, changed_at) \
             SELECT s.id, s.segment, s.label, {change}, {run}, now() FROM {source} s \
             WHERE NOT EXISTS (SELECT 1 FROM {other} o WHERE o.id = s.id AND o.segment = s.segment)",
            changes = changes.sql(),
            change = literal(change),
            run = literal(run_id),
        )
    };
    let (entered, exited) = if replaced {
        let entered = tx
            .execute(&insert(&load.sql(), &table.sql(), "entered"), &[])
            .map_err(sql)?;
        let exited = tx
            .execute(&insert(&table.sql(), &load.sql(), "exited"), &[])
            .map_err(sql)?;
        tx.batch_execute(&format!("DROP TABLE {}", table.sql()))
            .map_err(sql)?;
        (entered, exited)
    } else {
        let entered = tx
            .execute(
                &format!(
                    "INSERT INTO {} (id, segment, label, change, run_id, changed_at) \
                     SELECT id, segment, label, 'entered', run_id, now() FROM {}",
                    changes.sql(),
                    load.sql()
                ),
                &[],
            )
            .map_err(sql)?;
        (entered, 0)
    };
    tx.batch_execute(&format!(
        "ALTER TABLE {} RENAME TO {}",
        load.sql(),
        quote(table.name())
    ))
    .map_err(sql)?;
    let rows: i64 = tx
        .query_one(&format!("SELECT count(*) FROM {}", table.sql()), &[])
        .and_then(|r| r.try_get(0))
        .map_err(sql)?;
    tx.commit().map_err(sql)?;
    Ok(Written {
        rows: rows as u64,
        entered,
        exited,
        replaced,
        changes_table: changes,
    })
}

/// The columns of `table`, or `None` when there is no such table.
fn columns_of(
    tx: &mut postgres::Transaction<'_>,
    table: &TableName,
) -> Result<Option<Vec<String>>, postgres::Error> {
    let rows = tx.query(
        "SELECT a.attname::text FROM pg_attribute a \
         WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
        &[&table.sql()],
    )?;
    let exists: Option<String> = tx
        .query_one("SELECT to_regclass($1)::text", &[&table.sql()])?
        .try_get(0)?;
    Ok(exists.map(|_| rows.iter().map(|r| r.get(0)).collect()))
}

/// The header record of an assignments file (which strata wrote: no quoted names), and its
/// records after it as CSV text: a CSV file's own bytes, a Parquet or Arrow file's records
/// rendered as text.
fn csv_of(path: &Path) -> Result<(Vec<String>, impl BufRead), PgError> {
    let io = |error| PgError::Io {
        path: path.to_owned(),
        error,
    };
    let (_, text) = strata_format::assignments::read_as_csv(path).map_err(io)?;
    let mut text = std::io::BufReader::with_capacity(1 << 20, text);
    let mut line = String::new();
    text.read_line(&mut line).map_err(io)?;
    Ok((
        line.trim_end().split(',').map(str::to_owned).collect(),
        text,
    ))
}
