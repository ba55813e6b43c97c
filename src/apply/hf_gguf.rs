//! GGUF from a Hugging Face folder (`config.json`, `tokenizer.json`,
//! `model.safetensors`) for the BERT and LLaMA families, written the way
//! llama.cpp's `convert_hf_to_gguf.py` writes them (`BertModel`,
//! `LlamaModel`), so llama.cpp-family tools load the file.
//!
//! - Metadata: `general.architecture` (`bert` / `llama`), `general.type`,
//!   `general.name` (the folder's name), the architecture's hyper-parameters
//!   from config.json, `general.file_type`, `general.quantization_version`,
//!   then the tokenizer: `gpt2` (byte-level BPE) for LLaMA, `bert`
//!   (WordPiece, "phantom space" spelling: `##x` → `x`, other non-control
//!   tokens get a leading U+2581) for BERT; tokens, token types, merges, and
//!   the special token ids and `add_*_token` flags gguf-py's `SpecialVocab`
//!   reads from tokenizer.json, tokenizer_config.json and config.json.
//! - `tokenizer.ggml.pre`: the converter identifies it by hashing the
//!   tokenization of a test text, which needs `transformers`; here it comes
//!   from the tokenizer.json pre-tokenizer instead: ByteLevel alone is
//!   `gpt2`, Digits(individual) then ByteLevel is `smollm` (SmolLM), any other
//!   BPE pre-tokenizer is written as `default` (said in a note), and BERT's
//!   WordPiece is `bert-bge`, the converter's name for the BERT uncased
//!   WordPiece tokenizer (bge-small-en-v1.5's, shared by all-MiniLM-L6-v2).
//! - Tensors: llama.cpp names (`token_embd`, `blk.N.attn_q`, …), in the
//!   safetensors file's order; LLaMA Q and K rows permuted per head exactly
//!   as `LlamaModel.permute` does (K with the key/value head count), so
//!   llama.cpp's interleaved RoPE computes the model's rotate-half RoPE;
//!   1-dimensional tensors (norms, biases) as F32; other unconfigured
//!   tensors in their source type; BERT's pooler, `cls.*` heads and
//!   `position_ids` and LLaMA's `rotary_emb.inv_freq` are dropped as the
//!   converter drops them.
//!
//! Layer names of a configuration stay the ones `evoquant eval` uses for the
//! folder: BERT layers by their Hugging Face name without `bert.`
//! (`encoder.layer.0.attention.self.query`), LLaMA layers by their GGUF name
//! (`blk.0.attn_q`, `token_embd`, `output`); [`super::Source::layers`] names
//! them so.

use super::source::Source;
use super::{ApplyOptions, Planned, ggml};
use crate::error::{Error, Result};
use crate::models::gguf::{self, TensorType, Value};
use rayon::prelude::*;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Model families with a GGUF layout here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Bert,
    Llama,
}

/// The Hugging Face folder a `model.safetensors` sits in (its config.json).
#[derive(Clone, Debug)]
pub struct Folder {
    pub dir: PathBuf,
    pub config: Json,
    /// `model_type` as written (empty when absent).
    pub model_type: String,
    pub family: Option<Family>,
}

