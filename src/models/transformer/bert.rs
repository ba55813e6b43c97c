//! BERT encoders (sentence-transformers layout, e.g. all-MiniLM-L6-v2) from a
//! Hugging Face folder: `config.json`, `model.safetensors`, `tokenizer.json`,
//! and the sentence-transformers pooling described by `modules.json` and
//! `1_Pooling/config.json`; or from a GGUF file (`general.architecture =
//! "bert"`, as llama.cpp's converter and `evoquant apply` write it), whose
//! tensors are looked up by their Hugging Face names through
//! [`gguf_tensor_name`], so both sources build the same network and a
//! configuration names its layers the same way for either. Texts are never padded: a batch stacks their
//! token rows for the linear layers and runs attention per text, so the
//! attention mask is all ones and no text attends to another.

use super::linear::{Linear, LinearPlan, Samples};
use super::loader::Tensors;
use super::ops;
use super::tokenizer::Tokenizer;
use crate::error::{Error, Result};
use crate::models::gguf::Gguf;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Debug, Deserialize)]
pub struct BertConfig {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}

/// Sentence-transformers pooling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pooling {
    pub mode: PoolMode,
    /// A `Normalize` module follows pooling.
    pub normalize: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PoolMode {
    Mean,
    Cls,
    Max,
}

struct Norm {
    g: Vec<f32>,
    b: Vec<f32>,
}

struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    attn_out: Linear,
    ln1: Norm,
    inter: Linear,
    out: Linear,
    ln2: Norm,
}

pub struct Bert {
    pub dir: PathBuf,
    pub config: BertConfig,
    pub pooling: Pooling,
    word: Vec<f32>,
    pos: Vec<f32>,
    typ: Vec<f32>,
    emb_ln: Norm,
    layers: Vec<Layer>,
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

fn read_json<T: for<'a> Deserialize<'a>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::user(format!("{}: {e}", path.display())))
}

/// Pooling from `modules.json` (mean pooling without normalisation when absent:
/// a plain BertModel folder).
fn read_pooling(dir: &Path) -> Result<Pooling> {
    let mpath = dir.join("modules.json");
    if !mpath.exists() {
        return Ok(Pooling {
            mode: PoolMode::Mean,
            normalize: false,
        });
    }
    let modules: Vec<Module> = read_json(&mpath)?;
    let mut pooling = Pooling {
        mode: PoolMode::Mean,
        normalize: false,
    };
    for m in &modules {
        match m.kind.rsplit('.').next().unwrap_or("") {
            "Transformer" => {}
            "Pooling" => {
                let p = dir.join(&m.path).join("config.json");
                let c: PoolingConfig = read_json(&p)?;
                let modes = [
                    (c.pooling_mode_mean_tokens, PoolMode::Mean),
                    (c.pooling_mode_cls_token, PoolMode::Cls),
                    (c.pooling_mode_max_tokens, PoolMode::Max),
                ];
                let on: Vec<PoolMode> = modes.iter().filter(|m| m.0).map(|m| m.1).collect();
                if on.len() != 1 || c.pooling_mode_mean_sqrt_len_tokens {
                    return Err(Error::user(format!(
                        "{}: exactly one of pooling_mode_mean_tokens, pooling_mode_cls_token, pooling_mode_max_tokens must be true (supported modes)",
                        p.display()
                    )));
                }
                pooling.mode = on[0];
            }
            "Normalize" => pooling.normalize = true,
            other => {
                return Err(Error::user(format!(
                    "{}: unsupported sentence-transformers module `{other}`",
                    mpath.display()
                )));
            }
        }
    }
    Ok(pooling)
}

/// Hugging Face ↔ GGUF (llama.cpp) names of BERT's embedding tensors.
const EMBEDDINGS: [(&str, &str); 4] = [
    ("embeddings.word_embeddings", "token_embd"),
    ("embeddings.position_embeddings", "position_embd"),
    ("embeddings.token_type_embeddings", "token_types"),
    ("embeddings.LayerNorm", "token_embd_norm"),
];

