//! Sharded runs as a user sees them: `run --shard K/N` for every K in any
//! order, then `merge`, gives the bytes of a local run; incomplete or
//! mismatched shards are refused with exit 2 and nothing is written.

use crate::harness::{TempDir, deterministic_files, evoquant, read};
use std::path::{Path, PathBuf};

/// A committed experiment with artifacts and per-trial documents, 8 trials.
const MANIFEST: &str = "experiments/bit_alloc_thresholds.toml";

/// The merged files to compare: everything but provenance and shard files.
pub fn final_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    deterministic_files(dir)
        .into_iter()
        .filter(|(p, _)| !p.starts_with("shards/") && !p.starts_with("slurm/"))
        .collect()
}

fn local_run(dir: &TempDir) -> PathBuf {
    let out = dir.join("local");
    evoquant()
        .args(["run", MANIFEST, "--quiet", "--out"])
        .arg(&out)
        .run()
        .success();
    out
}

fn shard(out: &Path, k: usize, n: usize, extra: &[&str]) -> crate::harness::Outcome {
    evoquant()
        .args([
            "run",
            MANIFEST,
            "--quiet",
            "--shard",
            &format!("{k}/{n}"),
            "--out",
        ])
        .arg(out)
        .args(extra)
        .run()
}

fn merge(out: &Path) -> crate::harness::Outcome {
    evoquant().arg("merge").arg(out).run()
}

#[test]
fn shards_in_any_order_merge_to_the_bytes_of_a_local_run() {
    let dir = TempDir::new("shard-bytes");
    let local = final_files(&local_run(&dir));
    assert!(local.iter().any(|(p, _)| p == "trials.csv"));
    assert!(local.iter().any(|(p, _)| p.starts_with("trials/")));
    // N = 1, a split that does not divide 8, and more shards than trials.
    for (n, order) in [
        (1, vec![0]),
        (3, vec![2, 0, 1]),
        (10, vec![9, 3, 0, 8, 1, 7, 2, 6, 5, 4]),
    ] {
        let out = dir.join(&format!("sharded{n}"));
        for k in order {
            shard(&out, k, n, &[]).success();
            assert!(
                !out.join("trials.csv").exists(),
                "a shard must not write final files"
            );
        }
        merge(&out)
            .success()
            .stderr_has(&format!("merged {n} shards: 8 trials"));
        assert_eq!(final_files(&out), local, "N = {n}");
    }
}

#[test]
fn merge_is_idempotent_and_leaves_shard_files_alone() {
    let dir = TempDir::new("shard-idem");
    let out = dir.join("out");
    for k in 0..2 {
        shard(&out, k, 2, &[]).success();
    }
    let shards_before = deterministic_files(&out.join("shards"));
    merge(&out).success();
    let first = final_files(&out);
    merge(&out).success();
    assert_eq!(final_files(&out), first);
    assert_eq!(deterministic_files(&out.join("shards")), shards_before);
}

#[test]
fn incomplete_shards_are_refused_listing_the_missing_trials_then_resume_completes_them() {
    let dir = TempDir::new("shard-missing");
    let local = final_files(&local_run(&dir));
    let out = dir.join("out");
    shard(&out, 0, 3, &[]).success();
    shard(&out, 2, 3, &[]).success();
    // Shard 2 "killed" after its first trial: keep one journal line and a torn one.
    let journal = out.join("shards/shard-2-of-3.jsonl");
    let text = read(&journal);
    let first = text.lines().next().unwrap();
    std::fs::write(&journal, format!("{first}\n{{\"id\":\"to")).unwrap();
    let plan = evoquant().args(["plan", MANIFEST]).run();
    let ids: Vec<(usize, String)> = plan
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut cells = l.split('\t');
            Some((cells.next()?.parse().ok()?, cells.next()?.to_string()))
        })
        .collect();
    assert_eq!(ids.len(), 8);
    let refused = merge(&out);
    refused
        .code(2)
        .no_panic()
        .stderr_has("4 of 8 trials have no result yet")
        .stderr_has("shard 1/3: never ran, 3 trials")
        .stderr_has("shard 2/3: 1 of 2 trials missing")
        .stderr_has("nothing was written");
    for (index, id) in &ids {
        let missing = index % 3 == 1 || (index % 3 == 2 && !first.contains(id.as_str()));
        assert_eq!(
            refused.stderr.contains(id.as_str()),
            missing,
            "{id} (index {index})"
        );
    }
    assert!(!out.join("trials.csv").exists());
    // A second run of a shard without --resume refuses; --resume continues it.
    shard(&out, 2, 3, &[]).code(2).stderr_has("--resume");
    let resumed = evoquant()
        .args(["run", MANIFEST, "--shard", "2/3", "--resume", "--out"])
        .arg(&out)
        .run();
    resumed
        .success()
        .stderr_has("2 trials (1 ran, 1 cached, 0 failed)");
    shard(&out, 1, 3, &["--resume"]).success();
    merge(&out).success();
    assert_eq!(final_files(&out), local);
}

