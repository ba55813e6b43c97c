//! The three outputs of `apply`, each returned as the file's bytes (the
//! caller writes them atomically).

use super::source::Source;
use super::{ApplyOptions, Planned, ggml};
use crate::error::{Error, Result};
use crate::models::gguf::{self, TensorType, Value};
use crate::quant::{
    WeightQuant, fake_quantize, fp16_round_trip_in_place, gguf_fake_quantize, gguf_quantize,
};
use rayon::prelude::*;
use std::collections::HashMap;

fn layer_err(p: &Planned, m: impl std::fmt::Display) -> Error {
    Error::user(format!("layer `{}` ({}): {m}", p.layer, p.from))
}

/// `values` encoded as `t`.
fn encode(values: &[f32], t: TensorType) -> std::result::Result<Vec<u8>, String> {
    Ok(match t {
        TensorType::F32 => {
            let mut o = vec![0u8; values.len() * 4];
            o.par_chunks_mut(1 << 16)
                .zip(values.par_chunks(1 << 14))
                .for_each(|(o, v)| {
                    for (b, x) in o.chunks_exact_mut(4).zip(v) {
                        b.copy_from_slice(&x.to_le_bytes());
                    }
                });
            o
        }
        TensorType::F16 | TensorType::BF16 => {
            let mut o = vec![0u8; values.len() * 2];
            o.par_chunks_mut(1 << 15)
                .zip(values.par_chunks(1 << 14))
                .for_each(|(o, v)| {
                    for (b, &x) in o.chunks_exact_mut(2).zip(v) {
                        let h = if t == TensorType::F16 {
                            half::f16::from_f32(x).to_le_bytes()
                        } else {
                            half::bf16::from_f32(x).to_le_bytes()
                        };
                        b.copy_from_slice(&h);
                    }
                });
            o
        }
        TensorType::Block(f) => gguf_quantize(values, f).map_err(|e| e.to_string())?,
    })
}

/// A GGUF v3 file: the source's metadata and tensor order, each planned
/// tensor re-encoded from its f32 values, every other tensor's bytes as
/// stored.
pub fn gguf(src: &Source, planned: &[Planned], _opts: &ApplyOptions) -> Result<Vec<u8>> {
    let Source::Gguf(g) = src else {
        return Err(Error::user(format!(
            "{}: GGUF output needs a GGUF source model: building GGUF metadata from a Hugging Face folder is not implemented; convert it with llama.cpp's convert_hf_to_gguf.py (--outtype f32) first, or use --format safetensors",
            src.path().display()
        )));
    };
    let by_tensor: HashMap<&str, &Planned> =
        planned.iter().map(|p| (p.tensor.as_str(), p)).collect();
    let encoded: Vec<Vec<u8>> = planned
        .par_iter()
        .map(|p| {
            let v = src.f32(&p.from)?;
            encode(&v, p.target).map_err(|m| layer_err(p, m))
        })
        .collect::<Result<_>>()?;
    let enc: HashMap<&str, &[u8]> = planned
        .iter()
        .zip(&encoded)
        .map(|(p, e)| (p.tensor.as_str(), e.as_slice()))
        .collect();
    let mut tensors: Vec<(&str, Vec<usize>, TensorType, &[u8])> = g
        .tensors
        .iter()
        .map(|t| match by_tensor.get(t.name.as_str()) {
            Some(p) => (t.name.as_str(), t.shape(), p.target, enc[t.name.as_str()]),
            None => (t.name.as_str(), t.shape(), t.kind, g.raw(t)),
        })
        .collect();
    // A split tied head comes last, where llama.cpp's converter puts `output`.
    for p in planned {
        if g.tensor(&p.tensor).is_none() {
            tensors.push((&p.tensor, p.shape.clone(), p.target, enc[p.tensor.as_str()]));
        }
    }
    let mut metadata = g.metadata.clone();
    if let Some(ft) = mostly(planned) {
        match metadata.iter_mut().find(|(k, _)| k == "general.file_type") {
            Some((_, v)) => *v = Value::U32(ggml::file_type(ft)),
            None => metadata.push(("general.file_type".into(), Value::U32(ggml::file_type(ft)))),
        }
    }
    Ok(gguf::write_aligned(&metadata, &tensors, g.alignment))
}

