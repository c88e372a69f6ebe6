//! End-to-end tests of what turns clusters into decisions: choosing k (`choose-k`, `--k auto`).

use crate::util::*;

const MALL_SPEND: [&str; 5] = ["-s", "features", "--id-column", "CustomerID", "--map"];
const MALL_COLUMNS: &str = "features=Annual Income (k$),Spending Score (1-100)";

/// The rule stated in the output, applied again here to the table: the largest k whose
/// weakest segment's resampled Jaccard is above 0.75 and whose smallest segment holds at least
/// the minimum share; when none passes, the highest silhouette, then the smallest k within
/// 0.01 of it.
fn recommended(table: &serde_json::Value) -> u64 {
    let rows = table["candidates"].as_array().unwrap();
    let min_share = table["min_share"].as_f64().unwrap();
    let passing = rows
        .iter()
        .filter(|c| {
            c["min_jaccard"].as_f64().is_some_and(|j| j > 0.75)
                && c["min_share"].as_f64().is_some_and(|s| s >= min_share)
        })
        .map(|c| c["k"].as_u64().unwrap())
        .max();
    if let Some(k) = passing {
        return k;
    }
    let best = rows
        .iter()
        .filter_map(|c| c["silhouette"].as_f64())
        .fold(f64::MIN, f64::max);
    rows.iter()
        .filter(|c| c["silhouette"].as_f64().is_some_and(|s| s >= best - 0.01))
        .map(|c| c["k"].as_u64().unwrap())
        .min()
        .unwrap()
}

