//! End-to-end tests of the psychographic strategy: the planted personas of
//! `examples/survey.csv` (written by `scripts/make_survey.py`) and the real Young People Survey.

use std::collections::HashMap;

use crate::util::*;

const LIKERT_GLOBS: &str = "likert=Music*,Outdoor*,Fashion*,Tech*,Home*";

/// Adjusted Rand index of two labelings of the same items (Hubert & Arabie).
fn adjusted_rand_index(a: &[&str], b: &[&str]) -> f64 {
    assert_eq!(a.len(), b.len());
    let pairs = |n: u64| n * n.saturating_sub(1) / 2;
    let mut cells: HashMap<(&str, &str), u64> = HashMap::new();
    let mut rows: HashMap<&str, u64> = HashMap::new();
    let mut cols: HashMap<&str, u64> = HashMap::new();
    for (x, y) in a.iter().zip(b) {
        *cells.entry((x, y)).or_default() += 1;
        *rows.entry(x).or_default() += 1;
        *cols.entry(y).or_default() += 1;
    }
    let index = cells.values().map(|&n| pairs(n)).sum::<u64>() as f64;
    let sum_a = rows.values().map(|&n| pairs(n)).sum::<u64>() as f64;
    let sum_b = cols.values().map(|&n| pairs(n)).sum::<u64>() as f64;
    let expected = sum_a * sum_b / pairs(a.len() as u64) as f64;
    let max = (sum_a + sum_b) / 2.0;
    if max == expected {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

#[test]
fn ari_helper_is_right_on_known_cases() {
    let t = ["a", "a", "b", "b", "c", "c"];
    assert_eq!(
        adjusted_rand_index(&t, &["x", "x", "y", "y", "z", "z"]),
        1.0
    );
    // sklearn: adjusted_rand_score([0,0,1,1,2,2],[0,0,1,2,2,2]) = 0.4444…
    let got = adjusted_rand_index(&t, &["0", "0", "1", "2", "2", "2"]);
    assert!((got - 4.0 / 9.0).abs() < 1e-12, "{got}");
    // sklearn: adjusted_rand_score([0,0,1,1],[0,1,0,1]) = -0.5
    let got = adjusted_rand_index(&["0", "0", "1", "1"], &["0", "1", "0", "1"]);
    assert!((got + 0.5).abs() < 1e-12, "{got}");
}

/// The first `key` anywhere inside `v` (the model nests the plugin's state).
fn find_key<'v>(v: &'v serde_json::Value, key: &str) -> Option<&'v serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m
            .get(key)
            .or_else(|| m.values().find_map(|x| find_key(x, key))),
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_key(x, key)),
        _ => None,
    }
}

fn centroid_norms(model: &Model) -> Vec<f64> {
    model
        .centroids
        .iter()
        .map(|c| c.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt())
        .collect()
}

