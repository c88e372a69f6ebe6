//! `--algorithm kprototypes|auto`: k-prototypes through the binary, on features the strategy
//! writes as codes (plugin ABI 1.4). The binary's fit is checked against `strata-kprototypes`
//! run directly on the same numbers and codes (the crate itself is checked against kmodes
//! 0.12.2 in its own tests), scoring a saved model against the fit, `auto`'s choice and
//! reason, and the refusals.

use std::collections::HashMap;

use crate::util::*;

const MALL: &str = "mall_customers/Mall_Customers.csv";

/// Mall with gender, age and income, unscaled, so the features are the file's numbers and
/// the test can rebuild them.
fn mall_args(extra: &[&'static str]) -> Vec<&'static str> {
    let mut a = vec![
        "--strategy",
        "demographic",
        "--id-column",
        "CustomerID",
        "--map",
        "gender=Genre",
        "--map",
        "age=Age",
        "--map",
        "income=Annual Income (k$)",
        "--scale",
        "none",
        "--k",
        "5",
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn mall_with_gender_by_kprototypes_is_the_crates_fit_of_the_same_customers() {
    let input = shared(MALL);
    let (_dir, out, stdout) = fit_ok(&input, &mall_args(&["--algorithm", "kprototypes"]));
    assert!(stdout.contains("k-prototypes: cost"), "{stdout}");
    let seg = json(&out.join("segments.json"));
    let model = json(&out.join("model.json"));
    assert_eq!(seg["algorithm"]["name"], "kprototypes");
    assert_eq!(seg["algorithm"]["categorical"][0], "Genre");
    assert_eq!(seg["quality"]["davies_bouldin"], serde_json::Value::Null);
    // The report names the algorithm and each segment's modes.
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("(k-prototypes, γ "), "the subtitle");
    assert!(report.contains("mode Genre "), "the segments' modes");
    // The features: the file's numbers (no log, no scaling) and Genre's code in sorted order.
    let features: Vec<String> = seg["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    for e in model["state"]["state"]["encoders"].as_array().unwrap() {
        if e["kind"] == "numeric" {
            assert_eq!(e["scaler"]["log"], false, "{e}");
            assert_eq!(e["scaler"]["center"], 0.0, "{e}");
            assert_eq!(e["scaler"]["scale"], 1.0, "{e}");
        } else {
            assert_eq!(e["kind"], "code", "{e}");
            assert_eq!(e["onehot"]["levels"], serde_json::json!(["Female", "Male"]));
        }
    }
    let rows = read_csv(&input);
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let (mut num, mut cat) = (Vec::new(), Vec::new());
    for r in &rows[1..] {
        for f in &features {
            match f.as_str() {
                "Genre" => cat.push(u32::from(r[col("Genre")] == "Male")),
                name => num.push(r[col(name)].parse::<f64>().unwrap()),
            }
        }
    }
    let data = strata_kprototypes::Data::new(&num, features.len() - 1, &cat, 1).unwrap();
    let params = strata_kprototypes::Params::new(5)
        .seed(model["kprototypes"]["seed"].as_u64().unwrap())
        .n_init(model["kprototypes"]["n_init"].as_u64().unwrap() as usize)
        .max_iter(model["kprototypes"]["max_iter"].as_u64().unwrap() as usize);
    let direct = strata_kprototypes::fit(&params, &data).unwrap();
    // The same γ, cost and passes, bit for bit.
    assert_eq!(seg["algorithm"]["gamma"].as_f64().unwrap(), direct.gamma);
    assert_eq!(
        model["kprototypes"]["gamma"].as_f64().unwrap(),
        direct.gamma
    );
    assert_eq!(seg["inertia"].as_f64().unwrap(), direct.cost);
    assert_eq!(
        seg["iterations"].as_u64().unwrap() as usize,
        direct.iterations
    );
    // The same partition: the binary numbers segments by size, so map its numbers to the
    // crate's, one to one.
    let assigned = read_csv(&out.join("assignments.csv"));
    let mut map: HashMap<String, u32> = HashMap::new();
    for (row, &l) in assigned[1..].iter().zip(&direct.labels) {
        let seen = map.entry(row[1].clone()).or_insert(l);
        assert_eq!(
            *seen, l,
            "segment {} holds two of the crate's clusters",
            row[1]
        );
    }
    assert_eq!(map.len(), 5);
    // Each segment's centroid is its prototype: the numeric means and the mode's code.
    let centroids = model["centroids"].as_array().unwrap();
    let numeric = model["kprototypes"]["numeric_prototypes"]
        .as_array()
        .unwrap();
    for (segment, &crate_label) in &map {
        let s: usize = segment.parse().unwrap();
        let l = crate_label as usize;
        let means: Vec<f64> = numeric[s]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(means, direct.num_centroids[l * 2..(l + 1) * 2].to_vec());
        let g = features.iter().position(|f| f == "Genre").unwrap();
        assert_eq!(
            centroids[s][g].as_f64().unwrap(),
            f64::from(direct.cat_centroids[l])
        );
    }
    // Each segment states its mode and the mode's share, which the profile's shares agree
    // with (the mode is the segment's most common category).
    for s in seg["segments"].as_array().unwrap() {
        let n = s["segment"].as_u64().unwrap() as usize;
        let g = features.iter().position(|f| f == "Genre").unwrap();
        let mode = ["Female", "Male"][centroids[n][g].as_f64().unwrap() as usize];
        assert_eq!(s["modes"][0]["column"], "Genre", "{s}");
        assert_eq!(s["modes"][0]["value"], mode, "{s}");
        let shares = s["categorical"][0]["shares"].as_array().unwrap();
        assert_eq!(
            shares[0]["value"], mode,
            "the mode leads the profile: {shares:?}"
        );
        assert_eq!(s["modes"][0]["share"], shares[0]["share"]);
        let members: Vec<&Vec<String>> = assigned[1..]
            .iter()
            .filter(|r| r[1] == n.to_string())
            .collect();
        let with_mode = members
            .iter()
            .filter(|r| rows[r[0].parse::<usize>().unwrap()][col("Genre")] == mode)
            .count();
        assert_eq!(
            s["modes"][0]["share"].as_f64().unwrap(),
            with_mode as f64 / members.len() as f64
        );
    }
}

#[test]
fn a_kprototypes_model_scores_its_own_customers_as_the_fit_did() {
    let input = shared(MALL);
    let (dir, out, _) = fit_ok(&input, &mall_args(&["--algorithm", "kprototypes"]));
    let scored = dir.path().join("scored");
    let o = run(&[
        "assign",
        "--model",
        out.join("model.json").to_str().unwrap(),
        "--out",
        scored.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let fitted = read_csv(&out.join("assignments.csv"));
    let again = read_csv(&scored.join("assignments.csv"));
    assert_eq!(fitted, again);
    let seg = json(&scored.join("segments.json"));
    // The scored cost is the fit's: the same prototypes, distance and customers.
    let fit_seg = json(&out.join("segments.json"));
    let (a, b) = (
        seg["inertia"].as_f64().unwrap(),
        fit_seg["inertia"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 1e-9 * b, "{a} vs {b}");
    // compare reads the fit and the scoring run as for k-means: nobody moved.
    let cmp = dir.path().join("cmp");
    let o = run(&[
        "compare",
        out.to_str().unwrap(),
        scored.to_str().unwrap(),
        "-o",
        cmp.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let c = json(&cmp.join("compare.json"));
    assert_eq!(
        (c["in_both"].as_u64(), c["moved"].as_u64()),
        (Some(200), Some(0))
    );
    // What scores k-means only says so.
    let o = run(&[
        "export-sql",
        "--model",
        out.join("model.json").to_str().unwrap(),
        "--table",
        "customers",
        "--dialect",
        "postgresql",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("k-prototypes"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn auto_chooses_kprototypes_for_categorical_features_and_says_why() {
    let input = shared(MALL);
    let (_d, out, stdout) = fit_ok(&input, &mall_args(&["--algorithm", "auto"]));
    let seg = json(&out.join("segments.json"));
    assert_eq!(seg["algorithm"]["name"], "kprototypes");
    let reason = seg["algorithm"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "auto: k-prototypes, because strategy 'demographic' declares 1 \
                            categorical feature (Genre)"
        ),
        "{reason}"
    );
    assert!(stdout.contains(reason), "{stdout}");
    // Numeric columns only: k-means, with the reason.
    let (_d, out, stdout) = fit_ok(
        &input,
        &[
            "--strategy",
            "features",
            "--id-column",
            "CustomerID",
            "--map",
            "features=Age,Annual Income (k$)",
            "--k",
            "3",
            "--algorithm",
            "auto",
        ],
    );
    let seg = json(&out.join("segments.json"));
    assert_eq!(seg["algorithm"]["name"], "kmeans");
    let reason = seg["algorithm"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("declares no categorical features"),
        "{reason}"
    );
    assert!(stdout.contains("Algorithm: auto: k-means"), "{stdout}");
    // By default the algorithm is k-means, as before, one-hot encoding the categories.
    let (_d, out, _) = fit_ok(&input, &mall_args(&[]));
    let seg = json(&out.join("segments.json"));
    assert_eq!(seg["algorithm"]["name"], "kmeans");
    assert!(json(&out.join("model.json")).get("kprototypes").is_none());
    assert!(
        seg["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "Genre=Female"),
        "one-hot features under k-means"
    );
}

#[test]
fn kprototypes_refuses_what_it_does_not_do_and_faulty_codes() {
    let csv = "id,g,x\n1,a,1\n2,b,2\n3,a,3\n4,b,4\n";
    let demo = [
        "--strategy",
        "demographic",
        "--id-column",
        "id",
        "--map",
        "gender=g",
        "--map",
        "age=x",
        "--k",
        "2",
    ];
    let with = |extra: &[&'static str]| {
        let mut a = demo.to_vec();
        a.extend_from_slice(extra);
        a
    };
    fails(
        &with(&["--gamma", "0.5"]),
        csv,
        &["--gamma weighs k-prototypes' mismatches"],
    );
    fails(
        &with(&["--algorithm", "kprototypes", "--gamma", "-1"]),
        csv,
        &["--gamma must be a finite number ≥ 0 (got -1)"],
    );
    fails(
        &with(&["--algorithm", "kprototypes", "--stream", "always"]),
        csv,
        &["does not go with --stream"],
    );
    fails(
        &[
            "--strategy",
            "features",
            "--map",
            "features=x",
            "--k",
            "2",
            "--algorithm",
            "kprototypes",
        ],
        csv,
        &[
            "--algorithm kprototypes needs categorical features",
            "strategy 'features' declares no categorical features",
        ],
    );
    // A plugin older than ABI 1.4 writes no codes: auto stays with k-means and says why,
    // and the plugin is never handed an option it does not know.
    let old = plugin_dir("v1_0", "oldminor");
    let (_d, out, _) = fit_ok(
        &repo().join("tests/fixtures/small_demographic.csv"),
        &[
            "-s",
            "oldminor",
            "--id-column",
            "customer_id",
            "--map",
            "features=age",
            "--k",
            "2",
            "--plugin-dir",
            old.path().to_str().unwrap(),
            "--algorithm",
            "auto",
        ],
    );
    let reason = json(&out.join("segments.json"))["algorithm"]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("speaks plugin ABI 1.0, which has no categorical codes"),
        "{reason}"
    );
    // A plugin that says a feature holds codes and writes something else is refused, with
    // the line.
    let dir = plugin_dir("faulty", "faulty");
    let d = dir.path().to_str().unwrap();
    fails_with_env(
        &[("STRATA_TEST_FAULT", "codes")],
        &[
            "--strategy",
            "faulty",
            "--k",
            "2",
            "--plugin-dir",
            d,
            "--algorithm",
            "kprototypes",
        ],
        "a,b\n0,1\n1,2\n0.5,3\n1,4\n",
        &["wrote 0.5 for feature 'a' at line 4, which it declared holds the codes of 2 categories"],
    );
}

#[test]
fn kprototypes_labels_on_the_gpu_as_on_the_cpu_bit_for_bit() {
    if !crate::gpu::gpu_present() {
        return;
    }
    // The Young People Survey: Likert items and lifestyle categories, 1,010 customers.
    let input = shared("young_people_survey/responses.csv");
    let args = |backend: &'static str| {
        vec![
            "--strategy",
            "psychographic",
            "--map",
            "likert=Music,Dance,Folk,Country,Classical music",
            "--map",
            "lifestyle=Smoking,Alcohol,Punctuality,Lying,Internet usage,Left - right handed",
            "--k",
            "4",
            "--algorithm",
            "kprototypes",
            "--backend",
            backend,
        ]
    };
    let (_g, gpu, _) = fit_ok(&input, &args("gpu"));
    let (_c, cpu, _) = fit_ok(&input, &args("cpu"));
    let (gs, cs) = (
        json(&gpu.join("segments.json")),
        json(&cpu.join("segments.json")),
    );
    assert_eq!(
        gs["backend"]["kind"], "gpu",
        "the GPU run must run on the GPU"
    );
    assert_eq!(cs["backend"]["kind"], "cpu");
    assert_eq!(gs["algorithm"]["categorical"].as_array().unwrap().len(), 6);
    // Bit for bit: the same cost, passes and every output row.
    assert_eq!(gs["inertia"], cs["inertia"]);
    assert_eq!(gs["iterations"], cs["iterations"]);
    assert_eq!(
        read_csv(&gpu.join("assignments.csv")),
        read_csv(&cpu.join("assignments.csv"))
    );
    assert_eq!(
        json(&gpu.join("model.json"))["kprototypes"],
        json(&cpu.join("model.json"))["kprototypes"]
    );
}

#[test]
fn k_auto_chooses_k_on_the_mixed_distance_by_the_stated_rule() {
    let input = shared(MALL);
    let mut args: Vec<&str> = mall_args(&["--algorithm", "kprototypes", "--k-range", "2..7"])
        .into_iter()
        .filter(|a| *a != "--k" && *a != "5")
        .collect();
    args.extend(["--k", "auto"]);
    let (dir, out, stdout) = fit_ok(&input, &args);
    assert!(stdout.contains("Recommended k ="), "{stdout}");
    let seg = json(&out.join("segments.json"));
    let sel = &seg["k_selection"];
    let candidates = sel["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 6);
    // The rule, applied again here: the largest k whose weakest segment is stable (Jaccard
    // above 0.75) and whose smallest holds 2%; else the best silhouette.
    let passing: Vec<u64> = candidates
        .iter()
        .filter(|c| {
            c["min_jaccard"].as_f64().unwrap() > 0.75 && c["min_share"].as_f64().unwrap() >= 0.02
        })
        .map(|c| c["k"].as_u64().unwrap())
        .collect();
    let chosen = sel["chosen"].as_u64().unwrap();
    match passing.iter().max() {
        Some(&k) => assert_eq!(chosen, k, "{sel}"),
        None => {
            let best = candidates
                .iter()
                .map(|c| c["silhouette"].as_f64().unwrap())
                .fold(f64::MIN, f64::max);
            let c = &candidates[chosen as usize - 2];
            assert!(c["silhouette"].as_f64().unwrap() >= best - 0.01, "{sel}");
        }
    }
    for c in candidates {
        // Mixed distance: no Euclidean-centroid scores, and the silhouette is stated.
        assert!(c["davies_bouldin"].is_null() && c["calinski_harabasz"].is_null());
        assert!(c["silhouette"].as_f64().is_some());
    }
    assert!(sel["null_reference"].is_null());
    assert_eq!(seg["k"].as_u64(), Some(chosen));
    assert_eq!(seg["algorithm"]["name"], "kprototypes");
    // choose-k gives the same table without writing a fit.
    let table = dir.path().join("table.json");
    let mut ck = vec!["choose-k"];
    ck.extend(args.iter().copied().filter(|a| *a != "--k" && *a != "auto"));
    ck.extend([input.to_str().unwrap(), "--json", table.to_str().unwrap()]);
    let o = run(&ck);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let t = json(&table);
    assert_eq!(t["chosen"], sel["chosen"]);
    assert_eq!(t["candidates"], sel["candidates"]);
}
