//! A run's outputs as one commit, through the binary: a failed replace puts the earlier run
//! back, two writers of one folder never mix, readers refuse a mixed folder, `assign` will not
//! overwrite a fit, and a signal or a kill leaves no temporaries behind.

use std::path::Path;

use crate::util::*;

/// `strata -q fit` with the features strategy, k-means with one start.
fn features_fit_args(input: &Path, out: &Path, k: &str) -> Vec<String> {
    [
        "-q",
        "fit",
        "-s",
        "features",
        "--id-column",
        "id",
        "--k",
        k,
        "--n-init",
        "1",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string(), input.display().to_string()])
    .collect()
}

fn features_fit(input: &Path, out: &Path, k: &str) -> std::process::Output {
    strata()
        .args(features_fit_args(input, out, k))
        .output()
        .unwrap()
}

fn synth(path: &Path, rows: &str, seed: &str) {
    synth_to(
        path,
        "features",
        rows.parse().unwrap(),
        seed.parse().unwrap(),
    );
}

/// The k of each of a run folder's files, which must agree.
fn run_k(out: &Path) -> (u64, u64, u64) {
    let model = json(&out.join("model.json"))["k"].as_u64().unwrap();
    let segments = json(&out.join("segments.json"))["k"].as_u64().unwrap();
    let assigned = ids_of(&out.join("assignments.csv"), 1)
        .iter()
        .map(|s| s.parse::<u64>().unwrap())
        .max()
        .unwrap()
        + 1;
    (model, segments, assigned)
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp") || n.ends_with(".strata-prev"))
        .collect()
}

#[test]
fn a_replace_that_fails_puts_the_earlier_run_back() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, out) = (
        dir.path().join("a.csv"),
        dir.path().join("b.csv"),
        dir.path().join("run"),
    );
    synth(&a, "2000", "1");
    synth(&b, "2000", "7");
    assert!(features_fit(&a, &out, "3").status.success());
    let before: Vec<Vec<u8>> = ["assignments.csv", "segments.json", "manifest.json"]
        .iter()
        .map(|n| std::fs::read(out.join(n)).unwrap())
        .collect();
    // A folder where model.json should go: renaming over it fails, after the files before it.
    std::fs::rename(out.join("model.json"), dir.path().join("model.json")).unwrap();
    std::fs::create_dir(out.join("model.json")).unwrap();
    let o = features_fit(&b, &out, "5");
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("model.json") && err.contains("put back as they were"),
        "{err}"
    );
    let after: Vec<Vec<u8>> = ["assignments.csv", "segments.json", "manifest.json"]
        .iter()
        .map(|n| std::fs::read(out.join(n)).unwrap())
        .collect();
    assert!(before == after, "the earlier run must be as it was");
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn two_writers_of_one_folder_never_mix() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    synth(&input, "20000", "1");
    let out = dir.path().join("run");
    for _ in 0..6 {
        let spawn = |k: &str| {
            strata()
                .args(["--threads", "1"])
                .args(features_fit_args(&input, &out, k))
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let (mut x, mut y) = (spawn("3"), spawn("5"));
        assert!(x.wait().unwrap().success() && y.wait().unwrap().success());
        let (m, s, a) = run_k(&out);
        assert!(
            m == s && s == a,
            "mixed run: model k {m}, segments k {s}, assignments k {a}"
        );
        // compare reads the folder, checked against its manifest.
        let o = run(&["compare", out.to_str().unwrap(), out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
}

#[test]
fn readers_refuse_a_folder_that_mixes_two_runs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    synth(&input, "2000", "1");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert!(features_fit(&input, &a, "3").status.success());
    assert!(features_fit(&input, &b, "5").status.success());
    // As a writer killed between its manifest and its renames would leave it.
    std::fs::copy(b.join("assignments.csv"), a.join("assignments.csv")).unwrap();
    let o = run(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("assignments.csv") && err.contains("mixes files of different runs"),
        "{err}"
    );
    std::fs::copy(b.join("model.json"), a.join("model.json")).unwrap();
    let scored = dir.path().join("scored");
    let o = run(&[
        "assign",
        "--model",
        a.join("model.json").to_str().unwrap(),
        "--out",
        scored.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("model.json") && err.contains("mixes files"),
        "{err}"
    );
    assert!(!scored.exists());
}

#[test]
fn assign_will_not_replace_a_fit_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let (train, new) = (dir.path().join("train.csv"), dir.path().join("new.csv"));
    synth(&train, "2000", "1");
    synth(&new, "300", "2");
    let fit = dir.path().join("fit");
    assert!(features_fit(&train, &fit, "3").status.success());
    let fit_assignments = std::fs::read(fit.join("assignments.csv")).unwrap();
    let model = fit.join("model.json");
    let assign = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "-q",
            "assign",
            "--model",
            model.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            new.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    // The model's own folder, and a copy of the fit's folder elsewhere.
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    for f in [
        "assignments.csv",
        "segments.json",
        "model.json",
        "manifest.json",
    ] {
        std::fs::copy(fit.join(f), copy.join(f)).unwrap();
    }
    for (out, what) in [(&fit, "the --model file"), (&copy, "a fit's results")] {
        let o = assign(out, &[]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(what) && err.contains("--force"), "{err}");
    }
    assert_eq!(
        std::fs::read(fit.join("assignments.csv")).unwrap(),
        fit_assignments
    );
    // An earlier scoring run's folder is simply replaced.
    let scored = dir.path().join("scored");
    assert!(assign(&scored, &[]).status.success());
    assert!(assign(&scored, &[]).status.success());
    // --force replaces the fit's results and keeps its model usable.
    let o = assign(&fit, &["--force"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(read_csv(&fit.join("assignments.csv")).len(), 301);
    assert!(assign(&dir.path().join("again"), &[]).status.success());
}

#[cfg(unix)]
#[test]
fn a_signal_or_a_kill_leaves_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let (train, big) = (dir.path().join("train.csv"), dir.path().join("big.csv"));
    synth(&train, "2000", "1");
    synth(&big, "1000000", "2");
    let fit = dir.path().join("fit");
    assert!(features_fit(&train, &fit, "3").status.success());
    let out = dir.path().join("scored");
    let start = || {
        strata()
            .args([
                "-q",
                "assign",
                "--model",
                fit.join("model.json").to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                big.to_str().unwrap(),
            ])
            .spawn()
            .unwrap()
    };
    // Waits until assign is streaming into its staged assignments.csv.
    let staged = || {
        for _ in 0..2000 {
            if out.is_dir() && !leftovers(&out).is_empty() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        false
    };
    for (signal, code) in [("-TERM", 143), ("-INT", 130), ("-HUP", 129)] {
        let mut child = start();
        if !staged() {
            // Finished before it could be interrupted: nothing to test on this machine.
            assert!(child.wait().unwrap().success());
            panic!("assign of 1M rows finished before a signal could reach it");
        }
        let pid = child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{signal}");
        assert!(
            leftovers(&out).is_empty(),
            "{signal}: {:?}",
            leftovers(&out)
        );
    }
    // kill -9 cannot be caught: the next run in the folder sweeps what it left.
    let mut child = start();
    assert!(staged());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!leftovers(&out).is_empty());
    assert!(features_fit(&train, &out, "2").status.success());
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}
