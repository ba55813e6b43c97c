//! The evaluator protocol, `evoquant.evaluator/1`: JSON lines on a worker's
//! stdin and stdout, one request and one reply per line, in order. The
//! README's "External evaluator" section is its user-facing statement; this
//! module is the one place that builds and reads its messages, for the
//! client (`super::ExternalModel`) and the server (`super::serve`) alike.
//!
//! ```text
//! → {"protocol":"evoquant.evaluator/1","id":0,"request":"describe","trial_id":…,"seed":…,
//!    "replicate":…,"manifest_dir":…,"params":{…}}
//! ← {"id":0,"model":"…","accuracy_source":"…","fixed_params":N,
//!    "layers":[{"name":"fc0","kind":"Linear","params":N,"rows":R,"cols":C,
//!               "macs":M,"act_in":I,"act_out":O}, …]}
//! → {"protocol":"evoquant.evaluator/1","id":1,"request":"evaluate","config":{quant_config}}
//! ← {"id":1,"accuracy":0.93, …other metrics}
//! ← {"id":k,"error":"…"}            (either request; fails the trial)
//! ```
//!
//! `config` is an `evoquant.quant_config/1` document (`schema` and
//! `layers[]` with `name`, `type`, `shape`, `weights`, `activations`), the
//! schema `quant_config.json` exports. The first evaluate is always the
//! all-FP32 configuration: its accuracy is the reference the search
//! normalises by.

use super::super::export;
use super::super::genome::{Calibration, Genome, Granularity, LayerGene, Scheme};
use super::super::model::ModelLayer;
use crate::hw::LayerShape;
use serde_json::{Map, Value, json};

pub const PROTOCOL: &str = "evoquant.evaluator/1";
pub const DESCRIBE: &str = "describe";
pub const EVALUATE: &str = "evaluate";

/// What a worker said its model is.
#[derive(Clone, Debug, PartialEq)]
pub struct Description {
    pub model: String,
    pub accuracy_source: String,
    pub fixed_params: u64,
    pub layers: Vec<ModelLayer>,
}

/// The trial facts a `describe` request carries.
pub struct TrialFacts<'a> {
    pub trial_id: &'a str,
    pub seed: u64,
    pub replicate: u32,
    pub manifest_dir: &'a str,
    pub params: Value,
}

pub fn describe_request(id: u64, t: &TrialFacts) -> Value {
    json!({
        "protocol": PROTOCOL,
        "id": id,
        "request": DESCRIBE,
        "trial_id": t.trial_id,
        "seed": t.seed,
        "replicate": t.replicate,
        "manifest_dir": t.manifest_dir,
        "params": t.params,
    })
}

pub fn evaluate_request(id: u64, layers: &[ModelLayer], genome: &Genome) -> Value {
    json!({
        "protocol": PROTOCOL,
        "id": id,
        "request": EVALUATE,
        "config": config(layers, genome),
    })
}

/// The per-layer configuration of `genome` (no costs: those are the
/// study's, not the worker's).
pub fn config(layers: &[ModelLayer], genome: &Genome) -> Value {
    let layers: Vec<Value> = layers
        .iter()
        .zip(&genome.layers)
        .map(|(l, g)| {
            let (weights, activations) = export::gene_fields(g);
            json!({
                "name": l.name,
                "type": l.kind,
                "shape": [l.shape.rows, l.shape.cols],
                "weights": weights,
                "activations": activations,
            })
        })
        .collect();
    json!({"schema": export::SCHEMA, "layers": layers})
}

/// A reply's `id` checked against the request's, and its `error` if any.
pub fn check_reply(reply: &Value, id: u64) -> Result<&Map<String, Value>, String> {
    let obj = reply
        .as_object()
        .ok_or_else(|| "the reply is not a JSON object".to_string())?;
    if let Some(e) = obj.get("error") {
        let text = e.as_str().map_or_else(|| e.to_string(), String::from);
        return Err(format!("the worker reported an error: {text}"));
    }
    match obj.get("id").and_then(Value::as_u64) {
        Some(got) if got == id => Ok(obj),
        Some(got) => Err(format!("the reply answers request {got}, not {id}")),
        None => Err("the reply has no numeric `id`".into()),
    }
}

