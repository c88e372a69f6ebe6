//! Output files, written atomically: every file goes to a temporary name in the output folder
//! and is renamed into place only after all of them were written in full.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::CoreError;

/// A file to write: its name in the output folder and a function that writes its content.
pub type FileWriter<'a> = (
    &'a str,
    Box<dyn FnOnce(&mut dyn Write) -> std::io::Result<()> + 'a>,
);

/// Writes `files` into `dir` (created if missing). On any error, no file of this call is left
/// behind under its final name, and files from an earlier run are left untouched.
pub fn write_atomically(dir: &Path, files: Vec<FileWriter<'_>>) -> Result<Vec<PathBuf>, CoreError> {
    std::fs::create_dir_all(dir).map_err(|e| out_err(dir, e))?;
    let mut staged = Vec::with_capacity(files.len());
    for (name, write) in files {
        staged.push(stage(dir, name, write)?);
    }
    persist_all(staged)
}

/// Writes the output `name` in full under a temporary name in `dir` (which must exist), for
/// [`persist_all`].
pub(crate) fn stage(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(tempfile::NamedTempFile, PathBuf), CoreError> {
    let (mut tmp, target) = temp_file(dir, name)?;
    {
        let mut buf = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        write(&mut buf).map_err(|e| out_err(&target, e))?;
        buf.flush().map_err(|e| out_err(&target, e))?;
    }
    Ok((tmp, target))
}

fn out_err(path: &Path, source: std::io::Error) -> CoreError {
    CoreError::Output {
        path: path.to_owned(),
        error: source,
    }
}

/// A temporary file in `dir` (which must exist) for the output `name`, and the path it is to
/// be renamed to by [`persist_all`]. Dropped unpersisted, it is deleted.
pub(crate) fn temp_file(
    dir: &Path,
    name: &str,
) -> Result<(tempfile::NamedTempFile, PathBuf), CoreError> {
    let target = dir.join(name);
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Temporary files are private by default; outputs get ordinary permissions (the process
    // umask still applies).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let tmp = builder.tempfile_in(dir).map_err(|e| out_err(&target, e))?;
    Ok((tmp, target))
}

/// Syncs every staged file, then renames each into place: nothing is renamed until every
/// file is complete on disk.
pub(crate) fn persist_all(
    staged: Vec<(tempfile::NamedTempFile, PathBuf)>,
) -> Result<Vec<PathBuf>, CoreError> {
    for (tmp, target) in &staged {
        tmp.as_file().sync_all().map_err(|e| out_err(target, e))?;
    }
    let mut written = Vec::with_capacity(staged.len());
    for (tmp, target) in staged {
        tmp.persist(&target)
            .map_err(|e| out_err(&target, e.error))?;
        written.push(target);
    }
    Ok(written)
}

/// Writes one file at `path` the same way (temporary name beside it, then renamed).
pub fn write_file_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<PathBuf, CoreError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| CoreError::Output {
            path: path.to_owned(),
            error: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        })?;
    let mut written = write_atomically(dir, vec![(name, Box::new(write))])?;
    Ok(written.remove(0))
}

/// Writes `value` as pretty JSON with a final newline.
pub fn write_json<T: Serialize>(value: &T, w: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, value)?;
    w.write_all(b"\n")
}

/// The model a scoring run used.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ScoredWith {
    /// The model file, as given.
    pub model: String,
    /// The strategy version the model was fitted with.
    pub fitted_with: String,
}

/// What a streamed fit did differently, for `segments.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StreamReport {
    /// Rows the strategy learned its preprocessing from.
    pub prep_sample_rows: usize,
    /// They came from one chunk (about 4 MB) in this many, spread over the file; 1: the whole
    /// file.
    pub prep_sample_one_chunk_in: usize,
    /// Why the fit streamed.
    pub reason: String,
}

