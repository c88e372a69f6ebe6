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

use serde::{Deserialize, Serialize};
use strata_plugin_api::label;
use strata_plugin_api::prep::{NumericScaler, OneHot, median, unit_normalise};
use strata_plugin_api::{
    Error, FeatureMatrix, Fitted, Input, Metric, NumericStat, Options, Role, SegmentProfile,
    Strategy, StrategyInfo,
};

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
                   category is all zeros.
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

/// Items that move a segment at least this many overall standard deviations are named.
const NOTABLE_Z: f64 = 0.5;
/// A category is named when it is at least this share of the segment ...
const DOMINANT_SHARE: f64 = 0.5;
/// ... and this many times its overall share.
const DOMINANT_LIFT: f64 = 1.5;
const FALLBACK_LABEL: &str = "Mainstream, no strong interests";

/// A Likert answer scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LikertScale {
    /// Answers 1 to 5.
    #[serde(rename = "1-5")]
    OneToFive,
    /// Answers 1 to 7.
    #[serde(rename = "1-7")]
    OneToSeven,
    /// Answers 0 to 10.
    #[serde(rename = "0-10")]
    ZeroToTen,
}

impl LikertScale {
    /// Smallest first: inference takes the first that holds the answers.
    pub const ALL: [LikertScale; 3] = [
        LikertScale::OneToFive,
        LikertScale::OneToSeven,
        LikertScale::ZeroToTen,
    ];

    /// The lowest and highest answer, `(lo, hi)`.
    pub fn bounds(self) -> (f64, f64) {
        match self {
            LikertScale::OneToFive => (1.0, 5.0),
            LikertScale::OneToSeven => (1.0, 7.0),
            LikertScale::ZeroToTen => (0.0, 10.0),
        }
    }

