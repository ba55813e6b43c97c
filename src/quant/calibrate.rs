//! Choosing the clipping range [lo, hi] of a group or of activation samples.
//!
//! Clipping trades a large error on a few outliers for a finer step on the
//! bulk. Four methods: min-max (no clipping), percentile, MSE-optimal clip
//! ratio, and entropy: the TensorRT-style KL-divergence search over a
//! histogram of |x| (Migacz, "8-bit Inference with TensorRT", GTC 2017),
//! grouping bins into levels exactly as NVIDIA pytorch-quantization's
//! `HistogramCalibrator` (`_compute_amax_entropy`) does.
//!
//! **MSE**: the min-max range scaled by a clip ratio r, searched in three
//! grids, each around the best of the previous one: r ∈ {1.00, 0.99, …,
//! 0.01}, then r ± 0.01 in steps of 0.0005, then r ± 0.0005 in steps of
//! 0.000025. At 8 bits the error oscillates with r on the scale of one code
//! step (≈ 1/127 of the range), so the 1% grid alone can miss the optimum
//! by a large factor of the error; the two local grids bring it within a
//! fraction of a percent of a dense search (pinned by a test).
//!
//! **Entropy** (b bits, L = 2^(b−1) levels for a signed code):
//! 1. histogram |x| into N equal bins over [0, max|x|], edges and binning as
//!    `np.histogram` for f32 data (N = 2048 at 8 bits
//!    as TensorRT and pytorch-quantization; N = clamp(16 L, 128, 2048) for
//!    narrower codes so per-group use stays cheap);
//! 2. replace the count of bin 0 by that of bin 1 (as pytorch-quantization
//!    does, so a spike of exact zeros does not dominate);
//! 3. for each candidate i = L, …, N bins: the reference P is bins 0..i with
//!    the mass of bins i.. added to bin i−1; the candidate Q puts bin k < i in
//!    level ⌊k · L / i⌋ (NumPy `digitize` over `linspace(0, i, L + 1)`, in
//!    exact integer arithmetic) and spreads each level's mass evenly over its
//!    non-empty bins, empty bins staying 0;
//! 4. KL(P‖Q) of the normalised histograms as `scipy.stats.entropy`
//!    (infinite where Q is 0 and P is not);
//! 5. the threshold is the edge i · max|x| / N of the *last* i with the
//!    smallest divergence (ties go to the wider range).

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
    let err_at = |r: f64| -> f64 {
        let r = r as f32;
        let kern = kernel_for_range(lo * r, hi * r, bits, scheme, dtype);
        samples
            .iter()
            .map(|&x| {
                let d = f64::from(kern.fake(x) - x);
                d * d
            })
            .sum()
    };
    // Coarse grid, widest first; strict comparison keeps the wider range on
    // ties.
    let mut best_r = 1.0f64;
    let mut best_err = f64::INFINITY;
    for k in (1..=MSE_STEPS).rev() {
        let r = k as f64 / MSE_STEPS as f64;
        let e = err_at(r);
        if e < best_err {
            best_err = e;
            best_r = r;
        }
    }
    // Two local grids around the best so far: ±1 coarse step in 1/20 of
    // it, then ±1 fine step in 1/20 of that (ratios stay in (0, 1]).
    let mut step = 1.0 / MSE_STEPS as f64;
    for _ in 0..2 {
        let centre = best_r;
        let fine = step / 20.0;
        for j in (-20i32..=20).rev() {
            let r = centre + f64::from(j) * fine;
            if j == 0 || r <= 0.0 || r > 1.0 {
                continue;
            }
            let e = err_at(r);
            if e < best_err || (e == best_err && r > best_r) {
                best_err = e;
                best_r = r;
            }
        }
        step = fine;
    }
    let r = best_r as f32;
    (lo * r, hi * r)
}

/// The level of histogram bin `k` when the first `i` bins are merged into
/// `levels` levels: NumPy `digitize(k, linspace(0, i, levels + 1)) − 1`,
/// i.e. ⌊k · levels / i⌋, in exact integer arithmetic.
fn level_of(k: usize, i: usize, levels: usize) -> usize {
    k * levels / i
}

