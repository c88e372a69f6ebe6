//! A strategy's preprocessing stated as data (ABI 1.3, [`strata_abi::PreprocessingFnV1`]),
//! parsed and checked like everything else a plugin returns: a known version, known forms,
//! finite numbers, a non-zero scale, non-empty column names. Also which features are
//! categorical codes (ABI 1.4, [`strata_abi::CategoricalFnV1`]), and the check of the codes a
//! `transform` wrote.

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

/// A feature that holds a categorical column's codes (ABI 1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoricalFeature {
    /// The feature's place in the matrix's columns.
    pub index: usize,
    /// The categories, by code: a row whose feature is `c` has category `levels[c]`.
    pub levels: Vec<String>,
}

/// Most levels a categorical feature may list: codes travel as f32, which holds every whole
/// number up to 2^24 exactly.
pub const MAX_LEVELS: usize = 1 << 24;

/// Parses and checks [`strata_abi::CategoricalFnV1`]'s document for a state of `d` features.
pub(crate) fn parse_categorical(json: &[u8], d: usize) -> Result<Vec<CategoricalFeature>, String> {
    let doc: Value = serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
    if doc.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(format!(
            "version {} is not one this host reads (1)",
            doc.get("version").map_or("(none)".into(), Value::to_string)
        ));
    }
    let list = doc
        .get("features")
        .and_then(Value::as_array)
        .ok_or("no \"features\" list")?;
    let mut out: Vec<CategoricalFeature> = Vec::with_capacity(list.len());
    for (i, f) in list.iter().enumerate() {
        let at = |e: String| format!("entry {}: {e}", i + 1);
        let index = f
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| at("\"index\" is not a whole number".into()))?;
        if index >= d {
            return Err(at(format!("index {index} is not below the {d} features")));
        }
        if out.last().is_some_and(|p| p.index >= index) {
            return Err(at(format!("index {index} does not follow the one before")));
        }
        let levels = f
            .get("levels")
            .and_then(Value::as_array)
            .ok_or_else(|| at("no \"levels\" list".into()))?
            .iter()
            .map(|l| l.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| at("a level is not a string".into()))?;
        if levels.is_empty() || levels.len() > MAX_LEVELS {
            return Err(at(format!(
                "{} levels (expected 1 to {MAX_LEVELS})",
                levels.len()
            )));
        }
        let mut seen = std::collections::HashSet::with_capacity(levels.len());
        if let Some(dup) = levels.iter().find(|l| !seen.insert(l.as_str())) {
            return Err(at(format!("level '{dup}' is listed twice")));
        }
        out.push(CategoricalFeature { index, levels });
    }
    Ok(out)
}

/// The first value in a row-major matrix of `d` features that is not a code of its
/// categorical feature (a whole number from 0 to its levels' count, the count standing for a
/// category outside the levels): (row, feature, value).
pub fn bad_code(
    matrix: &[f32],
    d: usize,
    categorical: &[CategoricalFeature],
) -> Option<(usize, usize, f32)> {
    if categorical.is_empty() || d == 0 {
        return None;
    }
    matrix.chunks_exact(d).enumerate().find_map(|(row, x)| {
        categorical.iter().find_map(|c| {
            let v = x[c.index];
            let ok = v >= 0.0 && v.fract() == 0.0 && (v as usize) <= c.levels.len();
            (!ok).then_some((row, c.index, v))
        })
    })
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

    #[test]
    fn categorical_documents_are_checked_and_codes_too() {
        let ok = br#"{"version": 1, "features": [{"index": 1, "levels": ["F", "M"]},
                       {"index": 3, "levels": ["a"]}]}"#;
        let c = parse_categorical(ok, 4).unwrap();
        assert_eq!(c[0].index, 1);
        assert_eq!(c[1].levels, vec!["a".to_owned()]);
        assert!(
            parse_categorical(br#"{"version": 1, "features": []}"#, 2)
                .unwrap()
                .is_empty()
        );
        for (bad, needle) in [
            (&br#"{"version": 3, "features": []}"#[..], "version 3"),
            (
                br#"{"version": 1, "features": [{"index": 4, "levels": ["a"]}]}"#,
                "not below the 4 features",
            ),
            (
                br#"{"version": 1, "features": [{"index": 2, "levels": ["a"]},
                    {"index": 2, "levels": ["b"]}]}"#,
                "does not follow",
            ),
            (
                br#"{"version": 1, "features": [{"index": 0, "levels": []}]}"#,
                "0 levels",
            ),
            (
                br#"{"version": 1, "features": [{"index": 0, "levels": ["a", "a"]}]}"#,
                "'a' is listed twice",
            ),
            (
                br#"{"version": 1, "features": [{"index": -1, "levels": ["a"]}]}"#,
                "not a whole number",
            ),
        ] {
            let e = parse_categorical(bad, 4).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
        let m = [0.5f32, 1.0, 0.0, 0.0, 2.0, 1.0, 0.3, 1.5, 0.0];
        let cat = vec![CategoricalFeature {
            index: 1,
            levels: vec!["F".into(), "M".into()],
        }];
        assert_eq!(bad_code(&m[..6], 3, &cat), None);
        assert_eq!(bad_code(&m, 3, &cat), Some((2, 1, 1.5)));
        let negative = [0.0f32, -1.0, 0.0];
        assert_eq!(bad_code(&negative, 3, &cat), Some((0, 1, -1.0)));
        // 2 is "a category outside the levels"; 3 is no code at all.
        assert_eq!(bad_code(&[0.0f32, 2.0, 0.0], 3, &cat), None);
        assert_eq!(bad_code(&[0.0f32, 3.0, 0.0], 3, &cat), Some((0, 1, 3.0)));
    }
}
