//! Parameters of the `chaos_int4` study, their docs and their validation.
//!
//! Defaults describe a real (if small) study that `evoquant run` can execute
//! with no parameters in about a second per trial in release builds.

use super::arena::ArenaConfig;
use crate::evo::{Crossover, GaConfig, Renewal};
use crate::params::{NON_NEGATIVE, POSITIVE};
use crate::quant::Scheme;
use crate::studies::ParamIssue;

/// Obstacle placement uses a bounded rejection-sampling budget; this many
/// obstacles still leave ample free space in the 10 × 10 arena.
pub const MAX_OBSTACLES: usize = 40;

/// Upper bounds on resource-sized parameters: beyond these a trial would
/// take hours or exhaust memory, so validation refuses them up front.
const MAX_POPULATION: usize = 100_000;
const MAX_GENERATIONS: usize = 1_000_000;
const MAX_WIDTH: usize = 4096;
const MAX_SENSORS: usize = 1024;
const MAX_EPISODES: usize = 100_000;
const MAX_STEPS: usize = 1_000_000;
const MAX_BLOCK: usize = 1 << 20;

crate::params! {
    pub struct Params {
        /// Genomes per generation.
        population: usize = 48, range 2..=MAX_POPULATION;
        /// Generations of evolution.
        generations: usize = 40, range 1..=MAX_GENERATIONS;
        /// generational: elites + a full brood per generation; steady_state: one offspring at a time replaces the worst (population births = one generation).
        mode: Renewal = Renewal::Generational;
        /// Entrants per tournament (1..=population).
        tournament_size: usize = 3;
        /// uniform: each gene from either parent; arithmetic: α·a + (1−α)·b, α ~ U(0,1).
        crossover: Crossover = Crossover::Uniform;
        /// Probability an offspring is a crossover, else a copy of one parent.
        crossover_rate: f64 = 0.7, range 0.0..=1.0;
        /// Per-gene probability of Gaussian mutation.
        mutation_rate: f64 = 0.1, range 0.0..=1.0;
        /// Standard deviation of the Gaussian mutation.
        mutation_sigma: f64 = 0.3, range NON_NEGATIVE;
        /// Best genomes copied unchanged each generation (< population; generational mode).
        elitism: usize = 2;
        /// Initial weights are i.i.d. N(0, init_sigma²).
        init_sigma: f64 = 0.5, range NON_NEGATIVE;
        /// Hidden layer widths (tanh); e.g. [8] or [16, 8]. Inputs are sensors + 1 (speed), outputs steer and throttle.
        hidden: Vec<usize> = vec![8], range 1..=MAX_WIDTH;
        /// Evolve on the quantized network: training fitness is measured after fake-quantizing the weights block-wise at quant.bits / quant.block_size.
        quantization_aware: bool = false;
        /// Return the champion.json document (weights and quantized form); large sweeps may turn it off.
        record_champion: bool = true;
        /// Training layouts each genome is scored on; fresh layouts every generation.
        train_episodes: usize = 4, range 1..=MAX_EPISODES;
        /// Held-out layouts (disjoint from training) for every reported fitness.
        eval_episodes: usize = 8, range 1..=MAX_EPISODES;
        arena: ArenaParams = ArenaParams::default();
        quant: QuantParams = QuantParams::default();
    }
}

crate::params! {
    pub struct ArenaParams {
        /// Ray-cast distance sensors, spread evenly over a 180° fan.
        sensors: usize = 5, range 1..=MAX_SENSORS;
        /// Sensor range in arena units (arena is 10 × 10).
        sensor_range: f64 = 3.0, range POSITIVE;
        /// Circular obstacles per layout.
        obstacles: usize = 12, range 0..=MAX_OBSTACLES;
        /// Fraction of obstacles that drift, bounce off walls and respawn.
        moving_fraction: f64 = 0.5, range 0.0..=1.0;
        /// Top speed of moving obstacles, units/step (agent top speed is 0.15).
        obstacle_speed: f64 = 0.04, range NON_NEGATIVE;
        /// Step budget per episode.
        steps: usize = 300, range 1..=MAX_STEPS;
    }
}

crate::params! {
    pub struct QuantParams {
        /// Bit width of the evaluated (and, if quantization_aware, evolved) INT quantizers.
        bits: u32 = 4, range 1..=16;
        /// Scheme of every evaluated quantizer. asymmetric widens each range to include 0 (standard); asymmetric_clipped is the chaos-evolve document's formula verbatim, whose zero point clips for blocks on one side of zero.
        scheme: Scheme = Scheme::Asymmetric;
        /// Weights per block of the block-wise quantizer.
        block_size: usize = 4, range 1..=MAX_BLOCK;
        /// Extra block-wise bit widths to evaluate the champion at; metrics block_int<b>_*.
        eval_bits: Vec<u32> = vec![2, 3, 8], range 1..=16;
        /// Outliers injected by the outlier stress test.
        outliers: usize = 8, range 0..=MAX_BLOCK;
        /// Magnitude of the injected outliers.
        outlier_magnitude: f64 = 8.0, range NON_NEGATIVE;
    }
}

