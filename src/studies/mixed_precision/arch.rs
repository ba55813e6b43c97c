//! The architecture genome of co-evolution (the document's first feature):
//! a genome chooses the classifier's shape — number of hidden layers, each
//! hidden width, the hidden activation — together with one quantization
//! gene per linear layer.
//!
//! Encoding: [`CoGenome`] = [`Arch`] + [`Genome`], where `quant.layers[i]`
//! is the gene of linear layer i (input side first; the last is the
//! classifier). Hidden layer i and gene i form one *unit*, so the operators
//! move them together: inserting a hidden layer inserts a gene (copied from
//! the unit it is split from), removing one removes its gene, crossover
//! takes whole units — the per-layer quantization genes follow their
//! layers and a genome always has `hidden.len() + 1` genes.
//!
//! All draws happen on the calling thread from the trial RNG, in a fixed
//! order, so variation is deterministic.

use super::genome::{Genome, Space};
use crate::nn::classifier::Activation;
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};

/// A classifier shape: hidden widths (input side first) and activation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Arch {
    pub hidden: Vec<usize>,
    pub activation: Activation,
}

impl Arch {
    /// `relu 40-20` style label; also the canonical key of the
    /// trained-network cache and of the training seed.
    pub fn label(&self) -> String {
        let widths: Vec<String> = self.hidden.iter().map(|w| w.to_string()).collect();
        format!("{} {}", self.activation.name(), widths.join("-"))
    }

    /// The training seed of this architecture in a trial with `seed`: a
    /// stable hash (FNV-1a 64) of the seed and the label, so the same
    /// architecture gets the same network within a trial whatever the
    /// order, thread count or cache state it is first met in.
    pub fn train_seed(&self, seed: u64) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.to_le_bytes().iter().chain(self.label().as_bytes()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }
}

/// An architecture with its per-layer quantization.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CoGenome {
    pub arch: Arch,
    pub quant: Genome,
}

/// What the architecture genes may choose from.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchSpace {
    pub min_depth: usize,
    pub max_depth: usize,
    /// Allowed hidden widths, ascending.
    pub widths: Vec<usize>,
    pub activations: Vec<Activation>,
    /// Probability that an offspring's architecture mutates.
    pub mutation_rate: f64,
    /// When set, the only architecture (quantization-only search).
    pub fixed: Option<Arch>,
}

impl ArchSpace {
    /// The space holding only `arch`: the quantization-only search.
    pub fn fixed(arch: Arch) -> ArchSpace {
        ArchSpace {
            min_depth: arch.hidden.len(),
            max_depth: arch.hidden.len(),
            widths: arch.hidden.clone(),
            activations: vec![arch.activation],
            mutation_rate: 0.0,
            fixed: Some(arch),
        }
    }

    pub fn random_arch<R: Rng + ?Sized>(&self, rng: &mut R) -> Arch {
        if let Some(a) = &self.fixed {
            return a.clone();
        }
        let depth = rng.random_range(self.min_depth..=self.max_depth);
        Arch {
            hidden: (0..depth)
                .map(|_| *self.widths.choose(rng).expect("non-empty"))
                .collect(),
            activation: *self.activations.choose(rng).expect("non-empty"),
        }
    }

    pub fn random<R: Rng + ?Sized>(&self, q: &Space, rng: &mut R) -> CoGenome {
        let arch = self.random_arch(rng);
        let quant = q.random_genome(arch.hidden.len() + 1, rng);
        CoGenome { arch, quant }
    }

    pub fn contains(&self, q: &Space, g: &CoGenome) -> bool {
        let a = &g.arch;
        let arch_ok = match &self.fixed {
            Some(f) => a == f,
            None => {
                (self.min_depth..=self.max_depth).contains(&a.hidden.len())
                    && a.hidden.iter().all(|w| self.widths.contains(w))
                    && self.activations.contains(&a.activation)
            }
        };
        arch_ok && g.quant.layers.len() == a.hidden.len() + 1 && q.contains(&g.quant)
    }

    /// Step a width to a neighbouring allowed width.
    fn step_width<R: Rng + ?Sized>(&self, w: usize, rng: &mut R) -> usize {
        let i = self.widths.iter().position(|&x| x == w).unwrap_or(0);
        let up = rng.random_bool(0.5);
        let j = match (up, i) {
            (true, i) if i + 1 < self.widths.len() => i + 1,
            (false, i) if i > 0 => i - 1,
            (_, i) if i + 1 < self.widths.len() => i + 1,
            (_, i) => i.saturating_sub(1),
        };
        self.widths[j]
    }