fn count(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<u64>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{at}`{key}` must be a non-negative integer, got {v}")),
    }
}

/// Read a `describe` reply. Only `layers[].name`, `params`, `rows` and
/// `cols` are required; `kind` defaults to `Linear`, `macs` and
/// `weight_reads` to the parameter count (one use per inference, a batch-1
/// matrix-vector product), `act_in`/`act_out` to `cols`/`rows`.
pub fn parse_description(obj: &Map<String, Value>) -> Result<Description, String> {
    let text = |key: &str, default: &str| -> Result<String, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(format!("`{key}` must be a string, got {v}")),
        }
    };
    let layers = obj
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| "`layers` must be a list of layers".to_string())?;
    if layers.is_empty() {
        return Err("`layers` is empty: nothing to quantize".into());
    }
    let mut out: Vec<ModelLayer> = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        let l = l
            .as_object()
            .ok_or_else(|| format!("layers[{i}] must be an object"))?;
        let name = match l.get("name") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(format!("layers[{i}].name must be a non-empty string")),
        };
        if out.iter().any(|o| o.name == name) {
            return Err(format!("layers[{i}]: layer `{name}` is listed twice"));
        }
        let at = format!("layers[{i}] ({name}): ");
        let need = |key: &str| -> Result<u64, String> {
            count(l, key, &at)?.ok_or_else(|| format!("{at}`{key}` is missing"))
        };
        let params = need("params")?;
        let rows = need("rows")?;
        let cols = need("cols")?;
        if params == 0 || rows == 0 || cols == 0 {
            return Err(format!("{at}`params`, `rows` and `cols` must be positive"));
        }
        let kind = match l.get("kind") {
            None | Some(Value::Null) => "Linear".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => return Err(format!("{at}`kind` must be a string, got {v}")),
        };
        out.push(ModelLayer {
            name,
            kind,
            shape: LayerShape {
                weights: params,
                rows,
                cols,
                macs: count(l, "macs", &at)?.unwrap_or(params),
                weight_reads: count(l, "weight_reads", &at)?.unwrap_or(params),
                act_in: count(l, "act_in", &at)?.unwrap_or(cols),
                act_out: count(l, "act_out", &at)?.unwrap_or(rows),
            },
        });
    }
    Ok(Description {
        model: text("model", "external model")?,
        accuracy_source: text("accuracy_source", "measured by the external evaluator")?,
        fixed_params: count(obj, "fixed_params", "")?.unwrap_or(0),
        layers: out,
    })
}

/// The `describe` reply of a model evoquant serves.
pub fn description_reply(id: u64, d: &Description) -> Value {
    let layers: Vec<Value> = d
        .layers
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "kind": l.kind,
                "params": l.shape.weights,
                "rows": l.shape.rows,
                "cols": l.shape.cols,
                "macs": l.shape.macs,
                "weight_reads": l.shape.weight_reads,
                "act_in": l.shape.act_in,
                "act_out": l.shape.act_out,
            })
        })
        .collect();
    json!({
        "id": id,
        "model": d.model,
        "accuracy_source": d.accuracy_source,
        "fixed_params": d.fixed_params,
        "layers": layers,
    })
}

/// The metric `key` of an `evaluate` reply: a finite number.
pub fn metric(obj: &Map<String, Value>, key: &str) -> Result<f64, String> {
    match obj.get(key) {
        Some(v) => v
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("metric `{key}` must be a finite number, got {v}")),
        None => Err(format!("the reply has no metric `{key}`")),
    }
}

