//! The expanded trial list of a manifest.

use super::inputs::{InputHasher, canonical_suffix};
use crate::error::Result;
use crate::ids::{derive_u64, digest};
use crate::manifest::Manifest;
use crate::records::InputFile;
use crate::studies::ParamSet;
use crate::value::canonical_value;

/// One point of the sweep with its full parameters.
pub struct PlannedPoint {
    pub params: ParamSet,
    /// Values of the swept keys, in [`Plan::swept_keys`] order.
    pub swept: Vec<toml::Value>,
    /// Canonical text of the kind, every resolved parameter and the
    /// content hash of every input file.
    pub canonical: String,
    /// The files this point's parameters name (see `inputs`).
    pub inputs: Vec<InputFile>,
}

/// One trial: a point and a replicate.
#[derive(Clone, Debug)]
pub struct Trial {
    /// Position in trial order (points in sweep order, replicates innermost).
    pub index: usize,
    pub point: usize,
    pub replicate: u32,
    pub id: String,
    pub seed: u64,
}

pub struct Plan {
    pub manifest: Manifest,
    pub swept_keys: Vec<String>,
    pub base: ParamSet,
    pub points: Vec<PlannedPoint>,
    pub trials: Vec<Trial>,
}

fn canonical_params(kind: &str, params: &ParamSet) -> String {
    let mut s = format!("kind={kind}");
    for (k, v) in params {
        s.push(';');
        s.push_str(k);
        s.push('=');
        s.push_str(&canonical_value(v));
    }
    s
}

impl Trial {
    fn new(index: usize, point: usize, canonical: &str, base_seed: u64, replicate: u32) -> Trial {
        let rep = replicate.to_string();
        let d = digest(&["trial", canonical, &rep]);
        let id = d[..6].iter().map(|b| format!("{b:02x}")).collect();
        let seed = derive_u64(&["seed", &base_seed.to_string(), canonical, &rep]);
        Trial {
            index,
            point,
            replicate,
            id,
            seed,
        }
    }
}

impl Plan {
    pub fn new(manifest: Manifest) -> Result<Plan> {
        let swept_keys = manifest.swept_keys();
        let base = manifest.base_params();
        let kind = manifest.study.kind();
        let base_dir = manifest.base_dir();
        let docs: Vec<_> = manifest.schema.values().cloned().collect();
        let mut hasher = InputHasher::new(&base_dir, &docs);
        let points: Vec<PlannedPoint> = manifest
            .points()?
            .into_iter()
            .map(|p| {
                let params = manifest.point_params(&base, &p);
                let swept = swept_keys
                    .iter()
                    .map(|k| params[k.as_str()].clone())
                    .collect();
                let inputs = hasher.inputs(&params)?;
                let canonical = canonical_params(kind, &params) + &canonical_suffix(&inputs);
                Ok(PlannedPoint {
                    params,
                    swept,
                    canonical,
                    inputs,
                })
            })
            .collect::<Result<_>>()?;
        let mut trials = Vec::with_capacity(points.len() * manifest.replicates as usize);
        for (pi, point) in points.iter().enumerate() {
            for r in 0..manifest.replicates {
                trials.push(Trial::new(
                    trials.len(),
                    pi,
                    &point.canonical,
                    manifest.base_seed,
                    r,
                ));
            }
        }
        Ok(Plan {
            manifest,
            swept_keys,
            base,
            points,
            trials,
        })
    }

    pub fn kind(&self) -> &'static str {
        self.manifest.study.kind()
    }

    /// Every distinct input file of the plan, sorted.
    pub fn inputs(&self) -> Vec<InputFile> {
        let mut all: Vec<InputFile> = self
            .points
            .iter()
            .flat_map(|p| p.inputs.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::display_value;

    /// The id and seed of a literal trial key, computed independently
    /// (Python hashlib): changing the derivation changes every committed
    /// result, so it must be a deliberate decision.
    #[test]
    fn trial_id_and_seed_are_pinned() {
        let t = Trial::new(0, 0, "kind=k;population=8", 42, 1);
        assert_eq!(t.id, "b3ebc75ebdc1");
        assert_eq!(t.seed, 6_604_836_501_570_515_817);
    }

    #[test]
    fn canonical_values_are_typed() {
        let int = toml::Value::Integer(4);
        let float = toml::Value::Float(4.0);
        let text = toml::Value::String("4".into());
        let set: std::collections::BTreeSet<String> = [&int, &float, &text]
            .iter()
            .map(|v| canonical_value(v))
            .collect();
        assert_eq!(set.len(), 3);
        assert_eq!(display_value(&text), "4");
    }

    #[test]
    fn id_and_seed_depend_on_content_not_position() {
        let a = Trial::new(0, 0, "kind=x;a=1", 42, 0);
        let b = Trial::new(7, 3, "kind=x;a=1", 42, 0);
        assert_eq!((a.id.clone(), a.seed), (b.id, b.seed));
        let c = Trial::new(0, 0, "kind=x;a=1", 42, 1);
        assert_ne!(a.id, c.id);
        let d = Trial::new(0, 0, "kind=x;a=1", 43, 0);
        assert_eq!(a.id, d.id);
        assert_ne!(a.seed, d.seed);
    }
}
