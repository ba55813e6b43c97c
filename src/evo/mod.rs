//! Evolution machinery shared by every study: selection, crossover, mutation.
//!
//! Operators are free functions over slices and fitness arrays rather than a
//! framework with a genome trait, because the three studies evolve very
//! different things (real-valued policy weights, per-layer quantization
//! configurations, rule programs) and only the operators are common.
//!
//! Conventions: fitness is maximised; NaN fitness ranks below everything; all
//! randomness comes from the caller's RNG so results are reproducible.

pub mod ga;
pub mod hypervolume;
pub mod nsga2;
pub mod operators;
pub mod selection;

pub use ga::{Crossover, GaConfig, Population, Renewal, evaluate_all, evolve};
pub use hypervolume::hypervolume;
pub use nsga2::{
    Archive, constrained_dominates, crowded_tournament, crowding_distance, dominates,
    non_dominated_sort, rank_and_crowding, select_survivors,
};
pub use operators::{arithmetic_crossover, gaussian_mutation, uniform_crossover};
pub use selection::{elite_indices, rank_descending, tournament};
