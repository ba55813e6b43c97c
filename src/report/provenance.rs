//! `run.json`: the one file allowed to differ between runs. Timings, dates,
//! host and git state live here so that no other output carries them.

use super::RunInfo;
use crate::error::Result;
use crate::fsio::write_atomic;
use crate::ids::hash_hex;
use crate::records::RunResult;
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

pub fn write_run_json(
    plan: &RunInfo,
    out_dir: &Path,
    jobs: usize,
    result: &RunResult,
    started_at: SystemTime,
    wall: Duration,
    trial_seconds: &std::collections::BTreeMap<String, f64>,
) -> Result<()> {
    let dir = &plan.base_dir;
    let commit = git(dir, &["rev-parse", "HEAD"]);
    let dirty = commit
        .as_ref()
        .and_then(|_| git(dir, &["status", "--porcelain"]))
        .map(|s| !s.is_empty());
    let doc = json!({
        "tool": "evoquant",
        "version": env!("CARGO_PKG_VERSION"),
        "git_commit": commit,
        "git_dirty": dirty,
        "manifest": plan.manifest_path.display().to_string(),
        "manifest_sha256": hash_hex(&plan.manifest_text),
        "inputs": plan.inputs,
        "threads": jobs,
        "started_at": humantime::format_rfc3339_seconds(started_at).to_string(),
        "wall_time_s": wall.as_secs_f64(),
        "host": host_name(),
        "trials": result.total,
        "ran": result.ran,
        "cached": result.cached,
        "failed": result.failed,
        "not_run": result.not_run,
        // Wall seconds of each trial this run ran, by id (cached ones are
        // absent); `evoquant plan --timings DIR` estimates from them.
        "trial_seconds": trial_seconds,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    write_atomic(&out_dir.join("run.json"), text.as_bytes())
}
