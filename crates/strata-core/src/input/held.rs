//! A fit's input held whole: a customer table read at once, or a transaction log aggregated
//! per customer; text columns set aside, missing values counted and handled.

use std::collections::BTreeMap;

use strata_behavior::{Behaviour, TxOptions, TxReport};
use strata_host::PluginInfo;
use strata_ingest::{Column, ColumnData, Format, Header, Table};
use tracing::info;

use super::customers::{Customers, ReadAs, customer_plan};
use super::rows::{
    all_dropped_error, check_categories, complete_rows, data_error, keep_rows, no_values_error,
    report_imputed, set_aside_text_columns,
};
use crate::predict::ValueInput;
use crate::progress::Progress;
use crate::settings::Source;
use crate::{
    Binding, CoreError, FitSettings, MissingPolicy, resolve_bindings, resolve_transaction_columns,
};

/// A customer table held whole: read from a customer file, or aggregated from a transaction
/// log; text columns set aside, missing values counted and handled.
pub(crate) struct Held {
    pub table: Table,
    pub bindings: Vec<Binding>,
    format: Format,
    ids_integer: bool,
    rows: usize,
    rows_dropped: usize,
    missing: BTreeMap<String, usize>,
    skipped_columns: Vec<String>,
    transactions: Option<TxReport>,
    /// Each customer's purchase summary, with `--value-model`.
    value: Option<ValueInput>,
}

impl Held {
    /// Reads the input, binds roles, sets aside text columns, counts and handles missing
    /// values.
    pub fn load(
        settings: &FitSettings,
        info: &PluginInfo,
        progress: &dyn Progress,
    ) -> Result<Held, CoreError> {
        let path = settings.input().path.as_path();
        let header = strata_ingest::read_header(path, settings.input().delimiter)?;
        let mut value = None;
        let (mut table, mut bindings, transactions, ids_integer) = match settings.input().source {
            Source::Transactions | Source::Summary => {
                let log = if settings.input().source == Source::Summary {
                    load_summary(settings, info, &header)?
                } else {
                    load_transactions(settings, info, &header)?
                };
                value = log.value;
                (log.table, log.bindings, log.report, log.ids_integer)
            }
            Source::Customers => {
                let (bindings, plan) = customer_plan(settings, info, &header)?;
                let total = header.bytes;
                let table = strata_ingest::read_table_with_progress(&header, &plan, &mut |done| {
                    progress.bytes(done, total)
                })
                .map_err(|e| crate::privacy::withhold(e, info, &bindings))?;
                info!(
                    "read {} rows from {}",
                    table.n_rows,
                    settings.input().name()
                );
                let ids_integer = header.integer_ids(plan.id_column);
                (table, bindings, None, ids_integer)
            }
        };
        for b in &bindings {
            info!(
                "role {} ← column '{}' ({})",
                b.role,
                b.column,
                b.kind.name()
            );
        }
        let rows = table.n_rows;

        let skipped_columns = set_aside_text_columns(path, &mut table, &mut bindings)?;
        check_categories(path, &table, &bindings, settings.input().max_categories)?;

        let mut missing = BTreeMap::new();
        for (b, c) in bindings.iter().zip(&table.columns) {
            let m = c.data.missing();
            if m == rows {
                return Err(no_values_error(path, b));
            }
            missing.insert(b.column.clone(), m);
        }
        let mut rows_dropped = 0;
        if missing.values().any(|&m| m > 0) {
            match settings.input().missing {
                MissingPolicy::Impute => {
                    for (col, &m) in &missing {
                        report_imputed(col, m, rows);
                    }
                }
                MissingPolicy::Drop => {
                    // The same rows leave the value model's summaries.
                    if let Some(keep) = complete_rows(&table) {
                        value = value.map(|v| v.filter(&keep));
                        (table, rows_dropped) = keep_rows(&table, &keep);
                    }
                    info!("dropped {rows_dropped} rows with a missing value (--missing drop)");
                    if table.n_rows == 0 {
                        return Err(all_dropped_error(path));
                    }
                }
            }
        }
        Ok(Held {
            table,
            bindings,
            format: header.format,
            ids_integer,
            rows,
            rows_dropped,
            missing,
            skipped_columns,
            transactions,
            value,
        })
    }

    /// The customers, and the bound columns kept for their profiles.
    pub fn into_customers(self) -> (Customers, Vec<Column>) {
        let Table {
            ids,
            columns,
            lines,
            ..
        } = self.table;
        let customers = Customers {
            ids,
            lines,
            bindings: self.bindings,
            format: self.format,
            ids_integer: self.ids_integer,
            rows: self.rows,
            rows_dropped: self.rows_dropped,
            missing: self.missing,
            skipped_columns: self.skipped_columns,
            read_as: match self.transactions {
                Some(r) => ReadAs::Log(r),
                None => ReadAs::Table,
            },
            value: self.value,
        };
        (customers, columns)
    }
}

/// A transaction log aggregated per customer, as [`Held`] takes it.
struct DerivedInput {
    table: Table,
    bindings: Vec<Binding>,
    /// What aggregating a transaction log did (`None` for a summary table).
    report: Option<TxReport>,
    ids_integer: bool,
    value: Option<ValueInput>,
}

