//! What scoring customers against a model adds up to, a part at a time: every count and exact
//! sum that `segments.json` and the report of an `assign` run are made from.
//!
//! `assign` keeps one [`Tally`] over its batches and saves it as `partial.json` beside its
//! assignments; `strata merge` adds the tallies of many parts (shards scored on many
//! machines, Spark partitions) and makes the run's files from the sum with the same code
//! `assign` uses. Every sum in a tally is exact and every count an integer, so the merged
//! files are those one `assign` over all the parts' rows writes, whatever the parts were.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use strata_compute::MatrixRef;
use strata_compute::exact::ExactSum;

use crate::model::{Model, StrategyRef};
use crate::output::{BackendReport, InputReport};
use crate::profile::{PartialProfile, ProfileBuilder};

/// The `format` of `partial.json`.
pub const PARTIAL_FORMAT: &str = "strata-partial";
/// Bumped when a field changes meaning.
pub const PARTIAL_FORMAT_VERSION: u32 = 1;
/// Its name in an `assign` run's folder.
pub const PARTIAL_FILE: &str = "partial.json";

/// A model's identity for merging: SHA-256 of its canonical JSON (the fields as this Strata
/// reads them, so whitespace or field order in the file do not matter, any value does).
pub fn model_fingerprint(model: &Model) -> String {
    let bytes = serde_json::to_vec(model).expect("a model serialises");
    let digest = Sha256::digest(&bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The running sums of one scoring pass (or of merged passes).
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    pub profiles: ProfileBuilder,
    /// Customers per segment above the ambiguous ratio.
    pub ambiguous: Vec<u64>,
    /// Σ of every scored customer's squared distance to its centroid, exactly.
    pub inertia: ExactSum,
}

impl Tally {
    /// Nothing scored yet, for `k` segments.
    pub fn new(k: usize) -> Tally {
        Tally {
            profiles: ProfileBuilder::new(k),
            ambiguous: vec![0; k],
            inertia: ExactSum::new(),
        }
    }

    /// Adds a batch's ambiguous counts and its rows' squared distances to their centroids
    /// (`rows` of d features, `centroids` k' × d, `nearest` each row's centroid); the profiles
    /// are added to [`Tally::profiles`] directly.
    ///
    /// The distances are computed again in f64, not taken from the backend's f32 ones: an f32
    /// distance is off by about d·2⁻²⁴ of itself, and over a million rows those errors add up
    /// to more than the fit's inertia (kept in f64) allows.
    pub fn add(
        &mut self,
        ambiguous: &[u64],
        rows: MatrixRef<'_>,
        centroids: &[f32],
        nearest: &[u32],
    ) {
        for (total, c) in self.ambiguous.iter_mut().zip(ambiguous) {
            *total += c;
        }
        self.inertia.merge(&exact_inertia(rows, centroids, nearest));
    }

    /// Adds a batch scored by k-prototypes: its ambiguous counts and each row's cost (the
    /// squared numeric distance plus γ per mismatch), which stand in for the inertia.
    pub fn add_costs(&mut self, ambiguous: &[u64], costs: &[f64]) {
        for (total, c) in self.ambiguous.iter_mut().zip(ambiguous) {
            *total += c;
        }
        let mut s = ExactSum::new();
        for &c in costs {
            s.add(c);
        }
        self.inertia.merge(&s);
    }

    /// Adds another part's tally.
    pub fn merge(&mut self, other: Tally) -> Result<(), String> {
        if other.ambiguous.len() != self.ambiguous.len() {
            return Err(format!(
                "a part of {} segments cannot merge with one of {}",
                other.ambiguous.len(),
                self.ambiguous.len()
            ));
        }
        self.profiles.merge(other.profiles)?;
        for (a, b) in self.ambiguous.iter_mut().zip(other.ambiguous) {
            *a += b;
        }
        self.inertia.merge(&other.inertia);
        Ok(())
    }
}

/// Σ‖x − c‖² over `rows` and their `nearest` of `centroids` (k' × d), each distance in f64,
/// summed exactly (a chunk of rows per task, the chunks' sums merged).
pub(crate) fn exact_inertia(rows: MatrixRef<'_>, centroids: &[f32], nearest: &[u32]) -> ExactSum {
    use rayon::prelude::*;
    let d = rows.d();
    let parts: Vec<ExactSum> = rows
        .data()
        .par_chunks(d * 4096)
        .zip(nearest.par_chunks(4096))
        .map(|(rows, nearest)| {
            let mut s = ExactSum::new();
            for (row, &j) in rows.chunks_exact(d).zip(nearest) {
                let c = &centroids[j as usize * d..(j as usize + 1) * d];
                let dist: f64 = row
                    .iter()
                    .zip(c)
                    .map(|(&x, &c)| (f64::from(x) - f64::from(c)).powi(2))
                    .sum();
                s.add(dist);
            }
            s
        })
        .collect();
    let mut total = ExactSum::new();
    for p in &parts {
        total.merge(p);
    }
    total
}

/// `partial.json`: a part's running sums with what it was scored with and from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Partial {
    /// Always [`PARTIAL_FORMAT`].
    pub format: String,
    /// [`PARTIAL_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// [`model_fingerprint`] of the model scored with: only parts of one model merge.
    pub model_fingerprint: String,
    /// The plugin that scored.
    pub strategy: StrategyRef,
    /// The strategy's value roles (segments report their share of the measure's total).
    pub value_roles: Vec<String>,
    /// The rows read, used and dropped, and missing values per column.
    pub input: InputReport,
    /// The compute backend that labelled the rows.
    pub backend: BackendReport,
    /// The ratio above which a customer was counted ambiguous.
    pub ambiguous_ratio: f64,
    /// Whether the ids were pseudonymised.
    pub ids_pseudonymized: bool,
    /// Customers per segment above the ambiguous ratio.
    pub ambiguous: Vec<u64>,
    /// [`ExactSum::terms`] of the scored customers' squared distances to their centroids.
    pub inertia: Vec<f64>,
    /// The segments' profile tallies.
    pub profile: PartialProfile,
}