/// Mall customers on income and spending score: the textbook five groups. choose-k
/// recommends 5 by its stated rule; `fit --k auto` writes the same table, goes on with k = 5,
/// and its segments are exactly those of `fit --k 5`.
#[test]
fn choose_k_and_fit_k_auto_agree_and_match_a_fixed_k_fit() {
    let input = shared("mall_customers/Mall_Customers.csv");
    let dir = tempfile::tempdir().unwrap();
    let table_file = dir.path().join("k.json");
    let mut args = vec!["choose-k"];
    args.extend(MALL_SPEND);
    args.extend([
        MALL_COLUMNS,
        input.to_str().unwrap(),
        "--json",
        table_file.to_str().unwrap(),
    ]);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    let table = json(&table_file);
    let ks: Vec<u64> = table["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["k"].as_u64().unwrap())
        .collect();
    assert_eq!(ks, (2..=12).collect::<Vec<_>>(), "the default range");
    assert_eq!(table["chosen"], 5, "{stdout}");
    assert_eq!(recommended(&table), 5);
    assert_eq!(
        (table["rows"].as_u64(), table["silhouette_rows"].as_u64()),
        (Some(200), Some(200))
    );
    assert!(
        stdout.contains("Recommended k = 5: k = 5 is the largest k whose segments are all stable"),
        "{stdout}"
    );
    // Inertia falls as k grows (each k is the best of its restarts on the same data).
    let inertia: Vec<f64> = table["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["inertia"].as_f64().unwrap())
        .collect();
    assert!(inertia.windows(2).all(|w| w[1] < w[0]), "{inertia:?}");

    let (_a, auto, stdout) = fit_ok(
        &input,
        &[&MALL_SPEND[..], &[MALL_COLUMNS, "--k", "auto"]].concat(),
    );
    assert!(stdout.contains("<- recommended"), "{stdout}");
    let seg = json(&auto.join("segments.json"));
    assert_eq!(seg["k"], 5);
    assert_eq!(
        seg["k_selection"], table,
        "fit --k auto and choose-k see the same table"
    );
    let (_b, fixed, _) = fit_ok(
        &input,
        &[&MALL_SPEND[..], &[MALL_COLUMNS, "--k", "5"]].concat(),
    );
    assert_eq!(
        std::fs::read(auto.join("assignments.csv")).unwrap(),
        std::fs::read(fixed.join("assignments.csv")).unwrap()
    );
    let fixed_seg = json(&fixed.join("segments.json"));
    assert_eq!(seg["inertia"], fixed_seg["inertia"]);
    assert_eq!(seg["quality"], fixed_seg["quality"]);
    assert_eq!(fixed_seg["k_selection"], serde_json::Value::Null);
}

/// A narrower range is honoured, and a range past the number of customers is cut to it.
#[test]
fn k_range_is_honoured_and_cut_to_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.csv");
    let mut csv = String::from("id,a,b\n");
    for i in 0..6 {
        csv.push_str(&format!("{i},{},{}\n", i * 10, (i % 2) * 5));
    }
    std::fs::write(&file, csv).unwrap();
    let (_d, out, _) = fit_ok(
        &file,
        &["-s", "features", "--id-column", "id", "--k-range", "3..9"],
    );
    let seg = json(&out.join("segments.json"));
    let ks: Vec<u64> = seg["k_selection"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["k"].as_u64().unwrap())
        .collect();
    assert_eq!(ks, [3, 4, 5, 6]);
    assert_eq!(seg["k_selection"]["range"], serde_json::json!([3, 9]));
    assert_eq!(
        Some(seg["k"].as_u64().unwrap()),
        Some(recommended(&seg["k_selection"]))
    );
}

#[test]
fn bad_k_choices_are_clear_errors() {
    let csv = "id,a\n1,1\n2,2\n3,3\n";
    let base = ["-s", "features", "--id-column", "id"];
    fails(
        &[&base[..], &["--k", "3", "--k-range", "2..4"]].concat(),
        csv,
        &["--k-range is for --k auto"],
    );
    fails(
        &[&base[..], &["--k-range", "1..4"]].concat(),
        csv,
        &["--k-range must be LO..HI with 2 ≤ LO ≤ HI"],
    );
    fails(
        &[&base[..], &["--k", "many"]].concat(),
        csv,
        &["expected a number of segments or 'auto'"],
    );
    fails(
        &[&base[..], &["--k", "auto", "--k-range", "5..8"]].concat(),
        csv,
        &["k = 5 is more than the 3 customers"],
    );
}

/// Wholesale clients with the firmographic strategy, whose `spend` role is a value measure:
/// each segment's value is the spend of its customers (recomputed here from the CSV and the
/// assignments), shares add up to 1, indices are segment over overall × 100, and segments are
/// ranked by attractiveness.
#[test]
fn profiles_carry_indices_value_shares_and_attractiveness() {
    let input = shared("wholesale_customers/Wholesale customers data.csv");
    let spend = [
        "Fresh",
        "Milk",
        "Grocery",
        "Frozen",
        "Detergents_Paper",
        "Delicassen",
    ];
    let spend_map = format!("spend={}", spend.join(","));
    let (_d, out, stdout) = fit_ok(
        &input,
        &[
            "-s",
            "firmographic",
            "--id-column",
            "Customer ID",
            "--map",
            "industry=Channel",
            "--map",
            "region=Region",
            "--map",
            &spend_map,
            "--k",
            "4",
        ],
    );
    assert!(
        stdout.contains("VALUE: the segment's share of the total spend"),
        "{stdout}"
    );
    let seg = json(&out.join("segments.json"));
    assert_eq!(seg["value_measure"]["role"], "spend");
    assert_eq!(seg["value_measure"]["columns"], serde_json::json!(spend));
    assert!(
        seg["attractiveness_rule"]
            .as_str()
            .unwrap()
            .contains("value per customer")
    );

    // Spend per customer from the file, summed by the segment each was assigned.
    let rows = read_csv(&input);
    let cols: Vec<usize> = spend
        .iter()
        .map(|c| rows[0].iter().position(|h| h == c).unwrap())
        .collect();
    let assigned = read_csv(&out.join("assignments.csv"));
    let mut by_segment = [0.0f64; 4];
    for (r, a) in rows[1..].iter().zip(&assigned[1..]) {
        assert_eq!(r[0], a[0], "assignments keep the input order");
        let s: usize = a[1].parse().unwrap();
        by_segment[s] += cols
            .iter()
            .map(|&c| r[c].parse::<f64>().unwrap())
            .sum::<f64>();
    }
    let total: f64 = by_segment.iter().sum();
    assert!((seg["value_measure"]["total"].as_f64().unwrap() - total).abs() < 1e-6 * total);
    let segments = seg["segments"].as_array().unwrap();
    let mut share_sum = 0.0;
    let mut ranks = Vec::new();
    for s in segments {
        let j = s["segment"].as_u64().unwrap() as usize;
        let v = &s["value"];
        assert!((v["total"].as_f64().unwrap() - by_segment[j]).abs() < 1e-6 * total);
        let size = s["size"].as_f64().unwrap();
        assert!((v["per_customer"].as_f64().unwrap() - by_segment[j] / size).abs() < 1e-6 * total);
        share_sum += v["share"].as_f64().unwrap();
        ranks.push(s["attractiveness"]["rank"].as_u64().unwrap());
        let score = s["attractiveness"]["score"].as_f64().unwrap();
        let parts = (s["attractiveness"]["size"].as_f64().unwrap()
            + s["attractiveness"]["value"].as_f64().unwrap())
            / 2.0;
        assert!((score - 100.0 * parts).abs() < 1e-9, "{s}");
        for n in s["numeric"].as_array().unwrap() {
            let want = n["mean"].as_f64().unwrap() / n["overall_mean"].as_f64().unwrap() * 100.0;
            assert!((n["index"].as_f64().unwrap() - want).abs() < 1e-9);
        }
        for c in s["categorical"].as_array().unwrap() {
            for l in c["shares"].as_array().unwrap() {
                let want =
                    l["share"].as_f64().unwrap() / l["overall_share"].as_f64().unwrap() * 100.0;
                assert!((l["index"].as_f64().unwrap() - want).abs() < 1e-9);
            }
        }
    }
    assert!((share_sum - 1.0).abs() < 1e-12);
    // Ranks follow the scores.
    let mut by_rank: Vec<(u64, f64)> = segments
        .iter()
        .map(|s| {
            (
                s["attractiveness"]["rank"].as_u64().unwrap(),
                s["attractiveness"]["score"].as_f64().unwrap(),
            )
        })
        .collect();
    by_rank.sort_by_key(|r| r.0);
    assert_eq!(
        by_rank.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(by_rank.windows(2).all(|w| w[0].1 >= w[1].1), "{by_rank:?}");
    ranks.sort_unstable();
    assert_eq!(ranks, [1, 2, 3, 4]);
}

/// A run scored with the first run's model (some customers gone, some new): the segments
/// correspond one to one, nobody moved, the counts add up, and compare.json holds the table.
#[test]
fn compare_a_fit_with_customers_scored_by_its_model() {
    let demo = repo().join("examples/customers.csv");
    let (_f, fit, _) = fit_ok(&demo, &["--id-column", "customer_id", "--k", "4"]);
    let rows = read_csv(&demo);
    let dir = tempfile::tempdir().unwrap();
    let later = dir.path().join("later.csv");
    let mut text_out = rows[0].join(",") + "\n";
    for r in &rows[201..] {
        text_out.push_str(&(r.join(",") + "\n"));
    }
    for (i, r) in rows[1..101].iter().enumerate() {
        let mut r = r.clone();
        r[0] = format!("new-{i}");
        text_out.push_str(&(r.join(",") + "\n"));
    }
    std::fs::write(&later, text_out).unwrap();
    let scored = dir.path().join("scored");
    let o = run(&[
        "assign",
        "--model",
        fit.join("model.json").to_str().unwrap(),
        "-o",
        scored.to_str().unwrap(),
        later.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let cmp = dir.path().join("cmp");
    let o = run(&[
        "compare",
        fit.to_str().unwrap(),
        scored.to_str().unwrap(),
        "-o",
        cmp.to_str().unwrap(),
    ]);
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(stdout.contains("Population stability index"), "{stdout}");
    assert!(stdout.contains("Migration"), "{stdout}");
    let c = json(&cmp.join("compare.json"));
    assert_eq!(c["matching"], "identity");
    assert_eq!(
        (c["gone"].as_u64(), c["new"].as_u64()),
        (Some(200), Some(100))
    );
    assert_eq!(c["in_both"], 1800);
    assert_eq!(
        c["moved"], 0,
        "the same customers score into the same segments"
    );
    let m = c["migration"].as_array().unwrap();
    for (i, row) in m.iter().enumerate() {
        for (j, v) in row.as_array().unwrap().iter().enumerate() {
            assert!(i == j || v.as_u64() == Some(0), "off-diagonal {i},{j}: {v}");
        }
    }
    // Per-segment PSI terms follow the definition and add up to the total.
    let mut total = 0.0;
    for s in c["segments"].as_array().unwrap() {
        let (a, b) = (
            s["a_share"].as_f64().unwrap(),
            s["b_share"].as_f64().unwrap(),
        );
        let want = (b - a) * (b / a).ln();
        assert!((s["psi"].as_f64().unwrap() - want).abs() < 1e-12);
        total += want;
        assert!(
            s["shift_pct"].as_f64().is_some(),
            "both runs have profiles: {s}"
        );
        assert!(s["attractiveness"]["growth"].as_f64().is_some(), "{s}");
    }
    assert!((c["psi"].as_f64().unwrap() - total).abs() < 1e-12);
    assert!(c["psi"].as_f64().unwrap() < 0.1, "{}", c["psi"]);
    assert_eq!(c["reading"], "stable");
}

/// Two fits with different k on the same customers: segments are matched by overlap, every
/// customer is in both, and those not in their matched segment are the ones that moved.
#[test]
fn compare_two_fits_matches_segments_by_overlap() {
    let input = shared("mall_customers/Mall_Customers.csv");
    let base = ["-s", "features", "--id-column", "CustomerID"];
    let (_a, a, _) = fit_ok(&input, &[&base[..], &["--k", "5"]].concat());
    let (_b, b, _) = fit_ok(&input, &[&base[..], &["--k", "6", "--seed", "9"]].concat());
    let o = run(&[
        "compare",
        a.join("assignments.csv").to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("matched by overlap"), "{stdout}");
    assert!(
        stdout.contains("In both: 200; new in B: 0; gone from A: 0"),
        "{stdout}"
    );
    // Duplicate ids cannot be compared.
    let dir = tempfile::tempdir().unwrap();
    let dup = dir.path().join("dup.csv");
    std::fs::write(&dup, "id,segment,label\n7,0,x\n8,1,y\n7,1,y\n").unwrap();
    let o = run(&["compare", dup.to_str().unwrap(), b.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert!(
        !o.status.success() && err.contains("line 4") && err.contains("line 2"),
        "{err}"
    );
}

/// A damaged or mismatched run is refused with a reason, never a panic or a phantom: a
/// segment number beyond segments.json, one far out of range without it, and two runs that
/// share no customer (keyed by different id columns).
#[test]
fn compare_refuses_runs_it_cannot_compare() {
    let input = repo().join("examples/customers.csv");
    let (_a, a, _) = fit_ok(&input, &["--id-column", "customer_id", "--k", "3"]);
    let (_b, b, _) = fit_ok(&input, &["--k", "3"]);
    let compare = |x: &std::path::Path, y: &std::path::Path| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("cmp");
        let o = run(&[
            "compare",
            x.to_str().unwrap(),
            y.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = text(&o.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "nothing may be written");
        (o.status.code(), err)
    };
    let (code, err) = compare(&a, &b);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("share no customer") && err.contains("--id-column"),
        "{err}"
    );
    // One segment edited to 99 (the manifest removed, as someone editing by hand would).
    let edit = |to: &str, keep_segments: bool| {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        let text = std::fs::read_to_string(a.join("assignments.csv")).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let mut cells: Vec<String> = lines[5].split(',').map(str::to_owned).collect();
        cells[1] = to.to_owned();
        lines[5] = cells.join(",");
        std::fs::write(run.join("assignments.csv"), lines.join("\n") + "\n").unwrap();
        if keep_segments {
            std::fs::copy(a.join("segments.json"), run.join("segments.json")).unwrap();
        }
        (dir, run)
    };
    let (_d, with_segments) = edit("99", true);
    let (code, err) = compare(&a, &with_segments);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("line 6") && err.contains("segment 99") && err.contains("3 segments"),
        "{err}"
    );
    let (_e, alone) = edit("4294967295", false);
    let (code, err) = compare(&a, &alone);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("at most 4096"), "{err}");
    let (_f, gap) = edit("9", false);
    let (code, err) = compare(&a, &gap);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no customer is in segment 3"), "{err}");
}

/// Stability under resampling measures the segments, not the optimiser: the Mall's five
/// well-known income × spending groups come back in every half-sample, while five segments
/// cut out of one round cloud of customers do not.
#[test]
fn stability_under_resampling_tells_real_segments_from_arbitrary_cuts() {
    let mall = shared("mall_customers/Mall_Customers.csv");
    let mut args = MALL_SPEND.to_vec();
    args.extend([MALL_COLUMNS, "--k", "5"]);
    let (_d, out, stdout) = fit_ok(&mall, &args);
    let seg = json(&out.join("segments.json"));
    let r = &seg["resampling"];
    assert_eq!(r["runs"], 20);
    assert!(
        matches!(r["reading"].as_str(), Some("stable" | "highly stable")),
        "{r}"
    );
    for s in seg["segments"].as_array().unwrap() {
        assert!(s["resampling"]["jaccard"].as_f64().unwrap() > 0.75, "{s}");
    }
    assert!(stdout.contains("Stability under resampling: "), "{stdout}");

    // Under --k auto every k of the range is measured the same way: on the Mall k = 3 and
    // k = 5 come back in the half-samples; k = 6 (the fifth group split) does not.
    let mut auto = MALL_SPEND.to_vec();
    auto.extend([MALL_COLUMNS, "--k", "auto", "--k-range", "2..8"]);
    let (_a, out_auto, _) = fit_ok(&mall, &auto);
    let table = json(&out_auto.join("segments.json"))["k_selection"]["candidates"].clone();
    let jaccard = |k: u64| {
        table
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["k"] == k)
            .unwrap()["min_jaccard"]
            .as_f64()
            .unwrap()
    };
    assert!(jaccard(3) > 0.75 && jaccard(5) > 0.75, "{table}");
    assert!(jaccard(6) < 0.75 && jaccard(4) < 0.75, "{table}");
    // So the rule picks 5, with 3 as the runner-up, and 5 segments leave far less spread
    // within them than a single blob of the same covariance cut into 5.
    let sel = json(&out_auto.join("segments.json"))["k_selection"].clone();
    assert_eq!((sel["chosen"].as_u64(), recommended(&sel)), (Some(5), 5));
    assert_eq!(sel["runner_up"]["k"], 3, "{sel}");
    let null = &sel["null_reference"];
    assert_eq!(
        (null["structure"].as_bool(), null["k"].as_u64()),
        (Some(true), Some(5))
    );
    assert!(
        null["within_share"].as_f64().unwrap() < null["reference_min"].as_f64().unwrap(),
        "{null}"
    );

    // One round cloud (a 2-D standard normal, Box–Muller on a fixed LCG): no segments to find.
    let dir = tempfile::tempdir().unwrap();
    let cloud = dir.path().join("cloud.csv");
    let mut state: u64 = 7;
    let mut unit = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut csv = String::from("id,x,y\n");
    for i in 0..2000 {
        let (u, v) = (unit(), unit());
        let radius = (-2.0 * u.ln()).sqrt();
        let angle = std::f64::consts::TAU * v;
        csv.push_str(&format!(
            "{i},{:.5},{:.5}\n",
            radius * angle.cos(),
            radius * angle.sin()
        ));
    }
    std::fs::write(&cloud, csv).unwrap();
    let (_d2, out2, _) = fit_ok(&cloud, &["-s", "features", "--id-column", "id", "--k", "5"]);
    let r2 = json(&out2.join("segments.json"))["resampling"].clone();
    assert!(
        matches!(r2["reading"].as_str(), Some("unstable" | "doubtful")),
        "{r2}"
    );
    assert!(
        r2["min_jaccard"].as_f64().unwrap() < r["min_jaccard"].as_f64().unwrap(),
        "{r2} against {r}"
    );

    // Asked to choose k, on the cloud the rule still names a k (k = 2 and 3 come back in the
    // half-samples: k-means cuts a round blob the same way every time), but the check against
    // single Gaussian blobs says there is no good k.
    let o = run(&[
        "choose-k",
        "-s",
        "features",
        "--id-column",
        "id",
        "--k-range",
        "2..8",
        cloud.to_str().unwrap(),
        "--json",
        dir.path().join("k.json").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("Against structureless data: no good k"),
        "{stdout}"
    );
    let sel = json(&dir.path().join("k.json"));
    assert_eq!(sel["null_reference"]["structure"], false, "{sel}");
    assert_eq!(sel["chosen"].as_u64(), Some(recommended(&sel)));
}

/// The full Online Retail log: silhouette alone picks k = 2 (0.2857 against 0.2826 at k = 6),
/// a "low-value" and a "high-value" half. Stability under resampling with the 2% minimum share
/// picks more: k = 5 comes back in the half-samples but its smallest segment is 26 customers
/// (0.6%), so k = 4, with the reason and the runner-up stated.
#[test]
fn k_auto_on_the_full_online_retail_log_chooses_more_than_two_segments() {
    let log = shared("online_retail/online_retail.csv");
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("k.json");
    let o = run(&[
        "choose-k",
        "-s",
        "behavioral",
        "--transactions",
        log.to_str().unwrap(),
        "--json",
        table.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    let sel = json(&table);
    let by_silhouette = sel["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .max_by(|a, b| {
            a["silhouette"]
                .as_f64()
                .partial_cmp(&b["silhouette"].as_f64())
                .unwrap()
        })
        .unwrap()["k"]
        .clone();
    assert_eq!(by_silhouette, 2, "{sel}");
    let chosen = sel["chosen"].as_u64().unwrap();
    assert_eq!(chosen, recommended(&sel));
    assert!(chosen > 2, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "Recommended k = {chosen}: k = {chosen} is the largest k whose segments are all \
             stable under resampling"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("Runner-up k = "), "{stdout}");
    let five = &sel["candidates"][3];
    assert_eq!(five["k"], 5);
    assert!(five["min_share"].as_f64().unwrap() < 0.02, "{five}");
    assert_eq!(sel["null_reference"]["structure"], true, "{sel}");
}
