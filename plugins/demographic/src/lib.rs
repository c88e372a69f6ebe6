//! The demographic strategy: age, gender, income, education, marital status, region and
//! household size become features; segments are named like "Young female high-income".
//!
//! Preprocessing (learned in `fit`, stored in the saved model):
//! - numerics: missing values take the training median; `income` is log-scaled (`ln(1 + x)`)
//!   when it is non-negative and right-skewed (skewness > 1); then z-scored (default),
//!   robust-scaled (median / IQR) or left as they are (`--scale`);
//! - categoricals: missing values take the most frequent category; one indicator per category,
//!   weighted 1/√2 so any two different categories are at squared distance 1, the same as one
//!   standard deviation on a numeric, however many categories there are;
//! - `latitude` and `longitude`: the customer's unit vector on the sphere, so distances follow
//!   great-circle distance, weighted as two numerics, and optionally the distance to the
//!   nearest anchor ([`strata_plugin_api::geo`]).

#![deny(unsafe_code)]

use serde::{Deserialize, Serialize};
use strata_plugin_api::encode::{self, ByKind, ColumnState, Encode};
use strata_plugin_api::geo::{self, GeoEncoder};
use strata_plugin_api::label;
use strata_plugin_api::prep::Scale;
use strata_plugin_api::{
    Column, ColumnKind, Error, FeatureMatrix, Fitted, Input, Options, Role, SegmentProfile,
    Strategy, StrategyInfo,
};

/// The demographic strategy; the plugin exports it with `declare_strategy!`.
pub struct Demographic;

const ROLES: &[Role] = &[
    Role::numeric("age", "Age in years"),
    Role::categorical("gender", "Gender as recorded (Female/Male, F/M, ...)"),
    Role::numeric(
        "income",
        "Income in any unit (e.g. k$ a year); log-scaled when right-skewed",
    ),
    Role::categorical("education", "Highest education level"),
    Role::categorical("marital_status", "Marital status"),
    Role::categorical("region", "Region, city or urban/rural class"),
    Role::numeric("household_size", "People in the household"),
    geo::ROLES[0],
    geo::ROLES[1],
];

/// What the strategy says about itself when it loads.
const INFO: StrategyInfo = StrategyInfo::new("demographic", env!("CARGO_PKG_VERSION"), ROLES)
    .description("Segments people by age, gender, income, education, marital status, region, household size and location");

/// One fitted piece of the features: a column by its kind, or the two coordinates together.
/// Untagged, so a model saved before coordinates were a role reads as it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Encoder {
    /// The latitude and longitude columns.
    Geo(GeoEncoder),
    /// Any other column.
    Column(ByKind),
}

impl Encode for Encoder {
    fn width(&self) -> usize {
        match self {
            Encoder::Geo(g) => g.width(),
            Encoder::Column(c) => Encode::width(c),
        }
    }
    fn feature_names(&self) -> Vec<String> {
        match self {
            Encoder::Geo(g) => g.feature_names(),
            Encoder::Column(c) => Encode::feature_names(c),
        }
    }
    fn write(
        &self,
        input: &Input<'_>,
        out: &mut FeatureMatrix,
        offset: usize,
    ) -> Result<(), Error> {
        match self {
            Encoder::Geo(g) => g.write(input, out, offset),
            Encoder::Column(c) => Encode::write(c, input, out, offset),
        }
    }
    fn coded_levels(&self) -> Option<&[String]> {
        match self {
            Encoder::Geo(_) => None,
            Encoder::Column(c) => Encode::coded_levels(c),
        }
    }
}

/// What `fit` learned, stored in the saved model: the `--scale` and one encoder per column
/// (one for the two coordinates).
pub type State = ColumnState<Encoder>;

/// Values no person has: an age below 0 or above 130, a household below 1 or above 50 people.
/// A fit on them would label a segment of typos ("Young" for negative ages); they are errors.
fn check_plausible(c: &Column<'_>) -> Result<(), Error> {
    let (lo, hi, what) = match c.role {
        "age" => (0.0, 130.0, "an age in years"),
        "household_size" => (1.0, 50.0, "a number of people in a household"),
        _ => return Ok(()),
    };
    let v = c.numeric()?;
    let bad: Vec<f64> = v
        .iter()
        .copied()
        .filter(|x| !x.is_nan() && !(lo..=hi).contains(x))
        .collect();
    match bad.first() {
        None => Ok(()),
        Some(first) => Err(Error(format!(
            "column '{}' (role {}) has {} value{} outside {lo}..{hi} (for example {first}), \
             which is not {what}: fix them, leave them empty (missing), or bind the column to \
             another strategy",
            label::cut(c.name.to_owned()),
            c.role,
            bad.len(),
            if bad.len() == 1 { "" } else { "s" },
        ))),
    }
}

