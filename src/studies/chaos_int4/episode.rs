//! One agent, one episode: the policy (MLP → steering, throttle), the episode
//! loop, and the fitness of an episode.
//!
//! Episode fitness (`T` = step budget, `s` = steps survived, `c` = 1 if the
//! episode ended in a collision else 0, `v` = distinct cells of the 10 × 10
//! coverage grid the agent entered, start cell included):
//!
//! ```text
//! F = 50 + 200 · v / 100 + 50 · s / T − 50 · c
//! ```
//!
//! Distance is measured as ground covered (cells) rather than path length so
//! that spinning on the spot earns nothing. Since a collision can only happen
//! on a step (`s ≥ 1`), `F ≥ 50 / T > 0` always: retention (a ratio of
//! fitnesses) is therefore always well-defined.

use super::arena::{Arena, ArenaConfig, CELLS};
use crate::nn::{MlpShape, Scratch};

/// Fitness constants; see the module docs for the formula.
pub const BASE: f64 = 50.0;
pub const W_COVERAGE: f64 = 200.0;
pub const W_SURVIVAL: f64 = 50.0;
pub const COLLISION_PENALTY: f64 = 50.0;

/// What happened in one episode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpisodeStats {
    pub steps: u32,
    pub collided: bool,
    pub cells: u32,
    pub distance: f32,
}

impl EpisodeStats {
    /// The episode's fitness under a budget of `max_steps`.
    pub fn fitness(&self, max_steps: u32) -> f64 {
        BASE + W_COVERAGE * f64::from(self.cells) / f64::from(CELLS)
            + W_SURVIVAL * f64::from(self.steps) / f64::from(max_steps)
            - if self.collided {
                COLLISION_PENALTY
            } else {
                0.0
            }
    }
}

/// Map raw network outputs to (steer ∈ [−1, 1], throttle ∈ [0, 1]).
pub fn actions(out: &[f32]) -> (f32, f32) {
    (out[0].tanh(), 0.5 * (out[1].tanh() + 1.0))
}

/// Runs episodes for any parameter vector of one shape. Holds every buffer an
/// episode needs, so running episodes never allocates.
#[derive(Clone, Debug)]
pub struct Driver {
    arena: Arena,
    shape: MlpShape,
    scratch: Scratch,
    obs: Vec<f32>,
    max_steps: u32,
}

impl Driver {
    /// # Panics
    /// If the shape's inputs are not `sensors + 1` or its outputs not 2.
    pub fn new(shape: &MlpShape, cfg: ArenaConfig, max_steps: u32) -> Self {
        assert_eq!(shape.inputs(), cfg.observation_len(), "policy inputs");
        assert_eq!(shape.outputs(), 2, "policy outputs: steer, throttle");
        Driver {
            obs: vec![0.0; cfg.observation_len()],
            arena: Arena::new(cfg),
            scratch: shape.scratch(),
            shape: shape.clone(),
            max_steps,
        }
    }

    pub fn max_steps(&self) -> u32 {
        self.max_steps
    }

    /// Play one episode on the layout of `seed`.
    pub fn episode(&mut self, params: &[f32], seed: u64) -> EpisodeStats {
        self.arena.reset(seed);
        for _ in 0..self.max_steps {
            self.arena.observe(&mut self.obs);
            let out = self.shape.forward(params, &self.obs, &mut self.scratch);
            let (steer, throttle) = actions(out);
            if self.arena.step(steer, throttle) {
                break;
            }
        }
        EpisodeStats {
            steps: self.arena.steps,
            collided: self.arena.collided,
            cells: self.arena.cells_visited(),
            distance: self.arena.distance,
        }
    }

    /// Mean episode fitness over `seeds`, summed in order (deterministic).
    pub fn mean_fitness(&mut self, params: &[f32], seeds: &[u64]) -> f64 {
        let total: f64 = seeds
            .iter()
            .map(|&s| self.episode(params, s).fitness(self.max_steps))
            .sum();
        total / seeds.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitness_formula_and_positivity() {
        let crash = EpisodeStats {
            steps: 1,
            collided: true,
            cells: 1,
            distance: 0.0,
        };
        assert!((crash.fitness(200) - (50.0 + 2.0 + 0.25 - 50.0)).abs() < 1e-12);
        assert!(crash.fitness(u32::MAX) > 0.0);
        let survive = EpisodeStats {
            steps: 200,
            collided: false,
            cells: 30,
            distance: 20.0,
        };
        assert_eq!(survive.fitness(200), 50.0 + 60.0 + 50.0);
    }

    #[test]
    fn parked_agent_survives_static_arena_and_scores_one_cell() {
        let cfg = ArenaConfig {
            sensors: 3,
            sensor_range: 3.0,
            obstacles: 8,
            moving_fraction: 0.0,
            obstacle_speed: 0.0,
        };
        let shape = MlpShape::new(&[4, 2]).unwrap();
        // Throttle output −100 → throttle ≈ 0: the agent never moves.
        let mut p = vec![0.0; shape.param_count()];
        p[9] = -100.0;
        let mut d = Driver::new(&shape, cfg, 50);
        let s = d.episode(&p, 5);
        assert_eq!((s.steps, s.collided, s.cells), (50, false, 1));
    }
}
