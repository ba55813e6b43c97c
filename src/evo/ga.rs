//! A real-valued genetic algorithm loop: tournament selection, uniform or
//! arithmetic crossover, Gaussian mutation, elitism, in two modes.
//!
//! - `generational`: each generation keeps the `elitism` best genomes and
//!   replaces everyone else with offspring of the previous generation.
//! - `steady_state` (a "continuous ecosystem"): one offspring at a time
//!   replaces the current worst genome; a "generation" is `population` births
//!   so both modes spend the same number of evaluations.
//!
//! Fitness may depend on the generation (`fitness(state, generation,
//! genome)`), e.g. when each generation scores genomes on fresh episodes so
//! that evolution cannot overfit a fixed set. Then `reevaluate` must be set:
//! survivors are re-scored on the new generation's cases (generational: the
//! elites; steady state: the whole population at each generation boundary,
//! which doubles its evaluation cost), so fitness values compared within a
//! generation always come from the same cases.
//!
//! Determinism: all variation draws come, in a fixed order, from the caller's
//! RNG on the calling thread; fitness evaluation is a pure function of the
//! genome. In generational mode the offspring of a generation are evaluated in
//! parallel with rayon and collected in index order, so results do not depend
//! on the number of threads. Steady-state evaluation is inherently sequential
//! (each birth depends on the previous one's fitness).

use super::{
    arithmetic_crossover, gaussian_mutation, rank_descending, tournament, uniform_crossover,
};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// How the population is renewed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Renewal {
    #[default]
    Generational,
    SteadyState,
}

/// Which crossover operator makes offspring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crossover {
    #[default]
    Uniform,
    /// child = α·a + (1 − α)·b with α ~ U(0, 1) drawn per child.
    Arithmetic,
}

crate::choice!(Renewal { Generational => "generational", SteadyState => "steady_state" });
crate::choice!(Crossover { Uniform => "uniform", Arithmetic => "arithmetic" });

/// GA settings; callers validate them (see the studies' `validate`).
#[derive(Clone, Debug, PartialEq)]
pub struct GaConfig {
    pub mode: Renewal,
    pub population: usize,
    pub generations: usize,
    pub tournament_size: usize,
    pub crossover: Crossover,
    /// Probability that an offspring is a crossover (else a copy of parent 1).
    pub crossover_rate: f64,
    /// Per-gene mutation probability.
    pub mutation_rate: f64,
    pub mutation_sigma: f32,
    /// Genomes copied unchanged into the next generation (generational mode;
    /// steady state never removes the best anyway).
    pub elitism: usize,
    /// Initial genes are i.i.d. N(0, init_sigma²).
    pub init_sigma: f32,
    /// Fitness changes with the generation: re-score survivors each generation.
    pub reevaluate: bool,
}

/// Genomes and their fitness (maximised), index-aligned.
#[derive(Clone, Debug, PartialEq)]
pub struct Population {
    pub genomes: Vec<Vec<f32>>,
    pub fitness: Vec<f64>,
}

impl Population {
    /// Index of the fittest genome (lowest index on ties).
    pub fn best(&self) -> usize {
        rank_descending(&self.fitness)[0]
    }
    pub fn mean_fitness(&self) -> f64 {
        self.fitness.iter().sum::<f64>() / self.fitness.len() as f64
    }
}

/// Evaluate genomes in parallel; `init` builds per-worker scratch state. The
/// result is in genome order whatever the scheduling.
pub fn evaluate_all<S, I, F>(
    genomes: &[Vec<f32>],
    generation: usize,
    init: &I,
    fitness: &F,
) -> Vec<f64>
where
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize, &[f32]) -> f64 + Sync,
{
    genomes
        .par_iter()
        .map_init(init, |state, g| fitness(state, generation, g))
        .collect()
}

