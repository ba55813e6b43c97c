//! LLaMA-family causal decoders (SmolLM2, TinyLlama, LLaMA 2/3 without rope
//! scaling): from a GGUF file (`general.architecture = "llama"`) or a Hugging
//! Face folder (`LlamaForCausalLM`: config.json, model.safetensors,
//! tokenizer.json).
//!
//! Forward: token embedding; per block RMSNorm → Q/K/V → RoPE → causal
//! grouped-query attention → output projection → residual → RMSNorm →
//! SwiGLU (gate, up, down) → residual; final RMSNorm and the head
//! (`output.weight`, or the token embedding when tied).
//!
//! RoPE comes in two layouts that compute the same function on differently
//! ordered weights. Hugging Face rotates halves (x[i], x[i + d/2]) of each
//! head; llama.cpp's converter permutes the rows of the Q and K weights of
//! each head ([`permute_for_gguf`]) so that GGUF files rotate adjacent pairs
//! (x[2i], x[2i+1]), llama.cpp's "normal" rope for the LLAMA architecture.
//! Each loader keeps its file's layout and picks the matching [`Rope`]; a
//! unit test checks that both give the same logits.
//!
//! Linear layers are named the GGUF way whichever format they came from
//! (`blk.N.attn_q`, `attn_k`, `attn_v`, `attn_output`, `ffn_gate`, `ffn_up`,
//! `ffn_down`, and `output` for the head), so one quant_config applies to
//! both. The token embedding (`token_embd`) is a lookup table, not a linear
//! layer; eval quantizes it only when a configuration names it.

use super::linear::{Linear, LinearPlan, Samples};
use super::loader::Tensors;
use super::ops;
use crate::error::{Error, Result};
use crate::models::gguf::Gguf;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    pub n_layers: usize,
    pub hidden: usize,
    pub ffn: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub eps: f64,
    pub rope_base: f64,
    pub context: usize,
    pub vocab: usize,
}

/// Which elements of a head RoPE rotates together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rope {
    /// (x[2i], x[2i+1]): GGUF / llama.cpp's normal rope on permuted Q, K.
    Interleaved,
    /// (x[i], x[i + d/2]): Hugging Face `rotate_half`.
    RotateHalf,
}

struct Block {
    attn_norm: Vec<f32>,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    ffn_norm: Vec<f32>,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// How a tensor is stored in the file (for reporting bits as stored).
#[derive(Clone, Debug)]
pub struct Stored {
    pub name: String,
    pub kind: String,
    pub values: usize,
    pub bytes: usize,
}

pub struct Llama {
    pub source: PathBuf,
    pub config: LlamaConfig,
    pub rope: Rope,
    /// `[vocab, hidden]`, named `token_embd`.
    pub embedding: Linear,
    blocks: Vec<Block>,
    out_norm: Vec<f32>,
    head: Linear,
    /// The head is the token embedding (no separate output weight).
    pub tied: bool,
    /// Every tensor as stored in the file.
    pub stored: Vec<Stored>,
}

/// Linear layers per block, in forward order.
pub const BLOCK_LINEARS: [&str; 7] = [
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
];

/// HF → GGUF row order of a Q or K weight (`[heads·d, inp]`): within each
/// head, GGUF row 2j + s is HF row s·d/2 + j (llama.cpp convert's `permute`).
pub fn permute_for_gguf(w: &[f32], heads: usize, inp: usize) -> Vec<f32> {
    let d = w.len() / inp / heads;
    let mut out = vec![0.0f32; w.len()];
    for h in 0..heads {
        for j in 0..d / 2 {
            for s in 0..2 {
                let dst = (h * d + 2 * j + s) * inp;
                let src = (h * d + s * (d / 2) + j) * inp;
                out[dst..dst + inp].copy_from_slice(&w[src..src + inp]);
            }
        }
    }
    out
}

/// The recording slot of linear layer `i`, if recording.
fn slot<'a>(r: &'a mut Option<&mut Samples>, i: usize) -> Option<&'a mut Vec<f32>> {
    r.as_deref_mut().map(|r| &mut r[i])
}

fn lin(name: String, w: Vec<f32>, out: usize, inp: usize) -> Linear {
    Linear {
        name,
        w: Arc::new(w),
        b: None,
        out,
        inp,
    }
}

