//! chaos_int4's pictures and findings: how much of the FP32 agent's fitness
//! each quantizer keeps (every trial shown, against the 100% line), and how
//! evolution got there (fitness per generation).

use super::names;
use crate::error::Result;
use crate::report::plots::chart::{Chart, Mark, Series};
use crate::report::plots::{Plot, Section, fmt_mean_ci, fmt_num, push_mean};
use crate::report::results_dir::{ResultsDir, column_values, num};

/// More sweep points than this and per-point lines become unreadable.
const MAX_POINT_LINES: usize = 4;

pub(super) fn key_metrics() -> Vec<String> {
    vec![
        names::FP32_FITNESS.to_string(),
        names::of(names::BLOCK, names::RETENTION),
        names::of(names::PER_TENSOR, names::RETENTION),
        names::of(names::BLOCK_DOC, names::RETENTION),
        names::of(names::BLOCK, names::BITS_PER_WEIGHT),
        names::of(names::BLOCK, names::BEATS_FP32),
    ]
}

/// Methods in trials.csv order: every `<method>_retention` column.
fn methods(results: &ResultsDir) -> Vec<String> {
    results
        .trials
        .header
        .iter()
        .filter_map(|h| h.strip_suffix(names::RETENTION).map(str::to_string))
        .collect()
}

/// Short names for the x axis: the bit width is in the axis title.
fn method_short(method: &str) -> String {
    match method {
        names::PER_TENSOR => "per-tensor".into(),
        names::BLOCK => "block-wise".into(),
        names::BLOCK_DOC => "block (doc)".into(),
        m => match m.strip_prefix(names::BLOCK_INT) {
            Some(b) => format!("block INT{b}"),
            None => m.replace('_', " "),
        },
    }
}

fn method_label(results: &ResultsDir, method: &str) -> String {
    // A swept bit width is named by the sweep point instead.
    let bits = results
        .param("quant.bits")
        .map_or_else(String::new, |b| format!(" INT{b}"));
    match method {
        names::PER_TENSOR => format!("per-tensor{bits}"),
        names::BLOCK => format!("block-wise{bits}"),
        names::BLOCK_DOC => format!("document's block quantizer{bits}"),
        m => match m.strip_prefix(names::BLOCK_INT) {
            Some(b) => format!("block-wise INT{b}"),
            None => m.replace('_', " "),
        },
    }
}

fn point_name(results: &ResultsDir, p: usize) -> String {
    let l = results.point_label(p);
    if l.is_empty() { "all trials".into() } else { l }
}

/// Dots of `rows` for one method, spread around `center` so that equal
/// values stay visible.
fn strip(
    results: &ResultsDir,
    method: &str,
    rows: &[usize],
    center: f64,
    width: f64,
) -> Vec<(f64, f64)> {
    let Some(col) = results.trials.column(&names::of(method, names::RETENTION)) else {
        return Vec::new();
    };
    let n = rows.len().max(1) as f64;
    rows.iter()
        .enumerate()
        .filter_map(|(k, &r)| {
            let dx = width * ((k as f64 + 0.5) / n - 0.5);
            num(&results.trials, r, col).map(|y| (center + dx, y * 100.0))
        })
        .collect()
}

/// One point: methods on x. Several points: points on x, one colour per
/// method (a dozen sweep points would exhaust any palette and legend).
fn retention_plot(results: &ResultsDir, methods: &[String], by_point: &[Vec<usize>]) -> Plot {
    let y_label = "retention (% of the FP32 agent's held-out fitness)";
    let title = "Fitness retained after quantization, per trial";
    let mut chart;
    if by_point.len() == 1 {
        chart = Chart::new(
            title,
            format!(
                "quantization method (bits: {}, unless named; doc = the document's zero-point formula)",
                results.param(names::QUANT_BITS).unwrap_or("quant.bits")
            ),
            y_label,
        );
        chart.x_categories = methods.iter().map(|m| method_short(m)).collect();
        let pts = methods
            .iter()
            .enumerate()
            .flat_map(|(mi, m)| strip(results, m, &by_point[0], mi as f64, 0.5))
            .collect();
        chart.push(Series::new("one trial", Some(0), Mark::Points(pts)));
    } else {
        chart = Chart::new(
            title,
            format!("sweep point ({})", results.swept_keys.join(", ")),
            y_label,
        );
        chart.x_categories = results.points.iter().map(|p| p.values.join(", ")).collect();
        let slot = 0.8 / methods.len().max(1) as f64;
        for (mi, m) in methods.iter().enumerate() {
            let pts = by_point
                .iter()
                .enumerate()
                .flat_map(|(p, rows)| {
                    let center = p as f64 - 0.4 + slot * (mi as f64 + 0.5);
                    strip(results, m, rows, center, slot * 0.6)
                })
                .collect();
            chart.push(Series::new(
                method_label(results, m),
                Some(mi),
                Mark::Points(pts),
            ));
        }
    }
    chart.push(Series::new("100% = FP32 fitness", None, Mark::HLine(100.0)));
    Plot::new(
        "retention.svg",
        "Each dot is one trial: the quantized champion's mean held-out fitness as a percentage of the same \
         champion's FP32 fitness on the same arenas. Above the line, quantization scored higher than FP32.",
        chart,
    )
}

