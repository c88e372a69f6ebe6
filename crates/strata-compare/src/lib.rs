//! `compare`: how customers moved between two runs (two output folders, or two
//! `assignments.csv` files keyed by id): the migration matrix, customers new, gone and moved,
//! the population stability index per segment and overall, how each segment's profile shifted,
//! and attractiveness with growth; written as `compare.json` and `report.html`.
//!
//! Segments of the two runs correspond one to one when the second was scored with a model whose
//! segments are the first run's (same k and labels: `strata assign`); otherwise they are matched
//! by overlap, the largest shared customer count first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use strata_format::segments::SegmentsFile;
use strata_format::value::{ATTRACTIVENESS_RULE, Attractiveness, attractiveness};

mod report;

pub use report::compare_report;

/// Why runs could not be compared or the comparison written.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A run's `assignments.csv` or `segments.json` cannot be read, or is not what Strata
    /// writes; the message says what and where.
    #[error("{path}: {message}")]
    Run {
        /// The file read.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Writing `compare.json` or `report.html` failed.
    #[error(transparent)]
    Write(#[from] strata_format::commit::CommitError),
    /// A run's file is not the one its folder's manifest lists: the folder mixes runs.
    #[error(transparent)]
    MixedRun(#[from] strata_format::commit::ManifestError),
    /// The two runs share no customer id, so nothing can be compared.
    #[error(
        "the runs share no customer: none of the {customers_b} ids of {b} is among the \
         {customers_a} of {a}; {hint}"
    )]
    NoOverlap {
        /// Run A's assignments file.
        a: String,
        /// Run B's assignments file.
        b: String,
        /// Customers in A.
        customers_a: u64,
        /// Customers in B.
        customers_b: u64,
        /// The likeliest cause, from what the runs say about their ids.
        hint: String,
    },
}

/// Most segments a compared run may have: the migration matrix holds k_A × k_B counts, so a
/// damaged file naming segment 4,294,967,295 must be refused, not allocated.
pub const MAX_SEGMENTS: usize = 4096;

/// Floor for a segment's share in the PSI, so an empty side gives a large but finite term.
pub const PSI_FLOOR: f64 = 1e-4;

/// The usual reading of a population stability index.
pub fn psi_reading(psi: f64) -> &'static str {
    if psi < 0.1 {
        "stable"
    } else if psi <= 0.25 {
        "watch"
    } else {
        "shifted"
    }
}

/// One side of a comparison, as read.
#[derive(Debug, Clone)]
pub struct Run {
    /// The `assignments.csv` read (inside the folder, or the file given).
    pub assignments: PathBuf,
    /// The run's `segments.json`; `None` when an assignments file was given, or the folder
    /// has none.
    pub segments: Option<SegmentsFile>,
    /// Ids in file order, each once.
    pub ids: Vec<String>,
    /// Each id's segment number, parallel to `ids`.
    pub labels: Vec<u32>,
    /// Segment names by index (from segments.json, else from the assignments' label column).
    pub names: Vec<String>,
}

