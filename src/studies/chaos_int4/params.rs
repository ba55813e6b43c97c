//! Parameters of the `chaos_int4` study, their docs and their validation.
//!
//! Defaults describe a real (if small) study that `evoquant run` can execute
//! with no parameters in about a second per trial in release builds.

use super::arena::ArenaConfig;
use crate::evo::{Crossover, GaConfig, Mode};
use crate::quant::Scheme;
use crate::studies::{ParamDoc, ParamIssue, ParamType};
use serde::{Deserialize, Serialize};

/// Obstacle placement uses a bounded rejection-sampling budget; this many
/// obstacles still leave ample free space in the 10 × 10 arena.
pub const MAX_OBSTACLES: usize = 40;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    pub population: usize,
    pub generations: usize,
    pub mode: Mode,
    pub tournament_size: usize,
    pub crossover: Crossover,
    pub crossover_rate: f64,
    pub mutation_rate: f64,
    pub mutation_sigma: f64,
    pub elitism: usize,
    pub init_sigma: f64,
    pub hidden: Vec<usize>,
    pub quantization_aware: bool,
    pub record_champion: bool,
    pub train_episodes: usize,
    pub eval_episodes: usize,
    pub arena: ArenaParams,
    pub quant: QuantParams,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArenaParams {
    pub sensors: usize,
    pub sensor_range: f64,
    pub obstacles: usize,
    pub moving_fraction: f64,
    pub obstacle_speed: f64,
    pub steps: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuantParams {
    pub bits: u32,
    pub scheme: Scheme,
    pub block_size: usize,
    pub eval_bits: Vec<u32>,
    pub outliers: usize,
    pub outlier_magnitude: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            population: 48,
            generations: 40,
            mode: Mode::Generational,
            tournament_size: 3,
            crossover: Crossover::Uniform,
            crossover_rate: 0.7,
            mutation_rate: 0.1,
            mutation_sigma: 0.3,
            elitism: 2,
            init_sigma: 0.5,
            hidden: vec![8],
            quantization_aware: false,
            record_champion: true,
            train_episodes: 4,
            eval_episodes: 8,
            arena: ArenaParams::default(),
            quant: QuantParams::default(),
        }
    }
}

impl Default for ArenaParams {
    fn default() -> Self {
        ArenaParams {
            sensors: 5,
            sensor_range: 3.0,
            obstacles: 12,
            moving_fraction: 0.5,
            obstacle_speed: 0.04,
            steps: 300,
        }
    }
}

impl Default for QuantParams {
    fn default() -> Self {
        QuantParams {
            bits: 4,
            scheme: Scheme::Asymmetric,
            block_size: 4,
            eval_bits: vec![2, 3, 8],
            outliers: 8,
            outlier_magnitude: 8.0,
        }
    }
}

