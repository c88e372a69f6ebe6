//! A run's assignments: one row per segmented customer in input order (id, segment, label,
//! distance, boundary_ratio, ambiguous, and the RFM measures and scores when there are any),
//! in the format asked (`--format`): `assignments.csv`, formatted in parallel blocks and
//! written in row order, or typed columns ([`columnar`]: Parquet, an Arrow stream).

mod columnar;

use std::io::Write;

use strata_arrow_text::push_field;
use strata_format::assignments::AssignmentsFormat;

use rayon::prelude::*;
use strata_ingest::IdColumn;

use crate::describe::boundary_ratio;
use crate::predict::Predictions;
use crate::segments::Rfm;

/// A measure for people and pipelines: at most two decimals, no trailing zeros, empty when
/// missing (sums of prices otherwise print as 5391.210000000009).
struct Rounded(f64);

impl std::fmt::Display for Rounded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_nan() {
            return Ok(());
        }
        let text = format!("{:.2}", self.0);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        f.write_str(if text == "-0" { "0" } else { text })
    }
}

/// Rows formatted by one task: big enough to amortise the task, small enough that a round of
/// tasks (a few per thread) holds only a few MiB of text.
const FORMAT_ROWS: usize = 16_384;

/// What `assignments.csv` is written from: id, segment, label, distance (Euclidean, in the
/// scaled feature space), boundary_ratio (that distance over the distance to the second-nearest
/// centroid) and ambiguous (`true` when the ratio is above `threshold`); the last three empty
/// without k-means. One row per segmented customer in input order; with RFM measures, also
/// recency, frequency, monetary and their scores.
pub(crate) struct AssignmentRows<'a> {
    pub ids: &'a IdColumn,
    pub segments: &'a [u32],
    /// Squared distances to the nearest and second-nearest centroid.
    pub sq_distances: Option<(&'a [f32], &'a [f32])>,
    pub threshold: f64,
    pub labels: &'a [String],
    pub rfm: Option<&'a Rfm>,
    /// The value model's per-customer predictions (`--value-model`): the last four columns.
    pub predicted: Option<&'a crate::predict::Predictions>,
    pub pseudo: Option<&'a crate::privacy::Pseudonymizer>,
}

/// What fixes an assignments file's columns and their types before its first row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// The RFM measures and scores follow the six columns every run has.
    pub rfm: bool,
    /// How many of the value model's prediction columns come last: none, P(alive) and
    /// expected purchases, or those and expected value and CLV.
    pub value: usize,
    /// Ids are written as integers in a typed format: the input's schema typed its id column
    /// as integers, or it had none (row numbers), and ids are not pseudonymized.
    pub integer_ids: bool,
}

impl Shape {
    /// The shape of a run with RFM measures or not, whose ids the input typed as integers or
    /// not (see [`strata_ingest::Header::holds_integers`]), pseudonymized or not.
    pub(crate) fn new(rfm: bool, integer_ids: bool, pseudonymized: bool) -> Shape {
        Shape {
            rfm,
            value: 0,
            integer_ids: integer_ids && !pseudonymized,
        }
    }
}

/// A run's assignments file being written in its format, a block of rows at a time.
pub(crate) enum AssignmentsWriter<W: Write + Send> {
    Csv(W),
    Columnar(columnar::Writer<W>),
}

impl<W: Write + Send> AssignmentsWriter<W> {
    /// Starts the file in `w`: CSV's header record, or the typed formats' schema.
    pub(crate) fn new(format: AssignmentsFormat, shape: Shape, mut w: W) -> std::io::Result<Self> {
        Ok(match format {
            AssignmentsFormat::Csv => {
                write_assignments_header(&mut w, shape)?;
                AssignmentsWriter::Csv(w)
            }
            _ => AssignmentsWriter::Columnar(columnar::Writer::new(format, shape, w)?),
        })
    }