/// Reads a run: a folder with `assignments.csv` (and `segments.json` when present), or an
/// assignments file.
pub fn read_run(path: &Path) -> Result<Run, CompareError> {
    let (assignments, segments_path) = if path.is_dir() {
        let (assignments, _) = strata_format::assignments::AssignmentsFormat::of_run(path)?;
        (assignments, Some(path.join("segments.json")))
    } else {
        (path.to_owned(), None)
    };
    let data_err = |message: String| CompareError::Run {
        path: assignments.clone(),
        message,
    };
    let segments = match segments_path.filter(|p| p.exists()) {
        Some(p) => {
            let bytes = strata_format::commit::read_checked(&p).map_err(|e| match e {
                strata_format::commit::ReadCheckedError::Io { error, .. } => CompareError::Run {
                    path: p.clone(),
                    message: format!("cannot read: {error}"),
                },
                strata_format::commit::ReadCheckedError::Manifest(m) => m.into(),
            })?;
            Some(
                serde_json::from_slice::<SegmentsFile>(&bytes).map_err(|e| CompareError::Run {
                    path: p.clone(),
                    message: format!("not a Strata segments.json: {e}"),
                })?,
            )
        }
        None => None,
    };
    // A Parquet or Arrow file is read as the CSV text of its records, and checked against
    // the folder's manifest first, whole; a CSV file is hashed as it is parsed and checked at
    // the end.
    let (format, source) = strata_format::assignments::read_as_csv(&assignments)
        .map_err(|e| data_err(format!("cannot read: {e}")))?;
    let checked_whole = format != strata_format::assignments::AssignmentsFormat::Csv;
    if checked_whole {
        strata_format::commit::read_checked(&assignments).map_err(|e| match e {
            strata_format::commit::ReadCheckedError::Io { error, .. } => {
                data_err(format!("cannot read: {error}"))
            }
            strata_format::commit::ReadCheckedError::Manifest(m) => m.into(),
        })?;
    }
    let mut reader =
        csv::ReaderBuilder::new().from_reader(strata_format::commit::HashingReader::new(source));
    let header = reader
        .headers()
        .map_err(|e| data_err(format!("cannot read the header: {e}")))?
        .clone();
    let col = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            data_err(format!(
                "expected an assignments file with columns id, segment and label (as strata \
                 writes); there is no '{name}' column"
            ))
        })
    };
    let (id_col, seg_col, label_col) = (col("id")?, col("segment")?, col("label").ok());
    let mut parse = || -> Result<_, CompareError> {
        let mut ids = Vec::new();
        let mut labels = Vec::new();
        let mut names: Vec<Option<String>> = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        for (i, record) in reader.records().enumerate() {
            let line = i as u64 + 2;
            let r = record.map_err(|e| data_err(format!("line {line}: {e}")))?;
            let id = r.get(id_col).unwrap_or_default().to_owned();
            let seg: u32 = r.get(seg_col).unwrap_or_default().parse().map_err(|_| {
                data_err(format!(
                    "line {line}, column 'segment': expected a segment number, found '{}'",
                    r.get(seg_col).unwrap_or_default()
                ))
            })?;
            if let Some(first) = seen.insert(id.clone(), line) {
                return Err(data_err(format!(
                    "the id on line {line} is also on line {first}; runs are compared by id, so ids \
                     must be unique"
                )));
            }
            let s = seg as usize;
            match &segments {
                Some(file) if s >= file.segments.len() => {
                    return Err(data_err(format!(
                        "line {line}, column 'segment': segment {s}, but segments.json beside it \
                         has {} segments (0 to {}): the files are not of one run",
                        file.segments.len(),
                        file.segments.len().saturating_sub(1)
                    )));
                }
                None if s >= MAX_SEGMENTS => {
                    return Err(data_err(format!(
                        "line {line}, column 'segment': segment {s}; compare reads runs of at most \
                         {MAX_SEGMENTS} segments"
                    )));
                }
                _ => {}
            }
            if names.len() <= s {
                names.resize(s + 1, None);
            }
            if names[s].is_none() {
                names[s] = Some(
                    label_col
                        .and_then(|c| r.get(c))
                        .map_or_else(|| format!("segment {s}"), str::to_owned),
                );
            }
            ids.push(id);
            labels.push(seg);
        }
        Ok((ids, labels, names))
    };
    // A file that fails to parse may be the symptom of a folder mixing two runs: say that.
    let (ids, labels, names) =
        parse().map_err(
            |e| match strata_format::commit::read_checked(&assignments) {
                Err(strata_format::commit::ReadCheckedError::Manifest(mixed)) => mixed.into(),
                _ => e,
            },
        )?;
    if !checked_whole {
        strata_format::commit::check_against_manifest(&assignments, &reader.get_ref().digest())?;
    }
    if ids.is_empty() {
        return Err(data_err("no customers to compare".into()));
    }
    if let Some(file) = &segments
        && file.segments.len() > MAX_SEGMENTS
    {
        return Err(data_err(format!(
            "segments.json has {} segments; compare reads runs of at most {MAX_SEGMENTS}",
            file.segments.len()
        )));
    }
    let names = match &segments {
        Some(s) => s.segments.iter().map(|g| g.label.clone()).collect(),
        None => {
            // Without segments.json the segments are the numbers that occur; a number skipped
            // below the largest would be a phantom segment of no customer.
            if let Some(gap) = names.iter().position(Option::is_none) {
                return Err(data_err(format!(
                    "no customer is in segment {gap}, yet segment {} is used: without \
                     segments.json beside it, segment numbers must run from 0 with none \
                     skipped (give the run's folder, or check the file)",
                    names.len() - 1
                )));
            }
            names.into_iter().flatten().collect()
        }
    };
    Ok(Run {
        assignments,
        segments,
        ids,
        labels,
        names,
    })
}

