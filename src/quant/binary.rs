//! Binary and ternary weights: the extreme end of weight compression, where a
//! weight keeps only its sign (binary) or its sign or zero (ternary) and a
//! group of weights shares one float scale.
//!
//! Why separate from the affine kernel: these quantizers do not map a range
//! onto a code grid. Their scale is a statistic of the weights chosen to
//! minimise the L2 error of a sign pattern:
//!
//! - **binary** (XNOR-Net, Rastegari et al. 2016): `q = α · sign(w)` with
//!   `α = mean |w|` over the group (the L2-optimal scale for a fixed sign
//!   pattern); `sign(0) = +1`. One bit per weight: 1 = +α, 0 = −α.
//! - **ternary** (TWN, Li et al. 2016): threshold `Δ = 0.7 · mean |w|`,
//!   `q = α · sign(w)` where `|w| > Δ`, else 0, with `α` = the mean of `|w|`
//!   over the weights above the threshold (0 when there are none). Two bits
//!   per weight: 0 → 0, 1 → +α, 2 → −α (3 is never written).
//!
//! Groups follow `Layout` (per-tensor, per-channel = per output row,
//! per-group along the last axis, block); each group's scale is stored as
//! IEEE f16 and the stored f16 value is the one dequantization uses, so
//! [`ExtremeTensor::dequantize`] equals [`fake_quantize_extreme`] bit for
//! bit. Size accounting matches the hardware cost model
//! (`crate::hw::cost::weight_bytes` with 1 or 2 bits, no zero point):
//! `⌈n · bits / 8⌉ + 2 · groups` bytes.

use super::layout::Layout;
use super::pack::{pack, packed_len, unpack};
use super::spec::{Calibration, Granularity, QuantError, QuantSpec, ScaleDtype, Scheme};
use half::f16;
use serde::{Deserialize, Serialize};

/// Which sign quantizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extreme {
    /// {−α, +α}, 1 bit per weight.
    Binary,
    /// {−α, 0, +α}, 2 bits per weight.
    Ternary,
}

/// TWN's threshold factor: Δ = 0.7 · mean |w|.
pub const TERNARY_THRESHOLD: f32 = 0.7;

impl Extreme {
    /// Stored bits per weight code.
    pub fn bits(self) -> u8 {
        match self {
            Extreme::Binary => 1,
            Extreme::Ternary => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Extreme::Binary => "binary",
            Extreme::Ternary => "ternary",
        }
    }
}

/// A binary or ternary quantization request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExtremeSpec {
    pub kind: Extreme,
    pub granularity: Granularity,
    /// Used by per-group and block granularity.
    pub group_size: usize,
}

impl ExtremeSpec {
    /// A group size where the granularity needs one, checked without a shape.
    pub fn validate(&self) -> Result<(), QuantError> {
        if matches!(self.granularity, Granularity::PerGroup | Granularity::Block)
            && self.group_size == 0
        {
            return Err(QuantError::InvalidSpec(format!(
                "{} weights with {:?} granularity need a group size ≥ 1",
                self.kind.name(),
                self.granularity
            )));
        }
        Ok(())
    }

    pub(crate) fn layout(&self, shape: &[usize], len: usize) -> Result<Layout, QuantError> {
        // The layout only reads granularity and group size; the rest of this
        // spec is a valid placeholder.
        let spec = QuantSpec {
            bits: 2,
            scheme: Scheme::Symmetric,
            granularity: self.granularity,
            group_size: self.group_size,
            calibration: Calibration::MinMax,
            percentile: 99.9,
            scale_dtype: ScaleDtype::F16,
        };
        Layout::new(shape, len, &spec)
    }
}

/// Visit every group as a contiguous slice range.
fn groups(l: &Layout, mut f: impl FnMut(usize, usize)) {
    let rows = l.numel / l.row_len;
    for r in 0..rows {
        let row_start = r * l.row_len;
        let mut s = row_start;
        while s < row_start + l.row_len {
            let e = (s + l.group_len).min(row_start + l.row_len);
            f(s, e);
            s = e;
        }
    }
}

/// The group's scale (rounded to the stored f16) and codes.
fn quantize_group(kind: Extreme, w: &[f32], codes: &mut [u16]) -> f16 {
    let mean_abs = w.iter().map(|x| f64::from(x.abs())).sum::<f64>() / w.len().max(1) as f64;
    match kind {
        Extreme::Binary => {
            for (c, &x) in codes.iter_mut().zip(w) {
                *c = u16::from(x >= 0.0);
            }
            f16::from_f64(mean_abs)
        }
        Extreme::Ternary => {
            let delta = f64::from(TERNARY_THRESHOLD) * mean_abs;
            let (mut sum, mut count) = (0.0f64, 0usize);
            for (c, &x) in codes.iter_mut().zip(w) {
                let a = f64::from(x.abs());
                *c = if a > delta {
                    sum += a;
                    count += 1;
                    if x > 0.0 { 1 } else { 2 }
                } else {
                    0
                };
            }
            f16::from_f64(if count == 0 { 0.0 } else { sum / count as f64 })
        }
    }
}

