//! The features stage: the strategy plugin learns its preprocessing from rows ([`Features::learn`])
//! or has it from a saved model ([`Features::saved`]), then turns any batch of rows into
//! feature vectors ([`Features::transform`]), unit-normalised when the strategy's metric is
//! cosine. Every command gets its features here, so a fit, its streamed form and scoring turn
//! the same rows into the same numbers.

use rayon::prelude::*;
use strata_host::declared::CategoricalFeature;
use strata_host::{Batch, BatchColumn, BatchValues, ColumnKind, Metric, Plugin};
use strata_ingest::{ColumnData, ParseAs, Table};
use tracing::info;

use crate::{Binding, CoreError};

/// Rows per plugin `transform` call: large enough to amortise the call, small enough to spread
/// over threads.
const TRANSFORM_ROWS: usize = 16_384;

/// How ingest parses a bound column.
pub(crate) fn parse_as(b: &Binding) -> ParseAs {
    match b.kind {
        ColumnKind::Numeric if b.auto => ParseAs::AutoNumeric,
        ColumnKind::Numeric => ParseAs::Numeric,
        ColumnKind::Date => ParseAs::Date,
        ColumnKind::Categorical | ColumnKind::Id => ParseAs::Text,
    }
}

/// The table's columns (one per binding, in order) as the plugin sees them.
fn batch<'a>(bindings: &'a [Binding], table: &'a Table) -> Batch<'a> {
    let columns = bindings
        .iter()
        .zip(&table.columns)
        .map(|(b, c)| BatchColumn {
            role: &b.role,
            name: &b.column,
            kind: b.kind,
            values: match &c.data {
                ColumnData::Numeric(v) => BatchValues::Numeric(v),
                ColumnData::Categorical { codes, dict } => BatchValues::Categorical { codes, dict },
                ColumnData::NotNumeric { .. } => unreachable!("set aside before building a batch"),
            },
        })
        .collect();
    Batch {
        n_rows: table.n_rows,
        columns,
    }
}

/// A strategy's fitted preprocessing: what turns rows into feature vectors.
pub(crate) struct Features<'p> {
    plugin: &'p Plugin,
    names: Vec<String>,
    /// The plugin's state (JSON), as `fit` returned it or the model saved it.
    state: String,
    cosine: bool,
    /// The features that hold categorical codes (ABI 1.4; empty unless the plugin was asked
    /// for codes), each value checked after every `transform`.
    categorical: Vec<CategoricalFeature>,
}

/// The features for the log without the data's values: one-hot indicators (`column=value`)
/// counted per column, and at most 40 names.
fn feature_summary(names: &[String]) -> String {
    let mut parts: Vec<(String, usize)> = Vec::new();
    for n in names {
        match n.split_once('=') {
            Some((col, _)) => match parts.last_mut() {
                Some((c, k)) if *k > 0 && c == col => *k += 1,
                _ => parts.push((col.to_owned(), 1)),
            },
            None => parts.push((n.clone(), 0)),
        }
    }
    let shown: Vec<String> = parts
        .iter()
        .take(40)
        .map(|(c, k)| match k {
            0 => crate::binding::shown(c),
            k => format!("{} ({k} categories)", crate::binding::shown(c)),
        })
        .collect();
    let more = parts.len().saturating_sub(40);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

impl<'p> Features<'p> {
    /// The plugin learns its preprocessing from `table` with the fit's `options`.
    pub fn learn(
        plugin: &'p Plugin,
        bindings: &[Binding],
        table: &Table,
        options: &serde_json::Value,
    ) -> Result<Features<'p>, CoreError> {
        let fitted = plugin.fit(&batch(bindings, table), &options.to_string())?;
        info!(
            "{} features: {}",
            fitted.features.len(),
            feature_summary(&fitted.features)
        );
        let categorical = plugin.categorical(&fitted.state, fitted.features.len())?;
        Ok(Features {
            plugin,
            names: fitted.features,
            state: fitted.state,
            cosine: plugin.info().metric == Metric::Cosine,
            categorical,
        })
    }

    /// The preprocessing a saved model holds.
    pub fn saved(
        plugin: &'p Plugin,
        names: Vec<String>,
        state: String,
        metric: Metric,
    ) -> Result<Features<'p>, CoreError> {
        let categorical = plugin.categorical(&state, names.len())?;
        Ok(Features {
            plugin,
            names,
            state,
            cosine: metric == Metric::Cosine,
            categorical,
        })
    }

    /// The features that hold categorical codes (ABI 1.4).
    pub fn categorical(&self) -> &[CategoricalFeature] {
        &self.categorical
    }

    /// Features per row.
    pub fn d(&self) -> usize {
        self.names.len()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The feature names and the plugin's state.
    pub fn into_parts(self) -> (Vec<String>, String) {
        (self.names, self.state)
    }

    /// The features of every row of `table` (columns bound by `bindings`), row-major.
    pub fn transform(&self, bindings: &[Binding], table: &Table) -> Result<Vec<f32>, CoreError> {
        let d = self.d();
        let mut matrix = transform_all(self.plugin, &self.state, &batch(bindings, table), d)
            .map_err(|e| match e {
                // Where the row is in the file, and what the feature is called.
                e @ strata_host::HostError::NonFinite { feature, row, .. } => {
                    CoreError::NonFiniteFeature {
                        line: table.lines.get(row).copied().unwrap_or(0),
                        feature: self.names.get(feature).cloned().unwrap_or_default(),
                        error: e,
                    }
                }
                other => CoreError::from(other),
            })?;
        if let Some((row, f, value)) =
            strata_host::declared::bad_code(&matrix, d, &self.categorical)
        {
            return Err(CoreError::BadCategoryCode {
                strategy: self.plugin.info().name.clone(),
                line: table.lines.get(row).copied().unwrap_or(0),
                feature: self.names.get(f).cloned().unwrap_or_default(),
                value,
                levels: self
                    .categorical
                    .iter()
                    .find(|c| c.index == f)
                    .map_or(0, |c| c.levels.len()),
            });
        }
        if self.cosine {
            normalise_rows(&mut matrix, d);
        }
        Ok(matrix)
    }
}

/// Runs the plugin's `transform` over all rows, in parallel chunks, into a row-major matrix.
fn transform_all(
    plugin: &Plugin,
    state: &str,
    batch: &Batch<'_>,
    d: usize,
) -> Result<Vec<f32>, strata_host::HostError> {
    let n = batch.n_rows;
    let mut matrix = vec![0f32; n * d];
    let results: Vec<Result<(), strata_host::HostError>> = matrix
        .par_chunks_mut(TRANSFORM_ROWS * d)
        .enumerate()
        .map(|(c, out)| {
            let start = c * TRANSFORM_ROWS;
            let end = start + out.len() / d;
            plugin.transform(state, &batch.rows(start, end), d, out, start)
        })
        .collect();
    results.into_iter().collect::<Result<(), _>>()?;
    Ok(matrix)
}

/// Scales each row to unit length (rows of zeros stay zero), for cosine distance.
fn normalise_rows(matrix: &mut [f32], d: usize) {
    matrix
        .par_chunks_mut(d)
        .for_each(strata_abi::unit_normalise);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_rows_become_unit_length() {
        let mut m = vec![3.0, 4.0, 0.0, 0.0];
        normalise_rows(&mut m, 2);
        assert_eq!(m, vec![0.6, 0.8, 0.0, 0.0]);
    }
}
