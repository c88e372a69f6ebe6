//! A table or query read into an Arrow IPC file: one binary `COPY … TO STDOUT`, decoded a
//! batch of rows at a time into typed Arrow columns and written out, so memory holds one
//! batch whatever the row count.
//!
//! Why a spool and not a source the pipeline pulls from: a fit reads its input more than once
//! when it streams (a sample, the features pass, the profiles), and every pass must see the
//! same rows. The spool is one consistent snapshot (a single statement), read from the server
//! once, quickly, without holding a transaction open for the length of a fit; the pipeline
//! then reads it as it reads any Arrow file.
//!
//! Types come from the result's columns: `boolean`; `smallint`, `integer`, `bigint` as 64-bit
//! integers; `real` and `double precision` as floats; `numeric` through its exact digits (the
//! same f64 as the CSV text of the value); `date`; `timestamp` and `timestamptz` (UTC) in
//! microseconds; text types as text; any other type as its text form (`uuid`, `json`, enums…).
//! NULL is missing.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{FromSql, Type};

use crate::names::{TableName, quote};
use crate::{Database, PgError};

/// Rows decoded before they are written out as one record batch.
const BATCH_ROWS: usize = 1 << 16;

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// What to read: a whole table, or the rows of a query.
#[derive(Debug, Clone)]
pub enum Selection {
    /// `--table NAME`.
    Table(TableName),
    /// `--query "SELECT …"`.
    Query(String),
}

impl Selection {
    /// The rows as a `SELECT` that can stand in a `FROM` clause.
    fn select(&self) -> Result<String, PgError> {
        match self {
            Selection::Table(t) => Ok(format!("SELECT * FROM {}", t.sql())),
            Selection::Query(q) => {
                let q = q
                    .trim()
                    .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
                if q.is_empty() {
                    return Err(PgError::Query {
                        message: "--query is empty".into(),
                    });
                }
                Ok(q.to_owned())
            }
        }
    }

    /// The selection in messages: `table "segments"` or `the query`.
    pub fn describe(&self) -> String {
        match self {
            Selection::Table(t) => format!("table {t}"),
            Selection::Query(_) => "the query".into(),
        }
    }
}

/// What was read.
#[derive(Debug, Clone)]
pub struct Spooled {
    /// Rows read.
    pub rows: u64,
    /// The columns, in the result's order.
    pub columns: Vec<String>,
}

/// How a column's values travel and land.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Decode {
    Bool,
    /// Every integer width, cast to `bigint` by the server.
    Int,
    Float4,
    Float8,
    /// `numeric`, sent as text and parsed as the CSV reader parses a field.
    Numeric,
    Date,
    Timestamp {
        utc: bool,
    },
    /// Text, and every other type as its text form.
    Text,
}

impl Decode {
    fn of(ty: &Type) -> Decode {
        match *ty {
            Type::BOOL => Decode::Bool,
            Type::INT2 | Type::INT4 | Type::INT8 => Decode::Int,
            Type::FLOAT4 => Decode::Float4,
            Type::FLOAT8 => Decode::Float8,
            Type::NUMERIC => Decode::Numeric,
            Type::DATE => Decode::Date,
            Type::TIMESTAMP => Decode::Timestamp { utc: false },
            Type::TIMESTAMPTZ => Decode::Timestamp { utc: true },
            _ => Decode::Text,
        }
    }

    /// The column in the `COPY`'s select list, and the type it arrives as.
    fn select(self, column: &str, ty: &Type) -> (String, Type) {
        let c = format!("strata_input.{}", quote(column));
        match self {
            Decode::Int => (format!("{c}::int8"), Type::INT8),
            Decode::Numeric => (format!("{c}::text"), Type::TEXT),
            Decode::Text if !is_text(ty) => (format!("{c}::text"), Type::TEXT),
            _ => (c, ty.clone()),
        }
    }

    fn data_type(self) -> DataType {
        match self {
            Decode::Bool => DataType::Boolean,
            Decode::Int => DataType::Int64,
            Decode::Float4 => DataType::Float32,
            Decode::Float8 | Decode::Numeric => DataType::Float64,
            Decode::Date => DataType::Date32,
            Decode::Timestamp { utc } => {
                DataType::Timestamp(TimeUnit::Microsecond, utc.then(|| "UTC".into()))
            }
            Decode::Text => DataType::Utf8,
        }
    }
}

