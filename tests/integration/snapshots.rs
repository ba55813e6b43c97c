//! Every committed experiment reproduces byte for byte: each
//! `experiments/*.toml` is run and its trials.csv, summary.csv and artifacts
//! compared with `snapshots/` (review changes with `cargo insta review`, or
//! rewrite them with `evoquant check experiments --update`).

use crate::harness::{TempDir, evoquant, run_quietly};
use evoquant::report::snapshot;
use std::path::{Path, PathBuf};

fn experiments() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    found.sort();
    found
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().to_string()
}

#[test]
fn committed_experiments_reproduce() {
    let manifests = experiments();
    assert!(!manifests.is_empty());
    for manifest in manifests {
        let stem = stem(&manifest);
        let dir = TempDir::new(&stem);
        let out = dir.join("out");
        run_quietly(&manifest, &out);
        for (name, contents) in snapshot::entries(&stem, &out).unwrap() {
            insta::with_settings!({
                snapshot_path => "../../snapshots",
                prepend_module_to_snapshot => false,
                omit_expression => true,
            }, {
                insta::assert_snapshot!(name, contents);
            });
        }
    }
}

/// A snapshot whose experiment is gone (or no longer produces that file)
/// would silently stop being checked.
#[test]
fn no_orphan_snapshots() {
    let stems: Vec<String> = experiments().iter().map(|p| stem(p)).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if let Some(base) = name.strip_suffix(".snap") {
            assert!(
                stems.iter().any(|s| base.starts_with(&format!("{s}__"))),
                "snapshots/{name} belongs to no experiment"
            );
        }
    }
}

/// `check` passes on the committed snapshots, exits 1 with a diff on drift,
/// and `--update` repairs them.
#[test]
fn check_detects_drift_and_update_repairs_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = TempDir::new("check");
    let snaps = dir.join("snaps");
    std::fs::create_dir_all(&snaps).unwrap();
    let stem = "bit_alloc_thresholds";
    for e in std::fs::read_dir(root.join("snapshots")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with(&format!("{stem}__")) {
            std::fs::copy(&p, snaps.join(&name)).unwrap();
        }
    }
    let manifest = root.join(format!("experiments/{stem}.toml"));
    let check = || {
        evoquant()
            .arg("check")
            .arg(&manifest)
            .arg("--snapshots")
            .arg(&snaps)
            .run()
    };
    check().success().stdout_has(&format!("ok: {stem}"));

    let summary = snaps.join(format!("{stem}__summary.csv.snap"));
    let text = std::fs::read_to_string(&summary).unwrap();
    let tampered = text.replacen("0.9,", "0.91,", 1);
    assert_ne!(text, tampered);
    std::fs::write(&summary, tampered).unwrap();
    check().code(1).stdout_has("DRIFT").stdout_has("(snapshot)");

    evoquant()
        .arg("check")
        .arg(&manifest)
        .arg("--snapshots")
        .arg(&snaps)
        .arg("--update")
        .run()
        .success();
    check().success();
}
