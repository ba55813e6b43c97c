//! Layout seeds for training and held-out episodes.
//!
//! The two sets must never share a layout, or "held-out" fitness would be
//! partly training fitness. Rather than hoping hashes don't collide, the top
//! bit partitions the seed space: training seeds have it clear, held-out
//! seeds have it set, so the sets are disjoint by construction.

use rand::Rng;

const TOP: u64 = 1 << 63;

/// SplitMix64 finaliser: a bijective mix of consecutive indices.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The training and held-out layout seeds of one trial. Training layouts are
/// fresh every generation (`train[g]`), so evolution cannot overfit a fixed
/// handful of arenas; held-out layouts are fixed for the whole trial.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutSeeds {
    pub train: Vec<Vec<u64>>,
    /// Training-side layouts (disjoint from held-out) for picking the
    /// champion among the final population's best.
    pub select: Vec<u64>,
    pub eval: Vec<u64>,
}

impl LayoutSeeds {
    /// `train` seeds for each of `generations + 1` generations, `select`
    /// champion-selection seeds, `eval` held-out seeds.
    pub fn draw<R: Rng + ?Sized>(
        rng: &mut R,
        generations: usize,
        train: usize,
        select: usize,
        eval: usize,
    ) -> Self {
        let base = rng.random::<u64>();
        // Even indices for training, odd for held-out, through one bijection;
        // the top bit then guarantees disjointness between the sets.
        let seed = |i: usize| mix(base.wrapping_add(i as u64));
        LayoutSeeds {
            train: (0..=generations)
                .map(|g| {
                    (0..train)
                        .map(|i| seed(2 * (g * train + i)) & !TOP)
                        .collect()
                })
                .collect(),
            select: (0..select)
                .map(|i| seed(2 * ((generations + 1) * train + i)) & !TOP)
                .collect(),
            eval: (0..eval).map(|i| seed(2 * i + 1) | TOP).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;
    use std::collections::BTreeSet;

    #[test]
    fn train_and_eval_seeds_are_disjoint_and_reproducible() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let s = LayoutSeeds::draw(&mut rng, 9, 10, 20, 100);
        let train: BTreeSet<_> = s.train.iter().flatten().chain(&s.select).collect();
        let eval: BTreeSet<_> = s.eval.iter().collect();
        assert_eq!((train.len(), eval.len()), (120, 100));
        assert!(train.is_disjoint(&eval));
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        assert_eq!(LayoutSeeds::draw(&mut rng, 9, 10, 20, 100), s);
    }
}
