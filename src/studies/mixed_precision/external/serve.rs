//! `evoquant serve-evaluator`: evoquant's own in-process models served
//! through the evaluator protocol, so the protocol can be checked against
//! the in-process search it must reproduce byte for byte, and so a user can
//! see a reference worker answer.
//!
//! The `describe` request carries the trial's parameters and model seed;
//! the server builds the model the trial would have built in-process with
//! `model` set to the served kind, and measures each configuration with it.

use super::super::build_model;
use super::super::model::QuantModel;
use super::super::params::{ModelKind, Params};
use super::protocol::{self, Description};
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// The model kinds the server can build.
pub const SERVED: [ModelKind; 3] = [ModelKind::Mlp, ModelKind::Transformer, ModelKind::Inventory];

/// Answer requests from `input` on `output` until end of input.
pub fn serve(kind: ModelKind, input: impl BufRead, mut output: impl Write) -> Result<()> {
    if !SERVED.contains(&kind) {
        return Err(Error::user(format!(
            "serve-evaluator serves the in-process models (mlp, transformer, inventory), not `{kind:?}`"
        )));
    }
    let mut model: Option<Box<dyn QuantModel>> = None;
    for line in input.lines() {
        let line = line.map_err(|e| Error::io("reading a request from stdin", e))?;
        if line.trim().is_empty() {
            continue;
        }
        let (id, reply) = match serde_json::from_str::<Value>(&line) {
            Ok(request) => {
                let id = request.get("id").and_then(Value::as_u64).unwrap_or(0);
                (id, answer(kind, &request, id, &mut model))
            }
            Err(e) => (0, Err(format!("the request is not JSON: {e}"))),
        };
        let reply = reply.unwrap_or_else(|e| json!({"id": id, "error": e}));
        writeln!(output, "{reply}")
            .and_then(|()| output.flush())
            .map_err(|e| Error::io("writing a reply to stdout", e))?;
    }
    Ok(())
}

fn answer(
    kind: ModelKind,
    request: &Value,
    id: u64,
    model: &mut Option<Box<dyn QuantModel>>,
) -> std::result::Result<Value, String> {
    match request.get("request").and_then(Value::as_str) {
        Some(protocol::DESCRIBE) => {
            let mut p: Params =
                serde_json::from_value(request.get("params").cloned().unwrap_or_else(|| json!({})))
                    .map_err(|e| format!("`params` are not mixed_precision parameters: {e}"))?;
            p.model = kind;
            let seed = request.get("seed").and_then(Value::as_u64).unwrap_or(0);
            let dir = PathBuf::from(
                request
                    .get("manifest_dir")
                    .and_then(Value::as_str)
                    .unwrap_or("."),
            );
            let m = build_model(&p, &|s: &str| dir.join(s), seed).map_err(|e| e.to_string())?;
            let d = Description {
                model: m.description(),
                accuracy_source: m.accuracy_source().to_string(),
                fixed_params: m.fixed_params(),
                layers: m.layers().to_vec(),
            };
            *model = Some(m);
            Ok(protocol::description_reply(id, &d))
        }
        Some(protocol::EVALUATE) => {
            let m = model
                .as_ref()
                .ok_or_else(|| "evaluate before describe".to_string())?;
            let config = request
                .get("config")
                .ok_or_else(|| "the request has no `config`".to_string())?;
            let genome = protocol::genome_of(config, m.layers())?;
            let accuracy = m.accuracies(&[&genome]).map_err(|e| e.0)?[0];
            Ok(json!({"id": id, "accuracy": accuracy}))
        }
        Some(other) => Err(format!("unknown request `{other}`")),
        None => Err("the request has no `request` field".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(lines: &[Value]) -> Vec<Value> {
        let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let mut out = Vec::new();
        serve(ModelKind::Inventory, input.as_bytes(), &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn an_inventory_is_described_and_measured_as_in_process() {
        let facts = protocol::TrialFacts {
            trial_id: "t",
            seed: 3,
            replicate: 0,
            manifest_dir: ".",
            params: serde_json::to_value(Params::default()).unwrap(),
        };
        let m = build_model(&Params::default(), &|s: &str| PathBuf::from(s), 3).unwrap();
        let n = m.layers().len();
        let g = super::super::super::genome::Genome::uniform(
            super::super::super::genome::LayerGene::int(
                4,
                8,
                crate::quant::Granularity::PerChannel,
            ),
            n,
        );
        let replies = exchange(&[
            json!({"id": 5, "request": "evaluate", "config": {}}),
            protocol::describe_request(0, &facts),
            protocol::evaluate_request(1, m.layers(), &g),
            json!({"id": 2, "request": "train"}),
        ]);
        assert!(
            replies[0]["error"]
                .as_str()
                .unwrap()
                .contains("before describe")
        );
        let obj = protocol::check_reply(&replies[1], 0).unwrap();
        assert_eq!(protocol::parse_description(obj).unwrap().layers, m.layers());
        let a = replies[2]["accuracy"].as_f64().unwrap();
        assert_eq!(a, m.accuracies(&[&g]).unwrap()[0]);
        assert!(replies[3]["error"].as_str().unwrap().contains("train"));
    }
}
