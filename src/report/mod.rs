//! Everything written or read after trials ran: result files, provenance,
//! `diff`, `check`, and the human-readable report (report.md and its plots).

pub mod claims;
pub mod compare;
pub mod diff;
mod frame;
pub mod markdown;
pub mod metrics;
pub mod plots;
mod provenance;
mod results;
pub mod results_dir;
pub mod snapshot;
pub mod stats;

pub use frame::Frame;
pub use markdown::{PLOTS_DIR, REPORT_MD, ReportFiles, build_report, write_report};
pub use provenance::write_run_json;
pub use results::{
    REPORT_FILE, RunInfo, SUMMARY_FILE, TRIAL_DOCS_DIR, TRIALS_FILE, TrialInfo, listed_artifacts,
    stays_inside, write_results,
};
