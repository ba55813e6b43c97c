//! The evolved heuristic: a small rule program over layer signals.
//!
//! ```text
//! if type ∈ protected or position < edge or position > 1 − edge:  top
//! risk(p) = loss(p) · (1 + gradient_weight · gradient_sensitivity)
//! else the cheapest rung p of the ladder with risk(p) ≤ threshold(p), else top
//! ```
//!
//! `top` is the widest allowed precision. The genome is split into a real
//! part (edge fraction, gradient weight, one log10 threshold per precision),
//! varied with the shared `evo` operators, and two bit sets (protected types,
//! ladder rungs) varied by uniform crossover and bit flips. The document's
//! champion `wider_fp16_zone` is one point of this space (protect LayerNorm and
//! Classifier, edge 0.075, ladder {FP16}, threshold(FP16) = 0.001, weight 0),
//! so evolution can find it if it is good on the training data.

use crate::evo::{gaussian_mutation, uniform_crossover};
use crate::models::{Evaluation, Inventory, LayerInfo, LayerType, Precision, log_retention};
use rand::Rng;
use std::fmt::Write;

const EDGE: usize = 0;
const GRAD: usize = 1;
const THR: usize = 2;
/// Number of real genes: edge, gradient weight, 7 log10 thresholds.
pub const REAL_GENES: usize = THR + 7;
const EDGE_MAX: f32 = 0.3;
const GRAD_MAX: f32 = 4.0;
const LOG_THR_MIN: f32 = -7.0;
const LOG_THR_MAX: f32 = 0.0;

/// One heuristic genome.
#[derive(Clone, Debug, PartialEq)]
pub struct Heuristic {
    /// Protected layer types, by [`LayerType::index`].
    pub protected: [bool; 6],
    /// Ladder rungs, by [`Precision::index`]; never includes the top.
    pub ladder: [bool; 7],
    /// Edge fraction, gradient weight, log10 threshold per precision.
    pub genes: [f32; REAL_GENES],
}

/// The precision set a heuristic works in: allowed precisions (sorted by
/// bits) and the widest one, where protected layers go.
#[derive(Clone, Debug)]
pub struct Ladder {
    pub allowed: Vec<Precision>,
    pub top: Precision,
}

impl Ladder {
    /// # Panics
    /// If `allowed` is empty (validated before).
    pub fn new(allowed: &[Precision]) -> Self {
        let mut allowed = allowed.to_vec();
        allowed.sort();
        allowed.dedup();
        let top = *allowed.last().expect("non-empty precision set");
        Ladder { allowed, top }
    }

    fn rung_allowed(&self, p: Precision) -> bool {
        p != self.top && self.allowed.contains(&p)
    }
}

impl Heuristic {
    /// A random genome within the ladder.
    pub fn random<R: Rng + ?Sized>(ladder: &Ladder, rng: &mut R) -> Self {
        let mut h = Heuristic {
            protected: [false; 6],
            ladder: [false; 7],
            genes: [0.0; REAL_GENES],
        };
        for p in h.protected.iter_mut() {
            *p = rng.random_bool(0.3);
        }
        for p in Precision::ALL {
            h.ladder[p.index()] = ladder.rung_allowed(p) && rng.random_bool(0.5);
        }
        h.genes[EDGE] = rng.random_range(0.0..0.2);
        h.genes[GRAD] = rng.random_range(0.0..2.0);
        for g in &mut h.genes[THR..] {
            *g = rng.random_range(-6.0..-1.0);
        }
        h
    }

    pub fn edge_fraction(&self) -> f64 {
        f64::from(self.genes[EDGE].clamp(0.0, EDGE_MAX))
    }

    pub fn gradient_weight(&self) -> f64 {
        f64::from(self.genes[GRAD].clamp(0.0, GRAD_MAX))
    }

