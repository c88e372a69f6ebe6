//! Unit tests of the run commit: all files or none at every failing step, backups put back,
//! stale temporaries swept, the manifest checked by readers, a second writer waits. (The
//! signal clean-up, which is process-wide, is tested end to end.)

use super::*;

fn files(run: &RunDir, tag: &str) -> Vec<Staged> {
    ["assignments.csv", "segments.json", "model.json"]
        .iter()
        .map(|name| {
            run.stage(name, |w| w.write_all(format!("{tag} {name}").as_bytes()))
                .unwrap()
        })
        .collect()
}

fn contents(dir: &Path) -> Vec<(String, String)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n != LOCK)
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap_or_default();
            (n, text)
        })
        .collect();
    v.sort();
    v
}

fn committed(dir: &Path, tag: &str) {
    let run = RunDir::open(dir, "fit", || {}).unwrap();
    let f = files(&run, tag);
    run.commit(f).unwrap();
}

#[test]
fn a_commit_writes_every_file_and_a_manifest_that_checks_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    committed(&dir, "one");
    let c = contents(&dir);
    let names: Vec<&str> = c.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "assignments.csv",
            "manifest.json",
            "model.json",
            "segments.json"
        ]
    );
    let m = Manifest::read(&dir).unwrap().unwrap();
    assert_eq!(m.command, "fit");
    for name in ["assignments.csv", "segments.json", "model.json"] {
        read_checked(&dir.join(name)).unwrap();
    }
    // An edited file no longer checks.
    std::fs::write(dir.join("model.json"), "edited").unwrap();
    let e = read_checked(&dir.join("model.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("mixes files of different runs"), "{e}");
}

#[test]
fn a_failure_at_any_step_leaves_the_earlier_run_as_it_was() {
    let steps = (0..4)
        .map(Step::Backup)
        .chain((0..4).map(Step::Replace))
        .chain([Step::SyncDir]);
    for step in steps {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        committed(&dir, "old");
        let before = contents(&dir);
        let run = RunDir::open(&dir, "fit", || {}).unwrap();
        let f = files(&run, "new");
        let e = run.commit_failing_at(f, &[], Some(step)).unwrap_err();
        assert!(e.left_folder_untouched(), "{step:?}: {e}");
        assert_eq!(contents(&dir), before, "{step:?}: {e}");
        for name in ["assignments.csv", "segments.json", "model.json"] {
            read_checked(&dir.join(name)).unwrap();
        }
    }
}

#[test]
fn a_failed_first_run_leaves_no_folder() {
    for step in [Step::Replace(0), Step::Replace(2), Step::SyncDir] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        let run = RunDir::open(&dir, "fit", || {}).unwrap();
        let f = files(&run, "new");
        let e = run.commit_failing_at(f, &[], Some(step)).unwrap_err();
        assert!(matches!(e, CommitError::RolledBack { .. }), "{e}");
        assert!(!dir.exists(), "{step:?}: {:?}", contents(&dir));
    }
}

#[test]
fn a_rename_that_really_fails_is_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    committed(&dir, "old");
    // A folder where a file should go: its rename fails (EISDIR), after the files before it.
    std::fs::remove_file(dir.join("model.json")).unwrap();
    std::fs::create_dir(dir.join("model.json")).unwrap();
    let run = RunDir::open(&dir, "fit", || {}).unwrap();
    let f = files(&run, "new");
    let e = run.commit(f).unwrap_err().to_string();
    assert!(e.contains("model.json") && e.contains("put back"), "{e}");
    assert_eq!(
        std::fs::read_to_string(dir.join("assignments.csv")).unwrap(),
        "old assignments.csv"
    );
}

