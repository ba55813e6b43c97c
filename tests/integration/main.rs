//! CLI-level tests: one integration-test binary for the crate, one module per area.

mod data;