impl Folder {
    /// The folder of `safetensors` when it holds a config.json.
    pub fn next_to(safetensors: &Path) -> Result<Option<Folder>> {
        let dir = match safetensors.parent() {
            Some(d) if d.as_os_str().is_empty() => PathBuf::from("."),
            Some(d) => d.to_path_buf(),
            None => return Ok(None),
        };
        let cpath = dir.join("config.json");
        if !cpath.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&cpath).map_err(|e| Error::input(&cpath, e))?;
        let config: Json = serde_json::from_str(&text)
            .map_err(|e| Error::user(format!("{}: {e}", cpath.display())))?;
        let model_type = config
            .get("model_type")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        let llama_arch = config
            .get("architectures")
            .and_then(Json::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("LlamaForCausalLM")));
        let family = match model_type.as_str() {
            "bert" => Some(Family::Bert),
            "llama" => Some(Family::Llama),
            _ if llama_arch => Some(Family::Llama),
            _ => None,
        };
        Ok(Some(Folder {
            dir,
            config,
            model_type,
            family,
        }))
    }

    fn cpath(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    fn err(&self, m: impl std::fmt::Display) -> Error {
        Error::user(format!("{}: {m}", self.cpath().display()))
    }

    fn num(&self, k: &str) -> Result<u64> {
        self.config
            .get(k)
            .and_then(Json::as_u64)
            .ok_or_else(|| self.err(format!("`{k}` missing or not a non-negative integer")))
    }

    fn num_or(&self, k: &str, default: u64) -> Result<u64> {
        match self.config.get(k) {
            None | Some(Json::Null) => Ok(default),
            Some(_) => self.num(k),
        }
    }

    fn float_or(&self, k: &str, default: f64) -> Result<f64> {
        match self.config.get(k) {
            None | Some(Json::Null) => Ok(default),
            Some(x) => x
                .as_f64()
                .ok_or_else(|| self.err(format!("`{k}` is not a number"))),
        }
    }

    fn family_or_err(&self) -> Result<Family> {
        self.family.ok_or_else(|| {
            self.err(format!(
                "model_type `{}`: GGUF output from a Hugging Face folder supports bert and llama (use --format safetensors for others)",
                self.model_type
            ))
        })
    }
}

/// The GGUF tensor name of a Hugging Face tensor; `None` for tensors the
/// converter drops; an error for tensors it cannot map.
pub fn gguf_name(family: Family, hf: &str) -> std::result::Result<Option<String>, String> {
    let unknown = || {
        Err(format!(
            "tensor `{hf}` has no GGUF name for this architecture"
        ))
    };
    // (stem, suffix) with suffix `weight` / `bias`.
    let (stem, suffix) = match hf.rsplit_once('.') {
        Some((s, "gamma")) => (s, "weight"),
        Some((s, "beta")) => (s, "bias"),
        Some((s, x @ ("weight" | "bias"))) => (s, x),
        _ => {
            if hf.ends_with("position_ids") || hf.ends_with("inv_freq") {
                return Ok(None);
            }
            return unknown();
        }
    };
    let stem = match family {
        Family::Bert => stem.strip_prefix("bert.").unwrap_or(stem),
        Family::Llama => stem,
    };
    let block = |prefix: &str| -> Option<(usize, &str)> {
        let rest = stem.strip_prefix(prefix)?;
        let (n, rest) = rest.split_once('.')?;
        Some((n.parse().ok()?, rest))
    };
    let name = match family {
        Family::Bert => {
            if stem.starts_with("pooler.") || stem.starts_with("cls.") {
                return Ok(None);
            }
            return match crate::models::transformer::bert::gguf_tensor_name(&format!(
                "{stem}.{suffix}"
            )) {
                Some(n) => Ok(Some(n)),
                None => unknown(),
            };
        }
        Family::Llama => match stem {
            "model.embed_tokens" => "token_embd".to_string(),
            "model.norm" => "output_norm".to_string(),
            "lm_head" => "output".to_string(),
            _ => {
                let Some((n, rest)) = block("model.layers.") else {
                    return unknown();
                };
                let role = match rest {
                    "self_attn.q_proj" => "attn_q",
                    "self_attn.k_proj" => "attn_k",
                    "self_attn.v_proj" => "attn_v",
                    "self_attn.o_proj" => "attn_output",
                    "mlp.gate_proj" => "ffn_gate",
                    "mlp.up_proj" => "ffn_up",
                    "mlp.down_proj" => "ffn_down",
                    "input_layernorm" => "attn_norm",
                    "post_attention_layernorm" => "ffn_norm",
                    _ => return unknown(),
                };
                format!("blk.{n}.{role}")
            }
        },
    };
    Ok(Some(format!("{name}.{suffix}")))
}

/// Source row of each GGUF row of a Q/K weight with `rows` rows in `heads`
/// heads: `LlamaModel.permute`'s reshape(heads, 2, d/2, …).swapaxes(1, 2),
/// i.e. within each head GGUF row 2j + s is HF row s·d/2 + j.
pub fn rope_row_order(rows: usize, heads: usize) -> Vec<usize> {
    let d = rows / heads.max(1);
    let mut order = Vec::with_capacity(rows);
    for h in 0..heads {
        for j in 0..d / 2 {
            for s in 0..2 {
                order.push(h * d + s * (d / 2) + j);
            }
        }
    }
    order
}