    /// One architecture change: a width steps, a hidden layer is inserted
    /// (split from a neighbouring unit, whose width and gene it copies) or
    /// removed with its gene, or the activation changes. Moves that would
    /// leave the space are not drawn.
    pub fn mutate_arch<R: Rng + ?Sized>(&self, g: &mut CoGenome, rng: &mut R) {
        if self.fixed.is_some() {
            return;
        }
        let depth = g.arch.hidden.len();
        let mut moves: Vec<u8> = Vec::with_capacity(4);
        if depth > 0 && self.widths.len() > 1 {
            moves.push(0);
        }
        if depth < self.max_depth {
            moves.push(1);
        }
        if depth > self.min_depth {
            moves.push(2);
        }
        if self.activations.len() > 1 {
            moves.push(3);
        }
        let Some(&m) = moves.choose(rng) else {
            return;
        };
        match m {
            0 => {
                let i = rng.random_range(0..depth);
                g.arch.hidden[i] = self.step_width(g.arch.hidden[i], rng);
            }
            1 => {
                // Unit i (hidden i + gene i) is duplicated; the new layer
                // starts as a copy of its neighbour.
                let i = rng.random_range(0..=depth);
                let k = i.min(depth.saturating_sub(1));
                let width = if depth == 0 {
                    *self.widths.choose(rng).expect("non-empty")
                } else {
                    g.arch.hidden[k]
                };
                let gene = g.quant.layers[k];
                g.arch.hidden.insert(i, width);
                g.quant.layers.insert(i, gene);
            }
            2 => {
                let i = rng.random_range(0..depth);
                g.arch.hidden.remove(i);
                g.quant.layers.remove(i);
            }
            _ => {
                let others: Vec<Activation> = self
                    .activations
                    .iter()
                    .copied()
                    .filter(|&a| a != g.arch.activation)
                    .collect();
                g.arch.activation = *others.choose(rng).expect("more than one activation");
            }
        }
    }

    /// Unit-wise crossover: the child has the depth of `a` or `b` (one at
    /// random); unit i (hidden width and gene) comes from a parent that has
    /// one, the classifier gene and the activation from either parent.
    pub fn crossover<R: Rng + ?Sized>(
        &self,
        q: &Space,
        a: &CoGenome,
        b: &CoGenome,
        rng: &mut R,
    ) -> CoGenome {
        if a.arch.hidden.len() == b.arch.hidden.len() && a.arch.activation == b.arch.activation {
            // Same shape family: the quantization crossover decides each
            // unit's gene, and the widths follow their genes' parent.
            let mut child = a.clone();
            for i in 0..a.quant.layers.len() {
                if rng.random_bool(0.5) {
                    child.quant.layers[i] = b.quant.layers[i];
                    if i < a.arch.hidden.len() {
                        child.arch.hidden[i] = b.arch.hidden[i];
                    }
                }
            }
            q.repair(&mut child.quant);
            return child;
        }
        let (long, short) = if rng.random_bool(0.5) { (a, b) } else { (b, a) };
        let depth = long.arch.hidden.len();
        let mut child = long.clone();
        for i in 0..depth.min(short.arch.hidden.len()) {
            if rng.random_bool(0.5) {
                child.arch.hidden[i] = short.arch.hidden[i];
                child.quant.layers[i] = short.quant.layers[i];
            }
        }
        if rng.random_bool(0.5) {
            child.quant.layers[depth] = *short.quant.layers.last().expect("classifier gene");
        }
        if rng.random_bool(0.5) {
            child.arch.activation = short.arch.activation;
        }
        q.repair(&mut child.quant);
        child
    }

