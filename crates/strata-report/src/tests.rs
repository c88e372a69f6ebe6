//! Unit tests of the report: the page is self-contained (no script, nothing loaded), holds
//! every chart with its data, and escapes what it shows.

use super::*;

fn segment(number: usize, label: &str, size: u64, share: f64) -> Segment {
    Segment {
        number,
        label: label.into(),
        size,
        share,
        value_share: Some(share * 1.5),
        value_per_customer: Some(1234.5),
        attractiveness: Some((80.0 - number as f64, number + 1)),
        ambiguous: Some(3),
        key_traits: vec!["income 86.5 (index 143)".into()],
        stability: Some((0.91, "highly stable".into())),
        rule: Some((
            format!("income > 72.5 and age <= {}", 40 + number),
            Some(0.93),
            None,
        )),
    }
}

fn fit_report() -> FitReport {
    FitReport {
        title: "Segments of mall.csv".into(),
        subtitle: "strategy features 0.1.0".into(),
        generator: "strata 0.1.0".into(),
        facts: vec![Fact::new("Customers", "200").hint("all rows used")],
        notes: vec!["segment 5 was merged into segment 2".into()],
        segments: vec![
            segment(0, "Big <spenders> & \"friends\"", 120, 0.6),
            segment(1, "Savers", 80, 0.4),
        ],
        value_measure: Some("spend".into()),
        attractiveness_rule: "size and value".into(),
        heatmap: Heatmap {
            rows: vec![HeatRow {
                name: "Annual Income (k$)".into(),
                cells: vec![
                    HeatCell {
                        index: Some(143.0),
                        detail: "86.5 vs 60.6 overall".into(),
                    },
                    HeatCell {
                        index: None,
                        detail: "overall mean is 0".into(),
                    },
                ],
            }],
            omitted: 3,
        },
        scatter: Ok(Scatter {
            x_title: "PC1 (61% of variance)".into(),
            y_title: "PC2 (39%)".into(),
            points: (0..100)
                .map(|i| (i as f64, (i % 7) as f64, i % 2))
                .collect(),
            centroids: vec![(10.0, 3.0, 0), (80.0, 2.0, 1)],
            note: "100 of 200 customers".into(),
        }),
        k_selection: Some(KSelection {
            candidates: (2..=6)
                .map(|k| KPoint {
                    k,
                    inertia: 100.0 / k as f64,
                    silhouette: Some(0.3 + 0.01 * k as f64),
                    davies_bouldin: Some(0.7),
                    calinski_harabasz: None,
                    stability: Some(0.8),
                    smallest: Some(0.1),
                })
                .collect(),
            chosen: 4,
            rule: "highest silhouette".into(),
            reasons: vec!["k = 4 is the largest stable k".into()],
            note: "on every row".into(),
        }),
        rules_method: Some("one-vs-rest <trees>".into()),
        geo_map: Some(GeoMap {
            points: vec![(179.5, -16.8, 0), (-179.6, -16.9, 0), (2.3, 48.8, 1)],
            centres: vec![(179.9, -16.85, 30.0, 0), (2.35, 48.86, 25.0, 1)],
            rings: vec![(vec![(-16.6, 179.9), (-17.0, -179.8)], 0)],
            lon0: -150.0,
            note: "3 <customers>".into(),
        }),
        outcomes: vec![OutcomeTable {
            title: "converted <rate>".into(),
            lines: vec!["13.2% overall".into()],
            rows: vec![vec![
                "0 A".into(),
                "10".into(),
                "5.0%".into(),
                "[1%, 9%]".into(),
                "0.38".into(),
            ]],
            effects: vec![vec![
                "0 A".into(),
                "6%".into(),
                "4%".into(),
                "+2 pts".into(),
                "[-1, +5]".into(),
                "no".into(),
                "2".into(),
            ]],
        }],
        value_model: Some(ValueModel {
            what: "BG/NBD + Gamma-Gamma by day, 365 days ahead".into(),
            params: vec![("r".into(), "0.2426 ± 0.0126".into())],
            notes: vec!["a <note>".into()],
            at_risk_below: 0.5,
            segments: vec![
                PredictedSegment {
                    number: 0,
                    label: "Big <spenders> & \"friends\"".into(),
                    clv_share: Some(0.3),
                    clv_mean: Some(12.5),
                    clv_rank: Some(2),
                    p_alive_mean: 0.9,
                    at_risk_share: 0.1,
                    expected_purchases_mean: 1.5,
                },
                PredictedSegment {
                    number: 1,
                    label: "Savers".into(),
                    clv_share: Some(0.7),
                    clv_mean: Some(43.75),
                    clv_rank: Some(1),
                    p_alive_mean: 0.4,
                    at_risk_share: 0.6,
                    expected_purchases_mean: 3.0,
                },
            ],
        }),
    }
}

fn compare_report() -> CompareReport {
    CompareReport {
        title: "Drift".into(),
        subtitle: "a → b".into(),
        generator: "strata 0.1.0".into(),
        facts: vec![Fact::new("Moved", "12 (6.0%)")],
        notes: vec![],
        a_labels: vec!["A0".into(), "A1".into()],
        b_labels: vec!["B0".into(), "B1".into(), "B2".into()],
        migration: vec![vec![50, 2, 0], vec![1, 40, 7]],
        new_by_segment: vec![3, 0, 1],
        gone_by_segment: vec![0, 2],
        drift: vec![
            Drift {
                label: "A0 → B0".into(),
                a_share: 0.5,
                b_share: 0.52,
                psi: 0.0008,
                reading: "stable".into(),
            },
            Drift {
                label: "B2 (new)".into(),
                a_share: 0.0,
                b_share: 0.08,
                psi: 0.3,
                reading: "shifted".into(),
            },
        ],
        psi_bands: "< 0.1 stable".into(),
        ranking: vec![Ranked {
            label: "B0".into(),
            score: 91.0,
            rank: 1,
            growth: Some(1.04),
        }],
        attractiveness_rule: "size, value, growth".into(),
        value_change: vec![vec![
            "0 · <a>".into(),
            "1".into(),
            "2".into(),
            "+100.0%".into(),
            "0.9".into(),
            "0.8".into(),
        ]],
    }
}

