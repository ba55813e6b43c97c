//! A real network loaded once per process for the studies that measure
//! configurations on it (mixed_precision's `model = "transformer"`,
//! bit_allocation's measured dataset): the model, its tokenized evaluation
//! texts, reference outputs, calibration samples and weight cache, plus a
//! memo of what has been measured.
//!
//! Sessions are shared by every trial that asks for the same model, texts
//! and sequence length, so loading, the reference forward, calibration and
//! weight quantization happen once per run, and a configuration one trial
//! measured is not measured again by another. Every measurement is a pure
//! function of the configuration and the session's inputs, so sharing
//! changes no result, only the time.

use super::decoder::{self, DecoderSession};
use super::linear::Linear;
use super::llama::Llama;
use super::{CALIB_TEXT, EVAL_TEXT, EncoderSession, ModelKind, lines, resolve};
use crate::error::{Error, Result};
use crate::quant::LayerQuant;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// The loaded network.
pub enum Net {
    Encoder(EncoderSession),
    Decoder(DecoderSession<Llama>),
}

/// A quality figure against the reference; higher is better and the
/// reference scores 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// Encoders: mean / minimum cosine similarity of sentence embeddings,
    /// nearest-neighbour agreement.
    MeanCosine,
    MinCosine,
    NnAgreement,
    /// Decoders: top-1 next-token agreement, exp(−mean KL), reference /
    /// quantized perplexity.
    Top1Agreement,
    KlFidelity,
    PerplexityRatio,
}
crate::choice!(Quality {
    MeanCosine => "mean_cosine",
    MinCosine => "min_cosine",
    NnAgreement => "nn_agreement",
    Top1Agreement => "top1_agreement",
    KlFidelity => "kl_fidelity",
    PerplexityRatio => "perplexity_ratio",
});

impl Quality {
    pub fn describe(self) -> &'static str {
        match self {
            Quality::MeanCosine => "mean cosine similarity",
            Quality::MinCosine => "minimum cosine similarity",
            Quality::NnAgreement => "nearest-neighbour agreement",
            Quality::Top1Agreement => "top-1 next-token agreement",
            Quality::KlFidelity => {
                "KL fidelity exp(-mean KL(reference || quantized)) of the next-token distributions"
            }
            Quality::PerplexityRatio => "perplexity ratio (reference / quantized)",
        }
    }

    /// Does the figure apply to a decoder (else to an encoder)?
    pub fn for_decoder(self) -> bool {
        matches!(
            self,
            Quality::Top1Agreement | Quality::KlFidelity | Quality::PerplexityRatio
        )
    }
}

/// What a session is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionSpec {
    /// The first N texts of the built-in evaluation and calibration corpora.
    pub eval_texts: usize,
    pub calib_texts: usize,
    pub max_seq_len: usize,
}

/// A network and what has been measured on it.
pub struct Session {
    pub net: Net,
    /// The file or folder it was loaded from, and whether it is a GGUF.
    pub gguf: bool,
    memo: Mutex<HashMap<(Quality, usize, String), f64>>,
}

/// Sessions kept at most (each holds a model, its reference outputs and a
/// weight cache of at most 1 GiB).
const SESSIONS: usize = 3;

type Sessions = Mutex<Vec<(String, Arc<Session>)>>;

fn sessions() -> &'static Sessions {
    static S: OnceLock<Sessions> = OnceLock::new();
    S.get_or_init(|| Mutex::new(Vec::new()))
}

/// What `path` holds, checked without loading the weights (exit 2 naming
/// the path and the fetch script).
pub fn check_model(path: &Path) -> Result<ModelKind> {
    if !path.exists() {
        return Err(Error::user(format!(
            "{}: no such model; `bash scripts/fetch-models.sh` fetches all-MiniLM-L6-v2 and SmolLM2-135M-Instruct.Q4_1.gguf into models/",
            path.display()
        )));
    }
    resolve(&path.display().to_string())
}

