//! How the psychographic strategy turns columns into features: each Likert item onto its
//! answer scale, each interest score onto its training range (both 0-1), each lifestyle or
//! values column one-hot.

use serde::{Deserialize, Serialize};
use strata_plugin_api::encode::ColumnEncoder;
use strata_plugin_api::prep::{CategoricalAs, NumericScaler, OneHot, median};
use strata_plugin_api::{Column, Error, FeatureMatrix};

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

    pub(crate) fn holds(self, min: f64, max: f64) -> bool {
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
    /// A `lifestyle` or `values` column as one feature of codes, for k-prototypes (ABI 1.4).
    Code {
        /// The role the column is bound to: `lifestyle` or `values`.
        role: String,
        /// The categories (by code) and imputed category; its weight is unused.
        onehot: OneHot,
    },
}

impl Encoder {
    /// Fits one bound column: a `likert` item on the `declared` scale (else the smallest that
    /// holds its answers), an `interests` score on its training range, a `lifestyle` or `values`
    /// category one-hot, or as codes when the host asks for them (`categorical`).
    pub fn fit(
        c: &Column<'_>,
        declared: Option<LikertScale>,
        categorical: CategoricalAs,
    ) -> Result<Encoder, Error> {
        Ok(match c.role {
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
                let role = c.role.to_owned();
                let onehot = OneHot::fit(c.name, codes, dict)?;
                match categorical {
                    CategoricalAs::OneHot => Encoder::Categorical { role, onehot },
                    CategoricalAs::Codes => Encoder::Code { role, onehot },
                }
            }
            other => {
                return Err(Error(format!(
                    "column '{}' is bound to '{other}', which is not a role of the \
                                 psychographic strategy",
                    c.name
                )));
            }
        })
    }
}

impl ColumnEncoder for Encoder {
    fn column(&self) -> &str {
        match self {
            Encoder::Likert { scaler, .. } | Encoder::Interest { scaler } => &scaler.column,
            Encoder::Categorical { onehot, .. } | Encoder::Code { onehot, .. } => &onehot.column,
        }
    }
    fn onehot(&self) -> Option<&OneHot> {
        match self {
            Encoder::Likert { .. } | Encoder::Interest { .. } | Encoder::Code { .. } => None,
            Encoder::Categorical { onehot, .. } => Some(onehot),
        }
    }
    fn coded_levels(&self) -> Option<&[String]> {
        match self {
            Encoder::Code { onehot, .. } => Some(&onehot.levels),
            _ => None,
        }
    }
    fn write(
        &self,
        column: &Column<'_>,
        out: &mut FeatureMatrix,
        offset: usize,
    ) -> Result<(), Error> {
        match self {
            // Values outside the training range are clamped to [0, 1].
            Encoder::Likert { scaler, .. } | Encoder::Interest { scaler } => {
                let v = column.numeric()?;
                out.set_column(offset, v.iter().map(|&x| scaler.apply(x).clamp(0.0, 1.0)));
                Ok(())
            }
            Encoder::Categorical { onehot, .. } => {
                ColumnEncoder::write(onehot, column, out, offset)
            }
            Encoder::Code { onehot, .. } => {
                let (codes, dict) = column.categorical()?;
                onehot.write_codes(codes, &onehot.code_map(dict), out, offset);
                Ok(())
            }
        }
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

/// A number as an error message shows it: whole numbers without a fraction.
pub(crate) fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}