/// Agreement between the k-means++ restarts: the adjusted Rand index of each run's labels
/// against the winner's, and what the lowest one means.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Stability {
    /// Restarts compared.
    pub runs: usize,
    /// Each restart's adjusted Rand index against the winner (1 for the winner itself).
    pub agreement: Vec<f64>,
    /// The lowest of them.
    pub min_agreement: f64,
    /// `stable` (every ARI ≥ 0.9), `moderate` (≥ 0.75) or `unstable`.
    pub reading: String,
    /// Rows the runs were compared on (a sample when the restarts ran on one).
    pub rows: usize,
}

/// Starting centroids chosen on a sample, then refined by Lloyd on every row.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SampleInit {
    /// Rows of the sample (every `stride`-th row).
    pub rows: usize,
    /// Every `stride`-th row is in the sample.
    pub stride: usize,
    /// Inertia of each restart on the sample.
    pub run_inertias: Vec<f64>,
    /// The restart kept (lowest inertia on the sample).
    pub best_run: usize,
    /// Inertia over every row at the sample's centroids, before the full Lloyd steps.
    pub inertia_at_sample_centroids: f64,
    /// Inertia over every row after them.
    pub inertia: f64,
    /// How much the full steps lowered the inertia: (at sample centroids − final) / final.
    pub gap: f64,
}

