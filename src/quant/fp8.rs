//! OCP FP8 E4M3 as a layer's weights or input activations, the way FP8
//! tensor cores (Ada, Hopper) consume them: values divided by an f32 scale
//! chosen so the largest magnitude maps to E4M3's largest (448), then
//! rounded to nearest even through [`Minifloat::E4m3`] (saturating).
//! Weights take one scale per tensor or per output channel; activations one
//! static per-tensor scale from the calibrated range, as TensorRT's FP8
//! recipe does.
//!
//! Why a second rounding grid matters to the search: E4M3 spends its bits on
//! exponent, so its error is relative (about 2⁻⁴ of each value) where INT8's
//! is absolute (a fixed step). Which one loses less depends on the data;
//! [`int_bits_equivalent`] measures it once on a standard normal sample for
//! the inventory's modelled accuracy, while measured models quantize for
//! real with these kernels.

use super::minifloat::Minifloat;
use super::spec::QuantError;
use std::sync::OnceLock;

const E4M3: Minifloat = Minifloat::E4m3;

/// The f32 scale that maps `amax` to E4M3's largest finite value (1 when
/// `amax` is 0 or not finite, so all-zero groups stay zero).
pub fn scale_for(amax: f32) -> f32 {
    let s = amax / E4M3.max_finite();
    if s > 0.0 && s.is_finite() { s } else { 1.0 }
}

/// `x` through E4M3 at `scale`: `decode(encode(x / scale)) · scale`.
#[inline]
pub fn round_trip(x: f32, scale: f32) -> f32 {
    E4M3.round_trip(x / scale) * scale
}

/// Fake-quantize a `rows × (len / rows)` weight matrix to E4M3 with one
/// scale per row (`rows = 1`: one per tensor) into `out`.
pub fn fake_quantize(w: &[f32], rows: usize, out: &mut [f32]) -> Result<(), QuantError> {
    if w.is_empty() {
        return Err(QuantError::Empty);
    }
    let rows = rows.max(1);
    if w.len() % rows != 0 || out.len() != w.len() {
        return Err(QuantError::ShapeMismatch {
            shape: vec![rows, w.len() / rows],
            expected: out.len(),
            actual: w.len(),
        });
    }
    if let Some((index, &value)) = w.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(QuantError::NonFinite { index, value });
    }
    let per = w.len() / rows;
    for (row, dst) in w.chunks(per).zip(out.chunks_mut(per)) {
        let scale = scale_for(row.iter().fold(0.0f32, |m, v| m.max(v.abs())));
        for (d, &v) in dst.iter_mut().zip(row) {
            *d = round_trip(v, scale);
        }
    }
    Ok(())
}

/// Stored bytes of an E4M3 matrix: one byte per value and an f32 scale per
/// row (`rows = 1`: per tensor).
pub fn stored_bytes(len: usize, rows: usize) -> usize {
    len + 4 * rows.max(1)
}

/// A static per-tensor E4M3 activation map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fp8Act {
    pub scale: f32,
}

impl Fp8Act {
    /// From the calibrated clipping range: the larger magnitude maps to 448
    /// (values beyond it saturate).
    pub fn from_range(lo: f32, hi: f32) -> Fp8Act {
        Fp8Act {
            scale: scale_for(lo.abs().max(hi.abs())),
        }
    }

    #[inline]
    pub fn fake_quantize_in_place(&self, xs: &mut [f32]) {
        for x in xs {
            *x = round_trip(*x, self.scale);
        }
    }
}

/// The integer width whose per-tensor symmetric quantization of a standard
/// normal sample has the same mean squared error as E4M3 at an amax scale,
/// by INT8's 4⁻ᵇ error law: `8 + ½·log2(MSE_int8 / MSE_e4m3)`. Computed
/// once (65,536 values from a fixed seed); the inventory's modelled
/// accuracy uses it for FP8 operands.
pub fn int_bits_equivalent() -> f64 {
    static BITS: OnceLock<f64> = OnceLock::new();
    *BITS.get_or_init(|| {
        use rand::SeedableRng;
        use rand_distr::{Distribution, StandardNormal};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(0x000f_8e43);
        let x: Vec<f32> = (0..1 << 16)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let step = amax / 127.0;
        let fp8 = scale_for(amax);
        let (mut int8, mut e4m3) = (0.0f64, 0.0f64);
        for &v in &x {
            let q = (v / step).round().clamp(-127.0, 127.0) * step;
            int8 += f64::from(q - v).powi(2);
            e4m3 += f64::from(round_trip(v, fp8) - v).powi(2);
        }
        8.0 + 0.5 * (int8 / e4m3).log2()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_map_their_largest_value_to_448_per_row() {
        let w = [1.0, -2.0, 0.5, 0.25, 100.0, 3.0];
        let mut out = [0.0; 6];
        fake_quantize(&w, 2, &mut out).unwrap();
        // Each row's amax survives exactly (it maps to 448 = 1.75 · 2⁸).
        assert_eq!(out[1], -2.0);
        assert_eq!(out[4], 100.0);
        // Every value is E4M3 × its row's scale.
        for (r, row) in out.chunks(3).enumerate() {
            let s = scale_for(
                w[r * 3..r * 3 + 3]
                    .iter()
                    .fold(0.0f32, |m, v| m.max(v.abs())),
            );
            for &v in row {
                assert_eq!(E4M3.round_trip(v / s) * s, v);
            }
        }
        // A per-tensor scale rounds the small row more coarsely.
        let mut t = [0.0; 6];
        fake_quantize(&w, 1, &mut t).unwrap();
        let err = |o: &[f32]| o.iter().zip(&w).map(|(a, b)| (a - b).abs()).sum::<f32>();
        assert!(err(&t[..3]) >= err(&out[..3]));
        assert!(matches!(
            fake_quantize(&[f32::NAN, 1.0], 1, &mut [0.0; 2]),
            Err(QuantError::NonFinite { index: 0, .. })
        ));
        assert!(fake_quantize(&[1.0; 3], 2, &mut [0.0; 3]).is_err());
        assert_eq!(stored_bytes(6, 2), 6 + 8);
    }

    #[test]
    fn activations_saturate_beyond_the_calibrated_range() {
        let a = Fp8Act::from_range(-3.0, 7.0);
        let mut xs = [7.0, 70.0, -7.0, 0.0];
        a.fake_quantize_in_place(&mut xs);
        assert_eq!(xs, [7.0, 7.0, -7.0, 0.0]);
        assert_eq!(Fp8Act::from_range(0.0, 0.0).scale, 1.0);
    }

    #[test]
    fn e4m3_loses_more_than_int8_on_normal_data() {
        // Relative error ≈ 2⁻⁴ per value vs a fixed step of amax/127: on
        // Gaussian data FP8 sits between INT5 and INT7.
        let b = int_bits_equivalent();
        assert!((5.0..7.5).contains(&b), "{b}");
    }
}
