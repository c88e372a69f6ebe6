//! How the psychographic strategy names a segment: its strongest high and low items, then a
//! dominant lifestyle or values category, within the host's label limit.

use strata_plugin_api::label;
use strata_plugin_api::{NumericStat, SegmentProfile};

/// Items that move a segment at least this many overall standard deviations are named.
const NOTABLE_Z: f64 = 0.5;
/// A category is named when it is at least this share of the segment ...
const DOMINANT_SHARE: f64 = 0.5;
/// ... and this many times its overall share.
const DOMINANT_LIFT: f64 = 1.5;
/// The label of a segment with nothing notable.
pub(crate) const FALLBACK_LABEL: &str = "Mainstream, no strong interests";

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
