//! Regression tests for the reliability issue: `--force` deletes only what
//! evoquant wrote, a results folder has one writer at a time, nothing is
//! written or removed through links, and a file given as `--out` is a user
//! error.

use crate::harness::{TempDir, evoquant, run_quietly};
use crate::runner::TINY;

use crate::harness::run_into;

/// Before: any folder holding a file named trials.csv counted as results and
/// was removed whole with --force.
#[test]
fn force_refuses_a_folder_that_only_has_result_file_names() {
    let dir = TempDir::new("force-names");
    let m = dir.write("tiny.toml", TINY);
    let d = dir.join("D");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("thesis.tex"), "x").unwrap();
    std::fs::write(d.join("trials.csv"), "a,b\n").unwrap();
    run_into(&m, &d, &["--force"])
        .code(2)
        .stderr_has("not an evoquant results folder")
        .no_panic();
    assert!(d.join("thesis.tex").exists() && d.join("trials.csv").exists());
}

/// Before: --force removed a real results folder whole, the user's notes too.
#[test]
fn force_keeps_the_users_files_in_a_results_folder() {
    let dir = TempDir::new("force-notes");
    let m = dir.write("tiny.toml", TINY);
    let out = dir.join("out");
    run_quietly(&m, &out);
    std::fs::write(out.join("NOTES.md"), "mine").unwrap();
    std::fs::write(out.join("plots/mine.png"), "mine").unwrap();
    run_into(&m, &out, &["--force"]).success();
    assert_eq!(
        std::fs::read_to_string(out.join("NOTES.md")).unwrap(),
        "mine"
    );
    assert!(out.join("plots/mine.png").exists());
    assert!(out.join("trials.csv").exists() && out.join("report.md").exists());
}

/// Before: two fresh runs into one folder both proceeded.
#[test]
fn a_locked_results_folder_is_refused() {
    let dir = TempDir::new("lock");
    let m = dir.write("tiny.toml", TINY);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let held = evoquant::fsio::lock_dir(&out, evoquant::fsio::LockKind::Exclusive).unwrap();
    run_into(&m, &out, &[])
        .code(2)
        .stderr_has("in use by another evoquant");
    evoquant()
        .arg("merge")
        .arg(&out)
        .run()
        .code(2)
        .stderr_has("in use by another evoquant");
    drop(held);
    run_into(&m, &out, &[]).success();
    let held = evoquant::fsio::lock_dir(&out, evoquant::fsio::LockKind::Exclusive).unwrap();
    evoquant()
        .arg("report")
        .arg(&out)
        .run()
        .code(2)
        .stderr_has("in use by another evoquant");
    drop(held);
}

/// Before: exit 3 (an I/O failure) for what the user can fix.
#[test]
fn a_file_given_as_out_is_a_user_error() {
    let dir = TempDir::new("out-file");
    let m = dir.write("tiny.toml", TINY);
    let f = dir.write("not-a-folder", "x");
    run_into(&m, &f, &[])
        .code(2)
        .stderr_has("not a folder")
        .no_panic();
    run_into(&m, &f, &["--shard", "0/2"])
        .code(2)
        .stderr_has("not a folder");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "x");
}

/// Before: `report` through a `plots` link deleted SVGs outside the folder.
#[cfg(unix)]
#[test]
fn report_does_not_write_or_delete_through_a_plots_link() {
    let dir = TempDir::new("plots-link");
    let m = dir.write("tiny.toml", TINY);
    let out = dir.join("out");
    run_quietly(&m, &out);
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("precious.svg"), "<svg/>").unwrap();
    std::fs::rename(out.join("plots"), dir.join("old-plots")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("plots")).unwrap();
    evoquant()
        .arg("report")
        .arg(&out)
        .run()
        .code(2)
        .stderr_has("symbolic link");
    assert!(elsewhere.join("precious.svg").exists());
}

