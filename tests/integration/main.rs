//! One integration-test binary for the crate; each area adds a module.

mod quantize;
