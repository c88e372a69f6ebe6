//! End-to-end tests of the firmographic (B2B) strategy: the real `strata` binary on the
//! wholesale customers data and on a small synthetic NAICS fixture.

use crate::util::*;

const SPEND: &str = "spend=Fresh,Milk,Grocery,Frozen,Detergents_Paper,Delicassen";

fn seg_labels(seg: &serde_json::Value) -> Vec<String> {
    seg["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap().to_owned())
        .collect()
}

fn features(seg: &serde_json::Value) -> Vec<String> {
    seg["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect()
}

/// The plugin's state in model.json (the host may wrap it as `{"n_features", "state"}`).
fn plugin_state(model: &serde_json::Value) -> &serde_json::Value {
    let s = &model["state"];
    if s["state"].is_object() {
        &s["state"]
    } else {
        s
    }
}

/// A segment's share of `value` in categorical column `column`.
fn share(segment: &serde_json::Value, column: &str, value: &str) -> f64 {
    segment["categorical"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == column)
        .and_then(|c| {
            c["shares"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["value"] == value)
        })
        .map_or(0.0, |l| l["share"].as_f64().unwrap())
}

#[test]
fn wholesale_clients_with_channel_as_industry() {
    let input = shared("wholesale_customers/Wholesale customers data.csv");
    let (_dir, out, stdout) = fit_ok(
        &input,
        &[
            "--strategy",
            "firmographic",
            "--id-column",
            "Customer ID",
            "--map",
            "industry=Channel",
            "--map",
            "region=Region",
            "--map",
            SPEND,
            "--option",
            "industry_names=1:Horeca,2:Retail",
            "--option",
            "region_names=1:Lisbon,2:Oporto,3:Other",
            "--k",
            "4",
        ],
    );
    check_outputs(&out, &ids_of(&input, 0), 4);
    assert!(
        stdout.contains("Segmented 440 of 440 customers with strategy firmographic"),
        "{stdout}"
    );
    let seg = json(&out.join("segments.json"));
    // 2 channels + 3 regions + the spend total + six shares.
    let f = features(&seg);
    assert_eq!(f.len(), 12, "{f:?}");
    assert!(f.contains(&"spend_total".to_owned()) && f.contains(&"spend_share:Grocery".into()));

    let labels = seg_labels(&seg);
    let distinct: std::collections::HashSet<&String> = labels.iter().collect();
    assert_eq!(distinct.len(), 4, "{labels:?}");
    for (s, label) in seg["segments"].as_array().unwrap().iter().zip(&labels) {
        assert!(label.chars().count() <= 120, "{label}");
        assert!(
            !label.contains("industry 1") && !label.contains("industry 2"),
            "codes are named: {label}"
        );
        // Each segment is dominated by one channel; the label names it by its mapped name.
        let (horeca, retail) = (share(s, "Channel", "1"), share(s, "Channel", "2"));
        if horeca >= 0.5 {
            assert!(label.starts_with("Horeca"), "{label}: Horeca {horeca}");
        } else {
            assert!(label.starts_with("Retail"), "{label}: Retail {retail}");
        }
        assert!(label.contains(" spend"), "a spend level: {label}");
    }
    assert!(labels.iter().any(|l| l.starts_with("Retail")), "{labels:?}");
    assert!(labels.iter().any(|l| l.starts_with("Horeca")), "{labels:?}");
    // "high spend" segments spend more than "low spend" ones.
    let total = |s: &serde_json::Value| -> f64 {
        s["numeric"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["mean"].as_f64().unwrap())
            .sum()
    };
    let segs = seg["segments"].as_array().unwrap();
    let of = |word: &str| -> Vec<f64> {
        segs.iter()
            .zip(&labels)
            .filter(|(_, l)| l.contains(word))
            .map(|(s, _)| total(s))
            .collect()
    };
    let (high, low) = (of("high spend"), of("low spend"));
    assert!(!high.is_empty() && !low.is_empty(), "{labels:?}");
    assert!(
        high.iter().all(|h| low.iter().all(|l| h > l)),
        "{high:?} vs {low:?}"
    );
    // The saved model carries what scoring needs: the name maps and the spend columns.
    let model = json(&out.join("model.json"));
    assert_eq!(plugin_state(&model)["industry_names"]["2"], "Retail");
    assert_eq!(plugin_state(&model)["region_names"]["1"], "Lisbon");
    let spend = plugin_state(&model)["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "spend")
        .expect("a spend block");
    assert_eq!(spend["columns"].as_array().unwrap().len(), 6);
    assert_eq!(
        spend["total"]["log"], true,
        "wholesale spend is right-skewed"
    );
}

/// One planted kind of firm: its NAICS codes, base employees / revenue / tenure (years), the
/// tenure's spread and its lifecycle stages.
struct Kind {
    codes: [&'static str; 4],
    employees: f64,
    revenue: f64,
    tenure: f64,
    tenure_step: f64,
    stages: &'static [&'static str],
}

/// Three planted kinds of firm, 20 each, with 6-digit NAICS codes: mid-market manufacturers
/// (31xxxx), micro professional-services firms (54xxxx), enterprise retailers (44xxxx).
fn naics_fixture() -> String {
    let kinds = [
        Kind {
            codes: ["311812", "311111", "312111", "313110"],
            employees: 100.0,
            revenue: 20e6,
            tenure: 10.0,
            tenure_step: 1.0,
            stages: &["Active"],
        },
        Kind {
            codes: ["541110", "541211", "541330", "541511"],
            employees: 2.0,
            revenue: 2e5,
            tenure: 0.5,
            tenure_step: 1.0,
            stages: &["Onboarding"],
        },
        Kind {
            codes: ["445110", "448140", "441110", "444110"],
            employees: 2000.0,
            revenue: 1.5e9,
            tenure: 4.0,
            tenure_step: 0.5,
            stages: &["Active", "At risk"],
        },
    ];
    let mut csv = String::from("id,NAICS,employees,revenue,tenure,lifecycle_stage\n");
    let mut id = 1000;
    for k in &kinds {
        for i in 0..20 {
            let f = i as f64;
            csv.push_str(&format!(
                "{id},{},{},{},{},{}\n",
                k.codes[i % k.codes.len()],
                (k.employees * (1.0 + f / 20.0)).round(),
                k.revenue * (1.0 + f / 10.0),
                k.tenure + k.tenure_step * (f / 5.0),
                k.stages[i % k.stages.len()]
            ));
            id += 1;
        }
    }
    csv
}

#[test]
fn naics_codes_grouped_by_sector_and_size_bands() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("firms.csv");
    std::fs::write(&input, naics_fixture()).unwrap();
    // employees, revenue, tenure and lifecycle_stage bind by header name.
    let common = [
        "--strategy",
        "firmographic",
        "--id-column",
        "id",
        "--map",
        "industry=NAICS",
        "--k",
        "3",
    ];
    let mut args = common.to_vec();
    args.extend([
        // The shorthand flag for --option industry_level=2.
        "--industry-level",
        "2",
        "--option",
        "industry_names=31:Manufacturing,54:Professional services,44:Retail",
    ]);
    let (_d, out, _) = fit_ok(&input, &args);
    check_outputs(&out, &ids_of(&input, 0), 3);
    let seg = json(&out.join("segments.json"));
    let naics: Vec<String> = features(&seg)
        .into_iter()
        .filter(|f| f.starts_with("NAICS="))
        .collect();
    assert_eq!(naics, vec!["NAICS=31", "NAICS=44", "NAICS=54"]);
    let bound: Vec<&str> = seg["input"]["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["role"].as_str().unwrap())
        .collect();
    for role in ["employees", "revenue", "tenure", "lifecycle_stage"] {
        assert!(bound.contains(&role), "{role} bound by name: {bound:?}");
    }
    let mut labels = seg_labels(&seg);
    labels.sort();
    assert_eq!(labels.len(), 3);
    assert!(labels[0].starts_with("Enterprise Retail"), "{labels:?}");
    assert!(
        labels[1].starts_with("Micro Professional services,")
            && labels[1].contains("new customers")
            && labels[1].contains("mostly onboarding"),
        "{labels:?}"
    );
    assert!(
        labels[2].starts_with("Mid-market Manufacturing,") && labels[2].contains("long tenure"),
        "{labels:?}"
    );
    // The planted groups are recovered exactly: every segment has 20 firms.
    for s in seg["segments"].as_array().unwrap() {
        assert_eq!(s["size"], 20, "{}", s["label"]);
    }
    assert_eq!(
        plugin_state(&json(&out.join("model.json")))["industry_level"],
        2
    );

    // Without industry_level every 6-digit code is its own category, and unnamed codes read
    // as "industry CODE" only when a segment is dominated by one.
    let (_d, out, _) = fit_ok(&input, &common);
    let seg = json(&out.join("segments.json"));
    let n_codes = features(&seg)
        .iter()
        .filter(|f| f.starts_with("NAICS="))
        .count();
    assert_eq!(n_codes, 12);
    for l in seg_labels(&seg) {
        assert!(!l.contains("Manufacturing"), "{l}");
    }

    // Revenue alone gives the band when employees is not bound; revenue_unit rescales it.
    let (_d, out, _) = fit_ok(
        &input,
        &[
            "--strategy",
            "firmographic",
            "--id-column",
            "id",
            "--map",
            "revenue=revenue",
            "--map",
            "industry=NAICS",
            "--option",
            "industry_level=2",
            "--k",
            "3",
        ],
    );
    let mut bands: Vec<String> = seg_labels(&json(&out.join("segments.json")))
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect();
    bands.sort();
    assert_eq!(bands, vec!["Enterprise", "Micro", "Mid-market"]);
}

#[test]
fn docs_are_listed() {
    let o = run(&["plugins", "--strategy", "firmographic"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    for needle in [
        "industry_level",
        "industry_names",
        "region_names",
        "purchase_frequency",
        "lifecycle_stage",
        "50-249 mid-market",
    ] {
        assert!(s.contains(needle), "{needle} in:\n{s}");
    }
}

#[test]
fn clear_errors() {
    let fs = [
        "--strategy",
        "firmographic",
        "--id-column",
        "id",
        "--k",
        "2",
    ];
    let ok = "id,naics,employees\n1,311812,5\n2,541110,30\n3,445110,400\n";
    let with = |extra: &[&'static str]| {
        let mut a = fs.to_vec();
        a.extend_from_slice(extra);
        a
    };
    fails(
        &with(&["--map", "industry=naics"]),
        "id,naics,employees\n1,311812,5\n2,541110,-3\n3,445110,40\n",
        &["'employees'", "1 negative value", "log-scaled"],
    );
    fails(
        &with(&["--map", "industry=naics", "--option", "industry_level=9"]),
        ok,
        &["industry_level", "1 to 6", "got '9'"],
    );
    fails(
        &with(&[
            "--map",
            "industry=naics",
            "--option",
            "industry_names=Horeca",
        ]),
        ok,
        &["industry_names", "'Horeca' has no ':'", "CODE:NAME"],
    );
    fails(
        &with(&["--option", "region_names=1:North"]),
        ok,
        &["region_names needs the region role"],
    );
}
