//! The reproduction check behind `evoquant check`: each manifest is rerun
//! into a scratch folder and its outputs compared with (or, with `update`,
//! written over) the committed snapshots. Returns what it found; printing
//! is the CLI's.
//!
//! A snapshot belongs to exactly one manifest stem ([`snapshot::owner`]),
//! so updating `a.toml` never touches the snapshots of `a_.toml`.

use crate::error::{Error, Result};
use crate::manifest::{Manifest, Overrides, collect_paths};
use crate::report::snapshot;
use crate::runner::{self, Plan, ProgressMode, RunOptions};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct CheckRequest {
    /// Manifest files or folders of manifests.
    pub inputs: Vec<PathBuf>,
    pub snapshots: PathBuf,
    /// Rewrite the snapshots instead of comparing.
    pub update: bool,
    pub jobs: usize,
    /// Tolerance for numbers: CSV cells, and numbers in text snapshots.
    pub tolerance: crate::report::diff::Tolerance,
}

/// One way a manifest's outputs differ from its snapshots.
#[derive(Clone, Debug, PartialEq)]
pub enum Drift {
    /// Trials failed, so the outputs are incomplete.
    FailedTrials(usize),
    /// A file the trials read changed (one line per file): every trial id
    /// that depends on it moved, which explains the rest of the drift.
    InputsChanged(Vec<String>),
    /// The run produces a file with no committed snapshot.
    Missing(String),
    /// The contents differ: a shortened unified diff, and for a CSV its
    /// cell-level differences.
    Changed {
        name: String,
        diff: String,
        cells: Option<Box<crate::report::diff::DiffReport>>,
    },
    /// A snapshot of this manifest that the run no longer produces.
    Stale(String),
}

