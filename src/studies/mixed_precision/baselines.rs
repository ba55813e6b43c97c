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
//!
//! The greedy allocation above is one point. To ask whether evolution
//! allocates bits better than the sensitivity ranking *at every size the
//! front reaches*, [`greedy_path`] narrows one layer at a time by the same
//! rule without evaluating anything (every step taken, down to all layers at
//! the narrowest width), and [`greedy_at`] picks for a memory budget the
//! last step of the path that fits it: the additive sensitivity model's best
//! guess at that size. The study measures those genomes like the front's.

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

/// A uniform baseline; in a ggml space (`formats = "ggml"`) the same width
/// as the ggml type a llama.cpp user would pick (F16, Q8_0, Q4_0, float
/// activations).
pub fn uniform(name: &str, n: usize, space: &Space) -> Genome {
    let mut gene = match name {
        names::UNIFORM_FP16 => LayerGene::float(16),
        names::UNIFORM_INT8 => LayerGene::int(8, 8, Granularity::PerChannel),
        _ => LayerGene::int(4, 8, Granularity::PerGroup),
    };
    space.canonical(&mut gene);
    Genome::uniform(gene, n)
}

fn better(ev: &Evaluator, new: &Eval, old: &Eval) -> bool {
    if old.violation > 0.0 {
        new.violation < old.violation
            || (new.violation == old.violation && ev.fitness(new) > ev.fitness(old))
    } else {
        new.feasible() && new.fitness > old.fitness
    }
}

/// The layer whose next narrowing step loses the least sensitivity-table
/// accuracy per byte saved (ties to the lowest index), among those not
/// frozen and not already at the narrowest width.
fn cheapest_step(
    layers: &[super::model::ModelLayer],
    widths: &[u8],
    sens: &Sensitivity,
    level: &[usize],
    frozen: &[bool],
) -> Option<usize> {
    let mut pick: Option<(usize, f64)> = None;
    for (l, &k) in level.iter().enumerate() {
        if frozen[l] || k == 0 {
            continue;
        }
        let saved = layers[l].shape.weights as f64 * f64::from(widths[k] - widths[k - 1]) / 8.0;
        let cost = (sens.drop[l][k - 1] - sens.drop[l][k]).max(0.0) / saved.max(1.0);
        if pick.is_none_or(|(_, c)| cost < c) {
            pick = Some((l, cost));
        }
    }
    pick.map(|(l, _)| l)
}

/// The activation width greedy genes use: 8 bits when allowed, else the widest.
fn greedy_act(space: &Space) -> u8 {
    space
        .act_bits
        .iter()
        .copied()
        .find(|&a| a == 8)
        .unwrap_or(*space.act_bits.last().expect("non-empty"))
}

fn build(space: &Space, level: &[usize], act: u8) -> Genome {
    Genome {
        layers: level
            .iter()
            .map(|&k| space.gene_at(space.weight_bits[k], act))
            .collect(),
    }
}

/// Every step of the sensitivity ranking, widest first: each genome narrows
/// one layer of the one before (all layers together when the space is not
/// mixed), ending with every layer at the narrowest width.
pub fn greedy_path(ev: &Evaluator, space: &Space, sens: &Sensitivity) -> Vec<Genome> {
    let layers = ev.model.layers();
    let n = layers.len();
    let top = space.weight_bits.len() - 1;
    let act = greedy_act(space);
    if !space.mixed {
        return (0..=top)
            .rev()
            .map(|k| build(space, &vec![k; n], act))
            .collect();
    }
    let mut level = vec![top; n];
    let frozen = vec![false; n];
    let mut path = vec![build(space, &level, act)];
    while let Some(l) = cheapest_step(layers, &space.weight_bits, sens, &level, &frozen) {
        level[l] -= 1;
        path.push(build(space, &level, act));
    }
    path
}

