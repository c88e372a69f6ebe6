//! CSV ingest: turns a customer file into typed columns, reading only the columns asked for.
//!
//! - The header is required. The delimiter is sniffed among `,` `;` and tab unless given.
//! - UTF-8 with or without a byte-order mark; quoted fields per RFC 4180.
//! - Missing tokens (after trimming spaces): empty, `NA`, `N/A`, `NaN`, `null` (any case).
//! - Records are read as byte records: no allocation per field on the hot path; categorical
//!   text is interned once per distinct value.
//! - Every error names the file, the line and, for a value, the column and what was expected.
//! - [`read_table`] parses chunks of whole records on every rayon thread (`chunks`) and merges
//!   them in file order, so its result never depends on the thread count or chunk size.
//!
//! Identifiers are kept byte for byte (never trimmed) and are never put in an error message:
//! a duplicate id is reported by the two lines it is on.

mod chunks;
mod columnar;
mod date;
mod parse;
mod table;

use std::collections::HashMap;

use parse::{Builder, Part, Spare, parse_chunk};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use rayon::prelude::*;
use std::path::{Path, PathBuf};

pub use columnar::text::columnar_as_csv;
pub use date::{
    DateEvidence, DateFormat, date_evidence, days_from_civil, parse_date, parse_iso_date,
};
pub use strata_arrow_text::CsvText;
pub use table::{Column, ColumnData, IdColumn, MISSING_CODE, Table};

/// What went wrong reading a CSV file. Line numbers are 1-based and count the header.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {error}")]
    Io {
        /// The file being read.
        path: PathBuf,
        /// What the operating system reported. Quoted in the message, so not also exposed as
        /// the error's `source()`: a chain printed whole says it once.
        error: std::io::Error,
    },
    /// The input is a pipe, socket or device rather than a file.
    #[error(
        "{path}: not a regular file (a pipe, socket or device): it is read more than once; save \
         it to a file first (`strata assign` reads standard input when the file is given as -)"
    )]
    NotRegular {
        /// The input.
        path: PathBuf,
    },
    /// The file holds nothing but whitespace (or a byte-order mark): not even a header.
    #[error("{path}: the file is empty; expected a header line naming the columns")]
    Empty {
        /// The file being read.
        path: PathBuf,
    },
    /// The file has a header but not one data row.
    #[error("{path}: the file has a header but no data rows")]
    NoRows {
        /// The file being read.
        path: PathBuf,
    },
    /// The CSV reader could not make sense of a record (e.g. a stray quote).
    #[error("{path}, line {line}: {message}")]
    Malformed {
        /// The file being read.
        path: PathBuf,
        /// The line the record starts on; 0 when the reader could not tell.
        line: u64,
        /// The CSV reader's description of the problem.
        message: String,
    },
    /// A record with a different number of fields than the header. Blank lines are skipped, not
    /// reported.
    #[error("{path}, line {line}: expected {expected} fields like the header, found {found}")]
    Ragged {
        /// The file being read.
        path: PathBuf,
        /// The line the record starts on.
        line: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields in the record.
        found: usize,
    },
    /// A field that does not parse as its column's kind (a number or a date).
    #[error(
        "{path}, {word} {line}, column {column} ('{name}'): expected {expected}, found '{value}'"
    )]
    BadValue {
        /// The file being read.
        path: PathBuf,
        /// What `line` counts: `line` in a CSV file, `row` in a columnar one
        /// ([`Format::position_word`]).
        word: &'static str,
        /// The line the record starts on (the row, in a columnar file).
        line: u64,
        /// The column's position in the header, 1-based.
        column: usize,
        /// The column's header text.
        name: String,
        /// What the column takes, for the message, e.g. `"a number"`.
        expected: &'static str,
        /// The field as read, lossily decoded and cut to 80 characters.
        value: String,
    },
    /// A header name, id or categorical field that is not valid UTF-8.
    #[error("{path}, line {line}, column {column} ('{name}'): the text is not valid UTF-8")]
    NotUtf8 {
        /// The file being read.
        path: PathBuf,
        /// The line the field is on.
        line: u64,
        /// The column's position in the header, 1-based.
        column: usize,
        /// The column's header text; `#N` (its 1-based position) when the header name itself is not
        /// UTF-8.
        name: String,
    },
    /// A columnar input (Parquet, Arrow IPC) that cannot be decoded: truncated, corrupt, or
    /// not what its first bytes claimed.
    #[error("{path}: cannot read as {format}: {message}")]
    Columnar {
        /// The file being read (a part file of a folder).
        path: PathBuf,
        /// The format, for the message (`Parquet`, `an Arrow IPC file`, …).
        format: &'static str,
        /// The decoder's description of the problem.
        message: String,
    },
    /// A folder of Parquet part files that cannot be read as one table.
    #[error("{path}: {message}")]
    Dataset {
        /// The folder.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A value of a columnar input that does not fit its column's role (boxed: the error
    /// type stays small for every `Result` that carries it).
    #[error(transparent)]
    BadCell(Box<BadCell>),
    /// A columnar input's column whose type its role cannot take (a timestamp bound to a
    /// number, a list bound to a category).
    #[error("{path}: column {column} ('{name}') is of type {found}; expected {expected}")]
    ColumnType {
        /// The file being read (a part file of a folder).
        path: PathBuf,
        /// The column's position in the schema, 1-based.
        column: usize,
        /// The column's name.
        name: String,
        /// The column's Arrow type.
        found: String,
        /// What the role takes.
        expected: &'static str,
    },
    /// A reading that only CSV input offers yet.
    #[error("{path}: {what} is read from CSV files only; this input is {format}")]
    NotCsv {
        /// The input.
        path: PathBuf,
        /// What was asked of it, e.g. `a transaction log`.
        what: &'static str,
        /// Its format's name.
        format: &'static str,
    },
    /// Two rows with the same id, unless [`ReadPlan::allow_duplicate_ids`] is set. Names lines
    /// only: ids never appear in a message.
    #[error(
        "{path}: duplicate id in column '{name}' on {word}s {first_line} and {line} \
         (pass --allow-duplicate-ids if repeated ids are expected)"
    )]
    DuplicateId {
        /// The file being read.
        path: PathBuf,
        /// The id column's header text.
        name: String,
        /// What the positions count: [`Format::position_word`].
        word: &'static str,
        /// The line of the earlier row with the id.
        first_line: u64,
        /// The line of the later row: of the rows repeating an earlier id, the first in the file.
        line: u64,
    },
}

