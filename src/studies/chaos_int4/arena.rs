//! The "chaos" arena: a walled square with static and moving obstacles and
//! one agent that drives through it reading a fan of ray-cast sensors.
//!
//! Determinism: everything random in an episode — the agent's start, obstacle
//! placement, which obstacles move, their drift, and where they respawn —
//! comes from one RNG seeded by the episode's *layout seed*. The same seed and
//! the same actions therefore give the same trajectory bit for bit, whichever
//! thread runs it and whatever ran before (the arena is fully re-initialised
//! by [`Arena::reset`]).
//!
//! Dynamics per step, in this order: the agent turns by `steer · MAX_TURN`,
//! its speed relaxes towards `throttle · MAX_SPEED` (first-order lag, so speed
//! is state the policy has to sense), it moves; then every moving obstacle
//! drifts (its heading takes a small random turn), moves, bounces off walls,
//! and respawns elsewhere when its lifetime runs out; finally the agent is
//! checked for collision with walls and obstacles (an obstacle driving into a
//! parked agent counts too) and the grid cell it occupies is marked visited.

use super::geometry::{Vec2, disc_outside_box, discs_overlap, ray_box_exit, ray_circle};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::f32::consts::TAU;

/// Side of the square arena (arbitrary length units).
pub const SIZE: f32 = 10.0;
pub const AGENT_RADIUS: f32 = 0.2;
/// Top speed, units per step.
pub const MAX_SPEED: f32 = 0.15;
/// Largest heading change per step, radians.
pub const MAX_TURN: f32 = 0.25;
/// Fraction of the gap to the target speed closed per step.
pub const ACCEL: f32 = 0.3;
/// Obstacle radii are uniform in this range.
pub const OBSTACLE_RADIUS: (f32, f32) = (0.35, 0.7);
/// Obstacles start (and respawn) at least this far from the agent's centre,
/// beyond their own radius, so no episode starts in or next to a collision.
pub const CLEARANCE: f32 = 1.5;
/// Largest random heading change of a moving obstacle per step, radians.
pub const DRIFT: f32 = 0.1;
/// Lifetime of a moving obstacle before it respawns, steps (uniform).
pub const LIFETIME: (u32, u32) = (60, 180);
/// Side of the coverage grid cells; SIZE / CELL cells per axis.
pub const CELL: f32 = 1.0;
/// Coverage grid cells per axis; GRID² ≤ 128 so coverage fits one `u128`.
pub const GRID: usize = 10;
/// Total cells of the coverage grid.
pub const CELLS: u32 = (GRID * GRID) as u32;
/// Sensor fan: total angle covered, centred on the heading.
pub const FIELD_OF_VIEW: f32 = std::f32::consts::PI;

/// What the arena looks like; everything else is fixed physics above.
#[derive(Clone, Debug, PartialEq)]
pub struct ArenaConfig {
    pub sensors: usize,
    pub sensor_range: f32,
    pub obstacles: usize,
    /// Fraction of obstacles that move (rounded to a count).
    pub moving_fraction: f32,
    /// Top speed of a moving obstacle, units per step.
    pub obstacle_speed: f32,
}

impl ArenaConfig {
    /// Policy inputs: one reading per sensor plus the agent's own speed.
    pub fn observation_len(&self) -> usize {
        self.sensors + 1
    }
    pub fn moving_count(&self) -> usize {
        ((self.obstacles as f32) * self.moving_fraction).round() as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Obstacle {
    pub pos: Vec2,
    pub radius: f32,
    /// Zero for static obstacles.
    pub vel: Vec2,
    /// Steps until respawn; unused for static obstacles.
    pub ttl: u32,
    pub moving: bool,
}

/// The agent's kinematic state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Agent {
    pub pos: Vec2,
    pub heading: f32,
    pub speed: f32,
}

/// One episode's world. Reuse it across episodes with [`Arena::reset`]; no
/// method allocates after construction.
#[derive(Clone, Debug)]
pub struct Arena {
    cfg: ArenaConfig,
    /// (cos, sin) of each sensor's angle offset from the heading, so a ray
    /// direction is one rotation instead of a `sin_cos` per sensor and step.
    fan: Vec<(f32, f32)>,
    rng: Xoshiro256PlusPlus,
    pub agent: Agent,
    pub obstacles: Vec<Obstacle>,
    visited: u128,
    /// Path length driven this episode.
    pub distance: f32,
    pub steps: u32,
    pub collided: bool,
}

impl Arena {
    pub fn new(cfg: ArenaConfig) -> Self {
        let n = cfg.obstacles;
        let s = cfg.sensors;
        let fan = (0..s)
            .map(|k| {
                let offset = if s == 1 {
                    0.0
                } else {
                    FIELD_OF_VIEW * (k as f32 / (s - 1) as f32 - 0.5)
                };
                let (sin, cos) = offset.sin_cos();
                (cos, sin)
            })
            .collect();
        let mut arena = Arena {
            cfg,
            fan,
            rng: Xoshiro256PlusPlus::seed_from_u64(0),
            agent: Agent {
                pos: Vec2::default(),
                heading: 0.0,
                speed: 0.0,
            },
            obstacles: Vec::with_capacity(n),
            visited: 0,
            distance: 0.0,
            steps: 0,
            collided: false,
        };
        arena.reset(0);
        arena
    }

