//! Synthetic layer inventories for three model families, from fixed seeds.
//!
//! Parameter counts follow the real architectures (LLaMA-7B blocks, GPT-2
//! medium blocks, ResNet-50 bottleneck stages), grouped into one entry per
//! block component so the layer counts match the bit-allocation document
//! (131, 99, 27). Sensitivities are a *model*, not measurements: each layer
//! gets a loss at INT8 (`s8`, layer-type dependent, log-normal spread, larger
//! near the first and last layers) and a per-bit growth factor `r`, and
//!
//! ```text
//! x(b)   = s8 · r^(8 − b)        integer formats, b = 2, 3, 4, 6, 8
//! x(FP16) = s8 · r^(−3)           FP16's 11-bit significand ≈ an 11-bit grid
//! loss   = 1 − exp(−x)            saturates below 1 at very low bits
//! ```
//!
//! so loss falls monotonically with bits and curves differ in scale and slope.
//! Quantization noise power falls 4× per bit; accuracy loss of real models
//! falls more slowly than noise power at high bits, hence `r` between 2 and 3.
//! The gradient sensitivity is a noisy, clamped monotone function of the
//! layer's INT4 loss, the way a Hessian-trace estimate correlates with, but
//! does not equal, the measured loss. Whether the document's observations
//! (edges and LayerNorm matter, 0.001 FP16 threshold) hold on this data is
//! therefore something the study measures, not something built in.

use super::layer::{Inventory, LayerInfo, LayerType, SensitivityCurve};
use super::precision::Precision;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The three built-in splits of the bit-allocation study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    pub const fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }

    /// The fixed generator seed of each split (from the document).
    pub const fn seed(self) -> u64 {
        match self {
            Split::Train => 42,
            Split::Valid => 123,
            Split::Test => 456,
        }
    }

    pub const fn family(self) -> Family {
        match self {
            Split::Train => Family::Llama7bLike,
            Split::Valid => Family::Gpt2MediumLike,
            Split::Test => Family::Resnet50Like,
        }
    }

    /// The built-in inventory of this split.
    pub fn builtin(self) -> Inventory {
        self.family().generate(self.name(), self.seed())
    }
}

/// A synthetic model family.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// 32 decoder blocks, d = 4096, FFN 11008, vocabulary 32000: 131 layers.
    Llama7bLike,
    /// 24 decoder blocks, d = 1024, FFN 4096, vocabulary 50257: 99 layers.
    Gpt2MediumLike,
    /// ResNet-50 bottleneck stages [3, 4, 6, 3], 1000 classes: 27 layers.
    Resnet50Like,
}

crate::choice!(Family {
    Llama7bLike => "llama7b_like",
    Gpt2MediumLike => "gpt2_medium_like",
    Resnet50Like => "resnet50_like",
});

impl Family {
    pub const fn label(self) -> &'static str {
        match self {
            Family::Llama7bLike => "LLaMA-7B-like",
            Family::Gpt2MediumLike => "GPT-2-medium-like",
            Family::Resnet50Like => "ResNet-50-like",
        }
    }

    /// Layer names, types and parameter counts of the architecture.
    pub fn skeleton(self) -> Vec<(String, LayerType, u64)> {
        match self {
            Family::Llama7bLike => transformer(Decoder {
                blocks: 32,
                d: 4096,
                ffn: 11008,
                vocab: 32000,
                mlp_mats: 3,
                norm_params: 4096,
                positions: 0,
                bias: false,
                tied_head: false,
            }),
            Family::Gpt2MediumLike => transformer(Decoder {
                blocks: 24,
                d: 1024,
                ffn: 4096,
                vocab: 50257,
                mlp_mats: 2,
                norm_params: 2048,
                positions: 1024,
                bias: true,
                tied_head: true,
            }),
            Family::Resnet50Like => resnet50(),
        }
    }

    /// Generate the inventory with the given seed.
    pub fn generate(self, name: &str, seed: u64) -> Inventory {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let skeleton = self.skeleton();
        let n = skeleton.len();
        let layers = skeleton
            .into_iter()
            .enumerate()
            .map(|(index, (name, ty, params))| {
                let pos = if n > 1 {
                    index as f64 / (n - 1) as f64
                } else {
                    0.0
                };
                synth_layer(name, ty, index, pos, params, &mut rng)
            })
            .collect();
        Inventory {
            name: name.to_string(),
            family: self.label().to_string(),
            layers,
        }
    }
}

/// The GPT-2 / LLaMA architectural choices the parameter count depends on.
#[derive(Clone, Copy)]
struct Decoder {
    blocks: usize,
    d: u64,
    ffn: u64,
    vocab: u64,
    /// Matrices in the MLP (2 for GPT-2, 3 for LLaMA's gated SiLU).
    mlp_mats: u64,
    /// Parameters of one norm (LayerNorm: weight and bias, 2d; RMSNorm: d).
    norm_params: u64,
    /// Learned position embeddings (GPT-2: 1024; LLaMA: none, rotary).
    positions: u64,
    /// Linear layers carry biases (GPT-2 does, LLaMA does not).
    bias: bool,
    /// The LM head is the token embedding (GPT-2 ties them): one tensor,
    /// one layer, counted once.
    tied_head: bool,
}

