//! evoquant: reproducible studies of automated neural-network quantization.
//!
//! Data flows one way: a manifest (`manifest`) expands into seeded trials that
//! the runner (`runner`) executes in parallel through a study (`studies`);
//! the records they return become reports (`report`). The domain modules
//! (`quant`, `nn`, `evo`, `models`) are shared by the studies.

pub mod apply;
pub mod check;
pub mod cli;
pub mod error;
pub mod evo;
pub mod fsio;
pub mod hw;
pub mod ids;
pub mod manifest;
pub mod models;
pub mod nn;
pub mod params;
pub mod quant;
pub mod records;
pub mod report;
pub mod runner;
pub mod slurm;
pub mod studies;
pub mod subprocess;
pub mod value;

pub use error::{Error, Result};
