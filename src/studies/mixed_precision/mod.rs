//! Study `mixed_precision`: hardware-targeted per-layer mixed-precision
//! search with the document's weighted-sum GA or NSGA-II, against uniform and
//! sensitivity-greedy baselines, with an exported deployment configuration.
//!
//! One trial: build the model (`model`) and the hardware target (`crate::hw`,
//! an analytical cost model), run the per-layer sensitivity analysis, seed
//! part of the initial population from it, search (`search`), evaluate the
//! baselines (`baselines`) and report whether the evolved front dominates
//! each, then export the best genome by weighted fitness (`export`).
//!
//! Records: headline metrics; tables `pareto`, `generations`, `sensitivity`,
//! `baselines`; documents `quant_config.json` and `quant_config.yaml`.
//! Every accuracy says where it comes from (`accuracy_source`), every cost is
//! labelled a model.

pub mod adapters;
pub mod arch;
pub mod baselines;
pub mod coevolve;
pub mod evaluate;
pub mod export;
pub mod external;
pub mod genome;
pub mod model;
pub mod names;
pub mod params;
mod report;
pub mod search;
pub mod sensitivity;
pub mod transformer;

use crate::evo::hypervolume;
use crate::hw::{QuantChoice, ScaleLayout, Target, layer_cost};
use crate::nn::ClassifierTask;
use crate::report::plots::Section;
use crate::report::results_dir::ResultsDir;
use crate::studies::{
    CheckContext, ParamIssue, Study, StudyError, Table, TrialContext, TrialOutput, TrialRng,
};
use crate::value::Value;
use evaluate::{Cache, Eval, Evaluator, OBJECTIVES};
use genome::{Genome, Space};
use model::{InventoryModel, ModelLayer, QuantModel};
pub use params::Params;
use params::{ModelKind, SearchMode};
use rand::Rng;
use search::SearchConfig;
use std::path::PathBuf;

pub struct MixedPrecision;

/// An archive entry: objectives, and the genome with its evaluation.
type FrontEntry = (Vec<f64>, (Genome, Eval));

/// How far the screen was off on the final front.
struct Screened {
    texts: usize,
    mean_abs_error: f64,
    max_abs_error: f64,
    /// Points of the re-measured front, and of the screened one.
    kept: usize,
    screened_front: usize,
    screen_accuracy: Vec<(Genome, f64)>,
}

/// Build the model a trial searches in-process. `resolve` maps a
/// manifest-relative path; `seed` seeds the classifier's data and training
/// (mlp only). `model = "command"` is started by [`start_model`].
pub fn build_model(
    p: &Params,
    resolve: &dyn Fn(&str) -> PathBuf,
    seed: u64,
) -> crate::error::Result<Box<dyn QuantModel>> {
    match p.model {
        ModelKind::Command => Err(crate::error::Error::user(
            "model = \"command\" is measured by evaluator workers, not built in-process",
        )),
        ModelKind::Inventory if p.inventory_file.is_empty() => Ok(Box::new(InventoryModel::new(
            p.inventory.shaped(p.inventory_seed, p.tokens),
        ))),
        ModelKind::Inventory => {
            let file = crate::models::safetensors::read(&resolve(p.inventory_file.as_str()))
                .map_err(|e| crate::error::Error::user(e.to_string()))?;
            Ok(Box::new(adapters::safetensors_inventory(&file, p.tokens)?))
        }
        ModelKind::Transformer => Ok(Box::new(transformer::TransformerModel::load(
            p,
            &resolve(p.model_path.as_str()),
        )?)),
        ModelKind::Mlp => {
            let task = ClassifierTask::build(&p.mlp.task_config(), seed)
                .map_err(|e| crate::error::Error::user(e.to_string()))?;
            Ok(Box::new(
                adapters::MlpModel::new(task).with_qat(p.mlp.qat_epochs, seed),
            ))
        }
    }
}