/// One column's mean in a pair of matched segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeanShift {
    /// The numeric column, present in both runs' profiles.
    pub column: String,
    /// The mean in run A's segment, in the column's units.
    pub a: f64,
    /// The mean in run B's matched segment, in the column's units.
    pub b: f64,
    /// (b − a) over run A's overall mean, in percent (`None` when that mean is 0).
    pub change_pct: Option<f64>,
}

/// A pair of matched segments (or one side alone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentDrift {
    /// Run A's segment number; `None` for a segment of B matched to none of A's.
    pub a_segment: Option<usize>,
    /// Run B's segment number; `None` for a segment of A matched to none of B's.
    pub b_segment: Option<usize>,
    /// Run A's name for its segment; `None` when there is no A side.
    pub a_label: Option<String>,
    /// Run B's name for its segment; `None` when there is no B side.
    pub b_label: Option<String>,
    /// Fraction (0 to 1) of run A's customers in A's segment; 0 when there is no A side.
    pub a_share: f64,
    /// Fraction (0 to 1) of run B's customers in B's segment; 0 when there is no B side.
    pub b_share: f64,
    /// (b − a) · ln(b / a) with shares floored at [`PSI_FLOOR`].
    pub psi: f64,
    /// `psi` read with [`psi_reading`]: `stable`, `watch` or `shifted`.
    pub reading: String,
    /// Customers in both runs that were in A's segment and are in B's.
    pub stayed: u64,
    /// The segment's means in each run's data units (with both segments.json files).
    pub centroid_shift: Vec<MeanShift>,
    /// Root mean square of the `change_pct` values.
    pub shift_pct: Option<f64>,
    /// B's share over A's: growth, for attractiveness.
    pub growth: Option<f64>,
    /// B's segment's attractiveness among B's segments, growth included (a segment with no A
    /// side counts as growth 1); `None` when there is no B side.
    pub attractiveness: Option<Attractiveness>,
    /// Predicted value per customer on each side, where the run had a value model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<PredictedChange>,
}

/// A matched pair's predicted value under each run's value model (`--value-model`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictedChange {
    /// Predicted CLV per customer in A's segment (`None` without A's value model or values).
    pub a_clv_mean: Option<f64>,
    /// ... in B's segment.
    pub b_clv_mean: Option<f64>,
    /// (b − a) over a, in percent, when both are there and a is not 0.
    pub clv_change_pct: Option<f64>,
    /// Mean P(alive) in A's segment.
    pub a_p_alive_mean: Option<f64>,
    /// Mean P(alive) in B's segment.
    pub b_p_alive_mean: Option<f64>,
}

/// The whole base's predicted CLV in each run, when both had a value model with values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictedTotal {
    /// Run A's predicted CLV over its customers.
    pub a: f64,
    /// Run B's.
    pub b: f64,
    /// (b − a) over a, in percent (`None` when a is 0).
    pub change_pct: Option<f64>,
    /// Whether the two value models predict over the same horizon and period; when not,
    /// the totals are not comparable and say so.
    pub same_horizon: bool,
}

