//! Everything written or read after trials ran: result files, provenance,
//! `diff`, `check`, and the human-readable report (report.md and its plots).

pub mod diff;
mod frame;
pub mod markdown;
pub mod plots;
mod provenance;
mod results;
pub mod results_dir;
pub mod snapshot;
pub mod stats;

pub use frame::Frame;
pub use markdown::{PLOTS_DIR, REPORT_MD, ReportFiles, build_report, write_report};
pub use provenance::write_run_json;
pub use results::{REPORT_FILE, SUMMARY_FILE, TRIAL_DOCS_DIR, TRIALS_FILE, write_results};

use crate::error::{Error, Result};
use std::path::Path;

/// Write to a temporary name beside the target, then rename: readers never
/// see a half-written file, and a crash leaves the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}