fn is_text(ty: &Type) -> bool {
    matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME)
}

/// A `date` as PostgreSQL sends it: days since 2000-01-01.
struct PgDate(i32);

impl<'a> FromSql<'a> for PgDate {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> Result<PgDate, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgDate(i32::from_be_bytes(raw.try_into()?)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }
}

/// A `timestamp` or `timestamptz`: microseconds since 2000-01-01 (UTC for `timestamptz`).
struct PgTimestamp(i64);

impl<'a> FromSql<'a> for PgTimestamp {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> Result<PgTimestamp, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgTimestamp(i64::from_be_bytes(raw.try_into()?)))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::TIMESTAMP | Type::TIMESTAMPTZ)
    }
}

/// One column's values being gathered.
enum Column {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float4(Float32Builder),
    Float8(Float64Builder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder, bool),
    Text(StringBuilder),
}

impl Column {
    fn new(decode: Decode) -> Column {
        match decode {
            Decode::Bool => Column::Bool(BooleanBuilder::with_capacity(BATCH_ROWS)),
            Decode::Int => Column::Int(Int64Builder::with_capacity(BATCH_ROWS)),
            Decode::Float4 => Column::Float4(Float32Builder::with_capacity(BATCH_ROWS)),
            Decode::Float8 | Decode::Numeric => {
                Column::Float8(Float64Builder::with_capacity(BATCH_ROWS))
            }
            Decode::Date => Column::Date(Date32Builder::with_capacity(BATCH_ROWS)),
            Decode::Timestamp { utc } => {
                Column::Timestamp(TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS), utc)
            }
            Decode::Text => Column::Text(StringBuilder::with_capacity(BATCH_ROWS, 16 * BATCH_ROWS)),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Bool(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Float4(b) => Arc::new(b.finish()),
            Column::Float8(b) => Arc::new(b.finish()),
            Column::Date(b) => Arc::new(b.finish()),
            Column::Timestamp(b, utc) => {
                let a = b.finish();
                Arc::new(if *utc { a.with_timezone("UTC") } else { a })
            }
            Column::Text(b) => Arc::new(b.finish()),
        }
    }
}

/// A value the spool cannot hold, before the row and column are known.
type Bad = String;

/// Appends row `row`'s value of column `i`.
fn push(
    column: &mut Column,
    decode: Decode,
    row: &postgres::binary_copy::BinaryCopyOutRow,
    i: usize,
) -> Result<(), Bad> {
    let pg = |e: postgres::Error| e.to_string();
    match column {
        Column::Bool(b) => b.append_option(row.try_get::<Option<bool>>(i).map_err(pg)?),
        Column::Int(b) => b.append_option(row.try_get::<Option<i64>>(i).map_err(pg)?),
        Column::Float4(b) => b.append_option(row.try_get::<Option<f32>>(i).map_err(pg)?),
        Column::Float8(b) if decode == Decode::Numeric => {
            match row.try_get::<Option<&str>>(i).map_err(pg)? {
                None => b.append_null(),
                Some(text) => match strata_ingest::parse_number(text.as_bytes()) {
                    Some(v) => b.append_value(v),
                    // NaN: missing, as the CSV reader takes it.
                    None if text == "NaN" => b.append_null(),
                    None => return Err(format!("the numeric value {text} is not a finite number")),
                },
            }
        }
        Column::Float8(b) => b.append_option(row.try_get::<Option<f64>>(i).map_err(pg)?),
        Column::Date(b) => match row.try_get::<Option<PgDate>>(i).map_err(pg)? {
            None => b.append_null(),
            Some(PgDate(d)) if d == i32::MAX || d == i32::MIN => {
                return Err("the date is infinite".into());
            }
            Some(PgDate(d)) => b.append_value(d + PG_EPOCH_DAYS),
        },
        Column::Timestamp(b, _) => match row.try_get::<Option<PgTimestamp>>(i).map_err(pg)? {
            None => b.append_null(),
            Some(PgTimestamp(t)) if t == i64::MAX || t == i64::MIN => {
                return Err("the timestamp is infinite".into());
            }
            Some(PgTimestamp(t)) => b.append_value(t + PG_EPOCH_MICROS),
        },
        Column::Text(b) => b.append_option(row.try_get::<Option<&str>>(i).map_err(pg)?),
    }
    Ok(())
}