/// Every `<figure class="chart">` holds one non-empty SVG.
fn figures(html: &str) -> Vec<&str> {
    html.split(r#"<figure class="chart""#)
        .skip(1)
        .map(|f| &f[..f.find("</figure>").expect("closed")])
        .collect()
}

fn check_page(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("://"),
        "the page must name no address it could load"
    );
    assert!(!html.to_lowercase().contains("<script"), "no script");
    assert!(html.contains("Content-Security-Policy"));
    assert!(
        !html.contains("NaN") && !html.contains("inf\""),
        "no broken numbers"
    );
    for f in figures(html) {
        assert!(f.contains("<svg ") && f.contains("</svg>"), "{f}");
        assert!(
            ["<rect ", "<circle ", "<polyline "]
                .iter()
                .any(|m| f.contains(m)),
            "a chart with no marks: {f}"
        );
    }
}

#[test]
fn a_fit_report_has_every_chart() {
    let html = render_fit(&fit_report());
    check_page(&html);
    let ids: Vec<&str> = figures(&html)
        .iter()
        .map(|f| f.split('"').nth(1).unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "chart-sizes",
            "chart-value",
            "chart-attractiveness",
            "chart-profile",
            "chart-map",
            "chart-geo",
            "chart-k-0",
            "chart-k-1",
            "chart-k-2"
        ]
    );
    assert!(html.contains("Calinski–Harabasz (higher is better): undefined for every k tried."));
    // Segments by predicted CLV: Savers (rank 1) first.
    let value = figures(&html)[1];
    assert!(value.find("Savers").unwrap() < value.find("Big &lt;spenders").unwrap());
    assert!(html.contains("60.0% at risk") && html.contains("a &lt;note&gt;"));
    assert!(html.contains("<h3>converted &lt;rate&gt;</h3>") && html.contains("+2 pts"));
    // 100 points and 2 centroids.
    let map = figures(&html)[4];
    assert_eq!(map.matches("<circle ").count(), 102);
    assert!(html.contains("3 more rows"), "omitted rows are said");
    // Each segment's rule, with its precision; an undefined recall is said, not drawn.
    assert!(html.contains("income &gt; 72.5 and age &lt;= 41") && html.contains("93.0%"));
    assert!(html.contains("Method: one-vs-rest &lt;trees&gt;."));
}

#[test]
fn labels_are_escaped_everywhere() {
    let html = render_fit(&fit_report());
    assert!(!html.contains("<spenders>"));
    assert!(html.contains("Big &lt;spenders&gt; &amp; &quot;friends&quot;"));
}

#[test]
fn missing_parts_are_said_not_drawn() {
    let mut r = fit_report();
    r.scatter = Err("RFM mode has no feature space to project".into());
    r.k_selection = None;
    r.value_model = None;
    r.outcomes = Vec::new();
    r.rules_method = None;
    r.geo_map = None;
    r.value_measure = None;
    for s in &mut r.segments {
        s.value_share = None;
        s.attractiveness = None;
    }
    let html = render_fit(&r);
    check_page(&html);
    assert!(html.contains("RFM mode has no feature space to project"));
    assert!(html.contains("No segment has an attractiveness score."));
    assert!(!html.contains("chart-k-0") && !html.contains("chart-map"));
    assert!(!html.contains("share of value"));
    assert!(!html.contains("Segment rules"));
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(render_fit(&fit_report()), render_fit(&fit_report()));
    assert_eq!(
        render_compare(&compare_report()),
        render_compare(&compare_report())
    );
}

#[test]
fn a_compare_report_has_the_migration_matrix() {
    let html = render_compare(&compare_report());
    check_page(&html);
    let figs = figures(&html);
    assert_eq!(figs.len(), 3);
    // 2 × 3 moves, 2 gone, 3 new and the empty corner.
    assert_eq!(figs[0].matches("<rect ").count(), 2 * 3 + 2 + 3 + 1);
    assert!(figs[0].contains("A1 → gone: 2 customers"));
    assert!(figs[0].contains("new → B0: 3 customers"));
    assert!(figs[1].contains("shifted") && figs[1].contains("class=\"band\""));
}

/// The map measures longitudes from its centre: customers on either side of the 180°
/// meridian are drawn side by side, not at the two edges of the world.
#[test]
fn the_map_keeps_the_date_line_together() {
    let html = render_fit(&fit_report());
    let map = figures(&html)
        .into_iter()
        .find(|f| f.contains("chart-geo"))
        .unwrap();
    let xs: Vec<f64> = map
        .split("<circle cx=\"")
        .skip(1)
        .map(|c| c.split('"').next().unwrap().parse().unwrap())
        .collect();
    // Points first: 179.5°E and 179.6°W, 0.9° apart, then Paris, 178° of longitude away.
    assert!((xs[0] - xs[1]).abs() < 20.0, "{xs:?}");
    assert!((xs[0] - xs[2]).abs() > 300.0, "{xs:?}");
    assert!(map.contains("3 &lt;customers&gt;"));
}
