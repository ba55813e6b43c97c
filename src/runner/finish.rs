//! The last step of every run: the final files from the entries in trial
//! order. A whole run and `merge` of shards both end here, which is why their
//! outputs are byte-identical by construction rather than by care.

use super::{JournalEntry, Plan, RunOptions, RunResult};
use crate::error::Result;
use crate::report;
use std::time::{Duration, SystemTime};

/// Write trials.csv, summary.csv, the artifacts, report.json and run.json.
/// `entries[i]` is the finished entry of `plan.trials[i]`, if any.
pub fn finish(
    plan: &Plan,
    entries: &[Option<&JournalEntry>],
    opts: &RunOptions,
    result: &RunResult,
    started_at: SystemTime,
    wall: Duration,
) -> Result<()> {
    report::write_results(plan, entries, &opts.out_dir)?;
    report::write_run_json(plan, opts, result, started_at, wall)
}
