//! The description stage: what a marketer and a pipeline read about each segment. Its name
//! (the strategy's label, or the RFM cell), its profile in the data's own units, its value
//! when the strategy has a value measure, its attractiveness, and how many of its customers sit
//! near a boundary.

use strata_host::{Plugin, PluginInfo, Profile};

use crate::CoreError;
use crate::output::{CategoricalJson, LevelJson, NumericJson, SegmentJson};
use crate::profile::key_traits;
use crate::segments::Segmentation;

/// One segment, for the summary table.
#[derive(Debug, Clone)]
pub struct SegmentSummary {
    /// The exported segment's number (segments are numbered by size, 0 the largest).
    pub index: usize,
    /// Customers in the segment.
    pub size: u64,
    /// `size` over the customers segmented, from 0 to 1.
    pub share: f64,
    /// The segment's name, unique among the segments.
    pub label: String,
    /// Short phrases for what sets the segment apart (see [`crate::key_traits`]); empty when
    /// nothing stands out.
    pub key_traits: Vec<String>,
    /// The segment's share of the value measure's total, when the strategy has one.
    pub value_share: Option<f64>,
    /// The segment's attractiveness score and rank among this run's segments.
    pub attractiveness: crate::Attractiveness,
    /// Its predicted value and churn risk (`--value-model`).
    pub predicted: Option<strata_format::value::SegmentPrediction>,
}

/// The segments' names: the RFM cells' for RFM, otherwise the strategy's label of each
/// profile (repeats numbered).
pub(crate) fn name_segments(
    seg: &Segmentation,
    plugin: &Plugin,
    profiles: &crate::profile::Profiles,
) -> Result<Vec<String>, CoreError> {
    match seg {
        Segmentation::Rfm { .. } => Ok(strata_behavior::RfmSegment::ALL
            .iter()
            .map(|s| s.name().to_owned())
            .collect()),
        Segmentation::KMeans(km) => {
            let mut l = profiles
                .segments
                .iter()
                .map(|p| plugin.label(&km.state, p))
                .collect::<Result<Vec<_>, _>>()?;
            dedupe_labels(&mut l);
            Ok(l)
        }
    }
}

/// Makes labels unique by numbering repeats: "Young (2)".
fn dedupe_labels(labels: &mut [String]) {
    for i in 1..labels.len() {
        let base = labels[i].clone();
        let mut n = 1;
        while labels[..i].contains(&labels[i]) {
            n += 1;
            labels[i] = format!("{base} ({n})");
        }
    }
}

/// The strategy's value roles (segments report their share of the measure's total).
pub(crate) fn value_roles(info: &PluginInfo) -> Vec<String> {
    info.roles
        .iter()
        .filter(|r| r.value)
        .map(|r| r.name.clone())
        .collect()
}

/// The segments as `segments.json` and the summary show them.
pub(crate) struct Described {
    pub json: Vec<SegmentJson>,
    pub summary: Vec<SegmentSummary>,
    pub value_measure: Option<crate::ValueMeasure>,
    /// What the attractiveness score's value part is (`None` without one).
    pub attractiveness_value: Option<String>,
}

