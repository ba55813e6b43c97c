//! A small transformer runtime whose forward pass is ours, so quantization
//! points sit on every linear layer, and `eval`: what a quantization
//! configuration costs a real pretrained model, measured against the model
//! as loaded.
//!
//! Implemented: BERT sentence encoders from a Hugging Face folder or a GGUF
//! file (`bert`), and LLaMA-family causal decoders from a GGUF file or a
//! Hugging Face folder (`llama`, metrics in `decoder`).
//! Determinism: every text is run on its own with single-threaded GEMM and
//! fixed-order reductions; rayon only spreads texts over threads, so results
//! are byte-identical for any `jobs`.

pub mod bert;
pub mod decoder;
pub mod linear;
pub mod llama;
pub mod loader;
pub mod ops;
pub mod session;
pub mod tokenizer;

use crate::error::{Error, Result};
use crate::quant::qconfig::QuantConfig;
use linear::{Samples, WeightCache};
use std::path::{Path, PathBuf};

/// The corpora written for this project (one text per line, disjoint).
pub const EVAL_TEXT: &str = include_str!("../corpus/eval.txt");
pub const CALIB_TEXT: &str = include_str!("../corpus/calib.txt");

/// Non-empty lines of a corpus.
pub fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

pub struct EvalOptions {
    pub texts: Vec<String>,
    pub calib: Vec<String>,
    pub max_seq_len: usize,
    pub jobs: usize,
    pub config: QuantConfig,
}

/// Results of one configuration on an encoder.
#[derive(Clone, Debug)]
pub struct EncoderEval {
    pub model: PathBuf,
    pub n_texts: usize,
    pub n_tokens: usize,
    pub tokens: Vec<Vec<u32>>,
    /// `[n_texts, hidden]` sentence embeddings under the configuration.
    pub embeddings: Vec<Vec<f32>>,
    /// Cosine similarity of each text's embedding to the reference's.
    pub cosines: Vec<f64>,
    pub mean_cosine: f64,
    pub min_cosine: f64,
    /// Fraction of texts whose nearest other text (cosine) is the same as
    /// under the reference.
    pub nn_agreement: f64,
    /// Linear-layer weights: count, bytes as stored (codes + scales + zero points).
    pub linear_weights: usize,
    pub linear_weight_bytes: usize,
    /// Everything else (embeddings, norms, biases), stored as f32.
    pub other_params: usize,
    pub quantized_seconds: f64,
}

impl EncoderEval {
    pub fn bits_per_weight(&self) -> f64 {
        8.0 * self.linear_weight_bytes as f64 / self.linear_weights as f64
    }
    pub fn total_bytes(&self) -> usize {
        self.linear_weight_bytes + 4 * self.other_params
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// Index of each embedding's most similar other embedding (lowest index on ties).
pub fn nearest_neighbours(e: &[Vec<f32>]) -> Vec<usize> {
    (0..e.len())
        .map(|i| {
            let mut best = (f64::NEG_INFINITY, usize::MAX);
            for j in 0..e.len() {
                if j != i {
                    let c = cosine(&e[i], &e[j]);
                    if c > best.0 {
                        best = (c, j);
                    }
                }
            }
            best.1
        })
        .collect()
}

/// Pairwise cosine similarity (for tests and callers ranking texts).
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f64 {
    cosine(a, b)
}

fn pool(jobs: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| Error::Internal(format!("thread pool: {e}")))
}

/// A loaded encoder with its evaluation texts, reference embeddings and
/// calibration samples, ready to measure any number of configurations: each
/// costs a forward pass over the texts (weights are fake-quantized once per
/// layer and weight precision, in `cache`).
pub struct EncoderSession {
    pub dir: PathBuf,
    pub model: bert::Bert,
    pub tokens: Vec<Vec<u32>>,
    pub reference: Vec<Vec<f32>>,
    reference_nn: Vec<usize>,
    samples: Option<Samples>,
    cache: WeightCache,
}

/// What one configuration does to an encoder, against the reference.
#[derive(Clone, Debug)]
pub struct EncoderMeasure {
    pub embeddings: Vec<Vec<f32>>,
    pub cosines: Vec<f64>,
    pub mean_cosine: f64,
    pub min_cosine: f64,
    pub nn_agreement: f64,
    pub linear_weight_bytes: usize,
}

impl EncoderSession {
    /// Load `dir`, tokenize `texts` (at most `max_seq_len` tokens each) and
    /// `calib`, and run the reference on `pool`. Calibration samples are
    /// collected only if `calib` is non-empty.
    pub fn new(
        dir: &Path,
        gguf: bool,
        texts: &[String],
        calib: &[String],
        max_seq_len: usize,
        pool: &rayon::ThreadPool,
    ) -> Result<EncoderSession> {
        let (model, tok) = bert::load(dir, gguf)?;
        Self::with_model(model, &tok, texts, calib, max_seq_len, pool)
    }

