//! A strategy's preprocessing stated as data (ABI 1.3, [`strata_abi::PreprocessingFnV1`]),
//! parsed and checked like everything else a plugin returns: a known version, known forms,
//! finite numbers, a non-zero scale, non-empty column names.

use serde_json::Value;

/// What a scaled feature does to its value before centring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// The value as it is.
    None,
    /// ln(1 + max(x, 0)).
    Log1p,
    /// sign(x) · ln(1 + |x|).
    SignedLog1p,
}

/// One feature computed from one column.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureExpr {
    /// `((t(x) − center) / scale · weight)` in f64, rounded to f32; `x` the value or `impute`.
    Scaled {
        /// The input column.
        column: String,
        /// The value used when the column is missing.
        impute: f64,
        /// Applied before centring.
        transform: Transform,
        /// Subtracted after the transform.
        center: f64,
        /// The divisor; never 0.
        scale: f64,
        /// The multiplier after scaling.
        weight: f64,
    },
    /// `weight` (as f32) when the column's text is `level`, or it is missing and
    /// `on_missing`; else 0.
    Indicator {
        /// The input column.
        column: String,
        /// The category this feature indicates.
        level: String,
        /// Whether a missing value counts as this level.
        on_missing: bool,
        /// The indicator's value when set.
        weight: f64,
    },
}

impl FeatureExpr {
    /// The input column the feature reads.
    pub fn column(&self) -> &str {
        match self {
            FeatureExpr::Scaled { column, .. } | FeatureExpr::Indicator { column, .. } => column,
        }
    }
}

/// Every feature of a state, in the matrix's column order.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessing {
    /// One per feature.
    pub features: Vec<FeatureExpr>,
}

/// Parses and checks the document; the error says what is wrong.
pub(crate) fn parse(json: &[u8]) -> Result<Preprocessing, String> {
    let doc: Value = serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
    let version = doc.get("version").and_then(Value::as_u64);
    if version != Some(1) {
        return Err(format!(
            "version {} is not one this host reads (1)",
            doc.get("version").map_or("(none)".into(), Value::to_string)
        ));
    }
    let features = doc
        .get("features")
        .and_then(Value::as_array)
        .ok_or("no \"features\" list")?;
    let features = features
        .iter()
        .enumerate()
        .map(|(i, f)| feature(f).map_err(|e| format!("feature {}: {e}", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Preprocessing { features })
}

fn feature(f: &Value) -> Result<FeatureExpr, String> {
    let obj = f
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or("not an object with one key (\"scaled\" or \"indicator\")")?;
    let (kind, body) = obj.iter().next().expect("one key");
    let text = |key: &str| -> Result<String, String> {
        match body.get(key).and_then(Value::as_str) {
            Some(s) if !s.is_empty() || key == "level" => Ok(s.to_owned()),
            _ => Err(format!("\"{key}\" is not a non-empty string")),
        }
    };
    let number = |key: &str| -> Result<f64, String> {
        body.get(key)
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite())
            .ok_or(format!("\"{key}\" is not a finite number"))
    };
    match kind.as_str() {
        "scaled" => {
            let transform = match text("transform")?.as_str() {
                "none" => Transform::None,
                "log1p" => Transform::Log1p,
                "signed_log1p" => Transform::SignedLog1p,
                other => return Err(format!("unknown transform '{other}'")),
            };
            let scale = number("scale")?;
            if scale == 0.0 {
                return Err("\"scale\" is 0".into());
            }
            Ok(FeatureExpr::Scaled {
                column: text("column")?,
                impute: number("impute")?,
                transform,
                center: number("center")?,
                scale,
                weight: number("weight")?,
            })
        }
        "indicator" => Ok(FeatureExpr::Indicator {
            column: text("column")?,
            level: text("level")?,
            on_missing: body
                .get("on_missing")
                .and_then(Value::as_bool)
                .ok_or("\"on_missing\" is not true or false")?,
            weight: number("weight")?,
        }),
        other => Err(format!("unknown form '{other}' (scaled or indicator)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_refuses_the_rest() {
        let ok = br#"{"version": 1, "features": [
            {"scaled": {"column": "age", "impute": 40, "transform": "log1p", "center": 1.5,
                        "scale": 2, "weight": 1}},
            {"indicator": {"column": "g", "level": "F", "on_missing": true, "weight": 0.5}}]}"#;
        let p = parse(ok).unwrap();
        assert_eq!(p.features.len(), 2);
        assert_eq!(p.features[1].column(), "g");
        assert!(matches!(
            p.features[0],
            FeatureExpr::Scaled {
                transform: Transform::Log1p,
                ..
            }
        ));
        for (bad, needle) in [
            (&br#"{"version": 2, "features": []}"#[..], "version 2"),
            (br#"{"version": 1}"#, "no \"features\""),
            (
                br#"{"version": 1, "features": [{"cube": {}}]}"#,
                "unknown form 'cube'",
            ),
            (
                br#"{"version": 1, "features": [{"scaled": {"column": "a", "impute": 0,
                    "transform": "none", "center": 0, "scale": 0, "weight": 1}}]}"#,
                "\"scale\" is 0",
            ),
            (
                br#"{"version": 1, "features": [{"indicator": {"column": "", "level": "x",
                    "on_missing": false, "weight": 1}}]}"#,
                "\"column\" is not a non-empty string",
            ),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
    }
}
