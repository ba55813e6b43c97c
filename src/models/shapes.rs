//! Real-shape inventories: one entry per weight matrix or convolution with
//! its true shape, parameter count and per-inference MACs and activations,
//! for the hardware cost model of the mixed-precision study.
//!
//! The bit-allocation families (`synthetic.rs`) group each block's matrices
//! into one entry, which is right for a storage-only accuracy/compression
//! model but hides what a roofline needs (a 4096×11008 GEMV and a 4096×4096
//! one differ in MACs, in traffic, and in which scales they need). These
//! inventories list every matrix separately:
//!
//! - LLaMA-7B-like: 32 blocks × (q, k, v, o: 4096×4096; gate, up: 11008×4096;
//!   down: 4096×11008), token embedding and LM head 32000×4096; 6,738,415,616
//!   parameters with the 65 RMSNorm vectors (Touvron et al. 2023, Table 2:
//!   dim 4096, 32 layers, 32 heads; FFN 11008 in the released config).
//! - GPT-2-medium-like: 24 blocks × (c_attn 3072×1024, attn c_proj 1024×1024,
//!   c_fc 4096×1024, mlp c_proj 1024×4096), wpe 1024×1024, wte 50257×1024 tied
//!   with the LM head (stored once, used as a GEMM at the head); 354,823,168
//!   parameters with biases and LayerNorms (Radford et al. 2019; HF config).
//! - ResNet-50-like: the 53 convolutions of ResNet-50 v1.5 (stride on the 3×3)
//!   and the 2048×1000 classifier at 224×224 input; 25,557,032 parameters
//!   counting each BatchNorm's weight and bias (He et al. 2016; torchvision).
//!
//! MACs count the weight GEMMs/convolutions only (not attention scores,
//! softmax, norms or pooling). Transformer figures are for `tokens` tokens
//! processed per inference (1 = one decode step without KV-cache traffic).
//! Norms and biases are not quantized; they are carried as `fixed_params`
//! and stored in FP16 by the study. Sensitivity curves are the same labelled
//! model as the bit-allocation families (`synthetic::synth_layer`), seeded.

use super::layer::{LayerInfo, LayerType};
use super::synthetic::{Family, synth_layer};
use crate::hw::LayerShape;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// One quantizable layer: its sensitivity-model record and its shape.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapedLayer {
    pub info: LayerInfo,
    pub shape: LayerShape,
}

/// A model as quantizable layers plus parameters that stay in float.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapedInventory {
    pub name: String,
    pub family: String,
    pub layers: Vec<ShapedLayer>,
    /// Norm and bias parameters, not quantized.
    pub fixed_params: u64,
}

impl ShapedInventory {
    pub fn quantizable_params(&self) -> u64 {
        self.layers.iter().map(|l| l.shape.weights).sum()
    }

    pub fn total_params(&self) -> u64 {
        self.quantizable_params() + self.fixed_params
    }

    pub fn total_macs(&self) -> u64 {
        self.layers.iter().map(|l| l.shape.macs).sum()
    }
}

/// (name, type, rows, cols, MACs, weights read, act in, act out)
type Raw = (String, LayerType, u64, u64, u64, u64, u64, u64);

fn raw(name: String, ty: LayerType, s: LayerShape) -> Raw {
    (
        name,
        ty,
        s.rows,
        s.cols,
        s.macs,
        s.weight_reads,
        s.act_in,
        s.act_out,
    )
}

fn gemm(name: String, ty: LayerType, rows: u64, cols: u64, tokens: u64) -> Raw {
    raw(name, ty, LayerShape::gemm(rows, cols, tokens))
}

fn lookup(name: String, rows: u64, cols: u64, tokens: u64) -> Raw {
    raw(
        name,
        LayerType::Embedding,
        LayerShape::lookup(rows, cols, tokens),
    )
}