impl Strategy for Demographic {
    type State = State;

    fn info() -> StrategyInfo {
        INFO
    }

    fn fit(input: &Input, options: &Options) -> Result<Fitted<State>, Error> {
        options.check_known(&geo::OPTION_KEYS)?;
        let scale = options.scale_or(Scale::Zscore)?;
        let categorical = options.categorical_as()?;
        input.require_columns(ROLES)?;
        // Income is the one skewed money column: log-scaled when it is.
        let others: Vec<_> = input
            .columns()
            .iter()
            .filter(|c| !matches!(c.role, "latitude" | "longitude"))
            .collect();
        let mut encoders = strata_plugin_api::par::map(&others, |c| {
            check_plausible(c)?;
            ByKind::fit_as(c, scale, c.role == "income", categorical).map(Encoder::Column)
        })
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
        if let Some(g) = GeoEncoder::fit(input, options)? {
            encoders.push(Encoder::Geo(g));
        }
        Ok(Fitted {
            features: encode::feature_names(&encoders),
            state: ColumnState { scale, encoders },
        })
    }

    fn transform(state: &State, input: &Input, out: &mut FeatureMatrix) -> Result<(), Error> {
        encode::write_all(&state.encoders, input, out)
    }

    /// The columns' preprocessing as data, for `strata export-sql`; none with coordinates,
    /// whose sines and cosines the declared forms do not state, nor with categorical codes.
    fn preprocessing(state: &State) -> Option<strata_plugin_api::declare::Preprocessing> {
        if encode::has_codes(&state.encoders) {
            return None;
        }
        let columns: Option<Vec<&ByKind>> = state
            .encoders
            .iter()
            .map(|e| match e {
                Encoder::Column(c) => Some(c),
                Encoder::Geo(_) => None,
            })
            .collect();
        let columns: Vec<ByKind> = columns?.into_iter().cloned().collect();
        Some(strata_plugin_api::declare::Preprocessing::of(&columns))
    }

    fn categorical(state: &State) -> Vec<strata_plugin_api::declare::CodedFeature> {
        encode::coded_features(&state.encoders)
    }

    fn docs() -> &'static str {
        DOCS
    }

    fn label(_state: &State, p: &SegmentProfile) -> String {
        let mut words: Vec<String> = Vec::new();
        if let Some(age) = p.numeric_role("age") {
            words.push(age_word(age.mean).to_owned());
        }
        if let Some(g) = p
            .categorical_role("gender")
            .and_then(|g| g.dominant().cloned())
            && g.share >= 0.65
        {
            words.push(gender_word(g.value));
        }
        for (role, high, low) in [
            ("income", "high-income", "low-income"),
            ("household_size", "large-household", "small-household"),
        ] {
            if let Some(s) = p.numeric_role(role) {
                let z = s.z();
                if z > 0.5 {
                    words.push(high.into());
                } else if z < -0.5 {
                    words.push(low.into());
                } else if role == "income" {
                    words.push("mid-income".into());
                }
            }
        }
        let mut qualifiers = Vec::new();
        for role in ["education", "marital_status", "region"] {
            if let Some(l) = p.categorical_role(role).and_then(|c| c.dominant().cloned())
                && l.share >= 0.5
                && l.share >= 1.2 * l.overall_share
            {
                qualifiers.push(l.value.to_owned());
            }
        }
        if let (Some(lat), Some(lon)) = (p.numeric_role("latitude"), p.numeric_role("longitude")) {
            qualifiers.push(near(lat.mean, lon.mean));
        }
        let head = if words.is_empty() {
            "Customers".to_owned()
        } else {
            words.join(" ")
        };
        label::compose(&head, qualifiers, "Customers")
    }
}

const DOCS: &str = "\
Binding: any subset of the roles; a role left unbound takes a header with its name
(ignoring case and punctuation), e.g. `Household Size` for household_size.

Features:
  numerics    missing → training median; income → ln(1 + x) when non-negative and
              skewness > 1; then z-score (default), --scale robust (median/IQR) or none
  categorical missing → most frequent category; one indicator per category weighted
              1/√2, so two different categories are at squared distance 1 (one standard
              deviation on a numeric) however many categories there are
  unseen category when scoring: all indicators 0
  --algorithm kprototypes (or auto): each categorical column is one feature holding its
              category's code (sorted order; missing → most frequent), clustered by
              mismatches with the segment's mode; an unseen category matches no mode