/// Decoder-only transformer: token embedding, position embedding (if any),
/// per block (attention norm, attention q/k/v/o, MLP norm, MLP with
/// `mlp_mats` matrices), final norm, and an LM head unless it is tied to the
/// token embedding. A tied head is no layer of its own: the one tensor is
/// both the first and the last matrix, so it is typed `Classifier` (the more
/// sensitive of its two roles) and its parameters are counted once, as in
/// the published GPT-2 count (354,823,168 for GPT-2 medium).
fn transformer(a: Decoder) -> Vec<(String, LayerType, u64)> {
    let Decoder { d, ffn, vocab, .. } = a;
    let bias = u64::from(a.bias);
    let mut out = Vec::new();
    if a.tied_head {
        out.push((
            "embed_tokens_tied_lm_head".to_string(),
            LayerType::Classifier,
            vocab * d,
        ));
    } else {
        out.push(("embed_tokens".to_string(), LayerType::Embedding, vocab * d));
    }
    if a.positions > 0 {
        out.push((
            "embed_positions".to_string(),
            LayerType::Embedding,
            a.positions * d,
        ));
    }
    // Attention: q, k, v and o, each d × d (+ d biases); MLP: up (and gate)
    // d × ffn (+ ffn biases each), down ffn × d (+ d biases).
    let attn = 4 * d * d + bias * 4 * d;
    let mlp = a.mlp_mats * d * ffn + bias * ((a.mlp_mats - 1) * ffn + d);
    for b in 0..a.blocks {
        out.push((
            format!("block{b}.attn_norm"),
            LayerType::LayerNorm,
            a.norm_params,
        ));
        out.push((format!("block{b}.attn"), LayerType::Attention, attn));
        out.push((
            format!("block{b}.mlp_norm"),
            LayerType::LayerNorm,
            a.norm_params,
        ));
        out.push((format!("block{b}.mlp"), LayerType::Linear, mlp));
    }
    out.push((
        "final_norm".to_string(),
        LayerType::LayerNorm,
        a.norm_params,
    ));
    if !a.tied_head {
        out.push(("lm_head".to_string(), LayerType::Classifier, vocab * d));
    }
    out
}

/// ResNet-50: stem conv + norm, 16 bottleneck blocks (1×1, 3×3, 1×1 convs
/// as one entry), a projection shortcut and a norm per stage, the classifier.
/// Convolutions have no biases (each is followed by a BatchNorm); a stage's
/// norm entry holds every BatchNorm of the stage (weight and bias, 2 per
/// channel: three per block over width, width, 4·width channels, and the
/// shortcut's over 4·width), so the total is torchvision's 25,557,032.
fn resnet50() -> Vec<(String, LayerType, u64)> {
    let mut out = vec![
        ("stem.conv".to_string(), LayerType::Conv, 7 * 7 * 3 * 64),
        ("stem.norm".to_string(), LayerType::LayerNorm, 2 * 64),
    ];
    let mut channels_in = 64u64;
    for (stage, (blocks, width)) in [(3u64, 64u64), (4, 128), (6, 256), (3, 512)]
        .into_iter()
        .enumerate()
    {
        let out_ch = 4 * width;
        out.push((
            format!("stage{}.downsample", stage + 1),
            LayerType::Conv,
            channels_in * out_ch,
        ));
        for b in 0..blocks {
            let cin = if b == 0 { channels_in } else { out_ch };
            let params = cin * width + 9 * width * width + width * out_ch;
            out.push((
                format!("stage{}.block{b}", stage + 1),
                LayerType::Conv,
                params,
            ));
        }
        out.push((
            format!("stage{}.norm", stage + 1),
            LayerType::LayerNorm,
            blocks * 2 * (width + width + out_ch) + 2 * out_ch,
        ));
        channels_in = out_ch;
    }
    out.push(("fc".to_string(), LayerType::Classifier, 2048 * 1000 + 1000));
    out
}

/// Type-dependent model constants: INT8 loss scale, per-bit growth, weight
/// std and activation range. Illustrative magnitudes, chosen so that INT8 is
/// nearly free per layer and INT2 is ruinous, as PTQ studies report; not
/// measurements.
fn type_constants(ty: LayerType) -> (f64, f64, f64, f64) {
    match ty {
        LayerType::Embedding => (1.5e-4, 2.4, 0.010, 4.0),
        LayerType::Conv => (1.0e-4, 2.6, 0.050, 6.0),
        LayerType::Linear => (1.0e-4, 2.5, 0.020, 8.0),
        LayerType::Attention => (1.5e-4, 2.7, 0.020, 20.0),
        LayerType::LayerNorm => (4.0e-4, 3.0, 0.100, 60.0),
        LayerType::Classifier => (4.0e-4, 2.8, 0.020, 15.0),
    }
}