fn check_config(c: &LlamaConfig, at: impl Fn(String) -> Error) -> Result<()> {
    let fields = [
        ("block count", c.n_layers),
        ("embedding length", c.hidden),
        ("feed-forward length", c.ffn),
        ("head count", c.n_heads),
        ("kv head count", c.n_kv_heads),
        ("vocabulary size", c.vocab),
        ("context length", c.context),
    ];
    for (what, v) in fields {
        if v == 0 || v > 1 << 24 {
            return Err(at(format!("{what} {v} is outside 1..=2^24")));
        }
    }
    if c.hidden % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0 {
        return Err(at(format!(
            "embedding length {} must be a multiple of the head count {}, itself a multiple of the kv head count {}",
            c.hidden, c.n_heads, c.n_kv_heads
        )));
    }
    if c.head_dim % 2 != 0 {
        return Err(at(format!("head dimension {} is odd", c.head_dim)));
    }
    let eps_ok = c.eps > 0.0 && c.eps < 1.0;
    if !(eps_ok && c.rope_base > 1.0 && c.rope_base.is_finite()) {
        return Err(at(format!(
            "rms epsilon {} or rope base {} out of range",
            c.eps, c.rope_base
        )));
    }
    Ok(())
}

impl Llama {
    /// Load a `general.architecture = "llama"` GGUF file.
    pub fn from_gguf(g: &Gguf) -> Result<Llama> {
        let arch = g.str("general.architecture")?;
        if arch != "llama" {
            return Err(Error::user(format!(
                "{}: metadata `general.architecture`: `{arch}` is not supported (supported: llama)",
                g.path.display()
            )));
        }
        let key = |k: &str| format!("llama.{k}");
        let n_heads = g.usize(&key("attention.head_count"))?;
        let hidden = g.usize(&key("embedding_length"))?;
        let vocab = match g.get(&key("vocab_size")) {
            Some(_) => g.usize(&key("vocab_size"))?,
            None => g.strings("tokenizer.ggml.tokens")?.len(),
        };
        let config = LlamaConfig {
            n_layers: g.usize(&key("block_count"))?,
            hidden,
            ffn: g.usize(&key("feed_forward_length"))?,
            n_heads,
            n_kv_heads: match g.get(&key("attention.head_count_kv")) {
                Some(_) => g.usize(&key("attention.head_count_kv"))?,
                None => n_heads,
            },
            head_dim: hidden / n_heads.max(1),
            eps: g.f64(&key("attention.layer_norm_rms_epsilon"))?,
            rope_base: match g.get(&key("rope.freq_base")) {
                Some(_) => g.f64(&key("rope.freq_base"))?,
                None => 10000.0,
            },
            context: g.usize(&key("context_length"))?,
            vocab,
        };
        let at = |m: String| Error::user(format!("{}: {m}", g.path.display()));
        check_config(&config, at)?;
        for (k, want) in [
            ("rope.dimension_count", config.head_dim),
            ("attention.key_length", config.head_dim),
            ("attention.value_length", config.head_dim),
        ] {
            if g.get(&key(k)).is_some() && g.usize(&key(k))? != want {
                return Err(at(format!(
                    "metadata `llama.{k}` {} is not the head dimension {want} (partial rotary / odd head sizes are not supported)",
                    g.usize(&key(k))?
                )));
            }
        }
        if let Some(v) = g.get(&key("rope.scaling.type")) {
            if v.as_str() != Some("none") {
                return Err(at(format!(
                    "metadata `llama.rope.scaling.type` {v:?} is not supported (no rope scaling)"
                )));
            }
        }
        if g.get("tokenizer.ggml.tokens").is_some() {
            let n = g.strings("tokenizer.ggml.tokens")?.len();
            if n > config.vocab {
                return Err(at(format!(
                    "metadata `tokenizer.ggml.tokens` holds {n} tokens, more than the model's vocabulary of {}",
                    config.vocab
                )));
            }
        }
        let get = |n: &str, shape: &[usize]| g.f32(n, shape);
        let tied = g.tensor("output.weight").is_none();
        let stored = g
            .tensors
            .iter()
            .map(|t| Stored {
                name: t.name.clone(),
                kind: t.kind.name().to_string(),
                values: t.n_elements(),
                bytes: t.len,
            })
            .collect();
        Llama::assemble(
            g.path.clone(),
            config,
            Rope::Interleaved,
            tied,
            stored,
            |what, i, shape| {
                let name = match what {
                    "token_embd" | "output_norm" | "output" => format!("{what}.weight"),
                    w => format!("blk.{i}.{w}.weight"),
                };
                get(&name, shape)
            },
        )
    }

