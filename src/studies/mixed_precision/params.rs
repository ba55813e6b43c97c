//! Parameters of `mixed_precision`: the document's `QuantizationEvolutionConfig`
//! names and defaults (population_size 20, max_generations 50, …), plus the
//! model choice, the search mode and a custom hardware target.
//!
//! TOML has no null, so the document's `Optional` constraints use 0 for "no
//! constraint".

use super::genome::{ACT_BITS, CALIBRATIONS, GROUP_SIZES, Granularity, Space, WEIGHT_BITS};
use crate::hw::{self, TARGET_CHOICES, Target, TargetName};
use crate::models::Family;
use crate::nn::TaskConfig;
use crate::params::Choice;
use crate::params::{FilePath, FilePaths, NON_NEGATIVE};
use crate::studies::ParamIssue;
use serde::{Deserialize, Serialize};

/// Which model is searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Inventory,
    Mlp,
    Transformer,
    Command,
}
crate::choice!(ModelKind {
    Inventory => "inventory",
    Mlp => "mlp",
    Transformer => "transformer",
    Command => "command",
});

/// What `model = "transformer"` searches as accuracy: the runtime's
/// quality figures, declared once in `crate::models::transformer::session`.
pub use crate::models::transformer::session::Quality as TransformerMetric;

/// How `model = "transformer"` maps genes to linear layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerGroups {
    /// One gene per linear layer.
    Layer,
    /// One gene per role (the same linear in every block, e.g. every
    /// `attn_q`): identical shapes, so the cost model's sums are exact.
    Role,
}
crate::choice!(LayerGroups { Layer => "layer", Role => "role" });

/// Which weight formats the genes may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Formats {
    /// Every gene the space allows (integer, float, binary / ternary).
    Any,
    /// Only what a GGUF file stores exactly: Q4_0, Q4_1, Q8_0, F16.
    Ggml,
}
crate::choice!(Formats { Any => "any", Ggml => "ggml" });

/// The search algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// The document's GA on the weighted-sum fitness.
    WeightedSum,
    /// NSGA-II on the objectives with positive weight.
    Nsga2,
}
crate::choice!(SearchMode { WeightedSum => "weighted_sum", Nsga2 => "nsga2" });

/// Weight widths a GGUF file stores exactly (Q4_0/Q4_1, Q8_0, F16).
const GGML_BITS: [u8; 3] = [4, 8, 16];

/// Resource bounds: beyond these a trial would take hours or exhaust memory.
const MAX_POPULATION: usize = 100_000;
const MAX_GENERATIONS: usize = 1_000_000;
const MAX_ARCHIVE: usize = 100_000;
const MAX_TOKENS: u64 = 1 << 20;
/// Longest an evaluator request may take: a day.
const MAX_EVALUATOR_TIMEOUT_S: f64 = 24.0 * 3600.0;
const MAX_WORKERS: usize = 256;

