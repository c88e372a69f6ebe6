//! Arrow arrays to the builders the CSV parser fills, with the same missing-value rules.
//!
//! Types come from the schema:
//! - a number role takes integers, floats and decimals (a decimal through its exact digits,
//!   so `12.34` stored as `1234 × 10⁻²` is the same f64 as the text `12.34`); text columns
//!   bound to one are parsed as the CSV reader parses fields;
//! - a date role takes dates and timestamps (the instant's calendar date in UTC and the time
//!   of day as the fraction, as [`parse_iso_date`] reads `2024-03-31 14:05`) and ISO text;
//! - a categorical role takes text and dictionaries of text (trimmed), and integers and
//!   booleans as their decimal and `true`/`false` text;
//! - "every numeric column" (automatic) takes the number columns and sets every other aside
//!   as text: the schema, not the look of the values, says what a column is.
//!
//! Nulls are missing, and so are NaN floats and the CSV reader's missing tokens in text
//! (`NA`, `null`, an empty string…), so a file converted from CSV reads as the CSV does.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType};
use arrow_schema::{DataType, TimeUnit};

use strata_arrow_text::{Strings, dictionary};

use crate::parse::{Builder, Spare};
use crate::{IngestError, ParseAs, abi_missing, is_missing, parse_iso_date, parse_number};

/// Where the arrays being converted come from, for errors.
pub(super) struct At<'a> {
    /// The file (a part file of a folder).
    pub path: &'a Path,
    /// `row group` (Parquet) or `record batch` (Arrow IPC).
    pub group_word: &'static str,
    /// The row group or batch, 0-based.
    pub group: usize,
    /// The row, 0-based within the file, of the arrays' first value.
    pub first_row: u64,
    /// The column, 0-based in the schema.
    pub column: usize,
    /// The column's name.
    pub name: &'a str,
}

impl At<'_> {
    /// The error for the value at `i` (0-based in the arrays).
    fn bad(&self, i: usize, expected: &'static str, value: &str) -> IngestError {
        IngestError::BadCell(Box::new(crate::BadCell {
            path: self.path.to_owned(),
            group_word: self.group_word,
            group: self.group + 1,
            row: self.first_row + i as u64 + 1,
            column: self.column + 1,
            name: self.name.to_owned(),
            expected,
            value: value.chars().take(80).collect(),
        }))
    }

    fn wrong_type(&self, found: &DataType, expected: &'static str) -> IngestError {
        IngestError::ColumnType {
            path: self.path.to_owned(),
            column: self.column + 1,
            name: self.name.to_owned(),
            found: found.to_string(),
            expected,
        }
    }
}

const A_NUMBER: &str = "a number";
const NUMBER_TYPES: &str =
    "a number (an integer, float or decimal column, or text holding numbers)";
const A_DATE: &str = "a date such as 2024-03-31 or 2024-03-31 14:05";
const DATE_TYPES: &str = "a date (a date or timestamp column, or ISO text)";
const TEXT_TYPES: &str = "categories (a text, dictionary, integer or boolean column)";
const ID_TYPES: &str = "ids (a text, integer or dictionary-of-text column)";

/// The builder of one planned column over `arrays` (one column's arrays, in row order,
/// `rows` values in all).
pub(super) fn column(
    arrays: &[ArrayRef],
    how: ParseAs,
    at: &At,
    spare: &Spare,
    rows: usize,
    first_line: u64,
) -> Result<Builder, IngestError> {
    let mut offset = 0usize;
    let mut each = |f: &mut dyn FnMut(&dyn Array, usize) -> Result<(), IngestError>| {
        for a in arrays {
            f(a.as_ref(), offset)?;
            offset += a.len();
        }
        Ok::<(), IngestError>(())
    };
    Ok(match how {
        ParseAs::Numeric => {
            let mut v = spare.take(rows);
            each(&mut |a, o| numbers(a, &mut v, at, o))?;
            Builder::Numeric(v)
        }
        ParseAs::AutoNumeric => {
            if arrays.iter().all(|a| is_number_type(a.data_type())) {
                let mut v = spare.take(rows);
                each(&mut |a, o| numbers(a, &mut v, at, o))?;
                Builder::Auto(v)
            } else {
                // Not a number column: set aside as text, as a CSV column of words is. The
                // line is that of its first value, for the message that names it.
                let mut first = None;
                let mut texts = 0u64;
                each(&mut |a, o| {
                    texts += (a.len() - a.null_count()) as u64;
                    if first.is_none() {
                        first = (0..a.len()).find(|&i| a.is_valid(i)).map(|i| o + i);
                    }
                    Ok(())
                })?;
                Builder::NotNumeric {
                    line: first_line + first.unwrap_or(0) as u64,
                    numbers: 0,
                    texts,
                }
            }
        }
        ParseAs::Date => {
            let mut v = spare.take(rows);
            each(&mut |a, o| dates(a, &mut v, at, o))?;
            Builder::Date(v)
        }
        ParseAs::Text => {
            let mut text = Texts::with_capacity(rows);
            each(&mut |a, _| text.push(a, at, TEXT_TYPES))?;
            Builder::Text {
                codes: text.codes,
                dict: text.dict,
                index: HashMap::default(),
            }
        }
    })
}

