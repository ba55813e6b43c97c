//! The document's `export_quantization_config`: the chosen genome as a
//! per-layer deployment configuration, in JSON and YAML with one schema
//! (`evoquant.quant_config/1`, documented in docs/mixed_precision.md).
//!
//! The runner writes JSON documents only, so the YAML text travels inside a
//! small JSON document (`{"format": "yaml", "text": …}`); `to_yaml` is the
//! library function a deployment script's Rust side can call directly. The
//! YAML is block style with every string double-quoted (JSON string syntax is
//! valid YAML), so no value can be misread as a YAML keyword.

use super::adapters::PERCENTILE;
use super::evaluate::{Eval, Evaluator};
use super::genome::{Calibration, Genome, Granularity, LayerGene};
use crate::hw::layer_cost;
use crate::params::Choice;
use crate::quant::ScaleDtype;
use serde_json::{Value, json};

pub const SCHEMA: &str = "evoquant.quant_config/1";

/// A gene's `weights` and `activations` objects in the schema: everything a
/// deployment (or an external evaluator) needs to reproduce the quantizer,
/// including the scale storage type and the percentile the study uses.
pub fn gene_fields(g: &LayerGene) -> (Value, Value) {
    let percentile = |c: Calibration| {
        if c == Calibration::Percentile {
            Value::from(f64::from(PERCENTILE))
        } else {
            Value::Null
        }
    };
    let weights = if let Some(f) = g.ggml_format() {
        // ggml's own block arithmetic (`WeightQuant::Ggml`).
        json!({"format": "ggml", "type": f.name(), "bits": g.weight_bits})
    } else if let Some(x) = g.extreme() {
        // Sign × per-group mean-|w| scale (`crate::quant::binary`).
        json!({
            "format": x.kind.name(),
            "bits": g.weight_bits,
            "granularity": g.granularity.name(),
            "group_size": if matches!(g.granularity, Granularity::PerGroup | Granularity::Block) {
                Value::from(g.group_size)
            } else {
                Value::Null
            },
            "scale_dtype": ScaleDtype::F16,
        })
    } else if g.fp8_weights() {
        // E4M3 × an f32 scale per channel or tensor (`crate::quant::fp8`).
        json!({
            "format": "fp8_e4m3",
            "bits": 8,
            "granularity": g.granularity.name(),
            "scale_dtype": ScaleDtype::F32,
        })
    } else if g.weight_bits >= 16 {
        json!({"format": "float", "bits": g.weight_bits})
    } else {
        json!({
            "format": "int",
            "bits": g.weight_bits,
            "scheme": g.weight_scheme.name(),
            "granularity": g.granularity.name(),
            "group_size": if matches!(g.granularity, Granularity::PerGroup | Granularity::Block) {
                Value::from(g.group_size)
            } else {
                Value::Null
            },
            "calibration": g.calibration.name(),
            "percentile": percentile(g.calibration),
            "scale_dtype": ScaleDtype::F16,
        })
    };
    let activations = if g.fp8_activations() {
        json!({
            "format": "fp8_e4m3",
            "bits": 8,
            "calibration": g.calibration.name(),
            "percentile": percentile(g.calibration),
        })
    } else if g.activation_bits >= 16 {
        json!({"format": "float", "bits": g.activation_bits})
    } else {
        json!({
            "format": "int",
            "bits": g.activation_bits,
            "scheme": g.activation_scheme.name(),
            "calibration": g.calibration.name(),
            "percentile": percentile(g.calibration),
        })
    };
    (weights, activations)
}