crate::params! {
    pub struct Params {
        /// inventory: a layer inventory at real scale, not run (accuracy from the per-layer sensitivity MODEL shared with bit_allocation); mlp: a glyph classifier trained in-process whose accuracy is MEASURED on a held-out split; transformer: a pretrained BERT encoder or LLaMA decoder (`model_path`) whose embedding or next-token fidelity is MEASURED; command: your own model in evaluator worker processes (`evaluator`), which MEASURE each configuration (README, "External evaluator").
        model: ModelKind = ModelKind::Inventory;
        /// model = "transformer": a Hugging Face BERT-family folder, a LLaMA-family GGUF file or Hugging Face folder, relative to the manifest (e.g. "../models/all-MiniLM-L6-v2", fetched by scripts/fetch-models.sh); its files are part of trial identity.
        model_path: FilePath = FilePath::default();
        /// model = "transformer": the first N texts of the built-in evaluation corpus every genome is measured on.
        eval_texts: usize = 32, range 2..=100_000;
        /// model = "transformer": the first N texts of the built-in calibration corpus (activation ranges).
        calib_texts: usize = 32, range 1..=100_000;
        /// model = "transformer": tokens per text at most.
        max_seq_len: usize = 64, range 3..=4096;
        /// model = "transformer": the quality searched as accuracy. Encoders: mean_cosine or min_cosine of each text's sentence embedding to the unquantized model's, or nn_agreement (texts whose nearest other text is unchanged). Decoders: top1_agreement (next-token argmax unchanged), kl_fidelity = exp(-mean KL), perplexity_ratio = reference / quantized perplexity.
        transformer_metric: TransformerMetric = TransformerMetric::MeanCosine;
        /// model = "transformer": layer (one gene per linear layer) or role (one gene per role shared by every block, e.g. all attention queries).
        layer_groups: LayerGroups = LayerGroups::Layer;
        /// model = "transformer": 0, or search on the first N evaluation texts only (a cheap screen) and re-measure the final front and the baselines on all `eval_texts`; the report shows both.
        screen_texts: usize = 0, range 0..=100_000;
        /// Most genome evaluations the search may spend, counting the sensitivity analysis, the greedy baseline and the population (0 = no budget): the search stops before a generation that could exceed it; the uniform baselines, a screen's re-measurement and the sensitivity-greedy allocations at the front's sizes come on top.
        max_evaluations: usize = 0, range 0..=100_000_000;
        /// model = "command": the worker's program and arguments (JSON lines on stdin/stdout); entries naming files relative to the manifest are passed as absolute paths and their content is part of trial identity.
        evaluator: FilePaths = FilePaths::default();
        /// model = "command": evaluator worker processes run side by side (results do not depend on it).
        parallel_evaluations: usize = 1, range 1..=MAX_WORKERS;
        /// model = "command": seconds a worker may take for one request (describe or evaluate) before it is killed and the trial fails.
        evaluator_timeout_s: f64 = 600.0, range 0.001..=MAX_EVALUATOR_TIMEOUT_S;
        /// model = "command": the reply field searched as accuracy (higher is better).
        evaluator_metric: String = "accuracy".into();
        /// Built-in inventory: every weight matrix / convolution with its real shape and parameter count.
        inventory: Family = Family::Resnet50Like;
        /// Seed of the inventory's modelled sensitivity curves.
        inventory_seed: u64 = 42;
        /// A .safetensors file to import instead of the built-in inventory ("" = built-in): header read, each layer's weight error measured at 2-16 bits as the sensitivity signal.
        inventory_file: FilePath = FilePath::default();
        /// Tokens processed per inference by transformer inventories and imported files (1 = one decode step): linear layers run on every token, embedding tables look up only theirs.
        tokens: u64 = 1, range 1..=MAX_TOKENS;
        /// weighted_sum: the document's GA on the weighted fitness; nsga2: NSGA-II on the objectives with positive weight.
        search: SearchMode = SearchMode::Nsga2;
        /// Genomes per generation.
        population_size: usize = 20, range 4..=MAX_POPULATION;
        /// Generations.
        max_generations: usize = 50, range 1..=MAX_GENERATIONS;
        /// Probability that an offspring mutates (one field of one random layer, then another with probability 1/2); clones of a parent always mutate.
        mutation_rate: f64 = 0.2, range 0.0..=1.0;
        /// Probability an offspring is a layer-wise uniform crossover.
        crossover_rate: f64 = 0.7, range 0.0..=1.0;
        /// Fraction of the population copied unchanged (weighted_sum; NSGA-II is elitist by construction) [0, 1).
        elitism_ratio: f64 = 0.1;
        /// Smallest weight bit width, one of 1, 2, 4, 6, 8, 16 (1 = binary weights, and ternary becomes a choice too; mlp and inventory only).
        min_bits: u32 = 4;
        /// any: every gene min_bits..max_bits and activation_bits allow; ggml: only genes a GGUF file stores exactly, so `evoquant apply --format gguf` writes the chosen configuration as measured: 4 bits as Q4_0 (symmetric) or Q4_1 (asymmetric), 8 bits as Q8_0, 16 as F16 (ggml's blocks of 32 and rounding), activations unquantized (GGUF records no activation precision; activation_bits is then unused); the uniform baselines become F16 / Q8_0 / Q4_0.
        formats: Formats = Formats::Any;
        /// 8-bit weights and activations may also be OCP FP8 E4M3 (a gene flag, drawn and mutated by the search): weights with an f32 scale per channel or per tensor, activations with a static per-tensor scale from calibration, both symmetric; native on the targets with FP8 tensor cores (nvidia_l4, nvidia_h100_sxm), elsewhere computed in the 16-bit float path (a fallback); not for formats = "ggml" (GGUF has no FP8 type) or model = "command".
        fp8: bool = false;
        /// Largest weight bit width, one of 1, 2, 4, 6, 8, 16 (≥ min_bits).
        max_bits: u32 = 8;
        /// Activation bit widths the search may use, a non-empty subset of [4, 8, 16].
        activation_bits: Vec<u32> = vec![4, 8, 16];
        /// Per-layer bit widths; false = one width for all layers.
        allow_mixed_precision: bool = true;
        /// Calibration methods the search may use, a non-empty subset of min_max, percentile, mse, entropy (the document's four; entropy and mse on per-channel weights of a large model are slow).
        calibrations: Vec<String> = CALIBRATIONS.iter().map(|c| c.name().to_string()).collect();
        /// Allow per-channel and per-group scales; false = per-tensor only.
        allow_per_channel: bool = true;
        /// Target of the cost model; `custom` uses the custom.* parameters.
        hardware_target: TargetName = "arm_neon".into();
        /// Hard latency limit in ms (0 = none).
        target_latency_ms: f64 = 0.0, range NON_NEGATIVE;
        /// Hard memory limit in MB (10^6 bytes, weights with scales and zero points plus FP16 norms/biases; 0 = none).
        target_memory_mb: f64 = 0.0, range NON_NEGATIVE;
        /// Hard energy-per-inference limit in mJ (0 = none).
        target_energy_mj: f64 = 0.0, range NON_NEGATIVE;
        /// Weight of accuracy.
        accuracy_weight: f64 = 0.4, range NON_NEGATIVE;
        /// Weight of compression (memory).
        compression_weight: f64 = 0.3, range NON_NEGATIVE;
        /// Weight of latency.
        latency_weight: f64 = 0.2, range NON_NEGATIVE;
        /// Weight of energy.
        energy_weight: f64 = 0.1, range NON_NEGATIVE;
        /// Seed a quarter of the initial population from the per-layer sensitivity table.
        use_sensitivity_analysis: bool = true;
        /// Memoise genome evaluations (results are identical either way).
        enable_caching: bool = true;
        /// Most non-dominated genomes kept; beyond it the most crowded are dropped.
        archive_size: usize = 64, range 2..=MAX_ARCHIVE;
        custom: CustomTarget = CustomTarget::default();
        mlp: MlpParams = MlpParams::default();
        arch: ArchParams = ArchParams::default();
    }
}

