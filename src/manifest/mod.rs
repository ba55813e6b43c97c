//! Manifests: one TOML file describing one study.
//!
//! Parsing happens in passes, each with its own types: the TOML text is read
//! into a spanned tree (`parse`), checked key by key against the study kind's
//! parameter schema into a [`Manifest`] whose every setting remembers where it
//! came from, adjusted by command-line overrides (`overrides`), and finally
//! expanded into sweep points (`sweep`) that the study validates. Every
//! problem found on the way becomes a located diagnostic; nothing runs until
//! the whole manifest is clean.

mod overrides;
mod parse;
mod source;
mod sweep;

pub use overrides::Overrides;
pub use source::{Origin, SourceFile, suggest};
pub use sweep::{Dimension, Distribution, GridAxis, Point, RandomDim, RandomSweep, ZipGroup};

use crate::error::{Error, Result};
use crate::studies::{CheckContext, DynStudy, ParamDoc, ParamSet};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A value and where it was set.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub value: toml::Value,
    pub origin: Origin,
}

/// A validated manifest.
pub struct Manifest {
    pub source: SourceFile,
    pub name: String,
    pub description: String,
    pub study: &'static dyn DynStudy,
    pub base_seed: u64,
    pub replicates: u32,
    /// Parameters set explicitly (in `[params]` or by `--set`).
    pub fixed: BTreeMap<String, Setting>,
    /// The sweep's dimensions, in canonical order (see `sweep`).
    pub sweep: Vec<Dimension>,
    /// Every parameter this manifest may set: the kind's, plus for a kind
    /// with user parameters those its `[params]` declares.
    pub schema: BTreeMap<&'static str, ParamDoc>,
    /// `[[claims]]`: what the study tests; not parameters (no trial id or
    /// seed depends on them).
    pub claims: Vec<crate::report::claims::Claim>,
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manifest")
            .field("name", &self.name)
            .field("kind", &self.study.kind())
            .finish_non_exhaustive()
    }
}

impl Manifest {
    /// Read, parse, apply overrides and validate every sweep point.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::input(path, e))?;
        Manifest::from_source(SourceFile::new(path, text), overrides)
    }

    /// [`Manifest::load`] from text already in hand: `merge` rebuilds the
    /// plan from the copy of the manifest each shard recorded.
    pub fn from_source(source: SourceFile, overrides: &Overrides) -> Result<Manifest> {
        let mut manifest = parse::parse(source)?;
        overrides.apply(&mut manifest)?;
        manifest.check_points()?;
        Ok(manifest)
    }

    /// A manifest built in code rather than read from a file (benchmarks,
    /// tests, library users driving the runner): no parameters set, one
    /// replicate axis; add settings with [`with_param`](Self::with_param) and
    /// [`with_axis`](Self::with_axis), then [`validated`](Self::validated).
    pub fn in_code(
        study: &'static dyn DynStudy,
        name: &str,
        base_seed: u64,
        replicates: u32,
    ) -> Manifest {
        Manifest {
            source: SourceFile::new(Path::new(&format!("{name}.toml")), String::new()),
            name: name.to_string(),
            description: String::new(),
            study,
            base_seed,
            replicates,
            fixed: BTreeMap::new(),
            sweep: Vec::new(),
            schema: crate::studies::docs_by_key(study),
            claims: Vec::new(),
        }
    }

    /// Fix a parameter for every trial.
    pub fn with_param(mut self, key: &str, value: toml::Value) -> Manifest {
        self.fixed.insert(
            key.to_string(),
            Setting {
                value,
                origin: Origin::Default,
            },
        );
        self
    }

    /// Add a grid axis.
    pub fn with_axis(
        mut self,
        key: &str,
        values: impl IntoIterator<Item = toml::Value>,
    ) -> Manifest {
        self.push_axis(GridAxis {
            key: key.to_string(),
            key_origin: Origin::Default,
            values: values
                .into_iter()
                .map(|value| Setting {
                    value,
                    origin: Origin::Default,
                })
                .collect(),
        });
        self
    }

    /// Let the study check every point, as [`load`](Self::load) does.
    pub fn validated(self) -> Result<Manifest> {
        self.check_points()?;
        Ok(self)
    }

    /// Folder that relative paths in parameters resolve against.
    pub fn base_dir(&self) -> PathBuf {
        match self.source.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Swept parameter keys, in dimension order.
    pub fn swept_keys(&self) -> Vec<String> {
        self.sweep
            .iter()
            .flat_map(|d| d.keys().into_iter().map(|(k, _)| k.to_string()))
            .collect()
    }

    /// The dimension that sweeps `key`, if any.
    pub fn dimension_of(&self, key: &str) -> Option<&Dimension> {
        self.sweep
            .iter()
            .find(|d| d.keys().iter().any(|(k, _)| *k == key))
    }

    /// Replace the grid axis of the same key, or add one after the last.
    pub(crate) fn push_axis(&mut self, axis: GridAxis) {
        let same = |d: &Dimension| matches!(d, Dimension::Grid(a) if a.key == axis.key);
        if let Some(d) = self.sweep.iter_mut().find(|d| same(d)) {
            *d = Dimension::Grid(axis);
        } else {
            self.sweep.push(Dimension::Grid(axis));
            sweep::canonical_order(&mut self.sweep);
        }
    }

    /// Drop the grid axis of `key`, if there is one.
    pub(crate) fn remove_axis(&mut self, key: &str) {
        self.sweep
            .retain(|d| !matches!(d, Dimension::Grid(a) if a.key == key));
    }

    /// Defaults overlaid with the fixed parameters: the parameters every
    /// point shares before its swept values are applied.
    pub fn base_params(&self) -> ParamSet {
        let mut params = self.study.defaults();
        for (k, s) in &self.fixed {
            params.insert(k.clone(), s.value.clone());
        }
        params
    }

    /// The full parameter set of one point.
    pub fn point_params(&self, base: &ParamSet, point: &Point) -> ParamSet {
        let mut params = base.clone();
        for (k, s) in &point.values {
            params.insert(k.clone(), s.value.clone());
        }
        params
    }

    /// Let the study validate every distinct point, attributing each
    /// objection to the place its value was set.
    fn check_points(&self) -> Result<()> {
        let base = self.base_params();
        let base_dir = self.base_dir();
        let ctx = CheckContext {
            base_dir: &base_dir,
        };
        let mut diags = Vec::new();
        for point in self.points()? {
            let params = self.point_params(&base, &point);
            for issue in self.study.check(&params, &ctx) {
                let origin = point
                    .values
                    .iter()
                    .find(|(k, _)| *k == issue.key)
                    .map(|(_, s)| s.origin.clone())
                    .or_else(|| self.fixed.get(&issue.key).map(|s| s.origin.clone()))
                    .unwrap_or(Origin::Default);
                let key = if issue.key.is_empty() {
                    "params".to_string()
                } else {
                    format!("params.{}", issue.key)
                };
                let diag = self.source.diag_at(&origin, &key, issue.message);
                if !diags.contains(&diag) {
                    diags.push(diag);
                }
            }
        }
        if diags.is_empty() {
            Ok(())
        } else {
            Err(Error::Located(diags))
        }
    }
}

