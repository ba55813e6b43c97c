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

/// Statistics of a yes/no metric given as 0/1 values: the mean is the
/// fraction of yeses, and the 95% interval is Wilson's score interval, which
/// (unlike a t interval) stays within [0, 1] and is not degenerate at 0 or n.
pub fn proportion_stats(xs: &[f64]) -> Option<Stats> {
    let mut s = stats(xs)?;
    let n = s.n as f64;
    // Two-sided 97.5% standard normal quantile.
    let z = 1.959_963_984_540_054_f64;
    let p = s.mean;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    s.ci95 = Some(((centre - half).max(0.0), (centre + half).min(1.0)));
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_matches_published_values() {
        // Newcombe (1998), Statistics in Medicine 17:857, table I:
        // 81/263 → 0.2553 to 0.3662; 0/10 → 0 to 0.2775; 1/29 → 0.0061 to 0.1718.
        let frac = |k: usize, n: usize| -> Vec<f64> {
            (0..n).map(|i| if i < k { 1.0 } else { 0.0 }).collect()
        };
        for (k, n, lo, hi) in [
            (81, 263, 0.2553, 0.3662),
            (0, 10, 0.0, 0.2775),
            (1, 29, 0.0061, 0.1718),
        ] {
            let (a, b) = proportion_stats(&frac(k, n)).unwrap().ci95.unwrap();
            assert!(
                (a - lo).abs() < 5e-5 && (b - hi).abs() < 5e-5,
                "{k}/{n}: {a} {b}"
            );
        }
        let (a, b) = proportion_stats(&frac(8, 8)).unwrap().ci95.unwrap();
        assert!(a > 0.6 && b == 1.0);
    }

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
