//! Small neural networks: MLPs, training, and the quantized forward pass.
//!
//! Networks are a shape plus a flat parameter vector (see [`mlp`]) so that
//! evolution, quantization and (later) gradient training all operate on plain
//! `f32` slices without conversions.

pub mod classifier;
pub mod mlp;

pub use classifier::{ActQuant, ClassifierTask, LayerQuant, TaskConfig, WeightQuant};
pub use mlp::{Layer, LayerLayout, Mlp, MlpShape, NnError, Scratch};