/// Run the GA. `observe(generation, &population)` is called for the initial
/// population (generation 0) and after each generation `1..=generations`.
pub fn evolve<R, S, I, F, O>(
    cfg: &GaConfig,
    genome_len: usize,
    rng: &mut R,
    init: I,
    fitness: F,
    mut observe: O,
) -> Population
where
    R: Rng + ?Sized,
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize, &[f32]) -> f64 + Sync,
    O: FnMut(usize, &Population),
{
    let genomes: Vec<Vec<f32>> = (0..cfg.population)
        .map(|_| {
            let mut g = vec![0.0; genome_len];
            gaussian_mutation(&mut g, 1.0, cfg.init_sigma, rng);
            g
        })
        .collect();
    let fit = evaluate_all(&genomes, 0, &init, &fitness);
    let mut pop = Population {
        genomes,
        fitness: fit,
    };
    observe(0, &pop);
    let mut state = init();
    for generation in 1..=cfg.generations {
        match cfg.mode {
            Renewal::Generational => {
                let order = rank_descending(&pop.fitness);
                let elites = cfg.elitism.min(cfg.population);
                let mut next: Vec<Vec<f32>> = Vec::with_capacity(cfg.population);
                let mut next_fit = Vec::with_capacity(cfg.population);
                for &i in &order[..elites] {
                    next.push(pop.genomes[i].clone());
                    next_fit.push(pop.fitness[i]);
                }
                let children: Vec<Vec<f32>> = (elites..cfg.population)
                    .map(|_| offspring(cfg, &pop, rng))
                    .collect();
                next.extend(children);
                if cfg.reevaluate {
                    next_fit = evaluate_all(&next, generation, &init, &fitness);
                } else {
                    next_fit.extend(evaluate_all(&next[elites..], generation, &init, &fitness));
                }
                pop = Population {
                    genomes: next,
                    fitness: next_fit,
                };
            }
            Renewal::SteadyState => {
                if cfg.reevaluate {
                    pop.fitness = evaluate_all(&pop.genomes, generation, &init, &fitness);
                }
                for _ in 0..cfg.population {
                    let child = offspring(cfg, &pop, rng);
                    let f = fitness(&mut state, generation, &child);
                    let worst = *rank_descending(&pop.fitness)
                        .last()
                        .expect("population is never empty");
                    pop.genomes[worst] = child;
                    pop.fitness[worst] = f;
                }
            }
        }
        observe(generation, &pop);
    }
    pop
}

/// Two tournament parents → crossover (with `crossover_rate`) → mutation.
fn offspring<R: Rng + ?Sized>(cfg: &GaConfig, pop: &Population, rng: &mut R) -> Vec<f32> {
    let a = &pop.genomes[tournament(&pop.fitness, cfg.tournament_size, rng)];
    let b = &pop.genomes[tournament(&pop.fitness, cfg.tournament_size, rng)];
    let mut child = a.clone();
    if rng.random_bool(cfg.crossover_rate) {
        match cfg.crossover {
            Crossover::Uniform => uniform_crossover(a, b, &mut child, rng),
            Crossover::Arithmetic => {
                let alpha: f32 = rng.random();
                arithmetic_crossover(a, b, &mut child, alpha);
            }
        }
    }
    gaussian_mutation(&mut child, cfg.mutation_rate, cfg.mutation_sigma, rng);
    child
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn cfg(mode: Renewal, crossover: Crossover) -> GaConfig {
        GaConfig {
            mode,
            population: 30,
            generations: 40,
            tournament_size: 3,
            crossover,
            crossover_rate: 0.7,
            mutation_rate: 0.2,
            mutation_sigma: 0.2,
            elitism: 2,
            init_sigma: 2.0,
            reevaluate: false,
        }
    }

    /// Negative squared distance to (1, −2, 3, 0.5): a smooth bowl.
    fn bowl(_: &mut (), _generation: usize, g: &[f32]) -> f64 {
        let target = [1.0, -2.0, 3.0, 0.5];
        -g.iter()
            .zip(target)
            .map(|(&x, t)| f64::from(x - t).powi(2))
            .sum::<f64>()
    }

    #[test]
    fn every_mode_and_crossover_improves_on_a_bowl() {
        for mode in [Renewal::Generational, Renewal::SteadyState] {
            for xo in [Crossover::Uniform, Crossover::Arithmetic] {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
                let mut history = Vec::new();
                let pop = evolve(
                    &cfg(mode, xo),
                    4,
                    &mut rng,
                    || (),
                    bowl,
                    |g, p| history.push((g, p.fitness[p.best()])),
                );
                assert_eq!(history.len(), 41);
                let (first, last) = (history[0].1, history[40].1);
                assert!(
                    last > first && last > -0.05,
                    "{mode:?} {xo:?}: {first} → {last}"
                );
                // Elitism / worst-replacement: the best never gets worse.
                assert!(history.windows(2).all(|w| w[1].1 >= w[0].1));
                assert_eq!(pop.genomes.len(), 30);
            }
        }
    }

    #[test]
    fn reevaluation_rescores_survivors_on_the_new_generation() {
        for mode in [Renewal::Generational, Renewal::SteadyState] {
            let mut c = cfg(mode, Crossover::Uniform);
            c.reevaluate = true;
            c.generations = 5;
            // Fitness = generation number: after re-scoring, every survivor
            // must carry the current generation's value.
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
            evolve(
                &c,
                3,
                &mut rng,
                || (),
                |_, g, _| g as f64,
                |g, p| {
                    assert!(p.fitness.iter().all(|&f| f == g as f64), "{mode:?} gen {g}");
                },
            );
        }
    }

    #[test]
    fn same_seed_same_run() {
        let c = cfg(Renewal::Generational, Crossover::Uniform);
        let run = |seed| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            evolve(&c, 4, &mut rng, || (), bowl, |_, _| {})
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }
}