/// The manifests named on a command line: files as given, folders expanded
/// to their `*.toml` files in name order.
pub fn collect_paths(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| Error::input(input, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(Error::user(format!(
                    "{}: folder holds no *.toml manifests",
                    input.display()
                )));
            }
            out.extend(found);
        } else if input.exists() {
            out.push(input.clone());
        } else {
            return Err(Error::user(format!(
                "{}: no such file or folder",
                input.display()
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ParamType;

    /// A value just outside what each parameter's type accepts, or `None`
    /// where every TOML value of the right shape fits.
    fn out_of_range(ty: ParamType) -> Option<String> {
        match ty {
            ParamType::Int { min, .. } if min > i64::MIN => Some(format!("{}", min - 1)),
            ParamType::Int { max, .. } if max < i64::MAX => Some(format!("{}", max + 1)),
            ParamType::IntList { min, .. } if min > i64::MIN => Some(format!("[{}]", min - 1)),
            ParamType::Choice(_) => Some("\"no_such_option\"".into()),
            _ => None,
        }
    }

    fn manifest(kind: &str, params: &str) -> String {
        format!("[study]\nname = \"t\"\nkind = \"{kind}\"\n\n[params]\n{params}\n")
    }

    /// Every integer parameter of every study (usize, u32, u64 alike) and
    /// every choice refuses a value outside its type where the manifest
    /// sets it, and where `--set` sets it, naming the place and the key.
    #[test]
    fn every_integer_and_choice_parameter_refuses_values_outside_its_type() {
        let mut checked = 0;
        for study in crate::studies::registry() {
            for doc in study.param_docs() {
                let Some(bad) = out_of_range(doc.ty) else {
                    continue;
                };
                let text = manifest(study.kind(), &format!("{} = {bad}", doc.key));
                let err = Manifest::from_source(
                    SourceFile::new(Path::new("m.toml"), text),
                    &Overrides::default(),
                )
                .expect_err(doc.key)
                .to_string();
                let col = doc.key.len() + 4;
                let want = format!("m.toml:6:{col}: params.{}: expected", doc.key);
                assert!(err.starts_with(&want), "{}: {err}", study.kind());

                let flag = format!("{}={}", doc.key, bad.trim_matches('"'));
                let overrides = Overrides {
                    set: vec![flag.clone()],
                    sweep: vec![],
                };
                let err = Manifest::from_source(
                    SourceFile::new(Path::new("m.toml"), manifest(study.kind(), "")),
                    &overrides,
                )
                .expect_err(&flag)
                .to_string();
                assert!(
                    err.starts_with(&format!("--set {flag}: params.{}: expected", doc.key)),
                    "{err}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 40, "only {checked} parameters checked");
    }

    /// The live bug of issue 12: a negative population used to be reported
    /// as a deserialisation failure of "the default value", with no place.
    #[test]
    fn negative_population_points_at_its_line() {
        let kind = crate::studies::kind_with(&["population"]);
        let text = manifest(kind, "population = -1");
        let err = Manifest::from_source(
            SourceFile::new(Path::new("m.toml"), text),
            &Overrides::default(),
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::USAGE);
        assert_eq!(
            err.to_string(),
            "m.toml:6:14: params.population: expected non-negative integer, found integer `-1`"
        );
    }
}
