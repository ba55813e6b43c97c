//! The generic parts of a report's plots and findings: charts, sweep plots,
//! mean/CI helpers, and the [`Section`] a study kind contributes.
//!
//! A kind's own findings and pictures live in its folder
//! (`studies/<kind>/report.rs`) next to the code that produces the metrics
//! they read; the report asks for them through [`Sections`], so nothing here
//! names a kind. Kinds without a section still get the sweep plots and the
//! summary.

pub mod chart;
pub mod sweep;

use super::results_dir::ResultsDir;
use super::stats::{Method, stats, summarise};
use crate::error::Result;
use chart::{Chart, Mark, Series};

/// One SVG of a report.
#[derive(Clone, Debug)]
pub struct Plot {
    /// File name inside `plots/`, e.g. `retention.svg`.
    pub file: String,
    /// One sentence under the picture: what is shown and where it comes from.
    pub caption: String,
    pub chart: Chart,
}

impl Plot {
    pub fn new(file: impl Into<String>, caption: impl Into<String>, chart: Chart) -> Plot {
        Plot {
            file: file.into(),
            caption: caption.into(),
            chart,
        }
    }
}

/// What a study kind contributes to its report.
#[derive(Clone, Debug, Default)]
pub struct Section {
    /// Headline findings, each a sentence computed from the results.
    pub findings: Vec<String>,
    pub plots: Vec<Plot>,
    /// Metrics shown in the report's summary table (and swept-parameter plots).
    pub key_metrics: Vec<String>,
}

/// Where the kind-specific part of a report comes from (the study
/// registry); the generic parts are added by the report.
pub trait Sections {
    fn section(&self, results: &ResultsDir) -> Result<Section>;
}

/// No kind-specific sections: generic findings and sweep plots only.
pub struct GenericOnly;

impl Sections for GenericOnly {
    fn section(&self, _: &ResultsDir) -> Result<Section> {
        Ok(Section::default())
    }
}

/// A mean line (x, mean) and its band (x, low, high).
pub type MeanBand = (Vec<(f64, f64)>, Vec<(f64, f64, f64)>);

/// Mean line and 95% CI band of values grouped by x (groups in x order).
/// Groups with one value contribute a point to the line but no band.
pub fn mean_and_band(groups: &[(f64, Vec<f64>)]) -> MeanBand {
    mean_and_band_with(groups, Method::StudentT)
}

/// [`mean_and_band`] with the interval of `method`.
pub fn mean_and_band_with(groups: &[(f64, Vec<f64>)], method: Method) -> MeanBand {
    let mut line = Vec::new();
    let mut band = Vec::new();
    for (x, ys) in groups {
        if let Some((s, _)) = summarise(ys, method) {
            line.push((*x, s.mean));
            if let Some((lo, hi)) = s.ci95 {
                band.push((*x, lo, hi));
            }
        }
    }
    (line, band)
}

/// Push a metric's mean (and, with `band`, its 95% CI) as series of `chart`.
pub fn push_mean(
    chart: &mut Chart,
    name: &str,
    color: usize,
    groups: &[(f64, Vec<f64>)],
    band: bool,
) {
    push_mean_with(chart, name, color, groups, band, Method::StudentT);
}

/// [`push_mean`] with the interval of `method`.
pub fn push_mean_with(
    chart: &mut Chart,
    name: &str,
    color: usize,
    groups: &[(f64, Vec<f64>)],
    band: bool,
    method: Method,
) {
    let (line, ci) = mean_and_band_with(groups, method);
    if band && !ci.is_empty() {
        chart.push(Series::new(
            format!("{name}: 95% CI"),
            Some(color),
            Mark::Band(ci),
        ));
    }
    chart.push(Series::new(
        format!("{name}: mean"),
        Some(color),
        Mark::LinePoints(line),
    ));
}

/// An axis description with the unit the metric is measured in.
pub fn metric_axis(metric: &str) -> String {
    let unit = if metric.ends_with("_retention") {
        "quantized / FP32 fitness"
    } else if metric.ends_with("_bits_per_weight") {
        "bits per weight"
    } else if metric.ends_with("_bytes") {
        "bytes"
    } else if metric.ends_with("_compression") {
        "× vs FP32"
    } else if metric.ends_with("_mse") {
        "mean squared error"
    } else if metric.ends_with("_accuracy") {
        "modelled accuracy, 0–1"
    } else if metric.ends_with("_beats_fp32") {
        "fraction of trials"
    } else if metric.ends_with("_gap") {
        "fraction of the optimum's compression left unused"
    } else if metric.ends_with("_latency_ms") {
        "ms per inference, analytical cost MODEL"
    } else if metric.ends_with("_energy_mj") {
        "mJ per inference, analytical cost MODEL"
    } else if metric == "hypervolume" {
        "normalised, reference = FP32"
    } else if metric.starts_with("front_dominates_") {
        "fraction of trials"
    } else if metric.ends_with("fitness") {
        "fitness score"
    } else {
        return metric.to_string();
    };
    format!("{metric} ({unit})")
}

/// Short number for prose: 4 significant digits.
pub fn fmt_num(x: f64) -> String {
    chart::tick(x)
}