#[test]
fn bad_shard_values_exit_2_and_write_nothing() {
    let dir = TempDir::new("shard-bad");
    let out = dir.join("out");
    for (value, needle) in [
        ("3/3", "K runs from 0 to 2"),
        ("7/3", "K runs from 0 to 2"),
        ("0/0", "at least 1"),
        ("x", "is not K/N"),
        ("1/2/3", "is not K/N"),
        ("-1/2", "is not K/N"),
        ("1.0/2", "is not K/N"),
        ("", "is not K/N"),
        ("0/10000000000", "at most 100000"),
        ("0/100000000000", "at most 100000"),
        ("0/1e10", "is not K/N"),
    ] {
        evoquant()
            .args([
                "run",
                MANIFEST,
                "--quiet",
                &format!("--shard={value}"),
                "--out",
            ])
            .arg(&out)
            .run()
            .code(2)
            .stderr_has(needle)
            .no_panic();
    }
    assert!(!out.exists());
}

#[test]
fn shards_of_a_different_manifest_or_version_are_refused() {
    let dir = TempDir::new("shard-mismatch");
    let out = dir.join("out");
    shard(&out, 0, 2, &[]).success();
    // Another manifest into the same folder: the shard itself refuses.
    let edited = dir.write(
        "edited.toml",
        &read(Path::new(MANIFEST)).replace("replicates = 2", "replicates = 3"),
    );
    evoquant()
        .arg("run")
        .arg(&edited)
        .args(["--quiet", "--shard", "1/2", "--out"])
        .arg(&out)
        .run()
        .code(2)
        .stderr_has("different manifests")
        .no_panic();
    // Same manifest, a different split.
    shard(&out, 1, 3, &[])
        .code(2)
        .stderr_has("split into 3 and into 2");
    assert!(!out.join("shards/shard-1-of-2.json").exists());
    shard(&out, 1, 2, &[]).success();
    merge(&out).success();
    let merged = final_files(&out);
    // `slurm` checks the folder before writing scripts for another split.
    evoquant()
        .args(["slurm", MANIFEST, "--shards", "3", "--out"])
        .arg(&out)
        .run()
        .code(2)
        .stderr_has("split into 3 and into 2");
    assert!(!out.join("slurm").exists());

    // merge refuses a shard description from another manifest, or another
    // version, and leaves the merged files as they were.
    let meta = out.join("shards/shard-1-of-2.json");
    let original = read(&meta);
    let sha = original
        .lines()
        .find(|l| l.contains("\"manifest_sha256\""))
        .unwrap()
        .to_string();
    std::fs::write(
        &meta,
        original.replace(&sha, "  \"manifest_sha256\": \"00ff\","),
    )
    .unwrap();
    merge(&out)
        .code(2)
        .stderr_has("different manifests")
        .stderr_has("nothing was written")
        .no_panic();
    assert_eq!(final_files(&out), merged);
    std::fs::write(
        &meta,
        original.replace(
            &format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION")),
            "\"version\": \"0.0.0-old\"",
        ),
    )
    .unwrap();
    merge(&out)
        .code(2)
        .stderr_has("evoquant 0.0.0-old")
        .no_panic();
    assert_eq!(final_files(&out), merged);
    std::fs::write(&meta, original).unwrap();
    merge(&out).success();
}