impl Params {
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

pub fn docs() -> Vec<ParamDoc> {
    use ParamType::*;
    vec![
        ParamDoc::new("population", Int, "Genomes per generation (≥ 2)."),
        ParamDoc::new("generations", Int, "Generations of evolution (≥ 1)."),
        ParamDoc::new(
            "mode",
            Choice(&["generational", "steady_state"]),
            "generational: elites + a full brood per generation; steady_state: one offspring at a time replaces the worst (population births = one generation).",
        ),
        ParamDoc::new(
            "tournament_size",
            Int,
            "Entrants per tournament (1..=population).",
        ),
        ParamDoc::new(
            "crossover",
            Choice(&["uniform", "arithmetic"]),
            "uniform: each gene from either parent; arithmetic: α·a + (1−α)·b, α ~ U(0,1).",
        ),
        ParamDoc::new(
            "crossover_rate",
            Float,
            "Probability an offspring is a crossover, else a copy of one parent [0, 1].",
        ),
        ParamDoc::new(
            "mutation_rate",
            Float,
            "Per-gene probability of Gaussian mutation [0, 1].",
        ),
        ParamDoc::new(
            "mutation_sigma",
            Float,
            "Standard deviation of the Gaussian mutation (≥ 0).",
        ),
        ParamDoc::new(
            "elitism",
            Int,
            "Best genomes copied unchanged each generation (< population; generational mode).",
        ),
        ParamDoc::new(
            "init_sigma",
            Float,
            "Initial weights are i.i.d. N(0, init_sigma²) (≥ 0).",
        ),
        ParamDoc::new(
            "hidden",
            IntList,
            "Hidden layer widths (tanh); e.g. [8] or [16, 8]. Inputs are sensors + 1 (speed), outputs steer and throttle.",
        ),
        ParamDoc::new(
            "quantization_aware",
            Bool,
            "Evolve on the quantized network: training fitness is measured after fake-quantizing the weights block-wise at quant.bits / quant.block_size.",
        ),
        ParamDoc::new(
            "record_champion",
            Bool,
            "Return the champion.json document (weights and quantized form); large sweeps may turn it off.",
        ),
        ParamDoc::new(
            "train_episodes",
            Int,
            "Training layouts each genome is scored on; fresh layouts every generation (≥ 1).",
        ),
        ParamDoc::new(
            "eval_episodes",
            Int,
            "Held-out layouts (disjoint from training) for every reported fitness (≥ 1).",
        ),
        ParamDoc::new(
            "arena.sensors",
            Int,
            "Ray-cast distance sensors, spread evenly over a 180° fan (≥ 1).",
        ),
        ParamDoc::new(
            "arena.sensor_range",
            Float,
            "Sensor range in arena units (arena is 10 × 10; > 0).",
        ),
        ParamDoc::new(
            "arena.obstacles",
            Int,
            "Circular obstacles per layout (0..=40).",
        ),
        ParamDoc::new(
            "arena.moving_fraction",
            Float,
            "Fraction of obstacles that drift, bounce off walls and respawn [0, 1].",
        ),
        ParamDoc::new(
            "arena.obstacle_speed",
            Float,
            "Top speed of moving obstacles, units/step (agent top speed is 0.15; ≥ 0).",
        ),
        ParamDoc::new("arena.steps", Int, "Step budget per episode (≥ 1)."),
        ParamDoc::new(
            "quant.bits",
            Int,
            "Bit width of the evaluated (and, if quantization_aware, evolved) INT quantizers (1..=16).",
        ),
        ParamDoc::new(
            "quant.scheme",
            Choice(&[
                "asymmetric",
                "asymmetric_clipped",
                "symmetric",
                "power_of_two",
            ]),
            "Scheme of every evaluated quantizer. asymmetric widens each range to include 0 (standard); asymmetric_clipped is the chaos-evolve document's formula verbatim, whose zero point clips for blocks on one side of zero.",
        ),
        ParamDoc::new(
            "quant.block_size",
            Int,
            "Weights per block of the block-wise quantizer (≥ 1).",
        ),
        ParamDoc::new(
            "quant.eval_bits",
            IntList,
            "Extra block-wise bit widths to evaluate the champion at (each 1..=16); metrics block_int<b>_*.",
        ),
        ParamDoc::new(
            "quant.outliers",
            Int,
            "Outliers injected by the outlier stress test.",
        ),
        ParamDoc::new(
            "quant.outlier_magnitude",
            Float,
            "Magnitude of the injected outliers (≥ 0).",
        ),
    ]
}

pub fn validate(p: &Params) -> Vec<ParamIssue> {
    let mut issues = Vec::new();
    let mut bad = |key: &str, msg: String| issues.push(ParamIssue::new(key, msg));
    if p.population < 2 {
        bad(
            "population",
            format!("must be at least 2, got {}", p.population),
        );
    }
    for (key, v) in [
        ("generations", p.generations),
        ("train_episodes", p.train_episodes),
        ("eval_episodes", p.eval_episodes),
        ("arena.sensors", p.arena.sensors),
        ("arena.steps", p.arena.steps),
        ("quant.block_size", p.quant.block_size),
    ] {
        if v == 0 {
            bad(key, "must be at least 1, got 0".into());
        }
    }
    if p.arena.steps > u32::MAX as usize {
        bad("arena.steps", format!("must be at most {}", u32::MAX));
    }
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
    for (key, v) in [
        ("crossover_rate", p.crossover_rate),
        ("mutation_rate", p.mutation_rate),
        ("arena.moving_fraction", p.arena.moving_fraction),
    ] {
        if !(0.0..=1.0).contains(&v) {
            bad(key, format!("must be within [0, 1], got {v}"));
        }
    }
    for (key, v) in [
        ("mutation_sigma", p.mutation_sigma),
        ("init_sigma", p.init_sigma),
        ("arena.obstacle_speed", p.arena.obstacle_speed),
        ("quant.outlier_magnitude", p.quant.outlier_magnitude),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            bad(key, format!("must be a finite number ≥ 0, got {v}"));
        }
    }
    if !(p.arena.sensor_range > 0.0 && p.arena.sensor_range.is_finite()) {
        bad(
            "arena.sensor_range",
            format!("must be > 0, got {}", p.arena.sensor_range),
        );
    }
    if p.arena.obstacles > MAX_OBSTACLES {
        bad(
            "arena.obstacles",
            format!("must be at most {MAX_OBSTACLES}, got {}", p.arena.obstacles),
        );
    }
    if p.hidden.contains(&0) {
        bad(
            "hidden",
            format!("layer widths must be ≥ 1, got {:?}", p.hidden),
        );
    }
    if !(1..=16).contains(&p.quant.bits) {
        bad(
            "quant.bits",
            format!("must be within 1..=16, got {}", p.quant.bits),
        );
    }
    if let Some(b) = p.quant.eval_bits.iter().find(|b| !(1..=16).contains(*b)) {
        bad(
            "quant.eval_bits",
            format!("each must be within 1..=16, got {b}"),
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
            let issues = validate(&p);
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
        assert_eq!(p.mode, Mode::SteadyState);
        assert_eq!(p.population, Params::default().population);
    }
}
