//! `check`: flags to a [`CheckRequest`]; the rerun-and-compare workflow is
//! [`crate::check`]. Prints each manifest's outcome as it comes: a summary
//! of what drifted first (files, columns, the largest absolute and relative
//! change), then cell-level differences of the CSVs, and the line diffs of
//! the other files only with `--full`.

use crate::check::{CheckRequest, Drift, ManifestCheck, check as run_check};
use crate::error::{Error, Result, exit};
use crate::report::diff::{Change, Tolerance};
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
    /// Absolute tolerance for numbers (CSV cells and numbers in the report and plots).
    #[arg(long, default_value_t = 0.0, value_name = "X")]
    abs_tol: f64,
    /// Relative tolerance for numbers (of the larger magnitude).
    #[arg(long, default_value_t = 0.0, value_name = "X")]
    rel_tol: f64,
    /// Print every changed cell and the line diffs of report.md, plots and documents.
    #[arg(long)]
    full: bool,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
}

/// Changed cells listed per CSV without `--full`.
const CELLS_SHOWN: usize = 20;

fn relative(c: &Change) -> Option<f64> {
    let old: f64 = c.old.parse().ok()?;
    let d = c.delta?;
    (old != 0.0 && d.is_finite()).then(|| d / old.abs())
}

fn change_line(file: &str, c: &Change) -> String {
    let signed = |x: f64| {
        let s = crate::report::plots::fmt_num(x);
        if x > 0.0 { format!("+{s}") } else { s }
    };
    let delta = match (c.delta, relative(c)) {
        (Some(d), Some(r)) => format!(" ({}, {}%)", signed(d), signed(100.0 * r)),
        (Some(d), None) => format!(" ({})", signed(d)),
        _ => String::new(),
    };
    format!(
        "{file} `{}` at {}: {} → {}{delta}",
        c.column, c.row, c.old, c.new
    )
}

fn print(m: &ManifestCheck, req: &CheckRequest, full: bool) {
    let stem = &m.stem;
    for d in &m.drift {
        if let Drift::FailedTrials(n) = d {
            eprintln!("{stem}: {n} trials failed");
        }
    }
    if req.update {
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
    let file = |name: &str| {
        name.strip_prefix(&format!("{stem}__"))
            .unwrap_or(name)
            .to_string()
    };
    let changed: Vec<(&String, &String, Option<&crate::report::diff::DiffReport>)> = m
        .drift
        .iter()
        .filter_map(|d| match d {
            Drift::Changed { name, diff, cells } => Some((name, diff, cells.as_deref())),
            _ => None,
        })
        .collect();
    println!(
        "DRIFT: {stem}: {} of {} snapshots differ",
        changed.len()
            + m.drift
                .iter()
                .filter(|d| matches!(d, Drift::Missing(_) | Drift::Stale(_)))
                .count(),
        m.snapshots
    );
    for d in &m.drift {
        match d {
            Drift::InputsChanged(changes) => {
                println!(
                    "  an input file changed, so the trials that read it have new ids and seeds:"
                );
                for c in changes {
                    println!("    {c}");
                }
            }
            Drift::Missing(name) => println!("  {}: no committed snapshot", file(name)),
            Drift::Stale(name) => {
                println!(
                    "  {}: snapshot exists but this run no longer produces it",
                    file(name)
                )
            }
            _ => {}
        }
    }
    // Summary: each file, then the largest changes over every CSV.
    let mut all_cells: Vec<(String, &Change)> = Vec::new();
    let mut texts = Vec::new();
    for (name, _, cells) in &changed {
        match cells {
            Some(c) => {
                let mut columns: Vec<&str> = Vec::new();
                for ch in &c.changes {
                    if !columns.contains(&ch.column.as_str()) {
                        columns.push(&ch.column);
                    }
                }
                let mut parts = vec![format!(
                    "{} cells in {} columns ({})",
                    c.changes.len(),
                    columns.len(),
                    columns
                        .iter()
                        .take(6)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                        + if columns.len() > 6 { ", …" } else { "" }
                )];
                for (what, list) in [
                    ("rows added", &c.added_rows),
                    ("rows removed", &c.removed_rows),
                    ("columns added", &c.added_columns),
                    ("columns removed", &c.removed_columns),
                ] {
                    if !list.is_empty() {
                        parts.push(format!("{} {what}", list.len()));
                    }
                }
                println!("  {}: {}", file(name), parts.join("; "));
                all_cells.extend(c.changes.iter().map(|ch| (file(name), ch)));
            }
            None => texts.push(file(name)),
        }
    }
    if !texts.is_empty() {
        println!(
            "  {} other files differ: {}{}",
            texts.len(),
            texts.join(", "),
            if full {
                ""
            } else {
                " (--full shows their line diffs)"
            }
        );
    }
    let abs = all_cells
        .iter()
        .filter(|(_, c)| c.delta.is_some_and(f64::is_finite))
        .max_by(|a, b| {
            let d = |c: &Change| c.delta.unwrap_or(0.0).abs();
            d(a.1).total_cmp(&d(b.1))
        });
    let rel = all_cells
        .iter()
        .filter(|(_, c)| relative(c).is_some())
        .max_by(|a, b| {
            let r = |c: &Change| relative(c).unwrap_or(0.0).abs();
            r(a.1).total_cmp(&r(b.1))
        });
    if let Some((f, c)) = abs {
        println!("  largest absolute change: {}", change_line(f, c));
    }
    if let Some((f, c)) = rel {
        println!("  largest relative change: {}", change_line(f, c));
    }
    // Cell-level differences of each CSV.
    for (name, _, cells) in &changed {
        let Some(c) = cells else { continue };
        if c.changes.is_empty() {
            continue;
        }
        let shown = if full {
            c.changes.len()
        } else {
            CELLS_SHOWN.min(c.changes.len())
        };
        println!("{}: cells that differ (snapshot → this run):", file(name));
        for ch in &c.changes[..shown] {
            println!("  {}", change_line("", ch).trim_start());
        }
        if shown < c.changes.len() {
            println!("  … {} more (--full lists them)", c.changes.len() - shown);
        }
    }
    if full {
        for (_, diff, cells) in &changed {
            if cells.is_none() {
                println!("{diff}");
            }
        }
    }
    println!("{}", update_hint(req, &m.manifest));
}

/// The command that accepts this run, with the same snapshot folder.
fn update_hint(req: &CheckRequest, manifest: &std::path::Path) -> String {
    let snapshots = if req.snapshots == std::path::Path::new("snapshots") {
        String::new()
    } else {
        format!(" --snapshots {}", req.snapshots.display())
    };
    format!(
        "if the change is intended: evoquant check {} --update{snapshots}",
        manifest.display()
    )
}

pub fn check(args: CheckArgs) -> Result<i32> {
    for (flag, x) in [("--abs-tol", args.abs_tol), ("--rel-tol", args.rel_tol)] {
        if x.is_nan() || x < 0.0 {
            return Err(Error::user(format!(
                "{flag} {x}: must be a non-negative number"
            )));
        }
    }
    let req = CheckRequest {
        inputs: args.inputs,
        snapshots: args.snapshots,
        update: args.update,
        jobs: args.jobs.map_or_else(super::default_jobs, usize::from),
        tolerance: Tolerance {
            abs: args.abs_tol,
            rel: args.rel_tol,
        },
    };
    let full = args.full;
    let outcome = run_check(&req, |m| print(m, &req, full))?;
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
