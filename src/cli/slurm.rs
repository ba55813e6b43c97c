//! `slurm`: write (and optionally submit) the sbatch scripts that run one
//! manifest as a Slurm job array of shards plus a dependent merge job.
//!
//! evoquant does not schedule anything itself: Slurm does. The scripts are
//! plain bash with every resolved option at the top, so a user can read them,
//! adapt them to their site and submit them by hand.

use super::run::OverrideArgs;
use crate::error::{Error, Result, exit};
use crate::fsio::write_atomic;
use crate::manifest::Manifest;
use crate::runner::Plan;
use crate::runner::shard::{ASSIGNMENT, SHARDS_DIR, Shard, ShardMeta, read_metas};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Everything the scripts need, resolved to absolute paths and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct SlurmPlan {
    pub study: String,
    pub manifest: PathBuf,
    pub manifest_sha256: String,
    pub set: Vec<String>,
    pub sweep: Vec<String>,
    pub trials: usize,
    pub shards: u32,
    pub array_parallelism: Option<u32>,
    pub partition: Option<String>,
    pub time: Option<String>,
    pub cpus_per_task: u16,
    pub sbatch_options: Vec<String>,
    pub out: PathBuf,
    pub evoquant: PathBuf,
    pub script_dir: PathBuf,
}

/// Single-quote for bash: safe for any text.
fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:,+@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn path_text(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::user(format!("{}: path is not valid UTF-8", p.display())))
}

/// Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or UNLIMITED.
fn valid_time(t: &str) -> bool {
    if matches!(t, "UNLIMITED" | "INFINITE" | "unlimited" | "infinite") {
        return true;
    }
    let nums = |s: &str, max_parts: usize| {
        let parts: Vec<&str> = s.split(':').collect();
        parts.len() <= max_parts
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    match t.split_once('-') {
        Some((days, rest)) => nums(days, 1) && nums(rest, 3),
        None => nums(t, 3),
    }
}

fn check_args(args: &SlurmArgs) -> Result<()> {
    if let Some(p) = &args.partition {
        if p.is_empty()
            || !p
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.,-".contains(&b))
        {
            return Err(Error::user(format!(
                "--partition {p:?}: expected a partition name (letters, digits, _ . , -)"
            )));
        }
    }
    if let Some(t) = &args.time {
        if !valid_time(t) {
            return Err(Error::user(format!(
                "--time {t:?}: expected Slurm's format, e.g. 30 (minutes), 2:00:00 or 1-12:00:00"
            )));
        }
    }
    for o in &args.sbatch_options {
        if !o.starts_with("--") || o.len() < 3 || o.chars().any(char::is_control) {
            return Err(Error::user(format!(
                "--sbatch-option {o:?}: expected one long sbatch option such as --account=proj"
            )));
        }
    }
    Ok(())
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::input(p, e))
}