    /// Appends `rows` after the rows written so far.
    pub(crate) fn write(&mut self, rows: &AssignmentRows<'_>) -> std::io::Result<()> {
        match self {
            AssignmentsWriter::Csv(w) => rows.write(w),
            AssignmentsWriter::Columnar(w) => w.write(rows),
        }
    }

    /// Ends the file (Parquet's footer, the stream's end marker) and flushes it.
    pub(crate) fn finish(self) -> std::io::Result<()> {
        match self {
            AssignmentsWriter::Csv(mut w) => w.flush(),
            AssignmentsWriter::Columnar(w) => w.finish(),
        }
    }
}

impl AssignmentRows<'_> {
    /// The whole file in `format`: header (or schema), then every row.
    pub(crate) fn write_file(
        &self,
        format: AssignmentsFormat,
        integer_ids: bool,
        w: &mut (dyn Write + Send),
    ) -> std::io::Result<()> {
        let shape = Shape {
            value: self.predicted.map_or(0, Predictions::columns),
            ..Shape::new(self.rfm.is_some(), integer_ids, self.pseudo.is_some())
        };
        let mut file = AssignmentsWriter::new(format, shape, w)?;
        file.write(self)?;
        file.finish()
    }

    /// Every row, no header. Formatting (float printing, pseudonyms) is most of the cost, so
    /// blocks of rows are formatted in parallel and written in row order: the bytes are those
    /// of a single writer.
    pub(crate) fn write<W: Write + ?Sized>(&self, out: &mut W) -> std::io::Result<()> {
        let n = self.segments.len();
        // Each label as its CSV field, once.
        let labels: Vec<Vec<u8>> = self
            .labels
            .iter()
            .map(|l| {
                let mut f = Vec::new();
                push_field(&mut f, l.as_bytes());
                f
            })
            .collect();
        let round = (FORMAT_ROWS * 4 * rayon::current_num_threads()).max(1);
        // A round is written (hashed and handed to the file, serially) while the next one is
        // formatted: the write no longer leaves the other cores idle. The two rounds' buffers
        // are reused, not freed and faulted in again.
        let (mut pending, mut spare): (Vec<Vec<u8>>, Vec<Vec<u8>>) = Default::default();
        for first in (0..n).step_by(round) {
            let last = (first + round).min(n);
            let buffers = std::mem::take(&mut spare);
            let (written, next) = std::thread::scope(|s| {
                let next = s.spawn(|| self.format_round(&labels, first..last, buffers));
                let written = pending.iter().try_for_each(|block| out.write_all(block));
                let next = next
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (written, next)
            });
            written?;
            spare = std::mem::replace(&mut pending, next);
        }
        pending.iter().try_for_each(|block| out.write_all(block))
    }

    /// The rows `rows` in blocks of [`FORMAT_ROWS`], formatted in parallel into `buffers`
    /// (emptied first; as many more as needed), in row order.
    fn format_round(
        &self,
        labels: &[Vec<u8>],
        rows: std::ops::Range<usize>,
        mut buffers: Vec<Vec<u8>>,
    ) -> Vec<Vec<u8>> {
        let last = rows.end;
        let starts: Vec<usize> = rows.step_by(FORMAT_ROWS).collect();
        buffers.resize_with(starts.len(), || Vec::with_capacity(FORMAT_ROWS * 64));
        buffers
            .par_iter_mut()
            .zip(starts)
            .for_each(|(block, start)| {
                block.clear();
                self.format(block, labels, start..(start + FORMAT_ROWS).min(last));
            });
        buffers
    }

    /// The rows `rows`, appended to `out` as the csv crate writes them (fields quoted only
    /// when they hold a comma, a quote or a line end; `\n` after each record): integers by
    /// itoa, labels quoted once per segment, no per-field scan of numbers (the csv writer's
    /// field handling was a fifth of the output stage). `labels`: each segment's label as its
    /// CSV field.
    fn format(&self, out: &mut Vec<u8>, labels: &[Vec<u8>], rows: std::ops::Range<usize>) {
        use std::io::Write as _;
        let mut pseudonym = String::new();
        let mut id_buf = String::new();
        let mut fixed = String::new();
        let mut int = itoa::Buffer::new();
        let mut shortest = ryu::Buffer::new();
        for i in rows {
            let l = self.segments[i];
            let id = self.ids.get(i, &mut id_buf);
            let id = match self.pseudo {
                Some(p) => {
                    p.pseudonym(id, &mut pseudonym);
                    pseudonym.as_bytes()
                }
                None => id,
            };
            push_field(out, id);
            out.push(b',');
            out.extend_from_slice(int.format(l).as_bytes());
            out.push(b',');
            out.extend_from_slice(&labels[l as usize]);
            out.push(b',');
            match self.sq_distances {
                Some((near, second)) => {
                    push_shortest(near[i].max(0.0).sqrt(), out, &mut shortest);
                    out.push(b',');
                    let ratio = boundary_ratio(near[i], second[i]);
                    fixed.clear();
                    push_fixed4(ratio, &mut fixed);
                    out.extend_from_slice(fixed.as_bytes());
                    out.extend_from_slice(if f64::from(ratio) > self.threshold {
                        b",true"
                    } else {
                        b",false"
                    });
                }
                None => out.extend_from_slice(b",,"),
            }
            if let Some(r) = self.rfm {
                for v in &r.values {
                    // Writing to a Vec cannot fail.
                    let _ = write!(out, ",{}", Rounded(v[i]));
                }
                let s = r.scores[i];
                for score in [s.r, s.f, s.m] {
                    out.push(b',');
                    out.extend_from_slice(int.format(score).as_bytes());
                }
            }
            if let Some(p) = self.predicted {
                // Full precision: pipelines compare them with other tools' to 1e-6.
                for column in p.all() {
                    out.push(b',');
                    out.extend_from_slice(shortest.format(column[i]).as_bytes());
                }
            }
            out.push(b'\n');
        }
    }
}

