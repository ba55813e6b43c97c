//! Parent and survivor selection over fitness arrays.

use rand::Rng;
use std::cmp::Ordering;

/// Order for maximisation that puts NaN last and is total, so sorting is
/// deterministic whatever the fitness values.
fn better(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => b.total_cmp(&a),
    }
}

/// Indices sorted best first; ties keep index order (stable sort).
pub fn rank_descending(fitness: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..fitness.len()).collect();
    idx.sort_by(|&i, &j| better(fitness[i], fitness[j]));
    idx
}

/// The `n` best indices, best first.
pub fn elite_indices(fitness: &[f64], n: usize) -> Vec<usize> {
    let mut idx = rank_descending(fitness);
    idx.truncate(n);
    idx
}

/// Tournament selection: the best of `size` uniformly drawn entrants (with
/// replacement). Ties go to the entrant drawn first.
///
/// # Panics
/// If `fitness` is empty or `size` is 0; studies validate both up front.
pub fn tournament<R: Rng + ?Sized>(fitness: &[f64], size: usize, rng: &mut R) -> usize {
    assert!(!fitness.is_empty() && size > 0, "tournament needs entrants");
    let mut best = rng.random_range(0..fitness.len());
    for _ in 1..size {
        let challenger = rng.random_range(0..fitness.len());
        if better(fitness[challenger], fitness[best]) == Ordering::Less {
            best = challenger;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn ranking_is_descending_with_nan_last_and_stable_ties() {
        let f = [1.0, f64::NAN, 3.0, 1.0, -2.0];
        assert_eq!(rank_descending(&f), vec![2, 0, 3, 4, 1]);
        assert_eq!(elite_indices(&f, 2), vec![2, 0]);
    }

    #[test]
    fn full_size_tournament_almost_always_finds_the_best() {
        let f: Vec<f64> = (0..10).map(f64::from).collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let wins = (0..1000)
            .filter(|_| tournament(&f, 40, &mut rng) == 9)
            .count();
        assert!(wins > 950, "{wins}");
    }

    #[test]
    fn size_one_tournament_is_uniform() {
        let f = [0.0, 100.0];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let picks_worst = (0..2000)
            .filter(|_| tournament(&f, 1, &mut rng) == 0)
            .count();
        assert!((800..1200).contains(&picks_worst), "{picks_worst}");
    }
}
