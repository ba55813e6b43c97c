//! The per-layer quantization genome, the space it lives in, and its
//! variation operators.
//!
//! A gene is one layer's full configuration (the document's
//! `LayerQuantConfig` plus a calibration method and group size). The genome
//! is a plain vector of genes, hashable so evaluations can be memoised, and
//! serde-named so it round-trips through JSON and is exported as is.
//! 16-bit means the target's 16-bit format (fp16 on most, int16 where the
//! target computes int16); 32 is the unquantized reference, never produced by
//! the search.

use crate::hw::{QuantChoice, ScaleLayout};
pub use crate::quant::{Calibration, Granularity, Scheme};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};

/// Allowed weight bit widths (the document's set, plus 1 = binary). With 1
/// in the space (`min_bits = 1`) ternary weights are a further choice: width
/// 2 with `ternary = true` (2-bit codes {−1, 0, +1} × scale).
pub const WEIGHT_BITS: [u8; 6] = [1, 2, 4, 6, 8, 16];
/// Allowed activation bit widths.
pub const ACT_BITS: [u8; 3] = [4, 8, 16];
/// Group sizes for per-group scales.
pub const GROUP_SIZES: [u16; 3] = [32, 64, 128];

/// The schemes the search draws from (the document's three; the chaos
/// document's clipped variant is not a deployment choice).
pub const SCHEMES: [Scheme; 3] = [Scheme::Symmetric, Scheme::Asymmetric, Scheme::PowerOfTwo];

/// The calibration methods the search draws from (the document's four).
pub const CALIBRATIONS: [Calibration; 4] = [
    Calibration::MinMax,
    Calibration::Percentile,
    Calibration::Mse,
    Calibration::Entropy,
];

/// One layer's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LayerGene {
    pub weight_bits: u8,
    pub activation_bits: u8,
    pub weight_scheme: Scheme,
    pub activation_scheme: Scheme,
    pub granularity: Granularity,
    /// Used when `granularity` is per_group.
    pub group_size: u16,
    pub calibration: Calibration,
    /// Ternary weights (only with `weight_bits = 2`); binary is
    /// `weight_bits = 1`. Both are sign × mean-|w| scales
    /// (`crate::quant::binary`), symmetric, calibration-free. Omitted from
    /// JSON when false, so integer genomes read and write as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ternary: bool,
    /// ggml block weights (`formats = "ggml"`): 4 bits symmetric = Q4_0,
    /// 4 bits asymmetric = Q4_1, 8 bits = Q8_0, blocks of 32 with ggml's own
    /// rounding (`WeightQuant::Ggml`), so `evoquant apply` writes the gene
    /// to GGUF bit for bit. Omitted from JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ggml: bool,
    /// The gene's 8-bit operands are OCP FP8 E4M3 instead of INT8
    /// (`fp8 = true`): 8-bit weights with an f32 scale per channel (or per
    /// tensor), 8-bit activations with a static per-tensor scale, both
    /// symmetric (`crate::quant::fp8`). Omitted from JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fp8: bool,
}

fn is_extreme(g: &LayerGene) -> bool {
    g.weight_bits == 1 || g.ternary
}

impl LayerGene {
    /// The unquantized reference (FP32 weights and activations).
    pub const FP32: LayerGene = LayerGene::float(32);

    /// A float configuration at 16 or 32 bits.
    pub const fn float(bits: u8) -> LayerGene {
        LayerGene {
            weight_bits: bits,
            activation_bits: bits,
            weight_scheme: Scheme::Symmetric,
            activation_scheme: Scheme::Asymmetric,
            granularity: Granularity::PerTensor,
            group_size: 128,
            calibration: Calibration::MinMax,
            ternary: false,
            ggml: false,
            fp8: false,
        }
    }

    /// The common integer recipe: symmetric per-channel weights, asymmetric
    /// percentile-calibrated activations.
    pub const fn int(weight_bits: u8, activation_bits: u8, granularity: Granularity) -> LayerGene {
        LayerGene {
            weight_bits,
            activation_bits,
            weight_scheme: Scheme::Symmetric,
            activation_scheme: Scheme::Asymmetric,
            granularity,
            group_size: 128,
            calibration: Calibration::Percentile,
            ternary: false,
            ggml: false,
            fp8: false,
        }
    }

