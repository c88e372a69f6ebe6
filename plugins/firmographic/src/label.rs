//! How the firmographic strategy names a segment: size band and dominant industry, then spend
//! level, tenure, frequency, a lopsided spend mix, lifecycle stage and region.

use std::collections::BTreeMap;

use strata_plugin_api::SegmentProfile;
use strata_plugin_api::label;

use crate::State;
use crate::encode::{Block, Spend, group_industry};

/// Standard deviations from the overall mean at which tenure and frequency are notable.
const NOTABLE_Z: f64 = 0.5;
/// Spend total z at or above which a segment is "high spend".
const HIGH_SPEND_Z: f64 = 0.5;
/// Spend total z at or below which a segment is "low spend": spend is right-skewed, so a
/// low-spending segment sits closer to the (tail-inflated) mean than a high-spending one.
const LOW_SPEND_Z: f64 = -0.3;

/// The size bands, smallest first.
const SIZE_BANDS: [&str; 5] = ["micro", "small", "mid-market", "large", "enterprise"];
/// Head counts at which each band after the first starts.
const EMPLOYEE_BOUNDS: [f64; 4] = [10.0, 50.0, 250.0, 1000.0];
/// Annual revenues (currency units) at which each band after the first starts.
const REVENUE_BOUNDS: [f64; 4] = [2e6, 10e6, 50e6, 1e9];

/// The band of `x` on a ladder of `bounds`: the first whose bound it is under, else the last.
fn band(x: f64, bounds: &[f64; 4]) -> &'static str {
    SIZE_BANDS[bounds.iter().position(|&b| x < b).unwrap_or(bounds.len())]
}

/// Size band for a head count.
pub fn employee_band(employees: f64) -> &'static str {
    band(employees, &EMPLOYEE_BOUNDS)
}

/// Size band for an annual revenue in currency units.
pub fn revenue_band(revenue: f64) -> &'static str {
    band(revenue, &REVENUE_BOUNDS)
}

/// Builds a segment's label (see the crate docs and `docs()`).
pub fn segment_label(state: &State, p: &SegmentProfile) -> String {
    let band = size_band(state, p);
    let industry = dominant_industry(state, p);
    let head = match (band, industry) {
        (Some(b), Some(i)) => format!("{b} {i}"),
        (Some(b), None) => format!("{b} firms"),
        (None, Some(i)) => i,
        (None, None) => String::new(),
    };
    let mut qualifiers: Vec<String> = Vec::new();
    if let Some(level) = spend_level(state, p) {
        qualifiers.push(format!("{level} spend"));
    }
    for (role, high, low) in [
        ("tenure", "long tenure", "new customers"),
        ("purchase_frequency", "frequent buyers", "infrequent buyers"),
    ] {
        if let Some(s) = p.numeric_role(role) {
            if s.z() >= NOTABLE_Z {
                qualifiers.push(high.to_owned());
            } else if s.z() <= -NOTABLE_Z {
                qualifiers.push(low.to_owned());
            }
        }
    }
    if let Some(column) = heavy_spend_category(state, p) {
        qualifiers.push(format!("{}-heavy", column.replace('_', " ")));
    }
    if let Some(stage) = notable_level(p, "lifecycle_stage") {
        qualifiers.push(format!("mostly {}", soft_lowercase(&stage)));
    }
    if let Some(region) = notable_level(p, "region") {
        qualifiers.push(format!("{} region", readable(&state.region_names, &region)));
    }
    label::compose(&head, qualifiers, "Typical firms")
}

fn size_band(state: &State, p: &SegmentProfile) -> Option<&'static str> {
    if let Some(e) = p.numeric_role("employees") {
        return e.mean.is_finite().then(|| employee_band(e.mean));
    }
    p.numeric_role("revenue")
        .filter(|r| r.mean.is_finite())
        .map(|r| revenue_band(r.mean * state.revenue_unit))
}

