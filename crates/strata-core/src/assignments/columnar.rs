//! The assignments as typed columns: `assignments.parquet` (Snappy-compressed row groups of
//! up to a million rows) and `assignments.arrows` (an Arrow IPC stream, what `--out -`
//! writes for a pipe into Arrow readers). The columns are the CSV's, in its order, typed:
//!
//! | column | type |
//! |---|---|
//! | `id` | `int64` when the input typed its id column as integers (or there was none: row numbers; a null id stays null), `utf8` otherwise and for pseudonyms |
//! | `segment` | `int32` |
//! | `label` | `dictionary<int32, utf8>`: the segment's label |
//! | `distance` | `float32`, the value the CSV prints in shortest form; null without k-means |
//! | `boundary_ratio` | `float32`, unrounded (the CSV prints 4 decimals); null without k-means |
//! | `ambiguous` | `bool`; null without k-means |
//! | `recency`, `frequency`, `monetary` | `float64`, unrounded (the CSV prints 2 decimals); null when missing |
//! | `r_score`, `f_score`, `m_score` | `int16` |
//!
//! Signed types throughout: Spark and several warehouses have no unsigned integers.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int16Array, Int32Array,
    Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use strata_format::assignments::{AssignmentsFormat, COLUMNS, RFM_COLUMNS, VALUE_COLUMNS};
use strata_ingest::IdColumn;

use super::{AssignmentRows, Shape};
use crate::describe::boundary_ratio;

/// Rows in a record batch: a Parquet page's worth of work for each column, and few enough
/// that a batch's text ids stay far below the 2 GiB a `utf8` array can address.
const BATCH_ROWS: usize = 1 << 16;

/// Rows in a Parquet row group: the unit a reader (Spark, pyarrow, Strata) reads in parallel.
const ROW_GROUP_ROWS: usize = 1 << 20;