    /// The ggml block format of this gene, if it is one.
    pub fn ggml_format(&self) -> Option<crate::quant::GgufFormat> {
        use crate::quant::GgufFormat;
        match (self.ggml, self.weight_bits, self.weight_scheme) {
            (false, ..) => None,
            (true, 4, Scheme::Asymmetric) => Some(GgufFormat::Q4_1),
            (true, 4, _) => Some(GgufFormat::Q4_0),
            (true, 8, _) => Some(GgufFormat::Q8_0),
            _ => None,
        }
    }

    /// The weights are FP8 E4M3.
    pub fn fp8_weights(&self) -> bool {
        self.fp8 && self.weight_bits == 8
    }

    /// The activations are FP8 E4M3.
    pub fn fp8_activations(&self) -> bool {
        self.fp8 && self.activation_bits == 8
    }

    /// This gene at weight level (bits, ternary).
    pub fn with_level(mut self, (bits, ternary): (u8, bool)) -> LayerGene {
        self.weight_bits = bits;
        self.ternary = ternary;
        self
    }

    /// The binary / ternary request of this gene, if it is one.
    pub fn extreme(&self) -> Option<crate::quant::binary::ExtremeSpec> {
        use crate::quant::binary::{Extreme, ExtremeSpec};
        let kind = match (self.weight_bits, self.ternary) {
            (1, _) => Extreme::Binary,
            (2, true) => Extreme::Ternary,
            _ => return None,
        };
        // The group size only where the granularity has groups, so equal
        // quantizers compare equal (and read back equal from an export).
        let group_size = match self.granularity {
            Granularity::PerGroup | Granularity::Block => usize::from(self.group_size),
            _ => 0,
        };
        Some(ExtremeSpec {
            kind,
            granularity: self.granularity,
            group_size,
        })
    }

    /// The facts the cost model needs.
    pub fn choice(&self) -> QuantChoice {
        QuantChoice {
            weight_bits: self.weight_bits,
            act_bits: self.activation_bits,
            layout: match self.granularity {
                Granularity::PerTensor => ScaleLayout::PerTensor,
                Granularity::PerChannel => ScaleLayout::PerChannel,
                // The search never draws blocks; costed like groups of the same size.
                Granularity::PerGroup | Granularity::Block => {
                    ScaleLayout::PerGroup(u32::from(self.group_size))
                }
            },
            weight_zero_point: self.weight_scheme == Scheme::Asymmetric,
            // ggml's Q4_1 stores its minimum as f16, not a 1-byte zero point.
            wide_zero_point: self.ggml,
            pow2_scale: self.weight_scheme == Scheme::PowerOfTwo,
            signed_activations: self.activation_scheme != Scheme::Asymmetric,
            fp8: self.fp8,
        }
    }

    /// `W4A8` style label (`W1A8` binary, `W2tA8` ternary, `Q4_0` ggml,
    /// `f` after an FP8 operand: `W8fA8f`, `W4A8f`).
    pub fn label(&self) -> String {
        if let Some(f) = self.ggml_format() {
            return f.name().to_ascii_uppercase();
        }
        let t = if self.ternary { "t" } else { "" };
        let wf = if self.fp8_weights() { "f" } else { "" };
        let af = if self.fp8_activations() { "f" } else { "" };
        format!("W{}{t}{wf}A{}{af}", self.weight_bits, self.activation_bits)
    }
}

/// A whole configuration, one gene per layer in layer order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Genome {
    pub layers: Vec<LayerGene>,
}

impl Genome {
    pub fn uniform(gene: LayerGene, n: usize) -> Genome {
        Genome {
            layers: vec![gene; n],
        }
    }

    /// `W8A8 W4A8 …` summary for tables.
    pub fn summary(&self) -> String {
        self.layers
            .iter()
            .map(LayerGene::label)
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("genomes serialize")
    }

    pub fn from_json(v: &serde_json::Value) -> Result<Genome, serde_json::Error> {
        Genome::deserialize(v)
    }
}

/// What the search may choose from.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    pub weight_bits: Vec<u8>,
    pub act_bits: Vec<u8>,
    pub granularities: Vec<Granularity>,
    pub group_sizes: Vec<u16>,
    /// Per-layer bit widths may differ; otherwise all layers share them.
    pub mixed: bool,
    /// Calibration methods the search draws from (non-empty).
    pub calibrations: Vec<Calibration>,
    /// Only genes a GGUF file stores exactly (`formats = "ggml"`): weight
    /// widths 4 and 8 as ggml blocks (`LayerGene::ggml`), 16 as F16, every
    /// activation unquantized (GGUF records no activation precision), as
    /// [`Space::canonical`] makes them.
    pub ggml: bool,
    /// 8-bit operands may be FP8 E4M3 (`LayerGene::fp8`).
    pub fp8: bool,
}