crate::params! {
    /// `[params.arch]`: co-evolution of the classifier's architecture with
    /// its quantization (model = "mlp", search = "nsga2").
    pub struct ArchParams {
        /// Co-evolve architecture and quantization: genomes also choose the number of hidden layers, their widths and the activation; each architecture is trained once per trial (seed from the trial seed and the architecture).
        enabled: bool = false;
        /// [fewest, most] hidden layers.
        depth: Vec<usize> = vec![1, 3], range 0..=MAX_DEPTH;
        /// Hidden widths the genes choose from.
        widths: Vec<usize> = vec![8, 16, 24, 32, 48, 64], range 1..=4096;
        /// Hidden activations the genes choose from (relu, tanh).
        activations: Vec<String> = vec!["relu".into()];
        /// Probability that an offspring's architecture mutates (a width steps, a layer is inserted or removed with its gene, or the activation changes; then another change with probability 1/2).
        mutation_rate: f64 = 0.3, range 0.0..=1.0;
        /// Also run the quantization-only search on the mlp.hidden architecture (with the classifier activation) in the same trial, with the same population, generations and data: the paired comparison reported as quant_only_hypervolume and hypervolume_gain.
        compare_quant_only: bool = true;
    }
}

/// Most hidden layers a co-evolved architecture may have.
const MAX_DEPTH: usize = 8;

