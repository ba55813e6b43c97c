//! Running one manifest on Slurm: a job array of shards plus a dependent
//! merge job, as plain sbatch scripts.
//!
//! evoquant does not schedule anything itself: Slurm does. The scripts are
//! plain bash with every resolved option at the top, so a user can read them,
//! adapt them to their site and submit them by hand. This module resolves a
//! [`SlurmRequest`] into a checked [`SlurmPlan`], renders and writes the
//! scripts and submits them; the CLI only maps flags and prints. Every value
//! that reaches a script is quoted or refused (see [`quote`]).

pub mod quote;
mod render;
mod submit;

pub use submit::{Submitted, find_sbatch, submit};

use crate::error::{Error, Result};
use crate::fsio::write_atomic;
use crate::manifest::{Manifest, Overrides};
use crate::runner::Plan;
use crate::runner::shard::{SHARDS_DIR, Shard, ShardMeta, read_metas};
use std::path::{Path, PathBuf};

/// What the user asked for, before anything is resolved or checked.
#[derive(Clone, Debug, Default)]
pub struct SlurmRequest {
    pub manifest: PathBuf,
    pub overrides: Overrides,
    pub shards: u32,
    pub partition: Option<String>,
    pub time: Option<String>,
    pub cpus_per_task: u16,
    pub array_parallelism: Option<u32>,
    /// Results folder; `None` means `results/<study name>`.
    pub out: Option<PathBuf>,
    pub results: PathBuf,
    pub sbatch_options: Vec<String>,
    /// Binary the compute nodes run; `None` means this process's binary.
    pub evoquant: Option<PathBuf>,
    /// Scripts and logs; `None` means `OUT/slurm`.
    pub script_dir: Option<PathBuf>,
}

/// Everything the scripts need, resolved to absolute UTF-8 paths and
/// checked; only [`SlurmPlan::new`] builds one, so rendering cannot fail.
#[derive(Clone, Debug, PartialEq)]
pub struct SlurmPlan {
    study: String,
    manifest: String,
    manifest_sha256: String,
    set: Vec<String>,
    sweep: Vec<String>,
    trials: usize,
    shards: u32,
    array_parallelism: Option<u32>,
    partition: Option<String>,
    time: Option<String>,
    cpus_per_task: u16,
    sbatch_options: Vec<String>,
    out: String,
    evoquant: String,
    script_dir: String,
}

/// The two scripts, once written.
#[derive(Clone, Debug, PartialEq)]
pub struct Scripts {
    pub array: PathBuf,
    pub merge: PathBuf,
}

fn utf8(flag: &str, p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::user(format!("{flag} {}: path is not valid UTF-8", p.display())))
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::input(p, e))
}

impl SlurmPlan {
    /// Resolve the request against the manifest (which is validated) and
    /// check every value that reaches the scripts. Writes nothing.
    pub fn new(req: &SlurmRequest) -> Result<SlurmPlan> {
        if req.shards == 0 || req.cpus_per_task == 0 || req.array_parallelism == Some(0) {
            return Err(Error::user(
                "--shards, --cpus-per-task and --array-parallelism must be at least 1",
            ));
        }
        if let Some(p) = &req.partition {
            quote::check_partition(p)?;
        }
        if let Some(t) = &req.time {
            quote::check_time(t)?;
        }
        for o in &req.sbatch_options {
            quote::check_sbatch_option(o)?;
        }
        let plan = Plan::new(Manifest::load(&req.manifest, &req.overrides)?)?;
        let study = plan.manifest.name.clone();
        if !study
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(Error::user(format!(
                "study name {study:?}: not usable as a Slurm job name"
            )));
        }
        let out = absolute(&req.out.clone().unwrap_or_else(|| req.results.join(&study)))?;
        let evoquant = match &req.evoquant {
            Some(p) => absolute(p)?,
            None => std::env::current_exe()
                .map_err(|e| Error::io("cannot find the evoquant binary", e))?,
        };
        let (script_dir, script_flag) = match &req.script_dir {
            Some(d) => (absolute(d)?, "--script-dir"),
            None => (out.join("slurm"), "--out"),
        };
        let script_dir = utf8(script_flag, &script_dir)?;
        // The log paths are the only paths in #SBATCH lines.
        quote::check_directive_path(script_flag, &script_dir)?;
        // Tasks would refuse a folder holding shards of another run: say so now.
        let this = ShardMeta::new(
            &plan,
            Shard::new(0, req.shards as usize).map_err(|e| Error::user(e.to_string()))?,
            &req.overrides,
        );
        for (path, other) in read_metas(&out)? {
            if let Some(why) = this.mismatch(&other) {
                return Err(Error::user(format!(
                    "{} holds {} that cannot be merged with this run ({why}); use another --out, or delete {} to start over",
                    out.display(),
                    path.display(),
                    out.join(SHARDS_DIR).display()
                )));
            }
        }
        let manifest =
            std::fs::canonicalize(&req.manifest).map_err(|e| Error::input(&req.manifest, e))?;
        Ok(SlurmPlan {
            study,
            manifest: utf8("manifest", &manifest)?,
            manifest_sha256: crate::ids::hash_hex(&plan.manifest.source.text),
            set: req.overrides.set.clone(),
            sweep: req.overrides.sweep.clone(),
            trials: plan.trials.len(),
            shards: req.shards,
            array_parallelism: req.array_parallelism,
            partition: req.partition.clone(),
            time: req.time.clone(),
            cpus_per_task: req.cpus_per_task,
            sbatch_options: req.sbatch_options.clone(),
            out: utf8("--out", &out)?,
            evoquant: utf8("--evoquant", &evoquant)?,
            script_dir,
        })
    }

    pub fn out(&self) -> &Path {
        Path::new(&self.out)
    }

    pub fn trials(&self) -> usize {
        self.trials
    }

    pub fn shards(&self) -> u32 {
        self.shards
    }

    pub fn array_script_path(&self) -> PathBuf {
        Path::new(&self.script_dir).join("array.sbatch")
    }

    pub fn merge_script_path(&self) -> PathBuf {
        Path::new(&self.script_dir).join("merge.sbatch")
    }

    pub fn log_dir(&self) -> PathBuf {
        Path::new(&self.script_dir).join("logs")
    }

    /// Create the log folder and write both scripts atomically.
    pub fn write_scripts(&self) -> Result<Scripts> {
        let logs = self.log_dir();
        std::fs::create_dir_all(&logs)
            .map_err(|e| Error::io(format!("cannot create {}", logs.display()), e))?;
        let scripts = Scripts {
            array: self.array_script_path(),
            merge: self.merge_script_path(),
        };
        write_atomic(&scripts.array, self.render_array().as_bytes())?;
        write_atomic(&scripts.merge, self.render_merge().as_bytes())?;
        Ok(scripts)
    }
}
