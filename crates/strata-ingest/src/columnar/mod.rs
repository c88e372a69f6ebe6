//! Columnar inputs: Apache Parquet (a file, or a folder of part files) and Arrow IPC (file
//! and stream), read into the same parts the CSV parser makes, so that tables, dictionaries,
//! ids, samples, duplicate checks and a stream's batches follow the one set of rules in the
//! crate root.
//!
//! - A file is known by its first bytes (`PAR1`, `ARROW1`, or an IPC stream's continuation
//!   marker), a folder is a Parquet dataset: its files in name order, less the ones whose
//!   names start with `_` or `.` (Spark's `_SUCCESS`, checksum files).
//! - Only the planned columns are read. Each column of each Parquet row group is decoded on
//!   its own rayon task, a batch of row groups at a time; an Arrow IPC input is decoded a
//!   record batch at a time and its columns converted in parallel.
//! - A row's position is its 1-based number in the input (across a folder's files), kept in
//!   the table's `lines`; a bad value's error names the file, the row group (or record
//!   batch), the row within that file, the column and the value.
//! - Types come from the schema ([`convert`]).

mod convert;
#[cfg(test)]
mod tests;
pub(crate) mod text;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::ArrowError;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use rayon::prelude::*;

use crate::parse::{Part, Spare};
use crate::{Format, Header, IngestError, Merged, ReadPlan};
use convert::At;

/// Rows gathered from row groups (or record batches) before they are merged into the table:
/// enough work for every thread between merges, little enough for a stream's batch.
const BATCH_ROWS: usize = 1 << 20;

/// The header of a columnar input, or `None` when `path` is not one (CSV, or something the
/// CSV reader will report on).
pub(crate) fn open(path: &Path) -> Result<Option<Header>, IngestError> {
    let Some(format) = sniff(path)? else {
        return Ok(None);
    };
    let (schema, bytes) = match format {
        Format::Parquet => {
            let files = parquet_files(path)?;
            let schema = files[0].meta.schema().clone();
            (schema, files.iter().map(|f| f.bytes).sum())
        }
        _ => {
            let (batches, _) = ipc_batches(path, format, None)?;
            let schema = batches.schema.clone();
            (schema, std::fs::metadata(path).map_or(0, |m| m.len()))
        }
    };
    Ok(Some(Header {
        path: path.to_owned(),
        format,
        names: field_names(&schema),
        bytes,
        types: schema
            .fields()
            .iter()
            .map(|f| schema_type(f.data_type()))
            .collect(),
    }))
}

fn field_names(schema: &arrow_schema::Schema) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

/// What a column of type `t` holds.
fn schema_type(t: &arrow_schema::DataType) -> crate::SchemaType {
    use arrow_schema::DataType as T;
    match t {
        T::Int8 | T::Int16 | T::Int32 | T::Int64 | T::UInt8 | T::UInt16 | T::UInt32 => {
            crate::SchemaType::Integer
        }
        T::Date32 | T::Date64 | T::Timestamp(..) => crate::SchemaType::Temporal,
        _ => crate::SchemaType::Other,
    }
}

fn io_error(path: &Path, error: std::io::Error) -> IngestError {
    IngestError::Io {
        path: path.to_owned(),
        error,
    }
}

fn unreadable(path: &Path, format: Format, message: impl std::fmt::Display) -> IngestError {
    IngestError::Columnar {
        path: path.to_owned(),
        format: format_title(format),
        message: message.to_string(),
    }
}

fn format_title(format: Format) -> &'static str {
    match format {
        Format::Parquet => "Parquet",
        Format::ArrowFile => "an Arrow IPC file",
        Format::ArrowStream => "an Arrow IPC stream",
        Format::Csv { .. } => "CSV",
    }
}

