//! The plot every swept study gets: each key metric against a swept
//! parameter, mean across replicates with its 95% confidence band.
//!
//! The x axis is the swept key with the most values; every combination of
//! the other swept keys becomes its own line. Values are categories, in the
//! order the manifest lists them, so text and boolean parameters work and
//! uneven grids (block sizes 4, 8, ..., 64) are not squashed.

use super::chart::Chart;
use super::{Plot, metric_axis, push_mean_with};
use crate::report::results_dir::{ResultsDir, num};

/// More lines than this and the bands hide each other: draw means only.
const MAX_BANDED_LINES: usize = 4;

fn distinct_in_order<'a>(values: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

/// Numeric metrics of trials.csv in column order (used when a kind names none).
pub fn numeric_metrics(results: &ResultsDir) -> Vec<String> {
    let t = &results.trials;
    let Some(first) = t.column("error").map(|c| c + 1) else {
        return Vec::new();
    };
    let ok = results.ok_trials();
    (first..t.header.len())
        .filter(|&c| ok.iter().any(|&r| num(t, r, c).is_some()))
        .map(|c| t.header[c].clone())
        .collect()
}

pub fn plots(results: &ResultsDir, metrics: &[String]) -> Vec<Plot> {
    if results.swept_keys.is_empty() || results.points.len() < 2 {
        return Vec::new();
    }
    let keys = &results.swept_keys;
    let per_key: Vec<Vec<String>> = (0..keys.len())
        .map(|k| distinct_in_order(results.points.iter().map(|p| &p.values[k])))
        .collect();
    // The key with the most values; the first such key on a tie.
    let x_key = (0..keys.len())
        .max_by(|&a, &b| per_key[a].len().cmp(&per_key[b].len()).then(b.cmp(&a)))
        .unwrap_or(0);
    let line_of = |p: usize| -> String {
        keys.iter()
            .enumerate()
            .filter(|&(k, _)| k != x_key)
            .map(|(k, name)| format!("{name}={}", results.points[p].values[k]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let lines = distinct_in_order(
        (0..results.points.len())
            .map(line_of)
            .collect::<Vec<_>>()
            .iter(),
    );
    let trial_points = results.row_points(&results.trials);
    let ok = results.ok_trials();
    let mut out = Vec::new();
    for metric in metrics {
        let Some(col) = results.trials.column(metric) else {
            continue;
        };
        let method = crate::report::results_dir::interval_method(results, metric);
        let mut chart = Chart::new(
            format!("{metric} vs {}", keys[x_key]),
            keys[x_key].clone(),
            metric_axis(metric),
        );
        chart.x_categories = per_key[x_key].clone();
        for (li, line) in lines.iter().enumerate() {
            let groups: Vec<(f64, Vec<f64>)> = per_key[x_key]
                .iter()
                .enumerate()
                .map(|(xi, xv)| {
                    let ys = ok
                        .iter()
                        .filter(|&&r| {
                            trial_points[r].is_some_and(|p| {
                                results.points[p].values[x_key] == *xv && line_of(p) == *line
                            })
                        })
                        .filter_map(|&r| num(&results.trials, r, col))
                        .collect();
                    (xi as f64, ys)
                })
                .filter(|(_, ys): &(f64, Vec<f64>)| !ys.is_empty())
                .collect();
            let name = if line.is_empty() {
                metric.as_str()
            } else {
                line.as_str()
            };
            push_mean_with(
                &mut chart,
                name,
                li,
                &groups,
                lines.len() <= MAX_BANDED_LINES,
                method,
            );
        }
        if chart.is_empty() {
            continue;
        }
        let banded = if lines.len() <= MAX_BANDED_LINES {
            format!(
                "; the band is the 95% confidence interval of the mean ({})",
                method.label()
            )
        } else {
            String::new()
        };
        out.push(Plot::new(
            format!(
                "sweep_{}.svg",
                super::distinct_slug(metric, metrics.iter().map(String::as_str))
            ),
            format!(
                "{metric} against {}: mean over the replicates of each sweep point{banded}.",
                keys[x_key]
            ),
            chart,
        ));
    }
    out
}
