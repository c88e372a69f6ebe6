//! Typed Arrow record batches as CSV text: the text the csv crate's reader takes, a header
//! record of the column names, then one record per row. Strata reads its columnar files
//! back this way wherever the code that reads their CSV form serves: `strata compare` and the
//! PostgreSQL write-back read a run's `assignments.parquet` or `.arrows`, and a transaction
//! log kept as Parquet is aggregated record by record as its CSV twin is.
//!
//! Text as it is; integers in decimal; floats in their shortest round-trip form (`{}`);
//! booleans as `true`/`false`; a dictionary's value; decimals through their digits; dates as
//! `YYYY-MM-DD` and timestamps as `YYYY-MM-DD HH:MM:SS[.fraction]` in UTC (what the CSV
//! reader's ISO 8601 layout reads to the same days); a null as an empty field. Fields are
//! quoted only when they hold a comma, a quote or a line end. Other types are an error naming
//! the column. This crate opens no file: its callers hand it batches.

use std::io::Read;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, StringViewArray};
use arrow_schema::{DataType, TimeUnit};

/// An error from the source of the batches, carried through [`CsvText`]'s `Read` as the inner
/// error of a `std::io::Error` (`std::io::Error::downcast` gets it back).
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// Record batches, in order, or the error that stopped their source.
pub type Batches = Box<dyn Iterator<Item = Result<RecordBatch, SourceError>> + Send>;

/// Batches as CSV text (see the crate docs), a batch formatted at a time as it is read.
pub struct CsvText {
    batches: Batches,
    text: Vec<u8>,
    at: usize,
}

impl CsvText {
    /// The text of a header record of `names`, then of every row of `batches`.
    pub fn new(names: &[String], batches: Batches) -> CsvText {
        let mut text = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            push_field(&mut text, name.as_bytes());
        }
        text.push(b'\n');
        CsvText {
            batches,
            text,
            at: 0,
        }
    }
}

