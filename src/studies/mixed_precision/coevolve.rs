//! Co-evolution of architecture and quantization (`arch.enabled`): NSGA-II
//! over [`CoGenome`]s — a classifier shape plus one quantization gene per
//! linear layer — and, in the same trial, the quantization-only search on
//! the default architecture with the same population, generations and data,
//! so the two fronts can be compared pairwise.
//!
//! Why a search loop of its own: the quantization-only search scores every
//! genome against one fixed model; here each genome brings its own network.
//! The pieces are shared — `Evaluator` scores a genome on its
//! architecture's network, the NSGA-II operators and archive come from
//! `crate::evo` — and every objective is normalised by the *default*
//! architecture's FP32 deployment, so both fronts live in the same units
//! and their hypervolumes (reference point (1, …, 1)) are comparable.
//!
//! Training: the data splits come from the trial's model seed; each
//! architecture is trained once per trial from [`Arch::train_seed`] (a hash
//! of that seed and the architecture), cached by architecture, and new
//! architectures of a generation are trained in parallel (rayon) in
//! first-seen order — training is single-threaded and fixed-order, so the
//! cache holds the same networks for any thread count. With
//! `mlp.qat_epochs` each configuration is fine-tuned with its own fake
//! quantization before it is measured.

use super::adapters::MlpModel;
use super::arch::{Arch, ArchSpace, CoGenome};
use super::evaluate::{Eval, Evaluator, OBJECTIVES};
use super::genome::{Genome, Space};
use super::model::QuantModel;
use super::params::Params;
use super::search::GenerationStats;
use super::{EVAL_COLUMNS, baselines, eval_cells, export, names, rle};
use crate::evo::{Archive, crowded_tournament, hypervolume, rank_and_crowding, select_survivors};
use crate::hw::Target;
use crate::nn::ClassifierTask;
use crate::studies::{StudyError, Table, TrialContext, TrialOutput, TrialRng};
use crate::value::Value;
use rand::Rng;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Trained networks of one trial, by architecture.
pub struct Nets {
    seed: u64,
    qat_epochs: usize,
    base: Arc<MlpModel>,
    nets: BTreeMap<Arch, Arc<MlpModel>>,
}

impl Nets {
    /// Render the data from `seed` and train `default` (the data holder).
    pub fn new(p: &Params, default: &Arch, seed: u64) -> Result<Nets, StudyError> {
        let mut cfg = p.mlp.task_config();
        cfg.hidden = default.hidden.clone();
        cfg.activation = default.activation;
        let task = ClassifierTask::build_with(&cfg, seed, Some(default.train_seed(seed)))
            .map_err(|e| StudyError::new(e.to_string()))?;
        let qat = p.mlp.qat_epochs;
        let base = Arc::new(MlpModel::new(task).with_qat(qat, default.train_seed(seed)));
        let mut nets = BTreeMap::new();
        nets.insert(default.clone(), Arc::clone(&base));
        Ok(Nets {
            seed,
            qat_epochs: qat,
            base,
            nets,
        })
    }

    pub fn get(&self, a: &Arch) -> &MlpModel {
        &self.nets[a]
    }

    pub fn len(&self) -> usize {
        self.nets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Architectures in canonical order with their networks.
    pub fn iter(&self) -> impl Iterator<Item = (&Arch, &MlpModel)> {
        self.nets.iter().map(|(a, m)| (a, m.as_ref()))
    }

    /// Train every architecture of `archs` not yet trained, in parallel.
    pub fn ensure<'a>(&mut self, archs: impl Iterator<Item = &'a Arch>) -> Result<(), StudyError> {
        let mut todo: Vec<&Arch> = Vec::new();
        for a in archs {
            if !self.nets.contains_key(a) && !todo.contains(&a) {
                todo.push(a);
            }
        }
        let base = self.base.task();
        let (seed, qat) = (self.seed, self.qat_epochs);
        let trained: Vec<Result<MlpModel, StudyError>> = todo
            .par_iter()
            .map(|a| {
                base.retrain(&a.hidden, a.activation, a.train_seed(seed))
                    .map(|t| MlpModel::new(t).with_qat(qat, a.train_seed(seed)))
                    .map_err(|e| StudyError::new(format!("architecture {}: {e}", a.label())))
            })
            .collect();
        for (a, m) in todo.into_iter().zip(trained) {
            self.nets.insert(a.clone(), Arc::new(m?));
        }
        Ok(())
    }
}

