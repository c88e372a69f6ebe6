//! Parsing one chunk of whole records into a [`Part`]: typed column values, lines and ids.
//!
//! Two splitters cut a chunk into records and fields, and both hand every record to the same
//! [`Rows::row`], so values, line numbers and errors are the same whichever one split it:
//! - the csv crate, for any chunk: quoted fields, escaped quotes, a lone `\r` as a record end;
//! - a plain splitter, for a chunk with no `\r` but before `\n` (nearly every file). Lines
//!   without a quote byte are cut at delimiters and newlines in one pass that parses numbers on
//!   the way; fields are slices of the chunk, no record is built or copied. A record with a
//!   quote in it is read by a csv reader seeked to its line, and the pass goes on after it.
//!
//! Without quotes a field is exactly the bytes between delimiters, as the csv crate reads it;
//! `split_plain_matches_the_csv_reader` in the tests holds the two splitters to the same tables
//! and errors on a set of awkward files.

use std::collections::HashMap;
use std::path::Path;

use crate::{
    Header, IngestError, ParseAs, ReadPlan, abi_missing, chunks, csv_error, is_missing,
    parse_iso_date, parse_number, reader,
};

/// A column being filled while reading one chunk.
pub(crate) enum Builder {
    Numeric(Vec<f64>),
    Date(Vec<f64>),
    /// Codes into this chunk's own dictionary, in order of first appearance in the chunk.
    Text {
        codes: Vec<u32>,
        dict: Vec<String>,
        index: HashMap<Vec<u8>, u32, foldhash::fast::RandomState>,
    },
    Auto(Vec<f64>),
    NotNumeric {
        line: u64,
        /// Present values that are numbers, and that are not, counted on after the first text
        /// (a column of numbers with a stray cell is an error to report, not text).
        numbers: u64,
        texts: u64,
    },
}

/// Number columns of parts already merged, to parse the next chunks into: fresh vectors for
/// every chunk were the table's size again in pages faulted in and zeroed.
pub(crate) struct Spare {
    buffers: std::sync::Mutex<Vec<Vec<f64>>>,
    keep: usize,
}

impl Spare {
    /// A pool that keeps at most `keep` buffers.
    pub fn new(keep: usize) -> Spare {
        Spare {
            buffers: std::sync::Mutex::new(Vec::new()),
            keep,
        }
    }

    /// An empty vector with room for `capacity` values, reused where one is spare.
    pub(crate) fn take(&self, capacity: usize) -> Vec<f64> {
        let reused = self.buffers.lock().ok().and_then(|mut b| b.pop());
        let mut v = reused.unwrap_or_default();
        v.clear();
        v.reserve(capacity);
        v
    }

    /// Takes back a buffer that is done with.
    pub fn give(&self, v: Vec<f64>) {
        if let Ok(mut b) = self.buffers.lock()
            && b.len() < self.keep
        {
            b.push(v);
        }
    }
}

/// What one chunk parses into.
pub(crate) struct Part {
    pub lines: Vec<u64>,
    pub id_bytes: Vec<u8>,
    /// End offset of each id in `id_bytes`.
    pub id_ends: Vec<usize>,
    pub columns: Vec<Builder>,
}

/// Parses the records of one chunk, with the plain splitter where the chunk allows it.
pub(crate) fn parse_chunk(
    chunk: &chunks::Chunk,
    header: &Header,
    plan: &ReadPlan,
    spare: &Spare,
) -> Result<Part, IngestError> {
    parse_chunk_with(chunk, header, plan, is_plain(&chunk.bytes), spare)
}

/// [`parse_chunk`] with the splitter chosen: `plain` only where [`is_plain`] holds.
pub(crate) fn parse_chunk_with(
    chunk: &chunks::Chunk,
    header: &Header,
    plan: &ReadPlan,
    plain: bool,
    spare: &Spare,
) -> Result<Part, IngestError> {
    let mut rows = Rows::new(chunk, header, plan, spare);
    if plain {
        split_plain(chunk, header, &mut rows)?;
    } else {
        split_csv(chunk, header, &mut rows)?;
    }
    Ok(rows.part)
}

/// True when the plain splitter reads `bytes` as the csv crate does: every `\r` is part of a
/// `\r\n` (the csv crate ends a record at a lone `\r` too, which the plain splitter does not
/// look for).
pub(crate) fn is_plain(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', bytes).all(|i| bytes.get(i + 1) == Some(&b'\n'))
}