    pub fn config(&self) -> &ArenaConfig {
        &self.cfg
    }

    /// Lay out a fresh episode from `seed`.
    pub fn reset(&mut self, seed: u64) {
        self.rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let margin = 2.0;
        self.agent = Agent {
            pos: Vec2::new(
                self.rng.random_range(margin..SIZE - margin),
                self.rng.random_range(margin..SIZE - margin),
            ),
            heading: self.rng.random_range(0.0..TAU),
            speed: 0.0,
        };
        self.obstacles.clear();
        let moving = self.cfg.moving_count();
        for i in 0..self.cfg.obstacles {
            let radius = self.rng.random_range(OBSTACLE_RADIUS.0..OBSTACLE_RADIUS.1);
            let mut o = Obstacle {
                pos: Vec2::default(),
                radius,
                vel: Vec2::default(),
                ttl: 0,
                moving: i < moving,
            };
            self.place(&mut o);
            self.obstacles.push(o);
        }
        self.visited = 0;
        self.mark_visited();
        self.distance = 0.0;
        self.steps = 0;
        self.collided = false;
    }

    /// (Re)spawn an obstacle at a random spot clear of the agent. Rejection
    /// sampling with a fixed try budget keeps this deterministic; validation
    /// bounds the obstacle count so the budget is never exhausted in practice.
    fn place(&mut self, o: &mut Obstacle) {
        let r = o.radius;
        let agent = self.agent.pos;
        for _ in 0..64 {
            o.pos = Vec2::new(
                self.rng.random_range(r..SIZE - r),
                self.rng.random_range(r..SIZE - r),
            );
            if !discs_overlap(o.pos, r, agent, CLEARANCE) {
                break;
            }
        }
        if o.moving {
            let speed = self.cfg.obstacle_speed * self.rng.random_range(0.5f32..=1.0);
            let dir = Vec2::from_angle(self.rng.random_range(0.0..TAU));
            o.vel = Vec2::new(dir.x * speed, dir.y * speed);
            o.ttl = self.rng.random_range(LIFETIME.0..=LIFETIME.1);
        }
    }

    /// Write the policy's inputs: for each sensor `1 − d/range` with `d` the
    /// distance to the nearest wall or obstacle along its ray (0 = nothing in
    /// range, 1 = touching), then `speed / MAX_SPEED`.
    pub fn observe(&self, out: &mut [f32]) {
        let n = self.cfg.sensors;
        assert_eq!(out.len(), n + 1, "observation length");
        let range = self.cfg.sensor_range;
        let p = self.agent.pos;
        let h = Vec2::from_angle(self.agent.heading);
        for (slot, &(c, s)) in out[..n].iter_mut().zip(&self.fan) {
            let dir = Vec2::new(h.x * c - h.y * s, h.x * s + h.y * c);
            let mut d = ray_box_exit(p, dir, SIZE).min(range);
            for o in &self.obstacles {
                if let Some(t) = ray_circle(p, dir, o.pos, o.radius) {
                    d = d.min(t);
                }
            }
            *slot = 1.0 - d / range;
        }
        out[n] = self.agent.speed / MAX_SPEED;
    }

