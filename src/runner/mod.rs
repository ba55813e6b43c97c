//! Trials, their ids and seeds, and running them.
//!
//! A trial is (point, replicate). Its id and seed are hashes of the study
//! kind, the point's canonical resolved parameters and the replicate number,
//! never of its position, the clock or a thread, so adding a value to a grid
//! axis leaves every other trial's id, seed and result unchanged.

mod execute;
mod finish;
mod journal;
pub mod merge;
mod plan;
mod progress;
pub mod shard;

pub use execute::{RunOptions, RunResult, run};
pub use finish::finish;
pub use journal::{Journal, JournalEntry, Status, read_entries};
pub use plan::{Plan, PlannedPoint, Trial, canonical_value, display_value};
pub use progress::{ProgressMode, progress_mode};

use sha2::{Digest, Sha256};

/// SHA-256 of the parts separated by NUL bytes.
fn digest(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

/// A 64-bit value derived from the parts by a cryptographic hash: stable
/// across versions, platforms and runs.
pub fn derive_u64(parts: &[&str]) -> u64 {
    let d = digest(parts);
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Hex SHA-256 of a text (manifest hashes).
pub fn hash_hex(text: &str) -> String {
    digest(&[text]).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_values_are_pinned() {
        // Changing this derivation changes every committed result: the pin
        // makes that a deliberate decision.
        assert_eq!(derive_u64(&["a", "b"]), derive_u64(&["a", "b"]));
        assert_ne!(derive_u64(&["a", "b"]), derive_u64(&["ab"]));
        assert_eq!(
            hash_hex("evoquant"),
            "d59841357e26f62bb250dfc839ecbf444244c5884940e0d298236c98ba955a0e"
        );
    }
}
