//! Reading `evoquant.quant_config/1` documents (what the mixed-precision study
//! exports) into per-layer [`LayerQuant`]s, so a configuration found by a study
//! can be measured on a real model with `evoquant eval --config`.
//!
//! Only `layers[].name`, `weights` and `activations` are read; every other
//! field (shape, execution, summary, …) is ignored. A uniform shorthand
//! (`w8`, `w4a8`, `fp16`, …, see [`parse_uniform`]) stands for the same
//! precision on every linear layer.
//!
//! Weights `{"format": "ggml", "type": "q4_0"}` (or `q4_1`, `q8_0`; `bits`
//! optional and checked) are ggml's block formats exactly
//! ([`WeightQuant::Ggml`]): what `evoquant apply` can write to a GGUF file
//! bit for bit. The shorthands `q4_0`, `q4_1`, `q8_0` put every block linear
//! layer in that format.
//!
//! Weights `{"format": "fp8_e4m3"}` (`granularity` per_channel or
//! per_tensor, f32 scales) and activations `{"format": "fp8_e4m3"}` (a
//! static per-tensor scale from `calibration`) are OCP FP8 E4M3
//! (`crate::quant::fp8`), as mixed_precision exports its `fp8` genes.
//!
//! Weights `{"format": "binary"}` or `{"format": "ternary"}` (with
//! `granularity`, `group_size`; `bits` optional and checked) are sign codes
//! × an f16 scale per group (`crate::quant::binary`), as mixed_precision
//! exports its 1- and 2-bit sign genes.

use super::layer::{ActQuant, LayerQuant, WeightQuant};
use crate::error::{Error, Result};
use crate::params::Choice;
use crate::quant::binary::{Extreme, ExtremeSpec};
use crate::quant::{Calibration, GgufFormat, Granularity, QuantSpec, ScaleDtype, Scheme};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Doc {
    layers: Vec<LayerDoc>,
}

#[derive(Deserialize)]
struct LayerDoc {
    name: String,
    weights: Option<PrecDoc>,
    activations: Option<PrecDoc>,
}

#[derive(Deserialize)]
struct PrecDoc {
    format: String,
    /// Required for `int` and `float`; implied by `type` for `ggml`.
    bits: Option<u8>,
    /// The ggml type of a `ggml` format (`q4_0`, `q4_1`, `q8_0`).
    #[serde(rename = "type")]
    ggml_type: Option<String>,
    scheme: Option<Scheme>,
    granularity: Option<Granularity>,
    group_size: Option<usize>,
    calibration: Option<Calibration>,
    percentile: Option<f32>,
    /// Absent in files written before it existed: f32 scales, as then.
    scale_dtype: Option<ScaleDtype>,
}

/// A configuration: per named layer, and a default for unnamed linear layers.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantConfig {
    /// Where it came from (a file, or the shorthand itself), for messages.
    pub source: PathBuf,
    /// Precision of every linear layer not named in `layers`.
    pub default: LayerQuant,
    /// Named layers, in document order.
    pub layers: Vec<(String, LayerQuant)>,
}

impl QuantConfig {
    /// Everything as loaded.
    pub fn reference() -> QuantConfig {
        QuantConfig {
            source: PathBuf::from("fp32"),
            default: LayerQuant::FP32,
            layers: Vec::new(),
        }
    }

    /// The precision of `layer`.
    pub fn for_layer(&self, layer: &str) -> LayerQuant {
        self.layers
            .iter()
            .find(|(n, _)| n == layer)
            .map_or(self.default, |(_, q)| *q)
    }

    /// Exit-2 error if a named layer is not in `known`.
    pub fn check_names(&self, known: impl Fn(&str) -> bool) -> Result<()> {
        for (name, _) in &self.layers {
            if !known(name) {
                return Err(Error::user(format!(
                    "{}: layer `{name}` is not a layer of the model",
                    self.source.display()
                )));
            }
        }
        Ok(())
    }
}

/// `fp32`, `fp16`, `q4_0` / `q4_1` / `q8_0` (ggml block weights, float
/// activations), `wN` (integer weights, float activations) or `wNaM`
/// (integer weights, M-bit asymmetric min-max per-tensor activations), N in 2..=16.
pub fn parse_uniform(s: &str) -> Option<LayerQuant> {
    match s {
        "fp32" => return Some(LayerQuant::FP32),
        "fp16" => return Some(LayerQuant::FP16),
        _ => {}
    }
    if let Some(f) = GgufFormat::parse(s) {
        return Some(LayerQuant {
            weights: WeightQuant::Ggml(f),
            activations: ActQuant::Fp32,
        });
    }
    let rest = s.strip_prefix('w')?;
    let (w, a) = match rest.split_once('a') {
        Some((w, a)) => (w, Some(a)),
        None => (rest, None),
    };
    let wb: u8 = w.parse().ok().filter(|b| (2..=16).contains(b))?;
    let activations = match a {
        None => ActQuant::Fp32,
        Some(a) => {
            let ab: u8 = a.parse().ok().filter(|b| (2..=16).contains(b))?;
            ActQuant::Int {
                bits: ab,
                scheme: Scheme::Asymmetric,
                calibration: Calibration::MinMax,
                percentile: 99.9,
            }
        }
    };
    Some(LayerQuant {
        weights: WeightQuant::Int(QuantSpec::per_channel(wb)),
        activations,
    })
}