Labels, from each segment's profile in the data's own units:
  age         mean < 35 young, < 55 middle-aged, else senior
  gender      named when one value has ≥ 65% of the segment (F/M/woman/man normalised)
  income      z > 0.5 high-income, < −0.5 low-income, else mid-income
  household   z > 0.5 large-household, < −0.5 small-household
  education, marital_status, region: the dominant value when it has ≥ 50% of the
              segment and ≥ 1.2× its overall share, e.g. \"Young female high-income, Urban\"

Location: roles latitude and longitude (degrees), bound together
  features    the unit vector on the sphere (3 features), so distances follow great-circle
              distance, scaled to the variance of two numerics (× geo_weight); missing →
              the customers' mean direction. The summary and report give each segment's
              centre and the radius holding 80% of it, and a map.
  labels      \"near 51.5°N 0.1°W\" (the segment's mean coordinates)
  options     anchor=LAT,LON[;LAT,LON...]  adds the distance (km) to the nearest anchor,
              z-scored (a store, a branch)
              invalid_coordinates=error|flag  |lat| > 90, |lon| > 180 or exactly 0,0: an
              error (default), or treated as missing and counted
              geo_weight=W  geography weighs as 2·W numerics (default 1)
  export-sql  not available for a model with coordinates

Default k: 5. Options: --scale, and the location options above.
";

/// "near 51.5°N 0.1°W", from a segment's mean coordinates (close to its centre for a segment
/// of one area; the host reports the exact spherical centre).
fn near(lat: f64, lon: f64) -> String {
    format!(
        "near {:.1}°{} {:.1}°{}",
        lat.abs(),
        if lat < 0.0 { 'S' } else { 'N' },
        lon.abs(),
        if lon < 0.0 { 'W' } else { 'E' }
    )
}

fn age_word(mean: f64) -> &'static str {
    if mean < 35.0 {
        "young"
    } else if mean < 55.0 {
        "middle-aged"
    } else {
        "senior"
    }
}

fn gender_word(value: &str) -> String {
    match value.to_ascii_lowercase().as_str() {
        "f" | "female" | "woman" | "w" => "female".into(),
        "m" | "male" | "man" => "male".into(),
        other => other.to_owned(),
    }
}

/// Kinds are fixed by the roles; used by tests.
pub fn role_kind(role: &str) -> Option<ColumnKind> {
    ROLES.iter().find(|r| r.name == role).map(|r| r.kind)
}

strata_plugin_api::declare_strategy!(Demographic);

#[cfg(test)]
mod tests {
    use super::*;
    use strata_plugin_api::{CategoricalStat, Column, LevelShare, NumericStat, Values};

