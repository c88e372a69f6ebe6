//! End-to-end tests of the behavioral strategy: transaction logs, RFM mode, per-customer tables.

use std::collections::HashMap;
use std::path::Path;

use crate::util::*;

pub(crate) const DEC2010: &str = "online_retail_dec2010/Online Retail.csv";

/// Customers with at least one purchase, in order of their first row (returns included), as
/// the aggregation promises; computed here independently from the raw log.
fn buying_customers(log: &Path) -> Vec<String> {
    let rows = read_csv(log);
    let h = &rows[0];
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (inv, qty, price, cust) = (
        col("InvoiceNo"),
        col("Quantity"),
        col("UnitPrice"),
        col("CustomerID"),
    );
    let mut order = Vec::new();
    let mut bought: HashMap<String, bool> = HashMap::new();
    for r in &rows[1..] {
        let id = &r[cust];
        if id.is_empty() {
            continue;
        }
        let value: f64 = r[qty].parse::<f64>().unwrap() * r[price].parse::<f64>().unwrap();
        let purchase = !r[inv].starts_with('C') && value >= 0.0;
        let e = bought.entry(id.clone()).or_insert_with(|| {
            order.push(id.clone());
            false
        });
        *e |= purchase;
    }
    order.into_iter().filter(|id| bought[id]).collect()
}

#[test]
fn transaction_log_clusters_customers_and_counts_what_it_netted() {
    let log = shared(DEC2010);
    let (_d, out, stdout) = fit_log(&log, &["--k", "5"]);
    let expected = buying_customers(&log);
    assert_eq!(expected.len(), 666);
    let rows = check_outputs(&out, &expected, 5);
    assert_eq!(
        rows[0],
        [
            "id",
            "segment",
            "label",
            "distance",
            "boundary_ratio",
            "ambiguous",
            "recency",
            "frequency",
            "monetary",
            "r_score",
            "f_score",
            "m_score"
        ]
    );
    let seg = json(&out.join("segments.json"));
    let t = &seg["transactions"];
    assert_eq!(
        (t["rows"].as_u64(), t["rows_without_customer"].as_u64()),
        (Some(28_492), Some(10_003))
    );
    assert_eq!(
        (
            t["customers"].as_u64(),
            t["customers_without_purchases"].as_u64()
        ),
        (Some(666), Some(47))
    );
    assert_eq!(t["return_rows"].as_u64(), Some(386));
    assert_eq!(t["date_format"], "mdy", "12/13/10 tells month-first");
    assert!(
        stdout.contains("10003 without a customer id skipped"),
        "{stdout}"
    );
    // Customer 17850: 34 invoices in the first days of December, net of returns.
    let c = rows.iter().find(|r| r[0] == "17850").unwrap();
    assert_eq!(c[7], "34");
    let model = Model::load(&out.join("model.json")).unwrap();
    assert_eq!(model.input.source, strata_core::Source::Transactions);
}