    /// Advance one step; returns `true` if the episode ended in a collision.
    /// Inputs are clamped (`steer` to [−1, 1], `throttle` to [0, 1]).
    pub fn step(&mut self, steer: f32, throttle: f32) -> bool {
        let a = &mut self.agent;
        a.heading = (a.heading + steer.clamp(-1.0, 1.0) * MAX_TURN).rem_euclid(TAU);
        a.speed += ACCEL * (throttle.clamp(0.0, 1.0) * MAX_SPEED - a.speed);
        a.pos = a.pos.add_scaled(Vec2::from_angle(a.heading), a.speed);
        self.distance += a.speed;
        self.steps += 1;

        for i in 0..self.obstacles.len() {
            let mut o = self.obstacles[i];
            if !o.moving {
                continue;
            }
            let turn = self.rng.random_range(-DRIFT..=DRIFT);
            let (s, c) = turn.sin_cos();
            o.vel = Vec2::new(o.vel.x * c - o.vel.y * s, o.vel.x * s + o.vel.y * c);
            o.pos = o.pos.add_scaled(o.vel, 1.0);
            bounce(&mut o.pos.x, &mut o.vel.x, o.radius);
            bounce(&mut o.pos.y, &mut o.vel.y, o.radius);
            o.ttl -= 1;
            if o.ttl == 0 {
                self.place(&mut o);
            }
            self.obstacles[i] = o;
        }

        let p = self.agent.pos;
        self.collided = disc_outside_box(p, AGENT_RADIUS, SIZE)
            || self
                .obstacles
                .iter()
                .any(|o| discs_overlap(p, AGENT_RADIUS, o.pos, o.radius));
        if !self.collided {
            self.mark_visited();
        }
        self.collided
    }

    fn mark_visited(&mut self) {
        let cell = |v: f32| ((v / CELL) as usize).min(GRID - 1);
        let p = self.agent.pos;
        self.visited |= 1u128 << (cell(p.y) * GRID + cell(p.x));
    }

