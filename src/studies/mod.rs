//! Study kinds and the one trait they implement.
//!
//! A study is pure computation: given typed parameters, a seeded RNG and a
//! progress handle, it returns records (metrics, tables, JSON documents). It
//! never touches the filesystem for output; the runner owns every file, which
//! is what makes outputs byte-stable, resumable and safe to write atomically.
//!
//! Parameters are a plain serde struct with a `Default`: the defaults, the
//! accepted keys and their types all come from that struct plus a table of
//! docs, so `evoquant list`, manifest validation and the typed value the study
//! receives cannot drift apart (a unit test below checks every study).

pub mod bit_allocation;
pub mod chaos_int4;
pub mod mixed_precision;

use crate::value::Value;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The RNG every trial receives. Studies that need independent streams for
/// sub-tasks clone it and call `jump()` / `long_jump()`.
pub type TrialRng = Xoshiro256PlusPlus;

/// Resolved parameters, flattened to dotted key paths (`quant.bits`), in key
/// order. A `BTreeMap` so no hash order can ever reach an output.
pub type ParamSet = BTreeMap<String, toml::Value>;

/// The type a parameter accepts in a manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    Int,
    Float,
    Bool,
    Str,
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
    IntList,
    FloatList,
    StrList,
    /// A file path, relative to the manifest's folder.
    Path,
}

impl ParamType {
    pub fn name(&self) -> String {
        match self {
            ParamType::Int => "integer".into(),
            ParamType::Float => "float".into(),
            ParamType::Bool => "boolean".into(),
            ParamType::Str => "string".into(),
            ParamType::Choice(options) => format!("one of {}", options.join("|")),
            ParamType::IntList => "list of integers".into(),
            ParamType::FloatList => "list of floats".into(),
            ParamType::StrList => "list of strings".into(),
            ParamType::Path => "path".into(),
        }
    }
}

/// Documentation of one parameter, shown by `evoquant list`.
#[derive(Clone, Debug)]
pub struct ParamDoc {
    /// Dotted key path, matching the serde field path of the params struct.
    pub key: &'static str,
    pub ty: ParamType,
    pub doc: &'static str,
}

impl ParamDoc {
    pub const fn new(key: &'static str, ty: ParamType, doc: &'static str) -> Self {
        ParamDoc { key, ty, doc }
    }
}

/// A study's objection to a parameter value; the manifest layer turns it into
/// a located diagnostic pointing at wherever the value was set.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamIssue {
    pub key: String,
    pub message: String,
}

impl ParamIssue {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ParamIssue {
            key: key.into(),
            message: message.into(),
        }
    }
}

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
}

impl<'a> TrialContext<'a> {
    /// A context for tests and benchmarks: current folder, no progress.
    pub fn detached() -> TrialContext<'static> {
        TrialContext {
            base_dir: Path::new("."),
            progress: &NoProgress,
        }
    }

    pub fn progress(&self, message: &str) {
        self.progress.update(message);
    }

    pub fn resolve(&self, path: &str) -> PathBuf {
        self.base_dir.join(path)
    }
}

/// A table artifact. All trials' tables of one name are concatenated by the
/// runner into `<name>.csv`, prefixed with the trial's id and parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn new(name: &str, columns: &[&str]) -> Self {
        Table {
            name: name.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len(), "table {}", self.name);
        self.rows.push(row);
    }
}

/// A per-trial artifact, written to `trials/<trial id>/<name>.json` — or,
/// for a text document, its text verbatim to `<name>.<text_extension>`
/// (e.g. a YAML export a deployment script reads).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub name: String,
    /// The JSON value, or a JSON string holding a text document's text.
    pub value: serde_json::Value,
    /// File extension of a text document; empty for JSON.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text_extension: String,
}

/// Everything a trial produces, in the order the study produced it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrialOutput {
    pub metrics: Vec<(String, Value)>,
    pub tables: Vec<Table>,
    pub documents: Vec<Document>,
}

impl TrialOutput {
    pub fn metric(&mut self, name: &str, value: impl Into<Value>) {
        self.metrics.push((name.to_string(), value.into()));
    }

    pub fn table(&mut self, table: Table) {
        self.tables.push(table);
    }

    pub fn document(&mut self, name: &str, value: serde_json::Value) {
        self.documents.push(Document {
            name: name.to_string(),
            value,
            text_extension: String::new(),
        });
    }

    /// A text artifact written verbatim as `<name>.<extension>`.
    pub fn text_document(&mut self, name: &str, extension: &str, text: String) {
        self.documents.push(Document {
            name: name.to_string(),
            value: serde_json::Value::String(text),
            text_extension: extension.to_string(),
        });
    }

    pub fn get(&self, metric: &str) -> Option<&Value> {
        self.metrics
            .iter()
            .find(|(n, _)| n == metric)
            .map(|(_, v)| v)
    }
}

/// One study kind with typed parameters.
pub trait Study: Send + Sync + 'static {
    /// Typed parameters. `Default` gives every default; the serde field path
    /// of each leaf is its manifest key.
    type Params: Serialize + DeserializeOwned + Default + Clone + Send + Sync;

    /// The registered kind name used in manifests (`kind = "..."`).
    fn kind(&self) -> &'static str;
    /// One line for `evoquant list`.
    fn about(&self) -> &'static str;
    /// One entry per leaf parameter.
    fn param_docs(&self) -> Vec<ParamDoc>;
    /// Reject impossible values before anything runs.
    fn validate(&self, _params: &Self::Params, _ctx: &CheckContext) -> Vec<ParamIssue> {
        Vec::new()
    }
    /// Run one trial. Must be a pure function of `params` and `rng`.
    fn run_trial(
        &self,
        params: &Self::Params,
        rng: &mut TrialRng,
        ctx: &TrialContext,
    ) -> Result<TrialOutput, StudyError>;
}

