//! CSV ingest: turns a customer file into typed columns, reading only the columns asked for.
//!
//! - The header is required. The delimiter is sniffed among `,` `;` and tab unless given.
//! - UTF-8 with or without a byte-order mark; quoted fields per RFC 4180.
//! - Missing tokens (after trimming spaces): empty, `NA`, `N/A`, `NaN`, `null` (any case).
//! - Records are read as byte records: no allocation per field on the hot path; categorical
//!   text is interned once per distinct value.
//! - Every error names the file, the line and, for a value, the column and what was expected.
//!
//! Identifiers are kept byte for byte (never trimmed) and are never put in an error message:
//! a duplicate id is reported by the two lines it is on.

mod date;
mod table;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

pub use date::{
    DateEvidence, DateFormat, date_evidence, days_from_civil, parse_date, parse_iso_date,
};
pub use table::{Column, ColumnData, IdColumn, MISSING_CODE, Table};

/// What went wrong reading a CSV file. Line numbers are 1-based and count the header.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the file is empty; expected a header line naming the columns")]
    Empty { path: PathBuf },
    #[error("{path}: the file has a header but no data rows")]
    NoRows { path: PathBuf },
    #[error("{path}, line {line}: {message}")]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}, line {line}: expected {expected} fields like the header, found {found}")]
    Ragged {
        path: PathBuf,
        line: u64,
        expected: usize,
        found: usize,
    },
    #[error(
        "{path}, line {line}, column {column} ('{name}'): expected {expected}, found '{value}'"
    )]
    BadValue {
        path: PathBuf,
        line: u64,
        column: usize,
        name: String,
        expected: &'static str,
        value: String,
    },
    #[error("{path}, line {line}, column {column} ('{name}'): the text is not valid UTF-8")]
    NotUtf8 {
        path: PathBuf,
        line: u64,
        column: usize,
        name: String,
    },
    #[error(
        "{path}: duplicate id in column '{name}' on lines {first_line} and {line} \
         (pass --allow-duplicate-ids if repeated ids are expected)"
    )]
    DuplicateId {
        path: PathBuf,
        name: String,
        first_line: u64,
        line: u64,
    },
}

/// The header of a CSV file and how to split it.
#[derive(Debug, Clone)]
pub struct Header {
    pub path: PathBuf,
    pub delimiter: u8,
    pub names: Vec<String>,
}

impl Header {
    /// Index of the column named exactly `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|h| h == name)
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
    File::open(path).map_err(|source| IngestError::Io {
        path: path.to_owned(),
        source,
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
        csv::ErrorKind::Io(source) => IngestError::Io {
            path: path.to_owned(),
            source,
        },
        other => IngestError::Malformed {
            path: path.to_owned(),
            line,
            message: format!("{other:?}"),
        },
    }
}

/// Reads the header (and sniffs the delimiter unless `delimiter` is given).
pub fn read_header(path: &Path, delimiter: Option<u8>) -> Result<Header, IngestError> {
    let file = open(path)?;
    let mut buf = BufReader::with_capacity(1 << 16, file);
    let sample = buf.fill_buf().map_err(|source| IngestError::Io {
        path: path.to_owned(),
        source,
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
        delimiter,
        names,
    })
}

/// Data records of a file, one at a time, under the same rules as [`read_table`]: blank
/// lines skipped, a record of the wrong width an error naming its line.
pub struct Records {
    rdr: csv::Reader<File>,
    path: PathBuf,
    width: usize,
}

impl Records {
    /// Opens `header.path` past its header line.
    pub fn open(header: &Header) -> Result<Records, IngestError> {
        let path = header.path.clone();
        let mut rdr = reader(open(&path)?, header.delimiter);
        let mut skip = csv::ByteRecord::new();
        rdr.read_byte_record(&mut skip)
            .map_err(|e| csv_error(&path, e))?;
        Ok(Records {
            rdr,
            path,
            width: header.names.len(),
        })
    }

