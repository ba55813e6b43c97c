//! Summary statistics across replicates.

use statrs::distribution::{ContinuousCDF, StudentsT};

#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); `None` for a single value.
    pub std: Option<f64>,
    pub min: f64,
    pub max: f64,
    /// Two-sided 95% confidence interval of the mean from Student's t with
    /// n − 1 degrees of freedom; `None` for a single value.
    pub ci95: Option<(f64, f64)>,
}

/// Two-sided 97.5% quantile of Student's t with `df` degrees of freedom.
pub fn t_quantile_975(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

/// Statistics of `xs` summed in the given order (callers pass trial order, so
/// the result is the same whatever order trials finished in).
pub fn stats(xs: &[f64]) -> Option<Stats> {
    let n = xs.len();
    if n == 0 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (std, ci95) = if n > 1 {
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std = var.sqrt();
        let half = t_quantile_975(n - 1) * std / (n as f64).sqrt();
        (Some(std), Some((mean - half, mean + half)))
    } else {
        (None, None)
    };
    Some(Stats {
        n,
        mean,
        std,
        min,
        max,
        ci95,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        // Standard two-sided 95% critical values.
        assert!((t_quantile_975(1) - 12.706).abs() < 1e-3);
        assert!((t_quantile_975(7) - 2.365).abs() < 1e-3);
        assert!((t_quantile_975(30) - 2.042).abs() < 1e-3);
    }

    #[test]
    fn stats_of_a_small_sample() {
        let s = stats(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s.mean, 2.5);
        assert!((s.std.unwrap() - 1.2909944487358056).abs() < 1e-12);
        let (lo, hi) = s.ci95.unwrap();
        assert!((hi - lo - 2.0 * 3.182446 * 1.2909944 / 2.0).abs() < 1e-4);
        assert_eq!((s.min, s.max), (1.0, 4.0));
        let one = stats(&[5.0]).unwrap();
        assert_eq!((one.std, one.ci95), (None, None));
    }
}