/// Where a columnar input holds a value its role cannot take, and the value.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path}, {group_word} {group}, row {row}, column {column} ('{name}'): expected {expected}, \
     found '{value}'"
)]
pub struct BadCell {
    /// The file being read (a part file of a folder).
    pub path: PathBuf,
    /// `row group` (Parquet) or `record batch` (Arrow IPC).
    pub group_word: &'static str,
    /// The row group or batch, 1-based within the file.
    pub group: usize,
    /// The row, 1-based within the file.
    pub row: u64,
    /// The column's position in the schema, 1-based.
    pub column: usize,
    /// The column's name.
    pub name: String,
    /// What the role takes.
    pub expected: &'static str,
    /// The value, cut to 80 characters.
    pub value: String,
}

/// How an input's rows are stored, found from its first bytes (or from its being a folder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text with a header line.
    Csv {
        /// The field delimiter: given, or sniffed among `,`, `;` and tab.
        delimiter: u8,
    },
    /// Apache Parquet: one file, or a folder of part files (as Spark and warehouses write
    /// them) read in name order as one table.
    Parquet,
    /// An Arrow IPC file (random access; the `ARROW1` magic).
    ArrowFile,
    /// An Arrow IPC stream (a schema message, then record batches).
    ArrowStream,
}

impl Format {
    /// The format's name as outputs record it: `csv`, `parquet`, `arrow-file`, `arrow-stream`.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Csv { .. } => "csv",
            Format::Parquet => "parquet",
            Format::ArrowFile => "arrow-file",
            Format::ArrowStream => "arrow-stream",
        }
    }

    /// The field delimiter of a CSV input; `None` for a columnar one.
    pub fn delimiter(&self) -> Option<u8> {
        match self {
            Format::Csv { delimiter } => Some(*delimiter),
            _ => None,
        }
    }

    /// What a row's position counts: `line` in a CSV file (the header is line 1), `row` in a
    /// columnar input (1-based, across the part files of a folder).
    pub fn position_word(&self) -> &'static str {
        match self {
            Format::Csv { .. } => "line",
            _ => "row",
        }
    }
}

/// What an input's schema says a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaType {
    /// No schema (CSV): the values say.
    Untyped,
    /// Integers an `i64` holds.
    Integer,
    /// Dates or timestamps.
    Temporal,
    /// Anything else (floats, decimals, text, …).
    Other,
}

/// An input opened for reading: where it is, how it is stored and its column names.
#[derive(Debug, Clone)]
pub struct Header {
    /// The file (or the folder of Parquet parts) the rows are read from.
    pub path: PathBuf,
    /// How the rows are stored.
    pub format: Format,
    /// Column names in file order (CSV: trimmed, the byte-order mark dropped from the first;
    /// columnar: the schema's top-level field names).
    pub names: Vec<String>,
    /// Bytes of the input (every part file of a folder), for progress and sampling.
    pub bytes: u64,
    /// What the schema says each column holds; all [`SchemaType::Untyped`] for CSV, whose
    /// fields have no type.
    pub types: Vec<SchemaType>,
}

impl Header {
    /// Index of the column named exactly `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|h| h == name)
    }

    /// Whether column `index` holds integers an `i64` holds, by its schema (so an id
    /// column of it can be written back as integers).
    pub fn holds_integers(&self, index: usize) -> bool {
        self.types.get(index) == Some(&SchemaType::Integer)
    }

    /// Whether the ids read with `id_column` are integers: the schema types that column as
    /// integers, or there is none and the ids are row numbers.
    pub fn integer_ids(&self, id_column: Option<usize>) -> bool {
        id_column.is_none_or(|i| self.holds_integers(i))
    }

    /// Whether column `index` holds dates or timestamps by its schema (read as text, they
    /// are ISO 8601 whatever `--date-format` says of text dates).
    pub fn holds_dates(&self, index: usize) -> bool {
        self.types.get(index) == Some(&SchemaType::Temporal)
    }

    /// The CSV delimiter; only called on the CSV reading paths, which a columnar input never
    /// takes (the public entry points dispatch on the format first).
    fn csv_delimiter(&self) -> u8 {
        debug_assert!(matches!(self.format, Format::Csv { .. }));
        self.format.delimiter().unwrap_or(b',')
    }
}