impl Space {
    /// A uniformly random legal gene.
    pub fn random_gene<R: Rng + ?Sized>(&self, rng: &mut R) -> LayerGene {
        // Without binary the draw is the plain width (same stream as before
        // ternary existed).
        let (weight_bits, ternary) = if self.weight_bits.contains(&1) {
            *self.weight_levels().choose(rng).expect("non-empty")
        } else {
            (*self.weight_bits.choose(rng).expect("non-empty"), false)
        };
        LayerGene {
            weight_bits,
            activation_bits: *self.act_bits.choose(rng).expect("non-empty"),
            weight_scheme: *SCHEMES.choose(rng).expect("non-empty"),
            activation_scheme: *SCHEMES.choose(rng).expect("non-empty"),
            granularity: *self.granularities.choose(rng).expect("non-empty"),
            group_size: *self.group_sizes.choose(rng).expect("non-empty"),
            calibration: *self.calibrations.choose(rng).expect("non-empty"),
            ternary,
            ggml: false,
            // Drawn only when allowed, so spaces without FP8 keep their stream.
            fp8: self.fp8 && rng.random_bool(0.5),
        }
    }

    /// The weight widths as a ladder of (bits, ternary): binary, ternary
    /// (only when binary is allowed), then the integer and float widths.
    pub fn weight_levels(&self) -> Vec<(u8, bool)> {
        let mut v = Vec::with_capacity(self.weight_bits.len() + 1);
        for &b in &self.weight_bits {
            v.push((b, false));
            if b == 1 {
                v.push((2, true));
            }
        }
        v.sort_by_key(|&(b, t)| (b, !t));
        v.dedup();
        v
    }

    /// Step to a neighbouring weight level.
    fn step_level<R: Rng + ?Sized>(&self, g: &LayerGene, rng: &mut R) -> (u8, bool) {
        let levels = self.weight_levels();
        let i = levels
            .iter()
            .position(|&l| l == (g.weight_bits, g.ternary))
            .unwrap_or(0) as u8;
        let idx: Vec<u8> = (0..levels.len() as u8).collect();
        levels[usize::from(Self::step(&idx, i, rng))]
    }

    pub fn random_genome<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Genome {
        let mut g = Genome {
            layers: (0..n).map(|_| self.random_gene(rng)).collect(),
        };
        self.repair(&mut g);
        g
    }

    /// A gene at `bits` weights and `act` activations in the common recipe
    /// (symmetric weights per channel when allowed), made legal.
    pub fn gene_at(&self, bits: u8, act: u8) -> LayerGene {
        let mut g = if bits >= 16 {
            LayerGene {
                activation_bits: act,
                ..LayerGene::float(bits)
            }
        } else {
            let gran = if self.granularities.contains(&Granularity::PerChannel) {
                Granularity::PerChannel
            } else {
                self.granularities[0]
            };
            LayerGene::int(bits, act, gran)
        };
        self.canonical(&mut g);
        g
    }

    /// In a ggml space, the one representation of what a gene stores: 4 and
    /// 8 bits become ggml blocks (8 bits and a power-of-two scheme
    /// symmetric), 16 and 32 floats; fields ggml fixes (groups of 32, its
    /// own rounding, float activations) are set so equal formats are equal
    /// genes. Elsewhere a no-op.
    pub fn canonical(&self, g: &mut LayerGene) {
        if !self.ggml {
            return;
        }
        g.ternary = false;
        g.activation_bits = 32;
        g.activation_scheme = Scheme::Asymmetric;
        g.calibration = Calibration::MinMax;
        if matches!(g.weight_bits, 4 | 8) {
            g.ggml = true;
            g.granularity = Granularity::PerGroup;
            g.group_size = 32;
            if g.weight_bits == 8 || g.weight_scheme != Scheme::Asymmetric {
                g.weight_scheme = Scheme::Symmetric;
            }
        } else {
            *g = LayerGene::float(g.weight_bits.max(16));
            g.activation_bits = 32;
        }
    }