/// A category's readable name: its mapped name, else "industry 31" style for bare codes.
fn readable(names: &BTreeMap<String, String>, value: &str) -> String {
    names
        .get(value)
        .cloned()
        .unwrap_or_else(|| value.to_owned())
}

fn dominant_industry(state: &State, p: &SegmentProfile) -> Option<String> {
    let stat = p.categorical_role("industry")?;
    let mut groups: BTreeMap<&str, f64> = BTreeMap::new();
    for l in &stat.levels {
        *groups
            .entry(group_industry(l.value, state.industry_level))
            .or_default() += l.share;
    }
    let (code, share) = groups
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(a.0)))?;
    if share < 0.5 {
        return None;
    }
    Some(match state.industry_names.get(code) {
        Some(name) => name.clone(),
        None if code.bytes().all(|b| b.is_ascii_digit()) => format!("industry {code}"),
        None => code.to_owned(),
    })
}

/// The segment's most common category when it is at least half the segment and 1.2× its
/// overall share.
fn notable_level(p: &SegmentProfile, role: &str) -> Option<String> {
    let l = p.categorical_role(role)?.dominant()?;
    (l.share >= 0.5 && l.share >= 1.2 * l.overall_share).then(|| l.value.to_owned())
}

fn spend_block(state: &State) -> Option<&Spend> {
    state.blocks.iter().find_map(|b| match b {
        Block::Spend(s) => Some(s),
        _ => None,
    })
}

/// Segment and overall mean spend per spend column (a column absent from the segment's
/// profile counts at its training median).
fn spend_means(spend: &Spend, p: &SegmentProfile) -> Vec<(f64, f64)> {
    spend
        .columns
        .iter()
        .zip(&spend.impute)
        .map(|(c, &imp)| {
            p.numeric
                .iter()
                .find(|s| s.role == "spend" && s.name == c)
                .map_or((imp, imp), |s| (s.mean, s.overall_mean))
        })
        .collect()
}

fn spend_level(state: &State, p: &SegmentProfile) -> Option<&'static str> {
    let spend = spend_block(state)?;
    if !p.numeric.iter().any(|s| s.role == "spend") {
        return None;
    }
    let total: f64 = spend_means(spend, p).iter().map(|m| m.0).sum();
    let z = if spend.total_std > 0.0 {
        (total - spend.total_mean) / spend.total_std
    } else {
        0.0
    };
    Some(if z >= HIGH_SPEND_Z {
        "high"
    } else if z <= LOW_SPEND_Z {
        "low"
    } else {
        "average"
    })
}

/// The spend column most over-represented in the segment's mix, when it is at least 30% of
/// the segment's spend and 1.3× its overall share.
pub(crate) fn heavy_spend_category<'s>(state: &'s State, p: &SegmentProfile) -> Option<&'s str> {
    let spend = spend_block(state)?;
    if spend.columns.len() < 2 {
        return None;
    }
    let means = spend_means(spend, p);
    let seg_total: f64 = means.iter().map(|m| m.0.max(0.0)).sum();
    let all_total: f64 = means.iter().map(|m| m.1.max(0.0)).sum();
    if seg_total <= 0.0 || all_total <= 0.0 {
        return None;
    }
    spend
        .columns
        .iter()
        .zip(&means)
        .filter_map(|(c, &(seg, all))| {
            let (s, o) = (seg.max(0.0) / seg_total, all.max(0.0) / all_total);
            (o > 0.0 && s >= 0.3 && s >= 1.3 * o).then_some((c.as_str(), s / o))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(c, _)| c)
}

/// "Churned" → "churned", "At risk" → "at risk"; codes and acronyms ("SMB") stay.
fn soft_lowercase(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(f) if f.is_uppercase() && chars.clone().all(|c| !c.is_uppercase()) => {
            f.to_lowercase().chain(chars).collect()
        }
        _ => s.to_owned(),
    }
}
