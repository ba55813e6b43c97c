//! Choosing the clipping range [lo, hi] of a group or of activation samples.
//!
//! Clipping trades a large error on a few outliers for a finer step on the
//! bulk. Four methods: min-max (no clipping), percentile, MSE-optimal clip
//! ratio (grid search over the min-max range scaled by r ∈ {1.00, 0.99, …,
//! 0.01}), and entropy: the TensorRT-style KL-divergence search over a
//! histogram of |x| (Migacz, "8-bit Inference with TensorRT", GTC 2017).

use super::kernel::kernel_for_range;
use super::spec::{Calibration, ScaleDtype, Scheme, qrange};

/// Number of clip ratios tried by the MSE search (r = k/MSE_STEPS, k = STEPS..1).
const MSE_STEPS: usize = 100;

/// The clipping range for `samples` under `method`; `percentile` is used only
/// by `Calibration::Percentile`. Symmetric schemes get a range symmetric about
/// zero for percentile. Empty input gives (0, 0).
pub fn calibrate_range(
    samples: &[f32],
    bits: u8,
    scheme: Scheme,
    method: Calibration,
    percentile: f32,
) -> (f32, f32) {
    calibrate_with(
        samples,
        bits.clamp(1, 16),
        scheme,
        method,
        percentile,
        ScaleDtype::F32,
    )
}

pub(crate) fn min_max(xs: &[f32]) -> (f32, f32) {
    let (lo, hi, _) = stats(xs);
    (lo, hi)
}

/// Min, max and whether every value is finite, in one pass over eight
/// independent lanes (compare-select and integer OR only, so it vectorises).
/// NaN never updates min/max; it is caught by the finiteness flag.
#[inline]
pub(crate) fn stats(xs: &[f32]) -> (f32, f32, bool) {
    // (exponent bits + one exponent step) sets bit 31 only for an all-ones
    // exponent, i.e. ±inf or NaN.
    #[inline(always)]
    fn flag(x: f32) -> u32 {
        (x.to_bits() & 0x7f80_0000).wrapping_add(0x0080_0000)
    }
    let mut lo = [f32::INFINITY; 8];
    let mut hi = [f32::NEG_INFINITY; 8];
    let mut bad = [0u32; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..8 {
            let x = c[j];
            lo[j] = if x < lo[j] { x } else { lo[j] };
            hi[j] = if x > hi[j] { x } else { hi[j] };
            bad[j] |= flag(x);
        }
    }
    for (j, &x) in rest.iter().enumerate() {
        lo[j] = if x < lo[j] { x } else { lo[j] };
        hi[j] = if x > hi[j] { x } else { hi[j] };
        bad[j] |= flag(x);
    }
    let l = lo
        .iter()
        .fold(f32::INFINITY, |a, &b| if b < a { b } else { a });
    let h = hi
        .iter()
        .fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    let b = bad.iter().fold(0, |a, &b| a | b);
    (l, h, b & 0x8000_0000 == 0)
}

pub(crate) fn calibrate_with(
    samples: &[f32],
    bits: u8,
    scheme: Scheme,
    method: Calibration,
    percentile: f32,
    dtype: ScaleDtype,
) -> (f32, f32) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    let (lo, hi) = min_max(samples);
    match method {
        Calibration::MinMax => (lo, hi),
        Calibration::Percentile => percentile_range(samples, scheme, percentile),
        Calibration::Mse => mse_range(samples, lo, hi, bits, scheme, dtype),
        Calibration::Entropy => {
            let t = entropy_threshold(samples, bits);
            (lo.max(-t), hi.min(t))
        }
    }
}