/// The genome a configuration stands for, layer by layer in `layers`'
/// order (the server's side of [`config`]). Fields the search fixes
/// (percentile, scale storage) are not read back.
pub fn genome_of(config: &Value, layers: &[ModelLayer]) -> Result<Genome, String> {
    let listed = config
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| "`config.layers` must be a list".to_string())?;
    if listed.len() != layers.len() {
        return Err(format!(
            "`config.layers` has {} layers, the model {}",
            listed.len(),
            layers.len()
        ));
    }
    let mut genes = Vec::with_capacity(layers.len());
    for (i, (doc, layer)) in listed.iter().zip(layers).enumerate() {
        let name = doc.get("name").and_then(Value::as_str).unwrap_or("");
        if name != layer.name {
            return Err(format!(
                "config.layers[{i}] is `{name}`, the model's layer {i} is `{}`",
                layer.name
            ));
        }
        let at = |what: &str, e: String| format!("config.layers[{i}] ({name}).{what}: {e}");
        let w = doc
            .get("weights")
            .ok_or_else(|| at("weights", "missing".into()))?;
        let a = doc
            .get("activations")
            .ok_or_else(|| at("activations", "missing".into()))?;
        let field = |v: &Value, key: &str| v.get(key).cloned().unwrap_or(Value::Null);
        let bits = |v: &Value, what: &str| -> Result<u8, String> {
            field(v, "bits")
                .as_u64()
                .and_then(|b| u8::try_from(b).ok())
                .ok_or_else(|| at(what, "`bits` must be an integer".into()))
        };
        let mut gene = LayerGene::float(32);
        gene.weight_bits = bits(w, "weights")?;
        gene.activation_bits = bits(a, "activations")?;
        if gene.weight_bits < 16 {
            gene.weight_scheme =
                choice::<Scheme>(&field(w, "scheme")).map_err(|e| at("weights.scheme", e))?;
            gene.granularity = choice::<Granularity>(&field(w, "granularity"))
                .map_err(|e| at("weights.granularity", e))?;
            if let Some(g) = field(w, "group_size").as_u64() {
                gene.group_size =
                    u16::try_from(g).map_err(|_| at("weights.group_size", format!("{g}")))?;
            }
            gene.calibration = choice::<Calibration>(&field(w, "calibration"))
                .map_err(|e| at("weights.calibration", e))?;
        }
        if gene.activation_bits < 16 {
            gene.activation_scheme =
                choice::<Scheme>(&field(a, "scheme")).map_err(|e| at("activations.scheme", e))?;
            gene.calibration = choice::<Calibration>(&field(a, "calibration"))
                .map_err(|e| at("activations.calibration", e))?;
        }
        genes.push(gene);
    }
    Ok(Genome { layers: genes })
}

fn choice<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("{v}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studies::mixed_precision::adapters::mlp_layers;

    #[test]
    fn a_configuration_reads_back_as_the_genome_it_was_built_from() {
        let layers = mlp_layers(&[[16, 36], [8, 16]]);
        let mut g = Genome::uniform(LayerGene::int(4, 8, Granularity::PerGroup), 2);
        g.layers[0].group_size = 32;
        g.layers[0].calibration = Calibration::Mse;
        g.layers[1] = LayerGene::float(16);
        let back = genome_of(&config(&layers, &g), &layers).unwrap();
        // Float genes carry no quantizer fields; compare what they mean.
        assert_eq!(back.layers[0], g.layers[0]);
        assert_eq!(back.layers[1].weight_bits, 16);
        assert_eq!(back.layers[1].activation_bits, 16);
    }

    #[test]
    fn a_described_model_round_trips_and_bad_descriptions_name_the_layer() {
        let d = Description {
            model: "m".into(),
            accuracy_source: "s".into(),
            fixed_params: 24,
            layers: mlp_layers(&[[16, 36], [8, 16]]),
        };
        let reply = description_reply(0, &d);
        let obj = check_reply(&reply, 0).unwrap();
        assert_eq!(parse_description(obj).unwrap(), d);
        let bad = json!({"id": 0, "layers": [{"name": "a", "params": 4, "rows": 2}]});
        let e = parse_description(bad.as_object().unwrap()).unwrap_err();
        assert!(e.contains("layers[0] (a)") && e.contains("cols"), "{e}");
        let e = check_reply(&json!({"id": 3, "accuracy": 1}), 4).unwrap_err();
        assert!(e.contains("request 3, not 4"), "{e}");
        let e = check_reply(&json!({"id": 4, "error": "out of memory"}), 4).unwrap_err();
        assert!(e.contains("out of memory"), "{e}");
        let e = metric(json!({"accuracy": "high"}).as_object().unwrap(), "accuracy").unwrap_err();
        assert!(e.contains("finite number"), "{e}");
    }
}
