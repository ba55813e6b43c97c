//! Every committed experiment reproduces byte for byte: each
//! `experiments/*.toml` is run (one test each) and its trials.csv,
//! summary.csv and artifacts compared with `snapshots/` (review changes with `cargo insta review`, or
//! rewrite them with `evoquant check experiments --update`).

use crate::harness::{TempDir, evoquant, run_quietly};
use crate::runner::TINY;
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

/// Experiments that run a real pretrained model: their floats come from
/// `gemm`, whose summation order depends on the CPU's SIMD features and
/// cache sizes, so their snapshots hold on machines with the signature they
/// were taken with (docs/eval.md, "Determinism").
const REAL_MODELS: &[&str] = &["bit_alloc_minilm", "mp_minilm", "mp_smollm2"];

/// Run one committed experiment and compare every output with its snapshot.
fn reproduces(stem: &str) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("experiments/{stem}.toml"));
    if REAL_MODELS.contains(&stem) {
        if !crate::eval::models_present() {
            return;
        }
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("snapshots")
            .join(evoquant::check::KERNEL_SIGNATURE);
        let recorded = std::fs::read_to_string(&file).unwrap_or_default();
        let here = evoquant::models::transformer::ops::kernel_signature();
        if recorded.trim() != here {
            eprintln!(
                "skipped: {stem}'s snapshots were taken on a machine with kernel signature `{}`, this one is `{here}` (transformer floats depend on it; rerun `evoquant check experiments --update` here to compare)",
                recorded.trim()
            );
            return;
        }
    }
    let dir = TempDir::new(stem);
    let out = dir.join("out");
    run_quietly(&manifest, &out);
    for (name, contents) in snapshot::entries(stem, &out).unwrap() {
        insta::with_settings!({
            snapshot_path => "../../snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, contents);
        });
    }
}

/// One test per experiment, so one drift hides no other and one experiment
/// can be selected (`cargo test --test integration snapshots::chaos_int4 -- --exact`).
macro_rules! experiments {
    ($($stem:ident),* $(,)?) => {
        const LISTED: &[&str] = &[$(stringify!($stem)),*];
        $(
            #[test]
            fn $stem() {
                reproduces(stringify!($stem));
            }
        )*
    };
}

experiments!(
    bit_alloc_generations,
    bit_alloc_minilm,
    bit_alloc_thresholds,
    chaos_int4,
    chaos_int4_blocks,
    chaos_int4_qat,
    mp_coevolve,
    mp_extreme,
    mp_fp8,
    mp_llama7b,
    mp_minilm,
    mp_neon,
    mp_smollm2,
    mp_targets,
);

/// A new experiment cannot be forgotten in the list above.
#[test]
fn every_experiment_has_a_snapshot_test() {
    let found: Vec<String> = experiments().iter().map(|p| stem(p)).collect();
    let mut listed: Vec<String> = LISTED.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        listed, found,
        "experiments!(...) must list exactly experiments/*.toml"
    );
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
                snapshot::owner(base).is_some_and(|o| stems.iter().any(|s| s == o)),
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
        if snapshot::owner(name.trim_end_matches(".snap")) == Some(stem) {
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
    // A summary first, then the cells, and the hint keeps --snapshots.
    let out = check();
    out.code(1)
        .stdout_has(&format!("DRIFT: {stem}: "))
        .stdout_has("  summary.csv: 1 cells in 1 columns (threshold)")
        .stdout_has("largest absolute change: summary.csv `threshold` at row 1: 0.91 → 0.9 (-0.01, -1.099%)")
        .stdout_has(&format!("--update --snapshots {}", snaps.display()));
    assert!(!out.stdout.contains("(snapshot)"), "{}", out.stdout);
    // Within a tolerance it is no drift; --full adds line diffs of text files.
    evoquant()
        .arg("check")
        .arg(&manifest)
        .arg("--snapshots")
        .arg(&snaps)
        .args(["--abs-tol", "0.02"])
        .run()
        .success();
    let report = snaps.join(format!("{stem}__report.md.snap"));
    let md = std::fs::read_to_string(&report).unwrap();
    std::fs::write(&report, md.replacen("# bit-alloc", "# bit-alloc!", 1)).unwrap();
    evoquant()
        .arg("check")
        .arg(&manifest)
        .arg("--snapshots")
        .arg(&snaps)
        .arg("--full")
        .run()
        .code(1)
        .stdout_has("1 other files differ: report.md")
        .stdout_has("report.md (snapshot)");

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

fn snaps_of(dir: &Path, stem: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = snapshot::existing_names(dir, stem)
        .unwrap()
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(snapshot::snapshot_path(dir, &n)).unwrap();
            (n, bytes)
        })
        .collect();
    v.sort();
    v
}

/// `check a.toml --update` leaves the snapshots of `a_.toml` alone (they
/// share the prefix `a__`), and snapshots no manifest owns are reported
/// when a folder is checked, never deleted.
#[test]
fn update_touches_only_its_own_snapshots_and_orphans_are_reported() {
    let dir = TempDir::new("check-owner");
    let manifests = dir.join("m");
    let snaps = dir.join("snaps");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(manifests.join("a.toml"), TINY).unwrap();
    std::fs::write(manifests.join("a_.toml"), TINY).unwrap();
    let check = |input: &Path, update: bool| {
        evoquant()
            .arg("check")
            .arg(input)
            .arg("--snapshots")
            .arg(&snaps)
            .args(update.then_some("--update"))
            .run()
    };
    check(&manifests, true).success();
    let theirs = snaps_of(&snaps, "a_");
    assert!(!theirs.is_empty());
    assert!(!snaps_of(&snaps, "a").is_empty());
    check(&manifests.join("a.toml"), true)
        .success()
        .stdout_has("updated a:");
    assert_eq!(
        snaps_of(&snaps, "a_"),
        theirs,
        "a's update changed a_'s snapshots"
    );
    check(&manifests, false).success().stdout_has("ok: a_ ");

    let orphan = snapshot::snapshot_path(&snaps, "gone__trials.csv");
    snapshot::write_snapshot(&orphan, "x").unwrap();
    check(&manifests, false)
        .code(1)
        .stdout_has("ORPHAN: ")
        .stdout_has("gone__trials.csv.snap");
    // One manifest is not the whole set: no orphan report.
    check(&manifests.join("a.toml"), false).success();
    check(&manifests, true).code(1).stdout_has("ORPHAN: ");
    assert!(orphan.exists(), "--update deleted a snapshot no input owns");
}