    /// The name `--option likert_scale` takes, e.g. `"1-7"`.
    pub fn name(self) -> &'static str {
        match self {
            LikertScale::OneToFive => "1-5",
            LikertScale::OneToSeven => "1-7",
            LikertScale::ZeroToTen => "0-10",
        }
    }

    fn holds(self, min: f64, max: f64) -> bool {
        let (lo, hi) = self.bounds();
        min >= lo && max <= hi
    }

    /// Parses `--option likert_scale`: `None` for `auto`.
    pub fn parse_option(text: &str) -> Result<Option<LikertScale>, Error> {
        let t: String = text
            .trim()
            .replace(['\u{2013}', '\u{2014}'], "-")
            .replace("..", "-")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if t.eq_ignore_ascii_case("auto") {
            return Ok(None);
        }
        LikertScale::ALL
            .into_iter()
            .find(|s| s.name() == t)
            .map(Some)
            .ok_or_else(|| {
                Error(format!(
                    "unknown likert_scale '{text}': expected 1-5, 1-7, 0-10 or auto"
                ))
            })
    }

    /// The smallest scale holding answers `min..=max` of item `column`.
    pub fn infer(column: &str, min: f64, max: f64) -> Result<LikertScale, Error> {
        LikertScale::ALL
            .into_iter()
            .find(|s| s.holds(min, max))
            .ok_or_else(|| {
                Error(format!(
                    "column '{column}' (role likert) has answers from {} to {}, outside every \
                     Likert scale (1-5, 1-7, 0-10); bind it as `interests` (any range) or fix the data",
                    num(min),
                    num(max)
                ))
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

/// How one input column becomes features. Numeric items keep a [`NumericScaler`] with
/// `center` = the bottom of the range and `scale` = its width, so `apply` gives 0..1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Encoder {
    /// A `likert` item on `scale`.
    Likert {
        /// The item's answer scale: given, or inferred from its training answers.
        scale: LikertScale,
        /// Median imputation, then `(x − lo) / (hi − lo)` with the scale's bounds.
        scaler: NumericScaler,
    },
    /// An `interests` score; `scaler.center` is the training minimum, `scaler.center +
    /// scaler.scale` the maximum (scale 1 when the item is constant).
    Interest {
        /// Median imputation, then min–max scaling with the training range.
        scaler: NumericScaler,
    },
    /// A `lifestyle` or `values` column.
    Categorical {
        /// The role the column is bound to: `lifestyle` or `values`.
        role: String,
        /// The categories and imputed category learned from the training values.
        onehot: OneHot,
    },
}

impl Encoder {
    fn width(&self) -> usize {
        match self {
            Encoder::Likert { .. } | Encoder::Interest { .. } => 1,
            Encoder::Categorical { onehot, .. } => onehot.n_features(),
        }
    }
    fn column(&self) -> &str {
        match self {
            Encoder::Likert { scaler, .. } | Encoder::Interest { scaler } => &scaler.column,
            Encoder::Categorical { onehot, .. } => &onehot.column,
        }
    }
}

/// Everything `transform` and `label` need; stored in the saved model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The distance the segments are built on (`--option metric`, cosine by default).
    pub metric: Distance,
    /// One encoder per bound column, in the order of the features they write.
    pub encoders: Vec<Encoder>,
}

impl Strategy for Psychographic {
    type State = State;

    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "psychographic",
            version: env!("CARGO_PKG_VERSION"),
            description: "Segments people by survey answers (Likert items), interest scores, lifestyle and values; cosine distance by default",
            roles: ROLES,
            // Cosine is done by `transform` itself (so `metric=euclidean` can turn it off).
            metric: Metric::Euclidean,
            default_k: 4,
        }
    }

    fn fit(input: &Input, options: &Options) -> Result<Fitted<State>, Error> {
        options.check_known(&["likert_scale", "metric"])?;
        if options.get("scale").is_some() {
            return Err(Error::new(
                "the psychographic strategy does not use --scale: Likert items are scaled by their \
                 answer scale and interest scores by their training range, both to 0-1; leave \
                 --scale out (see `strata plugins --strategy psychographic`)",
            ));
        }
        let declared = match options.get_str("likert_scale") {
            Some(s) => LikertScale::parse_option(s)?,
            None => None,
        };
        let metric = match options.get_str("metric") {
            Some(s) => Distance::parse_option(s)?,
            None => Distance::Cosine,
        };
        if input.columns().is_empty() {
            let roles: Vec<&str> = ROLES.iter().map(|r| r.name).collect();
            return Err(Error(format!(
                "bind at least one column to one of the roles {} (e.g. --map \"likert=Q*\")",
                roles.join(", ")
            )));
        }
        let mut encoders = Vec::new();
        let mut features = Vec::new();
        for c in input.columns() {
            let enc = match c.role {
                "likert" => {
                    let v = c.numeric()?;
                    let (min, max) = present_range(c.name, c.role, v)?;
                    let scale = match declared {
                        Some(s) if s.holds(min, max) => s,
                        Some(s) => {
                            return Err(Error(format!(
                                "column '{}' (role likert) has answers from {} to {}, outside the \
                                 Likert scale {} given by --option likert_scale",
                                c.name,
                                num(min),
                                num(max),
                                s.name()
                            )));
                        }
                        None => LikertScale::infer(c.name, min, max)?,
                    };
                    let (lo, hi) = scale.bounds();
                    Encoder::Likert {
                        scale,
                        scaler: range_scaler(c.name, v, lo, hi)?,
                    }
                }
                "interests" => {
                    let v = c.numeric()?;
                    let (min, max) = present_range(c.name, c.role, v)?;
                    Encoder::Interest {
                        scaler: range_scaler(c.name, v, min, max)?,
                    }
                }
                "lifestyle" | "values" => {
                    let (codes, dict) = c.categorical()?;
                    Encoder::Categorical {
                        role: c.role.to_owned(),
                        onehot: OneHot::fit(c.name, codes, dict)?,
                    }
                }
                other => {
                    return Err(Error(format!(
                        "column '{}' is bound to '{other}', which is not a role of the \
                         psychographic strategy",
                        c.name
                    )));
                }
            };
            match &enc {
                Encoder::Categorical { onehot, .. } => features.extend(onehot.feature_names()),
                _ => features.push(c.name.to_owned()),
            }
            encoders.push(enc);
        }
        Ok(Fitted {
            features,
            state: State { metric, encoders },
        })
    }

    fn transform(state: &State, input: &Input, out: &mut FeatureMatrix) -> Result<(), Error> {
        enum Source<'s, 'a> {
            Numeric(&'a [f64], &'s NumericScaler),
            Categorical(&'a [u32], Vec<Option<usize>>, &'s OneHot),
        }
        let mut sources = Vec::with_capacity(state.encoders.len());
        for enc in &state.encoders {
            let col = input.require_column(enc.column())?;
            sources.push(match enc {
                Encoder::Likert { scaler, .. } | Encoder::Interest { scaler } => {
                    Source::Numeric(col.numeric()?, scaler)
                }
                Encoder::Categorical { onehot, .. } => {
                    let (codes, dict) = col.categorical()?;
                    Source::Categorical(codes, onehot.code_map(dict), onehot)
                }
            });
        }
        let d = out.n_features();
        let width: usize = state.encoders.iter().map(Encoder::width).sum();
        if width != d {
            return Err(Error(format!(
                "the model has {width} features but the output has room for {d}"
            )));
        }
        // Row by row: each output row is written once, contiguously, then normalised.
        for (row, chunk) in out.as_mut_slice().chunks_exact_mut(d).enumerate() {
            let mut offset = 0;
            for s in &sources {
                match s {
                    Source::Numeric(v, scaler) => {
                        chunk[offset] = scaler.apply(v[row]).clamp(0.0, 1.0);
                        offset += 1;
                    }
                    Source::Categorical(codes, map, onehot) => {
                        let w = onehot.n_features();
                        onehot.apply(codes[row], map, &mut chunk[offset..offset + w]);
                        offset += w;
                    }
                }
            }
            if state.metric == Distance::Cosine {
                unit_normalise(chunk);
            }
        }
        Ok(())
    }

    fn label(_state: &State, p: &SegmentProfile) -> String {
        segment_label(p)
    }

    fn docs() -> &'static str {
        DOCS
    }
}