#[test]
fn merge_of_a_folder_without_shards_exits_2() {
    let dir = TempDir::new("shard-none");
    merge(dir.path())
        .code(2)
        .stderr_has("no shards to merge")
        .no_panic();
}

#[test]
fn slurm_writes_readable_scripts_and_prints_the_commands() {
    let dir = TempDir::new("slurm-script");
    let out = dir.join("out");
    let printed = evoquant()
        .args([
            "slurm",
            MANIFEST,
            "--shards",
            "3",
            "--array-parallelism",
            "2",
            "--partition",
            "short",
            "--time",
            "0:10:00",
            "--cpus-per-task",
            "2",
            "--out",
        ])
        .arg(&out)
        .run();
    printed
        .success()
        .stdout_has("array=$(sbatch --parsable ")
        .stdout_has("--dependency=afterok:${array%%;*}");
    let array = read(&out.join("slurm/array.sbatch"));
    for needle in [
        "#SBATCH --array=0-2%2",
        "#SBATCH --partition=short",
        "#SBATCH --time=0:10:00",
        "#SBATCH --cpus-per-task=2",
        "--shard \"$SLURM_ARRAY_TASK_ID/$SHARDS\" --resume --jobs 2",
        "#   trials             8",
    ] {
        assert!(array.contains(needle), "{needle:?} not in\n{array}");
    }
    assert!(read(&out.join("slurm/merge.sbatch")).contains("merge \"$OUT\""));
    assert!(out.join("slurm/logs").is_dir());
}

#[test]
fn slurm_bad_input_exits_2_and_writes_nothing() {
    let dir = TempDir::new("slurm-bad");
    let out = dir.join("out");
    // --submit without sbatch on PATH.
    let no_sbatch = std::process::Command::new(env!("CARGO_BIN_EXE_evoquant"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PATH", dir.path())
        .args(["slurm", MANIFEST, "--shards", "2", "--submit", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&no_sbatch.stderr);
    assert_eq!(no_sbatch.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sbatch is not on PATH"), "{stderr}");
    for extra in [
        &["--shards", "0"][..],
        &["--shards", "2", "--time", "1h"],
        &["--shards", "2", "--partition", "a b"],
        &["--shards", "2", "--array-parallelism", "0"],
    ] {
        evoquant()
            .args(["slurm", MANIFEST])
            .args(extra)
            .arg("--out")
            .arg(&out)
            .run()
            .code(2)
            .no_panic();
    }
    assert!(!out.exists());
}

/// A shard description edited (or corrupted) to name a shard that cannot
/// exist used to panic `merge` (index out of range, or `% 0`) or abort it
/// allocating per-shard state for 10^11 shards.
#[test]
fn merge_refuses_descriptions_naming_impossible_shards() {
    let dir = TempDir::new("shard-meta-bad");
    let out = dir.join("out");
    shard(&out, 0, 1, &[]).success();
    let meta_path = out.join("shards/shard-0-of-1.json");
    let original = read(&meta_path);
    for (shard_field, shards_field, needle) in [
        ("\"shard\": 5", "\"shards\": 1", "K runs from 0 to 0"),
        ("\"shard\": 0", "\"shards\": 0", "at least 1"),
        ("\"shard\": 0", "\"shards\": 100000000000", "at most 100000"),
    ] {
        let edited = original
            .replace("\"shard\": 0", shard_field)
            .replace("\"shards\": 1", shards_field);
        assert_ne!(edited, original);
        std::fs::write(&meta_path, edited).unwrap();
        merge(&out)
            .code(2)
            .stderr_has("shard-0-of-1.json")
            .stderr_has(needle)
            .no_panic();
        assert!(!out.join("trials.csv").exists());
    }
}
