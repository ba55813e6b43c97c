//! Study kinds and the one trait they implement.
//!
//! A study is pure computation: given typed parameters, a seeded RNG and a
//! progress handle, it returns records (metrics, tables, JSON documents). It
//! never touches the filesystem for output; the runner owns every file, which
//! is what makes outputs byte-stable, resumable and safe to write atomically.
//!
//! Parameters are declared once with [`crate::params!`]: the defaults, the
//! accepted keys, their manifest types (derived from the Rust types), docs
//! and ranges all come from that declaration, so `evoquant list`, manifest
//! validation and the typed value the study receives cannot drift apart.

pub mod bit_allocation;
pub mod chaos_int4;
pub mod command;
pub mod mixed_precision;

use crate::params::{Param, defaults_of, docs_of, range_issues};
use crate::report::plots::{Section, Sections};
use crate::report::results_dir::ResultsDir;

use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The RNG every trial receives. Studies that need independent streams for
/// sub-tasks clone it and call `jump()` / `long_jump()`.
pub type TrialRng = Xoshiro256PlusPlus;

pub use crate::params::{
    FilePath, ParamDoc, ParamIssue, ParamSet, ParamType, fits, flatten, normalize, typed, unflatten,
};
pub use crate::records::{Document, Table, TrialOutput};

/// A failure inside one trial. The runner records it against the trial and
/// keeps going (or stops with `--fail-fast`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StudyError(pub String);

impl StudyError {
    pub fn new(msg: impl Into<String>) -> Self {
        StudyError(msg.into())
    }
}

impl From<crate::error::Error> for StudyError {
    fn from(e: crate::error::Error) -> Self {
        StudyError(e.to_string())
    }
}

/// Where a running trial reports what it is doing ("generation 37/50").
pub trait Progress: Sync {
    fn update(&self, message: &str);
}

/// Progress that goes nowhere, for tests and benchmarks.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _message: &str) {}
}

/// What a study may use from its surroundings while validating parameters.
pub struct CheckContext<'a> {
    /// Folder of the manifest; relative `Path` parameters resolve against it.
    pub base_dir: &'a Path,
}

impl CheckContext<'_> {
    pub fn resolve(&self, path: &str) -> PathBuf {
        self.base_dir.join(path)
    }
}

/// What a study may use from its surroundings while running a trial.
pub struct TrialContext<'a> {
    pub base_dir: &'a Path,
    pub progress: &'a dyn Progress,
    /// The trial's id, seed and replicate: the RNG is seeded from `seed`
    /// already; a kind that hands the trial to another program passes them on.
    pub trial_id: &'a str,
    pub seed: u64,
    pub replicate: u32,
}

impl<'a> TrialContext<'a> {
    /// A context for tests and benchmarks: current folder, no progress.
    pub fn detached() -> TrialContext<'static> {
        TrialContext {
            base_dir: Path::new("."),
            progress: &NoProgress,
            trial_id: "",
            seed: 0,
            replicate: 0,
        }
    }

    pub fn progress(&self, message: &str) {
        self.progress.update(message);
    }

    pub fn resolve(&self, path: &str) -> PathBuf {
        self.base_dir.join(path)
    }
}

/// One study kind with typed parameters.
pub trait Study: Send + Sync + 'static {
    /// Typed parameters, declared with [`crate::params!`]. `Default` gives
    /// every default; the serde field path of each leaf is its manifest key.
    type Params: Param + Serialize + DeserializeOwned + Default + Clone + Send + Sync;

    /// The registered kind name used in manifests (`kind = "..."`).
    fn kind(&self) -> &'static str;
    /// One line for `evoquant list`.
    fn about(&self) -> &'static str;
    /// More text `evoquant list KIND` prints after the parameters (e.g. the
    /// hardware targets and their sources); empty by default.
    fn notes(&self) -> String {
        String::new()
    }
    /// Reject impossible values before anything runs, beyond the declared
    /// ranges (which are checked first): relations between parameters,
    /// files that must exist.
    fn validate(&self, _params: &Self::Params, _ctx: &CheckContext) -> Vec<ParamIssue> {
        Vec::new()
    }
    /// Parameters that take no part in a trial with these values (`mlp.*`
    /// when the model is an inventory), as keys or `prefix.` groups:
    /// report.md lists only the others, so a reader is not left to guess
    /// which settings mattered.
    fn unused_params(&self, _params: &Self::Params) -> Vec<&'static str> {
        Vec::new()
    }
    /// Run one trial. Must be a pure function of `params` and `rng`.
    fn run_trial(
        &self,
        params: &Self::Params,
        rng: &mut TrialRng,
        ctx: &TrialContext,
    ) -> Result<TrialOutput, StudyError>;
    /// This kind's part of `report.md`: findings, plots and key metrics,
    /// computed from a results folder's files alone.
    fn report(&self, _results: &ResultsDir) -> crate::error::Result<Section> {
        Ok(Section::default())
    }
}

