//! A real image classifier for quantization studies: a procedurally rendered
//! glyph dataset (`glyphs`), an MLP trained by backpropagation (`train`),
//! and a quantized forward pass over the held-out split (`forward`) whose
//! activation ranges come from a calibration split (`calib`) and whose
//! quantized weights are memoised per layer and precision (`weight_cache`).
//!
//! Why it exists: a mixed-precision search needs an accuracy it can trust,
//! measured by running the network at the chosen precisions, not predicted
//! by a model. Everything is built from a config and a seed in well under a
//! second, so every trial owns its network and stays reproducible.

mod calib;
mod config;
mod forward;
mod glyphs;
mod linalg;
mod task;
#[cfg(test)]
mod tests;
mod train;
mod weight_cache;

pub use crate::quant::{ActQuant, LayerQuant, WeightQuant};
pub use config::TaskConfig;
pub use forward::EvalScratch;
pub use glyphs::MAX_CLASSES;
pub use task::ClassifierTask;
pub use train::Activation;
