//! A strategy's preprocessing stated as data (plugin ABI 1.3): what `strata export-sql` turns
//! into SQL. The SDK's encoders state themselves ([`Declare`], implemented in
//! [`crate::encode`]); a strategy built from them returns
//! `Some(Preprocessing::of(&encoders))` from [`crate::Strategy::preprocessing`].

use serde::{Deserialize, Serialize};

/// A strategy's preprocessing as data ([`PreprocessingFnV1`](crate::abi::PreprocessingFnV1)'s
/// document): one [`FeatureExpr`] per feature, in the matrix's column order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// The document's version: 1.
    pub version: u32,
    /// Every feature, in order.
    pub features: Vec<FeatureExpr>,
}

impl Preprocessing {
    /// The preprocessing of encoders that all describe themselves.
    pub fn of<E: Declare>(encoders: &[E]) -> Preprocessing {
        Preprocessing {
            version: 1,
            features: encoders.iter().flat_map(Declare::declare).collect(),
        }
    }
}

/// [`CategoricalFnV1`](crate::abi::CategoricalFnV1)'s document (ABI 1.4): which features hold
/// categorical codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalCodes {
    /// The document's version: 1.
    pub version: u32,
    /// The coded features, by ascending index.
    pub features: Vec<CodedFeature>,
}

/// A feature holding a categorical column's codes: `c` on a row means `levels[c]`, and
/// `levels.len()` a category outside them (one not seen in `fit`, which matches no segment's
/// mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodedFeature {
    /// The feature's place in the matrix's columns.
    pub index: usize,
    /// The categories, by code, in sorted order (as the `kmodes` package codes them).
    pub levels: Vec<String>,
}

/// One feature computed from one column, in a form a query language can state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureExpr {
    /// `((t(x) − center) / scale · weight)` as f32, with `x` the column's value or `impute`.
    Scaled {
        /// The input column.
        column: String,
        /// The value used when the column is missing.
        impute: f64,
        /// `none`, `log1p` (ln(1 + max(x, 0))) or `signed_log1p` (sign(x) · ln(1 + |x|)).
        transform: String,
        /// Subtracted after the transform.
        center: f64,
        /// The divisor.
        scale: f64,
        /// The multiplier after scaling.
        weight: f64,
    },
    /// `weight` when the column's text is `level` (or it is missing and `on_missing`), else 0.
    Indicator {
        /// The input column.
        column: String,
        /// The category this feature indicates.
        level: String,
        /// Whether a missing value counts as this level (the imputed category).
        on_missing: bool,
        /// The indicator's value when set.
        weight: f64,
    },
}

/// An encoder that can state its features as [`FeatureExpr`]s.
pub trait Declare {
    /// Its features, in order.
    fn declare(&self) -> Vec<FeatureExpr>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prep::{NumericScaler, OneHot};

    /// What a declared feature says for a value (None: missing), in f64 as a query computes
    /// it, then rounded to f32 as Strata rounds.
    fn eval(f: &FeatureExpr, numeric: Option<f64>, text: Option<&str>) -> f32 {
        match f {
            FeatureExpr::Scaled {
                impute,
                transform,
                center,
                scale,
                weight,
                ..
            } => {
                let x = numeric.unwrap_or(*impute);
                let x = match transform.as_str() {
                    "log1p" => x.max(0.0).ln_1p(),
                    "signed_log1p" => x.signum() * x.abs().ln_1p(),
                    _ => x,
                };
                ((x - center) / scale * weight) as f32
            }
            FeatureExpr::Indicator {
                level,
                on_missing,
                weight,
                ..
            } => match text {
                None if *on_missing => *weight as f32,
                Some(t) if t == level => *weight as f32,
                _ => 0.0,
            },
        }
    }

    #[test]
    fn declared_features_are_the_encoders_features() {
        let scaler = NumericScaler {
            column: "income".into(),
            impute: 50.7,
            log: true,
            center: 4.03,
            scale: 0.62,
            weight: 1.0,
        };
        let [declared] = &scaler.declare()[..] else {
            panic!("one feature")
        };
        for x in [0.0, 12.5, 50.7, 1e6, -3.0, f64::NAN] {
            let v = (!x.is_nan()).then_some(x);
            assert_eq!(eval(declared, v, None), scaler.apply(x), "{x}");
        }
        let onehot = OneHot {
            column: "region".into(),
            levels: vec!["Rural".into(), "Urban".into()],
            impute: 1,
            weight: crate::prep::ONE_HOT_WEIGHT,
        };
        let declared = onehot.declare();
        let dict = ["Urban", "Mars", "Rural"];
        let map = onehot.code_map(&dict);
        for (code, text) in [(0u32, Some("Urban")), (1, Some("Mars")), (2, Some("Rural"))]
            .into_iter()
            .chain([(crate::abi::MISSING_CODE, None)])
        {
            let mut want = [0f32; 2];
            onehot.apply(code, &map, &mut want);
            let got: Vec<f32> = declared.iter().map(|f| eval(f, None, text)).collect();
            assert_eq!(got, want, "{text:?}");
        }
    }
}
