//! Static activation ranges, calibrated once and memoised.
//!
//! What is cached and why it is sound: every layer's input activations over
//! the calibration split are recorded from the *float* network when the task
//! is built (post-training static calibration, as TensorRT and the PyTorch
//! observers do it: ranges come from float activations, not from a network
//! whose upstream layers are already quantized). A range is then a pure
//! function of (layer, bits, scheme, method, percentile), so it is computed
//! on first use and kept in a map. Concurrent first uses may both compute it;
//! they compute the same bits, so the result never depends on scheduling.

use crate::quant::{Calibration, Scheme, calibrate_range};
use std::collections::BTreeMap;
use std::sync::RwLock;

/// (layer, bits, scheme, method, percentile bits; 0 unless percentile).
type Key = (usize, u8, u8, u8, u32);

#[derive(Debug)]
pub(crate) struct RangeCache {
    /// Per layer, its inputs over the calibration split, `[n][inputs]`.
    inputs: Vec<Vec<f32>>,
    ranges: RwLock<BTreeMap<Key, (f32, f32)>>,
}

fn scheme_id(s: Scheme) -> u8 {
    match s {
        Scheme::Symmetric => 0,
        Scheme::Asymmetric => 1,
        Scheme::AsymmetricClipped => 2,
        Scheme::PowerOfTwo => 3,
    }
}

fn method_id(c: Calibration) -> u8 {
    match c {
        Calibration::MinMax => 0,
        Calibration::Percentile => 1,
        Calibration::Mse => 2,
        Calibration::Entropy => 3,
    }
}

impl RangeCache {
    pub fn new(inputs: Vec<Vec<f32>>) -> RangeCache {
        RangeCache {
            inputs,
            ranges: RwLock::new(BTreeMap::new()),
        }
    }

    /// The calibrated clipping range of `layer`'s input.
    pub fn range(
        &self,
        layer: usize,
        bits: u8,
        scheme: Scheme,
        method: Calibration,
        percentile: f32,
    ) -> (f32, f32) {
        let p = if method == Calibration::Percentile {
            percentile.to_bits()
        } else {
            0
        };
        let key = (layer, bits, scheme_id(scheme), method_id(method), p);
        // A poisoned lock only means another thread panicked mid-insert of a
        // value it had fully computed; the map is still valid.
        if let Some(r) = self
            .ranges
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return *r;
        }
        let r = calibrate_range(&self.inputs[layer], bits, scheme, method, percentile);
        self.ranges
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, r);
        r
    }

    /// The recorded float inputs of `layer` over the calibration split.
    pub fn inputs(&self, layer: usize) -> &[f32] {
        &self.inputs[layer]
    }
}
