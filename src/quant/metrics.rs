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

/// Values per block of [`error_metrics_chunked`]: a multiple of 8, so a
/// block of packed codes starts on a byte boundary at any bit width.
pub const METRIC_BLOCK: usize = 8192;

/// Running sums over one block of [`METRIC_BLOCK`] values, in four lanes
/// (value `i` of the block goes to lane `i % 4`): four independent chains of
/// f64 additions instead of one, which is what makes the metrics as fast as
/// reading the data. The lanes are combined in a fixed order, so the result
/// depends only on the values, never on how the block was fed.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockSums {
    lanes: Lanes,
    count: usize,
}

/// Σ err², max |err|, Σ ref², Σ ref·approx, Σ approx², one per lane.
#[derive(Clone, Copy, Debug, Default)]
struct Lanes {
    se: [f64; 4],
    max_abs: [f64; 4],
    sig: [f64; 4],
    dot: [f64; 4],
    aa: [f64; 4],
}

impl Lanes {
    #[inline(always)]
    fn add(&mut self, j: usize, x: f32, y: f32) {
        let (x, y) = (f64::from(x), f64::from(y));
        let d = y - x;
        self.se[j] += d * d;
        // Not f64::max: its NaN rule blocks vectorising, and a NaN here
        // shows in the sums (the block is then recounted).
        let ad = d.abs();
        self.max_abs[j] = if ad > self.max_abs[j] {
            ad
        } else {
            self.max_abs[j]
        };
        self.sig[j] += x * x;
        self.dot[j] += x * y;
        self.aa[j] += y * y;
    }
}

impl BlockSums {
    /// Add the next values of the block (`reference.len() == approx.len()`).
    #[inline]
    pub fn add(&mut self, reference: &[f32], approx: &[f32]) {
        let n = reference.len().min(approx.len());
        let (mut r, mut a) = (&reference[..n], &approx[..n]);
        // Feed single values until the lane of the next value is 0.
        while self.count % 4 != 0 && !r.is_empty() {
            self.lanes.add(self.count % 4, r[0], a[0]);
            self.count += 1;
            (r, a) = (&r[1..], &a[1..]);
        }
        let (rq, aq) = (r.chunks_exact(4), a.chunks_exact(4));
        let (rt, at) = (rq.remainder(), aq.remainder());
        // The lanes live in a local for the loop: through `self` every sum
        // would be stored back on each step (half the speed).
        let mut lanes = self.lanes;
        for (r4, a4) in rq.zip(aq) {
            for j in 0..4 {
                lanes.add(j, r4[j], a4[j]);
            }
        }
        self.lanes = lanes;
        self.count += r.len() - rt.len();
        for (&x, &y) in rt.iter().zip(at) {
            self.lanes.add(self.count % 4, x, y);
            self.count += 1;
        }
    }

    /// Σ err², max |err|, Σ ref², Σ ref·approx, Σ approx² of the block.
    pub fn total(&self) -> [f64; 5] {
        let l = &self.lanes;
        let sum = |v: &[f64; 4]| ((v[0] + v[1]) + v[2]) + v[3];
        let max = l.max_abs.iter().fold(0f64, |m, &x| m.max(x));
        [sum(&l.se), max, sum(&l.sig), sum(&l.dot), sum(&l.aa)]
    }
}

/// Metrics of `n` values from their blocks' [`BlockSums::total`]s, combined
/// in block order; `None` when a sum is not finite, which (f32 squares never
/// overflow f64) means a value was not finite: the caller then counts them
/// with [`error_metrics`].
pub fn from_block_totals(n: usize, blocks: &[[f64; 5]]) -> Option<ErrorMetrics> {
    let mut t = [0f64; 5];
    for p in blocks {
        t[0] += p[0];
        t[1] = t[1].max(p[1]);
        t[2] += p[2];
        t[3] += p[3];
        t[4] += p[4];
    }
    let finite = t[0].is_finite() && t[2].is_finite() && t[3].is_finite() && t[4].is_finite();
    finite.then(|| finish(n, t[0], t[1], t[2], t[3], t[4]))
}

/// [`error_metrics`] on all cores for large tensors (`quantize` on a file):
/// [`BlockSums`] per block of [`METRIC_BLOCK`] values, combined in block
/// order, so the result is the same for any thread count (it may differ from
/// [`error_metrics`] in the last bits, the additions being grouped differently).
pub fn error_metrics_chunked(reference: &[f32], approx: &[f32]) -> ErrorMetrics {
    use rayon::prelude::*;
    let n = reference.len().min(approx.len());
    let blocks: Vec<[f64; 5]> = reference[..n]
        .par_chunks(METRIC_BLOCK)
        .zip(approx[..n].par_chunks(METRIC_BLOCK))
        .map(|(r, a)| {
            let mut s = BlockSums::default();
            s.add(r, a);
            s.total()
        })
        .collect();
    from_block_totals(n, &blocks).unwrap_or_else(|| error_metrics(reference, approx))
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
        bad[200_000] = f32::INFINITY;
        assert_eq!(error_metrics_chunked(&r, &bad).non_finite, 1);
        assert_eq!(error_metrics_chunked(&[], &[]), error_metrics(&[], &[]));
    }

    #[test]
    fn block_sums_do_not_depend_on_how_the_block_is_fed() {
        let r: Vec<f32> = (0..1001).map(|i| (i as f32 * 0.11).cos()).collect();
        let a: Vec<f32> = r.iter().map(|x| (x * 8.0).round() / 8.0).collect();
        let mut whole = BlockSums::default();
        whole.add(&r, &a);
        for cuts in [[1, 2, 3], [4, 5, 999], [7, 500, 1000]] {
            let mut fed = BlockSums::default();
            let mut at = 0;
            for c in cuts.into_iter().chain([r.len()]) {
                fed.add(&r[at..c], &a[at..c]);
                at = c;
            }
            assert_eq!(fed.total(), whole.total(), "{cuts:?}");
        }
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