/// Profiles, labels and ambiguous counts, with each segment's value (when the strategy has a
/// value measure), its predicted value (with a value model) and attractiveness, in segment
/// order. Attractiveness weighs predicted CLV per customer when there is one, past value per
/// customer otherwise.
pub(crate) fn describe(
    value_roles: &[String],
    profiles: &crate::profile::Profiles,
    labels: &[String],
    ambiguous: Option<&[u64]>,
    predicted: Option<&[strata_format::value::SegmentPrediction]>,
) -> Described {
    let segs = &profiles.segments;
    let value_roles: Vec<&str> = value_roles.iter().map(String::as_str).collect();
    let sizes: Vec<u64> = segs.iter().map(|p| p.size).collect();
    let values = crate::value::segment_values(&profiles.sums, &value_roles, &sizes);
    let predicted_clv: Option<Vec<f64>> =
        predicted.and_then(|p| p.iter().map(|s| s.clv_mean).collect());
    let (per_customer, basis) = match predicted_clv {
        Some(clv) => (Some(clv), Some(strata_format::value::PREDICTED_VALUE_BASIS)),
        None => (
            values
                .as_ref()
                .map(|(_, v)| v.iter().map(|s| s.per_customer).collect()),
            values
                .as_ref()
                .map(|_| strata_format::value::PAST_VALUE_BASIS),
        ),
    };
    let shares: Vec<f64> = segs.iter().map(|p| p.share).collect();
    let attract = crate::value::attractiveness(&shares, per_customer.as_deref(), None);
    let json = segs
        .iter()
        .zip(labels)
        .map(|(p, l)| {
            let j = p.index as usize;
            segment_json(
                p,
                l,
                ambiguous.map(|a| a[j]),
                values.as_ref().map(|(_, v)| v[j].clone()),
                attract[j].clone(),
                predicted.map(|p| p[j].clone()),
            )
        })
        .collect();
    let summary = segs
        .iter()
        .zip(labels)
        .map(|(p, l)| {
            let j = p.index as usize;
            SegmentSummary {
                index: j,
                size: p.size,
                share: p.share,
                label: l.clone(),
                key_traits: key_traits(p),
                value_share: values.as_ref().and_then(|(_, v)| v[j].share),
                attractiveness: attract[j].clone(),
                predicted: predicted.map(|p| p[j].clone()),
            }
        })
        .collect();
    Described {
        json,
        summary,
        value_measure: values.map(|(m, _)| m),
        attractiveness_value: basis.map(str::to_owned),
    }
}

/// Distance to the nearest centroid over distance to the second nearest, from squared
/// distances: near 0 deep inside a segment, 1 exactly between two (0 when k = 1).
pub(crate) fn boundary_ratio(nearest: f32, second: f32) -> f32 {
    if !second.is_finite() {
        0.0
    } else if second <= 0.0 {
        1.0
    } else {
        (nearest.max(0.0) / second).sqrt().min(1.0)
    }
}

/// Customers per segment whose boundary ratio is above `threshold`.
pub(crate) fn ambiguous_counts(
    labels: &[u32],
    nearest: &[f32],
    second: &[f32],
    k: usize,
    threshold: f64,
) -> Vec<u64> {
    let mut counts = vec![0u64; k];
    for ((&l, &a), &b) in labels.iter().zip(nearest).zip(second) {
        if f64::from(boundary_ratio(a, b)) > threshold {
            counts[l as usize] += 1;
        }
    }
    counts
}

fn segment_json(
    p: &Profile,
    label: &str,
    ambiguous: Option<u64>,
    value: Option<crate::SegmentValue>,
    attractiveness: crate::Attractiveness,
    predicted: Option<strata_format::value::SegmentPrediction>,
) -> SegmentJson {
    let mut centroid = serde_json::Map::new();
    for nstat in &p.numeric {
        centroid.insert(nstat.name.clone(), serde_json::json!(nstat.mean));
    }
    for c in &p.categorical {
        let shares: serde_json::Map<String, serde_json::Value> = c
            .levels
            .iter()
            .map(|(v, s, _)| (v.clone(), serde_json::json!(s)))
            .collect();
        centroid.insert(c.name.clone(), serde_json::Value::Object(shares));
    }
    SegmentJson {
        segment: p.index as usize,
        label: label.to_owned(),
        size: p.size,
        share: p.share,
        centroid,
        numeric: p
            .numeric
            .iter()
            .map(|s| NumericJson {
                column: s.name.clone(),
                role: s.role.clone(),
                mean: s.mean,
                overall_mean: s.overall_mean,
                index: (s.overall_mean != 0.0).then(|| s.mean / s.overall_mean * 100.0),
            })
            .collect(),
        categorical: p
            .categorical
            .iter()
            .map(|c| CategoricalJson {
                column: c.name.clone(),
                role: c.role.clone(),
                shares: c
                    .levels
                    .iter()
                    .map(|(v, s, o)| LevelJson {
                        value: v.clone(),
                        share: *s,
                        overall_share: *o,
                        index: (*o > 0.0).then(|| s / o * 100.0),
                    })
                    .collect(),
            })
            .collect(),
        key_traits: key_traits(p),
        ambiguous,
        value,
        attractiveness: Some(attractiveness),
        predicted,
        resampling: None,
        rule: None,
        geo: None,
        modes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_made_unique() {
        let mut l = vec!["A".to_string(), "B".into(), "A".into(), "A".into()];
        dedupe_labels(&mut l);
        assert_eq!(l, vec!["A", "B", "A (2)", "A (3)"]);
    }
}