/// `compare.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Run A's assignments file.
    pub a: String,
    /// Run B's assignments file.
    pub b: String,
    /// `identity` (B scored with A's segments) or `overlap`.
    pub matching: String,
    /// Customers (rows) in run A.
    pub customers_a: u64,
    /// Customers (rows) in run B.
    pub customers_b: u64,
    /// Customers whose id is in both runs.
    pub in_both: u64,
    /// Customers only in run B.
    pub new: u64,
    /// Customers only in run A.
    pub gone: u64,
    /// In both runs, in a segment other than the one matched to their earlier segment.
    pub moved: u64,
    /// `moved` over `in_both` (0 to 1); 0 when no customer is in both runs.
    pub moved_share: f64,
    /// Counts: rows are A's segments, columns B's; customers in both runs.
    pub migration: Vec<Vec<u64>>,
    /// Each row of `migration` over its total (where a customer of A's segment went).
    pub migration_shares: Vec<Vec<f64>>,
    /// Run A's segment names, by segment number.
    pub a_labels: Vec<String>,
    /// Run B's segment names, by segment number.
    pub b_labels: Vec<String>,
    /// New customers (only in B) by B segment.
    pub new_by_segment: Vec<u64>,
    /// Gone customers (only in A) by A segment.
    pub gone_by_segment: Vec<u64>,
    /// The population stability index over all segments: the sum of the segments' `psi`.
    pub psi: f64,
    /// `psi` read with [`psi_reading`]: `stable`, `watch` or `shifted`.
    pub reading: String,
    /// The PSI bands behind `reading`, as text for the report.
    pub psi_bands: String,
    /// Matched pairs of segments, by A's segment number, then A's segments without a match,
    /// then B's.
    pub segments: Vec<SegmentDrift>,
    /// How `attractiveness` is computed ([`ATTRACTIVENESS_RULE`]).
    pub attractiveness_rule: String,
    /// What a reader should know before trusting the figures (few customers in both runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The change in predicted CLV over all customers, when both runs had a value model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_clv: Option<PredictedTotal>,
}

/// The predicted value of the pair `sa`, `sb` in each run that had a value model.
fn predicted_change(
    a: &Run,
    sa: Option<usize>,
    b: &Run,
    sb: Option<usize>,
) -> Option<PredictedChange> {
    let side = |r: &Run, s: Option<usize>| {
        let f = r.segments.as_ref()?;
        f.value_model.as_ref()?;
        f.segments.get(s?)?.predicted.clone()
    };
    let (pa, pb) = (side(a, sa), side(b, sb));
    if pa.is_none() && pb.is_none() {
        return None;
    }
    let a_clv = pa.as_ref().and_then(|p| p.clv_mean);
    let b_clv = pb.as_ref().and_then(|p| p.clv_mean);
    Some(PredictedChange {
        a_clv_mean: a_clv,
        b_clv_mean: b_clv,
        clv_change_pct: match (a_clv, b_clv) {
            (Some(x), Some(y)) if x != 0.0 => Some((y - x) / x * 100.0),
            _ => None,
        },
        a_p_alive_mean: pa.map(|p| p.p_alive_mean),
        b_p_alive_mean: pb.map(|p| p.p_alive_mean),
    })
}

/// Each run's predicted CLV over all its customers, when both have one.
fn predicted_total(a: &Run, b: &Run) -> Option<PredictedTotal> {
    let total = |r: &Run| -> Option<(f64, String)> {
        let f = r.segments.as_ref()?;
        let v = f.value_model.as_ref()?;
        let sum = f
            .segments
            .iter()
            .map(|s| s.predicted.as_ref().and_then(|p| p.clv_total))
            .sum::<Option<f64>>()?;
        Some((sum, format!("{} {}", v.horizon, v.period)))
    };
    let ((ta, ha), (tb, hb)) = (total(a)?, total(b)?);
    Some(PredictedTotal {
        a: ta,
        b: tb,
        change_pct: (ta != 0.0).then(|| (tb - ta) / ta * 100.0),
        same_horizon: ha == hb,
    })
}

