//! The per-value affine map, written once.
//!
//! Both the packed path and `fake_quantize` call these inline functions, so they
//! produce identical bits. Arithmetic is f32 throughout, as a NumPy float32
//! implementation of the chaos-evolve formula would do it, and `round` is
//! round-half-to-even (NumPy's `np.round`). Rounding uses the 1.5·2^23 trick
//! after clamping to a small range: exact ties-to-even for |x| < 2^22, and it
//! vectorises on baseline x86-64 where `roundeven` would be a libm call.

use super::spec::{ScaleDtype, Scheme, qrange};

/// 1.5 · 2^23: adding and subtracting it rounds an f32 of magnitude < 2^22 to
/// the nearest integer, ties to even, under the default rounding mode.
const ROUND_MAGIC: f32 = 12_582_912.0;

#[inline(always)]
pub(crate) fn round_even_small(x: f32) -> f32 {
    (x + ROUND_MAGIC) - ROUND_MAGIC
}

/// Scale and zero point of one group, plus the clamp window that keeps the
/// rounding trick exact. Everything the hot loop touches is f32 so the loop
/// is compare-select and add/multiply only (no saturating float→int casts),
/// which vectorises on baseline SSE2; the small integers involved are exact
/// in f32, so the results equal the integer formula bit for bit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Kernel {
    pub scale: f32,
    pub zp: i32,
    pub qmin: i32,
    pub qmax: i32,
    zpf: f32,
    qminf: f32,
    qmaxf: f32,
    lo: f32,
    hi: f32,
}

/// 2^23: for an integer-valued 0 ≤ u < 2^23, the bits of u + 2^23 minus the
/// bits of 2^23 are u.
const TWO_POW_23: f32 = 8_388_608.0;

impl Kernel {
    #[inline(always)]
    pub fn new(scale: f32, zp: i32, qmin: i32, qmax: i32) -> Kernel {
        // Near the f32 limit the farthest code can decode beyond f32::MAX
        // (an asymmetric zero point rounds the range outwards; a power-of-two
        // scale cannot round up past 2^127): shrink the scale until every
        // code decodes finitely, so such ranges saturate instead of giving
        // infinities. Never taken for ranges within about f32::MAX / 2^16.
        let span = (qmin - zp).abs().max((qmax - zp).abs()) as f32;
        let mut scale = scale;
        if (span * scale).is_infinite() {
            scale = f32::MAX / span;
            while (span * scale).is_infinite() {
                scale = f32::from_bits(scale.to_bits() - 1);
            }
        }
        // Clamping w/scale to one step beyond the reachable codes changes no
        // result but bounds |x| well below 2^22.
        Kernel {
            scale,
            zp,
            qmin,
            qmax,
            zpf: zp as f32,
            qminf: qmin as f32,
            qmaxf: qmax as f32,
            lo: (qmin - zp - 1) as f32,
            hi: (qmax - zp + 1) as f32,
        }
    }

    /// q = clip(round(w / scale) + zp, qmin, qmax), as an exact f32.
    #[inline(always)]
    fn qf(&self, w: f32) -> f32 {
        let x = w / self.scale;
        let x = if x < self.lo { self.lo } else { x };
        let x = if x > self.hi { self.hi } else { x };
        let q = round_even_small(x) + self.zpf;
        let q = if q < self.qminf { self.qminf } else { q };
        if q > self.qmaxf { self.qmaxf } else { q }
    }

    /// The signed code of `w`.
    #[inline(always)]
    pub fn code(&self, w: f32) -> i32 {
        self.qf(w) as i32
    }

    /// The stored code q − qmin of `w`.
    #[inline(always)]
    pub fn ucode(&self, w: f32) -> u16 {
        let u = self.qf(w) - self.qminf;
        ((u + TWO_POW_23).to_bits() - TWO_POW_23.to_bits()) as u16
    }

    /// w' from a stored code q − qmin.
    #[inline(always)]
    pub fn value_u(&self, u: u16) -> f32 {
        (f32::from(u) + self.qminf - self.zpf) * self.scale
    }

    #[inline(always)]
    pub fn fake(&self, w: f32) -> f32 {
        (self.qf(w) - self.zpf) * self.scale
    }
}

