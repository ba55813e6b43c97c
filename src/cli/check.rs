//! `check`: the reproduction check for CI. Each manifest is rerun into a
//! scratch folder and its outputs compared with the committed snapshots.

use crate::error::{Error, Result, exit};
use crate::manifest::{Manifest, Overrides, collect_paths};
use crate::report::snapshot;
use crate::runner::{self, Plan, ProgressMode, RunOptions};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Manifest files or folders of manifests.
    #[arg(required = true, value_name = "MANIFEST|DIR")]
    inputs: Vec<PathBuf>,
    /// Folder of committed snapshots.
    #[arg(long, default_value = "snapshots", value_name = "DIR")]
    snapshots: PathBuf,
    /// Rewrite the snapshots from this run instead of comparing.
    #[arg(long)]
    update: bool,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
}

/// The snapshot name prefix of a manifest: its file stem.
pub fn manifest_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn check(args: CheckArgs) -> Result<i32> {
    let paths = collect_paths(&args.inputs)?;
    let plans = paths
        .iter()
        .map(|p| Manifest::load(p, &Overrides::default()).and_then(Plan::new))
        .collect::<Result<Vec<_>>>()?;
    let jobs = args.jobs.map_or_else(super::default_jobs, usize::from);
    let mut drifted = 0;
    for plan in &plans {
        let stem = manifest_stem(&plan.manifest.source.path);
        let scratch = Scratch(
            std::env::temp_dir().join(format!("evoquant-check-{}-{stem}", std::process::id())),
        );
        let _ = std::fs::remove_dir_all(&scratch.0);
        let opts = RunOptions {
            out_dir: scratch.0.clone(),
            jobs,
            resume: false,
            force: false,
            fail_fast: false,
            progress: ProgressMode::Quiet,
        };
        let result = runner::run(plan, &opts)?;
        // The report is part of a results folder, so it is checked too.
        crate::report::write_report(&scratch.0, &scratch.0, &crate::studies::Registry)?;
        if result.failed > 0 {
            eprintln!("{stem}: {} trials failed", result.failed);
            drifted += 1;
        }
        let fresh = snapshot::entries(&stem, &scratch.0)?;
        if args.update {
            for name in snapshot::existing_names(&args.snapshots, &stem)? {
                if !fresh.iter().any(|(n, _)| *n == name) {
                    let p = snapshot::snapshot_path(&args.snapshots, &name);
                    std::fs::remove_file(&p)
                        .map_err(|e| Error::io(format!("cannot remove {}", p.display()), e))?;
                }
            }
            for (name, contents) in &fresh {
                snapshot::write_snapshot(
                    &snapshot::snapshot_path(&args.snapshots, name),
                    contents,
                )?;
            }
            println!("updated {stem}: {} snapshots", fresh.len());
            continue;
        }
        let mut problems = Vec::new();
        for (name, contents) in &fresh {
            match snapshot::read_snapshot(&snapshot::snapshot_path(&args.snapshots, name))? {
                None => problems.push(format!(
                    "{name}: no committed snapshot (run `evoquant check --update`)"
                )),
                Some(old) if !snapshot::same_contents(&old, contents) => {
                    problems.push(snapshot::drift_diff(name, &old, contents))
                }
                Some(_) => {}
            }
        }
        for name in snapshot::existing_names(&args.snapshots, &stem)? {
            if !fresh.iter().any(|(n, _)| *n == name) {
                problems.push(format!(
                    "{name}: snapshot exists but this run no longer produces it"
                ));
            }
        }
        if problems.is_empty() {
            println!(
                "ok: {stem} ({} trials, {} snapshots)",
                result.total,
                fresh.len()
            );
        } else {
            drifted += 1;
            println!("DRIFT: {stem}");
            for p in problems {
                println!("{p}");
            }
        }
    }
    Ok(if drifted > 0 { exit::FAILURE } else { exit::OK })
}
