//! The one integration-test binary: the CLI as a user runs it.

mod harness;
mod manifest_errors;
mod runner;
mod snapshots;