/// How to parse one requested column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseAs {
    /// A finite number; anything else is an error.
    Numeric,
    /// A date (ISO 8601) as days since 1970-01-01.
    Date,
    /// Text interned into a dictionary (categoricals).
    Text,
    /// A number if every present value is one; otherwise the column is set aside as
    /// [`ColumnData::NotNumeric`] (used to find "every numeric column").
    AutoNumeric,
}

/// Which columns to read and how.
#[derive(Debug, Clone, Default)]
pub struct ReadPlan {
    /// Column holding the customer id (kept as text); `None`: row numbers are the ids.
    pub id_column: Option<usize>,
    /// Accept repeated ids rather than failing with [`IngestError::DuplicateId`].
    pub allow_duplicate_ids: bool,
    /// (column index, how to parse), in the order the table should list them.
    pub columns: Vec<(usize, ParseAs)>,
}

const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];

/// True for the tokens that mean "no value".
pub fn is_missing(field: &[u8]) -> bool {
    let f = field.trim_ascii();
    f.is_empty()
        || f.eq_ignore_ascii_case(b"na")
        || f.eq_ignore_ascii_case(b"n/a")
        || f.eq_ignore_ascii_case(b"nan")
        || f.eq_ignore_ascii_case(b"null")
}

fn open(path: &Path) -> Result<File, IngestError> {
    // Checked before opening: opening a FIFO waits for a writer, and a pipe, socket or device
    // cannot be read twice (header, then data; a streamed fit reads the file three times).
    if let Ok(m) = std::fs::metadata(path)
        && !m.is_file()
        && !m.is_dir()
    {
        return Err(IngestError::NotRegular {
            path: path.to_owned(),
        });
    }
    File::open(path).map_err(|error| IngestError::Io {
        path: path.to_owned(),
        error,
    })
}

/// Counts `delim` outside double quotes in `line`.
fn count_outside_quotes(line: &[u8], delim: u8) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if b == delim && !quoted {
            n += 1;
        }
    }
    n
}

/// Picks the delimiter from the first lines: the candidate found on the header line whose count
/// is the same on the most following lines, then the most frequent; `,` when none occurs.
pub fn sniff_delimiter(sample: &[u8]) -> u8 {
    let sample = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    let lines: Vec<&[u8]> = sample
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .take(20)
        .collect();
    let Some(first) = lines.first() else {
        return b',';
    };
    let mut best = (b',', 0usize, 0usize);
    for &c in &CANDIDATES {
        let on_header = count_outside_quotes(first, c);
        if on_header == 0 {
            continue;
        }
        // The last sampled line may be cut short, so it does not vote.
        let body = &lines[1..lines.len().saturating_sub(1).max(1)];
        let agree = body
            .iter()
            .filter(|l| count_outside_quotes(l, c) == on_header)
            .count();
        if (agree, on_header) > (best.1, best.2) {
            best = (c, agree, on_header);
        }
    }
    best.0
}

fn reader<R: Read>(file: R, delimiter: u8) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(file)
}

fn csv_error(path: &Path, e: csv::Error) -> IngestError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(error) => IngestError::Io {
            path: path.to_owned(),
            error,
        },
        other => IngestError::Malformed {
            path: path.to_owned(),
            line,
            message: format!("{other:?}"),
        },
    }
}

/// Opens an input and reads its column names: a Parquet file or folder and an Arrow IPC file
/// or stream are known by their first bytes (their schema names the columns); anything else
/// is CSV, whose header is read (and delimiter sniffed unless `delimiter` is given).
pub fn read_header(path: &Path, delimiter: Option<u8>) -> Result<Header, IngestError> {
    if let Some(header) = columnar::open(path)? {
        return Ok(header);
    }
    read_csv_header(path, delimiter)
}

/// The bytes of the input at `path`: a file's size, or the sum of a folder's part files
/// (0 when it cannot be read; the read that follows reports why).
pub fn input_bytes(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => columnar::part_files(path)
            .map(|files| files.iter().map(|f| f.1).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// The files an input is read from: the file itself, or a Parquet folder's part files in the
/// order they are read.
pub fn input_files(path: &Path) -> Result<Vec<PathBuf>, IngestError> {
    if path.is_dir() {
        Ok(columnar::part_files(path)?
            .into_iter()
            .map(|(p, _)| p)
            .collect())
    } else {
        Ok(vec![path.to_owned()])
    }
}

/// The bytes of the input's values once decoded, for judging whether a table can be held:
/// a CSV or Arrow IPC file's size (both store values about as large as they are held), a
/// Parquet input's uncompressed size from its footers and at least 8 bytes a value (its file
/// size when the footers cannot be read).
pub fn decoded_bytes(path: &Path) -> u64 {
    columnar::uncompressed_bytes(path).unwrap_or_else(|| input_bytes(path))
}

fn read_csv_header(path: &Path, delimiter: Option<u8>) -> Result<Header, IngestError> {
    let file = open(path)?;
    let mut buf = BufReader::with_capacity(1 << 16, file);
    let sample = buf.fill_buf().map_err(|error| IngestError::Io {
        path: path.to_owned(),
        error,
    })?;
    if sample
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(sample)
        .iter()
        .all(u8::is_ascii_whitespace)
    {
        return Err(IngestError::Empty {
            path: path.to_owned(),
        });
    }
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(sample));
    let mut rdr = reader(buf, delimiter);
    let mut record = csv::ByteRecord::new();
    if !rdr
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, e))?
    {
        return Err(IngestError::Empty {
            path: path.to_owned(),
        });
    }
    let mut names = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        let field = if i == 0 {
            field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field)
        } else {
            field
        };
        let name = std::str::from_utf8(field).map_err(|_| IngestError::NotUtf8 {
            path: path.to_owned(),
            line: 1,
            column: i + 1,
            name: format!("#{}", i + 1),
        })?;
        names.push(name.trim().to_owned());
    }
    Ok(Header {
        path: path.to_owned(),
        format: Format::Csv { delimiter },
        types: vec![SchemaType::Untyped; names.len()],
        names,
        bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
    })
}

