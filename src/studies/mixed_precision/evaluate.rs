//! Scoring a genome: accuracy from the model, latency / energy / memory from
//! the hardware cost model, the document's weighted fitness, the objective
//! vector NSGA-II minimises and the constraint violation.
//!
//! ```text
//! memory       = Σ packed weight bytes (with scales, zero points) + 2 · fixed params
//! compression  = 4 · total params / memory                (vs FP32 storage)
//! fitness      = w_acc · accuracy/fp32_accuracy
//!              + w_comp · (1 − memory/memory_fp32)
//!              + w_lat · (1 − latency/latency_fp32)
//!              + w_en · (1 − energy/energy_fp32)        if every hard limit holds
//!              = −1 − violation                          otherwise
//! violation    = Σ over set limits of max(0, value/limit − 1)
//! objectives   = (1 − accuracy/fp32_accuracy, memory/memory_fp32,
//!                 latency/latency_fp32, energy/energy_fp32), minimised,
//!                 only those with a positive weight
//! ```
//!
//! Normalising by the FP32 deployment on the same target makes the weighted
//! terms comparable (each is "fraction saved") and puts the hypervolume
//! reference point at (1, …, 1): the unquantized model, accuracy 0.
//!
//! The cache memoises by genome. Evaluation is pure, so caching only saves
//! time; to keep even the hit count independent of thread scheduling, each
//! batch is deduplicated and looked up sequentially, only the misses are
//! evaluated in parallel, and results are inserted in index order.

use super::genome::{Genome, LayerGene};
use super::model::QuantModel;
use crate::hw::{Target, TotalCost, layer_cost};
use crate::studies::StudyError;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};

/// Everything known about one evaluated genome.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eval {
    pub accuracy: f64,
    pub memory_mb: f64,
    pub compression: f64,
    pub latency_ms: f64,
    pub energy_mj: f64,
    /// Parameter-weighted mean of weight bits (codes only).
    pub avg_bits: f64,
    /// Stored bits per quantizable weight including scales and zero points.
    pub bits_per_weight: f64,
    pub fallback_layers: usize,
    pub memory_bound_layers: usize,
    pub violation: f64,
    pub fitness: f64,
}

impl Eval {
    pub fn feasible(&self) -> bool {
        self.violation == 0.0
    }
}

/// Names of the four objectives, in weight order.
pub const OBJECTIVES: [&str; 4] = ["accuracy", "compression", "latency", "energy"];

/// The scoring context of one trial.
pub struct Evaluator<'a> {
    pub model: &'a dyn QuantModel,
    pub target: &'a Target,
    pub weights: [f64; 4],
    /// Limits on latency (ms), memory (MB), energy (mJ); 0 = none.
    pub limits: [f64; 3],
    /// The unquantized deployment on this target.
    pub reference: Eval,
    /// Indices into OBJECTIVES with positive weight.
    pub active: Vec<usize>,
    quant_params: u64,
    total_params: u64,
}

