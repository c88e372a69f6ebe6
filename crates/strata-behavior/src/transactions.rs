//! A transaction log to one row per customer.
//!
//! Rules, all counted in the [`TxReport`]:
//! - a row without a customer id is skipped;
//! - a row is a *return* when its value is negative or its invoice is a cancellation (an id
//!   starting with `C`); returns are netted into the customer's monetary value but are not
//!   purchases (they count toward neither frequency nor dates);
//! - frequency is the number of distinct purchase invoices, or of purchase rows when there is
//!   no invoice column;
//! - with `--as-of`, rows on or after that day are left out; without it, the as-of day is the
//!   day after the last purchase in the log;
//! - a customer with returns but no purchase has no recency and is left out of the table.
//!
//! On request ([`TxOptions::keep_days`]) it also keeps each customer's purchases summed per
//! calendar day, returns left out, which is what the value models' summary is made from
//! ([`strata_value::summarise`]): memory in the customer-days, no more than the invoices it
//! already holds.
//!
//! Dates: ISO 8601, `M/D/YYYY H:MM`, `M/D/YY H:MM`, `D/M/YYYY`, `YYYYMMDD`. Unless the layout
//! is forced, the first value only one layout reads decides it; a file whose slash dates every
//! layout reads (all days ≤ 12) is an error asking for `--date-format`.

use std::collections::{HashMap, HashSet};
pub use strata_format::TxReport;

use strata_ingest::{
    DateEvidence, DateFormat, Header, IdColumn, IngestError, Records, date_evidence, is_missing,
    parse_date, parse_number,
};

/// Where the transaction fields are (header positions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxColumns {
    /// The customer id; a row where it is missing is skipped.
    pub customer_id: usize,
    /// The purchase date and time, read in the file's date layout.
    pub timestamp: usize,
    /// Where the row's money value comes from.
    pub value: TxValue,
    /// The invoice number, if the log has one: distinct invoices count purchases, and one starting
    /// with `C` marks a cancellation.
    pub invoice: Option<usize>,
}

/// How a row's money value is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxValue {
    /// The position of a column holding the line's money value; negative for a return.
    Amount(usize),
    /// The line's quantity times its unit price; a negative quantity is a return.
    QuantityTimesPrice {
        /// The quantity's column.
        quantity: usize,
        /// The unit price's column.
        unit_price: usize,
    },
}

/// How to read the log's dates and where it ends.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TxOptions {
    /// The date layout; `None`: decided from the file's values.
    pub date_format: Option<DateFormat>,
    /// Days since 1970-01-01.
    pub as_of: Option<f64>,
    /// Keep each customer's purchases summed per day ([`Behaviour::days`]).
    pub keep_days: bool,
}

/// Why a transaction log could not be aggregated.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// The log could not be read or a field did not parse.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// Every slash date in the timestamp column reads both day-first and month-first, and no layout
    /// was given.
    #[error(
        "{path}: the dates in column '{column}' read both day-first and month-first \
         (e.g. '{example}' on line {line}); say which with --date-format dmy or --date-format mdy"
    )]
    AmbiguousDates {
        /// The transaction log.
        path: String,
        /// The timestamp column's header.
        column: String,
        /// The first ambiguous value, e.g. `"3/4/2024"`.
        example: String,
        /// The line it is on.
        line: u64,
    },
    /// No row is a purchase with a customer id (before the as-of day, if one is given).
    #[error("{path}: no purchases with a customer id to aggregate")]
    NoPurchases {
        /// The transaction log.
        path: String,
    },
}

/// Per-customer measures, in order of each customer's first row. Recency and tenure are whole
/// days between calendar days (the as-of day minus the day of the last / first purchase).
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The customer ids, byte for byte, in the same order as the columns.
    pub ids: IdColumn,
    /// `(name, values)` for each of [`Behaviour::COLUMNS`].
    pub columns: Vec<(String, Vec<f64>)>,
    /// Line of each customer's first row.
    pub lines: Vec<u64>,
    /// What the aggregation counted and decided.
    pub report: TxReport,
    /// With [`TxOptions::keep_days`]: one entry per customer and calendar day with a
    /// purchase, its purchase values summed (returns left out), `customer` indexing the
    /// columns; sorted by customer, then day. Empty otherwise.
    pub days: Vec<strata_value::Purchase>,
}

