//! What the input stage hands on: the customers a run segments (ids, lines, counts), how
//! they were read, the binding of roles to a customer table's columns, and the columns that
//! go into profiles (personal roles left out, here and nowhere else).

use std::collections::BTreeMap;

use strata_behavior::TxReport;
use strata_host::PluginInfo;
use strata_ingest::{Column, ColumnData, Header, IdColumn, ReadPlan};

use crate::features::parse_as;
use crate::output::StreamReport;
use crate::{Binding, CoreError, FitSettings, resolve_bindings};

/// How the customers were read.
#[derive(Debug, Clone)]
pub(crate) enum ReadAs {
    /// A customer table, held whole.
    Table,
    /// A transaction log aggregated per customer (`--transactions`), held whole.
    Log(TxReport),
    /// A customer table streamed (`--stream`).
    Stream(StreamReport),
}

/// The customers a run segments, in input order, and what reading them found.
pub(crate) struct Customers {
    pub ids: IdColumn,
    /// Where each customer is in the input: its line in a CSV file, its row in a columnar one.
    pub lines: Vec<u64>,
    pub bindings: Vec<Binding>,
    /// How the input was stored (recorded in the model).
    pub format: strata_ingest::Format,
    /// Whether the ids are integers by the input's schema, or row numbers (see
    /// [`crate::assignments::Shape`]).
    pub ids_integer: bool,
    /// Customers in the input (after aggregation, for a transaction log), before any was
    /// left out.
    pub rows: usize,
    pub rows_dropped: usize,
    /// Missing values per bound column.
    pub missing: BTreeMap<String, usize>,
    /// Columns "every numeric column" considered that held text.
    pub skipped_columns: Vec<String>,
    pub read_as: ReadAs,
    /// Each customer's purchase summary for the value model (`--value-model`).
    pub value: Option<crate::predict::ValueInput>,
}

impl Customers {
    /// Customers segmented.
    pub fn n(&self) -> usize {
        self.lines.len()
    }

    pub fn transactions(&self) -> Option<&TxReport> {
        match &self.read_as {
            ReadAs::Log(r) => Some(r),
            _ => None,
        }
    }

    pub fn streamed(&self) -> Option<&StreamReport> {
        match &self.read_as {
            ReadAs::Stream(r) => Some(r),
            _ => None,
        }
    }
}

/// The columns that go into profiles: every bound column but those of a role the strategy
/// marks as personal.
pub(crate) fn profiled_columns<'a>(
    info: &PluginInfo,
    bindings: &'a [Binding],
    columns: &'a [Column],
) -> Vec<(&'a Binding, &'a ColumnData)> {
    bindings
        .iter()
        .zip(columns.iter().map(|c| &c.data))
        .filter(|(b, _)| !crate::binding::is_personal(info, &b.role))
        .collect()
}

/// Warns when most of the header's names are numbers: the first line is then probably data,
/// and Strata reads it as the names of the columns.
pub(crate) fn warn_if_headerless(path: &std::path::Path, header: &Header) {
    let numbers = header
        .names
        .iter()
        .filter(|n| n.trim().parse::<f64>().is_ok())
        .count();
    if header.names.len() >= 2 && numbers * 2 > header.names.len() {
        tracing::warn!(
            "{} of the {} names in the header of {} are numbers ({}): is the first line data? \
             Strata reads it as the column names; add a header line",
            numbers,
            header.names.len(),
            path.display(),
            crate::binding::list_headers(header)
        );
    }
}

/// Binds the strategy's roles to the header of a customer table and plans what to read.
pub(crate) fn customer_plan(
    settings: &FitSettings,
    info: &PluginInfo,
    header: &Header,
) -> Result<(Vec<Binding>, ReadPlan), CoreError> {
    let path = settings.input().path.as_path();
    let id_index = match &settings.input().id_column {
        None => None,
        Some(name) => Some(header.position(name).ok_or_else(|| CoreError::Binding {
            path: path.to_owned(),
            message: format!(
                "--id-column '{}' is not in the header; the header has {}",
                crate::binding::shown(name),
                crate::binding::list_headers(header)
            ),
        })?),
    };
    warn_if_headerless(path, header);
    let mut reserved = crate::binding::Reserved::id(id_index);
    for (index, what) in crate::outcomes::columns_in_input(settings, header)? {
        reserved = reserved.with(index, what);
    }
    let bindings = resolve_bindings(path, info, header, &settings.input().maps, &reserved)?;
    // A column is bound and read by its name: a name the header gives twice (or not at all)
    // is ambiguous, for the id column and for every bound one.
    let columns_named = |name: &str| -> Vec<usize> {
        header
            .names
            .iter()
            .enumerate()
            .filter(|(_, n)| *n == name)
            .map(|(i, _)| i + 1)
            .collect()
    };
    let mut named: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for n in &header.names {
        *named.entry(n.as_str()).or_default() += 1;
    }
    let ambiguous = id_index
        .map(|i| header.names[i].as_str())
        .into_iter()
        .chain(bindings.iter().map(|b| b.column.as_str()))
        .find(|n| n.is_empty() || named.get(n).is_some_and(|&c| c > 1));
    if let Some(name) = ambiguous {
        let at = columns_named(name);
        let listed = at
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" and ");
        return Err(CoreError::Binding {
            path: path.to_owned(),
            message: if name.is_empty() {
                format!(
                    "column {listed} of the header has no name, and is bound; name it in the \
                     header, or leave it out with --map"
                )
            } else {
                format!(
                    "the header names columns {listed} '{}': a column is bound by its name, so \
                     rename one of them",
                    crate::binding::shown(name)
                )
            },
        });
    }
    // Checked before any row is read: every bound column is at least one feature, and the
    // ABI limits a strategy's features.
    if bindings.len() > strata_abi::MAX_FEATURES {
        return Err(CoreError::Binding {
            path: path.to_owned(),
            message: format!(
                "{} columns are bound, and a strategy takes at most {} features; bind fewer with \
                 --map",
                bindings.len(),
                strata_abi::MAX_FEATURES
            ),
        });
    }
    let plan = ReadPlan {
        id_column: id_index,
        allow_duplicate_ids: settings.input().allow_duplicate_ids,
        columns: bindings.iter().map(|b| (b.index, parse_as(b))).collect(),
    };
    Ok((bindings, plan))
}
