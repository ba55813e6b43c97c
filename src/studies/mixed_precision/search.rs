//! The two searches over genomes, sharing population initialisation, the
//! evaluation cache, the archive and per-generation statistics.
//!
//! - `weighted_sum` (the document's engine): generational GA on the weighted
//!   fitness, binary tournaments, layer-wise crossover, elitism by ratio.
//! - `nsga2`: NSGA-II on the active objectives with constraint domination;
//!   offspring by binary crowded tournament, survivors by non-dominated rank
//!   and crowding distance over parents + offspring.
//!
//! Both keep an archive of every feasible non-dominated genome evaluated
//! (bounded by crowding), whose hypervolume (normalised objectives,
//! reference point (1, …, 1) = FP32 on the target with accuracy 0) is
//! recorded each generation. All random draws happen on the calling thread
//! in a fixed order; only evaluation runs in parallel.

use super::evaluate::{Cache, Eval, Evaluator};
use super::genome::{Genome, Space};
use super::params::SearchMode;
use crate::evo::{
    Archive, crowded_tournament, elite_indices, hypervolume, rank_and_crowding, select_survivors,
    tournament,
};
use crate::studies::{StudyError, TrialRng};
use rand::Rng;

pub struct SearchConfig {
    pub mode: SearchMode,
    pub population: usize,
    pub generations: usize,
    pub mutation_rate: f64,
    pub crossover_rate: f64,
    pub elites: usize,
    pub archive_size: usize,
    /// Most evaluations the cache may have made when a generation ends (the
    /// initial population is always evaluated): the search stops before a
    /// generation that could exceed it.
    pub budget: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GenerationStats {
    pub generation: usize,
    pub best_fitness: f64,
    pub mean_fitness: f64,
    pub feasible: usize,
    pub hypervolume: f64,
    pub front_size: usize,
}

pub struct SearchResult {
    pub archive: Archive<(Genome, Eval)>,
    /// Best weighted fitness of every genome evaluated (first found on ties).
    pub best: (Genome, Eval),
    pub history: Vec<GenerationStats>,
}

struct State<'a, 'b> {
    ev: &'a Evaluator<'b>,
    cache: &'a mut Cache,
    archive: Archive<(Genome, Eval)>,
    best: Option<(Genome, Eval)>,
    history: Vec<GenerationStats>,
    cap: usize,
}

impl State<'_, '_> {
    fn evaluate(&mut self, genomes: &[Genome]) -> Result<Vec<Eval>, StudyError> {
        let evals = self.cache.evaluate_all(self.ev, genomes)?;
        for (g, e) in genomes.iter().zip(&evals) {
            if self
                .best
                .as_ref()
                .is_none_or(|(_, b)| e.fitness > b.fitness)
            {
                self.best = Some((g.clone(), *e));
            }
            if e.feasible() {
                self.archive.insert(self.ev.objectives(e), (g.clone(), *e));
            }
        }
        self.archive.truncate_crowded(self.cap);
        Ok(evals)
    }

    fn record(&mut self, generation: usize, evals: &[Eval]) {
        let d = self.ev.active.len();
        let hv = hypervolume(&self.archive.objectives(), &vec![1.0; d]);
        let fit: Vec<f64> = evals.iter().map(|e| e.fitness).collect();
        self.history.push(GenerationStats {
            generation,
            best_fitness: fit.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mean_fitness: fit.iter().sum::<f64>() / fit.len() as f64,
            feasible: evals.iter().filter(|e| e.feasible()).count(),
            hypervolume: hv,
            front_size: self.archive.len(),
        });
    }
}

/// One child: crossover with probability `crossover_rate`, then mutation
/// with probability `mutation_rate` — and always when the child equals a
/// parent, so no generation wastes evaluations on clones.
fn offspring(
    space: &Space,
    cfg: &SearchConfig,
    rng: &mut TrialRng,
    a: &Genome,
    pick_b: &mut dyn FnMut(&mut TrialRng) -> Genome,
) -> Genome {
    let (mut child, b) = if rng.random_bool(cfg.crossover_rate) {
        let b = pick_b(rng);
        (space.crossover(a, &b, rng), Some(b))
    } else {
        (a.clone(), None)
    };
    let clone = &child == a || b.as_ref() == Some(&child);
    let rate = if clone { 1.0 } else { cfg.mutation_rate };
    space.mutate(&mut child, rate, rng);
    child
}

/// Run the configured search from `initial` (exactly `cfg.population` genomes).
pub fn run(
    ev: &Evaluator,
    cache: &mut Cache,
    space: &Space,
    cfg: &SearchConfig,
    initial: Vec<Genome>,
    rng: &mut TrialRng,
    progress: &dyn Fn(usize),
) -> Result<SearchResult, StudyError> {
    let mut st = State {
        ev,
        cache,
        archive: Archive::new(),
        best: None,
        history: Vec::new(),
        cap: cfg.archive_size,
    };
    let mut pop = initial;
    let mut evals = st.evaluate(&pop)?;
    st.record(0, &evals);
    for generation in 1..=cfg.generations {
        // A generation evaluates at most `population` new genomes.
        if cfg
            .budget
            .is_some_and(|b| st.cache.evaluations + cfg.population as u64 > b)
        {
            break;
        }
        progress(generation);
        match cfg.mode {
            SearchMode::WeightedSum => {
                let fit: Vec<f64> = evals.iter().map(|e| e.fitness).collect();
                let mut next: Vec<Genome> = elite_indices(&fit, cfg.elites)
                    .into_iter()
                    .map(|i| pop[i].clone())
                    .collect();
                while next.len() < cfg.population {
                    let a = pop[tournament(&fit, 2, rng)].clone();
                    let child = offspring(space, cfg, rng, &a, &mut |r| {
                        pop[tournament(&fit, 2, r)].clone()
                    });
                    next.push(child);
                }
                pop = next;
                evals = st.evaluate(&pop)?;
            }
            SearchMode::Nsga2 => {
                let objs: Vec<Vec<f64>> = evals.iter().map(|e| ev.objectives(e)).collect();
                let viol: Vec<f64> = evals.iter().map(|e| e.violation).collect();
                let (rank, crowd) = rank_and_crowding(&objs, &viol);
                let kids: Vec<Genome> = (0..cfg.population)
                    .map(|_| {
                        let a = pop[crowded_tournament(&rank, &crowd, rng)].clone();
                        offspring(space, cfg, rng, &a, &mut |r| {
                            pop[crowded_tournament(&rank, &crowd, r)].clone()
                        })
                    })
                    .collect();
                let kid_evals = st.evaluate(&kids)?;
                let mut all_pop = std::mem::take(&mut pop);
                all_pop.extend(kids);
                let mut all_evals = evals;
                all_evals.extend(kid_evals);
                let objs: Vec<Vec<f64>> = all_evals.iter().map(|e| ev.objectives(e)).collect();
                let viol: Vec<f64> = all_evals.iter().map(|e| e.violation).collect();
                let keep = select_survivors(&objs, &viol, cfg.population);
                pop = keep.iter().map(|&i| all_pop[i].clone()).collect();
                evals = keep.iter().map(|&i| all_evals[i]).collect();
            }
        }
        st.record(generation, &evals);
    }
    Ok(SearchResult {
        best: st.best.expect("at least one genome evaluated"),
        archive: st.archive,
        history: st.history,
    })
}
