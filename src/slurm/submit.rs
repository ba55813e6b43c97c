//! Submitting the written scripts: the array, then the merge job that
//! depends on it.

use super::SlurmPlan;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The job ids sbatch returned.
#[derive(Clone, Debug, PartialEq)]
pub struct Submitted {
    pub array: String,
    pub merge: String,
}

/// `sbatch` on PATH; refused (exit 2) before anything is written when absent.
pub fn find_sbatch() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("sbatch"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::user(
                "--submit: sbatch is not on PATH (is this a Slurm login node?); run without --submit to write the scripts and print the commands",
            )
        })
}

/// Submit the scripts [`SlurmPlan::write_scripts`] wrote. The arguments go
/// to sbatch as separate argv entries, never through a shell.
pub fn submit(plan: &SlurmPlan, sbatch_path: &Path) -> Result<Submitted> {
    let array = sbatch(
        sbatch_path,
        &["--parsable".into(), plan.array_script_path().into()],
    )?;
    let merge = sbatch(
        sbatch_path,
        &[
            "--parsable".into(),
            format!("--dependency=afterok:{array}").into(),
            "--kill-on-invalid-dep=yes".into(),
            plan.merge_script_path().into(),
        ],
    )?;
    Ok(Submitted { array, merge })
}

fn sbatch(sbatch: &Path, args: &[std::ffi::OsString]) -> Result<String> {
    let shown = || {
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let out = Command::new(sbatch)
        .args(args)
        .output()
        .map_err(|e| Error::io(format!("cannot run {}", sbatch.display()), e))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let msg = format!("sbatch {} failed ({}): {stderr}", shown(), out.status);
        // sbatch refusing a value we passed on (an invalid partition, time
        // or account) is the user's to fix: exit 2. Anything else — above
        // all an unreachable controller — is the cluster failing, not the
        // input: exit 3.
        if stderr.to_ascii_lowercase().contains("invalid") {
            return Err(Error::user(msg));
        }
        return Err(Error::io(
            "the cluster did not accept the job (is slurmctld reachable?)",
            std::io::Error::other(msg),
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // --parsable prints "jobid" or "jobid;cluster".
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Internal(format!(
            "sbatch printed {:?}, not a job id",
            text.trim()
        )));
    }
    Ok(id)
}
