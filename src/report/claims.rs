//! Claims a manifest states (`[[claims]]`) and their verdicts.
//!
//! A claim is tested against the 95% interval of its metric's mean over the
//! replicates of each sweep point it names: **supported** when the whole
//! interval meets it, **refuted** when the whole interval contradicts it,
//! **inconclusive** otherwise, with the replicates a power calculation (80%
//! power, two-sided 5% level, on the interval's scale) says would decide.
//! Claims are not parameters: they change no trial id and no seed.

use super::metrics;
use super::plots::fmt_num;
use super::results_dir::{ResultsDir, column_values};
use super::stats::{Method, replicates_needed, summarise};
use serde_json::json;

/// What a claim says about its metric's mean.
#[derive(Clone, Debug, PartialEq)]
pub enum Bound {
    AtLeast(f64),
    AtMost(f64),
    /// Within `tolerance` of `value`.
    Equals {
        value: f64,
        tolerance: f64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    pub text: String,
    pub metric: String,
    pub bound: Bound,
    /// Sweep point filter: (parameter key, value as written in trials.csv).
    pub at: Vec<(String, String)>,
}

impl Claim {
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = json!({"text": self.text, "metric": self.metric});
        match self.bound {
            Bound::AtLeast(x) => v["at_least"] = json!(x),
            Bound::AtMost(x) => v["at_most"] = json!(x),
            Bound::Equals { value, tolerance } => {
                v["equals"] = json!(value);
                v["tolerance"] = json!(tolerance);
            }
        }
        let at: serde_json::Map<String, serde_json::Value> =
            self.at.iter().map(|(k, x)| (k.clone(), json!(x))).collect();
        v["where"] = serde_json::Value::Object(at);
        v
    }