/// Appends the ids in `arrays` to `bytes`, and each id's end offset to `ends`. Nulls are
/// empty ids, as empty fields are in a CSV file.
pub(super) fn ids(
    arrays: &[ArrayRef],
    at: &At,
    bytes: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> Result<(), IngestError> {
    for a in arrays {
        let a = a.as_ref();
        let integers = integer_texts(a, &mut |v| {
            if let Some(v) = v {
                bytes.extend_from_slice(v.as_bytes());
            }
            ends.push(bytes.len());
        });
        if integers {
            continue;
        }
        match a.data_type() {
            DataType::Null => ends.extend(std::iter::repeat_n(bytes.len(), a.len())),
            t => {
                if let Some(s) = Strings::of(a) {
                    for i in 0..a.len() {
                        if let Some(v) = s.get(i) {
                            bytes.extend_from_slice(v.as_bytes());
                        }
                        ends.push(bytes.len());
                    }
                } else if let Some((keys, values)) = dictionary(a) {
                    let Some(s) = Strings::of(values.as_ref()) else {
                        return Err(at.wrong_type(t, ID_TYPES));
                    };
                    for (i, &k) in keys.iter().enumerate() {
                        if a.is_valid(i)
                            && let Some(v) = s.get(k)
                        {
                            bytes.extend_from_slice(v.as_bytes());
                        }
                        ends.push(bytes.len());
                    }
                } else {
                    return Err(at.wrong_type(t, ID_TYPES));
                }
            }
        }
    }
    Ok(())
}

/// Calls `f` with the decimal text of each value of `a` (`None` for a null) when `a` holds
/// integers, as a CSV file would have written them; `false`, calling nothing, otherwise.
fn integer_texts(a: &dyn Array, f: &mut dyn FnMut(Option<&str>)) -> bool {
    let mut buf = itoa::Buffer::new();
    macro_rules! ints {
        ($t:ty) => {
            for v in a.as_primitive::<$t>().iter() {
                f(v.map(|v| buf.format(v)));
            }
        };
    }
    match a.data_type() {
        DataType::Int8 => ints!(Int8Type),
        DataType::Int16 => ints!(Int16Type),
        DataType::Int32 => ints!(Int32Type),
        DataType::Int64 => ints!(Int64Type),
        DataType::UInt8 => ints!(UInt8Type),
        DataType::UInt16 => ints!(UInt16Type),
        DataType::UInt32 => ints!(UInt32Type),
        DataType::UInt64 => ints!(UInt64Type),
        _ => return false,
    }
    true
}

/// Whether `t` holds numbers (a column of nulls only holds missing numbers).
fn is_number_type(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Null
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
    )
}

/// A decimal's f64 through its digits: `digits × 10^-scale` correctly rounded, which is what
/// reading the same number as text gives.
fn decimal(digits: impl std::fmt::Display, scale: i8) -> f64 {
    // A decimal's digits always parse: an integer and an exponent.
    format!("{digits}e{}", -i32::from(scale))
        .parse()
        .unwrap_or(f64::NAN)
}