/// Data records of a file, one at a time, under the same rules as [`read_table`]: blank
/// lines skipped, a record of the wrong width an error naming its line.
pub struct Records {
    rdr: csv::Reader<Box<dyn Read>>,
    path: PathBuf,
    width: usize,
    /// A columnar file, read as the CSV text of its records ([`columnar_as_csv`]): positions
    /// are rows, and errors are the decoder's.
    columnar: bool,
    /// Records of a columnar file returned so far.
    rows: u64,
}

impl Records {
    /// Opens `header.path` past its header line; a columnar file is read as CSV text, record
    /// batch by record batch, typed values as text (dates and timestamps in ISO 8601, UTC).
    pub fn open(header: &Header) -> Result<Records, IngestError> {
        let columnar = header.format.delimiter().is_none();
        let rdr = if columnar {
            let text = columnar_as_csv(&header.path)?.ok_or_else(|| IngestError::NotCsv {
                path: header.path.clone(),
                what: "a transaction log",
                format: header.format.name(),
            })?;
            reader(Box::new(text) as Box<dyn Read>, b',')
        } else {
            reader(
                Box::new(open(&header.path)?) as Box<dyn Read>,
                header.csv_delimiter(),
            )
        };
        let mut records = Records {
            rdr,
            path: header.path.clone(),
            width: header.names.len(),
            columnar,
            rows: 0,
        };
        let mut skip = csv::ByteRecord::new();
        let read = records.rdr.read_byte_record(&mut skip);
        read.map_err(|e| records.error(e))?;
        Ok(records)
    }

    /// Reads the next data record into `record`; returns the line it starts on (its row, in
    /// a columnar file).
    pub fn next(&mut self, record: &mut csv::ByteRecord) -> Result<Option<u64>, IngestError> {
        loop {
            let read = self.rdr.read_byte_record(record);
            if !read.map_err(|e| self.error(e))? {
                return Ok(None);
            }
            if self.columnar {
                // Rows are counted, not lines: a text value may hold a line break. Every
                // record of the text has the schema's width.
                self.rows += 1;
                return Ok(Some(self.rows));
            }
            let line = record.position().map_or(0, |p| p.line());
            if record.len() == self.width {
                return Ok(Some(line));
            }
            // A blank line is not a customer; anything else of the wrong width is an error.
            if record.len() == 1 && record[0].trim_ascii().is_empty() {
                continue;
            }
            return Err(IngestError::Ragged {
                path: self.path.clone(),
                line,
                expected: self.width,
                found: record.len(),
            });
        }
    }
}

impl Records {
    /// A read error as an ingest error: a columnar decoder's own error, carried through the
    /// text reader as an I/O error, comes out as it was.
    fn error(&self, e: csv::Error) -> IngestError {
        if !(self.columnar && matches!(e.kind(), csv::ErrorKind::Io(_))) {
            return csv_error(&self.path, e);
        }
        let csv::ErrorKind::Io(io) = e.into_kind() else {
            unreachable!("matched above")
        };
        match io.downcast::<IngestError>() {
            Ok(ingest) => ingest,
            Err(error) => IngestError::Io {
                path: self.path.clone(),
                error,
            },
        }
    }
}

/// A reader of `header.path` that has read the header record (as the csv reader sees it, so a
/// quoted newline in a name counts).
fn past_header(header: &Header) -> Result<csv::Reader<File>, IngestError> {
    let mut rdr = reader(open(&header.path)?, header.csv_delimiter());
    let mut skip = csv::ByteRecord::new();
    rdr.read_byte_record(&mut skip)
        .map_err(|e| csv_error(&header.path, e))?;
    Ok(rdr)
}

/// Chunks parsed in parallel per batch: enough to keep every thread busy between merges.
fn batch_len() -> usize {
    4 * rayon::current_num_threads()
}

/// The size of the chunks a sample ([`read_table_sampled`], [`TableStream::sampled`]) counts
/// in, for choosing `keep_one_in`.
pub const CHUNK_BYTES: usize = chunks::CHUNK_BYTES;

