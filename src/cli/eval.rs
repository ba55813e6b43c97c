//! Flags of `evoquant eval`, turned into `models::transformer::EvalOptions`;
//! clap types stop here. Prints every metric computed, and with
//! `--dump-outputs` writes tokens.json and outputs.npy atomically.

use crate::error::{Error, Result, exit};
use crate::models::transformer::{self, EvalOptions, ModelKind};
use crate::quant::qconfig::{self, QuantConfig};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A GGUF file (LLaMA decoder), a Hugging Face folder (BERT encoder or
    /// LLaMA decoder), `models/<name>` of scripts/fetch-models.sh, or
    /// `org/name` in the Hugging Face cache.
    pub model: String,
    /// quant_config.json (schema evoquant.quant_config/1) or a uniform spec:
    /// fp32, fp16, wN (N-bit symmetric per-channel weights) or wNaM (plus M-bit
    /// per-tensor activations). Default: fp32 (the model as loaded).
    #[arg(long)]
    pub config: Option<String>,
    /// Evaluation texts, one per line (default: the built-in eval corpus).
    #[arg(long)]
    pub text: Option<PathBuf>,
    /// Calibration texts for activation ranges, one per line (default: built-in).
    #[arg(long)]
    pub calib: Option<PathBuf>,
    /// Evaluate only the first N texts (and calibrate on at most N).
    #[arg(long)]
    pub max_texts: Option<usize>,
    /// Tokens per text at most.
    #[arg(long, default_value_t = 128)]
    pub max_seq_len: usize,
    /// Write tokens.json and outputs.npy (quantized outputs: sentence
    /// embeddings for an encoder, last-position logits for a decoder) into this folder.
    #[arg(long)]
    pub dump_outputs: Option<PathBuf>,
    /// Worker threads (results do not depend on it).
    #[arg(long)]
    pub jobs: Option<usize>,
}

fn read_lines(path: &PathBuf) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(path, e))?;
    let l = transformer::lines(&text);
    if l.is_empty() {
        return Err(Error::user(format!(
            "{}: no texts (one per line)",
            path.display()
        )));
    }
    Ok(l)
}

pub fn eval(args: &EvalArgs) -> Result<i32> {
    let kind = transformer::resolve(&args.model)?;
    let config = match &args.config {
        Some(c) => qconfig::load(c)?,
        None => QuantConfig::reference(),
    };
    let mut texts = match &args.text {
        Some(p) => read_lines(p)?,
        None => transformer::lines(transformer::EVAL_TEXT),
    };
    let mut calib = match &args.calib {
        Some(p) => read_lines(p)?,
        None => transformer::lines(transformer::CALIB_TEXT),
    };
    if let Some(n) = args.max_texts {
        texts.truncate(n);
        calib.truncate(n);
    }
    if args.max_seq_len < 2 {
        return Err(Error::user("--max-seq-len must be at least 2"));
    }
    let opts = EvalOptions {
        texts,
        calib,
        max_seq_len: args.max_seq_len,
        jobs: args.jobs.unwrap_or_else(super::default_jobs),
        config,
    };
    let dir = match kind {
        ModelKind::BertFolder(p) | ModelKind::BertGguf(p) => p,
        ModelKind::Gguf(p) => return eval_decoder(&p, true, &opts, args),
        ModelKind::LlamaFolder(p) => return eval_decoder(&p, false, &opts, args),
    };
    let r = transformer::eval_encoder(&dir, &opts)?;
    println!(
        "model: {} (BERT encoder; reference = the f32 weights as stored)",
        r.model.display()
    );
    println!("config: {}", opts.config.source.display());
    println!(
        "texts: {} ({} tokens, at most {} per text)",
        r.n_texts, r.n_tokens, args.max_seq_len
    );
    println!(
        "cosine to reference: mean {:.6}, min {:.6}",
        r.mean_cosine, r.min_cosine
    );
    println!("nearest-neighbour agreement: {:.4}", r.nn_agreement);
    println!(
        "linear weights: {} values, {} bytes, {:.3} bits/weight (codes + scales + zero points)",
        r.linear_weights,
        r.linear_weight_bytes,
        r.bits_per_weight()
    );
    println!(
        "model bytes: {} ({} other parameters in f32)",
        r.total_bytes(),
        r.other_params
    );
    println!(
        "quantized forward: {:.3} s, {:.0} tokens/s",
        r.quantized_seconds,
        r.n_tokens as f64 / r.quantized_seconds
    );
    if let Some(dir) = &args.dump_outputs {
        dump(dir, &r.tokens, &r.embeddings)?;
    }
    Ok(exit::OK)
}

