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

/// Leaves out the "every numeric column" candidates that held text, from the table and the
/// bindings; returns their names. An error when no column is left.
pub(crate) fn set_aside_text_columns(
    path: &Path,
    table: &mut Table,
    bindings: &mut Vec<Binding>,
) -> Result<Vec<String>, CoreError> {
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
        if let ColumnData::Categorical { dict, .. } = &c.data {
            if dict.len() > limit {
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
    }
    Ok(())
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