    fn input<'a>(age: &'a [f64], codes: &'a [u32], dict: Vec<&'a str>) -> Input<'a> {
        Input::new(
            age.len(),
            vec![
                Column {
                    role: "age",
                    name: "Age",
                    kind: ColumnKind::Numeric,
                    values: Values::Numeric(age),
                },
                Column {
                    role: "gender",
                    name: "Genre",
                    kind: ColumnKind::Categorical,
                    values: Values::Categorical { codes, dict },
                },
            ],
        )
        .unwrap()
    }

    #[test]
    fn fit_and_transform_scale_and_encode() {
        let age = [20.0, 40.0, f64::NAN, 60.0];
        let codes = [0, 1, 1, strata_plugin_api::MISSING_CODE];
        let inp = input(&age, &codes, vec!["Male", "Female"]);
        let fitted = Demographic::fit(&inp, &Options::default()).unwrap();
        assert_eq!(fitted.features, vec!["Age", "Genre=Female", "Genre=Male"]);
        let mut buf = vec![0f32; 4 * 3];
        let mut m = FeatureMatrix::new(&mut buf, 3).unwrap();
        Demographic::transform(&fitted.state, &inp, &mut m).unwrap();
        // Age imputed with the median (40), which is also the mean: z = 0.
        assert_eq!(buf[2 * 3], 0.0);
        let w = strata_plugin_api::prep::ONE_HOT_WEIGHT as f32;
        assert_eq!(&buf[1..3], &[0.0, w]); // Male
        assert_eq!(&buf[3 * 3 + 1..3 * 3 + 3], &[w, 0.0]); // missing → most frequent, Female
        // The state round-trips through JSON, as it does through the saved model.
        let json = serde_json::to_string(&fitted.state).unwrap();
        assert_eq!(serde_json::from_str::<State>(&json).unwrap(), fitted.state);
    }

    /// A model saved before coordinates were a role holds `ColumnState<ByKind>`: it still
    /// reads, and transforms as it did.
    #[test]
    fn a_state_saved_before_coordinates_still_reads() {
        let age = [20.0, 40.0, f64::NAN, 60.0];
        let codes = [0, 1, 1, strata_plugin_api::MISSING_CODE];
        let inp = input(&age, &codes, vec!["Male", "Female"]);
        let old: ColumnState<ByKind> = ColumnState {
            scale: Scale::Zscore,
            encoders: inp
                .columns()
                .iter()
                .map(|c| ByKind::fit(c, Scale::Zscore, false).unwrap())
                .collect(),
        };
        let json = serde_json::to_string(&old).unwrap();
        let state: State = serde_json::from_str(&json).unwrap();
        assert!(matches!(
            state.encoders[1],
            Encoder::Column(ByKind::Categorical { .. })
        ));
        let fitted = Demographic::fit(&inp, &Options::default()).unwrap();
        let (mut a, mut b) = (vec![0f32; 4 * 3], vec![0f32; 4 * 3]);
        Demographic::transform(&state, &inp, &mut FeatureMatrix::new(&mut a, 3).unwrap()).unwrap();
        Demographic::transform(
            &fitted.state,
            &inp,
            &mut FeatureMatrix::new(&mut b, 3).unwrap(),
        )
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn no_columns_names_the_roles() {
        let inp = Input::new(3, vec![]).unwrap();
        let e = Demographic::fit(&inp, &Options::default()).unwrap_err();
        assert!(e.0.contains("age, gender, income"), "{e}");
    }

    #[test]
    fn robust_option_is_honoured_and_bad_scale_refused() {
        let age = [20.0, 30.0, 40.0, 100.0];
        let codes = [0, 0, 0, 0];
        let inp = input(&age, &codes, vec!["F"]);
        let robust = Options::from_json(r#"{"scale":"robust"}"#).unwrap();
        let f = Demographic::fit(&inp, &robust).unwrap();
        assert_eq!(f.state.scale, Scale::Robust);
        let bad = Options::from_json(r#"{"scale":"minmax"}"#).unwrap();
        assert!(Demographic::fit(&inp, &bad).is_err());
    }

    fn profile<'a>(age: f64, income_z: f64, female: f64) -> SegmentProfile<'a> {
        SegmentProfile {
            index: 0,
            k: 3,
            size: 10,
            share: 0.1,
            numeric: vec![
                NumericStat {
                    role: "age",
                    name: "Age",
                    mean: age,
                    overall_mean: 40.0,
                    overall_std: 10.0,
                },
                NumericStat {
                    role: "income",
                    name: "Income",
                    mean: 60.0 + 20.0 * income_z,
                    overall_mean: 60.0,
                    overall_std: 20.0,
                },
            ],
            categorical: vec![CategoricalStat {
                role: "gender",
                name: "Genre",
                levels: vec![
                    LevelShare {
                        value: "Female",
                        share: female,
                        overall_share: 0.5,
                    },
                    LevelShare {
                        value: "Male",
                        share: 1.0 - female,
                        overall_share: 0.5,
                    },
                ],
            }],
        }
    }

    #[test]
    fn labels_read_like_a_marketer_would_say_them() {
        let state = State {
            scale: Scale::Zscore,
            encoders: vec![],
        };
        assert_eq!(
            Demographic::label(&state, &profile(25.0, 1.2, 0.9)),
            "Young female high-income"
        );
        assert_eq!(
            Demographic::label(&state, &profile(60.0, -1.0, 0.1)),
            "Senior male low-income"
        );
        assert_eq!(
            Demographic::label(&state, &profile(45.0, 0.0, 0.5)),
            "Middle-aged mid-income"
        );
    }

    /// A long dominant category would make a label the host refuses: it is dropped instead.
    #[test]
    fn labels_stay_within_the_host_limit() {
        let long = "R".repeat(150);
        let mut p = profile(25.0, 0.0, 0.5);
        p.categorical.push(CategoricalStat {
            role: "region",
            name: "Region",
            levels: vec![LevelShare {
                value: &long,
                share: 0.9,
                overall_share: 0.2,
            }],
        });
        let state = State {
            scale: Scale::Zscore,
            encoders: vec![],
        };
        let label = Demographic::label(&state, &p);
        assert!(
            label.chars().count() <= strata_plugin_api::label::MAX_LABEL_CHARS,
            "{label}"
        );
        assert!(label.starts_with("Young"), "{label}");
    }
}
