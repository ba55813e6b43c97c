//! The last step of every run: the final files from the entries in trial
//! order. A whole run and `merge` of shards both end here, which is why their
//! outputs are byte-identical by construction rather than by care.

use super::{Finished, Plan};
use crate::error::Result;
use crate::report::{self, RunInfo, TrialInfo};
use std::path::Path;

impl Plan {
    /// The plan as the report sees it: plain data, no runner types.
    pub fn info(&self) -> RunInfo {
        let m = &self.manifest;
        RunInfo {
            name: m.name.clone(),
            kind: m.study.kind().to_string(),
            description: m.description.clone(),
            manifest_path: m.source.path.clone(),
            manifest_text: m.source.text.clone(),
            base_dir: m.base_dir(),
            base_seed: m.base_seed,
            replicates: m.replicates,
            base: self.base.clone(),
            swept_keys: self.swept_keys.clone(),
            points: self.points.iter().map(|p| p.swept.clone()).collect(),
            trials: self
                .trials
                .iter()
                .map(|t| TrialInfo {
                    id: t.id.clone(),
                    point: t.point,
                    replicate: t.replicate,
                    seed: t.seed,
                })
                .collect(),
            inputs: self.inputs(),
            claims: m.claims.clone(),
        }
    }
}

/// Write trials.csv, summary.csv, the artifacts, report.json and run.json.
pub fn finish(plan: &Plan, finished: &Finished, out_dir: &Path, jobs: usize) -> Result<()> {
    let info = plan.info();
    report::write_results(&info, &finished.entry_refs(), out_dir)?;
    report::write_run_json(
        &info,
        out_dir,
        jobs,
        &finished.result,
        finished.started_at,
        finished.wall,
        &finished.durations,
    )
}
