//! `eval` for causal decoders: what a quantization configuration costs a
//! LLaMA-family model, measured like llama.cpp's
//! `llama-perplexity --kl-divergence` against the model as loaded.
//!
//! Every text runs twice, under the reference (every layer as loaded; for a
//! GGUF with quantized tensors that is their dequantized f32 values, not the
//! original float model) and under the configuration. At every position p
//! that has a next token (all but the last), with softmax and log-softmax in
//! f64:
//! - perplexity = exp(mean over positions of −log p_config(next token));
//! - KL(reference‖config) = Σ_v p_ref(v)·(log p_ref(v) − log p_config(v)),
//!   reported as its mean, 99th percentile (nearest rank over all positions)
//!   and maximum;
//! - top-1 agreement = fraction of positions whose argmax (lowest id on ties)
//!   is the same under both.
//!
//! The configuration's default applies to the block linear layers
//! (`blk.N.*`); the head (`output`) and the token embedding (`token_embd`,
//! weights only) stay as loaded unless the configuration names them; norms
//! are always f32. Texts run independently and statistics are summed in text
//! order, so results do not depend on the thread count.

use super::linear::{self, LinearPlan, Samples, WeightCache};
use super::llama::{BLOCK_LINEARS, Llama};
use super::tokenizer::Tokenizer;
use super::{EvalOptions, pool};
use crate::error::{Error, Result};
use crate::quant::qconfig::QuantConfig;
use crate::quant::{ActQuant, LayerQuant, WeightQuant};
use std::borrow::Borrow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Calibration texts used at most for a decoder (inputs of every linear layer
/// of every token are recorded; this bounds the memory).
pub const DECODER_CALIB_TEXTS: usize = 32;

/// Results of one configuration on a decoder.
#[derive(Clone, Debug)]
pub struct DecoderEval {
    pub model: PathBuf,
    pub n_texts: usize,
    pub n_tokens: usize,
    /// Positions with a next token (the metrics' population).
    pub n_positions: usize,
    pub tokens: Vec<Vec<u32>>,
    /// `[n_texts, vocab]` logits at each text's last position, under the configuration.
    pub last_logits: Vec<Vec<f32>>,
    pub perplexity: f64,
    pub ref_perplexity: f64,
    pub mean_kl: f64,
    pub p99_kl: f64,
    pub max_kl: f64,
    pub top1_agreement: f64,
    /// Block linear layers: values, and bytes under the configuration.
    pub linear_weights: usize,
    pub linear_weight_bytes: usize,
    /// The head's bytes under the configuration (0 when tied and not named).
    pub head_bytes: usize,
    pub embedding_values: usize,
    pub embedding_bytes: usize,
    pub norm_params: usize,
    pub tied: bool,
    /// Block linear layers as stored in the file: type names and bits/weight.
    pub stored_linears: Option<(String, f64)>,
    /// Wall time of the paired forwards, and how many forwards ran per text.
    pub seconds: f64,
    pub forwards_per_text: usize,
}

impl DecoderEval {
    pub fn bits_per_weight(&self) -> f64 {
        8.0 * self.linear_weight_bytes as f64 / self.linear_weights as f64
    }
    pub fn total_bytes(&self) -> usize {
        self.linear_weight_bytes + self.head_bytes + self.embedding_bytes + 4 * self.norm_params
    }
}

/// Load a decoder and its tokenizer: a GGUF file or a Hugging Face folder.
pub fn load(path: &Path, gguf: bool) -> Result<(Llama, Tokenizer)> {
    if gguf {
        let g = crate::models::gguf::Gguf::open(path)?;
        let tok = Tokenizer::from_gguf(&g)?;
        Ok((Llama::from_gguf(&g)?, tok))
    } else {
        let model = Llama::from_hf(path)?;
        Ok((model, Tokenizer::from_file(&path.join("tokenizer.json"))?))
    }
}

/// log-softmax of `row` into `lp` and, when `p` is given, the softmax into it (f64).
fn log_softmax(row: &[f32], lp: &mut Vec<f64>, p: Option<&mut Vec<f64>>) {
    let max = f64::from(row.iter().copied().fold(f32::NEG_INFINITY, f32::max));
    lp.clear();
    lp.extend(row.iter().map(|&v| f64::from(v) - max));
    match p {
        Some(p) => {
            p.clear();
            p.extend(lp.iter().map(|&z| z.exp()));
            let sum: f64 = p.iter().sum();
            let (ls, inv) = (sum.ln(), 1.0 / sum);
            for (l, e) in lp.iter_mut().zip(p.iter_mut()) {
                *l -= ls;
                *e *= inv;
            }
        }
        None => {
            let ls = lp.iter().map(|&z| z.exp()).sum::<f64>().ln();
            for l in lp.iter_mut() {
                *l -= ls;
            }
        }
    }
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Per-text statistics, summed later in text order.
struct TextStats {
    nll: f64,
    ref_nll: f64,
    kl: Vec<f64>,
    agree: usize,
    last: Vec<f32>,
}

/// Compare the logits of one text (`[t, vocab]` each; `q` None: the
/// configuration is the reference).
fn compare(ids: &[u32], r: &[f32], q: Option<&[f32]>, vocab: usize) -> TextStats {
    let (mut lr, mut lq, mut pr) = (Vec::new(), Vec::new(), Vec::new());
    let same = q.is_none();
    let q = q.unwrap_or(r);
    let mut s = TextStats {
        nll: 0.0,
        ref_nll: 0.0,
        kl: Vec::with_capacity(ids.len()),
        agree: 0,
        last: q[q.len() - vocab..].to_vec(),
    };
    for (p, &next) in ids.iter().enumerate().skip(1) {
        let (rr, qr) = (
            &r[(p - 1) * vocab..p * vocab],
            &q[(p - 1) * vocab..p * vocab],
        );
        if same {
            log_softmax(rr, &mut lr, None);
            s.ref_nll -= lr[next as usize];
            s.nll = s.ref_nll;
            s.kl.push(0.0);
            s.agree += 1;
            continue;
        }
        log_softmax(rr, &mut lr, Some(&mut pr));
        log_softmax(qr, &mut lq, None);
        s.nll -= lq[next as usize];
        s.ref_nll -= lr[next as usize];
        let kl: f64 = pr
            .iter()
            .zip(lr.iter().zip(&lq))
            .map(|(&p, (&a, &b))| p * (a - b))
            .sum();
        s.kl.push(kl.max(0.0));
        s.agree += usize::from(argmax(rr) == argmax(qr));
    }
    s
}

/// The texts, reference logits and calibration samples of a decoder, ready
/// to measure any number of configurations: each costs one forward pass per
/// text (weights are fake-quantized once per layer and precision, in `cache`).
pub struct DecoderSession<M: Borrow<Llama> = Llama> {
    /// The model, owned or borrowed.
    pub model: M,
    pub tokens: Vec<Vec<u32>>,
    /// `[t, vocab]` reference logits per text.
    reference: Vec<Vec<f32>>,
    samples: Option<Samples>,
    pub(super) cache: WeightCache,
    /// Wall time of the reference forwards.
    pub reference_seconds: f64,
}

/// What one configuration does to a decoder, against the reference.
#[derive(Clone, Debug)]
pub struct DecoderMeasure {
    pub n_positions: usize,
    pub perplexity: f64,
    pub ref_perplexity: f64,
    pub mean_kl: f64,
    pub p99_kl: f64,
    pub max_kl: f64,
    pub top1_agreement: f64,
    /// `[n_texts, vocab]` logits at each text's last position.
    pub last_logits: Vec<Vec<f32>>,
    /// Forwards per text this measurement ran (0: the configuration is the reference).
    pub forwards_per_text: usize,
}

impl<M: Borrow<Llama> + Sync> DecoderSession<M> {
    /// Tokenize `texts` (at most `max_seq_len` tokens each) and, when
    /// `calibrate`, the first [`DECODER_CALIB_TEXTS`] of `calib`; run the
    /// reference on `pool`.
    pub fn new(
        owner: M,
        tok: &Tokenizer,
        texts: &[String],
        calib: &[String],
        max_seq_len: usize,
        calibrate: bool,
        pool: &rayon::ThreadPool,
    ) -> Result<DecoderSession<M>> {
        let model: &Llama = owner.borrow();
        if texts.is_empty() {
            return Err(Error::user("evaluation needs at least 1 text"));
        }
        let max_len = max_seq_len.min(model.config.context);
        let encode = |texts: &[String]| -> Result<Vec<Vec<u32>>> {
            texts
                .iter()
                .map(|t| tok.encode_causal(t, max_len))
                .collect()
        };
        let tokens = encode(texts)?;
        if let Some(i) = tokens.iter().position(|t| t.len() < 2) {
            return Err(Error::user(format!(
                "text {} has fewer than 2 tokens: nothing to predict",
                i + 1
            )));
        }
        let cache = WeightCache::default();
        let linears = model.linears();
        let reference_plans = linear::plans(
            &linears,
            &vec![LayerQuant::FP32; linears.len()],
            None,
            &cache,
        )?;
        let samples: Option<Samples> = if calibrate {
            if calib.is_empty() {
                return Err(Error::user(
                    "integer activations need calibration texts (--calib)",
                ));
            }
            let n = calib.len().min(DECODER_CALIB_TEXTS);
            let ctoks = encode(&calib[..n])?;
            Some(linear::collect_samples(
                pool,
                &ctoks,
                linears.len(),
                |batch, rec| {
                    model
                        .logits_batch(batch, &reference_plans, &model.embedding.w, Some(rec))
                        .map(|_| ())
                },
            )?)
        } else {
            None
        };
        let t0 = std::time::Instant::now();
        let reference = pool.install(|| {
            linear::map_batched(&tokens, |_, batch| {
                model.logits_batch(batch, &reference_plans, &model.embedding.w, None)
            })
        })?;
        Ok(DecoderSession {
            model: owner,
            tokens,
            reference,
            samples,
            cache,
            reference_seconds: t0.elapsed().as_secs_f64(),
        })
    }

    /// The largest |input| of linear layer `i` on the calibration texts.
    pub fn input_range(&self, i: usize) -> Option<f32> {
        linear::input_range(self.samples.as_ref()?, i)
    }

    /// Measure the first `n_texts` texts (all when larger) under `quant` (one
    /// per linear layer, in `model.linears()` order) and the token embedding
    /// under `embd_q` (weights only), on the ambient rayon pool.
    pub fn measure(
        &self,
        quant: &[LayerQuant],
        embd_q: &LayerQuant,
        n_texts: usize,
    ) -> Result<DecoderMeasure> {
        let model: &Llama = self.model.borrow();
        let linears = model.linears();
        let needs_calib = quant.iter().any(|q| q.activations.calibrated());
        if needs_calib && self.samples.is_none() {
            return Err(Error::user(
                "integer activations need calibration texts (--calib)",
            ));
        }
        let plans = linear::plans(&linears, quant, self.samples.as_ref(), &self.cache)?;
        let embd: Arc<Vec<f32>> = self.cache.weights(&model.embedding, &embd_q.weights)?;
        let same = quant.iter().all(|q| *q == LayerQuant::FP32) && *embd_q == LayerQuant::FP32;
        let vocab = model.config.vocab;
        let n = n_texts.min(self.tokens.len());
        let stats: Vec<TextStats> = if same {
            self.tokens[..n]
                .iter()
                .zip(&self.reference)
                .map(|(ids, r)| compare(ids, r, None, vocab))
                .collect()
        } else {
            // Batches are compared as they finish, so at most one batch of
            // logits per thread is held.
            linear::map_batched(&self.tokens[..n], |first, batch| {
                let q = model.logits_batch(batch, &plans, &embd, None)?;
                Ok(batch
                    .iter()
                    .zip(&q)
                    .zip(&self.reference[first..])
                    .map(|((ids, q), r)| compare(ids, r, Some(q), vocab))
                    .collect())
            })?
        };
        let n_positions: usize = stats.iter().map(|s| s.kl.len()).sum();
        let np = n_positions as f64;
        let mut kls: Vec<f64> = stats.iter().flat_map(|s| s.kl.iter().copied()).collect();
        let mean_kl = kls.iter().sum::<f64>() / np;
        kls.sort_by(f64::total_cmp);
        let rank = ((0.99 * np).ceil() as usize).clamp(1, kls.len()) - 1;
        Ok(DecoderMeasure {
            n_positions,
            perplexity: (stats.iter().map(|s| s.nll).sum::<f64>() / np).exp(),
            ref_perplexity: (stats.iter().map(|s| s.ref_nll).sum::<f64>() / np).exp(),
            mean_kl,
            p99_kl: kls[rank],
            max_kl: *kls.last().expect("positions"),
            top1_agreement: stats.iter().map(|s| s.agree).sum::<usize>() as f64 / np,
            last_logits: stats.into_iter().map(|s| s.last).collect(),
            forwards_per_text: usize::from(!same),
        })
    }
}

/// The per-linear-layer configuration of `config` on `model` (the default
/// covers the block linears; the head only when named) and the token
/// embedding's; exit 2 for unknown layers or a quantized embedding input.
pub fn layer_quants(model: &Llama, config: &QuantConfig) -> Result<(Vec<LayerQuant>, LayerQuant)> {
    let linears = model.linears();
    let source = config.source.display().to_string();
    config.check_names(|n| n == "token_embd" || linears.iter().any(|l| l.name == n))?;
    let named = |n: &str| config.layers.iter().find(|(l, _)| l == n).map(|(_, q)| *q);
    let quant: Vec<LayerQuant> = linears
        .iter()
        .map(|l| {
            if l.name == "output" {
                named("output").unwrap_or(LayerQuant::FP32)
            } else {
                config.for_layer(&l.name)
            }
        })
        .collect();
    let embd_q = named("token_embd").unwrap_or(LayerQuant::FP32);
    if embd_q.activations != ActQuant::Fp32 {
        return Err(Error::user(format!(
            "{source}: layer `token_embd` is a lookup table: only its weights can be quantized"
        )));
    }
    Ok((quant, embd_q))
}

/// Evaluate `opts.config` on `model` against the model as loaded.
pub fn eval_decoder(model: &Llama, tok: &Tokenizer, opts: &EvalOptions) -> Result<DecoderEval> {
    let linears = model.linears();
    let (quant, embd_q) = layer_quants(model, &opts.config)?;
    let head_named = opts.config.layers.iter().any(|(l, _)| l == "output");
    let needs_calib = quant.iter().any(|q| q.activations.calibrated());
    let pool = pool(opts.jobs)?;
    let session = DecoderSession::new(
        model,
        tok,
        &opts.texts,
        &opts.calib,
        opts.max_seq_len,
        needs_calib,
        &pool,
    )?;
    let t0 = std::time::Instant::now();
    let m = pool.install(|| session.measure(&quant, &embd_q, usize::MAX))?;
    let seconds = session.reference_seconds + t0.elapsed().as_secs_f64();
    let quant_bytes = |l: &linear::Linear, q: &WeightQuant| l.weight_bytes(q);
    let nb = linears.len() - 1;
    let mut linear_weight_bytes = 0;
    for (l, q) in linears[..nb].iter().zip(&quant) {
        linear_weight_bytes += quant_bytes(l, &q.weights)?;
    }
    let head = linears[nb];
    let head_bytes = if model.tied && !head_named {
        0
    } else {
        quant_bytes(head, &quant[nb].weights)?
    };
    let stored_linears = stored_summary(model);
    let tokens = session.tokens.clone();
    Ok(DecoderEval {
        model: model.source.clone(),
        n_texts: tokens.len(),
        n_tokens: tokens.iter().map(Vec::len).sum(),
        n_positions: m.n_positions,
        perplexity: m.perplexity,
        ref_perplexity: m.ref_perplexity,
        mean_kl: m.mean_kl,
        p99_kl: m.p99_kl,
        max_kl: m.max_kl,
        top1_agreement: m.top1_agreement,
        linear_weights: linears[..nb].iter().map(|l| l.w.len()).sum(),
        linear_weight_bytes,
        head_bytes,
        embedding_values: model.embedding.w.len(),
        embedding_bytes: quant_bytes(&model.embedding, &embd_q.weights)?,
        norm_params: model.norm_params(),
        tied: model.tied,
        stored_linears,
        last_logits: m.last_logits,
        tokens,
        seconds,
        // The reference ran once when the session was built.
        forwards_per_text: 1 + m.forwards_per_text,
    })
}

/// The block linears' storage types in the file and their bits per weight.
fn stored_summary(model: &Llama) -> Option<(String, f64)> {
    if model.stored.is_empty() {
        return None;
    }
    let mut kinds: Vec<&str> = Vec::new();
    let (mut values, mut bytes) = (0usize, 0usize);
    for s in &model.stored {
        let is_linear = s.name.starts_with("blk.")
            && BLOCK_LINEARS
                .iter()
                .any(|l| s.name.ends_with(&format!(".{l}.weight")));
        if is_linear {
            values += s.values;
            bytes += s.bytes;
            if !kinds.contains(&s.kind.as_str()) {
                kinds.push(&s.kind);
            }
        }
    }
    (values > 0).then(|| (kinds.join("+"), 8.0 * bytes as f64 / values as f64))
}

/// Reference plans of `model` (every layer as loaded), for benchmarks and tests.
pub fn reference_plans(model: &Llama) -> Result<Vec<LinearPlan>> {
    let l = model.linears();
    linear::plans(
        &l,
        &vec![LayerQuant::FP32; l.len()],
        None,
        &WeightCache::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_of_identical_and_shifted_logits() {
        let vocab = 4;
        let ids = [0u32, 1, 2];
        let r: Vec<f32> = vec![0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let s = compare(&ids, &r, Some(&r), vocab);
        assert_eq!(s.agree, 2);
        assert_eq!(s.nll, s.ref_nll);
        assert!(s.kl.iter().all(|&k| k < 1e-15), "{:?}", s.kl);
        let s0 = compare(&ids, &r, None, vocab);
        assert_eq!((s0.kl, s0.agree, s0.nll), (vec![0.0, 0.0], 2, s.nll));
        // p(1) at position 0 = e²/(e² + 3).
        let e2 = 2f64.exp();
        let want = -(e2 / (e2 + 3.0)).ln() - (3f64.exp() / (3f64.exp() + 3.0)).ln();
        assert!((s.nll - want).abs() < 1e-12);
        // Uniform config logits: KL = log 4 − H(p_ref) > 0, argmax 0 ≠ 1.
        let q = vec![0.0f32; 12];
        let s = compare(&ids, &r, Some(&q), vocab);
        assert_eq!(s.agree, 0);
        let p: Vec<f64> = [0.0, 2.0, 0.0, 0.0]
            .iter()
            .map(|v: &f64| v.exp() / (e2 + 3.0))
            .collect();
        let h: f64 = -p.iter().map(|x| x * x.ln()).sum::<f64>();
        assert!((s.kl[0] - (4f64.ln() - h)).abs() < 1e-12);
        assert_eq!(s.last, vec![0.0; 4]);
    }
}