/// Scoring shared by both arms: the target, weights, limits and the
/// default architecture's FP32 reference.
pub struct Scorer<'a> {
    pub target: &'a Target,
    pub weights: [f64; 4],
    pub limits: [f64; 3],
    pub reference: Eval,
}

impl Scorer<'_> {
    /// The evaluator of one architecture's network, normalised by the
    /// default architecture's reference.
    pub fn evaluator<'m>(&'m self, model: &'m dyn QuantModel) -> Evaluator<'m> {
        let mut ev = Evaluator::new(model, self.target, self.weights, self.limits);
        ev.reference = self.reference;
        ev
    }
}

/// Memoised, order-preserving evaluation of co-genomes (as `evaluate::Cache`).
pub struct CoCache {
    enabled: bool,
    map: HashMap<CoGenome, Eval>,
    pub hits: u64,
    pub evaluations: u64,
}

impl CoCache {
    pub fn new(enabled: bool) -> CoCache {
        CoCache {
            enabled,
            map: HashMap::new(),
            hits: 0,
            evaluations: 0,
        }
    }

    pub fn evaluate_all(
        &mut self,
        sc: &Scorer,
        nets: &mut Nets,
        genomes: &[CoGenome],
    ) -> Result<Vec<Eval>, StudyError> {
        let mut todo: Vec<&CoGenome> = Vec::new();
        if self.enabled {
            let mut pending: HashSet<&CoGenome> = HashSet::new();
            for g in genomes {
                if self.map.contains_key(g) || pending.contains(g) {
                    self.hits += 1;
                } else {
                    pending.insert(g);
                    todo.push(g);
                }
            }
        } else {
            todo = genomes.iter().collect();
        }
        nets.ensure(todo.iter().map(|g| &g.arch))?;
        let nets = &*nets;
        let fresh: Vec<Eval> = todo
            .par_iter()
            .map(|g| sc.evaluator(nets.get(&g.arch)).evaluate(&g.quant))
            .collect::<Result<_, _>>()?;
        self.evaluations += fresh.len() as u64;
        if !self.enabled {
            return Ok(fresh);
        }
        for (g, e) in todo.into_iter().zip(fresh) {
            self.map.insert(g.clone(), e);
        }
        Ok(genomes.iter().map(|g| self.map[g]).collect())
    }
}

pub struct CoResult {
    pub archive: Archive<(CoGenome, Eval)>,
    pub best: (CoGenome, Eval),
    pub history: Vec<GenerationStats>,
    pub evaluations: u64,
    pub hits: u64,
}

/// Search settings of one arm.
pub struct Arm<'a> {
    pub arch: &'a ArchSpace,
    pub quant: &'a Space,
    pub population: usize,
    pub generations: usize,
    pub mutation_rate: f64,
    pub crossover_rate: f64,
    pub archive_size: usize,
    pub caching: bool,
}

