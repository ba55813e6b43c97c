//! Trials that fail at run time: a failing or panicking trial is recorded,
//! the others still run, reports say what failed, the CLI maps it to exit 1,
//! and `--resume` retries exactly the failed trials. Real studies reject bad
//! parameters before anything runs, so these tests drive the runner library
//! with a test-local study whose failures are chosen by its parameters.

use crate::harness::{TempDir, read};
use evoquant::manifest::Manifest;
use evoquant::runner::{self, Plan, ProgressMode, RunOptions};
use evoquant::studies::{Study, StudyError, TrialContext, TrialOutput, TrialRng};
use rand::Rng;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

evoquant::params! {
    pub struct Params {
        /// grid coordinate
        x: i64 = 0;
    }
}

/// x = 3 returns an error, x = 5 panics, others succeed; counts its calls.
struct Flaky {
    calls: AtomicUsize,
}

impl Study for Flaky {
    type Params = Params;
    fn kind(&self) -> &'static str {
        "test_flaky"
    }
    fn about(&self) -> &'static str {
        "fails for chosen parameters"
    }
    fn run_trial(
        &self,
        p: &Params,
        rng: &mut TrialRng,
        _: &TrialContext,
    ) -> Result<TrialOutput, StudyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match p.x {
            3 => Err(StudyError::new("x = 3 is cursed")),
            5 => panic!("x = 5 blew up"),
            _ => {
                let mut out = TrialOutput::default();
                out.metric("draw", rng.random::<f64>());
                out.metric("x", p.x);
                Ok(out)
            }
        }
    }
}

fn manifest(study: &'static Flaky, points: i64) -> Manifest {
    Manifest::in_code(study, "flaky", 3, 2)
        .with_axis("x", (0..points).map(toml::Value::Integer))
        .validated()
        .expect("valid manifest")
}

fn options(dir: &Path, jobs: usize, resume: bool, fail_fast: bool) -> RunOptions {
    RunOptions {
        out_dir: dir.to_path_buf(),
        jobs,
        resume,
        force: false,
        fail_fast,
        progress: ProgressMode::Quiet,
    }
}

fn leak() -> &'static Flaky {
    Box::leak(Box::new(Flaky {
        calls: AtomicUsize::new(0),
    }))
}

#[test]
fn failed_trials_are_recorded_and_resume_retries_only_them() {
    let study = leak();
    let plan = Plan::new(manifest(study, 7)).expect("plan");
    let dir = TempDir::new("flaky");
    let out = dir.join("out");
    let r = runner::run(&plan, &options(&out, 2, false, false)).expect("run");
    assert_eq!((r.total, r.ran, r.failed, r.not_run), (14, 14, 4, 0));
    assert!(!r.complete(), "failed trials make `run` exit 1");
    assert_eq!(study.calls.load(Ordering::SeqCst), 14);

    let trials = read(&out.join("trials.csv"));
    let header: Vec<&str> = trials.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (x, status, error) = (col("x"), col("status"), col("error"));
    for line in trials.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        match cells[x] {
            "3" => {
                assert_eq!(cells[status], "failed");
                assert!(cells[error].contains("x = 3 is cursed"), "{line}");
            }
            "5" => {
                assert_eq!(cells[status], "failed");
                assert!(cells[error].contains("panicked"), "{line}");
                assert!(cells[error].contains("x = 5 blew up"), "{line}");
            }
            _ => assert_eq!(cells[status], "ok", "{line}"),
        }
    }
    let summary = read(&out.join("summary.csv"));
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let failed = header.iter().position(|h| *h == "failed").unwrap();
    let failed_by_x: Vec<&str> = summary
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(failed).unwrap())
        .collect();
    assert_eq!(failed_by_x, ["0", "0", "0", "2", "0", "2", "0"]);

    // Resume retries the four failed trials and nothing else.
    let r = runner::run(&plan, &options(&out, 1, true, false)).expect("resume");
    assert_eq!((r.ran, r.cached, r.failed), (4, 10, 4));
    assert_eq!(study.calls.load(Ordering::SeqCst), 18);
}

#[test]
fn fail_fast_stops_scheduling_and_counts_what_did_not_run() {
    let study = leak();
    let plan = Plan::new(manifest(study, 40)).expect("plan");
    let dir = TempDir::new("flaky-fast");
    let out = dir.join("out");
    let r = runner::run(&plan, &options(&out, 1, false, true)).expect("run");
    assert!(r.failed >= 1, "{r:?}");
    assert!(r.not_run > 0, "fail-fast ran everything: {r:?}");
    assert_eq!(r.ran + r.not_run, r.total);
    let trials = read(&out.join("trials.csv"));
    assert!(trials.lines().any(|l| l.contains(",not_run,")), "{trials}");
}