impl Behaviour {
    /// Measures per customer: days since the last purchase; distinct purchases; net money;
    /// money per purchase; days since the first purchase; mean days between purchases (missing
    /// for one-time buyers).
    pub const COLUMNS: [&'static str; 6] = [
        "recency",
        "frequency",
        "monetary",
        "avg_order_value",
        "tenure",
        "interpurchase_days",
    ];
}

#[derive(Default, Clone)]
struct Acc {
    first_line: u64,
    purchases: u64,
    money: f64,
    first: f64,
    last: f64,
}

/// A field that does not read as `expected`, named by its line and column.
pub(crate) fn bad(
    header: &Header,
    line: u64,
    col: usize,
    expected: &'static str,
    field: &[u8],
) -> IngestError {
    IngestError::BadValue {
        path: header.path.clone(),
        word: header.format.position_word(),
        line,
        column: col + 1,
        name: header.names[col].clone(),
        expected,
        value: String::from_utf8_lossy(field).chars().take(80).collect(),
    }
}

/// Decides the date layout from the file's values (first pass, stops at the first value only
/// one layout reads).
fn detect_format(header: &Header, col: usize) -> Result<DateFormat, TxError> {
    let mut records = Records::open(header)?;
    let mut record = csv::ByteRecord::new();
    let mut example = None;
    while let Some(line) = records.next(&mut record)? {
        let field = &record[col];
        if is_missing(field) {
            continue;
        }
        let text = String::from_utf8_lossy(field);
        match date_evidence(&text) {
            DateEvidence::Only(f) => return Ok(f),
            DateEvidence::EitherSlash => {
                example.get_or_insert((text.into_owned(), line));
            }
            DateEvidence::Unreadable => {
                return Err(bad(
                    header,
                    line,
                    col,
                    "a date (ISO 8601, M/D/YYYY H:MM, D/M/YYYY or YYYYMMDD)",
                    field,
                )
                .into());
            }
        }
    }
    match example {
        Some((example, line)) => Err(TxError::AmbiguousDates {
            path: header.path.display().to_string(),
            column: header.names[col].clone(),
            example,
            line,
        }),
        None => Err(TxError::NoPurchases {
            path: header.path.display().to_string(),
        }),
    }
}

