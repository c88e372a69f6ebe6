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
    /// The file line each customer starts on.
    pub lines: Vec<u64>,
    pub bindings: Vec<Binding>,
    pub delimiter: u8,
    /// Customers in the input (after aggregation, for a transaction log), before any was
    /// left out.
    pub rows: usize,
    pub rows_dropped: usize,
    /// Missing values per bound column.
    pub missing: BTreeMap<String, usize>,
    /// Columns "every numeric column" considered that held text.
    pub skipped_columns: Vec<String>,
    pub read_as: ReadAs,
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

/// Most columns a fit may bind: the plugin ABI's limit on features (each column is one or more).
const MAX_BOUND_COLUMNS: usize = 1 << 16;

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
    let bindings = resolve_bindings(path, info, header, &settings.input().maps, id_index)?;
    // Checked before any row is read: every bound column is at least one feature.
    if bindings.len() > MAX_BOUND_COLUMNS {
        return Err(CoreError::Binding {
            path: path.to_owned(),
            message: format!(
                "{} columns are bound, and a strategy takes at most {MAX_BOUND_COLUMNS} features; \
                 bind fewer with --map",
                bindings.len()
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
