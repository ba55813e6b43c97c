//! The one scalar type that crosses module boundaries: parameter values,
//! metrics and artifact table cells are all `Value`s.
//!
//! Everything that reaches an output file is formatted here, so that a float
//! prints the same way in `trials.csv`, `summary.csv`, every artifact and every
//! snapshot: the shortest string that round-trips (`{:?}` on `f64`), which is
//! deterministic across runs, thread counts and platforms.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A scalar cell. Floats keep their exact bits through the journal (JSON),
/// including NaN and infinities, which JSON numbers cannot hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Value {
    Int(i64),
    Float(#[serde(with = "json_float")] f64),
    Bool(bool),
    Text(String),
}

impl Value {
    /// The value as a number for statistics; booleans count as 0/1 so that the
    /// mean of a boolean metric is the fraction of trials where it held.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Text(_) => None,
        }
    }
}

/// Deterministic shortest round-trip formatting for output files.
pub fn format_float(x: f64) -> String {
    if x == 0.0 {
        // Normalise -0.0 so that sign-of-zero noise never shows up as drift.
        "0.0".to_string()
    } else {
        format!("{x:?}")
    }
}

/// Canonical text of a parameter value: typed (strings quoted, floats with a
/// decimal point) so `4` and `4.0` and `"4"` never collide.
pub fn canonical_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => format_float(*f),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(a) => {
            let items: Vec<String> = a.iter().map(canonical_value).collect();
            format!("[{}]", items.join(","))
        }
        toml::Value::Table(t) => {
            let items: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k}={}", canonical_value(v)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
    }
}

/// A parameter value as a CSV cell: strings bare, the rest canonical.
pub fn display_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => canonical_value(other),
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&format_float(*x)),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Text(s) => f.write_str(s),
        }
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}
impl From<f32> for Value {
    fn from(x: f32) -> Self {
        Value::Float(f64::from(x))
    }
}
impl From<i64> for Value {
    fn from(x: i64) -> Self {
        Value::Int(x)
    }
}
impl From<usize> for Value {
    fn from(x: usize) -> Self {
        Value::Int(x as i64)
    }
}
impl From<u32> for Value {
    fn from(x: u32) -> Self {
        Value::Int(i64::from(x))
    }
}
impl From<bool> for Value {
    fn from(x: bool) -> Self {
        Value::Bool(x)
    }
}
impl From<&str> for Value {
    fn from(x: &str) -> Self {
        Value::Text(x.to_string())
    }
}
impl From<String> for Value {
    fn from(x: String) -> Self {
        Value::Text(x)
    }
}

/// JSON has no NaN or infinity; store those as strings so the journal keeps
/// every float bit-exact.
mod json_float {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() {
            s.serialize_f64(*x)
        } else if x.is_nan() {
            s.serialize_str("NaN")
        } else if *x > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Num(f64),
        Str(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Num(x) => Ok(x),
            Repr::Str(s) => match s.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!("not a float: {other}"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_shortest_round_trip() {
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(1.0), "1.0");
        assert_eq!(format_float(-0.0), "0.0");
        assert_eq!(format_float(1e-9), "1e-9");
        assert_eq!(format_float(f64::NAN), "NaN");
    }

    #[test]
    fn journal_round_trip_keeps_non_finite_floats() {
        for v in [
            Value::Float(f64::NAN),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
            Value::Float(0.1 + 0.2),
            Value::Int(-3),
            Value::Bool(true),
            Value::Text("NaN".into()),
        ] {
            let json = serde_json::to_string(&v).unwrap();
            let back: Value = serde_json::from_str(&json).unwrap();
            assert_eq!(format!("{back}"), format!("{v}"), "{json}");
        }
    }
}