/// Rows of `row_bytes` bytes reordered: output row i is input row `order[i]`.
fn permute_rows(b: &[u8], row_bytes: usize, order: &[usize]) -> Vec<u8> {
    let mut o = Vec::with_capacity(b.len());
    for &r in order {
        o.extend_from_slice(&b[r * row_bytes..(r + 1) * row_bytes]);
    }
    o
}

/// One tensor of the output.
struct Out<'a> {
    name: String,
    hf: String,
    shape: Vec<usize>,
    kind: TensorType,
    plan: Option<&'a Planned>,
    /// Heads to permute the rows over (LLaMA Q, K).
    rope_heads: Option<usize>,
}

/// The GGUF file of a Hugging Face folder with `planned` tensors re-encoded.
pub fn gguf(
    src: &Source,
    folder: &Folder,
    planned: &[Planned],
    _opts: &ApplyOptions,
    notes: &mut Vec<String>,
) -> Result<Vec<u8>> {
    let family = folder.family_or_err()?;
    let st_path = src.path().to_path_buf();
    let by_tensor: HashMap<&str, &Planned> =
        planned.iter().map(|p| (p.tensor.as_str(), p)).collect();
    let (n_head, n_kv) = match family {
        Family::Llama => {
            let h = folder.num("num_attention_heads")? as usize;
            (h, folder.num_or("num_key_value_heads", h as u64)? as usize)
        }
        Family::Bert => (0, 0),
    };
    let mut outs: Vec<Out> = Vec::new();
    for (hf, shape) in src.tensors() {
        let name = gguf_name(family, &hf)
            .map_err(|m| Error::user(format!("{}: {m}", st_path.display())))?;
        let plan = by_tensor.get(hf.as_str()).copied();
        let Some(name) = name else {
            if let Some(p) = plan {
                return Err(Error::user(format!(
                    "{}: layer `{}` ({hf}): llama.cpp's converter does not write this tensor to GGUF; remove it from the configuration",
                    st_path.display(),
                    p.layer
                )));
            }
            continue;
        };
        let kind = match (plan, src.kind(&hf)) {
            (Some(p), _) => p.target,
            (None, Some(_)) if shape.len() <= 1 => TensorType::F32,
            (None, Some(k)) => k,
            (None, None) => {
                return Err(Error::user(format!(
                    "{}: tensor `{hf}` is not a float tensor (F32, F16, BF16)",
                    st_path.display()
                )));
            }
        };
        let rope_heads = match (family, name.as_str()) {
            (Family::Llama, n) if n.ends_with("attn_q.weight") => Some(n_head),
            (Family::Llama, n) if n.ends_with("attn_k.weight") => Some(n_kv),
            _ => None,
        };
        if let Some(h) = rope_heads {
            let rows = shape.first().copied().unwrap_or(0);
            if h == 0 || rows % h != 0 || (rows / h) % 2 != 0 {
                return Err(folder.err(format!(
                    "tensor `{hf}` has {rows} rows, not {h} heads of an even size"
                )));
            }
        }
        outs.push(Out {
            name,
            hf,
            shape,
            kind,
            plan,
            rope_heads,
        });
    }
    for p in planned {
        if !outs.iter().any(|o| o.hf == p.tensor) {
            return Err(Error::user(format!(
                "layer `{}` ({}): not a tensor of {}",
                p.layer,
                p.tensor,
                st_path.display()
            )));
        }
    }
    let file_type = super::outputs::mostly(planned)
        .or_else(|| outs.iter().find(|o| o.shape.len() >= 2).map(|o| o.kind))
        .map_or(0, ggml::file_type);
    let metadata = metadata(folder, family, file_type, notes)?;
    let data: Vec<Vec<u8>> = outs
        .par_iter()
        .map(|o| encode(src, o))
        .collect::<Result<_>>()?;
    let tensors: Vec<(&str, Vec<usize>, TensorType, &[u8])> = outs
        .iter()
        .zip(&data)
        .map(|(o, d)| (o.name.as_str(), o.shape.clone(), o.kind, d.as_slice()))
        .collect();
    Ok(gguf::write_aligned(&metadata, &tensors, 32))
}