#[inline]
fn dequant_code(kind: Extreme, code: u16, scale: f32) -> f32 {
    match (kind, code) {
        (_, 1) => scale,
        (Extreme::Binary, _) | (Extreme::Ternary, 2) => -scale,
        (Extreme::Ternary, _) => 0.0,
    }
}

fn check_finite(w: &[f32]) -> Result<(), QuantError> {
    match w.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(QuantError::InvalidSpec(format!(
            "weight {i} is {} (binary/ternary scales need finite weights)",
            w[i]
        ))),
        None => Ok(()),
    }
}

/// Write the binary / ternary reconstruction of `w` into `out`.
pub fn fake_quantize_extreme(
    w: &[f32],
    shape: &[usize],
    spec: &ExtremeSpec,
    out: &mut [f32],
) -> Result<(), QuantError> {
    let l = spec.layout(shape, w.len())?;
    check_finite(w)?;
    let mut codes = vec![0u16; l.group_len];
    groups(&l, |s, e| {
        let c = &mut codes[..e - s];
        let scale = quantize_group(spec.kind, &w[s..e], c).to_f32();
        for (o, &k) in out[s..e].iter_mut().zip(c.iter()) {
            *o = dequant_code(spec.kind, k, scale);
        }
    });
    Ok(())
}

/// A packed binary or ternary tensor: codes at 1 or 2 bits, LSB first
/// (`crate::quant::pack`), one f16 scale per group.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtremeTensor {
    pub spec: ExtremeSpec,
    pub shape: Vec<usize>,
    pub codes: Vec<u8>,
    /// f16 bit patterns, one per group in row-major group order.
    pub scales: Vec<u16>,
}

