//! Row and column hygiene shared by every way of reading customers: columns set aside when
//! "every numeric column" met text, rows left out under `--missing drop`, and the errors for a
//! column with no value or a table with no complete row.

use std::path::Path;

use strata_ingest::{ColumnData, Table};
use tracing::info;

use crate::{Binding, CoreError};

pub(crate) fn data_error(path: &Path, message: String) -> CoreError {
    CoreError::Data {
        path: path.to_owned(),
        message,
    }
}

/// Numbers a candidate column needs before a few text cells in it (one, or at most 1% of its
/// values) are taken for mistakes rather than for a text column.
const MOSTLY_NUMERIC_MIN: u64 = 20;

/// Leaves out the "every numeric column" candidates that held text, from the table and the
/// bindings; returns their names. An error when no column is left.
pub(crate) fn set_aside_text_columns(
    path: &Path,
    table: &mut Table,
    bindings: &mut Vec<Binding>,
) -> Result<Vec<String>, CoreError> {
    // A column of numbers with a stray cell (a typo, a NUL, a value pasted in) is an error
    // at that cell, not a text column to leave out in silence.
    for c in &table.columns {
        if let ColumnData::NotNumeric {
            first_text_line,
            numbers,
            texts,
        } = c.data
            && numbers >= MOSTLY_NUMERIC_MIN
            && (texts == 1 || texts.saturating_mul(100) <= numbers)
        {
            return Err(data_error(
                path,
                format!(
                    "line {first_text_line}, column '{}': not a number, in a column of \
                         {numbers} numbers and {texts} other value{}; fix or empty the \
                         cell{}, or bind the columns to cluster with --map",
                    crate::binding::shown(&c.name),
                    if texts == 1 { "" } else { "s" },
                    if texts == 1 { "" } else { "s" },
                ),
            ));
        }
    }
    let keep_col: Vec<bool> = table
        .columns
        .iter()
        .map(|c| !matches!(c.data, ColumnData::NotNumeric { .. }))
        .collect();
    let skipped: Vec<String> = table
        .columns
        .iter()
        .zip(&keep_col)
        .filter(|(_, k)| !**k)
        .map(|(c, _)| c.name.clone())
        .collect();
    if skipped.is_empty() {
        return Ok(skipped);
    }
    info!("left out non-numeric columns: {}", skipped.join(", "));
    let mut it = keep_col.iter();
    bindings.retain(|_| *it.next().expect("one flag per binding"));
    let mut it = keep_col.iter();
    table
        .columns
        .retain(|_| *it.next().expect("one flag per column"));
    if bindings.is_empty() {
        return Err(data_error(
            path,
            format!(
                "no numeric column to cluster (non-numeric: {}); bind columns with --map",
                skipped.join(", ")
            ),
        ));
    }
    Ok(skipped)
}

/// An error naming the first bound categorical column with more than `limit` distinct values:
/// each would become a feature (a one-hot indicator), and the matrix would not fit.
pub(crate) fn check_categories(
    path: &Path,
    table: &Table,
    bindings: &[Binding],
    limit: usize,
) -> Result<(), CoreError> {
    for (c, b) in table.columns.iter().zip(bindings) {
        if let ColumnData::Categorical { dict, .. } = &c.data
            && dict.len() > limit
        {
            return Err(data_error(
                path,
                format!(
                    "column '{}' (role {}) has {} distinct values, more than \
                         --max-categories {limit}: each would become a feature of every \
                         customer; group its values (for example postal codes into regions), \
                         leave it unbound, or raise --max-categories",
                    crate::binding::shown(&b.column),
                    b.role,
                    dict.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Says that `missing` of a column's `rows` values are imputed, and warns when that is most of
/// them: the imputed value then decides where those customers go more than their data does.
pub(crate) fn report_imputed(column: &str, missing: usize, rows: usize) {
    if missing == 0 {
        return;
    }
    if missing * 2 > rows {
        tracing::warn!(
            "column '{}' is {:.1}% missing ({missing} of {rows} values imputed): the imputed \
             value, not the data, places those customers; consider leaving it out (--map) or \
             --missing drop",
            crate::binding::shown(column),
            100.0 * missing as f64 / rows as f64
        );
    } else {
        info!(
            "imputed {missing} missing values in '{}'",
            crate::binding::shown(column)
        );
    }
}

/// Rows of `table` with every bound value, or `None` when that is all of them.
pub(crate) fn complete_rows(table: &Table) -> Option<Vec<bool>> {
    let keep: Vec<bool> = (0..table.n_rows)
        .map(|i| table.columns.iter().all(|c| !c.data.is_missing(i)))
        .collect();
    keep.contains(&false).then_some(keep)
}

/// `--missing drop`: the table without its rows that miss a bound value, and how many went.
pub(crate) fn drop_incomplete(table: Table) -> (Table, usize) {
    match complete_rows(&table) {
        None => (table, 0),
        Some(keep) => keep_rows(&table, &keep),
    }
}

/// The rows of `table` where `keep` is true, and how many were left out.
pub(crate) fn keep_rows(table: &Table, keep: &[bool]) -> (Table, usize) {
    let dropped = keep.iter().filter(|k| !**k).count();
    let table = Table {
        n_rows: table.n_rows - dropped,
        ids: table.ids.filter(keep),
        columns: table
            .columns
            .iter()
            .map(|c| strata_ingest::Column {
                data: c.data.filter(keep),
                ..c.clone()
            })
            .collect(),
        lines: table
            .lines
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(l, _)| *l)
            .collect(),
    };
    (table, dropped)
}

/// The error for a bound column with no value at all.
pub(crate) fn no_values_error(path: &Path, b: &Binding) -> CoreError {
    data_error(
        path,
        format!(
            "column '{}' (role {}) has no values: every row is missing",
            b.column, b.role
        ),
    )
}

/// The error for `--missing drop` leaving nothing.
pub(crate) fn all_dropped_error(path: &Path) -> CoreError {
    data_error(
        path,
        "every row has a missing value in a bound column; nothing is left to segment \
         (try --missing impute)"
            .into(),
    )
}
