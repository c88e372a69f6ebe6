//! End-to-end tests of privacy: personal columns (a plugin's `ROLE_PERSONAL`) never reach an
//! output or a log, ids can be pseudonymized, and no exported segment is smaller than
//! `--min-segment-size`.

use std::path::Path;

use crate::util::*;

/// Customers with e-mail addresses and phone numbers; returns the file.
fn contacts_csv(dir: &Path, bad_phone_at: Option<usize>) -> std::path::PathBuf {
    let mut s = String::from("id,spend,visits,email,phone,hint\n");
    for i in 0..300 {
        let group = i % 3;
        let domain = ["gmail.com", "acme.com", "example.org"][i % 3];
        let phone = if bad_phone_at == Some(i) {
            "call me maybe".to_owned()
        } else {
            format!("55501{i:05}")
        };
        s.push_str(&format!(
            "c{i},{},{},person.{i}@{domain},{phone},{}\n",
            100 * group + i % 7,
            3 * group + i % 2,
            ["north", "south", "east"][group],
        ));
    }
    let path = dir.join("contacts.csv");
    std::fs::write(&path, s).unwrap();
    path
}

fn contacts_args(plugins: &Path) -> Vec<String> {
    [
        "-s",
        "contacts",
        "--plugin-dir",
        plugins.to_str().unwrap(),
        "--id-column",
        "id",
        "--map",
        "features=spend,visits",
        "--map",
        "email=email",
        "--map",
        "phone=phone",
        "--map",
        "segment_hint=hint",
        "--k",
        "3",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn personal_columns_reach_no_output_and_no_log() {
    let plugins = plugin_dir("personal", "contacts");
    let dir = tempfile::tempdir().unwrap();
    let input = contacts_csv(dir.path(), None);
    let out = dir.path().join("out");
    let mut args: Vec<String> = vec!["-vv".into(), "fit".into()];
    args.extend(contacts_args(plugins.path()));
    args.extend([
        "-o".into(),
        out.to_str().unwrap().into(),
        input.to_str().unwrap().into(),
    ]);
    let o = strata().args(&args).output().unwrap();
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{stderr}");
    // The personal roles were used: the features derived from them exist.
    let seg = json(&out.join("segments.json"));
    assert_eq!(
        seg["features"],
        serde_json::json!(["spend", "visits", "business_email", "has_phone"])
    );
    // Labels list every category value the plugin was shown: the hints, never an address.
    let labels: Vec<&str> = seg["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert!(
        labels
            .iter()
            .all(|l| l.contains("north") || l.contains("south") || l.contains("east")),
        "{labels:?}"
    );
    for s in seg["segments"].as_array().unwrap() {
        for c in s["categorical"].as_array().unwrap() {
            assert_ne!(c["role"], "email", "a personal column was profiled");
        }
        for n in s["numeric"].as_array().unwrap() {
            assert_ne!(n["role"], "phone", "a personal column was profiled");
        }
    }
    let mut everything = vec![stdout, stderr];
    for f in ["assignments.csv", "segments.json", "model.json"] {
        everything.push(std::fs::read_to_string(out.join(f)).unwrap());
    }
    for (i, text) in everything.iter().enumerate() {
        assert!(
            !text.contains('@'),
            "an e-mail address in output {i}:\n{text}"
        );
        assert!(
            !text.contains("55501"),
            "a phone number in output {i}:\n{text}"
        );
    }
}

#[test]
fn a_bad_value_in_a_personal_column_is_reported_without_the_value() {
    let plugins = plugin_dir("personal", "contacts");
    let dir = tempfile::tempdir().unwrap();
    let input = contacts_csv(dir.path(), Some(4));
    let out = dir.path().join("out");
    let mut args: Vec<String> = vec!["fit".into()];
    args.extend(contacts_args(plugins.path()));
    args.extend([
        "-o".into(),
        out.to_str().unwrap().into(),
        input.to_str().unwrap().into(),
    ]);
    let o = strata().args(&args).output().unwrap();
    let err = text(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("line 6") && err.contains("'phone'"), "{err}");
    assert!(err.contains("(withheld: personal data)"), "{err}");
    assert!(!err.contains("call me"), "{err}");
    assert!(!out.exists());
}

#[test]
fn pseudonymized_ids_are_keyed_stable_and_shared_with_assign() {
    let input = shared("mall_customers/Mall_Customers.csv");
    let args = [
        "-s",
        "features",
        "--id-column",
        "CustomerID",
        "--k",
        "5",
        "--pseudonymize-ids",
    ];
    let salted = |salt: &str| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut all = vec!["fit"];
        all.extend(args);
        all.extend(["-o", out.to_str().unwrap(), input.to_str().unwrap()]);
        let o = strata()
            .args(&all)
            .env("STRATA_ID_SALT", salt)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains("pseudonyms"),
            "{}",
            text(&o.stdout)
        );
        (dir, out)
    };
    let (_a, one) = salted("a long secret salt, number one");
    let (_b, again) = salted("a long secret salt, number one");
    let (_c, other) = salted("a long secret salt, number two");
    let ids = |d: &Path| -> Vec<String> {
        read_csv(&d.join("assignments.csv"))[1..]
            .iter()
            .map(|r| r[0].clone())
            .collect()
    };
    let original = ids_of(&input, 0);
    let pseudo = ids(&one);
    assert_eq!(pseudo.len(), original.len());
    assert!(
        pseudo
            .iter()
            .all(|p| p.len() == 32 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    assert!(pseudo.iter().all(|p| !original.contains(p)));
    let unique: std::collections::HashSet<_> = pseudo.iter().collect();
    assert_eq!(unique.len(), pseudo.len(), "distinct ids stay distinct");
    assert_eq!(pseudo, ids(&again), "the same salt, the same pseudonyms");
    assert!(
        pseudo.iter().zip(ids(&other)).all(|(a, b)| *a != b),
        "another salt, others"
    );
    assert_eq!(json(&one.join("segments.json"))["ids_pseudonymized"], true);
    // assign with the same salt writes the same pseudonyms (and segments).
    let scored = one.parent().unwrap().join("scored");
    let o = strata()
        .args([
            "assign",
            "--pseudonymize-ids",
            "--model",
            one.join("model.json").to_str().unwrap(),
            "-o",
            scored.to_str().unwrap(),
            input.to_str().unwrap(),
        ])
        .env("STRATA_ID_SALT", "a long secret salt, number one")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read(one.join("assignments.csv")).unwrap(),
        std::fs::read(scored.join("assignments.csv")).unwrap()
    );
    // The model says its fit pseudonymised (with a fingerprint of the salt, not the salt):
    // scoring without the salt, or with another, is refused rather than writing other ids.
    let model = std::fs::read_to_string(one.join("model.json")).unwrap();
    assert!(model.contains("salt_fingerprint") && !model.contains("number one"));
    let rescore = |env: Option<&str>| {
        let out = one.parent().unwrap().join("rescored");
        let mut c = strata();
        c.arg("assign");
        if env.is_some() {
            c.arg("--pseudonymize-ids");
        }
        c.args([
            "--model",
            one.join("model.json").to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ]);
        if let Some(salt) = env {
            c.env("STRATA_ID_SALT", salt);
        }
        let o = c.output().unwrap();
        assert!(!out.exists(), "nothing may be written");
        (o.status.code(), text(&o.stderr))
    };
    let (code, err) = rescore(None);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("pseudonymised its ids") && err.contains("--pseudonymize-ids"),
        "{err}"
    );
    let (code, err) = rescore(Some("a long secret salt, number two"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not the one the fit pseudonymised"), "{err}");
    // No salt, or a short one, is an error before any work.
    let csv = "id,a\n1,1\n2,2\n";
    fails_with_env(
        &[],
        &["-s", "features", "--id-column", "id", "--pseudonymize-ids"],
        csv,
        &["STRATA_ID_SALT"],
    );
    fails_with_env(
        &[("STRATA_ID_SALT", "aaaaaaaaaaaaaaaaaaaa")],
        &["-s", "features", "--id-column", "id", "--pseudonymize-ids"],
        csv,
        &["only 1 different characters", "random secret"],
    );
    fails_with_env(
        &[("STRATA_ID_SALT", "short")],
        &["-s", "features", "--id-column", "id", "--pseudonymize-ids"],
        csv,
        &["at least 16 bytes"],
    );
}

/// Twelve k-means segments of 200 customers: those under 15 are merged into the nearest larger
/// one and said so; the model keeps every centroid, so scoring reproduces the fit.
#[test]
fn no_exported_segment_is_smaller_than_the_minimum() {
    let input = shared("mall_customers/Mall_Customers.csv");
    let args = [
        "-s",
        "features",
        "--id-column",
        "CustomerID",
        "--map",
        "features=Annual Income (k$),Spending Score (1-100)",
        "--k",
        "12",
        "--min-segment-size",
        "15",
    ];
    let (_d, out, stdout) = fit_ok(&input, &args);
    let seg = json(&out.join("segments.json"));
    let merged = seg["merged_segments"].as_array().unwrap();
    assert!(!merged.is_empty(), "with 12 segments of 200 some are small");
    assert!(stdout.contains("Merged: k-means segment"), "{stdout}");
    let k = seg["k"].as_u64().unwrap() as usize;
    assert_eq!(k + merged.len(), 12);
    let sizes: Vec<u64> = seg["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["size"].as_u64().unwrap())
        .collect();
    assert!(sizes.iter().all(|&s| s >= 15), "{sizes:?}");
    assert!(
        sizes.windows(2).all(|w| w[0] >= w[1]),
        "numbered by size: {sizes:?}"
    );
    check_outputs(&out, &ids_of(&input, 0), k);
    // The report says so, and its map explains the extra centroids.
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("was smaller than --min-segment-size 15 and was merged into segment"));
    assert!(report.contains("show one centroid per k-means segment they hold"));
    let model = json(&out.join("model.json"));
    assert_eq!(model["centroids"].as_array().unwrap().len(), 12);
    assert_eq!(model["centroid_segments"].as_array().unwrap().len(), 12);
    let dir = tempfile::tempdir().unwrap();
    let scored = dir.path().join("scored");
    let o = run(&[
        "assign",
        "--model",
        out.join("model.json").to_str().unwrap(),
        "-o",
        scored.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read(out.join("assignments.csv")).unwrap(),
        std::fs::read(scored.join("assignments.csv")).unwrap()
    );
    fails(
        &[
            "-s",
            "features",
            "--id-column",
            "id",
            "--k",
            "2",
            "--min-segment-size",
            "10",
        ],
        "id,a\n1,1\n2,2\n3,5\n",
        &["--min-segment-size 10 is more than the 3 customers"],
    );
}

/// The default log names columns, never the data's values: one-hot features are counted per
/// column ("gender (2 categories)"), not listed as `gender=Female`.
#[test]
fn the_log_names_no_category_values() {
    let input = repo().join("examples/customers.csv");
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "fit",
        "--id-column",
        "customer_id",
        "--k",
        "3",
        "--out",
        dir.path().join("o").to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("gender (2 categories)"), "{err}");
    for value in ["=Female", "=Male", "Urban", "Suburban"] {
        assert!(!err.contains(value), "{value} in the log:\n{err}");
    }
}
