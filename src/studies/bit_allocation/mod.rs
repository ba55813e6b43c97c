//! Study `bit_allocation`: per-layer precision heuristics evolved over
//! generations, against hand-written baselines and the exact optimum.
//!
//! The bit-allocation document evolves allocation rules on synthetic layer
//! data and reports a climb past a 95% accuracy cliff. This study reruns that
//! experiment reproducibly and adds what the document lacks: for the same
//! data, accuracy model and threshold, the allocation with the best possible
//! compression (a multiple-choice knapsack solved exactly, see `optimum`), so
//! every strategy is reported with its gap to the best achievable.
//!
//! Accuracy and compression are the model in [`crate::models::accuracy`]:
//! accuracy = Π (1 − loss_l), compression = 32·Σ params / Σ params·bits,
//! parameter bits only. Fitness is the document's cliff ([`fitness`]).
//!
//! Records per trial: headline metrics for the TEST split; tables
//! `generations`, `strategies`, `frontier` and one `allocation_<strategy>`
//! per strategy; the champion rule as a JSON document.

pub mod baselines;
pub mod evolve;
pub mod fitness;
pub mod heuristic;
pub mod measured;
pub mod names;
pub mod optimum;
pub mod params;
mod report;

use crate::models::{Evaluation, Precision, evaluate};
use crate::report::plots::Section;
use crate::report::results_dir::ResultsDir;
use crate::studies::{
    CheckContext, ParamIssue, Study, StudyError, Table, TrialContext, TrialOutput, TrialRng,
};
use crate::value::Value;
use baselines::Baseline;
use evolve::{EvoConfig, Splits, evolve};
use fitness::fitness;
use heuristic::Ladder;
use optimum::{Solver, frontier_targets};
pub use params::Params;

pub struct BitAllocation;

/// One strategy's allocation on one split, with its scores.
struct Row {
    strategy: String,
    split: usize,
    allocation: Vec<Precision>,
    eval: Evaluation,
    fitness: f64,
}

use names::SPLITS;

impl Study for BitAllocation {
    type Params = Params;

