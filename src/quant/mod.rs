//! Quantizers, calibration, bit packing and GGUF block formats shared by every study.
//!
//! One module serves the studies, the benches and the `quantize` command so that
//! every number they report comes from the same arithmetic. The split:
//! - `spec`: what to do (bits, scheme, granularity, calibration, scale storage);
//! - `kernel`: the per-value affine map, written once and used by both the packed
//!   path (`QuantizedTensor`) and the fast `fake_quantize`, which is why the two
//!   agree bit for bit;
//! - `layout`: how a tensor splits into groups sharing one scale;
//! - `calibrate`: choosing the clipping range of a group or of activation samples;
//! - `pack`: real bit packing, so reported sizes are true sizes;
//! - `tensor`: the packed quantized tensor and its size accounting;
//! - `binary`: binary (XNOR-Net) and ternary (TWN) weights with per-group scales;
//! - `block4`: the chaos-evolve case (blocks of 4) eight blocks at a time;
//!   `block4_sse2` does its 4-bit packing case with SSE2 intrinsics (same bits);
//! - `gguf`: llama.cpp Q4_0 / Q4_1 / Q8_0 blocks, byte-compatible with ggml;
//! - `float`: FP16/FP32 as non-integer precisions;
//! - `fp8`: FP8 E4M3 weights (per channel) and activations (per tensor) for layers;
//! - `minifloat`: BF16, FP16, FP8 E4M3/E5M2, FP4 E2M1 kernels and the
//!   MXFP4 / NVFP4 block formats (bit-exact against `ml_dtypes`);
//! - `metrics`, `outlier`: error measures and the outlier stress test;
//! - `npy`, `packed_file`, `command`: file I/O behind `evoquant quantize`.

pub mod binary;
mod block4;
#[cfg(target_arch = "x86_64")]
mod block4_sse2;
mod calibrate;
pub mod command;
mod float;
pub mod float_file;
pub mod fp8;
mod gguf;
mod kernel;
mod layer;
mod layout;
mod metrics;
pub mod minifloat;
pub mod npy;
mod outlier;
pub mod pack;
pub mod packed_file;
#[cfg(test)]
mod proptests;
pub mod qconfig;
mod spec;
mod tensor;

pub use calibrate::calibrate_range;
pub use float::{float_bytes, fp16_round_trip_in_place};
pub use gguf::{
    GGUF_BLOCK, GgufFormat, gguf_dequantize, gguf_dequantize_into, gguf_fake_quantize,
    gguf_quantize, gguf_quantize_into,
};
pub use kernel::AffineParams;
pub use layer::{ActQuant, LayerQuant, StaticAct, WeightQuant};
pub use metrics::{ErrorMetrics, error_metrics};
pub use outlier::{OutlierStress, outlier_stress_test};
pub use spec::{Calibration, Granularity, QuantError, QuantSpec, ScaleDtype, Scheme, SpecError};
pub use tensor::{QuantizedTensor, fake_quantize};
