//! Property tests over whole tensors: the guarantees the studies rely on.

use super::layout::Layout;
use super::*;
use proptest::prelude::*;

fn scheme() -> impl Strategy<Value = Scheme> {
    prop_oneof![
        Just(Scheme::Symmetric),
        Just(Scheme::Asymmetric),
        Just(Scheme::AsymmetricClipped),
        Just(Scheme::PowerOfTwo)
    ]
}

fn granularity() -> impl Strategy<Value = Granularity> {
    prop_oneof![
        Just(Granularity::PerTensor),
        Just(Granularity::PerChannel),
        Just(Granularity::PerGroup),
        Just(Granularity::Block)
    ]
}

fn dtype() -> impl Strategy<Value = ScaleDtype> {
    prop_oneof![Just(ScaleDtype::F16), Just(ScaleDtype::F32)]
}

fn spec(
    bits: u8,
    scheme: Scheme,
    granularity: Granularity,
    group_size: usize,
    scale_dtype: ScaleDtype,
) -> QuantSpec {
    QuantSpec {
        bits,
        scheme,
        granularity,
        group_size,
        calibration: Calibration::MinMax,
        percentile: 99.9,
        scale_dtype,
    }
}

/// A 2-D tensor: (rows, cols, values).
fn tensor(scale: f32) -> impl Strategy<Value = (usize, usize, Vec<f32>)> {
    (1usize..6, 1usize..40).prop_flat_map(move |(r, c)| {
        (
            Just(r),
            Just(c),
            prop::collection::vec(-scale..scale, r * c),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any value whose code is not clipped reconstructs within half a step.
    #[test]
    fn in_range_values_are_within_half_a_step(
        (r, c, w) in tensor(10.0), bits in 2u8..=16, scheme in scheme(), granularity in granularity(),
        group in 1usize..12, dtype in dtype(),
    ) {
        let s = spec(bits, scheme, granularity, group, dtype);
        let q = QuantizedTensor::quantize(&w, &[r, c], &s).unwrap();
        let d = q.dequantize();
        let l = Layout::new(&[r, c], w.len(), &s).unwrap();
        let (qmin, qmax) = s.qrange();
        l.for_segments(0, w.len(), |g, a, e| {
            let sc = q.scales()[g];
            let zp = q.zero_points().get(g).copied().unwrap_or(0);
            for i in a..e {
                let x = w[i] / sc + zp as f32;
                if x >= qmin as f32 && x <= qmax as f32 {
                    let tol = 0.5 * sc * (1.0 + 1e-5) + w[i].abs() * 1e-6;
                    assert!((d[i] - w[i]).abs() <= tol, "value {} -> {} (scale {sc})", w[i], d[i]);
                }
            }
        });
    }

    /// Power-of-two grids are nested, so every value's error is non-increasing in bits.
    #[test]
    fn pow2_error_never_grows_with_bits((r, c, w) in tensor(5.0), bits in 2u8..16, granularity in granularity(), group in 1usize..12) {
        let lo = spec(bits, Scheme::PowerOfTwo, granularity, group, ScaleDtype::F32);
        let hi = QuantSpec { bits: bits + 1, ..lo };
        let (mut a, mut b) = (vec![0f32; w.len()], vec![0f32; w.len()]);
        fake_quantize(&w, &[r, c], &lo, &mut a).unwrap();
        fake_quantize(&w, &[r, c], &hi, &mut b).unwrap();
        for i in 0..w.len() {
            prop_assert!((b[i] - w[i]).abs() <= (a[i] - w[i]).abs(), "{}: {} vs {}", w[i], b[i], a[i]);
        }
    }

    /// For min-max ranges the worst error at b+1 bits stays within the
    /// half-step guarantee of b bits (grids of other schemes are not nested,
    /// so single values may move either way; the bound may not).
    #[test]
    fn worst_error_bound_never_grows_with_bits((r, c, w) in tensor(5.0), bits in 2u8..16, scheme in scheme(), granularity in granularity(), group in 1usize..12) {
        let lo = spec(bits, scheme, granularity, group, ScaleDtype::F32);
        let hi = QuantSpec { bits: bits + 1, ..lo };
        let ql = QuantizedTensor::quantize(&w, &[r, c], &lo).unwrap();
        let qh = QuantizedTensor::quantize(&w, &[r, c], &hi).unwrap();
        let dh = qh.dequantize();
        let l = Layout::new(&[r, c], w.len(), &lo).unwrap();
        let dl = ql.dequantize();
        l.for_segments(0, w.len(), |g, a, e| {
            // Asymmetric groups that exclude zero clip by the formula's design;
            // compare only when b bits reconstructs the group's values in range.
            let sc = ql.scales()[g];
            let clipped = (a..e).any(|i| (dl[i] - w[i]).abs() > 0.5 * sc * (1.0 + 1e-5) + w[i].abs() * 1e-6);
            if !clipped {
                for i in a..e {
                    assert!((dh[i] - w[i]).abs() <= 0.5 * sc * (1.0 + 1e-5) + w[i].abs() * 1e-6);
                }
            }
        });
    }

    /// The standard asymmetric scheme with min-max ranges never clips: every
    /// value lands within half a step of its group's scale (regression for
    /// groups lying on one side of zero).
    #[test]
    fn standard_asymmetric_min_max_never_clips((r, c, w) in tensor(5.0), shift in -6.0f32..6.0, bits in 1u8..=12, granularity in granularity(), group in 1usize..12) {
        let w: Vec<f32> = w.iter().map(|x| x + shift).collect();
        let s = spec(bits, Scheme::Asymmetric, granularity, group, ScaleDtype::F32);
        let q = QuantizedTensor::quantize(&w, &[r, c], &s).unwrap();
        let d = q.dequantize();
        let l = Layout::new(&[r, c], w.len(), &s).unwrap();
        l.for_segments(0, w.len(), |g, a, e| {
            let sc = q.scales()[g];
            for i in a..e {
                assert!((d[i] - w[i]).abs() <= 0.5 * sc * (1.0 + 1e-4) + w[i].abs() * 1e-6,
                    "value {} -> {} with scale {sc}", w[i], d[i]);
            }
        });
    }

    /// Constant, zero, tiny, huge and f32-limit tensors give finite results, and constants
    /// reconstruct exactly under the asymmetric scheme with f32 scales.
    #[test]
    fn degenerate_tensors_stay_finite(
        kind in 0u8..5, c in -1.0f32..1.0, n in 1usize..80, bits in 2u8..=16, scheme in scheme(),
        granularity in granularity(), group in 1usize..12, dtype in dtype(),
        noise in prop::collection::vec(-1.0f32..1.0, 80),
    ) {
        let w: Vec<f32> = match kind {
            0 => vec![0.0; n],
            1 => vec![c * 1e3; n],
            2 => noise[..n].iter().map(|x| x * 1e-38).collect(),
            3 => noise[..n].iter().map(|x| x * 1e30).collect(),
            // Up to the f32 limit: `quantize --format int` must stay finite
            // (scales saturate) where GGUF blocks are refused.
            _ => noise[..n].iter().map(|x| x * f32::MAX).collect(),
        };
        let s = spec(bits, scheme, granularity, group, dtype);
        let d = QuantizedTensor::quantize(&w, &[n], &s).unwrap().dequantize();
        prop_assert!(d.iter().all(|x| x.is_finite()));
        if kind <= 1 && scheme.has_zero_point() && dtype == ScaleDtype::F32 {
            prop_assert_eq!(&d, &w);
        }
        let m = error_metrics(&w, &d);
        prop_assert!(m.mse.is_finite() && m.max_abs.is_finite() && !m.sqnr_db.is_nan() && m.cosine.is_finite());
    }
}