/// Appends `x` as `format!("{x}")` would: the shortest digits that read back as `x`, without
/// an exponent. Ryu finds them several times faster than the standard library's Grisu, and
/// both find the shortest digits nearest to `x`; they differ where two such candidates are
/// equally near (2070951.25 as an f32: .2 or .3), and in form
/// (`3.0` and `1e-7` against `3` and `0.0000001`). Those cases, detected exactly, take the
/// standard library's path, so the bytes are the same as before.
fn push_shortest(x: f32, out: &mut Vec<u8>, buf: &mut ryu::Buffer) {
    if x.is_finite() {
        let s = buf.format_finite(x).as_bytes();
        if !s.contains(&b'e') && !maybe_tie(x, s) {
            out.extend_from_slice(s.strip_suffix(b".0").unwrap_or(s));
            return;
        }
    }
    let _ = write!(out, "{x}");
}

/// Whether `x` lies exactly halfway between `digits` (plain decimal, no exponent) and a
/// neighbour one unit away in the last digit, i.e. `2 · x · 10^f = 2m ± 1` for the digits as an
/// integer `m` with `f` of them after the point; also `true` when that cannot be decided
/// exactly in f64 (more than 12 decimals), sending the value to the standard library.
fn maybe_tie(x: f32, digits: &[u8]) -> bool {
    const POW10: [f64; 13] = [
        1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
    ];
    let mut m: u64 = 0;
    let mut frac: Option<usize> = None;
    for &c in digits {
        match c {
            b'.' => frac = Some(0),
            b'-' => {}
            _ => {
                m = m * 10 + u64::from(c - b'0');
                frac = frac.map(|f| f + 1);
                if m >= 1 << 50 {
                    return true;
                }
            }
        }
    }
    let f = frac.unwrap_or(0);
    if f >= POW10.len() {
        return true;
    }
    // Exact: x has 24 significant bits and 5^12 < 2^28, so the product fits f64's 53.
    let t = f64::from(x).abs() * POW10[f] * 2.0;
    t == (2 * m + 1) as f64 || (m > 0 && t == (2 * m - 1) as f64)
}