/// "mean ± half-width" of a 95% CI, or just the mean for one value.
pub fn fmt_mean_ci(xs: &[f64], scale: f64, unit: &str) -> String {
    match stats(xs) {
        None => "n/a".into(),
        Some(s) => match s.ci95 {
            // Identical in every trial (e.g. a seed-independent baseline).
            // A half-width that prints as 0 (rounding noise of a constant,
            // 1e-16) is left out like an exact 0: never "± 0".
            Some((lo, hi)) if hi > lo && fmt_num((hi - lo) / 2.0 * scale) != "0" => format!(
                "{}{unit} ± {}{unit}",
                fmt_num(s.mean * scale),
                fmt_num((hi - lo) / 2.0 * scale)
            ),
            _ => format!("{}{unit}", fmt_num(s.mean * scale)),
        },
    }
}

/// Mean and 95% interval by `method`, for bounded metrics whose symmetric
/// `± half-width` would leave their range: "0.86 (95% logit-scale t
/// [0.52, 0.97])"; the mean alone when there is no spread.
pub fn fmt_mean_interval(xs: &[f64], method: Method) -> String {
    match summarise(xs, method) {
        None => "n/a".into(),
        Some((s, m)) => match s.ci95 {
            Some((lo, hi)) if hi > lo && fmt_num(lo) != fmt_num(hi) => format!(
                "{} (95% {} [{}, {}])",
                fmt_num(s.mean),
                m.label(),
                fmt_num(lo),
                fmt_num(hi)
            ),
            _ => fmt_num(s.mean),
        },
    }
}

/// Where a sample's 95% interval (by `method`) lies against a reference
/// value: "; its 95% interval (log-scale t) [96.5%, 108.1%] includes 100%, so no
/// difference is detectable" or "… lies below 100%". Empty with fewer than
/// two values.
pub fn reference_clause(
    xs: &[f64],
    method: Method,
    reference: f64,
    scale: f64,
    unit: &str,
) -> String {
    let Some((s, _)) = summarise(xs, method) else {
        return String::new();
    };
    let Some((lo, hi)) = s.ci95 else {
        return String::new();
    };
    let show = |x: f64| format!("{}{unit}", fmt_num(x * scale));
    let interval = format!("({}) [{}, {}]", method.label(), show(lo), show(hi));
    let r = show(reference);
    if lo > reference {
        format!("; its 95% interval {interval} lies above {r}")
    } else if hi < reference {
        format!("; its 95% interval {interval} lies below {r}")
    } else {
        format!(
            "; its 95% interval {interval} includes {r}, so no difference from {r} is detectable"
        )
    }
}

/// The sentence with its first letter capitalised.
pub fn sentence(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// [`slug`] of `name`, made distinct from the slugs of `others`: names that
/// differ only in punctuation or case (`a.b`, `a_b`, `A-B`) share a slug,
/// and two plots written to one file name would silently lose one of them.
/// Only a colliding name gets a suffix (8 hex digits of its hash), so
/// non-colliding names, and the committed snapshots, stay as they were.
pub fn distinct_slug<'a>(name: &str, others: impl IntoIterator<Item = &'a str>) -> String {
    let base = slug(name);
    if others.into_iter().any(|o| o != name && slug(o) == base) {
        format!("{base}_{}", &crate::ids::hash_hex(name)[..8])
    } else {
        base
    }
}

/// A file-name-safe slug.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_needs_two_values() {
        let (line, band) = mean_and_band(&[(0.0, vec![1.0, 3.0]), (1.0, vec![5.0])]);
        assert_eq!(line, vec![(0.0, 2.0), (1.0, 5.0)]);
        assert_eq!(band.len(), 1);
        assert!(band[0].1 < 2.0 && band[0].2 > 2.0);
    }

    #[test]
    fn prose_numbers() {
        assert_eq!(fmt_mean_ci(&[1.0], 100.0, "%"), "100%");
        assert_eq!(fmt_mean_ci(&[], 1.0, ""), "n/a");
        assert_eq!(fmt_mean_ci(&[2.0, 2.0], 1.0, "×"), "2×");
        assert_eq!(fmt_mean_ci(&[1.0, 3.0], 1.0, "×"), "2× ± 12.71×");
        // Rounding noise of a constant is not printed as "± 0".
        let noisy = [2.2857142857142856, 2.285714285714285, 2.2857142857142856];
        assert_eq!(fmt_mean_ci(&noisy, 1.0, "×"), "2.286×");
        assert_eq!(sentence("document's x"), "Document's x");
        assert_eq!(slug("quant.bits=4, mode=x"), "quant_bits_4_mode_x");
        let names = ["a.b", "a_b", "A-B", "c"];
        let slugs: Vec<String> = names
            .iter()
            .map(|n| distinct_slug(n, names.iter().copied()))
            .collect();
        assert_eq!(slugs[3], "c");
        for i in 0..3 {
            assert!(slugs[i].starts_with("a_b_"), "{slugs:?}");
            for j in 0..i {
                assert_ne!(slugs[i], slugs[j]);
            }
        }
        assert_eq!(
            metric_axis("block_retention"),
            "block_retention (quantized / FP32 fitness)"
        );
    }
}