/// The object-safe face of [`Study`] that the runner and manifest use.
pub trait DynStudy: Send + Sync {
    fn kind(&self) -> &'static str;
    fn about(&self) -> &'static str;
    fn param_docs(&self) -> Vec<ParamDoc>;
    /// Every parameter's default, flattened to dotted keys.
    fn defaults(&self) -> ParamSet;
    /// Type the parameters and run the study's own validation.
    fn check(&self, params: &ParamSet, ctx: &CheckContext) -> Vec<ParamIssue>;
    fn run(
        &self,
        params: &ParamSet,
        rng: &mut TrialRng,
        ctx: &TrialContext,
    ) -> Result<TrialOutput, StudyError>;
}

impl<S: Study> DynStudy for S {
    fn kind(&self) -> &'static str {
        Study::kind(self)
    }
    fn about(&self) -> &'static str {
        Study::about(self)
    }
    fn param_docs(&self) -> Vec<ParamDoc> {
        Study::param_docs(self)
    }
    fn defaults(&self) -> ParamSet {
        let value =
            toml::Value::try_from(S::Params::default()).expect("study defaults serialize to TOML");
        let mut out = ParamSet::new();
        flatten("", &value, &mut out);
        out
    }
    fn check(&self, params: &ParamSet, ctx: &CheckContext) -> Vec<ParamIssue> {
        match typed::<S::Params>(params) {
            Ok(p) => self.validate(&p, ctx),
            Err(msg) => vec![ParamIssue::new("", msg)],
        }
    }
    fn run(
        &self,
        params: &ParamSet,
        rng: &mut TrialRng,
        ctx: &TrialContext,
    ) -> Result<TrialOutput, StudyError> {
        let p = typed::<S::Params>(params).map_err(StudyError)?;
        self.run_trial(&p, rng, ctx)
    }
}

/// Build a study's typed params from a flat parameter set.
pub fn typed<P: DeserializeOwned>(params: &ParamSet) -> Result<P, String> {
    unflatten(params)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())
}

/// Flatten nested tables into dotted keys; arrays stay leaves.
pub fn flatten(prefix: &str, value: &toml::Value, out: &mut ParamSet) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), leaf.clone());
        }
    }
}

/// The inverse of [`flatten`].
pub fn unflatten(params: &ParamSet) -> toml::Value {
    let mut root = toml::Table::new();
    for (key, value) in params {
        let mut table = &mut root;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                table.insert(part.to_string(), value.clone());
            } else {
                table = table
                    .entry(part.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                    .expect("a parameter key path never passes through a leaf");
            }
        }
    }
    toml::Value::Table(root)
}

/// Every registered study kind, sorted by name.
pub fn registry() -> Vec<&'static dyn DynStudy> {
    let mut studies: Vec<&'static dyn DynStudy> = vec![
        &bit_allocation::BitAllocation,
        &chaos_int4::ChaosInt4,
        &mixed_precision::MixedPrecision,
    ];
    studies.sort_by_key(|s| s.kind());
    studies
}

/// The study registered under `kind`.
pub fn find(kind: &str) -> Option<&'static dyn DynStudy> {
    registry().into_iter().find(|s| s.kind() == kind)
}

/// Does a TOML value fit a declared parameter type? Integers are accepted
/// where floats are expected.
pub fn fits(ty: ParamType, value: &toml::Value) -> bool {
    use toml::Value as V;
    let all = |a: &Vec<V>, f: fn(&V) -> bool| a.iter().all(f);
    match (ty, value) {
        (ParamType::Int, V::Integer(_)) => true,
        (ParamType::Float, V::Float(_) | V::Integer(_)) => true,
        (ParamType::Bool, V::Boolean(_)) => true,
        (ParamType::Str | ParamType::Path, V::String(_)) => true,
        (ParamType::Choice(options), V::String(s)) => options.contains(&s.as_str()),
        (ParamType::IntList, V::Array(a)) => all(a, |v| v.is_integer()),
        (ParamType::FloatList, V::Array(a)) => all(a, |v| v.is_float() || v.is_integer()),
        (ParamType::StrList, V::Array(a)) => all(a, |v| v.is_str()),
        _ => false,
    }
}

/// Bring a value that fits `ty` to its canonical TOML type (integers given for
/// floats become floats), so equal parameters always hash equally.
pub fn normalize(ty: ParamType, value: &toml::Value) -> toml::Value {
    use toml::Value as V;
    match (ty, value) {
        (ParamType::Float, V::Integer(i)) => V::Float(*i as f64),
        (ParamType::FloatList, V::Array(a)) => {
            V::Array(a.iter().map(|v| normalize(ParamType::Float, v)).collect())
        }
        _ => value.clone(),
    }
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
            assert!(
                issues.is_empty(),
                "{}: defaults rejected: {issues:?}",
                study.kind()
            );
        }
    }

    #[test]
    fn flatten_and_unflatten_are_inverse() {
        let v: toml::Value = toml::from_str("a = 1\n[q]\nbits = 4\nlist = [1, 2]\n").unwrap();
        let mut flat = ParamSet::new();
        flatten("", &v, &mut flat);
        assert_eq!(flat.keys().collect::<Vec<_>>(), ["a", "q.bits", "q.list"]);
        assert_eq!(unflatten(&flat), v);
    }
}
