//! Numeric formats a layer's weights can be stored in.
//!
//! The set is the one the bit-allocation document uses (INT2 … FP32). Only the
//! storage width matters to the compression formula; how a format is computed
//! on hardware is the mixed-precision study's business.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A storage precision for a layer's weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    Int2,
    Int3,
    Int4,
    Int6,
    Int8,
    Fp16,
    Fp32,
}

impl Precision {
    /// Every precision, cheapest first (ascending bits).
    pub const ALL: [Precision; 7] = [
        Precision::Int2,
        Precision::Int3,
        Precision::Int4,
        Precision::Int6,
        Precision::Int8,
        Precision::Fp16,
        Precision::Fp32,
    ];

    /// Storage bits per weight.
    pub const fn bits(self) -> u32 {
        match self {
            Precision::Int2 => 2,
            Precision::Int3 => 3,
            Precision::Int4 => 4,
            Precision::Int6 => 6,
            Precision::Int8 => 8,
            Precision::Fp16 => 16,
            Precision::Fp32 => 32,
        }
    }

    /// Position in [`Precision::ALL`]; used to index per-precision arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The canonical upper-case name (`INT4`, `FP16`) used in files and output.
    pub const fn name(self) -> &'static str {
        match self {
            Precision::Int2 => "INT2",
            Precision::Int3 => "INT3",
            Precision::Int4 => "INT4",
            Precision::Int6 => "INT6",
            Precision::Int8 => "INT8",
            Precision::Fp16 => "FP16",
            Precision::Fp32 => "FP32",
        }
    }

    /// Parse a name, case-insensitively (`int4`, `FP16`).
    pub fn parse(name: &str) -> Option<Precision> {
        Precision::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
    }

    /// All canonical names, for error messages.
    pub fn names() -> String {
        Precision::ALL.map(Precision::name).join(", ")
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Precision {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Precision {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Precision::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown precision `{s}` (known: {})",
                Precision::names()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bits_ascend() {
        for (i, p) in Precision::ALL.into_iter().enumerate() {
            assert_eq!(p.index(), i);
            assert_eq!(Precision::parse(&p.name().to_lowercase()), Some(p));
        }
        assert!(Precision::ALL.windows(2).all(|w| w[0].bits() < w[1].bits()));
        assert_eq!(Precision::parse("int5"), None);
    }
}
