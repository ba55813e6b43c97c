//! The exact optimum: the allocation with the fewest parameter bits (hence
//! the highest compression) whose modelled accuracy meets a threshold.
//!
//! With the product accuracy model this is a multiple-choice knapsack: pick
//! one option `(w, v) = (params·bits, ln(1 − loss))` per layer, minimise
//! `Σ w` subject to `Σ v ≥ ln T`. Solved by dynamic programming over layers
//! on Pareto fronts of partial allocations, with two exact prunings:
//!
//! 1. **Dominance.** A partial allocation `A` of layers `0..k` dominates `B`
//!    when `w_A ≤ w_B` and `v_A ≥ v_B`. Any completion of `B` applied to `A`
//!    gives no more bits and no less log-accuracy — also in floating point,
//!    because rounded addition is monotone — so dropping `B` loses no optimum.
//! 2. **Bounds.** A partial state is dropped when even taking the most
//!    accurate option for every remaining layer cannot reach `ln T`, or when a
//!    lower bound on its completed bits exceeds a known feasible solution
//!    (the incumbent). The lower bound is the LP relaxation of the remaining
//!    layers: start each at its cheapest option and buy accuracy along the
//!    upper concave hull of its options, best accuracy-per-bit first, the last
//!    segment fractionally (the classic greedy solution of the MCKP LP
//!    relaxation, Sinha & Zoltners 1979). Both tests use a small tolerance in
//!    the direction of *keeping* states, so rounding can only cost time.
//!
//! What survives at the last layer contains every undominated complete
//! allocation that could beat the incumbent, so the cheapest feasible one is
//! optimal. Log-accuracies are accumulated layer by layer from 0 exactly as
//! [`evaluate`] does, so "feasible" here is bit-for-bit the same predicate.
//! Unit tests compare against brute-force enumeration on random instances.

use crate::models::{Evaluation, Inventory, Precision, evaluate, log_retention};

/// One precision choice for one layer.
#[derive(Clone, Copy, Debug)]
struct Choice {
    w: u64,
    v: f64,
    precision: Precision,
}

/// One partial allocation on a Pareto front, linked to its parent state.
#[derive(Clone, Copy, Debug)]
struct State {
    w: u64,
    v: f64,
    parent: u32,
    choice: u8,
}

/// A solved allocation.
#[derive(Clone, Debug, PartialEq)]
pub struct Optimum {
    pub allocation: Vec<Precision>,
    pub eval: Evaluation,
}

/// Precomputed options and relaxation tables for one inventory and precision
/// set; solving for many thresholds reuses them.
pub struct Solver<'a> {
    inventory: &'a Inventory,
    /// Undominated choices per layer, ascending in both bits and accuracy.
    choices: Vec<Vec<Choice>>,
    /// Per suffix start `k` (0..=n): Σ max v over layers ≥ k.
    vmax_suffix: Vec<f64>,
    /// Per suffix: Σ cheapest w and Σ its v over layers ≥ k.
    w0_suffix: Vec<u64>,
    v0_suffix: Vec<f64>,
    /// Per suffix: hull segments of layers ≥ k, best ratio first, as
    /// cumulative (Δv, Δw) in `cum[offsets[k]..offsets[k + 1]]`.
    cum: Vec<(f64, f64)>,
    offsets: Vec<usize>,
    /// All segments best ratio first: (layer, index of the upper choice).
    segments: Vec<(usize, usize)>,
    tol_w: f64,
}

const TOL_V: f64 = 1e-9;

