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
            unused: self.unused_params(),
        }
    }

    /// Fixed parameters no trial used: unused at every sweep point (a key
    /// unused at one point but read at another still affected trials).
    fn unused_params(&self) -> Vec<String> {
        let study = self.manifest.study;
        let mut per_point = self.points.iter().map(|p| study.unused(&p.params));
        let Some(first) = per_point.next() else {
            return Vec::new();
        };
        let mut keep: Vec<String> = first
            .into_iter()
            .filter(|k| !self.swept_keys.contains(k))
            .collect();
        for unused in per_point {
            keep.retain(|k| unused.contains(k));
        }
        keep
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Manifest, Overrides, SourceFile};

    fn plan(text: &str) -> Plan {
        let source = SourceFile::new(Path::new("m.toml"), text.to_string());
        Plan::new(Manifest::from_source(source, &Overrides::default()).unwrap()).unwrap()
    }

    /// A key unused at one sweep point but read at another affected trials,
    /// so only keys unused everywhere are left out; swept keys never are.
    #[test]
    fn only_parameters_unused_at_every_point_are_unused() {
        let head =
            "[study]\nname = \"u\"\nkind = \"mixed_precision\"\n[params]\npopulation_size = 4\n";
        let fixed = plan(head).unused_params();
        assert!(fixed.contains(&"mlp.epochs".to_string()), "{fixed:?}");
        assert!(fixed.contains(&"custom.tops".to_string()));
        assert!(!fixed.contains(&"inventory".to_string()));
        let swept = plan(&format!(
            "{head}[sweep]\nmodel = [\"inventory\", \"mlp\"]\n"
        ))
        .unused_params();
        assert!(!swept.iter().any(|k| k.starts_with("mlp.")), "{swept:?}");
        assert!(!swept.contains(&"inventory".to_string()));
        assert!(swept.contains(&"custom.tops".to_string()));
        assert!(!swept.contains(&"model".to_string()));
    }
}
