//! Running a plan: parallel trials, journal, resume, final reports.

use super::journal::{JOURNAL_FILE, Journal, JournalEntry, Status};
use super::ownership;
use super::plan::{Plan, Trial};
use super::progress::{ProgressMode, Reporter, TrialProgress};
use crate::error::{Error, Result};
use crate::fsio::{DirLock, LockKind};
use crate::studies::{TrialContext, TrialRng};
use crate::value::display_value;
use rand::SeedableRng;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub out_dir: PathBuf,
    /// Worker threads; trials and the studies' inner loops share them.
    pub jobs: usize,
    pub resume: bool,
    pub force: bool,
    pub fail_fast: bool,
    pub progress: ProgressMode,
}

pub use crate::records::RunResult;

/// Make `opts.out_dir` ready for a run and lock it: a fresh folder is
/// created and marked as evoquant's; an existing one needs `--resume` (keep
/// its journal) or `--force` (delete what evoquant wrote in it, nothing
/// else, and only if evoquant wrote it).
fn prepare_out_dir(opts: &RunOptions) -> Result<DirLock> {
    let dir = &opts.out_dir;
    let (lock, non_empty) = ownership::open_out_dir(dir, LockKind::Exclusive)?;
    if non_empty && !opts.resume {
        if !opts.force {
            return Err(Error::user(format!(
                "results folder {} already exists; pass --resume to continue it or --force to replace it",
                dir.display()
            )));
        }
        ownership::remove_ours(dir)?;
    }
    if non_empty && opts.resume && !ownership::is_ours(dir) && !dir.join(JOURNAL_FILE).is_file() {
        return Err(Error::user(format!(
            "{} is not an evoquant results folder; refusing to resume into it",
            dir.display()
        )));
    }
    ownership::write_marker(dir)?;
    Ok(lock)
}

fn label(plan: &Plan, trial: &Trial) -> String {
    let point = &plan.points[trial.point];
    let params: Vec<String> = plan
        .swept_keys
        .iter()
        .zip(&point.swept)
        .map(|(k, v)| format!("{k}={}", display_value(v)))
        .collect();
    let mut s = format!("{} r{}", trial.id, trial.replicate);
    if !params.is_empty() {
        s.push_str(&format!(" ({})", params.join(", ")));
    }
    s
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn run_one(plan: &Plan, trial: &Trial, base_dir: &Path, progress: &TrialProgress) -> JournalEntry {
    let point = &plan.points[trial.point];
    let mut rng = TrialRng::seed_from_u64(trial.seed);
    let ctx = TrialContext {
        base_dir,
        progress,
        trial_id: &trial.id,
        seed: trial.seed,
        replicate: trial.replicate,
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        plan.manifest.study.run(&point.params, &mut rng, &ctx)
    }));
    let (status, error, output) = match outcome {
        Ok(Ok(output)) => (Status::Ok, None, Some(output)),
        Ok(Err(e)) => (Status::Failed, Some(e.to_string()), None),
        Err(payload) => (
            Status::Failed,
            Some(format!(
                "internal error: the study panicked: {}",
                panic_message(&*payload)
            )),
            None,
        ),
    };
    JournalEntry {
        id: trial.id.clone(),
        seed: trial.seed,
        replicate: trial.replicate,
        status,
        error,
        output,
    }
}

/// A finished run (or a merge of shards): every trial's entry in trial
/// order, for the report to write the final files from.
#[derive(Clone, Debug)]
pub struct Finished {
    pub result: RunResult,
    /// `entries[i]` is the finished entry of `plan.trials[i]`, if any.
    pub entries: Vec<Option<JournalEntry>>,
    pub started_at: SystemTime,
    pub wall: Duration,
    /// Seconds each trial run now took, by id (timings live in run.json only).
    pub durations: BTreeMap<String, f64>,
}

impl Finished {
    pub fn entry_refs(&self) -> Vec<Option<&JournalEntry>> {
        self.entries.iter().map(Option::as_ref).collect()
    }
}

/// Run every trial not already journaled, then write the final files. The
/// results folder is locked throughout: a second run, `merge` or `report`
/// on it refuses instead of mixing files.
pub fn run(plan: &Plan, opts: &RunOptions) -> Result<RunResult> {
    let _lock = prepare_out_dir(opts)?;
    let finished = run_trials(plan, opts)?;
    super::finish(plan, &finished, &opts.out_dir, opts.jobs)?;
    Ok(finished.result)
}

