//! The firmographic strategy's unit tests: options, encoding, saved state, bands and labels.

use super::*;
use crate::encode::mix_weight;
use crate::label::heavy_spend_category;
use strata_plugin_api::MISSING_CODE;
use strata_plugin_api::prep::NumericScaler;
use strata_plugin_api::testing::{
    categorical as cat, categories, level, numeric as num, profile, stat,
};

fn opts(pairs: &[(&str, &str)]) -> Options {
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    Options::from_json(&serde_json::Value::Object(map).to_string()).unwrap()
}

fn run(state: &State, input: &Input, d: usize) -> Vec<f32> {
    let mut buf = vec![f32::NAN; input.n_rows() * d];
    Firmographic::transform(state, input, &mut FeatureMatrix::new(&mut buf, d).unwrap()).unwrap();
    assert!(buf.iter().all(|x| x.is_finite()), "{buf:?}");
    buf
}

#[test]
fn industry_level_groups_digit_codes_only() {
    assert_eq!(group_industry("311812", Some(2)), "31");
    assert_eq!(group_industry("311812", Some(3)), "311");
    assert_eq!(group_industry("54", Some(4)), "54"); // shorter codes stay whole
    assert_eq!(group_industry("Retail", Some(2)), "Retail");
    assert_eq!(group_industry("31-33", Some(2)), "31-33");
    assert_eq!(group_industry("311812", None), "311812");
    assert_eq!(parse_industry_level("2").unwrap(), 2);
    assert_eq!(parse_industry_level(" 6 ").unwrap(), 6);
    for bad in ["0", "7", "-1", "two", "2.5", ""] {
        let e = parse_industry_level(bad).unwrap_err();
        assert!(
            e.0.contains("industry_level") && e.0.contains("1 to 6"),
            "{e}"
        );
    }
}

#[test]
fn grouped_industry_one_hot_in_fit_and_transform() {
    let dict = vec!["311812", "312111", "541110", "Other"];
    let codes = [0, 1, 2, 3, MISSING_CODE, 0];
    let inp = Input::new(6, vec![cat("industry", "NAICS", &codes, dict)]).unwrap();
    let f = Firmographic::fit(&inp, &opts(&[("industry_level", "2")])).unwrap();
    assert_eq!(f.features, vec!["NAICS=31", "NAICS=54", "NAICS=Other"]);
    let buf = run(&f.state, &inp, 3);
    let w = strata_plugin_api::prep::ONE_HOT_WEIGHT as f32;
    assert_eq!(&buf[0..3], &[w, 0.0, 0.0]);
    assert_eq!(&buf[3..6], &[w, 0.0, 0.0]); // 312111 → 31 too
    assert_eq!(&buf[6..9], &[0.0, w, 0.0]);
    assert_eq!(&buf[9..12], &[0.0, 0.0, w]);
    assert_eq!(&buf[12..15], &[w, 0.0, 0.0]); // missing → most frequent group, 31
    // A new batch with its own dictionary and an unseen sector.
    let dict2 = vec!["999999", "549999"];
    let inp2 = Input::new(2, vec![cat("industry", "NAICS", &[0, 1], dict2)]).unwrap();
    let buf = run(&f.state, &inp2, 3);
    assert_eq!(buf, vec![0.0, 0.0, 0.0, 0.0, w, 0.0]);
    // Without the option every code is its own category.
    let f = Firmographic::fit(&inp, &Options::default()).unwrap();
    assert_eq!(f.features.len(), 4);
}

