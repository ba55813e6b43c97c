//! The document's `analyze_sensitivity`: for each layer and each allowed
//! weight width, the accuracy drop when only that layer's weights are
//! quantized (everything else, activations included, stays FP32). Used to
//! seed part of the initial population, to drive the greedy baseline, and
//! reported as `sensitivity.csv`.

use super::genome::{Genome, LayerGene, Space};
use super::model::QuantModel;
use crate::studies::StudyError;

/// `drop[l][k]` for layer `l` at `bits[k]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sensitivity {
    pub bits: Vec<u8>,
    pub accuracy: Vec<Vec<f64>>,
    pub drop: Vec<Vec<f64>>,
}

/// The gene used to probe one layer at `bits`: the space's best granularity,
/// symmetric weights, unquantized activations.
pub fn probe_gene(space: &Space, bits: u8) -> LayerGene {
    space.gene_at(bits, 32)
}

pub fn analyze(model: &dyn QuantModel, space: &Space) -> Result<Sensitivity, StudyError> {
    let n = model.layers().len();
    let base = model.fp32_accuracy();
    let bits = space.weight_bits.clone();
    // One batch, layer-major: every probe is independent.
    let probes: Vec<Genome> = (0..n)
        .flat_map(|l| {
            bits.iter().map(move |&b| {
                let mut g = Genome::uniform(LayerGene::FP32, n);
                g.layers[l] = probe_gene(space, b);
                g
            })
        })
        .collect();
    let refs: Vec<&Genome> = probes.iter().collect();
    let measured = model.accuracies(&refs)?;
    let accuracy: Vec<Vec<f64>> = measured
        .chunks(bits.len().max(1))
        .map(<[f64]>::to_vec)
        .collect();
    let drop = accuracy
        .iter()
        .map(|row| row.iter().map(|a| base - a).collect())
        .collect();
    Ok(Sensitivity {
        bits,
        accuracy,
        drop,
    })
}

impl Sensitivity {
    /// Layer indices, most sensitive (largest drop at the lowest width) first;
    /// ties by index.
    pub fn order(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.drop.len()).collect();
        idx.sort_by(|&a, &b| self.drop[b][0].total_cmp(&self.drop[a][0]).then(a.cmp(&b)));
        idx
    }

    /// Seed genomes: for the `i`-th of `count`, the most sensitive
    /// (i+1)/(count+1) of the layers get the widest width, the next equal
    /// share the middle width (if any), the rest the narrowest.
    pub fn seeds(&self, space: &Space, count: usize) -> Vec<Genome> {
        let n = self.drop.len();
        let order = self.order();
        let act = space
            .act_bits
            .iter()
            .copied()
            .find(|&a| a == 8)
            .unwrap_or(*space.act_bits.last().expect("non-empty"));
        let gran = probe_gene(space, 8).granularity;
        let widths = &space.weight_bits;
        let (lo, hi) = (widths[0], widths[widths.len() - 1]);
        let mid = widths[widths.len() / 2];
        (0..count)
            .map(|i| {
                let f = (i + 1) as f64 / (count + 1) as f64;
                let top = (f * n as f64).round() as usize;
                let middle = (2.0 * f * n as f64).round() as usize;
                let mut g = Genome::uniform(LayerGene::int(lo, act, gran), n);
                for (rank, &l) in order.iter().enumerate() {
                    let w = if rank < top {
                        hi
                    } else if rank < middle {
                        mid
                    } else {
                        lo
                    };
                    g.layers[l] = if w >= 16 {
                        LayerGene {
                            activation_bits: act,
                            ..LayerGene::float(16)
                        }
                    } else {
                        LayerGene::int(w, act, gran)
                    };
                }
                space.repair(&mut g);
                g
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Family;
    use crate::studies::mixed_precision::genome::Granularity;
    use crate::studies::mixed_precision::model::InventoryModel;

    #[test]
    fn drops_fall_with_bits_and_seeds_are_legal() {
        let m = InventoryModel::new(Family::Resnet50Like.shaped(42, 1));
        let space = Space {
            weight_bits: vec![4, 6, 8],
            act_bits: vec![4, 8, 16],
            granularities: vec![Granularity::PerTensor, Granularity::PerChannel],
            group_sizes: vec![128],
            mixed: true,
            ggml: false,
            calibrations: crate::studies::mixed_precision::genome::CALIBRATIONS.to_vec(),
            fp8: false,
        };
        let s = analyze(&m, &space).unwrap();
        for row in &s.drop {
            assert!(row[0] > row[1] && row[1] > row[2] && row[2] > 0.0);
        }
        let seeds = s.seeds(&space, 3);
        assert_eq!(seeds.len(), 3);
        for g in &seeds {
            assert!(space.contains(g));
        }
        let most = s.order()[0];
        assert_eq!(seeds[0].layers[most].weight_bits, 8);
    }
}
