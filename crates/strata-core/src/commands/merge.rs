//! `merge`: the `partial.json` tallies of many `assign` runs of one model (shards scored on
//! many machines, Spark partitions) → the run's `segments.json`, `report.html` and the merged
//! `partial.json`.
//!
//! Every sum in a tally is exact, so the files are those one `assign` over all the parts'
//! rows writes (bar the input's name and the timings); the merged `partial.json` merges again,
//! so parts can be reduced as a tree. Reads no customer and loads no plugin: the parts carry
//! what the description needs.

use std::path::{Path, PathBuf};

use tracing::info;

use super::assign::scored_outputs;
use crate::CoreError;
use crate::describe::SegmentSummary;
use crate::model::Model;
use crate::output::{open_run, write_json};
use crate::tally::{PARTIAL_FILE, Partial, Tally, merge_input, model_fingerprint};

/// A validated merge. Build it with [`MergeSettings::new`].
#[derive(Debug, Clone)]
pub struct MergeSettings {
    /// The model every part was scored with.
    pub model: PathBuf,
    /// `partial.json` files, or `assign` run folders holding one, in the order given.
    pub parts: Vec<PathBuf>,
    /// The folder the merged run goes to.
    pub out: PathBuf,
    /// What to call the input in `segments.json`; `None`: the parts' input when they all
    /// name the same, else "N parts".
    pub input_name: Option<String>,
    /// Write into a folder that holds a fit's results (`--force`), replacing its
    /// segments.json and report.html (and removing its assignments, which are not the merged
    /// customers'); without it such an `--out` is refused.
    pub force: bool,
}

impl MergeSettings {
    /// Checks the settings: at least one part, and `out` not a file.
    pub fn new(
        model: impl Into<PathBuf>,
        parts: Vec<PathBuf>,
        out: impl Into<PathBuf>,
        input_name: Option<String>,
    ) -> Result<MergeSettings, CoreError> {
        let out = out.into();
        if parts.is_empty() {
            return Err(CoreError::Settings(
                "give at least one part to merge (a partial.json, or an assign run's folder)"
                    .into(),
            ));
        }
        if out.exists() && !out.is_dir() {
            return Err(CoreError::Settings(format!(
                "--out {} is a file, not a folder; give a folder",
                out.display()
            )));
        }
        Ok(MergeSettings {
            model: model.into(),
            parts,
            out,
            input_name,
            force: false,
        })
    }
}

/// What merging did, for the caller to print.
#[derive(Debug, Clone)]
pub struct MergeReport {
    /// Parts merged.
    pub parts: usize,
    /// The strategy that scored them.
    pub strategy: String,
    /// Customers in all the parts' inputs.
    pub rows: usize,
    /// Customers scored.
    pub rows_used: usize,
    /// The model's segments.
    pub k: usize,
    /// The segments over every part, largest of the model's first.
    pub segments: Vec<SegmentSummary>,
    /// The value measure segments' value shares are of (when the strategy has one).
    pub value_measure: Option<crate::ValueMeasure>,
    /// The files written.
    pub written: Vec<PathBuf>,
}

/// Reads one part: a `partial.json`, or the one in an `assign` run's folder (checked against
/// the folder's manifest).
fn read_part(path: &Path) -> Result<(PathBuf, Partial), CoreError> {
    let file = if path.is_dir() {
        path.join(PARTIAL_FILE)
    } else {
        path.to_owned()
    };
    let err = |message: String| CoreError::Data {
        path: file.clone(),
        message,
    };
    let bytes = strata_format::commit::read_checked(&file).map_err(|e| match e {
        strata_format::commit::ReadCheckedError::Io { error, .. } => err(format!(
            "cannot read: {error}{}",
            if path.is_dir() {
                " (a folder to merge must hold an assign run's partial.json)"
            } else {
                ""
            }
        )),
        strata_format::commit::ReadCheckedError::Manifest(m) => m.into(),
    })?;
    let part: Partial = serde_json::from_slice(&bytes)
        .map_err(|e| err(format!("not a Strata partial tally: {e}")))?;
    Ok((file, part))
}