/// Before: resuming with another manifest left the first run's artifact
/// tables behind. A different study's trials are all new, so the folder
/// must end up with exactly the second run's files.
#[test]
fn resume_with_another_manifest_leaves_no_stale_artifacts() {
    let dir = TempDir::new("stale");
    let m = dir.write("tiny.toml", TINY);
    let out = dir.join("out");
    run_quietly(&m, &out);
    assert!(out.join("generations.csv").exists());
    let chaos = dir.write(
        "chaos.toml",
        "[study]\nname = \"c\"\nkind = \"chaos_int4\"\n[params]\npopulation = 4\ngenerations = 1\ntournament_size = 2\nelitism = 1\ntrain_episodes = 1\neval_episodes = 1\narena.steps = 20\nrecord_champion = false\n",
    );
    run_into(&chaos, &out, &["--resume"]).success();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let listed: Vec<&str> = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for f in ["frontier.csv", "strategies.csv"] {
        assert!(
            !out.join(f).exists() || listed.contains(&f),
            "{f} left behind"
        );
    }
    for entry in std::fs::read_dir(&out).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".csv") && name != "trials.csv" && name != "summary.csv" {
            assert!(listed.contains(&name.as_str()), "stale {name}");
        }
    }
}

/// Before: trial ids covered a data file's path, not its content, so
/// replacing the file left `--resume` reporting every trial cached.
#[test]
fn replacing_an_input_file_reruns_its_trials_and_check_names_it() {
    let dir = TempDir::new("input-hash");
    evoquant()
        .args(["data", "bit-alloc", "--out"])
        .arg(dir.join("data"))
        .run()
        .success();
    let manifest = TINY.replace(
        "[sweep]",
        "frontier_points = 2\ndata.test = \"data/test.json\"\n\n[sweep]",
    );
    let m = dir.write("tiny.toml", &manifest);
    let out = dir.join("out");
    run_into(&m, &out, &[]).success();
    let report: serde_json::Value =
        serde_json::from_str(&crate::harness::read(&out.join("report.json"))).unwrap();
    let inputs = report["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1, "{inputs:?}");
    assert_eq!(inputs[0]["param"], "data.test");
    assert_eq!(inputs[0]["path"], "data/test.json");
    let run: serde_json::Value =
        serde_json::from_str(&crate::harness::read(&out.join("run.json"))).unwrap();
    assert_eq!(run["inputs"], report["inputs"]);
    let ids = |dir: &std::path::Path| -> Vec<String> {
        let r: serde_json::Value =
            serde_json::from_str(&crate::harness::read(&dir.join("report.json"))).unwrap();
        r["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect()
    };
    let before = ids(&out);

    // Snapshots of this manifest, then a changed data file.
    let snaps = dir.join("snaps");
    evoquant()
        .arg("check")
        .arg(&m)
        .arg("--update")
        .arg("--snapshots")
        .arg(&snaps)
        .run()
        .success();
    assert!(snaps.join("tiny__inputs.json.snap").exists());
    let test_json = dir.join("data/test.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&crate::harness::read(&test_json)).unwrap();
    doc["layers"][0]["params"] =
        serde_json::json!(doc["layers"][0]["params"].as_u64().unwrap() + 1);
    std::fs::write(&test_json, serde_json::to_string_pretty(&doc).unwrap()).unwrap();

    let resumed = run_into(&m, &out, &["--resume"]);
    resumed.success();
    let after = ids(&out);
    assert_eq!(before.len(), after.len());
    assert!(
        before.iter().all(|id| !after.contains(id)),
        "{before:?} {after:?}"
    );
    let run: serde_json::Value =
        serde_json::from_str(&crate::harness::read(&out.join("run.json"))).unwrap();
    assert_eq!(
        run["cached"], 0,
        "a changed input must not reuse old trials"
    );

    evoquant()
        .arg("check")
        .arg(&m)
        .arg("--snapshots")
        .arg(&snaps)
        .run()
        .code(1)
        .stdout_has("an input file changed")
        .stdout_has("params.data.test = \"data/test.json\": content changed")
        .no_panic();
}

/// Before: an unreadable report.json in the folder a user named exited 3
/// (our fault) although the user can fix it.
#[test]
fn report_on_a_folder_whose_report_json_is_not_text_is_a_user_error() {
    let dir = TempDir::new("report-bytes");
    std::fs::write(dir.join("report.json"), [0xff, 0xfe, 0x00]).unwrap();
    evoquant()
        .arg("report")
        .arg(dir.path())
        .run()
        .code(2)
        .stderr_has("report.json")
        .no_panic();
}
