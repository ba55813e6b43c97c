//! Which ggml tensor type stores a layer's gene exactly.
//!
//! "Exactly" means: decoding the stored tensor gives the gene's
//! fake-quantized weights bit for bit, so a llama.cpp-family engine (and
//! `evoquant eval` on the written file) computes with the same numbers the
//! study measured. evoquant's `int` genes never qualify: its symmetric grid
//! is ±max/qmax with codes −qmax..qmax and its asymmetric one widens the
//! range to include 0, while ggml's Q4_0 uses max/−8 over −8..7, Q4_1 the
//! unwidened min..max, and Q8_0 takes the reciprocal of the unrounded scale.
//! The `ggml` genes (`WeightQuant::Ggml`) are ggml's arithmetic itself.
//! Integer genes have *nearest* types (same bits per code and sharing), which
//! `apply --nearest` may use, saying the file no longer reproduces the gene.

use crate::models::gguf::TensorType;
use crate::quant::{GgufFormat, LayerQuant, Scheme, WeightQuant};

/// The ggml type that stores `q`'s weights exactly, if any. Activations are
/// not part of a file; see [`ggml_deployable`].
pub fn exact_ggml_type(q: &LayerQuant) -> Option<TensorType> {
    exact_weight_type(&q.weights)
}

/// [`exact_ggml_type`] of weights alone.
pub fn exact_weight_type(w: &WeightQuant) -> Option<TensorType> {
    match w {
        WeightQuant::Fp32 => Some(TensorType::F32),
        WeightQuant::Fp16 => Some(TensorType::F16),
        WeightQuant::Ggml(f) => Some(TensorType::Block(*f)),
        // ggml has no FP8 type.
        WeightQuant::Int(_) | WeightQuant::Extreme(_) | WeightQuant::Fp8 { .. } => None,
    }
}

/// Whether a GGUF file runs `q` as measured: an exact weight type and float
/// activations (GGUF stores no activation precision; llama.cpp picks its own).
pub fn ggml_deployable(q: &LayerQuant) -> bool {
    exact_ggml_type(q).is_some() && q.activations == crate::quant::ActQuant::Fp32
}

/// Closest ggml types to `w`, best first (same code width, then wider); the
/// exact type alone when there is one.
pub fn nearest_weight_types(w: &WeightQuant) -> Vec<TensorType> {
    if let Some(t) = exact_weight_type(w) {
        return vec![t];
    }
    let (q4_0, q4_1, q8_0) = (
        TensorType::Block(GgufFormat::Q4_0),
        TensorType::Block(GgufFormat::Q4_1),
        TensorType::Block(GgufFormat::Q8_0),
    );
    let s = match w {
        WeightQuant::Int(s) => s,
        // Sign codes: the narrowest ggml types evoquant writes, symmetric first.
        WeightQuant::Extreme(_) => return vec![q4_0, q4_1, q8_0],
        // One byte per value with a scale, as Q8_0; F16 holds every E4M3 value.
        WeightQuant::Fp8 { .. } => return vec![q8_0, TensorType::F16],
        _ => return Vec::new(),
    };
    let affine = matches!(s.scheme, Scheme::Asymmetric | Scheme::AsymmetricClipped);
    match s.bits {
        ..=4 if affine => vec![q4_1, q4_0, q8_0],
        ..=4 => vec![q4_0, q4_1, q8_0],
        5..=8 => vec![q8_0, TensorType::F16],
        _ => vec![TensorType::F16, TensorType::F32],
    }
}

/// `Q4_0, Q4_1` for messages.
pub fn type_list(t: &[TensorType]) -> String {
    t.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
}

/// llama.cpp's `general.file_type` (`enum llama_ftype`) for a file mostly of `t`.
pub fn file_type(t: TensorType) -> u32 {
    match t {
        TensorType::F32 => 0,
        TensorType::F16 => 1,
        TensorType::Block(GgufFormat::Q4_0) => 2,
        TensorType::Block(GgufFormat::Q4_1) => 3,
        TensorType::Block(GgufFormat::Q8_0) => 7,
        TensorType::BF16 => 32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::gguf::decode;
    use crate::quant::{
        ActQuant, Granularity, QuantSpec, ScaleDtype, fake_quantize, gguf_fake_quantize,
        gguf_quantize,
    };

    fn int(bits: u8, scheme: Scheme) -> WeightQuant {
        WeightQuant::Int(QuantSpec {
            bits,
            scheme,
            granularity: Granularity::PerGroup,
            group_size: 32,
            scale_dtype: ScaleDtype::F16,
            ..QuantSpec::per_channel(bits)
        })
    }

    #[test]
    fn exact_types_and_nearest_ones() {
        let lq = |w| LayerQuant {
            weights: w,
            activations: ActQuant::Fp32,
        };
        for (w, exact, nearest) in [
            (WeightQuant::Fp32, Some("F32"), "F32"),
            (WeightQuant::Fp16, Some("F16"), "F16"),
            (WeightQuant::Ggml(GgufFormat::Q4_1), Some("Q4_1"), "Q4_1"),
            (int(4, Scheme::Symmetric), None, "Q4_0, Q4_1, Q8_0"),
            (int(3, Scheme::Asymmetric), None, "Q4_1, Q4_0, Q8_0"),
            (int(8, Scheme::Symmetric), None, "Q8_0, F16"),
            (int(12, Scheme::Symmetric), None, "F16, F32"),
            (
                WeightQuant::Extreme(crate::quant::binary::ExtremeSpec {
                    kind: crate::quant::binary::Extreme::Ternary,
                    granularity: crate::quant::Granularity::PerChannel,
                    group_size: 0,
                }),
                None,
                "Q4_0, Q4_1, Q8_0",
            ),
        ] {
            assert_eq!(exact_ggml_type(&lq(w)).map(TensorType::name), exact);
            assert_eq!(type_list(&nearest_weight_types(&w)), nearest);
        }
        let mut a = lq(WeightQuant::Ggml(GgufFormat::Q8_0));
        assert!(ggml_deployable(&a));
        a.activations = ActQuant::Fp16;
        assert!(!ggml_deployable(&a));
    }

    /// Why `int` genes have no exact type: on ordinary weights their
    /// fake-quantized values differ from ggml's decoded blocks.
    #[test]
    fn int_genes_are_not_ggml_blocks_but_ggml_genes_are() {
        let w: Vec<f32> = (0..64 * 32)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        for (wq, f) in [
            (int(4, Scheme::Symmetric), GgufFormat::Q4_0),
            (int(4, Scheme::Asymmetric), GgufFormat::Q4_1),
        ] {
            let WeightQuant::Int(spec) = wq else {
                unreachable!()
            };
            let mut fake = vec![0.0; w.len()];
            fake_quantize(&w, &[64, 32], &spec, &mut fake).unwrap();
            let ggml = decode(
                TensorType::Block(f),
                &gguf_quantize(&w, f).unwrap(),
                w.len(),
            );
            assert_ne!(fake, ggml.unwrap(), "{f:?}");
        }
        for f in GgufFormat::ALL {
            let mut fake = vec![0.0; w.len()];
            gguf_fake_quantize(&w, 32, f, &mut fake).unwrap();
            let ggml = decode(
                TensorType::Block(f),
                &gguf_quantize(&w, f).unwrap(),
                w.len(),
            );
            assert_eq!(fake, ggml.unwrap(), "{f:?}");
        }
    }
}
