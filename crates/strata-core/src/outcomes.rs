//! The outcomes stage (`--outcome`, `--outcomes`, `--treatment`): outcome columns read for
//! the segmented customers, from the input or from a second table joined by id, typed as
//! rates or means, and evaluated by segment with `strata-outcomes`. They are reserved in the
//! input (no role may take them; see [`columns_in_input`]), so they never reach the plugin,
//! the features or the profiles. Their values never reach the log.

use std::collections::HashMap;
use std::path::Path;

use strata_ingest::{Header, IdColumn, IngestError, Records, is_missing, parse_number};
use strata_outcomes::{OutcomeReport, Values, parse_flag};
use tracing::info;

use crate::input::Customers;
use crate::{CoreError, FitSettings};

/// What an outcome column is reserved as.
const OUTCOME: &str = "an outcome column (evaluated by segment, never clustered)";
/// What the treatment column is reserved as.
const TREATMENT: &str = "the treatment column (evaluated by segment, never clustered)";

/// The outcome and treatment columns' positions in the input's header, to reserve them from
/// the strategy's roles; none when they come from `--outcomes FILE`. A name the header lacks
/// is an error listing the header.
pub(crate) fn columns_in_input(
    settings: &FitSettings,
    header: &Header,
) -> Result<Vec<(usize, &'static str)>, CoreError> {
    let o = settings.outcomes();
    if o.file.is_some() {
        return Ok(Vec::new());
    }
    let named = o
        .columns
        .iter()
        .map(|c| (c, OUTCOME))
        .chain(o.treatment.iter().map(|t| (t, TREATMENT)));
    named
        .map(|(name, what)| {
            let i = position(&settings.input().path, header, name)?;
            Ok((i, what))
        })
        .collect()
}

fn position(path: &Path, header: &Header, name: &str) -> Result<usize, CoreError> {
    header.position(name).ok_or_else(|| CoreError::Binding {
        path: path.to_owned(),
        message: format!(
            "no column named '{}' for --outcome or --treatment; the header has {}",
            crate::binding::shown(name),
            crate::binding::list_headers(header)
        ),
    })
}

/// One field as read: its line (or row) and text; `None` when missing.
type Field = Option<(u64, String)>;

/// Where the outcome and treatment columns were read from (for messages).
struct Raw {
    /// The file, by its header.
    header: Header,
    /// Header positions of the outcome columns, then the treatment column.
    positions: Vec<usize>,
    /// Customers the outcomes table has no row for (`--outcomes`).
    unmatched: usize,
}

/// Per position of [`Raw::positions`], each customer's field, in the customers' order.
type Columns = Vec<Vec<Field>>;

/// The outcome columns evaluated by segment, with the treatment arm per customer.
pub(crate) struct OutcomeData {
    columns: Vec<(String, Values)>,
    treatment: Option<(String, Vec<Option<bool>>)>,
}

/// Reads the outcome and treatment columns for `customers`; `None` without `--outcome`.
pub(crate) fn read(
    settings: &FitSettings,
    customers: &Customers,
) -> Result<Option<OutcomeData>, CoreError> {
    let o = settings.outcomes();
    if o.columns.is_empty() {
        return Ok(None);
    }
    let names: Vec<&String> = o.columns.iter().chain(&o.treatment).collect();
    let (raw, mut fields) = match &o.file {
        None => from_input(settings, customers, &names)?,
        Some(file) => from_file(file, customers, &names)?,
    };
    if raw.unmatched > 0 {
        info!(
            "outcomes: {} of {} customers have no row in {} (their outcomes are missing)",
            raw.unmatched,
            customers.n(),
            raw.header.path.display()
        );
    }
    let mut column = |j: usize| std::mem::take(&mut fields[j]);
    let mut columns = Vec::new();
    for (j, name) in o.columns.iter().enumerate() {
        columns.push((name.clone(), typed(&raw, j, column(j))?));
    }
    let treatment = match &o.treatment {
        Some(name) => {
            let j = o.columns.len();
            let arms = column(j)
                .into_iter()
                .map(|f| match f {
                    None => Ok(None),
                    Some((line, text)) => parse_flag(&text).map(Some).ok_or_else(|| {
                        bad(
                            &raw,
                            line,
                            j,
                            "treated or control (also 1/0, true/false, yes/no)",
                            &text,
                        )
                    }),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some((name.clone(), arms))
        }
        None => None,
    };
    Ok(Some(OutcomeData { columns, treatment }))
}

/// Every outcome's report over the segments `labels` (0..k).
pub(crate) fn reports(data: &OutcomeData, labels: &[u32], k: usize) -> Vec<OutcomeReport> {
    data.columns
        .iter()
        .map(|(name, values)| {
            strata_outcomes::report(
                name,
                values,
                labels,
                k,
                data.treatment
                    .as_ref()
                    .map(|(t, arms)| (t.as_str(), arms.as_slice())),
            )
        })
        .collect()
}

fn bad(raw: &Raw, line: u64, j: usize, expected: &'static str, text: &str) -> CoreError {
    let col = raw.positions[j];
    CoreError::Ingest(IngestError::BadValue {
        path: raw.header.path.clone(),
        word: raw.header.format.position_word(),
        line,
        column: col + 1,
        name: raw.header.names[col].clone(),
        expected,
        value: text.chars().take(80).collect(),
    })
}

/// A column binary when every value is a flag (1/0, true/false, yes/no), else numeric when
/// every value is a number; otherwise an error naming the first value that is neither.
fn typed(raw: &Raw, j: usize, fields: Vec<Field>) -> Result<Values, CoreError> {
    let outcome_flag = |t: &str| match t.trim().to_ascii_lowercase().as_str() {
        "treated" | "treatment" | "test" | "control" | "holdout" => None,
        _ => parse_flag(t),
    };
    if fields
        .iter()
        .flatten()
        .all(|(_, t)| outcome_flag(t).is_some())
    {
        return Ok(Values::Binary(
            fields
                .iter()
                .map(|f| f.as_ref().and_then(|(_, t)| outcome_flag(t)))
                .collect(),
        ));
    }
    fields
        .iter()
        .map(|f| match f {
            None => Ok(f64::NAN),
            Some((line, t)) => parse_number(t.as_bytes())
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    bad(
                        raw,
                        *line,
                        j,
                        "an outcome: 1/0, true/false or yes/no, or a number",
                        t,
                    )
                }),
        })
        .collect::<Result<Vec<f64>, _>>()
        .map(Values::Numeric)
}

