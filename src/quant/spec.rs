//! The quantization request: plain data with serde names, so studies can take it
//! straight from TOML params (`scheme = "asymmetric"`) and the CLI can build it
//! from flags. Sizes that belong to a variant (group size, percentile) are
//! separate fields to keep TOML flat.

use serde::{Deserialize, Serialize};

/// How a group's range maps to integer codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// Zero maps to code 0; scale = max|w| / qmax.
    Symmetric,
    /// Affine with a zero point; scale = (max − min) / (2^bits − 1) over the
    /// range widened to include 0 (the PyTorch/TFLite convention), so 0 is
    /// exactly representable and the zero point always fits the code range.
    Asymmetric,
    /// The chaos-evolve document's formula verbatim: the range is *not*
    /// widened, zero_point = clip(round(−min/scale) + qmin). A group lying
    /// entirely on one side of zero clips its zero point and loses part of
    /// its range (block [1, 2, 3, 4] reconstructs as [1, 2, 3, 3]); kept so
    /// the document's quantizer can be measured against the standard one.
    AsymmetricClipped,
    /// Symmetric with the scale rounded up to a power of two (shift-only hardware).
    PowerOfTwo,
}

/// Which values share one scale (and zero point).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// One scale for the whole tensor.
    PerTensor,
    /// One scale per output row (`shape[0]`).
    PerChannel,
    /// Groups of `group_size` along the last (input) dimension within each row.
    PerGroup,
    /// Contiguous blocks of `group_size` over the flattened tensor; the last may be short.
    Block,
}

/// How a group's clipping range is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calibration {
    /// The observed minimum and maximum.
    MinMax,
    /// The `percentile`-th percentile (of |w| for symmetric schemes).
    Percentile,
    /// The clip ratio of the min-max range minimising the group's MSE.
    Mse,
    /// KL-divergence histogram calibration in the style of TensorRT.
    Entropy,
}

/// Storage type of scales; f16 halves the metadata but rounds the scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleDtype {
    F16,
    F32,
}

crate::choice!(Scheme {
    Symmetric => "symmetric",
    Asymmetric => "asymmetric",
    AsymmetricClipped => "asymmetric_clipped",
    PowerOfTwo => "power_of_two",
});
crate::choice!(Granularity {
    PerTensor => "per_tensor",
    PerChannel => "per_channel",
    PerGroup => "per_group",
    Block => "block",
});
crate::choice!(Calibration {
    MinMax => "min_max",
    Percentile => "percentile",
    Mse => "mse",
    Entropy => "entropy",
});

impl Scheme {
    /// Whether groups carry a zero point (the affine schemes).
    pub fn has_zero_point(self) -> bool {
        matches!(self, Scheme::Asymmetric | Scheme::AsymmetricClipped)
    }
}

impl ScaleDtype {
    pub fn bytes(self) -> usize {
        match self {
            ScaleDtype::F16 => 2,
            ScaleDtype::F32 => 4,
        }
    }
}

/// A full quantization request.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantSpec {
    /// Integer bit width, 1..=16 (symmetric and power-of-two need at least 2).
    pub bits: u8,
    pub scheme: Scheme,
    pub granularity: Granularity,
    /// Group size for `PerGroup`, block size for `Block`; ignored otherwise.
    pub group_size: usize,
    pub calibration: Calibration,
    /// Percentile in [50, 100] used by `Calibration::Percentile`.
    pub percentile: f32,
    pub scale_dtype: ScaleDtype,
}

/// Why a [`QuantSpec`] is not a valid request (see [`QuantSpec::validate`]).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("bits must be in 1..=16, got {0}")]
    Bits(u8),
    #[error(
        "{0:?} quantization needs at least 2 bits (1 bit leaves no positive code); use asymmetric"
    )]
    OneBitWithoutZeroPoint(Scheme),
    #[error("group_size must be at least 1")]
    ZeroGroupSize,
    #[error("percentile must be in [50, 100], got {0}")]
    Percentile(f32),
}

/// Why a quantization request could not run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum QuantError {
    #[error("invalid quantization spec: {0}")]
    InvalidSpec(String),
    #[error("invalid quantization spec: {0}")]
    Spec(#[from] SpecError),
    #[error("shape {shape:?} holds {expected} values but {actual} were given")]
    ShapeMismatch {
        shape: Vec<usize>,
        expected: usize,
        actual: usize,
    },
    #[error("tensor is empty")]
    Empty,
    #[error("{len} values is not a positive multiple of the block size {block}")]
    BadLength { len: usize, block: usize },
    #[error("value at flat index {index} is not finite ({value})")]
    NonFinite { index: usize, value: f32 },
    /// A GGUF block field (its scale, or Q4_1's minimum) beyond the f16 it is
    /// stored in: ggml would write inf there and every value of the block
    /// would decode to inf or NaN.
    #[error(
        "{format} block {block} (flat values {start}..{end}): its {field} {value:e} overflows the f16 it is stored in (largest finite f16: 65504; {format} {limit}); ggml would store inf and the block would decode to inf/NaN, so scale the tensor down or use --format int, whose scales saturate",
        start = block * 32,
        end = block * 32 + 32
    )]
    GgufOverflow {
        format: &'static str,
        block: usize,
        field: &'static str,
        value: f32,
        limit: &'static str,
    },
}

impl QuantSpec {
    /// The plain weight recipe: symmetric, per output channel, min-max, f32
    /// scales (the uniform `wN` configurations and the tests' baseline).
    pub const fn per_channel(bits: u8) -> QuantSpec {
        QuantSpec {
            bits,
            scheme: Scheme::Symmetric,
            granularity: Granularity::PerChannel,
            group_size: 32,
            calibration: Calibration::MinMax,
            percentile: 99.9,
            scale_dtype: ScaleDtype::F32,
        }
    }

    /// The chaos-evolve document's quantizer: its asymmetric formula (zero
    /// point clipped, see [`Scheme::AsymmetricClipped`]), signed INT4 over
    /// contiguous blocks, min-max range, f32 scales.
    pub fn chaos_int4(block_size: usize) -> QuantSpec {
        QuantSpec {
            bits: 4,
            scheme: Scheme::AsymmetricClipped,
            granularity: Granularity::Block,
            group_size: block_size,
            calibration: Calibration::MinMax,
            percentile: 99.9,
            scale_dtype: ScaleDtype::F32,
        }
    }

    pub fn validate(&self) -> Result<(), SpecError> {
        if !(1..=16).contains(&self.bits) {
            return Err(SpecError::Bits(self.bits));
        }
        if self.bits < 2 && !self.scheme.has_zero_point() {
            return Err(SpecError::OneBitWithoutZeroPoint(self.scheme));
        }
        if matches!(self.granularity, Granularity::PerGroup | Granularity::Block)
            && self.group_size == 0
        {
            return Err(SpecError::ZeroGroupSize);
        }
        if self.calibration == Calibration::Percentile && !(50.0..=100.0).contains(&self.percentile)
        {
            return Err(SpecError::Percentile(self.percentile));
        }
        Ok(())
    }

    /// Signed code range [−2^(b−1), 2^(b−1) − 1].
    pub fn qrange(&self) -> (i32, i32) {
        qrange(self.bits)
    }
}

pub(crate) fn qrange(bits: u8) -> (i32, i32) {
    let half = 1i32 << (bits - 1);
    (-half, half - 1)
}