/// Hugging Face ↔ GGUF names of the tensors of one encoder layer
/// (`encoder.layer.N.*` ↔ `blk.N.*`).
const LAYER_ROLES: [(&str, &str); 8] = [
    ("attention.self.query", "attn_q"),
    ("attention.self.key", "attn_k"),
    ("attention.self.value", "attn_v"),
    ("attention.output.dense", "attn_output"),
    ("attention.output.LayerNorm", "attn_output_norm"),
    ("intermediate.dense", "ffn_up"),
    ("output.dense", "ffn_down"),
    ("output.LayerNorm", "layer_output_norm"),
];

/// Rename `name` (`STEM.suffix`) from Hugging Face to GGUF names
/// (`to_gguf`) or back; `None` for a name outside the tables.
fn rename(name: &str, to_gguf: bool) -> Option<String> {
    let (stem, suffix) = name.rsplit_once('.')?;
    let pick = |&(hf, gg): &(&'static str, &'static str)| if to_gguf { (hf, gg) } else { (gg, hf) };
    let (block_from, block_to) = pick(&("encoder.layer.", "blk."));
    let renamed = match EMBEDDINGS.iter().map(pick).find(|(from, _)| *from == stem) {
        Some((_, to)) => to.to_string(),
        None => {
            let (n, role) = stem.strip_prefix(block_from)?.split_once('.')?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let (_, to) = LAYER_ROLES
                .iter()
                .map(pick)
                .find(|(from, _)| *from == role)?;
            format!("{block_to}{n}.{to}")
        }
    };
    Some(format!("{renamed}.{suffix}"))
}

/// The GGUF (llama.cpp) name of a BERT tensor given by its Hugging Face
/// name without `bert.` (`encoder.layer.0.attention.self.query.weight` →
/// `blk.0.attn_q.weight`); `None` for a tensor llama.cpp's BERT has no
/// place for.
pub fn gguf_tensor_name(hf: &str) -> Option<String> {
    rename(hf, true)
}

/// The Hugging Face name (without `bert.`) of a BERT tensor given by its
/// GGUF name: the inverse of [`gguf_tensor_name`].
pub fn hf_tensor_name(gguf: &str) -> Option<String> {
    rename(gguf, false)
}

/// A BERT encoder and its tokenizer: a GGUF file or a Hugging Face folder.
pub fn load(path: &Path, gguf: bool) -> Result<(Bert, Tokenizer)> {
    if gguf {
        let g = Gguf::open(path)?;
        Ok((Bert::from_gguf(&g)?, Tokenizer::from_gguf(&g)?))
    } else {
        let model = Bert::load(path)?;
        Ok((model, Tokenizer::from_file(&path.join("tokenizer.json"))?))
    }
}

/// The recording slot of linear layer `i`, if recording.
fn slot<'a>(r: &'a mut Option<&mut Samples>, i: usize) -> Option<&'a mut Vec<f32>> {
    r.as_deref_mut().map(|r| &mut r[i])
}

