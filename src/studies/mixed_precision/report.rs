//! mixed_precision's pictures and findings: where the searched Pareto front
//! lies against the configurations a user would otherwise deploy (uniform
//! FP16/INT8/INT4, sensitivity-greedy), how the front grew (hypervolume per
//! generation), and what the chosen configuration does per layer.
//!
//! Latency and energy in this study come from an analytical roofline cost
//! model, and accuracy of layer inventories from a sensitivity model; every
//! axis, caption and finding says so, because a reader deciding how to ship a
//! model must not mistake them for measurements on the device.

use super::names as n;
use super::names::{ACCURACY, BASELINE, FEASIBLE};
use crate::error::Result;
use crate::records::TRIAL_ID;
use crate::report::Frame;
use crate::report::plots::chart::{Chart, Mark, Series};
use crate::report::plots::{Plot, Section, fmt_mean_ci, fmt_num, push_mean, sentence};
use crate::report::results_dir::{ResultsDir, column_values, num};

fn key_metrics() -> Vec<String> {
    let mut out: Vec<String> = [
        n::BEST_ACCURACY,
        n::BEST_COMPRESSION,
        n::BEST_LATENCY_MS,
        n::HYPERVOLUME,
        n::BEST_ENERGY_MJ,
        n::BEST_FALLBACK_LAYERS,
    ]
    .map(String::from)
    .to_vec();
    out.push(n::front_dominates(n::UNIFORM_INT4));
    out.push(n::front_dominates(n::SENSITIVITY_GREEDY));
    out
}

/// One line per sweep point up to this many (the palette's size); beyond it
/// every point gets its own hypervolume plot.
const MAX_HV_LINES: usize = 12;
/// More lines than this and the CI bands hide each other: means only.
const MAX_BANDED_LINES: usize = 4;
/// Up to this many layers the bit map names them; beyond, layer indices.
const MAX_NAMED_LAYERS: usize = 16;
/// The activation step line is drawn this far (in log2 bits) above its value
/// so that it stays visible where weight and activation widths coincide.
const ACT_OFFSET: f64 = 0.06;
/// Chosen configuration's colour; baselines take the others after the front's.
const CHOSEN_COLOR: usize = 3;
const BASELINE_COLORS: [usize; 5] = [1, 2, 4, 5, 6];

fn trial_ids(results: &ResultsDir, rows: &[usize]) -> Vec<String> {
    let Some(c) = results.trials.column(TRIAL_ID) else {
        return Vec::new();
    };
    rows.iter()
        .map(|&r| results.trials.rows[r][c].clone())
        .collect()
}

