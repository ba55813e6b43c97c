//! The chaos-evolve hot case — asymmetric, min-max, f32 scales, blocks of 4 —
//! computed eight blocks at a time in structure-of-arrays form, so scales,
//! zero points and codes are all lane-wise arithmetic the compiler turns into
//! SIMD (a scalar loop spends most of its time in per-block divisions).
//! Results are identical to `kernel_for_range` + `Kernel` (a test checks); any
//! block whose scale is not a normal positive number falls back to them.

// Lane-indexed loops over several arrays at once are the point here.
#![allow(clippy::needless_range_loop)]

use super::kernel::{kernel_for_range, round_even_small};
use super::spec::{QuantSpec, Scheme, qrange};

const L: usize = 8;
const G: usize = 4;
/// Blocks per call, and values per call.
pub(crate) const LANES: usize = L;
pub(crate) const VALUES: usize = L * G;
const TWO_POW_23: f32 = 8_388_608.0;

/// Scales, zero points and codes of eight blocks, lane-major: `u[k][j]` is
/// the code q − qmin of value k of block j.
pub(crate) struct Lanes {
    pub s: [f32; L],
    pub zpf: [f32; L],
    pub u: [[u32; L]; G],
}

impl Lanes {
    /// Zero point of block j as stored.
    #[inline(always)]
    pub fn zp(&self, j: usize) -> i32 {
        self.zpf[j] as i32
    }

    /// Codes of the 32 values in order, as u16 (for generic packing).
    #[inline(always)]
    pub fn write_codes(&self, out: &mut [u16]) {
        for j in 0..L {
            for k in 0..G {
                out[j * G + k] = self.u[k][j] as u16;
            }
        }
    }

    /// 4-bit packing straight from the lanes: 16 bytes, low nibble first.
    #[inline(always)]
    pub fn write_nibbles(&self, out: &mut [u8]) {
        for j in 0..L {
            out[2 * j] = (self.u[0][j] | (self.u[1][j] << 4)) as u8;
            out[2 * j + 1] = (self.u[2][j] | (self.u[3][j] << 4)) as u8;
        }
    }

    /// Dequantized values in order: (u + qmin − zp) · scale, as `Kernel::value_u`.
    #[inline(always)]
    pub fn write_values(&self, qmin: i32, out: &mut [f32]) {
        let qminf = qmin as f32;
        for j in 0..L {
            let (base, s) = (qminf - self.zpf[j], self.s[j]);
            for k in 0..G {
                out[j * G + k] = (self.u[k][j] as f32 + base) * s;
            }
        }
    }
}

/// Quantize 8 blocks of 4 (`xs.len() == 32`); `None` if a value is not finite.
#[inline(always)]
pub(crate) fn eight_blocks(xs: &[f32], spec: &QuantSpec) -> Option<Lanes> {
    let (qmin, qmax) = qrange(spec.bits);
    let (qminf, qmaxf) = (qmin as f32, qmax as f32);
    let levels = ((1u32 << spec.bits) - 1) as f32;
    let mut x = [[0f32; L]; G];
    for j in 0..L {
        for k in 0..G {
            x[k][j] = xs[j * G + k];
        }
    }
    let mut lo = x[0];
    let mut hi = x[0];
    let mut bad = [0u32; L];
    for xk in &x {
        for j in 0..L {
            let v = xk[j];
            lo[j] = if v < lo[j] { v } else { lo[j] };
            hi[j] = if v > hi[j] { v } else { hi[j] };
            bad[j] |= (v.to_bits() & 0x7f80_0000).wrapping_add(0x0080_0000);
        }
    }
    if bad.iter().fold(0, |a, &b| a | b) & 0x8000_0000 != 0 {
        return None;
    }
    let mut out = Lanes {
        s: [0f32; L],
        zpf: [0f32; L],
        u: [[0u32; L]; G],
    };
    // The standard scheme widens each range to include 0 (see `kernel_for_range`).
    let widen = spec.scheme == Scheme::Asymmetric;
    let (mut wlo, mut whi) = (lo, hi);
    let mut normal = true;
    for j in 0..L {
        normal &= hi[j] > lo[j];
        if widen {
            wlo[j] = if wlo[j] > 0.0 { 0.0 } else { wlo[j] };
            whi[j] = if whi[j] < 0.0 { 0.0 } else { whi[j] };
        }
        out.s[j] = (whi[j] - wlo[j]) / levels;
        normal &= out.s[j] >= f32::MIN_POSITIVE && out.s[j] <= f32::MAX;
    }
    if !normal {
        // Constant blocks, overflowing ranges, subnormal scales: the scalar path.
        for j in 0..L {
            let k = kernel_for_range(lo[j], hi[j], spec.bits, spec.scheme, spec.scale_dtype);
            out.s[j] = k.scale;
            out.zpf[j] = k.zp as f32;
            for kk in 0..G {
                out.u[kk][j] = u32::from(k.ucode(x[kk][j]));
            }
        }
        return Some(out);
    }
    for j in 0..L {
        let z = -wlo[j] / out.s[j];
        let z = if z < -131_072.0 { -131_072.0 } else { z };
        let z = if z > 131_072.0 { 131_072.0 } else { z };
        let q = round_even_small(z) + qminf;
        let q = if q < qminf { qminf } else { q };
        out.zpf[j] = if q > qmaxf { qmaxf } else { q };
    }
    for k in 0..G {
        for j in 0..L {
            let zpf = out.zpf[j];
            let (clo, chi) = (qminf - zpf - 1.0, qmaxf - zpf + 1.0);
            let v = x[k][j] / out.s[j];
            let v = if v < clo { clo } else { v };
            let v = if v > chi { chi } else { v };
            let q = round_even_small(v) + zpf;
            let q = if q < qminf { qminf } else { q };
            let q = if q > qmaxf { qmaxf } else { q };
            out.u[k][j] = (q - qminf + TWO_POW_23).to_bits() - TWO_POW_23.to_bits();
        }
    }
    Some(out)
}

