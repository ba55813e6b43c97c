//! mixed_precision with `model = "command"`: the user's model in evaluator
//! workers speaking `evoquant.evaluator/1` (README, "External evaluator").
//! The protocol is proved against the in-process search it must reproduce,
//! the example worker runs, and each failure mode fails its trial by name.

use crate::harness::{TempDir, deterministic_files, evoquant, read, run_into as run};
use evoquant::studies::mixed_precision::{MixedPrecision, Params, params::ModelKind};
use evoquant::studies::{Study, TrialContext, TrialOutput, TrialRng};
use rand::SeedableRng;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/evaluator/external.toml")
}

fn small_mlp() -> Params {
    let mut p = Params {
        model: ModelKind::Mlp,
        population_size: 8,
        max_generations: 3,
        ..Params::default()
    };
    p.mlp.train_size = 300;
    p.mlp.test_size = 150;
    p.mlp.calibration_size = 50;
    p.mlp.epochs = 2;
    p
}

fn trial(p: &Params) -> TrialOutput {
    let mut rng = TrialRng::seed_from_u64(11);
    MixedPrecision
        .run_trial(p, &mut rng, &TrialContext::detached())
        .unwrap_or_else(|e| panic!("{}", e.0))
}

/// Everything but the model's name, which says it is external (and the
/// YAML text of the export, which quotes it).
fn comparable(mut o: TrialOutput) -> TrialOutput {
    o.metrics.retain(|(n, _)| n != "model_description");
    o.documents.retain(|d| d.value.is_object());
    for d in &mut o.documents {
        if let Some(m) = d.value.as_object_mut() {
            m.remove("model");
        }
    }
    o
}

/// The protocol's proof: the same search through `evoquant serve-evaluator`
/// workers gives the in-process search's tables, metrics and export, for
/// one worker and for three.
#[test]
fn a_search_through_the_protocol_equals_the_search_in_process() {
    let inside = comparable(trial(&small_mlp()));
    for workers in [1, 3] {
        let p = Params {
            model: ModelKind::Command,
            evaluator: evoquant::params::FilePaths(vec![
                env!("CARGO_BIN_EXE_evoquant").into(),
                "serve-evaluator".into(),
                "--model".into(),
                "mlp".into(),
            ]),
            parallel_evaluations: workers,
            ..small_mlp()
        };
        let outside = trial(&p);
        let model = format!("{:?}", outside.get("model_description").unwrap());
        assert!(model.contains("external evaluator"), "{model}");
        // Compared as Debug text: f64 Debug round-trips exactly, and a NaN
        // cell (pareto.csv's greedy_accuracy where no greedy allocation is
        // small enough) equals itself there, not under PartialEq.
        assert_eq!(
            format!("{:?}", comparable(outside)),
            format!("{inside:?}"),
            "{workers} workers"
        );
    }
}

/// The documented Python skeleton runs under the runner, identically for
/// one and two jobs, with its measured source in the outputs.
#[test]
fn the_python_worker_example_runs_and_is_identical_for_any_job_count() {
    let dir = TempDir::new("evaluator-example");
    let (a, b) = (dir.join("a"), dir.join("b"));
    run(&example(), &a, &["--jobs", "1"]).success();
    run(&example(), &b, &["--jobs", "2"]).success();
    assert_eq!(deterministic_files(&a), deterministic_files(&b));
    let trials = read(&a.join("trials.csv"));
    assert!(trials.contains("measured: top-1 agreement"), "{trials}");
    assert!(
        !trials.contains(env!("CARGO_MANIFEST_DIR")),
        "no absolute paths in outputs"
    );
    let pareto = read(&a.join("pareto.csv"));
    assert!(pareto.lines().count() > 1, "{pareto}");
}

const HEAD: &str = "[study]\nname = \"e\"\nkind = \"mixed_precision\"\n[params]\nmodel = \"command\"\npopulation_size = 4\nmax_generations = 1\n";

/// A worker that describes one layer, then behaves as `on_evaluate` says
/// for every request from id `after` on (1 = the FP32 reference). Ids, not
/// a count per process: which worker takes a request is up to scheduling.
fn worker(dir: &TempDir, name: &str, after: u32, on_evaluate: &str) -> PathBuf {
    dir.write(
        &format!("{name}.py"),
        &format!(
            r#"import json, os, sys, time
open(os.path.join(os.path.dirname(__file__), "{name}.pid"), "a").write(f"{{os.getpid()}}\n")
for line in sys.stdin:
    r = json.loads(line)
    if r["request"] == "describe":
        print(json.dumps({{"id": r["id"], "layers": [{{"name": "fc", "params": 64, "rows": 8, "cols": 8}}]}}), flush=True)
        continue
    n = r["id"]
    if n >= {after}:
        print("worker trouble", file=sys.stderr, flush=True)
{on_evaluate}
    print(json.dumps({{"id": r["id"], "accuracy": 0.5 + 0.01 * n}}), flush=True)
"#
        ),
    )
}

fn manifest(dir: &TempDir, name: &str, extra: &str) -> PathBuf {
    dir.write(
        &format!("{name}.toml"),
        &format!("{HEAD}evaluator = [\"python3\", \"{name}.py\"]\n{extra}"),
    )
}

fn alive(pid: i32) -> bool {
    // A zombie waiting for a reaper that is not evoquant counts as dead.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.split_whitespace().nth(2) != Some("Z"))
}