impl<'a> Evaluator<'a> {
    pub fn new(
        model: &'a dyn QuantModel,
        target: &'a Target,
        weights: [f64; 4],
        limits: [f64; 3],
    ) -> Evaluator<'a> {
        let quant_params: u64 = model.layers().iter().map(|l| l.shape.weights).sum();
        let mut e = Evaluator {
            model,
            target,
            weights,
            limits,
            reference: Eval {
                accuracy: 1.0,
                memory_mb: 1.0,
                compression: 1.0,
                latency_ms: 1.0,
                energy_mj: 1.0,
                avg_bits: 32.0,
                bits_per_weight: 32.0,
                fallback_layers: 0,
                memory_bound_layers: 0,
                violation: 0.0,
                fitness: 0.0,
            },
            active: (0..4).filter(|&k| weights[k] > 0.0).collect(),
            quant_params,
            total_params: quant_params + model.fixed_params(),
        };
        let fp32 = Genome::uniform(LayerGene::FP32, model.layers().len());
        let cost = e.cost(&fp32);
        let mut reference = e.finish(model.fp32_accuracy(), &cost, &fp32);
        // FP32 stores its fixed parameters in FP32 too.
        reference.memory_mb += model.fixed_params() as f64 * 2.0 / 1e6;
        reference.compression = 1.0;
        e.reference = reference;
        e.reference.fitness = e.fitness(&reference);
        e
    }

    /// Cost totals of a genome on the target.
    pub fn cost(&self, g: &Genome) -> TotalCost {
        let mut total = TotalCost::default();
        for (layer, gene) in self.model.layers().iter().zip(&g.layers) {
            total.add(&layer_cost(self.target, &layer.shape, &gene.choice()));
        }
        total
    }

    /// The genome's memory (MB) on the cost model, without measuring it.
    pub fn memory_mb(&self, g: &Genome) -> f64 {
        self.memory_bytes(&self.cost(g)) / 1e6
    }

    fn memory_bytes(&self, cost: &TotalCost) -> f64 {
        cost.weight_bytes + 2.0 * self.model.fixed_params() as f64
    }

    fn finish(&self, accuracy: f64, cost: &TotalCost, g: &Genome) -> Eval {
        let bit_sum: f64 = self
            .model
            .layers()
            .iter()
            .zip(&g.layers)
            .map(|(l, gene)| l.shape.weights as f64 * f64::from(gene.weight_bits))
            .sum();
        let memory_bytes = self.memory_bytes(cost);
        let qp = self.quant_params.max(1) as f64;
        let mut e = Eval {
            accuracy,
            memory_mb: memory_bytes / 1e6,
            compression: 4.0 * self.total_params as f64 / memory_bytes,
            latency_ms: cost.latency_s * 1e3,
            energy_mj: cost.energy_j * 1e3,
            avg_bits: bit_sum / qp,
            bits_per_weight: cost.weight_bytes * 8.0 / qp,
            fallback_layers: cost.fallback_layers,
            memory_bound_layers: cost.memory_bound_layers,
            violation: 0.0,
            fitness: 0.0,
        };
        e.violation = self.violation(&e);
        e
    }

    pub fn violation(&self, e: &Eval) -> f64 {
        [e.latency_ms, e.memory_mb, e.energy_mj]
            .iter()
            .zip(&self.limits)
            .filter(|(_, l)| **l > 0.0)
            .map(|(v, l)| (v / l - 1.0).max(0.0))
            .sum()
    }

    /// The four normalised terms (accuracy retained, memory / latency /
    /// energy saved vs FP32).
    pub fn scores(&self, e: &Eval) -> [f64; 4] {
        let r = &self.reference;
        [
            e.accuracy / r.accuracy,
            1.0 - e.memory_mb / r.memory_mb,
            1.0 - e.latency_ms / r.latency_ms,
            1.0 - e.energy_mj / r.energy_mj,
        ]
    }

    pub fn fitness(&self, e: &Eval) -> f64 {
        if e.violation > 0.0 {
            return -1.0 - e.violation;
        }
        self.scores(e)
            .iter()
            .zip(&self.weights)
            .map(|(s, w)| s * w)
            .sum()
    }

    /// The minimised objective vector over the active objectives.
    pub fn objectives(&self, e: &Eval) -> Vec<f64> {
        let s = self.scores(e);
        self.active.iter().map(|&k| 1.0 - s[k]).collect()
    }

    /// Evaluate genomes (no cache), in order: one accuracy batch for the
    /// model, costs in parallel.
    pub fn evaluate_batch(&self, genomes: &[&Genome]) -> Result<Vec<Eval>, StudyError> {
        let accuracy = self.model.accuracies(genomes)?;
        if accuracy.len() != genomes.len() {
            return Err(StudyError::new(format!(
                "the model measured {} of {} configurations",
                accuracy.len(),
                genomes.len()
            )));
        }
        Ok(genomes
            .par_iter()
            .zip(accuracy)
            .map(|(g, a)| {
                let mut e = self.finish(a, &self.cost(g), g);
                e.fitness = self.fitness(&e);
                e
            })
            .collect())
    }

    /// Evaluate one genome (no cache).
    pub fn evaluate(&self, g: &Genome) -> Result<Eval, StudyError> {
        Ok(self.evaluate_batch(&[g])?[0])
    }
}

/// Memoised, parallel, order-preserving batch evaluation.
pub struct Cache {
    enabled: bool,
    map: HashMap<Genome, Eval>,
    pub hits: u64,
    pub evaluations: u64,
}

impl Cache {
    pub fn new(enabled: bool) -> Cache {
        Cache {
            enabled,
            map: HashMap::new(),
            hits: 0,
            evaluations: 0,
        }
    }