    pub fn threshold(&self, p: Precision) -> f64 {
        10f64.powf(f64::from(
            self.genes[THR + p.index()].clamp(LOG_THR_MIN, LOG_THR_MAX),
        ))
    }

    /// The precision for one layer.
    pub fn choose(&self, layer: &LayerInfo, ladder: &Ladder) -> Precision {
        let edge = self.edge_fraction();
        let pos = layer.relative_position;
        if self.protected[layer.layer_type.index()] || pos < edge || pos > 1.0 - edge {
            return ladder.top;
        }
        let scale = 1.0 + self.gradient_weight() * layer.gradient_sensitivity;
        ladder
            .allowed
            .iter()
            .copied()
            .find(|&p| self.ladder[p.index()] && layer.loss_at(p) * scale <= self.threshold(p))
            .unwrap_or(ladder.top)
    }

    /// Allocation into a caller's buffer (reused across evaluations).
    pub fn allocate_into(&self, inv: &Inventory, ladder: &Ladder, out: &mut Vec<Precision>) {
        out.clear();
        out.extend(inv.layers.iter().map(|l| self.choose(l, ladder)));
    }

    /// Allocate and evaluate in one pass, without allocating.
    pub fn evaluate(&self, inv: &Inventory, ladder: &Ladder) -> Evaluation {
        let (mut log_accuracy, mut bits, mut params) = (0.0, 0u64, 0u64);
        for layer in &inv.layers {
            let p = self.choose(layer, ladder);
            log_accuracy += log_retention(layer.loss_at(p));
            bits += layer.params * u64::from(p.bits());
            params += layer.params;
        }
        Evaluation::from_sums(log_accuracy, bits, params)
    }

    /// Uniform crossover of every part.
    pub fn crossover<R: Rng + ?Sized>(a: &Self, b: &Self, rng: &mut R) -> Self {
        let mut child = a.clone();
        uniform_crossover(&a.genes, &b.genes, &mut child.genes, rng);
        for (c, &y) in child.protected.iter_mut().zip(&b.protected) {
            if rng.random_bool(0.5) {
                *c = y;
            }
        }
        for (c, &y) in child.ladder.iter_mut().zip(&b.ladder) {
            if rng.random_bool(0.5) {
                *c = y;
            }
        }
        child
    }

    /// Gaussian steps on the real genes (scaled per gene group), bit flips on
    /// the sets, each with probability `rate`.
    pub fn mutate<R: Rng + ?Sized>(&mut self, rate: f64, ladder: &Ladder, rng: &mut R) {
        gaussian_mutation(&mut self.genes[EDGE..=EDGE], rate, 0.03, rng);
        gaussian_mutation(&mut self.genes[GRAD..=GRAD], rate, 0.3, rng);
        gaussian_mutation(&mut self.genes[THR..], rate, 0.5, rng);
        self.genes[EDGE] = self.genes[EDGE].clamp(0.0, EDGE_MAX);
        self.genes[GRAD] = self.genes[GRAD].clamp(0.0, GRAD_MAX);
        for g in &mut self.genes[THR..] {
            *g = g.clamp(LOG_THR_MIN, LOG_THR_MAX);
        }
        for p in self.protected.iter_mut() {
            if rng.random_bool(rate / 2.0) {
                *p = !*p;
            }
        }
        for p in Precision::ALL {
            if ladder.rung_allowed(p) && rng.random_bool(rate / 2.0) {
                self.ladder[p.index()] = !self.ladder[p.index()];
            }
        }
    }