impl Family {
    /// The real-shape inventory of this family, with `tokens` tokens per
    /// inference for the transformers (ignored by ResNet-50: one image).
    pub fn shaped(self, seed: u64, tokens: u64) -> ShapedInventory {
        let tokens = tokens.max(1);
        let (raw, fixed) = match self {
            Family::Llama7bLike => llama7b(tokens),
            Family::Gpt2MediumLike => gpt2_medium(tokens),
            Family::Resnet50Like => resnet50(),
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let n = raw.len();
        let layers = raw
            .into_iter()
            .enumerate()
            .map(
                |(index, (name, ty, rows, cols, macs, reads, act_in, act_out))| {
                    let pos = if n > 1 {
                        index as f64 / (n - 1) as f64
                    } else {
                        0.0
                    };
                    let info = synth_layer(name, ty, index, pos, rows * cols, &mut rng);
                    ShapedLayer {
                        info,
                        shape: LayerShape {
                            weights: rows * cols,
                            rows,
                            cols,
                            macs,
                            weight_reads: reads,
                            act_in,
                            act_out,
                        },
                    }
                },
            )
            .collect();
        ShapedInventory {
            name: self.label().to_string(),
            family: self.label().to_string(),
            layers,
            fixed_params: fixed,
        }
    }
}

fn llama7b(tokens: u64) -> (Vec<Raw>, u64) {
    let (d, ffn, vocab, blocks) = (4096u64, 11008u64, 32000u64, 32);
    let mut out = vec![lookup("embed_tokens".into(), vocab, d, tokens)];
    for b in 0..blocks {
        for m in ["q_proj", "k_proj", "v_proj", "o_proj"] {
            out.push(gemm(
                format!("layers.{b}.self_attn.{m}"),
                LayerType::Attention,
                d,
                d,
                tokens,
            ));
        }
        for m in ["gate_proj", "up_proj"] {
            out.push(gemm(
                format!("layers.{b}.mlp.{m}"),
                LayerType::Linear,
                ffn,
                d,
                tokens,
            ));
        }
        out.push(gemm(
            format!("layers.{b}.mlp.down_proj"),
            LayerType::Linear,
            d,
            ffn,
            tokens,
        ));
    }
    out.push(gemm(
        "lm_head".into(),
        LayerType::Classifier,
        vocab,
        d,
        tokens,
    ));
    // Two RMSNorm weight vectors per block plus the final norm.
    (out, (2 * blocks + 1) * d)
}

fn gpt2_medium(tokens: u64) -> (Vec<Raw>, u64) {
    let (d, vocab, ctx, blocks) = (1024u64, 50257u64, 1024u64, 24u64);
    let mut out = vec![lookup("wpe".into(), ctx, d, tokens)];
    for b in 0..blocks {
        out.push(gemm(
            format!("h.{b}.attn.c_attn"),
            LayerType::Attention,
            3 * d,
            d,
            tokens,
        ));
        out.push(gemm(
            format!("h.{b}.attn.c_proj"),
            LayerType::Attention,
            d,
            d,
            tokens,
        ));
        out.push(gemm(
            format!("h.{b}.mlp.c_fc"),
            LayerType::Linear,
            4 * d,
            d,
            tokens,
        ));
        out.push(gemm(
            format!("h.{b}.mlp.c_proj"),
            LayerType::Linear,
            d,
            4 * d,
            tokens,
        ));
    }
    // The token embedding is tied with the head: stored once, costed as the
    // head GEMM (its lookup reads a negligible d values per token).
    out.push(gemm(
        "wte (tied lm_head)".into(),
        LayerType::Classifier,
        vocab,
        d,
        tokens,
    ));
    // Biases (3d + d + 4d + d per block), two LayerNorms per block and the
    // final one (weight and bias each).
    let fixed = blocks * (9 * d) + (2 * blocks + 1) * 2 * d;
    (out, fixed)
}

fn resnet50() -> (Vec<Raw>, u64) {
    let mut out = Vec::new();
    let mut bn = 0u64;
    let conv = |out: &mut Vec<Raw>,
                bn: &mut u64,
                name: String,
                cin: u64,
                cout: u64,
                k: u64,
                hw_in: u64,
                hw_out: u64| {
        let cols = cin * k * k;
        out.push((
            name,
            LayerType::Conv,
            cout,
            cols,
            cout * cols * hw_out * hw_out,
            cout * cols,
            cin * hw_in * hw_in,
            cout * hw_out * hw_out,
        ));
        *bn += 2 * cout;
    };
    conv(&mut out, &mut bn, "conv1".into(), 3, 64, 7, 224, 112);
    let mut cin = 64u64;
    let mut hw = 56u64; // after the 3×3 stride-2 max pool
    for (stage, (blocks, width)) in [(3u64, 64u64), (4, 128), (6, 256), (3, 512)]
        .into_iter()
        .enumerate()
    {
        let cout = 4 * width;
        let stride = if stage == 0 { 1 } else { 2 };
        for b in 0..blocks {
            let s = if b == 0 { stride } else { 1 };
            let hw_out = hw / s;
            let p = format!("layer{}.{b}", stage + 1);
            conv(
                &mut out,
                &mut bn,
                format!("{p}.conv1"),
                cin,
                width,
                1,
                hw,
                hw,
            );
            conv(
                &mut out,
                &mut bn,
                format!("{p}.conv2"),
                width,
                width,
                3,
                hw,
                hw_out,
            );
            conv(
                &mut out,
                &mut bn,
                format!("{p}.conv3"),
                width,
                cout,
                1,
                hw_out,
                hw_out,
            );
            if b == 0 {
                conv(
                    &mut out,
                    &mut bn,
                    format!("{p}.downsample"),
                    cin,
                    cout,
                    1,
                    hw,
                    hw_out,
                );
            }
            cin = cout;
            hw = hw_out;
        }
    }
    out.push(gemm("fc".into(), LayerType::Classifier, 1000, 2048, 1));
    (out, bn + 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_are_the_real_ones() {
        let llama = Family::Llama7bLike.shaped(1, 1);
        assert_eq!(llama.layers.len(), 32 * 7 + 2);
        assert_eq!(llama.total_params(), 6_738_415_616);
        let gpt2 = Family::Gpt2MediumLike.shaped(1, 1);
        assert_eq!(gpt2.layers.len(), 24 * 4 + 2);
        assert_eq!(gpt2.total_params(), 354_823_168);
        let resnet = Family::Resnet50Like.shaped(1, 1);
        assert_eq!(resnet.layers.len(), 54);
        assert_eq!(resnet.total_params(), 25_557_032);
    }

    #[test]
    fn macs_match_published_figures() {
        // ResNet-50 at 224×224: ≈ 4.1 GMACs (torchvision reports 4.09 GFLOPS
        // counted as MACs).
        let r = Family::Resnet50Like.shaped(1, 1).total_macs() as f64;
        assert!((4.0e9..4.2e9).contains(&r), "{r}");
        // A decoder token costs ≈ one MAC per non-embedding weight.
        let l = Family::Llama7bLike.shaped(1, 1);
        let expect = l.quantizable_params() - 32000 * 4096;
        assert_eq!(l.total_macs(), expect);
    }

    #[test]
    fn sensitivities_are_seeded_and_layer_names_unique() {
        let a = Family::Gpt2MediumLike.shaped(7, 1);
        assert_eq!(a, Family::Gpt2MediumLike.shaped(7, 1));
        assert_ne!(a, Family::Gpt2MediumLike.shaped(8, 1));
        let mut names: Vec<&str> = a.layers.iter().map(|l| l.info.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), a.layers.len());
    }
}
