//! Cuts a CSV file's data into byte chunks that end on record boundaries, so that chunks can be
//! parsed on different threads and give exactly what one sequential reader would.
//!
//! A newline ends a record unless it is inside a quoted field. Whether it is depends on the
//! bytes before it, so the cut is found by a small state machine that follows the csv crate's
//! rules (a quote opens a quoted field only at the start of a field; `""` inside one is an
//! escaped quote). A chunk without any quote byte skips the machine: its last newline is the cut.
//! Each chunk carries the line number its first record starts on, counted as the csv crate
//! counts lines (every `\n`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use crate::IngestError;

/// Bytes read per chunk (a chunk grows past this only to finish a record).
pub(crate) const CHUNK_BYTES: usize = 4 << 20;

/// Whole records of the file, and the line the first one starts on.
pub(crate) struct Chunk {
    pub bytes: Vec<u8>,
    pub first_line: u64,
}

/// The position after the last record-ending newline in `bytes`, which start at a record
/// boundary; `None` when no record ends inside them.
///
/// Jumps from quote to quote ([`memchr`]) rather than stepping a state machine over every
/// byte: outside a quoted field only a quote can change the state, and it opens a field only
/// where a field starts (after a delimiter, a line end, or at the start); inside one, only
/// the closing quote matters (`""` is an escaped quote). The byte-by-byte machine is kept in
/// the tests as the oracle.
fn last_boundary(bytes: &[u8], delimiter: u8) -> Option<usize> {
    let mut cut = None;
    let mut pos = 0;
    let outside = |from: usize, to: usize, cut: &mut Option<usize>| {
        if let Some(i) = memchr::memrchr(b'\n', &bytes[from..to]) {
            *cut = Some(from + i + 1);
        }
    };
    while let Some(q) = memchr::memchr(b'"', &bytes[pos..]).map(|i| pos + i) {
        outside(pos, q, &mut cut);
        let opens = q == 0 || matches!(bytes[q - 1], b'\n' | b'\r') || bytes[q - 1] == delimiter;
        pos = q + 1;
        if !opens {
            // A literal quote inside an unquoted field (5'10").
            continue;
        }
        loop {
            let Some(r) = memchr::memchr(b'"', &bytes[pos..]).map(|i| pos + i) else {
                // The quoted field runs past the end: no record ends after the last cut.
                return cut;
            };
            pos = r + 1;
            if bytes.get(pos) == Some(&b'"') {
                pos += 1;
            } else {
                break;
            }
        }
    }
    outside(pos, bytes.len(), &mut cut);
    cut
}

/// Reads a file's data (past the header) as a series of [`Chunk`]s.
pub(crate) struct Chunker {
    file: File,
    path: PathBuf,
    delimiter: u8,
    chunk_bytes: usize,
    /// Bytes read after the last cut.
    carry: Vec<u8>,
    /// Buffers of chunks already parsed, read into again: a fresh 4 MB buffer for every chunk
    /// was the whole file's size in pages faulted in and zeroed, a tenth of a cold read.
    spare: Vec<Vec<u8>>,
    next_line: u64,
    eof: bool,
}

impl Chunker {
    /// Starts at byte `offset` (the first data record), which is on line `line`.
    pub fn new(
        mut file: File,
        path: PathBuf,
        delimiter: u8,
        offset: u64,
        line: u64,
        chunk_bytes: usize,
    ) -> Result<Chunker, IngestError> {
        file.seek(SeekFrom::Start(offset))
            .map_err(|error| IngestError::Io {
                path: path.clone(),
                error,
            })?;
        Ok(Chunker {
            file,
            path,
            delimiter,
            chunk_bytes: chunk_bytes.max(1),
            carry: Vec::new(),
            spare: Vec::new(),
            next_line: line,
            eof: false,
        })
    }