    /// Evaluate a batch; results in batch order whatever the scheduling.
    pub fn evaluate_all(
        &mut self,
        ev: &Evaluator,
        genomes: &[Genome],
    ) -> Result<Vec<Eval>, StudyError> {
        if !self.enabled {
            self.evaluations += genomes.len() as u64;
            let all: Vec<&Genome> = genomes.iter().collect();
            return ev.evaluate_batch(&all);
        }
        // Misses, deduplicated, in first-occurrence order.
        let mut todo: Vec<&Genome> = Vec::new();
        let mut pending: HashSet<&Genome> = HashSet::new();
        for g in genomes {
            if self.map.contains_key(g) || pending.contains(g) {
                self.hits += 1;
            } else {
                pending.insert(g);
                todo.push(g);
            }
        }
        let fresh = ev.evaluate_batch(&todo)?;
        self.evaluations += fresh.len() as u64;
        for (g, e) in todo.into_iter().zip(fresh) {
            self.map.insert(g.clone(), e);
        }
        Ok(genomes.iter().map(|g| self.map[g]).collect())
    }

    pub fn evaluate_one(&mut self, ev: &Evaluator, g: &Genome) -> Result<Eval, StudyError> {
        Ok(self.evaluate_all(ev, std::slice::from_ref(g))?[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::builtin;
    use crate::models::Family;
    use crate::studies::mixed_precision::genome::{Granularity, Space};
    use crate::studies::mixed_precision::model::{InventoryModel, QuantModel};
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn reference_is_fp32_and_int8_saves_on_every_axis() {
        let m = InventoryModel::new(Family::Gpt2MediumLike.shaped(1, 1));
        let t = builtin("arm_dot").unwrap();
        let ev = Evaluator::new(&m, &t, [0.4, 0.3, 0.2, 0.1], [0.0; 3]);
        assert_eq!(ev.reference.accuracy, 1.0);
        // 354.8M params × 4 bytes.
        assert!((ev.reference.memory_mb - 1419.29).abs() < 0.01);
        let n = m.layers().len();
        let int8 = ev
            .evaluate(&Genome::uniform(
                LayerGene::int(8, 8, Granularity::PerChannel),
                n,
            ))
            .unwrap();
        assert!(int8.memory_mb < 0.3 * ev.reference.memory_mb);
        assert!(int8.latency_ms < ev.reference.latency_ms);
        assert!(int8.energy_mj < ev.reference.energy_mj);
        assert!(int8.compression > 3.5 && int8.compression < 4.0);
        assert_eq!(int8.fallback_layers, 0);
        assert!(int8.fitness > 0.0 && int8.feasible());
    }

    #[test]
    fn limits_make_genomes_infeasible_with_negative_fitness() {
        let m = InventoryModel::new(Family::Resnet50Like.shaped(1, 1));
        let t = builtin("arm_neon").unwrap();
        let ev = Evaluator::new(&m, &t, [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0]);
        let n = m.layers().len();
        let e = ev
            .evaluate(&Genome::uniform(LayerGene::float(16), n))
            .unwrap();
        assert!(e.memory_mb > 50.0);
        assert!(e.violation > 40.0 && e.fitness < -1.0);
        assert_eq!(ev.objectives(&e).len(), 1);
    }

    #[test]
    fn cached_parallel_batches_equal_plain_evaluation() {
        let m = InventoryModel::new(Family::Resnet50Like.shaped(1, 1));
        let t = builtin("intel_vnni").unwrap();
        let ev = Evaluator::new(&m, &t, [0.4, 0.3, 0.2, 0.1], [0.0; 3]);
        let space = Space {
            weight_bits: vec![4, 8],
            act_bits: vec![8],
            granularities: vec![Granularity::PerChannel],
            group_sizes: vec![128],
            mixed: true,
            ggml: false,
            calibrations: crate::studies::mixed_precision::genome::CALIBRATIONS.to_vec(),
            fp8: false,
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut batch: Vec<Genome> = (0..6)
            .map(|_| space.random_genome(m.layers().len(), &mut rng))
            .collect();
        batch.push(batch[1].clone());
        let mut cache = Cache::new(true);
        let a = cache.evaluate_all(&ev, &batch).unwrap();
        let b = cache.evaluate_all(&ev, &batch).unwrap();
        let plain: Vec<Eval> = batch.iter().map(|g| ev.evaluate(g).unwrap()).collect();
        assert_eq!(a, plain);
        assert_eq!(b, plain);
        assert_eq!(cache.evaluations, 6);
        assert_eq!(cache.hits, 1 + 7);
    }
}
