//! A per-customer summary table, as `lifetimes` and PyMC-Marketing users keep them (one row
//! per customer: frequency, recency, T and optionally monetary_value, in periods), read into
//! the value models' summaries and into the behavioural measures the behavioral strategy
//! segments, in the summary's own periods:
//! - recency (since the last purchase) = T − recency;
//! - frequency (purchase periods) = frequency + 1;
//! - monetary = monetary_value × frequency (the repeat purchases' value: all a summary
//!   knows of spend);
//! - avg_order_value = monetary_value, for repeat buyers (missing otherwise);
//! - tenure = T;
//! - interpurchase_days = recency / frequency, for repeat buyers (missing otherwise).
//!
//! Every row is checked: frequency a whole number ≥ 0, 0 ≤ recency ≤ T, recency 0 without a
//! repeat purchase, monetary_value ≥ 0; a bad one is an error naming its line and column.

use strata_ingest::{Header, IdColumn, IngestError, Records, is_missing, parse_number};
use strata_value::Summary;

use crate::Behaviour;
use crate::transactions::bad;

/// Where a summary's fields are (header positions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryColumns {
    /// The customer id.
    pub customer_id: usize,
    /// Repeat purchase periods (x).
    pub frequency: usize,
    /// Periods from the first purchase to the last (t_x).
    pub recency: usize,
    /// Periods from the first purchase to the end of observation (T).
    pub t: usize,
    /// Mean value of the repeat purchases, if the table has it.
    pub monetary_value: Option<usize>,
}

/// A summary table read: the customers in file order, their summaries, and the behavioural
/// measures derived from them.
#[derive(Debug, Clone)]
pub struct SummaryTable {
    /// The customer ids, byte for byte.
    pub ids: IdColumn,
    /// Line of each customer's row.
    pub lines: Vec<u64>,
    /// Each customer's summary (monetary 0 without a monetary_value column).
    pub summaries: Vec<Summary>,
    /// Whether the table has monetary values (else only BG/NBD can be fitted).
    pub has_monetary: bool,
    /// `(name, values)` for each of [`Behaviour::COLUMNS`], derived as the module says.
    pub columns: Vec<(String, Vec<f64>)>,
}

/// How a behavioural measure is derived from a summary.
type Measure = fn(&Summary) -> f64;