/// Smallest and largest present value, or an error naming an all-missing column.
fn present_range(column: &str, role: &str, values: &[f64]) -> Result<(f64, f64), Error> {
    let (min, max) = values
        .iter()
        .filter(|x| !x.is_nan())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    if min > max {
        return Err(Error(format!(
            "column '{column}' (role {role}) has no values: every row is missing"
        )));
    }
    Ok((min, max))
}

/// A scaler mapping `lo..=hi` to `0..=1`, imputing the training median.
fn range_scaler(column: &str, values: &[f64], lo: f64, hi: f64) -> Result<NumericScaler, Error> {
    let impute = median(values).ok_or_else(|| {
        Error(format!(
            "column '{column}' has no values: every row is missing"
        ))
    })?;
    let width = hi - lo;
    Ok(NumericScaler {
        column: column.to_owned(),
        impute,
        log: false,
        center: lo,
        scale: if width > 0.0 && width.is_finite() {
            width
        } else {
            1.0
        },
        weight: 1.0,
    })
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// "Outdoor: Hiking" and "Outdoor: Camping" → "Outdoor: Hiking & Camping"; else "A & B".
fn join_items(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [a] => (*a).to_owned(),
        [a, b, ..] => {
            let group = |s: &str| {
                s.split_once(": ")
                    .map(|(g, rest)| (g.to_owned(), rest.to_owned()))
            };
            match (group(a), group(b)) {
                (Some((ga, ra)), Some((gb, rb))) if ga == gb => format!("{ga}: {ra} & {rb}"),
                _ => format!("{a} & {b}"),
            }
        }
    }
}

