//! The last step of every run: the final files from the entries in trial
//! order. A whole run and `merge` of shards both end here, which is why their
//! outputs are byte-identical by construction rather than by care.

use crate::error::Result;
use crate::runner::merge::MergeResult;
use crate::runner::{self, Finished, Plan, ProgressMode, RunOptions, RunResult};
use std::path::Path;

/// Write trials.csv, summary.csv, the artifacts, report.json and run.json.
pub fn finish(plan: &Plan, finished: &Finished, opts: &RunOptions) -> Result<()> {
    super::write_results(plan, &finished.entry_refs(), &opts.out_dir)?;
    super::write_run_json(
        plan,
        opts,
        &finished.result,
        finished.started_at,
        finished.wall,
    )
}

/// Run a plan and write its final files (not the markdown report).
pub fn run(plan: &Plan, opts: &RunOptions) -> Result<RunResult> {
    let finished = runner::run(plan, opts)?;
    finish(plan, &finished, opts)?;
    Ok(finished.result)
}

/// Merge the shards of `out_dir` and write its final files.
pub fn merge(out_dir: &Path) -> Result<MergeResult> {
    let (plan, finished, merged) = runner::merge::merge(out_dir)?;
    let opts = RunOptions {
        out_dir: out_dir.to_path_buf(),
        jobs: 1,
        resume: true,
        force: false,
        fail_fast: false,
        progress: ProgressMode::Quiet,
    };
    finish(&plan, &finished, &opts)?;
    Ok(merged)
}