/// `segments.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SegmentsFile {
    /// The Strata that wrote it.
    pub strata_version: String,
    /// The strategy plugin that made the features and names.
    pub strategy: crate::model::StrategyRef,
    /// k-means or RFM.
    pub mode: crate::Mode,
    /// What was read and what was left out.
    pub input: InputReport,
    /// What aggregating a transaction log did (with `--transactions`).
    pub transactions: Option<strata_behavior::TxReport>,
    /// The compute backend (k-means mode).
    pub backend: Option<BackendReport>,
    /// Segments exported.
    pub k: usize,
    /// k-means inertia (`null` in RFM mode).
    pub inertia: Option<f64>,
    /// Lloyd iterations of the restart kept (0 without k-means iterations: RFM, scoring).
    pub iterations: usize,
    /// Whether the restart kept stopped because its centroids settled (true without
    /// k-means iterations).
    pub converged: bool,
    /// k-means++ restarts (`--n-init`; 0 without k-means iterations).
    pub n_init: usize,
    /// `--seed` (of the fit, for a scored run).
    pub seed: u64,
    /// The restart kept.
    pub best_run: usize,
    /// Each restart's inertia.
    pub run_inertias: Vec<f64>,
    /// The features the segments live in, in order (none for RFM).
    pub features: Vec<String>,
    /// Set when the file was streamed rather than held whole (`--stream`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streamed: Option<StreamReport>,
    /// Set when the k-means++ restarts ran on a sample of the rows (streamed fits of many
    /// rows): the sample and the inertia gap to Lloyd on every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_sample: Option<SampleInit>,
    /// Segmentation quality on the feature matrix (k-means mode): silhouette (exact up to
    /// 10,000 rows, on a seeded sample above), Davies-Bouldin, Calinski-Harabasz.
    #[serde(default)]
    pub quality: Option<strata_quality::Quality>,
    /// How far the k-means++ restarts agree (adjusted Rand index against the winner).
    #[serde(default)]
    pub stability: Option<Stability>,
    /// Every k tried under `--k auto`, scored, and the one chosen with the rule used.
    #[serde(default)]
    pub k_selection: Option<crate::select::KSelection>,
    /// The strategy's value measure (a role it marks as such, e.g. monetary or spend) and
    /// its total; each segment then has its `value`.
    #[serde(default)]
    pub value_measure: Option<crate::ValueMeasure>,
    /// How each segment's `attractiveness` is scored.
    #[serde(default)]
    pub attractiveness_rule: String,
    /// Set when the customers were scored with a saved model (`strata assign`) rather than
    /// fitted: segments are the model's.
    #[serde(default)]
    pub scored_with: Option<ScoredWith>,
    /// `--min-segment-size`: no exported segment is smaller.
    #[serde(default)]
    pub min_segment_size: Option<u64>,
    /// The k-means segments merged away by `--min-segment-size`.
    #[serde(default)]
    pub merged_segments: Vec<crate::privacy::MergedSegment>,
    /// Whether ids in assignments.csv are pseudonyms (HMAC-SHA-256 under a secret salt, the
    /// first 128 bits in hex) rather than the input's ids.
    #[serde(default)]
    pub ids_pseudonymized: bool,
    /// The nearest-over-second-nearest distance ratio above which a customer is flagged
    /// ambiguous (k-means only).
    #[serde(default)]
    pub ambiguous_ratio: Option<f64>,
    /// The segments in segment order (numbered by size at the fit, 0 the largest).
    pub segments: Vec<SegmentJson>,
    /// Wall seconds per stage before the outputs were written (ingest, features, k-means,
    /// profiles); writing itself is logged and printed.
    #[serde(default)]
    pub timings_s: std::collections::BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct InputReport {
    pub file: String,
    pub rows: usize,
    pub rows_used: usize,
    pub rows_dropped: usize,
    pub missing_policy: crate::MissingPolicy,
    /// Missing values per bound column (imputed, or the reason rows were dropped).
    pub missing: std::collections::BTreeMap<String, usize>,
    /// Columns considered by "every numeric column" that held text and were left out.
    pub skipped_columns: Vec<String>,
    pub bindings: Vec<crate::Binding>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct BackendReport {
    pub kind: String,
    pub description: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SegmentJson {
    pub segment: usize,
    pub label: String,
    pub size: u64,
    pub share: f64,
    /// The centroid in the data's own units: numerics as means, categoricals as shares.
    pub centroid: serde_json::Map<String, serde_json::Value>,
    pub numeric: Vec<NumericJson>,
    pub categorical: Vec<CategoricalJson>,
    pub key_traits: Vec<String>,
    /// Customers of the segment flagged ambiguous (k-means only): nearly as close to another
    /// segment's centroid (ratio above `ambiguous_ratio`).
    #[serde(default)]
    pub ambiguous: Option<u64>,
    /// The segment's part of the value measure (when the strategy has one).
    #[serde(default)]
    pub value: Option<crate::SegmentValue>,
    /// Score and rank by `attractiveness_rule`.
    #[serde(default)]
    pub attractiveness: Option<crate::Attractiveness>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct NumericJson {
    pub column: String,
    pub role: String,
    pub mean: f64,
    pub overall_mean: f64,
    /// Segment mean over overall mean × 100.
    pub index: Option<f64>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CategoricalJson {
    pub column: String,
    pub role: String,
    pub shares: Vec<LevelJson>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LevelJson {
    pub value: String,
    pub share: f64,
    pub overall_share: f64,
    /// Share in the segment over share overall × 100.
    #[serde(default)]
    pub index: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let files: Vec<FileWriter> = vec![
            ("a.txt", Box::new(|w: &mut dyn Write| w.write_all(b"first"))),
            (
                "b.txt",
                Box::new(|_: &mut dyn Write| Err(std::io::Error::other("disk full"))),
            ),
        ];
        let err = write_atomically(&out, files).unwrap_err().to_string();
        assert!(err.contains("b.txt") && err.contains("disk full"), "{err}");
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
        assert!(left.is_empty(), "nothing may be left behind: {left:?}");

        let files: Vec<FileWriter> =
            vec![("a.txt", Box::new(|w: &mut dyn Write| w.write_all(b"ok")))];
        write_atomically(&out, files).unwrap();
        assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"ok");
    }

    #[test]
    fn unwritable_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let files: Vec<FileWriter> =
            vec![("a.txt", Box::new(|w: &mut dyn Write| w.write_all(b"ok")))];
        let err = write_atomically(&file.join("sub"), files)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot write") && err.contains("file/sub"),
            "{err}"
        );
    }
}
