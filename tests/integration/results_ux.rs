//! Results people can act on (issue 18): `diff` by sweep point with a
//! statistical comparison, claims with verdicts, tables without traps.

use crate::harness::{TempDir, evoquant, run_quietly_with};
use std::path::Path;

const EXPERIMENT: &str = "experiments/bit_alloc_generations.toml";

/// Two runs of a committed experiment one `--set` apart share no trial id;
/// `diff` matches every row by replicate and compares each metric.
#[test]
fn diff_of_a_parameter_change_matches_rows_by_sweep_point_and_replicate() {
    let dir = TempDir::new("diff-set");
    let (a, b) = (dir.join("a"), dir.join("b"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    run_quietly_with(root.join(EXPERIMENT), &a, &[]);
    run_quietly_with(root.join(EXPERIMENT), &b, &["--set", "threshold=0.99"]);

    let json = evoquant()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .args(["--format", "json"])
        .run();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["matched_by"], serde_json::json!(["replicate"]));
    assert_eq!(v["rows_compared"], 4);
    assert_eq!(v["removed_rows"], serde_json::json!([]));
    assert_eq!(v["added_rows"], serde_json::json!([]));
    let comps = v["comparisons"].as_array().unwrap();
    assert!(comps.len() >= 10, "{comps:?}");
    for c in comps {
        assert_eq!(c["n_old"], 4);
        assert_eq!(c["n_new"], 4);
        // Seeds hash the parameters: a changed parameter is never paired.
        assert_eq!(c["test"], "Welch t");
    }
    // The accuracy threshold moved from 0.95 to 0.99, so the exact
    // optimum's accuracy rose and its compression fell: both certain.
    let verdict = |m: &str| {
        comps
            .iter()
            .find(|c| c["metric"] == m)
            .unwrap_or_else(|| panic!("no comparison of {m}"))["verdict"]
            .clone()
    };
    assert_eq!(verdict("test_optimum_accuracy"), "better");
    assert_eq!(verdict("test_optimum_compression"), "worse");
    assert_eq!(json.code, 1, "{}", json.stdout);

    let table = evoquant().arg("diff").arg(&a).arg(&b).run();
    table
        .code(1)
        .stdout_has("rows matched by replicate: 4 compared, 0 only in old, 0 only in new")
        .stdout_has("test_optimum_compression")
        .stdout_has("Welch t  worse");
    evoquant()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .args(["--format", "markdown", "--all"])
        .run()
        .code(1)
        .stdout_has("| point | metric | n old/new |")
        .stdout_has("no detectable change |");
    // For CI: fail only on a worse verdict; reversed, nothing is worse.
    evoquant()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .args(["--fail-on", "worse"])
        .run()
        .code(1);
    let reversed = evoquant()
        .arg("diff")
        .arg(&b)
        .arg(&a)
        .args(["--fail-on", "worse", "--format", "json"])
        .run();
    let r: serde_json::Value = serde_json::from_str(&reversed.stdout).unwrap();
    assert_eq!(r["worse"], comps.iter().any(|c| c["verdict"] == "better"));

    // The same run twice: matched by id, paired, nothing changed.
    let same = evoquant()
        .arg("diff")
        .arg(&a)
        .arg(&a)
        .args(["--format", "json"])
        .run();
    same.success();
    let s: serde_json::Value = serde_json::from_str(&same.stdout).unwrap();
    assert_eq!(s["matched_by"], serde_json::json!([]));
    assert!(
        s["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["test"] == "paired t" && c["verdict"] == "no detectable change")
    );

    // --by names a column that is not there: a user error naming it.
    evoquant()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .args(["--by", "nope"])
        .run()
        .code(2)
        .stderr_has("--by nope")
        .stderr_has("no column `nope`");
    // Rows that --by cannot tell apart: the repeat is named with its line.
    let csv = "trial_id,replicate,seed,a,b,status,error,score\n\
               t1,0,1,1,x,ok,,1.0\nt2,0,2,1,y,ok,,2.0\n";
    let old = dir.write("old.csv", csv);
    let new = dir.write("new.csv", &csv.replace("t1", "u1").replace("t2", "u2"));
    evoquant()
        .arg("diff")
        .arg(&old)
        .arg(&new)
        .args(["--by", "a"])
        .run()
        .code(2)
        .stderr_has("old.csv:3:1: row matches line 2 on `a=1, replicate=0`");
    // A bare CSV's swept columns are those between `seed` and `status`.
    evoquant()
        .arg("diff")
        .arg(&old)
        .arg(&new)
        .run()
        .success()
        .stdout_has("rows matched by a, b, replicate: 2 compared");
}

/// No committed CSV output repeats a column name (issue 18: mixed_precision's
/// trials.csv had `model`, `search` and `hardware_target` twice, and pandas
/// or `csv.DictReader` silently keep one of two same-named columns).
#[test]
fn no_committed_csv_repeats_a_column_name() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".csv.snap") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // insta's header: `---`, metadata, `---`, then the contents.
        let contents = text.splitn(3, "---\n").nth(2).unwrap_or("");
        let mut reader = csv::Reader::from_reader(contents.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let mut seen = std::collections::BTreeSet::new();
        for h in &header {
            assert!(
                seen.insert(h),
                "{name}: column `{h}` appears twice in {header:?}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} CSV snapshots");
}

/// Every committed experiment states a claim, and its report opens with
/// the verdicts (before the run table).
#[test]
fn every_committed_experiment_states_claims_and_its_report_opens_with_verdicts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(root.join("experiments")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[[claims]]"), "{stem} states no claim");
        let md = std::fs::read_to_string(root.join(format!("snapshots/{stem}__report.md.snap")))
            .unwrap();
        let claims = md
            .find("## Claims")
            .unwrap_or_else(|| panic!("{stem}: no Claims section"));
        assert!(
            claims < md.find("| run |").unwrap(),
            "{stem}: Claims do not open the report"
        );
        assert!(
            ["**supported**", "**refuted**", "**inconclusive**"]
                .iter()
                .any(|v| md.contains(v)),
            "{stem}: no verdict"
        );
        n += 1;
    }
    assert!(n >= 9);
}

/// Claims are not parameters: with or without them, the same trial ids
/// and seeds; a malformed claim is a located error, exit 2.
#[test]
fn claims_change_no_trial_id_and_their_mistakes_are_located() {
    let dir = TempDir::new("claims");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("experiments/bit_alloc_thresholds.toml")).unwrap();
    let bare = text.split("[[claims]]").next().unwrap().to_string();
    let with = dir.write("with.toml", &text);
    let without = dir.write("without.toml", &bare);
    let plan = |m: &Path| evoquant().arg("plan").arg(m).run().stdout.clone();
    assert_eq!(plan(&with), plan(&without));
    let bad = dir.write(
        "bad.toml",
        &format!("{bare}\n[[claims]]\ntext = \"x\"\nmetric = \"test_champion_accuracy\"\nat_least = 0.9\nwhere = {{ threshold = 0.5 }}\n"),
    );
    let line = bare.lines().count() + 6;
    evoquant()
        .arg("validate")
        .arg(&bad)
        .run()
        .code(2)
        .no_panic()
        .stderr_has(&format!(
            "bad.toml:{line}:23: claims[0].where.threshold: no sweep point has `threshold` = 0.5"
        ));
}