/// Reads the rows of `header.path` according to `plan`.
///
/// The data is cut into chunks of whole records (`chunks`), a batch of which is parsed in
/// parallel while the next batch is read; chunk results are merged in file order, so the table
/// (dictionary order included) and the first error reported are those of a sequential read.
pub fn read_table(header: &Header, plan: &ReadPlan) -> Result<Table, IngestError> {
    read_table_chunked(header, plan, chunks::CHUNK_BYTES, &mut |_| {})
}

/// [`read_table`], calling `progress` with the bytes of the file parsed so far after each batch
/// of chunks (for a progress bar; the file's size is the total).
pub fn read_table_with_progress(
    header: &Header,
    plan: &ReadPlan,
    progress: &mut dyn FnMut(u64),
) -> Result<Table, IngestError> {
    read_table_chunked(header, plan, chunks::CHUNK_BYTES, progress)
}

/// [`read_table_with_progress`] on one chunk (of about 4 MB) in every `keep_one_in`, spread
/// evenly over the file: a systematic sample of a file too large to read whole. Every byte
/// is still read, to find the records; a duplicate id is an error only within the sample.
pub fn read_table_sampled(
    header: &Header,
    plan: &ReadPlan,
    keep_one_in: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<Table, IngestError> {
    read_one_in(header, plan, chunks::CHUNK_BYTES, keep_one_in, progress)
}

fn read_table_chunked(
    header: &Header,
    plan: &ReadPlan,
    chunk_bytes: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<Table, IngestError> {
    read_one_in(header, plan, chunk_bytes, 1, progress)
}

/// One table of the chunks kept (one in `keep_one_in`), its vectors sized from the first
/// part's rows per byte.
fn read_one_in(
    header: &Header,
    plan: &ReadPlan,
    chunk_bytes: usize,
    keep_one_in: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<Table, IngestError> {
    let mut reader = Batches::new(header, plan, chunk_bytes, keep_one_in)?;
    let mut merged = Merged::new(plan);
    merged.reserve_from_first = Some(reader.file_bytes() / reader.keep_one_in() as u64);
    while reader.step(header, plan, &mut merged)? {
        progress(reader.done());
    }
    merged.finish(header, plan)
}

/// The batches of an input: chunks of a CSV file, or row groups and record batches of a
/// columnar one.
enum Batches {
    Csv(BatchReader),
    Columnar(columnar::Reader),
}

impl Batches {
    fn new(
        header: &Header,
        plan: &ReadPlan,
        chunk_bytes: usize,
        keep_one_in: usize,
    ) -> Result<Batches, IngestError> {
        Ok(match header.format {
            Format::Csv { .. } => {
                Batches::Csv(BatchReader::new(header, plan, chunk_bytes, keep_one_in)?)
            }
            _ => Batches::Columnar(columnar::Reader::new(header, plan, keep_one_in)?),
        })
    }

    fn step(
        &mut self,
        header: &Header,
        plan: &ReadPlan,
        merged: &mut Merged,
    ) -> Result<bool, IngestError> {
        match self {
            Batches::Csv(r) => r.step(header, plan, merged),
            Batches::Columnar(r) => r.step(header, plan, merged),
        }
    }

    fn done(&self) -> u64 {
        match self {
            Batches::Csv(r) => r.done,
            Batches::Columnar(r) => r.done,
        }
    }

    fn file_bytes(&self) -> u64 {
        match self {
            Batches::Csv(r) => r.file_bytes,
            Batches::Columnar(r) => r.file_bytes,
        }
    }

    fn keep_one_in(&self) -> usize {
        match self {
            Batches::Csv(r) => r.keep_one_in,
            Batches::Columnar(r) => r.keep_one_in,
        }
    }
}

/// Reads batches of chunks, parsing one batch on every thread while the next is read.
struct BatchReader {
    chunker: chunks::Chunker,
    /// The batch read and not yet parsed.
    pending: Vec<chunks::Chunk>,
    /// Chunks handed out so far (parsed or skipped).
    index: usize,
    /// Parse only every `keep_one_in`-th chunk (1: all of them).
    keep_one_in: usize,
    /// Bytes of the file behind the chunks handed out, header included.
    done: u64,
    file_bytes: u64,
    /// Number columns of merged parts, parsed into again.
    spare: Spare,
}

impl BatchReader {
    fn new(
        header: &Header,
        plan: &ReadPlan,
        chunk_bytes: usize,
        keep_one_in: usize,
    ) -> Result<BatchReader, IngestError> {
        let width = header.names.len();
        for &(i, _) in &plan.columns {
            assert!(i < width, "plan names column {i} of {width}");
        }
        let rdr = past_header(header)?;
        let (offset, line) = (rdr.position().byte(), rdr.position().line());
        let file = rdr.into_inner();
        let file_bytes = file.metadata().map_or(0, |m| m.len());
        // The chunker seeks the file to the first data record itself.
        let mut chunker = chunks::Chunker::new(
            file,
            header.path.clone(),
            header.csv_delimiter(),
            offset,
            line,
            chunk_bytes,
        )?;
        let pending = chunker.next_batch(batch_len())?;
        Ok(BatchReader {
            chunker,
            pending,
            spare: Spare::new(batch_len() * plan.columns.len()),
            index: 0,
            keep_one_in: keep_one_in.max(1),
            done: offset,
            file_bytes,
        })
    }

    /// Parses the pending batch into `merged` and reads the next; `false` once the file is done.
    fn step(
        &mut self,
        header: &Header,
        plan: &ReadPlan,
        merged: &mut Merged,
    ) -> Result<bool, IngestError> {
        if self.pending.is_empty() {
            return Ok(false);
        }
        let batch = std::mem::take(&mut self.pending);
        let (first, every) = (self.index, self.keep_one_in);
        let parsed = |i: usize| (first + i).is_multiple_of(every);
        let (next, parts) = rayon::join(
            || self.chunker.next_batch(batch_len()),
            || {
                batch
                    .par_iter()
                    .enumerate()
                    .filter(|(i, _)| parsed(*i))
                    .map(|(_, c)| parse_chunk(c, header, plan, &self.spare))
                    .collect::<Vec<_>>()
            },
        );
        // Parts before the next batch's I/O error: the earlier problem is reported first.
        let kept = batch.iter().enumerate().filter(|(i, _)| parsed(*i));
        let mut good = Vec::with_capacity(parts.len());
        for (part, (_, chunk)) in parts.into_iter().zip(kept) {
            good.push((part?, chunk.bytes.len()));
        }
        merged.append(good, plan, &self.spare);
        self.done += batch.iter().map(|c| c.bytes.len() as u64).sum::<u64>();
        self.index += batch.len();
        self.pending = next?;
        self.chunker.recycle(batch, batch_len());
        Ok(true)
    }
}

/// A file's rows a batch at a time, for data too large to hold as one [`Table`].
///
/// Each [`TableStream::next_table`] is a table of the rows of one batch of chunks (a few
/// tens of MB of the file), in file order, parsed as [`read_table`] parses. Categorical codes
/// index one dictionary for the whole stream, so a code means the same value in every table;
/// each table carries the dictionary as it stands after its own rows. A column planned as
/// [`ParseAs::AutoNumeric`] is `NotNumeric` in the table where text first shows and every
/// table after it.
///
/// Not checked across tables: duplicate ids (the caller sees every id), and a file with no
/// rows gives no table rather than an error. Ids of a file without an id column are
/// [`IdColumn::RowNumbers`] counted from each table's start; use the tables' `lines`, or count.
pub struct TableStream<'a> {
    header: &'a Header,
    plan: &'a ReadPlan,
    reader: Batches,
    merged: Merged,
}

impl<'a> TableStream<'a> {
    /// Every row of the file.
    pub fn new(header: &'a Header, plan: &'a ReadPlan) -> Result<TableStream<'a>, IngestError> {
        TableStream::sampled(header, plan, 1)
    }

    /// The rows of one chunk in every `keep_one_in` (of about 4 MB each, spread evenly over
    /// the file): a cheap systematic sample of a large file. Every byte is still read.
    pub fn sampled(
        header: &'a Header,
        plan: &'a ReadPlan,
        keep_one_in: usize,
    ) -> Result<TableStream<'a>, IngestError> {
        TableStream::with_chunks(header, plan, keep_one_in, chunks::CHUNK_BYTES)
    }

    fn with_chunks(
        header: &'a Header,
        plan: &'a ReadPlan,
        keep_one_in: usize,
        chunk_bytes: usize,
    ) -> Result<TableStream<'a>, IngestError> {
        Ok(TableStream {
            header,
            plan,
            reader: Batches::new(header, plan, chunk_bytes, keep_one_in)?,
            merged: Merged::new(plan),
        })
    }

    /// The next table of rows, or `None` at the end of the file.
    pub fn next_table(&mut self) -> Result<Option<Table>, IngestError> {
        while self.reader.step(self.header, self.plan, &mut self.merged)? {
            if !self.merged.lines.is_empty() {
                return Ok(Some(self.merged.take(self.header, self.plan)));
            }
        }
        Ok(None)
    }

    /// Bytes of the file read so far (header included).
    pub fn bytes_read(&self) -> u64 {
        self.reader.done()
    }

    /// The file's size in bytes.
    pub fn file_bytes(&self) -> u64 {
        self.reader.file_bytes()
    }
}