    /// Mutation: the architecture with probability `mutation_rate` (one
    /// change, then another with probability ½), and the quantization genes
    /// as in the quantization-only search.
    pub fn mutate<R: Rng + ?Sized>(&self, q: &Space, g: &mut CoGenome, rate: f64, rng: &mut R) {
        if self.fixed.is_none() && rng.random_bool(self.mutation_rate) {
            loop {
                self.mutate_arch(g, rng);
                if !rng.random_bool(0.5) {
                    break;
                }
            }
        }
        q.mutate(&mut g.quant, rate, rng);
        q.repair(&mut g.quant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studies::mixed_precision::genome::{CALIBRATIONS, GROUP_SIZES, Granularity};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn spaces() -> (ArchSpace, Space) {
        (
            ArchSpace {
                min_depth: 1,
                max_depth: 3,
                widths: vec![8, 16, 32],
                activations: vec![Activation::Relu, Activation::Tanh],
                mutation_rate: 0.5,
                fixed: None,
            },
            Space {
                weight_bits: vec![1, 2, 4, 8],
                act_bits: vec![8],
                granularities: vec![Granularity::PerTensor, Granularity::PerChannel],
                group_sizes: GROUP_SIZES.to_vec(),
                mixed: true,
                ggml: false,
                calibrations: CALIBRATIONS.to_vec(),
                fp8: false,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn variation_keeps_genomes_valid_and_genes_with_their_layers(seed in 0u64..10_000) {
            let (a, q) = spaces();
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let x = a.random(&q, &mut rng);
            let y = a.random(&q, &mut rng);
            prop_assert!(a.contains(&q, &x) && a.contains(&q, &y));
            let mut c = a.crossover(&q, &x, &y, &mut rng);
            prop_assert!(a.contains(&q, &c), "{c:?}");
            a.mutate(&q, &mut c, 0.5, &mut rng);
            prop_assert!(a.contains(&q, &c), "{c:?}");
        }
    }

    #[test]
    fn removing_a_layer_removes_its_gene_and_inserting_copies_a_neighbour() {
        let (a, q) = spaces();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut seen_insert = false;
        let mut seen_remove = false;
        for _ in 0..200 {
            let g = a.random(&q, &mut rng);
            let mut m = g.clone();
            a.mutate_arch(&mut m, &mut rng);
            let (d0, d1) = (g.arch.hidden.len(), m.arch.hidden.len());
            assert_eq!(m.quant.layers.len(), d1 + 1);
            // The classifier gene never moves.
            assert_eq!(m.quant.layers.last(), g.quant.layers.last());
            if d1 == d0 + 1 {
                seen_insert = true;
                // Every old unit survives, in order, plus one copy.
                let units = |x: &CoGenome| -> Vec<(usize, _)> {
                    x.arch
                        .hidden
                        .iter()
                        .copied()
                        .zip(x.quant.layers.iter().copied())
                        .collect()
                };
                let (old, new) = (units(&g), units(&m));
                assert!(old.iter().all(|u| new.contains(u)));
                // The inserted unit is a copy of one already there.
                assert!((0..new.len()).any(|i| {
                    let mut rest = new.clone();
                    rest.remove(i);
                    rest == old
                }));
            }
            if d1 + 1 == d0 {
                seen_remove = true;
                // The surviving units are the old ones minus one, in order.
                let mut it = g.arch.hidden.iter().zip(&g.quant.layers);
                for u in m.arch.hidden.iter().zip(&m.quant.layers) {
                    assert!(it.any(|v| v == u), "{g:?} -> {m:?}");
                }
            }
        }
        assert!(seen_insert && seen_remove);
    }

    #[test]
    fn train_seed_depends_on_trial_and_architecture_only() {
        let x = Arch {
            hidden: vec![16, 8],
            activation: Activation::Relu,
        };
        let y = Arch {
            hidden: vec![16, 8],
            activation: Activation::Tanh,
        };
        assert_eq!(x.train_seed(5), x.clone().train_seed(5));
        assert_ne!(x.train_seed(5), x.train_seed(6));
        assert_ne!(x.train_seed(5), y.train_seed(5));
        assert_eq!(x.label(), "relu 16-8");
    }

    #[test]
    fn the_fixed_space_never_changes_the_architecture() {
        let (_, q) = spaces();
        let arch = Arch {
            hidden: vec![40, 20],
            activation: Activation::Relu,
        };
        let a = ArchSpace::fixed(arch.clone());
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        for _ in 0..50 {
            let mut g = a.random(&q, &mut rng);
            let h = a.random(&q, &mut rng);
            g = a.crossover(&q, &g, &h, &mut rng);
            a.mutate(&q, &mut g, 1.0, &mut rng);
            assert_eq!(g.arch, arch);
            assert!(a.contains(&q, &g));
        }
    }
}
