//! Parameters of `mixed_precision`: the document's `QuantizationEvolutionConfig`
//! names and defaults (population_size 20, max_generations 50, …), plus the
//! model choice, the search mode and a custom hardware target.
//!
//! TOML has no null, so the document's `Optional` constraints use 0 for "no
//! constraint".

use super::genome::{ACT_BITS, GROUP_SIZES, Granularity, Space, WEIGHT_BITS};
use crate::hw::{self, Target};
use crate::models::Family;
use crate::studies::{ParamDoc, ParamIssue, ParamType};
use serde::{Deserialize, Serialize};

/// Which model is searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Inventory,
    Mlp,
}

/// Which built-in inventory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InventoryFamily {
    Llama7bLike,
    Gpt2MediumLike,
    Resnet50Like,
}

impl InventoryFamily {
    pub fn family(self) -> Family {
        match self {
            InventoryFamily::Llama7bLike => Family::Llama7bLike,
            InventoryFamily::Gpt2MediumLike => Family::Gpt2MediumLike,
            InventoryFamily::Resnet50Like => Family::Resnet50Like,
        }
    }
}

/// The search algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// The document's GA on the weighted-sum fitness.
    WeightedSum,
    /// NSGA-II on the objectives with positive weight.
    Nsga2,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    pub model: ModelKind,
    pub inventory: InventoryFamily,
    pub inventory_seed: u64,
    pub inventory_file: String,
    pub tokens: u64,
    pub search: SearchMode,
    pub population_size: usize,
    pub max_generations: usize,
    pub mutation_rate: f64,
    pub crossover_rate: f64,
    pub elitism_ratio: f64,
    pub min_bits: u32,
    pub max_bits: u32,
    pub activation_bits: Vec<u32>,
    pub allow_mixed_precision: bool,
    pub allow_per_channel: bool,
    pub hardware_target: String,
    pub target_latency_ms: f64,
    pub target_memory_mb: f64,
    pub target_energy_mj: f64,
    pub accuracy_weight: f64,
    pub compression_weight: f64,
    pub latency_weight: f64,
    pub energy_weight: f64,
    pub use_sensitivity_analysis: bool,
    pub enable_caching: bool,
    pub archive_size: usize,
    pub custom: CustomTarget,
    pub mlp: MlpParams,
}

/// `[params.mlp]`: the classifier trained for `model = "mlp"` (the rest of
/// `crate::nn::TaskConfig` keeps its defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpParams {
    pub classes: usize,
    pub image_size: usize,
    pub hidden: Vec<usize>,
    pub train_size: usize,
    pub calibration_size: usize,
    pub test_size: usize,
    pub epochs: usize,
    pub pixel_noise: f64,
}

impl Default for MlpParams {
    fn default() -> Self {
        let t = crate::nn::TaskConfig::default();
        MlpParams {
            classes: t.classes,
            image_size: t.image_size,
            hidden: t.hidden,
            train_size: t.train_size,
            calibration_size: t.calibration_size,
            test_size: t.test_size,
            epochs: t.epochs,
            pixel_noise: t.pixel_noise,
        }
    }
}

impl MlpParams {
    pub fn task_config(&self) -> crate::nn::TaskConfig {
        crate::nn::TaskConfig {
            classes: self.classes,
            image_size: self.image_size,
            hidden: self.hidden.clone(),
            train_size: self.train_size,
            calibration_size: self.calibration_size,
            test_size: self.test_size,
            epochs: self.epochs,
            pixel_noise: self.pixel_noise,
            ..crate::nn::TaskConfig::default()
        }
    }
}

/// `[params.custom]`: a user-defined hardware target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomTarget {
    pub name: String,
    pub tops: Vec<f64>,
    pub bandwidth_gbps: f64,
    pub pj_per_mac: Vec<f64>,
    pub pj_per_byte: f64,
    pub weight_only: bool,
}

