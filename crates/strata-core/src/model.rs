//! `model.json`: everything needed to score new customers the way a fit did.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Binding, CoreError, MissingPolicy, Mode};

pub const MODEL_FORMAT: &str = "strata-model";
/// Bumped when a field changes meaning or a required field is added.
pub const MODEL_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyRef {
    pub name: String,
    pub version: String,
    pub abi_major: u16,
    pub abi_minor: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// `customers` (one row each) or `transactions` (a log aggregated per customer).
    #[serde(default = "customers")]
    pub source: String,
    /// The id column (carried to outputs as text); `null`: ids are row numbers.
    pub id_column: Option<String>,
    pub delimiter: String,
    pub bindings: Vec<Binding>,
    pub missing: MissingPolicy,
    /// Options handed to the plugin.
    pub options: serde_json::Value,
}

fn customers() -> String {
    "customers".into()
}

fn kmeans_mode() -> Mode {
    Mode::Kmeans
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansRecord {
    pub seed: u64,
    pub max_iter: usize,
    pub tol: f64,
    pub n_init: usize,
    pub inertia: f64,
    pub iterations: usize,
    pub converged: bool,
}

/// A saved segmentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub format: String,
    pub format_version: u32,
    pub strata_version: String,
    pub strategy: StrategyRef,
    /// How customers were put into segments.
    #[serde(default = "kmeans_mode")]
    pub mode: Mode,
    pub input: InputSpec,
    pub metric: String,
    pub features: Vec<String>,
    /// The plugin's preprocessing state (scaling, encodings, imputation values).
    pub state: serde_json::Value,
    pub k: usize,
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
}

impl Model {
    /// Reads and checks a saved model.
    pub fn load(path: &Path) -> Result<Model, CoreError> {
        let err = |message: String| CoreError::Model {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let model: Model =
            serde_json::from_str(&text).map_err(|e| err(format!("not a Strata model: {e}")))?;
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
        Ok(())
    }
}