/// Resolve the arguments against the manifest; validates the manifest.
fn resolve(args: &SlurmArgs) -> Result<SlurmPlan> {
    check_args(args)?;
    let overrides = args.overrides.to_overrides();
    let plan = Plan::new(Manifest::load(&args.manifest, &overrides)?)?;
    let out = absolute(
        &args
            .out
            .clone()
            .unwrap_or_else(|| args.results.join(&plan.manifest.name)),
    )?;
    let evoquant = match &args.evoquant {
        Some(p) => absolute(p)?,
        None => {
            std::env::current_exe().map_err(|e| Error::io("cannot find the evoquant binary", e))?
        }
    };
    // Tasks would refuse a folder holding shards of another run: say so now.
    let this = ShardMeta::new(
        &plan,
        Shard::new(0, args.shards as usize).map_err(Error::user)?,
        &overrides,
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
    let script_dir = match &args.script_dir {
        Some(d) => absolute(d)?,
        None => out.join("slurm"),
    };
    Ok(SlurmPlan {
        study: plan.manifest.name.clone(),
        manifest: std::fs::canonicalize(&args.manifest)
            .map_err(|e| Error::input(&args.manifest, e))?,
        manifest_sha256: crate::runner::hash_hex(&plan.manifest.source.text),
        set: overrides.set,
        sweep: overrides.sweep,
        trials: plan.trials.len(),
        shards: args.shards,
        array_parallelism: args.array_parallelism,
        partition: args.partition.clone(),
        time: args.time.clone(),
        cpus_per_task: args.cpus_per_task,
        sbatch_options: args.sbatch_options.clone(),
        out,
        evoquant,
        script_dir,
    })
}

impl SlurmPlan {
    pub fn array_script_path(&self) -> PathBuf {
        self.script_dir.join("array.sbatch")
    }

    pub fn merge_script_path(&self) -> PathBuf {
        self.script_dir.join("merge.sbatch")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.script_dir.join("logs")
    }

    fn array_spec(&self) -> String {
        let mut s = format!("0-{}", self.shards - 1);
        if let Some(m) = self.array_parallelism {
            s.push_str(&format!("%{m}"));
        }
        s
    }

    /// The commands that submit both jobs, as a user would type them.
    pub fn submit_commands(&self) -> Result<Vec<String>> {
        Ok(vec![
            format!(
                "array=$(sbatch --parsable {})",
                sh_quote(&path_text(&self.array_script_path())?)
            ),
            format!(
                "sbatch --parsable --dependency=afterok:${{array%%;*}} --kill-on-invalid-dep=yes {}",
                sh_quote(&path_text(&self.merge_script_path())?)
            ),
        ])
    }

    fn header(&self, what: &str) -> Result<Vec<String>> {
        let or_default = |v: &Option<String>| v.clone().unwrap_or_else(|| "(site default)".into());
        let overrides = if self.set.is_empty() && self.sweep.is_empty() {
            "(none)".to_string()
        } else {
            self.override_flags().join(" ")
        };
        let mut h = vec![
            "#!/bin/bash".to_string(),
            format!("# evoquant on Slurm: {what} for study {:?}.", self.study),
            format!(
                "# Generated by evoquant {} (`evoquant slurm`); adapt it to your site freely.",
                env!("CARGO_PKG_VERSION")
            ),
            "#".into(),
            "# Resolved options".into(),
            format!("#   manifest           {}", path_text(&self.manifest)?),
            format!("#   manifest sha256    {}", self.manifest_sha256),
            format!("#   overrides          {overrides}"),
            format!(
                "#   trials             {} (shard K runs the trials with {ASSIGNMENT} = K)",
                self.trials
            ),
            format!(
                "#   shards             {} (array indices {})",
                self.shards,
                self.array_spec()
            ),
            format!(
                "#   array parallelism  {}",
                self.array_parallelism
                    .map_or("no limit".to_string(), |m| format!("{m} tasks at once"))
            ),
            format!("#   partition          {}", or_default(&self.partition)),
            format!("#   time limit         {}", or_default(&self.time)),
            format!(
                "#   cpus per task      {} (evoquant --jobs)",
                self.cpus_per_task
            ),
            format!("#   results folder     {}", path_text(&self.out)?),
            format!("#   evoquant binary    {}", path_text(&self.evoquant)?),
            format!("#   task logs          {}", path_text(&self.log_dir())?),
            "#".into(),
            "# Submit both jobs (the merge job runs only when every array task succeeded):".into(),
        ];
        h.extend(self.submit_commands()?.iter().map(|c| format!("#   {c}")));
        h.push("#".into());
        Ok(h)
    }

    fn override_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        for s in &self.set {
            flags.push(format!("--set {}", sh_quote(s)));
        }
        for s in &self.sweep {
            flags.push(format!("--sweep {}", sh_quote(s)));
        }
        flags
    }

    fn sbatch_lines(&self, job_name: &str, log: &str) -> Result<Vec<String>> {
        let mut l = vec![
            format!("#SBATCH --job-name={job_name}"),
            format!("#SBATCH --cpus-per-task={}", self.cpus_per_task),
            format!("#SBATCH --output={}", path_text(&self.log_dir().join(log))?),
        ];
        if let Some(p) = &self.partition {
            l.push(format!("#SBATCH --partition={p}"));
        }
        if let Some(t) = &self.time {
            l.push(format!("#SBATCH --time={t}"));
        }
        l.extend(self.sbatch_options.iter().map(|o| format!("#SBATCH {o}")));
        Ok(l)
    }

    /// The job array: one task per shard, each resuming its own journal.
    pub fn array_script(&self) -> Result<String> {
        let mut l = self.header("job array of shards")?;
        l.extend(self.sbatch_lines(&format!("evoquant-{}", self.study), "%A_%a.out")?);
        l.push(format!("#SBATCH --array={}", self.array_spec()));
        l.push("#SBATCH --requeue".into());
        l.push(String::new());
        l.push("set -euo pipefail".into());
        l.push(String::new());
        l.push(format!(
            "EVOQUANT={}",
            sh_quote(&path_text(&self.evoquant)?)
        ));
        l.push(format!(
            "MANIFEST={}",
            sh_quote(&path_text(&self.manifest)?)
        ));
        l.push(format!("OUT={}", sh_quote(&path_text(&self.out)?)));
        l.push(format!("SHARDS={}", self.shards));
        l.push(String::new());
        l.push(
            "# --resume: a requeued or re-run task skips the trials its journal already holds."
                .into(),
        );
        let mut cmd = format!(
            "\"$EVOQUANT\" run \"$MANIFEST\" --out \"$OUT\" --shard \"$SLURM_ARRAY_TASK_ID/$SHARDS\" --resume --jobs {}",
            self.cpus_per_task
        );
        for f in self.override_flags() {
            cmd.push(' ');
            cmd.push_str(&f);
        }
        l.push(cmd);
        l.push(String::new());
        Ok(l.join("\n"))
    }

    /// The merge job, submitted with `--dependency=afterok:<array job>`.
    pub fn merge_script(&self) -> Result<String> {
        let mut l = self.header("merge job (after the job array succeeded)")?;
        l.extend(self.sbatch_lines(&format!("evoquant-merge-{}", self.study), "merge_%j.out")?);
        l.retain(|x| !x.starts_with("#SBATCH --cpus-per-task"));
        l.push("#SBATCH --cpus-per-task=1".into());
        l.push(String::new());
        l.push("set -euo pipefail".into());
        l.push(String::new());
        l.push(format!(
            "EVOQUANT={}",
            sh_quote(&path_text(&self.evoquant)?)
        ));
        l.push(format!("OUT={}", sh_quote(&path_text(&self.out)?)));
        l.push(String::new());
        l.push("# Writes trials.csv, summary.csv and the artifacts; refuses (exit 2) listing any missing trial.".into());
        l.push("\"$EVOQUANT\" merge \"$OUT\"".into());
        l.push(String::new());
        Ok(l.join("\n"))
    }
}

