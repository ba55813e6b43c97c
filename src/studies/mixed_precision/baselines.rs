//! Baselines evaluated in the same trial as the search, on the same model,
//! target and fitness:
//!
//! - `uniform_fp16`: W16A16 everywhere;
//! - `uniform_int8`: W8A8, symmetric per-channel weights, asymmetric
//!   percentile-calibrated activations;
//! - `uniform_int4`: W4A8, symmetric per-group (128) weights, same activations
//!   (weight-only INT4 with 8-bit activations, the common INT4 deployment);
//! - `sensitivity_greedy`: start every layer at the widest allowed width and
//!   repeatedly narrow the layer with the smallest sensitivity-table drop per
//!   byte saved, keeping a step only if the weighted fitness improves (or the
//!   constraint violation falls); a layer whose step is rejected is frozen.
//!
//! The uniform baselines ignore min_bits / max_bits on purpose: they are the
//! configurations a user would otherwise deploy.

use super::evaluate::{Cache, Eval, Evaluator};
use super::genome::{Genome, Granularity, LayerGene, Space};
use super::names;
use super::sensitivity::Sensitivity;
use crate::studies::StudyError;

pub const NAMES: [&str; 4] = [
    names::UNIFORM_FP16,
    names::UNIFORM_INT8,
    names::UNIFORM_INT4,
    names::SENSITIVITY_GREEDY,
];

pub fn uniform(name: &str, n: usize) -> Genome {
    let gene = match name {
        names::UNIFORM_FP16 => LayerGene::float(16),
        names::UNIFORM_INT8 => LayerGene::int(8, 8, Granularity::PerChannel),
        _ => LayerGene::int(4, 8, Granularity::PerGroup),
    };
    Genome::uniform(gene, n)
}

fn gene_at(space: &Space, bits: u8, act: u8) -> LayerGene {
    if bits >= 16 {
        LayerGene {
            activation_bits: act,
            ..LayerGene::float(16)
        }
    } else {
        let gran = if space.granularities.contains(&Granularity::PerChannel) {
            Granularity::PerChannel
        } else {
            space.granularities[0]
        };
        LayerGene::int(bits, act, gran)
    }
}

fn better(ev: &Evaluator, new: &Eval, old: &Eval) -> bool {
    if old.violation > 0.0 {
        new.violation < old.violation
            || (new.violation == old.violation && ev.fitness(new) > ev.fitness(old))
    } else {
        new.feasible() && new.fitness > old.fitness
    }
}

/// The sensitivity-greedy allocation.
pub fn greedy(
    ev: &Evaluator,
    cache: &mut Cache,
    space: &Space,
    sens: &Sensitivity,
) -> Result<Genome, StudyError> {
    let layers = ev.model.layers();
    let n = layers.len();
    let widths = &space.weight_bits;
    let act = space
        .act_bits
        .iter()
        .copied()
        .find(|&a| a == 8)
        .unwrap_or(*space.act_bits.last().expect("non-empty"));
    let top = widths.len() - 1;
    let mut level = vec![top; n];
    let build = |level: &[usize]| Genome {
        layers: level
            .iter()
            .map(|&k| gene_at(space, widths[k], act))
            .collect(),
    };
    let mut current = build(&level);
    let mut score = cache.evaluate_one(ev, &current)?;
    if !space.mixed {
        for k in (0..top).rev() {
            let trial = build(&vec![k; n]);
            let e = cache.evaluate_one(ev, &trial)?;
            if !better(ev, &e, &score) {
                break;
            }
            current = trial;
            score = e;
        }
        return Ok(current);
    }
    let mut frozen = vec![false; n];
    loop {
        let mut pick: Option<(usize, f64)> = None;
        for l in 0..n {
            let k = level[l];
            if frozen[l] || k == 0 {
                continue;
            }
            let saved = layers[l].shape.weights as f64 * f64::from(widths[k] - widths[k - 1]) / 8.0;
            let cost = (sens.drop[l][k - 1] - sens.drop[l][k]).max(0.0) / saved.max(1.0);
            if pick.is_none_or(|(_, c)| cost < c) {
                pick = Some((l, cost));
            }
        }
        let Some((l, _)) = pick else { break };
        level[l] -= 1;
        let trial = build(&level);
        let e = cache.evaluate_one(ev, &trial)?;
        if better(ev, &e, &score) {
            current = trial;
            score = e;
        } else {
            level[l] += 1;
            frozen[l] = true;
        }
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::builtin;
    use crate::models::Family;
    use crate::studies::mixed_precision::model::{InventoryModel, QuantModel};
    use crate::studies::mixed_precision::sensitivity::analyze;

    #[test]
    fn greedy_beats_its_starting_point_and_stays_in_the_space() {
        let m = InventoryModel::new(Family::Resnet50Like.shaped(42, 1));
        let t = builtin("arm_dot").unwrap();
        let ev = Evaluator::new(&m, &t, [0.4, 0.3, 0.2, 0.1], [0.0; 3]);
        let space = Space {
            weight_bits: vec![4, 6, 8],
            act_bits: vec![8],
            granularities: vec![Granularity::PerChannel],
            group_sizes: vec![128],
            mixed: true,
            calibrations: crate::studies::mixed_precision::genome::CALIBRATIONS.to_vec(),
        };
        let sens = analyze(&m, &space).unwrap();
        let mut cache = Cache::new(true);
        let g = greedy(&ev, &mut cache, &space, &sens).unwrap();
        assert!(space.contains(&g));
        let start = ev
            .evaluate(&Genome::uniform(
                LayerGene::int(8, 8, Granularity::PerChannel),
                m.layers().len(),
            ))
            .unwrap();
        assert!(ev.evaluate(&g).unwrap().fitness > start.fitness);
        // MSE-calibrated weights cost nothing extra and lose less accuracy in
        // the inventory model: one such change dominates the greedy result.
        let mut better = g.clone();
        better.layers[0].calibration = crate::studies::mixed_precision::genome::Calibration::Mse;
        let (a, b) = (ev.evaluate(&better).unwrap(), ev.evaluate(&g).unwrap());
        assert!(
            crate::evo::dominates(&ev.objectives(&a), &ev.objectives(&b)),
            "{:?} vs {:?}",
            ev.objectives(&a),
            ev.objectives(&b)
        );
    }
}
