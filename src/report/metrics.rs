//! What the report knows about a metric from its name alone: which way is
//! better, and what range its values live in (so its interval can respect
//! it). Study kinds name their metrics with these suffixes (`names.rs` of
//! each kind), and a study of the user's gets the same treatment by naming its
//! metrics the same way; a metric matching no rule is neutral ("higher" /
//! "lower", Student t interval).

use super::stats::Method;

/// Which way a change of a metric is an improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Higher,
    Lower,
    /// No rule: a change is reported as "higher" or "lower".
    Unknown,
}

/// (suffix, direction), first match wins.
const DIRECTIONS: &[(&str, Direction)] = &[
    ("fitness", Direction::Higher),
    ("_retention", Direction::Higher),
    ("accuracy", Direction::Higher),
    ("_compression", Direction::Higher),
    ("hypervolume", Direction::Higher),
    ("_beats_fp32", Direction::Higher),
    ("_feasible", Direction::Higher),
    ("_mse", Direction::Lower),
    ("_latency_ms", Direction::Lower),
    ("_energy_mj", Direction::Lower),
    ("_memory_mb", Direction::Lower),
    ("_bytes", Direction::Lower),
    ("_bits_per_weight", Direction::Lower),
    ("_gap", Direction::Lower),
    ("_fallback_layers", Direction::Lower),
    ("_gain", Direction::Higher),
];

/// Positive quantities: ratios, errors, sizes, times. Their interval is
/// computed on the log scale, so it never reaches zero or below.
const POSITIVE: &[&str] = &[
    "_retention",
    "_compression",
    "_mse",
    "_ratio",
    "_latency_ms",
    "_energy_mj",
    "_memory_mb",
    "_bytes",
    "_bits_per_weight",
];

/// Fractions in [0, 1]: their interval is computed on the logit scale.
const UNIT: &[&str] = &["accuracy", "_fraction"];

pub fn direction(metric: &str) -> Direction {
    if metric.starts_with("front_dominates_") {
        return Direction::Higher;
    }
    DIRECTIONS
        .iter()
        .find(|(s, _)| metric.ends_with(s))
        .map_or(Direction::Unknown, |(_, d)| *d)
}

/// The interval method of a metric; `boolean` when every value was a
/// boolean (a proportion: Wilson).
pub fn method(metric: &str, boolean: bool) -> Method {
    if boolean {
        Method::Wilson
    } else if UNIT.iter().any(|s| metric.ends_with(s)) {
        Method::Logit
    } else if POSITIVE.iter().any(|s| metric.ends_with(s)) {
        Method::Log
    } else {
        Method::StudentT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decide_direction_and_method() {
        assert_eq!(direction("block_retention"), Direction::Higher);
        assert_eq!(direction("best_latency_ms"), Direction::Lower);
        assert_eq!(direction("front_dominates_uniform_int8"), Direction::Higher);
        assert_eq!(direction("weights"), Direction::Unknown);
        assert_eq!(method("block_retention", false), Method::Log);
        assert_eq!(method("per_tensor_weight_mse", false), Method::Log);
        assert_eq!(method("test_champion_accuracy", false), Method::Logit);
        assert_eq!(method("block_beats_fp32", true), Method::Wilson);
        assert_eq!(method("fp32_fitness", false), Method::StudentT);
        assert_eq!(direction("hypervolume_gain"), Direction::Higher);
        assert_eq!(method("greedy_accuracy_gain", false), Method::StudentT);
        assert_eq!(method("front_above_greedy_fraction", false), Method::Logit);
    }
}
