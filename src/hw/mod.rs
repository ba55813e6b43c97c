//! Hardware targets and an analytical cost model (latency, energy, memory)
//! for per-layer mixed-precision configurations.
//!
//! This is a **model**, not a measurement: latency is a per-layer roofline
//! (compute time vs memory time, whichever is longer), energy is per
//! target either MAC energy plus DRAM traffic energy from a published
//! per-operation table or rated power × modelled time (see [`EnergyBasis`];
//! each target says which and why), memory is the true packed size including
//! scales and zero points. Every constant
//! cites its public source next to it (see `targets.rs`); figures a vendor
//! does not publish are marked as assumptions. A configuration a target
//! cannot compute natively is costed as the fallback it would really run
//! (e.g. 6-bit weights stored in 6 bits but unpacked and computed as int8),
//! and reported as a fallback, never as native.
//!
//! Split: `target` (the data a target is, and how it picks an execution
//! mode), `targets` (the built-in targets with sources), `cost` (the
//! per-layer model).

pub mod cost;
pub mod target;
pub mod targets;

pub use cost::{LayerCost, LayerShape, QuantChoice, ScaleLayout, TotalCost, layer_cost};
pub use target::{Compute, EnergyBasis, ExecMode, Execution, Target, TargetError};
pub use targets::{BUILTIN_NAMES, CUSTOM, TARGET_CHOICES, TargetName, builtin};
