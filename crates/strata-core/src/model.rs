//! `model.json`: everything needed to score new customers the way a fit did.

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use strata_format::StrategyRef;
use strata_host::Metric;

use crate::{Binding, CoreError, MissingPolicy, Mode, Source};

/// The `format` every model file carries.
pub const MODEL_FORMAT: &str = "strata-model";
/// Bumped when a field changes meaning or a required field is added.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// What a model reads: the columns it was fitted on and how they were read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// `customers` (one row each) or `transactions` (a log aggregated per customer); models
    /// written before the field existed are customer models.
    #[serde(default = "customers", with = "source_name")]
    pub source: Source,
    /// The id column (carried to outputs as text); `null`: ids are row numbers.
    pub id_column: Option<String>,
    /// How the training input was stored (`csv`, `parquet`, `arrow-file`, `arrow-stream`);
    /// models written before the field existed were fitted on CSV. Scoring reads any format:
    /// columns bind by name.
    #[serde(default = "csv")]
    pub format: String,
    /// The field delimiter of a CSV training file, one character; absent for a columnar one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Each strategy role and the column it was bound to (found by name in a new file).
    pub bindings: Vec<Binding>,
    /// What the fit did with missing values; scoring does the same.
    pub missing: MissingPolicy,
    /// Options handed to the plugin.
    pub options: serde_json::Value,
}

fn csv() -> String {
    "csv".into()
}

fn customers() -> Source {
    Source::Customers
}

/// [`Source`] as the words `customers`, `transactions` and `summary`.
mod source_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::Source;

    pub fn serialize<S: Serializer>(v: &Source, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match v {
            Source::Customers => "customers",
            Source::Transactions => "transactions",
            Source::Summary => "summary",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Source, D::Error> {
        match String::deserialize(d)?.as_str() {
            "customers" => Ok(Source::Customers),
            "transactions" => Ok(Source::Transactions),
            "summary" => Ok(Source::Summary),
            other => Err(serde::de::Error::custom(format!(
                "unknown input source '{other}' (customers, transactions or summary)"
            ))),
        }
    }
}

/// [`Metric`] by its name (`euclidean`, `cosine`).
mod metric_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use strata_host::Metric;

    pub fn serialize<S: Serializer>(v: &Metric, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Metric, D::Error> {
        let name = String::deserialize(d)?;
        [Metric::Euclidean, Metric::Cosine]
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown metric '{name}'")))
    }
}

fn kmeans_mode() -> Mode {
    Mode::Kmeans
}

/// How a k-means fit ran: its settings and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansRecord {
    /// `--seed`.
    pub seed: u64,
    /// `--max-iter`.
    pub max_iter: usize,
    /// `--tol`.
    pub tol: f64,
    /// `--n-init`: the restarts.
    pub n_init: usize,
    /// Sum of squared distances to the centroids, in the scaled space.
    pub inertia: f64,
    /// Lloyd iterations of the restart kept.
    pub iterations: usize,
    /// Whether it stopped because the centroids settled.
    pub converged: bool,
}

/// A saved segmentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// [`MODEL_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The Strata that wrote it.
    pub strata_version: String,
    /// The strategy that fitted it; scoring needs the same one at a compatible version.
    pub strategy: StrategyRef,
    /// How customers were put into segments.
    #[serde(default = "kmeans_mode")]
    pub mode: Mode,
    /// What it reads and how.
    pub input: InputSpec,
    /// The distance the centroids were fitted with.
    #[serde(with = "metric_name")]
    pub metric: Metric,
    /// The features' names, in order.
    pub features: Vec<String>,
    /// The plugin's preprocessing state (scaling, encodings, imputation values).
    pub state: serde_json::Value,
    /// Segments.
    pub k: usize,
    /// Features per customer.
    pub d: usize,
    /// Centroids of d scaled features: k of them, or more when small segments were merged
    /// (`centroid_segments` then says which segment each belongs to).
    pub centroids: Vec<Vec<f32>>,
    /// Per centroid, the segment it scores into (`--min-segment-size` merged some).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub centroid_segments: Option<Vec<u32>>,
    /// The segments' labels, by index.
    pub labels: Vec<String>,
    /// How k-means ran (k-means mode).
    pub kmeans: Option<KMeansRecord>,
    /// RFM quintile cut points, when recency, frequency and monetary were bound.
    #[serde(default)]
    pub rfm: Option<strata_behavior::RfmCuts>,
    /// Set when the fit pseudonymised its ids (`--pseudonymize-ids`): `assign` with this model
    /// then requires the same salt, so a scoring run cannot write raw ids by omission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudonyms: Option<PseudonymKey>,
    /// Set when the segments were found by k-prototypes (`--algorithm`): the mixed
    /// distance, and the prototypes' numeric means in f64, that score new customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kprototypes: Option<crate::mixed::KPrototypesRecord>,
}