    /// Distinct coverage-grid cells the agent has been in (start included).
    pub fn cells_visited(&self) -> u32 {
        self.visited.count_ones()
    }
}

/// Reflect a coordinate and its velocity component off the walls at 0 and SIZE.
fn bounce(pos: &mut f32, vel: &mut f32, r: f32) {
    if *pos < r {
        *pos = 2.0 * r - *pos;
        *vel = vel.abs();
    } else if *pos > SIZE - r {
        *pos = 2.0 * (SIZE - r) - *pos;
        *vel = -vel.abs();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ArenaConfig {
        ArenaConfig {
            sensors: 5,
            sensor_range: 3.0,
            obstacles: 12,
            moving_fraction: 0.5,
            obstacle_speed: 0.05,
        }
    }

    /// An arena with no obstacles of its own and the agent placed by hand.
    fn bare_arena(sensors: usize, sensor_range: f32, agent: Agent) -> Arena {
        let mut arena = Arena::new(ArenaConfig {
            sensors,
            sensor_range,
            obstacles: 0,
            moving_fraction: 0.0,
            obstacle_speed: 0.0,
        });
        arena.agent = agent;
        arena
    }

    fn trajectory(seed: u64) -> Vec<(Agent, Vec<Obstacle>, Vec<f32>)> {
        let mut arena = Arena::new(cfg());
        arena.reset(seed);
        let mut obs = vec![0.0; 6];
        let mut out = Vec::new();
        for t in 0..200 {
            arena.observe(&mut obs);
            out.push((arena.agent, arena.obstacles.clone(), obs.clone()));
            // A fixed wiggly action sequence, independent of state.
            if arena.step(((t as f32) * 0.1).sin(), 0.3) {
                break;
            }
        }
        out
    }

    #[test]
    fn same_seed_same_trajectory_different_seed_different_layout() {
        let a = trajectory(17);
        // Run something else in between to prove reset leaves no state behind.
        let _ = trajectory(99);
        assert_eq!(a, trajectory(17));
        assert_ne!(a[0].1, trajectory(18)[0].1);
    }

    #[test]
    fn obstacles_start_clear_of_the_agent_and_inside_walls() {
        let mut arena = Arena::new(cfg());
        for seed in 0..50 {
            arena.reset(seed);
            assert_eq!(arena.obstacles.iter().filter(|o| o.moving).count(), 6);
            for o in &arena.obstacles {
                assert!(!discs_overlap(o.pos, o.radius, arena.agent.pos, CLEARANCE));
                assert!(o.pos.x >= o.radius && o.pos.x <= SIZE - o.radius);
            }
        }
    }

    #[test]
    fn moving_obstacles_move_stay_inside_and_respawn() {
        let mut c = cfg();
        c.obstacle_speed = 0.2;
        let mut arena = Arena::new(c);
        arena.reset(3);
        let start: Vec<Vec2> = arena.obstacles.iter().map(|o| o.pos).collect();
        // The agent is parked (zero throttle); collisions are ignored here,
        // only obstacle invariants are checked.
        let mut respawned = false;
        for _ in 0..400 {
            let before: Vec<u32> = arena.obstacles.iter().map(|o| o.ttl).collect();
            arena.step(0.0, 0.0);
            for (o, &ttl) in arena.obstacles.iter().zip(&before) {
                assert!(o.pos.x >= o.radius - 1e-4 && o.pos.x <= SIZE - o.radius + 1e-4);
                assert!(o.pos.y >= o.radius - 1e-4 && o.pos.y <= SIZE - o.radius + 1e-4);
                respawned |= o.moving && o.ttl > ttl;
            }
        }
        assert!(respawned, "no obstacle ever respawned");
        for (o, s) in arena.obstacles.iter().zip(&start) {
            assert_eq!(o.moving, o.pos != *s, "only moving obstacles move");
        }
    }

    #[test]
    fn sensors_read_walls_and_obstacles() {
        let mut arena = bare_arena(
            3,
            4.0,
            Agent {
                pos: Vec2::new(5.0, 8.0),
                heading: 0.0,
                speed: MAX_SPEED / 2.0,
            },
        );
        let mut obs = [0.0; 4];
        arena.observe(&mut obs);
        // Rays at −90° (down: wall 8 away, out of range), 0° (right: wall 5
        // away, out of range), +90° (up: wall 2 away → 1 − 2/4).
        assert_eq!(obs, [0.0, 0.0, 0.5, 0.5]);
        arena.obstacles.push(Obstacle {
            pos: Vec2::new(7.0, 8.0),
            radius: 0.5,
            vel: Vec2::default(),
            ttl: 0,
            moving: false,
        });
        arena.observe(&mut obs);
        assert!((obs[1] - (1.0 - 1.5 / 4.0)).abs() < 1e-6, "{obs:?}");
    }

    #[test]
    fn collisions_with_obstacle_and_wall_end_the_episode() {
        let mut arena = bare_arena(
            1,
            3.0,
            Agent {
                pos: Vec2::new(5.0, 5.0),
                heading: 0.0,
                speed: 0.0,
            },
        );
        arena.obstacles.push(Obstacle {
            pos: Vec2::new(6.0, 5.0),
            radius: 0.5,
            vel: Vec2::default(),
            ttl: 0,
            moving: false,
        });
        let mut steps = 0;
        while !arena.step(0.0, 1.0) {
            steps += 1;
            assert!(steps < 100);
        }
        // The gap is 1 − 0.5 − 0.2 = 0.3: a few steps at the lagged speed.
        assert!(arena.agent.pos.x >= 5.3 && arena.agent.pos.x < 5.3 + MAX_SPEED);
        assert!(arena.collided);

        arena.obstacles.clear();
        arena.agent = Agent {
            pos: Vec2::new(9.7, 5.0),
            heading: 0.0,
            speed: MAX_SPEED,
        };
        assert!(
            arena.step(0.0, 1.0),
            "9.7 + 0.15 + radius 0.2 reaches the wall"
        );
    }

    #[test]
    fn coverage_counts_distinct_cells() {
        let mut arena = bare_arena(
            1,
            3.0,
            Agent {
                pos: Vec2::new(1.5, 5.5),
                heading: 0.0,
                speed: MAX_SPEED,
            },
        );
        arena.visited = 0;
        arena.mark_visited();
        for _ in 0..40 {
            assert!(!arena.step(0.0, 1.0));
        }
        // 40 steps at top speed cover 6 units: x from 1.5 to 7.5, cells 1..=7.
        assert_eq!(arena.cells_visited(), 7);
        assert!((arena.distance - 6.0).abs() < 1e-4);
    }
}