/// Whether `eight_blocks` applies to groups of `g` under `spec`.
pub(crate) fn applies(g: usize, spec: &QuantSpec) -> bool {
    use super::spec::{Calibration, ScaleDtype};
    g == G
        && spec.scheme.has_zero_point()
        && spec.calibration == Calibration::MinMax
        && spec.scale_dtype == ScaleDtype::F32
}

/// The scalar reference for one block, for tests.
#[cfg(test)]
fn scalar(xs: &[f32], spec: &QuantSpec) -> (super::kernel::Kernel, Vec<u16>) {
    let (lo, hi) = super::calibrate::min_max(xs);
    let k = kernel_for_range(lo, hi, spec.bits, spec.scheme, spec.scale_dtype);
    (k, xs.iter().map(|&w| k.ucode(w)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_the_scalar_kernel(bits in 1u8..=16, mag in prop::sample::select(vec![1e-30f32, 1e-3, 1.0, 1e6, 1e30]),
                                     raw in prop::collection::vec(-1.0f32..1.0, 32), consts in any::<u8>(),
                                     shift in prop::sample::select(vec![0.0f32, 0.9, -0.9]), clipped in any::<bool>()) {
            // Shifted blocks lie on one side of zero, where the two schemes differ.
            let mut xs: Vec<f32> = raw.iter().map(|v| (v + shift) * mag).collect();
            // Make some blocks constant to exercise the fallback.
            for j in 0..8 {
                if consts & (1 << j) != 0 {
                    let c = xs[j * 4];
                    xs[j * 4..j * 4 + 4].fill(c);
                }
            }
            let scheme = if clipped { Scheme::AsymmetricClipped } else { Scheme::Asymmetric };
            let spec = QuantSpec { bits, scheme, ..QuantSpec::chaos_int4(4) };
            let lanes = eight_blocks(&xs, &spec).unwrap();
            let mut u = [0u16; 32];
            lanes.write_codes(&mut u);
            let mut vals = [0f32; 32];
            lanes.write_values(spec.qrange().0, &mut vals);
            for j in 0..8 {
                let (k, codes) = scalar(&xs[j * 4..j * 4 + 4], &spec);
                prop_assert_eq!((lanes.s[j], lanes.zp(j)), (k.scale, k.zp));
                prop_assert_eq!(&u[j * 4..j * 4 + 4], &codes[..]);
                for i in 0..4 {
                    prop_assert_eq!(vals[j * 4 + i], k.fake(xs[j * 4 + i]));
                }
            }
            if bits == 4 {
                let mut nib = [0u8; 16];
                lanes.write_nibbles(&mut nib);
                let mut packed = [0u8; 16];
                crate::quant::pack::pack(&u, 4, &mut packed);
                prop_assert_eq!(nib, packed);
            }
        }
    }

    #[test]
    fn non_finite_is_reported() {
        let mut xs = [0.5f32; 32];
        xs[13] = f32::NAN;
        assert!(eight_blocks(&xs, &QuantSpec::chaos_int4(4)).is_none());
    }
}
