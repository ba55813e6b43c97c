//! The bit-allocation document's fitness: a cliff at the accuracy threshold.
//!
//! ```text
//! accuracy <  T:  fitness = accuracy × 0.1
//! accuracy >= T:  fitness = compression × (1 + (accuracy − T) / (1 − T))
//! ```
//!
//! The bonus term rewards accuracy *above* the threshold, up to doubling the
//! fitness at accuracy 1, so the fitness-best allocation need not be the
//! compression-best feasible one (the exact optimum). Feasibility uses the
//! accuracy model's predicate ([`Evaluation::meets`]).

use crate::models::Evaluation;

pub fn fitness(eval: &Evaluation, threshold: f64) -> f64 {
    if eval.meets(threshold) {
        eval.compression * (1.0 + (eval.accuracy - threshold) / (1.0 - threshold))
    } else {
        eval.accuracy * 0.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cliff_and_bonus() {
        let at = |accuracy: f64, compression: f64| Evaluation {
            log_accuracy: accuracy.ln(),
            accuracy,
            allocated_bits: 1,
            fp32_bits: 1,
            compression,
        };
        assert!((fitness(&at(0.94, 4.0), 0.95) - 0.094).abs() < 1e-12);
        assert!((fitness(&at(0.95, 4.0), 0.95) - 4.0).abs() < 1e-9);
        assert!((fitness(&at(1.0, 2.0), 0.95) - 4.0).abs() < 1e-12);
    }
}
