//! The statistical half of `diff`: per sweep point and metric, the
//! difference of the new mean from the old with its 95% interval and a
//! verdict.
//!
//! Replicates of the same seed are the same experiment twice, so when every
//! matched pair at a point has the same seed the test is paired (a t
//! interval of the per-replicate differences); otherwise the two samples are
//! independent and the interval is Welch's. Which direction is better comes
//! from the metric's name ([`super::metrics::direction`]); a metric with no
//! rule is reported as higher or lower, never better or worse.

use super::metrics::{self, Direction};
use super::plots::fmt_num;
use super::stats::{stats, t_quantile_975};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Test {
    /// Per-replicate differences (the seeds matched).
    Paired,
    /// Two independent samples.
    Welch,
    /// Too few values for an interval.
    None,
}

impl Test {
    pub fn label(self) -> &'static str {
        match self {
            Test::Paired => "paired t",
            Test::Welch => "Welch t",
            Test::None => "-",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The interval holds zero (or the change is within tolerance).
    NoChange,
    Better,
    Worse,
    /// A detectable change of a metric whose better direction is unknown.
    Higher,
    Lower,
    /// The means differ but there are too few values for an interval.
    TooFew,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::NoChange => "no detectable change",
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::Higher => "higher",
            Verdict::Lower => "lower",
            Verdict::TooFew => "too few replicates to tell",
        }
    }
}

/// One sweep point × metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// `k=v, k=v` of the point (empty for a run without a sweep).
    pub point: String,
    pub metric: String,
    pub n_old: usize,
    pub n_new: usize,
    pub mean_old: f64,
    pub mean_new: f64,
    /// mean_new − mean_old.
    pub delta: f64,
    pub ci: Option<(f64, f64)>,
    pub test: Test,
    pub verdict: Verdict,
}

impl Comparison {
    /// "+1.2 [0.3, 2.1]".
    pub fn delta_text(&self) -> String {
        let sign = |x: f64| {
            if x > 0.0 {
                format!("+{}", fmt_num(x))
            } else {
                fmt_num(x)
            }
        };
        match self.ci {
            Some((lo, hi)) => format!("{} [{}, {}]", sign(self.delta), fmt_num(lo), fmt_num(hi)),
            None => sign(self.delta),
        }
    }
}

/// Compare one metric at one point. `pairs` are the (old, new) values of
/// replicates matched with the same seed; when `paired` they are the
/// sample, otherwise `old` and `new` are. `negligible` says whether a
/// difference of means is within the user's tolerance.
pub fn compare(
    point: &str,
    metric: &str,
    old: &[f64],
    new: &[f64],
    paired: Option<&[(f64, f64)]>,
    negligible: impl Fn(f64, f64) -> bool,
) -> Option<Comparison> {
    let (so, sn) = (stats(old)?, stats(new)?);
    let delta = sn.mean - so.mean;
    let (ci, test) = match paired {
        Some(pairs) if pairs.len() >= 2 => {
            let d: Vec<f64> = pairs.iter().map(|(a, b)| b - a).collect();
            let s = stats(&d)?;
            (s.ci95, Test::Paired)
        }
        _ => match (so.std, sn.std) {
            (Some(a), Some(b)) => {
                let (va, vb) = (a * a / so.n as f64, b * b / sn.n as f64);
                let se = (va + vb).sqrt();
                let half = if se == 0.0 {
                    0.0
                } else {
                    let df = (va + vb).powi(2)
                        / (va * va / (so.n - 1) as f64 + vb * vb / (sn.n - 1) as f64);
                    welch_t(df) * se
                };
                (Some((delta - half, delta + half)), Test::Welch)
            }
            _ => (None, Test::None),
        },
    };
    let verdict = if negligible(so.mean, sn.mean) {
        Verdict::NoChange
    } else {
        match ci {
            Some((lo, hi)) if lo <= 0.0 && hi >= 0.0 => Verdict::NoChange,
            Some(_) => match (metrics::direction(metric), delta > 0.0) {
                (Direction::Higher, true) | (Direction::Lower, false) => Verdict::Better,
                (Direction::Higher, false) | (Direction::Lower, true) => Verdict::Worse,
                (Direction::Unknown, true) => Verdict::Higher,
                (Direction::Unknown, false) => Verdict::Lower,
            },
            None => Verdict::TooFew,
        }
    };
    Some(Comparison {
        point: point.to_string(),
        metric: metric.to_string(),
        n_old: so.n,
        n_new: sn.n,
        mean_old: so.mean,
        mean_new: sn.mean,
        delta,
        ci,
        test,
        verdict,
    })
}

/// The 97.5% t quantile at a (fractional) Welch–Satterthwaite df.
fn welch_t(df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    if df.is_finite() && df >= 1.0 && df.fract() == 0.0 {
        return t_quantile_975(df as usize);
    }
    StudentsT::new(0.0, 1.0, df.max(1e-9))
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(a: f64, b: f64) -> bool {
        a == b
    }

    #[test]
    fn paired_and_welch_intervals_and_verdicts() {
        // Paired: every replicate improved by about 1.
        let old = [10.0, 12.0, 11.0, 13.0];
        let new = [11.1, 12.9, 12.0, 14.1];
        let pairs: Vec<(f64, f64)> = old.iter().copied().zip(new.iter().copied()).collect();
        let c = compare("", "fp32_fitness", &old, &new, Some(&pairs), exact).unwrap();
        assert_eq!(c.test, Test::Paired);
        assert_eq!(c.verdict, Verdict::Better);
        let (lo, hi) = c.ci.unwrap();
        assert!(lo > 0.8 && hi < 1.2, "{lo} {hi}");
        // The same numbers as independent samples: the spread between
        // replicates hides the shift.
        let c = compare("", "fp32_fitness", &old, &new, None, exact).unwrap();
        assert_eq!(c.test, Test::Welch);
        assert_eq!(c.verdict, Verdict::NoChange);
        // Welch df for equal variances and sizes is 2n − 2: the interval is
        // the pooled t interval, here ±t(6)·sqrt(2·var/4).
        let (lo, hi) = c.ci.unwrap();
        let var = stats(&old).unwrap().std.unwrap().powi(2);
        let var2 = stats(&new).unwrap().std.unwrap().powi(2);
        let se = (var / 4.0 + var2 / 4.0).sqrt();
        assert!((hi - lo) / 2.0 > 2.0 * se && (hi - lo) / 2.0 < 2.6 * se);
        // Lower is better for an error; unknown metrics are neutral.
        let c = compare(
            "",
            "block_weight_mse",
            &[1.0, 1.1],
            &[2.0, 2.1],
            None,
            exact,
        )
        .unwrap();
        assert_eq!(c.verdict, Verdict::Worse);
        let c = compare("", "weights", &[1.0, 1.1], &[2.0, 2.1], None, exact).unwrap();
        assert_eq!(c.verdict, Verdict::Higher);
        // Constants that moved are a change; one value each is too few.
        let c = compare("", "x_accuracy", &[0.5, 0.5], &[0.6, 0.6], None, exact).unwrap();
        assert_eq!(
            (c.verdict, c.ci),
            (Verdict::Better, Some((c.delta, c.delta)))
        );
        let c = compare("", "x_accuracy", &[0.5], &[0.6], None, exact).unwrap();
        assert_eq!(c.verdict, Verdict::TooFew);
        let c = compare("", "x_accuracy", &[0.5], &[0.6], None, |_, _| true).unwrap();
        assert_eq!(c.verdict, Verdict::NoChange);
        assert_eq!(c.delta_text(), "+0.1");
    }
}