#[test]
fn name_maps_parse_and_refuse_malformed_lists() {
    let m = parse_names("industry_names", "1:Horeca, 2 : Retail,3:A: B").unwrap();
    assert_eq!(m["1"], "Horeca");
    assert_eq!(m["2"], "Retail");
    assert_eq!(m["3"], "A: B");
    for bad in [
        "Horeca",
        "1:Horeca,,2:Retail",
        "1:",
        ":Retail",
        "1:A,1:B",
        "",
    ] {
        let e = parse_names("region_names", bad).unwrap_err();
        assert!(
            e.0.contains("--option region_names")
                && e.0.contains("CODE:NAME pairs")
                && e.0.contains("region_names=1:Horeca,2:Retail"),
            "{e}"
        );
    }
    // Options that need a role refuse to work without it; codes finer than the level too.
    let v = [1.0, 2.0];
    let inp = Input::new(2, vec![num("tenure", "Years", &v)]).unwrap();
    let e = Firmographic::fit(&inp, &opts(&[("region_names", "1:North")])).unwrap_err();
    assert!(e.0.contains("region_names needs the region role"), "{e}");
    let e = Firmographic::fit(&inp, &opts(&[("industry_level", "2")])).unwrap_err();
    assert!(
        e.0.contains("industry_level needs the industry role"),
        "{e}"
    );
    let codes = [0, 1];
    let inp = Input::new(2, vec![cat("industry", "NAICS", &codes, vec!["31", "54"])]).unwrap();
    let e = Firmographic::fit(
        &inp,
        &opts(&[("industry_level", "2"), ("industry_names", "311:Food")]),
    )
    .unwrap_err();
    assert!(
        e.0.contains("'311'") && e.0.contains("industry_level=2"),
        "{e}"
    );
    let e = Firmographic::fit(&inp, &opts(&[("industry_names", "31")])).unwrap_err();
    assert!(e.0.contains("CODE:NAME"), "{e}");
}

#[test]
fn employees_and_revenue_are_logged_and_negatives_refused() {
    let emp = [0.0, 9.0, 99.0, f64::NAN];
    let inp = Input::new(4, vec![num("employees", "Staff", &emp)]).unwrap();
    let none = opts(&[("scale", "none")]);
    let f = Firmographic::fit(&inp, &none).unwrap();
    assert_eq!(f.features, vec!["Staff"]);
    let buf = run(&f.state, &inp, 1);
    assert_eq!(buf[0], 0.0);
    assert!((buf[1] - 10f32.ln()).abs() < 1e-6);
    assert!((buf[2] - 100f32.ln()).abs() < 1e-5);
    assert!(
        (buf[3] - 10f32.ln()).abs() < 1e-6,
        "missing → median, ln 10"
    );
    // z-scored by default: centred on the mean of the logs.
    let f = Firmographic::fit(&inp, &Options::default()).unwrap();
    let buf = run(&f.state, &inp, 1);
    let sum: f32 = buf.iter().sum();
    assert!(sum.abs() < 1e-5, "{buf:?}");

    let bad = [5.0, -3.0, -1.0];
    let inp = Input::new(3, vec![num("revenue", "Turnover", &bad)]).unwrap();
    let e = Firmographic::fit(&inp, &Options::default()).unwrap_err();
    assert!(
        e.0.contains("'Turnover'") && e.0.contains("2 negative values"),
        "{e}"
    );
    // New data with a negative value is refused when scored too.
    let good = [5.0, 3.0];
    let inp = Input::new(2, vec![num("revenue", "Turnover", &good)]).unwrap();
    let f = Firmographic::fit(&inp, &Options::default()).unwrap();
    let neg = [-1.0];
    let inp = Input::new(1, vec![num("revenue", "Turnover", &neg)]).unwrap();
    let mut buf = vec![0f32; 1];
    let e = Firmographic::transform(
        &f.state,
        &inp,
        &mut FeatureMatrix::new(&mut buf, 1).unwrap(),
    )
    .unwrap_err();
    assert!(
        e.0.contains("'Turnover'") && e.0.contains("1 negative value:"),
        "{e}"
    );
}