/// Reads `selection` from `database` into `out` as an Arrow IPC file; `progress` is told the
/// rows read after every batch.
pub fn spool(
    database: &Database,
    selection: &Selection,
    out: impl Write,
    mut progress: impl FnMut(u64),
) -> Result<Spooled, PgError> {
    let select = selection.select()?;
    let mut client = database.connect()?;
    let failed = |message: String| PgError::Read {
        database: database.shown().to_owned(),
        what: selection.describe(),
        message,
    };
    // Preparing it (never run) gives the result's columns and types, and the server's own
    // message for a missing table or a mistyped query.
    let statement = client
        .prepare(&format!("SELECT * FROM ({select}) AS strata_input"))
        .map_err(|e| failed(crate::server_message(&e)))?;
    let columns: Vec<(String, Type)> = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), c.type_().clone()))
        .collect();
    if columns.is_empty() {
        return Err(failed("it has no columns".into()));
    }
    for (i, (name, _)) in columns.iter().enumerate() {
        if columns[..i].iter().any(|(n, _)| n == name) {
            return Err(failed(format!(
                "two columns are named '{name}'; give them distinct names (SELECT a.id AS a_id, …)"
            )));
        }
    }
    let decodes: Vec<Decode> = columns.iter().map(|(_, t)| Decode::of(t)).collect();
    let (list, types): (Vec<String>, Vec<Type>) = columns
        .iter()
        .zip(&decodes)
        .map(|((name, ty), d)| d.select(name, ty))
        .unzip();
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .zip(&decodes)
            .map(|((name, _), d)| Field::new(name, d.data_type(), true))
            .collect::<Vec<_>>(),
    ));
    let copy = format!(
        "COPY (SELECT {} FROM ({select}) AS strata_input) TO STDOUT (FORMAT binary)",
        list.join(", ")
    );
    let reader = client
        .copy_out(copy.as_str())
        .map_err(|e| failed(crate::server_message(&e)))?;
    let mut rows = postgres::binary_copy::BinaryCopyOutIter::new(reader, &types);
    let spool_error = |e: arrow_schema::ArrowError| PgError::Spool {
        message: e.to_string(),
    };
    let mut writer = arrow_ipc::writer::FileWriter::try_new(out, &schema).map_err(spool_error)?;
    let mut builders: Vec<Column> = decodes.iter().map(|&d| Column::new(d)).collect();
    let mut read = 0u64;
    let mut in_batch = 0usize;
    let flush = |builders: &mut Vec<Column>,
                 writer: &mut arrow_ipc::writer::FileWriter<_>|
     -> Result<(), PgError> {
        let arrays: Vec<ArrayRef> = builders.iter_mut().map(Column::finish).collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(spool_error)?;
        writer.write(&batch).map_err(spool_error)
    };
    while let Some(row) = rows.next().map_err(|e| failed(crate::server_message(&e)))? {
        for (i, (b, &d)) in builders.iter_mut().zip(&decodes).enumerate() {
            push(b, d, &row, i).map_err(|message| PgError::Value {
                database: database.shown().to_owned(),
                what: selection.describe(),
                row: read + 1,
                column: columns[i].0.clone(),
                message,
            })?;
        }
        read += 1;
        in_batch += 1;
        if in_batch == BATCH_ROWS {
            flush(&mut builders, &mut writer)?;
            in_batch = 0;
            progress(read);
        }
    }
    if in_batch > 0 || read == 0 {
        flush(&mut builders, &mut writer)?;
    }
    writer.finish().map_err(spool_error)?;
    progress(read);
    Ok(Spooled {
        rows: read,
        columns: columns.into_iter().map(|(n, _)| n).collect(),
    })
}