    fn kind(&self) -> &'static str {
        "bit_allocation"
    }

    fn about(&self) -> &'static str {
        "evolved per-layer bit-allocation heuristics vs baselines vs the exact optimum"
    }

    fn validate(&self, params: &Params, ctx: &CheckContext) -> Vec<ParamIssue> {
        params.validate(ctx)
    }

    fn report(&self, results: &ResultsDir) -> crate::error::Result<Section> {
        report::section(results)
    }
    fn unused_params(&self, p: &Params) -> Vec<&'static str> {
        p.unused()
    }
    fn run_trial(
        &self,
        params: &Params,
        rng: &mut TrialRng,
        ctx: &TrialContext,
    ) -> Result<TrialOutput, StudyError> {
        let allowed = params
            .allowed()
            .map_err(|e| StudyError::new(e.to_string()))?;
        let mut invs = params
            .load(&|p| ctx.resolve(p))
            .map_err(|i| StudyError::new(format!("{}: {}", i.key, i.message)))?;
        let measured = if params.data.source == params::DataSource::Measured {
            ctx.progress("measuring per-layer losses on the real network");
            let m = measured::Measured::load(
                &ctx.resolve(params.data.model.as_str()),
                &params.session_spec(),
            )?;
            invs.push(m.inventory.clone());
            Some(m)
        } else {
            None
        };
        let t = params.threshold;
        let ladder = Ladder::new(&allowed);

        // Exact optimum and frontier per split.
        ctx.progress("exact optimum");
        let targets = frontier_targets(params.frontier_points, t);
        let mut optima = Vec::with_capacity(3);
        let mut frontier = Table::new(
            names::FRONTIER,
            &[
                names::DATASET,
                "point",
                "target_accuracy",
                names::ACCURACY,
                names::COMPRESSION,
                "total_bits",
                "fitness",
            ],
        );
        for (s, inv) in invs.iter().enumerate() {
            let solver = Solver::new(inv, &allowed);
            let opt = solver.solve(t).ok_or_else(|| {
                StudyError::new(format!(
                    "threshold {t} is unreachable on `{}` with these precisions",
                    inv.name
                ))
            })?;
            let mut point = 0usize;
            for &target in &targets {
                let solved = if target == t {
                    Some(opt.clone())
                } else {
                    solver.solve(target)
                };
                if let Some(o) = solved {
                    frontier.push(vec![
                        SPLITS[s].into(),
                        point.into(),
                        target.into(),
                        o.eval.accuracy.into(),
                        o.eval.compression.into(),
                        Value::Int(o.eval.allocated_bits as i64),
                        fitness(&o.eval, t).into(),
                    ]);
                    point += 1;
                }
            }
            optima.push(opt);
        }

        // Baselines.
        let mut rows: Vec<Row> = Vec::new();
        for b in Baseline::ALL {
            for (s, inv) in invs.iter().enumerate() {
                let allocation = b.allocate(inv, &allowed, t);
                let eval = evaluate(inv, &allocation);
                rows.push(Row {
                    strategy: b.name().into(),
                    split: s,
                    fitness: fitness(&eval, t),
                    allocation,
                    eval,
                });
            }
        }

        // Evolution.
        ctx.progress("evolving heuristics");
        let config = EvoConfig {
            population: params.population,
            generations: params.generations,
            mutation_rate: params.mutation_rate,
            crossover_rate: params.crossover_rate,
            tournament_size: params.tournament_size,
            elitism: params.elitism,
            threshold: t,
        };
        let splits = Splits {
            train: &invs[0],
            valid: &invs[1],
            test: &invs[2],
        };
        let evo = evolve(&config, &ladder, &splits, rng);
        let mut columns = vec![names::GENERATION.to_string()];
        for split in SPLITS {
            for suffix in [names::FITNESS, "_accuracy", "_compression"] {
                columns.push(names::of(split, suffix));
            }
        }
        columns.extend(["mean_train_fitness".into(), "rule".into()]);
        let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
        let mut generations = Table::new(names::GENERATIONS, &columns);
        for r in &evo.records {
            let mut row: Vec<Value> = vec![r.generation.into()];
            for (eval, fit) in &r.evals {
                row.extend([(*fit).into(), eval.accuracy.into(), eval.compression.into()]);
            }
            row.push(r.mean_train_fitness.into());
            row.push(r.leader.describe(&ladder).into());
            generations.push(row);
        }
        let champ = &evo.records[evo.champion];
        let mut buf = Vec::new();
        for (s, inv) in invs.iter().enumerate() {
            champ.leader.allocate_into(inv, &ladder, &mut buf);
            rows.push(Row {
                strategy: names::EVOLVED.into(),
                split: s,
                allocation: buf.clone(),
                eval: champ.evals[s].0,
                fitness: champ.evals[s].1,
            });
        }
        for (s, opt) in optima.iter().enumerate() {
            rows.push(Row {
                strategy: names::OPTIMUM.into(),
                split: s,
                allocation: opt.allocation.clone(),
                eval: opt.eval,
                fitness: fitness(&opt.eval, t),
            });
        }

        // Records.
        let gap = |row: &Row| 1.0 - row.eval.compression / optima[row.split].eval.compression;
        let mut out = TrialOutput::default();
        let test_row = |name: &str| {
            rows.iter()
                .find(|r| r.strategy == name && r.split == 2)
                .expect("every strategy runs on test")
        };
        let champion_test = test_row(names::EVOLVED);
        let best_baseline = Baseline::ALL
            .iter()
            .map(|b| test_row(b.name()))
            .fold(None::<&Row>, |best, r| match best {
                Some(b) if b.fitness >= r.fitness => Some(b),
                _ => Some(r),
            })
            .expect("baselines exist");
        out.metric("champion_generation", champ.generation);
        out.metric("train_champion_fitness", champ.evals[0].1);
        out.metric("valid_champion_fitness", champ.evals[1].1);
        out.metric(names::TEST_CHAMPION_FITNESS, champion_test.fitness);
        out.metric(names::TEST_CHAMPION_ACCURACY, champion_test.eval.accuracy);
        out.metric(
            names::TEST_CHAMPION_COMPRESSION,
            champion_test.eval.compression,
        );
        out.metric(names::TEST_CHAMPION_GAP, gap(champion_test));
        out.metric(names::TEST_OPTIMUM_COMPRESSION, optima[2].eval.compression);
        out.metric("test_optimum_accuracy", optima[2].eval.accuracy);
        out.metric("test_optimum_fitness", fitness(&optima[2].eval, t));
        out.metric(names::TEST_BEST_BASELINE, best_baseline.strategy.as_str());
        out.metric(names::TEST_BEST_BASELINE_FITNESS, best_baseline.fitness);
        out.metric(
            "test_wider_fp16_zone_fitness",
            test_row(Baseline::WiderFp16Zone.name()).fitness,
        );

        if let Some(m) = &measured {
            ctx.progress("re-measuring every strategy's allocation");
            let table = remeasure(m, &rows, t, &mut out)?;
            out.table(table);
        }

        out.table(generations);
        let mut strategies = Table::new(
            names::STRATEGIES,
            &[
                names::STRATEGY,
                names::DATASET,
                names::COMPRESSION,
                names::ACCURACY,
                "fitness",
                "feasible",
                "gap_to_optimum",
            ],
        );
        for r in &rows {
            strategies.push(vec![
                r.strategy.as_str().into(),
                SPLITS[r.split].into(),
                r.eval.compression.into(),
                r.eval.accuracy.into(),
                r.fitness.into(),
                r.eval.meets(t).into(),
                gap(r).into(),
            ]);
        }
        out.table(strategies);
        out.table(frontier);
        let mut names: Vec<&str> = Vec::new();
        for r in &rows {
            if !names.contains(&r.strategy.as_str()) {
                names.push(&r.strategy);
            }
        }
        for name in names {
            let mut table = Table::new(
                &names::allocation(name),
                &[
                    names::DATASET,
                    names::LAYER,
                    "name",
                    "type",
                    names::PRECISION,
                ],
            );
            for r in rows.iter().filter(|r| r.strategy == name) {
                for (layer, p) in invs[r.split].layers.iter().zip(&r.allocation) {
                    table.push(vec![
                        SPLITS[r.split].into(),
                        layer.index.into(),
                        layer.name.as_str().into(),
                        layer.layer_type.name().into(),
                        p.name().into(),
                    ]);
                }
            }
            out.table(table);
        }
        out.document("champion", champ.leader.to_json(&ladder));
        Ok(out)
    }
}