crate::params! {
    /// `[params.mlp]`: the classifier trained for `model = "mlp"` (the rest of
    /// `crate::nn::TaskConfig` keeps its defaults); the ranges are the
    /// classifier's own limits.
    pub struct MlpParams {
        /// Glyph classes.
        classes: usize = TaskConfig::default().classes, range 2..=crate::nn::classifier::MAX_CLASSES;
        /// Image side in pixels.
        image_size: usize = TaskConfig::default().image_size, range 6..=64;
        /// Hidden layer widths (ReLU).
        hidden: Vec<usize> = TaskConfig::default().hidden, range 1..=4096;
        /// Training samples.
        train_size: usize = TaskConfig::default().train_size, range 1..=1_000_000;
        /// Calibration samples (activation ranges).
        calibration_size: usize = TaskConfig::default().calibration_size, range 1..=1_000_000;
        /// Held-out samples every accuracy is measured on.
        test_size: usize = TaskConfig::default().test_size, range 1..=1_000_000;
        /// Training epochs.
        epochs: usize = TaskConfig::default().epochs, range 1..=10_000;
        /// Std. dev. of Gaussian pixel noise (ink = 1).
        pixel_noise: f64 = TaskConfig::default().pixel_noise, range 0.0..=10.0;
        /// Quantization-aware training: epochs of fine-tuning with each configuration's own fake-quantized weights in the forward pass (straight-through estimator, a tenth of the step size) before its accuracy is measured; 0 = off.
        qat_epochs: usize = 0, range 0..=1_000;
    }
}

impl MlpParams {
    pub fn task_config(&self) -> TaskConfig {
        TaskConfig {
            classes: self.classes,
            image_size: self.image_size,
            hidden: self.hidden.clone(),
            train_size: self.train_size,
            calibration_size: self.calibration_size,
            test_size: self.test_size,
            epochs: self.epochs,
            pixel_noise: self.pixel_noise,
            ..TaskConfig::default()
        }
    }
}

crate::params! {
    /// `[params.custom]`: a user-defined hardware target.
    pub struct CustomTarget {
        /// Name of the custom device (hardware_target = "custom").
        name: String = "custom device".into();
        /// Peak TOPS (2 ops per MAC) for [int4, int8, int16, fp16, fp32]; 0 = unsupported; fp16 or fp32 must be > 0.
        tops: Vec<f64> = vec![0.0; 5];
        /// Memory bandwidth in GB/s (> 0).
        bandwidth_gbps: f64 = 0.0;
        /// Energy per MAC in pJ for [int4, int8, int16, fp16, fp32] (≥ 0). Default: Horowitz ISSCC 2014 (see hw::targets), as a starting point.
        pj_per_mac: Vec<f64> = vec![0.08, 0.23, 0.85, 1.5, 4.6];
        /// Energy per DRAM byte in pJ (≥ 0).
        pj_per_byte: f64 = 243.75;
        /// The device runs W4A16 / W8A16 by decompressing weights to fp16.
        weight_only: bool = false;
    }
}

impl Params {
    /// The parameters that take no part in a trial with these values (see
    /// `Study::unused_params`): each model reads its own group, the custom
    /// target only when selected, the GA's elitism only under weighted_sum.
    pub fn unused(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let model = self.model;
        if model != ModelKind::Transformer {
            out.extend([
                "model_path",
                "eval_texts",
                "calib_texts",
                "max_seq_len",
                "transformer_metric",
                "layer_groups",
                "screen_texts",
            ]);
        }
        if model != ModelKind::Command {
            out.extend([
                "evaluator",
                "parallel_evaluations",
                "evaluator_timeout_s",
                "evaluator_metric",
            ]);
        }
        if model != ModelKind::Inventory {
            out.extend(["inventory", "inventory_seed", "inventory_file"]);
        } else if !self.inventory_file.is_empty() {
            // An imported file's sensitivity is measured, its shapes are real.
            out.extend(["inventory", "inventory_seed"]);
        }
        if !matches!(model, ModelKind::Inventory | ModelKind::Transformer) {
            out.push("tokens");
        }
        if model != ModelKind::Mlp {
            out.push("mlp.");
        }
        if model != ModelKind::Mlp || self.search != SearchMode::Nsga2 {
            out.push("arch.");
        } else if !self.arch.enabled {
            out.extend([
                "arch.depth",
                "arch.widths",
                "arch.activations",
                "arch.mutation_rate",
                "arch.compare_quant_only",
            ]);
        }
        if !self.hardware_target.is_custom() {
            out.push("custom.");
        }
        if self.search == SearchMode::Nsga2 {
            out.push("elitism_ratio");
        }
        if self.formats == Formats::Ggml {
            out.push("activation_bits");
        }
        out
    }

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