/// Merges the parts' tallies and writes the run.
pub fn merge(settings: &MergeSettings) -> Result<MergeReport, CoreError> {
    let start = std::time::Instant::now();
    let model = Model::load(&settings.model)?;
    let fingerprint = model_fingerprint(&model);
    let mut merged: Option<(Partial, Tally)> = None;
    let mut names: Vec<String> = Vec::new();
    for path in &settings.parts {
        let (file, part) = read_part(path)?;
        let err = |message: String| CoreError::Data {
            path: file.clone(),
            message,
        };
        let tally = part.tally().map_err(err)?;
        if part.model_fingerprint != fingerprint {
            return Err(err(format!(
                "scored with another model than {} (or another version of it): merge parts \
                 of one model",
                settings.model.display()
            )));
        }
        if part.profile.sizes.len() != model.k {
            return Err(err(format!(
                "has {} segments where the model has {}",
                part.profile.sizes.len(),
                model.k
            )));
        }
        if !names.contains(&part.input.file) {
            names.push(part.input.file.clone());
        }
        match &mut merged {
            None => merged = Some((part, tally)),
            Some((first, total)) => {
                let differs = |what: &str| {
                    err(format!(
                        "its {what} differs from the first part's ({}): merge parts of one \
                         scoring job",
                        settings.parts[0].display()
                    ))
                };
                if part.strategy.name != first.strategy.name
                    || part.value_roles != first.value_roles
                {
                    return Err(differs("strategy"));
                }
                if part.ambiguous_ratio != first.ambiguous_ratio {
                    return Err(differs("--ambiguous-ratio"));
                }
                if part.ids_pseudonymized != first.ids_pseudonymized {
                    return Err(differs("id pseudonymisation"));
                }
                if part.input.bindings != first.input.bindings {
                    return Err(differs("column bindings"));
                }
                total.merge(tally).map_err(err)?;
                merge_input(&mut first.input, &part.input);
                if part.backend.kind != first.backend.kind {
                    first.backend.kind = "mixed".into();
                    first.backend.description = "the parts ran on different backends".into();
                }
                if part.backend.reason != first.backend.reason {
                    first.backend.reason = "each part chose for its own rows".into();
                }
                // A strategy version per part would be one too many: keep the oldest.
                if crate::compatible_version(&part.strategy.version, &first.strategy.version)
                    && part.strategy.version != first.strategy.version
                {
                    first.strategy = part.strategy.clone();
                }
            }
        }
    }
    let (mut partial, tally) = merged.expect("at least one part, checked by MergeSettings");
    partial.input.file = match &settings.input_name {
        Some(name) => name.clone(),
        None if names.len() == 1 => names.remove(0),
        None => format!("{} parts", settings.parts.len()),
    };
    partial.ambiguous = tally.ambiguous.clone();
    partial.inertia = tally.inertia.terms();
    partial.profile = tally.profiles.to_partial();
    if partial.input.rows_used == 0 {
        return Err(CoreError::Data {
            path: settings.parts[0].clone(),
            message: "the parts scored no customer".into(),
        });
    }
    let timings_s = [("merge".to_owned(), start.elapsed().as_secs_f64())].into();
    let scored = scored_outputs(&model, &settings.model, &partial, timings_s)?;
    super::assign::refuse_fit_folder(&settings.out, &settings.model, settings.force)?;
    let mut run = open_run(&settings.out, "merge")?;
    // An assign run's rows there are not the merged customers': not left beside them.
    run.supersede(&crate::AssignmentsFormat::ALL.map(|f| f.file_name()));
    let partial_file = run.stage(PARTIAL_FILE, |w| write_json(&partial, w))?;
    let segments = run.stage("segments.json", |w| write_json(&scored.segments, w))?;
    let report =
        strata_report::render_fit(&crate::report::fit_report(&scored.segments, None, None));
    let report = run.stage("report.html", |w| w.write_all(report.as_bytes()))?;
    let written = run.commit_keeping(vec![segments, report, partial_file], &["model.json"])?;
    info!(
        "merged {} parts ({} customers scored) in {:.2} s",
        settings.parts.len(),
        partial.input.rows_used,
        start.elapsed().as_secs_f64()
    );
    Ok(MergeReport {
        parts: settings.parts.len(),
        strategy: partial.strategy.name.clone(),
        rows: partial.input.rows,
        rows_used: partial.input.rows_used,
        k: model.k,
        segments: scored.summary,
        value_measure: scored.value_measure,
        written,
    })
}
