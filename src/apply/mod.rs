//! `evoquant apply`: from a chosen configuration (a `quant_config.json` a
//! study exported, or a shorthand) to a file an inference engine loads.
//!
//! Why a separate step: a study measures fake-quantized weights in memory;
//! a deployment needs them stored. The GGUF output stores each weight in the
//! ggml type its gene maps to *exactly* ([`ggml`]), so llama.cpp-family
//! engines, and `evoquant eval` on the written file, see the very numbers
//! the study measured; a gene without an exact type is refused naming the
//! layer (or, with `--nearest`, written as the nearest type and said so).
//! The safetensors output stores the fake-quantized weights themselves, for
//! frameworks that quantize at load time; `llama-quantize` writes the
//! `--tensor-type` list that reproduces the configuration with llama.cpp's
//! own tool.
//!
//! Which tensors a configuration covers mirrors `evoquant eval`: a layer is
//! a weight matrix `NAME.weight` (2 or more dims), named `NAME`; its default
//! precision covers block layers (`blk.N.*`, `*.layer.N.*`, `*.layers.N.*`),
//! while embeddings, heads and poolers change only when named. A tensor the
//! configuration leaves at its float default keeps its source bytes.
//! A GGUF model whose head is tied to `token_embd` gets its own
//! `output.weight` when the configuration names `output`, as eval then
//! quantizes the head alone.
//!
//! A Hugging Face BERT or LLaMA folder becomes GGUF the way llama.cpp's
//! `convert_hf_to_gguf.py` writes it ([`hf_gguf`]); its layers keep eval's
//! names (LLaMA: `blk.N.*`, BERT: Hugging Face names without `bert.`).
//!
//! Every output is written to a temporary name and renamed into place
//! (`fsio::write_atomic_parts`): a refused configuration or a failure leaves
//! nothing behind. Like `quantize`'s, the file is not fsynced
//! (`Durability::ProcessCrash`): it is recomputed from the model in seconds,
//! and syncing a 100 MB file would cost more than building it.

pub mod ggml;
pub mod hf_gguf;
mod outputs;
mod source;

pub use ggml::{exact_ggml_type, ggml_deployable, nearest_weight_types};
pub use source::Source;

use crate::error::{Error, Result};
use crate::models::gguf::TensorType;
use crate::params::Choice;
use crate::quant::qconfig::QuantConfig;
use crate::quant::{ActQuant, LayerQuant, WeightQuant};
use std::path::{Path, PathBuf};

/// What `apply` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Gguf,
    Safetensors,
    LlamaQuantize,
}