impl<'a> Solver<'a> {
    /// # Panics
    /// If `allowed` is empty or the inventory exceeds
    /// [`MAX_TOTAL_PARAMS`](crate::models::layer::MAX_TOTAL_PARAMS)
    /// (parameters and data files are validated before this).
    pub fn new(inventory: &'a Inventory, allowed: &[Precision]) -> Self {
        assert!(!allowed.is_empty(), "at least one precision");
        // Validated at load, checked again here: with Σ params ≤ u64::MAX / 32
        // every sum of choices below fits, and a wrapped one would make the
        // optimum silently wrong in a release build.
        assert!(
            inventory.oversized_layer().is_none(),
            "inventory exceeds MAX_TOTAL_PARAMS"
        );
        let n = inventory.layers.len();
        let choices: Vec<Vec<Choice>> = inventory
            .layers
            .iter()
            .map(|layer| {
                let mut all: Vec<Choice> = allowed
                    .iter()
                    .map(|&p| Choice {
                        w: layer.params * u64::from(p.bits()),
                        v: log_retention(layer.loss_at(p)),
                        precision: p,
                    })
                    .collect();
                all.sort_by(|a, b| {
                    a.w.cmp(&b.w)
                        .then(b.v.total_cmp(&a.v))
                        .then(a.precision.cmp(&b.precision))
                });
                let mut kept: Vec<Choice> = Vec::with_capacity(all.len());
                for c in all {
                    if kept.last().is_none_or(|last| c.v > last.v) {
                        kept.push(c);
                    }
                }
                kept
            })
            .collect();

        // Upper concave hull of each layer's (w, v) points: segments with
        // decreasing Δv/Δw.
        // (layer, upper choice, Δv/Δw, Δv, Δw) per hull segment.
        let mut segments: Vec<(usize, usize, f64, f64, f64)> = Vec::new();
        for (l, cs) in choices.iter().enumerate() {
            let mut hull: Vec<usize> = vec![0];
            for i in 1..cs.len() {
                while hull.len() >= 2 {
                    let (a, b) = (cs[hull[hull.len() - 2]], cs[hull[hull.len() - 1]]);
                    let c = cs[i];
                    // b lies on or below the chord a→c: not on the hull.
                    let cross = (b.v - a.v) * (c.w - a.w) as f64 - (c.v - a.v) * (b.w - a.w) as f64;
                    if cross <= 0.0 {
                        hull.pop();
                    } else {
                        break;
                    }
                }
                hull.push(i);
            }
            for pair in hull.windows(2) {
                let (a, b) = (cs[pair[0]], cs[pair[1]]);
                // Undominated choices have strictly increasing w, so dw > 0.
                let (dv, dw) = (b.v - a.v, (b.w - a.w) as f64);
                segments.push((l, pair[1], dv / dw, dv, dw));
            }
        }
        segments.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));

        let mut vmax_suffix = vec![0.0; n + 1];
        let mut w0_suffix = vec![0u64; n + 1];
        let mut v0_suffix = vec![0.0; n + 1];
        for k in (0..n).rev() {
            let cs = &choices[k];
            vmax_suffix[k] = vmax_suffix[k + 1] + cs[cs.len() - 1].v;
            w0_suffix[k] = w0_suffix[k + 1] + cs[0].w;
            v0_suffix[k] = v0_suffix[k + 1] + cs[0].v;
        }
        let mut cum = Vec::new();
        let mut offsets = Vec::with_capacity(n + 2);
        for k in 0..=n {
            offsets.push(cum.len());
            let (mut dv, mut dw) = (0.0, 0.0);
            for &(l, _, _, sdv, sdw) in &segments {
                if l >= k {
                    dv += sdv;
                    dw += sdw;
                    cum.push((dv, dw));
                }
            }
        }
        offsets.push(cum.len());
        let tol_w = 1e-9 * (32 * inventory.total_params()) as f64 + 1.0;
        Solver {
            inventory,
            choices,
            vmax_suffix,
            w0_suffix,
            v0_suffix,
            cum,
            offsets,
            segments: segments.iter().map(|s| (s.0, s.1)).collect(),
            tol_w,
        }
    }

    /// LP lower bound on the bits layers `k..` need to add `need` log-accuracy
    /// above their cheapest options; `None` when they cannot.
    fn lower_bound(&self, k: usize, need_total: f64) -> Option<f64> {
        let need = need_total - self.v0_suffix[k];
        let base = self.w0_suffix[k] as f64;
        if need <= 0.0 {
            return Some(base);
        }
        let cum = &self.cum[self.offsets[k]..self.offsets[k + 1]];
        let i = cum.partition_point(|&(dv, _)| dv < need);
        if i == cum.len() {
            return None;
        }
        let (prev_dv, prev_dw) = if i == 0 { (0.0, 0.0) } else { cum[i - 1] };
        let (seg_dv, seg_dw) = (cum[i].0 - prev_dv, cum[i].1 - prev_dw);
        let frac = if seg_dv > 0.0 {
            (need - prev_dv) / seg_dv
        } else {
            1.0
        };
        Some(base + prev_dw + frac * seg_dw)
    }

    /// Bits of layers `k..` all at their most accurate choice.
    fn all_top_bits(&self, k: usize) -> f64 {
        let cum = &self.cum[self.offsets[k]..self.offsets[k + 1]];
        self.w0_suffix[k] as f64 + cum.last().map_or(0.0, |c| c.1)
    }

    /// The most accurate allocation (best choice per layer).
    pub fn most_accurate(&self) -> Vec<Precision> {
        self.choices
            .iter()
            .map(|cs| cs[cs.len() - 1].precision)
            .collect()
    }

    /// Greedy feasible solution along the hull (the LP solution rounded up).
    /// A running sum finds the step; feasibility is then confirmed with the
    /// canonical layer-order sum.
    fn incumbent(&self, target: f64) -> Option<Vec<Precision>> {
        let mut current: Vec<Precision> = self.choices.iter().map(|cs| cs[0].precision).collect();
        let mut pick: Vec<usize> = vec![0; self.choices.len()];
        let mut running = self.v0_suffix[0];
        let feasible = |alloc: &[Precision]| evaluate(self.inventory, alloc).log_accuracy >= target;
        if running >= target - TOL_V && feasible(&current) {
            return Some(current);
        }
        for &(l, up) in &self.segments {
            running += self.choices[l][up].v - self.choices[l][pick[l]].v;
            pick[l] = up;
            current[l] = self.choices[l][up].precision;
            if running >= target - TOL_V && feasible(&current) {
                return Some(current);
            }
        }
        None
    }

    /// The exact optimum at accuracy threshold `threshold` (in (0, 1]), or
    /// `None` when no allocation over the allowed precisions reaches it.
    pub fn solve(&self, threshold: f64) -> Option<Optimum> {
        let target = threshold.ln();
        let incumbent = self.incumbent(target)?;
        let inc_eval = evaluate(self.inventory, &incumbent);
        let limit = inc_eval.allocated_bits as f64 + self.tol_w;

        let n = self.choices.len();
        let mut fronts: Vec<Vec<State>> = Vec::with_capacity(n + 1);
        fronts.push(vec![State {
            w: 0,
            v: 0.0,
            parent: 0,
            choice: 0,
        }]);
        let mut candidates: Vec<State> = Vec::new();
        for k in 0..n {
            candidates.clear();
            let front = &fronts[k];
            // Choice-major order: each choice yields a run already sorted by
            // w (fronts are), which the stable sort below merges cheaply.
            for (ci, c) in self.choices[k].iter().enumerate() {
                for (si, s) in front.iter().enumerate() {
                    let (w, v) = (s.w + c.w, s.v + c.v);
                    if v + self.vmax_suffix[k + 1] < target - TOL_V {
                        continue;
                    }
                    // `None` only by rounding at the margin the test above
                    // let through: bound with every remaining layer at its top.
                    let lb = self
                        .lower_bound(k + 1, target - TOL_V - v)
                        .unwrap_or_else(|| self.all_top_bits(k + 1));
                    if w as f64 + lb > limit {
                        continue;
                    }
                    candidates.push(State {
                        w,
                        v,
                        parent: si as u32,
                        choice: ci as u8,
                    });
                }
            }
            candidates.sort_by(|a, b| {
                a.w.cmp(&b.w)
                    .then(b.v.total_cmp(&a.v))
                    .then(a.parent.cmp(&b.parent))
                    .then(a.choice.cmp(&b.choice))
            });
            let mut next: Vec<State> = Vec::with_capacity(candidates.len());
            for &c in &candidates {
                if next.last().is_none_or(|last: &State| c.v > last.v) {
                    next.push(c);
                }
            }
            fronts.push(next);
        }

        // Fronts are sorted by w ascending with v increasing: the first
        // feasible state is the cheapest, and the most accurate at its cost.
        let last = &fronts[n];
        let best = last.iter().position(|s| s.v >= target);
        let allocation = match best {
            Some(mut idx) if last[idx].w <= inc_eval.allocated_bits => {
                let mut alloc = vec![Precision::Fp32; n];
                for k in (0..n).rev() {
                    let s = fronts[k + 1][idx];
                    alloc[k] = self.choices[k][s.choice as usize].precision;
                    idx = s.parent as usize;
                }
                alloc
            }
            _ => incumbent,
        };
        let eval = evaluate(self.inventory, &allocation);
        Some(Optimum { allocation, eval })
    }
}