/// NSGA-II over co-genomes with the archive and per-generation statistics
/// of the quantization-only search.
pub fn run(
    sc: &Scorer,
    ev0: &Evaluator,
    nets: &mut Nets,
    arm: &Arm,
    rng: &mut TrialRng,
    progress: &dyn Fn(usize),
) -> Result<CoResult, StudyError> {
    let mut cache = CoCache::new(arm.caching);
    let mut archive: Archive<(CoGenome, Eval)> = Archive::new();
    let mut best: Option<(CoGenome, Eval)> = None;
    let mut history = Vec::new();
    let d = ev0.active.len();
    let mut evaluate = |pop: &[CoGenome],
                        archive: &mut Archive<(CoGenome, Eval)>,
                        nets: &mut Nets|
     -> Result<Vec<Eval>, StudyError> {
        let evals = cache.evaluate_all(sc, nets, pop)?;
        for (g, e) in pop.iter().zip(&evals) {
            if best.as_ref().is_none_or(|(_, b)| e.fitness > b.fitness) {
                best = Some((g.clone(), *e));
            }
            if e.feasible() {
                archive.insert(ev0.objectives(e), (g.clone(), *e));
            }
        }
        archive.truncate_crowded(arm.archive_size);
        Ok(evals)
    };
    let record = |generation: usize,
                  evals: &[Eval],
                  archive: &Archive<(CoGenome, Eval)>,
                  history: &mut Vec<GenerationStats>| {
        let fit: Vec<f64> = evals.iter().map(|e| e.fitness).collect();
        history.push(GenerationStats {
            generation,
            best_fitness: fit.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mean_fitness: fit.iter().sum::<f64>() / fit.len() as f64,
            feasible: evals.iter().filter(|e| e.feasible()).count(),
            hypervolume: hypervolume(&archive.objectives(), &vec![1.0; d]),
            front_size: archive.len(),
        });
    };
    let mut pop: Vec<CoGenome> = (0..arm.population)
        .map(|_| arm.arch.random(arm.quant, rng))
        .collect();
    let mut evals = evaluate(&pop, &mut archive, nets)?;
    record(0, &evals, &archive, &mut history);
    for generation in 1..=arm.generations {
        progress(generation);
        let objs: Vec<Vec<f64>> = evals.iter().map(|e| ev0.objectives(e)).collect();
        let viol: Vec<f64> = evals.iter().map(|e| e.violation).collect();
        let (rank, crowd) = rank_and_crowding(&objs, &viol);
        let kids: Vec<CoGenome> = (0..arm.population)
            .map(|_| {
                let a = &pop[crowded_tournament(&rank, &crowd, rng)];
                let (mut child, b) = if rng.random_bool(arm.crossover_rate) {
                    let b = &pop[crowded_tournament(&rank, &crowd, rng)];
                    (arm.arch.crossover(arm.quant, a, b, rng), Some(b))
                } else {
                    (a.clone(), None)
                };
                let clone = &child == a || b == Some(&child);
                let rate = if clone { 1.0 } else { arm.mutation_rate };
                arm.arch.mutate(arm.quant, &mut child, rate, rng);
                child
            })
            .collect();
        let kid_evals = evaluate(&kids, &mut archive, nets)?;
        let mut all_pop = std::mem::take(&mut pop);
        all_pop.extend(kids);
        let mut all_evals = evals;
        all_evals.extend(kid_evals);
        let objs: Vec<Vec<f64>> = all_evals.iter().map(|e| ev0.objectives(e)).collect();
        let viol: Vec<f64> = all_evals.iter().map(|e| e.violation).collect();
        let keep = select_survivors(&objs, &viol, arm.population);
        pop = keep.iter().map(|&i| all_pop[i].clone()).collect();
        evals = keep.iter().map(|&i| all_evals[i]).collect();
        record(generation, &evals, &archive, &mut history);
    }
    Ok(CoResult {
        best: best.expect("at least one genome evaluated"),
        archive,
        history,
        evaluations: cache.evaluations,
        hits: cache.hits,
    })
}

/// The default architecture: `mlp.hidden` with the classifier's activation.
pub fn default_arch(p: &Params) -> Arch {
    Arch {
        hidden: p.mlp.hidden.clone(),
        activation: p.mlp.task_config().activation,
    }
}

pub fn arch_space(p: &Params) -> ArchSpace {
    let mut widths = p.arch.widths.clone();
    widths.sort_unstable();
    widths.dedup();
    ArchSpace {
        min_depth: p.arch.depth.first().copied().unwrap_or(1),
        max_depth: p.arch.depth.get(1).copied().unwrap_or(1),
        widths,
        activations: p.arch.activation_list(),
        mutation_rate: p.arch.mutation_rate,
        fixed: None,
    }
}