/// A shorthand (see [`parse_uniform`]) or a `quant_config.json` file.
pub fn load(arg: &str) -> Result<QuantConfig> {
    if let Some(q) = parse_uniform(arg) {
        return Ok(QuantConfig {
            source: PathBuf::from(arg),
            default: q,
            layers: Vec::new(),
        });
    }
    let path = Path::new(arg);
    if !path.exists() {
        return Err(Error::user(format!(
            "--config {arg}: neither a file nor a uniform spec (fp32, fp16, q4_0, q4_1, q8_0, wN, wNaM with N, M in 2..=16)"
        )));
    }
    read(path)
}

/// Read a `quant_config.json` file. Layers it does not name stay unquantized.
pub fn read(path: &Path) -> Result<QuantConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(path, e))?;
    parse(path, &text)
}

/// Parse `text` (a `quant_config.json` document); `path` labels messages.
pub fn parse(path: &Path, text: &str) -> Result<QuantConfig> {
    let doc: Doc = serde_json::from_str(text).map_err(|e| {
        Error::user(format!(
            "{}: not an evoquant.quant_config/1 document: {e}",
            path.display()
        ))
    })?;
    let mut layers = Vec::new();
    for (i, l) in doc.layers.iter().enumerate() {
        let at = |what: &str, msg: String| {
            Error::user(format!(
                "{}: layers[{i}] ({}).{what}: {msg}",
                path.display(),
                l.name
            ))
        };
        let weights = match &l.weights {
            None => WeightQuant::Fp32,
            Some(p) if p.format == "ggml" => {
                WeightQuant::Ggml(ggml_format(p).map_err(|m| at("weights", m))?)
            }
            Some(p) if p.format == "binary" || p.format == "ternary" => {
                WeightQuant::Extreme(extreme(p).map_err(|m| at("weights", m))?)
            }
            Some(p) if p.format == FP8 => fp8_weights(p).map_err(|m| at("weights", m))?,
            Some(p) => match (p.format.as_str(), bits(p).map_err(|m| at("weights", m))?) {
                ("float", 32) => WeightQuant::Fp32,
                ("float", 16) => WeightQuant::Fp16,
                ("int", bits) => {
                    let spec = QuantSpec {
                        bits,
                        scheme: p.scheme.unwrap_or(Scheme::Symmetric),
                        granularity: p.granularity.unwrap_or(Granularity::PerChannel),
                        group_size: p.group_size.unwrap_or(32),
                        calibration: p.calibration.unwrap_or(Calibration::MinMax),
                        percentile: p.percentile.unwrap_or(99.9),
                        scale_dtype: p.scale_dtype.unwrap_or(ScaleDtype::F32),
                    };
                    spec.validate().map_err(|e| at("weights", e.to_string()))?;
                    WeightQuant::Int(spec)
                }
                (f, b) => return Err(at("weights", format!("unsupported format {f:?} bits {b}"))),
            },
        };
        let activations = match &l.activations {
            None => ActQuant::Fp32,
            Some(p) if p.format == FP8 => {
                if p.bits.is_some_and(|b| b != 8) {
                    return Err(at("activations", "fp8_e4m3 has 8 bits".into()));
                }
                ActQuant::Fp8 {
                    calibration: p.calibration.unwrap_or(Calibration::MinMax),
                    percentile: p.percentile.unwrap_or(99.9),
                }
            }
            Some(p) => match (
                p.format.as_str(),
                bits(p).map_err(|m| at("activations", m))?,
            ) {
                ("float", 32) => ActQuant::Fp32,
                ("float", 16) => ActQuant::Fp16,
                ("int", bits) => ActQuant::Int {
                    bits,
                    scheme: p.scheme.unwrap_or(Scheme::Asymmetric),
                    calibration: p.calibration.unwrap_or(Calibration::MinMax),
                    percentile: p.percentile.unwrap_or(99.9),
                },
                (f, b) => {
                    return Err(at(
                        "activations",
                        format!("unsupported format {f:?} bits {b}"),
                    ));
                }
            },
        };
        let q = LayerQuant {
            weights,
            activations,
        };
        q.validate(i).map_err(|e| at("", e.to_string()))?;
        layers.push((l.name.clone(), q));
    }
    Ok(QuantConfig {
        source: path.to_path_buf(),
        default: LayerQuant::FP32,
        layers,
    })
}