fn generations_plot(results: &ResultsDir) -> Result<Option<Plot>> {
    let Some(g) = results.table(names::GENERATIONS)? else {
        return Ok(None);
    };
    let Some(gen_col) = g.column(names::GENERATION) else {
        return Ok(None);
    };
    let points = results.row_points(&g);
    let gens: Vec<f64> = {
        let mut v: Vec<f64> = (0..g.rows.len())
            .filter_map(|r| num(&g, r, gen_col))
            .collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    let groups = |metric: &str, point: Option<usize>| -> Vec<(f64, Vec<f64>)> {
        let Some(c) = g.column(metric) else {
            return Vec::new();
        };
        gens.iter()
            .map(|&x| {
                let ys = (0..g.rows.len())
                    .filter(|&r| num(&g, r, gen_col) == Some(x))
                    .filter(|&r| point.is_none_or(|p| points[r] == Some(p)))
                    .filter_map(|r| num(&g, r, c))
                    .collect();
                (x, ys)
            })
            .collect()
    };
    let mut chart = Chart::new(
        "Fitness per generation",
        "generation",
        "fitness (mean episode score)",
    );
    // Up to four points get a line each; beyond that lines hide each other,
    // so all trials are pooled (and the caption says so).
    let caption = if results.points.len() == 1 || results.points.len() > MAX_POINT_LINES {
        for (i, (m, name)) in [
            (names::TRAIN_BEST_FITNESS, "best, training arenas"),
            (names::HELDOUT_BEST_FITNESS, "best, held-out arenas"),
            (names::TRAIN_MEAN_FITNESS, "population mean, training"),
        ]
        .iter()
        .enumerate()
        {
            push_mean(&mut chart, name, i, &groups(m, None), true);
        }
        let pooled = if results.points.len() > 1 {
            format!(", all {} sweep points pooled", results.points.len())
        } else {
            String::new()
        };
        format!(
            "Mean over the replicates{pooled} of each generation's best and mean fitness; bands are 95% \
             confidence intervals of the mean."
        )
    } else {
        for p in 0..results.points.len() {
            push_mean(
                &mut chart,
                &point_name(results, p),
                p,
                &groups(names::HELDOUT_BEST_FITNESS, Some(p)),
                true,
            );
        }
        "Best held-out fitness per generation, mean over the replicates of each sweep point \
         with its 95% confidence band."
            .to_string()
    };
    Ok((!chart.is_empty()).then(|| Plot::new("generations.svg", caption, chart)))
}

fn method_sentence(results: &ResultsDir, m: &str, rows: &[usize]) -> String {
    let ret = column_values(&results.trials, &names::of(m, names::RETENTION), rows);
    let beats = column_values(&results.trials, &names::of(m, names::BEATS_FP32), rows);
    let bpw = column_values(&results.trials, &names::of(m, names::BITS_PER_WEIGHT), rows);
    let k = beats.iter().filter(|&&b| b > 0.5).count();
    let mut s = format!(
        "{} retained {} of FP32 fitness over {} seeds{}; it beat FP32 in {k} of {}",
        method_label(results, m),
        fmt_mean_ci(&ret, 100.0, "%"),
        ret.len(),
        crate::report::plots::reference_clause(
            &ret,
            crate::report::stats::Method::Log,
            1.0,
            100.0,
            "%"
        ),
        beats.len()
    );
    if !bpw.is_empty() {
        let mean = bpw.iter().sum::<f64>() / bpw.len() as f64;
        s.push_str(&format!(
            ", at {} bits per weight including scales and zero points",
            fmt_num(mean)
        ));
    }
    s
}

fn findings(results: &ResultsDir, methods: &[String], by_point: &[Vec<usize>]) -> Vec<String> {
    let mut out = Vec::new();
    let all: Vec<usize> = by_point.iter().flatten().copied().collect();
    let fp32 = column_values(&results.trials, names::FP32_FITNESS, &all);
    let random = column_values(&results.trials, names::RANDOM_POLICY_FITNESS, &all);
    if !fp32.is_empty() {
        out.push(format!(
            "Evolved FP32 champions scored {} on held-out arenas over {} trials, against {} for a random policy.",
            fmt_mean_ci(&fp32, 1.0, ""),
            fp32.len(),
            fmt_mean_ci(&random, 1.0, "")
        ));
    }
    if by_point.len() == 1 {
        for m in methods {
            out.push(crate::report::plots::sentence(&format!(
                "{}.",
                method_sentence(results, m, &by_point[0])
            )));
        }
        return out;
    }
    let main: Vec<&String> = methods
        .iter()
        .filter(|m| *m == names::BLOCK || *m == names::PER_TENSOR)
        .collect();
    for (p, rows) in by_point.iter().enumerate() {
        let parts: Vec<String> = main
            .iter()
            .map(|m| method_sentence(results, m, rows))
            .collect();
        out.push(format!("{}: {}.", point_name(results, p), parts.join("; ")));
    }
    let means: Vec<(usize, f64)> = by_point
        .iter()
        .enumerate()
        .filter_map(|(p, rows)| {
            let v = column_values(
                &results.trials,
                &names::of(names::BLOCK, names::RETENTION),
                rows,
            );
            (!v.is_empty()).then(|| (p, v.iter().sum::<f64>() / v.len() as f64))
        })
        .collect();
    let best = means.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
    let worst = means.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some(b), Some(w)) = (best, worst) {
        out.push(format!(
            "Highest mean block-wise retention: {} ({}%); lowest: {} ({}%).",
            point_name(results, b.0),
            fmt_num(b.1 * 100.0),
            point_name(results, w.0),
            fmt_num(w.1 * 100.0)
        ));
    }
    out
}

pub fn section(results: &ResultsDir) -> Result<Section> {
    let methods = methods(results);
    let by_point = results.rows_by_point(&results.trials, true);
    let mut plots = Vec::new();
    if !methods.is_empty() {
        let p = retention_plot(results, &methods, &by_point);
        if !p.chart.is_empty() {
            plots.push(p);
        }
    }
    plots.extend(generations_plot(results)?);
    Ok(Section {
        findings: findings(results, &methods, &by_point),
        plots,
        key_metrics: key_metrics(),
    })
}