/// Run every trial not already journaled in a prepared folder and return
/// every entry, without writing the final files.
fn run_trials(plan: &Plan, opts: &RunOptions) -> Result<Finished> {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let all: Vec<&Trial> = plan.trials.iter().collect();
    let done = execute(plan, &all, &opts.out_dir.join(JOURNAL_FILE), opts)?;
    let mut done = done;
    let entries: Vec<Option<JournalEntry>> = plan
        .trials
        .iter()
        .map(|t| done.finished.remove(&t.id))
        .collect();
    let result = RunResult {
        out_dir: opts.out_dir.clone(),
        total: plan.trials.len(),
        ran: done.ran,
        cached: done.cached,
        failed: done.failed,
        not_run: entries.iter().filter(|e| e.is_none()).count(),
    };
    Ok(Finished {
        result,
        entries,
        started_at,
        wall: clock.elapsed(),
        durations: done.durations,
    })
}

/// What [`execute`] did: every finished entry of its trials by id, and counts.
pub(super) struct Executed {
    pub finished: BTreeMap<String, JournalEntry>,
    /// Wall seconds of each trial run now, by id.
    pub durations: BTreeMap<String, f64>,
    pub ran: usize,
    pub cached: usize,
    pub failed: usize,
}

/// Run the given trials that the journal at `journal_path` does not already
/// hold, appending each result to it. Shared by whole runs and shards.
pub(super) fn execute(
    plan: &Plan,
    trials: &[&Trial],
    journal_path: &Path,
    opts: &RunOptions,
) -> Result<Executed> {
    let (mut journal, previous) = Journal::open_file(journal_path, opts.resume)?;

    // Successful entries are reused when id and seed both match the plan;
    // failed ones are retried.
    let mut finished: BTreeMap<String, JournalEntry> = BTreeMap::new();
    let wanted: BTreeMap<&str, u64> = trials.iter().map(|t| (t.id.as_str(), t.seed)).collect();
    for entry in previous {
        if entry.status == Status::Ok && wanted.get(entry.id.as_str()) == Some(&entry.seed) {
            finished.insert(entry.id.clone(), entry);
        }
    }
    let cached = finished.len();
    let pending: Vec<&Trial> = trials
        .iter()
        .copied()
        .filter(|t| !finished.contains_key(&t.id))
        .collect();

    let reporter = Reporter::new(opts.progress, trials.len(), cached);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;
    let stop = AtomicBool::new(false);
    let base_dir = plan.manifest.base_dir();
    let mut write_error = None;
    let (mut ran, mut failed) = (0, 0);
    let mut durations = BTreeMap::new();

    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(JournalEntry, TrialProgress, String, f64)>();
        let (stop, reporter, base_dir, pending) = (&stop, &reporter, &base_dir, &pending);
        scope.spawn(move || {
            pool.install(|| {
                pending.par_iter().for_each_with(tx, |tx, trial| {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let name = label(plan, trial);
                    let progress = reporter.trial_started(name.clone());
                    let clock = Instant::now();
                    let entry = run_one(plan, trial, base_dir, &progress);
                    let secs = clock.elapsed().as_secs_f64();
                    // Stop here, not only when the journal thread sees the
                    // failure: fast trials could otherwise all start before
                    // that thread is scheduled.
                    if opts.fail_fast && entry.status == Status::Failed {
                        stop.store(true, Ordering::Relaxed);
                    }
                    let _ = tx.send((entry, progress, name, secs));
                });
            });
        });
        // The journal is written from this thread only, in completion order;
        // final files are sorted later, so that order never reaches them.
        for (entry, progress, name, secs) in rx {
            durations.insert(entry.id.clone(), secs);
            if write_error.is_none() {
                if let Err(e) = journal.append(&entry) {
                    write_error = Some(e);
                    stop.store(true, Ordering::Relaxed);
                }
            }
            ran += 1;
            let error = entry.error.clone();
            if entry.status == Status::Failed {
                failed += 1;
                if opts.fail_fast {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            reporter.trial_finished(progress, &name, error.as_deref(), secs);
            finished.insert(entry.id.clone(), entry);
        }
    });
    reporter.finish();
    if let Some(e) = write_error {
        return Err(e);
    }

    Ok(Executed {
        finished,
        durations,
        ran,
        cached,
        failed,
    })
}
