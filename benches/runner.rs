//! Runner overhead: expanding, seeding and reporting a 10,000-trial plan, and
//! parallel efficiency of `--jobs 2` over `--jobs 1`. A bench-local study does
//! a fixed amount of arithmetic so only the runner is measured.

use criterion::{Criterion, criterion_group, criterion_main};
use evoquant::manifest::Manifest;
use evoquant::runner::{self, Plan, ProgressMode, RunOptions};
use evoquant::studies::{Study, StudyError, TrialContext, TrialOutput, TrialRng};
use rand::Rng;
use std::time::Instant;

evoquant::params! {
    pub struct Params {
        /// grid coordinate
        x: i64 = 0;
        /// iterations of arithmetic
        work: i64 = 0;
    }
}

struct Busy;

impl Study for Busy {
    type Params = Params;
    fn kind(&self) -> &'static str {
        "bench_busy"
    }
    fn about(&self) -> &'static str {
        "fixed arithmetic per trial"
    }
    fn run_trial(
        &self,
        p: &Params,
        rng: &mut TrialRng,
        _: &TrialContext,
    ) -> Result<TrialOutput, StudyError> {
        let mut acc = rng.random::<f64>();
        for i in 0..p.work {
            acc = (acc * 1.000001 + i as f64).sin();
        }
        let mut out = TrialOutput::default();
        out.metric("acc", acc);
        out.metric("x", p.x);
        Ok(out)
    }
}

static BUSY: Busy = Busy;

fn manifest(points: i64, work: i64) -> Manifest {
    Manifest::in_code(&BUSY, "bench", 1, 1)
        .with_param("work", toml::Value::Integer(work))
        .with_axis("x", (0..points).map(toml::Value::Integer))
}

fn run_plan(plan: &Plan, jobs: usize) -> std::time::Duration {
    let dir = std::env::temp_dir().join(format!("evoquant-bench-{}-{jobs}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = RunOptions {
        out_dir: dir.clone(),
        jobs,
        resume: false,
        force: false,
        fail_fast: false,
        progress: ProgressMode::Quiet,
    };
    let t = Instant::now();
    runner::run(plan, &opts).expect("run");
    let elapsed = t.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    elapsed
}

fn bench(c: &mut Criterion) {
    c.bench_function("plan 10k trials", |b| {
        b.iter(|| Plan::new(manifest(10_000, 0)).expect("plan"))
    });

    let plan = Plan::new(manifest(10_000, 0)).expect("plan");
    let mut g = c.benchmark_group("runner");
    g.sample_size(10);
    g.bench_function("run 10k no-op trials (journal + reports), jobs 1", |b| {
        b.iter(|| run_plan(&plan, 1))
    });
    g.finish();

    // Parallel efficiency: the same CPU-bound trials at 1 and 2 threads.
    let busy = Plan::new(manifest(64, 200_000)).expect("plan");
    let t1 = (0..3).map(|_| run_plan(&busy, 1)).min().expect("runs");
    let t2 = (0..3).map(|_| run_plan(&busy, 2)).min().expect("runs");
    println!(
        "parallel: 64 busy trials, jobs 1 {:.3}s, jobs 2 {:.3}s, speed-up {:.2}x",
        t1.as_secs_f64(),
        t2.as_secs_f64(),
        t1.as_secs_f64() / t2.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
