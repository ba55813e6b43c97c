//! bit_allocation's pictures and findings: how the evolved heuristic's
//! fitness develops on TRAIN, VALID and TEST, where every strategy lands on
//! the compression–accuracy plane next to the exact frontier, and which
//! precision the champion and the exact optimum give each TEST layer.

use super::names as n;
use crate::error::Result;
use crate::records::TRIAL_ID;
use crate::report::Frame;
use crate::report::plots::chart::{Chart, Mark, Series};
use crate::report::plots::{Plot, Section, fmt_mean_ci, fmt_num, push_mean};
use crate::report::results_dir::{ResultsDir, column_values, num};

const KEY_METRICS: &[&str] = &[
    n::TEST_CHAMPION_FITNESS,
    n::TEST_CHAMPION_COMPRESSION,
    n::TEST_CHAMPION_ACCURACY,
    n::TEST_CHAMPION_GAP,
    n::TEST_OPTIMUM_COMPRESSION,
    n::TEST_BEST_BASELINE_FITNESS,
];

/// The dataset strategies are judged on: held out from evolution and selection.
const REPORTED: &str = n::TEST;

fn generation_plots(results: &ResultsDir) -> Result<Vec<Plot>> {
    let Some(g) = results.table(n::GENERATIONS)? else {
        return Ok(Vec::new());
    };
    let Some(gc) = g.column(n::GENERATION) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (p, rows) in results.rows_by_point(&g, false).iter().enumerate() {
        let mut gens: Vec<f64> = rows.iter().filter_map(|&r| num(&g, r, gc)).collect();
        gens.sort_by(f64::total_cmp);
        gens.dedup();
        let mut chart = Chart::new(
            format!("Generation leader's fitness{}", results.title_suffix(p)),
            "generation",
            "fitness (compression-weighted score, see docs)",
        );
        for (i, (metric, name)) in [(n::TRAIN, "TRAIN"), (n::VALID, "VALID"), (n::TEST, "TEST")]
            .iter()
            .enumerate()
        {
            let Some(c) = g.column(&n::of(metric, n::FITNESS)) else {
                continue;
            };
            let groups: Vec<(f64, Vec<f64>)> = gens
                .iter()
                .map(|&x| {
                    let ys = rows
                        .iter()
                        .filter(|&&r| num(&g, r, gc) == Some(x))
                        .filter_map(|&r| num(&g, r, c))
                        .collect();
                    (x, ys)
                })
                .collect();
            push_mean(&mut chart, name, i, &groups, true);
        }
        if !chart.is_empty() {
            out.push(Plot::new(
                results.plot_file(n::GENERATIONS, p),
                "Fitness of each generation's leader (best on TRAIN), measured on TRAIN, VALID and TEST: \
                 mean over replicates with 95% confidence bands. TRAIN drives evolution, VALID picks the \
                 champion, TEST is reported.",
                chart,
            ));
        }
    }
    Ok(out)
}

