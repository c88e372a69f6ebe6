//! What goes into a comparison's `report.html`: a [`Comparison`] turned into the plain data
//! `strata-report` draws from. Only aggregates: no customer id.

use strata_report::fmt::{int, num, pct};
use strata_report::{CompareReport, Drift, Fact, Ranked};

use crate::Comparison;

fn generator() -> String {
    format!("strata {}", env!("CARGO_PKG_VERSION"))
}

/// The report of a comparison.
pub fn compare_report(c: &Comparison) -> CompareReport {
    let named = |labels: &[String]| -> Vec<String> {
        labels
            .iter()
            .enumerate()
            .map(|(j, l)| format!("{j} · {l}"))
            .collect()
    };
    let a_labels = named(&c.a_labels);
    let b_labels = named(&c.b_labels);
    let mut facts = vec![
        Fact::new("Customers before", int(c.customers_a)).hint(c.a.clone()),
        Fact::new("Customers now", int(c.customers_b)).hint(c.b.clone()),
        Fact::new("In both runs", int(c.in_both)),
        Fact::new("Moved segment", int(c.moved))
            .hint(format!("{} of those in both", pct(c.moved_share))),
        Fact::new("New", int(c.new)),
        Fact::new("Gone", int(c.gone)),
        Fact::new("Population stability", format!("{:.4}", c.psi)).hint(c.reading.clone()),
    ];
    if let Some(t) = &c.predicted_clv {
        let change = t
            .change_pct
            .map_or_else(|| "n/a".into(), |p| format!("{p:+.1}%"));
        facts.push(Fact::new("Predicted CLV", change).hint(if t.same_horizon {
            format!("{} → {}", num(t.a), num(t.b))
        } else {
            "the runs predict over different horizons: not comparable".into()
        }));
    }
    let notes = vec![match c.matching.as_str() {
        "identity" => "The later run was scored with the earlier run's model, so segment j \
                       is the same segment in both."
            .to_string(),
        _ => "The runs' segments were paired by their largest overlap of customers.".to_string(),
    }];
    let drift: Vec<Drift> = c
        .segments
        .iter()
        .map(|s| {
            let label = match (s.a_segment, s.b_segment) {
                (Some(a), Some(b)) if a == b && c.matching == "identity" => b_labels[b].clone(),
                (Some(a), Some(b)) => format!("{} → {}", a_labels[a], b_labels[b]),
                (Some(a), None) => format!("gone: {}", a_labels[a]),
                (None, Some(b)) => format!("new: {}", b_labels[b]),
                (None, None) => "none".into(),
            };
            Drift {
                label,
                a_share: s.a_share,
                b_share: s.b_share,
                psi: s.psi,
                reading: s.reading.clone(),
            }
        })
        .collect();
    let mut ranking: Vec<Ranked> = c
        .segments
        .iter()
        .filter_map(|s| {
            let a = s.attractiveness.as_ref()?;
            Some(Ranked {
                label: b_labels[s.b_segment?].clone(),
                score: a.score,
                rank: a.rank,
                growth: s.growth,
            })
        })
        .collect();
    ranking.sort_by_key(|r| r.rank);
    let value_change: Vec<Vec<String>> = c
        .segments
        .iter()
        .zip(&drift)
        .filter_map(|(s, d): (_, &Drift)| {
            let p = s.predicted.as_ref()?;
            let show = |v: Option<f64>| v.map_or_else(|| "n/a".into(), num);
            let alive = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |v| format!("{v:.3}"));
            Some(vec![
                d.label.clone(),
                show(p.a_clv_mean),
                show(p.b_clv_mean),
                p.clv_change_pct
                    .map_or_else(|| "n/a".into(), |v| format!("{v:+.1}%")),
                alive(p.a_p_alive_mean),
                alive(p.b_p_alive_mean),
            ])
        })
        .collect();
    CompareReport {
        title: "Segment drift between two runs".into(),
        subtitle: format!("{} → {}", c.a, c.b),
        generator: generator(),
        facts,
        notes,
        a_labels,
        b_labels,
        migration: c.migration.clone(),
        new_by_segment: c.new_by_segment.clone(),
        gone_by_segment: c.gone_by_segment.clone(),
        drift,
        psi_bands: c.psi_bands.clone(),
        ranking,
        attractiveness_rule: c.attractiveness_rule.clone(),
        value_change,
    }
}