/// The columnar format of `path` from its first bytes; a folder is a Parquet dataset.
fn sniff(path: &Path) -> Result<Option<Format>, IngestError> {
    let Ok(m) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if m.is_dir() {
        return Ok(Some(Format::Parquet));
    }
    if !m.is_file() {
        return Ok(None);
    }
    let mut magic = [0u8; 8];
    let mut file = File::open(path).map_err(|e| io_error(path, e))?;
    let mut n = 0;
    while n < magic.len() {
        match file.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(path, e)),
        }
    }
    let magic = &magic[..n];
    Ok(if magic.starts_with(b"PAR1") {
        Some(Format::Parquet)
    } else if magic.starts_with(b"ARROW1") {
        Some(Format::ArrowFile)
    } else if magic.starts_with(&[0xFF; 4]) {
        Some(Format::ArrowStream)
    } else {
        None
    })
}

/// The data files of a Parquet folder in name order, with their sizes.
pub(crate) fn part_files(dir: &Path) -> Result<Vec<(PathBuf, u64)>, IngestError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let m = std::fs::metadata(&path).map_err(|e| io_error(&path, e))?;
        if m.is_dir() {
            return Err(IngestError::Dataset {
                path: dir.to_owned(),
                message: format!(
                    "'{name}' is a folder; partitioned datasets (column=value folders) are not \
                     read: give the folder of part files itself"
                ),
            });
        }
        files.push((path, m.len()));
    }
    files.sort();
    if files.is_empty() {
        return Err(IngestError::Dataset {
            path: dir.to_owned(),
            message: "the folder holds no data files (names starting with _ or . are not read)"
                .into(),
        });
    }
    Ok(files)
}

/// A Parquet input's size decoded (the sum over every part file), or `None` when `path` is
/// not a readable Parquet input: its row groups' uncompressed size, and at least 8 bytes a
/// value, since a dictionary- or run-length-encoded page can be far smaller than the values
/// it holds. Like a CSV file's size, it counts every column, bound or not.
pub(crate) fn uncompressed_bytes(path: &Path) -> Option<u64> {
    if sniff(path).ok()?? != Format::Parquet {
        return None;
    }
    let files = parquet_files(path).ok()?;
    Some(
        files
            .iter()
            .flat_map(|f| f.meta.metadata().row_groups())
            .map(|rg| {
                let values = rg.num_rows().max(0) as u64 * rg.num_columns() as u64;
                (rg.total_byte_size().max(0) as u64).max(8 * values)
            })
            .sum(),
    )
}

/// One Parquet file of the input with its footer read.
struct ParquetFile {
    path: PathBuf,
    bytes: u64,
    meta: ArrowReaderMetadata,
}

/// Every file of a Parquet input (one, or a folder's parts), checked to have the same columns.
fn parquet_files(path: &Path) -> Result<Vec<ParquetFile>, IngestError> {
    let listed = if path.is_dir() {
        part_files(path)?
    } else {
        vec![(
            path.to_owned(),
            std::fs::metadata(path).map_or(0, |m| m.len()),
        )]
    };
    let files = listed
        .into_par_iter()
        .map(|(path, bytes)| {
            let file = File::open(&path).map_err(|e| io_error(&path, e))?;
            let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
                .map_err(|e| unreadable(&path, Format::Parquet, e))?;
            Ok(ParquetFile { path, bytes, meta })
        })
        .collect::<Result<Vec<_>, IngestError>>()?;
    let first = field_names(files[0].meta.schema());
    for f in &files[1..] {
        let names = field_names(f.meta.schema());
        if names != first {
            return Err(IngestError::Dataset {
                path: path.to_owned(),
                message: format!(
                    "{} has the columns [{}], but {} has [{}]; every part file must have the \
                     same columns in the same order",
                    f.path.display(),
                    names.join(", "),
                    files[0].path.display(),
                    first.join(", ")
                ),
            });
        }
    }
    Ok(files)
}

/// The record batches of an Arrow IPC input, projected to `columns` (sorted schema indices).
struct IpcBatches {
    schema: arrow_schema::SchemaRef,
    batches: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>,
}

