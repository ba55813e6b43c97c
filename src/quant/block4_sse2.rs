//! The INT4 blocks-of-4 hot case written with SSE2 intrinsics: eight blocks
//! are two 4×4 transposes, and the codes go straight to nibbles with
//! integer packs. The portable lane code in `block4` leaves the shuffles and
//! the nibble interleave to the compiler, which spills registers on
//! baseline x86-64; this path does the same arithmetic in the same order.
//!
//! Only the common case is handled here: eight blocks of finite values whose
//! ranges give normal scales. Anything else returns `false` and the caller
//! takes `block4::eight_blocks`, so both paths give identical bits (a
//! proptest compares them).

use std::arch::x86_64::*;

/// Quantize 32 values (8 blocks of 4) at 4 bits; write 16 nibble bytes, 8
/// scales and 8 zero points. `widen`: the standard scheme (range widened to
/// include 0); otherwise the document's clipped zero point.
#[inline(always)]
pub(crate) fn eight_blocks_int4(
    xs: &[f32],
    widen: bool,
    codes: &mut [u8],
    scales: &mut [f32],
    zps: &mut [i32],
) -> bool {
    assert!(xs.len() >= 32 && codes.len() >= 16 && scales.len() >= 8 && zps.len() >= 8);
    // SAFETY: SSE2 is part of the x86-64 baseline; every load and store
    // stays inside the slices whose lengths were just checked.
    unsafe {
        let p = xs.as_ptr();
        let half = |base: usize, codes_out: &mut __m128i| -> Option<(__m128, __m128)> {
            let (mut r0, mut r1, mut r2, mut r3) = (
                _mm_loadu_ps(p.add(base)),
                _mm_loadu_ps(p.add(base + 4)),
                _mm_loadu_ps(p.add(base + 8)),
                _mm_loadu_ps(p.add(base + 12)),
            );
            _MM_TRANSPOSE4_PS(&mut r0, &mut r1, &mut r2, &mut r3);
            // r_k now holds value k of blocks base/4 .. base/4 + 3.
            let sum = _mm_add_ps(_mm_add_ps(r0, r1), _mm_add_ps(r2, r3));
            let lo = _mm_min_ps(_mm_min_ps(r0, r1), _mm_min_ps(r2, r3));
            let hi = _mm_max_ps(_mm_max_ps(r0, r1), _mm_max_ps(r2, r3));
            let zero = _mm_setzero_ps();
            let (wlo, whi) = if widen {
                (_mm_min_ps(lo, zero), _mm_max_ps(hi, zero))
            } else {
                (lo, hi)
            };
            let s = _mm_div_ps(_mm_sub_ps(whi, wlo), _mm_set1_ps(15.0));
            // All finite (a NaN or infinity makes the sum non-finite; an
            // overflowing sum only sends good data to the general path),
            // non-constant, and a normal scale.
            let finite = _mm_cmplt_ps(
                _mm_andnot_ps(_mm_set1_ps(-0.0), sum),
                _mm_set1_ps(f32::INFINITY),
            );
            let ok = _mm_and_ps(
                _mm_and_ps(finite, _mm_cmpgt_ps(hi, lo)),
                _mm_and_ps(
                    _mm_cmpge_ps(s, _mm_set1_ps(f32::MIN_POSITIVE)),
                    _mm_cmple_ps(s, _mm_set1_ps(f32::MAX)),
                ),
            );
            if _mm_movemask_ps(ok) != 0xF {
                return None;
            }
            let magic = _mm_set1_ps(12_582_912.0);
            let round = |x: __m128| _mm_sub_ps(_mm_add_ps(x, magic), magic);
            let (qmin, qmax) = (_mm_set1_ps(-8.0), _mm_set1_ps(7.0));
            let clamp = |x: __m128, a: __m128, b: __m128| _mm_min_ps(_mm_max_ps(x, a), b);
            let z = _mm_div_ps(_mm_xor_ps(wlo, _mm_set1_ps(-0.0)), s);
            let z = clamp(z, _mm_set1_ps(-131_072.0), _mm_set1_ps(131_072.0));
            let zpf = clamp(_mm_add_ps(round(z), qmin), qmin, qmax);
            let one = _mm_set1_ps(1.0);
            let (clo, chi) = (
                _mm_sub_ps(_mm_sub_ps(qmin, zpf), one),
                _mm_add_ps(_mm_sub_ps(qmax, zpf), one),
            );
            let code = |x: __m128| {
                let v = clamp(_mm_div_ps(x, s), clo, chi);
                let q = clamp(_mm_add_ps(round(v), zpf), qmin, qmax);
                _mm_cvttps_epi32(_mm_sub_ps(q, qmin))
            };
            let (u0, u1, u2, u3) = (code(r0), code(r1), code(r2), code(r3));
            // Byte 2j = u0 | u1 << 4, byte 2j + 1 = u2 | u3 << 4 (low nibble first).
            let a = _mm_or_si128(u0, _mm_slli_epi32(u1, 4));
            let b = _mm_or_si128(u2, _mm_slli_epi32(u3, 4));
            *codes_out = _mm_packs_epi32(_mm_unpacklo_epi32(a, b), _mm_unpackhi_epi32(a, b));
            Some((s, zpf))
        };
        let (mut lo16, mut hi16) = (_mm_setzero_si128(), _mm_setzero_si128());
        let Some((sa, za)) = half(0, &mut lo16) else {
            return false;
        };
        let Some((sb, zb)) = half(16, &mut hi16) else {
            return false;
        };
        _mm_storeu_si128(
            codes.as_mut_ptr() as *mut __m128i,
            _mm_packus_epi16(lo16, hi16),
        );
        _mm_storeu_ps(scales.as_mut_ptr(), sa);
        _mm_storeu_ps(scales.as_mut_ptr().add(4), sb);
        _mm_storeu_si128(zps.as_mut_ptr() as *mut __m128i, _mm_cvttps_epi32(za));
        _mm_storeu_si128(
            zps.as_mut_ptr().add(4) as *mut __m128i,
            _mm_cvttps_epi32(zb),
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::block4::eight_blocks;
    use crate::quant::{QuantSpec, Scheme};
    use proptest::prelude::*;

    proptest! {
        /// Same bits as the portable lanes whenever the fast path accepts a
        /// batch; batches it declines include every non-finite one.
        #[test]
        fn matches_the_portable_lanes(mag in prop::sample::select(vec![1e-38f32, 1e-30, 1e-3, 1.0, 1e6, 1e30, 3e38]),
                                      raw in prop::collection::vec(-1.0f32..1.0, 32), shift in prop::sample::select(vec![0.0f32, 0.9, -0.9, 2.0]),
                                      consts in any::<u8>(), zeros in any::<u8>(), clipped in any::<bool>(), poison in 0usize..40) {
            let mut xs: Vec<f32> = raw.iter().map(|v| (v + shift) * mag).collect();
            for j in 0..8 {
                if consts & (1 << j) != 0 {
                    let c = xs[j * 4];
                    xs[j * 4..j * 4 + 4].fill(c);
                }
                if zeros & (1 << j) != 0 {
                    xs[j * 4 + 1] = 0.0;
                    xs[j * 4 + 2] = -0.0;
                }
            }
            if poison < 32 {
                xs[poison] = if poison % 2 == 0 { f32::NAN } else { f32::INFINITY };
            }
            let scheme = if clipped { Scheme::AsymmetricClipped } else { Scheme::Asymmetric };
            let spec = QuantSpec { scheme, ..QuantSpec::chaos_int4(4) };
            let (mut codes, mut scales, mut zps) = ([0u8; 16], [0f32; 8], [0i32; 8]);
            let fast = eight_blocks_int4(&xs, !clipped, &mut codes, &mut scales, &mut zps);
            match eight_blocks(&xs, &spec) {
                None => prop_assert!(!fast, "accepted non-finite input"),
                Some(lanes) if fast => {
                    let mut want = [0u8; 16];
                    lanes.write_nibbles(&mut want);
                    prop_assert_eq!(codes, want);
                    for j in 0..8 {
                        prop_assert_eq!(scales[j].to_bits(), lanes.s[j].to_bits());
                        prop_assert_eq!(zps[j], lanes.zp(j));
                    }
                }
                Some(_) => {}
            }
        }
    }

    #[test]
    fn ordinary_weights_take_the_fast_path() {
        let xs: Vec<f32> = (0..32).map(|i| (i as f32 * 0.7).sin()).collect();
        let (mut codes, mut scales, mut zps) = ([0u8; 16], [0f32; 8], [0i32; 8]);
        assert!(eight_blocks_int4(
            &xs,
            true,
            &mut codes,
            &mut scales,
            &mut zps
        ));
        assert!(eight_blocks_int4(
            &xs,
            false,
            &mut codes,
            &mut scales,
            &mut zps
        ));
    }
}
