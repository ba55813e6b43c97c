//! The quantized forward pass over the held-out split: the hot path of a
//! mixed-precision search.
//!
//! Per call: each layer's effective weights are fetched from the weight
//! cache (computed on first use by `crate::quant::fake_quantize` or the f16
//! round trip — the same arithmetic the packed format uses), each layer's
//! activation map is built from the calibrated-range cache, then the test
//! samples run through the network in interleaved blocks of four (each
//! weight is loaded once for four samples, see `linalg::dot4`) with each
//! layer's inputs fake-quantized in place.
//! Biases stay f32, as integer kernels keep them in a 32-bit accumulator.
//! Nothing allocates once the scratch has grown to the network's size and
//! the caches are warm.

use super::calib::RangeCache;
use super::glyphs::Samples;
use super::linalg::dot4;
use super::train::Net;
use super::weight_cache::WeightCache;
use crate::quant::{ActQuant, LayerQuant, WeightQuant};
use crate::quant::{AffineParams, StaticAct, fp16_round_trip_in_place};
use std::sync::Arc;

/// Samples evaluated together (see [`dot4`]).
const BLOCK: usize = 4;

/// Reusable buffers for [`super::ClassifierTask::accuracy_with`]; one per
/// thread. `Default` gives empty buffers that grow on first use.
#[derive(Clone, Debug, Default)]
pub struct EvalScratch {
    /// Each layer's effective weights (shared with the cache).
    weights: Vec<Arc<[f32]>>,
    /// A block of samples interleaved (`BLOCK` values per input index) at
    /// the widest layer's size, ping-ponged between layers.
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
    Fp8(crate::quant::fp8::Fp8Act),
}

impl ActMap {
    #[inline]
    fn apply(&self, xs: &mut [f32]) {
        match self {
            ActMap::Identity => {}
            ActMap::Fp16 => fp16_round_trip_in_place(xs),
            ActMap::Affine(p) => p.fake_quantize_in_place(xs),
            ActMap::Fp8(p) => p.fake_quantize_in_place(xs),
        }
    }
}

/// The effective weights of layer `l` under `q`, computed afresh.
pub(crate) fn quantized_weights(net: &Net, l: usize, q: &WeightQuant) -> Vec<f32> {
    let w = &net.weights[l];
    let mut out = vec![0.0; w.len()];
    let shape = [net.sizes[l + 1], net.sizes[l]];
    if let Err(e) = q.fake_quantize(w, &shape, &mut out) {
        panic!("layer {l}: weight quantization failed after validation: {e}");
    }
    out
}

/// Number of held-out samples classified correctly with `layers` applied.
///
/// `overrides[l]`, when present, replaces layer l's effective weights.
/// The caller has validated `layers` (count and specs); a spec that still
/// fails in `fake_quantize` is a programming error and panics.
pub(crate) fn correct_count(
    net: &Net,
    ranges: &RangeCache,
    weights: &WeightCache,
    test: &Samples,
    layers: &[LayerQuant],
    overrides: &[Option<Arc<[f32]>>],
    s: &mut EvalScratch,
) -> usize {
    let width = net.sizes.iter().copied().max().unwrap_or(0);
    s.a.resize(BLOCK * width, 0.0);
    s.b.resize(BLOCK * width, 0.0);
    s.weights.clear();
    s.acts.clear();
    for (l, q) in layers.iter().enumerate() {
        match overrides.get(l) {
            Some(Some(w)) => s.weights.push(Arc::clone(w)),
            _ => s.weights.push(
                weights.get_or_compute(l, &q.weights, || quantized_weights(net, l, &q.weights)),
            ),
        }
        let static_map = q
            .activations
            .static_map(|bits, scheme, calibration, percentile| {
                ranges.range(l, bits, scheme, calibration, percentile)
            });
        let map = match (q.activations, static_map) {
            (_, Some(StaticAct::Int(a))) => ActMap::Affine(a),
            (_, Some(StaticAct::Fp8(f))) => ActMap::Fp8(f),
            (ActQuant::Fp16, None) => ActMap::Fp16,
            (_, None) => ActMap::Identity,
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
        // Interleave the block (value i of slot k at BLOCK·i + k). A short
        // last block repeats its final sample; the copies' results are
        // ignored, and every sample's arithmetic is the same as alone.
        for slot in 0..BLOCK {
            let sample = test.sample(start + slot.min(count - 1));
            for (i, &v) in sample.iter().enumerate() {
                src[BLOCK * i + slot] = v;
            }
        }
        for l in 0..n_layers {
            let n_in = net.sizes[l];
            let x = &mut src[..BLOCK * n_in];
            s.acts[l].apply(x);
            let last = l + 1 == n_layers;
            for ((out, row), &b) in dst
                .chunks_exact_mut(BLOCK)
                .zip(s.weights[l].chunks_exact(n_in))
                .zip(&net.biases[l])
            {
                let z = dot4(row, x);
                for (o, &zs) in out.iter_mut().zip(&z) {
                    let v = b + zs;
                    *o = if last { v } else { net.activation.apply(v) };
                }
            }
            std::mem::swap(&mut src, &mut dst);
        }
        for slot in 0..count {
            let mut best = 0;
            for c in 1..classes {
                if src[BLOCK * c + slot] > src[BLOCK * best + slot] {
                    best = c;
                }
            }
            if best == usize::from(test.labels[start + slot]) {
                correct += 1;
            }
        }
        start += count;
    }
    // Drop the shared weights so a thread-local scratch does not keep a
    // finished task's cache entries alive.
    s.weights.clear();
    correct
}