    /// Make a genome legal: uniform bit widths when mixed precision is off
    /// (layer 0's widths win), granularity inside the allowed set.
    pub fn repair(&self, g: &mut Genome) {
        if let (false, Some(first)) = (self.mixed, g.layers.first().copied()) {
            for l in &mut g.layers {
                l.weight_bits = first.weight_bits;
                l.activation_bits = first.activation_bits;
                l.ternary = first.ternary;
                l.fp8 = first.fp8;
            }
        }
        let binary = self.weight_bits.contains(&1);
        for l in &mut g.layers {
            if !self.granularities.contains(&l.granularity) {
                l.granularity = self.granularities[0];
            }
            l.ternary &= binary && l.weight_bits == 2;
            l.fp8 &= self.fp8 && (l.weight_bits == 8 || l.activation_bits == 8);
            if l.fp8_weights() {
                // E4M3 scales are per channel or per tensor, symmetric.
                l.weight_scheme = Scheme::Symmetric;
                if !matches!(
                    l.granularity,
                    Granularity::PerTensor | Granularity::PerChannel
                ) {
                    l.granularity = if self.granularities.contains(&Granularity::PerChannel) {
                        Granularity::PerChannel
                    } else {
                        Granularity::PerTensor
                    };
                }
            }
            if l.fp8_activations() {
                l.activation_scheme = Scheme::Symmetric;
            }
            // Sign quantizers have no zero point and no power-of-two scale.
            if is_extreme(l) {
                l.weight_scheme = Scheme::Symmetric;
            }
            self.canonical(l);
        }
    }

    /// Step to a neighbouring width in `set` (up or down at random).
    fn step<R: Rng + ?Sized>(set: &[u8], current: u8, rng: &mut R) -> u8 {
        let i = set.iter().position(|&b| b == current).unwrap_or(0);
        let up = rng.random_bool(0.5);
        let j = match (up, i) {
            (true, i) if i + 1 < set.len() => i + 1,
            (false, i) if i > 0 => i - 1,
            (_, i) if i + 1 < set.len() => i + 1,
            (_, i) => i.saturating_sub(1),
        };
        set[j]
    }

    /// Change one field of one gene (bit widths step to a neighbouring width).
    fn mutate_gene<R: Rng + ?Sized>(&self, l: &mut LayerGene, rng: &mut R) {
        // Without mixed precision the widths are genome-wide (see `mutate`);
        // the FP8 toggle (6) is a field only where FP8 is allowed.
        let (first, fields) = if self.mixed { (0, 6) } else { (2, 4) };
        match first + rng.random_range(0..fields + usize::from(self.fp8)) {
            0 => *l = l.with_level(self.step_level(l, rng)),
            1 => l.activation_bits = Self::step(&self.act_bits, l.activation_bits, rng),
            2 => l.weight_scheme = *SCHEMES.choose(rng).expect("non-empty"),
            3 => l.activation_scheme = *SCHEMES.choose(rng).expect("non-empty"),
            4 => {
                l.granularity = *self.granularities.choose(rng).expect("non-empty");
                l.group_size = *self.group_sizes.choose(rng).expect("non-empty");
            }
            5 => l.calibration = *self.calibrations.choose(rng).expect("non-empty"),
            _ => l.fp8 = !l.fp8,
        }
    }

    /// Mutation: with probability `rate` the genome mutates; a mutation
    /// changes one field of one random layer, then another with probability
    /// ½, and so on (two changes on average). A per-layer rate would make
    /// rate·L simultaneous changes, which on a 200-layer model destroys any
    /// good parent. Without mixed precision a genome-wide width step is one
    /// of the possible changes.
    pub fn mutate<R: Rng + ?Sized>(&self, g: &mut Genome, rate: f64, rng: &mut R) {
        if g.layers.is_empty() || !rng.random_bool(rate) {
            return;
        }
        loop {
            let i = rng.random_range(0..g.layers.len());
            if !self.mixed && rng.random_bool(1.0 / 3.0) {
                if rng.random_bool(0.5) {
                    let w = self.step_level(&g.layers[0], rng);
                    g.layers.iter_mut().for_each(|l| *l = l.with_level(w));
                } else {
                    let a = Self::step(&self.act_bits, g.layers[0].activation_bits, rng);
                    g.layers.iter_mut().for_each(|l| l.activation_bits = a);
                }
            } else {
                self.mutate_gene(&mut g.layers[i], rng);
            }
            if !rng.random_bool(0.5) {
                break;
            }
        }
        self.repair(g);
    }

    /// Layer-wise uniform crossover: each layer's whole gene from either parent.
    pub fn crossover<R: Rng + ?Sized>(&self, a: &Genome, b: &Genome, rng: &mut R) -> Genome {
        let mut child = Genome {
            layers: a
                .layers
                .iter()
                .zip(&b.layers)
                .map(|(x, y)| if rng.random_bool(0.5) { *x } else { *y })
                .collect(),
        };
        self.repair(&mut child);
        child
    }

