//! Memoised effective weights per (layer, weight precision).
//!
//! Why: a genetic search evaluates thousands of genomes that share most
//! per-layer choices, and weight quantization with MSE or entropy
//! calibration costs more than the forward pass itself. The quantized
//! weights of a layer are a pure function of the layer and its
//! [`WeightQuant`], so they are computed once (by `crate::quant`) and shared
//! read-only. Concurrent first uses may both compute an entry; both compute
//! the same bits, so results never depend on scheduling. The map stops
//! growing at [`MAX_ENTRIES`] (further misses are computed per call), which
//! bounds memory if a caller sweeps a continuous parameter such as the
//! percentile.

use crate::quant::WeightQuant;
use crate::quant::{Calibration, Granularity, QuantSpec, ScaleDtype, Scheme};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Most cached (layer, precision) entries.
pub(crate) const MAX_ENTRIES: usize = 4096;

/// (layer, kind, bits, scheme, granularity, group size, calibration,
/// percentile bits, scale dtype), with fields a variant ignores set to 0.
type Key = (usize, u8, u8, u8, u8, usize, u8, u32, u8);

#[derive(Debug, Default)]
pub(crate) struct WeightCache {
    entries: RwLock<BTreeMap<Key, Arc<[f32]>>>,
}

fn key(layer: usize, q: &WeightQuant) -> Key {
    match q {
        WeightQuant::Fp32 => (layer, 0, 32, 0, 0, 0, 0, 0, 0),
        WeightQuant::Fp16 => (layer, 1, 16, 0, 0, 0, 0, 0, 0),
        WeightQuant::Int(s) => int_key(layer, s),
        WeightQuant::Ggml(f) => (layer, 2, f.bits(), *f as u8, 0, 0, 0, 0, 0),
        WeightQuant::Extreme(x) => {
            let granularity = match x.granularity {
                Granularity::PerTensor => 0,
                Granularity::PerChannel => 1,
                Granularity::PerGroup => 2,
                Granularity::Block => 3,
            };
            (
                layer,
                3,
                x.kind.bits(),
                0,
                granularity,
                x.group_size,
                0,
                0,
                0,
            )
        }
        WeightQuant::Fp8 { per_channel } => (layer, 4, 8, 0, u8::from(*per_channel), 0, 0, 0, 0),
    }
}

fn int_key(layer: usize, s: &QuantSpec) -> Key {
    let scheme = match s.scheme {
        Scheme::Symmetric => 0,
        Scheme::Asymmetric => 1,
        Scheme::AsymmetricClipped => 2,
        Scheme::PowerOfTwo => 3,
    };
    let (granularity, group) = match s.granularity {
        Granularity::PerTensor => (0, 0),
        Granularity::PerChannel => (1, 0),
        Granularity::PerGroup => (2, s.group_size),
        Granularity::Block => (3, s.group_size),
    };
    let (calibration, percentile) = match s.calibration {
        Calibration::MinMax => (0, 0),
        Calibration::Percentile => (1, s.percentile.to_bits()),
        Calibration::Mse => (2, 0),
        Calibration::Entropy => (3, 0),
    };
    let dtype = match s.scale_dtype {
        ScaleDtype::F16 => 0,
        ScaleDtype::F32 => 1,
    };
    (
        layer,
        2,
        s.bits,
        scheme,
        granularity,
        group,
        calibration,
        percentile,
        dtype,
    )
}

impl WeightCache {
    /// The effective weights of `layer` under `q`, computing them with
    /// `compute` on a miss.
    pub fn get_or_compute(
        &self,
        layer: usize,
        q: &WeightQuant,
        compute: impl FnOnce() -> Vec<f32>,
    ) -> Arc<[f32]> {
        let k = key(layer, q);
        // A poisoned lock means a panic elsewhere; entries are immutable
        // and complete once inserted, so the map is still valid.
        if let Some(w) = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&k)
        {
            return Arc::clone(w);
        }
        let w: Arc<[f32]> = compute().into();
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if map.len() < MAX_ENTRIES {
            map.entry(k).or_insert_with(|| Arc::clone(&w));
        }
        w
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(calibration: Calibration, percentile: f32, group_size: usize) -> WeightQuant {
        WeightQuant::Int(QuantSpec {
            bits: 4,
            scheme: Scheme::Symmetric,
            granularity: Granularity::PerChannel,
            group_size,
            calibration,
            percentile,
            scale_dtype: ScaleDtype::F32,
        })
    }

    #[test]
    fn computes_once_per_distinct_request() {
        let c = WeightCache::default();
        let mut calls = 0;
        for q in [
            spec(Calibration::MinMax, 99.0, 32),
            // Fields the variant ignores do not split the cache…
            spec(Calibration::MinMax, 90.0, 64),
            WeightQuant::Fp16,
        ] {
            c.get_or_compute(0, &q, || {
                calls += 1;
                vec![1.0]
            });
        }
        assert_eq!((calls, c.len()), (2, 2));
        // …but the ones it uses, and the layer, do.
        c.get_or_compute(0, &spec(Calibration::Percentile, 99.0, 32), || vec![2.0]);
        c.get_or_compute(0, &spec(Calibration::Percentile, 99.5, 32), || vec![3.0]);
        let w = c.get_or_compute(1, &WeightQuant::Fp16, || vec![4.0]);
        assert_eq!((c.len(), &w[..]), (5, &[4.0][..]));
        let again = c.get_or_compute(0, &spec(Calibration::Percentile, 99.5, 32), || vec![9.0]);
        assert_eq!(&again[..], &[3.0]);
    }
}