/// Appends `x` as `format!("{x:.4}")` would, without the general formatter: for an f32,
/// `x * 10^4` is exact in f64 (24 + 14 bits), so rounding it half to even, as the standard
/// library does, is exact too. The general path's exact-digit fallback was a tenth of a fit's
/// output stage.
fn push_fixed4(x: f32, out: &mut String) {
    use std::fmt::Write as _;
    let scaled = f64::from(x).abs() * 1e4;
    if !scaled.is_finite() || scaled >= 1e18 {
        let _ = write!(out, "{x:.4}");
        return;
    }
    let whole = scaled.floor();
    let frac = scaled - whole;
    let mut n = whole as u64;
    if frac > 0.5 || (frac == 0.5 && n % 2 == 1) {
        n += 1;
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    out.push_str(itoa::Buffer::new().format(n / 10_000));
    let frac = (n % 10_000) as u16;
    out.push('.');
    for div in [1000, 100, 10, 1] {
        out.push(char::from(b'0' + (frac / div % 10) as u8));
    }
}

/// The header of `assignments.csv` of `shape` (RFM measures and scores, predictions).
fn write_assignments_header<W: Write + ?Sized>(out: &mut W, shape: Shape) -> std::io::Result<()> {
    use strata_format::assignments::{COLUMNS, RFM_COLUMNS, VALUE_COLUMNS};
    let mut head = COLUMNS.to_vec();
    if shape.rfm {
        head.extend(RFM_COLUMNS);
    }
    head.extend(&VALUE_COLUMNS[..shape.value]);
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(&head)?;
    out.write_all(&w.into_inner().map_err(|e| e.into_error())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2070951.25, exactly halfway between 2070951.2 and 2070951.3.
    const TIE: f32 = 8_283_805.0 / 4.0;

    /// Distances print as `{}` prints them: random bit patterns of every magnitude, square
    /// roots like the file's, integers, values with an exponent under ryu, and exact ties
    /// between two shortest candidates (quarters and eighths where the f32 grid is that coarse).
    #[test]
    fn shortest_digits_print_as_the_formatter_does() {
        let mut cases: Vec<f32> = vec![0.0, -0.0, 3.0, 1e-7, 1.5e-6, 1e16, 2.5e20, f32::MAX];
        cases.extend([f32::MIN_POSITIVE, 1e-45, f32::INFINITY, f32::NAN, TIE]);
        for e in 0..24 {
            let step = (1u32 << e) as f32 / 8.0;
            for m in [1u32, 3, 5, 7, 8_388_607, 12_345_677, 16_777_215] {
                cases.push(m as f32 * step);
            }
        }
        let mut state: u32 = 987_654_321;
        for _ in 0..300_000 {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            cases.push(f32::from_bits(state >> 1));
            cases.push((f32::from_bits(state >> 9) / 8388608.0 * 400.0).sqrt());
            cases.push((state % 100_000) as f32 / 4.0);
        }
        let mut buf = ryu::Buffer::new();
        // A tie the detector exists for: 2070951.2 and .3 are equally near.
        let digits = buf.format_finite(TIE).as_bytes().to_vec();
        assert!(maybe_tie(TIE, &digits));
        assert!(!maybe_tie(0.7813833, b"0.7813833"));
        let mut out = Vec::new();
        for x in cases {
            out.clear();
            push_shortest(x, &mut out, &mut buf);
            assert_eq!(String::from_utf8_lossy(&out), format!("{x}"), "{x:e}");
        }
    }

    /// Every ratio the file can hold, and then some, prints as `{:.4}` prints it: ties (odd
    /// multiples of 1/32, which round half to even), values either side of every tie, random
    /// bit patterns, signs, zeros and the values the fast path leaves to the formatter.
    #[test]
    fn fixed4_prints_as_the_formatter_does() {
        let mut cases: Vec<f32> = vec![0.0, -0.0, 1.0, 0.5, 0.00005, 0.99995, 0.99999, 1e-30];
        cases.extend([f32::MAX, f32::MIN, f32::INFINITY, f32::NAN, 1e15, 123456.78]);
        for j in 0..=64 {
            let tie = j as f32 / 32.0;
            cases.extend([tie, tie.next_up(), tie.next_down(), -tie]);
        }
        let mut state: u32 = 12345;
        for _ in 0..200_000 {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            cases.push(f32::from_bits(state));
            cases.push(f32::from_bits(state >> 9) / 8388608.0);
        }
        let mut s = String::new();
        for x in cases {
            s.clear();
            push_fixed4(x, &mut s);
            assert_eq!(s, format!("{x:.4}"), "{x:e} ({:#x})", x.to_bits());
        }
    }

    /// Blocks formatted in parallel, over several rounds and a short last block, give the
    /// bytes of one writer going through the rows in order.
    #[test]
    fn parallel_assignment_rows_are_the_serial_bytes() {
        let n = FORMAT_ROWS * 4 * rayon::current_num_threads() * 2 + 777;
        let ids = IdColumn::RowNumbers(n);
        let segments: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
        let near: Vec<f32> = (0..n).map(|i| i as f32 * 0.25).collect();
        let second: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 + 1.0).collect();
        let labels = ["a".to_string(), "b, \"quoted\"".into(), "c".into()];
        let rows = AssignmentRows {
            ids: &ids,
            segments: &segments,
            sq_distances: Some((&near, &second)),
            threshold: 0.9,
            labels: &labels,
            rfm: None,
            predicted: None,
            pseudo: None,
        };
        let serial = reference(&rows);
        let mut parallel = Vec::new();
        rows.write(&mut parallel).unwrap();
        assert_eq!(parallel.len(), serial.len());
        assert!(parallel == serial, "the parallel bytes differ");
        assert_eq!(parallel.iter().filter(|&&b| b == b'\n').count(), n);
    }

    /// The rows as the csv crate's writer and `{}` write them: the oracle for the direct
    /// writer.
    fn reference(rows: &AssignmentRows<'_>) -> Vec<u8> {
        let mut out = csv::WriterBuilder::new().from_writer(Vec::new());
        let (mut id_buf, mut pseudonym) = (String::new(), String::new());
        for i in 0..rows.segments.len() {
            let l = rows.segments[i];
            let id = rows.ids.get(i, &mut id_buf);
            match rows.pseudo {
                Some(p) => {
                    p.pseudonym(id, &mut pseudonym);
                    out.write_field(&pseudonym).unwrap();
                }
                None => out.write_field(id).unwrap(),
            }
            out.write_field(l.to_string()).unwrap();
            out.write_field(&rows.labels[l as usize]).unwrap();
            match rows.sq_distances {
                Some((near, second)) => {
                    out.write_field(near[i].max(0.0).sqrt().to_string())
                        .unwrap();
                    let ratio = boundary_ratio(near[i], second[i]);
                    out.write_field(format!("{ratio:.4}")).unwrap();
                    let ambiguous = f64::from(ratio) > rows.threshold;
                    out.write_field(ambiguous.to_string()).unwrap();
                }
                None => {
                    for _ in 0..3 {
                        out.write_field("").unwrap();
                    }
                }
            }
            if let Some(r) = rows.rfm {
                for v in &r.values {
                    out.write_field(Rounded(v[i]).to_string()).unwrap();
                }
                let s = r.scores[i];
                for score in [s.r, s.f, s.m] {
                    out.write_field(score.to_string()).unwrap();
                }
            }
            out.write_record(None::<&[u8]>).unwrap();
        }
        out.into_inner().unwrap()
    }

    /// Ids that need quoting (commas, quotes, line ends), empty and spaced ids, pseudonyms,
    /// rows without distances, RFM measures (missing, negative, rounded) and scores, distances
    /// of every size, labels with commas and quotes: the direct writer gives the csv crate's
    /// bytes.
    #[test]
    fn direct_rows_are_the_csv_writers_bytes() {
        let texts: [&[u8]; 9] = [
            b"C0001",
            b"a,b",
            b"say \"hi\"",
            b"two\nlines",
            b"cr\r",
            b"",
            b" spaced ",
            b"\"",
            b"=1+2",
        ];
        // More than one of the typed writers' record batches.
        let n = (1 << 16) + 2000;
        let mut bytes = Vec::new();
        let mut offsets = vec![0];
        for i in 0..n {
            bytes.extend_from_slice(texts[i % texts.len()]);
            bytes.extend_from_slice(i.to_string().as_bytes());
            offsets.push(bytes.len());
        }
        let ids = IdColumn::Text {
            name: "id".into(),
            bytes,
            offsets,
        };
        let mut state: u32 = 7;
        let mut next = move || {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            state
        };
        let segments: Vec<u32> = (0..n).map(|i| (i % 4) as u32).collect();
        let near: Vec<f32> = (0..n)
            .map(|i| match i % 5 {
                0 => f32::from_bits(next() >> 1),
                1 => 0.0,
                2 => -0.0,
                _ => (next() % 100_000) as f32 / 7.0,
            })
            .collect();
        let second: Vec<f32> = near
            .iter()
            .map(|&x| {
                if next() % 7 == 0 {
                    f32::INFINITY
                } else {
                    x * 1.5 + 1e-3
                }
            })
            .collect();
        let labels = [
            "plain".to_string(),
            "a, b".into(),
            "\"q\"".into(),
            "".into(),
        ];
        let value = |i: usize| match i % 6 {
            0 => f64::NAN,
            1 => -12.345,
            2 => 5391.210000000009,
            3 => -0.001,
            _ => (i * 7919 % 10_000) as f64 / 3.0,
        };
        let rfm = Rfm {
            cuts: strata_behavior::RfmCuts {
                recency: [1.0; 4],
                frequency: [1.0; 4],
                monetary: [1.0; 4],
            },
            values: [
                (0..n).map(&value).collect(),
                (0..n).map(|i| value(i + 1)).collect(),
                (0..n).map(|i| value(i + 2)).collect(),
            ],
            scores: (0..n)
                .map(|i| strata_behavior::RfmScores {
                    r: (i % 5 + 1) as u8,
                    f: 3,
                    m: 5,
                })
                .collect(),
        };
        let pseudo = crate::privacy::Pseudonymizer::new(b"salt");
        for (with_distances, with_rfm, with_pseudo) in [
            (true, false, false),
            (false, true, false),
            (true, true, true),
        ] {
            let rows = AssignmentRows {
                ids: &ids,
                segments: &segments,
                sq_distances: with_distances.then_some((&near[..], &second[..])),
                threshold: 0.5,
                labels: &labels,
                rfm: with_rfm.then_some(&rfm),
                predicted: None,
                pseudo: with_pseudo.then_some(&pseudo),
            };
            let mut direct = Vec::new();
            rows.write(&mut direct).unwrap();
            let expected = reference(&rows);
            assert!(
                direct == expected,
                "{}",
                String::from_utf8_lossy(&direct[..200.min(direct.len())])
            );
            let mut csv = Vec::new();
            write_assignments_header(&mut csv, Shape::new(with_rfm, false, false)).unwrap();
            csv.extend_from_slice(&expected);
            typed_rows_are_the_csv_s(&rows, &csv);
        }
    }

    /// Writes `rows` as Parquet and as an Arrow stream, reads each back as text and checks
    /// it against `csv` (the CSV file of the same rows): every field the same but those the
    /// CSV rounds (the boundary ratio to 4 decimals, RFM measures to 2), which are the same
    /// once rounded; more than one record batch of rows.
    fn typed_rows_are_the_csv_s(rows: &AssignmentRows<'_>, csv: &[u8]) {
        let records = |r: Box<dyn std::io::Read>| -> Vec<Vec<String>> {
            csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(r)
                .records()
                .map(|r| r.unwrap().iter().map(str::to_owned).collect())
                .collect()
        };
        let want = records(Box::new(csv));
        let dir = tempfile::tempdir().unwrap();
        for format in [AssignmentsFormat::Parquet, AssignmentsFormat::Arrow] {
            let path = dir.path().join(format.file_name());
            let mut file = std::fs::File::create(&path).unwrap();
            rows.write_file(format, false, &mut file).unwrap();
            let (read_as, text) = strata_format::assignments::read_as_csv(&path).unwrap();
            assert_eq!(read_as, format);
            let got = records(text);
            assert_eq!(got.len(), want.len(), "{format}");
            assert_eq!(got[0], want[0], "{format}");
            for (g, w) in got.iter().zip(&want).skip(1) {
                for (i, (a, b)) in g.iter().zip(w).enumerate() {
                    let shown = match i {
                        4 if !a.is_empty() => format!("{:.4}", a.parse::<f32>().unwrap()),
                        6..=8 if !a.is_empty() => Rounded(a.parse().unwrap()).to_string(),
                        _ => a.clone(),
                    };
                    assert_eq!(&shown, b, "{format}, column {i}: {g:?} against {w:?}");
                }
            }
        }
    }

    #[test]
    fn measures_are_rounded_for_output() {
        let show = |x| Rounded(x).to_string();
        assert_eq!(show(5391.210000000009), "5391.21");
        assert_eq!(show(34.0), "34");
        assert_eq!(show(2.5), "2.5");
        assert_eq!(show(-0.001), "0");
        assert_eq!(show(f64::NAN), "");
    }
}

/// Ids a spreadsheet would run as a formula if `assignments.csv` were opened in one: those
/// that start with `=`, `+`, `-`, `@`, a tab or a carriage return (OWASP's list), except
/// negative numbers. Ids are carried untouched (they are join keys), so this only counts them.
pub(crate) fn formula_like_ids(ids: &strata_ingest::IdColumn) -> usize {
    let strata_ingest::IdColumn::Text { .. } = ids else {
        return 0;
    };
    let mut scratch = String::new();
    (0..ids.len())
        .filter(|&i| formula_like(ids.get(i, &mut scratch)))
        .count()
}

fn formula_like(id: &[u8]) -> bool {
    match id {
        [b'=' | b'+' | b'@' | b'\t' | b'\r', ..] => true,
        [b'-', rest @ ..] => !rest
            .first()
            .is_some_and(|b| b.is_ascii_digit() || *b == b'.'),
        _ => false,
    }
}

/// Says, once, how many ids a spreadsheet would read as formulas.
pub(crate) fn warn_formula_ids(count: usize) {
    if count > 0 {
        tracing::warn!(
            "{count} ids start with =, +, -, @ or a control character, which a spreadsheet may \
             run as a formula if assignments.csv is opened in one: the file keeps ids as they \
             are (they are join keys), so import it as text rather than opening it directly"
        );
    }
}

#[cfg(test)]
mod formula_tests {
    use super::formula_like;

    #[test]
    fn formula_like_ids_are_the_owasp_ones_but_negative_numbers() {
        for id in ["=HYPERLINK(1)", "+cmd", "@SUM(A1)", "-x", "\tA", "\rB"] {
            assert!(formula_like(id.as_bytes()), "{id:?}");
        }
        for id in ["C001", "-5", "-.5", "42", "", "a=b"] {
            assert!(!formula_like(id.as_bytes()), "{id:?}");
        }
    }
}