/// Appends the numbers of `a` (its first value being row `offset` of the arrays) to `out`.
fn numbers(a: &dyn Array, out: &mut Vec<f64>, at: &At, offset: usize) -> Result<(), IngestError> {
    macro_rules! prim {
        ($t:ty) => {{
            let p = a.as_primitive::<$t>();
            if p.null_count() == 0 {
                out.extend(p.values().iter().map(|&v| v as f64));
            } else {
                out.extend(p.iter().map(|v| v.map_or(f64::NAN, |v| v as f64)));
            }
        }};
    }
    macro_rules! floats {
        ($t:ty, $f:expr) => {{
            let p = a.as_primitive::<$t>();
            let start = out.len();
            if p.null_count() == 0 {
                out.extend(p.values().iter().map(|&v| $f(v)));
            } else {
                out.extend(p.iter().map(|v| v.map_or(f64::NAN, $f)));
            }
            // NaN is missing, as the text NaN is; an infinity is no customer's measure.
            if let Some(i) = out[start..].iter().position(|x| x.is_infinite()) {
                return Err(at.bad(offset + i, "a finite number", &out[start + i].to_string()));
            }
        }};
    }
    macro_rules! decimals {
        ($t:ty, $scale:expr) => {{
            let p = a.as_primitive::<$t>();
            out.extend(p.iter().map(|v| v.map_or(f64::NAN, |v| decimal(v, $scale))));
        }};
    }
    match a.data_type() {
        DataType::Null => out.extend(std::iter::repeat_n(f64::NAN, a.len())),
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float16 => floats!(
            Float16Type,
            |v: <Float16Type as ArrowPrimitiveType>::Native| { v.to_f64() }
        ),
        DataType::Float32 => floats!(Float32Type, f64::from),
        DataType::Float64 => floats!(Float64Type, |v| v),
        &DataType::Decimal32(_, s) => decimals!(Decimal32Type, s),
        &DataType::Decimal64(_, s) => decimals!(Decimal64Type, s),
        &DataType::Decimal128(_, s) => decimals!(Decimal128Type, s),
        &DataType::Decimal256(_, s) => decimals!(Decimal256Type, s),
        t => {
            // Text bound to a number role: each value read as a CSV field is.
            let parse = |i: usize, v: Option<&str>| match v {
                None => Ok(f64::NAN),
                Some(v) => match parse_number(v.as_bytes()) {
                    Some(x) => Ok(x),
                    None if is_missing(v.as_bytes()) => Ok(f64::NAN),
                    None => Err(at.bad(offset + i, A_NUMBER, v)),
                },
            };
            if let Some(s) = Strings::of(a) {
                for i in 0..a.len() {
                    out.push(parse(i, s.get(i))?);
                }
            } else if let Some((keys, values)) = dictionary(a) {
                let Some(s) = Strings::of(values.as_ref()) else {
                    return Err(at.wrong_type(t, NUMBER_TYPES));
                };
                // Each distinct value parsed once, an error reported at its first row.
                let mut parsed: Vec<Option<f64>> = vec![None; values.len()];
                for (i, &k) in keys.iter().enumerate() {
                    if a.is_null(i) {
                        out.push(f64::NAN);
                        continue;
                    }
                    let x = match parsed[k] {
                        Some(x) => x,
                        None => {
                            let x = parse(i, s.get(k))?;
                            parsed[k] = Some(x);
                            x
                        }
                    };
                    out.push(x);
                }
            } else {
                return Err(at.wrong_type(t, NUMBER_TYPES));
            }
        }
    }
    Ok(())
}

/// Days since 1970-01-01 of a timestamp `v` counted in `per_second` units a second, the time
/// of day as the fraction (the same sum [`parse_iso_date`] makes from the text).
fn timestamp_days(v: i64, per_second: i64) -> f64 {
    let per_day = per_second * 86_400;
    let days = v.div_euclid(per_day);
    let rem = v.rem_euclid(per_day);
    let (secs, sub) = (rem / per_second, rem % per_second);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let sec = s as f64 + sub as f64 / per_second as f64;
    days as f64 + (h as f64 * 3600.0 + m as f64 * 60.0 + sec) / 86_400.0
}

/// Appends the dates of `a` as days since 1970-01-01.
fn dates(a: &dyn Array, out: &mut Vec<f64>, at: &At, offset: usize) -> Result<(), IngestError> {
    macro_rules! stamps {
        ($t:ty, $per_second:expr) => {{
            let p = a.as_primitive::<$t>();
            out.extend(
                p.iter()
                    .map(|v| v.map_or(f64::NAN, |v| timestamp_days(v, $per_second))),
            );
        }};
    }
    use arrow_array::types::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    match a.data_type() {
        DataType::Null => out.extend(std::iter::repeat_n(f64::NAN, a.len())),
        DataType::Date32 => out.extend(
            a.as_primitive::<Date32Type>()
                .iter()
                .map(|v| v.map_or(f64::NAN, f64::from)),
        ),
        DataType::Date64 => stamps!(Date64Type, 1000),
        DataType::Timestamp(TimeUnit::Second, _) => stamps!(TimestampSecondType, 1),
        DataType::Timestamp(TimeUnit::Millisecond, _) => stamps!(TimestampMillisecondType, 1000),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            stamps!(TimestampMicrosecondType, 1_000_000)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            stamps!(TimestampNanosecondType, 1_000_000_000)
        }
        t => {
            let Some(s) = Strings::of(a) else {
                return Err(at.wrong_type(t, DATE_TYPES));
            };
            for i in 0..a.len() {
                let x = match s.get(i) {
                    None => f64::NAN,
                    Some(v) if is_missing(v.as_bytes()) => f64::NAN,
                    Some(v) => match parse_iso_date(v.trim_ascii()) {
                        Some(x) => x,
                        None => return Err(at.bad(offset + i, A_DATE, v)),
                    },
                };
                out.push(x);
            }
        }
    }
    Ok(())
}