fn ipc_batches(
    path: &Path,
    format: Format,
    columns: Option<Vec<usize>>,
) -> Result<(IpcBatches, u64), IngestError> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let bytes = file.metadata().map_or(0, |m| m.len());
    let batches = match format {
        Format::ArrowFile => {
            let r = arrow_ipc::reader::FileReader::try_new_buffered(file, columns)
                .map_err(|e| unreadable(path, format, e))?;
            IpcBatches {
                schema: r.schema(),
                batches: Box::new(r),
            }
        }
        _ => {
            let r = arrow_ipc::reader::StreamReader::try_new(BufReader::new(file), columns)
                .map_err(|e| unreadable(path, format, e))?;
            IpcBatches {
                schema: r.schema(),
                batches: Box::new(r),
            }
        }
    };
    Ok((batches, bytes))
}

/// A Parquet row group: the unit of work and of sampling.
struct Unit {
    file: usize,
    group: usize,
    rows: usize,
    /// 0-based number of its first row within its file, and within the whole input.
    first_in_file: u64,
    first: u64,
    /// Its compressed size, for progress.
    bytes: u64,
}

enum Source {
    Parquet {
        files: Vec<ParquetFile>,
        units: Vec<Unit>,
    },
    Ipc {
        format: Format,
        batches: IpcBatches,
        /// The schema indices read, sorted: batch column `j` is schema column `read[j]`.
        read: Vec<usize>,
        /// Record batches read so far.
        read_batches: usize,
        ended: bool,
    },
}

/// Reads a columnar input a batch of row groups (or record batches) at a time.
pub(crate) struct Reader {
    source: Source,
    /// Units (row groups or record batches) handed out so far, parsed or skipped.
    index: usize,
    /// Convert only every `keep_one_in`-th unit (1: all of them).
    pub(crate) keep_one_in: usize,
    /// Rows of the input before the next unit.
    rows_before: u64,
    /// Bytes of the input behind the units handed out.
    pub(crate) done: u64,
    pub(crate) file_bytes: u64,
    spare: Spare,
}

impl Reader {
    pub(crate) fn new(
        header: &Header,
        plan: &ReadPlan,
        keep_one_in: usize,
    ) -> Result<Reader, IngestError> {
        let mut read: Vec<usize> = plan.columns.iter().map(|&(c, _)| c).collect();
        read.extend(plan.id_column);
        read.sort_unstable();
        read.dedup();
        let (source, file_bytes) = match header.format {
            Format::Parquet => {
                let files = parquet_files(&header.path)?;
                if field_names(files[0].meta.schema()) != header.names {
                    return Err(IngestError::Dataset {
                        path: header.path.clone(),
                        message: "the columns changed since the input was opened".into(),
                    });
                }
                let mut units = Vec::new();
                let mut first = 0u64;
                for (file, f) in files.iter().enumerate() {
                    let mut first_in_file = 0u64;
                    for (group, rg) in f.meta.metadata().row_groups().iter().enumerate() {
                        let rows = rg.num_rows().max(0) as usize;
                        units.push(Unit {
                            file,
                            group,
                            rows,
                            first_in_file,
                            first,
                            bytes: rg.compressed_size().max(0) as u64,
                        });
                        first_in_file += rows as u64;
                        first += rows as u64;
                    }
                }
                let bytes = files.iter().map(|f| f.bytes).sum();
                (Source::Parquet { files, units }, bytes)
            }
            Format::ArrowFile | Format::ArrowStream => {
                let (batches, bytes) =
                    ipc_batches(&header.path, header.format, Some(read.clone()))?;
                (
                    Source::Ipc {
                        format: header.format,
                        batches,
                        read,
                        read_batches: 0,
                        ended: false,
                    },
                    bytes,
                )
            }
            Format::Csv { .. } => unreachable!("CSV is read by the chunk reader"),
        };
        Ok(Reader {
            source,
            index: 0,
            keep_one_in: keep_one_in.max(1),
            rows_before: 0,
            done: 0,
            file_bytes,
            spare: Spare::new(4 * rayon::current_num_threads() * plan.columns.len().max(1)),
        })
    }