impl Params {
    /// The parameters that take no part in a trial with these values (see
    /// `Study::unused_params`): steady-state renewal keeps no elites.
    pub fn unused(&self) -> Vec<&'static str> {
        match self.mode {
            Renewal::Generational => Vec::new(),
            Renewal::SteadyState => vec!["elitism"],
        }
    }

    pub fn ga(&self) -> GaConfig {
        GaConfig {
            mode: self.mode,
            population: self.population,
            generations: self.generations,
            tournament_size: self.tournament_size,
            crossover: self.crossover,
            crossover_rate: self.crossover_rate,
            mutation_rate: self.mutation_rate,
            mutation_sigma: self.mutation_sigma as f32,
            elitism: self.elitism,
            init_sigma: self.init_sigma as f32,
            reevaluate: true,
        }
    }

    pub fn arena_config(&self) -> ArenaConfig {
        ArenaConfig {
            sensors: self.arena.sensors,
            sensor_range: self.arena.sensor_range as f32,
            obstacles: self.arena.obstacles,
            moving_fraction: self.arena.moving_fraction as f32,
            obstacle_speed: self.arena.obstacle_speed as f32,
        }
    }

    /// `[sensors + 1, hidden…, 2]`.
    pub fn layer_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.arena.sensors + 1];
        sizes.extend(&self.hidden);
        sizes.push(2);
        sizes
    }
}

/// Checks between parameters; each value's own range is declared above.
pub fn validate(p: &Params) -> Vec<ParamIssue> {
    let mut issues = Vec::new();
    let mut bad = |key: &str, msg: String| issues.push(ParamIssue::new(key, msg));
    if p.tournament_size == 0 || p.tournament_size > p.population {
        bad(
            "tournament_size",
            format!(
                "must be between 1 and population ({}), got {}",
                p.population, p.tournament_size
            ),
        );
    }
    if p.elitism >= p.population {
        bad(
            "elitism",
            format!(
                "must be below population ({}), got {}",
                p.population, p.elitism
            ),
        );
    }
    if !p.quant.scheme.has_zero_point() && (p.quant.bits == 1 || p.quant.eval_bits.contains(&1)) {
        bad(
            "quant.scheme",
            "symmetric schemes need at least 2 bits (quant.bits and quant.eval_bits); use asymmetric for 1 bit".into(),
        );
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(validate(&Params::default()), vec![]);
        assert_eq!(crate::params::range_issues(&Params::default()), vec![]);
    }

    #[test]
    fn each_bad_value_is_rejected_by_name() {
        type Edit = fn(&mut Params);
        let cases: &[(&str, Edit)] = &[
            ("population", |p| {
                p.population = 1;
                p.tournament_size = 1;
                p.elitism = 0;
            }),
            ("generations", |p| p.generations = 0),
            ("train_episodes", |p| p.train_episodes = 0),
            ("eval_episodes", |p| p.eval_episodes = 0),
            ("quant.block_size", |p| p.quant.block_size = 0),
            ("quant.bits", |p| p.quant.bits = 0),
            ("quant.bits", |p| p.quant.bits = 17),
            ("quant.scheme", |p| {
                p.quant.scheme = Scheme::Symmetric;
                p.quant.eval_bits = vec![1];
            }),
            ("quant.eval_bits", |p| p.quant.eval_bits = vec![4, 33]),
            ("tournament_size", |p| p.tournament_size = 49),
            ("tournament_size", |p| p.tournament_size = 0),
            ("crossover_rate", |p| p.crossover_rate = 1.5),
            ("mutation_rate", |p| p.mutation_rate = -0.1),
            ("arena.moving_fraction", |p| p.arena.moving_fraction = 2.0),
            ("mutation_sigma", |p| p.mutation_sigma = -0.3),
            ("mutation_sigma", |p| p.mutation_sigma = f64::NAN),
            ("init_sigma", |p| p.init_sigma = -1.0),
            ("elitism", |p| p.elitism = 48),
            ("hidden", |p| p.hidden = vec![8, 0]),
            ("arena.sensors", |p| p.arena.sensors = 0),
            ("arena.sensor_range", |p| p.arena.sensor_range = 0.0),
            ("arena.obstacles", |p| p.arena.obstacles = 41),
            ("arena.steps", |p| p.arena.steps = 0),
            ("arena.obstacle_speed", |p| p.arena.obstacle_speed = -1.0),
        ];
        for (key, edit) in cases {
            let mut p = Params::default();
            edit(&mut p);
            let mut issues = crate::params::range_issues(&p);
            if issues.is_empty() {
                issues = validate(&p);
            }
            assert_eq!(issues.len(), 1, "{key}: {issues:?}");
            assert_eq!(issues[0].key, *key);
        }
    }

    #[test]
    fn dotted_keys_deserialize_into_nested_structs() {
        let mut flat = crate::studies::ParamSet::new();
        flat.insert("quant.block_size".into(), toml::Value::Integer(16));
        flat.insert("mode".into(), toml::Value::String("steady_state".into()));
        let p: Params = crate::studies::typed(&flat).unwrap();
        assert_eq!(p.quant.block_size, 16);
        assert_eq!(p.mode, Renewal::SteadyState);
        assert_eq!(p.population, Params::default().population);
    }
}