/// An item's name as a label shows it: commas separate the label's parts, so "Hiphop, Rap"
/// reads "Hiphop/Rap".
fn item_name(name: &str) -> String {
    name.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

/// Builds a segment's label (see the crate docs and `docs()`).
pub fn segment_label(p: &SegmentProfile) -> String {
    let items: Vec<&NumericStat> = p
        .numeric
        .iter()
        .filter(|s| s.role == "likert" || s.role == "interests")
        .collect();
    let mut highs: Vec<&NumericStat> = items
        .iter()
        .copied()
        .filter(|s| s.z() >= NOTABLE_Z)
        .collect();
    highs.sort_by(|a, b| b.z().total_cmp(&a.z()).then(a.name.cmp(b.name)));
    let mut lows: Vec<&NumericStat> = items
        .iter()
        .copied()
        .filter(|s| s.z() <= -NOTABLE_Z)
        .collect();
    lows.sort_by(|a, b| a.z().total_cmp(&b.z()).then(a.name.cmp(b.name)));
    let mut qualifiers: Vec<(f64, String)> = p
        .categorical
        .iter()
        .filter(|c| c.role == "lifestyle" || c.role == "values")
        .filter_map(|c| {
            let d = c.dominant()?;
            (d.share >= DOMINANT_SHARE && d.share >= DOMINANT_LIFT * d.overall_share).then(|| {
                let value = if is_yes_no(d.value) {
                    format!("{}: {}", c.name, d.value)
                } else {
                    d.value.to_owned()
                };
                (d.share / d.overall_share.max(1e-12), value)
            })
        })
        .collect();
    qualifiers.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    // The main part names the lifts above the mean, or, if there are none, those below.
    let (primary, primary_word, secondary) = if highs.is_empty() {
        (&lows, "low", &highs)
    } else {
        (&highs, "high", &lows)
    };
    let build = |n_primary: usize, n_secondary: usize, n_qual: usize| -> String {
        let names = |v: &[&NumericStat], n: usize| -> String {
            let items: Vec<String> = v.iter().take(n).map(|s| item_name(s.name)).collect();
            join_items(&items.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let mut parts: Vec<String> = Vec::new();
        if n_primary > 0 && !primary.is_empty() {
            parts.push(format!("{primary_word} {}", names(primary, n_primary)));
            if n_secondary > 0 && !secondary.is_empty() {
                parts.push(format!("low {}", names(secondary, n_secondary)));
            }
        }
        // With nothing else to say, a dominant category is always named.
        let n_qual = if parts.is_empty() {
            n_qual.max(1)
        } else {
            n_qual
        };
        if n_qual > 0 && !qualifiers.is_empty() {
            if parts.is_empty() {
                parts.push("mainstream".into());
            }
            let q: Vec<&str> = qualifiers
                .iter()
                .take(n_qual)
                .map(|q| q.1.as_str())
                .collect();
            parts.push(format!("mostly {}", q.join(" & ")));
        }
        if parts.is_empty() {
            FALLBACK_LABEL.to_owned()
        } else {
            label::capitalise(&parts.join(", "))
        }
    };
    // Richest first; drop detail until the label fits.
    for (p, s, q) in [
        (2, 1, 2),
        (2, 1, 1),
        (2, 1, 0),
        (2, 0, 0),
        (1, 1, 0),
        (1, 0, 0),
    ] {
        let label = build(p, s, q);
        if label.chars().count() <= label::MAX_LABEL_CHARS {
            return label;
        }
    }
    // One name alone is too long: cut it.
    label::cut(build(1, 0, 1))
}

fn is_yes_no(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "yes" | "no" | "y" | "n" | "true" | "false" | "0" | "1"
    )
}

strata_plugin_api::declare_strategy!(Psychographic);

#[cfg(test)]
mod tests {
    use super::*;
    use strata_plugin_api::{
        CategoricalStat, Column, ColumnKind, LevelShare, MISSING_CODE, Values,
    };

    fn numeric<'a>(role: &'a str, name: &'a str, v: &'a [f64]) -> Column<'a> {
        Column {
            role,
            name,
            kind: ColumnKind::Numeric,
            values: Values::Numeric(v),
        }
    }

    fn opts(json: &str) -> Options {
        Options::from_json(json).unwrap()
    }

    const EUCLIDEAN: &str = r#"{"metric":"euclidean"}"#;

    /// Fits and transforms `input`; returns the features and the row-major matrix.
    fn run(input: &Input, options: &Options) -> (Fitted<State>, Vec<f32>) {
        let fitted = Psychographic::fit(input, options).unwrap();
        let d = fitted.features.len();
        let mut buf = vec![f32::NAN; input.n_rows() * d];
        Psychographic::transform(
            &fitted.state,
            input,
            &mut FeatureMatrix::new(&mut buf, d).unwrap(),
        )
        .unwrap();
        (fitted, buf)
    }

    #[test]
    fn likert_and_interests_scale_to_unit_interval() {
        let q = [1.0, 3.0, 5.0, 2.0];
        let interest = [2.0, 4.0, 10.0, 6.0];
        let inp = Input::new(
            4,
            vec![
                numeric("likert", "Q1", &q),
                numeric("interests", "Travel", &interest),
            ],
        )
        .unwrap();
        let (f, buf) = run(&inp, &opts(EUCLIDEAN));
        assert_eq!(f.features, vec!["Q1", "Travel"]);
        assert_eq!(buf, vec![0.0, 0.0, 0.5, 0.25, 1.0, 1.0, 0.25, 0.5]);
        match &f.state.encoders[0] {
            Encoder::Likert { scale, .. } => assert_eq!(*scale, LikertScale::OneToFive),
            e => panic!("{e:?}"),
        }
        // A declared 1-7 scale puts 5 at 4/6.
        let (_, buf) = run(
            &inp,
            &opts(r#"{"metric":"euclidean","likert_scale":"1-7"}"#),
        );
        assert!((buf[4] - 4.0 / 6.0).abs() < 1e-6, "{buf:?}");
        // New answers outside the training range are clamped to [0, 1].
        let wide = [-1.0, 12.0];
        let interest2 = [0.0, 20.0];
        let new = Input::new(
            2,
            vec![
                numeric("likert", "Q1", &wide),
                numeric("interests", "Travel", &interest2),
            ],
        )
        .unwrap();
        let mut out = vec![f32::NAN; 4];
        Psychographic::transform(
            &f.state,
            &new,
            &mut FeatureMatrix::new(&mut out, 2).unwrap(),
        )
        .unwrap();
        assert_eq!(out, vec![0.0, 0.0, 1.0, 1.0]);
    }

    #[test]
    fn constant_interest_is_zero_not_nan() {
        let v = [3.0, 3.0, 3.0];
        let inp = Input::new(3, vec![numeric("interests", "Flat", &v)]).unwrap();
        let (_, buf) = run(&inp, &opts(EUCLIDEAN));
        assert_eq!(buf, vec![0.0; 3]);
    }

    #[test]
    fn scale_is_inferred_as_the_smallest_that_fits() {
        let infer = |lo, hi| LikertScale::infer("Q", lo, hi).unwrap();
        assert_eq!(infer(2.0, 4.0), LikertScale::OneToFive);
        assert_eq!(infer(1.0, 5.0), LikertScale::OneToFive);
        assert_eq!(infer(1.0, 6.0), LikertScale::OneToSeven);
        assert_eq!(infer(1.0, 8.0), LikertScale::ZeroToTen);
        assert_eq!(infer(0.0, 3.0), LikertScale::ZeroToTen);
        let e = LikertScale::infer("Fear of heights", 1.0, 12.0).unwrap_err();
        assert!(
            e.0.contains("'Fear of heights'") && e.0.contains("from 1 to 12"),
            "{e}"
        );
        // Through fit, per item.
        let a = [1.0, 7.0, 4.0];
        let b = [-2.0, 3.0, 1.0];
        let inp = Input::new(3, vec![numeric("likert", "Q7", &a)]).unwrap();
        let f = Psychographic::fit(&inp, &Options::default()).unwrap();
        assert!(matches!(
            f.state.encoders[0],
            Encoder::Likert {
                scale: LikertScale::OneToSeven,
                ..
            }
        ));
        let inp = Input::new(
            3,
            vec![numeric("likert", "Q7", &a), numeric("likert", "Qneg", &b)],
        )
        .unwrap();
        let e = Psychographic::fit(&inp, &Options::default()).unwrap_err();
        assert!(
            e.0.contains("'Qneg'") && e.0.contains("from -2 to 3"),
            "{e}"
        );
    }

    #[test]
    fn declared_scale_is_checked_and_bad_values_refused() {
        let a = [1.0, 6.0, 3.0];
        let inp = Input::new(3, vec![numeric("likert", "Q2", &a)]).unwrap();
        let e = Psychographic::fit(&inp, &opts(r#"{"likert_scale":"1-5"}"#)).unwrap_err();
        assert!(
            e.0.contains("'Q2'") && e.0.contains("from 1 to 6") && e.0.contains("1-5"),
            "{e}"
        );
        assert!(Psychographic::fit(&inp, &opts(r#"{"likert_scale":"1 – 7"}"#)).is_ok());
        assert!(Psychographic::fit(&inp, &opts(r#"{"likert_scale":"auto"}"#)).is_ok());
        let e = Psychographic::fit(&inp, &opts(r#"{"likert_scale":"1-4"}"#)).unwrap_err();
        assert!(e.0.contains("expected 1-5, 1-7, 0-10 or auto"), "{e}");
        let e = Psychographic::fit(&inp, &opts(r#"{"metric":"manhattan"}"#)).unwrap_err();
        assert!(e.0.contains("expected cosine or euclidean"), "{e}");
        let e = Psychographic::fit(&inp, &opts(r#"{"scale":"zscore"}"#)).unwrap_err();
        assert!(e.0.contains("--scale"), "{e}");
    }

    #[test]
    fn missing_answers_take_the_training_median() {
        let q = [1.0, 2.0, f64::NAN, 5.0];
        let interest = [0.0, f64::NAN, 8.0, 10.0];
        let inp = Input::new(
            4,
            vec![
                numeric("likert", "Q1", &q),
                numeric("interests", "Arts", &interest),
            ],
        )
        .unwrap();
        let (f, buf) = run(&inp, &opts(EUCLIDEAN));
        // Q1 median 2 → 0.25; Arts median 8 → 0.8.
        assert_eq!(buf[2 * 2], 0.25);
        assert!((buf[2 + 1] - 0.8).abs() < 1e-6, "{buf:?}");
        match &f.state.encoders[1] {
            Encoder::Interest { scaler } => assert_eq!(scaler.impute, 8.0),
            e => panic!("{e:?}"),
        }
        let all_missing = [f64::NAN, f64::NAN];
        let inp = Input::new(2, vec![numeric("likert", "Empty", &all_missing)]).unwrap();
        let e = Psychographic::fit(&inp, &Options::default()).unwrap_err();
        assert!(e.0.contains("'Empty'") && e.0.contains("no values"), "{e}");
    }

    fn mixed_input<'a>(
        q1: &'a [f64],
        q2: &'a [f64],
        codes: &'a [u32],
        dict: &[&'a str],
    ) -> Input<'a> {
        Input::new(
            q1.len(),
            vec![
                numeric("likert", "Q1", q1),
                numeric("likert", "Q2", q2),
                Column {
                    role: "lifestyle",
                    name: "Lifestyle",
                    kind: ColumnKind::Categorical,
                    values: Values::Categorical {
                        codes,
                        dict: dict.to_vec(),
                    },
                },
            ],
        )
        .unwrap()
    }

    #[test]
    fn cosine_rows_have_unit_length_and_euclidean_rows_do_not() {
        let q1 = [1.0, 5.0, 3.0, 1.0];
        let q2 = [1.0, 4.0, 2.0, 1.0];
        let codes = [0, 1, MISSING_CODE, 0];
        let inp = mixed_input(&q1, &q2, &codes, &["Urban", "Active"]);
        let (f, _) = run(&inp, &Options::default());
        assert_eq!(f.state.metric, Distance::Cosine);
        assert_eq!(
            f.features,
            vec!["Q1", "Q2", "Lifestyle=Active", "Lifestyle=Urban"]
        );
        // Score rows where the last has bottom answers and a category unseen in training.
        let new_codes = [0, 1, MISSING_CODE, 2];
        let new = mixed_input(&q1, &q2, &new_codes, &["Urban", "Active", "Other"]);
        let mut cos = vec![f32::NAN; 16];
        Psychographic::transform(
            &f.state,
            &new,
            &mut FeatureMatrix::new(&mut cos, 4).unwrap(),
        )
        .unwrap();
        let norms: Vec<f64> = cos
            .chunks(4)
            .map(|r| r.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt())
            .collect();
        for n in &norms[..3] {
            assert!((n - 1.0).abs() < 1e-6, "{norms:?}");
        }
        assert_eq!(&cos[12..], &[0.0; 4], "a row of zeros stays zero");
        let (f, euc) = run(&inp, &opts(EUCLIDEAN));
        assert_eq!(f.state.metric, Distance::Euclidean);
        let w = strata_plugin_api::prep::ONE_HOT_WEIGHT as f32;
        assert_eq!(&euc[4..8], &[1.0, 0.75, w, 0.0]);
        assert!((euc[4..8].iter().map(|x| x * x).sum::<f32>().sqrt() - 1.0).abs() > 0.1);
        // Cosine rows are the Euclidean rows divided by their length.
        let n1 = euc[4..8].iter().map(|x| x * x).sum::<f32>().sqrt();
        for j in 0..4 {
            assert!((cos[4 + j] - euc[4 + j] / n1).abs() < 1e-6);
        }
    }

    #[test]
    fn state_round_trips_through_json_and_scores_the_same() {
        let q1 = [1.0, 5.0, f64::NAN, 2.0];
        let q2 = [3.0, 4.0, 2.0, 1.0];
        let codes = [0, 1, MISSING_CODE, 0];
        let inp = mixed_input(&q1, &q2, &codes, &["Urban", "Active"]);
        let (f, buf) = run(&inp, &opts(r#"{"likert_scale":"1-7"}"#));
        let json = serde_json::to_string(&f.state).unwrap();
        assert!(json.contains(r#""scale":"1-7""#), "{json}");
        assert!(json.contains(r#""metric":"cosine""#), "{json}");
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f.state);
        let mut again = vec![f32::NAN; buf.len()];
        Psychographic::transform(
            &back,
            &inp,
            &mut FeatureMatrix::new(&mut again, f.features.len()).unwrap(),
        )
        .unwrap();
        assert_eq!(again, buf);
    }

    #[test]
    fn no_columns_names_the_roles() {
        let inp = Input::new(3, vec![]).unwrap();
        let e = Psychographic::fit(&inp, &Options::default()).unwrap_err();
        assert!(e.0.contains("likert, interests, lifestyle, values"), "{e}");
    }

    fn stat<'a>(role: &'a str, name: &'a str, z: f64) -> NumericStat<'a> {
        NumericStat {
            role,
            name,
            mean: 3.0 + z,
            overall_mean: 3.0,
            overall_std: 1.0,
        }
    }

    fn profile<'a>(
        numeric: Vec<NumericStat<'a>>,
        categorical: Vec<CategoricalStat<'a>>,
    ) -> SegmentProfile<'a> {
        SegmentProfile {
            index: 0,
            k: 4,
            size: 100,
            share: 0.25,
            numeric,
            categorical,
        }
    }

    fn lifestyle<'a>(top: &'a str, share: f64, overall: f64) -> CategoricalStat<'a> {
        CategoricalStat {
            role: "lifestyle",
            name: "Lifestyle",
            levels: vec![
                LevelShare {
                    value: top,
                    share,
                    overall_share: overall,
                },
                LevelShare {
                    value: "Other",
                    share: 1.0 - share,
                    overall_share: 1.0 - overall,
                },
            ],
        }
    }

    #[test]
    fn labels_name_the_strongest_lifts() {
        let items = vec![
            stat("likert", "Outdoor: Hiking", 1.4),
            stat("likert", "Outdoor: Camping", 1.1),
            stat("interests", "Interest: Sports", 0.9),
            stat("likert", "Fashion: Brands", -1.0),
            stat("likert", "Fashion: Trends", -0.7),
            stat("likert", "Music: Pop", 0.2),
        ];
        assert_eq!(
            segment_label(&profile(items.clone(), vec![])),
            "High Outdoor: Hiking & Camping, low Fashion: Brands"
        );
        assert_eq!(
            segment_label(&profile(items, vec![lifestyle("Active", 0.8, 0.3)])),
            "High Outdoor: Hiking & Camping, low Fashion: Brands, mostly Active"
        );
        // Different groups are joined whole; a weak negative is left out.
        assert_eq!(
            segment_label(&profile(
                vec![
                    stat("likert", "Rock", 0.8),
                    stat("interests", "Travel", 1.2),
                    stat("likert", "Opera", -0.3),
                    stat("likert", "Hiphop, Rap", 0.1),
                ],
                vec![lifestyle("Active", 0.45, 0.3)], // under half the segment
            )),
            "High Travel & Rock"
        );
        // Only lows; a comma inside a name does not read as a separator.
        assert_eq!(
            segment_label(&profile(
                vec![
                    stat("likert", "Pop", -0.9),
                    stat("likert", "Hiphop, Rap", -0.6)
                ],
                vec![],
            )),
            "Low Pop & Hiphop/Rap"
        );
        // Only a dominant category; a yes/no value carries its column name.
        assert_eq!(
            segment_label(&profile(
                vec![stat("likert", "Pop", 0.1)],
                vec![lifestyle("Yes", 0.9, 0.4)],
            )),
            "Mainstream, mostly Lifestyle: Yes"
        );
        // Nothing stands out; a category common everywhere is not "over-represented".
        assert_eq!(
            segment_label(&profile(
                vec![stat("likert", "Pop", 0.1), stat("likert", "Rock", -0.2)],
                vec![lifestyle("Urban", 0.8, 0.75)],
            )),
            FALLBACK_LABEL
        );
        assert_eq!(segment_label(&profile(vec![], vec![])), FALLBACK_LABEL);
    }

    #[test]
    fn long_names_still_fit_the_host_limit() {
        let a = "A".repeat(70);
        let b = "B".repeat(20);
        let c = "C".repeat(70);
        let items = vec![
            stat("likert", &a, 2.0),
            stat("likert", &b, 1.0),
            stat("likert", &c, -1.0),
        ];
        // The low item goes first, then the second high one.
        let label = segment_label(&profile(items.clone(), vec![]));
        assert_eq!(label, format!("High {a} & {b}"));
        let b = "B".repeat(70);
        let label = segment_label(&profile(
            vec![stat("likert", &a, 2.0), stat("likert", &b, 1.0)],
            vec![],
        ));
        assert_eq!(label, format!("High {a}"));
        // Only a category, too long: cut, not dropped for the fallback.
        let long_value = "V".repeat(200);
        let label = segment_label(&profile(vec![], vec![lifestyle(&long_value, 0.9, 0.2)]));
        assert!(
            label.starts_with("Mainstream, mostly VVV") && label.ends_with('…'),
            "{label}"
        );
        let huge = "X".repeat(300);
        let label = segment_label(&profile(vec![stat("likert", &huge, 2.0)], vec![]));
        assert_eq!(label.chars().count(), label::MAX_LABEL_CHARS);
        assert!(label.ends_with('…'));
    }

    #[test]
    fn docs_cover_options_and_labels() {
        let d = Psychographic::docs();
        for needle in [
            "likert_scale",
            "metric=cosine|euclidean",
            "median",
            "Labels",
        ] {
            assert!(d.contains(needle), "{needle}");
        }
        assert!(ROLES.iter().all(|r| r.multi && !r.required));
    }
}
