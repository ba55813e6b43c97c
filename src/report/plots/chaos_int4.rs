//! chaos_int4's pictures and findings: how much of the FP32 agent's fitness
//! each quantizer keeps (every trial shown, against the 100% line), and how
//! evolution got there (fitness per generation).

use super::chart::{Chart, Mark, Series};
use super::{Plot, Section, fmt_mean_ci, fmt_num, push_mean};
use crate::error::Result;
use crate::report::results_dir::{ResultsDir, column_values, num};

const KEY_METRICS: &[&str] = &[
    "fp32_fitness",
    "block_retention",
    "per_tensor_retention",
    "block_doc_retention",
    "block_bits_per_weight",
    "block_beats_fp32",
];

/// Methods in trials.csv order: every `<method>_retention` column.
fn methods(results: &ResultsDir) -> Vec<String> {
    results
        .trials
        .header
        .iter()
        .filter_map(|h| h.strip_suffix("_retention").map(str::to_string))
        .collect()
}

/// Short names for the x axis: the bit width is in the axis title.
fn method_short(method: &str) -> String {
    match method {
        "per_tensor" => "per-tensor".into(),
        "block" => "block-wise".into(),
        "block_doc" => "block (doc)".into(),
        m => match m.strip_prefix("block_int") {
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
        "per_tensor" => format!("per-tensor{bits}"),
        "block" => format!("block-wise{bits}"),
        "block_doc" => format!("document's block quantizer{bits}"),
        m => match m.strip_prefix("block_int") {
            Some(b) => format!("block-wise INT{b}"),
            None => m.replace('_', " "),
        },
    }
}

/// Rows of ok trials at each sweep point.
fn rows_by_point(results: &ResultsDir) -> Vec<Vec<usize>> {
    let points = results.row_points(&results.trials);
    let ok = results.ok_trials();
    (0..results.points.len())
        .map(|p| {
            ok.iter()
                .copied()
                .filter(|&r| points[r] == Some(p))
                .collect()
        })
        .collect()
}

fn point_name(results: &ResultsDir, p: usize) -> String {
    let l = results.point_label(p);
    if l.is_empty() { "all trials".into() } else { l }
}

fn retention_plot(results: &ResultsDir, methods: &[String], by_point: &[Vec<usize>]) -> Plot {
    let mut chart = Chart::new(
        "Fitness retained after quantization, per trial",
        format!(
            "quantization method (bits: {}, unless named; doc = the document's zero-point formula)",
            results.param("quant.bits").unwrap_or("quant.bits")
        ),
        "retention (% of the FP32 agent's held-out fitness)",
    );
    chart.x_categories = methods.iter().map(|m| method_short(m)).collect();
    let n_series = by_point.len().max(1) as f64;
    let slot = 0.7 / n_series;
    for (p, rows) in by_point.iter().enumerate() {
        let mut pts = Vec::new();
        for (mi, m) in methods.iter().enumerate() {
            let Some(col) = results.trials.column(&format!("{m}_retention")) else {
                continue;
            };
            let center = mi as f64 - 0.35 + slot * (p as f64 + 0.5);
            let n = rows.len().max(1) as f64;
            for (k, &r) in rows.iter().enumerate() {
                // Spread replicates across 60% of the slot so equal values stay visible.
                let dx = slot * 0.6 * ((k as f64 + 0.5) / n - 0.5);
                if let Some(y) = num(&results.trials, r, col) {
                    pts.push((center + dx, y * 100.0));
                }
            }
        }
        chart.push(Series::new(
            point_name(results, p),
            Some(p),
            Mark::Points(pts),
        ));
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
    let Some(g) = results.artifact("generations.csv")? else {
        return Ok(None);
    };
    let Some(gen_col) = g.column("generation") else {
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
    let caption;
    if results.points.len() == 1 {
        for (i, (m, name)) in [
            ("train_best_fitness", "best, training arenas"),
            ("heldout_best_fitness", "best, held-out arenas"),
            ("train_mean_fitness", "population mean, training"),
        ]
        .iter()
        .enumerate()
        {
            push_mean(&mut chart, name, i, &groups(m, None), true);
        }
        caption =
            "Mean over the replicates of each generation's best and mean fitness; bands are 95% \
                   confidence intervals of the mean across replicates."
                .to_string();
    } else {
        let band = results.points.len() <= 4;
        for p in 0..results.points.len() {
            push_mean(
                &mut chart,
                &point_name(results, p),
                p,
                &groups("heldout_best_fitness", Some(p)),
                band,
            );
        }
        caption = format!(
            "Best held-out fitness per generation, mean over the replicates of each sweep point{}.",
            if band {
                " with its 95% confidence band"
            } else {
                ""
            }
        );
    }
    Ok((!chart.is_empty()).then(|| Plot::new("generations.svg", caption, chart)))
}

fn method_sentence(results: &ResultsDir, m: &str, rows: &[usize]) -> String {
    let ret = column_values(&results.trials, &format!("{m}_retention"), rows);
    let beats = column_values(&results.trials, &format!("{m}_beats_fp32"), rows);
    let bpw = column_values(&results.trials, &format!("{m}_bits_per_weight"), rows);
    let k = beats.iter().filter(|&&b| b > 0.5).count();
    let mut s = format!(
        "{} retained {} of FP32 fitness over {} seeds (mean ± 95% CI half-width); it beat FP32 in {k} of {}",
        method_label(results, m),
        fmt_mean_ci(&ret, 100.0, "%"),
        ret.len(),
        beats.len()
    );
    if let Some(b) = bpw.first() {
        s.push_str(&format!(
            ", at {} bits per weight including scales and zero points",
            fmt_num(*b)
        ));
    }
    s
}

fn findings(results: &ResultsDir, methods: &[String], by_point: &[Vec<usize>]) -> Vec<String> {
    let mut out = Vec::new();
    let all: Vec<usize> = by_point.iter().flatten().copied().collect();
    let fp32 = column_values(&results.trials, "fp32_fitness", &all);
    let random = column_values(&results.trials, "random_policy_fitness", &all);
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
            out.push(super::sentence(&format!(
                "{}.",
                method_sentence(results, m, &by_point[0])
            )));
        }
        return out;
    }
    let main: Vec<&String> = methods
        .iter()
        .filter(|m| *m == "block" || *m == "per_tensor")
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
            let v = column_values(&results.trials, "block_retention", rows);
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
    let by_point = rows_by_point(results);
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
        key_metrics: KEY_METRICS.iter().map(|s| s.to_string()).collect(),
    })
}
