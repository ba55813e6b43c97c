//! A small transformer runtime whose forward pass is ours, so quantization
//! points sit on every linear layer, and `eval`: what a quantization
//! configuration costs a real pretrained model, measured against the model
//! as loaded.
//!
//! Implemented: BERT sentence encoders from a Hugging Face folder (`bert`),
//! and LLaMA-family causal decoders from a GGUF file or a Hugging Face
//! folder (`llama`, metrics in `decoder`).
//! Determinism: every text is run on its own with single-threaded GEMM and
//! fixed-order reductions; rayon only spreads texts over threads, so results
//! are byte-identical for any `jobs`.

pub mod bert;
pub mod decoder;
pub mod linear;
pub mod llama;
pub mod loader;
pub mod ops;
pub mod tokenizer;

use crate::error::{Error, Result};
use crate::quant::qconfig::QuantConfig;
use linear::{Samples, WeightCache};
use rayon::prelude::*;
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

/// Run a BERT folder under `opts.config` and compare with the unquantized model.
pub fn eval_encoder(dir: &Path, opts: &EvalOptions) -> Result<EncoderEval> {
    let model = bert::Bert::load(dir)?;
    let tok = tokenizer::Tokenizer::from_file(&dir.join("tokenizer.json"))?;
    let linears = model.linears();
    opts.config
        .check_names(|n| linears.iter().any(|l| l.name == n))?;
    let quant: Vec<_> = linears
        .iter()
        .map(|l| opts.config.for_layer(&l.name))
        .collect();
    if opts.texts.len() < 2 {
        return Err(Error::user("evaluation needs at least 2 texts"));
    }
    let max_len = opts.max_seq_len.min(model.config.max_position_embeddings);
    let encode = |texts: &[String]| -> Result<Vec<Vec<u32>>> {
        texts.iter().map(|t| tok.encode(t, max_len)).collect()
    };
    let tokens = encode(&opts.texts)?;
    let cache = WeightCache::default();
    let pool = pool(opts.jobs)?;
    let reference = linear::plans(
        &linears,
        &vec![crate::nn::classifier::LayerQuant::FP32; linears.len()],
        None,
        &cache,
    )?;
    let needs_calib = quant
        .iter()
        .any(|q| matches!(q.activations, crate::nn::classifier::ActQuant::Int { .. }));
    let samples: Option<Samples> = if needs_calib {
        if opts.calib.is_empty() {
            return Err(Error::user(
                "integer activations need calibration texts (--calib)",
            ));
        }
        let ctoks = encode(&opts.calib)?;
        Some(linear::collect_samples(
            &pool,
            &ctoks,
            linears.len(),
            |ids, rec| model.embed(ids, &reference, Some(rec)).map(|_| ()),
        )?)
    } else {
        None
    };
    let plans = linear::plans(&linears, &quant, samples.as_ref(), &cache)?;
    let run = |plans: &[linear::LinearPlan]| -> Result<Vec<Vec<f32>>> {
        pool.install(|| {
            tokens
                .par_iter()
                .map(|ids| model.embed(ids, plans, None))
                .collect()
        })
    };
    let ref_emb = run(&reference)?;
    let t0 = std::time::Instant::now();
    let embeddings = run(&plans)?;
    let quantized_seconds = t0.elapsed().as_secs_f64();
    let cosines: Vec<f64> = ref_emb
        .iter()
        .zip(&embeddings)
        .map(|(a, b)| cosine(a, b))
        .collect();
    let nn_ref = nearest_neighbours(&ref_emb);
    let nn_q = nearest_neighbours(&embeddings);
    let agree = nn_ref.iter().zip(&nn_q).filter(|(a, b)| a == b).count();
    let mut bytes = 0;
    for (l, q) in linears.iter().zip(&quant) {
        bytes += l.weight_bytes(&q.weights)?;
    }
    let n = tokens.len();
    Ok(EncoderEval {
        model: dir.to_path_buf(),
        n_texts: n,
        n_tokens: tokens.iter().map(Vec::len).sum(),
        mean_cosine: cosines.iter().sum::<f64>() / n as f64,
        min_cosine: cosines.iter().copied().fold(f64::INFINITY, f64::min),
        cosines,
        nn_agreement: agree as f64 / n as f64,
        linear_weights: linears.iter().map(|l| l.w.len()).sum(),
        linear_weight_bytes: bytes,
        other_params: model.other_params(),
        tokens,
        embeddings,
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
    /// A GGUF file (by magic or by the `.gguf` extension).
    Gguf(PathBuf),
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
    if crate::models::gguf::is_gguf(&path) || path.extension().is_some_and(|e| e == "gguf") {
        return Ok(ModelKind::Gguf(path));
    }
    Err(Error::user(format!(
        "{}: unsupported model file (supported: a GGUF file, a Hugging Face BERT or LLaMA folder)",
        path.display()
    )))
}
