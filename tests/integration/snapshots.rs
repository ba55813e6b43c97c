//! Every committed experiment reproduces byte for byte: each
//! `experiments/*.toml` is run and its trials.csv, summary.csv and artifacts
//! compared with `snapshots/` (review changes with `cargo insta review`, or
//! rewrite them with `evoquant check experiments --update`).

use crate::harness::{TempDir, evoquant};
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
        evoquant()
            .arg("run")
            .arg(&manifest)
            .arg("--quiet")
            .arg("--out")
            .arg(&out)
            .run()
            .success();
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
