//! Flags of `evoquant apply`, turned into `apply::ApplyOptions`; clap types
//! stop here. Prints what was written and how fast.

use crate::apply::{self, ApplyOptions, Format, Source};
use crate::error::{Result, exit};
use crate::quant::qconfig;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// GGUF v3, each weight in the ggml type its gene maps to exactly.
    Gguf,
    /// The model with fake-quantized weights, configuration in the header.
    Safetensors,
    /// A shell script: llama-quantize with one --tensor-type per layer.
    LlamaQuantize,
}

/// Write a model quantized as a configuration says (GGUF, safetensors, or a llama-quantize command).
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// A GGUF file, a .safetensors file or a Hugging Face folder (model.safetensors),
    /// or `models/<name>` of scripts/fetch-models.sh.
    pub model: String,
    /// quant_config.json (schema evoquant.quant_config/1) or a uniform spec
    /// (q4_0, q4_1, q8_0, fp16, fp32; wN only with --nearest or safetensors).
    #[arg(long)]
    pub config: String,
    /// Output file (written atomically: nothing is left if apply fails).
    #[arg(long)]
    pub out: PathBuf,
    /// Default: from --out's extension (.gguf, .safetensors, .sh/.txt).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Write genes without an exact ggml type as the nearest type (not bit-exact; listed).
    #[arg(long)]
    pub nearest: bool,
    /// Ignore the configuration's activation precisions (no file stores them).
    #[arg(long)]
    pub weights_only: bool,
}

pub fn apply(args: &ApplyArgs) -> Result<i32> {
    let t0 = std::time::Instant::now();
    let config = qconfig::load(&args.config)?;
    let config_text = if qconfig::parse_uniform(&args.config).is_some() {
        args.config.clone()
    } else {
        std::fs::read_to_string(&args.config)
            .map_err(|e| crate::error::Error::input(std::path::Path::new(&args.config), e))?
    };
    let format = Format::for_output(
        args.format.map(|f| match f {
            FormatArg::Gguf => Format::Gguf,
            FormatArg::Safetensors => Format::Safetensors,
            FormatArg::LlamaQuantize => Format::LlamaQuantize,
        }),
        &args.out,
    )?;
    let src = Source::open(&args.model)?;
    let opts = ApplyOptions {
        config,
        config_text,
        format,
        out: args.out.clone(),
        nearest: args.nearest,
        weights_only: args.weights_only,
    };
    let s = apply::apply(&src, &opts)?;
    let secs = t0.elapsed().as_secs_f64();
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for p in &s.planned {
        let k = p.target.name().to_string();
        match kinds.iter_mut().find(|(n, _)| *n == k) {
            Some((_, c)) => *c += 1,
            None => kinds.push((k, 1)),
        }
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, c)| format!("{c} {k}")).collect();
    println!(
        "wrote {} ({} bytes): {} configured tensors ({}), the rest as stored",
        args.out.display(),
        s.bytes,
        s.planned.len(),
        if kinds.is_empty() {
            "none".to_string()
        } else {
            kinds.join(", ")
        }
    );
    for n in &s.notes {
        println!("note: {n}");
    }
    println!(
        "{} weight values ({:.3} GB as f32) in {:.3} s: {:.2} GB/s",
        s.values,
        4.0 * s.values as f64 / 1e9,
        secs,
        4.0 * s.values as f64 / 1e9 / secs
    );
    Ok(exit::OK)
}
