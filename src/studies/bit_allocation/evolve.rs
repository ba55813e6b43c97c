//! Evolution of heuristics: trained on TRAIN, champion chosen on VALID,
//! reported on TEST.
//!
//! Each generation the population is scored on TRAIN; its best member (the
//! generation's leader) is also scored on VALID and TEST for the record. The
//! champion is the leader with the best VALID fitness over all generations
//! (earliest on ties), so TEST never influences any choice. Breeding uses the
//! shared `evo` operators: elitism, tournament selection, crossover, mutation.

use super::fitness::fitness;
use super::heuristic::{Heuristic, Ladder};
use crate::evo::{rank_descending, tournament};
use crate::models::{Evaluation, Inventory};
use rand::Rng;

/// Evolution settings (validated study parameters).
#[derive(Clone, Debug)]
pub struct EvoConfig {
    pub population: usize,
    pub generations: usize,
    pub mutation_rate: f64,
    pub crossover_rate: f64,
    pub tournament_size: usize,
    pub elitism: usize,
    pub threshold: f64,
}

/// The three datasets.
pub struct Splits<'a> {
    pub train: &'a Inventory,
    pub valid: &'a Inventory,
    pub test: &'a Inventory,
}

/// One generation's leader, scored on every split.
#[derive(Clone, Debug)]
pub struct GenerationRecord {
    pub generation: usize,
    pub leader: Heuristic,
    /// Train, valid, test evaluations and fitness.
    pub evals: [(Evaluation, f64); 3],
    pub mean_train_fitness: f64,
}

pub struct Evolution {
    pub records: Vec<GenerationRecord>,
    /// Index into `records` of the champion.
    pub champion: usize,
}

pub fn evolve<R: Rng + ?Sized>(
    config: &EvoConfig,
    ladder: &Ladder,
    splits: &Splits,
    rng: &mut R,
) -> Evolution {
    let t = config.threshold;
    let score = |h: &Heuristic, inv: &Inventory| {
        let e = h.evaluate(inv, ladder);
        (e, fitness(&e, t))
    };
    let mut population: Vec<Heuristic> = (0..config.population)
        .map(|_| Heuristic::random(ladder, rng))
        .collect();
    let mut fit = vec![0.0; config.population];
    let mut records = Vec::with_capacity(config.generations);
    let mut champion = 0;
    for generation in 0..config.generations {
        for (f, h) in fit.iter_mut().zip(&population) {
            *f = score(h, splits.train).1;
        }
        let ranked = rank_descending(&fit);
        let leader = population[ranked[0]].clone();
        let evals = [
            score(&leader, splits.train),
            score(&leader, splits.valid),
            score(&leader, splits.test),
        ];
        let record = GenerationRecord {
            generation,
            leader,
            evals,
            mean_train_fitness: fit.iter().sum::<f64>() / fit.len() as f64,
        };
        if generation == 0 || record.evals[1].1 > records_valid(&records, champion) {
            champion = generation;
        }
        records.push(record);
        if generation + 1 == config.generations {
            break;
        }
        let mut next: Vec<Heuristic> = ranked[..config.elitism]
            .iter()
            .map(|&i| population[i].clone())
            .collect();
        while next.len() < config.population {
            let a = tournament(&fit, config.tournament_size, rng);
            let mut child = if rng.random_bool(config.crossover_rate) {
                let b = tournament(&fit, config.tournament_size, rng);
                Heuristic::crossover(&population[a], &population[b], rng)
            } else {
                population[a].clone()
            };
            child.mutate(config.mutation_rate, ladder, rng);
            next.push(child);
        }
        population = next;
    }
    Evolution { records, champion }
}

fn records_valid(records: &[GenerationRecord], i: usize) -> f64 {
    records.get(i).map_or(f64::NEG_INFINITY, |r| r.evals[1].1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Precision, Split};
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn evolution_is_reproducible_and_elitism_keeps_the_train_best() {
        let (train, valid, test) = (
            Split::Train.builtin(),
            Split::Valid.builtin(),
            Split::Test.builtin(),
        );
        let splits = Splits {
            train: &train,
            valid: &valid,
            test: &test,
        };
        let config = EvoConfig {
            population: 16,
            generations: 12,
            mutation_rate: 0.3,
            crossover_rate: 0.7,
            tournament_size: 3,
            elitism: 2,
            threshold: 0.95,
        };
        let ladder = Ladder::new(&Precision::ALL);
        let run = |seed| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            evolve(&config, &ladder, &splits, &mut rng)
        };
        let (a, b, c) = (run(1), run(1), run(2));
        let train_best: Vec<f64> = a.records.iter().map(|r| r.evals[0].1).collect();
        assert_eq!(
            train_best,
            b.records.iter().map(|r| r.evals[0].1).collect::<Vec<_>>()
        );
        assert_ne!(
            train_best,
            c.records.iter().map(|r| r.evals[0].1).collect::<Vec<_>>()
        );
        assert!(
            train_best.windows(2).all(|w| w[1] >= w[0]),
            "{train_best:?}"
        );
        let best_valid = a
            .records
            .iter()
            .map(|r| r.evals[1].1)
            .fold(f64::MIN, f64::max);
        assert_eq!(a.records[a.champion].evals[1].1, best_valid);
    }
}