impl Read for CsvText {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.text.len() {
            self.text.clear();
            self.at = 0;
            match self.batches.next() {
                None => return Ok(0),
                Some(batch) => {
                    let batch = batch.map_err(std::io::Error::other)?;
                    format_batch(&batch, &mut self.text).map_err(std::io::Error::other)?;
                }
            }
        }
        let n = buf.len().min(self.text.len() - self.at);
        buf[..n].copy_from_slice(&self.text[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Text values of a string array of any offset width, or of a view array.
pub enum Strings<'a> {
    /// `utf8`.
    Small(&'a StringArray),
    /// `large_utf8`.
    Large(&'a arrow_array::LargeStringArray),
    /// `utf8_view`.
    View(&'a StringViewArray),
}

impl<'a> Strings<'a> {
    /// `a`'s texts, or `None` when it holds no text.
    pub fn of(a: &'a dyn Array) -> Option<Strings<'a>> {
        Some(match a.data_type() {
            DataType::Utf8 => Strings::Small(a.as_string::<i32>()),
            DataType::LargeUtf8 => Strings::Large(a.as_string::<i64>()),
            DataType::Utf8View => Strings::View(a.as_string_view()),
            _ => return None,
        })
    }

    /// The text at `i`; `None` when it is null.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strings::Small(s) => s.is_valid(i).then(|| s.value(i)),
            Strings::Large(s) => s.is_valid(i).then(|| s.value(i)),
            Strings::View(s) => s.is_valid(i).then(|| s.value(i)),
        }
    }
}

/// A dictionary array's keys (as indices into its values) and its values; `None` when `a`
/// is not a dictionary.
pub fn dictionary(a: &dyn Array) -> Option<(Vec<usize>, &ArrayRef)> {
    let d = a.as_any_dictionary_opt()?;
    Some((d.normalized_keys(), d.values()))
}

/// The civil date (year, month, day) of a day counted from 1970-01-01, proleptic Gregorian
/// (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Appends every row of `batch` to `out` as CSV records.
fn format_batch(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), String> {
    let columns = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, a)| Texts::of(a.as_ref()).ok_or_else(|| unsupported(f.name(), a.data_type())))
        .collect::<Result<Vec<_>, _>>()?;
    let mut field = Vec::new();
    for row in 0..batch.num_rows() {
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            field.clear();
            column.push(row, &mut field);
            push_field(out, &field);
        }
        out.push(b'\n');
    }
    Ok(())
}

fn unsupported(name: &str, t: &DataType) -> String {
    format!("column '{name}' has the type {t}, which cannot be read back as text")
}

/// One column's values as text.
enum Texts<'a> {
    Strings(Strings<'a>),
    Dictionary(Vec<usize>, Box<Texts<'a>>, &'a dyn Array),
    Bool(&'a arrow_array::BooleanArray),
    Int(&'a dyn Array, fn(&dyn Array, usize) -> i128),
    F32(&'a arrow_array::Float32Array),
    F64(&'a arrow_array::Float64Array),
    /// Half floats, printed as the f32 they widen to exactly.
    F32Of16(&'a arrow_array::Float16Array),
    /// Days since 1970-01-01.
    Date(&'a dyn Array, fn(&dyn Array, usize) -> i64),
    /// An instant as a count of `1 / per_second` seconds since 1970-01-01 00:00 UTC.
    Timestamp(&'a dyn Array, fn(&dyn Array, usize) -> i64, i64),
    /// A decimal of any width: its unscaled integer's digits, and its scale.
    Decimal(&'a dyn Array, fn(&dyn Array, usize) -> String, i8),
    /// Every value null (a column of no values, as pandas writes an all-empty one).
    Null,
}

impl<'a> Texts<'a> {
    fn of(a: &'a dyn Array) -> Option<Texts<'a>> {
        macro_rules! int {
            ($t:ty) => {
                Texts::Int(a, |a, i| i128::from(a.as_primitive::<$t>().value(i)))
            };
        }
        if let Some(s) = Strings::of(a) {
            return Some(Texts::Strings(s));
        }
        if let Some((keys, values)) = dictionary(a) {
            return Some(Texts::Dictionary(
                keys,
                Box::new(Texts::of(values.as_ref())?),
                a,
            ));
        }
        Some(match a.data_type() {
            DataType::Boolean => Texts::Bool(a.as_boolean()),
            DataType::Int8 => int!(Int8Type),
            DataType::Int16 => int!(Int16Type),
            DataType::Int32 => int!(Int32Type),
            DataType::Int64 => int!(Int64Type),
            DataType::UInt8 => int!(UInt8Type),
            DataType::UInt16 => int!(UInt16Type),
            DataType::UInt32 => int!(UInt32Type),
            DataType::UInt64 => int!(UInt64Type),
            DataType::Float32 => Texts::F32(a.as_primitive::<Float32Type>()),
            DataType::Float64 => Texts::F64(a.as_primitive::<Float64Type>()),
            DataType::Date32 => {
                Texts::Date(a, |a, i| i64::from(a.as_primitive::<Date32Type>().value(i)))
            }
            DataType::Date64 => Texts::Date(a, |a, i| {
                a.as_primitive::<Date64Type>()
                    .value(i)
                    .div_euclid(86_400_000)
            }),
            DataType::Timestamp(unit, _) => match unit {
                TimeUnit::Second => Texts::Timestamp(
                    a,
                    |a, i| a.as_primitive::<TimestampSecondType>().value(i),
                    1,
                ),
                TimeUnit::Millisecond => Texts::Timestamp(
                    a,
                    |a, i| a.as_primitive::<TimestampMillisecondType>().value(i),
                    1_000,
                ),
                TimeUnit::Microsecond => Texts::Timestamp(
                    a,
                    |a, i| a.as_primitive::<TimestampMicrosecondType>().value(i),
                    1_000_000,
                ),
                TimeUnit::Nanosecond => Texts::Timestamp(
                    a,
                    |a, i| a.as_primitive::<TimestampNanosecondType>().value(i),
                    1_000_000_000,
                ),
            },
            DataType::Decimal32(_, scale) => Texts::Decimal(
                a,
                |a, i| a.as_primitive::<Decimal32Type>().value(i).to_string(),
                *scale,
            ),
            DataType::Decimal64(_, scale) => Texts::Decimal(
                a,
                |a, i| a.as_primitive::<Decimal64Type>().value(i).to_string(),
                *scale,
            ),
            DataType::Decimal128(_, scale) => Texts::Decimal(
                a,
                |a, i| a.as_primitive::<Decimal128Type>().value(i).to_string(),
                *scale,
            ),
            DataType::Decimal256(_, scale) => Texts::Decimal(
                a,
                |a, i| a.as_primitive::<Decimal256Type>().value(i).to_string(),
                *scale,
            ),
            DataType::Float16 => Texts::F32Of16(a.as_primitive::<Float16Type>()),
            DataType::Null => Texts::Null,
            _ => return None,
        })
    }

    /// Appends the text of row `i` to `out` (nothing for a null).
    fn push(&self, i: usize, out: &mut Vec<u8>) {
        use std::io::Write as _;
        match self {
            Texts::Strings(s) => {
                if let Some(t) = s.get(i) {
                    out.extend_from_slice(t.as_bytes());
                }
            }
            Texts::Dictionary(keys, values, a) => {
                if a.is_valid(i) {
                    values.push(keys[i], out);
                }
            }
            Texts::Bool(b) => {
                if b.is_valid(i) {
                    out.extend_from_slice(if b.value(i) { b"true" } else { b"false" });
                }
            }
            // Writing to a Vec cannot fail.
            Texts::Int(a, get) => {
                if a.is_valid(i) {
                    let _ = write!(out, "{}", get(*a, i));
                }
            }
            Texts::F32(a) => {
                if a.is_valid(i) {
                    let _ = write!(out, "{}", a.value(i));
                }
            }
            Texts::F64(a) => {
                if a.is_valid(i) {
                    let _ = write!(out, "{}", a.value(i));
                }
            }
            Texts::Date(a, get) => {
                if a.is_valid(i) {
                    push_date(get(*a, i), out);
                }
            }
            Texts::Timestamp(a, get, per_second) => {
                if a.is_valid(i) {
                    let v = get(*a, i);
                    let seconds = v.div_euclid(*per_second);
                    let fraction = v.rem_euclid(*per_second);
                    push_date(seconds.div_euclid(86_400), out);
                    let s = seconds.rem_euclid(86_400);
                    let _ = write!(out, " {:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
                    if fraction > 0 {
                        let width = per_second.ilog10() as usize;
                        let digits = format!("{fraction:0width$}");
                        let _ = write!(out, ".{}", digits.trim_end_matches('0'));
                    }
                }
            }
            Texts::Decimal(a, digits, scale) => {
                if a.is_valid(i) {
                    push_decimal(&digits(*a, i), *scale, out);
                }
            }
            Texts::F32Of16(a) => {
                if a.is_valid(i) {
                    let _ = write!(out, "{}", a.value(i).to_f32());
                }
            }
            Texts::Null => {}
        }
    }
}

/// Appends the date `days` after 1970-01-01 as `YYYY-MM-DD`.
fn push_date(days: i64, out: &mut Vec<u8>) {
    use std::io::Write as _;
    let (y, m, d) = civil_from_days(days);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

/// Appends a decimal `v × 10^-scale`, given `v`'s decimal digits (a leading `-` when
/// negative), as plain decimal text.
fn push_decimal(v: &str, scale: i8, out: &mut Vec<u8>) {
    let (negative, digits) = match v.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, v),
    };
    if negative {
        out.push(b'-');
    }
    if scale <= 0 {
        out.extend_from_slice(digits.as_bytes());
        if digits != "0" {
            out.extend(std::iter::repeat_n(b'0', scale.unsigned_abs().into()));
        }
        return;
    }
    let scale = usize::from(scale.unsigned_abs());
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    out.extend_from_slice(whole.as_bytes());
    out.push(b'.');
    out.extend_from_slice(fraction.as_bytes());
}

/// Appends `field` as the csv crate writes it: quoted, with quotes doubled, when it holds a
/// comma, a quote or a line end.
pub fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    if !field
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
    {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Each day after the last is the next calendar day (months of their lengths, leap years
    /// by the Gregorian rule), from before 1 AD to past 4000, through 1970-01-01.
    #[test]
    fn civil_dates_count_days() {
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_days = |y: i64, m: u32| match m {
            2 if leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let mut last = civil_from_days(-800_000);
        for z in -799_999..800_000 {
            let (y, m, d) = last;
            let next = if d < month_days(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            last = civil_from_days(z);
            assert_eq!(last, next, "day {z}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    /// Decimals of every width and scale, half floats and all-null columns.
    #[test]
    fn decimals_of_every_width_half_floats_and_null_columns() {
        use arrow_array::{Decimal32Array, Decimal256Array, Float16Array, NullArray};
        type I256 = <Decimal256Type as arrow_array::ArrowPrimitiveType>::Native;
        let d32: ArrayRef = Arc::new(
            Decimal32Array::from(vec![Some(-5), Some(12_345), None])
                .with_precision_and_scale(9, 3)
                .unwrap(),
        );
        let d256: ArrayRef = Arc::new(
            Decimal256Array::from(vec![
                Some(I256::from_i128(-1)),
                Some(I256::from_i128(100)),
                Some(I256::from_i128(0)),
            ])
            .with_precision_and_scale(40, 2)
            .unwrap(),
        );
        let half: ArrayRef = Arc::new(Float16Array::from(vec![
            Some(half_of(1.5)),
            None,
            Some(half_of(-0.25)),
        ]));
        let null: ArrayRef = Arc::new(NullArray::new(3));
        let batch = RecordBatch::try_from_iter([("a", d32), ("b", d256), ("h", half), ("n", null)])
            .unwrap();
        let names: Vec<String> = ["a", "b", "h", "n"].map(String::from).to_vec();
        let mut s = String::new();
        CsvText::new(&names, Box::new(std::iter::once(Ok(batch))))
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(
            s,
            "a,b,h,n\n-0.005,-0.01,1.5,\n12.345,1.00,,\n,0.00,-0.25,\n"
        );
    }

    /// A half float of an exactly representable value.
    fn half_of(
        x: f32,
    ) -> <arrow_array::types::Float16Type as arrow_array::ArrowPrimitiveType>::Native {
        <arrow_array::types::Float16Type as arrow_array::ArrowPrimitiveType>::Native::from_f32(x)
    }

    /// An error of the batches' source comes out of `read` as the inner error of an I/O
    /// error, and a type with no text form names its column.
    #[test]
    fn source_errors_pass_through_and_unknown_types_name_their_column() {
        #[derive(Debug)]
        struct Broken;
        impl std::fmt::Display for Broken {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("broken")
            }
        }
        impl std::error::Error for Broken {}
        let mut text = CsvText::new(
            &["a".into()],
            Box::new(std::iter::once(Err(Box::new(Broken) as SourceError))),
        );
        let mut s = String::new();
        let e = text.read_to_string(&mut s).unwrap_err();
        assert!(e.downcast::<Broken>().is_ok());
        assert_eq!(s, "a\n");

        let binary: ArrayRef = Arc::new(arrow_array::BinaryArray::from_vec(vec![b"x"]));
        let batch = RecordBatch::try_from_iter([("blob", binary)]).unwrap();
        let mut text = CsvText::new(&["blob".into()], Box::new(std::iter::once(Ok(batch))));
        let e = text.read_to_string(&mut String::new()).unwrap_err();
        assert!(
            e.to_string().contains("column 'blob' has the type Binary"),
            "{e}"
        );
    }
}