impl Default for CustomTarget {
    fn default() -> Self {
        CustomTarget {
            name: "custom device".into(),
            tops: vec![0.0; 5],
            bandwidth_gbps: 0.0,
            // Horowitz ISSCC 2014 (see hw::targets), as a starting point.
            pj_per_mac: vec![0.08, 0.23, 0.85, 1.5, 4.6],
            pj_per_byte: 243.75,
            weight_only: false,
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params {
            model: ModelKind::Inventory,
            inventory: InventoryFamily::Resnet50Like,
            inventory_seed: 42,
            inventory_file: String::new(),
            tokens: 1,
            search: SearchMode::Nsga2,
            population_size: 20,
            max_generations: 50,
            mutation_rate: 0.2,
            crossover_rate: 0.7,
            elitism_ratio: 0.1,
            min_bits: 4,
            max_bits: 8,
            activation_bits: vec![4, 8, 16],
            allow_mixed_precision: true,
            allow_per_channel: true,
            hardware_target: "arm_neon".into(),
            target_latency_ms: 0.0,
            target_memory_mb: 0.0,
            target_energy_mj: 0.0,
            accuracy_weight: 0.4,
            compression_weight: 0.3,
            latency_weight: 0.2,
            energy_weight: 0.1,
            use_sensitivity_analysis: true,
            enable_caching: true,
            archive_size: 64,
            custom: CustomTarget::default(),
            mlp: MlpParams::default(),
        }
    }
}

/// Names accepted by `hardware_target`.
pub const TARGET_CHOICES: [&str; 7] = [
    "arm_neon",
    "arm_dot",
    "qualcomm_hexagon",
    "apple_neural_engine",
    "nvidia_tensorrt",
    "intel_vnni",
    "custom",
];

impl Params {
    /// The four objective weights in the order accuracy, compression,
    /// latency, energy.
    pub fn weights(&self) -> [f64; 4] {
        [
            self.accuracy_weight,
            self.compression_weight,
            self.latency_weight,
            self.energy_weight,
        ]
    }

    pub fn target(&self) -> Result<Target, String> {
        if self.hardware_target == "custom" {
            let c = &self.custom;
            let five = |v: &[f64]| -> [f64; 5] {
                let mut a = [0.0; 5];
                for (x, y) in a.iter_mut().zip(v) {
                    *x = *y;
                }
                a
            };
            let t = hw::targets::custom(
                &c.name,
                &five(&c.tops),
                c.bandwidth_gbps,
                &five(&c.pj_per_mac),
                c.pj_per_byte,
                c.weight_only,
            );
            t.check()?;
            Ok(t)
        } else {
            hw::builtin(&self.hardware_target).ok_or_else(|| {
                format!(
                    "unknown hardware target `{}` (known: {})",
                    self.hardware_target,
                    TARGET_CHOICES.join(", ")
                )
            })
        }
    }

    pub fn space(&self) -> Space {
        let weight_bits = WEIGHT_BITS
            .iter()
            .copied()
            .filter(|&b| (self.min_bits..=self.max_bits).contains(&u32::from(b)))
            .collect();
        let mut act_bits: Vec<u8> = ACT_BITS
            .iter()
            .copied()
            .filter(|&b| self.activation_bits.contains(&u32::from(b)))
            .collect();
        act_bits.sort_unstable();
        Space {
            weight_bits,
            act_bits,
            granularities: if self.allow_per_channel {
                vec![
                    Granularity::PerTensor,
                    Granularity::PerChannel,
                    Granularity::PerGroup,
                ]
            } else {
                vec![Granularity::PerTensor]
            },
            group_sizes: GROUP_SIZES.to_vec(),
            mixed: self.allow_mixed_precision,
        }
    }

