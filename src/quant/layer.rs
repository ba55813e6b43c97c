//! What precision one linear layer runs at: its weights and its input
//! activations, chosen independently (W4A8, W8A16, …) as mixed-precision
//! hardware allows.
//!
//! Plain serde data so a genome can be written to JSON and read back. Integer
//! weights take a full [`QuantSpec`] (scheme, granularity, calibration of the
//! weight groups); integer activations are always per-tensor with a static
//! range calibrated on the calibration split, which is what integer kernels
//! on the supported targets consume.

use super::binary::ExtremeSpec;
use super::gguf::GgufFormat;
use super::spec::{Calibration, QuantError, QuantSpec, Scheme};
use serde::{Deserialize, Serialize};

/// How a layer's weight matrix is stored.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightQuant {
    /// Unchanged float weights.
    Fp32,
    /// IEEE half precision (round to nearest even).
    Fp16,
    /// Integer codes with scales, via `crate::quant::fake_quantize`.
    Int(QuantSpec),
    /// A ggml block format exactly (ggml's own rounding and grid, blocks of
    /// 32 along each row, via `crate::quant::gguf_fake_quantize`): the gene a
    /// GGUF file can store bit for bit. `Int` genes cannot: ggml's Q4_0 grid
    /// is −8..7 times max/−8 and Q4_1 does not widen its range to include 0.
    Ggml(GgufFormat),
    /// Binary or ternary sign codes × one f16 scale per group
    /// (`crate::quant::binary`): 1 or 2 bits per weight, calibration-free.
    Extreme(ExtremeSpec),
    /// OCP FP8 E4M3 with an f32 scale per output channel (or per tensor),
    /// via `crate::quant::fp8`.
    Fp8 { per_channel: bool },
}

impl WeightQuant {
    /// Bits per stored weight element (scales not included).
    pub fn bits(&self) -> u8 {
        match self {
            WeightQuant::Fp32 => 32,
            WeightQuant::Fp16 => 16,
            WeightQuant::Int(spec) => spec.bits,
            WeightQuant::Ggml(f) => f.bits(),
            WeightQuant::Extreme(x) => x.kind.bits(),
            WeightQuant::Fp8 { .. } => 8,
        }
    }

    /// `w` (`shape` = [rows, cols]) as these weights store it, into `out`:
    /// the one place every model's fake quantization goes through.
    pub fn fake_quantize(
        &self,
        w: &[f32],
        shape: &[usize; 2],
        out: &mut [f32],
    ) -> Result<(), QuantError> {
        match self {
            WeightQuant::Fp32 => {
                out.copy_from_slice(w);
                Ok(())
            }
            WeightQuant::Fp16 => {
                out.copy_from_slice(w);
                super::fp16_round_trip_in_place(out);
                Ok(())
            }
            WeightQuant::Int(spec) => super::fake_quantize(w, shape, spec, out),
            WeightQuant::Ggml(f) => super::gguf_fake_quantize(w, shape[1], *f, out),
            WeightQuant::Extreme(x) => super::binary::fake_quantize_extreme(w, shape, x, out),
            WeightQuant::Fp8 { per_channel } => {
                super::fp8::fake_quantize(w, if *per_channel { shape[0] } else { 1 }, out)
            }
        }
    }
}

/// How a layer's input activations are represented.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActQuant {
    Fp32,
    Fp16,
    /// Per-tensor integer codes; the clipping range is calibrated once on the
    /// float network's activations over the calibration split
    /// (`crate::quant::calibrate_range` with these settings).
    Int {
        bits: u8,
        scheme: Scheme,
        calibration: Calibration,
        /// Used only by `Calibration::Percentile`; in [50, 100].
        percentile: f32,
    },
    /// OCP FP8 E4M3 with one static per-tensor scale: the calibrated range's
    /// larger magnitude maps to 448 (`crate::quant::fp8::Fp8Act`).
    Fp8 {
        calibration: Calibration,
        percentile: f32,
    },
}

