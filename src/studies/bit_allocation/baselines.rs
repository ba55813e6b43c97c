//! Hand-written allocation strategies the evolved heuristics are measured
//! against, including the document's own champion (`wider_fp16_zone`).
//!
//! Every strategy only uses the allowed precisions: a precision it asks for
//! that is not allowed is replaced by the cheapest allowed one with at least
//! as many bits (or the widest allowed one), see [`snap`].

use super::fitness::fitness;
use crate::models::{Inventory, LayerInfo, LayerType, Precision, evaluate};

/// A named baseline strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    AllFp32,
    AllFp16,
    AllInt8,
    /// Start every layer at the cheapest precision; repeatedly upgrade the
    /// layer with the best accuracy gain per extra bit until the threshold
    /// is met (or nothing is left to upgrade).
    GreedySensitivity,
    /// A fixed precision per layer type (the document's table).
    LayerTypeAware,
    /// FP16 for LayerNorm and the first/last 10% of layers, INT8 elsewhere.
    MixedFp16Int8,
    /// The cheapest precision whose loss is at most 0.0005.
    SensitivityThreshold,
    /// HAWQ-style: rank layers by gradient sensitivity; top quarter FP16,
    /// middle half INT8, bottom quarter INT4.
    HawqGradient,
    /// The document's generation-4 rule: FP32 where loss at FP16 > 0.001,
    /// else FP16.
    SensitivityFp16001,
    /// The document's champion: FP32 for LayerNorm and Classifier and the
    /// first/last 7.5% of layers; FP32 where loss at FP16 > 0.001; else FP16.
    WiderFp16Zone,
}

impl Baseline {
    pub const ALL: [Baseline; 10] = [
        Baseline::AllFp32,
        Baseline::AllFp16,
        Baseline::AllInt8,
        Baseline::GreedySensitivity,
        Baseline::LayerTypeAware,
        Baseline::MixedFp16Int8,
        Baseline::SensitivityThreshold,
        Baseline::HawqGradient,
        Baseline::SensitivityFp16001,
        Baseline::WiderFp16Zone,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Baseline::AllFp32 => "all_fp32",
            Baseline::AllFp16 => "all_fp16",
            Baseline::AllInt8 => "all_int8",
            Baseline::GreedySensitivity => "greedy_sensitivity",
            Baseline::LayerTypeAware => "layer_type_aware",
            Baseline::MixedFp16Int8 => "mixed_fp16_int8",
            Baseline::SensitivityThreshold => "sensitivity_0005",
            Baseline::HawqGradient => "hawq_gradient",
            Baseline::SensitivityFp16001 => "sensitivity_fp16_001",
            Baseline::WiderFp16Zone => "wider_fp16_zone",
        }
    }

    /// The allocation this strategy makes. `allowed` is sorted by bits.
    pub fn allocate(
        self,
        inv: &Inventory,
        allowed: &[Precision],
        threshold: f64,
    ) -> Vec<Precision> {
        use Precision::*;
        let per_layer = |f: &dyn Fn(&LayerInfo) -> Precision| -> Vec<Precision> {
            inv.layers.iter().map(|l| snap(f(l), allowed)).collect()
        };
        let fp16_loss_over = |l: &LayerInfo, t: f64| l.loss_at(Fp16) > t;
        match self {
            Baseline::AllFp32 => per_layer(&|_| Fp32),
            Baseline::AllFp16 => per_layer(&|_| Fp16),
            Baseline::AllInt8 => per_layer(&|_| Int8),
            Baseline::GreedySensitivity => greedy(inv, allowed, threshold),
            Baseline::LayerTypeAware => per_layer(&|l| match l.layer_type {
                LayerType::LayerNorm | LayerType::Embedding | LayerType::Classifier => Fp16,
                LayerType::Attention => Int8,
                LayerType::Linear | LayerType::Conv => Int4,
            }),
            Baseline::MixedFp16Int8 => per_layer(&|l| {
                let edge = l.relative_position < 0.1 || l.relative_position > 0.9;
                if edge || l.layer_type == LayerType::LayerNorm {
                    Fp16
                } else {
                    Int8
                }
            }),
            Baseline::SensitivityThreshold => inv
                .layers
                .iter()
                .map(|l| {
                    allowed
                        .iter()
                        .copied()
                        .find(|&p| l.loss_at(p) <= 0.0005)
                        .unwrap_or(allowed[allowed.len() - 1])
                })
                .collect(),
            Baseline::HawqGradient => {
                let mut order: Vec<usize> = (0..inv.len()).collect();
                order.sort_by(|&a, &b| {
                    let (ga, gb) = (
                        inv.layers[a].gradient_sensitivity,
                        inv.layers[b].gradient_sensitivity,
                    );
                    gb.total_cmp(&ga).then(a.cmp(&b))
                });
                let n = inv.len();
                let mut out = vec![Fp32; n];
                for (rank, &i) in order.iter().enumerate() {
                    let p = if rank * 4 < n {
                        Fp16
                    } else if rank * 4 < 3 * n {
                        Int8
                    } else {
                        Int4
                    };
                    out[i] = snap(p, allowed);
                }
                out
            }
            Baseline::SensitivityFp16001 => per_layer(&|l| {
                if fp16_loss_over(l, 0.001) { Fp32 } else { Fp16 }
            }),
            Baseline::WiderFp16Zone => per_layer(&|l| {
                let protected =
                    matches!(l.layer_type, LayerType::LayerNorm | LayerType::Classifier);
                let edge = l.relative_position < 0.075 || l.relative_position > 0.925;
                if protected || edge || fp16_loss_over(l, 0.001) {
                    Fp32
                } else {
                    Fp16
                }
            }),
        }
    }

    /// Fitness of this strategy on one inventory.
    pub fn fitness(self, inv: &Inventory, allowed: &[Precision], threshold: f64) -> f64 {
        fitness(
            &evaluate(inv, &self.allocate(inv, allowed, threshold)),
            threshold,
        )
    }
}