    pub fn target(&self) -> Result<Target, hw::TargetError> {
        if self.hardware_target.is_custom() {
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
            hw::builtin(self.hardware_target.as_str()).ok_or_else(|| {
                hw::TargetError::Unknown(
                    self.hardware_target.as_str().to_string(),
                    TARGET_CHOICES.join(", "),
                )
            })
        }
    }

    pub fn space(&self) -> Space {
        let ggml = self.formats == Formats::Ggml;
        let weight_bits: Vec<u8> = WEIGHT_BITS
            .iter()
            .copied()
            .filter(|&b| (self.min_bits..=self.max_bits).contains(&u32::from(b)))
            .filter(|b| !ggml || GGML_BITS.contains(b))
            .collect();
        if ggml {
            // What ggml fixes; `Space::canonical` sets the same on every gene.
            return Space {
                weight_bits,
                act_bits: vec![32],
                granularities: vec![Granularity::PerGroup],
                group_sizes: vec![32],
                mixed: self.allow_mixed_precision,
                ggml,
                fp8: false,
                calibrations: vec![crate::quant::Calibration::MinMax],
            };
        }
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
            ggml,
            fp8: self.fp8,
            calibrations: CALIBRATIONS
                .iter()
                .copied()
                .filter(|c| self.calibrations.iter().any(|n| n == c.name()))
                .collect(),
        }
    }

    pub fn elites(&self) -> usize {
        ((self.elitism_ratio * self.population_size as f64).round() as usize)
            .min(self.population_size.saturating_sub(1))
    }
}