    /// [`EncoderSession::new`] for a model already loaded, with its tokenizer.
    pub fn with_model(
        model: bert::Bert,
        tok: &tokenizer::Tokenizer,
        texts: &[String],
        calib: &[String],
        max_seq_len: usize,
        pool: &rayon::ThreadPool,
    ) -> Result<EncoderSession> {
        if texts.len() < 2 {
            return Err(Error::user("evaluation needs at least 2 texts"));
        }
        let max_len = max_seq_len.min(model.config.max_position_embeddings);
        let encode = |texts: &[String]| -> Result<Vec<Vec<u32>>> {
            texts.iter().map(|t| tok.encode(t, max_len)).collect()
        };
        let tokens = encode(texts)?;
        let cache = WeightCache::default();
        let n = model.linears().len();
        let fp32 = vec![crate::nn::classifier::LayerQuant::FP32; n];
        let reference_plans = linear::plans(&model.linears(), &fp32, None, &cache)?;
        let samples = if calib.is_empty() {
            None
        } else {
            let ctoks = encode(calib)?;
            Some(linear::collect_samples(pool, &ctoks, n, |batch, rec| {
                model
                    .embed_batch(batch, &reference_plans, Some(rec))
                    .map(|_| ())
            })?)
        };
        let reference: Vec<Vec<f32>> = pool.install(|| {
            linear::map_batched(&tokens, |_, batch| {
                model.embed_batch(batch, &reference_plans, None)
            })
        })?;
        let reference_nn = nearest_neighbours(&reference);
        Ok(EncoderSession {
            dir: model.dir.clone(),
            model,
            tokens,
            reference,
            reference_nn,
            samples,
            cache,
        })
    }

    /// The largest |input| of linear layer `i` on the calibration texts.
    pub fn input_range(&self, i: usize) -> Option<f32> {
        linear::input_range(self.samples.as_ref()?, i)
    }

    /// Names of the linear layers, in forward order.
    pub fn layer_names(&self) -> Vec<String> {
        self.model
            .linears()
            .iter()
            .map(|l| l.name.clone())
            .collect()
    }

    /// Exit-2 error for a configuration the session cannot measure.
    pub fn check(&self, config: &QuantConfig) -> Result<()> {
        let linears = self.model.linears();
        config.check_names(|n| linears.iter().any(|l| l.name == n))
    }

    /// Measure one configuration (one `LayerQuant` per linear layer, in
    /// `layer_names` order) on the ambient rayon pool: text batches in parallel,
    /// each batch single-threaded, reductions in text order.
    pub fn measure(&self, quant: &[crate::nn::classifier::LayerQuant]) -> Result<EncoderMeasure> {
        self.measure_first(quant, self.tokens.len())
    }

