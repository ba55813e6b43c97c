//! The `command` kind: a user's own program under the runner. The examples
//! in `examples/command/` run here, and each failure mode of the trial
//! contract (README, "Bring your own experiment") has a test.

use crate::harness::{TempDir, deterministic_files, read, run_rejected};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/command")
        .join(name)
}

use crate::harness::run_into as run;

fn has_numpy() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import numpy"])
        .status()
        .is_ok_and(|s| s.success())
}

/// The stdlib example: every trial ok, its CSV an artifact, its script an
/// input, and byte-identical results for one and two jobs.
#[test]
fn the_stdlib_example_runs_and_is_identical_for_any_job_count() {
    let dir = TempDir::new("cmd-example");
    let (a, b) = (dir.join("a"), dir.join("b"));
    run(&example("sgd.toml"), &a, &["--jobs", "1"]).success();
    run(&example("sgd.toml"), &b, &["--jobs", "2"]).success();
    assert_eq!(deterministic_files(&a), deterministic_files(&b));
    let trials = read(&a.join("trials.csv"));
    assert_eq!(trials.lines().count(), 28, "{trials}");
    assert!(
        trials
            .lines()
            .next()
            .unwrap()
            .ends_with("diverged,fp32_loss,loss_ratio,quantized_loss")
    );
    assert!(read(&a.join("curve.csv")).starts_with("trial_id,lr,bits,replicate,step,loss\n"));
    let report: serde_json::Value = serde_json::from_str(&read(&a.join("report.json"))).unwrap();
    assert_eq!(report["inputs"][0]["path"], "quantize_sgd.py");
    let id = report["trials"][0]["id"].as_str().unwrap();
    assert!(read(&a.join(format!("trials/{id}/stderr.log"))).contains("progress: step 10/200"));
}

#[test]
fn the_numpy_example_runs() {
    if !has_numpy() {
        assert!(std::env::var("CI").is_err(), "CI installs numpy");
        eprintln!("skipped: numpy is not installed");
        return;
    }
    let dir = TempDir::new("cmd-numpy");
    run(&example("numpy.toml"), &dir.join("o"), &[]).success();
    let channels = read(&dir.join("o/channels.csv"));
    assert_eq!(channels.lines().count(), 1 + 12 * 64);
}

const HEAD: &str = "[study]\nname = \"c\"\nkind = \"command\"\n";

fn manifest(dir: &TempDir, params: &str) -> PathBuf {
    dir.write("m.toml", &format!("{HEAD}[params]\n{params}\n"))
}

/// One failing trial per failure mode; the run goes on and exits 1.
#[test]
fn each_broken_contract_fails_its_trial_with_the_reason() {
    let dir = TempDir::new("cmd-fail");
    let cases = [
        (
            "exit",
            "echo oops >&2; exit 3",
            "the command failed (exit status: 3)",
        ),
        ("silent", "true", "stdout was empty"),
        ("notjson", "echo 'done!'", "found `done!`"),
        ("list", "echo '{\"a\": [1]}'", "metric `a` is a list"),
        (
            "badcsv",
            "printf 'a,a\\n1,2\\n' > x.csv; echo '{}'",
            "output x.csv: column `a` appears twice",
        ),
    ];
    let texts: Vec<String> = cases
        .iter()
        .map(|c| format!("\"{}\"", c.1.replace('"', "\\\"")))
        .collect();
    let m = manifest(
        &dir,
        &format!(
            "command = [\"sh\", \"-c\", \"$0\"]\nscript = \"x\"\n[sweep]\nscript = [{}]\n",
            texts.join(", ")
        ),
    );
    // The script travels in the params; `sh -c` reads it from stdin JSON.
    let text = read(&m).replace(
        "command = [\"sh\", \"-c\", \"$0\"]",
        "command = [\"python3\", \"-c\", \"import json,subprocess,sys; t=json.load(sys.stdin); sys.exit(subprocess.call(['sh','-c',t['params']['script']]))\"]",
    );
    std::fs::write(&m, text).unwrap();
    let out = dir.join("out");
    run(&m, &out, &[]).code(1).no_panic();
    let report: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    let trials = report["trials"].as_array().unwrap();
    assert_eq!(trials.len(), cases.len());
    for (t, (label, _, want)) in trials.iter().zip(&cases) {
        assert_eq!(t["status"], "failed", "{label}: {t}");
        let err = t["error"].as_str().unwrap();
        assert!(err.contains(want), "{label}: {err}");
    }
    assert!(
        trials[0]["error"].as_str().unwrap().contains("oops"),
        "stderr's tail is quoted"
    );
}