    pub fn elites(&self) -> usize {
        ((self.elitism_ratio * self.population_size as f64).round() as usize)
            .min(self.population_size.saturating_sub(1))
    }
}

pub fn docs() -> Vec<ParamDoc> {
    use ParamType::*;
    vec![
        ParamDoc::new(
            "model",
            Choice(&["inventory", "mlp"]),
            "inventory: a layer inventory at real scale, not run (accuracy from the per-layer sensitivity MODEL shared with bit_allocation); mlp: a glyph classifier trained in-process whose accuracy is MEASURED on a held-out split.",
        ),
        ParamDoc::new(
            "inventory",
            Choice(&["llama7b_like", "gpt2_medium_like", "resnet50_like"]),
            "Built-in inventory: every weight matrix / convolution with its real shape and parameter count.",
        ),
        ParamDoc::new(
            "inventory_seed",
            Int,
            "Seed of the inventory's modelled sensitivity curves.",
        ),
        ParamDoc::new(
            "inventory_file",
            Path,
            "A .safetensors file to import instead of the built-in inventory (\"\" = built-in): header read, each layer's weight error measured at 2-16 bits as the sensitivity signal.",
        ),
        ParamDoc::new(
            "tokens",
            Int,
            "Tokens processed per inference by transformer inventories (1 = one decode step; ≥ 1).",
        ),
        ParamDoc::new(
            "search",
            Choice(&["weighted_sum", "nsga2"]),
            "weighted_sum: the document's GA on the weighted fitness; nsga2: NSGA-II on the objectives with positive weight.",
        ),
        ParamDoc::new("population_size", Int, "Genomes per generation (≥ 4)."),
        ParamDoc::new("max_generations", Int, "Generations (≥ 1)."),
        ParamDoc::new(
            "mutation_rate",
            Float,
            "Probability that an offspring mutates (one field of one random layer, then another with probability 1/2); clones of a parent always mutate [0, 1].",
        ),
        ParamDoc::new(
            "crossover_rate",
            Float,
            "Probability an offspring is a layer-wise uniform crossover [0, 1].",
        ),
        ParamDoc::new(
            "elitism_ratio",
            Float,
            "Fraction of the population copied unchanged (weighted_sum; NSGA-II is elitist by construction) [0, 1).",
        ),
        ParamDoc::new(
            "min_bits",
            Int,
            "Smallest weight bit width, one of 2, 4, 6, 8, 16.",
        ),
        ParamDoc::new(
            "max_bits",
            Int,
            "Largest weight bit width, one of 2, 4, 6, 8, 16 (≥ min_bits).",
        ),
        ParamDoc::new(
            "activation_bits",
            IntList,
            "Activation bit widths the search may use, a non-empty subset of [4, 8, 16].",
        ),
        ParamDoc::new(
            "allow_mixed_precision",
            Bool,
            "Per-layer bit widths; false = one width for all layers.",
        ),
        ParamDoc::new(
            "allow_per_channel",
            Bool,
            "Allow per-channel and per-group scales; false = per-tensor only.",
        ),
        ParamDoc::new(
            "hardware_target",
            Choice(&TARGET_CHOICES),
            "Target of the cost model; `custom` uses the custom.* parameters.",
        ),
        ParamDoc::new(
            "target_latency_ms",
            Float,
            "Hard latency limit in ms (0 = none).",
        ),
        ParamDoc::new(
            "target_memory_mb",
            Float,
            "Hard memory limit in MB (10^6 bytes, weights with scales and zero points plus FP16 norms/biases; 0 = none).",
        ),
        ParamDoc::new(
            "target_energy_mj",
            Float,
            "Hard energy-per-inference limit in mJ (0 = none).",
        ),
        ParamDoc::new("accuracy_weight", Float, "Weight of accuracy (≥ 0)."),
        ParamDoc::new(
            "compression_weight",
            Float,
            "Weight of compression (memory) (≥ 0).",
        ),
        ParamDoc::new("latency_weight", Float, "Weight of latency (≥ 0)."),
        ParamDoc::new("energy_weight", Float, "Weight of energy (≥ 0)."),
        ParamDoc::new(
            "use_sensitivity_analysis",
            Bool,
            "Seed a quarter of the initial population from the per-layer sensitivity table.",
        ),
        ParamDoc::new(
            "enable_caching",
            Bool,
            "Memoise genome evaluations (results are identical either way).",
        ),
        ParamDoc::new(
            "archive_size",
            Int,
            "Most non-dominated genomes kept; beyond it the most crowded are dropped (≥ 2).",
        ),
        ParamDoc::new(
            "custom.name",
            Str,
            "Name of the custom device (hardware_target = \"custom\").",
        ),
        ParamDoc::new(
            "custom.tops",
            FloatList,
            "Peak TOPS (2 ops per MAC) for [int4, int8, int16, fp16, fp32]; 0 = unsupported; fp16 or fp32 must be > 0.",
        ),
        ParamDoc::new(
            "custom.bandwidth_gbps",
            Float,
            "Memory bandwidth in GB/s (> 0).",
        ),
        ParamDoc::new(
            "custom.pj_per_mac",
            FloatList,
            "Energy per MAC in pJ for [int4, int8, int16, fp16, fp32] (≥ 0).",
        ),
        ParamDoc::new(
            "custom.pj_per_byte",
            Float,
            "Energy per DRAM byte in pJ (≥ 0).",
        ),
        ParamDoc::new(
            "custom.weight_only",
            Bool,
            "The device runs W4A16 / W8A16 by decompressing weights to fp16.",
        ),
        ParamDoc::new("mlp.classes", Int, "Glyph classes, 2..=10."),
        ParamDoc::new("mlp.image_size", Int, "Image side in pixels, 6..=64."),
        ParamDoc::new("mlp.hidden", IntList, "Hidden layer widths (ReLU)."),
        ParamDoc::new("mlp.train_size", Int, "Training samples."),
        ParamDoc::new(
            "mlp.calibration_size",
            Int,
            "Calibration samples (activation ranges).",
        ),
        ParamDoc::new(
            "mlp.test_size",
            Int,
            "Held-out samples every accuracy is measured on.",
        ),
        ParamDoc::new("mlp.epochs", Int, "Training epochs."),
        ParamDoc::new(
            "mlp.pixel_noise",
            Float,
            "Std. dev. of Gaussian pixel noise (ink = 1).",
        ),
    ]
}

pub fn validate(p: &Params) -> Vec<ParamIssue> {
    let mut issues = Vec::new();
    let mut bad = |key: &str, msg: String| issues.push(ParamIssue::new(key, msg));
    if p.population_size < 4 {
        bad(
            "population_size",
            format!("must be at least 4, got {}", p.population_size),
        );
    }
    if p.max_generations == 0 {
        bad("max_generations", "must be at least 1, got 0".into());
    }
    if p.tokens == 0 {
        bad("tokens", "must be at least 1, got 0".into());
    }
    if p.archive_size < 2 {
        bad(
            "archive_size",
            format!("must be at least 2, got {}", p.archive_size),
        );
    }
    for (key, v) in [
        ("mutation_rate", p.mutation_rate),
        ("crossover_rate", p.crossover_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            bad(key, format!("must be within [0, 1], got {v}"));
        }
    }
    if !(0.0..1.0).contains(&p.elitism_ratio) {
        bad(
            "elitism_ratio",
            format!("must be within [0, 1), got {}", p.elitism_ratio),
        );
    }
    let allowed = WEIGHT_BITS.map(|b| b.to_string()).join(", ");
    for (key, v) in [("min_bits", p.min_bits), ("max_bits", p.max_bits)] {
        if !WEIGHT_BITS.iter().any(|&b| u32::from(b) == v) {
            bad(
                key,
                format!("{v} is not an allowed weight bit width ({allowed})"),
            );
        }
    }
    if p.min_bits > p.max_bits {
        bad(
            "min_bits",
            format!(
                "min_bits ({}) is greater than max_bits ({})",
                p.min_bits, p.max_bits
            ),
        );
    }
    if p.activation_bits.is_empty() {
        bad("activation_bits", "must not be empty".into());
    }
    if let Some(b) = p
        .activation_bits
        .iter()
        .find(|&&b| !ACT_BITS.iter().any(|&a| u32::from(a) == b))
    {
        bad(
            "activation_bits",
            format!("{b} is not an allowed activation bit width (4, 8, 16)"),
        );
    }
    for (key, v) in [
        ("target_latency_ms", p.target_latency_ms),
        ("target_memory_mb", p.target_memory_mb),
        ("target_energy_mj", p.target_energy_mj),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            bad(
                key,
                format!("must be a finite number ≥ 0 (0 = no constraint), got {v}"),
            );
        }
    }
    let mut weights_ok = true;
    for (key, v) in [
        ("accuracy_weight", p.accuracy_weight),
        ("compression_weight", p.compression_weight),
        ("latency_weight", p.latency_weight),
        ("energy_weight", p.energy_weight),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            bad(key, format!("must be a finite number ≥ 0, got {v}"));
            weights_ok = false;
        }
    }
    if weights_ok && p.weights().iter().all(|&w| w == 0.0) {
        bad(
            "accuracy_weight",
            "all four objective weights are 0; at least one must be positive".into(),
        );
    }
    if p.model == ModelKind::Mlp {
        if let Err(e) = p.mlp.task_config().validate() {
            let msg = e.to_string();
            let field = [
                "classes",
                "image_size",
                "hidden",
                "train_size",
                "calibration_size",
                "test_size",
                "epochs",
                "pixel_noise",
            ]
            .into_iter()
            .find(|f| msg.contains(f))
            .unwrap_or("hidden");
            bad(&format!("mlp.{field}"), msg);
        }
    }
    if p.hardware_target == "custom" {
        validate_custom(&p.custom, &mut bad);
    } else if hw::builtin(&p.hardware_target).is_none() {
        bad(
            "hardware_target",
            format!(
                "unknown hardware target `{}` (known: {})",
                p.hardware_target,
                TARGET_CHOICES.join(", ")
            ),
        );
    }
    issues
}