pub fn validate(p: &Params) -> Vec<ParamIssue> {
    let mut issues = Vec::new();
    let mut bad = |key: &str, msg: String| issues.push(ParamIssue::new(key, msg));
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
    let names: Vec<&str> = CALIBRATIONS.iter().map(|c| c.name()).collect();
    if p.calibrations.is_empty() {
        bad(
            "calibrations",
            format!("must name at least one of {}", names.join(", ")),
        );
    }
    if let Some(c) = p.calibrations.iter().find(|c| !names.contains(&c.as_str())) {
        bad(
            "calibrations",
            format!("`{c}` is not a calibration method ({})", names.join(", ")),
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
    if p.weights().iter().all(|&w| w == 0.0) {
        bad(
            "accuracy_weight",
            "all four objective weights are 0; at least one must be positive".into(),
        );
    }
    // The classifier's own limits are the declared ranges of `mlp.*`; this
    // is the backstop for relations between them.
    if p.model == ModelKind::Mlp {
        if let Err(e) = p.mlp.task_config().validate() {
            bad("mlp", e.to_string());
        }
    }
    if p.model == ModelKind::Transformer {
        let (eval, calib) = super::transformer::corpus_sizes();
        if p.eval_texts > eval {
            bad(
                "eval_texts",
                format!(
                    "the built-in evaluation corpus has {eval} texts, got {}",
                    p.eval_texts
                ),
            );
        }
        if p.calib_texts > calib {
            bad(
                "calib_texts",
                format!(
                    "the built-in calibration corpus has {calib} texts, got {}",
                    p.calib_texts
                ),
            );
        }
        if p.model_path.is_empty() {
            bad(
                "model_path",
                "set the model folder, e.g. model_path = \"../models/all-MiniLM-L6-v2\"".into(),
            );
        }
        if p.screen_texts > 0 && p.screen_texts >= p.eval_texts {
            bad(
                "screen_texts",
                format!(
                    "a screen uses fewer texts than eval_texts ({}), got {}",
                    p.eval_texts, p.screen_texts
                ),
            );
        }
        if p.screen_texts == 1 && !p.transformer_metric.for_decoder() {
            bad(
                "screen_texts",
                "an encoder's metrics compare at least 2 texts".into(),
            );
        }
    }
    if p.formats == Formats::Ggml && p.space().weight_bits.is_empty() {
        bad(
            "formats",
            format!(
                "formats = \"ggml\" stores 4, 8 or 16 bits (Q4_0/Q4_1, Q8_0, F16); min_bits..max_bits = {}..{} holds none",
                p.min_bits, p.max_bits
            ),
        );
    }
    if p.formats == Formats::Ggml && p.arch.enabled {
        bad(
            "formats",
            "formats = \"ggml\" is for deploying a fixed model; co-evolution (arch.enabled) trains its own networks".into(),
        );
    }
    if p.fp8 {
        let space = p.space();
        if p.formats == Formats::Ggml {
            bad(
                "fp8",
                "GGUF has no FP8 type: formats = \"ggml\" and fp8 = true exclude each other".into(),
            );
        } else if p.model == ModelKind::Command {
            bad(
                "fp8",
                "fp8 = true is supported for model = \"mlp\", \"inventory\" and \"transformer\"; an external evaluator would receive formats it may not implement".into(),
            );
        } else if !space.weight_bits.contains(&8) && !space.act_bits.contains(&8) {
            bad(
                "fp8",
                format!(
                    "fp8 = true needs 8-bit operands: min_bits..max_bits = {}..{} and activation_bits = {:?} hold no 8",
                    p.min_bits, p.max_bits, p.activation_bits
                ),
            );
        }
    }
    if p.min_bits == 1 && p.model == ModelKind::Command {
        bad(
            "min_bits",
            "min_bits = 1 (binary and ternary weights) is supported for model = \"mlp\", \"inventory\" and \"transformer\"; an external evaluator would receive formats it may not implement".into(),
        );
    }
    if p.mlp.qat_epochs > 0 && p.model != ModelKind::Mlp {
        bad(
            "mlp.qat_epochs",
            "quantization-aware training needs model = \"mlp\"".into(),
        );
    }
    validate_arch(p, &mut bad);
    if p.model == ModelKind::Command && p.evaluator_metric.is_empty() {
        bad(
            "evaluator_metric",
            "must name a reply field, e.g. \"accuracy\"".into(),
        );
    }
    if p.hardware_target.is_custom() {
        validate_custom(&p.custom, &mut bad);
    } else if hw::builtin(p.hardware_target.as_str()).is_none() {
        bad(
            "hardware_target",
            format!(
                "unknown hardware target `{}` (known: {})",
                p.hardware_target.as_str(),
                TARGET_CHOICES.join(", ")
            ),
        );
    }
    issues
}

/// The activations `arch.activations` may name.
pub const ACTIVATIONS: [(&str, crate::nn::classifier::Activation); 2] = [
    ("relu", crate::nn::classifier::Activation::Relu),
    ("tanh", crate::nn::classifier::Activation::Tanh),
];

impl ArchParams {
    /// The named activations (unknown names dropped; `validate` rejects them).
    pub fn activation_list(&self) -> Vec<crate::nn::classifier::Activation> {
        ACTIVATIONS
            .iter()
            .filter(|(n, _)| self.activations.iter().any(|a| a == n))
            .map(|&(_, a)| a)
            .collect()
    }
}

fn validate_arch(p: &Params, bad: &mut impl FnMut(&str, String)) {
    let a = &p.arch;
    if !a.enabled {
        return;
    }
    if p.model != ModelKind::Mlp {
        bad(
            "arch.enabled",
            "architecture co-evolution needs model = \"mlp\" (the trainable classifier)".into(),
        );
    }
    if p.search != SearchMode::Nsga2 {
        bad(
            "arch.enabled",
            "architecture co-evolution runs on NSGA-II: set search = \"nsga2\"".into(),
        );
    }
    if a.depth.len() != 2 || a.depth[0] > a.depth[1] {
        bad(
            "arch.depth",
            format!(
                "needs [fewest, most] hidden layers with fewest ≤ most, got {:?}",
                a.depth
            ),
        );
    }
    if a.widths.is_empty() {
        bad("arch.widths", "must name at least one hidden width".into());
    }
    let names: Vec<&str> = ACTIVATIONS.iter().map(|a| a.0).collect();
    if a.activations.is_empty() {
        bad(
            "arch.activations",
            format!("must name at least one of {}", names.join(", ")),
        );
    }
    if let Some(x) = a.activations.iter().find(|x| !names.contains(&x.as_str())) {
        bad(
            "arch.activations",
            format!("`{x}` is not an activation ({})", names.join(", ")),
        );
    }
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
        assert_eq!(crate::params::range_issues(&p), vec![]);
        assert_eq!((p.population_size, p.max_generations), (20, 50));
        assert_eq!((p.min_bits, p.max_bits), (4, 8));
        assert_eq!(p.weights(), [0.4, 0.3, 0.2, 0.1]);
        assert_eq!(p.elites(), 2);
    }

    #[test]
    fn each_model_uses_its_own_parameters_only() {
        let unused = |edit: fn(&mut Params)| {
            let mut p = Params::default();
            edit(&mut p);
            p.unused()
        };
        // The default: a built-in inventory on a built-in target, NSGA-II.
        let u = unused(|_| {});
        for k in [
            "model_path",
            "evaluator",
            "mlp.",
            "arch.",
            "custom.",
            "elitism_ratio",
        ] {
            assert!(u.contains(&k), "{k}");
        }
        for k in ["inventory", "inventory_seed", "tokens", "activation_bits"] {
            assert!(!u.contains(&k), "{k}");
        }
        let u = unused(|p| p.inventory_file = FilePath::from("net.safetensors"));
        assert!(u.contains(&"inventory_seed") && !u.contains(&"tokens"));
        assert!(!u.contains(&"inventory_file"));
        let u = unused(|p| p.model = ModelKind::Transformer);
        assert!(!u.contains(&"model_path") && !u.contains(&"tokens"));
        assert!(u.contains(&"inventory") && u.contains(&"mlp."));
        let u = unused(|p| p.model = ModelKind::Mlp);
        assert!(!u.contains(&"mlp.") && !u.contains(&"arch.enabled"));
        assert!(u.contains(&"arch.widths") && u.contains(&"tokens"));
        let u = unused(|p| {
            p.model = ModelKind::Mlp;
            p.arch.enabled = true;
        });
        assert!(!u.iter().any(|k| k.starts_with("arch")));
        let u = unused(|p| {
            p.model = ModelKind::Command;
            p.search = SearchMode::WeightedSum;
            p.hardware_target = "custom".into();
            p.formats = Formats::Ggml;
        });
        assert!(!u.contains(&"evaluator") && !u.contains(&"custom."));
        assert!(!u.contains(&"elitism_ratio"));
        assert!(u.contains(&"activation_bits") && u.contains(&"arch."));
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
            ("arch.enabled", |p| p.arch.enabled = true),
            ("arch.depth", |p| {
                p.model = ModelKind::Mlp;
                p.arch.enabled = true;
                p.arch.depth = vec![2, 1];
            }),
            ("arch.activations", |p| {
                p.model = ModelKind::Mlp;
                p.arch.enabled = true;
                p.arch.activations = vec!["gelu".into()];
            }),
            ("arch.widths", |p| {
                p.model = ModelKind::Mlp;
                p.arch.enabled = true;
                p.arch.widths = vec![];
            }),
            ("min_bits", |p| {
                p.model = ModelKind::Command;
                p.evaluator = crate::params::FilePaths(vec!["worker.py".into()]);
                p.min_bits = 1;
            }),
            ("mlp.qat_epochs", |p| p.mlp.qat_epochs = 1),
            ("fp8", |p| {
                p.fp8 = true;
                p.formats = Formats::Ggml;
            }),
            ("fp8", |p| {
                p.fp8 = true;
                p.max_bits = 6;
                p.activation_bits = vec![4, 16];
            }),
            ("fp8", |p| {
                p.fp8 = true;
                p.model = ModelKind::Command;
                p.evaluator = crate::params::FilePaths(vec!["worker.py".into()]);
            }),
        ];
        for (key, edit) in cases {
            let mut p = Params::default();
            edit(&mut p);
            let mut issues = crate::params::range_issues(&p);
            if issues.is_empty() {
                issues = validate(&p);
            }
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
        // Ternary is a level only when binary is allowed.
        assert_eq!(s.weight_levels(), vec![(2, false), (4, false)]);
        p.min_bits = 1;
        assert_eq!(
            p.space().weight_levels(),
            vec![(1, false), (2, true), (2, false), (4, false)]
        );
        p.min_bits = 2;
        assert_eq!(s.granularities, vec![Granularity::PerTensor]);
        p.hardware_target = "custom".into();
        p.custom.tops = vec![0.0, 8.0, 0.0, 4.0, 0.0];
        p.custom.bandwidth_gbps = 25.0;
        assert_eq!(validate(&p), vec![]);
        assert!(p.target().is_ok());
    }
}