/// Reads a transaction log, aggregates it per customer and binds the strategy's roles to the
/// aggregated columns by name; with `--value-model`, summarises each customer's purchases
/// for it too.
fn load_transactions(
    settings: &FitSettings,
    info: &PluginInfo,
    header: &Header,
) -> Result<DerivedInput, CoreError> {
    let path = settings.input().path.as_path();
    let cols = resolve_transaction_columns(path, header, &settings.input().maps)?;
    // A columnar log's integer customer ids go out as integers (see `Customers::ids_integer`).
    let ids_integer = header.holds_integers(cols.customer_id);
    let opts = TxOptions {
        date_format: settings.input().date_format,
        as_of: settings.input().as_of,
        keep_days: settings.value().is_some(),
    };
    let b =
        strata_behavior::transactions::aggregate(header, &cols, &opts).map_err(|e| match e {
            strata_behavior::TxError::Ingest(e) => CoreError::Ingest(e),
            other => data_error(
                path,
                other
                    .to_string()
                    .replacen(&format!("{}: ", path.display()), "", 1),
            ),
        })?;
    let r = &b.report;
    info!(
        "transactions: {} rows; {} without a customer id skipped; {} returns or cancellations netted; \
         {} after --as-of left out; {} customers ({} with no purchase left out); dates read as {}",
        r.rows,
        r.rows_without_customer,
        r.return_rows,
        r.rows_after_as_of,
        r.customers,
        r.customers_without_purchases,
        r.date_format
    );
    let Behaviour {
        ids,
        columns,
        lines,
        report,
        days,
    } = b;
    let value = settings.value().map(|v| {
        // The as-of day is the first day left out; the summary's observation end is the day
        // before, inclusive, as `lifetimes` takes it.
        let observed_until = report.as_of as i64 - 1;
        let summaries = strata_value::summarise(&days, lines.len(), v.period, observed_until)
            .into_iter()
            .map(|s| s.expect("every customer kept has a purchase before the as-of day"))
            .collect();
        ValueInput {
            summaries,
            observed_until: Some(observed_until),
            has_monetary: true,
        }
    });
    drop(days);
    let (table, bindings) = derived_table(path, info, header, ids, columns, lines)?;
    Ok(DerivedInput {
        table,
        bindings,
        report: Some(report),
        ids_integer,
        value,
    })
}

/// A customer table of measures derived here (a log's aggregates, a summary's), with the
/// strategy's roles bound to them by name.
fn derived_table(
    path: &std::path::Path,
    info: &PluginInfo,
    header: &Header,
    ids: strata_ingest::IdColumn,
    columns: Vec<(String, Vec<f64>)>,
    lines: Vec<u64>,
) -> Result<(Table, Vec<Binding>), CoreError> {
    let names: Vec<String> = columns.iter().map(|c| c.0.clone()).collect();
    let synthetic = Header {
        path: path.to_owned(),
        format: header.format,
        types: vec![strata_ingest::SchemaType::Untyped; names.len()],
        names,
        bytes: header.bytes,
    };
    let mut bindings = resolve_bindings(
        path,
        info,
        &synthetic,
        &[],
        &crate::binding::Reserved::default(),
    )?;
    // A measure no customer has (mean time between purchases when everyone bought once) is
    // left out rather than failing the run: it was derived here, not bound by the user.
    bindings.retain(|bd| {
        let has_values = columns[bd.index].1.iter().any(|x| !x.is_nan());
        if !has_values {
            info!("left out {}: no customer has a value", bd.column);
        }
        has_values
    });
    let mut columns: Vec<Option<Vec<f64>>> = columns.into_iter().map(|c| Some(c.1)).collect();
    let table = Table {
        n_rows: lines.len(),
        ids,
        columns: bindings
            .iter()
            .map(|bd| strata_ingest::Column {
                index: bd.index,
                name: bd.column.clone(),
                data: ColumnData::Numeric(columns[bd.index].take().unwrap_or_default()),
            })
            .collect(),
        lines,
    };
    Ok((table, bindings))
}

/// Reads a per-customer value summary (`--summary`) and binds the strategy's roles to the
/// behavioural measures derived from it; the summaries go to the value model as they are.
fn load_summary(
    settings: &FitSettings,
    info: &PluginInfo,
    header: &Header,
) -> Result<DerivedInput, CoreError> {
    let path = settings.input().path.as_path();
    let cols = crate::binding::resolve_summary_columns(path, header, &settings.input().maps)?;
    let ids_integer = header.holds_integers(cols.customer_id);
    let s = strata_behavior::summary::read_summary(header, &cols)?;
    info!(
        "summary: {} customers, {} with a repeat purchase{}",
        s.summaries.len(),
        s.summaries.iter().filter(|c| c.frequency > 0.0).count(),
        if s.has_monetary {
            ""
        } else {
            "; no monetary_value column, so BG/NBD alone (no expected value or CLV)"
        }
    );
    let value = Some(ValueInput {
        summaries: s.summaries,
        observed_until: None,
        has_monetary: s.has_monetary,
    });
    let (table, bindings) = derived_table(path, info, header, s.ids, s.columns, s.lines)?;
    Ok(DerivedInput {
        table,
        bindings,
        report: None,
        ids_integer,
        value,
    })
}
