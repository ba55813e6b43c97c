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
    let (mut se, mut max_abs, mut sig, mut dot, mut aa) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for (&r, &a) in reference[..n].iter().zip(&approx[..n]) {
        let (r, a) = (f64::from(r), f64::from(a));
        let d = a - r;
        se += d * d;
        max_abs = max_abs.max(d.abs());
        sig += r * r;
        dot += r * a;
        aa += a * a;
    }
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
