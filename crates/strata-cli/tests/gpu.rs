//! `--backend gpu` against `--backend cpu` through the real binary, on every data set in
//! `../shared/data` and the examples: same segments for every customer, inertia within 1e-5,
//! and each run's segments.json says which backend ran. On CI the GPU is lavapipe (Mesa's
//! software Vulkan). Skips only when no Vulkan driver is installed and STRATA_REQUIRE_GPU is
//! not set (CI's test script sets it after installing one).

use std::path::Path;

use crate::util::*;

pub(crate) fn gpu_present() -> bool {
    match strata_gpu::GpuBackend::new(strata_gpu::GpuOptions::default()) {
        Ok(_) => true,
        Err(e) if std::env::var_os("STRATA_REQUIRE_GPU").is_some() => {
            panic!("STRATA_REQUIRE_GPU is set but the GPU backend is unavailable: {e}")
        }
        Err(e) => {
            let driver = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
                .iter()
                .any(|d| std::fs::read_dir(d).is_ok_and(|mut e| e.next().is_some()));
            assert!(!driver, "a Vulkan driver is installed but: {e}");
            eprintln!("SKIPPED: no Vulkan driver installed ({e})");
            false
        }
    }
}

/// Runs the same fit on both backends and compares.
fn same_on_both(input: &Path, args: &[&str]) {
    let run_on = |backend: &str| {
        let mut a = args.to_vec();
        a.extend(["--backend", backend]);
        fit_ok(input, &a)
    };
    let (_g, gpu, _) = run_on("gpu");
    let (_c, cpu, _) = run_on("cpu");
    let (gs, cs) = (
        json(&gpu.join("segments.json")),
        json(&cpu.join("segments.json")),
    );
    assert_eq!(
        gs["backend"]["kind"], "gpu",
        "the GPU run must run on the GPU"
    );
    assert_eq!(cs["backend"]["kind"], "cpu");
    let (gi, ci) = (
        gs["inertia"].as_f64().unwrap(),
        cs["inertia"].as_f64().unwrap(),
    );
    assert!(
        (gi - ci).abs() <= 1e-5 * ci.abs(),
        "{}: inertia {gi} (gpu) vs {ci} (cpu)",
        input.display()
    );
    let (ga, ca) = (
        read_csv(&gpu.join("assignments.csv")),
        read_csv(&cpu.join("assignments.csv")),
    );
    assert_eq!(ga.len(), ca.len());
    let differ: Vec<&String> = ga
        .iter()
        .zip(&ca)
        .filter(|(g, c)| g[..3] != c[..3])
        .map(|(g, _)| &g[0])
        .collect();
    assert!(
        differ.is_empty(),
        "{}: {} customers in different segments",
        input.display(),
        differ.len()
    );
    for (g, c) in ga[1..].iter().zip(&ca[1..]) {
        let (g, c): (f64, f64) = (g[3].parse().unwrap(), c[3].parse().unwrap());
        assert!((g - c).abs() <= 1e-3 * c.max(1e-3), "distance {g} vs {c}");
    }
}

#[test]
fn gpu_and_cpu_agree_on_every_data_set() {
    if !gpu_present() {
        return;
    }
    same_on_both(
        &shared("mall_customers/Mall_Customers.csv"),
        &[
            "--id-column",
            "CustomerID",
            "--map",
            "gender=Genre",
            "--map",
            "age=Age",
            "--map",
            "income=Annual Income (k$)",
            "--k",
            "5",
        ],
    );
    same_on_both(
        &shared("wholesale_customers/Wholesale customers data.csv"),
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
            "spend=Fresh,Milk,Grocery,Frozen,Detergents_Paper,Delicassen",
            "--k",
            "4",
        ],
    );
    same_on_both(
        &shared("young_people_survey/responses.csv"),
        &["-s", "features", "--k", "4"],
    );
    same_on_both(
        &repo().join("examples/customers.csv"),
        &["--id-column", "customer_id", "--k", "4"],
    );
    same_on_both(
        &repo().join("examples/survey.csv"),
        &[
            "-s",
            "psychographic",
            "--id-column",
            "respondent_id",
            "--map",
            "likert=Music*,Outdoor*,Fashion*,Tech*,Home*",
            "--k",
            "4",
        ],
    );
}

/// Transaction logs go through `--transactions`, so they get their own runner.
fn same_on_both_logs(log: &Path, k: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for backend in ["gpu", "cpu"] {
        let out = dir.path().join(backend);
        let o = run(&[
            "fit",
            "-s",
            "behavioral",
            "--transactions",
            log.to_str().unwrap(),
            "--k",
            k,
            "--backend",
            backend,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(json(&out.join("segments.json"))["backend"]["kind"], backend);
        outs.push(out);
    }
    let (g, c) = (
        read_csv(&outs[0].join("assignments.csv")),
        read_csv(&outs[1].join("assignments.csv")),
    );
    let differ = g.iter().zip(&c).filter(|(g, c)| g[..3] != c[..3]).count();
    assert_eq!(
        differ,
        0,
        "{}: customers in different segments",
        log.display()
    );
}

#[test]
fn gpu_and_cpu_agree_on_the_transaction_logs() {
    if !gpu_present() {
        return;
    }
    same_on_both_logs(&shared("online_retail_dec2010/Online Retail.csv"), "5");
    same_on_both_logs(&shared("online_retail/online_retail.csv"), "6");
}

#[test]
fn devices_lists_the_adapter() {
    if !gpu_present() {
        return;
    }
    let o = run(&["devices"]);
    let s = text(&o.stdout);
    assert!(
        o.status.success() && s.contains("max storage binding"),
        "{s}"
    );
}

/// `strata assign --backend gpu` scores as the CPU does, and says it ran on the GPU.
#[test]
fn assign_on_the_gpu_matches_the_cpu() {
    if !gpu_present() {
        return;
    }
    let demo = repo().join("examples/customers.csv");
    let (_f, fit, _) = fit_ok(&demo, &["--id-column", "customer_id", "--k", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for backend in ["gpu", "cpu"] {
        let out = dir.path().join(backend);
        let o = run(&[
            "assign",
            "--model",
            fit.join("model.json").to_str().unwrap(),
            "--backend",
            backend,
            "-o",
            out.to_str().unwrap(),
            demo.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(json(&out.join("segments.json"))["backend"]["kind"], backend);
        outs.push(read_csv(&out.join("assignments.csv")));
    }
    let differ = outs[0]
        .iter()
        .zip(&outs[1])
        .filter(|(g, c)| g[..3] != c[..3])
        .count();
    assert_eq!(differ, 0, "customers in different segments");
}

/// Opening the GPU without XDG_RUNTIME_DIR in the environment (`strata devices`, a GPU fit)
/// used to print the Vulkan loader's "XDG_RUNTIME_DIR is invalid or not set" on stderr, even
/// under `-q`.
#[test]
fn probing_the_gpu_under_quiet_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("f.csv");
    synth_to(&input, "features", 300, 1);
    let o = strata()
        .env_remove("XDG_RUNTIME_DIR")
        .args(["-q", "devices"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stderr), "");
    let o = strata()
        .env_remove("XDG_RUNTIME_DIR")
        .args([
            "-q",
            "fit",
            "-s",
            "features",
            "--id-column",
            "id",
            "--k",
            "130",
            "--n-init",
            "1",
            "--backend",
            if gpu_present() { "gpu" } else { "auto" },
            "--out",
            dir.path().join("out").to_str().unwrap(),
            input.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stderr), "");
}