/// Round a computed scale to its storage type, keeping it positive and finite:
/// an underflowing scale becomes the smallest positive value of the type and an
/// overflowing one the largest (codes then saturate instead of producing NaN).
#[inline]
pub(crate) fn store_scale(s: f32, dtype: ScaleDtype) -> f32 {
    match dtype {
        ScaleDtype::F32 => {
            if s.is_nan() || s <= 0.0 {
                f32::from_bits(1)
            } else {
                s.min(f32::MAX)
            }
        }
        ScaleDtype::F16 => {
            let min = half::f16::from_bits(1).to_f32();
            let max = half::f16::MAX.to_f32();
            let clamped = if s.is_nan() { min } else { s.clamp(min, max) };
            half::f16::from_f32(clamped).to_f32()
        }
    }
}

/// Smallest power of two ≥ s (s > 0, finite).
#[inline]
fn pow2_ceil(s: f32) -> f32 {
    let bits = s.to_bits();
    let mantissa = bits & 0x007f_ffff;
    let exponent = bits & 0x7f80_0000;
    if exponent == 0 || exponent == 0x7f80_0000 {
        // Subnormal or non-finite: rare, take the slow exact route.
        return s.log2().ceil().exp2().min(f32::MAX);
    }
    if mantissa == 0 {
        s
    } else if exponent == 0x7f00_0000 {
        // 2^128 does not exist in f32; the largest power of two must do.
        f32::from_bits(0x7f00_0000)
    } else {
        f32::from_bits(exponent + 0x0080_0000)
    }
}

/// Scale and zero point for a clipping range [lo, hi].
///
/// Asymmetric: the range is widened to include 0, scale = (hi − lo)/(2^b − 1),
/// zp = round(−lo/scale) + qmin (always within the code range).
/// AsymmetricClipped: the same without widening and with zp clipped to the
/// code range — at b = 4 the chaos-evolve document's formula. A constant
/// range gets scale = |value| (or 1 for zero) so its value reconstructs exactly.
#[inline]
pub(crate) fn kernel_for_range(
    lo: f32,
    hi: f32,
    bits: u8,
    scheme: Scheme,
    dtype: ScaleDtype,
) -> Kernel {
    let (qmin, qmax) = qrange(bits);
    match scheme {
        Scheme::Asymmetric | Scheme::AsymmetricClipped => {
            let constant = hi == lo;
            let (lo, hi) = if scheme == Scheme::Asymmetric {
                (lo.min(0.0), hi.max(0.0))
            } else {
                (lo, hi)
            };
            let levels = ((1u32 << bits) - 1) as f32;
            let mut s = (hi - lo) / levels;
            if !s.is_finite() {
                // hi − lo overflowed: divide first.
                s = hi / levels - lo / levels;
            }
            if constant || s == 0.0 {
                // All values equal: any scale that hits the value exactly.
                let m = hi.abs().max(lo.abs());
                s = if m > 0.0 { m } else { 1.0 };
            }
            let s = store_scale(s, dtype);
            let x = (-lo / s).clamp(-131_072.0, 131_072.0);
            let zp = (round_even_small(x) as i32 + qmin).clamp(qmin, qmax);
            Kernel::new(s, zp, qmin, qmax)
        }
        Scheme::Symmetric | Scheme::PowerOfTwo => {
            let m = hi.abs().max(lo.abs());
            let mut s = m / qmax as f32;
            if s == 0.0 {
                s = 1.0;
            }
            let mut s = store_scale(s, dtype);
            if scheme == Scheme::PowerOfTwo {
                s = store_scale(pow2_ceil(s), dtype);
                // Near the f32 limit codes reach qmin; halve until qmin·s is
                // finite so a power of two remains (Kernel::new would
                // otherwise shrink it to a non-power of two).
                while (qmin as f32 * s).is_infinite() {
                    s *= 0.5;
                }
            }
            Kernel::new(s, 0, qmin, qmax)
        }
    }
}

/// An affine map for activations: calibrate a range once, then fake-quantize
/// every batch with it (f32 scale, no storage rounding).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AffineParams {
    pub scale: f32,
    pub zero_point: i32,
    pub qmin: i32,
    pub qmax: i32,
}

impl AffineParams {
    /// Parameters for the clipping range [lo, hi] (see `calibrate_range`).
    /// `bits` is clamped to 1..=16 (2..=16 for symmetric schemes).
    pub fn from_range(lo: f32, hi: f32, bits: u8, scheme: Scheme) -> AffineParams {
        let min_bits = if scheme.has_zero_point() { 1 } else { 2 };
        let bits = bits.clamp(min_bits, 16);
        let k = kernel_for_range(lo, hi, bits, scheme, ScaleDtype::F32);
        AffineParams {
            scale: k.scale,
            zero_point: k.zp,
            qmin: k.qmin,
            qmax: k.qmax,
        }
    }