/// Splits a plain chunk ([`is_plain`]) at delimiters and newlines in one pass, parsing the
/// fields read as numbers on the way: a field that starts with a plain decimal
/// ([`crate::decimal_prefix`]) followed by a delimiter or line end is found and parsed at once;
/// any other field is found by a vector search and parsed (if at all) by [`Rows::row`].
/// A line with a quote byte starts a record for the csv reader ([`QuotedRecords`]).
fn split_plain(chunk: &chunks::Chunk, header: &Header, rows: &mut Rows) -> Result<(), IngestError> {
    let delimiter = header.csv_delimiter();
    let bytes = chunk.bytes.as_slice();
    let mut quoted = QuotedRecords::new(bytes);
    let width = rows.width;
    let numeric: Vec<bool> = (0..width)
        .map(|c| {
            rows.plan.columns.iter().any(|&(col, how)| {
                col == c && matches!(how, ParseAs::Numeric | ParseAs::AutoNumeric)
            })
        })
        .collect();
    // End of each field of the record being read, and its value where parsed here (NaN: not).
    let mut ends: Vec<usize> = Vec::with_capacity(width + 1);
    let mut values = vec![f64::NAN; width];
    let mut start = 0;
    let mut line = chunk.first_line;
    while start < bytes.len() {
        if start == quoted.line_start {
            let Some(end) = quoted.read(start, line, header, rows)? else {
                return Ok(());
            };
            line += memchr::memchr_iter(b'\n', &bytes[start..end]).count() as u64;
            start = end;
            quoted.find_next(start);
            continue;
        }
        let mut pos = start;
        let newline = loop {
            let j = ends.len();
            let mut end = None;
            if numeric.get(j) == Some(&true)
                && let Some((x, len)) = crate::decimal_prefix(&bytes[pos..])
            {
                let e = pos + len;
                if bytes
                    .get(e)
                    .is_none_or(|&b| b == delimiter || b == b'\n' || b == b'\r')
                {
                    values[j] = x;
                    end = Some(e);
                }
            }
            let e = end.unwrap_or_else(|| {
                if let Some(v) = values.get_mut(j) {
                    *v = f64::NAN;
                }
                memchr::memchr2(delimiter, b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i)
            });
            match bytes.get(e) {
                Some(&b) if b == delimiter => {
                    ends.push(e);
                    pos = e + 1;
                }
                // A `\r` here is followed by `\n` ([`is_plain`]).
                Some(b'\r') => {
                    ends.push(e);
                    break e + 1;
                }
                Some(_) if e > pos && bytes[e - 1] == b'\r' => {
                    ends.push(e - 1);
                    break e;
                }
                _ => {
                    ends.push(e);
                    break e;
                }
            }
        };
        // An empty line is no record, as the csv crate reads it.
        if ends.len() > 1 || ends[0] > start {
            let ends = ends.as_slice();
            let field = |f: usize| {
                let from = if f == 0 { start } else { ends[f - 1] + 1 };
                &bytes[from..ends[f]]
            };
            let values = values.as_slice();
            rows.row(line, ends.len(), field, |f| {
                let x = values[f];
                if x.is_nan() {
                    parse_number(field(f))
                } else {
                    Some(x)
                }
            })?;
        }
        ends.clear();
        line += 1;
        start = newline + 1;
    }
    Ok(())
}

/// The records of a plain chunk that hold a quote byte, read by the csv crate.
struct QuotedRecords<'b> {
    bytes: &'b [u8],
    /// Made at the first quoted record; a small buffer, since each record seeks it afresh.
    reader: Option<csv::Reader<std::io::Cursor<&'b [u8]>>>,
    record: csv::ByteRecord,
    /// Where the line holding the next quote byte starts; past the chunk when there is none.
    line_start: usize,
}