impl ExtremeTensor {
    pub fn quantize(
        w: &[f32],
        shape: &[usize],
        spec: &ExtremeSpec,
    ) -> Result<ExtremeTensor, QuantError> {
        let l = spec.layout(shape, w.len())?;
        check_finite(w)?;
        let mut codes = vec![0u16; w.len()];
        let mut scales = Vec::with_capacity(l.n_groups());
        groups(&l, |s, e| {
            scales.push(quantize_group(spec.kind, &w[s..e], &mut codes[s..e]).to_bits());
        });
        let bits = spec.kind.bits();
        let mut packed = vec![0u8; packed_len(w.len(), bits)];
        pack(&codes, bits, &mut packed);
        Ok(ExtremeTensor {
            spec: *spec,
            shape: shape.to_vec(),
            codes: packed,
            scales,
        })
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dequantize(&self) -> Vec<f32> {
        let n = self.len();
        let mut codes = vec![0u16; n];
        unpack(&self.codes, self.spec.kind.bits(), &mut codes);
        let mut out = vec![0.0f32; n];
        let l = self
            .spec
            .layout(&self.shape, n)
            .expect("the layout was valid when quantized");
        let mut g = 0;
        groups(&l, |s, e| {
            let scale = f16::from_bits(self.scales[g]).to_f32();
            g += 1;
            for (o, &k) in out[s..e].iter_mut().zip(&codes[s..e]) {
                *o = dequant_code(self.spec.kind, k, scale);
            }
        });
        out
    }

    /// Stored bytes: packed codes plus 2-byte scales.
    pub fn size_bytes(&self) -> usize {
        self.codes.len() + 2 * self.scales.len()
    }

    /// True bits per weight, scales included.
    pub fn bits_per_weight(&self) -> f64 {
        self.size_bytes() as f64 * 8.0 / self.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 37 + 11) % 101) as f32 - 50.0) / 13.0)
            .collect()
    }

    fn spec(kind: Extreme, granularity: Granularity, group_size: usize) -> ExtremeSpec {
        ExtremeSpec {
            kind,
            granularity,
            group_size,
        }
    }

    #[test]
    fn binary_is_sign_times_mean_abs_per_channel() {
        let w = [1.0f32, -3.0, 0.0, 2.0, -0.5, -0.5, 0.25, 0.75];
        let s = spec(Extreme::Binary, Granularity::PerChannel, 0);
        let mut out = [0.0; 8];
        fake_quantize_extreme(&w, &[2, 4], &s, &mut out).unwrap();
        // Row 0: mean |w| = 1.5; row 1: 0.5 (both exact in f16).
        assert_eq!(out, [1.5, -1.5, 1.5, 1.5, -0.5, -0.5, 0.5, 0.5]);
    }

    #[test]
    fn ternary_uses_twn_threshold_and_mean_above_it() {
        // mean |w| = 1.0 → Δ = 0.7; above: 2.0, −1.5, 1.0 → α = 1.5.
        let w = [2.0f32, -1.5, 0.5, -0.5, 1.0, 0.0];
        let s = spec(Extreme::Ternary, Granularity::PerTensor, 0);
        let mut out = [9.0; 6];
        fake_quantize_extreme(&w, &[6], &s, &mut out).unwrap();
        assert_eq!(out, [1.5, -1.5, 0.0, 0.0, 1.5, 0.0]);
        // All-zero group: scale 0, everything 0.
        let mut z = [1.0; 4];
        fake_quantize_extreme(&[0.0; 4], &[4], &s, &mut z).unwrap();
        assert_eq!(z, [0.0; 4]);
    }

    #[test]
    fn packed_round_trip_equals_fake_quantize_and_sizes_are_true() {
        let (rows, cols) = (6usize, 50usize);
        let w = weights(rows * cols);
        for kind in [Extreme::Binary, Extreme::Ternary] {
            for (granularity, g, groups) in [
                (Granularity::PerTensor, 0, 1),
                (Granularity::PerChannel, 0, rows),
                (Granularity::PerGroup, 32, rows * 2),
            ] {
                let s = spec(kind, granularity, g);
                let t = ExtremeTensor::quantize(&w, &[rows, cols], &s).unwrap();
                let mut fake = vec![0.0; w.len()];
                fake_quantize_extreme(&w, &[rows, cols], &s, &mut fake).unwrap();
                assert_eq!(t.dequantize(), fake, "{kind:?} {granularity:?}");
                // Every reconstruction is one of the group's levels.
                let levels: std::collections::BTreeSet<u32> =
                    fake.iter().map(|x| x.abs().to_bits()).collect();
                assert!(levels.len() <= groups + usize::from(kind == Extreme::Ternary));
                let bits = usize::from(kind.bits());
                let expected = (rows * cols * bits).div_ceil(8) + 2 * groups;
                assert_eq!(t.size_bytes(), expected);
                assert_eq!(t.scales.len(), groups);
                let bpw = t.bits_per_weight();
                assert!((bpw - expected as f64 * 8.0 / (rows * cols) as f64).abs() < 1e-12);
                // The cost model charges the same bytes for the same choice.
                let shape = crate::hw::LayerShape {
                    weights: (rows * cols) as u64,
                    rows: rows as u64,
                    cols: cols as u64,
                    macs: 0,
                    weight_reads: 0,
                    act_in: 0,
                    act_out: 0,
                };
                let q = crate::hw::QuantChoice {
                    weight_bits: kind.bits(),
                    act_bits: 8,
                    layout: match granularity {
                        Granularity::PerTensor => crate::hw::ScaleLayout::PerTensor,
                        Granularity::PerChannel => crate::hw::ScaleLayout::PerChannel,
                        _ => crate::hw::ScaleLayout::PerGroup(g as u32),
                    },
                    weight_zero_point: false,
                    wide_zero_point: false,
                    pow2_scale: false,
                    signed_activations: false,
                    fp8: false,
                };
                let (modelled, _) = crate::hw::cost::weight_bytes(&shape, &q);
                assert_eq!(modelled, expected as f64);
            }
        }
    }

    #[test]
    fn ternary_beats_binary_in_error_and_binary_is_one_bit() {
        let w = weights(4096);
        let err = |kind| {
            let mut out = vec![0.0; w.len()];
            let s = spec(kind, Granularity::PerChannel, 0);
            fake_quantize_extreme(&w, &[64, 64], &s, &mut out).unwrap();
            w.iter()
                .zip(&out)
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum::<f64>()
        };
        assert!(err(Extreme::Ternary) < err(Extreme::Binary));
        let t = ExtremeTensor::quantize(
            &w,
            &[64, 64],
            &spec(Extreme::Binary, Granularity::PerChannel, 0),
        )
        .unwrap();
        // 1 bit + a 16-bit scale per 64 weights = 1.25 bits per weight.
        assert_eq!(t.bits_per_weight(), 1.25);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let s = spec(Extreme::Binary, Granularity::PerTensor, 0);
        let mut out = [0.0; 3];
        assert!(fake_quantize_extreme(&[1.0, f32::NAN, 2.0], &[3], &s, &mut out).is_err());
        assert!(ExtremeTensor::quantize(&[1.0, 2.0], &[3], &s).is_err());
        let zero_group = spec(Extreme::Ternary, Granularity::PerGroup, 0);
        assert!(ExtremeTensor::quantize(&[1.0, 2.0], &[2], &zero_group).is_err());
    }
}
