//! Runner behaviour as a user sees it: determinism across --jobs, resume after
//! a crash, refusing to overwrite, overrides, plan, validate, list.

use crate::harness::{TempDir, deterministic_files, evoquant, read, run_quietly};

pub const TINY: &str = r#"
[study]
name = "tiny"
kind = "bit_allocation"
description = "a few cheap trials"

[seeds]
base = 7
replicates = 2

[params]
population = 6
generations = 3

[sweep]
threshold = [0.9, 0.95]
"#;

#[test]
fn results_are_identical_for_any_job_count() {
    let dir = TempDir::new("jobs");
    let m = dir.write("tiny.toml", TINY);
    for jobs in ["1", "2"] {
        evoquant()
            .arg("run")
            .arg(&m)
            .args(["--quiet", "--jobs", jobs, "--out"])
            .arg(dir.join(&format!("out{jobs}")))
            .run()
            .success();
    }
    let a = deterministic_files(&dir.join("out1"));
    let b = deterministic_files(&dir.join("out2"));
    assert!(a.iter().any(|(p, _)| p == "trials.csv") && a.iter().any(|(p, _)| p == "summary.csv"));
    assert_eq!(a, b);
    let run_json = read(&dir.join("out2/run.json"));
    assert!(run_json.contains("\"threads\": 2"), "{run_json}");
}

#[test]
fn a_second_run_refuses_then_force_replaces() {
    let dir = TempDir::new("refuse");
    let m = dir.write("tiny.toml", TINY);
    let out = dir.join("out");
    let run = |extra: &[&str]| {
        evoquant()
            .arg("run")
            .arg(&m)
            .arg("--quiet")
            .arg("--out")
            .arg(&out)
            .args(extra)
            .run()
    };
    run(&[]).success();
    run(&[])
        .code(2)
        .stderr_has("already exists")
        .stderr_has("--resume")
        .no_panic();
    run(&["--force"]).success();
    let other = dir.path().join("precious");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("thesis.tex"), "x").unwrap();
    evoquant()
        .arg("run")
        .arg(&m)
        .args(["--quiet", "--force", "--out"])
        .arg(&other)
        .run()
        .code(2)
        .stderr_has("not an evoquant results folder");
    assert!(other.join("thesis.tex").exists());
}

/// A crash leaves a journal with some complete lines and maybe a torn one;
/// resuming must give the same bytes as never crashing.
#[test]
fn resume_after_a_torn_journal_matches_an_uninterrupted_run() {
    let dir = TempDir::new("resume");
    let m = dir.write("tiny.toml", TINY);
    let full = dir.join("full");
    run_quietly(&m, &full);

    let crashed = dir.join("crashed");
    std::fs::create_dir_all(&crashed).unwrap();
    let journal = read(&full.join("journal.jsonl"));
    let lines: Vec<&str> = journal.lines().collect();
    assert_eq!(lines.len(), 4);
    let torn = format!(
        "{}\n{}\n{}",
        lines[0],
        lines[1],
        &lines[2][..lines[2].len() / 2]
    );
    std::fs::write(crashed.join("journal.jsonl"), torn).unwrap();

    let out = evoquant()
        .arg("run")
        .arg(&m)
        .args(["--resume", "--out"])
        .arg(&crashed)
        .run();
    out.success().stderr_has("2 ran, 2 cached");
    assert_eq!(deterministic_files(&full), deterministic_files(&crashed));
}

/// The real thing: SIGKILL the process mid-run, resume, compare.
#[test]
fn resume_after_sigkill_matches_an_uninterrupted_run() {
    let dir = TempDir::new("sigkill");
    let m = dir.write(
        "tiny.toml",
        &TINY
            .replace("generations = 3", "generations = 40")
            .replace("replicates = 2", "replicates = 4"),
    );
    let (full, killed) = crate::harness::sigkill_then_resume(&m, &dir, 1);
    assert_eq!(deterministic_files(&full), deterministic_files(&killed));
}

