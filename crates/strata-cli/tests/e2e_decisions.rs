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