/// The object-safe face of [`Study`] that the runner and manifest use.
pub trait DynStudy: Send + Sync {
    fn kind(&self) -> &'static str;
    fn about(&self) -> &'static str;
    /// See [`Study::notes`].
    fn notes(&self) -> String {
        String::new()
    }
    fn param_docs(&self) -> Vec<ParamDoc>;
    /// Does `[params]` also declare the kind's parameters? Then any key
    /// besides the documented ones is a parameter of the user's whose type
    /// is its value's type (the `command` kind).
    fn user_params(&self) -> bool {
        false
    }
    /// Every parameter's default, flattened to dotted keys.
    fn defaults(&self) -> ParamSet;
    /// Type the parameters and run the study's own validation.
    fn check(&self, params: &ParamSet, ctx: &CheckContext) -> Vec<ParamIssue>;
    /// The keys of `params` that take no part in a trial (see
    /// [`Study::unused_params`]); none when the set does not type, and none
    /// by default (the `command` kind hands every parameter to the program).
    fn unused(&self, _params: &ParamSet) -> Vec<String> {
        Vec::new()
    }
    fn run(
        &self,
        params: &ParamSet,
        rng: &mut TrialRng,
        ctx: &TrialContext,
    ) -> Result<TrialOutput, StudyError>;
    fn report(&self, results: &ResultsDir) -> crate::error::Result<Section>;
}

impl<S: Study> DynStudy for S {
    fn kind(&self) -> &'static str {
        Study::kind(self)
    }
    fn about(&self) -> &'static str {
        Study::about(self)
    }
    fn notes(&self) -> String {
        Study::notes(self)
    }
    fn param_docs(&self) -> Vec<ParamDoc> {
        docs_of::<S::Params>()
    }
    fn defaults(&self) -> ParamSet {
        defaults_of::<S::Params>()
    }
    fn check(&self, params: &ParamSet, ctx: &CheckContext) -> Vec<ParamIssue> {
        match typed::<S::Params>(params) {
            Ok(p) => {
                let issues = range_issues(&p);
                if issues.is_empty() {
                    self.validate(&p, ctx)
                } else {
                    issues
                }
            }
            Err(issue) => vec![issue],
        }
    }
    fn unused(&self, params: &ParamSet) -> Vec<String> {
        let Ok(p) = typed::<S::Params>(params) else {
            return Vec::new();
        };
        let patterns = self.unused_params(&p);
        params
            .keys()
            .filter(|k| {
                patterns.iter().any(|pat| match pat.strip_suffix('.') {
                    Some(group) => k.strip_prefix(group).is_some_and(|r| r.starts_with('.')),
                    None => k.as_str() == *pat,
                })
            })
            .cloned()
            .collect()
    }
    fn run(
        &self,
        params: &ParamSet,
        rng: &mut TrialRng,
        ctx: &TrialContext,
    ) -> Result<TrialOutput, StudyError> {
        let p = typed::<S::Params>(params)
            .map_err(|i| StudyError(format!("params.{}: {}", i.key, i.message)))?;
        self.run_trial(&p, rng, ctx)
    }
    fn report(&self, results: &ResultsDir) -> crate::error::Result<Section> {
        Study::report(self, results)
    }
}

/// The registry as the report sees it: each results folder's kind gives
/// its section; an unknown kind (a folder from a newer evoquant, or a
/// test's own kind) gets the generic report.
pub struct Registry;

impl Sections for Registry {
    fn section(&self, results: &ResultsDir) -> crate::error::Result<Section> {
        match find(&results.kind) {
            Some(study) => study.report(results),
            None => Ok(Section::default()),
        }
    }
}

/// Every registered study kind, sorted by name: the one list a kind is
/// added to.
pub fn registry() -> Vec<&'static dyn DynStudy> {
    let mut studies: Vec<&'static dyn DynStudy> = vec![
        &bit_allocation::BitAllocation,
        &chaos_int4::ChaosInt4,
        &command::CommandStudy,
        &mixed_precision::MixedPrecision,
    ];
    studies.sort_by_key(|s| s.kind());
    studies
}

/// For tests of generic code (manifest, runner): the first registered kind
/// whose schema has every key, so those tests name no kind.
#[cfg(test)]
pub fn kind_with(keys: &[&str]) -> &'static str {
    registry()
        .into_iter()
        .find(|s| {
            let docs = s.param_docs();
            keys.iter().all(|k| docs.iter().any(|d| d.key == *k))
        })
        .unwrap_or_else(|| panic!("no study kind has all of {keys:?}"))
        .kind()
}

/// The study registered under `kind`.
pub fn find(kind: &str) -> Option<&'static dyn DynStudy> {
    registry().into_iter().find(|s| s.kind() == kind)
}

/// Keep a sorted map of the docs for lookups by key.
pub fn docs_by_key(study: &dyn DynStudy) -> BTreeMap<&'static str, ParamDoc> {
    study.param_docs().into_iter().map(|d| (d.key, d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every default is documented with a type it fits, and every documented
    /// key has a default (an undocumented or mistyped key would make `list`
    /// lie and validation reject the study's own defaults).
    #[test]
    fn every_study_documents_exactly_its_defaults() {
        for study in registry() {
            let docs = docs_by_key(study);
            let defaults = study.defaults();
            for (key, value) in &defaults {
                let doc = docs
                    .get(key.as_str())
                    .unwrap_or_else(|| panic!("{}: `{key}` has no ParamDoc", study.kind()));
                assert!(fits(doc.ty, value), "{}: default of `{key}`", study.kind());
            }
            for key in docs.keys() {
                assert!(
                    defaults.contains_key(*key),
                    "{}: documented `{key}` has no default",
                    study.kind()
                );
            }
            let issues = study.check(
                &defaults,
                &CheckContext {
                    base_dir: Path::new("."),
                },
            );
            // A kind that runs the user's program has none by default.
            let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
            let expected: &[&str] = if study.user_params() {
                &["command"]
            } else {
                &[]
            };
            assert_eq!(
                keys,
                expected,
                "{}: defaults rejected: {issues:?}",
                study.kind()
            );
        }
    }
}