fn pids(dir: &TempDir, name: &str) -> Vec<i32> {
    std::fs::read_to_string(dir.join(&format!("{name}.pid")))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

/// Crash, hang, malformed and wrong replies: the trial fails naming the
/// worker and the request, quotes the worker's stderr, and no worker
/// survives the run.
#[test]
fn each_broken_worker_fails_its_trial_with_the_request_named() {
    let dir = TempDir::new("evaluator-fail");
    let cases = [
        (
            "crash",
            2,
            "        sys.exit(3)",
            "request 2 (evaluate",
            "exited (exit status: 3)",
        ),
        (
            "hang",
            1,
            "        time.sleep(60)",
            "request 1 (evaluate W32",
            "no reply within 5 s",
        ),
        (
            "garbage",
            2,
            "        print('hello', flush=True); continue",
            "request 2",
            "the reply is not JSON",
        ),
        (
            "wrongid",
            2,
            "        print(json.dumps({'id': 99, 'accuracy': 1}), flush=True); continue",
            "request 2",
            "answers request 99, not 2",
        ),
        (
            "error",
            2,
            "        print(json.dumps({'id': r['id'], 'error': 'CUDA out of memory'}), flush=True); continue",
            "request 2",
            "CUDA out of memory",
        ),
        (
            "nometric",
            2,
            "        print(json.dumps({'id': r['id'], 'top1': 1}), flush=True); continue",
            "request 2",
            "no metric `accuracy`",
        ),
    ];
    for (name, after, code, request, why) in cases {
        worker(&dir, name, after, code);
        let m = manifest(
            &dir,
            name,
            "evaluator_timeout_s = 5\nparallel_evaluations = 2\n",
        );
        let out = dir.join(&format!("out-{name}"));
        let started = Instant::now();
        run(&m, &out, &[]).code(1).no_panic();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name} took too long"
        );
        let report: serde_json::Value =
            serde_json::from_str(&read(&out.join("report.json"))).unwrap();
        let err = report["trials"][0]["error"].as_str().unwrap().to_string();
        assert!(err.contains("evaluator worker"), "{name}: {err}");
        assert!(err.contains(request), "{name}: {err}");
        assert!(err.contains(why), "{name}: {err}");
        assert!(
            err.contains("worker trouble"),
            "{name}: stderr quoted: {err}"
        );
        let pids = pids(&dir, name);
        assert_eq!(pids.len(), 2, "{name}: two workers started");
        for pid in pids {
            assert!(!alive(pid), "{name}: worker {pid} outlived its trial");
        }
    }
}

/// A describe reply that is not a model, or a worker that dies at once.
#[test]
fn a_worker_that_cannot_describe_fails_the_trial() {
    let dir = TempDir::new("evaluator-describe");
    let cases = [
        (
            "nolayers",
            "print(json.dumps({'id': 0, 'layers': []}), flush=True)",
            "request 0 (describe): `layers` is empty",
        ),
        (
            "badlayer",
            "print(json.dumps({'id': 0, 'layers': [{'name': 'a', 'params': 4}]}), flush=True)",
            "layers[0] (a): `rows` is missing",
        ),
        (
            "dies",
            "sys.exit(1)",
            "exited (exit status: 1) without replying",
        ),
    ];
    for (name, code, want) in cases {
        dir.write(
            &format!("{name}.py"),
            &format!("import json, sys\nsys.stdin.readline()\n{code}\n"),
        );
        let m = manifest(&dir, name, "");
        let out = dir.join(&format!("out-{name}"));
        run(&m, &out, &[]).code(1).no_panic();
        let report: serde_json::Value =
            serde_json::from_str(&read(&out.join("report.json"))).unwrap();
        let err = report["trials"][0]["error"].as_str().unwrap();
        assert!(err.contains(want), "{name}: {err}");
    }
}

/// Interrupting evoquant kills its workers.
#[test]
fn interrupting_evoquant_leaves_no_worker_behind() {
    let dir = TempDir::new("evaluator-interrupt");
    worker(&dir, "slow", 1, "        time.sleep(60)");
    let m = manifest(&dir, "slow", "parallel_evaluations = 2\n");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_evoquant"))
        .arg("run")
        .arg(&m)
        .args(["--quiet", "--out"])
        .arg(dir.join("out"))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while pids(&dir, "slow").len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pids = pids(&dir, "slow");
    assert_eq!(pids.len(), 2);
    for pid in pids {
        assert!(!alive(pid), "worker {pid} outlived evoquant");
    }
}

#[test]
fn a_missing_evaluator_is_a_located_manifest_error() {
    let dir = TempDir::new("evaluator-missing");
    let m = dir.write(
        "m.toml",
        &format!("{HEAD}evaluator = [\"no-such-worker-evoquant\"]\n"),
    );
    evoquant()
        .arg("validate")
        .arg(&m)
        .run()
        .code(2)
        .stderr_has("params.evaluator")
        .stderr_has("no-such-worker-evoquant");
    let m = dir.write("n.toml", HEAD);
    evoquant()
        .arg("validate")
        .arg(&m)
        .run()
        .code(2)
        .stderr_has("params.evaluator: set the command to run");
}

/// SIGKILL mid-run (workers die with evoquant), `--resume`: the bytes of an
/// uninterrupted run.
#[test]
fn a_killed_evaluator_run_resumes_to_the_same_bytes() {
    let dir = TempDir::new("evaluator-sigkill");
    let (full, killed) = crate::harness::sigkill_then_resume(&example(), &dir, 1);
    assert_eq!(deterministic_files(&full), deterministic_files(&killed));
}

#[test]
fn evaluator_shards_merge_to_the_bytes_of_a_local_run() {
    let dir = TempDir::new("evaluator-shards");
    let local = dir.join("local");
    run(&example(), &local, &[]).success();
    let merged = crate::harness::shard_and_merge(&example(), &dir.join("sharded"), 2);
    assert_eq!(
        crate::shard::final_files(&merged),
        crate::shard::final_files(&local)
    );
}