    /// The rule in readable form, e.g.
    /// `protect {LayerNorm} → FP32; edges 7.5% → FP32; risk = loss·(1 + 0.00·grad); INT8 if risk ≤ 1.0e-4; else FP32`.
    pub fn describe(&self, ladder: &Ladder) -> String {
        let types: Vec<&str> = LayerType::ALL
            .into_iter()
            .filter(|t| self.protected[t.index()])
            .map(LayerType::name)
            .collect();
        let mut s = String::new();
        if !types.is_empty() {
            let _ = write!(s, "protect {{{}}} → {}; ", types.join(", "), ladder.top);
        }
        let _ = write!(
            s,
            "edges {:.1}% → {}; risk = loss·(1 + {:.2}·grad); ",
            100.0 * self.edge_fraction(),
            ladder.top,
            self.gradient_weight()
        );
        for &p in &ladder.allowed {
            if self.ladder[p.index()] && p != ladder.top {
                let _ = write!(s, "{p} if risk ≤ {:.1e}, ", self.threshold(p));
            }
        }
        let _ = write!(s, "else {}", ladder.top);
        s
    }

    /// The genome as a JSON document.
    pub fn to_json(&self, ladder: &Ladder) -> serde_json::Value {
        let thresholds: serde_json::Map<String, serde_json::Value> = ladder
            .allowed
            .iter()
            .filter(|p| self.ladder[p.index()] && **p != ladder.top)
            .map(|p| (p.name().to_string(), self.threshold(*p).into()))
            .collect();
        serde_json::json!({
            "protected_types": LayerType::ALL
                .into_iter()
                .filter(|t| self.protected[t.index()])
                .map(LayerType::name)
                .collect::<Vec<_>>(),
            "edge_fraction": self.edge_fraction(),
            "gradient_weight": self.gradient_weight(),
            "ladder_thresholds": thresholds,
            "top": ladder.top.name(),
            "rule": self.describe(ladder),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Split, evaluate};
    use crate::studies::bit_allocation::baselines::Baseline;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn document_champion() -> Heuristic {
        let mut h = Heuristic {
            protected: [false; 6],
            ladder: [false; 7],
            genes: [-7.0; REAL_GENES],
        };
        h.protected[LayerType::LayerNorm.index()] = true;
        h.protected[LayerType::Classifier.index()] = true;
        h.ladder[Precision::Fp16.index()] = true;
        h.genes[EDGE] = 0.075;
        h.genes[GRAD] = 0.0;
        h.genes[THR + Precision::Fp16.index()] = -3.0;
        h
    }

    #[test]
    fn the_genome_space_contains_the_documents_champion() {
        let ladder = Ladder::new(&Precision::ALL);
        let h = document_champion();
        for split in Split::ALL {
            let inv = split.builtin();
            let mut buf = Vec::new();
            h.allocate_into(&inv, &ladder, &mut buf);
            let doc = Baseline::WiderFp16Zone.allocate(&inv, &Precision::ALL, 0.95);
            // f32 genes: 0.075 and 1e-3 are not exact, so allow boundary layers to differ.
            let differ = buf.iter().zip(&doc).filter(|(a, b)| a != b).count();
            assert!(differ <= 1, "{split:?}: {differ}");
            assert_eq!(h.evaluate(&inv, &ladder), evaluate(&inv, &buf));
        }
        assert!(
            h.describe(&ladder)
                .starts_with("protect {LayerNorm, Classifier} → FP32; edges 7.5%")
        );
    }

    #[test]
    fn variation_stays_within_the_allowed_ladder() {
        let ladder = Ladder::new(&[Precision::Int4, Precision::Int8, Precision::Fp16]);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let inv = Split::Test.builtin();
        let mut a = Heuristic::random(&ladder, &mut rng);
        let b = Heuristic::random(&ladder, &mut rng);
        for _ in 0..200 {
            a = Heuristic::crossover(&a, &b, &mut rng);
            a.mutate(1.0, &ladder, &mut rng);
            for p in [
                Precision::Int2,
                Precision::Int3,
                Precision::Int6,
                Precision::Fp16,
                Precision::Fp32,
            ] {
                assert!(!a.ladder[p.index()], "{p}");
            }
            let mut buf = Vec::new();
            a.allocate_into(&inv, &ladder, &mut buf);
            assert!(buf.iter().all(|p| ladder.allowed.contains(p)));
        }
    }
}