/// Linear-interpolated quantile of sorted data (NumPy's default method).
fn quantile(sorted: &[f32], p: f64) -> f32 {
    let pos = (p / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let j = (i + 1).min(sorted.len() - 1);
    let t = pos - i as f64;
    (sorted[i] as f64 + (sorted[j] as f64 - sorted[i] as f64) * t) as f32
}

fn percentile_range(samples: &[f32], scheme: Scheme, p: f32) -> (f32, f32) {
    let p = f64::from(p.clamp(50.0, 100.0));
    let mut v: Vec<f32> = samples.to_vec();
    match scheme {
        Scheme::Asymmetric | Scheme::AsymmetricClipped => {
            v.sort_unstable_by(f32::total_cmp);
            (quantile(&v, 100.0 - p), quantile(&v, p))
        }
        Scheme::Symmetric | Scheme::PowerOfTwo => {
            for x in v.iter_mut() {
                *x = x.abs();
            }
            v.sort_unstable_by(f32::total_cmp);
            let t = quantile(&v, p);
            (-t, t)
        }
    }
}

fn mse_range(
    samples: &[f32],
    lo: f32,
    hi: f32,
    bits: u8,
    scheme: Scheme,
    dtype: ScaleDtype,
) -> (f32, f32) {
    let mut best = (lo, hi);
    let mut best_err = f64::INFINITY;
    for k in (1..=MSE_STEPS).rev() {
        let r = k as f32 / MSE_STEPS as f32;
        let (l, h) = (lo * r, hi * r);
        let kern = kernel_for_range(l, h, bits, scheme, dtype);
        let err: f64 = samples
            .iter()
            .map(|&x| {
                let d = f64::from(kern.fake(x) - x);
                d * d
            })
            .sum();
        // Strict: on ties keep the wider range.
        if err < best_err {
            best_err = err;
            best = (l, h);
        }
    }
    best
}

/// TensorRT-style entropy calibration: the |x| threshold whose quantized
/// histogram is closest in KL divergence to the clipped reference histogram.
fn entropy_threshold(samples: &[f32], bits: u8) -> f32 {
    let amax = samples.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let (_, qmax) = qrange(bits);
    let nq = (qmax as usize + 1).max(1);
    // 2048 bins as TensorRT for 8 bits; fewer for narrow codes keeps the
    // O(bins²) search cheap enough for per-group use.
    let nbins = (16 * nq).clamp(128, 2048);
    if amax == 0.0 || nq >= nbins {
        return amax;
    }
    let width = amax / nbins as f32;
    let mut hist = vec![0f64; nbins];
    for &x in samples {
        let b = ((x.abs() / width) as usize).min(nbins - 1);
        hist[b] += 1.0;
    }
    let mut best_i = nbins;
    let mut best_kl = f64::INFINITY;
    let mut p = vec![0f64; nbins];
    let mut q = vec![0f64; nbins];
    // Invariant at the top of each iteration: tail = sum(hist[i..]).
    let mut tail: f64 = hist[nq..].iter().sum();
    for i in nq..=nbins {
        // Reference: the first i bins, outliers folded into the last one.
        p[..i].copy_from_slice(&hist[..i]);
        p[i - 1] += tail;
        // Candidate: the first i bins merged into nq levels, each level's mass
        // spread evenly over its non-empty bins.
        for j in 0..nq {
            let a = j * i / nq;
            let b = (j + 1) * i / nq;
            let mass: f64 = hist[a..b].iter().sum();
            let nonzero = hist[a..b].iter().filter(|&&h| h > 0.0).count();
            for k in a..b {
                q[k] = if hist[k] > 0.0 {
                    mass / nonzero as f64
                } else {
                    0.0
                };
            }
        }
        let kl = kl_divergence(&p[..i], &q[..i]);
        if kl < best_kl {
            best_kl = kl;
            best_i = i;
        }
        if i < nbins {
            tail -= hist[i];
        }
    }
    (best_i as f32 * width).min(amax)
}

/// KL(P‖Q) of two unnormalised histograms; empty candidate bins get a tiny
/// mass so the divergence stays finite (TensorRT smooths likewise).
fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    const EPS: f64 = 1e-10;
    let ps: f64 = p.iter().sum();
    let qs: f64 = q.iter().sum();
    if ps == 0.0 || qs == 0.0 {
        return f64::INFINITY;
    }
    p.iter()
        .zip(q)
        .filter(|(pi, _)| **pi > 0.0)
        .map(|(&pi, &qi)| {
            let pn = pi / ps;
            let qn = (qi / qs).max(EPS);
            pn * (pn / qn).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heavy_tailed() -> Vec<f32> {
        // Deterministic bulk in [-1, 1] plus two outliers.
        let mut v: Vec<f32> = (0..20000).map(|i| (i as f32 * 0.7548).sin()).collect();
        v.push(40.0);
        v.push(-35.0);
        v
    }

    #[test]
    fn minmax_is_the_observed_range() {
        assert_eq!(
            calibrate_range(
                &[0.5, -2.0, 3.0],
                8,
                Scheme::Asymmetric,
                Calibration::MinMax,
                99.9
            ),
            (-2.0, 3.0)
        );
    }

    #[test]
    fn percentile_matches_numpy_linear_quantile() {
        let v: Vec<f32> = (0..=100).map(|i| i as f32).collect();
        assert_eq!(
            calibrate_range(&v, 8, Scheme::Asymmetric, Calibration::Percentile, 90.0),
            (10.0, 90.0)
        );
        let (lo, hi) = calibrate_range(&v, 8, Scheme::Symmetric, Calibration::Percentile, 99.5);
        assert!((hi - 99.5).abs() < 1e-4 && lo == -hi);
    }

    #[test]
    fn clipping_methods_cut_outliers_and_lower_bulk_error() {
        let v = heavy_tailed();
        for method in [
            Calibration::Mse,
            Calibration::Entropy,
            Calibration::Percentile,
        ] {
            let (lo, hi) = calibrate_range(&v, 4, Scheme::Symmetric, method, 99.0);
            assert!(
                hi < 40.0 && lo > -40.0,
                "{method:?} kept the outliers: {lo} {hi}"
            );
            assert!(hi >= 0.5, "{method:?} clipped the bulk: {hi}");
        }
        // MSE search never does worse than min-max on its own objective.
        let mse = |(lo, hi): (f32, f32)| {
            let k = kernel_for_range(lo, hi, 4, Scheme::Symmetric, ScaleDtype::F32);
            v.iter()
                .map(|&x| f64::from(k.fake(x) - x).powi(2))
                .sum::<f64>()
        };
        let mm = calibrate_range(&v, 4, Scheme::Symmetric, Calibration::MinMax, 99.0);
        let best = calibrate_range(&v, 4, Scheme::Symmetric, Calibration::Mse, 99.0);
        assert!(mse(best) <= mse(mm));
    }

    #[test]
    fn degenerate_samples_give_finite_ranges() {
        for method in [
            Calibration::MinMax,
            Calibration::Percentile,
            Calibration::Mse,
            Calibration::Entropy,
        ] {
            for v in [vec![], vec![0.0; 10], vec![2.5; 7]] {
                let (lo, hi) = calibrate_range(&v, 4, Scheme::Asymmetric, method, 99.9);
                assert!(
                    lo.is_finite() && hi.is_finite() && lo <= hi,
                    "{method:?} {v:?}"
                );
            }
        }
    }
}