/// The distinct texts of a trials.csv column over the rows, in first-seen order.
fn distinct(results: &ResultsDir, column: &str, rows: &[usize]) -> Vec<String> {
    let Some(c) = results.trials.column(column) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for &r in rows {
        let v = &results.trials.rows[r][c];
        if !v.is_empty() && !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

/// Accuracy is measured for trained networks and modelled for inventories.
fn accuracy_axis(results: &ResultsDir) -> String {
    let sources = distinct(results, n::ACCURACY_SOURCE, &results.ok_trials());
    if !sources.is_empty() && sources.iter().all(|s| s.starts_with("measured")) {
        "accuracy (measured on the held-out split, 0–1)".into()
    } else {
        "accuracy (sensitivity MODEL, not measured, 0–1)".into()
    }
}

/// `uniform_int8` → `uniform INT8`, `sensitivity_greedy` → `sensitivity-greedy`.
fn baseline_label(name: &str) -> String {
    match name.strip_prefix("uniform_") {
        Some(p) => format!("uniform {}", p.to_uppercase()),
        None => name.replace('_', "-"),
    }
}

/// Cells per axis for thinning dots: about 4 px each, half a dot's 8 px, so a
/// dropped dot lay under a kept one, while the many archive members that land on
/// (nearly) the same pixel are written once and the SVGs stay small.
const GRID: f64 = 150.0;

/// Sorted points, one per grid cell of the bounding box `(x0, x1, y0, y1)`
/// (the first in sort order).
fn thin(mut pts: Vec<(f64, f64)>, bounds: (f64, f64, f64, f64)) -> Vec<(f64, f64)> {
    let (x0, x1, y0, y1) = bounds;
    let cell = |v: f64, lo: f64, hi: f64| {
        if hi > lo {
            ((v - lo) / (hi - lo) * GRID).round() as i64
        } else {
            0
        }
    };
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut seen: Vec<(i64, i64)> = Vec::new();
    pts.retain(|&(x, y)| {
        let c = (cell(x, x0, x1), cell(y, y0, y1));
        if seen.contains(&c) {
            false
        } else {
            seen.push(c);
            true
        }
    });
    pts
}

fn bounds(sets: &[&[(f64, f64)]]) -> (f64, f64, f64, f64) {
    sets.iter().flat_map(|s| s.iter()).fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    )
}

/// (x, accuracy) of the frame's rows belonging to the given trials.
fn xy(frame: &Frame, ids: &[String], x: &str, filter: impl Fn(usize) -> bool) -> Vec<(f64, f64)> {
    let (Some(tc), Some(xc), Some(ac)) = (
        frame.column(TRIAL_ID),
        frame.column(x),
        frame.column(ACCURACY),
    ) else {
        return Vec::new();
    };
    (0..frame.rows.len())
        .filter(|&r| ids.contains(&frame.rows[r][tc]) && filter(r))
        .filter_map(|r| Some((num(frame, r, xc)?, num(frame, r, ac)?)))
        .collect()
}

/// The points of `pts` no other point beats on both accuracy and x, in x
/// order: the two-dimensional shadow of the many-objective front.
fn envelope(pts: &[(f64, f64)], higher_x_better: bool) -> Vec<(f64, f64)> {
    let mut order: Vec<(f64, f64)> = pts.to_vec();
    // Best x first; on equal x, best accuracy first.
    order.sort_by(|a, b| {
        let by_x = if higher_x_better {
            b.0.total_cmp(&a.0)
        } else {
            a.0.total_cmp(&b.0)
        };
        by_x.then(b.1.total_cmp(&a.1))
    });
    let mut best = f64::NEG_INFINITY;
    let mut out = Vec::new();
    for p in order {
        if p.1 > best {
            best = p.1;
            out.push(p);
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// A baseline on one plot: name, points, trials in which it broke a hard
/// limit, trials.
type BaselineMarks = (String, Vec<(f64, f64)>, usize, usize);

/// One projection of the front: x column in pareto/baselines.csv, the
/// matching metric in trials.csv, and how the axis reads.
struct Projection {
    stem: &'static str,
    column: &'static str,
    best_metric: &'static str,
    higher_better: bool,
    title: &'static str,
    axis: &'static str,
    caption: &'static str,
}

const PROJECTIONS: [Projection; 2] = [
    Projection {
        stem: "pareto_compression",
        column: n::COMPRESSION,
        best_metric: n::BEST_COMPRESSION,
        higher_better: true,
        title: "Pareto front: accuracy vs compression",
        axis: "compression (× vs FP32 weight memory, scales and zero points included)",
        caption: "Up and right is better.",
    },
    Projection {
        stem: "pareto_latency",
        column: n::LATENCY_MS,
        best_metric: n::BEST_LATENCY_MS,
        higher_better: false,
        title: "Pareto front: accuracy vs modelled latency",
        axis: "latency per inference (ms, analytical cost MODEL, not measured)",
        caption: "Up and left is better. Latency is the analytical roofline cost MODEL's estimate for \
                  the target device, not a measurement.",
    },
];

fn pareto_plots(results: &ResultsDir, by_point: &[Vec<usize>]) -> Result<Vec<Plot>> {
    let Some(front) = results.table(n::PARETO)? else {
        return Ok(Vec::new());
    };
    let baselines = results.table(n::BASELINES)?;
    let y_axis = accuracy_axis(results);
    let mut out = Vec::new();
    for proj in &PROJECTIONS {
        for (p, rows) in by_point.iter().enumerate() {
            let ids = trial_ids(results, rows);
            if ids.is_empty() {
                continue;
            }
            let mut chart = Chart::new(
                format!("{}{}", proj.title, results.title_suffix(p)),
                proj.axis,
                y_axis.clone(),
            );
            let pts = xy(&front, &ids, proj.column, |_| true);
            let mut base: Vec<BaselineMarks> = Vec::new();
            if let Some(b) = &baselines {
                if let (Some(nc), Some(tc)) = (b.column(BASELINE), b.column(TRIAL_ID)) {
                    for row in &b.rows {
                        if !base.iter().any(|e| e.0 == row[nc]) {
                            base.push((row[nc].clone(), Vec::new(), 0, 0));
                        }
                    }
                    let fc = b.column(FEASIBLE);
                    for (name, bp, infeasible, n) in &mut base {
                        *bp = xy(b, &ids, proj.column, |r| b.rows[r][nc] == *name);
                        let mine: Vec<usize> = (0..b.rows.len())
                            .filter(|&r| b.rows[r][nc] == *name && ids.contains(&b.rows[r][tc]))
                            .collect();
                        *n = mine.len();
                        *infeasible = fc.map_or(0, |c| {
                            mine.iter().filter(|&&r| num(b, r, c) == Some(0.0)).count()
                        });
                    }
                }
            }
            let t = &results.trials;
            let chosen: Vec<(f64, f64)> =
                match (t.column(proj.best_metric), t.column(n::BEST_ACCURACY)) {
                    (Some(xc), Some(ac)) => rows
                        .iter()
                        .filter_map(|&r| Some((num(t, r, xc)?, num(t, r, ac)?)))
                        .collect(),
                    _ => Vec::new(),
                };
            let mut sets: Vec<&[(f64, f64)]> = vec![&pts, &chosen];
            sets.extend(base.iter().map(|e| e.1.as_slice()));
            let bx = bounds(&sets);
            let env = thin(envelope(&pts, proj.higher_better), bx);
            chart.push(Series::new(
                format!("front points ({} trials)", ids.len()),
                Some(0),
                Mark::Points(thin(pts, bx)),
            ));
            chart.push(Series::new(
                "2-D non-dominated envelope",
                Some(0),
                Mark::Line(env),
            ));
            for (i, (name, bp, infeasible, n)) in base.into_iter().enumerate() {
                // The front holds feasible configurations only: a baseline
                // above it may simply break the memory/latency/energy limit.
                let limit = match infeasible {
                    0 => String::new(),
                    k if k == n => "; breaks a hard limit".to_string(),
                    k => format!("; breaks a hard limit in {k} of {n}"),
                };
                chart.push(Series::new(
                    format!("{} (baseline{limit})", baseline_label(&name)),
                    Some(BASELINE_COLORS[i % BASELINE_COLORS.len()]),
                    Mark::Crosses(thin(bp, bx)),
                ));
            }
            chart.push(Series::new(
                "chosen (best weighted fitness)",
                Some(CHOSEN_COLOR),
                Mark::Rings(thin(chosen, bx)),
            ));
            if chart.is_empty() {
                continue;
            }
            out.push(Plot::new(
                results.plot_file(proj.stem, p),
                format!(
                    "Every configuration on the final Pareto archive of each trial{} (dots; the archive is \
                     non-dominated in all objectives, so this 2-D view shows points a third objective \
                     keeps), the line through those no other dot beats on both axes, the baselines \
                     (crosses) and each trial's chosen configuration (ring: best weighted fitness). The \
                     archive holds only configurations within the hard limits; a baseline marked \
                     \"breaks a hard limit\" lies outside them. {}{}",
                    if results.point_label(p).is_empty() {
                        String::new()
                    } else {
                        format!(" at {}", results.point_label(p))
                    },
                    proj.caption,
                    match (proj.higher_better, distinct(results, n::DEVICE, rows)) {
                        (false, d) if !d.is_empty() => format!(" Device modelled: {}.", d.join("; ")),
                        _ => String::new(),
                    }
                ),
                chart,
            ));
        }
    }
    Ok(out)
}

/// Hypervolume per generation of each trial, grouped by generation.
fn hv_groups(g: &Frame, ids: &[String]) -> Vec<(f64, Vec<f64>)> {
    let (Some(tc), Some(gc), Some(hc)) = (
        g.column(TRIAL_ID),
        g.column(n::GENERATION),
        g.column(n::HYPERVOLUME),
    ) else {
        return Vec::new();
    };
    let mut groups: Vec<(f64, Vec<f64>)> = Vec::new();
    for r in (0..g.rows.len()).filter(|&r| ids.contains(&g.rows[r][tc])) {
        let (Some(x), Some(y)) = (num(g, r, gc), num(g, r, hc)) else {
            continue;
        };
        match groups.iter_mut().find(|(gx, _)| *gx == x) {
            Some(grp) => grp.1.push(y),
            None => groups.push((x, vec![y])),
        }
    }
    groups.sort_by(|a, b| a.0.total_cmp(&b.0));
    groups
}

fn hypervolume_plots(results: &ResultsDir, by_point: &[Vec<usize>]) -> Result<Vec<Plot>> {
    let Some(g) = results.table(n::GENERATIONS)? else {
        return Ok(Vec::new());
    };
    let objectives = distinct(results, n::HV_OBJECTIVES, &results.ok_trials()).join("; ");
    let y_axis = "hypervolume (normalised, reference = FP32)";
    let caption = |banded: bool| {
        format!(
            "Hypervolume of the archive of feasible non-dominated configurations after each generation \
             (objectives: {objectives}; normalised with accuracy 0 and the FP32 deployment's modelled \
             cost as reference point): mean over replicates{}. Latency and energy enter it through the \
             analytical cost MODEL.",
            if banded {
                " with its 95% confidence band"
            } else {
                ""
            }
        )
    };
    let mut out = Vec::new();
    if by_point.len() <= MAX_HV_LINES {
        let banded = by_point.len() <= MAX_BANDED_LINES;
        let title = match results.swept_keys.len() {
            0 => "Hypervolume per generation".to_string(),
            _ => format!(
                "Hypervolume per generation, by {}",
                results.swept_keys.join(", ")
            ),
        };
        let mut chart = Chart::new(title, "generation", y_axis);
        for (p, rows) in by_point.iter().enumerate() {
            let groups = hv_groups(&g, &trial_ids(results, rows));
            // One swept key: its values alone fit the legend; the axis of
            // the title names the key.
            let name = match results.swept_keys.len() {
                0 => "hypervolume".to_string(),
                1 => results.points[p].values.join(", "),
                _ => results.point_label(p),
            };
            push_mean(&mut chart, &name, p, &groups, banded);
        }
        if !chart.is_empty() {
            out.push(Plot::new("hypervolume.svg", caption(banded), chart));
        }
    } else {
        for (p, rows) in by_point.iter().enumerate() {
            let mut chart = Chart::new(
                format!("Hypervolume per generation{}", results.title_suffix(p)),
                "generation",
                y_axis,
            );
            let groups = hv_groups(&g, &trial_ids(results, rows));
            push_mean(&mut chart, "hypervolume", 0, &groups, true);
            if !chart.is_empty() {
                out.push(Plot::new(
                    results.plot_file("hypervolume", p),
                    caption(true),
                    chart,
                ));
            }
        }
    }
    Ok(out)
}

/// Per layer: (name, weight bits, activation bits) of a trial's exported
/// `quant_config.json` — the chosen configuration, exactly as deployed, read
/// by the same reader `evoquant eval --config` uses.
fn chosen_layers(results: &ResultsDir, id: &str) -> Result<Option<Vec<(String, f64, f64)>>> {
    let path = results.document_path(id, n::QUANT_CONFIG);
    if !path.is_file() {
        return Ok(None);
    }
    let config = match crate::quant::qconfig::read(&path) {
        Ok(c) => c,
        // Binary / ternary layers are not yet in the deployment reader's
        // formats: take the widths from the JSON itself.
        Err(e) => return raw_layer_bits(&path).map(Some).ok_or(e),
    };
    Ok(Some(
        config
            .layers
            .iter()
            .map(|(name, q)| {
                (
                    name.clone(),
                    f64::from(q.weights.bits()),
                    f64::from(q.activations.bits()),
                )
            })
            .collect(),
    ))
}

/// (name, weight bits, activation bits) straight from a quant_config.json,
/// when every layer has them.
fn raw_layer_bits(path: &std::path::Path) -> Option<Vec<(String, f64, f64)>> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("layers")?
        .as_array()?
        .iter()
        .map(|l| {
            Some((
                l.get("name")?.as_str()?.to_string(),
                l.get("weights")?.get("bits")?.as_f64()?,
                l.get("activations")?.get("bits")?.as_f64()?,
            ))
        })
        .collect()
}

/// A step line: one flat segment per layer, from i − ½ to i + ½.
fn steps(values: impl Iterator<Item = f64>) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for (i, v) in values.enumerate() {
        let x = i as f64;
        out.push((x - 0.5, v));
        out.push((x + 0.5, v));
    }
    out
}

fn layer_plots(results: &ResultsDir, by_point: &[Vec<usize>]) -> Result<Vec<Plot>> {
    let mut out = Vec::new();
    for (p, rows) in by_point.iter().enumerate() {
        // The point's first successful trial (replicate order) is shown.
        let Some(id) = trial_ids(results, rows).into_iter().next() else {
            continue;
        };
        let Some(layers) = chosen_layers(results, &id)? else {
            continue;
        };
        if layers.is_empty() {
            continue;
        }
        let mut chart = Chart::new(
            format!("Chosen configuration per layer{}", results.title_suffix(p)),
            if layers.len() <= MAX_NAMED_LAYERS {
                "layer (network order)"
            } else {
                "layer index (network order)"
            },
            "bits (log scale)",
        );
        if layers.len() <= MAX_NAMED_LAYERS {
            chart.x_categories = layers.iter().map(|l| l.0.clone()).collect();
        }
        let all = layers.iter().flat_map(|l| [l.1, l.2]);
        let (lo, hi) = all.fold((f64::INFINITY, 0.0f64), |(lo, hi), b| {
            (lo.min(b), hi.max(b))
        });
        chart.y_ticks = [1u32, 2, 3, 4, 5, 6, 8, 12, 16, 32]
            .iter()
            .map(|&b| f64::from(b))
            .filter(|&b| b >= lo && b <= hi)
            .map(|b| (b.log2(), fmt_num(b)))
            .collect();
        chart.push(Series::new(
            "weight bits",
            Some(0),
            Mark::Line(steps(layers.iter().map(|l| l.1.log2()))),
        ));
        chart.push(Series::new(
            "activation bits (drawn slightly above)",
            Some(1),
            Mark::Line(steps(layers.iter().map(|l| l.2.log2() + ACT_OFFSET))),
        ));
        let fallback = results
            .trials
            .column(n::BEST_FALLBACK_LAYERS)
            .and_then(|c| rows.first().and_then(|&r| num(&results.trials, r, c)));
        out.push(Plot::new(
            results.plot_file("layers", p),
            format!(
                "Weight and activation bit widths per layer of the chosen configuration (best weighted \
                 fitness) of trial {id} (the first replicate{}), from its exported quant_config.json; \
                 {} layers{}. The activation line is drawn slightly above its value so that it stays \
                 visible where both widths are equal.",
                if results.point_label(p).is_empty() {
                    String::new()
                } else {
                    format!(" at {}", results.point_label(p))
                },
                layers.len(),
                fallback.map_or_else(String::new, |f| format!(
                    ", {} of which run in a fallback (non-native) mode on the target according to the cost MODEL",
                    fmt_num(f)
                )),
            ),
            chart,
        ));
    }
    Ok(out)
}

/// "uniform FP16 in 2 of 2, uniform INT8 in 1 of 2" for the baselines that
/// broke a hard limit in any of the given trials; empty when none did.
fn infeasible_baselines(baselines: Option<&Frame>, ids: &[String]) -> String {
    let Some(b) = baselines else {
        return String::new();
    };
    let (Some(nc), Some(tc), Some(fc)) =
        (b.column(BASELINE), b.column(TRIAL_ID), b.column(FEASIBLE))
    else {
        return String::new();
    };
    let mut counts: Vec<(String, usize, usize)> = Vec::new();
    for r in (0..b.rows.len()).filter(|&r| ids.contains(&b.rows[r][tc])) {
        let bad = usize::from(num(b, r, fc) == Some(0.0));
        match counts.iter_mut().find(|c| c.0 == b.rows[r][nc]) {
            Some(c) => {
                c.1 += bad;
                c.2 += 1;
            }
            None => counts.push((b.rows[r][nc].clone(), bad, 1)),
        }
    }
    counts
        .iter()
        .filter(|c| c.1 > 0)
        .map(|(name, k, n)| format!("{} in {k} of {n}", baseline_label(name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which sweep point gave the lowest and highest mean of a metric.
fn extremes(
    results: &ResultsDir,
    by_point: &[Vec<usize>],
    metric: &str,
) -> Option<(String, String)> {
    let means: Vec<(usize, f64)> = by_point
        .iter()
        .enumerate()
        .filter_map(|(p, rows)| {
            let v = column_values(&results.trials, metric, rows);
            (!v.is_empty()).then(|| (p, v.iter().sum::<f64>() / v.len() as f64))
        })
        .collect();
    let lo = means.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    let hi = means.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let at = |(p, m): (usize, f64)| format!("{} at {}", fmt_num(m), results.point_label(p));
    Some((at(*lo), at(*hi)))
}

fn findings(
    results: &ResultsDir,
    by_point: &[Vec<usize>],
    baselines: Option<&Frame>,
) -> Vec<String> {
    let t = &results.trials;
    let dominance: Vec<(String, usize)> = t
        .header
        .iter()
        .enumerate()
        .filter_map(|(c, h)| {
            h.strip_prefix(n::FRONT_DOMINATES)
                .map(|n| (n.to_string(), c))
        })
        .collect();
    let mut out = Vec::new();
    for (p, rows) in by_point.iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let v = |m: &str| column_values(t, m, rows);
        let n = rows.len();
        let prefix = match results.point_label(p) {
            l if l.is_empty() => String::new(),
            l => format!("at {l}, "),
        };
        let feasible = v(n::BEST_FEASIBLE).iter().filter(|&&f| f == 1.0).count();
        out.push(sentence(&format!(
            "{prefix}over {n} seeds the chosen configuration (best weighted fitness) reached accuracy {}, \
             compression {}, modelled latency {} ms (FP32 on the same cost model: {} ms) and modelled \
             energy {} mJ, with {} layers in a fallback mode; it met every hard limit in {feasible} of {n} \
             trials. The final front held {} configurations with hypervolume {}.",
            fmt_mean_ci(&v(n::BEST_ACCURACY), 1.0, ""),
            fmt_mean_ci(&v(n::BEST_COMPRESSION), 1.0, "×"),
            fmt_mean_ci(&v(n::BEST_LATENCY_MS), 1.0, ""),
            fmt_mean_ci(&v(n::FP32_LATENCY_MS), 1.0, ""),
            fmt_mean_ci(&v(n::BEST_ENERGY_MJ), 1.0, ""),
            fmt_mean_ci(&v(n::BEST_FALLBACK_LAYERS), 1.0, ""),
            fmt_mean_ci(&v(n::FRONT_SIZE), 1.0, ""),
            fmt_mean_ci(&v(n::HYPERVOLUME), 1.0, ""),
        )));
        if !dominance.is_empty() {
            let parts: Vec<String> = dominance
                .iter()
                .map(|(name, c)| {
                    let k = rows.iter().filter(|&&r| num(t, r, *c) == Some(1.0)).count();
                    format!("{} in {k} of {n}", baseline_label(name))
                })
                .collect();
            out.push(sentence(&format!(
                "{prefix}the final Pareto front dominated (was at least as good in every objective and \
                 better in one) {} trials.",
                parts.join(", ")
            )));
        }
        let gain = v(n::FRONT_OVER_GREEDY);
        if !gain.is_empty() {
            out.push(sentence(&format!(
                "{prefix}at each front point's memory, the sensitivity-greedy allocation of at most that \
                 size (the sensitivity ranking narrowing one layer at a time, measured the same way) was \
                 less accurate than the front point at a fraction {} of the points ({} points per trial); \
                 the front's accuracy minus greedy's was {} on average{}.",
                crate::report::plots::fmt_mean_interval(
                    &v(n::FRONT_ABOVE_GREEDY),
                    crate::report::stats::Method::Logit
                ),
                crate::report::plots::fmt_mean_interval(
                    &v(n::GREEDY_MATCHED),
                    crate::report::stats::Method::Log
                ),
                fmt_mean_ci(&gain, 1.0, ""),
                crate::report::plots::reference_clause(
                    &gain,
                    crate::report::stats::Method::StudentT,
                    0.0,
                    1.0,
                    ""
                ),
            )));
        }
        let screen = v(n::SCREEN_MAX_ABS_ERROR);
        if !screen.is_empty() {
            out.push(sentence(&format!(
                "{prefix}the search screened on the first {} evaluation texts; re-measured on all of \
                 them, the front's accuracies moved by {} on average and {} at most, and {} of {} \
                 screened front points stayed on the re-measured front (the front, the baselines and \
                 the chosen configuration above are the re-measured ones).",
                fmt_mean_ci(&v(n::SCREEN_TEXTS), 1.0, ""),
                fmt_mean_ci(&v(n::SCREEN_MEAN_ABS_ERROR), 1.0, ""),
                fmt_mean_ci(&screen, 1.0, ""),
                fmt_mean_ci(&v(n::SCREEN_FRONT_KEPT), 1.0, ""),
                fmt_mean_ci(&v(n::SCREEN_FRONT_SIZE), 1.0, ""),
            )));
        }
        let broke = infeasible_baselines(baselines, &trial_ids(results, rows));
        if !broke.is_empty() {
            out.push(sentence(&format!(
                "{prefix}baselines outside the hard limits (so not comparable with the front, which \
                 holds feasible configurations only): {broke} trials."
            )));
        }
    }
    if by_point.len() > 1 {
        let parts: Vec<String> = [
            (n::BEST_LATENCY_MS, "modelled latency (ms)"),
            (n::BEST_COMPRESSION, "compression (×)"),
            (n::BEST_ACCURACY, "accuracy"),
            (
                n::HYPERVOLUME,
                "final hypervolume (each point normalised by its own FP32 cost)",
            ),
        ]
        .iter()
        .filter_map(|(m, what)| {
            extremes(results, by_point, m)
                .map(|(lo, hi)| format!("{what} lowest {lo}, highest {hi}"))
        })
        .collect();
        if !parts.is_empty() {
            out.push(format!(
                "Across the sweep, the chosen configuration's mean {}.",
                parts.join("; ")
            ));
        }
    }
    let ok = results.ok_trials();
    let costs = distinct(results, n::COST_MODEL, &ok);
    let sources = distinct(results, n::ACCURACY_SOURCE, &ok);
    if !costs.is_empty() || !sources.is_empty() {
        out.push(format!(
            "Latency and energy are estimates of the {} for each hardware target, not measurements on a \
             device; accuracy is {}.",
            if costs.is_empty() {
                "cost model".into()
            } else {
                costs.join(" / ")
            },
            if sources.is_empty() {
                "as the study records it".into()
            } else {
                sources.join(" / ")
            }
        ));
    }
    out
}

pub fn section(results: &ResultsDir) -> Result<Section> {
    let by_point = results.rows_by_point(&results.trials, true);
    let baselines = results.table(n::BASELINES)?;
    let mut plots = pareto_plots(results, &by_point)?;
    plots.extend(hypervolume_plots(results, &by_point)?);
    plots.extend(layer_plots(results, &by_point)?);
    let mut found = findings(results, &by_point, baselines.as_ref());
    found.extend(coevolution_findings(results, &by_point)?);
    Ok(Section {
        findings: found,
        plots,
        key_metrics: key_metrics(),
    })
}

/// Co-evolution trials (`arch.enabled`): the paired hypervolumes of the
/// co-evolved and the quantization-only fronts, and the architectures on
/// the co-evolved fronts (points per architecture over the point's trials).
fn coevolution_findings(results: &ResultsDir, by_point: &[Vec<usize>]) -> Result<Vec<String>> {
    let t = &results.trials;
    if t.column("hypervolume_gain").is_none() {
        return Ok(Vec::new());
    }
    let pareto = results.table(n::PARETO)?;
    let mut out = Vec::new();
    for (p, rows) in by_point.iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let v = |m: &str| column_values(t, m, rows);
        let prefix = match results.point_label(p) {
            l if l.is_empty() => String::new(),
            l => format!("at {l}, "),
        };
        out.push(sentence(&format!(
            "{prefix}co-evolving the architecture with the quantization gave a front of hypervolume {} \
             against {} for the quantization-only search on the default architecture with the same \
             population and generations (paired gain {}, normalised by the default architecture's \
             FP32 deployment); {} architectures were trained per trial and {} were on the front.",
            fmt_mean_ci(&v(n::HYPERVOLUME), 1.0, ""),
            fmt_mean_ci(&v("quant_only_hypervolume"), 1.0, ""),
            fmt_mean_ci(&v("hypervolume_gain"), 1.0, ""),
            fmt_mean_ci(&v("architectures_trained"), 1.0, ""),
            fmt_mean_ci(&v("front_architectures"), 1.0, ""),
        )));
        let Some(f) = pareto.as_ref() else { continue };
        let (Some(tc), Some(ac)) = (f.column(TRIAL_ID), f.column("architecture")) else {
            continue;
        };
        let ids = trial_ids(results, rows);
        let mut counts: Vec<(String, usize)> = Vec::new();
        for r in f.rows.iter().filter(|r| ids.contains(&r[tc])) {
            match counts.iter_mut().find(|(a, _)| *a == r[ac]) {
                Some((_, k)) => *k += 1,
                None => counts.push((r[ac].clone(), 1)),
            }
        }
        // Most points first; ties by name, so the text is deterministic.
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let list: Vec<String> = counts.iter().map(|(a, k)| format!("`{a}` ×{k}")).collect();
        out.push(sentence(&format!(
            "{prefix}architectures on the front (hidden activation and widths, front points over {} trials): {}.",
            rows.len(),
            list.join(", ")
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_keeps_only_undominated_points() {
        let pts = [(1.0, 0.9), (2.0, 0.8), (2.0, 0.7), (1.5, 0.6), (3.0, 0.5)];
        assert_eq!(
            envelope(&pts, true),
            vec![(1.0, 0.9), (2.0, 0.8), (3.0, 0.5)]
        );
        // Lower x better (latency): (1.0, 0.9) beats everything at larger x.
        assert_eq!(envelope(&pts, false), vec![(1.0, 0.9)]);
    }

    #[test]
    fn steps_span_each_layer() {
        assert_eq!(
            steps([4.0, 8.0].into_iter()),
            vec![(-0.5, 4.0), (0.5, 4.0), (0.5, 8.0), (1.5, 8.0)]
        );
    }

    #[test]
    fn labels_and_rounding() {
        assert_eq!(baseline_label("uniform_int8"), "uniform INT8");
        assert_eq!(baseline_label("sensitivity_greedy"), "sensitivity-greedy");
        let pts = vec![(2.0, 0.96001), (1.0, 0.5), (2.0, 0.96), (1.5, 0.7)];
        let b = bounds(&[&pts]);
        assert_eq!(b, (1.0, 2.0, 0.5, 0.96001));
        assert_eq!(thin(pts, b), vec![(1.0, 0.5), (1.5, 0.7), (2.0, 0.96)]);
    }
}
