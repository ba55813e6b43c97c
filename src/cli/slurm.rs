//! `slurm`: flags to a [`SlurmRequest`]; the scripts, their checks and the
//! submission live in [`crate::slurm`].

use super::run::OverrideArgs;
use crate::error::{Result, exit};
use crate::slurm::{SlurmPlan, SlurmRequest, find_sbatch, submit};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SlurmArgs {
    /// The manifest to run.
    manifest: PathBuf,
    #[command(flatten)]
    overrides: OverrideArgs,
    /// Number of shards = array tasks; shard K runs trials with index mod N = K.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    shards: u32,
    /// Slurm partition (default: the site's default partition).
    #[arg(long, value_name = "NAME")]
    partition: Option<String>,
    /// Time limit per task, in Slurm's format (e.g. 30, 2:00:00, 1-12:00:00).
    #[arg(long, value_name = "TIME")]
    time: Option<String>,
    /// CPUs per array task; evoquant uses them as its --jobs.
    #[arg(long, value_name = "C", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    cpus_per_task: u16,
    /// At most M array tasks at once (`--array=0-(N-1)%M`; default: no limit).
    #[arg(long, value_name = "M", value_parser = clap::value_parser!(u32).range(1..))]
    array_parallelism: Option<u32>,
    /// Results folder shared by every task; default: RESULTS/<study name>.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Parent folder of per-study results folders.
    #[arg(long, value_name = "DIR", default_value = "results")]
    results: PathBuf,
    /// An extra `#SBATCH` option for both jobs, e.g. `--sbatch-option=--account=proj` (repeatable).
    #[arg(
        long = "sbatch-option",
        value_name = "OPTION",
        allow_hyphen_values = true
    )]
    sbatch_options: Vec<String>,
    /// evoquant binary the compute nodes run (default: this binary).
    #[arg(long, value_name = "PATH")]
    evoquant: Option<PathBuf>,
    /// Folder for the scripts and task logs (default: OUT/slurm).
    #[arg(long, value_name = "DIR")]
    script_dir: Option<PathBuf>,
    /// Submit both jobs with sbatch instead of printing the commands.
    #[arg(long)]
    submit: bool,
}

impl SlurmArgs {
    fn request(&self) -> SlurmRequest {
        SlurmRequest {
            manifest: self.manifest.clone(),
            overrides: self.overrides.to_overrides(),
            shards: self.shards,
            partition: self.partition.clone(),
            time: self.time.clone(),
            cpus_per_task: self.cpus_per_task,
            array_parallelism: self.array_parallelism,
            out: self.out.clone(),
            results: self.results.clone(),
            sbatch_options: self.sbatch_options.clone(),
            evoquant: self.evoquant.clone(),
            script_dir: self.script_dir.clone(),
        }
    }
}

pub fn slurm(args: SlurmArgs) -> Result<i32> {
    // Everything that can refuse happens before anything is written.
    let sbatch = args.submit.then(find_sbatch).transpose()?;
    let plan = SlurmPlan::new(&args.request())?;
    let scripts = plan.write_scripts()?;
    println!("wrote {}", scripts.array.display());
    println!("wrote {}", scripts.merge.display());
    if plan.shards() as usize > plan.trials() {
        eprintln!(
            "note: {} shards for {} trials: shards {} and up have no trials",
            plan.shards(),
            plan.trials(),
            plan.trials()
        );
    }
    let Some(sbatch) = sbatch else {
        println!("submit with:");
        for c in plan.submit_commands() {
            println!("  {c}");
        }
        return Ok(exit::OK);
    };
    let jobs = submit(&plan, &sbatch)?;
    println!("array job: {}", jobs.array);
    println!("merge job: {}", jobs.merge);
    println!(
        "results: {} (after the merge job: trials.csv, summary.csv)",
        plan.out().display()
    );
    Ok(exit::OK)
}
