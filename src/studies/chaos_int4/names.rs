//! Every output name of chaos_int4, declared once: the trial code writes
//! metrics and tables under these names and the report section reads them
//! back through the same constants, so renaming one cannot leave the report
//! printing `n/a`.

/// Held-out fitness of the FP32 champion.
pub const FP32_FITNESS: &str = "fp32_fitness";
pub const FP32_BYTES: &str = "fp32_bytes";
pub const WEIGHTS: &str = "weights";
/// Mean held-out fitness of the random initial population.
pub const RANDOM_POLICY_FITNESS: &str = "random_policy_fitness";
pub const CHAMPION_SELECTION_FITNESS: &str = "champion_selection_fitness";
pub const OUTLIER_PER_TENSOR_MSE: &str = "outlier_per_tensor_mse";
pub const OUTLIER_BLOCK_MSE: &str = "outlier_block_mse";
pub const OUTLIER_MSE_RATIO: &str = "outlier_mse_ratio";

/// Quantization methods, the prefix of each per-method metric.
pub const PER_TENSOR: &str = "per_tensor";
pub const BLOCK: &str = "block";
/// The document's block quantizer (its clipped zero point), verbatim.
pub const BLOCK_DOC: &str = "block_doc";
/// Prefix of the extra block-wise bit widths (`block_int<b>`).
pub const BLOCK_INT: &str = "block_int";

/// The extra block-wise method at `bits`.
pub fn block_int(bits: u32) -> String {
    format!("{BLOCK_INT}{bits}")
}

/// Per-method metric suffixes: `<method><suffix>`.
pub const FITNESS: &str = "_fitness";
pub const RETENTION: &str = "_retention";
pub const BEATS_FP32: &str = "_beats_fp32";
pub const WEIGHT_MSE: &str = "_weight_mse";
pub const BYTES: &str = "_bytes";
pub const BITS_PER_WEIGHT: &str = "_bits_per_weight";
pub const COMPRESSION: &str = "_compression";

/// A per-method metric.
pub fn of(method: &str, suffix: &str) -> String {
    format!("{method}{suffix}")
}

/// The per-generation table and its columns.
pub const GENERATIONS: &str = "generations";
pub const GENERATION: &str = "generation";
pub const TRAIN_BEST_FITNESS: &str = "train_best_fitness";
pub const TRAIN_MEAN_FITNESS: &str = "train_mean_fitness";
pub const HELDOUT_BEST_FITNESS: &str = "heldout_best_fitness";

/// The parameter the report names bit widths by.
pub const QUANT_BITS: &str = "quant.bits";