/// tokens.json and outputs.npy `[n_texts, width]` (f32), each written atomically.
fn dump(dir: &std::path::Path, tokens: &[Vec<u32>], rows: &[Vec<f32>]) -> Result<()> {
    crate::fsio::create_dir_durable(dir)?;
    let tj = serde_json::to_vec(tokens).map_err(|e| Error::Internal(e.to_string()))?;
    let h = rows.first().map_or(0, Vec::len);
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    crate::fsio::write_atomic(&dir.join("tokens.json"), &tj)?;
    crate::fsio::write_atomic(
        &dir.join("outputs.npy"),
        &crate::quant::npy::encode_npy(&[rows.len(), h], &flat),
    )?;
    println!("wrote {}/tokens.json and outputs.npy", dir.display());
    Ok(())
}

fn eval_decoder(
    path: &std::path::Path,
    gguf: bool,
    opts: &EvalOptions,
    args: &EvalArgs,
) -> Result<i32> {
    use transformer::decoder;
    let (model, tok) = decoder::load(path, gguf)?;
    let r = decoder::eval_decoder(&model, &tok, opts)?;
    let c = &model.config;
    let reference = if gguf {
        "reference = the tensors as stored, dequantized to f32"
    } else {
        "reference = the f32 weights as stored"
    };
    println!(
        "model: {} (LLaMA decoder from {}: {} blocks, hidden {}, {} heads / {} kv heads, vocab {}; {reference})",
        r.model.display(),
        if gguf {
            "GGUF"
        } else {
            "a Hugging Face folder"
        },
        c.n_layers,
        c.hidden,
        c.n_heads,
        c.n_kv_heads,
        c.vocab
    );
    if let Some((kinds, bits)) = &r.stored_linears {
        println!("stored in the file: block linear weights {kinds}, {bits:.3} bits/weight");
    }
    println!("config: {}", opts.config.source.display());
    println!(
        "texts: {} ({} tokens, {} predicted positions, at most {} tokens per text)",
        r.n_texts, r.n_tokens, r.n_positions, args.max_seq_len
    );
    println!(
        "perplexity: {:.4} (reference {:.4})",
        r.perplexity, r.ref_perplexity
    );
    println!(
        "KL(reference||config): mean {:.6}, p99 {:.6}, max {:.6}",
        r.mean_kl, r.p99_kl, r.max_kl
    );
    println!("top-1 agreement: {:.4}", r.top1_agreement);
    println!(
        "linear weights: {} values, {} bytes, {:.3} bits/weight (block linears; codes + scales + zero points)",
        r.linear_weights,
        r.linear_weight_bytes,
        r.bits_per_weight()
    );
    println!(
        "embedding: {} values, {} bytes; head: {}",
        r.embedding_values,
        r.embedding_bytes,
        if r.head_bytes == 0 {
            "tied to the embedding".to_string()
        } else {
            format!("{} bytes", r.head_bytes)
        }
    );
    println!(
        "model bytes: {} ({} norm parameters in f32)",
        r.total_bytes(),
        r.norm_params
    );
    println!(
        "forward: {:.3} s for {} pass(es) per text, {:.0} tokens/s on {} thread(s)",
        r.seconds,
        r.forwards_per_text,
        (r.n_tokens * r.forwards_per_text) as f64 / r.seconds,
        opts.jobs
    );
    if let Some(dir) = &args.dump_outputs {
        dump(dir, &r.tokens, &r.last_logits)?;
    }
    Ok(exit::OK)
}