/// Running (a zombie waiting for a reaper that is not evoquant counts as dead).
/// Before: a command that exits without reading stdin made evoquant's write
/// raise SIGPIPE, which killed the whole run (the input here is larger than a
/// pipe's buffer, so the write always outlives the command).
#[test]
fn a_command_that_ignores_its_input_does_not_kill_the_run() {
    let dir = TempDir::new("cmd-sigpipe");
    let m = manifest(
        &dir,
        &format!(
            "command = [\"/usr/bin/printf\", \"{{}}\\\\n\"]\nbig = \"{}\"\n",
            "x".repeat(200_000)
        ),
    );
    run(&m, &dir.join("out"), &[]).success();
}

fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn pid_in(path: &Path) -> i32 {
    let start = Instant::now();
    loop {
        if let Ok(t) = std::fs::read_to_string(path) {
            if let Ok(pid) = t.trim().parse() {
                return pid;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no pid file {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A timeout kills the whole process group: the background child too.
#[test]
fn a_timeout_kills_the_process_group() {
    let dir = TempDir::new("cmd-timeout");
    let pidfile = dir.join("pid");
    let m = manifest(
        &dir,
        &format!(
            "command = [\"sh\", \"-c\", \"sleep 300 & echo $! > {}; wait\"]\ntimeout_s = 0.5\n",
            pidfile.display()
        ),
    );
    let start = Instant::now();
    run(&m, &dir.join("out"), &[]).code(1).no_panic();
    assert!(start.elapsed() < Duration::from_secs(20));
    let report: serde_json::Value =
        serde_json::from_str(&read(&dir.join("out/report.json"))).unwrap();
    let err = report["trials"][0]["error"].as_str().unwrap();
    assert!(err.contains("timed out after 0.5 s"), "{err}");
    let pid = pid_in(&pidfile);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(pid), "the background sleep {pid} outlived the trial");
}

/// Interrupting evoquant kills the running commands: no orphans.
#[test]
fn interrupting_evoquant_leaves_no_orphans() {
    let dir = TempDir::new("cmd-interrupt");
    let pidfile = dir.join("pid");
    let m = manifest(
        &dir,
        &format!(
            "command = [\"sh\", \"-c\", \"sleep 300 & echo $! > {}; wait\"]\n",
            pidfile.display()
        ),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_evoquant"))
        .arg("run")
        .arg(&m)
        .arg("--quiet")
        .arg("--out")
        .arg(dir.join("out"))
        .spawn()
        .unwrap();
    let pid = pid_in(&pidfile);
    assert!(alive(pid));
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert!(!status.success());
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(pid), "the command's child {pid} outlived evoquant");
}

#[test]
fn manifest_mistakes_are_located() {
    for (label, text, want) in [
        (
            "no-command",
            "x = 1\n",
            "params.command: set the command to run",
        ),
        (
            "undeclared-sweep",
            "command = [\"true\"]\n[sweep]\nlr = [0.1]\n",
            "sweep.lr: unknown parameter `lr`",
        ),
        (
            "sweep-type",
            "command = [\"true\"]\nlr = 0.1\n[sweep]\nlr = [0.1, \"fast\"]\n",
            "sweep.lr: expected float, found string",
        ),
        (
            "empty-list",
            "command = [\"true\"]\nlayers = []\n",
            "params.layers: a parameter must be",
        ),
        (
            "timeout",
            "command = [\"true\"]\ntimeout_s = 0\n",
            "params.timeout_s: must be in (0,",
        ),
        (
            "no-program",
            "command = [\"no-such-program-xyz\"]\n",
            "params.command: program `no-such-program-xyz` is neither",
        ),
        (
            "input",
            "command = [\"true\"]\ninputs = [\"missing.csv\"]\n",
            "missing.csv: no such file",
        ),
    ] {
        let out = run_rejected(label, &format!("{HEAD}[params]\n{text}"));
        out.stderr_has(want);
    }
}

/// SIGKILL mid-run, `--resume`: the bytes of an uninterrupted run (the
/// journal keeps finished trials; the killed trial's command dies with
/// evoquant and reruns).
#[test]
fn a_killed_command_run_resumes_to_the_same_bytes() {
    let dir = TempDir::new("cmd-sigkill");
    let (full, killed) = crate::harness::sigkill_then_resume(&example("sgd.toml"), &dir, 3);
    assert_eq!(deterministic_files(&full), deterministic_files(&killed));
}

#[test]
fn command_shards_merge_to_the_bytes_of_a_local_run() {
    let dir = TempDir::new("cmd-shards");
    let local = dir.join("local");
    run(&example("sgd.toml"), &local, &[]).success();
    let merged = crate::harness::shard_and_merge(&example("sgd.toml"), &dir.join("sharded"), 3);
    assert_eq!(
        crate::shard::final_files(&merged),
        crate::shard::final_files(&local)
    );
}