    /// [`EncoderSession::measure`] on the first `n` texts (all when larger);
    /// nearest neighbours are then found among those texts.
    pub fn measure_first(
        &self,
        quant: &[crate::nn::classifier::LayerQuant],
        n: usize,
    ) -> Result<EncoderMeasure> {
        let n = n.min(self.tokens.len());
        let linears = self.model.linears();
        if needs_calibration(quant) && self.samples.is_none() {
            return Err(Error::user(
                "integer activations need calibration texts (--calib)",
            ));
        }
        let plans = linear::plans(&linears, quant, self.samples.as_ref(), &self.cache)?;
        let embeddings: Vec<Vec<f32>> = linear::map_batched(&self.tokens[..n], |_, batch| {
            self.model.embed_batch(batch, &plans, None)
        })?;
        let cosines: Vec<f64> = self
            .reference
            .iter()
            .zip(&embeddings)
            .map(|(a, b)| cosine(a, b))
            .collect();
        let nn_q = nearest_neighbours(&embeddings);
        let subset_nn;
        let reference_nn = if n == self.tokens.len() {
            &self.reference_nn
        } else {
            subset_nn = nearest_neighbours(&self.reference[..n]);
            &subset_nn
        };
        let agree = reference_nn
            .iter()
            .zip(&nn_q)
            .filter(|(a, b)| a == b)
            .count();
        let mut bytes = 0;
        for (l, q) in linears.iter().zip(quant) {
            bytes += l.weight_bytes(&q.weights)?;
        }
        Ok(EncoderMeasure {
            mean_cosine: cosines.iter().sum::<f64>() / n as f64,
            min_cosine: cosines.iter().copied().fold(f64::INFINITY, f64::min),
            nn_agreement: agree as f64 / n as f64,
            cosines,
            embeddings,
            linear_weight_bytes: bytes,
        })
    }
}

/// Does any layer quantize its input activations to integers?
fn needs_calibration(quant: &[crate::nn::classifier::LayerQuant]) -> bool {
    quant.iter().any(|q| q.activations.calibrated())
}

/// Run a BERT folder or GGUF file (by its magic) under `opts.config` and
/// compare with the unquantized model.
pub fn eval_encoder(dir: &Path, opts: &EvalOptions) -> Result<EncoderEval> {
    let pool = pool(opts.jobs)?;
    let (model, tok) = bert::load(dir, crate::models::gguf::is_gguf(dir))?;
    let linears = model.linears();
    opts.config
        .check_names(|n| linears.iter().any(|l| l.name == n))?;
    let quant: Vec<_> = linears
        .iter()
        .map(|l| opts.config.for_layer(&l.name))
        .collect();
    // Calibrate only when a layer needs it; `measure` refuses integer
    // activations without calibration texts.
    let calib: &[String] = if needs_calibration(&quant) {
        &opts.calib
    } else {
        &[]
    };
    let linear_weights = linears.iter().map(|l| l.w.len()).sum();
    let other_params = model.other_params();
    drop(linears);
    let session =
        EncoderSession::with_model(model, &tok, &opts.texts, calib, opts.max_seq_len, &pool)?;
    let t0 = std::time::Instant::now();
    let m = pool.install(|| session.measure(&quant))?;
    let quantized_seconds = t0.elapsed().as_secs_f64();
    let n = session.tokens.len();
    Ok(EncoderEval {
        model: dir.to_path_buf(),
        n_texts: n,
        n_tokens: session.tokens.iter().map(Vec::len).sum(),
        mean_cosine: m.mean_cosine,
        min_cosine: m.min_cosine,
        cosines: m.cosines,
        nn_agreement: m.nn_agreement,
        linear_weights,
        linear_weight_bytes: m.linear_weight_bytes,
        other_params,
        tokens: session.tokens.clone(),
        embeddings: m.embeddings,
        quantized_seconds,
    })
}

/// What kind of model a path holds.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelKind {
    /// A Hugging Face folder with a BERT `config.json`.
    BertFolder(PathBuf),
    /// A Hugging Face `LlamaForCausalLM` folder.
    LlamaFolder(PathBuf),
    /// A GGUF file (by magic or by the `.gguf` extension) of a decoder
    /// (any `general.architecture` but `bert`; the loader checks it).
    Gguf(PathBuf),
    /// A GGUF file with `general.architecture = "bert"`.
    BertGguf(PathBuf),
}