/// Values of a numeric column that are present (not NaN).
fn present(v: &[f64]) -> u64 {
    v.iter().filter(|x| !x.is_nan()).count() as u64
}

/// A column of the whole file, built from parts in file order.
enum MergedColumn {
    Numeric(Vec<f64>),
    Text {
        codes: Vec<u32>,
        dict: Vec<String>,
        index: HashMap<String, u32>,
    },
    NotNumeric {
        line: u64,
        numbers: u64,
        texts: u64,
    },
}

struct Merged {
    /// The file's size, to size every vector from the first part's rows per byte (a whole
    /// table is being read); `None` for tables of a stream.
    reserve_from_first: Option<u64>,
    lines: Vec<u64>,
    id_bytes: Vec<u8>,
    id_offsets: Vec<usize>,
    columns: Vec<MergedColumn>,
}

impl Merged {
    fn new(plan: &ReadPlan) -> Merged {
        Merged {
            reserve_from_first: None,
            lines: Vec::new(),
            id_bytes: Vec::new(),
            id_offsets: vec![0],
            columns: plan
                .columns
                .iter()
                .map(|&(_, how)| match how {
                    ParseAs::Text => MergedColumn::Text {
                        codes: Vec::new(),
                        dict: Vec::new(),
                        index: HashMap::new(),
                    },
                    _ => MergedColumn::Numeric(Vec::new()),
                })
                .collect(),
        }
    }

