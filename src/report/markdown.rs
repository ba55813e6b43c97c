//! `report.md` and its plots: the page a colleague reads instead of the CSVs.
//!
//! Everything on the page is computed from the results folder (never from
//! the clock, the host or the folder's path), so a report is as reproducible
//! as the CSVs it summarises and is snapshot-tested with them.

use super::plots::{Plot, Section, Sections, chart, fmt_mean_ci, fmt_num, sweep};
use super::results_dir::{ResultsDir, column_values, num};
use crate::error::{Error, Result};
use crate::fsio::{self, write_atomic};
use crate::records::TRIAL_ID;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub const REPORT_MD: &str = "report.md";
pub const PLOTS_DIR: &str = "plots";
/// Metrics shown in the summary table when a kind names none.
const DEFAULT_KEY_METRICS: usize = 6;
/// Metrics plotted against the swept parameter.
const SWEEP_PLOT_METRICS: usize = 4;

/// What `write_report` wrote.
#[derive(Clone, Debug)]
pub struct ReportFiles {
    pub markdown: PathBuf,
    pub plots: Vec<PathBuf>,
}

/// The report of a results folder: its markdown and its plots, in memory.
pub struct Report {
    pub markdown: String,
    /// (file name inside `plots/`, SVG text).
    pub svgs: Vec<(String, String)>,
}

/// Build the report of a results folder without writing anything.
pub fn build_report(results: &ResultsDir, sections: &dyn Sections) -> Result<Report> {
    let mut section = sections.section(results)?;
    let present: Vec<String> = sweep::numeric_metrics(results);
    section.key_metrics.retain(|m| present.contains(m));
    if section.key_metrics.is_empty() {
        section.key_metrics = present.into_iter().take(DEFAULT_KEY_METRICS).collect();
    }
    if section.findings.is_empty() {
        section.findings = generic_findings(results, &section.key_metrics);
    }
    let sweep_metrics: Vec<String> = section
        .key_metrics
        .iter()
        .take(SWEEP_PLOT_METRICS)
        .cloned()
        .collect();
    let mut all_plots = sweep::plots(results, &sweep_metrics);
    all_plots.append(&mut section.plots);
    let mut svgs: Vec<(String, String)> = Vec::new();
    for p in &all_plots {
        // Names are derived to be distinct (`distinct_slug`); a repeat is our
        // bug, and writing it would silently replace the first picture.
        if svgs.iter().any(|(f, _)| *f == p.file) {
            return Err(Error::Internal(format!(
                "two plots of the report are both named plots/{}",
                p.file
            )));
        }
        svgs.push((p.file.clone(), chart::render(&p.chart)?));
    }
    Ok(Report {
        markdown: markdown(results, &section, &all_plots),
        svgs,
    })
}

/// Read `results_dir` and write `report.md` and `plots/*.svg` into `out_dir`
/// (the results folder itself by default). Stale SVGs in `plots/` are removed
/// so the folder always matches the report.
pub fn write_report(
    results_dir: &Path,
    out_dir: &Path,
    sections: &dyn Sections,
) -> Result<ReportFiles> {
    let results = ResultsDir::load(results_dir)?;
    let report = build_report(&results, sections)?;
    fsio::create_dir_durable(out_dir)?;
    let _lock = fsio::lock_dir(out_dir, fsio::LockKind::Exclusive)?;
    let plots_dir = out_dir.join(PLOTS_DIR);
    if std::fs::symlink_metadata(&plots_dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::user(format!(
            "{} is a symbolic link; evoquant writes and removes plots only inside the folder it owns",
            plots_dir.display()
        )));
    }
    if plots_dir.is_dir() {
        let entries = std::fs::read_dir(&plots_dir)
            .map_err(|e| Error::io(format!("cannot list {}", plots_dir.display()), e))?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "svg") {
                std::fs::remove_file(&p)
                    .map_err(|e| Error::io(format!("cannot remove {}", p.display()), e))?;
            }
        }
    }
    let mut plots = Vec::new();
    for (file, svg) in &report.svgs {
        let p = plots_dir.join(file);
        write_atomic(&p, svg.as_bytes())?;
        plots.push(p);
    }
    let markdown = out_dir.join(REPORT_MD);
    write_atomic(&markdown, report.markdown.as_bytes())?;
    Ok(ReportFiles { markdown, plots })
}