/// Index of the largest genome of a greedy path (its memories `sizes`,
/// falling along it) whose memory is at most `memory_mb`; `None` when even
/// the narrowest is larger.
pub fn greedy_at(sizes: &[f64], memory_mb: f64) -> Option<usize> {
    sizes.iter().position(|&m| m <= memory_mb)
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
    let top = space.weight_bits.len() - 1;
    let act = greedy_act(space);
    let mut level = vec![top; n];
    let mut current = build(space, &level, act);
    let mut score = cache.evaluate_one(ev, &current)?;
    if !space.mixed {
        for k in (0..top).rev() {
            let trial = build(space, &vec![k; n], act);
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
    while let Some(l) = cheapest_step(layers, &space.weight_bits, sens, &level, &frozen) {
        level[l] -= 1;
        let trial = build(space, &level, act);
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

    /// The ResNet-50-like inventory on arm_dot.
    fn resnet() -> (InventoryModel, crate::hw::Target) {
        (
            InventoryModel::new(Family::Resnet50Like.shaped(42, 1)),
            builtin("arm_dot").unwrap(),
        )
    }

    #[test]
    fn the_greedy_path_narrows_one_layer_per_step_and_picks_the_largest_that_fits() {
        let (m, t) = resnet();
        let ev = Evaluator::new(&m, &t, [0.4, 0.3, 0.2, 0.1], [0.0; 3]);
        let space = Space {
            weight_bits: vec![4, 6, 8],
            act_bits: vec![4, 8],
            granularities: vec![Granularity::PerChannel],
            group_sizes: vec![128],
            mixed: true,
            ggml: false,
            calibrations: crate::studies::mixed_precision::genome::CALIBRATIONS.to_vec(),
            fp8: false,
        };
        let sens = analyze(&m, &space).unwrap();
        let path = greedy_path(&ev, &space, &sens);
        let n = m.layers().len();
        assert_eq!(path.len(), 1 + 2 * n);
        let bits = |g: &Genome| g.layers.iter().map(|l| l.weight_bits).collect::<Vec<_>>();
        assert_eq!(bits(&path[0]), vec![8; n]);
        assert_eq!(bits(&path[2 * n]), vec![4; n]);
        for w in path.windows(2) {
            let changed = (0..n).filter(|&l| w[0].layers[l] != w[1].layers[l]).count();
            assert_eq!(changed, 1);
            assert!(ev.memory_mb(&w[1]) < ev.memory_mb(&w[0]));
            assert!(w[1].layers.iter().all(|l| l.activation_bits == 8));
        }
        let sizes: Vec<f64> = path.iter().map(|g| ev.memory_mb(g)).collect();
        let budget = (sizes[5] + sizes[6]) / 2.0;
        assert_eq!(greedy_at(&sizes, budget), Some(6));
        assert_eq!(greedy_at(&sizes, sizes[5]), Some(5));
        assert_eq!(greedy_at(&sizes, sizes[2 * n] - 1e-9), None);
        // Not mixed: one uniform genome per width, widest first.
        let uniform = greedy_path(
            &ev,
            &Space {
                mixed: false,
                ..space
            },
            &sens,
        );
        assert_eq!(
            uniform
                .iter()
                .map(|g| g.layers[0].weight_bits)
                .collect::<Vec<_>>(),
            [8, 6, 4]
        );
    }

    #[test]
    fn greedy_beats_its_starting_point_and_stays_in_the_space() {
        let (m, t) = resnet();
        let ev = Evaluator::new(&m, &t, [0.4, 0.3, 0.2, 0.1], [0.0; 3]);
        let space = Space {
            weight_bits: vec![4, 6, 8],
            act_bits: vec![8],
            granularities: vec![Granularity::PerChannel],
            group_sizes: vec![128],
            mixed: true,
            ggml: false,
            calibrations: crate::studies::mixed_precision::genome::CALIBRATIONS.to_vec(),
            fp8: false,
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
