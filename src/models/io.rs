//! Inventories as JSON files: pretty, deterministic output and located errors.
//!
//! Every field is validated while it is parsed (see `layer.rs`), so the JSON
//! parser's position is the position of the bad value: a user gets
//! `file:line:col: params: must be a non-negative count, got -5` rather than a
//! failure somewhere inside a study.

use super::layer::Inventory;
use crate::error::{Diagnostic, Error, Result};
use std::path::Path;

impl Inventory {
    /// Parse an inventory; `file` only names the source in messages.
    pub fn from_json_str(source: &str, file: &Path) -> Result<Inventory> {
        let inv: Inventory = serde_json::from_str(source).map_err(|e| {
            Error::Located(vec![Diagnostic {
                file: file.to_path_buf(),
                location: (e.line() > 0).then(|| (e.line(), e.column())),
                key_path: String::new(),
                message: strip_position(&e.to_string()),
            }])
        })?;
        if inv.layers.is_empty() {
            return Err(Error::Located(vec![Diagnostic {
                file: file.to_path_buf(),
                location: None,
                key_path: "layers".into(),
                message: "an inventory needs at least one layer".into(),
            }]));
        }
        if let Some(i) = inv.oversized_layer() {
            let l = &inv.layers[i];
            return Err(Error::Located(vec![Diagnostic {
                file: file.to_path_buf(),
                location: params_location(source, i),
                key_path: format!("layers[{i}].params"),
                message: format!(
                    "layer `{}` ({} weights) brings the inventory past {} weights in total, where its fp32 size in bits (32 per weight) no longer fits in 64 bits",
                    l.name,
                    l.params,
                    super::layer::MAX_TOTAL_PARAMS
                ),
            }]));
        }
        if inv.total_params() == 0 {
            return Err(Error::Located(vec![Diagnostic {
                file: file.to_path_buf(),
                location: None,
                key_path: "layers".into(),
                message: "all parameter counts are zero; compression is undefined".into(),
            }]));
        }
        Ok(inv)
    }

    /// Read and parse a JSON inventory file.
    pub fn load(path: &Path) -> Result<Inventory> {
        let source = std::fs::read_to_string(path).map_err(|e| Error::input(path, e))?;
        Inventory::from_json_str(&source, path)
    }

    /// Pretty JSON with a trailing newline; byte-identical for equal inventories.
    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("inventories serialize");
        s.push('\n');
        s
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        // Atomic: an interrupted write leaves no half file behind.
        crate::fsio::write_atomic(path, self.to_json_pretty().as_bytes())
    }
}

/// Line and column of the `i`-th `"params"` key, which in an inventory is
/// layer `i`'s (no other field has that name).
fn params_location(source: &str, i: usize) -> Option<(usize, usize)> {
    let (offset, _) = source.match_indices("\"params\"").nth(i)?;
    Some(crate::error::line_col(source, offset))
}