/// TensorRT-style entropy calibration (see the module docs for the exact
/// algorithm): the |x| threshold whose quantized histogram is closest in KL
/// divergence to the clipped reference histogram.
fn entropy_threshold(samples: &[f32], bits: u8) -> f32 {
    let amax = samples.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let (_, qmax) = qrange(bits);
    let nq = (qmax as usize + 1).max(1);
    let nbins = (16 * nq).clamp(128, 2048);
    if amax == 0.0 || !amax.is_finite() || nq >= nbins {
        return amax;
    }
    let width = f64::from(amax) / nbins as f64;
    // Bin edges as `np.histogram(|x|, bins=nbins, range=(0, amax))` makes
    // them for f32 data: k · amax / nbins rounded to f32; a value belongs to
    // the bin whose edges bracket it (the last bin includes amax).
    let edge = |k: usize| (k as f64 * width) as f32;
    let mut hist = vec![0f64; nbins];
    for &x in samples {
        let a = x.abs();
        let mut b = ((f64::from(a) / width) as usize).min(nbins - 1);
        while b > 0 && a < edge(b) {
            b -= 1;
        }
        while b + 1 < nbins && a >= edge(b + 1) {
            b += 1;
        }
        hist[b] += 1.0;
    }
    hist[0] = hist[1];
    let total: f64 = hist.iter().sum();
    let mut best_i = nbins;
    let mut best_kl = f64::INFINITY;
    let mut mass = vec![0f64; nq];
    let mut count = vec![0usize; nq];
    // Invariant at the top of each iteration: tail = sum(hist[i..]),
    // head = sum(hist[..i]).
    let mut tail: f64 = hist[nq..].iter().sum();
    let mut head = total - tail;
    for i in nq..=nbins {
        mass.fill(0.0);
        count.fill(0);
        for (k, &h) in hist[..i].iter().enumerate() {
            let l = level_of(k, i, nq);
            mass[l] += h;
            count[l] += usize::from(h > 0.0);
        }
        // KL(P‖Q): P = hist[..i] with the tail in bin i−1 (sums to `total`),
        // Q = each level's mean over its non-empty bins (sums to `head`).
        let mut kl = 0.0;
        if head > 0.0 {
            for (k, &h) in hist[..i].iter().enumerate() {
                let p = if k == i - 1 { h + tail } else { h };
                if p <= 0.0 {
                    continue;
                }
                let l = level_of(k, i, nq);
                let q = if h > 0.0 {
                    mass[l] / count[l] as f64
                } else {
                    0.0
                };
                if q <= 0.0 {
                    kl = f64::INFINITY;
                    break;
                }
                let (pn, qn) = (p / total, q / head);
                kl += pn * (pn / qn).ln();
            }
        } else {
            kl = f64::INFINITY;
        }
        // `<=`: the last minimiser wins (pytorch-quantization's last argmin).
        if kl <= best_kl {
            best_kl = kl;
            best_i = i;
        }
        if i < nbins {
            tail -= hist[i];
            head += hist[i];
        }
    }
    edge(best_i).min(amax)
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
        // Entropy only clips to where the histogram has mass (pytorch-
        // quantization's rule), so it gets a bulk that fills its bins.
        let mut g = gaussian(20_000, 3);
        g.extend([40.0, -35.0]);
        for method in [
            Calibration::Mse,
            Calibration::Entropy,
            Calibration::Percentile,
        ] {
            let v = if method == Calibration::Entropy {
                &g
            } else {
                &v
            };
            let (lo, hi) = calibrate_range(v, 4, Scheme::Symmetric, method, 99.0);
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
    fn entropy_levels_follow_numpy_digitize() {
        // digitize(range(10), linspace(0, 10, 5)) − 1 = [0,0,0,1,1,2,2,2,3,3]
        // (edges 0, 2.5, 5, 7.5, 10); the earlier j·i/L grouping gave
        // [0,0,1,1,1,2,2,3,3,3].
        let got: Vec<usize> = (0..10).map(|k| level_of(k, 10, 4)).collect();
        assert_eq!(got, [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]);
        // Exact multiples: 128 levels over 2048 bins are 16 bins each.
        assert!((0..2048).all(|k| level_of(k, 2048, 128) == k / 16));
    }

    /// Deterministic standard-normal samples (xorshift + Box–Muller).
    fn gaussian(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = seed | 1;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let (u, v) = (next().max(1e-12), next());
                ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
            })
            .collect()
    }

    #[test]
    fn entropy_keeps_a_uniform_range_and_clips_a_lone_outlier() {
        // Uniform |x| is quantized without loss at any i: the last (widest)
        // minimiser wins, so nothing is clipped.
        let v: Vec<f32> = (0..=40_000).map(|i| i as f32 / 40_000.0).collect();
        let t = entropy_threshold(&v, 8);
        assert!(t > 0.99, "{t}");
        // A Gaussian bulk with one far outlier: clipped inside the bulk's
        // populated bins (a candidate whose last bin is empty while the tail
        // is not has infinite divergence, as with scipy's entropy).
        let mut g = gaussian(20_000, 7);
        g.push(60.0);
        let t = entropy_threshold(&g, 8);
        assert!(t < 5.0 && t > 2.0, "{t}");
    }

    #[test]
    fn mse_search_is_within_a_fraction_of_a_dense_search_at_8_bits() {
        // Deterministic Gaussian-like and Laplace-like samples with a tail.
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let gauss: Vec<f32> = (0..4000)
            .map(|_| {
                let (u, v) = (next().max(1e-12), next());
                ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
            })
            .collect();
        let laplace: Vec<f32> = (0..4000)
            .map(|_| {
                let u = next() - 0.5;
                (-u.signum() * (1.0 - 2.0 * u.abs()).max(1e-12).ln()) as f32
            })
            .collect();
        for (name, v) in [("gauss", &gauss), ("laplace", &laplace)] {
            for scheme in [Scheme::Symmetric, Scheme::Asymmetric] {
                let (lo, hi) = min_max(v);
                let mse = |r: f32| {
                    let k = kernel_for_range(lo * r, hi * r, 8, scheme, ScaleDtype::F32);
                    v.iter()
                        .map(|&x| f64::from(k.fake(x) - x).powi(2))
                        .sum::<f64>()
                };
                let dense = (1..=20_000)
                    .map(|k| mse(k as f32 / 20_000.0))
                    .fold(f64::INFINITY, f64::min);
                let coarse = (1..=100)
                    .map(|k| mse(k as f32 / 100.0))
                    .fold(f64::INFINITY, f64::min);
                let (l, h) = calibrate_range(v, 8, scheme, Calibration::Mse, 99.9);
                let k = kernel_for_range(l, h, 8, scheme, ScaleDtype::F32);
                let got: f64 = v.iter().map(|&x| f64::from(k.fake(x) - x).powi(2)).sum();
                assert!(
                    got <= dense * 1.01,
                    "{name} {scheme:?}: refined {got} dense {dense} (1% grid {coarse})"
                );
                assert!(got <= coarse);
            }
        }
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