fn field(record: &csv::ByteRecord, i: usize, line: u64) -> Field {
    let f = &record[i];
    (!is_missing(f)).then(|| (line, String::from_utf8_lossy(f).into_owned()))
}

/// The fields from the input itself, for the customers' lines (read again, in one pass).
fn from_input(
    settings: &FitSettings,
    customers: &Customers,
    names: &[&String],
) -> Result<(Raw, Columns), CoreError> {
    let header = strata_ingest::read_header(&settings.input().path, settings.input().delimiter)?;
    let positions = names
        .iter()
        .map(|n| position(&settings.input().path, &header, n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut records = Records::open(&header)?;
    let mut record = csv::ByteRecord::new();
    let mut columns: Columns = vec![Vec::with_capacity(customers.n()); positions.len()];
    let mut wanted = customers.lines.iter().peekable();
    while let Some(line) = records.next(&mut record)? {
        let Some(&&next) = wanted.peek() else { break };
        if line == next {
            for (c, &i) in columns.iter_mut().zip(&positions) {
                c.push(field(&record, i, line));
            }
            wanted.next();
        }
    }
    let raw = Raw {
        header,
        positions,
        unmatched: 0,
    };
    Ok((raw, columns))
}

/// The fields from `file`, one row per customer, joined on the input's id column's name.
fn from_file(
    file: &Path,
    customers: &Customers,
    names: &[&String],
) -> Result<(Raw, Columns), CoreError> {
    let header = strata_ingest::read_header(file, None)?;
    let id_name = match &customers.ids {
        IdColumn::Text { name, .. } => name.clone(),
        IdColumn::RowNumbers(_) => {
            return Err(CoreError::Settings(
                "--outcomes joins its rows to the customers by id: give the input an id column \
                 with --id-column"
                    .into(),
            ));
        }
    };
    let id = position(file, &header, &id_name)?;
    let positions = names
        .iter()
        .map(|n| position(file, &header, n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut by_id: HashMap<Vec<u8>, (u64, Vec<Field>)> = HashMap::new();
    let mut records = Records::open(&header)?;
    let mut record = csv::ByteRecord::new();
    while let Some(line) = records.next(&mut record)? {
        let key = record[id].to_vec();
        let fields = positions.iter().map(|&i| field(&record, i, line)).collect();
        if let Some((first, _)) = by_id.insert(key, (line, fields)) {
            return Err(CoreError::Data {
                path: file.to_owned(),
                message: format!(
                    "{} {line} repeats the id of {} {first} in column '{}': one row per customer",
                    header.format.position_word(),
                    header.format.position_word(),
                    id_name
                ),
            });
        }
    }
    let mut scratch = String::new();
    let mut unmatched = 0;
    let mut columns: Columns = vec![Vec::with_capacity(customers.n()); positions.len()];
    for i in 0..customers.n() {
        let row = by_id.get(customers.ids.get(i, &mut scratch));
        unmatched += usize::from(row.is_none());
        for (j, c) in columns.iter_mut().enumerate() {
            c.push(row.and_then(|(_, fields)| fields[j].clone()));
        }
    }
    let raw = Raw {
        header,
        positions,
        unmatched,
    };
    Ok((raw, columns))
}