impl Session {
    /// The shared session of `path` with `spec`, loaded on first use (two
    /// trials racing may both load; the first stored wins). The ambient
    /// rayon pool runs the reference; results do not depend on its size.
    pub fn shared(path: &Path, spec: &SessionSpec) -> Result<Arc<Session>> {
        let key = format!(
            "{}|{}|{}|{}",
            std::path::absolute(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display(),
            spec.eval_texts,
            spec.calib_texts,
            spec.max_seq_len
        );
        let lock = || sessions().lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, s)) = lock().iter().find(|(k, _)| *k == key) {
            return Ok(s.clone());
        }
        let fresh = Arc::new(Session::load(path, spec)?);
        let mut all = lock();
        if let Some((_, s)) = all.iter().find(|(k, _)| *k == key) {
            return Ok(s.clone());
        }
        if all.len() >= SESSIONS {
            all.remove(0);
        }
        all.push((key, fresh.clone()));
        Ok(fresh)
    }

    /// Load `path` (a BERT folder, a GGUF or a LLaMA folder) and run its
    /// reference; always calibrated (baselines quantize activations).
    pub fn load(path: &Path, spec: &SessionSpec) -> Result<Session> {
        let kind = check_model(path)?;
        let texts: Vec<String> = lines(EVAL_TEXT).into_iter().take(spec.eval_texts).collect();
        let calib: Vec<String> = lines(CALIB_TEXT)
            .into_iter()
            .take(spec.calib_texts)
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .build()
            .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;
        let gguf = kind.is_gguf();
        let net = if kind.is_encoder() {
            Net::Encoder(EncoderSession::new(
                kind.path(),
                gguf,
                &texts,
                &calib,
                spec.max_seq_len,
                &pool,
            )?)
        } else {
            let (m, tok) = decoder::load(path, gguf)?;
            Net::Decoder(DecoderSession::new(
                m,
                &tok,
                &texts,
                &calib,
                spec.max_seq_len,
                true,
                &pool,
            )?)
        };
        Ok(Session {
            net,
            gguf,
            memo: Mutex::new(HashMap::new()),
        })
    }

    /// Forget every memoised measurement and prepared layer: the next
    /// measurements start cold (and give the same values).
    pub fn clear_caches(&self) {
        self.memo.lock().unwrap_or_else(|e| e.into_inner()).clear();
        match &self.net {
            Net::Encoder(s) => s.cache.clear(),
            Net::Decoder(s) => s.cache.clear(),
        }
    }

    pub fn is_decoder(&self) -> bool {
        matches!(self.net, Net::Decoder(_))
    }

    /// Token ids of each evaluation text.
    pub fn tokens(&self) -> &[Vec<u32>] {
        match &self.net {
            Net::Encoder(s) => &s.tokens,
            Net::Decoder(s) => &s.tokens,
        }
    }

    /// Every linear layer the runtime quantizes, in forward order (a
    /// decoder's head last).
    pub fn linears(&self) -> Vec<&Linear> {
        match &self.net {
            Net::Encoder(s) => s.model.linears(),
            Net::Decoder(s) => s.model.linears(),
        }
    }

    /// The largest |input| of linear layer `i` on the calibration texts.
    pub fn input_range(&self, i: usize) -> Option<f32> {
        match &self.net {
            Net::Encoder(s) => s.input_range(i),
            Net::Decoder(s) => s.input_range(i),
        }
    }

    /// `quality` of `quant` (one per [`Session::linears`] entry) on the
    /// first `n_texts` evaluation texts; `key` names the configuration
    /// canonically (equal keys, equal configurations) for the memo.
    pub fn measure(
        &self,
        key: String,
        quant: &[LayerQuant],
        n_texts: usize,
        quality: Quality,
    ) -> Result<f64> {
        let key = (quality, n_texts, key);
        let memo = || self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&q) = memo().get(&key) {
            return Ok(q);
        }
        if quality.for_decoder() != self.is_decoder() {
            return Err(Error::user(format!(
                "{quality:?} does not apply to this model (an {})",
                if self.is_decoder() {
                    "decoder"
                } else {
                    "encoder"
                }
            )));
        }
        let q = match &self.net {
            Net::Encoder(s) => {
                let r = s.measure_first(quant, n_texts)?;
                match quality {
                    Quality::MinCosine => r.min_cosine,
                    Quality::NnAgreement => r.nn_agreement,
                    _ => r.mean_cosine,
                }
            }
            Net::Decoder(s) => {
                let r = s.measure(quant, &LayerQuant::FP32, n_texts)?;
                match quality {
                    Quality::KlFidelity => (-r.mean_kl).exp(),
                    Quality::PerplexityRatio => r.ref_perplexity / r.perplexity,
                    _ => r.top1_agreement,
                }
            }
        };
        memo().insert(key, q);
        Ok(q)
    }
}
