//! Parameters of the bit-allocation study and their validation.

use super::heuristic::Ladder;
use crate::models::{Inventory, Precision, Split};
use crate::params::FilePath;
use crate::studies::{CheckContext, ParamIssue};

/// The sentinel for "use the built-in generator".
pub const BUILTIN: &str = "builtin";

/// Resource bounds: beyond these a trial would take hours.
const MAX_POPULATION: usize = 100_000;
const MAX_GENERATIONS: usize = 1_000_000;

/// Where the TEST split comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// `data.test`: the built-in inventory or a JSON file.
    Inventory,
    /// Measured on the real network `data.model` (`measured`).
    Measured,
}
crate::choice!(DataSource { Inventory => "inventory", Measured => "measured" });

crate::params! {
    /// Where each split's layers come from.
    pub struct DataParams {
        /// TEST split: inventory (`data.test`) or measured (per-layer loss curves measured on the real network `data.model`, and every strategy's allocation re-measured on it)
        source: DataSource = DataSource::Inventory;
        /// source = "measured": a BERT-family folder or LLaMA-family GGUF/folder relative to the manifest (e.g. "../models/all-MiniLM-L6-v2"); its files are part of trial identity
        model: FilePath = FilePath::default();
        /// source = "measured": the first N built-in evaluation texts the losses are measured on
        eval_texts: usize = 16, range 2..=100_000;
        /// source = "measured": tokens per text at most
        max_seq_len: usize = 32, range 3..=4096;
        /// TRAIN layers: `builtin` (LLaMA-7B-like, seed 42) or a JSON inventory file
        train: FilePath = BUILTIN.into();
        /// VALID layers: `builtin` (GPT-2-medium-like, seed 123) or a JSON inventory file
        valid: FilePath = BUILTIN.into();
        /// TEST layers: `builtin` (ResNet-50-like, seed 456) or a JSON inventory file
        test: FilePath = BUILTIN.into();
    }
}

crate::params! {
    pub struct Params {
        /// accuracy retention the fitness cliff and the exact optimum require, in (0, 1)
        threshold: f64 = 0.95;
        /// precisions a layer may use (INT2 INT3 INT4 INT6 INT8 FP16 FP32); the widest is the protected one
        precisions: Vec<String> = Precision::ALL.map(|p| p.name().to_string()).to_vec();
        /// heuristic genomes per generation
        population: usize = 24, range 2..=MAX_POPULATION;
        /// generations of evolution
        generations: usize = 30, range 1..=MAX_GENERATIONS;
        /// probability each gene is mutated
        mutation_rate: f64 = 0.2, range 0.0..=1.0;
        /// probability a child has two parents
        crossover_rate: f64 = 0.7, range 0.0..=1.0;
        /// entrants per tournament
        tournament_size: usize = 3, range 1..=MAX_POPULATION;
        /// best genomes copied unchanged to the next generation (< population)
        elitism: usize = 2;
        /// accuracy targets of the exact frontier per dataset, besides the threshold
        frontier_points: usize = 24, range 0..=200;
        data: DataParams = DataParams::default();
    }
}

/// What is wrong with a `precisions` list.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrecisionsError {
    #[error("needs at least one precision (known: {})", Precision::names())]
    Empty,
    #[error("unknown precision `{name}` (known: {known})", name = .0, known = Precision::names())]
    Unknown(String),
    #[error("precision `{0}` is listed twice")]
    Twice(String),
}

