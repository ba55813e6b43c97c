//! Error metrics between a reference tensor and its quantized image.
//!
//! Accumulated in f64 in index order so results do not depend on threads.
//!
//! NaN-aware: `f64::max` ignores NaN, so an all-NaN reconstruction used to
//! report a max error of 0. Pairs with a non-finite value are counted, and
//! when there are any every measure is NaN rather than a finite-looking
//! number computed over part of the data.

/// MSE, max absolute error, signal-to-quantization-noise ratio and cosine.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorMetrics {
    pub mse: f64,
    pub max_abs: f64,
    /// 10·log10(Σ ref² / Σ err²); +∞ for an exact reconstruction, and 0 dB
    /// (rather than NaN) when the reference is all zero and the error is not.
    pub sqnr_db: f64,
    /// 1 when both are zero vectors, 0 when exactly one is.
    pub cosine: f64,
    /// Pairs where either value is NaN or ±inf; when non-zero, the four
    /// measures above are NaN.
    pub non_finite: usize,
}

/// Metrics of `approx` against `reference` (same length; extra values ignored).
pub fn error_metrics(reference: &[f32], approx: &[f32]) -> ErrorMetrics {
    let n = reference.len().min(approx.len());
    let non_finite = reference[..n]
        .iter()
        .zip(&approx[..n])
        .filter(|(r, a)| !(r.is_finite() && a.is_finite()))
        .count();
    if non_finite > 0 {
        return ErrorMetrics {
            mse: f64::NAN,
            max_abs: f64::NAN,
            sqnr_db: f64::NAN,
            cosine: f64::NAN,
            non_finite,
        };
    }
    let [se, max_abs, sig, dot, aa] = sums(&reference[..n], &approx[..n]);
    finish(n, se, max_abs, sig, dot, aa)
}

/// Σ err², max |err|, Σ ref², Σ ref·approx, Σ approx², in index order.
fn sums(reference: &[f32], approx: &[f32]) -> [f64; 5] {
    let (mut se, mut max_abs, mut sig, mut dot, mut aa) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for (&r, &a) in reference.iter().zip(approx) {
        let (r, a) = (f64::from(r), f64::from(a));
        let d = a - r;
        se += d * d;
        max_abs = max_abs.max(d.abs());
        sig += r * r;
        dot += r * a;
        aa += a * a;
    }
    [se, max_abs, sig, dot, aa]
}

/// Values per chunk of [`error_metrics_chunked`].
const METRIC_CHUNK: usize = 1 << 16;

/// [`error_metrics`] on all cores for large tensors (`quantize` on a file):
/// sums per fixed chunk of 65,536 values, combined in chunk order, so the
/// result is the same for any thread count (it may differ from
/// [`error_metrics`] in the last bits, the additions being grouped differently).
pub fn error_metrics_chunked(reference: &[f32], approx: &[f32]) -> ErrorMetrics {
    use rayon::prelude::*;
    let n = reference.len().min(approx.len());
    if n <= METRIC_CHUNK {
        return error_metrics(reference, approx);
    }
    let parts: Vec<Option<[f64; 5]>> = reference[..n]
        .par_chunks(METRIC_CHUNK)
        .zip(approx[..n].par_chunks(METRIC_CHUNK))
        .map(|(r, a)| {
            let finite = r.iter().zip(a).all(|(x, y)| x.is_finite() && y.is_finite());
            finite.then(|| sums(r, a))
        })
        .collect();
    if parts.iter().any(Option::is_none) {
        return error_metrics(reference, approx);
    }
    let mut t = [0f64; 5];
    for p in parts.into_iter().flatten() {
        t[0] += p[0];
        t[1] = t[1].max(p[1]);
        t[2] += p[2];
        t[3] += p[3];
        t[4] += p[4];
    }
    finish(n, t[0], t[1], t[2], t[3], t[4])
}

fn finish(n: usize, se: f64, max_abs: f64, sig: f64, dot: f64, aa: f64) -> ErrorMetrics {
    let mse = if n == 0 { 0.0 } else { se / n as f64 };
    let sqnr_db = if se == 0.0 {
        f64::INFINITY
    } else if sig == 0.0 {
        0.0
    } else {
        10.0 * (sig / se).log10()
    };
    let cosine = match (sig == 0.0, aa == 0.0) {
        (true, true) => 1.0,
        (true, false) | (false, true) => 0.0,
        _ => dot / (sig.sqrt() * aa.sqrt()),
    };
    ErrorMetrics {
        mse,
        max_abs,
        sqnr_db,
        cosine,
        non_finite: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_metrics_agree_with_the_sequential_ones() {
        let r: Vec<f32> = (0..300_000).map(|i| (i as f32 * 0.37).sin()).collect();
        let a: Vec<f32> = r.iter().map(|x| (x * 16.0).round() / 16.0).collect();
        let (s, c) = (error_metrics(&r, &a), error_metrics_chunked(&r, &a));
        assert_eq!(s.max_abs, c.max_abs);
        for (x, y) in [(s.mse, c.mse), (s.sqnr_db, c.sqnr_db), (s.cosine, c.cosine)] {
            assert!((x - y).abs() <= 1e-9 * x.abs(), "{x} vs {y}");
        }
        let mut bad = a.clone();
        bad[200_000] = f32::NAN;
        assert_eq!(error_metrics_chunked(&r, &bad).non_finite, 1);
    }

    #[test]
    fn hand_computed_metrics() {
        let m = error_metrics(&[1.0, -2.0, 0.0, 3.0], &[1.0, -1.0, 0.5, 3.0]);
        assert_eq!(m.mse, (1.0 + 0.25) / 4.0);
        assert_eq!(m.max_abs, 1.0);
        assert!((m.sqnr_db - 10.0 * (14.0f64 / 1.25).log10()).abs() < 1e-12);
        let cos = (1.0 + 2.0 + 9.0) / (14.0f64.sqrt() * (1.0f64 + 1.0 + 0.25 + 9.0).sqrt());
        assert!((m.cosine - cos).abs() < 1e-12);
        let exact = error_metrics(&[1.0, 2.0], &[1.0, 2.0]);
        assert_eq!((exact.mse, exact.sqnr_db), (0.0, f64::INFINITY));
        assert!((exact.cosine - 1.0).abs() < 1e-15);
        assert_eq!(exact.non_finite, 0);
    }

    /// Before: `f64::max` skipped NaN, so an all-NaN image had max error 0.
    #[test]
    fn non_finite_values_are_counted_and_poison_every_measure() {
        let m = error_metrics(&[1.0, 2.0, 3.0], &[f32::NAN; 3]);
        assert_eq!(m.non_finite, 3);
        assert!(m.mse.is_nan() && m.max_abs.is_nan() && m.sqnr_db.is_nan() && m.cosine.is_nan());
        let m = error_metrics(&[1.0, 2.0, 3.0], &[1.0, f32::INFINITY, 3.0]);
        assert_eq!(m.non_finite, 1);
        assert!(m.max_abs.is_nan());
        let m = error_metrics(&[f32::NEG_INFINITY, 2.0], &[0.0, 2.0]);
        assert_eq!(m.non_finite, 1);
    }
}
