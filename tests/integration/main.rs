//! The one integration-test binary: the CLI as a user runs it, one module per area.

mod apply;
mod calibration;
mod chaos;
mod command;
mod data;
mod decoder;
mod eval;
mod evaluator;
mod failures;
mod formats;
mod fuzz_regressions;
mod hardening;
mod harness;
mod input_limits;
mod manifest_errors;
mod mixed_precision;
mod quantize;
mod reliability;
mod report;
mod results_ux;
mod runner;
mod shard;
mod slurm;
mod slurm_scripts;
mod snapshots;
mod targets;