/// The configuration document of `genome`.
pub fn config(ev: &Evaluator, genome: &Genome, e: &Eval) -> Value {
    // One entry per real layer: a gene covering a group of layers (one per
    // role) is written out for each member, so `evoquant eval` and
    // deployment tools see the model's own layer names.
    let mut layers: Vec<Value> = Vec::new();
    for (i, g) in genome.layers.iter().enumerate() {
        let (weights, activations) = gene_fields(g);
        for layer in ev.model.members(i) {
            let c = layer_cost(ev.target, &layer.shape, &g.choice());
            let m = c.execution.mode;
            layers.push(json!({
                "name": layer.name,
                "type": layer.kind,
                "shape": [layer.shape.rows, layer.shape.cols],
                "weights": weights,
                "activations": activations,
                "execution": {
                    "mode": format!("W{}A{}", m.weight_bits, m.act_bits),
                    "compute": m.compute.name(),
                    "native": c.execution.native,
                },
                "weight_bytes": c.weight_bytes,
            }));
        }
    }
    json!({
        "schema": SCHEMA,
        "model": ev.model.description(),
        "accuracy_source": ev.model.accuracy_source(),
        "hardware_target": ev.target.name,
        "device": ev.target.device,
        "cost_model": "analytical roofline model (not measured on the device)",
        "summary": {
            "accuracy": e.accuracy,
            "compression": e.compression,
            "memory_mb": e.memory_mb,
            "latency_ms": e.latency_ms,
            "energy_mj": e.energy_mj,
            "avg_weight_bits": e.avg_bits,
            "bits_per_weight": e.bits_per_weight,
            "fallback_layers": e.fallback_layers,
        },
        "layers": layers,
    })
}

/// Block-style YAML of a JSON value.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    emit(v, 0, &mut out);
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        other => other.to_string(),
    }
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Object(o) if !o.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

fn emit(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, x) in map {
                if is_block(x) {
                    out.push_str(&format!("{pad}{k}:\n"));
                    emit(x, indent + 2, out);
                } else {
                    out.push_str(&format!("{pad}{k}: {}\n", inline(x)));
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for x in items {
                if is_block(x) {
                    // First line of the block after "- ", the rest indented.
                    let mut inner = String::new();
                    emit(x, indent + 2, &mut inner);
                    let body = inner.trim_start_matches(' ');
                    out.push_str(&format!("{pad}- {body}"));
                } else {
                    out.push_str(&format!("{pad}- {}\n", inline(x)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", inline(other))),
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => scalar(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_is_block_style_with_quoted_strings() {
        let v = json!({
            "schema": "x/1",
            "summary": {"accuracy": 0.5, "native": true},
            "layers": [{"name": "a: b", "shape": [2, 3]}, {"name": "yes", "group_size": null}],
            "empty": [],
        });
        let y = to_yaml(&v);
        // serde_json maps are key-sorted.
        let expect = "empty: []\nlayers:\n  - name: \"a: b\"\n    shape:\n      - 2\n      - 3\n  - group_size: null\n    name: \"yes\"\nschema: \"x/1\"\nsummary:\n  accuracy: 0.5\n  native: true\n";
        assert_eq!(y, expect);
    }

    /// Every gene kind the study exports reads back through `qconfig` (what
    /// `evoquant eval --config` and `apply` use) as the request the study
    /// measured, binary and ternary included.
    #[test]
    fn exported_genes_read_back_as_the_measured_request() {
        use super::super::adapters::layer_quant;
        use super::super::genome::Granularity;
        let genes = [
            LayerGene {
                ternary: true,
                ..LayerGene::int(2, 8, Granularity::PerGroup)
            },
            LayerGene::int(1, 16, Granularity::PerChannel),
            LayerGene::int(4, 8, Granularity::PerGroup),
            LayerGene::float(16),
        ];
        for g in genes {
            let (w, a) = gene_fields(&g);
            let doc = json!({"layers": [{"name": "x", "weights": w, "activations": a}]});
            let c = crate::quant::qconfig::parse(std::path::Path::new("q.json"), &doc.to_string())
                .unwrap();
            assert_eq!(c.for_layer("x"), layer_quant(&g), "{g:?}");
        }
    }
}