impl<'b> QuotedRecords<'b> {
    fn new(bytes: &'b [u8]) -> QuotedRecords<'b> {
        let mut q = QuotedRecords {
            bytes,
            reader: None,
            record: csv::ByteRecord::new(),
            line_start: 0,
        };
        q.find_next(0);
        q
    }

    /// Finds the next quote byte at or after `from`, a record's start.
    fn find_next(&mut self, from: usize) {
        self.line_start = match memchr::memchr(b'"', &self.bytes[from..]) {
            Some(q) => {
                memchr::memrchr(b'\n', &self.bytes[from..from + q]).map_or(from, |i| from + i + 1)
            }
            None => usize::MAX,
        };
    }

    /// Reads the record that starts at byte `start`, on `line`, into `rows`; returns where the
    /// reader stopped (`None`: no record left in the chunk).
    fn read(
        &mut self,
        start: usize,
        line: u64,
        header: &Header,
        rows: &mut Rows,
    ) -> Result<Option<usize>, IngestError> {
        let bytes = self.bytes;
        let reader = self.reader.get_or_insert_with(|| {
            csv::ReaderBuilder::new()
                .delimiter(header.csv_delimiter())
                .has_headers(false)
                .flexible(true)
                .buffer_capacity(4096)
                .from_reader(std::io::Cursor::new(bytes))
        });
        let mut at = csv::Position::new();
        at.set_byte(start as u64).set_line(line);
        reader.seek(at).map_err(|e| csv_error(&header.path, e))?;
        if !reader
            .read_byte_record(&mut self.record)
            .map_err(|e| csv_error(&header.path, e))?
        {
            return Ok(None);
        }
        let record = &self.record;
        rows.row(
            line,
            record.len(),
            |f| &record[f],
            |f| parse_number(&record[f]),
        )?;
        Ok(Some(reader.position().byte() as usize))
    }
}

/// Splits any chunk with the csv crate.
fn split_csv(chunk: &chunks::Chunk, header: &Header, rows: &mut Rows) -> Result<(), IngestError> {
    let path = header.path.as_path();
    let mut rdr = reader(chunk.bytes.as_slice(), header.csv_delimiter());
    let mut record = csv::ByteRecord::new();
    let first = chunk.first_line - 1;
    let bytes = chunk.bytes.as_slice();
    let (mut seen_byte, mut seen_line) = (0usize, chunk.first_line);
    loop {
        let more = rdr.read_byte_record(&mut record).map_err(|e| {
            // Errors from the csv reader count lines from the chunk's start.
            match csv_error(path, e) {
                IngestError::Malformed {
                    path,
                    line,
                    message,
                } => IngestError::Malformed {
                    path,
                    line: line + first,
                    message,
                },
                other => other,
            }
        })?;
        if !more {
            return Ok(());
        }
        // The csv reader's own line for a record after a blank line is the blank line's, so
        // the line is counted here: newlines before the record's first byte.
        let mut start = record.position().map_or(0, |p| p.byte() as usize);
        while matches!(bytes.get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        // Usually one byte to look at: a plain loop beats setting up a vector search.
        seen_line += bytes[seen_byte..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        seen_byte = start;
        rows.row(
            seen_line,
            record.len(),
            |f| &record[f],
            |f| parse_number(&record[f]),
        )?;
    }
}

/// The part being filled from a chunk's records, whichever splitter found them.
struct Rows<'a> {
    path: &'a Path,
    header: &'a Header,
    plan: &'a ReadPlan,
    width: usize,
    /// Rows the chunk is guessed to hold.
    guess: usize,
    part: Part,
}

impl<'a> Rows<'a> {
    fn new(
        chunk: &chunks::Chunk,
        header: &'a Header,
        plan: &'a ReadPlan,
        spare: &Spare,
    ) -> Rows<'a> {
        // Rows in the chunk, guessed from its first line's length, so that the column vectors
        // are allocated once (growing them by doubling cost a tenth of ingest in copies and
        // page faults).
        let first_len = memchr::memchr(b'\n', &chunk.bytes).map_or(chunk.bytes.len(), |p| p + 1);
        let guess = chunk.bytes.len() / first_len.max(1) + 16;
        let part = Part {
            lines: Vec::with_capacity(guess),
            id_bytes: Vec::new(),
            id_ends: Vec::with_capacity(if plan.id_column.is_some() { guess } else { 0 }),
            columns: plan
                .columns
                .iter()
                .map(|&(_, how)| match how {
                    ParseAs::Numeric => Builder::Numeric(spare.take(guess)),
                    ParseAs::Date => Builder::Date(spare.take(guess)),
                    ParseAs::Text => Builder::Text {
                        codes: Vec::with_capacity(guess),
                        dict: Vec::new(),
                        index: HashMap::default(),
                    },
                    ParseAs::AutoNumeric => Builder::Auto(spare.take(guess)),
                })
                .collect(),
        };
        Rows {
            path: header.path.as_path(),
            header,
            plan,
            width: header.names.len(),
            guess,
            part,
        }
    }

    fn bad(&self, line: u64, col: usize, expected: &'static str, field: &[u8]) -> IngestError {
        IngestError::BadValue {
            path: self.path.to_owned(),
            word: "line",
            line,
            column: col + 1,
            name: self.header.names[col].clone(),
            expected,
            value: String::from_utf8_lossy(field).chars().take(80).collect(),
        }
    }

    fn not_utf8(&self, line: u64, col: usize) -> IngestError {
        IngestError::NotUtf8 {
            path: self.path.to_owned(),
            line,
            column: col + 1,
            name: self.header.names[col].clone(),
        }
    }

    /// Takes one record of `n` fields that starts on `line`; `field(i)` is its `i`-th field
    /// and `number(i)` is [`parse_number`] of it (which the splitter may have found already).
    ///
    /// A number is tried before the missing tokens: none of them parses as a finite number,
    /// and most fields are numbers.
    fn row<'f>(
        &mut self,
        line: u64,
        n: usize,
        field: impl Fn(usize) -> &'f [u8],
        number: impl Fn(usize) -> Option<f64>,
    ) -> Result<(), IngestError> {
        if n != self.width {
            // A blank line is not a customer; anything else of the wrong width is an error.
            if n == 1 && field(0).trim_ascii().is_empty() {
                return Ok(());
            }
            return Err(IngestError::Ragged {
                path: self.path.to_owned(),
                line,
                expected: self.width,
                found: n,
            });
        }
        self.part.lines.push(line);
        if let Some(c) = self.plan.id_column {
            // Ids are written to every output and read back by compare: text, as the
            // categorical columns are.
            let id = field(c);
            if std::str::from_utf8(id).is_err() {
                return Err(self.not_utf8(line, c));
            }
            if self.part.id_ends.is_empty() {
                // Sized from the first id, as the columns are from the first line.
                self.part
                    .id_bytes
                    .reserve(self.guess * (id.len() + id.len() / 4 + 1));
            }
            self.part.id_bytes.extend_from_slice(id);
            self.part.id_ends.push(self.part.id_bytes.len());
        }
        for (k, &(col, _)) in self.plan.columns.iter().enumerate() {
            // The field's bytes only where needed: most numbers were parsed by the splitter.
            let field = || field(col);
            match &mut self.part.columns[k] {
                Builder::Numeric(v) => match number(col) {
                    Some(x) => v.push(x),
                    None if is_missing(field()) => v.push(f64::NAN),
                    None => return Err(self.bad(line, col, "a number", field())),
                },
                Builder::Date(v) => {
                    let x = if is_missing(field()) {
                        f64::NAN
                    } else {
                        match std::str::from_utf8(field().trim_ascii())
                            .ok()
                            .and_then(parse_iso_date)
                        {
                            Some(x) => x,
                            None => {
                                return Err(self.bad(
                                    line,
                                    col,
                                    "a date such as 2024-03-31 or 2024-03-31 14:05",
                                    field(),
                                ));
                            }
                        }
                    };
                    v.push(x);
                }
                Builder::Text { codes, dict, index } => {
                    if is_missing(field()) {
                        codes.push(abi_missing());
                        continue;
                    }
                    let t = field().trim_ascii();
                    let code = match index.get(t) {
                        Some(&c) => c,
                        None => {
                            let Ok(s) = std::str::from_utf8(t) else {
                                return Err(self.not_utf8(line, col));
                            };
                            let c = dict.len() as u32;
                            dict.push(s.to_owned());
                            index.insert(t.to_vec(), c);
                            c
                        }
                    };
                    codes.push(code);
                }
                Builder::NotNumeric { numbers, texts, .. } => {
                    if number(col).is_some() {
                        *numbers += 1;
                    } else if !is_missing(field()) {
                        *texts += 1;
                    }
                }
                b => match b {
                    Builder::Auto(v) => match number(col) {
                        Some(x) => v.push(x),
                        None if is_missing(field()) => v.push(f64::NAN),
                        None => {
                            *b = Builder::NotNumeric {
                                line,
                                numbers: crate::present(v),
                                texts: 1,
                            };
                        }
                    },
                    _ => unreachable!(),
                },
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

    /// A part as text, dictionaries in order (the index is a hash map).
    fn shown(part: &Result<Part, IngestError>) -> String {
        let part = match part {
            Ok(p) => p,
            Err(e) => return format!("error: {e}"),
        };
        let mut s = format!(
            "lines {:?} ids {:?} {:?}\n",
            part.lines, part.id_bytes, part.id_ends
        );
        for b in &part.columns {
            let _ = match b {
                Builder::Numeric(v) | Builder::Date(v) | Builder::Auto(v) => {
                    let bits: Vec<u64> = v.iter().map(|x| x.to_bits()).collect();
                    writeln!(s, "numbers {bits:?}")
                }
                Builder::Text { codes, dict, .. } => writeln!(s, "text {codes:?} {dict:?}"),
                Builder::NotNumeric {
                    line,
                    numbers,
                    texts,
                } => writeln!(s, "not numeric {line} {numbers} {texts}"),
            };
        }
        s
    }

    /// The plain splitter gives the csv reader's table or first error on every plain file here:
    /// blank and whitespace lines, CRLF, no final newline, empty and spaced fields, quoted
    /// fields (delimiters, newlines, escaped quotes, literal quotes, never closed), numbers the
    /// short path leaves to the general parser, ragged rows, bad values, text in numeric
    /// columns, ids that are not UTF-8 (or last on a CRLF line, where a kept `\r` would show),
    /// other delimiters.
    #[test]
    fn split_plain_matches_the_csv_reader() {
        let files: &[&[u8]] = &[
            b"A,1,2\nB,3,4\n",
            b"A,1,2\r\nB,3,4\r\n",
            b"\n\nA,1,2\n   \n\r\nB,3,4",
            b"A, 1 ,2 \nB,\t3,4\t\r\n",
            b"A,1e5,-.5\nB,+.5,-0\nC,5.,.",
            b"A,12345678901234567890,9007199254740993\nB,0.1234567890123456789,1",
            b"A,NA,\nB,,null\nC,n/a, NaN \n",
            b"A,1,\n,,\nB,,2\n",
            b"A,1\nB,2,3\n",
            b"A,1,2,3\n",
            b"A,1,2\nB,x,2y\n",
            b"A,12abc,1.5.5\n",
            b"A,1,2\n\xff,1,2\n",
            b"A,red,1\nB,blue,2\nC,red,x\n",
            b" \n \n",
            b"",
            b"A,1,2",
            b"A,1,2\n\n\n",
            b"A,x,2 \r\nB,y,\r\n",
            b"A,\"red, or blue\",1\nB,blue,2\n",
            b"\"A\",x,1\nB,\"say \"\"hi\"\"\",2\nC,5'10\",3\n",
            b"A,\"two\nlines\",1\nB,\"three\r\nlines\nhere\",2\r\nC,z,3\n",
            b"A,x,1\nB,\"x\"y,2\nC,\"x\" ,3\n",
            b"A,x,1\nB,\"never closed,2\nC,x,3\n",
            b"A,x,1\nB,\"q\",2,9\nC,x,3\n",
            b"A,x,1\n\n\"B\",y,\"2\"",
            b"A,x,\"1.5\"\r\n\r\nB,\"\",\"\"\r\n",
        ];
        let plans = [
            vec![
                (1, ParseAs::Text),
                (1, ParseAs::AutoNumeric),
                (2, ParseAs::AutoNumeric),
            ],
            vec![(1, ParseAs::Numeric), (2, ParseAs::Numeric)],
            vec![(2, ParseAs::Numeric), (1, ParseAs::Text)],
        ];
        for delimiter in [b',', b';', b'\t'] {
            let header = Header {
                path: "customers.csv".into(),
                format: crate::Format::Csv { delimiter },
                bytes: 0,
                names: vec!["id".into(), "a".into(), "b".into()],
                types: vec![crate::SchemaType::Untyped; 3],
            };
            for &file in files {
                let bytes: Vec<u8> = file
                    .iter()
                    .map(|&b| if b == b',' { delimiter } else { b })
                    .collect();
                assert!(is_plain(&bytes), "{:?}", String::from_utf8_lossy(&bytes));
                let chunk = chunks::Chunk {
                    bytes,
                    first_line: 7,
                };
                for (id_column, columns) in [None, Some(0), Some(2)]
                    .into_iter()
                    .flat_map(|id| plans.iter().map(move |p| (id, p.clone())))
                {
                    let plan = ReadPlan {
                        id_column,
                        allow_duplicate_ids: true,
                        columns,
                    };
                    let parse = |plain| {
                        shown(&parse_chunk_with(
                            &chunk,
                            &header,
                            &plan,
                            plain,
                            &Spare::new(0),
                        ))
                    };
                    let (plain, csv) = (parse(true), parse(false));
                    assert_eq!(
                        plain,
                        csv,
                        "{:?} with {plan:?}",
                        String::from_utf8_lossy(&chunk.bytes)
                    );
                }
            }
        }
    }

    #[test]
    fn lone_returns_are_not_plain() {
        assert!(is_plain(b"a,b\r\nc,d\n"));
        assert!(is_plain(b"a,\"b\"\n"));
        assert!(!is_plain(b"a,b\rc,d\n"));
        assert!(!is_plain(b"a,b\r"));
        assert!(!is_plain(b"a,b\r\r\n"));
    }
}
