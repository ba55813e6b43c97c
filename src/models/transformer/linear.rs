//! Linear layers with quantization points: the weight is replaced by its
//! fake-quantized image (cached per layer and weight precision, so a new
//! configuration only requantizes the layers it changes) and the input
//! activations by their per-tensor quantize→dequantize image with a range
//! calibrated on the calibration texts.

use super::ops;
use crate::error::{Error, Result};
use crate::nn::classifier::{ActQuant, LayerQuant, WeightQuant};
use crate::quant::fp8::Fp8Act;
use crate::quant::{
    AffineParams, QuantizedTensor, StaticAct, calibrate_range, fp16_round_trip_in_place,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Fake-quantized weights kept at most (bytes), per cache.
const WEIGHT_CACHE_BYTES: usize = 1 << 30;

/// Calibration keeps at most this many input values per layer (evenly strided).
const CALIB_SAMPLES: usize = 1 << 18;

/// One `y = x·Wᵀ + b` layer as stored (`w` is `[out, inp]` row-major).
#[derive(Clone, Debug)]
pub struct Linear {
    pub name: String,
    pub w: Arc<Vec<f32>>,
    pub b: Option<Vec<f32>>,
    pub out: usize,
    pub inp: usize,
}

/// How one layer runs in a forward pass.
#[derive(Clone, Debug)]
pub struct LinearPlan {
    pub w: Arc<Vec<f32>>,
    pub act: ActMode,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActMode {
    Float,
    Fp16,
    Int(AffineParams),
    Fp8(Fp8Act),
}

/// Per-layer input samples gathered by a calibration forward.
pub type Samples = Vec<Vec<f32>>;

/// The largest |value| among layer `i`'s calibration samples.
pub fn input_range(samples: &Samples, i: usize) -> Option<f32> {
    let s = samples.get(i)?;
    Some(s.iter().fold(0.0f32, |m, v| m.max(v.abs())))
}

impl Linear {
    /// `x` is `[rows, inp]`; returns `[rows, out]`. When `record` is given the
    /// (float) input values are appended to it for calibration.
    pub fn forward(&self, x: &[f32], plan: &LinearPlan, record: Option<&mut Vec<f32>>) -> Vec<f32> {
        let rows = x.len() / self.inp;
        if let Some(r) = record {
            r.extend_from_slice(x);
        }
        let mut y = vec![0.0f32; rows * self.out];
        match plan.act {
            ActMode::Float => ops::matmul_bt(x, &plan.w, rows, self.inp, self.out, &mut y),
            ActMode::Fp16 => {
                let mut xq = x.to_vec();
                fp16_round_trip_in_place(&mut xq);
                ops::matmul_bt(&xq, &plan.w, rows, self.inp, self.out, &mut y)
            }
            ActMode::Int(p) => {
                let mut xq = x.to_vec();
                p.fake_quantize_in_place(&mut xq);
                ops::matmul_bt(&xq, &plan.w, rows, self.inp, self.out, &mut y)
            }
            ActMode::Fp8(p) => {
                let mut xq = x.to_vec();
                p.fake_quantize_in_place(&mut xq);
                ops::matmul_bt(&xq, &plan.w, rows, self.inp, self.out, &mut y)
            }
        }
        if let Some(b) = &self.b {
            ops::add_bias(&mut y, b);
        }
        y
    }

    /// Weight bytes as stored under `q`: packed codes plus scales and zero points.
    pub fn weight_bytes(&self, q: &WeightQuant) -> Result<usize> {
        Ok(match q {
            WeightQuant::Fp32 => 4 * self.w.len(),
            WeightQuant::Fp16 => 2 * self.w.len(),
            WeightQuant::Int(spec) => {
                QuantizedTensor::quantize(&self.w, &[self.out, self.inp], spec)
                    .map_err(|e| Error::user(format!("layer `{}`: {e}", self.name)))?
                    .size_bytes()
            }
            WeightQuant::Ggml(f) => f.encoded_len(self.w.len()),
            WeightQuant::Extreme(x) => {
                crate::quant::binary::ExtremeTensor::quantize(&self.w, &[self.out, self.inp], x)
                    .map_err(|e| Error::user(format!("layer `{}`: {e}", self.name)))?
                    .size_bytes()
            }
            WeightQuant::Fp8 { per_channel } => crate::quant::fp8::stored_bytes(
                self.w.len(),
                if *per_channel { self.out } else { 1 },
            ),
        })
    }
}

/// (layer name, weight precision as text) → fake-quantized weights.
type CacheMap = HashMap<(String, String), Arc<Vec<f32>>>;
/// (layer name, activation precision as text) → calibrated parameters.
type ActMap = HashMap<(String, String), ActMode>;

/// What a configuration's layers cost to prepare, memoised: fake-quantized
/// weights per (layer, weight precision) and calibrated activation
/// parameters per (layer, activation precision), so a new configuration
/// only prepares the layers it changes. Entries are pure functions of their
/// keys, so the cache changes no result.
#[derive(Default)]
pub struct WeightCache {
    map: Mutex<CacheMap>,
    acts: Mutex<ActMap>,
}

impl WeightCache {
    /// Forget every prepared layer (memory back; later plans recompute
    /// the same values).
    pub fn clear(&self) {
        self.map.lock().expect("cache lock").clear();
        self.acts.lock().expect("cache lock").clear();
    }

    /// The activation map of `l` under integer or FP8 activations `q`,
    /// calibrated on `samples` (the layer's calibration inputs).
    fn act_params(&self, l: &Linear, q: &ActQuant, samples: &[f32]) -> Option<ActMode> {
        let key = (l.name.clone(), format!("{q:?}"));
        if let Some(p) = self.acts.lock().expect("cache lock").get(&key) {
            return Some(*p);
        }
        let p = match q.static_map(|bits, scheme, calibration, percentile| {
            calibrate_range(samples, bits, scheme, calibration, percentile)
        })? {
            StaticAct::Int(a) => ActMode::Int(a),
            StaticAct::Fp8(f) => ActMode::Fp8(f),
        };
        self.acts.lock().expect("cache lock").insert(key, p);
        Some(p)
    }

    pub fn weights(&self, l: &Linear, q: &WeightQuant) -> Result<Arc<Vec<f32>>> {
        if *q == WeightQuant::Fp32 {
            return Ok(l.w.clone());
        }
        let key = (l.name.clone(), format!("{q:?}"));
        if let Some(w) = self.map.lock().expect("cache lock").get(&key) {
            return Ok(w.clone());
        }
        let mut out = vec![0.0f32; l.w.len()];
        q.fake_quantize(&l.w, &[l.out, l.inp], &mut out)
            .map_err(|e| Error::user(format!("layer `{}` weights: {e}", l.name)))?;
        let w = Arc::new(out);
        let mut map = self.map.lock().expect("cache lock");
        // A search touches hundreds of (layer, gene) pairs; past the budget
        // start over rather than grow without bound (entries are recomputed
        // identically when needed again).
        let held: usize = map.values().map(|v| v.len()).sum();
        if 4 * (held + w.len()) > WEIGHT_CACHE_BYTES {
            map.clear();
        }
        map.insert(key, w.clone());
        Ok(w)
    }
}

/// The plan of each layer for `quant` (indexed like `layers`), with activation
/// ranges from `samples` (one entry per layer; needed only for integer activations).
pub fn plans(
    layers: &[&Linear],
    quant: &[LayerQuant],
    samples: Option<&Samples>,
    cache: &WeightCache,
) -> Result<Vec<LinearPlan>> {
    layers
        .iter()
        .zip(quant)
        .enumerate()
        .map(|(i, (l, q))| {
            let act = match q.activations {
                ActQuant::Fp32 => ActMode::Float,
                ActQuant::Fp16 => ActMode::Fp16,
                ActQuant::Int { .. } | ActQuant::Fp8 { .. } => {
                    let s = samples
                        .and_then(|s| s.get(i))
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| {
                            Error::Internal(format!("no calibration samples for `{}`", l.name))
                        })?;
                    cache.act_params(l, &q.activations, s).ok_or_else(|| {
                        Error::Internal("calibrated activations without parameters".into())
                    })?
                }
            };
            Ok(LinearPlan {
                w: cache.weights(l, &q.weights)?,
                act,
            })
        })
        .collect()
}

/// Texts stacked into one forward (rows of one tall product). The batches
/// are consecutive runs of this many texts, a function of the texts alone:
/// `gemm` picks its kernel from the product's shape (a one-row product takes
/// a matrix-vector path, small ones a fixed inner block), so a text's output
/// may depend on its batch and the batch must not depend on the thread
/// count. 8 texts of ~30 tokens reach ~0.9 of the throughput of 16 (see
/// `benches/transformer.rs`) while leaving batches for both cores.
pub const TEXT_BATCH: usize = 8;

/// The texts of `texts` in consecutive batches of [`TEXT_BATCH`].
pub fn batches(texts: &[Vec<u32>]) -> Vec<Vec<&[u32]>> {
    texts
        .chunks(TEXT_BATCH)
        .map(|c| c.iter().map(Vec::as_slice).collect())
        .collect()
}

/// `forward(first, batch)` (one output per text of the batch, whose first
/// text is `texts[first]`) over `texts` in batches on the ambient pool,
/// outputs in text order.
pub fn map_batched<T: Send>(
    texts: &[Vec<u32>],
    forward: impl Fn(usize, &[&[u32]]) -> Result<Vec<T>> + Sync,
) -> Result<Vec<T>> {
    use rayon::prelude::*;
    let batches = batches(texts);
    let firsts: Vec<usize> = batches
        .iter()
        .scan(0, |at, b| {
            let first = *at;
            *at += b.len();
            Some(first)
        })
        .collect();
    let per_batch: Vec<Vec<T>> = batches
        .par_iter()
        .zip(firsts)
        .map(|(b, first)| forward(first, b))
        .collect::<Result<_>>()?;
    Ok(per_batch.into_iter().flatten().collect())
}

/// Run `forward` on every calibration text (in batches spread over `pool`,
/// merged in text order, so the result is the same for any thread count) and
/// merge what each linear layer saw into per-layer samples.
pub fn collect_samples(
    pool: &rayon::ThreadPool,
    texts: &[Vec<u32>],
    n_layers: usize,
    forward: impl Fn(&[&[u32]], &mut Samples) -> Result<()> + Sync,
) -> Result<Samples> {
    use rayon::prelude::*;
    let per_batch: Vec<Samples> = pool.install(|| {
        batches(texts)
            .par_iter()
            .map(|b| {
                let mut rec: Samples = vec![Vec::new(); n_layers];
                forward(b, &mut rec).map(|_| rec)
            })
            .collect::<Result<_>>()
    })?;
    Ok(merge_samples(per_batch, n_layers))
}

/// Merge per-text (or per-batch, in text order) samples into per-layer samples of at most `CALIB_SAMPLES`
/// values each (an even stride over the concatenation, in text order).
pub fn merge_samples(per_text: Vec<Samples>, n_layers: usize) -> Samples {
    (0..n_layers)
        .map(|i| {
            let total: usize = per_text.iter().map(|t| t[i].len()).sum();
            let stride = total.div_ceil(CALIB_SAMPLES).max(1);
            per_text
                .iter()
                .flat_map(|t| t[i].iter().copied())
                .step_by(stride)
                .collect()
        })
        .collect()
}