/// Reads the summary table at `header.path`.
pub fn read_summary(header: &Header, cols: &SummaryColumns) -> Result<SummaryTable, IngestError> {
    let mut records = Records::open(header)?;
    let mut record = csv::ByteRecord::new();
    let (mut bytes, mut offsets) = (Vec::new(), vec![0usize]);
    let mut lines = Vec::new();
    let mut summaries = Vec::new();
    while let Some(line) = records.next(&mut record)? {
        let number = |col: usize, expected: &'static str| -> Result<f64, IngestError> {
            let field = &record[col];
            parse_number(field)
                .filter(|v| v.is_finite() && !is_missing(field))
                .ok_or_else(|| bad(header, line, col, expected, field))
        };
        let x = number(cols.frequency, "a number of repeat purchase periods")?;
        if !(x >= 0.0 && x.fract() == 0.0) {
            return Err(bad(
                header,
                line,
                cols.frequency,
                "a whole number of repeat purchase periods, at least 0",
                &record[cols.frequency],
            ));
        }
        let t = number(cols.t, "a number of periods (T)")?;
        let t_x = number(cols.recency, "a number of periods (recency)")?;
        if !(t_x >= 0.0 && t_x <= t) || (x == 0.0 && t_x != 0.0) {
            return Err(bad(
                header,
                line,
                cols.recency,
                "a recency between 0 and the row's T, and 0 without a repeat purchase",
                &record[cols.recency],
            ));
        }
        let monetary = match cols.monetary_value {
            Some(c) => {
                let m = number(c, "a mean purchase value")?;
                if m < 0.0 {
                    return Err(bad(
                        header,
                        line,
                        c,
                        "a mean purchase value of at least 0",
                        &record[c],
                    ));
                }
                m
            }
            None => 0.0,
        };
        bytes.extend_from_slice(&record[cols.customer_id]);
        offsets.push(bytes.len());
        lines.push(line);
        summaries.push(Summary {
            frequency: x,
            recency: t_x,
            t,
            monetary,
        });
    }
    if summaries.is_empty() {
        return Err(IngestError::Empty {
            path: header.path.clone(),
        });
    }
    let has_monetary = cols.monetary_value.is_some();
    // Each measure, whether it needs monetary values, and how it is derived (missing
    // where it needs a repeat purchase and there is none).
    let derived: [(bool, Measure); 6] = [
        (false, |s| s.t - s.recency),
        (false, |s| s.frequency + 1.0),
        (true, |s| s.monetary * s.frequency),
        (true, |s| {
            if s.frequency > 0.0 {
                s.monetary
            } else {
                f64::NAN
            }
        }),
        (false, |s| s.t),
        (false, |s| {
            if s.frequency > 0.0 {
                s.recency / s.frequency
            } else {
                f64::NAN
            }
        }),
    ];
    let columns = Behaviour::COLUMNS
        .iter()
        .zip(derived)
        .filter(|(_, (monetary, _))| has_monetary || !monetary)
        .map(|(name, (_, f))| (name.to_string(), summaries.iter().map(f).collect()))
        .collect();
    Ok(SummaryTable {
        ids: IdColumn::Text {
            name: header.names[cols.customer_id].clone(),
            bytes,
            offsets,
        },
        lines,
        summaries,
        has_monetary,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn table(content: &str) -> (tempfile::NamedTempFile, Header) {
        let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        let h = strata_ingest::read_header(f.path(), None).unwrap();
        (f, h)
    }

    const COLS: SummaryColumns = SummaryColumns {
        customer_id: 0,
        frequency: 1,
        recency: 2,
        t: 3,
        monetary_value: Some(4),
    };

    #[test]
    fn reads_summaries_and_derives_the_behavioural_measures() {
        let (_f, h) = table("ID,x,t_x,T,zbar\n1,2,30.43,38.86,22.35\n2,0,0,38.86,0\n");
        let s = read_summary(&h, &COLS).unwrap();
        assert_eq!(s.summaries[0].frequency, 2.0);
        assert_eq!(s.summaries[1].t, 38.86);
        assert_eq!(s.lines, vec![2, 3]);
        let get = |n: &str| &s.columns.iter().find(|c| c.0 == n).unwrap().1;
        assert!((get("recency")[0] - 8.43).abs() < 1e-9);
        assert_eq!(get("frequency"), &vec![3.0, 1.0]);
        assert!((get("monetary")[0] - 44.7).abs() < 1e-9);
        assert!(get("avg_order_value")[1].is_nan(), "no repeat purchase");
        assert!((get("interpurchase_days")[0] - 15.215).abs() < 1e-9);
        // Without monetary values the spend measures are not made up.
        let (_f, h) = table("ID,x,t_x,T\n1,2,30.43,38.86\n");
        let s = read_summary(
            &h,
            &SummaryColumns {
                monetary_value: None,
                ..COLS
            },
        )
        .unwrap();
        assert!(!s.has_monetary);
        assert!(s.columns.iter().all(|c| c.0 != "monetary"));
    }

    #[test]
    fn impossible_rows_name_their_line_and_column() {
        for (content, want) in [
            (
                "ID,x,t_x,T,zbar\n1,1.5,3,9,2\n",
                "line 2, column 2 ('x'): expected a whole",
            ),
            (
                "ID,x,t_x,T,zbar\n1,1,3,9,2\n2,2,10,9,2\n",
                "line 3, column 3 ('t_x'): expected a recency between 0 and the row's T",
            ),
            (
                "ID,x,t_x,T,zbar\n1,0,3,9,0\n",
                "and 0 without a repeat purchase",
            ),
            (
                "ID,x,t_x,T,zbar\n1,1,3,9,-2\n",
                "column 5 ('zbar'): expected a mean purchase value of at least 0",
            ),
            (
                "ID,x,t_x,T,zbar\n1,1,3,,2\n",
                "column 4 ('T'): expected a number of periods",
            ),
        ] {
            let (_f, h) = table(content);
            let e = read_summary(&h, &COLS).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
