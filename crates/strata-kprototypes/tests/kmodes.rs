//! Against kmodes 0.12.2 itself (`tests/fixtures/kmodes.json`, with its script): on Mall with
//! gender, the Young People Survey's complete rows and a generated mixed set, from the same
//! initial prototypes, the port gives kmodes' γ, labels, cost, iterations, epoch costs and
//! prototypes, bit for bit.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test, with its place"
)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use strata_kprototypes::{Data, Init, Params, fit};

fn shared(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "{} is missing: the real-data tests need ../shared/data",
        p.display()
    );
    p
}

/// The named columns of a CSV, as text, keeping rows where every one is present.
fn columns(file: &str, names: &[String]) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(shared(file)).unwrap();
    let header = r.headers().unwrap().clone();
    let at: Vec<usize> = names
        .iter()
        .map(|n| header.iter().position(|h| h == n).unwrap())
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            at.iter()
                .map(|&i| rec[i].trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|row: &Vec<String>| row.iter().all(|v| !v.is_empty()))
        .collect()
}

/// Categories coded as kmodes codes them: each column's values in sorted order.
fn encode(cat: &[Vec<String>], levels: &serde_json::Value) -> Vec<u32> {
    let dc = cat.first().map_or(0, Vec::len);
    let sorted: Vec<Vec<String>> = (0..dc)
        .map(|j| {
            cat.iter()
                .map(|r| r[j].clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        })
        .collect();
    assert_eq!(serde_json::json!(sorted), *levels, "the same coding");
    cat.iter()
        .flat_map(|r| {
            r.iter()
                .enumerate()
                .map(|(j, v)| sorted[j].iter().position(|l| l == v).unwrap() as u32)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn check(name: &str, case: &serde_json::Value, num: &[f64], dn: usize, cat: &[u32], dc: usize) {
    let data = Data::new(num, dn, cat, dc).unwrap();
    let k = case["k"].as_u64().unwrap() as usize;
    let rows: Vec<usize> = case["init_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let init = Init::rows(&data, &rows);
    let f = fit(&Params::new(k).init(init), &data).unwrap();
    let floats = |key: &str| -> Vec<f64> {
        case[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    assert_eq!(f.gamma, case["gamma"].as_f64().unwrap(), "{name}: gamma");
    let labels: Vec<u32> = case["labels"]
        .as_str()
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(f.labels, labels, "{name}: labels");
    assert_eq!(f.cost, case["cost"].as_f64().unwrap(), "{name}: cost");
    assert_eq!(
        f.iterations as u64,
        case["n_iter"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(f.epoch_costs, floats("epoch_costs"), "{name}: epoch costs");
    assert_eq!(
        f.num_centroids,
        floats("num_centroids"),
        "{name}: numeric prototypes"
    );
    let cat_centroids: Vec<u32> = case["cat_centroids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(f.cat_centroids, cat_centroids, "{name}: modes");
}

fn fixture() -> serde_json::Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kmodes.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn names(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn shared_data_as_kmodes_fits_it() {
    let fx = fixture();
    assert_eq!(fx["kmodes"], "0.12.2");
    for name in ["mall", "young_people"] {
        let case = &fx["cases"][name];
        let (nn, cn) = (names(&case["numeric"]), names(&case["categorical"]));
        let all: Vec<String> = nn.iter().chain(&cn).cloned().collect();
        let rows = columns(case["file"].as_str().unwrap(), &all);
        let num: Vec<f64> = rows
            .iter()
            .flat_map(|r| r[..nn.len()].iter().map(|v| v.parse::<f64>().unwrap()))
            .collect();
        let cat_text: Vec<Vec<String>> = rows.iter().map(|r| r[nn.len()..].to_vec()).collect();
        let cat = encode(&cat_text, &case["levels"]);
        check(name, case, &num, nn.len(), &cat, cn.len());
    }
}

#[test]
fn generated_mixed_data_as_kmodes_fits_it() {
    let fx = fixture();
    let case = &fx["cases"]["generated"];
    let n = case["rows"].as_u64().unwrap();
    let (mut num, mut cat) = (Vec::new(), Vec::new());
    for i in 0..n {
        let g = (i * 7) % 6;
        for j in 0..4u64 {
            num.push((g * 300 + (i * 7919 + j * 104_729) % 1500) as f64 / 100.0);
        }
        cat.push(
            (0..3u64)
                .map(|j| {
                    format!(
                        "{}{j}",
                        b"abcdef"[((g + (i * 13 + j) % 5) % 6) as usize] as char
                    )
                })
                .collect::<Vec<_>>(),
        );
    }
    let codes = encode(&cat, &case["levels"]);
    check("generated", case, &num, 4, &codes, 3);
}
