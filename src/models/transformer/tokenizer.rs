//! Text → token ids with the Hugging Face `tokenizers` crate, so ids match
//! what the Python stack produces: from a model's `tokenizer.json`, or built
//! in memory from a GGUF file's `tokenizer.ggml.*` metadata (byte-level BPE,
//! `tokenizer.ggml.model = "gpt2"`).
//!
//! The GGUF path rebuilds what the Hugging Face `tokenizer.json` of a
//! GPT-2-style model holds: a BPE model over `tokenizer.ggml.tokens` (id =
//! index) and `tokenizer.ggml.merges`, the pre-tokenizer that
//! `tokenizer.ggml.pre` names (the same regexes llama.cpp applies for that
//! name), a ByteLevel decoder, and the control / user-defined tokens of
//! `tokenizer.ggml.token_type` as added tokens. A BOS id is prepended only
//! when `tokenizer.ggml.add_bos_token` is true (absent means false), and no
//! EOS is appended. Normalizers are not part of GGUF metadata; none of the
//! supported pre-tokenizer names uses one.
//!
//! `tokenizer.ggml.model = "bert"` (WordPiece) is rebuilt as the
//! `tokenizer.json` of a BERT uncased model: the converter's phantom-space
//! spelling undone (control tokens kept, `▁x` → `x`, any other `x` → `##x`),
//! BertNormalizer with lowercasing (llama.cpp's WordPiece tokenizer always
//! lowercases; the file records no casing), BertPreTokenizer, and
//! `[CLS] $A [SEP]` from `tokenizer.ggml.cls_token_id` and
//! `tokenizer.ggml.seperator_token_id` (GGUF's spelling), or from the BOS
//! and EOS ids when those are absent.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub struct Tokenizer {
    path: PathBuf,
    inner: tokenizers::Tokenizer,
    /// Prepended by [`Tokenizer::encode_causal`] (GGUF `add_bos_token`).
    bos: Option<u32>,
}

/// `tokenizer.ggml.pre` values we rebuild, with their pre-tokenizers.
pub const GGUF_PRE: &[&str] = &["default", "gpt2", "smollm"];

fn gguf_pre_tokenizer(pre: &str) -> Option<tokenizers::PreTokenizerWrapper> {
    use tokenizers::pre_tokenizers::{byte_level::ByteLevel, digits::Digits, sequence::Sequence};
    // GPT-2's regex is ByteLevel's own (`use_regex`); no prefix space.
    let byte_level = ByteLevel::new(false, true, true);
    Some(match pre {
        "default" | "gpt2" => byte_level.into(),
        // SmolLM's tokenizer.json: Digits(individual_digits) then ByteLevel;
        // llama.cpp's `smollm` splits on \p{N} before the GPT-2 regex.
        "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into(),
        _ => return None,
    })
}

fn gguf_key_error(g: &crate::models::gguf::Gguf, key: &str, m: String) -> Error {
    Error::user(format!("{}: metadata `{key}`: {m}", g.path.display()))
}