/// Every strategy's TEST allocation measured on the real network, beside
/// the product model's prediction; metrics: each strategy's measured
/// accuracy and fitness, and the share of strategy pairs the model and the
/// measurement rank the same way by fitness (pairs tied in either are left
/// out).
fn remeasure(
    m: &measured::Measured,
    rows: &[Row],
    t: f64,
    out: &mut TrialOutput,
) -> Result<Table, StudyError> {
    let test: Vec<&Row> = rows.iter().filter(|r| r.split == 2).collect();
    let allocations: Vec<&[Precision]> = test.iter().map(|r| r.allocation.as_slice()).collect();
    let accuracy: Vec<f64> = {
        use rayon::prelude::*;
        allocations
            .par_iter()
            .map(|a| m.measure(a))
            .collect::<crate::error::Result<_>>()?
    };
    let mut table = Table::new(
        names::REMEASURED,
        &[
            names::STRATEGY,
            names::COMPRESSION,
            "modelled_accuracy",
            names::MEASURED_ACCURACY,
            "modelled_fitness",
            names::MEASURED_FITNESS,
            "modelled_feasible",
            "measured_feasible",
        ],
    );
    let mut fit = Vec::new();
    for (r, &a) in test.iter().zip(&accuracy) {
        let e = Evaluation {
            log_accuracy: a.max(f64::MIN_POSITIVE).ln(),
            accuracy: a,
            ..r.eval
        };
        let f = fitness(&e, t);
        fit.push((r.fitness, f));
        table.push(vec![
            r.strategy.as_str().into(),
            r.eval.compression.into(),
            r.eval.accuracy.into(),
            a.into(),
            r.fitness.into(),
            f.into(),
            r.eval.meets(t).into(),
            e.meets(t).into(),
        ]);
        out.metric(&format!("test_{}_measured_accuracy", r.strategy), a);
    }
    let (mut same, mut pairs) = (0usize, 0usize);
    for i in 0..fit.len() {
        for j in i + 1..fit.len() {
            let (dm, dx) = (fit[i].0 - fit[j].0, fit[i].1 - fit[j].1);
            if dm != 0.0 && dx != 0.0 {
                pairs += 1;
                same += usize::from((dm > 0.0) == (dx > 0.0));
            }
        }
    }
    out.metric(names::MEASURED_SOURCE, m.describe());
    out.metric(
        names::RANKING_AGREEMENT,
        if pairs == 0 {
            f64::NAN
        } else {
            same as f64 / pairs as f64
        },
    );
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn small() -> Params {
        Params {
            population: 10,
            generations: 5,
            frontier_points: 6,
            ..Params::default()
        }
    }

    fn run(p: &Params, seed: u64) -> TrialOutput {
        let mut rng = TrialRng::seed_from_u64(seed);
        BitAllocation
            .run_trial(p, &mut rng, &TrialContext::detached())
            .unwrap()
    }

    #[test]
    fn trial_is_a_pure_function_of_params_and_rng() {
        let p = small();
        assert_eq!(run(&p, 3), run(&p, 3));
        assert_ne!(run(&p, 3).tables[0], run(&p, 4).tables[0]);
    }

    #[test]
    fn no_feasible_strategy_beats_the_optimum() {
        let out = run(&small(), 1);
        let strategies = out.tables.iter().find(|t| t.name == "strategies").unwrap();
        for row in &strategies.rows {
            if row[5] == Value::Bool(true) {
                let gap = row[6].as_f64().unwrap();
                assert!(gap >= -1e-12, "{row:?}");
            }
        }
        let names: Vec<&str> = out.tables.iter().map(|t| t.name.as_str()).collect();
        for expected in [
            "generations",
            "strategies",
            "frontier",
            "allocation_wider_fp16_zone",
            "allocation_evolved",
            "allocation_optimum",
        ] {
            assert!(names.contains(&expected), "{expected}");
        }
        let gens = out.tables.iter().find(|t| t.name == "generations").unwrap();
        assert_eq!(gens.rows.len(), 5);
    }
}