impl Params {
    /// The parameters that take no part in a trial with these values (see
    /// `Study::unused_params`): the measured TEST split reads the real
    /// network's settings instead of `data.test`.
    pub fn unused(&self) -> Vec<&'static str> {
        match self.data.source {
            DataSource::Inventory => vec!["data.model", "data.eval_texts", "data.max_seq_len"],
            DataSource::Measured => vec!["data.test"],
        }
    }

    /// The allowed precisions, sorted by bits, or the problem with them.
    pub fn allowed(&self) -> Result<Vec<Precision>, PrecisionsError> {
        if self.precisions.is_empty() {
            return Err(PrecisionsError::Empty);
        }
        let mut out = Vec::new();
        for name in &self.precisions {
            let p = Precision::parse(name).ok_or_else(|| PrecisionsError::Unknown(name.clone()))?;
            if out.contains(&p) {
                return Err(PrecisionsError::Twice(name.clone()));
            }
            out.push(p);
        }
        Ok(Ladder::new(&out).allowed)
    }

    /// The inventories, in split order (TEST only when it is not measured);
    /// errors are keyed by parameter.
    pub fn load(
        &self,
        resolve: &dyn Fn(&str) -> std::path::PathBuf,
    ) -> Result<Vec<Inventory>, ParamIssue> {
        let one = |split: Split, value: &FilePath| -> Result<Inventory, ParamIssue> {
            let value = value.as_str();
            if value == BUILTIN {
                Ok(split.builtin())
            } else {
                Inventory::load(&resolve(value))
                    .map_err(|e| ParamIssue::new(format!("data.{}", split.name()), e.to_string()))
            }
        };
        let mut out = vec![
            one(Split::Train, &self.data.train)?,
            one(Split::Valid, &self.data.valid)?,
        ];
        if self.data.source == DataSource::Inventory {
            out.push(one(Split::Test, &self.data.test)?);
        }
        Ok(out)
    }

    /// What the measured TEST split is built from.
    pub fn session_spec(&self) -> crate::models::transformer::session::SessionSpec {
        crate::models::transformer::session::SessionSpec {
            eval_texts: self.data.eval_texts,
            // Weights only: no activation is calibrated.
            calib_texts: 1,
            max_seq_len: self.data.max_seq_len,
        }
    }

    pub fn validate(&self, ctx: &CheckContext) -> Vec<ParamIssue> {
        let mut issues = Vec::new();
        let mut bad = |key: &str, msg: String| issues.push(ParamIssue::new(key, msg));
        let t = self.threshold;
        if !(t > 0.0 && t < 1.0) {
            bad(
                "threshold",
                format!("must be strictly between 0 and 1, got {t}"),
            );
        }
        let allowed = self.allowed();
        if let Err(e) = &allowed {
            bad("precisions", e.to_string());
        }
        if self.elitism >= self.population.max(1) {
            bad(
                "elitism",
                format!(
                    "must be less than population ({}), got {}",
                    self.population, self.elitism
                ),
            );
        }
        if self.data.source == DataSource::Measured {
            let (eval, _) = crate::studies::mixed_precision::transformer::corpus_sizes();
            if self.data.model.is_empty() {
                bad(
                    "data.model",
                    "set the model, e.g. model = \"../models/all-MiniLM-L6-v2\"".into(),
                );
            } else if let Err(e) = crate::models::transformer::session::check_model(
                &ctx.resolve(self.data.model.as_str()),
            ) {
                bad("data.model", e.to_string());
            }
            if self.data.eval_texts > eval {
                bad(
                    "data.eval_texts",
                    format!(
                        "the built-in evaluation corpus has {eval} texts, got {}",
                        self.data.eval_texts
                    ),
                );
            }
        }
        let data = self.load(&|p| ctx.resolve(p));
        match (&data, &allowed) {
            (Err(issue), _) => issues.push(issue.clone()),
            (Ok(invs), Ok(allowed)) if t > 0.0 && t < 1.0 => {
                // Reject a threshold no allocation can reach before running.
                for inv in invs {
                    let best: Vec<Precision> = inv
                        .layers
                        .iter()
                        .map(|l| {
                            *allowed
                                .iter()
                                .max_by(|a, b| {
                                    l.loss_at(**b).total_cmp(&l.loss_at(**a)).then(a.cmp(b))
                                })
                                .expect("non-empty")
                        })
                        .collect();
                    let e = crate::models::evaluate(inv, &best);
                    if !e.meets(t) {
                        issues.push(ParamIssue::new(
                            "threshold",
                            format!(
                                "unreachable on `{}`: the most accurate allocation over {:?} keeps only {:.4}",
                                inv.name,
                                allowed.iter().map(|p| p.name()).collect::<Vec<_>>(),
                                e.accuracy
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
        issues
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn check(p: &Params) -> Vec<ParamIssue> {
        p.validate(&CheckContext {
            base_dir: Path::new("."),
        })
    }

    fn keys(p: &Params) -> Vec<String> {
        check(p).into_iter().map(|i| i.key).collect()
    }

    #[test]
    fn defaults_pass_and_bad_values_name_their_key() {
        assert!(check(&Params::default()).is_empty());
        for t in [0.0, 1.0, -0.5, f64::NAN] {
            let p = Params {
                threshold: t,
                ..Params::default()
            };
            assert_eq!(keys(&p), ["threshold"], "{t}");
        }
        for list in [
            vec![],
            vec!["INT5".to_string()],
            vec!["INT8".into(), "int8".into()],
        ] {
            let p = Params {
                precisions: list,
                ..Params::default()
            };
            assert_eq!(keys(&p), ["precisions"]);
        }
        let p = Params {
            elitism: 24,
            ..Params::default()
        };
        assert_eq!(keys(&p), ["elitism"]);
    }

    #[test]
    fn unreachable_threshold_and_missing_files_are_rejected() {
        let p = Params {
            precisions: vec!["INT2".into()],
            ..Params::default()
        };
        let issues = check(&p);
        assert!(issues.iter().all(|i| i.key == "threshold"), "{issues:?}");
        assert!(issues[0].message.contains("unreachable"));
        let p = Params {
            data: DataParams {
                test: "no/such/file.json".into(),
                ..DataParams::default()
            },
            ..Params::default()
        };
        let issues = check(&p);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, "data.test");
        assert!(issues[0].message.contains("no/such/file.json"));
    }

    #[test]
    fn data_files_load_exactly_and_bad_ones_are_located() {
        let dir = std::env::temp_dir().join(format!("evoquant-bitalloc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let test = Split::Test.builtin();
        test.save(&dir.join("test.json")).unwrap();
        let bad = test
            .to_json_pretty()
            .replacen("\"params\": 9408", "\"params\": -9408", 1);
        std::fs::write(dir.join("bad.json"), &bad).unwrap();
        let ctx = CheckContext { base_dir: &dir };
        let mut p = Params::default();
        p.data.test = "test.json".into();
        assert!(p.validate(&ctx).is_empty());
        let loaded = p.load(&|f| ctx.resolve(f)).unwrap();
        assert!(
            loaded[2] == test,
            "file data must equal the built-in data bit for bit"
        );
        p.data.test = "bad.json".into();
        let issues = p.validate(&ctx);
        assert_eq!(issues.len(), 1, "{issues:?}");
        let line = bad.lines().position(|l| l.contains("-9408")).unwrap() + 1;
        assert_eq!(issues[0].key, "data.test");
        assert!(
            issues[0].message.contains(&format!("bad.json:{line}:"))
                && issues[0].message.contains("non-negative count, got -9408"),
            "{}",
            issues[0].message
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
