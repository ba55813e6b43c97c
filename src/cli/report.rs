//! `report`: regenerate report.md and its plots from a results folder.

use crate::error::{Result, exit};
use crate::report::write_report;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A results folder written by `evoquant run`.
    #[arg(value_name = "RESULTS_DIR")]
    results: PathBuf,
    /// Where to write report.md and plots/ (default: RESULTS_DIR itself).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn report(args: ReportArgs) -> Result<i32> {
    let out = args.out.as_ref().unwrap_or(&args.results);
    super::check_out_dir(out)?;
    let files = write_report(&args.results, out, &crate::studies::Registry)?;
    super::say(&format!(
        "wrote {} and {} plots in {}",
        files.markdown.display(),
        files.plots.len(),
        out.join(crate::report::PLOTS_DIR).display()
    ))?;
    Ok(exit::OK)
}