    /// The claim as report.json holds it; `None` for anything malformed
    /// (a hand-edited file), which the report then leaves out.
    pub fn from_json(v: &serde_json::Value) -> Option<Claim> {
        let text = v.get("text")?.as_str()?.to_string();
        let metric = v.get("metric")?.as_str()?.to_string();
        let num = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
        let bound = match (num("at_least"), num("at_most"), num("equals")) {
            (Some(x), None, None) => Bound::AtLeast(x),
            (None, Some(x), None) => Bound::AtMost(x),
            (None, None, Some(value)) => Bound::Equals {
                value,
                tolerance: num("tolerance").unwrap_or(0.0),
            },
            _ => return None,
        };
        let at = v
            .get("where")
            .and_then(|w| w.as_object())
            .map(|m| {
                m.iter()
                    .map(|(k, x)| (k.clone(), x.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Some(Claim {
            text,
            metric,
            bound,
            at,
        })
    }

    /// "`block_retention` ≥ 1.13".
    pub fn test_text(&self) -> String {
        let m = &self.metric;
        match self.bound {
            Bound::AtLeast(x) => format!("`{m}` ≥ {}", fmt_num(x)),
            Bound::AtMost(x) => format!("`{m}` ≤ {}", fmt_num(x)),
            Bound::Equals { value, tolerance } => {
                format!("`{m}` = {} ± {}", fmt_num(value), fmt_num(tolerance))
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Supported,
    Refuted,
    Inconclusive,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Refuted => "refuted",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// A claim at one sweep point.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// `k=v, …` of the point; empty for a run without a sweep.
    pub point: String,
    pub n: usize,
    pub mean: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub method: Method,
    pub verdict: Verdict,
    /// Why it is inconclusive, and what would decide it.
    pub note: String,
}

/// Decide a claim from an interval.
pub fn decide(bound: &Bound, (lo, hi): (f64, f64)) -> Verdict {
    let (a, b) = match *bound {
        Bound::AtLeast(x) => (x, f64::INFINITY),
        Bound::AtMost(x) => (f64::NEG_INFINITY, x),
        Bound::Equals { value, tolerance } => (value - tolerance, value + tolerance),
    };
    if lo >= a && hi <= b {
        Verdict::Supported
    } else if hi < a || lo > b {
        Verdict::Refuted
    } else {
        Verdict::Inconclusive
    }
}

/// The boundary of the claim nearest the mean: the one an interval must
/// clear to decide it.
fn nearest_edge(bound: &Bound, mean: f64) -> f64 {
    match *bound {
        Bound::AtLeast(x) | Bound::AtMost(x) => x,
        Bound::Equals { value, tolerance } => {
            let (a, b) = (value - tolerance, value + tolerance);
            if (mean - a).abs() <= (mean - b).abs() {
                a
            } else {
                b
            }
        }
    }
}

/// The fewest trials whose Wilson interval, at the observed proportion `p`,
/// lies wholly on one side of the claim (up to a million).
fn wilson_needed(p: f64, bound: &Bound) -> Option<usize> {
    let z = 1.959_963_984_540_054_f64;
    let mut n = 2usize;
    while n <= 1_000_000 {
        let nf = n as f64;
        let centre = (p + z * z / (2.0 * nf)) / (1.0 + z * z / nf);
        let half = z / (1.0 + z * z / nf) * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt();
        let ci = ((centre - half).max(0.0), (centre + half).min(1.0));
        if decide(bound, ci) != Verdict::Inconclusive {
            return Some(n);
        }
        n += 1.max(n / 50);
    }
    None
}

/// Test one claim on a sample.
pub fn evaluate(claim: &Claim, point: &str, xs: &[f64], boolean: bool) -> Outcome {
    let method = metrics::method(&claim.metric, boolean);
    let mut out = Outcome {
        point: point.to_string(),
        n: xs.len(),
        mean: None,
        ci: None,
        method,
        verdict: Verdict::Inconclusive,
        note: String::new(),
    };
    let Some((s, method)) = summarise(xs, method) else {
        out.note = format!("no trial reported `{}`", claim.metric);
        return out;
    };
    out.mean = Some(s.mean);
    out.method = method;
    out.ci = s.ci95;
    let Some(ci) = s.ci95 else {
        out.note = "one replicate gives no interval; run at least 2".into();
        return out;
    };
    out.verdict = decide(&claim.bound, ci);
    if out.verdict == Verdict::Inconclusive {
        let edge = nearest_edge(&claim.bound, s.mean);
        if method == Method::Wilson {
            out.note = match wilson_needed(s.mean, &claim.bound) {
                Some(n) => {
                    format!("about {n} replicates would decide it if the observed proportion held")
                }
                None => {
                    "the proportion sits on the claimed bound: no number of replicates decides it"
                        .to_string()
                }
            };
            return out;
        }
        let needed = method
            .transform(s.mean, s.std.unwrap_or(0.0))
            .and_then(|(f, sd)| {
                let delta = (f(s.mean) - f(edge)).abs();
                delta.is_finite().then(|| replicates_needed(sd, delta))?
            });
        out.note = match needed {
            Some(n) => format!(
                "about {n} replicates would decide it at the observed mean and spread (80% power)"
            ),
            None => {
                "the mean sits on the claimed bound: no number of replicates decides it".to_string()
            }
        };
    }
    out
}

/// Every claim of a results folder at every sweep point it names.
pub fn outcomes(results: &ResultsDir) -> Vec<(Claim, Vec<Outcome>)> {
    let trial_points = results.row_points(&results.trials);
    let ok = results.ok_trials();
    results
        .claims
        .iter()
        .map(|claim| {
            let points: Vec<usize> = (0..results.points.len())
                .filter(|&p| {
                    claim.at.iter().all(|(k, v)| {
                        match results.swept_keys.iter().position(|s| s == k) {
                            Some(i) => results.points[p].values[i] == *v,
                            None => results.param(k) == Some(v.as_str()),
                        }
                    })
                })
                .collect();
            let boolean = super::results_dir::is_boolean(&results.trials, &claim.metric, &ok);
            let outs = points
                .iter()
                .map(|&p| {
                    let rows: Vec<usize> = ok
                        .iter()
                        .copied()
                        .filter(|&r| trial_points[r] == Some(p))
                        .collect();
                    let xs = column_values(&results.trials, &claim.metric, &rows);
                    evaluate(claim, &results.point_label(p), &xs, boolean)
                })
                .collect();
            (claim.clone(), outs)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(bound: Bound) -> Claim {
        Claim {
            text: "t".into(),
            metric: "score".into(),
            bound,
            at: Vec::new(),
        }
    }

    #[test]
    fn verdicts_need_the_whole_interval() {
        let at_least = Bound::AtLeast(1.0);
        assert_eq!(decide(&at_least, (1.0, 2.0)), Verdict::Supported);
        assert_eq!(decide(&at_least, (0.2, 0.9)), Verdict::Refuted);
        assert_eq!(decide(&at_least, (0.9, 1.1)), Verdict::Inconclusive);
        let at_most = Bound::AtMost(1.0);
        assert_eq!(decide(&at_most, (0.2, 0.9)), Verdict::Supported);
        assert_eq!(decide(&at_most, (1.2, 1.9)), Verdict::Refuted);
        let eq = Bound::Equals {
            value: 8.0,
            tolerance: 0.5,
        };
        assert_eq!(decide(&eq, (7.6, 8.4)), Verdict::Supported);
        assert_eq!(decide(&eq, (2.0, 3.0)), Verdict::Refuted);
        assert_eq!(decide(&eq, (7.0, 8.2)), Verdict::Inconclusive);
    }

    #[test]
    fn inconclusive_claims_say_how_many_replicates_would_decide() {
        let c = claim(Bound::AtLeast(1.0));
        let o = evaluate(&c, "", &[0.8, 1.4, 1.1, 0.9], false);
        assert_eq!(o.verdict, Verdict::Inconclusive);
        assert_eq!(o.n, 4);
        assert!(o.note.starts_with("about "), "{}", o.note);
        let n: usize = o.note.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(n > 4, "{n}");
        let o = evaluate(&c, "", &[1.5, 1.6, 1.55], false);
        assert_eq!(o.verdict, Verdict::Supported);
        let o = evaluate(&c, "", &[1.5], false);
        assert_eq!(o.verdict, Verdict::Inconclusive);
        assert!(o.note.contains("one replicate"));
        // A proportion of 1 in 2 trials: Wilson's lower bound 0.34 < 0.5,
        // and it takes 4 trials of 4 to clear it (n / (n + z²) ≥ 0.5).
        let c = claim(Bound::AtLeast(0.5));
        let o = evaluate(&c, "", &[1.0, 1.0], true);
        assert_eq!(o.verdict, Verdict::Inconclusive);
        assert!(o.note.starts_with("about 4 replicates"), "{}", o.note);
        let back = Claim::from_json(&c.to_json()).unwrap();
        assert_eq!(back, c);
    }
}