/// The model of one trial: built in-process, or the user's evaluator
/// workers started and asked to describe it. `seed` is the model's own
/// seed (the classifier's; sent to workers as `seed`).
pub fn start_model(
    p: &Params,
    ctx: &TrialContext,
    seed: u64,
) -> Result<Box<dyn QuantModel>, StudyError> {
    if p.model != ModelKind::Command {
        return build_model(p, &|s: &str| ctx.resolve(s), seed).map_err(StudyError::from);
    }
    let (program, args) = crate::subprocess::resolve_command(&p.evaluator.0, ctx.base_dir);
    let manifest_dir = std::path::absolute(ctx.base_dir)
        .unwrap_or_else(|_| ctx.base_dir.to_path_buf())
        .display()
        .to_string();
    let setup = external::Setup {
        label: p.evaluator.0.join(" "),
        program,
        args,
        workers: p.parallel_evaluations,
        timeout: std::time::Duration::from_secs_f64(p.evaluator_timeout_s),
        metric: p.evaluator_metric.clone(),
        facts: external::protocol::TrialFacts {
            trial_id: ctx.trial_id,
            seed,
            replicate: ctx.replicate,
            manifest_dir: &manifest_dir,
            params: serde_json::to_value(p).unwrap_or_default(),
        },
    };
    Ok(Box::new(external::ExternalModel::start(setup)?))
}