    /// Load a Hugging Face `LlamaForCausalLM` folder.
    pub fn from_hf(dir: &Path) -> Result<Llama> {
        let cpath = dir.join("config.json");
        let text = std::fs::read_to_string(&cpath).map_err(|e| Error::input(&cpath, e))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::user(format!("{}: {e}", cpath.display())))?;
        let at = |m: String| Error::user(format!("{}: {m}", cpath.display()));
        let num = |k: &str| -> Result<usize> {
            v.get(k)
                .and_then(serde_json::Value::as_u64)
                .map(|x| x as usize)
                .ok_or_else(|| at(format!("`{k}` missing or not a non-negative integer")))
        };
        let float = |k: &str, default: f64| -> Result<f64> {
            match v.get(k) {
                None => Ok(default),
                Some(x) => x
                    .as_f64()
                    .ok_or_else(|| at(format!("`{k}` is not a number"))),
            }
        };
        if v.get("rope_scaling").is_some_and(|r| !r.is_null()) {
            return Err(at("`rope_scaling` is not supported".into()));
        }
        if v.get("attention_bias").and_then(serde_json::Value::as_bool) == Some(true)
            || v.get("mlp_bias").and_then(serde_json::Value::as_bool) == Some(true)
        {
            return Err(at("attention_bias / mlp_bias are not supported".into()));
        }
        if let Some(act) = v.get("hidden_act").and_then(serde_json::Value::as_str) {
            if act != "silu" {
                return Err(at(format!("hidden_act `{act}` is not supported (silu)")));
            }
        }
        let (hidden, n_heads) = (num("hidden_size")?, num("num_attention_heads")?);
        let config = LlamaConfig {
            n_layers: num("num_hidden_layers")?,
            hidden,
            ffn: num("intermediate_size")?,
            n_heads,
            n_kv_heads: if v.get("num_key_value_heads").is_some() {
                num("num_key_value_heads")?
            } else {
                n_heads
            },
            head_dim: hidden / n_heads.max(1),
            eps: float("rms_norm_eps", 1e-6)?,
            rope_base: float("rope_theta", 10000.0)?,
            context: num("max_position_embeddings")?,
            vocab: num("vocab_size")?,
        };
        check_config(&config, at)?;
        if v.get("head_dim").is_some() && num("head_dim")? != config.head_dim {
            return Err(at(format!(
                "`head_dim` {} is not hidden_size / num_attention_heads = {}",
                num("head_dim")?,
                config.head_dim
            )));
        }
        let t = Tensors::open(&dir.join("model.safetensors"))?;
        // transformers' LlamaConfig defaults to untied; a missing lm_head of
        // an untied model is a located error, not a silent tie.
        let tied = match v.get("tie_word_embeddings") {
            None => false,
            Some(b) => b
                .as_bool()
                .ok_or_else(|| at("`tie_word_embeddings` is not a bool".into()))?,
        };
        let hf = |what: &str, i: usize| -> String {
            let p = format!("model.layers.{i}");
            match what {
                "token_embd" => "model.embed_tokens.weight".into(),
                "output_norm" => "model.norm.weight".into(),
                "output" => "lm_head.weight".into(),
                "attn_norm" => format!("{p}.input_layernorm.weight"),
                "ffn_norm" => format!("{p}.post_attention_layernorm.weight"),
                "attn_q" => format!("{p}.self_attn.q_proj.weight"),
                "attn_k" => format!("{p}.self_attn.k_proj.weight"),
                "attn_v" => format!("{p}.self_attn.v_proj.weight"),
                "attn_output" => format!("{p}.self_attn.o_proj.weight"),
                "ffn_gate" => format!("{p}.mlp.gate_proj.weight"),
                "ffn_up" => format!("{p}.mlp.up_proj.weight"),
                "ffn_down" => format!("{p}.mlp.down_proj.weight"),
                other => unreachable!("tensor role {other}"),
            }
        };
        Llama::assemble(
            dir.to_path_buf(),
            config,
            Rope::RotateHalf,
            tied,
            Vec::new(),
            |what, i, shape| t.f32(&hf(what, i), shape),
        )
    }

    /// Build from a tensor source: `get(role, block, shape)` with GGUF roles.
    fn assemble(
        source: PathBuf,
        config: LlamaConfig,
        rope: Rope,
        tied: bool,
        stored: Vec<Stored>,
        mut get: impl FnMut(&str, usize, &[usize]) -> Result<Vec<f32>>,
    ) -> Result<Llama> {
        let c = &config;
        let (h, f, kv) = (c.hidden, c.ffn, c.n_kv_heads * c.head_dim);
        let embedding = lin(
            "token_embd".into(),
            get("token_embd", 0, &[c.vocab, h])?,
            c.vocab,
            h,
        );
        let mut blocks = Vec::with_capacity(c.n_layers);
        for i in 0..c.n_layers {
            let mut l = |what: &str, out: usize, inp: usize| -> Result<Linear> {
                Ok(lin(
                    format!("blk.{i}.{what}"),
                    get(what, i, &[out, inp])?,
                    out,
                    inp,
                ))
            };
            let (q, k, v, o) = (
                l("attn_q", h, h)?,
                l("attn_k", kv, h)?,
                l("attn_v", kv, h)?,
                l("attn_output", h, h)?,
            );
            let (gate, up, down) = (
                l("ffn_gate", f, h)?,
                l("ffn_up", f, h)?,
                l("ffn_down", h, f)?,
            );
            blocks.push(Block {
                attn_norm: get("attn_norm", i, &[h])?,
                q,
                k,
                v,
                o,
                ffn_norm: get("ffn_norm", i, &[h])?,
                gate,
                up,
                down,
            });
        }
        let out_norm = get("output_norm", 0, &[h])?;
        let head = if tied {
            Linear {
                name: "output".into(),
                ..embedding.clone()
            }
        } else {
            lin(
                "output".into(),
                get("output", 0, &[c.vocab, h])?,
                c.vocab,
                h,
            )
        };
        Ok(Llama {
            source,
            config,
            rope,
            embedding,
            blocks,
            out_norm,
            head,
            tied,
            stored,
        })
    }

    /// Every linear layer in forward order, the head (`output`) last.
    pub fn linears(&self) -> Vec<&Linear> {
        self.blocks
            .iter()
            .flat_map(|b| [&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down])
            .chain([&self.head])
            .collect()
    }

    /// Norm weights (kept in f32).
    pub fn norm_params(&self) -> usize {
        self.config.hidden * (1 + 2 * self.blocks.len())
    }

    /// The same model in the other RoPE layout: Q and K rows permuted
    /// (HF → GGUF with `Interleaved`, GGUF → HF with `RotateHalf`). For tests.
    pub fn with_rope(&self, rope: Rope) -> Llama {
        let c = &self.config;
        let perm = |l: &Linear, heads: usize| -> Linear {
            let w = if rope == self.rope {
                l.w.to_vec()
            } else if rope == Rope::Interleaved {
                permute_for_gguf(&l.w, heads, l.inp)
            } else {
                // The inverse permutation: GGUF row 2j + s back to s·d/2 + j.
                let d = c.head_dim;
                let mut out = vec![0.0f32; l.w.len()];
                for hd in 0..heads {
                    for j in 0..d / 2 {
                        for s in 0..2 {
                            let src = (hd * d + 2 * j + s) * l.inp;
                            let dst = (hd * d + s * (d / 2) + j) * l.inp;
                            out[dst..dst + l.inp].copy_from_slice(&l.w[src..src + l.inp]);
                        }
                    }
                }
                out
            };
            Linear {
                w: Arc::new(w),
                ..l.clone()
            }
        };
        Llama {
            source: self.source.clone(),
            config: self.config.clone(),
            rope,
            embedding: self.embedding.clone(),
            blocks: self
                .blocks
                .iter()
                .map(|b| Block {
                    attn_norm: b.attn_norm.clone(),
                    q: perm(&b.q, c.n_heads),
                    k: perm(&b.k, c.n_kv_heads),
                    v: b.v.clone(),
                    o: b.o.clone(),
                    ffn_norm: b.ffn_norm.clone(),
                    gate: b.gate.clone(),
                    up: b.up.clone(),
                    down: b.down.clone(),
                })
                .collect(),
            out_norm: self.out_norm.clone(),
            head: self.head.clone(),
            tied: self.tied,
            stored: self.stored.clone(),
        }
    }

    fn rope_in_place(&self, x: &mut [f32], heads: usize, cos: &[f32], sin: &[f32]) {
        let d = self.config.head_dim;
        let half = d / 2;
        for (p, row) in x.chunks_exact_mut(heads * d).enumerate() {
            let (c, s) = (
                &cos[p * half..(p + 1) * half],
                &sin[p * half..(p + 1) * half],
            );
            for hv in row.chunks_exact_mut(d) {
                for i in 0..half {
                    let (a, b) = match self.rope {
                        Rope::Interleaved => (2 * i, 2 * i + 1),
                        Rope::RotateHalf => (i, i + half),
                    };
                    let (x0, x1) = (hv[a], hv[b]);
                    hv[a] = x0 * c[i] - x1 * s[i];
                    hv[b] = x0 * s[i] + x1 * c[i];
                }
            }
        }
    }

    /// Logits `[ids.len(), vocab]` of `ids` under `plans` (one per
    /// `linears()` entry) with the token embedding table `embd`
    /// (`[vocab, hidden]`, the loaded one or its quantized image). With
    /// `record`, each linear layer's inputs are appended to its entry.
    pub fn logits(
        &self,
        ids: &[u32],
        plans: &[LinearPlan],
        embd: &[f32],
        record: Option<&mut Samples>,
    ) -> Result<Vec<f32>> {
        Ok(self
            .logits_batch(&[ids], plans, embd, record)?
            .pop()
            .expect("one text"))
    }

    /// [`Llama::logits`] of several texts in one pass: their token rows are
    /// stacked so each linear layer (and the head) runs one tall matrix
    /// product, while RoPE positions and causal attention stay per text.
    /// As for [`super::bert::Bert::embed_batch`], each text's logits equal
    /// its own forward bit for bit when no product takes `gemm`'s one-row or
    /// small-shape path (a test pins this); callers batch independently of
    /// the thread count regardless. Recorded inputs are in text order.
    pub fn logits_batch(
        &self,
        texts: &[&[u32]],
        plans: &[LinearPlan],
        embd: &[f32],
        mut record: Option<&mut Samples>,
    ) -> Result<Vec<Vec<f32>>> {
        let c = &self.config;
        let (h, d) = (c.hidden, c.head_dim);
        let mut starts = Vec::with_capacity(texts.len() + 1);
        starts.push(0usize);
        for ids in texts {
            let t = ids.len();
            if t == 0 || t > c.context {
                return Err(Error::user(format!(
                    "a text of {t} tokens does not fit the model's 1..={} positions",
                    c.context
                )));
            }
            starts.push(starts.last().expect("start") + t);
        }
        let rows = *starts.last().expect("start");
        let mut x = vec![0.0f32; rows * h];
        for (&id, row) in texts
            .iter()
            .flat_map(|t| t.iter())
            .zip(x.chunks_exact_mut(h))
        {
            let id = id as usize;
            if id >= c.vocab {
                return Err(Error::user(format!(
                    "token id {id} is outside the vocabulary of {}",
                    c.vocab
                )));
            }
            row.copy_from_slice(&embd[id * h..(id + 1) * h]);
        }
        // cos/sin of p·base^(−2i/d), in f64 then rounded once.
        let longest = texts.iter().map(|t| t.len()).max().unwrap_or(0);
        let half = d / 2;
        let mut cos = vec![0.0f32; longest * half];
        let mut sin = vec![0.0f32; longest * half];
        for p in 0..longest {
            for i in 0..half {
                let theta = p as f64 * c.rope_base.powf(-2.0 * i as f64 / d as f64);
                cos[p * half + i] = theta.cos() as f32;
                sin[p * half + i] = theta.sin() as f32;
            }
        }
        let (nh, nkv) = (c.n_heads, c.n_kv_heads);
        let group = nh / nkv;
        let scale = 1.0 / (d as f32).sqrt();
        let mut scores = vec![0.0f32; longest * longest];
        for (bi, b) in self.blocks.iter().enumerate() {
            let base = bi * BLOCK_LINEARS.len();
            let mut xn = x.clone();
            ops::rms_norm(&mut xn, &b.attn_norm, c.eps);
            let mut q = b.q.forward(&xn, &plans[base], slot(&mut record, base));
            let mut k =
                b.k.forward(&xn, &plans[base + 1], slot(&mut record, base + 1));
            let v =
                b.v.forward(&xn, &plans[base + 2], slot(&mut record, base + 2));
            let mut ctx = vec![0.0f32; rows * h];
            for w in starts.windows(2) {
                let (s, t) = (w[0], w[1] - w[0]);
                self.rope_in_place(&mut q[s * nh * d..(s + t) * nh * d], nh, &cos, &sin);
                self.rope_in_place(&mut k[s * nkv * d..(s + t) * nkv * d], nkv, &cos, &sin);
                let scores = &mut scores[..t * t];
                for hd in 0..nh {
                    let (qo, ko) = (s * nh * d + hd * d, s * nkv * d + (hd / group) * d);
                    ops::matmul_strided(
                        t,
                        d,
                        t,
                        &q[qo..],
                        (nh * d, 1),
                        &k[ko..],
                        (1, nkv * d),
                        scores,
                        (t, 1),
                    );
                    for (i, row) in scores.chunks_exact_mut(t).enumerate() {
                        for s in &mut row[..=i] {
                            *s *= scale;
                        }
                        for s in &mut row[i + 1..] {
                            *s = f32::NEG_INFINITY;
                        }
                        ops::softmax(row);
                    }
                    ops::matmul_strided(
                        t,
                        t,
                        d,
                        scores,
                        (t, 1),
                        &v[ko..],
                        (nkv * d, 1),
                        &mut ctx[s * h + hd * d..],
                        (h, 1),
                    );
                }
            }
            let a =
                b.o.forward(&ctx, &plans[base + 3], slot(&mut record, base + 3));
            for (xi, ai) in x.iter_mut().zip(&a) {
                *xi += ai;
            }
            let mut xn = x.clone();
            ops::rms_norm(&mut xn, &b.ffn_norm, c.eps);
            let mut g = b
                .gate
                .forward(&xn, &plans[base + 4], slot(&mut record, base + 4));
            let u =
                b.up.forward(&xn, &plans[base + 5], slot(&mut record, base + 5));
            ops::silu_mul(&mut g, &u);
            let dn = b
                .down
                .forward(&g, &plans[base + 6], slot(&mut record, base + 6));
            for (xi, di) in x.iter_mut().zip(&dn) {
                *xi += di;
            }
        }
        ops::rms_norm(&mut x, &self.out_norm, c.eps);
        let hi = self.blocks.len() * BLOCK_LINEARS.len();
        let all = self.head.forward(&x, &plans[hi], slot(&mut record, hi));
        let vocab = self.head.out;
        Ok(starts
            .windows(2)
            .map(|w| all[w[0] * vocab..w[1] * vocab].to_vec())
            .collect())
    }
}