    /// The next chunk, or `None` at the end of the file.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, IngestError> {
        loop {
            if self.eof {
                if self.carry.is_empty() {
                    return Ok(None);
                }
                let bytes = std::mem::take(&mut self.carry);
                return Ok(Some(self.emit(bytes)));
            }
            // A record's tail is copied into a reused buffer (with room for it, so the buffer
            // need not grow); a carry of half a chunk or more, a record longer than a chunk
            // being read on, is read onto as it is, so such a record is not copied again for
            // every chunk it spans.
            let mut buf = if self.carry.len() >= self.chunk_bytes / 2 {
                std::mem::take(&mut self.carry)
            } else {
                let mut buf = self
                    .spare
                    .pop()
                    .unwrap_or_else(|| Vec::with_capacity(self.chunk_bytes + (64 << 10)));
                buf.clear();
                buf.extend_from_slice(&self.carry);
                self.carry.clear();
                buf
            };
            let start = buf.len();
            buf.resize(start + self.chunk_bytes, 0);
            let mut filled = start;
            while filled < buf.len() {
                match self.file.read(&mut buf[filled..]) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(got) => filled += got,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(error) => {
                        return Err(IngestError::Io {
                            path: self.path.clone(),
                            error,
                        });
                    }
                }
            }
            buf.truncate(filled);
            if self.eof {
                self.carry = buf;
                continue;
            }
            match last_boundary(&buf, self.delimiter) {
                Some(cut) => {
                    self.carry.extend_from_slice(&buf[cut..]);
                    buf.truncate(cut);
                    return Ok(Some(self.emit(buf)));
                }
                // One record longer than a chunk (or a quote never closed): read on.
                None => self.carry = buf,
            }
        }
    }

    fn emit(&mut self, bytes: Vec<u8>) -> Chunk {
        let first_line = self.next_line;
        self.next_line += memchr::memchr_iter(b'\n', &bytes).count() as u64;
        Chunk { bytes, first_line }
    }

    /// Takes back the buffers of chunks that are done with, to read the next ones into (at
    /// most `keep` are kept).
    pub fn recycle(&mut self, chunks: Vec<Chunk>, keep: usize) {
        let room = keep.saturating_sub(self.spare.len());
        self.spare
            .extend(chunks.into_iter().take(room).map(|c| c.bytes));
    }

    /// Up to `count` chunks.
    pub fn next_batch(&mut self, count: usize) -> Result<Vec<Chunk>, IngestError> {
        let mut batch = Vec::with_capacity(count);
        while batch.len() < count {
            match self.next_chunk()? {
                Some(c) => batch.push(c),
                None => break,
            }
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the reader is relative to CSV quoting, at a byte.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        /// At the start of a field (or record).
        Start,
        /// Inside an unquoted field.
        Field,
        /// Inside a quoted field.
        Quoted,
        /// Just after a quote inside a quoted field: either its end or the first half of `""`.
        QuoteSeen,
    }

    /// The csv crate's quoting rules one byte at a time: the oracle for [`last_boundary`].
    fn last_boundary_by_bytes(bytes: &[u8], delimiter: u8) -> Option<usize> {
        let mut state = State::Start;
        let mut cut = None;
        for (i, &b) in bytes.iter().enumerate() {
            state = match (state, b) {
                (State::Quoted, b'"') => State::QuoteSeen,
                (State::Quoted, _) => State::Quoted,
                (State::QuoteSeen, b'"') => State::Quoted,
                (State::Start, b'"') => State::Quoted,
                (_, b'\n') => {
                    cut = Some(i + 1);
                    State::Start
                }
                (_, b'\r') => State::Start,
                (_, b) if b == delimiter => State::Start,
                _ => State::Field,
            };
        }
        cut
    }

    #[test]
    fn quote_jumps_agree_with_the_byte_machine() {
        let alphabet = [b'a', b',', b'"', b'\n', b'\r', b';'];
        let mut state: u64 = 7;
        let mut bytes = Vec::new();
        for _ in 0..100_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            bytes.clear();
            let len = (state >> 59) as usize;
            for k in 0..len {
                bytes.push(alphabet[((state >> (k % 20 * 3)) % 6) as usize]);
                state = state.rotate_left(7) ^ k as u64;
            }
            for delimiter in [b',', b';'] {
                assert_eq!(
                    last_boundary(&bytes, delimiter),
                    last_boundary_by_bytes(&bytes, delimiter),
                    "{:?}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }

    #[test]
    fn boundaries_follow_quoting() {
        assert_eq!(last_boundary(b"a,b\nc,d\ne", b','), Some(8));
        assert_eq!(last_boundary(b"a,b", b','), None);
        // A newline inside quotes does not end the record.
        assert_eq!(last_boundary(b"a,\"x\ny\"\nb,\"p\nq", b','), Some(8));
        // An escaped quote keeps the field open.
        assert_eq!(last_boundary(b"a,\"x\"\"\ny\"\nb", b','), Some(10));
        // A quote inside an unquoted field is a literal (5'10" tall), not an opening quote.
        assert_eq!(last_boundary(b"a,5'10\"\nb,1\nc", b','), Some(12));
        // Only at the start of a field does a quote open one.
        assert_eq!(last_boundary(b"a;\"x;\n\";1\nz", b';'), Some(10));
        // CRLF endings.
        assert_eq!(last_boundary(b"a,b\r\nc,d\r\ne", b','), Some(10));
    }
}
