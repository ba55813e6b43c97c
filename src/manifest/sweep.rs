//! Sweep definitions and their expansion into points.
//!
//! A sweep is one list of [`Dimension`]s — a grid axis, a zip group or the
//! random block — and the point list is their product, the first dimension
//! slowest; replicates are added by the runner. The list is kept in canonical
//! order (grid axes, then zip groups, then the random block, each in manifest
//! order), so where a table sits in the file never reorders trials. Random
//! points come from an RNG seeded by the base seed alone, so editing the grid
//! never moves them.

use super::source::Origin;
use super::{Manifest, Setting};
use crate::error::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Hard cap on a manifest's trials (points × replicates), so a typo cannot
/// allocate the machine away. Validation has the study check every point
/// (tens of µs each, more for studies that read data files), so the cap also
/// keeps `validate` and `plan` within seconds; a larger study is several
/// manifests, or shards of one.
pub const MAX_TRIALS: usize = 100_000;

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

/// One factor of the sweep's product.
#[derive(Clone, Debug)]
pub enum Dimension {
    Grid(GridAxis),
    Zip(ZipGroup),
    Random(RandomSweep),
}

impl Dimension {
    /// Number of alternatives this dimension contributes.
    pub fn len(&self) -> usize {
        match self {
            Dimension::Grid(a) => a.values.len(),
            Dimension::Zip(z) => z.len(),
            Dimension::Random(r) => r.n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys it sweeps, with where each was written.
    pub fn keys(&self) -> Vec<(&str, &Origin)> {
        match self {
            Dimension::Grid(a) => vec![(a.key.as_str(), &a.key_origin)],
            Dimension::Zip(z) => z
                .keys
                .iter()
                .map(String::as_str)
                .zip(&z.key_origins)
                .collect(),
            Dimension::Random(r) => r.dims.iter().map(|d| (d.key.as_str(), &d.origin)).collect(),
        }
    }

    /// Where in a manifest this kind of dimension is written, for messages.
    pub fn place(&self) -> &'static str {
        match self {
            Dimension::Grid(_) => "[sweep]",
            Dimension::Zip(_) => "[[sweep.zip]]",
            Dimension::Random(_) => "[sweep.random]",
        }
    }

    /// Position of its kind in the canonical order.
    fn rank(&self) -> u8 {
        match self {
            Dimension::Grid(_) => 0,
            Dimension::Zip(_) => 1,
            Dimension::Random(_) => 2,
        }
    }

    /// Each alternative as its (key, value) pairs.
    fn alternatives(&self, base_seed: u64) -> Vec<Vec<(String, Setting)>> {
        match self {
            Dimension::Grid(axis) => axis
                .values
                .iter()
                .map(|v| vec![(axis.key.clone(), v.clone())])
                .collect(),
            Dimension::Zip(zip) => (0..zip.len())
                .map(|i| {
                    zip.keys
                        .iter()
                        .zip(&zip.columns)
                        .map(|(k, col)| (k.clone(), col[i].clone()))
                        .collect()
                })
                .collect(),
            Dimension::Random(random) => random.points(base_seed),
        }
    }
}

/// Put dimensions in canonical order (stable: manifest order within a kind).
pub fn canonical_order(dims: &mut [Dimension]) {
    dims.sort_by_key(Dimension::rank);
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
        for dim in &self.sweep {
            n = n.saturating_mul(dim.len());
        }
        let trials = n.saturating_mul(self.replicates as usize);
        if trials > MAX_TRIALS {
            let count = if trials == usize::MAX {
                "more than that".to_string()
            } else {
                trials.to_string()
            };
            return Err(Error::user(format!(
                "{}: the sweep expands to {count} trials (points × replicates); evoquant runs at most {MAX_TRIALS} per manifest: split it into several manifests",
                self.source.path.display()
            )));
        }
        Ok(n)
    }

    /// Expand the sweep into its points, in trial order.
    pub fn points(&self) -> Result<Vec<Point>> {
        let total = self.point_count()?;
        let dims: Vec<Vec<Vec<(String, Setting)>>> = self
            .sweep
            .iter()
            .map(|d| d.alternatives(self.base_seed))
            .collect();
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