/// The Arrow schema of the assignments of `shape`.
pub(super) fn schema(shape: Shape) -> SchemaRef {
    let id_type = if shape.integer_ids {
        DataType::Int64
    } else {
        DataType::Utf8
    };
    let types = [
        (id_type, shape.integer_ids),
        (DataType::Int32, false),
        (
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
        (DataType::Float32, true),
        (DataType::Float32, true),
        (DataType::Boolean, true),
    ];
    let mut fields: Vec<Field> = COLUMNS
        .iter()
        .zip(types)
        .map(|(name, (t, nullable))| Field::new(*name, t, nullable))
        .collect();
    if shape.rfm {
        for (i, name) in RFM_COLUMNS.iter().enumerate() {
            fields.push(if i < 3 {
                Field::new(*name, DataType::Float64, true)
            } else {
                Field::new(*name, DataType::Int16, false)
            });
        }
    }
    for name in &VALUE_COLUMNS[..shape.value] {
        fields.push(Field::new(*name, DataType::Float64, false));
    }
    Arc::new(Schema::new(fields))
}

/// A typed assignments file being written.
pub(crate) struct Writer<W: Write + Send> {
    schema: SchemaRef,
    sink: Sink<W>,
}

enum Sink<W: Write + Send> {
    Parquet(Box<ParquetSink<W>>),
    Arrow(Box<arrow_ipc::writer::StreamWriter<W>>),
}

/// A Parquet file written a row group at a time, each row group's columns encoded in
/// parallel (`ArrowWriter` encodes them one after another: most of the output stage).
struct ParquetSink<W: Write + Send> {
    file: SerializedFileWriter<W>,
    columns: ArrowRowGroupWriterFactory,
    /// Batches of the row group being gathered, and their rows.
    pending: Vec<RecordBatch>,
    rows: usize,
    groups: usize,
    /// Rows that close a row group ([`ROW_GROUP_ROWS`]; fewer in tests).
    group_rows: usize,
}

impl<W: Write + Send> ParquetSink<W> {
    /// Gathers `batch`, closing a row group each time `group_rows` rows are gathered (a
    /// batch that crosses the boundary is split there).
    fn write(&mut self, batch: &RecordBatch) -> parquet::errors::Result<()> {
        let mut rest = batch.clone();
        while rest.num_rows() > 0 {
            let take = rest.num_rows().min(self.group_rows - self.rows);
            self.pending.push(rest.slice(0, take));
            self.rows += take;
            rest = rest.slice(take, rest.num_rows() - take);
            if self.rows == self.group_rows {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Encodes the gathered batches as one row group, a rayon task per column, and appends
    /// it to the file in column order.
    fn flush(&mut self) -> parquet::errors::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batches = std::mem::take(&mut self.pending);
        self.rows = 0;
        let schema = batches[0].schema();
        let writers = self.columns.create_column_writers(self.groups)?;
        // One leaf per field: the schema has no nested column.
        let chunks = writers
            .into_par_iter()
            .enumerate()
            .map(|(j, mut w)| {
                for b in &batches {
                    for leaf in compute_leaves(schema.field(j), b.column(j))? {
                        w.write(&leaf)?;
                    }
                }
                w.close()
            })
            .collect::<parquet::errors::Result<Vec<_>>>()?;
        let mut group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
        self.groups += 1;
        Ok(())
    }
}

fn io(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> std::io::Error {
    std::io::Error::other(e)
}

impl<W: Write + Send> Writer<W> {
    pub(super) fn new(format: AssignmentsFormat, shape: Shape, w: W) -> std::io::Result<Self> {
        let schema = schema(shape);
        let sink = match format {
            AssignmentsFormat::Parquet => {
                // Dictionary pages only where values repeat (segment, label, the RFM scores):
                // for ids, distances and ratios the encoder would build a hash table of every
                // value only to fall back to plain pages.
                let mut props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                    .set_created_by(format!("strata {}", env!("CARGO_PKG_VERSION")));
                for column in [
                    "id",
                    "distance",
                    "boundary_ratio",
                    "recency",
                    "frequency",
                    "monetary",
                ] {
                    props = props.set_column_dictionary_enabled(ColumnPath::from(column), false);
                }
                let props = props.build();
                // The Arrow writer lays out the file (schema, its Arrow form in the footer's
                // metadata) and hands over its parts for the parallel row groups.
                let (file, columns) = ArrowWriter::try_new(w, schema.clone(), Some(props))
                    .and_then(ArrowWriter::into_serialized_writer)
                    .map_err(io)?;
                Sink::Parquet(Box::new(ParquetSink {
                    file,
                    columns,
                    pending: Vec::new(),
                    rows: 0,
                    groups: 0,
                    group_rows: ROW_GROUP_ROWS,
                }))
            }
            AssignmentsFormat::Arrow => Sink::Arrow(Box::new(
                arrow_ipc::writer::StreamWriter::try_new(w, &schema).map_err(io)?,
            )),
            AssignmentsFormat::Csv => unreachable!("CSV is written by the text writer"),
        };
        Ok(Writer { schema, sink })
    }

    /// Appends `rows`: record batches built in parallel, a round at a time, written in order.
    pub(super) fn write(&mut self, rows: &AssignmentRows<'_>) -> std::io::Result<()> {
        let schema = self.schema.clone();
        let n = rows.segments.len();
        let labels: ArrayRef = Arc::new(StringArray::from_iter_values(rows.labels.iter()));
        let round = BATCH_ROWS * 2 * rayon::current_num_threads();
        for first in (0..n).step_by(round.max(1)) {
            let last = (first + round).min(n);
            let starts: Vec<usize> = (first..last).step_by(BATCH_ROWS).collect();
            let batches = starts
                .into_par_iter()
                .map(|s| batch(rows, &schema, &labels, s..(s + BATCH_ROWS).min(last)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(io)?;
            for b in &batches {
                match &mut self.sink {
                    Sink::Parquet(w) => w.write(b).map_err(io)?,
                    Sink::Arrow(w) => w.write(b).map_err(io)?,
                }
            }
        }
        Ok(())
    }

    /// Writes the footer (Parquet) or the end-of-stream marker (Arrow).
    pub(super) fn finish(self) -> std::io::Result<()> {
        match self.sink {
            Sink::Parquet(mut w) => {
                w.flush().map_err(io)?;
                w.file.into_inner().map_err(io)?.flush()
            }
            Sink::Arrow(mut w) => {
                w.finish().map_err(io)?;
                w.get_mut().flush()
            }
        }
    }
}

/// The record batch of rows `range`.
fn batch(
    rows: &AssignmentRows<'_>,
    schema: &SchemaRef,
    labels: &ArrayRef,
    range: std::ops::Range<usize>,
) -> Result<RecordBatch, ArrowError> {
    let segments: Int32Array = rows.segments[range.clone()]
        .iter()
        .map(|&s| s as i32)
        .collect();
    let mut columns: Vec<ArrayRef> = vec![
        ids(rows, schema.field(0).data_type(), range.clone())?,
        Arc::new(segments.clone()),
        Arc::new(DictionaryArray::try_new(segments, labels.clone())?),
    ];
    match rows.sq_distances {
        Some((near, second)) => {
            let distance: Float32Array = near[range.clone()]
                .iter()
                .map(|&d| d.max(0.0).sqrt())
                .collect();
            let ratio: Float32Array = range
                .clone()
                .map(|i| boundary_ratio(near[i], second[i]))
                .collect();
            let ambiguous: BooleanArray = ratio
                .values()
                .iter()
                .map(|&r| Some(f64::from(r) > rows.threshold))
                .collect();
            columns.extend([
                Arc::new(distance) as ArrayRef,
                Arc::new(ratio),
                Arc::new(ambiguous),
            ]);
        }
        None => {
            let len = range.len();
            columns.extend([
                arrow_array::new_null_array(&DataType::Float32, len),
                arrow_array::new_null_array(&DataType::Float32, len),
                arrow_array::new_null_array(&DataType::Boolean, len),
            ]);
        }
    }
    if let Some(r) = rows.rfm {
        for v in &r.values {
            let values: Float64Array = v[range.clone()]
                .iter()
                .map(|&x| (!x.is_nan()).then_some(x))
                .collect();
            columns.push(Arc::new(values));
        }
        let scores = &r.scores[range.clone()];
        let scores_of: [fn(&strata_behavior::RfmScores) -> u8; 3] = [|s| s.r, |s| s.f, |s| s.m];
        for get in scores_of {
            let col: Int16Array = scores.iter().map(|s| i16::from(get(s))).collect();
            columns.push(Arc::new(col));
        }
    }
    if let Some(p) = rows.predicted {
        for v in p.all() {
            columns.push(Arc::new(Float64Array::from(v[range.clone()].to_vec())));
        }
    }
    RecordBatch::try_new(schema.clone(), columns)
}

/// The id column of rows `range`: integers when the schema says so, else text (pseudonyms
/// when asked).
fn ids(
    rows: &AssignmentRows<'_>,
    id_type: &DataType,
    range: std::ops::Range<usize>,
) -> Result<ArrayRef, ArrowError> {
    let mut scratch = String::new();
    if *id_type == DataType::Int64 {
        if let IdColumn::RowNumbers(_) = rows.ids {
            return Ok(Arc::new(Int64Array::from_iter_values(
                range.map(|i| i as i64 + 1),
            )));
        }
        // The input's integers as the reader wrote them; a null id was read as empty.
        let values = range
            .map(|i| {
                let id = rows.ids.get(i, &mut scratch);
                if id.is_empty() {
                    return Ok(None);
                }
                std::str::from_utf8(id)
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                    .map(Some)
                    .ok_or_else(|| {
                        // The id itself stays out of the message: ids never reach logs.
                        ArrowError::InvalidArgumentError(
                            "an id is not an integer, though the input typed its id column as \
                             integers; write the assignments as CSV (--format csv)"
                                .into(),
                        )
                    })
            })
            .collect::<Result<Vec<Option<i64>>, _>>()?;
        return Ok(Arc::new(Int64Array::from(values)));
    }
    let mut out = StringBuilder::with_capacity(range.len(), range.len() * 16);
    let mut pseudonym = String::new();
    for i in range {
        let id = rows.ids.get(i, &mut scratch);
        match rows.pseudo {
            Some(p) => {
                p.pseudonym(id, &mut pseudonym);
                out.append_value(&pseudonym);
            }
            None => match std::str::from_utf8(id) {
                Ok(t) => out.append_value(t),
                Err(_) => {
                    return Err(ArrowError::InvalidArgumentError(
                        "an id is not UTF-8 text, which Parquet and Arrow text columns hold; \
                         write the assignments as CSV (--format csv), or pseudonymize the ids"
                            .into(),
                    ));
                }
            },
        }
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row groups closed every few batches, their columns encoded in parallel, read back by
    /// the parquet crate's own reader: the schema, the row groups and every value in order.
    #[test]
    fn parallel_row_groups_read_back_in_order() {
        let n = 2 * BATCH_ROWS + 777;
        let ids = IdColumn::RowNumbers(n);
        let segments: Vec<u32> = (0..n).map(|i| (i % 5) as u32).collect();
        let near: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
        let second: Vec<f32> = (0..n).map(|i| i as f32 + 1.0).collect();
        let labels: Vec<String> = (0..5).map(|i| format!("segment {i}")).collect();
        let rows = AssignmentRows {
            ids: &ids,
            segments: &segments,
            sq_distances: Some((&near, &second)),
            threshold: 0.5,
            labels: &labels,
            rfm: None,
            predicted: None,
            pseudo: None,
        };
        let shape = Shape::new(false, true, false);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.parquet");
        let mut file = std::fs::File::create(&path).unwrap();
        let mut w = Writer::new(AssignmentsFormat::Parquet, shape, &mut file).unwrap();
        if let Sink::Parquet(p) = &mut w.sink {
            p.group_rows = 50_000;
        }
        // Two calls, as a streamed scoring makes one a batch.
        let half = n / 2;
        for range in [0..half, half..n] {
            let part = AssignmentRows {
                ids: &IdColumn::RowNumbers(range.len()),
                segments: &segments[range.clone()],
                sq_distances: Some((&near[range.clone()], &second[range.clone()])),
                ..rows
            };
            w.write(&part).unwrap();
        }
        w.finish().unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&path).unwrap(),
        )
        .unwrap();
        assert_eq!(reader.schema().as_ref(), schema(shape).as_ref());
        // Groups of exactly 50,000 rows, whatever the batches, and the rest in the last.
        let groups: Vec<i64> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, [50_000, 50_000, (n - 100_000) as i64], "row groups");
        let mut row = 0;
        for b in reader.build().unwrap() {
            let b = b.unwrap();
            let seg = b.column(1).as_any().downcast_ref::<Int32Array>().unwrap();
            let dist = b.column(3).as_any().downcast_ref::<Float32Array>().unwrap();
            for i in 0..b.num_rows() {
                assert_eq!(seg.value(i) as u32, segments[row + i]);
                assert_eq!(dist.value(i), near[row + i].sqrt());
            }
            row += b.num_rows();
        }
        assert_eq!(row, n);
    }
}
