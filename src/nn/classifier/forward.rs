//! The quantized forward pass over the held-out split: the hot path of a
//! mixed-precision search.
//!
//! Per call: each layer's effective weights are fetched from the weight
//! cache (computed on first use by `crate::quant::fake_quantize` or the f16
//! round trip — the same arithmetic the packed format uses), each layer's
//! activation map is built from the calibrated-range cache, then the test
//! samples run through the network four at a time (one weight row load
//! serves four samples) with each layer's inputs fake-quantized in place.
//! Biases stay f32, as integer kernels keep them in a 32-bit accumulator.
//! Nothing allocates once the scratch has grown to the network's size and
//! the caches are warm.

use super::calib::RangeCache;
use super::glyphs::Split;
use super::layer_quant::{ActQuant, LayerQuant, WeightQuant};
use super::linalg::dot4;
use super::train::{Net, argmax};
use super::weight_cache::WeightCache;
use crate::quant::{AffineParams, fake_quantize, fp16_round_trip_in_place};
use std::sync::Arc;

/// Samples evaluated together (see [`dot4`]).
const BLOCK: usize = 4;

/// Reusable buffers for [`super::ClassifierTask::accuracy_with`]; one per
/// thread. `Default` gives empty buffers that grow on first use.
#[derive(Clone, Debug, Default)]
pub struct EvalScratch {
    /// Each layer's effective weights (shared with the cache).
    weights: Vec<Arc<[f32]>>,
    /// BLOCK rows of the widest layer, ping-ponged between layers.
    a: Vec<f32>,
    b: Vec<f32>,
    acts: Vec<ActMap>,
}

/// How one layer's input is rewritten before the layer runs.
#[derive(Clone, Copy, Debug)]
enum ActMap {
    Identity,
    Fp16,
    Affine(AffineParams),
}

impl ActMap {
    #[inline]
    fn apply(&self, xs: &mut [f32]) {
        match self {
            ActMap::Identity => {}
            ActMap::Fp16 => fp16_round_trip_in_place(xs),
            ActMap::Affine(p) => p.fake_quantize_in_place(xs),
        }
    }
}

/// The effective weights of layer `l` under `q`, computed afresh.
fn quantized_weights(net: &Net, l: usize, q: &WeightQuant) -> Vec<f32> {
    let w = &net.weights[l];
    let mut out = w.clone();
    match q {
        WeightQuant::Fp32 => {}
        WeightQuant::Fp16 => fp16_round_trip_in_place(&mut out),
        WeightQuant::Int(spec) => {
            let shape = [net.sizes[l + 1], net.sizes[l]];
            if let Err(e) = fake_quantize(w, &shape, spec, &mut out) {
                panic!("layer {l}: weight quantization failed after validation: {e}");
            }
        }
    }
    out
}

/// Number of held-out samples classified correctly with `layers` applied.
///
/// The caller has validated `layers` (count and specs); a spec that still
/// fails in `fake_quantize` is a programming error and panics.
pub(crate) fn correct_count(
    net: &Net,
    ranges: &RangeCache,
    weights: &WeightCache,
    test: &Split,
    layers: &[LayerQuant],
    s: &mut EvalScratch,
) -> usize {
    let width = net.sizes.iter().copied().max().unwrap_or(0);
    s.a.resize(BLOCK * width, 0.0);
    s.b.resize(BLOCK * width, 0.0);
    s.weights.clear();
    s.acts.clear();
    for (l, q) in layers.iter().enumerate() {
        s.weights
            .push(weights.get_or_compute(l, &q.weights, || quantized_weights(net, l, &q.weights)));
        let map = match q.activations {
            ActQuant::Fp32 => ActMap::Identity,
            ActQuant::Fp16 => ActMap::Fp16,
            ActQuant::Int {
                bits,
                scheme,
                calibration,
                percentile,
            } => {
                let (lo, hi) = ranges.range(l, bits, scheme, calibration, percentile);
                ActMap::Affine(AffineParams::from_range(lo, hi, bits, scheme))
            }
        };
        s.acts.push(map);
    }

    let n_layers = net.layers();
    let classes = net.sizes[n_layers];
    let mut correct = 0;
    let mut start = 0;
    while start < test.len() {
        let count = (test.len() - start).min(BLOCK);
        let (mut src, mut dst) = (&mut s.a, &mut s.b);
        // A short last block repeats its final sample; the copies' results
        // are ignored, and every sample's arithmetic is the same as alone.
        for slot in 0..BLOCK {
            let i = start + slot.min(count - 1);
            src[slot * width..slot * width + test.dim].copy_from_slice(test.sample(i));
        }
        for l in 0..n_layers {
            let n_in = net.sizes[l];
            for slot in 0..BLOCK {
                s.acts[l].apply(&mut src[slot * width..slot * width + n_in]);
            }
            let last = l + 1 == n_layers;
            let x = [
                &src[..n_in],
                &src[width..width + n_in],
                &src[2 * width..2 * width + n_in],
                &src[3 * width..3 * width + n_in],
            ];
            for (o, (row, &b)) in s.weights[l]
                .chunks_exact(n_in)
                .zip(&net.biases[l])
                .enumerate()
            {
                let z = dot4(row, x);
                for (slot, &zs) in z.iter().enumerate() {
                    let v = b + zs;
                    dst[slot * width + o] = if last { v } else { net.activation.apply(v) };
                }
            }
            std::mem::swap(&mut src, &mut dst);
        }
        for slot in 0..count {
            let logits = &src[slot * width..slot * width + classes];
            if argmax(logits) == usize::from(test.labels[start + slot]) {
                correct += 1;
            }
        }
        start += count;
    }
    correct
}
