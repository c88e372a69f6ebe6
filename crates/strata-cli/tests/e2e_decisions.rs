//! End-to-end tests of what turns clusters into decisions: choosing k (`choose-k`, `--k auto`).

mod common;

use common::*;

const MALL_SPEND: [&str; 5] = ["-s", "features", "--id-column", "CustomerID", "--map"];
const MALL_COLUMNS: &str = "features=Annual Income (k$),Spending Score (1-100)";

/// The rule stated in the output, applied again here to the table: the highest silhouette,
/// then the smallest k within 0.01 of it.
fn recommended(table: &serde_json::Value) -> u64 {
    let rows = table["candidates"].as_array().unwrap();
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
        stdout.contains("Recommended k = 5 (rule: highest silhouette"),
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