impl Partial {
    /// The tally, checked for shape; an error says what is wrong.
    pub(crate) fn tally(&self) -> Result<Tally, String> {
        if self.format != PARTIAL_FORMAT {
            return Err(format!(
                "format is '{}', expected '{PARTIAL_FORMAT}'",
                self.format
            ));
        }
        if self.format_version != PARTIAL_FORMAT_VERSION {
            return Err(format!(
                "partial format version {} is not supported (this strata reads version \
                 {PARTIAL_FORMAT_VERSION})",
                self.format_version
            ));
        }
        let profiles = ProfileBuilder::from_partial(self.profile.clone())?;
        let k = self.profile.sizes.len();
        if self.ambiguous.len() != k {
            return Err(format!(
                "{} ambiguous counts for {k} segments",
                self.ambiguous.len()
            ));
        }
        if self.inertia.iter().any(|t| !t.is_finite()) {
            return Err("the inertia is not finite".into());
        }
        Ok(Tally {
            profiles,
            ambiguous: self.ambiguous.clone(),
            inertia: ExactSum::from_terms(&self.inertia),
        })
    }
}

/// Adds `b`'s input counts to `a` (the same columns bound; rows and missing values summed).
pub(crate) fn merge_input(a: &mut InputReport, b: &InputReport) {
    a.rows += b.rows;
    a.rows_used += b.rows_used;
    a.rows_dropped += b.rows_dropped;
    for (column, n) in &b.missing {
        *a.missing.entry(column.clone()).or_default() += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_merge_exactly() {
        // Rows of one feature, two centroids at 0 and 1.
        let rows = [0.1f32, 0.2, 0.9, 1.5];
        let centroids = [0.0f32, 1.0];
        let nearest = [0u32, 0, 1, 1];
        let m = |r: std::ops::Range<usize>| MatrixRef::new(&rows[r.clone()], r.len(), 1).unwrap();
        let mut a = Tally::new(2);
        a.add(&[1, 0], m(0..1), &centroids, &nearest[0..1]);
        let mut b = Tally::new(2);
        b.add(&[0, 2], m(1..4), &centroids, &nearest[1..4]);
        let mut whole = Tally::new(2);
        whole.add(&[1, 2], m(0..4), &centroids, &nearest);
        a.merge(b).unwrap();
        assert_eq!(a.ambiguous, [1, 2]);
        assert_eq!(a.inertia.value(), whole.inertia.value());
        let f = |x: f32, c: f64| (f64::from(x) - c).powi(2);
        let want = ExactSum::from_terms(&[f(0.1, 0.0), f(0.2, 0.0), f(0.9, 1.0), f(1.5, 1.0)]);
        assert_eq!(a.inertia.value(), want.value());
    }
}
