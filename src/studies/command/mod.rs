//! `kind = "command"`: the runner for a user's own experiment. Each trial
//! runs the manifest's command once, hands it the trial's id, seed,
//! replicate and parameters, and reads back its metrics, tables and
//! documents, so sweeps, replicate seeds, the journal, reports, `diff`,
//! `check`, shards and Slurm work for any program. The contract is the
//! README's "Bring your own experiment" section; this module keeps to it.
//!
//! The command writes only into its fresh working folder; this kind reads
//! that folder back into a [`TrialOutput`] and the runner writes it, so a
//! study still never writes files. Determinism is the command's part: the
//! same parameters and seed must give the same output, and `check` says when
//! they do not.

mod outputs;
mod process;

use super::{
    CheckContext, DynStudy, ParamDoc, ParamIssue, ParamSet, ParamType, StudyError, TrialContext,
    TrialOutput, TrialRng,
};
use crate::report::plots::Section;
use crate::report::results_dir::ResultsDir;
use std::time::Duration;

pub struct CommandStudy;

/// The kind's own parameters; every other `[params]` key is the user's.
pub const COMMAND: &str = "command";
pub const TIMEOUT_S: &str = "timeout_s";
pub const INPUTS: &str = "inputs";

/// Longest a trial may be given: a week.
const MAX_TIMEOUT_S: f64 = 7.0 * 24.0 * 3600.0;

fn docs() -> Vec<ParamDoc> {
    vec![
        ParamDoc {
            key: crate::params::intern(COMMAND),
            ty: ParamType::PathList,
            doc: "program and arguments; any that names a file or folder relative to the manifest is passed as its absolute path and hashed into trial identity",
            range: None,
        },
        ParamDoc {
            key: crate::params::intern(TIMEOUT_S),
            ty: ParamType::Float,
            doc: "seconds a trial may run before its process group is killed and it fails",
            range: Some(format!("(0, {MAX_TIMEOUT_S}]")),
        },
        ParamDoc {
            key: crate::params::intern(INPUTS),
            ty: ParamType::PathList,
            doc: "files or folders the command reads, relative to the manifest: their content is part of trial identity",
            range: None,
        },
    ]
}

/// The parameters the command receives: all but the kind's own.
fn user_params(params: &ParamSet) -> serde_json::Map<String, serde_json::Value> {
    let own = [COMMAND, TIMEOUT_S, INPUTS];
    let flat: ParamSet = params
        .iter()
        .filter(|(k, _)| !own.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match serde_json::to_value(crate::params::unflatten(&flat)) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

fn strings(params: &ParamSet, key: &str) -> Vec<String> {
    match params.get(key) {
        Some(toml::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str())
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

impl DynStudy for CommandStudy {
    fn kind(&self) -> &'static str {
        "command"
    }

    fn about(&self) -> &'static str {
        "your own experiment: a command run once per trial, metrics from the JSON object on its last stdout line"
    }

    fn param_docs(&self) -> Vec<ParamDoc> {
        docs()
    }

    fn user_params(&self) -> bool {
        true
    }

    fn defaults(&self) -> ParamSet {
        ParamSet::from([
            (COMMAND.to_string(), toml::Value::Array(Vec::new())),
            (TIMEOUT_S.to_string(), toml::Value::Float(3600.0)),
            (INPUTS.to_string(), toml::Value::Array(Vec::new())),
        ])
    }

    fn check(&self, params: &ParamSet, ctx: &CheckContext) -> Vec<ParamIssue> {
        let mut issues = Vec::new();
        let command = strings(params, COMMAND);
        let example = "command = [\"python3\", \"score.py\"]";
        if let Some(problem) = crate::subprocess::command_problem(&command, ctx.base_dir, example) {
            issues.push(ParamIssue::new(COMMAND, problem));
        }
        let t = params
            .get(TIMEOUT_S)
            .and_then(toml::Value::as_float)
            .unwrap_or(0.0);
        if !(t > 0.0 && t <= MAX_TIMEOUT_S) {
            issues.push(ParamIssue::new(
                TIMEOUT_S,
                format!("must be in (0, {MAX_TIMEOUT_S}] seconds, got {t}"),
            ));
        }
        for input in strings(params, INPUTS) {
            if !ctx.resolve(&input).exists() {
                issues.push(ParamIssue::new(
                    INPUTS,
                    format!("{}: no such file or folder", ctx.resolve(&input).display()),
                ));
            }
        }
        issues
    }

    fn run(
        &self,
        params: &ParamSet,
        _rng: &mut TrialRng,
        ctx: &TrialContext,
    ) -> Result<TrialOutput, StudyError> {
        let command = strings(params, COMMAND);
        let (program, args) = crate::subprocess::resolve_command(&command, ctx.base_dir);
        let timeout = params
            .get(TIMEOUT_S)
            .and_then(toml::Value::as_float)
            .unwrap_or(3600.0);
        let work = tempfile::Builder::new()
            .prefix(&format!("evoquant-trial-{}-", ctx.trial_id))
            .tempdir()
            .map_err(|e| {
                StudyError::new(format!("cannot create the trial's working folder: {e}"))
            })?;
        let request = serde_json::json!({
            "trial_id": ctx.trial_id,
            "seed": ctx.seed,
            "replicate": ctx.replicate,
            "params": user_params(params),
        });
        let mut stdin = request.to_string().into_bytes();
        stdin.push(b'\n');
        let env = [
            ("EVOQUANT_TRIAL_ID", ctx.trial_id.to_string()),
            ("EVOQUANT_SEED", ctx.seed.to_string()),
            ("EVOQUANT_REPLICATE", ctx.replicate.to_string()),
            ("EVOQUANT_OUTPUT_DIR", work.path().display().to_string()),
        ];
        let finished = process::run(
            &program,
            &args,
            work.path(),
            &env,
            &stdin,
            Duration::from_secs_f64(timeout),
            &|msg| ctx.progress(msg),
        )
        .map_err(|e| StudyError::new(format!("cannot run `{}`: {e}", program.display())))?;
        outputs::collect(&finished, timeout, work.path())
    }

    fn report(&self, _results: &ResultsDir) -> crate::error::Result<Section> {
        Ok(Section::default())
    }
}
