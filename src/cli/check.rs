//! `check`: flags to a [`CheckRequest`]; the rerun-and-compare workflow is
//! [`crate::check`]. Prints each manifest's outcome as it comes.

use crate::check::{CheckRequest, Drift, ManifestCheck, check as run_check};
use crate::error::{Result, exit};
use clap::Args;
use std::path::PathBuf;

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

fn print(m: &ManifestCheck, update: bool) {
    let stem = &m.stem;
    for d in &m.drift {
        if let Drift::FailedTrials(n) = d {
            eprintln!("{stem}: {n} trials failed");
        }
    }
    if update {
        for name in &m.removed {
            println!("removed {name}: this run no longer produces it");
        }
        println!("updated {stem}: {} snapshots", m.snapshots);
        return;
    }
    if m.drift.is_empty() {
        println!(
            "ok: {stem} ({} trials, {} snapshots)",
            m.trials, m.snapshots
        );
        return;
    }
    println!("DRIFT: {stem}");
    for d in &m.drift {
        match d {
            Drift::FailedTrials(_) => {}
            Drift::InputsChanged(changes) => {
                println!(
                    "an input file changed, so the trials that read it have new ids and seeds:"
                );
                for c in changes {
                    println!("  {c}");
                }
            }
            Drift::Missing(name) => {
                println!("{name}: no committed snapshot (run `evoquant check --update`)")
            }
            Drift::Changed { diff, .. } => println!("{diff}"),
            Drift::Stale(name) => {
                println!("{name}: snapshot exists but this run no longer produces it")
            }
        }
    }
}

pub fn check(args: CheckArgs) -> Result<i32> {
    let req = CheckRequest {
        inputs: args.inputs,
        snapshots: args.snapshots,
        update: args.update,
        jobs: args.jobs.map_or_else(super::default_jobs, usize::from),
    };
    let outcome = run_check(&req, |m| print(m, req.update))?;
    for name in &outcome.orphans {
        println!(
            "ORPHAN: {}: no manifest among the inputs owns it (renamed or deleted?); delete it if so",
            snapshot_file(&req, name)
        );
    }
    Ok(if outcome.drifted() {
        exit::FAILURE
    } else {
        exit::OK
    })
}

fn snapshot_file(req: &CheckRequest, name: &str) -> String {
    crate::report::snapshot::snapshot_path(&req.snapshots, name)
        .display()
        .to_string()
}