#[test]
fn adding_a_grid_value_keeps_other_trials_ids_and_seeds() {
    let dir = TempDir::new("plan");
    let m = dir.write("tiny.toml", TINY);
    let small = evoquant().arg("plan").arg(&m).run();
    small
        .success()
        .stdout_has("4 trials: 2 points x 2 replicates");
    let big = evoquant()
        .arg("plan")
        .arg(&m)
        .args(["--sweep", "threshold=0.9,0.95,0.97"])
        .run();
    big.success()
        .stdout_has("6 trials: 3 points x 2 replicates");
    for line in small.stdout.lines().skip(1).filter(|l| l.contains('\t')) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (id, seed) = (cols[1], cols[3]);
        assert!(
            big.stdout.contains(&format!("{id}\t{}\t{seed}", cols[2])),
            "{id} moved:\n{}",
            big.stdout
        );
    }
}

#[test]
fn overrides_are_checked_like_the_manifest() {
    let dir = TempDir::new("overrides");
    let m = dir.write("tiny.toml", TINY);
    let plan = |args: &[&str]| evoquant().arg("plan").arg(&m).args(args).run();
    plan(&["--set", "populaton=8"])
        .code(2)
        .stderr_has("did you mean `population`")
        .no_panic();
    plan(&["--set", "population=many"])
        .code(2)
        .stderr_has("--set population=many: params.population: expected non-negative integer");
    plan(&["--set", "population"])
        .code(2)
        .stderr_has("expected key=value");
    plan(&["--sweep", "generations=2,x"])
        .code(2)
        .stderr_has("`x` is not non-negative integer");
    plan(&["--set", "threshold=1.5"])
        .code(2)
        .stderr_has("params.threshold")
        .stderr_has("--set threshold=1.5");
    plan(&["--set", "seeds.replicates=3"])
        .success()
        .stdout_has("6 trials: 2 points x 3 replicates");
    plan(&["--set", "threshold=0.9"])
        .success()
        .stdout_has("2 trials: 1 points x 2 replicates");
}

const BAD_PARAMS: &[(&str, &str, &[&str])] = &[
    (
        "unknown param",
        "[params]\npopulaton = 3\n",
        &[
            "bad.toml:7:1",
            "params.populaton",
            "did you mean `population`",
        ],
    ),
    (
        "wrong type",
        "[params]\npopulation = \"many\"\n",
        &["bad.toml:7:14", "expected non-negative integer"],
    ),
    (
        "study rejects value",
        "[params]\nthreshold = 1.5\n",
        &["bad.toml:7:13", "params.threshold"],
    ),
    (
        "sweep key unknown",
        "[sweep]\nthreshhold = [0.9]\n",
        &[
            "bad.toml:7:1",
            "sweep.threshhold",
            "did you mean `threshold`",
        ],
    ),
    (
        "empty axis",
        "[sweep]\nthreshold = []\n",
        &["bad.toml:7:13", "at least one value"],
    ),
    (
        "axis not a list",
        "[sweep]\nthreshold = 0.9\n",
        &["bad.toml:7:13", "list of values"],
    ),
    (
        "unequal zip",
        "[[sweep.zip]]\nthreshold = [0.9, 0.95]\ngenerations = [2]\n",
        &["bad.toml:8:1", "equal lengths"],
    ),
    (
        "swept value rejected",
        "[sweep]\nthreshold = [0.9, 1.5]\n",
        &["bad.toml:7:19", "params.threshold"],
    ),
    (
        "set twice",
        "[params]\nthreshold = 0.9\n[sweep]\nthreshold = [0.9]\n",
        &["bad.toml:9:1", "set it in one place"],
    ),
    (
        "random without n",
        "[sweep.random]\nuniform = { threshold = [0.9, 0.99] }\n",
        &["sweep.random.n"],
    ),
    (
        "random bad range",
        "[sweep.random]\nn = 2\nuniform = { threshold = [0.99, 0.9] }\n",
        &["bad.toml:8:25", "above high"],
    ),
];