/// Findings for a kind without its own module: each key metric's mean with
/// its 95% CI (one point), or where it was highest and lowest (a sweep).
fn generic_findings(results: &ResultsDir, metrics: &[String]) -> Vec<String> {
    let trial_points = results.row_points(&results.trials);
    let ok = results.ok_trials();
    let mut out = Vec::new();
    for m in metrics.iter().take(3) {
        let at = |p: usize| -> Vec<f64> {
            let rows: Vec<usize> = ok
                .iter()
                .copied()
                .filter(|&r| trial_points[r] == Some(p))
                .collect();
            column_values(&results.trials, m, &rows)
        };
        if results.points.len() == 1 {
            let v = at(0);
            out.push(format!(
                "{m}: {} over {} trials.",
                fmt_mean_ci(&v, 1.0, ""),
                v.len()
            ));
            continue;
        }
        let method = super::results_dir::interval_method(results, m);
        // (point, mean, n, 95% interval)
        type PointStats = (usize, f64, usize, Option<(f64, f64)>);
        let means: Vec<PointStats> = (0..results.points.len())
            .filter_map(|p| {
                let v = at(p);
                let (s, _) = super::stats::summarise(&v, method)?;
                Some((p, s.mean, s.n, s.ci95))
            })
            .collect();
        let hi = means.iter().max_by(|a, b| a.1.total_cmp(&b.1));
        let lo = means.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(hi), Some(lo)) = (hi, lo) {
            // A highest mean stands out only when its interval clears the
            // lowest one's; otherwise the spread is within noise.
            let separated = match (hi.3, lo.3) {
                (Some((hi_lo, _)), Some((_, lo_hi))) => hi_lo > lo_hi,
                _ => false,
            };
            let facts = format!(
                "{} at {} ({} trials) and {} at {} ({} trials)",
                fmt_num(hi.1),
                results.point_label(hi.0),
                hi.2,
                fmt_num(lo.1),
                results.point_label(lo.0),
                lo.2
            );
            out.push(if separated {
                format!(
                    "Highest and lowest mean {m}: {facts}; their 95% intervals do not overlap."
                )
            } else if hi.3.is_none() || lo.3.is_none() {
                format!(
                    "Mean {m} ranged over {facts}; with a single replicate there are no intervals to tell whether that is more than noise."
                )
            } else {
                format!(
                    "No sweep point's mean {m} stands out: the highest and lowest, {facts}, have overlapping 95% intervals."
                )
            });
        }
    }
    out
}

/// A table cell: pipes escaped, newlines flattened.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(
        out,
        "| {} |",
        header
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for r in rows {
        let _ = writeln!(
            out,
            "| {} |",
            r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        );
    }
}

fn status_counts(results: &ResultsDir) -> (usize, usize, usize) {
    let t = &results.trials;
    let Some(c) = t.column("status") else {
        return (t.rows.len(), 0, 0);
    };
    let count = |s: &str| t.rows.iter().filter(|r| r[c] == s).count();
    (count("ok"), count("failed"), count("not_run"))
}

fn sweep_description(results: &ResultsDir) -> String {
    if results.swept_keys.is_empty() {
        return "none (one parameter point)".into();
    }
    let axes: Vec<String> = results
        .swept_keys
        .iter()
        .enumerate()
        .map(|(k, key)| {
            let mut vals: Vec<&str> = Vec::new();
            for p in &results.points {
                if !vals.contains(&p.values[k].as_str()) {
                    vals.push(&p.values[k]);
                }
            }
            format!("`{key}` ∈ {{{}}}", vals.join(", "))
        })
        .collect();
    format!("{} points: {}", results.points.len(), axes.join("; "))
}

fn summary_table(out: &mut String, results: &ResultsDir, metrics: &[String]) {
    let s = &results.summary;
    let mut header = results.swept_keys.clone();
    header.extend(["n".to_string(), "failed".into()]);
    header.extend(metrics.iter().cloned());
    let mut rows = Vec::new();
    for r in 0..s.rows.len() {
        let mut row: Vec<String> = results.points[r].values.clone();
        for c in ["n", "failed"] {
            row.push(
                s.column(c)
                    .map(|c| s.rows[r][c].clone())
                    .unwrap_or_default(),
            );
        }
        for m in metrics {
            let get = |suffix: &str| {
                s.column(&format!("{m}_{suffix}"))
                    .and_then(|c| num(s, r, c))
            };
            row.push(match (get("mean"), get("ci95_lo"), get("ci95_hi")) {
                (Some(mean), Some(lo), Some(hi)) => {
                    format!("{} [{}, {}]", fmt_num(mean), fmt_num(lo), fmt_num(hi))
                }
                (Some(mean), _, _) => fmt_num(mean),
                _ => String::new(),
            });
        }
        rows.push(row);
    }
    table(out, &header, &rows);
}