pub(crate) fn synth_layer(
    name: String,
    ty: LayerType,
    index: usize,
    pos: f64,
    params: u64,
    rng: &mut Xoshiro256PlusPlus,
) -> LayerInfo {
    let (s8_type, r_type, std_type, range_type) = type_constants(ty);
    let z: f64 = StandardNormal.sample(rng);
    // First and last layers see raw inputs / produce logits: up to 3× more sensitive.
    let edge = 1.0 + 2.0 * (-pos / 0.05).exp() + 2.0 * (-(1.0 - pos) / 0.05).exp();
    let s8 = s8_type * (0.6 * z).exp() * edge;
    let r = r_type + rng.random_range(-0.25..0.25);
    let mut losses = [0.0; 7];
    for p in Precision::ALL {
        let x = match p {
            Precision::Fp32 => 0.0,
            Precision::Fp16 => s8 * r.powi(-3),
            int => s8 * r.powi(8 - int.bits() as i32),
        };
        losses[p.index()] = -(-x).exp_m1();
    }
    let noise: f64 = StandardNormal.sample(rng);
    let x4 = losses[Precision::Int4.index()];
    let gradient_sensitivity = ((x4.log10() + 4.0) / 3.0 + 0.08 * noise).clamp(0.0, 1.0);
    let weight_std = std_type * rng.random_range(0.7..1.3);
    let activation_range = range_type * rng.random_range(0.5..2.0) * edge;
    LayerInfo {
        name,
        layer_type: ty,
        index,
        relative_position: pos,
        params,
        sensitivity: SensitivityCurve(losses),
        gradient_sensitivity,
        weight_std,
        activation_range,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_the_documented_layer_counts() {
        assert_eq!(Split::Train.builtin().len(), 131);
        assert_eq!(Split::Valid.builtin().len(), 99);
        assert_eq!(Split::Test.builtin().len(), 27);
    }

    #[test]
    fn parameter_counts_match_the_real_architectures() {
        // Exact published counts: LLaMA-7B 6,738,415,616 (no biases, untied
        // head); GPT-2 medium 354,823,168 (Hugging Face `gpt2-medium`: biases
        // included, the tied LM head counted once); torchvision ResNet-50
        // 25,557,032 (every BatchNorm's weight and bias included).
        assert_eq!(Split::Train.builtin().total_params(), 6_738_415_616);
        assert_eq!(Split::Valid.builtin().total_params(), 354_823_168);
        assert_eq!(Split::Test.builtin().total_params(), 25_557_032);
        // The tied head is one layer, not two.
        let valid = Split::Valid.builtin();
        assert_eq!(
            valid
                .layers
                .iter()
                .filter(|l| l.params == 50257 * 1024)
                .count(),
            1
        );
        // The BatchNorms the stage entries gained: 53,120 in all, of which
        // the stem's and the stage outputs' 7,808 were counted before.
        let norms: u64 = Split::Test
            .builtin()
            .layers
            .iter()
            .filter(|l| l.layer_type == LayerType::LayerNorm)
            .map(|l| l.params)
            .sum();
        assert_eq!(norms, 53_120);
        assert_eq!(norms - 7_808, 45_312);
    }

    #[test]
    fn generation_is_deterministic_and_seed_dependent() {
        assert_eq!(Split::Test.builtin(), Split::Test.builtin());
        let other = Family::Resnet50Like.generate("test", 457);
        assert_ne!(other, Split::Test.builtin());
    }

    #[test]
    fn loss_falls_with_bits_and_stays_a_fraction() {
        for split in Split::ALL {
            for l in split.builtin().layers {
                let c = l.sensitivity.0;
                assert!(c.windows(2).all(|w| w[0] > w[1]), "{}: {c:?}", l.name);
                assert!(c.iter().all(|&x| (0.0..1.0).contains(&x)));
                assert_eq!(c[Precision::Fp32.index()], 0.0);
            }
        }
    }

    #[test]
    fn edges_and_norms_are_more_sensitive_on_average() {
        let inv = Split::Train.builtin();
        let mean = |f: &dyn Fn(&LayerInfo) -> bool| {
            let xs: Vec<f64> = inv
                .layers
                .iter()
                .filter(|l| f(l))
                .map(|l| l.loss_at(Precision::Int4))
                .collect();
            xs.iter().sum::<f64>() / xs.len() as f64
        };
        let linear = |l: &LayerInfo| l.layer_type == LayerType::Linear;
        let edge =
            mean(&|l| linear(l) && (l.relative_position < 0.05 || l.relative_position > 0.95));
        let middle = mean(&|l| linear(l) && (0.3..0.7).contains(&l.relative_position));
        assert!(edge > middle, "edge {edge} middle {middle}");
        let norms = mean(&|l| l.layer_type == LayerType::LayerNorm);
        assert!(norms > mean(&|l| linear(l)));
    }
}
