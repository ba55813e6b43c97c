//! `run`, `plan` and `validate`: everything that starts from manifests.

use crate::error::{Error, Result, exit};
use crate::manifest::{Manifest, Overrides, collect_paths};
use crate::runner::shard::{Shard, run_shard};
use crate::runner::{self, Plan, RunOptions, display_value, progress_mode};
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct OverrideArgs {
    /// Set a parameter, e.g. `--set population=32` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(super) set: Vec<String>,
    /// Replace or add a grid axis, e.g. `--sweep quant.bits=2,3,4` (repeatable).
    #[arg(long = "sweep", value_name = "KEY=V1,V2,...")]
    pub(super) sweep: Vec<String>,
}

impl OverrideArgs {
    pub(super) fn to_overrides(&self) -> Overrides {
        Overrides {
            set: self.set.clone(),
            sweep: self.sweep.clone(),
        }
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Manifest files or folders of manifests.
    #[arg(required = true, value_name = "MANIFEST|DIR")]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    overrides: OverrideArgs,
    /// Results folder (one manifest only); default: RESULTS/<study name>.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Parent folder of per-study results folders.
    #[arg(long, value_name = "DIR", default_value = "results")]
    results: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Continue a results folder: skip trials already in its journal.
    #[arg(long, conflicts_with = "force")]
    resume: bool,
    /// Replace an existing results folder.
    #[arg(long)]
    force: bool,
    /// Stop starting trials after the first failure.
    #[arg(long)]
    fail_fast: bool,
    /// Do not write report.md and plots/ after the run (`evoquant report` writes them later).
    #[arg(long)]
    no_report: bool,
    /// No progress output; only failures and errors.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Run only shard K of N: the trials whose index i (see `evoquant plan`)
    /// has i mod N = K. Writes OUT/shards/shard-K-of-N.*; `evoquant merge OUT`
    /// writes the final files once every shard is done.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
}

/// Load and validate every manifest before running any.
fn load_all(inputs: &[PathBuf], overrides: &Overrides) -> Result<Vec<Plan>> {
    let paths = collect_paths(inputs)?;
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match Manifest::load(&path, overrides).and_then(Plan::new) {
            Ok(plan) => plans.push(plan),
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(plans),
        1 => Err(errors.remove(0)),
        _ => Err(Error::user(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )),
    }
}

pub fn run(args: RunArgs) -> Result<i32> {
    let overrides = args.overrides.to_overrides();
    let plans = load_all(&args.inputs, &overrides)?;
    if args.out.is_some() && plans.len() > 1 {
        return Err(Error::user(
            "--out names one results folder, but several manifests were given; use --results DIR",
        ));
    }
    let out_dirs: Vec<PathBuf> = plans
        .iter()
        .map(|p| {
            args.out
                .clone()
                .unwrap_or_else(|| args.results.join(&p.manifest.name))
        })
        .collect();
    for dir in &out_dirs {
        super::check_out_dir(dir)?;
    }
    for (i, dir) in out_dirs.iter().enumerate() {
        if let Some(j) = out_dirs[..i].iter().position(|d| d == dir) {
            return Err(Error::user(format!(
                "{} and {} both write to {}; give them different [study] names",
                plans[j].manifest.source.path.display(),
                plans[i].manifest.source.path.display(),
                dir.display()
            )));
        }
    }
    let mode = progress_mode(std::io::stderr().is_terminal(), args.quiet);
    let jobs = args.jobs.map_or_else(super::default_jobs, usize::from);
    let mut code = exit::OK;
    for (plan, out_dir) in plans.iter().zip(out_dirs) {
        let opts = RunOptions {
            out_dir,
            jobs,
            resume: args.resume,
            force: args.force,
            fail_fast: args.fail_fast,
            progress: mode,
        };
        let (result, label, written, next) = if let Some(shard) = args.shard {
            let result = run_shard(plan, shard, &overrides, &opts)?;
            let journal = shard.journal_path(&result.out_dir);
            let next = format!(
                "; when every shard is done: evoquant merge {}",
                result.out_dir.display()
            );
            (result, format!(" shard {shard}"), journal, next)
        } else {
            let result = runner::run(plan, &opts)?;
            if !args.no_report {
                crate::report::write_report(
                    &result.out_dir,
                    &result.out_dir,
                    &crate::studies::Registry,
                )?;
            }
            let dir = result.out_dir.clone();
            (result, String::new(), dir, String::new())
        };
        if !args.quiet {
            super::say_err(&format!(
                "{}{label}: {} trials ({} ran, {} cached, {} failed{}) -> {}{next}",
                plan.manifest.name,
                result.total,
                result.ran,
                result.cached,
                result.failed,
                if result.not_run > 0 {
                    format!(", {} not run", result.not_run)
                } else {
                    String::new()
                },
                written.display()
            ))?;
        }
        if !result.complete() {
            code = exit::FAILURE;
            if args.fail_fast {
                break;
            }
        }
    }
    Ok(code)
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Manifest files or folders of manifests (each `*.toml` in a folder).
    #[arg(required = true, value_name = "MANIFEST|DIR")]
    inputs: Vec<PathBuf>,
    /// A previous results folder: estimate the run time from the trial
    /// timings in its run.json.
    #[arg(long, value_name = "RESULTS_DIR")]
    timings: Option<PathBuf>,
    /// Worker threads the estimate assumes (default: all cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    #[command(flatten)]
    overrides: OverrideArgs,
}

/// Per-trial seconds from a results folder's run.json.
fn read_timings(dir: &std::path::Path) -> Result<std::collections::BTreeMap<String, f64>> {
    let path = dir.join("run.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::input(&path, e))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::user(format!("{}: malformed JSON: {e}", path.display())))?;
    let map: std::collections::BTreeMap<String, f64> = doc
        .get("trial_seconds")
        .and_then(|t| t.as_object())
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_f64().map(|s| (k.clone(), s)))
                .collect()
        })
        .unwrap_or_default();
    if map.is_empty() {
        return Err(Error::user(format!(
            "{}: records no trial timings (run it again with this evoquant version)",
            path.display()
        )));
    }
    Ok(map)
}