impl ModelKind {
    pub fn path(&self) -> &Path {
        match self {
            ModelKind::BertFolder(p)
            | ModelKind::LlamaFolder(p)
            | ModelKind::Gguf(p)
            | ModelKind::BertGguf(p) => p,
        }
    }

    pub fn is_encoder(&self) -> bool {
        matches!(self, ModelKind::BertFolder(_) | ModelKind::BertGguf(_))
    }

    pub fn is_gguf(&self) -> bool {
        matches!(self, ModelKind::Gguf(_) | ModelKind::BertGguf(_))
    }
}

/// Resolve MODEL: a path (folder or file), `models/<name>` (fetch script), or
/// `org/name` in the Hugging Face cache (`HF_HUB_CACHE`, else
/// `HF_HOME/hub`, else `~/.cache/huggingface/hub`).
pub fn resolve(model: &str) -> Result<ModelKind> {
    let mut tried = vec![PathBuf::from(model)];
    let direct = PathBuf::from(model);
    let mut found = direct.exists().then_some(direct);
    if found.is_none() {
        let m = Path::new("models").join(model);
        tried.push(m.clone());
        if m.exists() {
            found = Some(m);
        }
    }
    if found.is_none() {
        if let Some((org, name)) = model.split_once('/') {
            let hub = std::env::var_os("HF_HUB_CACHE")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
                .or_else(|| {
                    std::env::var_os("HOME")
                        .map(|h| PathBuf::from(h).join(".cache/huggingface/hub"))
                });
            if let Some(hub) = hub {
                let snaps = hub.join(format!("models--{org}--{name}")).join("snapshots");
                tried.push(snaps.join("<rev>"));
                if let Ok(rd) = std::fs::read_dir(&snaps) {
                    let mut revs: Vec<PathBuf> =
                        rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
                    revs.sort();
                    found = revs.into_iter().next();
                }
            }
        }
    }
    let Some(path) = found else {
        let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::user(format!(
            "model `{model}` not found (looked for {}); `scripts/fetch-models.sh` fetches all-MiniLM-L6-v2 and SmolLM2-135M-Instruct.Q4_1.gguf into models/",
            list.join(", ")
        )));
    };
    if path.is_dir() {
        let cpath = path.join("config.json");
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&cpath).map_err(|e| Error::input(&cpath, e))?,
        )
        .map_err(|e| Error::user(format!("{}: {e}", cpath.display())))?;
        let mt = v.get("model_type").and_then(|m| m.as_str()).unwrap_or("");
        let llama_arch = v
            .get("architectures")
            .and_then(|a| a.as_array())
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("LlamaForCausalLM")));
        return match mt {
            "bert" => Ok(ModelKind::BertFolder(path)),
            "llama" => Ok(ModelKind::LlamaFolder(path)),
            _ if llama_arch => Ok(ModelKind::LlamaFolder(path)),
            other => Err(Error::user(format!(
                "{}: model_type `{other}` is not supported (supported: bert, llama)",
                cpath.display()
            ))),
        };
    }
    if crate::models::gguf::is_gguf(&path) {
        return Ok(match crate::models::gguf::architecture(&path)?.as_deref() {
            Some("bert") => ModelKind::BertGguf(path),
            _ => ModelKind::Gguf(path),
        });
    }
    if path.extension().is_some_and(|e| e == "gguf") {
        return Ok(ModelKind::Gguf(path));
    }
    Err(Error::user(format!(
        "{}: unsupported model file (supported: a GGUF file, a Hugging Face BERT or LLaMA folder)",
        path.display()
    )))
}