/// The exact optimum for one threshold (builds a [`Solver`] once).
pub fn optimum(inventory: &Inventory, allowed: &[Precision], threshold: f64) -> Option<Optimum> {
    Solver::new(inventory, allowed).solve(threshold)
}

/// Accuracy targets for the frontier: `points` values with the loss `1 − a`
/// spaced log-uniformly from 0.5 down to 0.001, plus `extra` (the study's
/// threshold), sorted ascending and deduplicated.
pub fn frontier_targets(points: usize, extra: f64) -> Vec<f64> {
    let mut t: Vec<f64> = (0..points)
        .map(|i| {
            let f = if points > 1 {
                i as f64 / (points - 1) as f64
            } else {
                0.0
            };
            1.0 - 0.5 * (0.002f64).powf(f)
        })
        .collect();
    t.push(extra);
    t.sort_by(f64::total_cmp);
    t.dedup();
    t
}

/// One point of the exact frontier.
#[derive(Clone, Debug, PartialEq)]
pub struct FrontierPoint {
    pub target: f64,
    pub optimum: Optimum,
}

/// The exact optimum at each target; targets no allocation reaches are
/// skipped.
pub fn frontier(
    inventory: &Inventory,
    allowed: &[Precision],
    targets: &[f64],
) -> Vec<FrontierPoint> {
    let solver = Solver::new(inventory, allowed);
    targets
        .iter()
        .filter_map(|&target| {
            solver
                .solve(target)
                .map(|optimum| FrontierPoint { target, optimum })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{LayerInfo, LayerType, SensitivityCurve, Split};
    use proptest::prelude::*;

    fn inventory(layers: &[(u64, [f64; 7])]) -> Inventory {
        Inventory {
            name: "t".into(),
            family: "t".into(),
            layers: layers
                .iter()
                .enumerate()
                .map(|(i, &(params, losses))| LayerInfo {
                    name: format!("l{i}"),
                    layer_type: LayerType::Linear,
                    index: i,
                    relative_position: 0.0,
                    params,
                    sensitivity: SensitivityCurve(losses),
                    gradient_sensitivity: 0.5,
                    weight_std: 0.0,
                    activation_range: 0.0,
                })
                .collect(),
        }
    }

    /// Cheapest feasible allocation by enumeration; (bits, log accuracy).
    fn brute_force(inv: &Inventory, allowed: &[Precision], threshold: f64) -> Option<(u64, f64)> {
        let n = inv.len();
        let mut best: Option<(u64, f64)> = None;
        let mut idx = vec![0usize; n];
        loop {
            let alloc: Vec<Precision> = idx.iter().map(|&i| allowed[i]).collect();
            let e = evaluate(inv, &alloc);
            if e.meets(threshold) {
                let better = match best {
                    None => true,
                    Some((w, v)) => {
                        e.allocated_bits < w || (e.allocated_bits == w && e.log_accuracy > v)
                    }
                };
                if better {
                    best = Some((e.allocated_bits, e.log_accuracy));
                }
            }
            let mut k = 0;
            loop {
                if k == n {
                    return best;
                }
                idx[k] += 1;
                if idx[k] < allowed.len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn matches_brute_force(
            layers in prop::collection::vec((0u64..2000, prop::array::uniform7(0.0f64..0.3)), 1..6),
            mask in 1u8..128,
            threshold in 0.3f64..0.999,
        ) {
            let inv = inventory(&layers);
            let allowed: Vec<Precision> = Precision::ALL
                .into_iter()
                .filter(|p| mask & (1 << p.index()) != 0)
                .collect();
            let exact = optimum(&inv, &allowed, threshold);
            let brute = brute_force(&inv, &allowed, threshold);
            match (exact, brute) {
                (None, None) => {}
                (Some(o), Some((w, v))) => {
                    prop_assert!(o.eval.meets(threshold));
                    prop_assert_eq!(o.eval.allocated_bits, w);
                    prop_assert_eq!(o.eval.log_accuracy, v);
                    prop_assert!(o.allocation.iter().all(|p| allowed.contains(p)));
                }
                (a, b) => prop_assert!(false, "exact {:?} vs brute {:?}", a, b),
            }
        }
    }

    #[test]
    fn optimum_on_builtin_data_is_feasible_and_beats_uniform_choices() {
        let inv = Split::Train.builtin();
        let o = optimum(&inv, &Precision::ALL, 0.95).expect("FP32 everywhere is feasible");
        assert!(o.eval.meets(0.95));
        for p in Precision::ALL {
            let e = evaluate(&inv, &vec![p; inv.len()]);
            if e.meets(0.95) {
                assert!(o.eval.allocated_bits <= e.allocated_bits, "{p}");
            }
        }
    }

    #[test]
    fn unreachable_threshold_has_no_optimum() {
        let inv = Split::Test.builtin();
        assert!(optimum(&inv, &[Precision::Int2], 0.99).is_none());
    }

    #[test]
    fn frontier_compression_falls_as_targets_rise() {
        let inv = Split::Valid.builtin();
        let pts = frontier(&inv, &Precision::ALL, &frontier_targets(12, 0.95));
        assert!(pts.len() >= 12);
        for w in pts.windows(2) {
            assert!(w[0].optimum.eval.compression >= w[1].optimum.eval.compression);
            assert!(w[1].optimum.eval.meets(w[1].target));
        }
    }
}