pub fn plan(args: PlanArgs) -> Result<i32> {
    // Every manifest is validated before anything is printed.
    let plans = load_all(&args.inputs, &args.overrides.to_overrides())?;
    let several = plans.len() > 1;
    for (i, plan) in plans.iter().enumerate() {
        if several {
            let sep = if i == 0 { "" } else { "\n" };
            super::say(&format!("{sep}# {}", plan.manifest.source.path.display()))?;
        }
        print_plan(plan)?;
    }
    if let Some(dir) = &args.timings {
        let timings = read_timings(dir)?;
        let jobs = args.jobs.map_or_else(super::default_jobs, usize::from);
        let mean = timings.values().sum::<f64>() / timings.len() as f64;
        let (mut total, mut known, mut count) = (0.0, 0usize, 0usize);
        for plan in &plans {
            for t in &plan.trials {
                count += 1;
                match timings.get(&t.id) {
                    Some(s) => {
                        total += s;
                        known += 1;
                    }
                    None => total += mean,
                }
            }
        }
        super::say(&format!(
            "estimated run time: about {:.0} s with {jobs} jobs ({:.0} s of trial time; {known} of {count} trials timed in {}, the rest at their mean {:.2} s)",
            (total / jobs as f64).max(mean.min(total)),
            total,
            dir.join("run.json").display(),
            mean
        ))?;
    }
    Ok(exit::OK)
}

fn print_plan(plan: &Plan) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut header = vec![
        "index".to_string(),
        "trial_id".into(),
        "replicate".into(),
        "seed".into(),
    ];
    header.extend(plan.swept_keys.iter().cloned());
    let write = |out: &mut dyn Write, s: String| {
        out.write_all(s.as_bytes())
            .map_err(|e| Error::io("cannot write to stdout", e))
    };
    write(&mut out, header.join("\t") + "\n")?;
    for t in &plan.trials {
        let mut row = vec![
            t.index.to_string(),
            t.id.clone(),
            t.replicate.to_string(),
            t.seed.to_string(),
        ];
        row.extend(plan.points[t.point].swept.iter().map(display_value));
        write(&mut out, row.join("\t") + "\n")?;
    }
    write(
        &mut out,
        format!(
            "{} trials: {} points x {} replicates ({})\n",
            plan.trials.len(),
            plan.points.len(),
            plan.manifest.replicates,
            plan.kind()
        ),
    )?;
    out.flush()
        .map_err(|e| Error::io("cannot write to stdout", e))
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Manifest files or folders of manifests.
    #[arg(required = true, value_name = "MANIFEST|DIR")]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    overrides: OverrideArgs,
}

pub fn validate(args: ValidateArgs) -> Result<i32> {
    for plan in load_all(&args.inputs, &args.overrides.to_overrides())? {
        super::say(&format!(
            "ok: {} ({}, {} trials)",
            plan.manifest.source.path.display(),
            plan.kind(),
            plan.trials.len()
        ))?;
    }
    Ok(exit::OK)
}
