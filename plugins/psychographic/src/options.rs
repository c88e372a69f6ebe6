//! The psychographic strategy's `--option`s: the Likert scale and the distance. `--scale` is
//! refused, since every item has a natural 0-1 scaling.

use serde::{Deserialize, Serialize};
use strata_plugin_api::{Error, Options};

use crate::encode::LikertScale;

/// The options a fit was asked for, checked.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `--option likert_scale`; `None` (or `auto`): inferred per item.
    pub likert_scale: Option<LikertScale>,
    /// `--option metric`, cosine by default.
    pub metric: Distance,
}

impl Settings {
    /// Reads and checks the options: unknown keys, `--scale`, `likert_scale` and `metric`.
    pub fn parse(options: &Options) -> Result<Settings, Error> {
        options.check_known(&["likert_scale", "metric"])?;
        if options.get("scale").is_some() {
            return Err(Error::new(
                "the psychographic strategy does not use --scale: Likert items are scaled by their \
                 answer scale and interest scores by their training range, both to 0-1; leave \
                 --scale out (see `strata plugins --strategy psychographic`)",
            ));
        }
        let likert_scale = match options.get_str("likert_scale") {
            Some(s) => LikertScale::parse_option(s)?,
            None => None,
        };
        let metric = match options.get_str("metric") {
            Some(s) => Distance::parse_option(s)?,
            None => Distance::Cosine,
        };
        Ok(Settings {
            likert_scale,
            metric,
        })
    }
}

/// The distance the segments are built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distance {
    /// Rows unit-normalised in `transform`, then Euclidean k-means.
    Cosine,
    /// Rows left as they are.
    Euclidean,
}

impl Distance {
    /// Parses `--option metric`: `cosine` or `euclidean`, in any case.
    pub fn parse_option(text: &str) -> Result<Distance, Error> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cosine" => Ok(Distance::Cosine),
            "euclidean" => Ok(Distance::Euclidean),
            _ => Err(Error(format!(
                "unknown metric '{text}': expected cosine or euclidean"
            ))),
        }
    }
}