/// How a model's fit pseudonymised ids, without the salt: a keyed fingerprint of it, to tell
/// the same salt from another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PseudonymKey {
    /// [`crate::privacy::Pseudonymizer::fingerprint`] of the salt.
    pub salt_fingerprint: String,
}

pub use crate::settings::MAX_MODEL_K;

impl Model {
    /// Reads and checks a saved model.
    pub fn load(path: &Path) -> Result<Model, CoreError> {
        let err = |message: String| CoreError::Model {
            path: path.to_owned(),
            message,
        };
        // A model in a run folder must be the one its manifest lists, not a file of another run.
        let bytes = strata_format::commit::read_checked(path).map_err(|e| match e {
            strata_format::commit::ReadCheckedError::Io { error, .. } => {
                err(format!("cannot read: {error}"))
            }
            strata_format::commit::ReadCheckedError::Manifest(m) => m.into(),
        })?;
        let model: Model =
            serde_json::from_slice(&bytes).map_err(|e| err(format!("not a Strata model: {e}")))?;
        model.validate().map_err(err)?;
        Ok(model)
    }

    /// Checks the shapes and values that scoring relies on.
    pub fn validate(&self) -> Result<(), String> {
        if self.format != MODEL_FORMAT {
            return Err(format!(
                "format is '{}', expected '{MODEL_FORMAT}'",
                self.format
            ));
        }
        if self.format_version != MODEL_FORMAT_VERSION {
            return Err(format!(
                "model format version {} is not supported (this strata reads version {MODEL_FORMAT_VERSION})",
                self.format_version
            ));
        }
        if self.strategy.abi_major != strata_abi::ABI_MAJOR {
            return Err(format!(
                "it was fitted through plugin ABI {}.{}; this strata speaks ABI {}.x",
                self.strategy.abi_major,
                self.strategy.abi_minor,
                strata_abi::ABI_MAJOR
            ));
        }
        // Scoring holds k centroids and reports k segments; a damaged k must not allocate
        // without bound (a fit never makes more segments than this).
        if self.k > MAX_MODEL_K {
            return Err(format!(
                "k = {} is more segments than a model may have ({MAX_MODEL_K})",
                self.k
            ));
        }
        if self.k == 0 || self.labels.len() != self.k {
            return Err(format!("k = {} but {} labels", self.k, self.labels.len()));
        }
        match self.mode {
            Mode::Kmeans => {
                let ok = match &self.centroid_segments {
                    None => self.centroids.len() == self.k,
                    Some(map) => {
                        map.len() == self.centroids.len()
                            && map.iter().all(|&s| (s as usize) < self.k)
                            && (0..self.k as u32).all(|s| map.contains(&s))
                    }
                };
                if !ok || self.kmeans.is_none() {
                    return Err(format!(
                        "k = {} but {} centroids{}",
                        self.k,
                        self.centroids.len(),
                        if self.centroid_segments.is_some() {
                            " that do not map onto the segments"
                        } else {
                            ""
                        }
                    ));
                }
            }
            Mode::Rfm if self.rfm.is_none() => {
                return Err("an RFM model without its cut points".into());
            }
            _ => {}
        }
        if self.features.len() != self.d || self.centroids.iter().any(|c| c.len() != self.d) {
            return Err(format!(
                "centroids and feature names disagree with d = {}",
                self.d
            ));
        }
        if self.centroids.iter().flatten().any(|v| !v.is_finite()) {
            return Err("a centroid has a non-finite value".into());
        }
        if let Some(kp) = &self.kprototypes {
            if !(kp.gamma.is_finite() && kp.gamma >= 0.0) {
                return Err(format!("kprototypes.gamma is {}", kp.gamma));
            }
            if kp.categorical.is_empty()
                || kp.categorical.windows(2).any(|w| w[0] >= w[1])
                || kp.categorical.iter().any(|&f| f >= self.d)
            {
                return Err(format!(
                    "kprototypes.categorical must list ascending features below d = {}",
                    self.d
                ));
            }
            let mixed = crate::mixed::Mixed::saved(self.d, kp);
            mixed.saved_prototypes(kp, &self.centroids)?;
            if kp
                .numeric_prototypes
                .iter()
                .flatten()
                .any(|v| !v.is_finite())
            {
                return Err("a k-prototypes mean is not finite".into());
            }
        }
        Ok(())
    }
}