fn validate_custom(c: &CustomTarget, bad: &mut impl FnMut(&str, String)) {
    if c.tops.len() != 5 {
        bad(
            "custom.tops",
            format!(
                "needs 5 values [int4, int8, int16, fp16, fp32], got {}",
                c.tops.len()
            ),
        );
    } else if let Some(v) = c.tops.iter().find(|v| !(**v >= 0.0 && v.is_finite())) {
        bad(
            "custom.tops",
            format!("throughputs must be finite and ≥ 0 (0 = unsupported), got {v}"),
        );
    } else if !(c.tops[3] > 0.0 || c.tops[4] > 0.0) {
        bad(
            "custom.tops",
            "missing throughput: fp16 or fp32 (entries 4 and 5) must be > 0 so every configuration has a fallback".into(),
        );
    }
    if !(c.bandwidth_gbps > 0.0 && c.bandwidth_gbps.is_finite()) {
        bad(
            "custom.bandwidth_gbps",
            format!("must be > 0, got {}", c.bandwidth_gbps),
        );
    }
    if c.pj_per_mac.len() != 5 {
        bad(
            "custom.pj_per_mac",
            format!("needs 5 values, got {}", c.pj_per_mac.len()),
        );
    } else if let Some(v) = c.pj_per_mac.iter().find(|v| !(**v >= 0.0 && v.is_finite())) {
        bad(
            "custom.pj_per_mac",
            format!("energies must be finite and ≥ 0, got {v}"),
        );
    }
    if !(c.pj_per_byte >= 0.0 && c.pj_per_byte.is_finite()) {
        bad(
            "custom.pj_per_byte",
            format!("must be finite and ≥ 0, got {}", c.pj_per_byte),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_follow_the_document() {
        let p = Params::default();
        assert_eq!(validate(&p), vec![]);
        assert_eq!((p.population_size, p.max_generations), (20, 50));
        assert_eq!((p.min_bits, p.max_bits), (4, 8));
        assert_eq!(p.weights(), [0.4, 0.3, 0.2, 0.1]);
        assert_eq!(p.elites(), 2);
    }

    #[test]
    fn each_bad_value_is_rejected_by_name() {
        type Edit = fn(&mut Params);
        let cases: &[(&str, Edit)] = &[
            ("min_bits", |p| p.min_bits = 16),
            ("min_bits", |p| p.min_bits = 3),
            ("max_bits", |p| p.max_bits = 32),
            ("activation_bits", |p| p.activation_bits = vec![8, 2]),
            ("activation_bits", |p| p.activation_bits = vec![]),
            ("latency_weight", |p| p.latency_weight = -0.1),
            ("accuracy_weight", |p| {
                p.accuracy_weight = 0.0;
                p.compression_weight = 0.0;
                p.latency_weight = 0.0;
                p.energy_weight = 0.0;
            }),
            ("hardware_target", |p| p.hardware_target = "tpu".into()),
            ("custom.tops", |p| {
                p.hardware_target = "custom".into();
                p.custom.bandwidth_gbps = 10.0;
            }),
            ("custom.tops", |p| {
                p.hardware_target = "custom".into();
                p.custom.bandwidth_gbps = 10.0;
                p.custom.tops = vec![0.0, -1.0, 0.0, 1.0, 0.0];
            }),
            ("custom.bandwidth_gbps", |p| {
                p.hardware_target = "custom".into();
                p.custom.tops = vec![0.0, 4.0, 0.0, 2.0, 0.0];
            }),
            ("target_memory_mb", |p| p.target_memory_mb = -1.0),
            ("population_size", |p| p.population_size = 2),
            ("mutation_rate", |p| p.mutation_rate = 1.5),
            ("elitism_ratio", |p| p.elitism_ratio = 1.0),
        ];
        for (key, edit) in cases {
            let mut p = Params::default();
            edit(&mut p);
            let issues = validate(&p);
            assert_eq!(issues.len(), 1, "{key}: {issues:?}");
            assert_eq!(issues[0].key, *key, "{issues:?}");
        }
    }

    #[test]
    fn space_respects_bits_and_flags() {
        let mut p = Params {
            min_bits: 2,
            max_bits: 4,
            allow_per_channel: false,
            ..Params::default()
        };
        let s = p.space();
        assert_eq!(s.weight_bits, vec![2, 4]);
        assert_eq!(s.granularities, vec![Granularity::PerTensor]);
        p.hardware_target = "custom".into();
        p.custom.tops = vec![0.0, 8.0, 0.0, 4.0, 0.0];
        p.custom.bandwidth_gbps = 25.0;
        assert_eq!(validate(&p), vec![]);
        assert!(p.target().is_ok());
    }
}
