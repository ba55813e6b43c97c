//! The champion under quantization: quantize each weight matrix with a spec
//! from `crate::quant`, measure the result honestly.
//!
//! Only weight matrices are quantized; biases stay FP32 (as in common INT-k
//! deployments, where biases are a negligible share of the bytes). Byte and
//! bits-per-weight figures therefore cover the weight matrices: packed codes
//! plus every scale and zero point, exactly as `QuantizedTensor::size_bytes`
//! reports them; compression is FP32 weight bytes / those bytes.

use crate::nn::MlpShape;
use crate::quant::{QuantError, QuantSpec, QuantizedTensor, error_metrics, fake_quantize};

/// A network's parameters with every weight matrix replaced by its quantized
/// form, plus the packed tensors it came from.
pub struct QuantizedNet {
    /// Dequantized weights and FP32 biases, in the `MlpShape` layout.
    pub params: Vec<f32>,
    pub tensors: Vec<QuantizedTensor>,
}

impl QuantizedNet {
    pub fn new(shape: &MlpShape, params: &[f32], spec: &QuantSpec) -> Result<Self, QuantError> {
        let mut out = params.to_vec();
        let mut tensors = Vec::with_capacity(shape.layouts().len());
        for l in shape.layouts() {
            let q = QuantizedTensor::quantize(&params[l.weights.clone()], &l.weight_shape(), spec)?;
            q.dequantize_into(&mut out[l.weights.clone()]);
            tensors.push(q);
        }
        Ok(QuantizedNet {
            params: out,
            tensors,
        })
    }

    /// True storage of the quantized weight matrices, scales and zero points
    /// included.
    pub fn weight_bytes(&self) -> usize {
        self.tensors.iter().map(|t| t.size_bytes()).sum()
    }
}

/// FP32 storage of a shape's weight matrices.
pub fn fp32_weight_bytes(shape: &MlpShape) -> usize {
    shape.weight_count() * std::mem::size_of::<f32>()
}

/// All weight matrices of `params`, concatenated in layer order.
pub fn concat_weights(shape: &MlpShape, params: &[f32]) -> Vec<f32> {
    shape
        .layouts()
        .iter()
        .flat_map(|l| params[l.weights.clone()].iter().copied())
        .collect()
}

/// Mean squared error between the weight matrices of two parameter vectors.
pub fn weight_mse(shape: &MlpShape, reference: &[f32], approx: &[f32]) -> f64 {
    let a = concat_weights(shape, reference);
    let b = concat_weights(shape, approx);
    error_metrics(&a, &b).mse
}

/// Write `params` with every weight matrix fake-quantized into `out` (the
/// quantization-aware fitness path: no packing, no allocation).
pub fn fake_quantize_weights(
    shape: &MlpShape,
    params: &[f32],
    spec: &QuantSpec,
    out: &mut [f32],
) -> Result<(), QuantError> {
    out.copy_from_slice(params);
    for l in shape.layouts() {
        fake_quantize(
            &params[l.weights.clone()],
            &l.weight_shape(),
            spec,
            &mut out[l.weights.clone()],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn quantized_net_keeps_biases_and_agrees_with_fake_quantization() {
        let shape = MlpShape::new(&[6, 8, 2]).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        let p = shape.random_params(0.5, &mut rng);
        let spec = QuantSpec::chaos_int4(4);
        let q = QuantizedNet::new(&shape, &p, &spec).unwrap();
        for l in shape.layouts() {
            assert_eq!(q.params[l.bias.clone()], p[l.bias.clone()]);
        }
        let mut fake = vec![0.0; p.len()];
        fake_quantize_weights(&shape, &p, &spec, &mut fake).unwrap();
        assert_eq!(fake, q.params);
        let mse = weight_mse(&shape, &p, &q.params);
        assert!(mse > 0.0 && mse < 0.01, "{mse}");
        // 64 weights at 4 bits is 32 bytes; block metadata must come on top.
        assert!(q.weight_bytes() > 32 && q.weight_bytes() < fp32_weight_bytes(&shape));
    }
}