fn plane_plot(results: &ResultsDir) -> Result<Option<Plot>> {
    let Some(s) = results.table(n::STRATEGIES)? else {
        return Ok(None);
    };
    let (Some(sc), Some(dc), Some(cc), Some(ac)) = (
        s.column(n::STRATEGY),
        s.column(n::DATASET),
        s.column(n::COMPRESSION),
        s.column(n::ACCURACY),
    ) else {
        return Ok(None);
    };
    let rows: Vec<usize> = (0..s.rows.len())
        .filter(|&r| s.rows[r][dc] == REPORTED)
        .collect();
    let mut strategies: Vec<String> = Vec::new();
    for &r in &rows {
        if !strategies.contains(&s.rows[r][sc]) {
            strategies.push(s.rows[r][sc].clone());
        }
    }
    let mut chart = Chart::new(
        "Strategies on the TEST compression–accuracy plane",
        "compression (× vs FP32, parameter bits only)",
        "modelled accuracy (0–1)",
    );
    let mut y_min = f64::INFINITY;
    for (i, name) in strategies.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = rows
            .iter()
            .filter(|&&r| s.rows[r][sc] == *name)
            .filter_map(|&r| Some((num(&s, r, cc)?, num(&s, r, ac)?)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        pts.dedup();
        y_min = pts.iter().map(|p| p.1).fold(y_min, f64::min);
        chart.push(Series::new(name.clone(), Some(i), Mark::Points(pts)));
    }
    let mut thresholds: Vec<f64> =
        column_values(&results.trials, n::THRESHOLD, &results.ok_trials());
    if let Some(t) = results.param(n::THRESHOLD).and_then(|t| t.parse().ok()) {
        thresholds.push(t);
    }
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    y_min = thresholds.iter().copied().fold(y_min, f64::min);
    if let Some(f) = results.table(n::FRONTIER)? {
        if let (Some(dc), Some(cc), Some(ac)) = (
            f.column(n::DATASET),
            f.column(n::COMPRESSION),
            f.column(n::ACCURACY),
        ) {
            // Every trial's TEST frontier is exact, so their union is too.
            let margin = 0.02 * (1.0 - y_min).max(0.01);
            let mut pts: Vec<(f64, f64)> = (0..f.rows.len())
                .filter(|&r| f.rows[r][dc] == REPORTED)
                .filter_map(|r| Some((num(&f, r, cc)?, num(&f, r, ac)?)))
                .filter(|p| p.1 >= y_min - margin)
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            pts.dedup();
            chart.push(Series::new("exact frontier", None, Mark::Line(pts)));
        }
    }
    for t in thresholds {
        chart.push(Series::new(
            format!("accuracy threshold {}", fmt_num(t)),
            None,
            Mark::HLine(t),
        ));
    }
    Ok((!chart.is_empty()).then(|| {
        Plot::new(
            "plane.svg",
            "Every strategy's TEST allocation (one dot per trial; baselines do not depend on the seed) \
             against the exact compression-optimal frontier (multiple-choice knapsack). Up and right is \
             better; dots below a threshold line are infeasible at that threshold.",
            chart,
        )
    }))
}

/// Bits of a precision name (INT6 → 6, FP16 → 16).
fn precision_bits(p: &str) -> Option<f64> {
    p.trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .ok()
}

fn layer_plots(results: &ResultsDir) -> Result<Vec<Plot>> {
    let (Some(ev), Some(opt)) = (
        results.table(&n::allocation(n::EVOLVED))?,
        results.table(&n::allocation(n::OPTIMUM))?,
    ) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let trial_rows = results.rows_by_point(&results.trials, true);
    let id_col = results.trials.column(TRIAL_ID);
    for (p, rows) in trial_rows.iter().enumerate() {
        // The point's first successful trial (replicate order) is shown.
        let (Some(&first), Some(ic)) = (rows.first(), id_col) else {
            continue;
        };
        let id = &results.trials.rows[first][ic];
        let mut chart = Chart::new(
            format!("Per-layer precision on TEST{}", results.title_suffix(p)),
            "layer index (network order)",
            "bits per weight (log scale)",
        );
        chart.y_ticks = [2u32, 3, 4, 6, 8, 16, 32]
            .iter()
            .map(|&b| (f64::from(b).log2(), b.to_string()))
            .collect();
        for (i, (frame, name)) in [(&ev, "evolved champion"), (&opt, "exact optimum")]
            .iter()
            .enumerate()
        {
            let cols = (
                frame.column(TRIAL_ID),
                frame.column(n::DATASET),
                frame.column(n::LAYER),
                frame.column(n::PRECISION),
            );
            let (Some(tc), Some(dc), Some(lc), Some(pc)) = cols else {
                continue;
            };
            let pts: Vec<(f64, f64)> = (0..frame.rows.len())
                .filter(|&r| frame.rows[r][tc] == *id && frame.rows[r][dc] == REPORTED)
                .filter_map(|r| {
                    let bits = precision_bits(&frame.rows[r][pc])?;
                    Some((num(frame, r, lc)?, bits.log2()))
                })
                .collect();
            chart.push(Series::new(*name, Some(i), Mark::LinePoints(pts)));
        }
        if !chart.is_empty() {
            out.push(Plot::new(
                results.plot_file("layers", p),
                format!(
                    "Precision per TEST layer chosen by the evolved champion and by the exact optimum, \
                     for trial {id} (the first replicate{})",
                    if results.point_label(p).is_empty() { String::new() } else { format!(" at {}", results.point_label(p)) }
                ) + ".",
                chart,
            ));
        }
    }
    Ok(out)
}

/// The most frequent text in a column over the rows; first seen on a tie.
fn mode(frame: &Frame, col: usize, rows: &[usize]) -> Option<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for &r in rows {
        let v = &frame.rows[r][col];
        match counts.iter_mut().find(|(n, _)| n == v) {
            Some(c) => c.1 += 1,
            None => counts.push((v.clone(), 1)),
        }
    }
    let best = counts.iter().map(|c| c.1).max()?;
    counts.into_iter().find(|c| c.1 == best).map(|c| c.0)
}