/// serde_json appends " at line L column C"; the diagnostic prints it as
/// `file:L:C` instead.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Split;

    fn parse(src: &str) -> String {
        Inventory::from_json_str(src, Path::new("m.json"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn json_round_trip_is_exact() {
        let inv = Split::Valid.builtin();
        let back = Inventory::from_json_str(&inv.to_json_pretty(), Path::new("x")).unwrap();
        assert!(back == inv, "parsed floats must round-trip exactly");
        assert_eq!(back.to_json_pretty(), inv.to_json_pretty());
    }

    fn mutate_first(field: &str, replacement: &str) -> String {
        let mut v: serde_json::Value =
            serde_json::from_str(&Split::Test.builtin().to_json_pretty()).unwrap();
        let layer = &mut v["layers"][0];
        let (obj, key) = match field.split_once('.') {
            Some((a, b)) => (&mut layer[a], b),
            None => (layer, field),
        };
        let map = obj.as_object_mut().unwrap();
        if replacement.is_empty() {
            map.remove(key);
        } else {
            map.insert(key.into(), serde_json::from_str(replacement).unwrap());
        }
        serde_json::to_string_pretty(&v).unwrap()
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let msg = parse(&mutate_first("params", "-5"));
        assert!(msg.starts_with("m.json:"), "{msg}");
        assert!(msg.contains("non-negative count, got -5"), "{msg}");
        // Line of the bad value: the first layer's `params` key.
        let src = mutate_first("params", "-5");
        let line = src
            .lines()
            .position(|l| l.contains("\"params\": -5"))
            .unwrap()
            + 1;
        assert!(msg.starts_with(&format!("m.json:{line}:")), "{msg}");

        let msg = parse(&mutate_first("params", ""));
        assert!(msg.contains("missing field `params`"), "{msg}");
        let msg = parse(&mutate_first("sensitivity.INT4", "\"high\""));
        assert!(msg.contains("sensitivity.INT4: must be a number"), "{msg}");
        let msg = parse(&mutate_first("sensitivity.INT4", ""));
        assert!(msg.contains("missing precision `INT4`"), "{msg}");
        let msg = parse(&mutate_first("sensitivity.INT4", "1.5"));
        assert!(msg.contains("must be in [0, 1)"), "{msg}");
        let msg = parse("{\"name\": \"x\", \"family\": \"y\", \"layers\": [\n  {\"name\": }]}");
        assert!(msg.starts_with("m.json:2:"), "{msg}");
        let msg = parse("{\"name\": \"x\", \"family\": \"y\", \"layers\": []}");
        assert!(msg.contains("at least one layer"), "{msg}");
    }

    /// Before: Σ params · bits wrapped in release builds, so an inventory of
    /// huge layers got a tiny size and a wrong optimum.
    #[test]
    fn sizes_whose_totals_overflow_are_rejected_naming_the_layer() {
        let mut v: serde_json::Value =
            serde_json::from_str(&Split::Test.builtin().to_json_pretty()).unwrap();
        v["layers"][1]["params"] = serde_json::json!(u64::MAX / 64);
        v["layers"][2]["params"] = serde_json::json!(u64::MAX / 64);
        let src = serde_json::to_string_pretty(&v).unwrap();
        let line = src
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains("\"params\""))
            .nth(2)
            .unwrap()
            .0
            + 1;
        let e = Inventory::from_json_str(&src, Path::new("m.json")).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::USAGE);
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("m.json:{line}:")), "{msg}");
        assert!(msg.contains("layers[2].params"), "{msg}");
        let name = v["layers"][2]["name"].as_str().unwrap();
        assert!(msg.contains(&format!("`{name}`")), "{msg}");
        // One huge layer alone, and the sum wrapping through u64::MAX.
        v["layers"][1]["params"] = serde_json::json!(u64::MAX);
        let e = Inventory::from_json_str(&v.to_string(), Path::new("m.json")).unwrap_err();
        assert!(e.to_string().contains("layers[1].params"), "{e}");
        // Right at the limit is accepted, and every size fits.
        let mut inv = Split::Test.builtin();
        let rest: u64 = inv.layers[1..].iter().map(|l| l.params).sum();
        inv.layers[0].params = crate::models::layer::MAX_TOTAL_PARAMS - rest;
        let back = Inventory::from_json_str(&inv.to_json_pretty(), Path::new("m.json")).unwrap();
        assert_eq!(back.total_params(), crate::models::layer::MAX_TOTAL_PARAMS);
        let fp32 = vec![crate::models::Precision::Fp32; back.len()];
        assert_eq!(
            crate::models::evaluate(&back, &fp32).allocated_bits,
            u64::MAX / 32 * 32
        );
    }
}

/// Little-endian float encodings that model files store weights in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatBytes {
    F32,
    F16,
    BF16,
}

/// Decode little-endian floats (whole values only; a trailing partial value
/// is ignored, so callers check the length first).
pub fn decode_floats(b: &[u8], kind: FloatBytes) -> Vec<f32> {
    match kind {
        FloatBytes::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        FloatBytes::F16 => b
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        FloatBytes::BF16 => b
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
    }
}