/// The layer shapes of the model without building it (the classifier's
/// shapes follow from its config), for the constraint check in `validate`.
#[allow(clippy::type_complexity)]
fn shapes_only(
    p: &Params,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<(Vec<ModelLayer>, u64), (&'static str, String)> {
    match p.model {
        ModelKind::Command => Err((
            "model",
            "model = \"command\": the layers are known only once the evaluator runs".into(),
        )),
        ModelKind::Transformer => transformer::shapes(p, &resolve(p.model_path.as_str()))
            .map_err(|e| ("model_path", e.to_string())),
        ModelKind::Mlp => {
            let cfg = p.mlp.task_config();
            let sizes = cfg.layer_sizes();
            let shapes: Vec<[usize; 2]> = sizes.windows(2).map(|w| [w[1], w[0]]).collect();
            let layers = adapters::mlp_layers(&shapes);
            let biases = layers.iter().map(|l| l.shape.rows).sum();
            Ok((layers, biases))
        }
        ModelKind::Inventory if !p.inventory_file.is_empty() => {
            // Not only the header: what would fail the trials (NaN weights in
            // the rows they measure, integer-typed layers) fails here, exit 2.
            let file =
                crate::models::safetensors::check_measurable(&resolve(p.inventory_file.as_str()))
                    .map_err(|e| ("inventory_file", e.to_string()))?;
            if file.layers.is_empty() {
                return Err((
                    "inventory_file",
                    format!(
                        "{}: no 2-D or 4-D weight tensors to quantize",
                        file.path.display()
                    ),
                ));
            }
            Ok((
                adapters::safetensors_layers(&file, p.tokens),
                file.other_params,
            ))
        }
        ModelKind::Inventory => {
            let m = build_model(p, resolve, 0).map_err(|e| ("inventory", e.to_string()))?;
            Ok((m.layers().to_vec(), m.fixed_params()))
        }
    }
}

/// The smallest latency (ms), memory (MB) and energy (mJ) any configuration
/// in the space reaches on the target. Each is a sum of per-layer terms, so
/// the per-layer minima add up to the exact minimum.
pub fn lower_bounds(
    layers: &[ModelLayer],
    fixed_params: u64,
    target: &Target,
    space: &Space,
) -> [f64; 3] {
    let mut choices = Vec::new();
    for &w in &space.weight_bits {
        for &a in &space.act_bits {
            for gran in &space.granularities {
                let layouts: Vec<ScaleLayout> = match gran {
                    genome::Granularity::PerTensor => vec![ScaleLayout::PerTensor],
                    genome::Granularity::PerChannel => vec![ScaleLayout::PerChannel],
                    genome::Granularity::PerGroup | genome::Granularity::Block => space
                        .group_sizes
                        .iter()
                        .map(|&g| ScaleLayout::PerGroup(u32::from(g)))
                        .collect(),
                };
                for layout in layouts {
                    for (zp, pow2) in [(false, false), (true, false), (false, true)] {
                        for signed in [false, true] {
                            for fp8 in [false, true].into_iter().take(1 + usize::from(space.fp8)) {
                                choices.push(QuantChoice {
                                    weight_bits: w,
                                    act_bits: a,
                                    layout,
                                    weight_zero_point: zp,
                                    wide_zero_point: false,
                                    pow2_scale: pow2,
                                    signed_activations: signed,
                                    fp8,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    let mut lb = [0.0, 2.0 * fixed_params as f64, 0.0];
    for layer in layers {
        let mut best = [f64::INFINITY; 3];
        for q in &choices {
            let c = layer_cost(target, &layer.shape, q);
            best[0] = best[0].min(c.latency_s);
            best[1] = best[1].min(c.weight_bytes);
            best[2] = best[2].min(c.energy_j);
        }
        for k in 0..3 {
            lb[k] += best[k];
        }
    }
    [lb[0] * 1e3, lb[1] / 1e6, lb[2] * 1e3]
}

/// Run-length summary of a genome's bit widths (`W8A8×3 W4A8×2`).
fn rle(g: &Genome) -> String {
    let mut parts: Vec<(String, usize)> = Vec::new();
    for l in &g.layers {
        let label = l.label();
        match parts.last_mut() {
            Some((last, n)) if *last == label => *n += 1,
            _ => parts.push((label, 1)),
        }
    }
    parts
        .into_iter()
        .map(|(l, n)| if n == 1 { l } else { format!("{l}x{n}") })
        .collect::<Vec<_>>()
        .join(" ")
}

fn eval_cells(e: &Eval) -> Vec<Value> {
    vec![
        e.accuracy.into(),
        e.compression.into(),
        e.memory_mb.into(),
        e.latency_ms.into(),
        e.energy_mj.into(),
        e.avg_bits.into(),
        e.bits_per_weight.into(),
        Value::Int(e.fallback_layers as i64),
        e.fitness.into(),
    ]
}

const EVAL_COLUMNS: [&str; 9] = [
    names::ACCURACY,
    names::COMPRESSION,
    "memory_mb",
    names::LATENCY_MS,
    "energy_mj",
    "avg_bits",
    "bits_per_weight",
    "fallback_layers",
    "fitness",
];

impl Study for MixedPrecision {
    type Params = Params;

    fn kind(&self) -> &'static str {
        "mixed_precision"
    }

    fn about(&self) -> &'static str {
        "hardware-targeted per-layer mixed-precision search (weighted GA or NSGA-II) with Pareto fronts and exported configs"
    }

    fn notes(&self) -> String {
        crate::hw::targets::targets_text()
    }

    fn validate(&self, p: &Params, ctx: &CheckContext) -> Vec<ParamIssue> {
        let mut issues = params::validate(p);
        if !issues.is_empty() {
            return issues;
        }
        let resolve = |s: &str| ctx.resolve(s);
        if p.model == ModelKind::Command {
            // The layers are the worker's to describe; hard limits are then
            // checked by the search, not up front.
            let example = "evaluator = [\"python3\", \"worker.py\"]";
            return crate::subprocess::command_problem(&p.evaluator.0, ctx.base_dir, example)
                .map(|e| vec![ParamIssue::new("evaluator", e)])
                .unwrap_or_default();
        }
        // A missing, truncated or malformed file is rejected here, before
        // anything runs (the header, and the rows trials measure).
        let (layers, fixed) = match shapes_only(p, &resolve) {
            Ok(m) => m,
            Err((key, e)) => return vec![ParamIssue::new(key, e)],
        };
        // ggml blocks run along each row; a row that is not whole blocks
        // has no exact ggml type, so no gene of the space could hold it.
        let block = crate::quant::GGUF_BLOCK as u64;
        if p.formats == params::Formats::Ggml
            && let Some(l) = layers.iter().find(|l| l.shape.cols % block != 0)
        {
            return vec![ParamIssue::new(
                "formats",
                format!(
                    "formats = \"ggml\": layer `{}` has rows of {} weights, not whole {block}-value ggml blocks; no ggml type stores it (use formats = \"any\")",
                    l.name, l.shape.cols
                ),
            )];
        }
        let limits = [
            ("target_latency_ms", p.target_latency_ms, "ms"),
            ("target_memory_mb", p.target_memory_mb, "MB"),
            ("target_energy_mj", p.target_energy_mj, "mJ"),
        ];
        // Co-evolution may shrink the network below the default shape this
        // bound is computed for, so the default's minimum does not bind it.
        if limits.iter().all(|l| l.1 == 0.0) || p.arch.enabled {
            return issues;
        }
        let target = match p.target() {
            Ok(t) => t,
            Err(e) => return vec![ParamIssue::new("hardware_target", e.to_string())],
        };
        let lb = lower_bounds(&layers, fixed, &target, &p.space());
        for ((key, limit, unit), min) in limits.iter().zip(lb) {
            if *limit > 0.0 && min > *limit {
                issues.push(ParamIssue::new(
                    *key,
                    format!(
                        "no configuration can meet {limit} {unit} on {}: the smallest reachable with these bit widths is {min:.6} {unit} (cost model)",
                        target.name
                    ),
                ));
            }
        }
        issues
    }

    fn report(&self, results: &ResultsDir) -> crate::error::Result<Section> {
        report::section(results)
    }
    fn unused_params(&self, p: &Params) -> Vec<&'static str> {
        p.unused()
    }
    fn run_trial(
        &self,
        p: &Params,
        rng: &mut TrialRng,
        ctx: &TrialContext,
    ) -> Result<TrialOutput, StudyError> {
        if p.arch.enabled {
            return coevolve::run_trial(p, rng, ctx);
        }
        let seed: u64 = rng.random();
        ctx.progress("starting the model");
        let full = start_model(p, ctx, seed)?;
        // The search runs on the screen when there is one; the front and the
        // baselines are then re-measured on the full model.
        let screen = full.screen();
        let model: &dyn QuantModel = screen.as_deref().unwrap_or(full.as_ref());
        let target = p.target().map_err(|e| StudyError::new(e.to_string()))?;
        let space = p.space();
        let limits = [p.target_latency_ms, p.target_memory_mb, p.target_energy_mj];
        let ev = Evaluator::new(model, &target, p.weights(), limits);
        let n = model.layers().len();
        let mut cache = Cache::new(p.enable_caching);

        ctx.progress("sensitivity analysis");
        let sens = sensitivity::analyze(model, &space)?;
        let sens_evaluations = (n * space.weight_bits.len()) as u64;

        // The greedy baseline is computed before the search; with
        // use_sensitivity_analysis it is one of the sensitivity seeds, so
        // "the front dominates sensitivity_greedy" then means evolution
        // strictly improved on that seed in every objective.
        let greedy = baselines::greedy(&ev, &mut cache, &space, &sens)?;
        let seeds = if p.use_sensitivity_analysis {
            let mut s = vec![greedy.clone()];
            s.extend(sens.seeds(&space, (p.population_size / 4).saturating_sub(1)));
            s
        } else {
            Vec::new()
        };
        let mut initial = seeds;
        while initial.len() < p.population_size {
            initial.push(space.random_genome(n, rng));
        }
        let cfg = SearchConfig {
            mode: p.search,
            population: p.population_size,
            generations: p.max_generations,
            mutation_rate: p.mutation_rate,
            crossover_rate: p.crossover_rate,
            elites: p.elites(),
            archive_size: p.archive_size,
            budget: (p.max_evaluations > 0)
                .then(|| (p.max_evaluations as u64).saturating_sub(sens_evaluations)),
        };
        let total = p.max_generations;
        let mut result = search::run(&ev, &mut cache, &space, &cfg, initial, rng, &|g| {
            ctx.progress(&format!("generation {g}/{total}"))
        })?;
        let generations_run = result.history.len() - 1;

        // Baselines.
        ctx.progress("baselines");
        let genomes: Vec<Genome> = baselines::NAMES
            .iter()
            .map(|&name| {
                if name == names::SENSITIVITY_GREEDY {
                    greedy.clone()
                } else {
                    baselines::uniform(name, n, &space)
                }
            })
            .collect();
        let mut evals = cache.evaluate_all(&ev, &genomes)?;
        // With a screen: every front point, the best genome and the
        // baselines measured again on all texts; the front is rebuilt from
        // the re-measured points.
        let full_ev;
        let mut screened: Option<Screened> = None;
        let ev = if screen.is_some() {
            ctx.progress("re-measuring the front");
            full_ev = Evaluator::new(full.as_ref(), &target, p.weights(), limits);
            let front: Vec<(Genome, Eval)> = result
                .archive
                .entries()
                .iter()
                .map(|(_, x)| x.clone())
                .collect();
            let mut batch: Vec<&Genome> = front.iter().map(|(g, _)| g).collect();
            batch.push(&result.best.0);
            batch.extend(genomes.iter());
            let again = full_ev.evaluate_batch(&batch)?;
            let (front_again, rest) = again.split_at(front.len());
            let errors: Vec<f64> = front
                .iter()
                .zip(front_again)
                .map(|((_, a), b)| (a.accuracy - b.accuracy).abs())
                .collect();
            let mut archive = crate::evo::Archive::new();
            let mut screen_accuracy = Vec::new();
            for ((g, a), b) in front.iter().zip(front_again) {
                screen_accuracy.push((g.clone(), a.accuracy));
                if b.feasible() {
                    archive.insert(full_ev.objectives(b), (g.clone(), *b));
                }
            }
            archive.truncate_crowded(p.archive_size);
            screened = Some(Screened {
                texts: p.screen_texts,
                mean_abs_error: errors.iter().sum::<f64>() / errors.len().max(1) as f64,
                max_abs_error: errors.iter().copied().fold(0.0, f64::max),
                kept: archive.len(),
                screened_front: front.len(),
                screen_accuracy,
            });
            result.archive = archive;
            result.best.1 = rest[0];
            evals = rest[1..].to_vec();
            &full_ev
        } else {
            &ev
        };
        let mut baseline_rows = Vec::new();
        for ((name, g), e) in baselines::NAMES.iter().zip(genomes).zip(evals) {
            let dominated = result.archive.dominates_point(&ev.objectives(&e));
            baseline_rows.push((*name, g, e, dominated));
        }

        // The sensitivity ranking at each front point's size, measured the
        // same way (on all texts when screened); not counted in the budget.
        ctx.progress("sensitivity-greedy at the front's sizes");
        let path = baselines::greedy_path(ev, &space, &sens);
        let sizes: Vec<f64> = path.iter().map(|g| ev.memory_mb(g)).collect();
        let matched: Vec<Option<&Genome>> = result
            .archive
            .entries()
            .iter()
            .map(|(_, (_, e))| baselines::greedy_at(&sizes, e.memory_mb).map(|k| &path[k]))
            .collect();
        let mut distinct: Vec<&Genome> = Vec::new();
        for g in matched.iter().flatten() {
            if !distinct.contains(g) {
                distinct.push(g);
            }
        }
        let measured = ev.evaluate_batch(&distinct)?;
        let greedy_at_size: Vec<Option<Eval>> = matched
            .iter()
            .map(|m| m.map(|g| measured[distinct.iter().position(|d| *d == g).expect("listed")]))
            .collect();
        let gains: Vec<f64> = result
            .archive
            .entries()
            .iter()
            .zip(&greedy_at_size)
            .filter_map(|((_, (_, e)), g)| g.map(|g| e.accuracy - g.accuracy))
            .collect();

        let mut out = TrialOutput::default();
        let (best_genome, best) = &result.best;
        let r = &ev.reference;
        out.metric(names::MODEL, full.description());
        out.metric(names::ACCURACY_SOURCE, full.accuracy_source());
        out.metric(names::COST_MODEL, "analytical roofline model");
        out.metric(names::HARDWARE_TARGET, target.name.as_str());
        out.metric(names::DEVICE, target.device.as_str());
        out.metric(
            names::SEARCH,
            match p.search {
                SearchMode::WeightedSum => "weighted_sum",
                SearchMode::Nsga2 => "nsga2",
            },
        );
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
        let hv = match &screened {
            Some(_) => hypervolume(&result.archive.objectives(), &vec![1.0; ev.active.len()]),
            None => result.history.last().map_or(0.0, |h| h.hypervolume),
        };
        out.metric(names::HYPERVOLUME, hv);
        out.metric(
            names::HV_OBJECTIVES,
            ev.active
                .iter()
                .map(|&k| OBJECTIVES[k])
                .collect::<Vec<_>>()
                .join("+"),
        );
        out.metric("hv_ref_accuracy", 0.0);
        out.metric("hv_ref_memory_mb", r.memory_mb);
        out.metric("hv_ref_latency_ms", r.latency_ms);
        out.metric("hv_ref_energy_mj", r.energy_mj);
        out.metric(names::FRONT_SIZE, Value::Int(result.archive.len() as i64));
        out.metric("evaluations", Value::Int(cache.evaluations as i64));
        out.metric("cache_hits", Value::Int(cache.hits as i64));
        if p.max_evaluations > 0 {
            out.metric(
                "sensitivity_evaluations",
                Value::Int(sens_evaluations as i64),
            );
            out.metric("generations_run", Value::Int(generations_run as i64));
        }
        if let Some(sc) = &screened {
            out.metric(names::SCREEN_TEXTS, Value::Int(sc.texts as i64));
            out.metric("screen_source", model.accuracy_source());
            out.metric(names::SCREEN_MEAN_ABS_ERROR, sc.mean_abs_error);
            out.metric(names::SCREEN_MAX_ABS_ERROR, sc.max_abs_error);
            out.metric(
                names::SCREEN_FRONT_SIZE,
                Value::Int(sc.screened_front as i64),
            );
            out.metric(names::SCREEN_FRONT_KEPT, Value::Int(sc.kept as i64));
        }
        for (name, _, _, dominated) in &baseline_rows {
            out.metric(&names::front_dominates(name), *dominated);
        }
        out.metric(names::GREEDY_MATCHED, Value::Int(gains.len() as i64));
        if !gains.is_empty() {
            out.metric(
                names::FRONT_OVER_GREEDY,
                gains.iter().sum::<f64>() / gains.len() as f64,
            );
            out.metric(
                names::FRONT_ABOVE_GREEDY,
                gains.iter().filter(|&&d| d > 0.0).count() as f64 / gains.len() as f64,
            );
        }

        // pareto.csv, sorted by objective vector.
        let mut cols = vec!["point"];
        cols.extend(EVAL_COLUMNS);
        if screened.is_some() {
            cols.push("screen_accuracy");
        }
        cols.extend(["greedy_accuracy", "greedy_memory_mb", "config"]);
        let mut pareto = Table::new(names::PARETO, &cols);
        let mut entries: Vec<(&FrontEntry, &Option<Eval>)> = result
            .archive
            .entries()
            .iter()
            .zip(&greedy_at_size)
            .collect();
        entries.sort_by(|(a, _), (b, _)| {
            a.0.iter()
                .zip(&b.0)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        for (i, ((_, (g, e)), greedy)) in entries.iter().enumerate() {
            let mut row = vec![Value::Int(i as i64)];
            row.extend(eval_cells(e));
            if let Some(sc) = &screened {
                let a = sc.screen_accuracy.iter().find(|(x, _)| x == g).map(|x| x.1);
                row.push(a.unwrap_or(f64::NAN).into());
            }
            row.push(greedy.map_or(f64::NAN, |g| g.accuracy).into());
            row.push(greedy.map_or(f64::NAN, |g| g.memory_mb).into());
            row.push(rle(g).into());
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
            ],
        );
        for h in &result.history {
            gens.push(vec![
                Value::Int(h.generation as i64),
                h.best_fitness.into(),
                h.mean_fitness.into(),
                Value::Int(h.feasible as i64),
                h.hypervolume.into(),
                Value::Int(h.front_size as i64),
            ]);
        }
        out.table(gens);

        let mut st = Table::new(
            names::SENSITIVITY,
            &[
                "layer",
                "name",
                "type",
                "weights",
                "bits",
                names::ACCURACY,
                "drop",
            ],
        );
        for (l, layer) in model.layers().iter().enumerate() {
            for (k, &b) in sens.bits.iter().enumerate() {
                st.push(vec![
                    Value::Int(l as i64),
                    layer.name.as_str().into(),
                    layer.kind.as_str().into(),
                    Value::Int(layer.shape.weights as i64),
                    Value::Int(i64::from(b)),
                    sens.accuracy[l][k].into(),
                    sens.drop[l][k].into(),
                ]);
            }
        }
        out.table(st);

        let mut cols = vec![names::BASELINE];
        cols.extend(EVAL_COLUMNS);
        cols.extend([names::FEASIBLE, "dominated_by_front", "config"]);
        let mut bt = Table::new(names::BASELINES, &cols);
        for (name, g, e, dominated) in &baseline_rows {
            let mut row: Vec<Value> = vec![(*name).into()];
            row.extend(eval_cells(e));
            row.push(e.feasible().into());
            row.push((*dominated).into());
            row.push(rle(g).into());
            bt.push(row);
        }
        out.table(bt);

        let config = export::config(ev, best_genome, best);
        let yaml = export::to_yaml(&config);
        out.document(names::QUANT_CONFIG, config);
        out.text_document(names::QUANT_CONFIG, "yaml", yaml);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn small() -> Params {
        Params {
            population_size: 8,
            max_generations: 4,
            ..Params::default()
        }
    }

    fn run(p: &Params, seed: u64) -> TrialOutput {
        let mut rng = TrialRng::seed_from_u64(seed);
        MixedPrecision
            .run_trial(p, &mut rng, &TrialContext::detached())
            .unwrap()
    }

    #[test]
    fn trial_is_deterministic_and_thread_count_independent() {
        let p = small();
        let a = run(&p, 7);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| run(&p, 7));
        assert_eq!(a, b);
        let no_cache = run(
            &Params {
                enable_caching: false,
                ..small()
            },
            7,
        );
        // Caching changes only the bookkeeping metrics.
        let strip = |o: &TrialOutput| {
            let mut o = o.clone();
            o.metrics
                .retain(|(n, _)| n != "evaluations" && n != "cache_hits");
            o
        };
        assert_eq!(strip(&a), strip(&no_cache));
    }

    #[test]
    fn both_modes_produce_fronts_hypervolume_and_exports() {
        for search in [SearchMode::WeightedSum, SearchMode::Nsga2] {
            let out = run(&Params { search, ..small() }, 3);
            let hv = out.get("hypervolume").unwrap().as_f64().unwrap();
            assert!(hv > 0.0 && hv < 1.0, "{hv}");
            let names: Vec<&str> = out.tables.iter().map(|t| t.name.as_str()).collect();
            assert_eq!(names, ["pareto", "generations", "sensitivity", "baselines"]);
            assert!(!out.tables[0].rows.is_empty());
            let doc = &out.documents[0].value;
            assert_eq!(doc["schema"], export::SCHEMA);
            assert_eq!(doc["layers"].as_array().unwrap().len(), 54);
            // Hypervolume never falls: the archive only improves (no pruning here).
            let hvs: Vec<f64> = out.tables[1]
                .rows
                .iter()
                .map(|r| r[4].as_f64().unwrap())
                .collect();
            assert!(hvs.windows(2).all(|w| w[1] >= w[0] - 1e-12), "{hvs:?}");
        }
    }

    #[test]
    fn the_evaluation_budget_stops_the_search_before_it_is_exceeded() {
        let int = |out: &TrialOutput, k: &str| match out.get(k).unwrap() {
            Value::Int(i) => *i,
            v => panic!("{k}: {v:?}"),
        };
        let unbounded = Params {
            population_size: 8,
            max_generations: 20,
            max_evaluations: 0,
            ..Params::default()
        };
        let free = run(&unbounded, 5);
        assert!(free.get("generations_run").is_none());
        assert_eq!(free.tables[1].rows.len(), 21);
        // 54 ResNet-50 layers × widths 4, 6, 8 (reported only under a budget).
        let sens = 162;
        // A budget that leaves half of what the unbounded search spent (the
        // 3 uniform baselines are not the cache's and come on top).
        let spent = int(&free, "evaluations") - 3;
        let budget = sens + spent / 2;
        let out = run(
            &Params {
                max_evaluations: budget as usize,
                ..unbounded
            },
            5,
        );
        assert_eq!(int(&out, "sensitivity_evaluations"), sens);
        let generations = int(&out, "generations_run");
        assert!(generations > 0 && generations < 20, "{generations}");
        assert!(int(&out, "evaluations") <= budget - sens + 3);
    }

    #[test]
    fn unreachable_constraints_are_rejected_by_name() {
        let p = Params {
            target_memory_mb: 1.0,
            ..Params::default()
        };
        let issues = MixedPrecision.validate(
            &p,
            &CheckContext {
                base_dir: std::path::Path::new("."),
            },
        );
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, "target_memory_mb");
        // ResNet-50 at 4 bits is ≈ 12.8 MB: a 20 MB budget is reachable.
        let ok = Params {
            target_memory_mb: 20.0,
            ..Params::default()
        };
        let ctx = CheckContext {
            base_dir: std::path::Path::new("."),
        };
        assert!(MixedPrecision.validate(&ok, &ctx).is_empty());
    }
}