/// The cheapest allowed precision with at least `p`'s bits, else the widest
/// allowed. `allowed` is non-empty and sorted by bits.
pub fn snap(p: Precision, allowed: &[Precision]) -> Precision {
    allowed
        .iter()
        .copied()
        .find(|a| a.bits() >= p.bits())
        .unwrap_or(allowed[allowed.len() - 1])
}

fn greedy(inv: &Inventory, allowed: &[Precision], threshold: f64) -> Vec<Precision> {
    let target = threshold.ln();
    let mut level = vec![0usize; inv.len()];
    let mut alloc = vec![allowed[0]; inv.len()];
    loop {
        if evaluate(inv, &alloc).log_accuracy >= target {
            return alloc;
        }
        let mut best: Option<(usize, f64)> = None;
        for (i, layer) in inv.layers.iter().enumerate() {
            if level[i] + 1 >= allowed.len() {
                continue;
            }
            let (a, b) = (allowed[level[i]], allowed[level[i] + 1]);
            let gain = (-layer.loss_at(b)).ln_1p() - (-layer.loss_at(a)).ln_1p();
            let cost = (layer.params * u64::from(b.bits() - a.bits())) as f64;
            let ratio = if cost == 0.0 {
                f64::INFINITY
            } else {
                gain / cost
            };
            if best.is_none_or(|(_, r)| ratio > r) {
                best = Some((i, ratio));
            }
        }
        match best {
            Some((i, _)) => {
                level[i] += 1;
                alloc[i] = allowed[level[i]];
            }
            None => return alloc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Split;

    #[test]
    fn snapping_rounds_up_within_the_allowed_set() {
        let allowed = [Precision::Int4, Precision::Fp16];
        assert_eq!(snap(Precision::Int8, &allowed), Precision::Fp16);
        assert_eq!(snap(Precision::Int2, &allowed), Precision::Int4);
        assert_eq!(snap(Precision::Fp32, &allowed), Precision::Fp16);
    }

    #[test]
    fn greedy_meets_a_reachable_threshold_and_uses_only_allowed_precisions() {
        let inv = Split::Valid.builtin();
        let allowed = [Precision::Int4, Precision::Int8, Precision::Fp16];
        let alloc = Baseline::GreedySensitivity.allocate(&inv, &allowed, 0.97);
        assert!(evaluate(&inv, &alloc).meets(0.97));
        assert!(alloc.iter().all(|p| allowed.contains(p)));
    }

    #[test]
    fn wider_fp16_zone_follows_the_documented_rule() {
        let inv = Split::Train.builtin();
        let alloc = Baseline::WiderFp16Zone.allocate(&inv, &Precision::ALL, 0.95);
        for (l, p) in inv.layers.iter().zip(&alloc) {
            if l.layer_type == LayerType::LayerNorm || l.relative_position < 0.075 {
                assert_eq!(*p, Precision::Fp32, "{}", l.name);
            }
            assert!(matches!(p, Precision::Fp16 | Precision::Fp32));
        }
    }
}
