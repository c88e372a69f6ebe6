//! Fits k-prototypes to a CSV, for `bench/kprototypes.py`: the same work kmodes is timed on.
//!
//! `kprototypes_csv FILE K NUMERIC,COLUMNS CATEGORICAL,COLUMNS INIT_ROWS [MAX_ITER]`
//! (comma-separated row numbers, 0-based, of the complete rows) prints one JSON line: seconds (reading excluded),
//! gamma, cost, iterations and an FNV-1a hash of the labels. Rows with a missing used value
//! are left out, as the bench's kmodes side leaves them out.

#![allow(
    clippy::unwrap_used,
    reason = "a bench helper: a bad argument should stop it loudly"
)]

use std::collections::BTreeMap;
use std::time::Instant;

use strata_kprototypes::{Data, Init, Params, fit};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (file, k) = (&a[1], a[2].parse::<usize>().unwrap());
    let split = |s: &str| -> Vec<String> { s.split(',').map(str::to_owned).collect() };
    let (nn, cn) = (split(&a[3]), split(&a[4]));
    let rows: Vec<usize> = a[5].split(',').map(|v| v.parse().unwrap()).collect();
    let mut r = csv::Reader::from_path(file).unwrap();
    let header = r.headers().unwrap().clone();
    let at = |n: &String| header.iter().position(|h| h == n).unwrap();
    let (ni, ci): (Vec<usize>, Vec<usize>) =
        (nn.iter().map(at).collect(), cn.iter().map(at).collect());
    let mut num = Vec::new();
    let mut text: Vec<Vec<String>> = Vec::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        if ni.iter().chain(&ci).any(|&i| rec[i].trim().is_empty()) {
            continue;
        }
        num.extend(ni.iter().map(|&i| rec[i].trim().parse::<f64>().unwrap()));
        text.push(ci.iter().map(|&i| rec[i].trim().to_owned()).collect());
    }
    // kmodes' coding: each column's values in sorted order.
    let mut cat = Vec::with_capacity(text.len() * cn.len());
    let maps: Vec<BTreeMap<&str, u32>> = (0..cn.len())
        .map(|j| {
            let mut m: BTreeMap<&str, u32> = text.iter().map(|r| (r[j].as_str(), 0)).collect();
            for (c, v) in m.values_mut().enumerate() {
                *v = c as u32;
            }
            m
        })
        .collect();
    for row in &text {
        for (j, v) in row.iter().enumerate() {
            cat.push(maps[j][v.as_str()]);
        }
    }
    let (dn, dc) = (nn.len(), cn.len());
    let data = Data::new(&num, dn, &cat, dc).unwrap();
    let init = Init::rows(&data, &rows);
    let t = Instant::now();
    let max_iter = a
        .get(6)
        .map_or(strata_kprototypes::DEFAULT_MAX_ITER, |m| m.parse().unwrap());
    let f = fit(&Params::new(k).init(init).max_iter(max_iter), &data).unwrap();
    let seconds = t.elapsed().as_secs_f64();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for l in &f.labels {
        h = (h ^ u64::from(*l)).wrapping_mul(0x0100_0000_01b3);
    }
    println!(
        "{{\"seconds\": {seconds}, \"rows\": {}, \"gamma\": {}, \"cost\": {}, \"iterations\": {}, \"labels_fnv\": \"{h:016x}\"}}",
        data.n(),
        f.gamma,
        f.cost,
        f.iterations
    );
}
