//! The one integration-test binary: the CLI as a user runs it, one module per area.

mod chaos;
mod data;
mod harness;
mod manifest_errors;
mod quantize;
mod report;
mod runner;
mod snapshots;