#[test]
fn spend_total_and_mix_features() {
    let a = [10.0, 0.0, 30.0, f64::NAN];
    let b = [30.0, 0.0, 10.0, 20.0];
    let inp = Input::new(4, vec![num("spend", "A", &a), num("spend", "B", &b)]).unwrap();
    let f = Firmographic::fit(&inp, &opts(&[("scale", "none")])).unwrap();
    assert_eq!(
        f.features,
        vec!["spend_total", "spend_share:A", "spend_share:B"]
    );
    let Block::Spend(s) = &f.state.blocks[0] else {
        panic!("spend block expected")
    };
    assert_eq!(s.impute, vec![10.0, 15.0]); // A's median of 10, 0, 30
    assert!(!s.total.log); // totals 40, 0, 40, 30: not right-skewed
    let w = mix_weight(2) as f32;
    let buf = run(&f.state, &inp, 3);
    assert_eq!(&buf[0..3], &[40.0, 0.25 * w, 0.75 * w]);
    assert_eq!(&buf[3..6], &[0.0, 0.0, 0.0], "zero total: shares 0");
    assert_eq!(&buf[6..9], &[40.0, 0.75 * w, 0.25 * w]);
    assert_eq!(
        &buf[9..12],
        &[30.0, w / 3.0, 2.0 * w / 3.0],
        "A imputed to 10"
    );
    // z-scored: each share has unit variance before the weight, so the mix's variance
    // sums to that of one feature.
    let f = Firmographic::fit(&inp, &Options::default()).unwrap();
    let buf = run(&f.state, &inp, 3);
    let var = |j: usize| {
        (0..4)
            .map(|r| f64::from(buf[r * 3 + j]).powi(2))
            .sum::<f64>()
            / 4.0
    };
    assert!((var(0) - 1.0).abs() < 1e-5);
    assert!(
        (var(1) + var(2) - 1.0).abs() < 1e-5,
        "{} {}",
        var(1),
        var(2)
    );

    // One spend column: the total under the column's name, no mix; skewed → logged.
    let x: Vec<f64> = (0..50)
        .map(|i| if i < 45 { 100.0 } else { 100_000.0 })
        .collect();
    let inp = Input::new(50, vec![num("spend", "Revenue2024", &x)]).unwrap();
    let f = Firmographic::fit(&inp, &Options::default()).unwrap();
    assert_eq!(f.features, vec!["Revenue2024"]);
    let Block::Spend(s) = &f.state.blocks[0] else {
        panic!("spend block expected")
    };
    assert!(s.total.log && s.mix.is_empty());
}

#[test]
fn state_round_trips_and_scores_new_data() {
    let codes = [0, 1, 0, 1];
    let emp = [5.0, 60.0, 300.0, 2000.0];
    let a = [1.0, 2.0, 3.0, 4.0];
    let b = [4.0, 3.0, 2.0, f64::NAN];
    let t = [1.0, 5.0, f64::NAN, 9.0];
    let cols = || {
        vec![
            cat("industry", "SIC", &codes, vec!["2011", "5812"]),
            num("employees", "Employees", &emp),
            num("spend", "A", &a),
            num("spend", "B", &b),
            num("tenure", "Years", &t),
        ]
    };
    let inp = Input::new(4, cols()).unwrap();
    let o = opts(&[
        ("industry_level", "1"),
        ("industry_names", "2:Manufacturing,5:Retail"),
        ("scale", "robust"),
    ]);
    let f = Firmographic::fit(&inp, &o).unwrap();
    assert_eq!(f.features.len(), 2 + 1 + 3 + 1);
    let json = serde_json::to_string(&f.state).unwrap();
    let back: State = serde_json::from_str(&json).unwrap();
    assert_eq!(back, f.state);
    assert_eq!(back.industry_names["5"], "Retail");
    assert_eq!(back.scale, Scale::Robust);
    // The reloaded state transforms exactly as the original.
    assert_eq!(run(&back, &inp, 7), run(&f.state, &inp, 7));
    // Columns may come in any order in a new batch.
    let mut reordered = cols();
    reordered.reverse();
    let inp2 = Input::new(4, reordered).unwrap();
    assert_eq!(run(&back, &inp2, 7), run(&f.state, &inp, 7));
}

#[test]
fn no_columns_names_the_roles() {
    let inp = Input::new(3, vec![]).unwrap();
    let e = Firmographic::fit(&inp, &Options::default()).unwrap_err();
    assert!(
        e.0.contains("industry, employees, revenue, region, spend, purchase_frequency, tenure, lifecycle_stage"),
        "{e}"
    );
    let v = [1.0];
    let inp = Input::new(1, vec![num("tenure", "T", &v)]).unwrap();
    for (k, v) in [
        ("revenue_unit", "0"),
        ("revenue_unit", "k"),
        ("scale", "minmax"),
    ] {
        assert!(
            Firmographic::fit(&inp, &opts(&[(k, v)])).is_err(),
            "{k}={v}"
        );
    }
    assert_eq!(parse_revenue_unit("1000").unwrap(), 1000.0);
}