/// `plan` takes folders like run/validate/check; `--sweep` takes a list of
/// lists; `list` aligns its columns and never shows a blank default.
#[test]
fn plan_folders_list_of_lists_sweeps_and_aligned_list() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = evoquant().arg("plan").arg(root.join("experiments")).run();
    out.success()
        .stdout_has("bit_alloc_generations.toml\n")
        .stdout_has("4 trials: 1 points x 4 replicates (bit_allocation)");
    let manifests = std::fs::read_dir(root.join("experiments")).unwrap().count();
    assert_eq!(
        out.stdout.matches("\n# ").count() + 1,
        manifests,
        "{}",
        out.stdout
    );

    let dir = TempDir::new("list-of-lists");
    let m = dir.write(
        "m.toml",
        "[study]\nname = \"m\"\nkind = \"mixed_precision\"\n[params]\nmodel = \"mlp\"\n",
    );
    evoquant()
        .arg("plan")
        .arg(&m)
        .args(["--sweep", "mlp.hidden=[8],[16,8]"])
        .run()
        .success()
        .stdout_has("\t[8]\n")
        .stdout_has("\t[16,8]\n")
        .stdout_has("2 trials: 2 points x 1 replicates");

    let list = evoquant().args(["list", "mixed_precision"]).run();
    list.success().stdout_has("default \"\"");
    let columns: Vec<usize> = list
        .stdout
        .lines()
        .filter_map(|l| l.find(" default ").map(|b| l[..b].chars().count()))
        .collect();
    assert!(columns.len() > 10);
    assert!(columns.iter().all(|&c| c == columns[0]), "{}", list.stdout);
    assert!(!list.stdout.contains("default  "), "{}", list.stdout);
}