impl Tokenizer {
    pub fn from_file(path: &Path) -> Result<Tokenizer> {
        if !path.exists() {
            return Err(Error::user(format!("{}: no such file", path.display())));
        }
        let mut inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| Error::user(format!("{}: not a tokenizer.json: {e}", path.display())))?;
        // Texts are never padded (batches stack rows), and truncation is ours (`encode`).
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
        Ok(Tokenizer {
            path: path.to_path_buf(),
            inner,
            bos: None,
        })
    }

    /// The tokenizer described by a GGUF file's metadata: byte-level BPE
    /// (`gpt2`) or WordPiece (`bert`).
    pub fn from_gguf(g: &crate::models::gguf::Gguf) -> Result<Tokenizer> {
        let model = g.str("tokenizer.ggml.model")?;
        match model {
            "gpt2" => Self::bpe_from_gguf(g),
            "bert" => Self::wordpiece_from_gguf(g),
            _ => Err(gguf_key_error(
                g,
                "tokenizer.ggml.model",
                format!("`{model}` is not supported (gpt2: byte-level BPE, bert: WordPiece)"),
            )),
        }
    }

    fn wordpiece_from_gguf(g: &crate::models::gguf::Gguf) -> Result<Tokenizer> {
        use serde_json::json;
        let at = |key: &str, m: String| gguf_key_error(g, key, m);
        let tokens = g.strings("tokenizer.ggml.tokens")?;
        let types: Vec<Option<u64>> = match g.get("tokenizer.ggml.token_type") {
            None => vec![None; tokens.len()],
            Some(v) => v
                .as_array()
                .ok_or_else(|| at("tokenizer.ggml.token_type", "is not an array".into()))?
                .iter()
                .map(|t| t.as_u64())
                .collect(),
        };
        if types.len() != tokens.len() {
            return Err(at(
                "tokenizer.ggml.token_type",
                format!("{} entries for {} tokens", types.len(), tokens.len()),
            ));
        }
        let mut vocab = serde_json::Map::new();
        let mut added = Vec::new();
        let mut words = Vec::with_capacity(tokens.len());
        for (i, (t, ty)) in tokens.iter().zip(&types).enumerate() {
            let word = match (ty, t.strip_prefix('\u{2581}')) {
                (Some(3), _) => t.to_string(),
                (_, Some(rest)) => rest.to_string(),
                (_, None) => format!("##{t}"),
            };
            if *ty == Some(3) {
                added.push(json!({"id": i, "content": word, "single_word": false,
                    "lstrip": false, "rstrip": false, "normalized": false, "special": true}));
            }
            if vocab.insert(word.clone(), json!(i)).is_some() {
                return Err(at(
                    "tokenizer.ggml.tokens",
                    format!("holds `{word}` twice (after undoing the phantom-space spelling)"),
                ));
            }
            words.push(word);
        }
        // Converters write `cls`/`seperator` ids, or only `bos`/`eos`
        // (gguf-py's SpecialVocab before it knew `cls`), which are then
        // [CLS] and [SEP].
        let word_of = |key: &str| -> Result<(String, usize)> {
            let key = match (key, g.get(key)) {
                ("tokenizer.ggml.cls_token_id", None) => "tokenizer.ggml.bos_token_id",
                ("tokenizer.ggml.seperator_token_id", None) => "tokenizer.ggml.eos_token_id",
                _ => key,
            };
            let id = g.usize(key)?;
            let word = words
                .get(id)
                .cloned()
                .ok_or_else(|| at(key, format!("{id} is outside the {} tokens", words.len())))?;
            Ok((word, id))
        };
        let (unk, _) = word_of("tokenizer.ggml.unknown_token_id")?;
        let (cls, cls_id) = word_of("tokenizer.ggml.cls_token_id")?;
        let (sep, sep_id) = word_of("tokenizer.ggml.seperator_token_id")?;
        let special =
            |w: &str, type_id: u32| json!({"SpecialToken": {"id": w, "type_id": type_id}});
        let seq = |id: &str, type_id: u32| json!({"Sequence": {"id": id, "type_id": type_id}});
        let mut special_tokens = serde_json::Map::new();
        for (w, id) in [(&cls, cls_id), (&sep, sep_id)] {
            special_tokens.insert(w.clone(), json!({"id": w, "ids": [id], "tokens": [w]}));
        }
        let spec = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": {"type": "BertNormalizer", "clean_text": true,
                "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [special(&cls, 0), seq("A", 0), special(&sep, 0)],
                "pair": [special(&cls, 0), seq("A", 0), special(&sep, 0), seq("B", 1), special(&sep, 1)],
                "special_tokens": special_tokens,
            },
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
            "model": {"type": "WordPiece", "unk_token": unk, "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100, "vocab": vocab},
        });
        let inner: tokenizers::Tokenizer = spec.to_string().parse().map_err(|e| {
            at(
                "tokenizer.ggml.tokens",
                format!("cannot build WordPiece: {e}"),
            )
        })?;
        Ok(Tokenizer {
            path: g.path.clone(),
            inner,
            bos: None,
        })
    }

    /// The byte-level BPE tokenizer described by a GGUF file's metadata.
    fn bpe_from_gguf(g: &crate::models::gguf::Gguf) -> Result<Tokenizer> {
        use tokenizers::models::bpe::{BPE, Vocab};
        let at = |key: &str, m: String| gguf_key_error(g, key, m);
        let pre = match g.get("tokenizer.ggml.pre") {
            None => "default",
            Some(_) => g.str("tokenizer.ggml.pre")?,
        };
        let pre_tok = gguf_pre_tokenizer(pre).ok_or_else(|| {
            at(
                "tokenizer.ggml.pre",
                format!(
                    "`{pre}` is not supported (supported: {})",
                    GGUF_PRE.join(", ")
                ),
            )
        })?;
        let tokens = g.strings("tokenizer.ggml.tokens")?;
        let merges = g
            .strings("tokenizer.ggml.merges")?
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| {
                        at(
                            "tokenizer.ggml.merges",
                            format!("entry {i} `{m}` is not two tokens separated by a space"),
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.to_string(), i as u32))
            .collect();
        if vocab.len() != tokens.len() {
            return Err(at(
                "tokenizer.ggml.tokens",
                "holds the same token twice".into(),
            ));
        }
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| at("tokenizer.ggml.merges", e.to_string()))?;
        let mut inner = tokenizers::Tokenizer::new(bpe);
        inner.with_pre_tokenizer(Some(pre_tok));
        inner.with_decoder(Some(tokenizers::decoders::byte_level::ByteLevel::default()));
        // Control (3) and user-defined (4) tokens match as whole added tokens.
        if let Some(types) = g.get("tokenizer.ggml.token_type") {
            let types = types
                .as_array()
                .ok_or_else(|| at("tokenizer.ggml.token_type", "is not an array".into()))?;
            let mut special = Vec::new();
            let mut user = Vec::new();
            for (t, ty) in tokens.iter().zip(types) {
                match ty.as_u64() {
                    Some(3) => special.push(tokenizers::AddedToken::from(t.to_string(), true)),
                    Some(4) => user.push(tokenizers::AddedToken::from(t.to_string(), false)),
                    _ => {}
                }
            }
            inner
                .add_special_tokens(special)
                .and_then(|_| inner.add_tokens(user))
                .map_err(|e| at("tokenizer.ggml.token_type", e.to_string()))?;
        }
        let id = |key: &str| -> Result<Option<u32>> {
            match g.get(key) {
                None => Ok(None),
                Some(_) => {
                    let v = g.usize(key)?;
                    if v >= tokens.len() {
                        return Err(at(
                            key,
                            format!("{v} is outside the {} tokens", tokens.len()),
                        ));
                    }
                    Ok(Some(v as u32))
                }
            }
        };
        let bos_id = id("tokenizer.ggml.bos_token_id")?;
        let bos = if g.bool("tokenizer.ggml.add_bos_token")?.unwrap_or(false) {
            Some(bos_id.ok_or_else(|| {
                at(
                    "tokenizer.ggml.bos_token_id",
                    "missing, but tokenizer.ggml.add_bos_token is true".into(),
                )
            })?)
        } else {
            None
        };
        Ok(Tokenizer {
            path: g.path.clone(),
            inner,
            bos,
        })
    }

    /// Ids for a causal model: BOS when the model asks for it, then the
    /// text's tokens, the first `max_len` kept.
    pub fn encode_causal(&self, text: &str, max_len: usize) -> Result<Vec<u32>> {
        let enc = self.inner.encode(text, true).map_err(|e| {
            Error::user(format!("{}: cannot encode text: {e}", self.path.display()))
        })?;
        let mut ids: Vec<u32> = self.bos.into_iter().collect();
        ids.extend_from_slice(enc.get_ids());
        ids.truncate(max_len);
        Ok(ids)
    }

    /// Text of `ids` (special tokens kept).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| Error::user(format!("{}: cannot decode ids: {e}", self.path.display())))
    }

    /// Ids with special tokens; longer texts keep their first `max_len − 1`
    /// tokens and their final token (BERT's `[SEP]`).
    pub fn encode(&self, text: &str, max_len: usize) -> Result<Vec<u32>> {
        let enc = self.inner.encode(text, true).map_err(|e| {
            Error::user(format!("{}: cannot encode text: {e}", self.path.display()))
        })?;
        let mut ids = enc.get_ids().to_vec();
        if ids.len() > max_len && max_len >= 2 {
            let last = *ids.last().expect("non-empty");
            ids.truncate(max_len - 1);
            ids.push(last);
        }
        Ok(ids)
    }
}