fn findings(results: &ResultsDir) -> Vec<String> {
    let t = &results.trials;
    let mut out = Vec::new();
    for (p, rows) in results.rows_by_point(t, true).iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let v = |m: &str| column_values(t, m, rows);
        let champ = v(n::TEST_CHAMPION_FITNESS);
        let base = v(n::TEST_BEST_BASELINE_FITNESS);
        let wins = champ.iter().zip(&base).filter(|(c, b)| c > b).count();
        let baseline = t
            .column(n::TEST_BEST_BASELINE)
            .and_then(|c| mode(t, c, rows))
            .unwrap_or_default();
        let prefix = match results.point_label(p) {
            l if l.is_empty() => String::new(),
            l => format!("at {l}, "),
        };
        out.push(crate::report::plots::sentence(&format!(
            "{prefix}over {} seeds the evolved champion reached on TEST {} compression at accuracy {}, \
             leaving {} of the exact optimum's {} compression unused; its fitness {} vs the best \
             baseline's {} ({} most often); it beat the best baseline in {wins} of {}.",
            champ.len(),
            fmt_mean_ci(&v(n::TEST_CHAMPION_COMPRESSION), 1.0, "×"),
            fmt_mean_ci(&v(n::TEST_CHAMPION_ACCURACY), 1.0, ""),
            fmt_mean_ci(&v(n::TEST_CHAMPION_GAP), 100.0, "%"),
            fmt_mean_ci(&v(n::TEST_OPTIMUM_COMPRESSION), 1.0, "×"),
            fmt_mean_ci(&champ, 1.0, ""),
            fmt_mean_ci(&base, 1.0, ""),
            baseline,
            champ.len().min(base.len()),
        )));
        let agreement = v(n::RANKING_AGREEMENT);
        if !agreement.is_empty() {
            let measured = |s: &str| v(&format!("test_{s}_measured_accuracy"));
            out.push(crate::report::plots::sentence(&format!(
                "{prefix}re-measured on the network with every layer quantized at once, the evolved \
                 champion kept {} (the product model predicted {}), the exact optimum {} (predicted \
                 {}) and the document's wider_fp16_zone {}; the model and the measurement ranked \
                 {} of the strategy pairs by fitness the same way ({}).",
                fmt_mean_ci(&measured(n::EVOLVED), 1.0, ""),
                fmt_mean_ci(&v(n::TEST_CHAMPION_ACCURACY), 1.0, ""),
                fmt_mean_ci(&measured(n::OPTIMUM), 1.0, ""),
                fmt_mean_ci(&v("test_optimum_accuracy"), 1.0, ""),
                fmt_mean_ci(&measured("wider_fp16_zone"), 1.0, ""),
                fmt_mean_ci(&agreement, 100.0, "%"),
                t.column(n::MEASURED_SOURCE)
                    .and_then(|c| mode(t, c, rows))
                    .unwrap_or_default(),
            )));
        }
    }
    out
}

pub fn section(results: &ResultsDir) -> Result<Section> {
    let mut plots = generation_plots(results)?;
    plots.extend(plane_plot(results)?);
    plots.extend(layer_plots(results)?);
    Ok(Section {
        findings: findings(results),
        plots,
        key_metrics: KEY_METRICS.iter().map(|s| s.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_names_to_bits() {
        assert_eq!(precision_bits("INT6"), Some(6.0));
        assert_eq!(precision_bits("FP32"), Some(32.0));
        assert_eq!(precision_bits("odd"), None);
    }
}