/// The output bytes of one tensor.
fn encode(src: &Source, o: &Out) -> Result<Vec<u8>> {
    let rows = o.shape.first().copied().unwrap_or(1);
    let order = o.rope_heads.map(|h| rope_row_order(rows, h));
    let same_kind = o.plan.is_none() && src.kind(&o.hf) == Some(o.kind);
    if same_kind {
        let (_, raw) = src
            .st_raw(&o.hf)
            .ok_or_else(|| Error::Internal(format!("{}: no raw bytes", o.hf)))?;
        return Ok(match &order {
            Some(ord) => permute_rows(raw, raw.len() / rows.max(1), ord),
            None => raw.to_vec(),
        });
    }
    let mut v = src.f32(&o.hf)?;
    if let Some(ord) = &order {
        let cols = v.len() / rows.max(1);
        let mut p = Vec::with_capacity(v.len());
        for &r in ord {
            p.extend_from_slice(&v[r * cols..(r + 1) * cols]);
        }
        v = p;
    }
    super::outputs::encode(&v, o.kind).map_err(|m| match o.plan {
        Some(p) => Error::user(format!("layer `{}` ({}): {m}", p.layer, p.from)),
        None => Error::Internal(format!("{}: {m}", o.hf)),
    })
}

fn u32v(x: u64) -> Value {
    Value::U32(x as u32)
}

/// Metadata in the converter's order: general, hyper-parameters, tokenizer.
fn metadata(
    f: &Folder,
    family: Family,
    file_type: u32,
    notes: &mut Vec<String>,
) -> Result<Vec<(String, Value)>> {
    let arch = match family {
        Family::Bert => "bert",
        Family::Llama => "llama",
    };
    let k = |s: &str| format!("{arch}.{s}");
    let name = f
        .dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_string()))
        .unwrap_or_else(|| "model".into());
    let mut m: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::Str(arch.into())),
        ("general.type".into(), Value::Str("model".into())),
        ("general.name".into(), Value::Str(name)),
    ];
    let heads = f.num("num_attention_heads")?;
    let hidden = f.num("hidden_size")?;
    m.push((k("block_count"), u32v(f.num("num_hidden_layers")?)));
    m.push((k("context_length"), u32v(f.num("max_position_embeddings")?)));
    m.push((k("embedding_length"), u32v(hidden)));
    m.push((k("feed_forward_length"), u32v(f.num("intermediate_size")?)));
    m.push((k("attention.head_count"), u32v(heads)));
    if heads == 0 || hidden % heads != 0 {
        return Err(f.err(format!(
            "`hidden_size` {hidden} is not a multiple of `num_attention_heads` {heads}"
        )));
    }
    let vocab_size = f.num("vocab_size")?;
    match family {
        Family::Llama => {
            if f.config.get("rope_scaling").is_some_and(|r| !r.is_null()) {
                return Err(f.err("`rope_scaling` is not supported"));
            }
            m.push((
                k("attention.head_count_kv"),
                u32v(f.num_or("num_key_value_heads", heads)?),
            ));
            m.push((
                k("rope.freq_base"),
                Value::F32(f.float_or("rope_theta", 10000.0)? as f32),
            ));
            m.push((
                k("attention.layer_norm_rms_epsilon"),
                Value::F32(f.float_or("rms_norm_eps", 1e-6)? as f32),
            ));
            m.push((general_ft(), Value::U32(file_type)));
            m.push((k("vocab_size"), u32v(vocab_size)));
            m.push((
                k("rope.dimension_count"),
                u32v(f.num_or("head_dim", hidden / heads)?),
            ));
        }
        Family::Bert => {
            m.push((
                k("attention.layer_norm_epsilon"),
                Value::F32(f.float_or("layer_norm_eps", 1e-12)? as f32),
            ));
            m.push((general_ft(), Value::U32(file_type)));
            m.push((k("attention.causal"), Value::Bool(false)));
            if let Some(p) = pooling_type(&f.dir)? {
                m.push((k("pooling_type"), Value::U32(p)));
            }
        }
    }
    m.push(("general.quantization_version".into(), Value::U32(2)));
    tokenizer(f, family, vocab_size as usize, &mut m, notes)?;
    Ok(m)
}