/// A random tiny model in GGUF layout (for tests): `seed` picks the weights.
#[cfg(test)]
fn tiny(seed: u64, tied: bool) -> Llama {
    use rand::{Rng, SeedableRng};
    // Roles arrive in a fixed order, so the weights depend on `seed` only.
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let config = LlamaConfig {
        n_layers: 2,
        hidden: 32,
        ffn: 48,
        n_heads: 4,
        n_kv_heads: 2,
        head_dim: 8,
        eps: 1e-5,
        rope_base: 10000.0,
        context: 64,
        vocab: 40,
    };
    let stored = Vec::new();
    Llama::assemble(
        PathBuf::from("tiny"),
        config,
        Rope::Interleaved,
        tied,
        stored,
        |what, _, shape| {
            let n: usize = shape.iter().product();
            Ok((0..n)
                .map(|_| {
                    if what.ends_with("norm") {
                        rng.random_range(0.8f32..1.2)
                    } else {
                        rng.random_range(-0.4f32..0.4)
                    }
                })
                .collect())
        },
    )
    .expect("tiny model")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::transformer::linear::{WeightCache, plans};
    use crate::quant::LayerQuant;

    fn fp32_plans(m: &Llama) -> Vec<LinearPlan> {
        let l = m.linears();
        plans(
            &l,
            &vec![LayerQuant::FP32; l.len()],
            None,
            &WeightCache::default(),
        )
        .unwrap()
    }

    #[test]
    fn hf_rotate_half_equals_gguf_interleaved_on_permuted_weights() {
        let g = tiny(7, false);
        let hf = g.with_rope(Rope::RotateHalf);
        assert_eq!(hf.rope, Rope::RotateHalf);
        let ids = [3u32, 17, 5, 39, 0, 22, 8];
        let a = g
            .logits(&ids, &fp32_plans(&g), &g.embedding.w, None)
            .unwrap();
        let b = hf
            .logits(&ids, &fp32_plans(&hf), &hf.embedding.w, None)
            .unwrap();
        let diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-5, "max abs diff {diff}");
        // Back again is the identity; and the wrong rope for the layout differs.
        let back = hf.with_rope(Rope::Interleaved);
        assert_eq!(back.linears()[0].w, g.linears()[0].w);
        let wrong = Llama {
            rope: Rope::RotateHalf,
            ..g.with_rope(Rope::Interleaved)
        };
        let c = wrong
            .logits(&ids, &fp32_plans(&wrong), &wrong.embedding.w, None)
            .unwrap();
        let diff = a
            .iter()
            .zip(&c)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(diff > 1e-3, "the rope layout must matter, diff {diff}");
    }

    #[test]
    fn a_batched_forward_equals_each_text_alone() {
        let m = tiny(5, false);
        let p = fp32_plans(&m);
        let texts: Vec<Vec<u32>> = vec![vec![1, 2, 3, 4, 5], vec![7, 2], vec![9, 8, 7, 6, 5, 4, 3]];
        let refs: Vec<&[u32]> = texts.iter().map(Vec::as_slice).collect();
        let mut rec_batch = vec![Vec::new(); m.linears().len()];
        let batch = m
            .logits_batch(&refs, &p, &m.embedding.w, Some(&mut rec_batch))
            .unwrap();
        let mut rec_one = vec![Vec::new(); m.linears().len()];
        for (ids, b) in texts.iter().zip(&batch) {
            let one = m
                .logits(ids, &p, &m.embedding.w, Some(&mut rec_one))
                .unwrap();
            assert_eq!(one.len(), ids.len() * m.config.vocab);
            // This model's products are small enough for gemm's small-shape
            // path, whose blocking follows the row count: equal to rounding
            // here, bit-equal on real shapes (the MiniLM integration test).
            let diff = one
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(diff < 1e-4, "diff {diff}");
        }
        // Calibration inputs come out in text order either way (the first
        // layer's inputs are the normalised embeddings, equal bit for bit).
        assert_eq!(rec_batch[0], rec_one[0]);
        assert!(
            rec_batch
                .iter()
                .zip(&rec_one)
                .all(|(a, b)| a.len() == b.len())
        );
    }

    #[test]
    fn attention_is_causal_and_names_are_gguf_style() {
        let m = tiny(3, true);
        let p = fp32_plans(&m);
        let v = m.config.vocab;
        let a = m.logits(&[1, 2, 3, 4], &p, &m.embedding.w, None).unwrap();
        let b = m.logits(&[1, 2, 3, 9], &p, &m.embedding.w, None).unwrap();
        // Positions before the changed token do not see it.
        assert_eq!(a[..3 * v], b[..3 * v]);
        assert_ne!(a[3 * v..], b[3 * v..]);
        let names: Vec<&str> = m.linears().iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names[0], "blk.0.attn_q");
        assert_eq!(names[13], "blk.1.ffn_down");
        assert_eq!(*names.last().unwrap(), "output");
        assert!(m.tied && m.head.w == m.embedding.w);
        let e = m.logits(&[40], &p, &m.embedding.w, None).unwrap_err();
        assert!(e.to_string().contains("token id 40"));
    }
}