#[test]
fn bad_parameters_and_sweeps_are_located() {
    for (case, tail, needles) in BAD_PARAMS {
        let dir = TempDir::new("badparams");
        let text = format!(
            "[study]\nname = \"x\"\nkind = \"bit_allocation\"\n[seeds]\nreplicates = 1\n{tail}"
        );
        let m = dir.write("bad.toml", &text);
        let out = evoquant().arg("validate").arg(&m).run();
        out.code(2).no_panic();
        for n in *needles {
            assert!(
                out.stderr.contains(n),
                "case {case}: stderr lacks {n:?}:\n{}",
                out.stderr
            );
        }
    }
}

#[test]
fn random_sweeps_are_seeded_and_typed() {
    let dir = TempDir::new("random");
    let text = TINY.replace(
        "[sweep]\nthreshold = [0.9, 0.95]\n",
        "[sweep.random]\nn = 3\nuniform = { threshold = [0.9, 0.99] }\nlog_uniform = { tournament_size = [1, 4] }\n",
    );
    let m = dir.write("r.toml", &text);
    let a = evoquant().arg("plan").arg(&m).run();
    a.success().stdout_has("6 trials: 3 points x 2 replicates");
    let b = evoquant().arg("plan").arg(&m).run();
    assert_eq!(a.stdout, b.stdout);
    for line in a.stdout.lines().skip(1).filter(|l| l.contains('\t')) {
        let cols: Vec<&str> = line.split('\t').collect();
        let t: f64 = cols[4].parse().unwrap();
        let p: i64 = cols[5].parse().unwrap();
        assert!((0.9..=0.99).contains(&t) && (1..=4).contains(&p), "{line}");
    }
}

#[test]
fn list_and_validate() {
    evoquant()
        .arg("list")
        .run()
        .success()
        .stdout_has("bit_allocation")
        .stdout_has("threshold");
    evoquant()
        .args(["list", "bit_alocation"])
        .run()
        .code(2)
        .stderr_has("did you mean `bit_allocation`");
    let dir = TempDir::new("validate");
    let m = dir.write("tiny.toml", TINY);
    evoquant()
        .arg("validate")
        .arg(&m)
        .run()
        .success()
        .stdout_has("4 trials");
}

#[test]
fn diff_exit_codes_and_tolerances() {
    let dir = TempDir::new("diff");
    let m = dir.write("tiny.toml", TINY);
    let a = dir.join("a");
    run_quietly(&m, &a);
    evoquant()
        .arg("diff")
        .arg(&a)
        .arg(&a)
        .run()
        .success()
        .stdout_has("0 cells differ");

    // Nudge one metric of one trial.
    let trials = read(&a.join("trials.csv"));
    let mut lines: Vec<String> = trials.lines().map(String::from).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = header
        .iter()
        .position(|h| h.ends_with("fitness"))
        .expect("a fitness metric");
    let metric = header[col].to_string();
    let mut cells: Vec<String> = lines[1].split(',').map(String::from).collect();
    let old: f64 = cells[col].parse().unwrap();
    cells[col] = (old + 0.001).to_string();
    lines[1] = cells.join(",");
    let b = dir.write("b.csv", &(lines.join("\n") + "\n"));

    evoquant()
        .arg("diff")
        .arg(a.join("trials.csv"))
        .arg(&b)
        .run()
        .code(1)
        .stdout_has(&metric);
    evoquant()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .args(["--abs-tol", "0.01"])
        .run()
        .success();
    evoquant()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .args(["--tol", &format!("{metric}=0.01")])
        .run()
        .success();
    evoquant()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .args(["--format", "markdown"])
        .run()
        .code(1)
        .stdout_has("| trial | metric | old | new | change |");
    let json = evoquant()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .args(["--format", "json"])
        .run();
    json.code(1);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["differs"], true);
    evoquant()
        .arg("diff")
        .arg(&a)
        .arg(dir.join("nope"))
        .run()
        .code(2)
        .stderr_has("nope");
    evoquant()
        .arg("diff")
        .arg(&a)
        .arg(&a)
        .args(["--tol", "x"])
        .run()
        .code(2)
        .stderr_has("--tol x");
}

/// Regression: `evoquant list | head -1` panicked in `println!` once the
/// reader closed the pipe.
#[cfg(unix)]
#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_evoquant"))
        .arg("list")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before the tool writes its long listing.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
