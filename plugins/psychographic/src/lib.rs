//! The psychographic strategy: survey answers and interest scores become features; segments are
//! named after what they care about most, like "High Outdoor: Hiking & Camping, low Fashion:
//! Brands".
//!
//! Roles (all groups of columns; bind at least one column):
//! - `likert`: survey items answered on a Likert scale. The scale comes from
//!   `--option likert_scale=1-5|1-7|0-10`, or is inferred per item: the smallest of 1–5, 1–7,
//!   0–10 that holds the item's observed answers (an item outside 0–10 is an error). Each item
//!   becomes (x − lo) / (hi − lo), in [0, 1].
//! - `interests`: interest or affinity scores of any range, min–max scaled to [0, 1] with the
//!   training minimum and maximum.
//! - `lifestyle`, `values`: categorical, one indicator per category (`prep::OneHot`).
//!
//! Missing answers take the item's training median (categories: the most frequent one). New
//! values outside the training range are clamped to [0, 1].
//!
//! Distance: cosine by default (`--option metric=cosine`): `transform` divides each feature row
//! by its Euclidean norm (a row of zeros stays zero), so the host's Euclidean k-means compares
//! the shape of answer profiles, not how high someone answers overall. The plugin declares
//! `Metric::Euclidean` because it normalises itself; `--option metric=euclidean` skips the
//! normalisation.

#![deny(unsafe_code)]

mod encode;
mod label;
mod options;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use strata_plugin_api::encode::{coded_features, feature_names, write_all};
use strata_plugin_api::prep::unit_normalise;
use strata_plugin_api::{
    Error, FeatureMatrix, Fitted, Input, Metric, Options, Role, SegmentProfile, Strategy,
    StrategyInfo,
};

pub use encode::{Encoder, LikertScale};
pub use label::segment_label;
pub use options::{Distance, Settings};

/// The psychographic strategy; the plugin exports it with `declare_strategy!`.
pub struct Psychographic;

const ROLES: &[Role] = &[
    Role::numeric(
        "likert",
        "Survey items answered on a Likert scale (e.g. 1 = strongly disagree .. 5 = strongly agree); \
         scale from --option likert_scale=1-5|1-7|0-10, else inferred per item; scaled to 0-1",
    )
    .multi(),
    Role::numeric(
        "interests",
        "Interest or affinity scores on any numeric range (e.g. 0-10, minutes, visits); \
         min-max scaled to 0-1 with the training range",
    )
    .multi(),
    Role::categorical(
        "lifestyle",
        "Lifestyle categories (e.g. Active, Urban, Homebody); one indicator per category",
    )
    .multi(),
    Role::categorical(
        "values",
        "Values or attitude categories (e.g. Traditional, Progressive); one indicator per category",
    )
    .multi(),
];

/// What the strategy says about itself when it loads.
const INFO: StrategyInfo = StrategyInfo::new("psychographic", env!("CARGO_PKG_VERSION"), ROLES)
    .description("Segments people by survey answers (Likert items), interest scores, lifestyle and values; cosine distance by default")
    // Cosine is done by `transform` itself (so `metric=euclidean` can turn it off).
    .metric(Metric::Euclidean)
    .default_k(4);

/// Everything `transform` and `label` need; stored in the saved model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The distance the segments are built on (`--option metric`, cosine by default).
    pub metric: Distance,
    /// One encoder per bound column, in the order of the features they write.
    pub encoders: Vec<Encoder>,
}

const DOCS: &str = "\
Options (--option KEY=VALUE):
  likert_scale=1-5|1-7|0-10|auto   the answer scale of every `likert` item (default: auto, inferred
                                   per item as the smallest of 1-5, 1-7, 0-10 that holds its
                                   answers; an item outside 0-10 is an error: bind it as
                                   `interests`). An answer outside a declared scale is an error.
  metric=cosine|euclidean          cosine (default): each customer's feature row is divided by its
                                   length before clustering, so segments group similar answer
                                   profiles whatever their overall level (a row of zeros stays
                                   zero); euclidean: rows are left as they are. The plugin does the
                                   normalisation itself, so `strata plugins` shows metric euclidean.
  --scale is not used: the scaling below is fixed.

Features:
  likert items     (x - lo) / (hi - lo) with the item's scale: 0 at the bottom, 1 at the top.
  interests        (x - min) / (max - min) with the training min and max (0 when constant).
  lifestyle/values one indicator per category seen in training, weighted 1/sqrt(2); an unseen
                   category is all zeros. Under --algorithm kprototypes (or auto) each is one
                   feature holding its category's code instead, and cosine normalises the
                   numeric features alone.
  Missing answers take the item's training median, missing categories the most frequent one.
  Scoring new data with a saved model clamps numeric features to [0, 1].

Labels:
  From the items whose segment mean sits furthest above the overall mean, in overall standard
  deviations (at least 0.5): up to two, e.g. \"High Outdoor: Hiking & Camping\" (items sharing a
  \"Group: \" prefix are merged), then the item furthest below (\", low Fashion: Brands\"), then a
  lifestyle or values category that is at least half the segment and 1.5 times its overall share
  (\", mostly Active\"). With none of these: \"Mainstream, no strong interests\". A comma in an
  item's name becomes \"/\" (\"Hiphop, Rap\" reads \"Hiphop/Rap\"); detail is dropped to keep
  labels within 120 characters.";

impl Strategy for Psychographic {
    type State = State;

    fn info() -> StrategyInfo {
        INFO
    }

    fn fit(input: &Input, options: &Options) -> Result<Fitted<State>, Error> {
        let settings = Settings::parse(options)?;
        if input.columns().is_empty() {
            let roles: Vec<&str> = ROLES.iter().map(|r| r.name).collect();
            return Err(Error(format!(
                "bind at least one column to one of the roles {} (e.g. --map \"likert=Q*\")",
                roles.join(", ")
            )));
        }
        let categorical = options.categorical_as()?;
        let encoders = input
            .columns()
            .iter()
            .map(|c| Encoder::fit(c, settings.likert_scale, categorical))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Fitted {
            features: feature_names(&encoders),
            state: State {
                metric: settings.metric,
                encoders,
            },
        })
    }

    fn transform(state: &State, input: &Input, out: &mut FeatureMatrix) -> Result<(), Error> {
        write_all(&state.encoders, input, out)?;
        if state.metric == Distance::Cosine {
            let d = out.n_features();
            let coded = coded_features(&state.encoders);
            if coded.is_empty() {
                out.as_mut_slice()
                    .chunks_exact_mut(d)
                    .for_each(unit_normalise);
            } else {
                // Under k-prototypes the codes stay codes: the numeric part alone is
                // normalised, and categories count as mismatches beside it.
                let numeric: Vec<usize> = (0..d)
                    .filter(|f| coded.iter().all(|c| c.index != *f))
                    .collect();
                let mut part = vec![0f32; numeric.len()];
                for row in out.as_mut_slice().chunks_exact_mut(d) {
                    for (p, &f) in part.iter_mut().zip(&numeric) {
                        *p = row[f];
                    }
                    unit_normalise(&mut part);
                    for (p, &f) in part.iter().zip(&numeric) {
                        row[f] = *p;
                    }
                }
            }
        }
        Ok(())
    }

    fn categorical(state: &State) -> Vec<strata_plugin_api::declare::CodedFeature> {
        coded_features(&state.encoders)
    }

    fn label(_state: &State, p: &SegmentProfile) -> String {
        segment_label(p)
    }

    fn docs() -> &'static str {
        DOCS
    }
}

strata_plugin_api::declare_strategy!(Psychographic);