/// `## Claims`: each claim of the manifest with its verdict per sweep point.
fn claims_section(out: &mut String, results: &ResultsDir) {
    use super::claims::{Verdict, outcomes};
    if results.claims.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Claims\n");
    let _ = writeln!(
        out,
        "What the manifest claims, tested against the 95% confidence interval of the mean over \
         replicates: **supported** when the whole interval meets the claim, **refuted** when the whole \
         interval contradicts it, **inconclusive** otherwise (with the replicates a power calculation, \
         80% power at the two-sided 5% level, says would decide it). The interval's method is named \
         with it (see the README).\n"
    );
    let mut rows = Vec::new();
    let mut tally = [0usize; 3];
    for (claim, outs) in outcomes(results) {
        if outs.is_empty() {
            rows.push(vec![
                claim.text.clone(),
                claim.test_text(),
                claim
                    .at
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                "0".into(),
                String::new(),
                "**inconclusive**: no trial ran at this point".into(),
            ]);
            tally[2] += 1;
            continue;
        }
        for o in outs {
            let interval = match (o.mean, o.ci) {
                (Some(m), Some((lo, hi))) => format!(
                    "{} [{}, {}] ({})",
                    fmt_num(m),
                    fmt_num(lo),
                    fmt_num(hi),
                    o.method.label()
                ),
                (Some(m), None) => fmt_num(m),
                _ => "n/a".into(),
            };
            let verdict = match o.verdict {
                Verdict::Inconclusive => format!("**inconclusive**: {}", o.note),
                v => format!("**{}**", v.label()),
            };
            tally[match o.verdict {
                Verdict::Supported => 0,
                Verdict::Refuted => 1,
                Verdict::Inconclusive => 2,
            }] += 1;
            rows.push(vec![
                claim.text.clone(),
                claim.test_text(),
                if o.point.is_empty() {
                    "every trial".into()
                } else {
                    o.point.clone()
                },
                o.n.to_string(),
                interval,
                verdict,
            ]);
        }
    }
    table(
        out,
        &["claim", "test", "at", "n", "mean [95% CI]", "verdict"].map(String::from),
        &rows,
    );
    let _ = writeln!(
        out,
        "\n{} supported, {} refuted, {} inconclusive.\n",
        tally[0], tally[1], tally[2]
    );
}

