//! Geographic segments: customers around planted cities (one on the date line) come back as
//! segments with their cities' centres and radii, the map is drawn, an anchor adds a distance
//! and survives the saved model, and coordinates that are not places are errors or flagged.

use crate::util::*;

/// The demographic strategy on a `synth --kind geographic` file, one segment per city.
pub const CITIES_FIT: [&str; 6] = [
    "-s",
    "demographic",
    "--id-column",
    "customer_id",
    "--k",
    "6",
];

/// Haversine on a sphere of the Earth's mean radius, written out here so the test does not
/// lean on the code it checks.
fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let (dp, dl) = (p2 - p1, (b.1 - a.1).to_radians());
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0088 * h.sqrt().asin()
}

#[test]
fn a_geographic_fit_recovers_the_planted_cities() {
    let dir = tempfile::tempdir().unwrap();
    let (file, truth) = (dir.path().join("geo.csv"), dir.path().join("truth.csv"));
    let o = run(&[
        "synth",
        "--kind",
        "geographic",
        "--rows",
        "20000",
        "--seed",
        "3",
        "--out",
        file.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (_d, out, stdout) = fit_ok(&file, &CITIES_FIT);
    // Every city's customers with coordinates fall in one segment, each city in its own.
    let rows = read_csv(&file);
    let assigned = read_csv(&out.join("assignments.csv"));
    let planted = read_csv(&truth);
    let mut counts = std::collections::BTreeMap::<(String, String), usize>::new();
    for ((r, a), t) in rows[1..].iter().zip(&assigned[1..]).zip(&planted[1..]) {
        assert_eq!((&r[0], &a[0]), (&t[0], &t[0]));
        if !r[1].is_empty() {
            *counts.entry((t[1].clone(), a[1].clone())).or_default() += 1;
        }
    }
    let mut segment_of_city = std::collections::BTreeMap::new();
    for ((city, segment), n) in &counts {
        let total: usize = counts
            .iter()
            .filter(|((c, _), _)| c == city)
            .map(|(_, n)| n)
            .sum();
        if *n * 100 >= total * 99 {
            segment_of_city.insert(city.clone(), segment.clone());
        }
    }
    assert_eq!(segment_of_city.len(), 6, "{counts:?}");
    let distinct: std::collections::BTreeSet<&String> = segment_of_city.values().collect();
    assert_eq!(distinct.len(), 6, "{segment_of_city:?}");

    // Each segment's centre is its city's, its radius that of a normal spread of σ km per
    // axis (80% within σ·√(2 ln 5)), and Taveuni's centre sits on the date line, not at the
    // arithmetic mean of ±180.
    const CITIES: [(f64, f64, f64); 6] = [
        (51.5074, -0.1278, 25.0),
        (48.8566, 2.3522, 20.0),
        (52.5200, 13.4050, 20.0),
        (40.4168, -3.7038, 18.0),
        (41.9028, 12.4964, 15.0),
        (-16.8500, 179.9700, 12.0),
    ];
    let seg = json(&out.join("segments.json"));
    assert_eq!(
        seg["geo"]["places"],
        20_000 - seg["geo"]["missing"].as_u64().unwrap()
    );
    assert_eq!(seg["geo"]["invalid"], 0);
    for (city, segment) in &segment_of_city {
        let (lat, lon, sd) = CITIES[city.parse::<usize>().unwrap()];
        let s = seg["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["segment"].as_u64() == segment.parse().ok())
            .unwrap();
        let g = &s["geo"];
        let centre = (
            g["latitude"].as_f64().unwrap(),
            g["longitude"].as_f64().unwrap(),
        );
        assert!(km(centre, (lat, lon)) < 3.0, "city {city}: {g}");
        let radius = g["radius_km"].as_f64().unwrap();
        let want = sd * (2.0 * 5f64.ln()).sqrt();
        assert!(
            (radius / want - 1.0).abs() < 0.1,
            "city {city}: {radius} against {want}"
        );
        if city == "5" {
            let label = s["label"].as_str().unwrap();
            assert!(label.contains("near 16.9°S 180.0°E"), "{label}");
        }
    }
    assert!(
        stdout.contains("Where (latitude and longitude): "),
        "{stdout}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let map = &html[html.find("id=\"chart-geo\"").expect("a map")..];
    let map = &map[..map.find("</figure>").unwrap()];
    assert_eq!(map.matches("class=\"centroid\"/>").count(), 6);
    assert!(
        map.matches("class=\"point\"").count() > 1900,
        "the sample drawn"
    );
}

/// `--option anchor=` adds the distance to the nearest anchor as a feature; the saved model
/// keeps the encoding, so `assign` on the same file gives the same segments.
#[test]
fn an_anchor_is_a_feature_and_the_model_scores_as_the_fit_did() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("geo.csv");
    synth_to(&file, "geographic", 3_000, 8);
    let (_d, out, _) = fit_ok(
        &file,
        &[
            &CITIES_FIT[..],
            &["-O", "anchor=51.5074,-0.1278;48.8566,2.3522"],
        ]
        .concat(),
    );
    let seg = json(&out.join("segments.json"));
    assert_eq!(
        seg["features"],
        serde_json::json!([
            "latitude/longitude x",
            "latitude/longitude y",
            "latitude/longitude z",
            "km to the nearest anchor"
        ])
    );
    let scored = dir.path().join("scored");
    let o = run(&[
        "assign",
        "--model",
        out.join("model.json").to_str().unwrap(),
        file.to_str().unwrap(),
        "-o",
        scored.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read(out.join("assignments.csv")).unwrap(),
        std::fs::read(scored.join("assignments.csv")).unwrap()
    );
    let o = run(&[
        "export-sql",
        "--model",
        out.join("model.json").to_str().unwrap(),
        "--dialect",
        "postgresql",
        "--table",
        "t",
    ]);
    assert!(!o.status.success());
}

#[test]
fn coordinates_that_are_not_places_are_errors_or_flagged() {
    let csv =
        "id,latitude,longitude\n1,51.5,-0.1\n2,51.6,-0.2\n3,95,3\n4,0,0\n5,48.8,2.3\n6,48.9,2.4\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    std::fs::write(&file, csv).unwrap();
    let args = ["-s", "demographic", "--id-column", "id", "--k", "2"];
    let out = dir.path().join("out");
    let mut all = vec!["fit"];
    all.extend(args);
    all.extend(["-o", out.to_str().unwrap(), file.to_str().unwrap()]);
    let o = run(&all);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("2 coordinate pairs that are not places, the first 95, 3 in data row 3")
            && err.contains("invalid_coordinates=flag"),
        "{err}"
    );
    assert!(!out.exists(), "nothing written");
    let (_d, out, stdout) = fit_ok(
        &file,
        &[&args[..], &["-O", "invalid_coordinates=flag"]].concat(),
    );
    assert!(
        stdout.contains("Warning: 2 customers have coordinates that are not places"),
        "{stdout}"
    );
    let seg = json(&out.join("segments.json"));
    assert_eq!(
        (
            seg["geo"]["invalid"].as_u64(),
            seg["geo"]["places"].as_u64()
        ),
        (Some(2), Some(4))
    );
    // Only one of the two roles is an error that says what is missing.
    let one = dir.path().join("one.csv");
    std::fs::write(&one, "id,latitude,age\n1,51.5,30\n2,48.8,40\n3,40.1,50\n").unwrap();
    let o = run(&[
        "fit",
        "-s",
        "demographic",
        "--id-column",
        "id",
        "--k",
        "2",
        "-o",
        dir.path().join("o2").to_str().unwrap(),
        one.to_str().unwrap(),
    ]);
    assert!(
        text(&o.stderr).contains("no column to longitude"),
        "{}",
        text(&o.stderr)
    );
}
