//! `export-sql`: a saved model as one SQL query that scores a table in the warehouse itself
//! (see [`crate::sql`]), for strategies that state their preprocessing as data (ABI 1.3).

use std::path::Path;

use strata_host::Registry;

use super::assign::check_plugin;
use crate::model::Model;
use crate::sql::{Dialect, ScoringQuery};
use crate::{CoreError, MissingPolicy, Mode, Source};

/// The query scoring `table` with the model at `model_path`, in `dialect`.
pub fn export_sql(
    model_path: &Path,
    dialect: Dialect,
    table: &str,
    registry: &Registry,
) -> Result<String, CoreError> {
    let model = Model::load(model_path)?;
    let err = |message: String| CoreError::Model {
        path: model_path.to_owned(),
        message,
    };
    if model.mode != Mode::Kmeans || model.input.source != Source::Customers {
        return Err(err(
            "only a k-means model of a customer table scores as SQL (RFM cuts and transaction \
             logs need the whole base or the log)"
                .into(),
        ));
    }
    if model.kprototypes.is_some() {
        return Err(err(
            "its segments were found by k-prototypes: the exported query scores k-means' \
             distance, and categorical codes have no SQL form yet; score with `strata assign`"
                .into(),
        ));
    }
    if model.pseudonyms.is_some() {
        return Err(err(
            "the fit pseudonymised its ids: a query returns the table's ids as they are, so it \
             is not exported"
                .into(),
        ));
    }
    let Some(id_column) = model.input.id_column.as_deref() else {
        return Err(err(
            "the model has no id column (--id-column at the fit): a query needs one to return \
             each customer's segment by"
                .into(),
        ));
    };
    if table.trim().is_empty() {
        return Err(CoreError::Settings("--table is empty".into()));
    }
    let plugin = registry.find(&model.strategy.name).map_err(|e| {
        err(format!(
            "fitted with strategy {} {}, which cannot be loaded: {e}",
            model.strategy.name, model.strategy.version
        ))
    })?;
    let info = plugin.info().clone();
    check_plugin(model_path, &model.strategy, &info)?;
    let declared = plugin
        .preprocessing(&model.state.to_string())?
        .ok_or_else(|| {
            err(format!(
                "strategy {} {} does not state its preprocessing as SQL-able expressions{}: its \
             features are computed in the plugin, so score with `strata assign` (or on Spark \
             with strata_spark.assign)",
                info.name,
                info.version,
                if info.abi < (1, 3) {
                    format!(
                        " (it speaks plugin ABI {}.{}; 1.3 added it)",
                        info.abi.0, info.abi.1
                    )
                } else {
                    String::new()
                }
            ))
        })?;
    if declared.features.len() != model.d {
        return Err(err(format!(
            "strategy {} states {} features for a model of {}",
            info.name,
            declared.features.len(),
            model.d
        )));
    }
    let bound: Vec<&str> = model
        .input
        .bindings
        .iter()
        .map(|b| b.column.as_str())
        .collect();
    if let Some(f) = declared
        .features
        .iter()
        .find(|f| !bound.contains(&f.column()))
    {
        return Err(err(format!(
            "strategy {} states a feature of column '{}', which the model does not bind",
            info.name,
            f.column()
        )));
    }
    let segments: Vec<u32> = match &model.centroid_segments {
        Some(map) => map.clone(),
        None => (0..model.centroids.len() as u32).collect(),
    };
    let required: Vec<String> = if model.input.missing == MissingPolicy::Drop {
        bound.iter().map(|c| (*c).to_owned()).collect()
    } else {
        Vec::new()
    };
    let header = format!(
        "strata export-sql: the segment of every row of {table}, as `strata assign` gives it\n\
         model: {} (strategy {} {}, k = {}, {} features), dialect: {}\n\
         NULL is a missing value; ids must be unique (the query ranks centroids per id)",
        model_path.display(),
        model.strategy.name,
        model.strategy.version,
        model.k,
        model.d,
        dialect.name()
    );
    Ok(ScoringQuery {
        table,
        id_column,
        features: &declared.features,
        centroids: &model.centroids,
        segments: &segments,
        labels: &model.labels,
        required: &required,
        unit_length: model.metric == strata_host::Metric::Cosine,
        header: &header,
    }
    .render(dialect))
}
