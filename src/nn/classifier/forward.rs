//! The quantized forward pass over the held-out split: the hot path of a
//! mixed-precision search.
//!
//! Per call: each layer's weights are fake-quantized once into a scratch
//! buffer (`crate::quant::fake_quantize` or the f16 round trip — the same
//! arithmetic the packed format uses), each layer's activation map is looked
//! up from the calibration cache, then every test sample runs through the
//! network with its layer inputs fake-quantized in place. Biases stay f32,
//! as integer kernels keep them in a 32-bit accumulator. Nothing allocates
//! once the scratch has grown to the network's size.

use super::calib::RangeCache;
use super::glyphs::Split;
use super::layer_quant::{ActQuant, LayerQuant, WeightQuant};
use super::linalg::dot;
use super::train::{Net, argmax};
use crate::quant::{AffineParams, fake_quantize, fp16_round_trip_in_place};

/// Reusable buffers for [`super::ClassifierTask::accuracy_with`]; one per
/// thread. `Default` gives empty buffers that grow on first use.
#[derive(Clone, Debug, Default)]
pub struct EvalScratch {
    /// All layers' effective weights, concatenated.
    weights: Vec<f32>,
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

/// Number of held-out samples classified correctly with `layers` applied.
///
/// The caller has validated `layers` (count and specs); a spec that still
/// fails in `fake_quantize` is a programming error and panics.
pub(crate) fn correct_count(
    net: &Net,
    ranges: &RangeCache,
    test: &Split,
    layers: &[LayerQuant],
    s: &mut EvalScratch,
) -> usize {
    let total: usize = net.weights.iter().map(Vec::len).sum();
    let width = net.sizes.iter().copied().max().unwrap_or(0);
    s.weights.resize(total, 0.0);
    s.a.resize(width, 0.0);
    s.b.resize(width, 0.0);
    s.acts.clear();
    let mut off = 0;
    for (l, q) in layers.iter().enumerate() {
        let w = &net.weights[l];
        let dst = &mut s.weights[off..off + w.len()];
        match &q.weights {
            WeightQuant::Fp32 => dst.copy_from_slice(w),
            WeightQuant::Fp16 => {
                dst.copy_from_slice(w);
                fp16_round_trip_in_place(dst);
            }
            WeightQuant::Int(spec) => {
                let shape = [net.sizes[l + 1], net.sizes[l]];
                if let Err(e) = fake_quantize(w, &shape, spec, dst) {
                    panic!("layer {l}: weight quantization failed after validation: {e}");
                }
            }
        }
        off += w.len();
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
    let mut correct = 0;
    for i in 0..test.len() {
        let (mut src, mut dst) = (&mut s.a, &mut s.b);
        src[..test.dim].copy_from_slice(test.sample(i));
        let mut off = 0;
        for l in 0..n_layers {
            let (n_in, n_out) = (net.sizes[l], net.sizes[l + 1]);
            let x = &mut src[..n_in];
            s.acts[l].apply(x);
            let w = &s.weights[off..off + n_in * n_out];
            off += n_in * n_out;
            let last = l + 1 == n_layers;
            for ((o, row), &b) in dst[..n_out]
                .iter_mut()
                .zip(w.chunks_exact(n_in))
                .zip(&net.biases[l])
            {
                let z = b + dot(row, x);
                *o = if last { z } else { net.activation.apply(z) };
            }
            std::mem::swap(&mut src, &mut dst);
        }
        if argmax(&src[..net.sizes[n_layers]]) == usize::from(test.labels[i]) {
            correct += 1;
        }
    }
    correct
}