/// `sbatch` on PATH, if any.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn sbatch(sbatch: &Path, args: &[String]) -> Result<String> {
    let out = Command::new(sbatch)
        .args(args)
        .output()
        .map_err(|e| Error::io(format!("cannot run {}", sbatch.display()), e))?;
    if !out.status.success() {
        return Err(Error::user(format!(
            "sbatch {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
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

pub fn slurm(args: SlurmArgs) -> Result<i32> {
    // Everything that can refuse happens before anything is written.
    let sbatch_path = if args.submit {
        Some(find_on_path("sbatch").ok_or_else(|| {
            Error::user(
                "--submit: sbatch is not on PATH (is this a Slurm login node?); run without --submit to write the scripts and print the commands",
            )
        })?)
    } else {
        None
    };
    let plan = resolve(&args)?;
    let array = plan.array_script()?;
    let merge = plan.merge_script()?;
    std::fs::create_dir_all(plan.log_dir())
        .map_err(|e| Error::io(format!("cannot create {}", plan.log_dir().display()), e))?;
    write_atomic(&plan.array_script_path(), array.as_bytes())?;
    write_atomic(&plan.merge_script_path(), merge.as_bytes())?;
    println!("wrote {}", plan.array_script_path().display());
    println!("wrote {}", plan.merge_script_path().display());
    if plan.shards as usize > plan.trials {
        eprintln!(
            "note: {} shards for {} trials: shards {} and up have no trials",
            plan.shards, plan.trials, plan.trials
        );
    }
    let Some(sbatch_path) = sbatch_path else {
        println!("submit with:");
        for c in plan.submit_commands()? {
            println!("  {c}");
        }
        return Ok(exit::OK);
    };
    let array_id = sbatch(
        &sbatch_path,
        &["--parsable".into(), path_text(&plan.array_script_path())?],
    )?;
    println!("array job: {array_id}");
    let merge_id = sbatch(
        &sbatch_path,
        &[
            "--parsable".into(),
            format!("--dependency=afterok:{array_id}"),
            "--kill-on-invalid-dep=yes".into(),
            path_text(&plan.merge_script_path())?,
        ],
    )?;
    println!("merge job: {merge_id}");
    println!(
        "results: {} (after the merge job: trials.csv, summary.csv)",
        plan.out.display()
    );
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> SlurmPlan {
        SlurmPlan {
            study: "tiny".into(),
            manifest: "/m/tiny.toml".into(),
            manifest_sha256: "ab".repeat(32),
            set: vec!["population=8".into(), "name=it's".into()],
            sweep: vec![],
            trials: 8,
            shards: 4,
            array_parallelism: Some(2),
            partition: Some("gpu".into()),
            time: Some("1:00:00".into()),
            cpus_per_task: 2,
            sbatch_options: vec!["--account=proj".into()],
            out: "/r/tiny".into(),
            evoquant: "/bin/evoquant".into(),
            script_dir: "/r/tiny/slurm".into(),
        }
    }

    #[test]
    fn array_script_has_resolved_options_and_the_shard_command() {
        let s = plan().array_script().unwrap();
        assert!(s.starts_with("#!/bin/bash\n"));
        for needle in [
            "#SBATCH --array=0-3%2\n",
            "#SBATCH --partition=gpu\n",
            "#SBATCH --time=1:00:00\n",
            "#SBATCH --cpus-per-task=2\n",
            "#SBATCH --account=proj\n",
            "#SBATCH --output=/r/tiny/slurm/logs/%A_%a.out\n",
            "#   shards             4 (array indices 0-3%2)\n",
            "--shard \"$SLURM_ARRAY_TASK_ID/$SHARDS\" --resume --jobs 2 --set population=8 --set 'name=it'\\''s'",
            "SHARDS=4\n",
        ] {
            assert!(s.contains(needle), "missing {needle:?} in\n{s}");
        }
        // sbatch reads #SBATCH lines only before the first command.
        let lines: Vec<&str> = s.lines().collect();
        let first_command = lines
            .iter()
            .position(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap();
        let last_sbatch = lines
            .iter()
            .rposition(|l| l.starts_with("#SBATCH"))
            .unwrap();
        assert!(last_sbatch < first_command);
    }

    #[test]
    fn merge_script_merges_the_shared_folder() {
        let s = plan().merge_script().unwrap();
        assert!(s.contains("\"$EVOQUANT\" merge \"$OUT\"\n"), "{s}");
        assert!(s.contains("#SBATCH --cpus-per-task=1\n"));
        assert!(!s.contains("--array"));
        let mut p = plan();
        p.array_parallelism = None;
        assert!(p.array_script().unwrap().contains("#SBATCH --array=0-3\n"));
        let c = p.submit_commands().unwrap();
        assert!(c[1].contains("--dependency=afterok:${array%%;*}"), "{c:?}");
    }

    #[test]
    fn time_formats() {
        for t in [
            "30",
            "30:00",
            "2:00:00",
            "1-12",
            "1-12:00",
            "1-12:00:00",
            "UNLIMITED",
        ] {
            assert!(valid_time(t), "{t}");
        }
        for t in ["", "1h", "1:2:3:4", "-1", "1-", "1--2", "a-1"] {
            assert!(!valid_time(t), "{t}");
        }
    }

    #[test]
    fn quoting_survives_anything() {
        assert_eq!(sh_quote("a/b.toml"), "a/b.toml");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
    }
}