    fn kernel(&self) -> Kernel {
        Kernel::new(self.scale, self.zero_point, self.qmin, self.qmax)
    }

    /// The integer code of one value.
    pub fn code(&self, x: f32) -> i32 {
        self.kernel().code(x)
    }

    /// Replace each value by its quantize→dequantize image.
    pub fn fake_quantize_in_place(&self, xs: &mut [f32]) {
        let k = self.kernel();
        for x in xs.iter_mut() {
            *x = k.fake(*x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_ties_to_even_like_numpy() {
        for (x, r) in [
            (0.5, 0.0),
            (1.5, 2.0),
            (2.5, 2.0),
            (-0.5, 0.0),
            (-1.5, -2.0),
            (2.4, 2.0),
            (-2.6, -3.0),
        ] {
            assert_eq!(round_even_small(x), r, "round({x})");
        }
    }

    /// Regression (proptest `degenerate_tensors_stay_finite`, CI seed): a
    /// 2-bit power-of-two scale for values near f32::MAX decoded −2·2^127 = −inf.
    #[test]
    fn power_of_two_scales_near_the_f32_limit_stay_finite() {
        let w = [-0.932_620_4 * f32::MAX, 0.0, 1.0];
        for dtype in [ScaleDtype::F32, ScaleDtype::F16] {
            let k = kernel_for_range(w[0], w[2], 2, Scheme::PowerOfTwo, dtype);
            assert!((k.qmin as f32 * k.scale).is_finite(), "{k:?}");
        }
    }

    /// Regression (proptest `degenerate_tensors_stay_finite`, CI seed): a
    /// 2-bit asymmetric range [0, ~f32::MAX] put its zero point so that code 0
    /// decoded to −2·scale = −inf.
    #[test]
    fn asymmetric_ranges_near_the_f32_limit_decode_finitely() {
        for (lo, hi) in [
            (0.0, 0.99 * f32::MAX),
            (-f32::MAX, f32::MAX),
            (-0.9 * f32::MAX, 0.0),
        ] {
            for bits in [1u8, 2, 3, 8] {
                let k = kernel_for_range(lo, hi, bits, Scheme::Asymmetric, ScaleDtype::F32);
                for u in 0..=(k.qmax - k.qmin) as u16 {
                    assert!(k.value_u(u).is_finite(), "[{lo}, {hi}] {bits} bits: {k:?}");
                }
            }
        }
    }

    #[test]
    fn pow2_ceil_rounds_up() {
        assert_eq!(pow2_ceil(1.0), 1.0);
        assert_eq!(pow2_ceil(0.3), 0.5);
        assert_eq!(pow2_ceil(5.0), 8.0);
        assert_eq!(pow2_ceil(0.125), 0.125);
    }

    #[test]
    fn constant_ranges_reconstruct_exactly() {
        for bits in [1u8, 2, 4, 8, 16] {
            for c in [3.7f32, -0.02, 0.0, 1e-30, -1e30] {
                for scheme in [Scheme::Asymmetric, Scheme::AsymmetricClipped] {
                    let k = kernel_for_range(c, c, bits, scheme, ScaleDtype::F32);
                    assert_eq!(k.fake(c), c, "{scheme:?} bits {bits} value {c}");
                }
            }
        }
        for c in [3.7f32, -0.02, 0.0] {
            let k = kernel_for_range(c, c, 4, Scheme::Symmetric, ScaleDtype::F32);
            assert!((k.fake(c) - c).abs() <= c.abs() / 7.0 / 2.0 + f32::EPSILON);
        }
    }

    #[test]
    fn f16_scales_stay_positive_and_finite() {
        let k = kernel_for_range(-1e9, 1e9, 4, Scheme::Symmetric, ScaleDtype::F16);
        assert!(k.scale.is_finite() && k.scale > 0.0);
        let k = kernel_for_range(-1e-12, 1e-12, 4, Scheme::Asymmetric, ScaleDtype::F16);
        assert!(k.scale.is_finite() && k.scale > 0.0);
        assert!(k.fake(1e-12).is_finite());
    }
}