    /// Converts the next batch of units into `merged`; `false` once the input is done.
    pub(crate) fn step(
        &mut self,
        header: &Header,
        plan: &ReadPlan,
        merged: &mut Merged,
    ) -> Result<bool, IngestError> {
        let every = self.keep_one_in;
        let parts = match &mut self.source {
            Source::Parquet { files, units } => {
                if self.index == units.len() {
                    return Ok(false);
                }
                let start = self.index;
                let mut end = start;
                let mut rows = 0;
                while end < units.len() && (end == start || rows < BATCH_ROWS) {
                    rows += units[end].rows;
                    end += 1;
                }
                let batch = &units[start..end];
                let spare = &self.spare;
                let parts = batch
                    .par_iter()
                    .enumerate()
                    .filter(|(i, _)| (start + i).is_multiple_of(every))
                    .map(|(_, u)| {
                        let part = parquet_part(&files[u.file], u, header, plan, spare)?;
                        Ok((part, u.bytes as usize))
                    })
                    .collect::<Vec<Result<_, IngestError>>>();
                self.index = end;
                self.rows_before = batch
                    .last()
                    .map_or(self.rows_before, |u| u.first + u.rows as u64);
                self.done += batch.iter().map(|u| u.bytes).sum::<u64>();
                if self.index == units.len() {
                    self.done = self.file_bytes;
                }
                parts
            }
            Source::Ipc {
                format,
                batches,
                read,
                read_batches,
                ended,
            } => {
                if *ended {
                    return Ok(false);
                }
                let mut taken = Vec::new();
                let mut rows = 0;
                while rows < BATCH_ROWS {
                    match batches.batches.next() {
                        None => {
                            *ended = true;
                            break;
                        }
                        Some(b) => {
                            let b = b.map_err(|e| {
                                unreadable(
                                    &header.path,
                                    *format,
                                    format!("record batch {}: {e}", *read_batches + 1),
                                )
                            })?;
                            rows += b.num_rows();
                            let first = self.rows_before;
                            self.rows_before += b.num_rows() as u64;
                            self.done += b.get_array_memory_size() as u64;
                            taken.push((*read_batches, first, b));
                            *read_batches += 1;
                        }
                    }
                }
                self.done = if *ended {
                    self.file_bytes
                } else {
                    self.done.min(self.file_bytes)
                };
                let start = self.index;
                self.index += taken.len();
                let (read, spare) = (&*read, &self.spare);
                taken
                    .par_iter()
                    .enumerate()
                    .filter(|(i, _)| (start + i).is_multiple_of(every))
                    .map(|(_, (group, first, b))| {
                        Ok((ipc_part(b, *group, *first, read, header, plan, spare)?, 0))
                    })
                    .collect::<Vec<Result<_, IngestError>>>()
            }
        };
        let mut good = Vec::with_capacity(parts.len());
        for p in parts {
            good.push(p?);
        }
        merged.append(good, plan, &self.spare);
        Ok(true)
    }
}

/// Reads one column of one row group.
fn parquet_column(
    f: &ParquetFile,
    group: usize,
    column: usize,
) -> Result<Vec<ArrayRef>, IngestError> {
    // A file of its own for each task: handles cloned from one share a file offset.
    let file = File::open(&f.path).map_err(|e| io_error(&f.path, e))?;
    let mask = ProjectionMask::roots(f.meta.parquet_schema(), [column]);
    let bad = |e: &dyn std::fmt::Display| {
        unreadable(
            &f.path,
            Format::Parquet,
            format!("row group {}: {e}", group + 1),
        )
    };
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, f.meta.clone())
        .with_projection(mask)
        .with_row_groups(vec![group])
        .with_batch_size(1 << 16)
        .build()
        .map_err(|e| bad(&e))?;
    reader
        .map(|b| b.map(|b| b.column(0).clone()).map_err(|e| bad(&e)))
        .collect()
}

/// The error to report of several found in one unit: the first in row order (a column's
/// type, which is no one row's fault, before any value).
fn first_error(mut errors: Vec<IngestError>) -> IngestError {
    let key = |e: &IngestError| match e {
        IngestError::BadCell(c) => (1, c.row, c.column),
        _ => (0, 0, 0),
    };
    errors.sort_by_key(key);
    errors.swap_remove(0)
}