/// The most common type of the block layers (ties: the first seen).
fn mostly(planned: &[Planned]) -> Option<TensorType> {
    let mut count: Vec<(TensorType, usize)> = Vec::new();
    for p in planned.iter().filter(|p| super::is_block_layer(&p.layer)) {
        match count.iter_mut().find(|(t, _)| *t == p.target) {
            Some((_, n)) => *n += 1,
            None => count.push((p.target, 1)),
        }
    }
    let best = count.iter().map(|c| c.1).max()?;
    count.into_iter().find(|c| c.1 == best).map(|c| c.0)
}

/// The gene's fake-quantized image of `w` (row-major `shape`), as eval computes it.
fn fake(p: &Planned, w: &[f32]) -> Result<Vec<f32>> {
    let cols = *p.shape.last().unwrap_or(&1);
    let rows = w.len() / cols.max(1);
    let mut out = w.to_vec();
    match &p.gene.weights {
        WeightQuant::Fp32 => {}
        WeightQuant::Fp16 => fp16_round_trip_in_place(&mut out),
        WeightQuant::Int(spec) => {
            fake_quantize(w, &[rows, cols], spec, &mut out).map_err(|e| layer_err(p, e))?
        }
        WeightQuant::Ggml(f) => {
            gguf_fake_quantize(w, cols, *f, &mut out).map_err(|e| layer_err(p, e))?
        }
    }
    Ok(out)
}

/// Whether every value survives a round trip through `t`.
fn representable(v: &[f32], t: TensorType) -> bool {
    match t {
        TensorType::F32 => true,
        TensorType::F16 => v.par_iter().all(|&x| half::f16::from_f32(x).to_f32() == x),
        TensorType::BF16 => v.par_iter().all(|&x| half::bf16::from_f32(x).to_f32() == x),
        TensorType::Block(_) => false,
    }
}

fn st_dtype(t: TensorType) -> safetensors::Dtype {
    match t {
        TensorType::F16 => safetensors::Dtype::F16,
        TensorType::BF16 => safetensors::Dtype::BF16,
        _ => safetensors::Dtype::F32,
    }
}

/// A safetensors file of every tensor: planned ones fake-quantized, in the
/// source dtype when every value is representable there (else F32, said in
/// a note); the configuration in the header metadata.
pub fn safetensors(
    src: &Source,
    planned: &[Planned],
    opts: &ApplyOptions,
    notes: &mut Vec<String>,
) -> Result<Vec<u8>> {
    let by_tensor: HashMap<&str, &Planned> =
        planned.iter().map(|p| (p.tensor.as_str(), p)).collect();
    let mut names: Vec<(String, Vec<usize>)> = src.tensors();
    for p in planned {
        if !names.iter().any(|(n, _)| *n == p.tensor) {
            names.push((p.tensor.clone(), p.shape.clone()));
        }
    }
    let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, shape) in names {
        if let (None, Some((d, raw))) = (by_tensor.get(name.as_str()), src.st_raw(&name)) {
            owned.push((name, d, shape, raw.to_vec()));
            continue;
        }
        let from = by_tensor
            .get(name.as_str())
            .map_or(name.as_str(), |p| &p.from);
        let kind = src.kind(from).unwrap_or(TensorType::F32);
        let mut v = src.f32(from)?;
        let want = match kind {
            TensorType::Block(_) => TensorType::F32,
            k => k,
        };
        if let Some(p) = by_tensor.get(name.as_str()) {
            v = fake(p, &v)?;
        }
        let t = if representable(&v, want) {
            want
        } else {
            notes.push(format!(
                "tensor `{name}`: fake-quantized values are not all representable in {}; written as F32",
                want.name()
            ));
            TensorType::F32
        };
        let b = encode(&v, t).map_err(|m| Error::Internal(format!("{name}: {m}")))?;
        owned.push((name, st_dtype(t), shape, b));
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = owned
        .iter()
        .map(|(n, d, s, b)| {
            safetensors::tensor::TensorView::new(*d, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Internal(format!("{n}: {e}")))
        })
        .collect::<Result<_>>()?;
    let meta = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        (
            "evoquant.quant_config".to_string(),
            opts.config_text.clone(),
        ),
        (
            "evoquant.source".to_string(),
            src.path().display().to_string(),
        ),
    ]);
    safetensors::serialize(views, Some(meta)).map_err(|e| Error::Internal(e.to_string()))
}

