//! The accuracy model and the compression formula.
//!
//! **Accuracy (retention relative to the FP32 model).** Each layer `l` stored at
//! precision `p_l` keeps a fraction `1 − loss_l(p_l)` of the accuracy, and
//! layers act independently:
//!
//! ```text
//! accuracy = Π_l (1 − loss_l(p_l))       log_accuracy = Σ_l ln(1 − loss_l(p_l))
//! ```
//!
//! The sum is taken in layer order and `accuracy = exp(log_accuracy)`; an
//! allocation meets a threshold `T` when `log_accuracy ≥ ln T`. Every part of
//! evoquant (heuristics, baselines, the exact optimum) uses this one predicate,
//! so "feasible" means the same bits everywhere. The product form makes the
//! constraint additive in logs, which turns the optimum into a multiple-choice
//! knapsack. It is a *model*: real quantization errors interact.
//!
//! **Compression.** Only parameter bits are counted:
//!
//! ```text
//! compression = 32 · Σ_l params_l / Σ_l params_l · bits(p_l)
//! ```
//!
//! Real deployments also store scales and zero points (e.g. one FP16 scale per
//! group of 32–128 weights adds 0.125–0.5 bits per weight); the `quant` module
//! measures that overhead. This model leaves it out, which flatters low-bit
//! formats; compression figures from it are upper bounds.

use super::layer::Inventory;
use super::precision::Precision;

/// `ln(1 − loss)`, the additive contribution of one layer to `log_accuracy`.
pub fn log_retention(loss: f64) -> f64 {
    (-loss).ln_1p()
}

/// Accuracy and size of one allocation under the model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Σ ln(1 − loss), in layer order.
    pub log_accuracy: f64,
    /// exp(log_accuracy): retained fraction of FP32 accuracy.
    pub accuracy: f64,
    /// Σ params · bits.
    pub allocated_bits: u64,
    /// 32 · Σ params.
    pub fp32_bits: u64,
    /// fp32_bits / allocated_bits.
    pub compression: f64,
}

impl Evaluation {
    /// Does the allocation keep at least `threshold` of the accuracy?
    pub fn meets(&self, threshold: f64) -> bool {
        self.log_accuracy >= threshold.ln()
    }

    /// Build from the two sums (used by the exact solver, which accumulates
    /// them in the same layer order).
    pub fn from_sums(log_accuracy: f64, allocated_bits: u64, total_params: u64) -> Self {
        let fp32_bits = total_params
            .checked_mul(32)
            .expect("inventory exceeds MAX_TOTAL_PARAMS");
        Evaluation {
            log_accuracy,
            accuracy: log_accuracy.exp(),
            allocated_bits,
            fp32_bits,
            compression: if allocated_bits == 0 {
                1.0
            } else {
                fp32_bits as f64 / allocated_bits as f64
            },
        }
    }
}

/// Evaluate an allocation (one precision per layer, in layer order).
///
/// # Panics
/// If `allocation` and the inventory differ in length (a caller bug).
pub fn evaluate(inventory: &Inventory, allocation: &[Precision]) -> Evaluation {
    assert_eq!(
        inventory.layers.len(),
        allocation.len(),
        "one precision per layer"
    );
    let mut log_accuracy = 0.0;
    let mut bits = 0u64;
    let mut params = 0u64;
    // Checked: an inventory past MAX_TOTAL_PARAMS must fail loudly, not
    // wrap to a small size (loading refuses one; see `Inventory::oversized_layer`).
    let oversized = "inventory exceeds MAX_TOTAL_PARAMS";
    for (layer, &p) in inventory.layers.iter().zip(allocation) {
        log_accuracy += log_retention(layer.loss_at(p));
        bits = layer
            .params
            .checked_mul(u64::from(p.bits()))
            .and_then(|b| bits.checked_add(b))
            .expect(oversized);
        params = params.checked_add(layer.params).expect(oversized);
    }
    Evaluation::from_sums(log_accuracy, bits, params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Split;

    #[test]
    fn uniform_allocations_compress_by_the_bit_ratio() {
        let inv = Split::Test.builtin();
        for p in Precision::ALL {
            let e = evaluate(&inv, &vec![p; inv.len()]);
            assert!((e.compression - 32.0 / f64::from(p.bits())).abs() < 1e-12);
        }
        let fp32 = evaluate(&inv, &vec![Precision::Fp32; inv.len()]);
        assert_eq!(fp32.accuracy, 1.0);
    }

    #[test]
    fn accuracy_is_the_product_of_retentions() {
        let inv = Split::Test.builtin();
        let alloc = vec![Precision::Int4; inv.len()];
        let product: f64 = inv
            .layers
            .iter()
            .map(|l| 1.0 - l.loss_at(Precision::Int4))
            .product();
        let e = evaluate(&inv, &alloc);
        assert!((e.accuracy - product).abs() < 1e-12);
        assert!(e.meets(e.accuracy * 0.999) && !e.meets(e.accuracy * 1.001));
    }
}