#[test]
fn rfm_mode_names_the_segments_and_scores_point_the_right_way() {
    let log = shared(DEC2010);
    let (_d, out, stdout) = fit_log(&log, &["--mode", "rfm"]);
    let rows = check_outputs(&out, &buying_customers(&log), 11);
    assert!(stdout.contains("RFM segments"), "{stdout}");
    let names = [
        "Champions",
        "Loyal Customers",
        "Potential Loyalists",
        "New Customers",
        "Promising",
        "Need Attention",
        "About To Sleep",
        "At Risk",
        "Can't Lose Them",
        "Hibernating",
        "Lost",
    ];
    let seg = json(&out.join("segments.json"));
    let got: Vec<&str> = seg["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(got, names);
    assert!(seg["inertia"].is_null());
    // On the real customers: more recent never scores a lower R; more frequent never a lower F;
    // more money never a lower M.
    let body: Vec<(f64, f64, f64, u8, u8, u8)> = rows[1..]
        .iter()
        .map(|r| {
            let f = |i: usize| r[i].parse::<f64>().unwrap();
            let s = |i: usize| r[i].parse::<u8>().unwrap();
            assert!(
                r[3..6].iter().all(|c| c.is_empty()),
                "no distance without k-means"
            );
            (f(6), f(7), f(8), s(9), s(10), s(11))
        })
        .collect();
    for a in &body {
        for b in &body {
            if a.0 < b.0 {
                assert!(
                    a.3 >= b.3,
                    "R: recency {} scored {} but {} scored {}",
                    a.0,
                    a.3,
                    b.0,
                    b.3
                );
            }
            if a.1 > b.1 {
                assert!(
                    a.4 >= b.4,
                    "F: {} scored {} but {} scored {}",
                    a.1,
                    a.4,
                    b.1,
                    b.4
                );
            }
            if a.2 > b.2 {
                assert!(
                    a.5 >= b.5,
                    "M: {} scored {} but {} scored {}",
                    a.2,
                    a.5,
                    b.2,
                    b.5
                );
            }
        }
    }
    let champions: Vec<_> = rows[1..].iter().filter(|r| r[2] == "Champions").collect();
    assert!(!champions.is_empty() && champions.iter().all(|r| r[9] == "5"));
    let model = Model::load(&out.join("model.json")).unwrap();
    assert!(model.rfm.is_some() && model.centroids.is_empty());
}

#[test]
fn full_year_log_with_iso_dates_and_float_ids() {
    let log = shared("online_retail/online_retail.csv");
    let (_d, out, stdout) = fit_log(&log, &["--mode", "rfm", "--as-of", "2011-12-10"]);
    assert!(
        stdout.contains("541909 rows; 135080 without a customer id skipped"),
        "{stdout}"
    );
    let seg = json(&out.join("segments.json"));
    assert_eq!(seg["transactions"]["date_format"], "iso");
    let n = seg["transactions"]["customers"].as_u64().unwrap();
    assert!((4300..=4372).contains(&n), "{n} customers");
    let rows = read_csv(&out.join("assignments.csv"));
    assert_eq!(rows.len() as u64 - 1, n);
    assert_eq!(rows[1][0], "17850.0", "ids flow through untouched");
}

#[test]
fn a_per_customer_table_binds_by_role_name() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("customers.csv");
    let mut csv = String::from("id,Recency,Frequency,Monetary,Channel\n");
    for i in 0..40 {
        let (r, f, m, ch) = if i % 2 == 0 {
            (5 + i % 7, 20 + i, 2000 + 10 * i, "web")
        } else {
            (200 + i, 1, 30 + i, "store")
        };
        csv.push_str(&format!("c{i},{r},{f},{m},{ch}\n"));
    }
    std::fs::write(&input, csv).unwrap();
    let (_d, out, stdout) = fit_ok(
        &input,
        &["-s", "behavioral", "--id-column", "id", "--k", "2"],
    );
    check_outputs(&out, &ids_of(&input, 0), 2);
    assert!(
        stdout.contains("Recent frequent high-value buyers, mostly web"),
        "{stdout}"
    );
    let (_d, out, _) = fit_ok(
        &input,
        &["-s", "behavioral", "--id-column", "id", "--mode", "rfm"],
    );
    check_outputs(&out, &ids_of(&input, 0), 11);
}

#[test]
fn behavioral_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.csv");
    std::fs::write(
        &log,
        "CustomerID,InvoiceDate,Amount\n1,3/4/2010,5\n2,5/6/2010,7\n",
    )
    .unwrap();
    let o = run(&[
        "fit",
        "-s",
        "behavioral",
        "--transactions",
        log.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    let err = text(&o.stderr);
    assert!(
        !o.status.success()
            && err.contains("'3/4/2010' on line 2")
            && err.contains("--date-format dmy"),
        "{err}"
    );
    assert!(!dir.path().join("o").exists());
    let o = run(&[
        "fit",
        "-s",
        "behavioral",
        "--transactions",
        log.to_str().unwrap(),
        "--date-format",
        "dmy",
        "--k",
        "2",
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));

    fails(
        &["--mode", "rfm"],
        "id,age\n1,30\n2,40\n",
        &["--mode rfm needs the recency, frequency and monetary roles"],
    );
    let o = run(&[
        "fit",
        "--transactions",
        log.to_str().unwrap(),
        "--id-column",
        "x",
        "--out",
        "/tmp/never",
    ]);
    assert!(
        text(&o.stderr).contains("use --map customer_id=COLUMN"),
        "{}",
        text(&o.stderr)
    );
    std::fs::write(
        &log,
        "CustomerID,InvoiceDate,Amount\n1,2010-01-04,5\n2,2010-02-30,7\n",
    )
    .unwrap();
    let o = run(&[
        "fit",
        "-s",
        "behavioral",
        "--transactions",
        log.to_str().unwrap(),
        "--out",
        dir.path().join("p").to_str().unwrap(),
    ]);
    let err = text(&o.stderr);
    assert!(
        err.contains("line 3, column 2 ('InvoiceDate'): expected a date like 2010-12-01"),
        "{err}"
    );
}