#[test]
fn survey_segments_recover_the_planted_personas() {
    let input = repo().join("examples/survey.csv");
    let (_dir, out, stdout) = fit_ok(
        &input,
        &[
            "--strategy",
            "psychographic",
            "--id-column",
            "respondent_id",
            "--map",
            LIKERT_GLOBS,
            "--map",
            "interests=Interest*",
            "--map",
            "lifestyle=Lifestyle",
            "--k",
            "4",
        ],
    );
    let ids = ids_of(&input, 0);
    let rows = check_outputs(&out, &ids, 4);
    assert!(
        stdout.contains("Segmented 1000 of 1000 customers with strategy psychographic"),
        "{stdout}"
    );
    assert!(stdout.contains("Missing values imputed: "), "{stdout}");

    // Segments vs planted personas.
    let truth: HashMap<String, String> = read_csv(&repo().join("examples/survey_truth.csv"))[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    assert_eq!(truth.len(), 1000);
    let segments: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    let personas: Vec<&str> = rows[1..].iter().map(|r| truth[&r[0]].as_str()).collect();
    let ari = adjusted_rand_index(&segments, &personas);
    assert!(ari >= 0.8, "adjusted Rand index {ari} < 0.8");

    // Each segment's label names its persona's own group of items.
    let seg = json(&out.join("segments.json"));
    let word = |persona: &str| match persona {
        "outdoor_adventurer" => "Outdoor",
        "tech_enthusiast" => "Tech",
        "fashion_follower" => "Fashion",
        "home_and_culture" => "Home",
        other => panic!("unknown persona {other}"),
    };
    for (j, s) in seg["segments"].as_array().unwrap().iter().enumerate() {
        let label = s["label"].as_str().unwrap();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (sg, p) in segments.iter().zip(&personas) {
            if *sg == j.to_string() {
                *counts.entry(p).or_default() += 1;
            }
        }
        let (majority, _) = counts.iter().max_by_key(|(_, n)| **n).unwrap();
        assert!(
            label.starts_with("High ") && label.contains(word(majority)),
            "segment {j} is mostly {majority} but is labelled '{label}'"
        );
        assert!(label.chars().count() <= 120);
    }
    assert_eq!(seg["input"]["missing"]["Tech: Coding"], 30);
    assert_eq!(seg["features"].as_array().unwrap().len(), 16 + 4 + 4);

    // The saved model holds what scoring needs: inferred 1-5 scales, medians, cosine rows.
    let model = Model::load(&out.join("model.json")).unwrap();
    let encoders = find_key(&model.state, "encoders")
        .and_then(|e| e.as_array())
        .expect("encoders in the state");
    assert_eq!(encoders.len(), 16 + 4 + 1);
    let likert: Vec<_> = encoders.iter().filter(|e| e["kind"] == "likert").collect();
    assert_eq!(likert.len(), 16);
    assert!(likert.iter().all(|e| e["scale"] == "1-5"), "{likert:?}");
    assert_eq!(find_key(&model.state, "metric").unwrap(), "cosine");
    // Centroids of unit rows lie inside the unit ball.
    let norms = centroid_norms(&model);
    assert!(norms.iter().all(|&n| n <= 1.0 + 1e-5), "{norms:?}");
}

#[test]
fn euclidean_option_skips_the_normalisation() {
    let input = repo().join("examples/survey.csv");
    let (_dir, out, _) = fit_ok(
        &input,
        &[
            "-s",
            "psychographic",
            "--id-column",
            "respondent_id",
            "--map",
            LIKERT_GLOBS,
            "--option",
            "metric=euclidean",
            "--option",
            "likert_scale=1-7",
        ],
    );
    // Default k 4; Lifestyle binds itself by name.
    check_outputs(&out, &ids_of(&input, 0), 4);
    let model = Model::load(&out.join("model.json")).unwrap();
    assert_eq!(find_key(&model.state, "metric").unwrap(), "euclidean");
    assert!(model.features.iter().any(|f| f == "Lifestyle=Active"));
    let encoders = find_key(&model.state, "encoders")
        .unwrap()
        .as_array()
        .unwrap();
    assert!(
        encoders
            .iter()
            .filter(|e| e["kind"] == "likert")
            .all(|e| e["scale"] == "1-7")
    );
    // Rows of 16 items in [0, 1] are not unit length: neither are their centroids.
    let norms = centroid_norms(&model);
    assert!(norms.iter().all(|&n| n > 1.5), "{norms:?}");
}

#[test]
fn young_people_survey_music_items() {
    let input = shared("young_people_survey/responses.csv");
    // Headers with commas ("Hiphop, Rap") are bound by glob inside the list.
    let music = "likert=Music,Slow songs or fast songs,Dance,Folk,Country,Classical music,Musical,\
                 Pop,Rock,Metal or Hardrock,Punk,Hiphop*,Reggae*,Swing*,Rock n roll,Alternative,\
                 Latino,Techno*,Opera";
    let (_dir, out, stdout) = fit_ok(&input, &["-s", "psychographic", "--map", music]);
    // No id column: row numbers are the ids.
    let ids: Vec<String> = (1..=1010).map(|i| i.to_string()).collect();
    check_outputs(&out, &ids, 4);
    assert!(
        stdout.contains("Segmented 1010 of 1010 customers"),
        "{stdout}"
    );
    let seg = json(&out.join("segments.json"));
    let features: Vec<&str> = seg["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(features.len(), 19);
    assert!(features.contains(&"Hiphop, Rap") && features.contains(&"Techno, Trance"));
    assert_eq!(seg["input"]["missing"]["Hiphop, Rap"], 4);
    let labels: std::collections::HashSet<&str> = seg["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels.len(), 4, "{labels:?}");
    assert!(
        labels.iter().any(|l| l.starts_with("High ")),
        "some segment stands out: {labels:?}"
    );
    assert!(
        labels.iter().all(|l| !l.contains("Hiphop, Rap")),
        "a comma inside an item name is not a separator: {labels:?}"
    );
    let model = Model::load(&out.join("model.json")).unwrap();
    let encoders = find_key(&model.state, "encoders")
        .unwrap()
        .as_array()
        .unwrap();
    assert!(encoders.iter().all(|e| e["scale"] == "1-5"), "{encoders:?}");
}

#[test]
fn plugins_describes_roles_and_options() {
    let o = run(&["plugins", "--strategy", "psychographic"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    for needle in [
        "likert",
        "Likert scale",
        "interests",
        "lifestyle",
        "values",
        "several columns",
    ] {
        assert!(s.contains(needle), "{needle:?} missing from:\n{s}");
    }
}

const SURVEY: &str = "id,q1,q2\n1,1,2\n2,5,4\n3,3,3\n4,2,5\n";

#[test]
fn clear_errors_for_bad_options_and_answers() {
    let base = ["-s", "psychographic", "--id-column", "id", "--k", "2"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        v
    };
    fails(
        &with(&["--map", "likert=q*", "--option", "likert_scale=1-4"]),
        SURVEY,
        &["unknown likert_scale '1-4'", "1-5, 1-7, 0-10 or auto"],
    );
    fails(
        &with(&["--map", "likert=q*", "--option", "metric=manhattan"]),
        SURVEY,
        &["unknown metric 'manhattan'", "cosine or euclidean"],
    );
    fails(
        &with(&["--map", "likert=q*", "--scale", "zscore"]),
        SURVEY,
        &["does not use --scale"],
    );
    fails(
        &with(&["--map", "likert=q*"]),
        "id,q1,q2\n1,1,2\n2,12,3\n3,4,4\n",
        &["'q1'", "from 1 to 12", "1-5, 1-7, 0-10"],
    );
    fails(
        &with(&["--map", "likert=q1,q2", "--option", "likert_scale=1-5"]),
        "id,q1,q2\n1,1,2\n2,3,7\n3,4,4\n",
        &["'q2'", "from 2 to 7", "1-5"],
    );
    fails(
        &with(&[]),
        "id,colour\n1,red\n2,blue\n",
        &["likert, interests, lifestyle, values"],
    );
}