fn markdown(results: &ResultsDir, section: &Section, plots: &[Plot]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", results.name);
    if !results.description.is_empty() {
        let _ = writeln!(out, "{}\n", results.description);
    }
    claims_section(&mut out, results);
    let (ok, failed, not_run) = status_counts(results);
    let short_hash: String = results.manifest_sha256.chars().take(12).collect();
    let rows = vec![
        vec!["study kind".into(), format!("`{}`", results.kind)],
        vec![
            "manifest".into(),
            format!("`{}` (SHA-256 `{short_hash}…`)", results.manifest),
        ],
        vec![
            "trials".into(),
            format!(
                "{} ({ok} ok, {failed} failed, {not_run} not run)",
                results.trials.rows.len()
            ),
        ],
        vec!["sweep".into(), sweep_description(results)],
        vec![
            "seeds".into(),
            format!(
                "base seed {}, {} replicate{} per point (each trial's seed is listed at the end)",
                results.base_seed,
                results.replicates,
                if results.replicates == 1 { "" } else { "s" }
            ),
        ],
    ];
    table(&mut out, &["run".to_string(), String::new()], &rows);
    let _ = writeln!(
        out,
        "\nGenerated by `evoquant report` from this folder's `trials.csv`, `summary.csv`, `report.json` \
         and artifact tables; every number below is computed from them.\n"
    );
    if !section.findings.is_empty() {
        let _ = writeln!(out, "## Findings\n");
        let _ = writeln!(
            out,
            "Means over seeds; ± is the half-width of the 95% confidence interval of the mean \
             (Student t), left out where every trial gave the same value.\n"
        );
        for f in &section.findings {
            let _ = writeln!(out, "- {f}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(
        out,
        "Mean [95% confidence interval] across replicates per sweep point. Every metric with its std, \
         min and max: `summary.csv`; every trial: `trials.csv`.\n"
    );
    let mut by_method: Vec<(&'static str, Vec<String>)> = Vec::new();
    for m in &section.key_metrics {
        let label = super::results_dir::interval_method(results, m).label();
        match by_method.iter_mut().find(|(l, _)| *l == label) {
            Some((_, ms)) => ms.push(format!("`{m}`")),
            None => by_method.push((label, vec![format!("`{m}`")])),
        }
    }
    if !by_method.is_empty() {
        let _ = writeln!(
            out,
            "Intervals: {} (positive quantities on the log scale and fractions on the logit scale, so \
             an interval never leaves the metric's range).\n",
            by_method
                .iter()
                .map(|(l, ms)| format!("{l} for {}", ms.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    summary_table(&mut out, results, &section.key_metrics);
    if !plots.is_empty() {
        let _ = writeln!(out, "\n## Plots\n");
        for p in plots {
            let _ = writeln!(out, "### {}\n", p.chart.title);
            let _ = writeln!(out, "![{}]({PLOTS_DIR}/{})\n", p.chart.title, p.file);
            let _ = writeln!(out, "{}\n", p.caption);
        }
    }
    let _ = writeln!(out, "## Parameters\n");
    let used: Vec<&(String, String)> = results
        .params
        .iter()
        .filter(|(k, _)| !results.unused_params.contains(k))
        .collect();
    let _ = writeln!(
        out,
        "<details><summary>{} fixed parameters</summary>\n",
        used.len()
    );
    let omitted = results.params.len() - used.len();
    if omitted > 0 {
        let _ = writeln!(
            out,
            "The {omitted} that no trial used (another model's, a target's not chosen) are left out; \
             report.json lists every parameter.\n"
        );
    }
    let rows: Vec<Vec<String>> = used
        .iter()
        .map(|(k, v)| vec![format!("`{k}`"), format!("`{v}`")])
        .collect();
    table(&mut out, &["parameter".to_string(), "value".into()], &rows);
    let _ = writeln!(out, "\n</details>\n");
    let _ = writeln!(out, "<details><summary>trials and seeds</summary>\n");
    let t = &results.trials;
    let mut cols: Vec<String> = [TRIAL_ID, "replicate", "seed"].map(String::from).to_vec();
    cols.extend(results.swept_keys.iter().cloned());
    cols.push("status".into());
    let idx: Vec<Option<usize>> = cols.iter().map(|c| t.column(c)).collect();
    let rows: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| {
            idx.iter()
                .map(|i| i.map(|i| r[i].clone()).unwrap_or_default())
                .collect()
        })
        .collect();
    table(&mut out, &cols, &rows);
    let _ = writeln!(out, "\n</details>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A results folder of a kind with no plot module, written by hand.
    fn write_folder(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        let report = serde_json::json!({
            "study": {"name": "toy", "kind": "toy_kind", "description": null,
                      "manifest": "toy.toml", "manifest_sha256": "ab"},
            "seeds": {"base": 1, "replicates": 2},
            "params": {"a": 1, "width": 3},
            "sweep": {"keys": ["a"], "points": 2},
            "artifacts": [],
        });
        std::fs::write(dir.join("report.json"), report.to_string()).unwrap();
        std::fs::write(
            dir.join("trials.csv"),
            "trial_id,replicate,seed,a,status,error,score\n\
             t1,0,11,1,ok,,1.0\nt2,1,12,1,ok,,3.0\nt3,0,13,2,ok,,5.0\nt4,1,14,2,failed,boom,\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("summary.csv"),
            "a,n,failed,score_mean,score_std,score_min,score_max,score_ci95_lo,score_ci95_hi\n\
             1,2,0,2,1.4,1,3,-10.7,14.7\n2,1,1,5,,5,5,,\n",
        )
        .unwrap();
    }

    #[test]
    fn unknown_kinds_get_generic_findings_plots_and_tables() {
        let dir = std::env::temp_dir().join(format!("evoquant-md-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write_folder(&dir);
        let results = ResultsDir::load(&dir).unwrap();
        // The swept key is not listed as a fixed parameter.
        assert_eq!(results.params, vec![("width".to_string(), "3".to_string())]);
        let report = build_report(&results, &super::super::plots::GenericOnly).unwrap();
        let md = &report.markdown;
        for needle in [
            "# toy",
            "| trials | 4 (3 ok, 1 failed, 0 not run) |",
            "`a` ∈ {1, 2}",
            "Mean score ranged over 5 at a=2 (1 trials) and 2 at a=1 (2 trials); with a single replicate",
            "| a | n | failed | score |",
            "| 1 | 2 | 0 | 2 [-10.7, 14.7] |",
            "| 2 | 1 | 1 | 5 |",
            "(plots/sweep_score.svg)",
            "| t4 | 1 | 14 | 2 | failed |",
        ] {
            assert!(md.contains(needle), "{needle:?} missing:\n{md}");
        }
        assert_eq!(report.svgs.len(), 1);
        assert_eq!(report.svgs[0].0, "sweep_score.svg");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A parameter no trial used is left out of the table, and the count says
    /// so; a folder written before `unused_params` existed lists them all.
    #[test]
    fn parameters_no_trial_used_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        write_folder(dir);
        let mut report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap())
                .unwrap();
        report["params"]["mlp.epochs"] = serde_json::json!(10);
        std::fs::write(dir.join("report.json"), report.to_string()).unwrap();
        let md = build_report(
            &ResultsDir::load(dir).unwrap(),
            &super::super::plots::GenericOnly,
        )
        .unwrap()
        .markdown;
        assert!(md.contains("2 fixed parameters") && md.contains("`mlp.epochs`"));
        report["unused_params"] = serde_json::json!(["mlp.epochs"]);
        std::fs::write(dir.join("report.json"), report.to_string()).unwrap();
        let md = build_report(
            &ResultsDir::load(dir).unwrap(),
            &super::super::plots::GenericOnly,
        )
        .unwrap()
        .markdown;
        assert!(md.contains("1 fixed parameters"), "{md}");
        assert!(md.contains("The 1 that no trial used"), "{md}");
        assert!(!md.contains("`mlp.epochs`") && md.contains("| `width` | `3` |"));
    }

    /// Before: metrics `score.x` and `score_x` both became
    /// plots/sweep_score_x.svg, and the second silently replaced the first.
    #[test]
    fn plots_never_share_a_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        write_folder(dir);
        std::fs::write(
            dir.join("trials.csv"),
            "trial_id,replicate,seed,a,status,error,score.x,score_x\n\
             t1,0,11,1,ok,,1.0,7\nt2,1,12,1,ok,,3.0,8\nt3,0,13,2,ok,,5.0,9\n",
        )
        .unwrap();
        let results = ResultsDir::load(dir).unwrap();
        let report = build_report(&results, &super::super::plots::GenericOnly).unwrap();
        let names: Vec<&str> = report.svgs.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_ne!(names[0], names[1]);
        assert!(
            names.iter().all(|n| n.starts_with("sweep_score_x_")),
            "{names:?}"
        );

        // A section that repeats a name anyway is refused, not written over.
        struct Repeats;
        impl Sections for Repeats {
            fn section(&self, results: &ResultsDir) -> Result<Section> {
                let mut plots = sweep::plots(results, &["score.x".to_string()]);
                plots[0].file = "sweep_score.svg".into();
                plots.push(plots[0].clone());
                Ok(Section {
                    plots,
                    ..Section::default()
                })
            }
        }
        let Err(e) = build_report(&results, &Repeats) else {
            panic!("a repeated plot name was accepted");
        };
        assert_eq!(e.exit_code(), crate::error::exit::INTERNAL);
        assert!(e.to_string().contains("plots/sweep_score.svg"), "{e}");
    }

    #[test]
    fn point_plot_names_stay_distinct_when_labels_share_a_slug() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        write_folder(dir);
        std::fs::write(
            dir.join("trials.csv"),
            "trial_id,replicate,seed,a,status,error,score\n\
             t1,0,11,x-y,ok,,1.0\nt2,0,12,x_y,ok,,3.0\nt3,0,13,z,ok,,5.0\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("summary.csv"),
            "a,n,failed,score_mean\nx-y,1,0,1\nx_y,1,0,3\nz,1,0,5\n",
        )
        .unwrap();
        let results = ResultsDir::load(dir).unwrap();
        assert_eq!(results.points.len(), 3);
        let files: Vec<String> = (0..3).map(|p| results.plot_file("layers", p)).collect();
        assert_ne!(files[0], files[1]);
        assert_eq!(files[2], "layers_a_z.svg");
    }

    #[test]
    fn missing_folder_is_a_user_error() {
        let e = ResultsDir::load(Path::new("/nonexistent/evoquant-results")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("/nonexistent/evoquant-results"));
    }
}