#[test]
fn stale_temporaries_of_a_killed_run_are_swept() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    committed(&dir, "old");
    std::fs::write(dir.join(".assignments.csv.Ab12Cd.tmp"), "partial").unwrap();
    std::fs::write(dir.join(".model.json.strata-prev"), "backup").unwrap();
    std::fs::write(dir.join(".keep-me"), "the user's").unwrap();
    let run = RunDir::open(&dir, "fit", || {}).unwrap();
    drop(run);
    let names: Vec<String> = contents(&dir).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            ".keep-me",
            "assignments.csv",
            "manifest.json",
            "model.json",
            "segments.json"
        ]
    );
}

#[test]
fn a_second_writer_waits_for_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let first = RunDir::open(&dir, "fit", || {}).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let d = dir.clone();
    let second = std::thread::spawn(move || {
        let run = RunDir::open(&d, "fit", || tx.send("waiting").unwrap()).unwrap();
        let f = files(&run, "second");
        run.commit(f).unwrap();
    });
    assert_eq!(rx.recv().unwrap(), "waiting");
    let f = files(&first, "first");
    first.commit(f).unwrap();
    second.join().unwrap();
    for name in ["assignments.csv", "segments.json", "model.json"] {
        let text = String::from_utf8(read_checked(&dir.join(name)).unwrap()).unwrap();
        assert!(text.starts_with("second"), "{name}: {text}");
    }
}

#[test]
fn a_manifest_names_a_mixed_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    committed(&a, "a");
    committed(&b, "b");
    // As a kill between the manifest and the renames leaves it: one file of another run.
    std::fs::copy(b.join("segments.json"), a.join("segments.json")).unwrap();
    let e = read_checked(&a.join("segments.json"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("segments.json") && e.contains("content hash"),
        "{e}"
    );
    read_checked(&a.join("assignments.csv")).unwrap();
    // A folder without a manifest (an older Strata's) is read as before.
    std::fs::remove_file(a.join(MANIFEST)).unwrap();
    read_checked(&a.join("segments.json")).unwrap();
}

#[test]
fn kept_files_are_listed_with_the_new_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    committed(&dir, "fit");
    let run = RunDir::open(&dir, "assign", || {}).unwrap();
    let f = vec![
        run.stage("assignments.csv", |w| w.write_all(b"scored"))
            .unwrap(),
    ];
    run.commit_keeping(f, &["model.json", "absent.json"])
        .unwrap();
    let m = Manifest::read(&dir).unwrap().unwrap();
    assert_eq!(m.command, "assign");
    assert_eq!(
        m.files.keys().collect::<Vec<_>>(),
        ["assignments.csv", "model.json"]
    );
    read_checked(&dir.join("model.json")).unwrap();
    read_checked(&dir.join("assignments.csv")).unwrap();
    assert!(read_checked(&dir.join("segments.json")).is_err());
}

/// A run that supersedes another format's file removes it at the commit when the previous
/// manifest listed it, and leaves a file of that name no manifest listed (not Strata's).
#[test]
fn superseded_files_go_only_when_the_previous_run_listed_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    committed(&dir, "one");
    let mut run = RunDir::open(&dir, "fit", || {}).unwrap();
    run.supersede(&["assignments.csv", "assignments.arrows"]);
    let staged = vec![
        run.stage("assignments.parquet", |w| w.write_all(b"typed"))
            .unwrap(),
    ];
    run.commit(staged).unwrap();
    assert!(
        !dir.join("assignments.csv").exists(),
        "listed before: removed"
    );
    assert!(dir.join("assignments.parquet").is_file());
    let m = Manifest::read(&dir).unwrap().unwrap();
    assert_eq!(m.files.keys().collect::<Vec<_>>(), ["assignments.parquet"]);

    // Someone else's file of a superseded name stays.
    std::fs::write(dir.join("assignments.arrows"), "theirs").unwrap();
    let mut run = RunDir::open(&dir, "fit", || {}).unwrap();
    run.supersede(&["assignments.arrows"]);
    let staged = vec![
        run.stage("assignments.parquet", |w| w.write_all(b"again"))
            .unwrap(),
    ];
    run.commit(staged).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("assignments.arrows")).unwrap(),
        "theirs"
    );
}
