//! `diff`: compare two result sets.

use crate::error::{Error, Result, exit};
use crate::report::diff::{self as d, DiffFormat, DiffOptions, Tolerance};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Markdown,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FailOn {
    /// Any difference: a changed cell, a detectable change, an unmatched row.
    Any,
    /// Only a comparison whose verdict is "worse".
    Worse,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The old results folder or CSV file.
    old: PathBuf,
    /// The new results folder or CSV file.
    new: PathBuf,
    /// Absolute tolerance for numeric cells.
    #[arg(long, default_value_t = 0.0, value_name = "X")]
    abs_tol: f64,
    /// Relative tolerance for numeric cells (of the larger magnitude).
    #[arg(long, default_value_t = 0.0, value_name = "X")]
    rel_tol: f64,
    /// Per-metric tolerance, e.g. `--tol fitness=0.01` or `--tol fitness=0:0.05` (abs:rel).
    #[arg(long = "tol", value_name = "METRIC=ABS[:REL]")]
    tol: Vec<String>,
    /// Match rows by these sweep-point columns (and `replicate`) instead of
    /// by trial id, e.g. `--by quant.bits,quant.block_size`. By default rows
    /// are matched by trial id, or by the swept columns and replicate when
    /// the two runs share no trial id (a parameter changed).
    #[arg(long, value_name = "KEYS", value_delimiter = ',')]
    by: Vec<String>,
    /// What makes the exit code 1.
    #[arg(long, value_enum, default_value_t = FailOn::Any)]
    fail_on: FailOn,
    /// List every sweep point × metric comparison, also those without a
    /// detectable change.
    #[arg(long)]
    all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn parse_tol(arg: &str) -> Result<(String, Tolerance)> {
    let bad = || {
        Error::user(format!(
            "--tol {arg}: expected METRIC=ABS or METRIC=ABS:REL with non-negative numbers"
        ))
    };
    let (metric, spec) = arg.split_once('=').ok_or_else(bad)?;
    let (abs, rel) = spec.split_once(':').unwrap_or((spec, "0"));
    let abs: f64 = abs.trim().parse().map_err(|_| bad())?;
    let rel: f64 = rel.trim().parse().map_err(|_| bad())?;
    if metric.trim().is_empty() || abs.is_nan() || rel.is_nan() || abs < 0.0 || rel < 0.0 {
        return Err(bad());
    }
    Ok((metric.trim().to_string(), Tolerance { abs, rel }))
}

pub fn diff(args: DiffArgs) -> Result<i32> {
    for (flag, x) in [("--abs-tol", args.abs_tol), ("--rel-tol", args.rel_tol)] {
        if x.is_nan() || x < 0.0 {
            return Err(Error::user(format!(
                "{flag} {x}: must be a non-negative number"
            )));
        }
    }
    let opts = DiffOptions {
        default: Tolerance {
            abs: args.abs_tol,
            rel: args.rel_tol,
        },
        per_metric: args
            .tol
            .iter()
            .map(|t| parse_tol(t))
            .collect::<Result<_>>()?,
        by: args
            .by
            .iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect(),
    };
    if !args.by.is_empty() && opts.by.is_empty() {
        return Err(Error::user(
            "--by: expected column names, e.g. --by quant.bits",
        ));
    }
    let old = d::load_table(&args.old)?;
    let new = d::load_table(&args.new)?;
    let report = d::diff_tables(&old, &new, &opts)?;
    let format = match args.format {
        Format::Table => DiffFormat::Table,
        Format::Markdown => DiffFormat::Markdown,
        Format::Json => DiffFormat::Json,
    };
    let text = d::render_with(&report, format, args.all);
    super::say(text.strip_suffix('\n').unwrap_or(&text))?;
    let failed = match args.fail_on {
        FailOn::Any => report.differs(),
        FailOn::Worse => report.worse(),
    };
    Ok(if failed { exit::FAILURE } else { exit::OK })
}
