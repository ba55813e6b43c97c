//! Every output name of bit_allocation that more than one place uses,
//! declared once: the trial code writes metrics and tables under these names
//! and the report section reads them back through the same constants, so
//! renaming one cannot leave the report printing `n/a`.

// trials.csv metrics.
pub const TEST_CHAMPION_FITNESS: &str = "test_champion_fitness";
pub const TEST_CHAMPION_ACCURACY: &str = "test_champion_accuracy";
pub const TEST_CHAMPION_COMPRESSION: &str = "test_champion_compression";
pub const TEST_CHAMPION_GAP: &str = "test_champion_gap";
pub const TEST_OPTIMUM_COMPRESSION: &str = "test_optimum_compression";
pub const TEST_BEST_BASELINE: &str = "test_best_baseline";
pub const TEST_BEST_BASELINE_FITNESS: &str = "test_best_baseline_fitness";

/// The datasets, in order; `TEST` is held out from evolution and selection.
pub const TRAIN: &str = "train";
pub const VALID: &str = "valid";
pub const TEST: &str = "test";
pub const SPLITS: [&str; 3] = [TRAIN, VALID, TEST];

/// Strategies besides the baselines (`strategy` column, allocation tables).
pub const EVOLVED: &str = "evolved";
pub const OPTIMUM: &str = "optimum";

// Tables and their shared columns.
pub const GENERATIONS: &str = "generations";
pub const STRATEGIES: &str = "strategies";
pub const FRONTIER: &str = "frontier";
pub const GENERATION: &str = "generation";
pub const STRATEGY: &str = "strategy";
pub const DATASET: &str = "dataset";
pub const COMPRESSION: &str = "compression";
pub const ACCURACY: &str = "accuracy";
pub const LAYER: &str = "layer";
pub const PRECISION: &str = "precision";
/// `generations.csv`'s per-dataset leader fitness: `<dataset>_fitness`.
pub const FITNESS: &str = "_fitness";

/// The per-dataset column of a generations.csv quantity.
pub fn of(dataset: &str, suffix: &str) -> String {
    format!("{dataset}{suffix}")
}

/// The per-layer allocation table of one strategy.
pub fn allocation(strategy: &str) -> String {
    format!("allocation_{strategy}")
}

/// The parameter the report draws threshold lines from.
pub const THRESHOLD: &str = "threshold";

/// The measured TEST split (`data.source = "measured"`): every strategy's
/// allocation re-measured on the real network.
pub const REMEASURED: &str = "remeasured";
pub const MEASURED_ACCURACY: &str = "measured_accuracy";
pub const MEASURED_FITNESS: &str = "measured_fitness";
pub const MEASURED_SOURCE: &str = "measured_source";
pub const RANKING_AGREEMENT: &str = "ranking_agreement";