    /// Appends the next parts (each `bytes` long in the file) in file order; their number
    /// columns, done with, go to `spare`.
    ///
    /// Columns are merged in parallel: the copy, and the first touch of a whole table's
    /// memory, were most of a read's serial time.
    fn append(&mut self, parts: Vec<(Part, usize)>, plan: &ReadPlan, spare: &Spare) {
        let Some(&(ref first, bytes)) = parts.first() else {
            return;
        };
        if let Some(file_bytes) = self.reserve_from_first.filter(|_| bytes > 0) {
            let rows = first.lines.len() as f64 * file_bytes as f64 / bytes as f64;
            self.reserve((rows * 1.02) as usize + 16, plan);
            let id_bytes = first.id_bytes.len() as f64 * file_bytes as f64 / bytes as f64;
            self.id_bytes.reserve((id_bytes * 1.02) as usize + 16);
            self.reserve_from_first = None;
        }
        let mut columns: Vec<Vec<Builder>> = self.columns.iter().map(|_| Vec::new()).collect();
        for (part, _) in parts {
            self.lines.extend_from_slice(&part.lines);
            if plan.id_column.is_some() {
                let base = self.id_bytes.len();
                self.id_bytes.extend_from_slice(&part.id_bytes);
                self.id_offsets
                    .extend(part.id_ends.iter().map(|&end| base + end));
            }
            for (c, b) in columns.iter_mut().zip(part.columns) {
                c.push(b);
            }
        }
        self.columns
            .par_iter_mut()
            .zip(columns)
            .for_each(|(m, builders)| {
                for b in builders {
                    if let Some(buffer) = merge_column(m, b) {
                        spare.give(buffer);
                    }
                }
            });
    }

    fn reserve(&mut self, rows: usize, plan: &ReadPlan) {
        self.lines.reserve(rows);
        if plan.id_column.is_some() {
            self.id_offsets.reserve(rows);
        }
        for m in &mut self.columns {
            match m {
                MergedColumn::Numeric(v) => v.reserve(rows),
                MergedColumn::Text { codes, .. } => codes.reserve(rows),
                MergedColumn::NotNumeric { .. } => {}
            }
        }
    }

    /// The rows merged so far as a table, leaving the dictionaries (and columns found not to
    /// be numeric) for the rows to come.
    fn take(&mut self, header: &Header, plan: &ReadPlan) -> Table {
        let lines = std::mem::take(&mut self.lines);
        let n_rows = lines.len();
        let ids = match plan.id_column {
            None => IdColumn::RowNumbers(n_rows),
            Some(c) => IdColumn::Text {
                name: header.names[c].clone(),
                bytes: std::mem::take(&mut self.id_bytes),
                offsets: std::mem::replace(&mut self.id_offsets, vec![0]),
            },
        };
        let columns = self
            .columns
            .iter_mut()
            .zip(&plan.columns)
            .map(|(m, &(col, _))| Column {
                index: col,
                name: header.names[col].clone(),
                data: match m {
                    MergedColumn::Numeric(v) => ColumnData::Numeric(std::mem::take(v)),
                    MergedColumn::Text { codes, dict, .. } => ColumnData::Categorical {
                        codes: std::mem::take(codes),
                        dict: dict.clone(),
                    },
                    MergedColumn::NotNumeric {
                        line,
                        numbers,
                        texts,
                    } => ColumnData::NotNumeric {
                        first_text_line: *line,
                        numbers: *numbers,
                        texts: *texts,
                    },
                },
            })
            .collect();
        Table {
            n_rows,
            ids,
            columns,
            lines,
        }
    }

    fn finish(self, header: &Header, plan: &ReadPlan) -> Result<Table, IngestError> {
        let path = header.path.as_path();
        if self.lines.is_empty() {
            return Err(IngestError::NoRows {
                path: path.to_owned(),
            });
        }
        let n_rows = self.lines.len();
        let ids = match plan.id_column {
            None => IdColumn::RowNumbers(n_rows),
            Some(c) => {
                let ids = IdColumn::Text {
                    name: header.names[c].clone(),
                    bytes: self.id_bytes,
                    offsets: self.id_offsets,
                };
                if !plan.allow_duplicate_ids
                    && let Some((a, b)) = ids.first_duplicate()
                {
                    return Err(IngestError::DuplicateId {
                        path: path.to_owned(),
                        name: header.names[c].clone(),
                        word: header.format.position_word(),
                        first_line: self.lines[a],
                        line: self.lines[b],
                    });
                }
                ids
            }
        };
        let columns = self
            .columns
            .into_iter()
            .zip(&plan.columns)
            .map(|(m, &(col, _))| Column {
                index: col,
                name: header.names[col].clone(),
                data: match m {
                    MergedColumn::Numeric(v) => ColumnData::Numeric(v),
                    MergedColumn::Text { codes, dict, .. } => {
                        ColumnData::Categorical { codes, dict }
                    }
                    MergedColumn::NotNumeric {
                        line,
                        numbers,
                        texts,
                    } => ColumnData::NotNumeric {
                        first_text_line: line,
                        numbers,
                        texts,
                    },
                },
            })
            .collect();
        Ok(Table {
            n_rows,
            ids,
            columns,
            lines: self.lines,
        })
    }
}