/// The OCP FP8 E4M3 format name (`crate::quant::fp8`).
const FP8: &str = "fp8_e4m3";

/// `fp8_e4m3` weights: per channel (default) or per tensor, f32 scales.
fn fp8_weights(p: &PrecDoc) -> std::result::Result<WeightQuant, String> {
    if p.bits.is_some_and(|b| b != 8) {
        return Err("fp8_e4m3 has 8 bits".into());
    }
    if p.scale_dtype.is_some_and(|d| d != ScaleDtype::F32) {
        return Err("fp8_e4m3 weights store f32 scales".into());
    }
    match p.granularity.unwrap_or(Granularity::PerChannel) {
        Granularity::PerChannel => Ok(WeightQuant::Fp8 { per_channel: true }),
        Granularity::PerTensor => Ok(WeightQuant::Fp8 { per_channel: false }),
        g => Err(format!(
            "fp8_e4m3 weights are per_channel or per_tensor, not {}",
            g.name()
        )),
    }
}

/// `bits` of an `int` or `float` precision.
fn bits(p: &PrecDoc) -> std::result::Result<u8, String> {
    p.bits
        .ok_or_else(|| format!("format {:?} needs `bits`", p.format))
}

/// A `binary` or `ternary` weight precision (`bits` optional and checked;
/// scales are always f16, the format's own).
fn extreme(p: &PrecDoc) -> std::result::Result<ExtremeSpec, String> {
    let kind = if p.format == "binary" {
        Extreme::Binary
    } else {
        Extreme::Ternary
    };
    if let Some(b) = p.bits.filter(|&b| b != kind.bits()) {
        return Err(format!(
            "{} weights have {} bits, not {b}",
            kind.name(),
            kind.bits()
        ));
    }
    if p.scale_dtype.is_some_and(|d| d != ScaleDtype::F16) {
        return Err(format!("{} weights store f16 scales", kind.name()));
    }
    let granularity = p.granularity.unwrap_or(Granularity::PerChannel);
    let spec = ExtremeSpec {
        kind,
        granularity,
        // As `LayerGene::extreme`: a group size only where there are groups.
        group_size: match granularity {
            Granularity::PerGroup | Granularity::Block => p.group_size.unwrap_or(32),
            _ => 0,
        },
    };
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

/// The ggml type of a `ggml` weight precision.
fn ggml_format(p: &PrecDoc) -> std::result::Result<GgufFormat, String> {
    let names = || {
        GgufFormat::ALL
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let t = p
        .ggml_type
        .as_deref()
        .ok_or_else(|| format!("format \"ggml\" needs `type` (one of {})", names()))?;
    let f =
        GgufFormat::parse(t).ok_or_else(|| format!("ggml type {t:?} is not one of {}", names()))?;
    match p.bits {
        Some(b) if b != f.bits() => Err(format!(
            "ggml type {} has {} bits, not {b}",
            f.name(),
            f.bits()
        )),
        _ => Ok(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_exported_schema_and_ignores_extra_fields() {
        let text = r#"{"schema":"evoquant.quant_config/1","summary":{"accuracy":0.9},
          "layers":[{"name":"a","type":"linear","shape":[4,4],
            "weights":{"format":"int","bits":4,"scheme":"asymmetric","granularity":"per_group","group_size":32,"calibration":"mse"},
            "activations":{"format":"int","bits":8,"scheme":"symmetric","calibration":"min_max"},"weight_bytes":12},
           {"name":"b","weights":{"format":"float","bits":16},"activations":{"format":"float","bits":16}}]}"#;
        let c = parse(Path::new("q.json"), text).unwrap();
        let a = c.for_layer("a");
        let WeightQuant::Int(s) = a.weights else {
            panic!("int expected")
        };
        assert_eq!(
            (s.bits, s.scheme, s.granularity),
            (4, Scheme::Asymmetric, Granularity::PerGroup)
        );
        assert_eq!(s.calibration, Calibration::Mse);
        assert!(matches!(
            a.activations,
            ActQuant::Int {
                bits: 8,
                scheme: Scheme::Symmetric,
                ..
            }
        ));
        assert_eq!(c.for_layer("b"), LayerQuant::FP16);
        assert_eq!(c.for_layer("zzz"), LayerQuant::FP32);
        let e = c.check_names(|n| n == "a").unwrap_err().to_string();
        assert!(e.contains("q.json") && e.contains("`b`"), "{e}");
    }

    #[test]
    fn fp8_weights_and_activations_read_back() {
        let c = parse(
            Path::new("c.json"),
            r#"{"layers":[{"name":"a","weights":{"format":"fp8_e4m3","bits":8,"granularity":"per_tensor","scale_dtype":"f32"},"activations":{"format":"fp8_e4m3","bits":8,"calibration":"percentile","percentile":99.9}}]}"#,
        )
        .unwrap();
        let q = c.layers[0].1;
        assert_eq!(q.weights, WeightQuant::Fp8 { per_channel: false });
        assert_eq!(
            q.activations,
            ActQuant::Fp8 {
                calibration: Calibration::Percentile,
                percentile: 99.9
            }
        );
        for (w, why) in [
            (r#"{"format":"fp8_e4m3","bits":4}"#, "8 bits"),
            (r#"{"format":"fp8_e4m3","scale_dtype":"f16"}"#, "f32 scales"),
            (
                r#"{"format":"fp8_e4m3","granularity":"per_group"}"#,
                "per_channel or per_tensor",
            ),
        ] {
            let doc = format!(r#"{{"layers":[{{"name":"a","weights":{w}}}]}}"#);
            let e = parse(Path::new("c.json"), &doc).unwrap_err().to_string();
            assert!(
                e.contains("layers[0] (a).weights") && e.contains(why),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_documents_and_shorthands_are_user_errors() {
        let e = parse(
            Path::new("q.json"),
            r#"{"layers":[{"name":"x","weights":{"format":"int","bits":0}}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("layers[0] (x)"), "{e}");
        assert!(parse(Path::new("q.json"), "{").is_err());
        assert!(parse_uniform("w1").is_none());
        assert!(parse_uniform("w8a").is_none());
        assert!(matches!(
            parse_uniform("w4a8").unwrap().activations,
            ActQuant::Int { bits: 8, .. }
        ));
        assert!(load("no-such-file.json").is_err());
        assert_eq!(
            parse_uniform("q4_0").unwrap().weights,
            WeightQuant::Ggml(GgufFormat::Q4_0)
        );
    }

    #[test]
    fn ggml_weights_are_read_and_bad_ones_name_the_layer() {
        let doc = |w: &str| format!(r#"{{"layers":[{{"name":"blk.0.attn_q","weights":{w}}}]}}"#);
        let c = parse(
            Path::new("q.json"),
            &doc(r#"{"format":"ggml","type":"q8_0","bits":8}"#),
        )
        .unwrap();
        assert_eq!(
            c.for_layer("blk.0.attn_q").weights,
            WeightQuant::Ggml(GgufFormat::Q8_0)
        );
        for (w, want) in [
            (r#"{"format":"ggml"}"#, "needs `type`"),
            (
                r#"{"format":"ggml","type":"q6_k"}"#,
                "\"q6_k\" is not one of q4_0",
            ),
            (
                r#"{"format":"ggml","type":"q4_1","bits":8}"#,
                "4 bits, not 8",
            ),
            (r#"{"format":"int"}"#, "needs `bits`"),
        ] {
            let e = parse(Path::new("q.json"), &doc(w)).unwrap_err();
            let m = e.to_string();
            assert_eq!(e.exit_code(), 2);
            assert!(
                m.contains("(blk.0.attn_q).weights") && m.contains(want),
                "{m}"
            );
        }
    }

    #[test]
    fn binary_and_ternary_weights_are_read_and_checked() {
        let doc = |w: &str| format!(r#"{{"layers":[{{"name":"fc","weights":{w}}}]}}"#);
        let c = parse(
            Path::new("q.json"),
            &doc(r#"{"format":"ternary","bits":2,"granularity":"per_group","group_size":16,"scale_dtype":"f16"}"#),
        )
        .unwrap();
        assert_eq!(
            c.for_layer("fc").weights,
            WeightQuant::Extreme(ExtremeSpec {
                kind: Extreme::Ternary,
                granularity: Granularity::PerGroup,
                group_size: 16
            })
        );
        let c = parse(Path::new("q.json"), &doc(r#"{"format":"binary"}"#)).unwrap();
        assert_eq!(c.for_layer("fc").weights.bits(), 1);
        for (w, want) in [
            (r#"{"format":"binary","bits":2}"#, "1 bits, not 2"),
            (r#"{"format":"ternary","scale_dtype":"f32"}"#, "f16 scales"),
            (
                r#"{"format":"binary","granularity":"per_group","group_size":0}"#,
                "group size",
            ),
        ] {
            let e = parse(Path::new("q.json"), &doc(w)).unwrap_err();
            let m = e.to_string();
            assert_eq!(e.exit_code(), 2);
            assert!(m.contains("(fc).weights") && m.contains(want), "{m}");
        }
    }
}
