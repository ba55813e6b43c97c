//! Sweep definitions and their expansion into points.
//!
//! The point list is the product of the grid axes (first axis slowest), the
//! zip groups and the random points, in that order; replicates are added by
//! the runner. Random points come from an RNG seeded by the base seed alone,
//! so editing the grid never moves them.

use super::source::Origin;
use super::{Manifest, Setting};
use crate::error::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Hard cap on expanded points, so a typo cannot allocate the machine away.
const MAX_POINTS: usize = 1_000_000;

#[derive(Clone, Debug)]
pub struct GridAxis {
    pub key: String,
    pub key_origin: Origin,
    pub values: Vec<Setting>,
}

/// Keys varied together: `columns[k][i]` is key `k`'s value at step `i`.
#[derive(Clone, Debug)]
pub struct ZipGroup {
    pub keys: Vec<String>,
    pub key_origins: Vec<Origin>,
    pub columns: Vec<Vec<Setting>>,
}

impl ZipGroup {
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Debug)]
pub enum Distribution {
    Uniform { lo: f64, hi: f64, integer: bool },
    LogUniform { lo: f64, hi: f64, integer: bool },
    Choice(Vec<Setting>),
}

#[derive(Clone, Debug)]
pub struct RandomDim {
    pub key: String,
    pub origin: Origin,
    pub dist: Distribution,
}

#[derive(Clone, Debug)]
pub struct RandomSweep {
    pub n: usize,
    pub dims: Vec<RandomDim>,
}

/// One combination of swept values, keys in axis order.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub values: Vec<(String, Setting)>,
}

impl RandomDim {
    fn sample<R: Rng>(&self, rng: &mut R) -> Setting {
        let value = match &self.dist {
            Distribution::Uniform {
                lo,
                hi,
                integer: true,
            } => toml::Value::Integer(rng.random_range(*lo as i64..=*hi as i64)),
            Distribution::Uniform {
                lo,
                hi,
                integer: false,
            } => toml::Value::Float(lo + (hi - lo) * rng.random::<f64>()),
            Distribution::LogUniform { lo, hi, integer } => {
                let x = (lo.ln() + (hi.ln() - lo.ln()) * rng.random::<f64>()).exp();
                if *integer {
                    toml::Value::Integer((x.round() as i64).clamp(*lo as i64, *hi as i64))
                } else {
                    toml::Value::Float(x.clamp(*lo, *hi))
                }
            }
            Distribution::Choice(options) => {
                return options[rng.random_range(0..options.len())].clone();
            }
        };
        Setting {
            value,
            origin: self.origin.clone(),
        }
    }
}

impl RandomSweep {
    fn points(&self, base_seed: u64) -> Vec<Vec<(String, Setting)>> {
        let seed = crate::ids::derive_u64(&["sweep.random", &base_seed.to_string()]);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..self.n)
            .map(|_| {
                self.dims
                    .iter()
                    .map(|d| (d.key.clone(), d.sample(&mut rng)))
                    .collect()
            })
            .collect()
    }
}

impl Manifest {
    /// Number of points, or an error if the sweep is unreasonably large.
    pub fn point_count(&self) -> Result<usize> {
        let mut n: usize = 1;
        let sizes = self
            .grid
            .iter()
            .map(|a| a.values.len())
            .chain(self.zips.iter().map(ZipGroup::len))
            .chain(self.random.iter().map(|r| r.n));
        for size in sizes {
            n = n.saturating_mul(size);
        }
        if n.saturating_mul(self.replicates as usize) > MAX_POINTS {
            return Err(Error::user(format!(
                "{}: the sweep expands to more than {MAX_POINTS} trials",
                self.source.path.display()
            )));
        }
        Ok(n)
    }

    /// Expand the sweep into its points, in trial order.
    pub fn points(&self) -> Result<Vec<Point>> {
        let total = self.point_count()?;
        // Each "dimension" of the product is a list of alternatives, each
        // alternative a set of (key, value) pairs.
        let mut dims: Vec<Vec<Vec<(String, Setting)>>> = Vec::new();
        for axis in &self.grid {
            dims.push(
                axis.values
                    .iter()
                    .map(|v| vec![(axis.key.clone(), v.clone())])
                    .collect(),
            );
        }
        for zip in &self.zips {
            dims.push(
                (0..zip.len())
                    .map(|i| {
                        zip.keys
                            .iter()
                            .zip(&zip.columns)
                            .map(|(k, col)| (k.clone(), col[i].clone()))
                            .collect()
                    })
                    .collect(),
            );
        }
        if let Some(random) = &self.random {
            dims.push(random.points(self.base_seed));
        }
        let mut points = Vec::with_capacity(total);
        let mut odometer = vec![0usize; dims.len()];
        for _ in 0..total {
            let values = dims
                .iter()
                .zip(&odometer)
                .flat_map(|(d, &i)| d[i].iter().cloned())
                .collect();
            points.push(Point { values });
            // Advance the last dimension fastest.
            for (pos, dim) in odometer.iter_mut().zip(&dims).rev() {
                *pos += 1;
                if *pos < dim.len() {
                    break;
                }
                *pos = 0;
            }
        }
        self.refuse_duplicate_points(&points)?;
        Ok(points)
    }

    /// Two equal points (`x = [1, 1]`, or a zip/random repeating a value)
    /// would give two trials the same id: refuse, located at the repeat.
    fn refuse_duplicate_points(&self, points: &[Point]) -> Result<()> {
        let mut seen = std::collections::HashSet::with_capacity(points.len());
        for point in points {
            let key: Vec<String> = point
                .values
                .iter()
                .map(|(k, v)| format!("{k}={}", v.value))
                .collect();
            let key = key.join(", ");
            if !seen.insert(key.clone()) {
                let origin = point
                    .values
                    .last()
                    .map_or(Origin::Default, |(_, v)| v.origin.clone());
                let path = point.values.last().map_or("sweep", |(k, _)| k.as_str());
                return Err(Error::Located(vec![self.source.diag_at(
                    &origin,
                    &format!("sweep.{path}"),
                    format!(
                        "the sweep point {key} appears twice; each would get the same trial id, so list each value once"
                    ),
                )]));
            }
        }
        Ok(())
    }
}