/// Categorical codes in order of first appearance, with their texts.
struct Texts {
    codes: Vec<u32>,
    dict: Vec<String>,
    index: HashMap<String, u32, foldhash::fast::RandomState>,
}

impl Texts {
    fn with_capacity(rows: usize) -> Texts {
        Texts {
            codes: Vec::with_capacity(rows),
            dict: Vec::new(),
            index: HashMap::default(),
        }
    }

    /// The code of a present value: trimmed, a missing token missing.
    fn code(&mut self, v: &str) -> u32 {
        if is_missing(v.as_bytes()) {
            return abi_missing();
        }
        let t = v.trim_ascii();
        if let Some(&c) = self.index.get(t) {
            return c;
        }
        let c = self.dict.len() as u32;
        self.dict.push(t.to_owned());
        self.index.insert(t.to_owned(), c);
        c
    }

    fn push(&mut self, a: &dyn Array, at: &At, expected: &'static str) -> Result<(), IngestError> {
        let integers = integer_texts(a, &mut |v| {
            let c = v.map_or(abi_missing(), |v| self.code(v));
            self.codes.push(c);
        });
        if integers {
            return Ok(());
        }
        match a.data_type() {
            DataType::Null => self
                .codes
                .extend(std::iter::repeat_n(abi_missing(), a.len())),
            DataType::Boolean => {
                for v in a.as_boolean().iter() {
                    let c = v.map_or(abi_missing(), |v| {
                        self.code(if v { "true" } else { "false" })
                    });
                    self.codes.push(c);
                }
            }
            t => {
                if let Some(s) = Strings::of(a) {
                    for i in 0..a.len() {
                        let c = s.get(i).map_or(abi_missing(), |v| self.code(v));
                        self.codes.push(c);
                    }
                } else if let Some((keys, values)) = dictionary(a) {
                    let Some(s) = Strings::of(values.as_ref()) else {
                        return Err(at.wrong_type(t, expected));
                    };
                    // Each dictionary entry coded once, at its first use, so the codes keep
                    // the order of first appearance in the rows.
                    let mut coded: Vec<Option<u32>> = vec![None; values.len()];
                    for (i, &k) in keys.iter().enumerate() {
                        let c = if a.is_null(i) {
                            abi_missing()
                        } else {
                            match coded[k] {
                                Some(c) => c,
                                None => {
                                    let c = s.get(k).map_or(abi_missing(), |v| self.code(v));
                                    coded[k] = Some(c);
                                    c
                                }
                            }
                        };
                        self.codes.push(c);
                    }
                } else {
                    return Err(at.wrong_type(t, expected));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decimals and timestamps give the bits their text gives through the CSV reader.
    #[test]
    fn decimals_and_timestamps_read_as_their_text_does() {
        for (digits, scale, text) in [
            (1234i128, 2i8, "12.34"),
            (-5, 1, "-0.5"),
            (1, 3, "0.001"),
            (123456789012345678, 9, "123456789.012345678"),
            (7, -2, "700"),
        ] {
            assert_eq!(
                decimal(digits, scale).to_bits(),
                parse_number(text.as_bytes()).unwrap().to_bits(),
                "{text}"
            );
        }
        let text = parse_iso_date("2024-03-31 14:05:09").unwrap();
        let secs = (19_813i64 * 86_400) + 14 * 3600 + 5 * 60 + 9;
        assert_eq!(timestamp_days(secs, 1).to_bits(), text.to_bits());
        assert_eq!(timestamp_days(secs * 1000, 1000).to_bits(), text.to_bits());
        assert_eq!(timestamp_days(-1, 1).floor(), -1.0);
    }
}