/// `merge`'s repair hint reruns each missing shard with the shards' own
/// `--set`/`--sweep` and `--resume`, and never advises deleting shards.
#[test]
fn merge_hint_keeps_overrides_and_never_deletes_shards() {
    let dir = TempDir::new("merge-hint");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = root.join("experiments/bit_alloc_thresholds.toml");
    let out = dir.join("out");
    let flags = ["--set", "generations=3", "--sweep", "threshold=0.9,0.95"];
    evoquant()
        .arg("run")
        .arg(&manifest)
        .args(["--quiet", "--shard", "0/3", "--out"])
        .arg(&out)
        .args(flags)
        .run()
        .success();
    let refused = evoquant().arg("merge").arg(&out).run();
    refused.code(2).no_panic();
    for k in [1, 2] {
        refused.stderr_has(&format!(
            "--shard {k}/3 --resume --out {} --set generations=3 --sweep threshold=0.9,0.95",
            out.display()
        ));
    }
    assert!(
        !refused.stderr.contains("--shard 0/3"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("delete"), "{}", refused.stderr);
    // Another split into the same folder: refused without advice to delete.
    let other = evoquant()
        .arg("run")
        .arg(&manifest)
        .args(["--quiet", "--shard", "1/2", "--out"])
        .arg(&out)
        .args(flags)
        .run();
    other.code(2);
    assert!(!other.stderr.contains("delete"), "{}", other.stderr);
}

/// `slurm --submit` with no reachable controller is the cluster failing,
/// exit 3; sbatch refusing an invalid value is the user's mistake, exit 2.
#[test]
fn slurm_submit_without_a_controller_exits_3() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("slurm-down");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (message, code) in [
        (
            "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)",
            3,
        ),
        (
            "sbatch: error: Batch job submission failed: Invalid partition name specified",
            2,
        ),
    ] {
        let sbatch = bin.join("sbatch");
        std::fs::write(
            &sbatch,
            format!("#!/bin/sh\necho '{message}' >&2\nexit 1\n"),
        )
        .unwrap();
        std::fs::set_permissions(&sbatch, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = dir.join(&format!("out{code}"));
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_evoquant"))
            .arg("slurm")
            .arg(root.join("experiments/bit_alloc_thresholds.toml"))
            .args(["--shards", "2", "--submit", "--out"])
            .arg(&out)
            .env("PATH", path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
    }
}

/// Each trial's wall time is recorded in run.json only (outputs stay
/// deterministic), and `plan --timings` estimates a run from it.
#[test]
fn trial_timings_live_in_run_json_and_plan_estimates_from_them() {
    let dir = TempDir::new("timings");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = root.join(EXPERIMENT);
    let out = dir.join("out");
    let run = evoquant()
        .arg("run")
        .arg(&manifest)
        .arg("--out")
        .arg(&out)
        .args(["--jobs", "1"])
        .run();
    run.success();
    assert_eq!(run.stderr.matches("] ok ").count(), 4, "{}", run.stderr);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let secs = doc["trial_seconds"].as_object().unwrap();
    assert_eq!(secs.len(), 4);
    assert!(secs.values().all(|s| s.as_f64().unwrap() >= 0.0));
    for f in ["trials.csv", "summary.csv", "report.json", "report.md"] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(!text.contains("trial_seconds"), "{f}");
    }
    evoquant()
        .arg("plan")
        .arg(&manifest)
        .arg("--timings")
        .arg(&out)
        .args(["--jobs", "2"])
        .run()
        .success()
        .stdout_has("estimated run time: about ")
        .stdout_has("with 2 jobs")
        .stdout_has("4 of 4 trials timed");
    evoquant()
        .arg("plan")
        .arg(&manifest)
        .arg("--timings")
        .arg(dir.join("nope"))
        .run()
        .code(2);
}