/// One Parquet row group as a part: its planned columns decoded side by side.
fn parquet_part(
    f: &ParquetFile,
    u: &Unit,
    header: &Header,
    plan: &ReadPlan,
    spare: &Spare,
) -> Result<Part, IngestError> {
    let at = |column: usize| At {
        path: &f.path,
        group_word: "row group",
        group: u.group,
        first_row: u.first_in_file,
        column,
        name: &header.names[column],
    };
    let check_rows = |column: usize, arrays: &[ArrayRef]| {
        let n: usize = arrays.iter().map(|a| a.len()).sum();
        if n == u.rows {
            Ok(())
        } else {
            Err(unreadable(
                &f.path,
                Format::Parquet,
                format!(
                    "row group {}: column '{}' holds {n} values for {} rows",
                    u.group + 1,
                    header.names[column],
                    u.rows
                ),
            ))
        }
    };
    let (ids, columns) = rayon::join(
        || {
            plan.id_column
                .map(|c| {
                    let arrays = parquet_column(f, u.group, c)?;
                    check_rows(c, &arrays)?;
                    let mut bytes = Vec::new();
                    let mut ends = Vec::with_capacity(u.rows);
                    convert::ids(&arrays, &at(c), &mut bytes, &mut ends)?;
                    Ok((bytes, ends))
                })
                .transpose()
        },
        || {
            plan.columns
                .par_iter()
                .map(|&(c, how)| {
                    let arrays = parquet_column(f, u.group, c)?;
                    check_rows(c, &arrays)?;
                    convert::column(&arrays, how, &at(c), spare, u.rows, u.first + 1)
                })
                .collect::<Vec<_>>()
        },
    );
    assemble(ids, columns, u.first, u.rows)
}

/// One Arrow record batch as a part.
fn ipc_part(
    b: &RecordBatch,
    group: usize,
    first: u64,
    read: &[usize],
    header: &Header,
    plan: &ReadPlan,
    spare: &Spare,
) -> Result<Part, IngestError> {
    let rows = b.num_rows();
    let at = |column: usize| At {
        path: &header.path,
        group_word: "record batch",
        group,
        first_row: first,
        column,
        name: &header.names[column],
    };
    let arrays = |column: usize| -> Vec<ArrayRef> {
        let j = read
            .binary_search(&column)
            .expect("every planned column is read");
        vec![b.column(j).clone()]
    };
    let (ids, columns) = rayon::join(
        || {
            plan.id_column
                .map(|c| {
                    let mut bytes = Vec::new();
                    let mut ends = Vec::with_capacity(rows);
                    convert::ids(&arrays(c), &at(c), &mut bytes, &mut ends)?;
                    Ok((bytes, ends))
                })
                .transpose()
        },
        || {
            plan.columns
                .par_iter()
                .map(|&(c, how)| convert::column(&arrays(c), how, &at(c), spare, rows, first + 1))
                .collect::<Vec<_>>()
        },
    );
    assemble(ids, columns, first, rows)
}

/// A part's ids: their bytes end to end, and where each ends.
type PartIds = (Vec<u8>, Vec<usize>);

/// A part from its converted ids and columns, or the first error among them.
fn assemble(
    ids: Result<Option<PartIds>, IngestError>,
    columns: Vec<Result<crate::parse::Builder, IngestError>>,
    first: u64,
    rows: usize,
) -> Result<Part, IngestError> {
    let mut errors = Vec::new();
    let ids = ids.unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let mut built = Vec::with_capacity(columns.len());
    for c in columns {
        match c {
            Ok(b) => built.push(b),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(first_error(errors));
    }
    let (id_bytes, id_ends) = ids.unwrap_or_default();
    Ok(Part {
        lines: (first + 1..=first + rows as u64).collect(),
        id_bytes,
        id_ends,
        columns: built,
    })
}