fn general_ft() -> String {
    "general.file_type".into()
}

fn read_json(p: &Path) -> Result<Json> {
    let text = std::fs::read_to_string(p).map_err(|e| Error::input(p, e))?;
    serde_json::from_str(&text).map_err(|e| Error::user(format!("{}: {e}", p.display())))
}

/// sentence-transformers pooling (modules.json → its Pooling folder's
/// config.json): MEAN = 1, CLS = 2, as the converter's `_try_set_pooling_type`.
fn pooling_type(dir: &Path) -> Result<Option<u32>> {
    let mpath = dir.join("modules.json");
    if !mpath.is_file() {
        return Ok(None);
    }
    let modules = read_json(&mpath)?;
    let Some(path) = modules.as_array().and_then(|a| {
        a.iter()
            .find(|m| {
                m.get("type").and_then(Json::as_str) == Some("sentence_transformers.models.Pooling")
            })
            .and_then(|m| m.get("path").and_then(Json::as_str))
    }) else {
        return Ok(None);
    };
    let ppath = dir.join(path).join("config.json");
    let p = read_json(&ppath)?;
    let on = |k: &str| p.get(k).and_then(Json::as_bool) == Some(true);
    if on("pooling_mode_mean_tokens") {
        Ok(Some(1))
    } else if on("pooling_mode_cls_token") {
        Ok(Some(2))
    } else if on("pooling_mode_lasttoken") {
        Ok(Some(3))
    } else {
        Err(Error::user(format!(
            "{}: only mean, CLS and last-token pooling have a GGUF pooling type",
            ppath.display()
        )))
    }
}

