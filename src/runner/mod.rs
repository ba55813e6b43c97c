//! Trials, their ids and seeds, and running them.
//!
//! A trial is (point, replicate). Its id and seed are hashes of the study
//! kind, the point's canonical resolved parameters and the replicate number,
//! never of its position, the clock or a thread, so adding a value to a grid
//! axis leaves every other trial's id, seed and result unchanged.

mod execute;
mod finish;
pub mod inputs;
mod journal;
pub mod merge;
pub mod ownership;
mod plan;
mod progress;
pub mod shard;

pub use crate::value::{canonical_value, display_value};
pub use execute::{Finished, RunOptions, RunResult, run};
pub use finish::finish;
pub use journal::{Journal, JournalEntry, Status, read_entries};
pub use plan::{Plan, PlannedPoint, Trial};
pub use progress::{ProgressMode, progress_mode};

pub use crate::ids::{derive_u64, hash_hex};
