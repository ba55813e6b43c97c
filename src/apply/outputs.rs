//! The three outputs of `apply`, each returned as the file's bytes (the
//! caller writes them atomically).

use super::source::Source;
use super::{ApplyOptions, Planned, ggml};
use crate::error::{Error, Result};
use crate::models::gguf::{self, TensorType, Value};
use crate::quant::gguf_quantize;
use rayon::prelude::*;
use std::collections::HashMap;

fn layer_err(p: &Planned, m: impl std::fmt::Display) -> Error {
    Error::user(format!("layer `{}` ({}): {m}", p.layer, p.from))
}

/// `values` encoded as `t`.
pub(super) fn encode(values: &[f32], t: TensorType) -> std::result::Result<Vec<u8>, String> {
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

/// Values per chunk of the fused decode → encode pass (whole blocks).
const CHUNK: usize = 1 << 15;

/// `values` encoded as `t` into `out` (exactly its bytes).
fn encode_into(values: &[f32], t: TensorType, out: &mut [u8]) -> std::result::Result<(), String> {
    match t {
        TensorType::F32 => {
            for (b, x) in out.chunks_exact_mut(4).zip(values) {
                b.copy_from_slice(&x.to_le_bytes());
            }
        }
        TensorType::F16 => {
            for (b, &x) in out.chunks_exact_mut(2).zip(values) {
                b.copy_from_slice(&half::f16::from_f32(x).to_le_bytes());
            }
        }
        TensorType::BF16 => {
            for (b, &x) in out.chunks_exact_mut(2).zip(values) {
                b.copy_from_slice(&half::bf16::from_f32(x).to_le_bytes());
            }
        }
        TensorType::Block(f) => {
            crate::quant::gguf_quantize_into(values, f, out).map_err(|e| e.to_string())?
        }
    }
    Ok(())
}

/// Decode `b` (exactly `out.len()` values of type `t`) into `out`.
fn decode_into(b: &[u8], t: TensorType, out: &mut [f32]) -> std::result::Result<(), String> {
    if t.bytes(out.len() as u64) != Some(b.len() as u64) {
        return Err(format!(
            "{} bytes for {} {} values",
            b.len(),
            out.len(),
            t.name()
        ));
    }
    match t {
        TensorType::F32 => {
            for (o, c) in out.iter_mut().zip(b.chunks_exact(4)) {
                *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        TensorType::F16 => {
            for (o, c) in out.iter_mut().zip(b.chunks_exact(2)) {
                *o = half::f16::from_le_bytes([c[0], c[1]]).to_f32();
            }
        }
        TensorType::BF16 => {
            for (o, c) in out.iter_mut().zip(b.chunks_exact(2)) {
                *o = half::bf16::from_le_bytes([c[0], c[1]]).to_f32();
            }
        }
        TensorType::Block(f) => {
            crate::quant::gguf_dequantize_into(b, f, out).map_err(|e| e.to_string())?
        }
    }
    Ok(())
}

/// Re-encode a source tensor (`raw` of type `from`, `n` values) as `to` into
/// `dst`, chunk by chunk on all cores: no f32 copy of the tensor is made.
fn transcode(
    raw: &[u8],
    from: TensorType,
    n: usize,
    to: TensorType,
    dst: &mut [u8],
) -> std::result::Result<(), String> {
    let (sb, db) = (from.bytes(CHUNK as u64), to.bytes(CHUNK as u64));
    let (Some(sb), Some(db)) = (sb, db) else {
        return Err("chunk size".into());
    };
    let fast = raw
        .par_chunks(sb as usize)
        .zip(dst.par_chunks_mut(db as usize))
        .enumerate()
        .try_for_each_init(
            || vec![0f32; CHUNK],
            |buf, (i, (s, d))| {
                let m = CHUNK.min(n - i * CHUNK);
                decode_into(s, from, &mut buf[..m])?;
                encode_into(&buf[..m], to, d)
            },
        );
    if fast.is_err() {
        // Again on the whole tensor, so a message locates the block in it.
        let v = gguf::decode(from, raw, n)?;
        encode_into(&v, to, dst)?;
    }
    Ok(())
}

/// A GGUF v3 file from a GGUF source (a Hugging Face folder goes through
/// [`super::hf_gguf`]): the source's metadata and tensor order, each planned
/// tensor re-encoded from its f32 values, every other tensor's bytes as
/// stored; encoded straight into the output buffer.
pub fn gguf(src: &Source, planned: &[Planned], _opts: &ApplyOptions) -> Result<Vec<u8>> {
    let Source::Gguf(g) = src else {
        return Err(Error::user(format!(
            "{}: GGUF output from a .safetensors file needs its Hugging Face folder (config.json and tokenizer.json next to it); or use --format safetensors",
            src.path().display()
        )));
    };
    let by_tensor: HashMap<&str, &Planned> =
        planned.iter().map(|p| (p.tensor.as_str(), p)).collect();
    let mut items: Vec<Item> = Vec::new();
    for t in &g.tensors {
        match by_tensor.get(t.name.as_str()) {
            Some(p) => items.push((&t.name, t.shape(), p.target, target_len(p)?, Some(p))),
            None => items.push((&t.name, t.shape(), t.kind, t.len, None)),
        }
    }
    // A split tied head comes last, where llama.cpp's converter puts `output`.
    for p in planned {
        if g.tensor(&p.tensor).is_none() {
            items.push((
                &p.tensor,
                p.shape.clone(),
                p.target,
                target_len(p)?,
                Some(p),
            ));
        }
    }
    let mut metadata = g.metadata.clone();
    if let Some(ft) = mostly(planned) {
        match metadata.iter_mut().find(|(k, _)| k == "general.file_type") {
            Some((_, v)) => *v = Value::U32(ggml::file_type(ft)),
            None => metadata.push(("general.file_type".into(), Value::U32(ggml::file_type(ft)))),
        }
    }
    let infos: Vec<(&str, &[usize], TensorType, usize)> = items
        .iter()
        .map(|(n, s, k, len, _)| (*n, s.as_slice(), *k, *len))
        .collect();
    let (mut o, offsets) = gguf::header(&metadata, &infos, g.alignment);
    let base = o.len();
    let end = offsets
        .last()
        .zip(items.last())
        .map_or(0, |(off, it)| off + it.3);
    o.resize(base + end, 0);
    let mut slices: Vec<&mut [u8]> = Vec::with_capacity(items.len());
    let (mut rest, mut pos) = (&mut o[base..], 0);
    for (it, &off) in items.iter().zip(&offsets) {
        let (_, r) = std::mem::take(&mut rest).split_at_mut(off - pos);
        let (mine, r) = r.split_at_mut(it.3);
        slices.push(mine);
        rest = r;
        pos = off + it.3;
    }
    items
        .par_iter()
        .zip(slices)
        .try_for_each(|(it, dst)| match it.4 {
            None => {
                let t = g.tensor(it.0).expect("listed from the file");
                dst.copy_from_slice(g.raw(t));
                Ok(())
            }
            Some(p) => {
                let t = g.tensor(&p.from).expect("planned from the file");
                transcode(g.raw(t), t.kind, t.n_elements(), p.target, dst)
                    .map_err(|m| layer_err(p, m))
            }
        })?;
    Ok(o)
}

/// A tensor of the output: (name, shape, type, bytes, the plan that fills
/// it or `None` for the source bytes).
type Item<'a> = (&'a str, Vec<usize>, TensorType, usize, Option<&'a Planned>);

fn target_len(p: &Planned) -> Result<usize> {
    let n: usize = p.shape.iter().product();
    p.target.bytes(n as u64).map(|b| b as usize).ok_or_else(|| {
        layer_err(
            p,
            format!("{n} values are not whole {} blocks", p.target.name()),
        )
    })
}

/// The most common type of the block layers (ties: the first seen).
pub(super) fn mostly(planned: &[Planned]) -> Option<TensorType> {
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
    let mut out = vec![0.0; w.len()];
    p.gene
        .weights
        .fake_quantize(w, &[rows, cols], &mut out)
        .map_err(|e| layer_err(p, e))?;
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
                regex_escape(&converted_name(src, &p.tensor)),
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

/// The tensor's name in the GGUF llama-quantize reads: a Hugging Face
/// folder's tensors are named as convert_hf_to_gguf.py names them.
fn converted_name(src: &Source, tensor: &str) -> String {
    src.folder()
        .and_then(|f| f.family)
        .and_then(|fam| super::hf_gguf::gguf_name(fam, tensor).ok().flatten())
        .unwrap_or_else(|| tensor.to_string())
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