/// Why two runs might share no id, from what they say about their ids.
fn no_overlap_hint(a: &Run, b: &Run) -> String {
    let pseudo = |r: &Run| r.segments.as_ref().map(|s| s.ids_pseudonymized);
    match (pseudo(a), pseudo(b)) {
        (Some(x), Some(y)) if x != y => {
            return "one run pseudonymised its ids (--pseudonymize-ids) and the other did not"
                .into();
        }
        (Some(true), Some(true)) => {
            return "both runs pseudonymised their ids: were they given the same salt?".into();
        }
        _ => {}
    }
    let trimmed: std::collections::HashSet<&str> = a.ids.iter().map(|i| i.trim()).collect();
    if b.ids.iter().any(|i| trimmed.contains(i.trim())) {
        return "some ids differ only in leading or trailing spaces: clean the id column the \
                same way in both runs"
            .into();
    }
    "are they keyed by the same id column (--id-column), and of the same customers?".into()
}

/// Pairs A's and B's segments: identity when `same`, else greedily by the largest overlap.
fn match_segments(
    migration: &[Vec<u64>],
    ka: usize,
    kb: usize,
    same: bool,
) -> Vec<(Option<usize>, Option<usize>)> {
    let mut pairs = Vec::new();
    let (mut used_a, mut used_b) = (vec![false; ka], vec![false; kb]);
    if same {
        for j in 0..ka.min(kb) {
            pairs.push((Some(j), Some(j)));
            used_a[j] = true;
            used_b[j] = true;
        }
    } else {
        let mut cells: Vec<(u64, usize, usize)> = (0..ka)
            .flat_map(|a| (0..kb).map(move |b| (a, b)))
            .map(|(a, b)| (migration[a][b], a, b))
            .filter(|c| c.0 > 0)
            .collect();
        cells.sort_by(|x, y| y.0.cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
        for (_, a, b) in cells {
            if !used_a[a] && !used_b[b] {
                used_a[a] = true;
                used_b[b] = true;
                pairs.push((Some(a), Some(b)));
            }
        }
        pairs.sort_by_key(|p| p.0);
    }
    pairs.extend((0..ka).filter(|&a| !used_a[a]).map(|a| (Some(a), None)));
    pairs.extend((0..kb).filter(|&b| !used_b[b]).map(|b| (None, Some(b))));
    pairs
}

fn psi_term(a: f64, b: f64) -> f64 {
    let (a, b) = (a.max(PSI_FLOOR), b.max(PSI_FLOOR));
    (b - a) * (b / a).ln()
}

/// Writes `compare.json` and `report.html` into `dir` (created if missing) in one commit:
/// both or neither, and an earlier comparison there is replaced whole. `waiting` is called
/// if another run is writing to `dir`.
pub fn write_comparison(
    dir: &Path,
    c: &Comparison,
    waiting: impl FnOnce(),
) -> Result<Vec<PathBuf>, CompareError> {
    let report = strata_report::render_compare(&compare_report(c));
    Ok(strata_format::commit::write_run(
        dir,
        "compare",
        vec![
            (
                "compare.json",
                Box::new(|w: &mut (dyn std::io::Write + Send)| {
                    strata_format::write::write_json(c, w)
                }),
            ),
            (
                "report.html",
                Box::new(|w: &mut (dyn std::io::Write + Send)| w.write_all(report.as_bytes())),
            ),
        ],
        waiting,
    )?)
}

/// Compares two runs read with [`read_run`].
pub fn compare(a: &Run, b: &Run) -> Result<Comparison, CompareError> {
    let ka = a
        .names
        .len()
        .max(a.labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0));
    let kb = b
        .names
        .len()
        .max(b.labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0));
    let index: HashMap<&str, u32> = a
        .ids
        .iter()
        .zip(&a.labels)
        .map(|(id, &l)| (id.as_str(), l))
        .collect();
    let mut migration = vec![vec![0u64; kb]; ka];
    let mut new_by_segment = vec![0u64; kb];
    let mut in_both = 0u64;
    for (id, &lb) in b.ids.iter().zip(&b.labels) {
        match index.get(id.as_str()) {
            Some(&la) => {
                migration[la as usize][lb as usize] += 1;
                in_both += 1;
            }
            None => new_by_segment[lb as usize] += 1,
        }
    }
    if in_both == 0 {
        return Err(CompareError::NoOverlap {
            a: a.assignments.display().to_string(),
            b: b.assignments.display().to_string(),
            customers_a: a.ids.len() as u64,
            customers_b: b.ids.len() as u64,
            hint: no_overlap_hint(a, b),
        });
    }
    let mut size_a = vec![0u64; ka];
    for &l in &a.labels {
        size_a[l as usize] += 1;
    }
    let mut size_b = vec![0u64; kb];
    for &l in &b.labels {
        size_b[l as usize] += 1;
    }
    let gone_by_segment: Vec<u64> = (0..ka)
        .map(|j| size_a[j] - migration[j].iter().sum::<u64>())
        .collect();
    let same = ka == kb
        && a.names == b.names
        && b.segments.as_ref().is_some_and(|s| s.scored_with.is_some());
    let pairs = match_segments(&migration, ka, kb, same);
    let (na, nb) = (a.labels.len() as f64, b.labels.len() as f64);
    let mut moved = 0u64;
    let mut segments: Vec<SegmentDrift> = pairs
        .iter()
        .map(|&(sa, sb)| {
            let a_share = sa.map_or(0.0, |j| size_a[j] as f64 / na);
            let b_share = sb.map_or(0.0, |j| size_b[j] as f64 / nb);
            let stayed = match (sa, sb) {
                (Some(x), Some(y)) => migration[x][y],
                _ => 0,
            };
            if let Some(x) = sa {
                moved += migration[x].iter().sum::<u64>() - stayed;
            }
            let psi = psi_term(a_share, b_share);
            let centroid_shift = match (sa, sb, &a.segments, &b.segments) {
                (Some(x), Some(y), Some(fa), Some(fb)) => mean_shifts(fa, x, fb, y),
                _ => Vec::new(),
            };
            let pct: Vec<f64> = centroid_shift.iter().filter_map(|m| m.change_pct).collect();
            SegmentDrift {
                a_segment: sa,
                b_segment: sb,
                a_label: sa.map(|j| a.names.get(j).cloned().unwrap_or_default()),
                b_label: sb.map(|j| b.names.get(j).cloned().unwrap_or_default()),
                a_share,
                b_share,
                psi,
                reading: psi_reading(psi).into(),
                stayed,
                shift_pct: (!pct.is_empty())
                    .then(|| (pct.iter().map(|p| p * p).sum::<f64>() / pct.len() as f64).sqrt()),
                centroid_shift,
                growth: (a_share > 0.0 && sb.is_some()).then(|| b_share / a_share),
                attractiveness: None,
                predicted: predicted_change(a, sa, b, sb),
            }
        })
        .collect();
    // Attractiveness of B's segments with growth (value per customer from B's segments.json:
    // predicted CLV when B had a value model, as the fit ranks them).
    let with_b: Vec<usize> = (0..segments.len())
        .filter(|&i| segments[i].b_segment.is_some())
        .collect();
    let shares: Vec<f64> = with_b.iter().map(|&i| segments[i].b_share).collect();
    let growth: Vec<f64> = with_b
        .iter()
        .map(|&i| segments[i].growth.unwrap_or(1.0))
        .collect();
    let value: Option<Vec<f64>> = b.segments.as_ref().and_then(|f| {
        with_b
            .iter()
            .map(|&i| {
                let j = segments[i].b_segment.expect("with B");
                let s = f.segments.get(j)?;
                match &s.predicted {
                    Some(p) if f.value_model.is_some() => p.clv_mean,
                    _ => s.value.as_ref().map(|v| v.per_customer),
                }
            })
            .collect()
    });
    let attract = attractiveness(&shares, value.as_deref(), Some(&growth));
    for (&i, a) in with_b.iter().zip(attract) {
        segments[i].attractiveness = Some(a);
    }
    let psi: f64 = segments.iter().map(|s| s.psi).sum();
    let migration_shares = migration
        .iter()
        .map(|row| {
            let t = row.iter().sum::<u64>().max(1) as f64;
            row.iter().map(|&c| c as f64 / t).collect()
        })
        .collect();
    let smaller = a.ids.len().min(b.ids.len()) as u64;
    let mut warnings = Vec::new();
    if in_both * 2 < smaller {
        warnings.push(format!(
            "only {in_both} of the {smaller} customers of the smaller run are in both runs \
             ({:.0}%): moves and migration describe those alone; {}",
            100.0 * in_both as f64 / smaller as f64,
            no_overlap_hint(a, b)
        ));
    }
    Ok(Comparison {
        a: a.assignments.display().to_string(),
        b: b.assignments.display().to_string(),
        matching: if same { "identity" } else { "overlap" }.into(),
        customers_a: a.labels.len() as u64,
        customers_b: b.labels.len() as u64,
        in_both,
        new: new_by_segment.iter().sum(),
        gone: gone_by_segment.iter().sum(),
        moved,
        moved_share: if in_both == 0 {
            0.0
        } else {
            moved as f64 / in_both as f64
        },
        migration,
        migration_shares,
        a_labels: a.names.clone(),
        b_labels: b.names.clone(),
        new_by_segment,
        gone_by_segment,
        psi,
        reading: psi_reading(psi).into(),
        psi_bands: "< 0.1 stable, 0.1–0.25 watch, > 0.25 shifted".into(),
        segments,
        attractiveness_rule: ATTRACTIVENESS_RULE.into(),
        warnings,
        predicted_clv: predicted_total(a, b),
    })
}

