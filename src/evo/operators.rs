//! Variation operators on real-valued genomes. They write into a caller's
//! buffer so evolution loops can reuse allocations.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Each gene from either parent with probability ½.
pub fn uniform_crossover<R: Rng + ?Sized>(a: &[f32], b: &[f32], child: &mut [f32], rng: &mut R) {
    assert!(a.len() == b.len() && a.len() == child.len());
    for ((c, &x), &y) in child.iter_mut().zip(a).zip(b) {
        *c = if rng.random_bool(0.5) { x } else { y };
    }
}

/// child = α·a + (1 − α)·b, gene by gene.
pub fn arithmetic_crossover(a: &[f32], b: &[f32], child: &mut [f32], alpha: f32) {
    assert!(a.len() == b.len() && a.len() == child.len());
    for ((c, &x), &y) in child.iter_mut().zip(a).zip(b) {
        *c = alpha * x + (1.0 - alpha) * y;
    }
}

/// Add N(0, σ²) noise to each gene independently with probability `rate`.
pub fn gaussian_mutation<R: Rng + ?Sized>(genes: &mut [f32], rate: f64, sigma: f32, rng: &mut R) {
    for g in genes.iter_mut() {
        if rng.random_bool(rate) {
            let z: f32 = StandardNormal.sample(rng);
            *g += sigma * z;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn uniform_crossover_takes_each_gene_from_a_parent() {
        let a = [1.0; 64];
        let b = [2.0; 64];
        let mut c = [0.0; 64];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        uniform_crossover(&a, &b, &mut c, &mut rng);
        assert!(c.iter().all(|&x| x == 1.0 || x == 2.0));
        assert!(c.contains(&1.0) && c.contains(&2.0));
    }

    #[test]
    fn arithmetic_crossover_interpolates() {
        let mut c = [0.0; 2];
        arithmetic_crossover(&[0.0, 4.0], &[2.0, 0.0], &mut c, 0.25);
        assert_eq!(c, [1.5, 1.0]);
    }

    #[test]
    fn mutation_rate_zero_changes_nothing_and_one_changes_everything() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut g = [0.5f32; 32];
        gaussian_mutation(&mut g, 0.0, 1.0, &mut rng);
        assert!(g.iter().all(|&x| x == 0.5));
        gaussian_mutation(&mut g, 1.0, 1.0, &mut rng);
        assert!(g.iter().all(|&x| x != 0.5));
    }
}