/// llama.cpp's lower-case type name.
fn ll_name(t: TensorType) -> String {
    t.name().to_ascii_lowercase()
}

/// A shell script: the `--tensor-type NAME=TYPE` lines and the
/// llama-quantize command that reproduce the configuration.
pub fn llama_quantize(
    src: &Source,
    planned: &[Planned],
    opts: &ApplyOptions,
    notes: &mut Vec<String>,
) -> Result<Vec<u8>> {
    let base = mostly(planned).unwrap_or(TensorType::F32);
    let quantized_src = src
        .tensors()
        .iter()
        .any(|(n, _)| matches!(src.kind(n), Some(TensorType::Block(_))));
    let input = match src {
        Source::Gguf(g) => g.path.display().to_string(),
        Source::Safetensors { .. } => {
            notes.push("llama-quantize reads GGUF: convert the model with convert_hf_to_gguf.py --outtype f32 and pass that file as $1".into());
            "MODEL-f32.gguf".into()
        }
    };
    let mut args: Vec<String> = Vec::new();
    if quantized_src {
        args.push("--allow-requantize".into());
    }
    args.push("--pure".into());
    for p in planned {
        match p.layer.as_str() {
            "token_embd" => args.push(format!("--token-embedding-type {}", ll_name(p.target))),
            "output" => {
                if src.tied_head().is_some() {
                    notes.push("the source ties `output` to `token_embd`: llama-quantize cannot split them, so the head follows token_embd's type".into());
                }
                args.push(format!("--output-tensor-type {}", ll_name(p.target)));
            }
            _ => args.push(format!(
                "--tensor-type '{}={}'",
                regex_escape(&p.tensor),
                ll_name(p.target)
            )),
        }
    }
    let mut s = String::new();
    s.push_str("#!/bin/sh\n");
    s.push_str(&format!(
        "# evoquant apply --format llama-quantize: {} on {}\n",
        opts.config.source.display(),
        src.path().display()
    ));
    s.push_str("# Usage: sh THIS_FILE [INPUT.gguf] [OUTPUT.gguf]. Each --tensor-type NAME=TYPE is an anchored\n# regex on one tensor; --pure stops llama-quantize's own per-tensor mixing.\n");
    if planned.iter().any(|p| !p.exact) {
        s.push_str("# Some layers use their nearest ggml type (--nearest): not bit-exact.\n");
    }
    s.push_str("set -e\n");
    s.push_str(&format!(
        "llama-quantize \\\n  {} \\\n  \"${{1:-{}}}\" \"${{2:-out-{}.gguf}}\" {}\n",
        args.join(" \\\n  "),
        input,
        ll_name(base),
        ll_name(base)
    ));
    Ok(s.into_bytes())
}

/// `^name$` with regex metacharacters escaped.
fn regex_escape(name: &str) -> String {
    let mut o = String::from("^");
    for c in name.chars() {
        if "\\.^$|?*+()[]{}".contains(c) {
            o.push('\\');
        }
        o.push(c);
    }
    o.push('$');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_names_become_anchored_regexes() {
        assert_eq!(
            regex_escape("blk.10.attn_q.weight"),
            r"^blk\.10\.attn_q\.weight$"
        );
    }

    #[test]
    fn encodings_decode_back() {
        let v: Vec<f32> = (0..64).map(|i| i as f32 * 0.5 - 16.0).collect();
        for t in [TensorType::F32, TensorType::F16, TensorType::BF16] {
            let b = encode(&v, t).unwrap();
            assert_eq!(gguf::decode(t, &b, v.len()).unwrap(), v, "{t:?}");
        }
        assert!(representable(&v, TensorType::F16));
        assert!(!representable(&[0.1], TensorType::F16));
    }
}