#[test]
fn bands() {
    let cases = [
        (1.0, "micro"),
        (9.0, "micro"),
        (9.99, "micro"),
        (10.0, "small"),
        (49.0, "small"),
        (50.0, "mid-market"),
        (249.0, "mid-market"),
        (250.0, "large"),
        (999.0, "large"),
        (1000.0, "enterprise"),
        (1e6, "enterprise"),
    ];
    for (n, band) in cases {
        assert_eq!(employee_band(n), band, "{n}");
    }
    assert_eq!(revenue_band(500_000.0), "micro");
    assert_eq!(revenue_band(5e6), "small");
    assert_eq!(revenue_band(20e6), "mid-market");
    assert_eq!(revenue_band(200e6), "large");
    assert_eq!(revenue_band(3e9), "enterprise");
}

fn state(industry_names: &[(&str, &str)], level: Option<u8>) -> State {
    State {
        scale: Scale::Zscore,
        industry_level: level,
        industry_names: industry_names
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        region_names: [("1", "Lisbon")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        revenue_unit: 1.0,
        blocks: vec![Block::Spend(Spend {
            columns: vec!["Fresh".into(), "Grocery".into()],
            impute: vec![100.0, 100.0],
            total: NumericScaler::fit("spend_total", &[0.0, 1.0], Scale::Zscore, false).unwrap(),
            total_mean: 200.0,
            total_std: 100.0,
            mix: vec![],
        })],
    }
}

#[test]
fn labels_read_like_the_issue() {
    let s = state(&[("31", "manufacturing")], Some(2));
    // 311812 and 312111 group into 31: 0.4 + 0.3 = 70% of the segment.
    let industry = categories(
        "industry",
        "NAICS",
        vec![
            level("311812", 0.4, 0.2),
            level("541110", 0.3, 0.5),
            level("312111", 0.3, 0.3),
        ],
    );
    let p = profile(
        vec![
            stat("employees", "Employees", 120.0, 80.0, 50.0),
            stat("spend", "Fresh", 200.0, 100.0, 50.0),
            stat("spend", "Grocery", 150.0, 100.0, 50.0),
            stat("tenure", "Years", 12.0, 6.0, 3.0),
            stat("purchase_frequency", "Orders", 10.0, 10.0, 3.0),
        ],
        vec![industry],
    );
    assert_eq!(
        Firmographic::label(&s, &p),
        "Mid-market manufacturing, high spend, long tenure"
    );
    // Unnamed codes read as "industry 54"; a lopsided mix is named; low values too.
    let s = state(&[], Some(2));
    let p = profile(
        vec![
            stat("employees", "Employees", 3.0, 80.0, 50.0),
            stat("spend", "Fresh", 20.0, 100.0, 50.0),
            stat("spend", "Grocery", 100.0, 100.0, 50.0),
            stat("tenure", "Years", 1.0, 6.0, 3.0),
            stat("purchase_frequency", "Orders", 2.0, 10.0, 3.0),
        ],
        vec![categories(
            "industry",
            "NAICS",
            vec![level("541110", 0.9, 0.5), level("311812", 0.1, 0.5)],
        )],
    );
    assert_eq!(
        Firmographic::label(&s, &p),
        "Micro industry 54, low spend, new customers, infrequent buyers, Grocery-heavy"
    );
}

#[test]
fn a_mix_is_lopsided_only_when_one_category_is_large_and_over_represented() {
    let mut s = state(&[], None);
    if let Block::Spend(sp) = &mut s.blocks[0] {
        sp.columns = vec!["Fresh".into(), "Milk".into(), "Grocery".into()];
        sp.impute = vec![1.0; 3];
    }
    let p = |fresh, milk, grocery| {
        profile(
            vec![
                stat("spend", "Fresh", fresh, 50.0, 10.0),
                stat("spend", "Milk", milk, 20.0, 10.0),
                stat("spend", "Grocery", grocery, 30.0, 10.0),
            ],
            vec![],
        )
    };
    // Milk doubles its share but is only 25% of the spend: balanced.
    assert_eq!(heavy_spend_category(&s, &p(40.0, 25.0, 35.0)), None);
    // Milk at 40% (2x its overall 20%): lopsided.
    assert_eq!(heavy_spend_category(&s, &p(30.0, 40.0, 30.0)), Some("Milk"));
    // Fresh at 60% is only 1.2x its overall 50%: not lopsided.
    assert_eq!(heavy_spend_category(&s, &p(60.0, 15.0, 25.0)), None);
    // Fresh at 70% is 1.4x: lopsided.
    assert_eq!(
        heavy_spend_category(&s, &p(70.0, 10.0, 20.0)),
        Some("Fresh")
    );
}

#[test]
fn labels_without_size_or_industry_and_with_regions() {
    let s = state(&[("1", "Horeca")], None);
    let region = categories(
        "region",
        "Region",
        vec![level("1", 0.8, 0.2), level("3", 0.2, 0.8)],
    );
    let channel = categories(
        "industry",
        "Channel",
        vec![level("1", 0.95, 0.7), level("2", 0.05, 0.3)],
    );
    let spend = vec![
        stat("spend", "Fresh", 120.0, 100.0, 50.0),
        stat("spend", "Grocery", 100.0, 100.0, 50.0),
    ];
    let p = profile(spend.clone(), vec![channel.clone(), region]);
    assert_eq!(
        Firmographic::label(&s, &p),
        "Horeca, average spend, Lisbon region"
    );
    // An unnamed code; then a mixed industry, left out.
    let two = categories(
        "industry",
        "Channel",
        vec![level("2", 0.55, 0.3), level("1", 0.45, 0.7)],
    );
    let p = profile(spend.clone(), vec![two]);
    assert_eq!(Firmographic::label(&s, &p), "Industry 2, average spend");
    let mixed = categories(
        "industry",
        "Channel",
        vec![
            level("2", 0.45, 0.3),
            level("1", 0.4, 0.5),
            level("3", 0.15, 0.2),
        ],
    );
    let p = profile(spend, vec![mixed]);
    assert_eq!(Firmographic::label(&s, &p), "Average spend");
    let p = profile(vec![stat("revenue", "Turnover", 5e9, 1e8, 1e8)], vec![]);
    assert_eq!(Firmographic::label(&s, &p), "Enterprise firms");
    let mut s2 = s.clone();
    s2.revenue_unit = 1000.0; // revenue in thousands: 5,000 → 5M
    let p = profile(
        vec![stat("revenue", "Turnover", 5000.0, 100.0, 1.0)],
        vec![],
    );
    assert_eq!(Firmographic::label(&s2, &p), "Small firms");
    let p = profile(vec![], vec![]);
    assert_eq!(Firmographic::label(&s, &p), "Typical firms");
    let p = profile(
        vec![],
        vec![categories(
            "lifecycle_stage",
            "Stage",
            vec![level("At risk", 0.7, 0.2)],
        )],
    );
    assert_eq!(Firmographic::label(&s, &p), "Mostly at risk");
}

#[test]
fn labels_never_exceed_the_host_limit() {
    let long = "x".repeat(200);
    let s = state(&[("1", long.as_str())], None);
    let p = profile(
        vec![
            stat("spend", "Fresh", 300.0, 100.0, 50.0),
            stat("spend", "Grocery", 100.0, 100.0, 50.0),
        ],
        vec![categories(
            "industry",
            "Channel",
            vec![level("1", 1.0, 0.5)],
        )],
    );
    let l = Firmographic::label(&s, &p);
    assert_eq!(l.chars().count(), strata_plugin_api::label::MAX_LABEL_CHARS);
    assert!(l.ends_with('…'));
    let s = state(&[("1", &long[..110])], None);
    let l = Firmographic::label(&s, &p);
    assert!(
        l.chars().count() <= strata_plugin_api::label::MAX_LABEL_CHARS && !l.contains("spend"),
        "{l}"
    );
}

#[test]
fn docs_cover_options_and_bands() {
    let d = Firmographic::docs();
    for needle in [
        "industry_level",
        "industry_names",
        "region_names",
        "revenue_unit",
        "1-9 micro",
        "1000+ enterprise",
        "1/sqrt(m)",
    ] {
        assert!(d.contains(needle), "{needle}");
    }
}