    /// Is every gene inside the space?
    pub fn contains(&self, g: &Genome) -> bool {
        g.layers.iter().all(|l| {
            let mut c = *l;
            self.canonical(&mut c);
            if self.ggml {
                return c == *l && self.weight_bits.contains(&l.weight_bits);
            }
            !l.ggml
                && self.weight_levels().contains(&(l.weight_bits, l.ternary))
                && (!is_extreme(l) || l.weight_scheme == Scheme::Symmetric)
                && self.act_bits.contains(&l.activation_bits)
                && self.granularities.contains(&l.granularity)
                && self.group_sizes.contains(&l.group_size)
                && (!l.fp8 || (self.fp8 && (l.weight_bits == 8 || l.activation_bits == 8)))
                && (!l.fp8_weights()
                    || l.weight_scheme == Scheme::Symmetric
                        && matches!(
                            l.granularity,
                            Granularity::PerTensor | Granularity::PerChannel
                        ))
        }) && (self.mixed
            || g.layers.windows(2).all(|w| {
                w[0].weight_bits == w[1].weight_bits
                    && w[0].ternary == w[1].ternary
                    && w[0].fp8 == w[1].fp8
                    && w[0].activation_bits == w[1].activation_bits
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn space(mixed: bool) -> Space {
        Space {
            weight_bits: vec![4, 6, 8],
            act_bits: vec![4, 8],
            granularities: vec![Granularity::PerTensor, Granularity::PerChannel],
            group_sizes: GROUP_SIZES.to_vec(),
            mixed,
            ggml: false,
            calibrations: CALIBRATIONS.to_vec(),
            fp8: false,
        }
    }

    #[test]
    fn json_round_trip_with_readable_names() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let g = space(true).random_genome(5, &mut rng);
        let j = g.to_json();
        assert_eq!(Genome::from_json(&j).unwrap(), g);
        let text = j.to_string();
        assert!(text.contains("weight_scheme") && text.contains("calibration"));
        assert!(Genome::from_json(&serde_json::json!({"layers": [{"weight_bits": 4}]})).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]
        #[test]
        fn variation_stays_in_the_space(seed in 0u64..1000, mixed in any::<bool>(), n in 1usize..12) {
            let s = space(mixed);
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let a = s.random_genome(n, &mut rng);
            let b = s.random_genome(n, &mut rng);
            prop_assert!(s.contains(&a) && s.contains(&b));
            let mut c = s.crossover(&a, &b, &mut rng);
            prop_assert!(s.contains(&c));
            s.mutate(&mut c, 0.5, &mut rng);
            prop_assert!(s.contains(&c));
            for l in &c.layers {
                prop_assert!(l.weight_bits >= 4 && l.weight_bits <= 8);
            }
        }
    }

    #[test]
    fn fp8_genes_appear_only_where_allowed_and_stay_legal() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let plain = space(true);
        let mut fp8 = space(true);
        fp8.fp8 = true;
        // A space without FP8 draws the same genomes as before it existed.
        let a = plain.random_genome(40, &mut rng.clone());
        assert!(a.layers.iter().all(|l| !l.fp8));
        let mut b = fp8.random_genome(40, &mut rng);
        assert!(b.layers.iter().any(|l| l.fp8_weights()));
        assert!(b.layers.iter().any(|l| l.fp8_activations()));
        for _ in 0..200 {
            fp8.mutate(&mut b, 1.0, &mut rng);
            assert!(fp8.contains(&b), "{}", b.summary());
        }
        assert!(!plain.contains(&b));
        for l in &b.layers {
            assert!(!l.fp8 || l.weight_bits == 8 || l.activation_bits == 8);
        }
        let g = LayerGene {
            fp8: true,
            weight_scheme: Scheme::Symmetric,
            activation_scheme: Scheme::Symmetric,
            ..LayerGene::int(8, 8, Granularity::PerChannel)
        };
        assert_eq!(g.label(), "W8fA8f");
        assert_eq!(
            LayerGene {
                activation_bits: 16,
                ..g
            }
            .label(),
            "W8fA16"
        );
        assert_eq!(
            LayerGene {
                weight_bits: 4,
                ..g
            }
            .label(),
            "W4A8f"
        );
        let one = Genome::uniform(g, 2);
        assert_eq!(Genome::from_json(&one.to_json()).unwrap(), one);
        assert!(
            !Genome::uniform(LayerGene::int(8, 8, Granularity::PerChannel), 1)
                .to_json()
                .to_string()
                .contains("fp8")
        );
        // Repair: FP8 weights per group become per channel, symmetric.
        fp8.granularities = vec![
            Granularity::PerTensor,
            Granularity::PerChannel,
            Granularity::PerGroup,
        ];
        let mut bad = Genome::uniform(
            LayerGene {
                granularity: Granularity::PerGroup,
                weight_scheme: Scheme::Asymmetric,
                ..g
            },
            1,
        );
        fp8.repair(&mut bad);
        assert_eq!(bad.layers[0].granularity, Granularity::PerChannel);
        assert_eq!(bad.layers[0].weight_scheme, Scheme::Symmetric);
        // The cost model sees FP8 (f32 scales, FP8 units).
        assert!(g.choice().fp8);
    }

    #[test]
    fn ternary_round_trips_and_is_omitted_when_false() {
        let t = LayerGene {
            ternary: true,
            ..LayerGene::int(2, 8, Granularity::PerChannel)
        };
        let g = Genome::uniform(t, 2);
        assert_eq!(Genome::from_json(&g.to_json()).unwrap(), g);
        assert_eq!(t.label(), "W2tA8");
        let plain = Genome::uniform(LayerGene::int(4, 8, Granularity::PerChannel), 1);
        assert!(!plain.to_json().to_string().contains("ternary"));
        // Repair keeps sign quantizers symmetric and ternary only at 2 bits
        // in a space that allows binary.
        let mut s = space(true);
        s.weight_bits = vec![1, 2, 4];
        let mut bad = Genome::uniform(
            LayerGene {
                weight_scheme: Scheme::Asymmetric,
                ..t
            },
            3,
        );
        bad.layers[1].weight_bits = 4;
        s.repair(&mut bad);
        assert!(s.contains(&bad));
        assert_eq!(bad.layers[0].weight_scheme, Scheme::Symmetric);
        assert!(!bad.layers[1].ternary);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let drawn: Vec<(u8, bool)> = (0..200)
            .map(|_| {
                let g = s.random_gene(&mut rng);
                (g.weight_bits, g.ternary)
            })
            .collect();
        assert!(drawn.contains(&(2, true)) && drawn.contains(&(1, false)));
    }

    /// A ggml space never leaves the types GGUF stores exactly: every gene
    /// of random, crossed and mutated genomes maps to Q4_0 / Q4_1 / Q8_0 /
    /// F16 weights with float activations.
    #[test]
    fn ggml_space_genes_are_exact_ggml_types() {
        use crate::apply::ggml::ggml_deployable;
        use crate::studies::mixed_precision::adapters::layer_quant;
        let s = Space {
            weight_bits: vec![4, 8, 16],
            act_bits: vec![32],
            granularities: vec![Granularity::PerGroup],
            group_sizes: vec![32],
            mixed: true,
            ggml: true,
            calibrations: vec![Calibration::MinMax],
            fp8: false,
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let a = s.random_genome(6, &mut rng);
            let b = s.random_genome(6, &mut rng);
            let mut c = s.crossover(&a, &b, &mut rng);
            s.mutate(&mut c, 1.0, &mut rng);
            for g in [&a, &b, &c] {
                assert!(s.contains(g), "{g:?}");
                for l in &g.layers {
                    assert!(ggml_deployable(&layer_quant(l)), "{l:?}");
                    seen.insert(l.label());
                }
            }
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            ["Q4_0", "Q4_1", "Q8_0", "W16A32"]
        );
        // An integer gene is not in a ggml space, nor a ggml gene elsewhere.
        let int = Genome::uniform(LayerGene::int(4, 8, Granularity::PerGroup), 2);
        assert!(!s.contains(&int));
        let q = Genome::uniform(s.gene_at(8, 8), 2);
        assert_eq!(
            q.layers[0].ggml_format(),
            Some(crate::quant::GgufFormat::Q8_0)
        );
        assert!(!space(true).contains(&q));
    }

    #[test]
    fn mutation_rate_zero_is_identity_and_one_changes_something() {
        let s = space(true);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let g = s.random_genome(20, &mut rng);
        let mut same = g.clone();
        s.mutate(&mut same, 0.0, &mut rng);
        assert_eq!(same, g);
        let mut changed = g.clone();
        s.mutate(&mut changed, 1.0, &mut rng);
        assert_ne!(changed, g);
    }
}