impl ActQuant {
    /// Bits per activation element.
    pub fn bits(&self) -> u8 {
        match self {
            ActQuant::Fp32 => 32,
            ActQuant::Fp16 => 16,
            ActQuant::Int { bits, .. } => *bits,
            ActQuant::Fp8 { .. } => 8,
        }
    }

    /// The map needs a range calibrated on the layer's inputs.
    pub fn calibrated(&self) -> bool {
        matches!(self, ActQuant::Int { .. } | ActQuant::Fp8 { .. })
    }

    /// The static map of a calibrated precision (`None` for FP32/FP16), its
    /// range from `range(bits, scheme, calibration, percentile)`: FP8 takes
    /// a symmetric 8-bit range, whose larger magnitude maps to 448.
    pub fn static_map(
        &self,
        range: impl FnOnce(u8, Scheme, Calibration, f32) -> (f32, f32),
    ) -> Option<StaticAct> {
        match *self {
            ActQuant::Int {
                bits,
                scheme,
                calibration,
                percentile,
            } => {
                let (lo, hi) = range(bits, scheme, calibration, percentile);
                Some(StaticAct::Int(super::AffineParams::from_range(
                    lo, hi, bits, scheme,
                )))
            }
            ActQuant::Fp8 {
                calibration,
                percentile,
            } => {
                let (lo, hi) = range(8, Scheme::Symmetric, calibration, percentile);
                Some(StaticAct::Fp8(super::fp8::Fp8Act::from_range(lo, hi)))
            }
            ActQuant::Fp32 | ActQuant::Fp16 => None,
        }
    }
}

/// A calibrated activation map: integer codes or FP8 with a static scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StaticAct {
    Int(super::AffineParams),
    Fp8(super::fp8::Fp8Act),
}

/// One layer's weight and activation precision.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerQuant {
    pub weights: WeightQuant,
    pub activations: ActQuant,
}

impl LayerQuant {
    /// Everything in f32: the reference.
    pub const FP32: LayerQuant = LayerQuant {
        weights: WeightQuant::Fp32,
        activations: ActQuant::Fp32,
    };

    /// Everything in f16.
    pub const FP16: LayerQuant = LayerQuant {
        weights: WeightQuant::Fp16,
        activations: ActQuant::Fp16,
    };

    /// Check the request; `layer` only labels the message.
    pub fn validate(&self, layer: usize) -> Result<(), QuantError> {
        if let WeightQuant::Int(spec) = &self.weights {
            spec.validate()
                .map_err(|e| QuantError::InvalidSpec(format!("layer {layer} weights: {e}")))?;
        }
        if let WeightQuant::Extreme(x) = &self.weights {
            x.validate()
                .map_err(|e| QuantError::InvalidSpec(format!("layer {layer} weights: {e}")))?;
        }
        if let ActQuant::Fp8 {
            calibration: Calibration::Percentile,
            percentile,
        } = self.activations
            && !(50.0..=100.0).contains(&percentile)
        {
            return Err(QuantError::InvalidSpec(format!(
                "layer {layer} activations: percentile must be in [50, 100], got {percentile}"
            )));
        }
        if let ActQuant::Int {
            bits,
            scheme,
            calibration,
            percentile,
        } = self.activations
        {
            let min_bits = if scheme.has_zero_point() { 1 } else { 2 };
            if !(min_bits..=16).contains(&bits) {
                return Err(QuantError::InvalidSpec(format!(
                    "layer {layer} activations: bits must be in {min_bits}..=16 for {scheme:?}, got {bits}"
                )));
            }
            if calibration == Calibration::Percentile && !(50.0..=100.0).contains(&percentile) {
                return Err(QuantError::InvalidSpec(format!(
                    "layer {layer} activations: percentile must be in [50, 100], got {percentile}"
                )));
            }
        }
        Ok(())
    }
}