impl Format {
    /// From `--format`, or from the output's extension.
    pub fn for_output(flag: Option<Format>, out: &Path) -> Result<Format> {
        if let Some(f) = flag {
            return Ok(f);
        }
        match out.extension().and_then(|e| e.to_str()) {
            Some("gguf") => Ok(Format::Gguf),
            Some("safetensors") => Ok(Format::Safetensors),
            Some("txt" | "sh") => Ok(Format::LlamaQuantize),
            _ => Err(Error::user(format!(
                "--out {}: say --format gguf, safetensors or llama-quantize (the extension does not tell)",
                out.display()
            ))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub config: QuantConfig,
    /// The configuration file's text (or the shorthand), kept in outputs.
    pub config_text: String,
    pub format: Format,
    pub out: PathBuf,
    /// Write genes without an exact ggml type as their nearest type.
    pub nearest: bool,
    /// Ignore activation precisions (no file format stores them).
    pub weights_only: bool,
}

/// One weight tensor the configuration covers.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The layer (config) name.
    pub layer: String,
    /// Tensor written.
    pub tensor: String,
    /// Tensor its values come from (differs only for a split tied head).
    pub from: String,
    pub shape: Vec<usize>,
    pub gene: LayerQuant,
    /// The ggml type for GGUF and llama-quantize outputs.
    pub target: TensorType,
    /// Whether `target` decodes to the gene's fake-quantized values.
    pub exact: bool,
}

/// What was written, for the summary line.
#[derive(Debug)]
pub struct Summary {
    pub planned: Vec<Planned>,
    pub notes: Vec<String>,
    /// Values of the covered weight tensors (f32 input) and output bytes.
    pub values: usize,
    pub bytes: usize,
}

/// Whether a layer's precision follows the configuration's default.
fn is_block_layer(name: &str) -> bool {
    name.starts_with("blk.") || name.contains(".layer.") || name.contains(".layers.")
}

/// The precision of each tensor the configuration covers; refusals name the layer.
pub fn plan(src: &Source, opts: &ApplyOptions) -> Result<(Vec<Planned>, Vec<String>)> {
    let cfg = &opts.config;
    let at = |layer: &str, m: String| {
        Error::user(format!(
            "{}: layer `{layer}`: {m} ({})",
            cfg.source.display(),
            src.path().display()
        ))
    };
    let layers = src.layers();
    let tied_head = src.tied_head();
    for (name, _) in &cfg.layers {
        if !layers.iter().any(|(l, _, _)| l == name) && tied_head.as_deref() != Some(name) {
            let sample: Vec<&str> = layers.iter().take(4).map(|(l, _, _)| l.as_str()).collect();
            return Err(at(
                name,
                format!(
                    "not a weight matrix of the model (its {} layers are named like {}, …)",
                    layers.len(),
                    sample.join(", ")
                ),
            ));
        }
    }
    let named = |n: &str| cfg.layers.iter().find(|(l, _)| l == n).map(|(_, q)| *q);
    let mut entries: Vec<(String, String, String, Vec<usize>, LayerQuant)> = Vec::new();
    for (layer, tensor, shape) in &layers {
        let gene = match named(layer) {
            Some(q) => q,
            None if is_block_layer(layer) && cfg.default != LayerQuant::FP32 => cfg.default,
            None => continue,
        };
        entries.push((
            layer.clone(),
            tensor.clone(),
            tensor.clone(),
            shape.clone(),
            gene,
        ));
    }
    if let (Some(head), Some(gene)) = (&tied_head, tied_head.as_deref().and_then(named)) {
        let (_, embd, shape) = layers
            .iter()
            .find(|(l, _, _)| l == "token_embd")
            .ok_or_else(|| Error::Internal("tied head without token_embd".into()))?;
        entries.push((
            head.clone(),
            format!("{head}.weight"),
            embd.clone(),
            shape.clone(),
            gene,
        ));
    }
    let mut notes = Vec::new();
    let mut planned = Vec::with_capacity(entries.len());
    let mut dropped_acts = 0;
    for (layer, tensor, from, shape, gene) in entries {
        if gene.activations != ActQuant::Fp32 {
            if !opts.weights_only {
                return Err(at(
                    &layer,
                    format!(
                        "activations at {:?}: no model file stores an activation precision (llama.cpp picks its own); pass --weights-only to write the weights alone",
                        gene.activations
                    ),
                ));
            }
            dropped_acts += 1;
        }
        let near = nearest_weight_types(&gene.weights);
        let (target, exact) = match ggml::exact_weight_type(&gene.weights) {
            Some(t) => (t, true),
            None if opts.format == Format::Safetensors => (TensorType::F32, true),
            None if opts.nearest => (near[0], false),
            None => {
                return Err(at(
                    &layer,
                    format!(
                        "weights {} have no exact ggml type (nearest: {}); use a `ggml` gene (docs/apply.md), pass --nearest to write the nearest type, or --format safetensors",
                        describe(&gene.weights),
                        ggml::type_list(&near)
                    ),
                ));
            }
        };
        let row = *shape.last().unwrap_or(&0);
        if matches!(target, TensorType::Block(_))
            && row % 32 != 0
            && opts.format != Format::Safetensors
        {
            return Err(at(
                &layer,
                format!(
                    "{} stores whole 32-value blocks along rows, but rows of {tensor} hold {row} values; give this layer f16 or f32",
                    target.name()
                ),
            ));
        }
        if !exact {
            notes.push(format!(
                "layer `{layer}`: {} written as the nearest ggml type {} (not bit-exact: the file's metrics differ from the configuration's)",
                describe(&gene.weights),
                target.name()
            ));
        }
        planned.push(Planned {
            layer,
            tensor,
            from,
            shape,
            gene,
            target,
            exact,
        });
    }
    if dropped_acts > 0 {
        notes.push(format!(
            "--weights-only: activation precisions of {dropped_acts} layer(s) are not in the file"
        ));
    }
    Ok((planned, notes))
}

/// ` 64` for granularities with groups, else nothing.
fn group_suffix(g: crate::quant::Granularity, size: usize) -> String {
    if matches!(
        g,
        crate::quant::Granularity::PerGroup | crate::quant::Granularity::Block
    ) {
        format!(" {size}")
    } else {
        String::new()
    }
}

/// A gene in words, for messages.
fn describe(w: &WeightQuant) -> String {
    match w {
        WeightQuant::Fp32 => "fp32".into(),
        WeightQuant::Fp16 => "fp16".into(),
        WeightQuant::Ggml(f) => format!("ggml {}", f.name()),
        WeightQuant::Fp8 { per_channel } => format!(
            "fp8_e4m3 {} (f32 scales)",
            if *per_channel {
                "per_channel"
            } else {
                "per_tensor"
            }
        ),
        WeightQuant::Extreme(x) => format!(
            "{} {}{} (f16 scales)",
            x.kind.name(),
            x.granularity.name(),
            group_suffix(x.granularity, x.group_size)
        ),
        WeightQuant::Int(s) => format!(
            "int{} {} {}{} {} ({} scales)",
            s.bits,
            s.scheme.name(),
            s.granularity.name(),
            group_suffix(s.granularity, s.group_size),
            s.calibration.name(),
            match s.scale_dtype {
                crate::quant::ScaleDtype::F16 => "f16",
                crate::quant::ScaleDtype::F32 => "f32",
            }
        ),
    }
}

/// Plan, encode and write `opts.out` atomically.
pub fn apply(src: &Source, opts: &ApplyOptions) -> Result<Summary> {
    if same_file(src.path(), &opts.out) {
        return Err(Error::user(format!(
            "--out {}: is the model itself; write somewhere else",
            opts.out.display()
        )));
    }
    let (planned, mut notes) = plan(src, opts)?;
    let values: usize = planned
        .iter()
        .map(|p| p.shape.iter().product::<usize>())
        .sum();
    let bytes = match opts.format {
        Format::Gguf => match src.folder() {
            Some(folder) => hf_gguf::gguf(src, folder, &planned, opts, &mut notes)?,
            None => outputs::gguf(src, &planned, opts)?,
        },
        Format::Safetensors => outputs::safetensors(src, &planned, opts, &mut notes)?,
        Format::LlamaQuantize => outputs::llama_quantize(src, &planned, opts, &mut notes)?,
    };
    let len = bytes.len();
    crate::fsio::write_atomic_parts(&opts.out, &[&bytes], crate::fsio::Durability::ProcessCrash)?;
    Ok(Summary {
        planned,
        notes,
        values,
        bytes: len,
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