/// Reads the log at `header.path` and aggregates it per customer.
pub fn aggregate(
    header: &Header,
    cols: &TxColumns,
    opts: &TxOptions,
) -> Result<Behaviour, TxError> {
    // A date or timestamp column of a columnar log reads as ISO 8601 text, whatever
    // --date-format says of text dates.
    let format = match opts.date_format {
        _ if header.holds_dates(cols.timestamp) => DateFormat::Iso,
        Some(f) => f,
        None => detect_format(header, cols.timestamp)?,
    };
    let expected_date = match format {
        DateFormat::Iso => "a date like 2010-12-01 08:26 (ISO 8601)",
        DateFormat::Mdy => "a month-first date like 12/1/2010 8:26",
        DateFormat::Dmy => "a day-first date like 1/12/2010 8:26",
        DateFormat::Ymd => "a date like 20101201",
    };
    let mut records = Records::open(header)?;
    let mut record = csv::ByteRecord::new();
    let mut index: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut id_bytes = Vec::new();
    let mut id_offsets = vec![0usize];
    let mut accs: Vec<Acc> = Vec::new();
    let mut invoices: HashSet<Vec<u8>> = HashSet::new();
    let mut report = TxReport {
        rows: 0,
        rows_without_customer: 0,
        return_rows: 0,
        rows_after_as_of: 0,
        customers: 0,
        customers_without_purchases: 0,
        date_format: format.name().to_owned(),
        as_of: f64::NAN,
    };
    let number = |line, col: usize, field: &[u8]| {
        parse_number(field).ok_or_else(|| bad(header, line, col, "a number", field))
    };
    let mut last_purchase = f64::NEG_INFINITY;
    // (customer, day) → the day's purchase value, with keep_days.
    let mut days: HashMap<(u32, i32), f64> = HashMap::new();
    while let Some(line) = records.next(&mut record)? {
        report.rows += 1;
        let id = &record[cols.customer_id];
        if is_missing(id) {
            report.rows_without_customer += 1;
            continue;
        }
        let date_field = &record[cols.timestamp];
        let date = std::str::from_utf8(date_field)
            .ok()
            .filter(|_| !is_missing(date_field))
            .and_then(|s| parse_date(format, s))
            .ok_or_else(|| bad(header, line, cols.timestamp, expected_date, date_field))?;
        if opts.as_of.is_some_and(|a| date >= a) {
            report.rows_after_as_of += 1;
            continue;
        }
        let value = match cols.value {
            TxValue::Amount(c) => number(line, c, &record[c])?,
            TxValue::QuantityTimesPrice {
                quantity,
                unit_price,
            } => {
                number(line, quantity, &record[quantity])?
                    * number(line, unit_price, &record[unit_price])?
            }
        };
        let cancelled = cols.invoice.is_some_and(|c| {
            record[c]
                .trim_ascii()
                .first()
                .is_some_and(|b| b.eq_ignore_ascii_case(&b'C'))
        });
        let customer = match index.get(id) {
            Some(&c) => c as usize,
            None => {
                let c = accs.len();
                index.insert(id.to_vec(), c as u32);
                id_bytes.extend_from_slice(id);
                id_offsets.push(id_bytes.len());
                accs.push(Acc {
                    first_line: line,
                    first: f64::INFINITY,
                    last: f64::NEG_INFINITY,
                    ..Acc::default()
                });
                c
            }
        };
        let acc = &mut accs[customer];
        acc.money += value;
        if cancelled || value < 0.0 {
            report.return_rows += 1;
            continue;
        }
        let new_purchase = match cols.invoice {
            Some(c) => invoices.insert(record[c].trim_ascii().to_vec()),
            None => true,
        };
        if new_purchase {
            acc.purchases += 1;
        }
        acc.first = acc.first.min(date);
        acc.last = acc.last.max(date);
        last_purchase = last_purchase.max(date);
        if opts.keep_days {
            *days
                .entry((customer as u32, date.floor() as i32))
                .or_insert(0.0) += value;
        }
    }
    let as_of = opts.as_of.unwrap_or(last_purchase.floor() + 1.0);
    report.as_of = as_of;

    let keep: Vec<bool> = accs.iter().map(|a| a.purchases > 0).collect();
    report.customers_without_purchases = keep.iter().filter(|k| !**k).count();
    let all_ids = IdColumn::Text {
        name: header.names[cols.customer_id].clone(),
        bytes: id_bytes,
        offsets: id_offsets,
    };
    let ids = all_ids.filter(&keep);
    let kept: Vec<&Acc> = accs.iter().filter(|a| a.purchases > 0).collect();
    report.customers = kept.len();
    if kept.is_empty() {
        return Err(TxError::NoPurchases {
            path: header.path.display().to_string(),
        });
    }
    // Customers with a purchase are the ones kept, so each day's customer has a new index.
    let mut new_index = vec![u32::MAX; accs.len()];
    for (n, old) in keep
        .iter()
        .enumerate()
        .filter(|(_, k)| **k)
        .map(|(i, _)| i)
        .enumerate()
    {
        new_index[old] = n as u32;
    }
    let mut days: Vec<strata_value::Purchase> = days
        .into_iter()
        .map(|((c, day), value)| strata_value::Purchase {
            customer: new_index[c as usize] as usize,
            day: i64::from(day),
            value,
        })
        .collect();
    days.sort_unstable_by_key(|p| (p.customer, p.day));
    let col = |f: &dyn Fn(&Acc) -> f64| kept.iter().map(|a| f(a)).collect::<Vec<f64>>();
    let columns = vec![
        // Whole days between calendar days: a purchase on the day before the as-of day is 1.
        col(&|a| as_of - a.last.floor()),
        col(&|a| a.purchases as f64),
        col(&|a| a.money),
        col(&|a| a.money / a.purchases as f64),
        col(&|a| as_of - a.first.floor()),
        col(&|a| {
            if a.purchases > 1 {
                (a.last - a.first) / (a.purchases - 1) as f64
            } else {
                f64::NAN
            }
        }),
    ];
    Ok(Behaviour {
        ids,
        columns: Behaviour::COLUMNS
            .iter()
            .map(|s| s.to_string())
            .zip(columns)
            .collect(),
        lines: kept.iter().map(|a| a.first_line).collect(),
        report,
        days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn log(content: &str) -> (tempfile::NamedTempFile, Header) {
        let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        let h = strata_ingest::read_header(f.path(), None).unwrap();
        (f, h)
    }

    const LOG: &str = "\
InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID
536365,6,12/1/10 8:26,2.55,17850
536365,2,12/1/10 8:26,5.00,17850
536366,1,12/3/10 9:00,10.00,17850
C536367,-1,12/4/10 9:00,10.00,17850
536368,3,12/13/10 10:00,1.00,13047
536369,1,12/2/10 11:00,4.00,
C536370,-2,12/5/10 12:00,3.00,99999
";

    fn cols() -> TxColumns {
        TxColumns {
            customer_id: 4,
            timestamp: 2,
            value: TxValue::QuantityTimesPrice {
                quantity: 1,
                unit_price: 3,
            },
            invoice: Some(0),
        }
    }

    #[test]
    fn aggregates_nets_returns_and_counts_what_it_skipped() {
        let (_f, h) = log(LOG);
        let b = aggregate(&h, &cols(), &TxOptions::default()).unwrap();
        let r = &b.report;
        assert_eq!((r.rows, r.rows_without_customer, r.return_rows), (7, 1, 2));
        assert_eq!((r.customers, r.customers_without_purchases), (2, 1));
        assert_eq!(r.date_format, "mdy"); // decided by 12/13/10
        let dec13 = strata_ingest::days_from_civil(2010, 12, 13) as f64;
        assert_eq!(r.as_of, dec13 + 1.0);
        let mut s = String::new();
        assert_eq!(b.ids.get(0, &mut s), b"17850");
        assert_eq!(b.ids.get(1, &mut s), b"13047");
        let get = |name: &str| &b.columns.iter().find(|c| c.0 == name).unwrap().1;
        // 17850: invoices 536365 (two lines) and 536366 → 2 purchases; 15.3 + 10 + 10 − 10.
        assert_eq!(get("frequency"), &vec![2.0, 1.0]);
        assert!((get("monetary")[0] - 25.3).abs() < 1e-9);
        assert!((get("avg_order_value")[0] - 12.65).abs() < 1e-9);
        // Last purchase on Dec 3 (9:00), as of Dec 14: 11 whole days; first on Dec 1: 13.
        assert_eq!(get("recency")[0], 11.0);
        assert_eq!(get("tenure")[0], 13.0);
        assert!(get("interpurchase_days")[1].is_nan(), "one-time buyer");
        assert_eq!(b.lines, vec![2, 6]);
    }

    #[test]
    fn keeps_purchase_days_without_returns_when_asked() {
        let (_f, h) = log(LOG);
        let opts = TxOptions {
            keep_days: true,
            ..Default::default()
        };
        let b = aggregate(&h, &cols(), &opts).unwrap();
        let day = |m, d| strata_ingest::days_from_civil(2010, m, d);
        let got: Vec<(usize, i64, f64)> = b
            .days
            .iter()
            .map(|p| (p.customer, p.day, (p.value * 100.0).round() / 100.0))
            .collect();
        // 17850: two lines on Dec 1, one on Dec 3; the Dec 4 return is not a purchase day.
        assert_eq!(
            got,
            vec![
                (0, day(12, 1), 25.3),
                (0, day(12, 3), 10.0),
                (1, day(12, 13), 3.0)
            ]
        );
        assert!(
            aggregate(&h, &cols(), &TxOptions::default())
                .unwrap()
                .days
                .is_empty()
        );
    }

    #[test]
    fn as_of_leaves_later_rows_out() {
        let (_f, h) = log(LOG);
        let as_of = strata_ingest::days_from_civil(2010, 12, 10) as f64;
        let b = aggregate(
            &h,
            &cols(),
            &TxOptions {
                as_of: Some(as_of),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(b.report.rows_after_as_of, 1);
        assert_eq!(b.report.customers, 1);
    }

    #[test]
    fn ambiguous_and_unreadable_dates_are_errors_naming_the_line() {
        let (_f, h) = log("id,date,amount\n1,3/4/2010,5\n2,5/6/2010,7\n");
        let c = TxColumns {
            customer_id: 0,
            timestamp: 1,
            value: TxValue::Amount(2),
            invoice: None,
        };
        let e = aggregate(&h, &c, &TxOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'3/4/2010' on line 2") && e.contains("--date-format"),
            "{e}"
        );
        let forced = TxOptions {
            date_format: Some(DateFormat::Dmy),
            ..Default::default()
        };
        let b = aggregate(&h, &c, &forced).unwrap();
        assert_eq!(b.report.customers, 2);
        let (_f, h) = log("id,date,amount\n1,2010-01-05,5\n2,soon,7\n");
        let e = aggregate(&h, &c, &TxOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3, column 2 ('date'): expected a date like 2010-12-01"),
            "{e}"
        );
        let (_f, h) = log("id,date,amount\n1,2010-01-05,five\n");
        let e = aggregate(&h, &c, &TxOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2, column 3 ('amount'): expected a number, found 'five'"),
            "{e}"
        );
    }
}