/// Numeric means of A's segment `x` and B's segment `y`, column by column (columns in both).
fn mean_shifts(fa: &SegmentsFile, x: usize, fb: &SegmentsFile, y: usize) -> Vec<MeanShift> {
    let (Some(sa), Some(sb)) = (
        fa.segments.iter().find(|s| s.segment == x),
        fb.segments.iter().find(|s| s.segment == y),
    ) else {
        return Vec::new();
    };
    sa.numeric
        .iter()
        .filter_map(|na| {
            let nb = sb.numeric.iter().find(|n| n.column == na.column)?;
            Some(MeanShift {
                column: na.column.clone(),
                a: na.mean,
                b: nb.mean,
                change_pct: (na.overall_mean != 0.0)
                    .then(|| 100.0 * (nb.mean - na.mean) / na.overall_mean.abs()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ids: &[&str], labels: &[u32], k: usize) -> Run {
        Run {
            assignments: PathBuf::from("x.csv"),
            segments: None,
            ids: ids.iter().map(|s| s.to_string()).collect(),
            labels: labels.to_vec(),
            names: (0..k).map(|j| format!("s{j}")).collect(),
        }
    }

    #[test]
    fn migration_new_gone_and_moved() {
        let a = run(&["1", "2", "3", "4", "5", "6"], &[0, 0, 0, 1, 1, 1], 2);
        // B: 1 and 2 stay in 0, 3 moves to 1, 4 stays, 5 gone, 6 gone, 7 and 8 new.
        let b = run(&["2", "1", "3", "4", "7", "8"], &[0, 0, 1, 1, 1, 0], 2);
        let c = compare(&a, &b).unwrap();
        assert_eq!(c.migration, [[2, 1], [0, 1]]);
        assert_eq!((c.in_both, c.new, c.gone), (4, 2, 2));
        assert_eq!(c.gone_by_segment, [0, 2]);
        assert_eq!(c.new_by_segment, [1, 1]);
        assert_eq!(c.matching, "overlap");
        // Matched 0↔0 (2 shared) then 1↔1: one customer moved.
        assert_eq!(c.moved, 1);
        assert_eq!(c.segments[0].stayed, 2);
        // Shares 0.5/0.5 in A and 3/6, 3/6 in B: no drift.
        assert!(c.psi.abs() < 1e-12);
        assert_eq!(c.reading, "stable");
    }

    #[test]
    fn segments_are_matched_by_overlap_when_numbers_differ() {
        // B numbers the same two groups the other way round.
        let a = run(&["1", "2", "3", "4"], &[0, 0, 1, 1], 2);
        let b = run(&["1", "2", "3", "4"], &[1, 1, 0, 0], 2);
        let c = compare(&a, &b).unwrap();
        assert_eq!(c.moved, 0);
        assert_eq!(c.segments[0].b_segment, Some(1));
        assert_eq!(c.segments[1].b_segment, Some(0));
    }

    #[test]
    fn psi_follows_its_definition_and_bands() {
        // A: 50/50; B: 80/20 → (0.3 ln 1.6) + (−0.3 ln 0.4).
        let ids: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let idr: Vec<&str> = ids.iter().map(String::as_str).collect();
        let a = run(&idr, &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1], 2);
        let b = run(&idr, &[0, 0, 0, 0, 0, 0, 0, 0, 1, 1], 2);
        let c = compare(&a, &b).unwrap();
        let want = 0.3 * 1.6f64.ln() - 0.3 * 0.4f64.ln();
        assert!((c.psi - want).abs() < 1e-12, "{} vs {want}", c.psi);
        assert_eq!(c.reading, "shifted");
        assert_eq!(psi_reading(0.05), "stable");
        assert_eq!(psi_reading(0.2), "watch");
        // Growth feeds attractiveness: segment 0 grew (1.6×), segment 1 shrank.
        let g0 = c.segments[0].growth.unwrap();
        assert!((g0 - 1.6).abs() < 1e-12);
        assert_eq!(c.segments[0].attractiveness.as_ref().unwrap().rank, 1);
    }

    #[test]
    fn runs_that_share_no_customer_are_refused_with_a_cause() {
        let a = run(&["1", "2", "3"], &[0, 0, 1], 2);
        let b = run(&[" 1", " 2", " 3"], &[0, 1, 1], 2);
        let e = compare(&a, &b).unwrap_err().to_string();
        assert!(
            e.contains("share no customer") && e.contains("spaces"),
            "{e}"
        );
        let b = run(&["7", "8"], &[0, 1], 2);
        let e = compare(&a, &b).unwrap_err().to_string();
        assert!(e.contains("--id-column"), "{e}");
        // A small overlap is compared, with a warning.
        let b = run(&["1", "8", "9"], &[0, 1, 1], 2);
        let c = compare(&a, &b).unwrap();
        assert_eq!(c.in_both, 1);
        assert!(
            c.warnings[0].contains("only 1 of the 3"),
            "{:?}",
            c.warnings
        );
        assert!(compare(&a, &a).unwrap().warnings.is_empty());
    }

    #[test]
    fn damaged_segment_numbers_are_refused_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.csv");
        let read = |body: &str| {
            std::fs::write(&file, format!("id,segment,label\n{body}")).unwrap();
            read_run(&file)
                .map(|r| r.names.len())
                .map_err(|e| e.to_string())
        };
        assert_eq!(read("1,0,x\n2,1,y\n"), Ok(2));
        let e = read("1,0,x\n2,99,y\n").unwrap_err();
        assert!(
            e.contains("no customer is in segment 1") && e.contains("99"),
            "{e}"
        );
        let e = read("1,0,x\n2,4294967295,y\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("at most 4096"), "{e}");
    }
}