impl Bert {
    /// Load `dir`; every missing or mis-shaped tensor is an exit-2 error
    /// naming the file and the tensor.
    pub fn load(dir: &Path) -> Result<Bert> {
        let cpath = dir.join("config.json");
        let config: BertConfig = read_json(&cpath)?;
        if config.hidden_act != "gelu" {
            return Err(Error::user(format!(
                "{}: hidden_act `{}` is not supported (gelu only)",
                cpath.display(),
                config.hidden_act
            )));
        }
        if config.num_attention_heads == 0 || config.hidden_size % config.num_attention_heads != 0 {
            return Err(Error::user(format!(
                "{}: hidden_size {} is not a multiple of num_attention_heads {}",
                cpath.display(),
                config.hidden_size,
                config.num_attention_heads
            )));
        }
        let pooling = read_pooling(dir)?;
        let t = Tensors::open(&dir.join("model.safetensors"))?;
        let prefix = if t.has("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        Bert::build(dir, config, pooling, |n, shape| {
            t.f32(&format!("{prefix}{n}"), shape)
        })
    }

    /// Load a `general.architecture = "bert"` GGUF file. Pooling is
    /// `bert.pooling_type` (mean when absent; CLS), followed by an L2
    /// normalisation as llama.cpp's embedding tool applies by default (the
    /// file does not record sentence-transformers' `Normalize`); the
    /// activation is GELU, as llama.cpp's BERT graph computes.
    pub fn from_gguf(g: &Gguf) -> Result<Bert> {
        let at = |m: String| Error::user(format!("{}: {m}", g.path.display()));
        let arch = g.str("general.architecture")?;
        if arch != "bert" {
            return Err(at(format!(
                "metadata `general.architecture`: `{arch}` is not a BERT encoder"
            )));
        }
        let key = |k: &str| format!("bert.{k}");
        let rows = |name: &str| -> Result<usize> {
            let t = g
                .tensor(name)
                .ok_or_else(|| at(format!("tensor `{name}`: missing")))?;
            Ok(t.shape()[0])
        };
        let config = BertConfig {
            hidden_size: g.usize(&key("embedding_length"))?,
            num_hidden_layers: g.usize(&key("block_count"))?,
            num_attention_heads: g.usize(&key("attention.head_count"))?,
            intermediate_size: g.usize(&key("feed_forward_length"))?,
            vocab_size: rows("token_embd.weight")?,
            max_position_embeddings: g.usize(&key("context_length"))?,
            type_vocab_size: rows("token_types.weight")?,
            layer_norm_eps: g.f64(&key("attention.layer_norm_epsilon"))?,
            hidden_act: "gelu".into(),
        };
        if config.num_attention_heads == 0 || config.hidden_size % config.num_attention_heads != 0 {
            return Err(at(format!(
                "metadata: embedding_length {} is not a multiple of attention.head_count {}",
                config.hidden_size, config.num_attention_heads
            )));
        }
        let mode = match g.get(&key("pooling_type")) {
            None => PoolMode::Mean,
            Some(_) => match g.usize(&key("pooling_type"))? {
                1 => PoolMode::Mean,
                2 => PoolMode::Cls,
                other => {
                    return Err(at(format!(
                        "metadata `bert.pooling_type`: {other} is not supported (1 = mean, 2 = CLS)"
                    )));
                }
            },
        };
        let pooling = Pooling {
            mode,
            normalize: true,
        };
        Bert::build(&g.path, config, pooling, |n, shape| {
            let name = gguf_tensor_name(n)
                .ok_or_else(|| Error::Internal(format!("no GGUF name for BERT tensor `{n}`")))?;
            g.f32(&name, shape)
        })
    }

    /// The network from its tensors, `get(hugging_face_name, shape)`.
    fn build(
        source: &Path,
        config: BertConfig,
        pooling: Pooling,
        get: impl Fn(&str, &[usize]) -> Result<Vec<f32>>,
    ) -> Result<Bert> {
        let (h, f) = (config.hidden_size, config.intermediate_size);
        let lin = |n: &str, out: usize, inp: usize| -> Result<Linear> {
            Ok(Linear {
                name: n.to_string(),
                w: Arc::new(get(&format!("{n}.weight"), &[out, inp])?),
                b: Some(get(&format!("{n}.bias"), &[out])?),
                out,
                inp,
            })
        };
        let norm = |n: &str| -> Result<Norm> {
            Ok(Norm {
                g: get(&format!("{n}.weight"), &[h])?,
                b: get(&format!("{n}.bias"), &[h])?,
            })
        };
        let mut layers = Vec::new();
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(Layer {
                q: lin(&format!("{p}.attention.self.query"), h, h)?,
                k: lin(&format!("{p}.attention.self.key"), h, h)?,
                v: lin(&format!("{p}.attention.self.value"), h, h)?,
                attn_out: lin(&format!("{p}.attention.output.dense"), h, h)?,
                ln1: norm(&format!("{p}.attention.output.LayerNorm"))?,
                inter: lin(&format!("{p}.intermediate.dense"), f, h)?,
                out: lin(&format!("{p}.output.dense"), h, f)?,
                ln2: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        Ok(Bert {
            dir: source.to_path_buf(),
            word: get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?,
            pos: get(
                "embeddings.position_embeddings.weight",
                &[config.max_position_embeddings, h],
            )?,
            typ: get(
                "embeddings.token_type_embeddings.weight",
                &[config.type_vocab_size, h],
            )?,
            emb_ln: norm("embeddings.LayerNorm")?,
            layers,
            config,
            pooling,
        })
    }

    /// Every linear layer, in forward order (the names a config may use).
    pub fn linears(&self) -> Vec<&Linear> {
        self.layers
            .iter()
            .flat_map(|l| [&l.q, &l.k, &l.v, &l.attn_out, &l.inter, &l.out])
            .collect()
    }

    /// Parameters outside the linear layers' weight matrices (embeddings,
    /// norms, biases), kept in f32.
    pub fn other_params(&self) -> usize {
        let h = self.config.hidden_size;
        let biases: usize = self.linears().iter().map(|l| l.out).sum();
        self.word.len()
            + self.pos.len()
            + self.typ.len()
            + 2 * h * (1 + 2 * self.layers.len())
            + biases
    }

    /// The sentence embedding of `ids` (a full encoded text with its special
    /// tokens) under `plans` (one per `linears()` entry). With `record`, each
    /// linear layer's input values are appended to its entry.
    pub fn embed(
        &self,
        ids: &[u32],
        plans: &[LinearPlan],
        record: Option<&mut Samples>,
    ) -> Result<Vec<f32>> {
        Ok(self
            .embed_batch(&[ids], plans, record)?
            .pop()
            .expect("one text"))
    }

    /// The sentence embeddings of several texts in one pass: their token rows
    /// are stacked so every linear layer runs one tall matrix product (the
    /// weights are read once per batch instead of once per text), while
    /// attention, pooling and normalisation stay per text. When every
    /// product has several rows and more than 64 columns (true of real
    /// models' linear layers), a row sums in the same order whatever the
    /// other rows are (`gemm` blocks the inner dimension by the cache sizes),
    /// so each text's embedding is bit-identical to [`Bert::embed`] on it
    /// alone; a test pins this on MiniLM. Callers batch by
    /// [`super::linear::batches`], which does not depend on the thread
    /// count, so nothing rests on that. Recorded inputs are in text order.
    pub fn embed_batch(
        &self,
        texts: &[&[u32]],
        plans: &[LinearPlan],
        mut record: Option<&mut Samples>,
    ) -> Result<Vec<Vec<f32>>> {
        let c = &self.config;
        let h = c.hidden_size;
        let mut starts = Vec::with_capacity(texts.len() + 1);
        starts.push(0usize);
        for ids in texts {
            let t = ids.len();
            if t == 0 || t > c.max_position_embeddings {
                return Err(Error::user(format!(
                    "a text of {t} tokens does not fit the model's 1..={} positions",
                    c.max_position_embeddings
                )));
            }
            starts.push(starts.last().expect("start") + t);
        }
        let rows = *starts.last().expect("start");
        let mut x = vec![0.0f32; rows * h];
        for (ids, &s) in texts.iter().zip(&starts) {
            for (p, &id) in ids.iter().enumerate() {
                let id = id as usize;
                if id >= c.vocab_size {
                    return Err(Error::user(format!(
                        "token id {id} is outside the vocabulary of {}",
                        c.vocab_size
                    )));
                }
                let (w, ps) = (
                    &self.word[id * h..(id + 1) * h],
                    &self.pos[p * h..(p + 1) * h],
                );
                let row = &mut x[(s + p) * h..(s + p + 1) * h];
                for (j, r) in row.iter_mut().enumerate() {
                    *r = w[j] + ps[j] + self.typ[j];
                }
            }
        }
        ops::layer_norm(&mut x, &self.emb_ln.g, &self.emb_ln.b, c.layer_norm_eps);
        let nh = c.num_attention_heads;
        let d = h / nh;
        let scale = 1.0 / (d as f32).sqrt();
        let longest = texts.iter().map(|t| t.len()).max().unwrap_or(0);
        let mut scores = vec![0.0f32; longest * longest];
        for (li, l) in self.layers.iter().enumerate() {
            let base = li * 6;
            let q = l.q.forward(&x, &plans[base], slot(&mut record, base));
            let k =
                l.k.forward(&x, &plans[base + 1], slot(&mut record, base + 1));
            let v =
                l.v.forward(&x, &plans[base + 2], slot(&mut record, base + 2));
            let mut ctx = vec![0.0f32; rows * h];
            for w in starts.windows(2) {
                let (s, t) = (w[0], w[1] - w[0]);
                let scores = &mut scores[..t * t];
                for hd in 0..nh {
                    let o = s * h + hd * d;
                    // scores = q_h · k_hᵀ
                    ops::matmul_strided(t, d, t, &q[o..], (h, 1), &k[o..], (1, h), scores, (t, 1));
                    for row in scores.chunks_exact_mut(t) {
                        for v in row.iter_mut() {
                            *v *= scale;
                        }
                        ops::softmax(row);
                    }
                    ops::matmul_strided(
                        t,
                        t,
                        d,
                        scores,
                        (t, 1),
                        &v[o..],
                        (h, 1),
                        &mut ctx[o..],
                        (h, 1),
                    );
                }
            }
            let mut a = l
                .attn_out
                .forward(&ctx, &plans[base + 3], slot(&mut record, base + 3));
            for (ai, xi) in a.iter_mut().zip(&x) {
                *ai += xi;
            }
            ops::layer_norm(&mut a, &l.ln1.g, &l.ln1.b, c.layer_norm_eps);
            let mut inter = l
                .inter
                .forward(&a, &plans[base + 4], slot(&mut record, base + 4));
            ops::gelu(&mut inter);
            let mut out = l
                .out
                .forward(&inter, &plans[base + 5], slot(&mut record, base + 5));
            for (oi, ai) in out.iter_mut().zip(&a) {
                *oi += ai;
            }
            ops::layer_norm(&mut out, &l.ln2.g, &l.ln2.b, c.layer_norm_eps);
            x = out;
        }
        Ok(starts
            .windows(2)
            .map(|w| self.pool(&x[w[0] * h..w[1] * h]))
            .collect())
    }

    /// Pool one text's final hidden states `[t, hidden]` into its embedding.
    fn pool(&self, x: &[f32]) -> Vec<f32> {
        let h = self.config.hidden_size;
        let t = x.len() / h;
        let mut e = vec![0.0f32; h];
        match self.pooling.mode {
            PoolMode::Cls => e.copy_from_slice(&x[..h]),
            PoolMode::Mean => {
                for j in 0..h {
                    let s: f64 = (0..t).map(|p| f64::from(x[p * h + j])).sum();
                    e[j] = (s / t as f64) as f32;
                }
            }
            PoolMode::Max => {
                for j in 0..h {
                    e[j] = (0..t)
                        .map(|p| x[p * h + j])
                        .fold(f32::NEG_INFINITY, f32::max);
                }
            }
        }
        if self.pooling.normalize {
            let n = e
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt()
                .max(1e-12);
            for v in e.iter_mut() {
                *v = (f64::from(*v) / n) as f32;
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gguf_and_hugging_face_names_map_both_ways() {
        for (hf, gg) in [
            ("embeddings.word_embeddings.weight", "token_embd.weight"),
            ("embeddings.LayerNorm.bias", "token_embd_norm.bias"),
            (
                "encoder.layer.3.attention.self.key.weight",
                "blk.3.attn_k.weight",
            ),
            (
                "encoder.layer.11.output.LayerNorm.weight",
                "blk.11.layer_output_norm.weight",
            ),
            (
                "encoder.layer.0.intermediate.dense.bias",
                "blk.0.ffn_up.bias",
            ),
        ] {
            assert_eq!(gguf_tensor_name(hf).as_deref(), Some(gg));
            assert_eq!(hf_tensor_name(gg).as_deref(), Some(hf));
        }
        assert_eq!(gguf_tensor_name("pooler.dense.weight"), None);
        assert_eq!(hf_tensor_name("output.weight"), None);
        assert_eq!(hf_tensor_name("blk.x.attn_q.weight"), None);
    }
}