/// Appends one part's column to the file's, in file order, and returns the part's number
/// buffer (if it had one) for reuse.
fn merge_column(m: &mut MergedColumn, b: Builder) -> Option<Vec<f64>> {
    match (m, b) {
        (
            MergedColumn::NotNumeric { numbers, texts, .. },
            Builder::NotNumeric {
                numbers: n,
                texts: t,
                ..
            },
        ) => {
            *numbers += n;
            *texts += t;
            None
        }
        (
            MergedColumn::NotNumeric { numbers, .. },
            Builder::Auto(p) | Builder::Numeric(p) | Builder::Date(p),
        ) => {
            *numbers += present(&p);
            Some(p)
        }
        (MergedColumn::NotNumeric { .. }, Builder::Text { .. }) => None,
        (
            m @ MergedColumn::Numeric(_),
            Builder::NotNumeric {
                line,
                numbers,
                texts,
            },
        ) => {
            let before = match m {
                MergedColumn::Numeric(v) => present(v),
                _ => 0,
            };
            *m = MergedColumn::NotNumeric {
                line,
                numbers: before + numbers,
                texts,
            };
            None
        }
        (MergedColumn::Numeric(v), Builder::Numeric(p) | Builder::Date(p) | Builder::Auto(p)) => {
            v.extend_from_slice(&p);
            Some(p)
        }
        (
            MergedColumn::Text { codes, dict, index },
            Builder::Text {
                codes: local,
                dict: local_dict,
                ..
            },
        ) => {
            // The part's dictionary is in order of first appearance within it, so
            // adding unseen entries in that order keeps the file's first-appearance
            // order.
            let remap: Vec<u32> = local_dict
                .into_iter()
                .map(|s| match index.get(&s) {
                    Some(&c) => c,
                    None => {
                        let c = dict.len() as u32;
                        index.insert(s.clone(), c);
                        dict.push(s);
                        c
                    }
                })
                .collect();
            codes.extend(local.iter().map(|&c| {
                if c == abi_missing() {
                    c
                } else {
                    remap[c as usize]
                }
            }));
            None
        }
        _ => unreachable!("a part's columns follow the same plan"),
    }
}

/// The code of a missing categorical value (the plugin ABI's `MISSING_CODE`).
#[inline]
fn abi_missing() -> u32 {
    table::MISSING_CODE
}

/// Parses a finite number, allowing surrounding spaces. `inf` and `nan` are not numbers here.
///
/// Accepts what Rust's `str::parse::<f64>` accepts (a test holds the two to the same answers),
/// straight from bytes: no UTF-8 check, which was a tenth of ingest time.
#[inline]
pub fn parse_number(field: &[u8]) -> Option<f64> {
    let field = field.trim_ascii();
    if let Some(x) = short_decimal(field) {
        return Some(x);
    }
    let x: f64 = fast_float2::parse(field).ok()?;
    x.is_finite().then_some(x)
}

/// Exact powers of ten as f64 (every one up to 10^22 is representable).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A plain decimal (`-12.345`: a sign, digits, a point, digits; no exponent) whose digits make
/// an integer of at most 2^53, else `None` (for the general parser).
#[inline]
fn short_decimal(s: &[u8]) -> Option<f64> {
    decimal_prefix(s)
        .filter(|&(_, len)| len == s.len())
        .map(|(x, _)| x)
}

/// The value and length of the plain decimal that `s` starts with (a sign, digits, a point,
/// digits: the longest such prefix), if it has 1 to 19 digits making an integer of at most
/// 2^53.
///
/// Clinger's fast path: the digits as an integer `m` and the power `10^f` are both exact f64s,
/// so `m / 10^f`, one correctly rounded division, is the correctly rounded value of the text,
/// the bits the standard library's parser gives. Most numbers in customer data take this path;
/// it is a third of the general parser's cost.
#[inline]
pub(crate) fn decimal_prefix(s: &[u8]) -> Option<(f64, usize)> {
    let (negative, sign) = match s.first()? {
        b'-' => (true, 1),
        b'+' => (false, 1),
        _ => (false, 0),
    };
    let digit = |i: usize| s.get(i).map(|b| b.wrapping_sub(b'0')).filter(|&d| d < 10);
    let mut m: u64 = 0;
    let mut i = sign;
    while let Some(d) = digit(i) {
        m = m.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    let whole = i - sign;
    let mut places = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        while let Some(d) = digit(i) {
            m = m.wrapping_mul(10).wrapping_add(u64::from(d));
            i += 1;
        }
        places = i - sign - whole - 1;
    }
    let count = whole + places;
    // 19 digits cannot wrap a u64, so `m` is the digits' value wherever it is used.
    if count == 0 || count > 19 || m > 1 << 53 {
        return None;
    }
    let x = m as f64 / POW10[places];
    // The sign as a bit, not a branch: signs in data are as good as random.
    Some((f64::from_bits(x.to_bits() | u64::from(negative) << 63), i))
}

#[cfg(test)]
mod tests;
