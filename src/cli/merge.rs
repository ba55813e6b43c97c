//! `merge`: combine the shards of a results folder into its final files.

use crate::error::{Result, exit};
use crate::runner::merge::merge as merge_shards;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The results folder the shards wrote into (`run --shard K/N --out DIR`).
    #[arg(value_name = "OUTDIR")]
    out_dir: PathBuf,
    /// Do not write report.md and plots/ after merging.
    #[arg(long)]
    no_report: bool,
    /// Print nothing on success.
    #[arg(long, short = 'q')]
    quiet: bool,
}

pub fn merge(args: MergeArgs) -> Result<i32> {
    let result = merge_shards(&args.out_dir)?;
    // The same report a local run writes, so merged folders match it byte for byte.
    if !args.no_report {
        crate::report::write_report(&result.out_dir, &result.out_dir, &crate::studies::Registry)?;
    }
    if !args.quiet {
        eprintln!(
            "merged {} shards: {} trials ({} failed) -> {}",
            result.shards,
            result.total,
            result.failed,
            result.out_dir.display()
        );
    }
    Ok(if result.failed > 0 {
        exit::FAILURE
    } else {
        exit::OK
    })
}
