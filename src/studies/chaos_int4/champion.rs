//! Post-evolution evaluation of the champion: FP32 against each quantization
//! method on the same held-out layouts, plus the outlier stress test.
//!
//! Metric names are stable across sweeps: the two headline methods are named
//! by granularity (`per_tensor_*`, `block_*`, both at `quant.bits` and
//! `quant.scheme`, min-max with f32 scales), and the extra widths of
//! `quant.eval_bits` by width (`block_int<b>_*`). With
//! `quant.scheme = "asymmetric_clipped"` the block method is the Chaos-Evolve
//! quantizer verbatim; `block_doc_*` always reports that quantizer (at
//! `quant.bits` and `quant.block_size`) on the same champion.

use super::Params;
use super::episode::Driver;
use super::heldout_fitness;
use super::names;
use super::quantized::{QuantizedNet, concat_weights, fp32_weight_bytes, weight_mse};
use crate::nn::MlpShape;
use crate::quant::{Granularity, QuantSpec, QuantizedTensor, Scheme, outlier_stress_test};
use crate::studies::{StudyError, TrialOutput, TrialRng};
use serde_json::json;

/// The block-wise spec of the study at `bits` (min-max, f32 scales —
/// `QuantSpec::chaos_int4` with the width, scheme and block size swapped in).
pub fn block_spec(bits: u32, scheme: Scheme, block_size: usize) -> QuantSpec {
    QuantSpec {
        bits: bits as u8,
        scheme,
        ..QuantSpec::chaos_int4(block_size)
    }
}

/// Per-tensor counterpart of [`block_spec`]: one scale and zero point per
/// weight matrix.
pub fn per_tensor_spec(bits: u32, scheme: Scheme) -> QuantSpec {
    QuantSpec {
        granularity: Granularity::PerTensor,
        ..block_spec(bits, scheme, 1)
    }
}

/// A packed tensor as JSON: signed codes (one per weight, row-major) and the
/// scales and zero points of its groups (weight i of group g dequantizes to
/// `(codes[i] − zero_points[g]) · scales[g]`), plus its true byte size.
fn quantized_form(t: &QuantizedTensor) -> serde_json::Value {
    let codes: Vec<i32> = (0..t.numel()).map(|i| t.code(i)).collect();
    json!({
        "codes": codes,
        "scales": short(t.scales()),
        "zero_points": t.zero_points(),
        "bytes": t.size_bytes(),
    })
}

/// f32s as the shortest decimals that round-trip *as f32* (JSON would
/// otherwise print each widened to f64 with ~17 digits).
fn short(xs: &[f32]) -> Vec<serde_json::Value> {
    xs.iter()
        .map(|x| {
            serde_json::Number::from_f64(x.to_string().parse::<f64>().unwrap_or(f64::NAN))
                .map_or(serde_json::Value::Null, serde_json::Value::Number)
        })
        .collect()
}

/// Evaluate `champion` and record every metric into `out`; returns the
/// `champion` document (weights per layer, FP32 and dequantized).
pub fn evaluate(
    p: &Params,
    shape: &MlpShape,
    driver: &Driver,
    champion: &[f32],
    eval_seeds: &[u64],
    stress_rng: &mut TrialRng,
    out: &mut TrialOutput,
) -> Result<serde_json::Value, StudyError> {
    let fp32 = heldout_fitness(driver, champion, eval_seeds);
    let fp32_bytes = fp32_weight_bytes(shape);
    out.metric(names::WEIGHTS, shape.weight_count());
    out.metric(names::FP32_FITNESS, fp32);
    out.metric(names::FP32_BYTES, fp32_bytes);

    let qerr = |e: crate::quant::QuantError| StudyError::new(format!("quantization failed: {e}"));
    let mut method = |prefix: &str, spec: &QuantSpec| -> Result<QuantizedNet, StudyError> {
        let q = QuantizedNet::new(shape, champion, spec).map_err(qerr)?;
        let fitness = heldout_fitness(driver, &q.params, eval_seeds);
        let bytes = q.weight_bytes();
        out.metric(&names::of(prefix, names::FITNESS), fitness);
        // Episode fitness is > 0 by construction, so the ratio is defined.
        out.metric(&names::of(prefix, names::RETENTION), fitness / fp32);
        out.metric(&names::of(prefix, names::BEATS_FP32), fitness > fp32);
        out.metric(
            &names::of(prefix, names::WEIGHT_MSE),
            weight_mse(shape, champion, &q.params),
        );
        out.metric(&names::of(prefix, names::BYTES), bytes);
        out.metric(
            &names::of(prefix, names::BITS_PER_WEIGHT),
            (bytes * 8) as f64 / shape.weight_count() as f64,
        );
        out.metric(
            &names::of(prefix, names::COMPRESSION),
            fp32_bytes as f64 / bytes as f64,
        );
        Ok(q)
    };

    let pt_spec = per_tensor_spec(p.quant.bits, p.quant.scheme);
    let bl_spec = block_spec(p.quant.bits, p.quant.scheme, p.quant.block_size);
    let per_tensor = method(names::PER_TENSOR, &pt_spec)?;
    let block = method(names::BLOCK, &bl_spec)?;
    // The document's own formula on the same champion, so the comparison
    // with the standard scheme is paired rather than across agents.
    method(
        names::BLOCK_DOC,
        &block_spec(p.quant.bits, Scheme::AsymmetricClipped, p.quant.block_size),
    )?;
    for &bits in &p.quant.eval_bits {
        method(
            &names::block_int(bits),
            &block_spec(bits, p.quant.scheme, p.quant.block_size),
        )?;
    }

    let weights = concat_weights(shape, champion);
    let stress = outlier_stress_test(
        &weights,
        p.quant.bits as u8,
        p.quant.block_size,
        p.quant.outliers,
        p.quant.outlier_magnitude as f32,
        stress_rng,
    );
    out.metric(names::OUTLIER_PER_TENSOR_MSE, stress.per_tensor_mse);
    out.metric(names::OUTLIER_BLOCK_MSE, stress.blockwise_mse);
    out.metric(names::OUTLIER_MSE_RATIO, stress.ratio);

    let layers: Vec<serde_json::Value> = shape
        .layouts()
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({
                "index": i,
                "shape": l.weight_shape(),
                "weights": short(&champion[l.weights.clone()]),
                "bias": short(&champion[l.bias.clone()]),
                "per_tensor": quantized_form(&per_tensor.tensors[i]),
                "block": quantized_form(&block.tensors[i]),
            })
        })
        .collect();
    Ok(json!({
        "layer_sizes": shape.sizes(),
        "layout": "per layer: weights row-major [outputs][inputs], bias [outputs]; hidden tanh, output linear; steer = tanh(out0), throttle = (tanh(out1) + 1) / 2",
        "per_tensor_spec": pt_spec,
        "block_spec": bl_spec,
        "fp32_fitness": fp32,
        "layers": layers,
    }))
}
