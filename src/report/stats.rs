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

/// How a metric's 95% interval is computed (see [`super::metrics::method`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Student t on the values.
    StudentT,
    /// For positive quantities: Student t on the log scale by the delta
    /// method, `mean · exp(±t · (sd / mean) / √n)`, so the interval stays
    /// positive and is multiplicative around the mean.
    Log,
    /// For fractions in [0, 1]: Student t on the logit scale by the delta
    /// method, `expit(logit(mean) ± t · sd / (√n · mean · (1 − mean)))`.
    Logit,
    /// For yes/no metrics: Wilson's score interval.
    Wilson,
}

impl Method {
    /// Short name, as printed in reports.
    pub fn label(self) -> &'static str {
        match self {
            Method::StudentT => "Student t",
            Method::Log => "log-scale t",
            Method::Logit => "logit-scale t",
            Method::Wilson => "Wilson",
        }
    }

    /// The scale the method works on, and the standard deviation of one
    /// value on that scale (by the delta method), for a sample of mean
    /// `mean` and standard deviation `sd`; `None` where the transform does
    /// not apply (then the method falls back to Student t).
    pub fn transform(self, mean: f64, sd: f64) -> Option<(Scale, f64)> {
        match self {
            Method::StudentT => Some((identity, sd)),
            Method::Wilson => Some((identity, (mean * (1.0 - mean)).max(0.0).sqrt())),
            Method::Log if mean > 0.0 => Some((f64::ln, sd / mean)),
            Method::Logit if mean > 0.0 && mean < 1.0 => Some((logit, sd / (mean * (1.0 - mean)))),
            _ => None,
        }
    }
}

/// A method's transform of the values.
pub type Scale = fn(f64) -> f64;

fn identity(x: f64) -> f64 {
    x
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn expit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Statistics of `xs` with the 95% interval of `method`. Where the method's
/// assumptions fail (a "positive" metric with a mean at or below zero, a
/// fraction outside (0, 1)) the interval is Student t's and `method` says
/// so, rather than a wrong interval on a transformed scale.
pub fn summarise(xs: &[f64], method: Method) -> Option<(Stats, Method)> {
    match method {
        Method::StudentT => stats(xs).map(|s| (s, Method::StudentT)),
        Method::Wilson => proportion_stats(xs).map(|s| (s, Method::Wilson)),
        Method::Log | Method::Logit => {
            let mut s = stats(xs)?;
            let in_range = match method {
                Method::Log => xs.iter().all(|x| *x >= 0.0) && s.mean > 0.0,
                _ => xs.iter().all(|x| (0.0..=1.0).contains(x)),
            };
            if !in_range {
                return Some((s, Method::StudentT));
            }
            let (Some(sd), true) = (s.std, s.n > 1) else {
                return Some((s, method));
            };
            if sd == 0.0 {
                return Some((s, method));
            }
            // A fraction of exactly 0 or 1 with spread cannot happen (all
            // values would be 0 or 1); the guard keeps the arithmetic finite.
            let Some((f, sd_t)) = method.transform(s.mean, sd) else {
                return Some((s, Method::StudentT));
            };
            let half = t_quantile_975(s.n - 1) * sd_t / (s.n as f64).sqrt();
            let centre = f(s.mean);
            s.ci95 = Some(match method {
                Method::Log => ((centre - half).exp(), (centre + half).exp()),
                _ => (expit(centre - half), expit(centre + half)),
            });
            Some((s, method))
        }
    }
}

/// Two-sided quantile of Student's t at probability `p`.
pub fn t_quantile(p: f64, df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|t| t.inverse_cdf(p))
        .unwrap_or(f64::NAN)
}

/// Replicates a two-sided 95% test needs to tell a mean `delta` away from a
/// reference with 80% power, for values of standard deviation `sd` (both on
/// the method's scale): the smallest n with
/// `(t(0.975, n−1) + t(0.80, n−1)) · sd / √n ≤ delta`. `None` when no
/// number of replicates would do (`delta` is 0) or it exceeds ten million.
pub fn replicates_needed(sd: f64, delta: f64) -> Option<usize> {
    if delta.is_nan() || delta <= 0.0 || !sd.is_finite() {
        return None;
    }
    if sd == 0.0 {
        return Some(2);
    }
    const LIMIT: f64 = 1e7;
    let z = 1.959_963_984_540_054 + 0.841_621_233_572_914_3;
    let approx = (z * sd / delta).powi(2);
    if approx > LIMIT {
        return None;
    }
    let mut n = (approx.ceil() as usize).max(2);
    while n as f64 <= LIMIT {
        let t = t_quantile(0.975, n - 1) + t_quantile(0.8, n - 1);
        if t * sd / (n as f64).sqrt() <= delta {
            return Some(n);
        }
        n += 1.max(n / 50);
    }
    None
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
    fn bounded_intervals_stay_in_their_range() {
        // A retention whose t interval reaches below zero.
        let xs = [0.05, 1.2, 0.9];
        let (t, _) = summarise(&xs, Method::StudentT).unwrap();
        assert!(t.ci95.unwrap().0 < 0.0);
        let (s, m) = summarise(&xs, Method::Log).unwrap();
        assert_eq!(m, Method::Log);
        let (lo, hi) = s.ci95.unwrap();
        assert!(lo > 0.0 && lo < s.mean && hi > s.mean, "{lo} {hi}");
        // An accuracy near 1 stays below 1.
        let (s, m) = summarise(&[0.952, 0.96], Method::Logit).unwrap();
        assert_eq!(m, Method::Logit);
        let (lo, hi) = s.ci95.unwrap();
        assert!(
            lo > 0.0 && hi < 1.0 && lo < 0.956 && hi > 0.956,
            "{lo} {hi}"
        );
        // Constants keep a zero-width interval; a negative "positive"
        // metric falls back to Student t and says so.
        let (s, _) = summarise(&[2.0, 2.0], Method::Log).unwrap();
        assert_eq!(s.ci95, Some((2.0, 2.0)));
        assert_eq!(
            summarise(&[-1.0, 2.0], Method::Log).unwrap().1,
            Method::StudentT
        );
        assert_eq!(
            summarise(&[0.5, 1.5], Method::Logit).unwrap().1,
            Method::StudentT
        );
    }

    #[test]
    fn replicates_needed_matches_the_normal_approximation() {
        // sd = delta: (1.96 + 0.84)^2 = 7.85 by the normal approximation;
        // the t correction adds a few.
        let n = replicates_needed(1.0, 1.0).unwrap();
        assert!((9..=12).contains(&n), "{n}");
        assert!(replicates_needed(1.0, 0.1).unwrap() > 700);
        assert_eq!(replicates_needed(1.0, 0.0), None);
        assert_eq!(replicates_needed(0.0, 1.0), Some(2));
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
