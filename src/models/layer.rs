//! One layer of a model inventory and the inventory itself.
//!
//! A layer carries what an allocation heuristic may look at (type, position,
//! size, the measured or modelled loss at each precision, a gradient
//! sensitivity and weight/activation statistics). Every field is checked as it
//! is read, so a bad value in a user's JSON file is reported at its line and
//! column by the JSON parser rather than failing later without a location.

use super::precision::Precision;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a layer does; heuristics treat the types differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LayerType {
    Embedding,
    Conv,
    Linear,
    Attention,
    /// Any normalisation layer (LayerNorm, RMSNorm, BatchNorm).
    LayerNorm,
    Classifier,
}

impl LayerType {
    pub const ALL: [LayerType; 6] = [
        LayerType::Embedding,
        LayerType::Conv,
        LayerType::Linear,
        LayerType::Attention,
        LayerType::LayerNorm,
        LayerType::Classifier,
    ];

    pub const fn index(self) -> usize {
        self as usize
    }

    pub const fn name(self) -> &'static str {
        match self {
            LayerType::Embedding => "Embedding",
            LayerType::Conv => "Conv",
            LayerType::Linear => "Linear",
            LayerType::Attention => "Attention",
            LayerType::LayerNorm => "LayerNorm",
            LayerType::Classifier => "Classifier",
        }
    }
}

impl fmt::Display for LayerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Accuracy loss (a fraction in [0, 1)) when only this layer is stored at
/// each precision, indexed by [`Precision::index`]. In JSON an object keyed by
/// precision name, every precision required.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SensitivityCurve(pub [f64; 7]);

impl SensitivityCurve {
    pub fn loss(&self, p: Precision) -> f64 {
        self.0[p.index()]
    }
}

impl Serialize for SensitivityCurve {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(7))?;
        for p in Precision::ALL {
            map.serialize_entry(p.name(), &self.0[p.index()])?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for SensitivityCurve {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CurveVisitor;
        impl<'de> Visitor<'de> for CurveVisitor {
            type Value = SensitivityCurve;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "an object mapping each precision ({}) to an accuracy loss",
                    Precision::names()
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut losses = [f64::NAN; 7];
                let mut seen = [false; 7];
                while let Some(key) = map.next_key::<String>()? {
                    let p = Precision::parse(&key).ok_or_else(|| {
                        de::Error::custom(format!(
                            "sensitivity: unknown precision `{key}` (known: {})",
                            Precision::names()
                        ))
                    })?;
                    let loss: f64 = map.next_value().map_err(|e| {
                        de::Error::custom(format!("sensitivity.{key}: must be a number ({e})"))
                    })?;
                    if !(0.0..1.0).contains(&loss) {
                        return Err(de::Error::custom(format!(
                            "sensitivity.{key}: accuracy loss must be in [0, 1), got {loss}"
                        )));
                    }
                    losses[p.index()] = loss;
                    seen[p.index()] = true;
                }
                if let Some(p) = Precision::ALL.into_iter().find(|p| !seen[p.index()]) {
                    return Err(de::Error::custom(format!(
                        "sensitivity: missing precision `{}`",
                        p.name()
                    )));
                }
                Ok(SensitivityCurve(losses))
            }
        }
        d.deserialize_map(CurveVisitor)
    }
}

/// One layer and the signals heuristics may use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerInfo {
    pub name: String,
    pub layer_type: LayerType,
    /// 0-based position in the inventory.
    pub index: usize,
    /// 0 for the first layer, 1 for the last.
    #[serde(deserialize_with = "unit_interval")]
    pub relative_position: f64,
    /// Number of weights. Read as a signed integer so that a negative count
    /// gets a clear message instead of a type error.
    #[serde(deserialize_with = "param_count")]
    pub params: u64,
    pub sensitivity: SensitivityCurve,
    /// Hessian/gradient-based importance estimate in [0, 1].
    #[serde(deserialize_with = "unit_interval")]
    pub gradient_sensitivity: f64,
    #[serde(deserialize_with = "non_negative")]
    pub weight_std: f64,
    #[serde(deserialize_with = "non_negative")]
    pub activation_range: f64,
}

impl LayerInfo {
    /// Accuracy loss when this layer alone is stored at `p`.
    pub fn loss_at(&self, p: Precision) -> f64 {
        self.sensitivity.loss(p)
    }
}

fn param_count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = i128::deserialize(d)?;
    u64::try_from(n)
        .map_err(|_| de::Error::custom(format!("params: must be a non-negative count, got {n}")))
}

fn unit_interval<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let x = f64::deserialize(d)?;
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(de::Error::custom(format!("must be in [0, 1], got {x}")))
    }
}

fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let x = f64::deserialize(d)?;
    if x >= 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err(de::Error::custom(format!(
            "must be a finite non-negative number, got {x}"
        )))
    }
}

/// A model as a list of layers, in execution order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// Short name (`train`, `my-model`).
    pub name: String,
    /// What the layers describe (`LLaMA-7B-like`).
    pub family: String,
    pub layers: Vec<LayerInfo>,
}

/// Largest Σ params an inventory may hold: its fp32 size, 32 · Σ params
/// bits, must fit in u64, and then so does every allocation's size and
/// every partial sum the evaluator and the exact solver form.
pub const MAX_TOTAL_PARAMS: u64 = u64::MAX / 32;

impl Inventory {
    /// Σ params.
    ///
    /// # Panics
    /// If the sum exceeds [`MAX_TOTAL_PARAMS`]; loaded inventories are
    /// checked with [`Inventory::oversized_layer`] first.
    pub fn total_params(&self) -> u64 {
        self.layers
            .iter()
            .try_fold(0u64, |a, l| a.checked_add(l.params))
            .filter(|&t| t <= MAX_TOTAL_PARAMS)
            .expect("inventory sizes are checked when it is loaded")
    }

    /// The first layer at which the running Σ params exceeds
    /// [`MAX_TOTAL_PARAMS`], if any. Checked, not wrapping: in a release
    /// build a wrapped sum is a small number and the optimum silently wrong.
    pub fn oversized_layer(&self) -> Option<usize> {
        let mut total = 0u64;
        self.layers.iter().position(|l| {
            match total
                .checked_add(l.params)
                .filter(|&t| t <= MAX_TOTAL_PARAMS)
            {
                Some(t) => {
                    total = t;
                    false
                }
                None => true,
            }
        })
    }

    pub fn len(&self) -> usize {
        self.layers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}