/// The outcome for one manifest.
#[derive(Clone, Debug)]
pub struct ManifestCheck {
    pub stem: String,
    /// The manifest file, for the `--update` hint.
    pub manifest: PathBuf,
    pub trials: usize,
    pub snapshots: usize,
    /// Empty means it reproduced (or, with `update`, was rewritten).
    pub drift: Vec<Drift>,
    /// With `update`: stale snapshots of this manifest that were removed.
    pub removed: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct CheckOutcome {
    pub manifests: Vec<ManifestCheck>,
    /// Snapshots no checked manifest owns (its manifest was renamed or
    /// deleted). Only looked for when a folder is among the inputs, which
    /// then counts as the whole set; never deleted, not even by `update`.
    pub orphans: Vec<String>,
}

impl CheckOutcome {
    pub fn drifted(&self) -> bool {
        !self.orphans.is_empty() || self.manifests.iter().any(|m| !m.drift.is_empty())
    }
}

/// A scratch folder removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The snapshot name prefix of a manifest: its file stem.
pub fn manifest_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// The file in the snapshot folder naming the machine signature
/// ([`crate::models::transformer::ops::kernel_signature`]) the snapshots of
/// experiments on real models were taken with.
pub const KERNEL_SIGNATURE: &str = "kernel_signature.txt";

/// Run the check; `each` sees every manifest's outcome as soon as it is known.
pub fn check(req: &CheckRequest, mut each: impl FnMut(&ManifestCheck)) -> Result<CheckOutcome> {
    let paths = collect_paths(&req.inputs)?;
    let mut stems = BTreeSet::new();
    for p in &paths {
        if !stems.insert(manifest_stem(p)) {
            return Err(Error::user(format!(
                "{}: another manifest among the inputs has the stem {:?}, and snapshots are named by stem",
                p.display(),
                manifest_stem(p)
            )));
        }
    }
    let plans = paths
        .iter()
        .map(|p| Manifest::load(p, &Overrides::default()).and_then(Plan::new))
        .collect::<Result<Vec<_>>>()?;
    let mut outcome = CheckOutcome::default();
    if req.update {
        // Experiments on real models reproduce on machines with this
        // signature (gemm's kernels and blocking); the snapshot tests read it.
        crate::fsio::create_dir_durable(&req.snapshots)?;
        crate::fsio::write_atomic(
            &req.snapshots.join(KERNEL_SIGNATURE),
            format!("{}\n", crate::models::transformer::ops::kernel_signature()).as_bytes(),
        )?;
    }
    for plan in &plans {
        let m = check_one(req, plan)?;
        each(&m);
        outcome.manifests.push(m);
    }
    if req.inputs.iter().any(|i| i.is_dir()) {
        outcome.orphans = snapshot::all_names(&req.snapshots)?
            .into_iter()
            .filter(|n| snapshot::owner(n).is_none_or(|s| !stems.contains(s)))
            .collect();
    }
    Ok(outcome)
}

fn check_one(req: &CheckRequest, plan: &Plan) -> Result<ManifestCheck> {
    let stem = manifest_stem(&plan.manifest.source.path);
    let scratch =
        Scratch(std::env::temp_dir().join(format!("evoquant-check-{}-{stem}", std::process::id())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    let opts = RunOptions {
        out_dir: scratch.0.clone(),
        jobs: req.jobs,
        resume: false,
        force: false,
        fail_fast: false,
        progress: ProgressMode::Quiet,
    };
    let result = runner::run(plan, &opts)?;
    // The report is part of a results folder, so it is checked too.
    crate::report::write_report(&scratch.0, &scratch.0, &crate::studies::Registry)?;
    let fresh = snapshot::entries(&stem, &scratch.0)?;
    let produced = |name: &str| fresh.iter().any(|(n, _)| n == name);
    let mut m = ManifestCheck {
        stem: stem.clone(),
        manifest: plan.manifest.source.path.clone(),
        trials: result.total,
        snapshots: fresh.len(),
        drift: Vec::new(),
        removed: Vec::new(),
    };
    if result.failed > 0 {
        m.drift.push(Drift::FailedTrials(result.failed));
    }
    let stale: Vec<String> = snapshot::existing_names(&req.snapshots, &stem)?
        .into_iter()
        .filter(|n| !produced(n))
        .collect();
    if req.update {
        for name in stale {
            let p = snapshot::snapshot_path(&req.snapshots, &name);
            std::fs::remove_file(&p)
                .map_err(|e| Error::io(format!("cannot remove {}", p.display()), e))?;
            m.removed.push(name);
        }
        for (name, contents) in &fresh {
            snapshot::write_snapshot(&snapshot::snapshot_path(&req.snapshots, name), contents)?;
        }
        return Ok(m);
    }
    let inputs_name = format!("{stem}__{}", snapshot::INPUTS_SNAPSHOT);
    for (name, contents) in &fresh {
        match snapshot::read_snapshot(&snapshot::snapshot_path(&req.snapshots, name))? {
            Some(old) if *name == inputs_name && !snapshot::same_contents(&old, contents) => {
                let changes = snapshot::input_changes(&old, contents);
                m.drift.insert(
                    usize::from(result.failed > 0),
                    Drift::InputsChanged(changes),
                );
            }
            None => m.drift.push(Drift::Missing(name.clone())),
            Some(old) if !snapshot::same_contents(&old, contents) => {
                let tolerant = req.tolerance.abs > 0.0 || req.tolerance.rel > 0.0;
                let cells = name
                    .ends_with(".csv")
                    .then(|| snapshot::csv_drift(&old, contents, &req.tolerance))
                    .flatten()
                    .map(Box::new);
                let within = match &cells {
                    Some(c) => !c.differs(),
                    None => tolerant && snapshot::same_within(&old, contents, &req.tolerance),
                };
                if !within {
                    m.drift.push(Drift::Changed {
                        name: name.clone(),
                        diff: snapshot::drift_diff(name, &old, contents),
                        cells,
                    });
                }
            }
            Some(_) => {}
        }
    }
    m.drift.extend(stale.into_iter().map(Drift::Stale));
    Ok(m)
}
