//! Every output name of mixed_precision that more than one place uses,
//! declared once: the trial code writes metrics, tables and documents under
//! these names and the report section reads them back through the same
//! constants, so renaming one cannot leave the report printing `n/a`.

// trials.csv metrics.
// Named apart from the parameters `model`, `hardware_target` and `search`,
// which trials.csv carries as columns when they are swept: no CSV may repeat
// a column name (readers such as pandas silently keep one of the two).
pub const MODEL: &str = "model_description";
pub const ACCURACY_SOURCE: &str = "accuracy_source";
pub const COST_MODEL: &str = "cost_model";
pub const HARDWARE_TARGET: &str = "target_name";
pub const SEARCH: &str = "search_mode";
pub const DEVICE: &str = "device";
pub const FP32_LATENCY_MS: &str = "fp32_latency_ms";
pub const BEST_ACCURACY: &str = "best_accuracy";
pub const BEST_COMPRESSION: &str = "best_compression";
pub const BEST_LATENCY_MS: &str = "best_latency_ms";
pub const BEST_ENERGY_MJ: &str = "best_energy_mj";
pub const BEST_FALLBACK_LAYERS: &str = "best_fallback_layers";
pub const BEST_FEASIBLE: &str = "best_feasible";
pub const HYPERVOLUME: &str = "hypervolume";
pub const HV_OBJECTIVES: &str = "hv_objectives";
pub const FRONT_SIZE: &str = "front_size";
/// With `screen_texts`: the screen's size and how far it was off on the front.
pub const SCREEN_TEXTS: &str = "screen_texts";
pub const SCREEN_MEAN_ABS_ERROR: &str = "screen_mean_abs_error";
pub const SCREEN_MAX_ABS_ERROR: &str = "screen_max_abs_error";
pub const SCREEN_FRONT_SIZE: &str = "screen_front_size";
pub const SCREEN_FRONT_KEPT: &str = "screen_front_kept";
/// The sensitivity-greedy allocation at each front point's memory: how many
/// points it fits, the mean accuracy gain of the front over it (front minus
/// greedy) and the fraction of points where the front is more accurate.
pub const GREEDY_MATCHED: &str = "greedy_matched_points";
pub const FRONT_OVER_GREEDY: &str = "greedy_accuracy_gain";
pub const FRONT_ABOVE_GREEDY: &str = "front_above_greedy_fraction";
/// Prefix of the per-baseline dominance flags: `front_dominates_<baseline>`.
pub const FRONT_DOMINATES: &str = "front_dominates_";

/// The dominance flag of one baseline.
pub fn front_dominates(baseline: &str) -> String {
    format!("{FRONT_DOMINATES}{baseline}")
}

// Baselines (baselines.csv's `baseline` column and the dominance flags).
pub const UNIFORM_FP16: &str = "uniform_fp16";
pub const UNIFORM_INT8: &str = "uniform_int8";
pub const UNIFORM_INT4: &str = "uniform_int4";
pub const SENSITIVITY_GREEDY: &str = "sensitivity_greedy";

// Tables and their shared columns.
pub const PARETO: &str = "pareto";
pub const BASELINES: &str = "baselines";
pub const GENERATIONS: &str = "generations";
pub const SENSITIVITY: &str = "sensitivity";
pub const ACCURACY: &str = "accuracy";
pub const COMPRESSION: &str = "compression";
pub const LATENCY_MS: &str = "latency_ms";
pub const FEASIBLE: &str = "feasible";
pub const BASELINE: &str = "baseline";
pub const GENERATION: &str = "generation";

/// The exported configuration: `trials/<id>/quant_config.json` (and `.yaml`).
pub const QUANT_CONFIG: &str = "quant_config";