/// tokenizer.ggml.* from tokenizer.json (+ tokenizer_config.json, config.json).
fn tokenizer(
    f: &Folder,
    family: Family,
    vocab_size: usize,
    m: &mut Vec<(String, Value)>,
    notes: &mut Vec<String>,
) -> Result<()> {
    let tpath = f.dir.join("tokenizer.json");
    if !tpath.is_file() {
        return Err(Error::user(format!(
            "{}: missing: GGUF output needs the folder's tokenizer.json (the vocabulary goes into the file)",
            tpath.display()
        )));
    }
    let tj = read_json(&tpath)?;
    let at = |key: &str, msg: String| Error::user(format!("{}: `{key}`: {msg}", tpath.display()));
    let model = tj
        .get("model")
        .ok_or_else(|| at("model", "missing".into()))?;
    let mtype = model.get("type").and_then(Json::as_str).unwrap_or("");
    let want = match family {
        Family::Llama => "BPE",
        Family::Bert => "WordPiece",
    };
    if mtype != want {
        return Err(at(
            "model.type",
            format!(
                "`{mtype}` is not supported for {} (supported: {want}{})",
                f.model_type,
                if family == Family::Llama {
                    "; SentencePiece tokenizer.model folders are not"
                } else {
                    ""
                }
            ),
        ));
    }
    let vocab = model
        .get("vocab")
        .and_then(Json::as_object)
        .ok_or_else(|| at("model.vocab", "missing or not an object".into()))?;
    let mut by_id: Vec<Option<(String, i32)>> = vec![None; vocab_size];
    let mut put = |tok: &str, id: u64, ty: i32| -> Result<()> {
        let slot = by_id.get_mut(id as usize).ok_or_else(|| {
            at(
                "model.vocab",
                format!(
                    "token `{tok}` has id {id}, not below config.json's vocab_size {vocab_size}"
                ),
            )
        })?;
        *slot = Some((tok.to_string(), ty));
        Ok(())
    };
    for (tok, id) in vocab {
        let id = id
            .as_u64()
            .ok_or_else(|| at("model.vocab", format!("id of `{tok}` is not an integer")))?;
        put(tok, id, 1)?;
    }
    let added: Vec<Json> = tj
        .get("added_tokens")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    for a in &added {
        let (Some(tok), Some(id)) = (
            a.get("content").and_then(Json::as_str),
            a.get("id").and_then(Json::as_u64),
        ) else {
            return Err(at("added_tokens", "an entry without content or id".into()));
        };
        let special = a.get("special").and_then(Json::as_bool) == Some(true);
        put(tok, id, if special { 3 } else { 4 })?;
    }
    let mut tokens = Vec::with_capacity(vocab_size);
    let mut types = Vec::with_capacity(vocab_size);
    for (i, t) in by_id.into_iter().enumerate() {
        let (tok, ty) = t.unwrap_or_else(|| (format!("[PAD{i}]"), 4));
        let tok = match family {
            // BertModel.set_vocab's phantom space spelling.
            Family::Bert if ty != 3 => match tok.strip_prefix("##") {
                Some(rest) => rest.to_string(),
                None => format!("\u{2581}{tok}"),
            },
            _ => tok,
        };
        tokens.push(Value::Str(tok));
        types.push(Value::I32(ty));
    }
    let s = |x: &str| Value::Str(x.into());
    match family {
        Family::Llama => {
            let pre = bpe_pre(tj.get("pre_tokenizer"));
            if pre == "default" {
                notes.push(format!(
                    "{}: pre-tokenizer not recognised (ByteLevel → gpt2, Digits + ByteLevel → smollm): tokenizer.ggml.pre written as `default`",
                    tpath.display()
                ));
            }
            m.push(("tokenizer.ggml.model".into(), s("gpt2")));
            m.push(("tokenizer.ggml.pre".into(), s(pre)));
        }
        Family::Bert => {
            m.push((
                "tokenizer.ggml.token_type_count".into(),
                u32v(f.num_or("type_vocab_size", 1)?),
            ));
            m.push(("tokenizer.ggml.model".into(), s("bert")));
            m.push(("tokenizer.ggml.pre".into(), s("bert-bge")));
        }
    }
    m.push(("tokenizer.ggml.tokens".into(), Value::Array(tokens)));
    m.push(("tokenizer.ggml.token_type".into(), Value::Array(types)));
    if family == Family::Llama {
        let merges = merges(model).map_err(|e| at("model.merges", e))?;
        m.push(("tokenizer.ggml.merges".into(), Value::Array(merges)));
    }
    special_tokens(f, &tj, &added, vocab_size, m)
}

/// `tokenizer.ggml.pre` for a BPE pre-tokenizer (see the module docs).
fn bpe_pre(p: Option<&Json>) -> &'static str {
    let ty = |j: &Json| j.get("type").and_then(Json::as_str).map(str::to_string);
    let byte_level = |j: &Json| {
        ty(j).as_deref() == Some("ByteLevel")
            && j.get("use_regex").and_then(Json::as_bool) != Some(false)
    };
    let Some(p) = p else { return "default" };
    if byte_level(p) {
        return "gpt2";
    }
    if ty(p).as_deref() == Some("Sequence") {
        if let Some(seq) = p.get("pretokenizers").and_then(Json::as_array) {
            if seq.len() == 2
                && ty(&seq[0]).as_deref() == Some("Digits")
                && seq[0].get("individual_digits").and_then(Json::as_bool) == Some(true)
                && byte_level(&seq[1])
            {
                return "smollm";
            }
            if seq.len() == 1 && byte_level(&seq[0]) {
                return "gpt2";
            }
        }
    }
    "default"
}

/// Merges as "a b" strings; pairs are joined with spaces in them written as
/// U+0120 + 256, as gguf-py's `SpecialVocab` does.
fn merges(model: &Json) -> std::result::Result<Vec<Value>, String> {
    let Some(list) = model.get("merges").and_then(Json::as_array) else {
        return Err("missing: a BPE tokenizer.json lists its merges".into());
    };
    list.iter()
        .map(|e| match e {
            Json::String(s) => Ok(Value::Str(s.clone())),
            Json::Array(p) if p.len() == 2 => {
                let part = |x: &Json| {
                    x.as_str()
                        .map(|s| {
                            s.chars()
                                .map(|c| if c == ' ' { '\u{120}' } else { c })
                                .collect::<String>()
                        })
                        .ok_or_else(|| "a pair holds a non-string".to_string())
                };
                Ok(Value::Str(format!("{} {}", part(&p[0])?, part(&p[1])?)))
            }
            _ => Err("an entry is neither \"a b\" nor [\"a\", \"b\"]".into()),
        })
        .collect()
}