    /// Reads the next data record into `record`; returns the line it starts on.
    pub fn next(&mut self, record: &mut csv::ByteRecord) -> Result<Option<u64>, IngestError> {
        loop {
            if !self
                .rdr
                .read_byte_record(record)
                .map_err(|e| csv_error(&self.path, e))?
            {
                return Ok(None);
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

/// A column being filled while reading.
enum Builder {
    Numeric(Vec<f64>),
    Date(Vec<f64>),
    Text {
        codes: Vec<u32>,
        dict: Vec<String>,
        index: HashMap<Vec<u8>, u32>,
    },
    Auto(Vec<f64>),
    NotNumeric {
        line: u64,
    },
}

/// Reads the rows of `header.path` according to `plan`.
pub fn read_table(header: &Header, plan: &ReadPlan) -> Result<Table, IngestError> {
    let path = header.path.as_path();
    let width = header.names.len();
    for &(i, _) in &plan.columns {
        assert!(i < width, "plan names column {i} of {width}");
    }
    let mut records = Records::open(header)?;
    let mut record = csv::ByteRecord::new();

    let mut builders: Vec<Builder> = plan
        .columns
        .iter()
        .map(|&(_, how)| match how {
            ParseAs::Numeric => Builder::Numeric(Vec::new()),
            ParseAs::Date => Builder::Date(Vec::new()),
            ParseAs::Text => Builder::Text {
                codes: Vec::new(),
                dict: Vec::new(),
                index: HashMap::new(),
            },
            ParseAs::AutoNumeric => Builder::Auto(Vec::new()),
        })
        .collect();
    let mut id_bytes = Vec::new();
    let mut id_offsets = vec![0usize];
    let mut lines = Vec::new();

    let bad = |line: u64, col: usize, expected: &'static str, field: &[u8]| IngestError::BadValue {
        path: path.to_owned(),
        line,
        column: col + 1,
        name: header.names[col].clone(),
        expected,
        value: String::from_utf8_lossy(field).chars().take(80).collect(),
    };

    while let Some(line) = records.next(&mut record)? {
        lines.push(line);
        if let Some(c) = plan.id_column {
            id_bytes.extend_from_slice(&record[c]);
            id_offsets.push(id_bytes.len());
        }
        for (b, &(col, _)) in builders.iter_mut().zip(&plan.columns) {
            let field = &record[col];
            match b {
                Builder::Numeric(v) => {
                    let x = if is_missing(field) {
                        f64::NAN
                    } else {
                        parse_number(field).ok_or_else(|| bad(line, col, "a number", field))?
                    };
                    v.push(x);
                }
                Builder::Date(v) => {
                    let x = if is_missing(field) {
                        f64::NAN
                    } else {
                        std::str::from_utf8(field.trim_ascii())
                            .ok()
                            .and_then(parse_iso_date)
                            .ok_or_else(|| {
                                bad(
                                    line,
                                    col,
                                    "a date such as 2024-03-31 or 2024-03-31 14:05",
                                    field,
                                )
                            })?
                    };
                    v.push(x);
                }
                Builder::Text { codes, dict, index } => {
                    if is_missing(field) {
                        codes.push(abi_missing());
                        continue;
                    }
                    let t = field.trim_ascii();
                    let code = match index.get(t) {
                        Some(&c) => c,
                        None => {
                            let s = std::str::from_utf8(t).map_err(|_| IngestError::NotUtf8 {
                                path: path.to_owned(),
                                line,
                                column: col + 1,
                                name: header.names[col].clone(),
                            })?;
                            let c = dict.len() as u32;
                            dict.push(s.to_owned());
                            index.insert(t.to_vec(), c);
                            c
                        }
                    };
                    codes.push(code);
                }
                Builder::Auto(v) => {
                    if is_missing(field) {
                        v.push(f64::NAN);
                    } else if let Some(x) = parse_number(field) {
                        v.push(x);
                    } else {
                        *b = Builder::NotNumeric { line };
                    }
                }
                Builder::NotNumeric { .. } => {}
            }
        }
    }
    if lines.is_empty() {
        return Err(IngestError::NoRows {
            path: path.to_owned(),
        });
    }
    let n_rows = lines.len();
    let ids = match plan.id_column {
        None => IdColumn::RowNumbers(n_rows),
        Some(c) => {
            let ids = IdColumn::Text {
                name: header.names[c].clone(),
                bytes: id_bytes,
                offsets: id_offsets,
            };
            if !plan.allow_duplicate_ids {
                if let Some((a, b)) = ids.first_duplicate() {
                    return Err(IngestError::DuplicateId {
                        path: path.to_owned(),
                        name: header.names[c].clone(),
                        first_line: lines[a],
                        line: lines[b],
                    });
                }
            }
            ids
        }
    };
    let columns = builders
        .into_iter()
        .zip(&plan.columns)
        .map(|(b, &(col, _))| Column {
            index: col,
            name: header.names[col].clone(),
            data: match b {
                Builder::Numeric(v) | Builder::Date(v) | Builder::Auto(v) => ColumnData::Numeric(v),
                Builder::Text { codes, dict, .. } => ColumnData::Categorical { codes, dict },
                Builder::NotNumeric { line } => ColumnData::NotNumeric {
                    first_text_line: line,
                },
            },
        })
        .collect();
    Ok(Table {
        n_rows,
        ids,
        columns,
        lines,
    })
}

/// The code of a missing categorical value (the plugin ABI's `MISSING_CODE`).
#[inline]
fn abi_missing() -> u32 {
    table::MISSING_CODE
}

/// Parses a finite number, allowing surrounding spaces. `inf` and `nan` are not numbers here.
#[inline]
pub fn parse_number(field: &[u8]) -> Option<f64> {
    let t = field.trim_ascii();
    let s = std::str::from_utf8(t).ok()?;
    let x: f64 = s.parse().ok()?;
    x.is_finite().then_some(x)
}

#[cfg(test)]
mod tests;
