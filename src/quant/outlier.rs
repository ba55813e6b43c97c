//! The chaos-evolve document's outlier stress test as a reusable function:
//! its claim is that block-wise scales confine an outlier's damage to its own
//! block while a per-tensor scale spreads it everywhere. This measures it.

use super::metrics::error_metrics;
use super::spec::{Calibration, Granularity, QuantSpec, ScaleDtype, Scheme};
use super::tensor::fake_quantize;

/// MSE of per-tensor and block-wise quantization of the same perturbed tensor.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutlierStress {
    pub per_tensor_mse: f64,
    pub blockwise_mse: f64,
    /// per_tensor_mse / blockwise_mse (+∞ if only the block-wise MSE is 0, 1 if both are).
    pub ratio: f64,
}

/// Inject `n_outliers` values of ±`magnitude` (random sign) at distinct
/// rng-chosen positions of a copy of `weights`, quantize it asymmetrically with
/// min-max ranges and f32 scales per tensor and in blocks of `block_size`, and
/// report both MSEs against the perturbed copy. `bits` is clamped to 1..=16,
/// `block_size` to at least 1 and `n_outliers` to the tensor length; an empty
/// tensor or non-finite weights give zero MSEs.
pub fn outlier_stress_test<R: rand::Rng + ?Sized>(
    weights: &[f32],
    bits: u8,
    block_size: usize,
    n_outliers: usize,
    magnitude: f32,
    rng: &mut R,
) -> OutlierStress {
    let mut w = weights.to_vec();
    let n = n_outliers.min(w.len());
    for i in rand::seq::index::sample(rng, w.len(), n).into_vec() {
        w[i] = if rng.random_bool(0.5) {
            magnitude
        } else {
            -magnitude
        };
    }
    let spec = |granularity| QuantSpec {
        bits: bits.clamp(1, 16),
        scheme: Scheme::Asymmetric,
        granularity,
        group_size: block_size.max(1),
        calibration: Calibration::MinMax,
        percentile: 100.0,
        scale_dtype: ScaleDtype::F32,
    };
    let mut out = vec![0f32; w.len()];
    let mut mse = |g| match fake_quantize(&w, &[w.len()], &spec(g), &mut out) {
        Ok(()) => error_metrics(&w, &out).mse,
        Err(_) => 0.0,
    };
    let per_tensor_mse = mse(Granularity::PerTensor);
    let blockwise_mse = mse(Granularity::Block);
    let ratio = if blockwise_mse > 0.0 {
        per_tensor_mse / blockwise_mse
    } else if per_tensor_mse > 0.0 {
        f64::INFINITY
    } else {
        1.0
    };
    OutlierStress {
        per_tensor_mse,
        blockwise_mse,
        ratio,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn outliers_hurt_per_tensor_more_and_runs_are_reproducible() {
        let w: Vec<f32> = (0..4096).map(|i| (i as f32 * 0.61).sin() * 0.1).collect();
        let run =
            || outlier_stress_test(&w, 4, 4, 5, 10.0, &mut Xoshiro256PlusPlus::seed_from_u64(7));
        let a = run();
        assert_eq!(a, run());
        assert!(a.per_tensor_mse > a.blockwise_mse, "{a:?}");
        assert_eq!(a.ratio, a.per_tensor_mse / a.blockwise_mse);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let e = outlier_stress_test(&[], 4, 4, 3, 10.0, &mut rng);
        assert_eq!(
            (e.per_tensor_mse, e.blockwise_mse, e.ratio),
            (0.0, 0.0, 1.0)
        );
        let c = outlier_stress_test(&[0.0; 8], 4, 0, 100, 1.0, &mut rng);
        assert!(c.ratio.is_finite() || c.ratio == f64::INFINITY);
    }
}