/// Special token ids and `add_*_token` flags as gguf-py's `SpecialVocab`
/// reads them: the template post-processor's leading / trailing special
/// token, tokenizer_config.json's `*_token` (matched to added tokens; CLS
/// stands in for a missing BOS, SEP for a missing EOS) and `add_*_token`,
/// then config.json's `*_token_id`.
fn special_tokens(
    f: &Folder,
    tj: &Json,
    added: &[Json],
    n_vocab: usize,
    m: &mut Vec<(String, Value)>,
) -> Result<()> {
    let tc_path = f.dir.join("tokenizer_config.json");
    let tc = if tc_path.is_file() {
        Some(read_json(&tc_path)?)
    } else {
        None
    };
    let tc_token = |typ: &str| -> Option<String> {
        let e = tc.as_ref()?.get(format!("{typ}_token"))?;
        match e {
            Json::String(s) => Some(s.clone()),
            Json::Object(o) => o.get("content").and_then(Json::as_str).map(str::to_string),
            _ => None,
        }
    };
    let bos = tc_token("bos").or_else(|| tc_token("cls"));
    let mut eos = tc_token("eos").or_else(|| tc_token("sep"));
    let mut add: Vec<(&str, bool)> = Vec::new();
    let set_add = |add: &mut Vec<(&str, bool)>, typ: &'static str, v: bool| match add
        .iter_mut()
        .find(|(t, _)| *t == typ)
    {
        Some((_, x)) => *x = v,
        None => add.push((typ, v)),
    };
    if let Some(pp) = tj.get("post_processor").filter(|p| !p.is_null()) {
        let procs: Vec<&Json> = match pp.get("processors").and_then(Json::as_array) {
            Some(a) => a.iter().collect(),
            None => vec![pp],
        };
        for p in procs {
            match p.get("type").and_then(Json::as_str) {
                Some("RobertaProcessing") => {
                    for t in ["bos", "eos", "sep"] {
                        set_add(&mut add, t, true);
                    }
                }
                Some("TemplateProcessing") => {
                    let sp = |e: &Json| {
                        e.get("SpecialToken")
                            .and_then(|s| s.get("id"))
                            .and_then(Json::as_str)
                            .map(str::to_string)
                    };
                    let seq = |e: &Json| {
                        e.get("Sequence")
                            .and_then(|s| s.get("id"))
                            .and_then(Json::as_str)
                            .map(str::to_string)
                    };
                    let single: &[Json] = p
                        .get("single")
                        .and_then(Json::as_array)
                        .map_or(&[][..], |v| v.as_slice());
                    let (mut first, mut last) = (None, None);
                    if single.len() > 1 {
                        first = sp(&single[0]);
                        if let Some(t) = &first {
                            let b = if tc.is_none() {
                                Some(t.clone())
                            } else {
                                bos.clone()
                            };
                            let hit = Some(t) == b.as_ref() || Some(t) == tc_token("cls").as_ref();
                            set_add(&mut add, "bos", hit);
                        }
                        last = single.last().and_then(sp);
                        if last.is_some() {
                            // SpecialVocab makes a trailing special token the EOS.
                            eos = last.clone();
                            set_add(&mut add, "eos", true);
                        }
                    }
                    let pair: &[Json] = p
                        .get("pair")
                        .and_then(Json::as_array)
                        .map_or(&[][..], |v| v.as_slice());
                    if !pair.is_empty() {
                        let start = usize::from(first.is_some() && sp(&pair[0]) == first);
                        let stop = pair.len()
                            - usize::from(last.is_some() && pair.last().and_then(sp) == last);
                        let mid = if start < stop {
                            &pair[start..stop]
                        } else {
                            &pair[0..0]
                        };
                        if mid.len() > 2
                            && seq(&mid[0]).as_deref() == Some("A")
                            && seq(&mid[mid.len() - 1]).as_deref() == Some("B")
                        {
                            let inner = &mid[1..mid.len() - 1];
                            let sep = tc_token("sep");
                            let is_sep =
                                |t: &Option<String>| t.is_some() && (*t == sep || *t == eos);
                            let mut add_sep = is_sep(&sp(&inner[0])) && last.is_none();
                            if inner.len() == 2 && is_sep(&sp(&inner[1])) {
                                add_sep = true;
                            }
                            set_add(&mut add, "sep", add_sep);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let mut ids: Vec<(&str, u64)> = Vec::new();
    let types = ["bos", "eos", "unk", "sep", "pad", "mask"];
    if let Some(tc) = &tc {
        for typ in types {
            if let Some(b) = tc.get(format!("add_{typ}_token")).and_then(Json::as_bool) {
                set_add(&mut add, typ, b);
            }
            let content = match typ {
                "bos" => bos.clone(),
                "eos" => eos.clone(),
                t => tc_token(t),
            };
            let Some(content) = content else { continue };
            if let Some(id) = added
                .iter()
                .find(|a| a.get("content").and_then(Json::as_str) == Some(content.as_str()))
                .and_then(|a| a.get("id").and_then(Json::as_u64))
            {
                if (id as usize) < n_vocab {
                    ids.push((typ, id));
                }
            }
        }
    }
    for typ in types {
        if ids.iter().any(|(t, _)| *t == typ) {
            continue;
        }
        if let Some(id) = f
            .config
            .get(format!("{typ}_token_id"))
            .and_then(Json::as_u64)
        {
            if (id as usize) < n_vocab {
                ids.push((typ, id));
            }
        }
    }
    for (typ, id) in ids {
        let key = match typ {
            "bos" => "bos_token_id",
            "eos" => "eos_token_id",
            "unk" => "unknown_token_id",
            "sep" => "seperator_token_id",
            "pad" => "padding_token_id",
            _ => "mask_token_id",
        };
        m.push((format!("tokenizer.ggml.{key}"), u32v(id)));
    }
    for (typ, v) in add {
        m.push((format!("tokenizer.ggml.add_{typ}_token"), Value::Bool(v)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_order_is_the_decoders_permutation() {
        let (heads, d, inp) = (3, 8, 5);
        let w: Vec<f32> = (0..heads * d * inp).map(|i| i as f32).collect();
        let want = crate::models::transformer::llama::permute_for_gguf(&w, heads, inp);
        let order = rope_row_order(heads * d, heads);
        let b = gguf::f32_bytes(&w);
        let got = permute_rows(&b, inp * 4, &order);
        assert_eq!(got, gguf::f32_bytes(&want));
    }

    #[test]
    fn names_follow_the_converter() {
        for (f, hf, want) in [
            (
                Family::Bert,
                "encoder.layer.3.attention.self.query.weight",
                Some("blk.3.attn_q.weight"),
            ),
            (
                Family::Bert,
                "bert.encoder.layer.0.output.LayerNorm.bias",
                Some("blk.0.layer_output_norm.bias"),
            ),
            (
                Family::Bert,
                "embeddings.LayerNorm.gamma",
                Some("token_embd_norm.weight"),
            ),
            (Family::Bert, "pooler.dense.weight", None),
            (Family::Bert, "embeddings.position_ids", None),
            (
                Family::Llama,
                "model.layers.1.mlp.gate_proj.weight",
                Some("blk.1.ffn_gate.weight"),
            ),
            (
                Family::Llama,
                "model.layers.1.post_attention_layernorm.weight",
                Some("blk.1.ffn_norm.weight"),
            ),
            (Family::Llama, "lm_head.weight", Some("output.weight")),
        ] {
            assert_eq!(gguf_name(f, hf).unwrap().as_deref(), want, "{hf}");
        }
        assert!(gguf_name(Family::Llama, "model.layers.0.foo.weight").is_err());
    }
}