/// Front entries sorted by objective vector.
fn sorted_front(archive: &Archive<(CoGenome, Eval)>) -> Vec<&(Vec<f64>, (CoGenome, Eval))> {
    let mut entries: Vec<_> = archive.entries().iter().collect();
    entries.sort_by(|a, b| {
        a.0.iter()
            .zip(&b.0)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    entries
}

/// One co-evolution trial (`arch.enabled`).
pub fn run_trial(
    p: &Params,
    rng: &mut TrialRng,
    ctx: &TrialContext,
) -> Result<TrialOutput, StudyError> {
    let seed: u64 = rng.random();
    let target = p.target().map_err(|e| StudyError::new(e.to_string()))?;
    let space = p.space();
    let default = default_arch(p);
    ctx.progress("training the default architecture");
    let mut nets = Nets::new(p, &default, seed)?;
    let limits = [p.target_latency_ms, p.target_memory_mb, p.target_energy_mj];
    let reference = Evaluator::new(nets.get(&default), &target, p.weights(), limits).reference;
    let sc = Scorer {
        target: &target,
        weights: p.weights(),
        limits,
        reference,
    };
    let aspace = arch_space(p);
    let arm = |arch| Arm {
        arch,
        quant: &space,
        population: p.population_size,
        generations: p.max_generations,
        mutation_rate: p.mutation_rate,
        crossover_rate: p.crossover_rate,
        archive_size: p.archive_size,
        caching: p.enable_caching,
    };
    let total = p.max_generations;
    let base_model: Arc<MlpModel> = Arc::clone(&nets.base);
    let ev0 = sc.evaluator(base_model.as_ref());
    let co = run(&sc, &ev0, &mut nets, &arm(&aspace), rng, &|g| {
        ctx.progress(&format!("co-evolution: generation {g}/{total}"))
    })?;
    let fixed = ArchSpace::fixed(default.clone());
    let quant_only = if p.arch.compare_quant_only {
        Some(run(&sc, &ev0, &mut nets, &arm(&fixed), rng, &|g| {
            ctx.progress(&format!("quantization only: generation {g}/{total}"))
        })?)
    } else {
        None
    };

    // Uniform baselines on the default architecture.
    let n = default.hidden.len() + 1;
    let base_names: Vec<&str> = baselines::NAMES
        .iter()
        .copied()
        .filter(|&b| b != names::SENSITIVITY_GREEDY)
        .collect();
    let base_rows: Vec<(&str, Genome, Eval, bool)> = base_names
        .iter()
        .map(|&name| {
            let g = baselines::uniform(name, n, &space);
            let e = ev0.evaluate(&g)?;
            let dominated = co.archive.dominates_point(&ev0.objectives(&e));
            Ok((name, g, e, dominated))
        })
        .collect::<Result<_, StudyError>>()?;

    let mut out = TrialOutput::default();
    let r = &sc.reference;
    let (best_genome, best) = &co.best;
    out.metric(
        names::MODEL,
        format!(
            "glyph MLP, architecture co-evolved ({} to {} hidden layers of {:?}; default {})",
            aspace.min_depth,
            aspace.max_depth,
            aspace.widths,
            default.label()
        ),
    );
    out.metric(
        names::ACCURACY_SOURCE,
        if p.mlp.qat_epochs > 0 {
            "measured: held-out test split, quantized weights and activations, after quantization-aware fine-tuning"
        } else {
            "measured: held-out test split, quantized weights and activations"
        },
    );
    out.metric(names::COST_MODEL, "analytical roofline model");
    out.metric(names::HARDWARE_TARGET, target.name.as_str());
    out.metric(names::DEVICE, target.device.as_str());
    out.metric(names::SEARCH, "nsga2");
    out.metric("layers", Value::Int(n as i64));
    out.metric("fp32_accuracy", r.accuracy);
    out.metric("fp32_memory_mb", r.memory_mb);
    out.metric(names::FP32_LATENCY_MS, r.latency_ms);
    out.metric("fp32_energy_mj", r.energy_mj);
    out.metric(names::BEST_ACCURACY, best.accuracy);
    out.metric(names::BEST_COMPRESSION, best.compression);
    out.metric(names::BEST_LATENCY_MS, best.latency_ms);
    out.metric(names::BEST_ENERGY_MJ, best.energy_mj);
    out.metric("best_memory_mb", best.memory_mb);
    out.metric("best_avg_bits", best.avg_bits);
    out.metric("best_bits_per_weight", best.bits_per_weight);
    out.metric(
        names::BEST_FALLBACK_LAYERS,
        Value::Int(best.fallback_layers as i64),
    );
    out.metric("best_fitness", best.fitness);
    out.metric(names::BEST_FEASIBLE, best.feasible());
    out.metric("best_architecture", best_genome.arch.label());
    let hv = co.history.last().map_or(0.0, |h| h.hypervolume);
    out.metric(names::HYPERVOLUME, hv);
    out.metric(
        names::HV_OBJECTIVES,
        ev0.active
            .iter()
            .map(|&k| OBJECTIVES[k])
            .collect::<Vec<_>>()
            .join("+"),
    );
    out.metric("hv_ref_accuracy", 0.0);
    out.metric("hv_ref_memory_mb", r.memory_mb);
    out.metric("hv_ref_latency_ms", r.latency_ms);
    out.metric("hv_ref_energy_mj", r.energy_mj);
    out.metric(names::FRONT_SIZE, Value::Int(co.archive.len() as i64));
    out.metric("evaluations", Value::Int(co.evaluations as i64));
    out.metric("cache_hits", Value::Int(co.hits as i64));
    let front_archs: std::collections::BTreeSet<&Arch> = co
        .archive
        .entries()
        .iter()
        .map(|(_, (g, _))| &g.arch)
        .collect();
    out.metric("front_architectures", Value::Int(front_archs.len() as i64));
    out.metric("architectures_trained", Value::Int(nets.len() as i64));
    let max_accuracy = |a: &Archive<(CoGenome, Eval)>| {
        a.entries()
            .iter()
            .map(|(_, (_, e))| e.accuracy)
            .fold(0.0, f64::max)
    };
    out.metric("front_max_accuracy", max_accuracy(&co.archive));
    if let Some(q) = &quant_only {
        let qhv = q.history.last().map_or(0.0, |h| h.hypervolume);
        out.metric("quant_only_front_max_accuracy", max_accuracy(&q.archive));
        out.metric(
            "front_accuracy_gain",
            max_accuracy(&co.archive) - max_accuracy(&q.archive),
        );
        out.metric("quant_only_hypervolume", qhv);
        out.metric("hypervolume_gain", hv - qhv);
        out.metric("quant_only_front_size", Value::Int(q.archive.len() as i64));
        out.metric("quant_only_evaluations", Value::Int(q.evaluations as i64));
        out.metric(
            "front_dominates_quant_only_best",
            co.archive.dominates_point(&ev0.objectives(&q.best.1)),
        );
    }
    for (name, _, _, dominated) in &base_rows {
        out.metric(&names::front_dominates(name), *dominated);
    }

    // pareto.csv with the architecture of every point.
    let mut cols = vec!["point", "architecture"];
    cols.extend(EVAL_COLUMNS);
    cols.push("config");
    let mut pareto = Table::new(names::PARETO, &cols);
    for (i, (_, (g, e))) in sorted_front(&co.archive).iter().enumerate() {
        let mut row = vec![Value::Int(i as i64), g.arch.label().into()];
        row.extend(eval_cells(e));
        row.push(rle(&g.quant).into());
        pareto.push(row);
    }
    out.table(pareto);

    let mut gens = Table::new(
        names::GENERATIONS,
        &[
            names::GENERATION,
            "best_fitness",
            "mean_fitness",
            names::FEASIBLE,
            names::HYPERVOLUME,
            names::FRONT_SIZE,
            "quant_only_hypervolume",
        ],
    );
    for (k, h) in co.history.iter().enumerate() {
        let q = quant_only
            .as_ref()
            .and_then(|q| q.history.get(k))
            .map_or(Value::Float(f64::NAN), |h| h.hypervolume.into());
        gens.push(vec![
            Value::Int(h.generation as i64),
            h.best_fitness.into(),
            h.mean_fitness.into(),
            Value::Int(h.feasible as i64),
            h.hypervolume.into(),
            Value::Int(h.front_size as i64),
            q,
        ]);
    }
    out.table(gens);

    // Every trained architecture, with its share of the front.
    let mut at = Table::new(
        "architectures",
        &[
            "architecture",
            "depth",
            "activation",
            "weights",
            "fp32_accuracy",
            "train_accuracy",
            "front_points",
        ],
    );
    for (a, m) in nets.iter() {
        let on_front = co
            .archive
            .entries()
            .iter()
            .filter(|(_, (g, _))| &g.arch == a)
            .count();
        let weights: u64 = m.layers().iter().map(|l| l.shape.weights).sum();
        at.push(vec![
            a.label().into(),
            Value::Int(a.hidden.len() as i64),
            a.activation.name().into(),
            Value::Int(weights as i64),
            m.fp32_accuracy().into(),
            m.task().train_accuracy().into(),
            Value::Int(on_front as i64),
        ]);
    }
    out.table(at);

    if let Some(q) = &quant_only {
        let mut cols = vec!["point"];
        cols.extend(EVAL_COLUMNS);
        cols.push("config");
        let mut qt = Table::new("quant_only_pareto", &cols);
        for (i, (_, (g, e))) in sorted_front(&q.archive).iter().enumerate() {
            let mut row = vec![Value::Int(i as i64)];
            row.extend(eval_cells(e));
            row.push(rle(&g.quant).into());
            qt.push(row);
        }
        out.table(qt);
    }

    let mut cols = vec![names::BASELINE];
    cols.extend(EVAL_COLUMNS);
    cols.extend([names::FEASIBLE, "dominated_by_front", "config"]);
    let mut bt = Table::new(names::BASELINES, &cols);
    for (name, g, e, dominated) in &base_rows {
        let mut row: Vec<Value> = vec![(*name).into()];
        row.extend(eval_cells(e));
        row.push(e.feasible().into());
        row.push((*dominated).into());
        row.push(rle(g).into());
        bt.push(row);
    }
    out.table(bt);

    let best_ev = sc.evaluator(nets.get(&best_genome.arch));
    let mut config = export::config(&best_ev, &best_genome.quant, best);
    if let Some(obj) = config.as_object_mut() {
        obj.insert(
            "architecture".into(),
            serde_json::json!({
                "hidden": best_genome.arch.hidden,
                "activation": best_genome.arch.activation.name(),
            }),
        );
    }
    let yaml = export::to_yaml(&config);
    out.document(names::QUANT_CONFIG, config);
    out.text_document(names::QUANT_CONFIG, "yaml", yaml);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studies::Study;
    use crate::studies::mixed_precision::MixedPrecision;
    use rand::SeedableRng;

    fn tiny() -> Params {
        let mut p = Params {
            model: super::super::params::ModelKind::Mlp,
            population_size: 8,
            max_generations: 3,
            min_bits: 1,
            activation_bits: vec![8],
            calibrations: vec!["min_max".into()],
            ..Params::default()
        };
        p.mlp.train_size = 300;
        p.mlp.test_size = 200;
        p.mlp.calibration_size = 50;
        p.mlp.epochs = 2;
        p.arch.enabled = true;
        p.arch.depth = vec![1, 2];
        p.arch.widths = vec![8, 16];
        p
    }

    fn run(p: &Params, seed: u64) -> TrialOutput {
        let mut rng = TrialRng::seed_from_u64(seed);
        MixedPrecision
            .run_trial(p, &mut rng, &TrialContext::detached())
            .unwrap()
    }

    #[test]
    fn coevolution_is_deterministic_for_any_thread_count_and_caching() {
        let p = tiny();
        let a = run(&p, 4);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(a, one.install(|| run(&p, 4)));
        let mut nc = tiny();
        nc.enable_caching = false;
        let strip = |o: &TrialOutput| {
            let mut o = o.clone();
            o.metrics.retain(|(n, _)| {
                !matches!(
                    n.as_str(),
                    "evaluations" | "cache_hits" | "quant_only_evaluations"
                )
            });
            o
        };
        assert_eq!(strip(&a), strip(&run(&nc, 4)));
        let names: Vec<&str> = a.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "pareto",
                "generations",
                "architectures",
                "quant_only_pareto",
                "baselines"
            ]
        );
        assert!(a.get("quant_only_hypervolume").is_some());
        assert!(a.documents[0].value["architecture"]["hidden"].is_array());
    }

    #[test]
    fn an_architecture_gets_the_same_network_whatever_the_order() {
        let p = tiny();
        let default = default_arch(&p);
        let x = Arch {
            hidden: vec![16, 8],
            activation: crate::nn::classifier::Activation::Relu,
        };
        let y = Arch {
            hidden: vec![8],
            activation: crate::nn::classifier::Activation::Tanh,
        };
        let mut a = Nets::new(&p, &default, 11).unwrap();
        a.ensure([&x, &y].into_iter()).unwrap();
        let mut b = Nets::new(&p, &default, 11).unwrap();
        b.ensure([&y].into_iter()).unwrap();
        b.ensure([&x, &y].into_iter()).unwrap();
        assert_eq!(b.len(), 3);
        for arch in [&x, &y, &default] {
            let (ta, tb) = (a.get(arch).task(), b.get(arch).task());
            for l in 0..ta.num_layers() {
                assert_eq!(ta.layer_weights(l), tb.layer_weights(l));
            }
        }
        // Retraining the default architecture reproduces the data holder's
        // network (build_with and retrain agree), and another trial seed
        // gives another network.
        let again = a
            .get(&default)
            .task()
            .retrain(&default.hidden, default.activation, default.train_seed(11))
            .unwrap();
        assert_eq!(
            again.layer_weights(0),
            a.get(&default).task().layer_weights(0)
        );
        let other = Nets::new(&p, &default, 12).unwrap();
        assert_ne!(
            other.get(&default).task().layer_weights(0),
            a.get(&default).task().layer_weights(0)
        );
    }
}
