//! `evoquant diff`: compare two result sets cell by cell with tolerances.
//!
//! Two rules keep a real change from hiding: a non-finite value never falls
//! within a tolerance (1.0 → inf is a change; only the same NaN or the same
//! infinity spelled differently is not), and rows are keyed by trial id only
//! when ids are unique, since a map keyed by a repeated id keeps one row and
//! silently drops the others. `load` refuses such a table naming both lines.

use super::compare::{Comparison, Verdict, compare};
use super::frame::Frame;
use crate::error::{Error, Result};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    Table,
    Markdown,
    Json,
}

/// A difference counts when it exceeds both the absolute and the relative
/// tolerance (relative to the larger magnitude), numpy `isclose` style.
#[derive(Clone, Debug, Default)]
pub struct Tolerance {
    pub abs: f64,
    pub rel: f64,
}

#[derive(Clone, Debug, Default)]
pub struct DiffOptions {
    pub default: Tolerance,
    /// Per-column overrides.
    pub per_metric: BTreeMap<String, Tolerance>,
    /// Columns naming a sweep point, to match rows by (with `replicate`)
    /// instead of by trial id; empty means: by trial id when the tables
    /// share one, else by the swept columns and replicate.
    pub by: Vec<String>,
}

impl DiffOptions {
    fn tolerance(&self, column: &str) -> &Tolerance {
        self.per_metric.get(column).unwrap_or(&self.default)
    }
}

/// A table to compare, with what its results folder says about it.
#[derive(Clone, Debug)]
pub struct Table {
    pub path: std::path::PathBuf,
    pub frame: Frame,
    /// The swept parameters, from the folder's report.json (or, for a bare
    /// CSV, the columns between `seed` and `status`).
    pub swept_keys: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub row: String,
    pub column: String,
    pub old: String,
    pub new: String,
    /// new − old when both are numbers.
    pub delta: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiffReport {
    pub changes: Vec<Change>,
    /// Changes at or under tolerance, counted but not listed.
    pub within_tolerance: usize,
    pub added_rows: Vec<String>,
    pub removed_rows: Vec<String>,
    pub added_columns: Vec<String>,
    pub removed_columns: Vec<String>,
    pub rows_compared: usize,
    /// The columns rows were matched by; empty: by trial id (or position).
    pub matched_by: Vec<String>,
    /// Per sweep point × metric, in point then column order.
    pub comparisons: Vec<Comparison>,
}

impl DiffReport {
    /// Whether any comparison says the new run is worse.
    pub fn worse(&self) -> bool {
        self.comparisons.iter().any(|c| c.verdict == Verdict::Worse)
    }

    pub fn differs(&self) -> bool {
        if !self.matched_by.is_empty() {
            return !(self.added_rows.is_empty() && self.removed_rows.is_empty())
                || self
                    .comparisons
                    .iter()
                    .any(|c| c.verdict != Verdict::NoChange);
        }
        !(self.changes.is_empty()
            && self.added_rows.is_empty()
            && self.removed_rows.is_empty()
            && self.added_columns.is_empty()
            && self.removed_columns.is_empty())
    }
}

/// The CSV to compare: a results folder means its trials.csv.
fn table_path(p: &Path) -> std::path::PathBuf {
    if p.is_dir() {
        p.join(super::TRIALS_FILE)
    } else {
        p.to_path_buf()
    }
}

/// Read a table to compare; a repeated `trial_id` is a user error naming
/// the file and both lines.
pub fn load(p: &Path) -> Result<Frame> {
    let path = table_path(p);
    if !path.exists() {
        return Err(Error::user(format!("{}: no such file", path.display())));
    }
    let frame = Frame::read_csv(&path)?;
    if let Some((first, again)) = duplicate_id(&frame) {
        let id = &frame.rows[again][frame.column("trial_id").unwrap_or(0)];
        let lines = record_lines(&path);
        let line = |i: usize| lines.get(i).copied().unwrap_or(i as u64 + 2);
        return Err(Error::user(format!(
            "{}:{}:1: trial_id `{id}` appears again (first at line {}); a results table has one row per trial, so diff cannot tell which row to compare",
            path.display(),
            line(again),
            line(first)
        )));
    }
    Ok(frame)
}

/// [`load`], with the swept parameters of the folder it belongs to.
pub fn load_table(p: &Path) -> Result<Table> {
    let frame = load(p)?;
    let path = table_path(p);
    let report = path
        .parent()
        .map(|d| d.join(super::REPORT_FILE))
        .filter(|_| path.file_name().is_some_and(|n| n == super::TRIALS_FILE))
        .and_then(|r| std::fs::read(r).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let from_report = report.as_ref().and_then(|v| {
        v.get("sweep")?.get("keys")?.as_array().map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
    });
    let swept_keys =
        from_report.unwrap_or_else(|| match (frame.column("seed"), frame.column("status")) {
            (Some(a), Some(b)) if a < b => frame.header[a + 1..b].to_vec(),
            _ => Vec::new(),
        });
    Ok(Table {
        path,
        frame,
        swept_keys,
    })
}

/// Columns that describe a trial rather than measure it.
const BOOKKEEPING: [&str; 5] = [
    crate::records::TRIAL_ID,
    "replicate",
    "seed",
    "status",
    "error",
];

/// Compare two tables: by trial id when they share ids (every cell, as
/// [`diff`]), else — or with [`DiffOptions::by`] — rows matched by sweep
/// point and replicate. Either way, when both tables have replicates, each
/// sweep point × numeric metric gets a statistical comparison.
pub fn diff_tables(old: &Table, new: &Table, opts: &DiffOptions) -> Result<DiffReport> {
    let ids = |t: &Table| -> std::collections::BTreeSet<String> {
        t.frame
            .column(crate::records::TRIAL_ID)
            .map(|c| t.frame.rows.iter().map(|r| r[c].clone()).collect())
            .unwrap_or_default()
    };
    let has = |t: &Table, c: &str| t.frame.column(c).is_some();
    let replicates = has(old, "replicate") && has(new, "replicate");
    let share_ids = ids(old).intersection(&ids(new)).next().is_some();
    let by: Vec<String> = if !opts.by.is_empty() {
        for key in &opts.by {
            for t in [old, new] {
                if !has(t, key) {
                    return Err(Error::user(format!(
                        "--by {}: {} has no column `{key}` (its columns: {})",
                        opts.by.join(","),
                        t.path.display(),
                        t.frame.header.join(", ")
                    )));
                }
            }
        }
        opts.by.clone()
    } else if replicates && !share_ids {
        old.swept_keys
            .iter()
            .chain(&new.swept_keys)
            .filter(|k| has(old, k) && has(new, k))
            .fold(Vec::new(), |mut v, k| {
                if !v.contains(k) {
                    v.push(k.clone());
                }
                v
            })
    } else {
        Vec::new()
    };
    let keyed_mode = !opts.by.is_empty() || (replicates && !share_ids);
    if !keyed_mode {
        let mut report = diff(&old.frame, &new.frame, opts);
        if replicates {
            let points: Vec<String> = old
                .swept_keys
                .iter()
                .filter(|k| has(old, k) && has(new, k))
                .cloned()
                .collect();
            report.comparisons = comparisons(old, new, &points, opts)?;
        }
        return Ok(report);
    }
    let mut report = DiffReport::default();
    let mut key_cols = by.clone();
    if replicates && !key_cols.iter().any(|k| k == "replicate") {
        key_cols.push("replicate".into());
    }
    let old_rows = rows_by_key(old, &key_cols)?;
    let new_rows = rows_by_key(new, &key_cols)?;
    for (label, _) in &old_rows {
        if new_rows.iter().any(|(l, _)| l == label) {
            report.rows_compared += 1;
        } else {
            report.removed_rows.push(label.clone());
        }
    }
    report.added_rows = new_rows
        .iter()
        .filter(|(l, _)| !old_rows.iter().any(|(o, _)| o == l))
        .map(|(l, _)| l.clone())
        .collect();
    report.removed_columns = old
        .frame
        .header
        .iter()
        .filter(|h| new.frame.column(h).is_none())
        .cloned()
        .collect();
    report.added_columns = new
        .frame
        .header
        .iter()
        .filter(|h| old.frame.column(h).is_none())
        .cloned()
        .collect();
    report.comparisons = comparisons(old, new, &by, opts)?;
    report.matched_by = key_cols;
    Ok(report)
}

/// Each row's `k=v, k=v` label over `keys`, refusing two rows with one label.
fn rows_by_key(t: &Table, keys: &[String]) -> Result<Vec<(String, usize)>> {
    let cols: Vec<usize> = keys.iter().filter_map(|k| t.frame.column(k)).collect();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    let lines = record_lines(&t.path);
    let line = |i: usize| lines.get(i).copied().unwrap_or(i as u64 + 2);
    for (i, row) in t.frame.rows.iter().enumerate() {
        let label = label(keys, &cols, row);
        if let Some(first) = seen.insert(label.clone(), i) {
            return Err(Error::user(format!(
                "{}:{}:1: row matches line {} on {}; give `--by` the columns that tell sweep points apart",
                t.path.display(),
                line(i),
                line(first),
                if label.is_empty() {
                    "every key".to_string()
                } else {
                    format!("`{label}`")
                }
            )));
        }
        out.push((label, i));
    }
    Ok(out)
}

fn label(keys: &[String], cols: &[usize], row: &[String]) -> String {
    keys.iter()
        .zip(cols)
        .map(|(k, &c)| format!("{k}={}", row[c]))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A numeric cell: numbers, and booleans as 1/0.
fn number(cell: &str) -> Option<f64> {
    match cell {
        "true" => Some(1.0),
        "false" => Some(0.0),
        s => s.parse::<f64>().ok(),
    }
}

/// Ok rows (every row when there is no status column).
fn ok_rows(f: &Frame) -> Vec<usize> {
    let status = f.column("status");
    (0..f.rows.len())
        .filter(|&r| status.is_none_or(|c| f.rows[r][c] == "ok"))
        .collect()
}

/// The statistical comparison of every sweep point (`points` columns) ×
/// numeric metric the tables share.
fn comparisons(
    old: &Table,
    new: &Table,
    points: &[String],
    opts: &DiffOptions,
) -> Result<Vec<Comparison>> {
    let (of, nf) = (&old.frame, &new.frame);
    let (old_ok, new_ok) = (ok_rows(of), ok_rows(nf));
    let numeric = |f: &Frame, rows: &[usize], c: usize| {
        let mut any = false;
        for &r in rows {
            let cell = &f.rows[r][c];
            if cell.is_empty() {
                continue;
            }
            if number(cell).is_none() {
                return false;
            }
            any = true;
        }
        any
    };
    let metrics: Vec<(String, usize, usize)> = of
        .header
        .iter()
        .enumerate()
        .filter(|(_, h)| !BOOKKEEPING.contains(&h.as_str()) && !points.contains(h))
        .filter(|(_, h)| !old.swept_keys.contains(h) && !new.swept_keys.contains(h))
        .filter_map(|(i, h)| nf.column(h).map(|j| (h.clone(), i, j)))
        .filter(|(_, i, j)| numeric(of, &old_ok, *i) && numeric(nf, &new_ok, *j))
        .collect();
    let pcols = |f: &Frame| -> Vec<usize> { points.iter().filter_map(|k| f.column(k)).collect() };
    let (opc, npc) = (pcols(of), pcols(nf));
    let mut labels: Vec<String> = Vec::new();
    for &r in &old_ok {
        let l = label(points, &opc, &of.rows[r]);
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    let seed = (of.column("seed"), nf.column("seed"));
    let rep = (of.column("replicate"), nf.column("replicate"));
    let mut out = Vec::new();
    for point in &labels {
        let at_old: Vec<usize> = old_ok
            .iter()
            .copied()
            .filter(|&r| label(points, &opc, &of.rows[r]) == *point)
            .collect();
        let at_new: Vec<usize> = new_ok
            .iter()
            .copied()
            .filter(|&r| label(points, &npc, &nf.rows[r]) == *point)
            .collect();
        if at_new.is_empty() {
            continue;
        }
        // Replicates present on both sides, matched by replicate number.
        let matched: Vec<(usize, usize)> = match rep {
            (Some(a), Some(b)) => at_old
                .iter()
                .filter_map(|&r| {
                    at_new
                        .iter()
                        .find(|&&q| nf.rows[q][b] == of.rows[r][a])
                        .map(|&q| (r, q))
                })
                .collect(),
            _ => Vec::new(),
        };
        let same_seeds = match seed {
            (Some(a), Some(b)) => {
                !matched.is_empty()
                    && matched.len() == at_old.len()
                    && matched.len() == at_new.len()
                    && matched.iter().all(|&(r, q)| of.rows[r][a] == nf.rows[q][b])
            }
            _ => false,
        };
        for (m, i, j) in &metrics {
            let vals = |f: &Frame, rows: &[usize], c: usize| -> Vec<f64> {
                rows.iter().filter_map(|&r| number(&f.rows[r][c])).collect()
            };
            let (xo, xn) = (vals(of, &at_old, *i), vals(nf, &at_new, *j));
            let pairs: Vec<(f64, f64)> = matched
                .iter()
                .filter_map(|&(r, q)| number(&of.rows[r][*i]).zip(number(&nf.rows[q][*j])))
                .collect();
            let tol = opts.tolerance(m);
            if let Some(c) = compare(
                point,
                m,
                &xo,
                &xn,
                same_seeds.then_some(pairs.as_slice()),
                |a, b| within(a, b, tol),
            ) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// The first repeated trial id: (first row, repeating row), 0-based.
fn duplicate_id(frame: &Frame) -> Option<(usize, usize)> {
    let c = frame.column("trial_id")?;
    let mut seen = BTreeMap::new();
    frame
        .rows
        .iter()
        .enumerate()
        .find_map(|(i, r)| seen.insert(r[c].as_str(), i).map(|first| (first, i)))
}

/// 1-based line of each data record (a quoted cell may span lines); empty
/// if the file cannot be read again.
fn record_lines(path: &Path) -> Vec<u64> {
    let Ok(mut r) = csv::Reader::from_path(path) else {
        return Vec::new();
    };
    r.records()
        .map_while(|rec| rec.ok().and_then(|rec| rec.position().map(|p| p.line())))
        .collect()
}

/// Rows keyed by trial id when both tables have one, else by position. A
/// repeated id (only possible for frames not read by [`load`]) gets its
/// occurrence appended, so every row is still compared.
fn keyed(frame: &Frame, by_id: bool) -> Vec<(String, &Vec<String>)> {
    let id = frame.column("trial_id").filter(|_| by_id);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    frame
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| match id {
            Some(c) => {
                let n = seen.entry(r[c].as_str()).or_insert(0);
                *n += 1;
                let key = if *n == 1 {
                    r[c].clone()
                } else {
                    format!("{} (occurrence {n})", r[c])
                };
                (key, r)
            }
            None => (format!("row {}", i + 1), r),
        })
        .collect()
}

/// Whether two numbers differ by at most the tolerance. Non-finite values
/// are never within a tolerance of anything but themselves (NaN of NaN,
/// inf of the same inf): `inf − 1 ≤ rel · inf` would otherwise hold.
fn within(x: f64, y: f64, tol: &Tolerance) -> bool {
    if !(x.is_finite() && y.is_finite()) {
        return (x.is_nan() && y.is_nan()) || x == y;
    }
    let d = (y - x).abs();
    d <= tol.abs || d <= tol.rel * x.abs().max(y.abs())
}

pub fn diff(old: &Frame, new: &Frame, opts: &DiffOptions) -> DiffReport {
    let mut report = DiffReport::default();
    let by_id = old.column("trial_id").is_some() && new.column("trial_id").is_some();
    let old_rows = keyed(old, by_id);
    let new_rows: BTreeMap<String, &Vec<String>> = keyed(new, by_id).into_iter().collect();
    report.removed_columns = old
        .header
        .iter()
        .filter(|h| new.column(h).is_none())
        .cloned()
        .collect();
    report.added_columns = new
        .header
        .iter()
        .filter(|h| old.column(h).is_none())
        .cloned()
        .collect();
    let shared: Vec<(&String, usize, usize)> = old
        .header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| new.column(h).map(|j| (h, i, j)))
        .collect();
    for (key, row) in &old_rows {
        let Some(other) = new_rows.get(key.as_str()) else {
            report.removed_rows.push(key.clone());
            continue;
        };
        report.rows_compared += 1;
        for (column, i, j) in &shared {
            let (a, b) = (&row[*i], &other[*j]);
            if a == b {
                continue;
            }
            let tol = opts
                .per_metric
                .get(column.as_str())
                .unwrap_or(&opts.default);
            let numbers = a.parse::<f64>().ok().zip(b.parse::<f64>().ok());
            let delta = numbers.map(|(x, y)| y - x);
            if numbers.is_some_and(|(x, y)| within(x, y, tol)) {
                report.within_tolerance += 1;
            } else {
                report.changes.push(Change {
                    row: key.clone(),
                    column: column.to_string(),
                    old: a.clone(),
                    new: b.clone(),
                    delta,
                });
            }
        }
    }
    let old_keys: std::collections::BTreeSet<&str> =
        old_rows.iter().map(|(k, _)| k.as_str()).collect();
    report.added_rows = keyed(new, by_id)
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| !old_keys.contains(k.as_str()))
        .collect();
    report
}

/// `a`, `b`, … for markdown.
fn code_list(list: &[String]) -> String {
    list.iter()
        .map(|x| format!("`{x}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn change_text(c: &Change) -> String {
    match c.delta {
        Some(d) => {
            let base = c.old.parse::<f64>().unwrap_or(0.0);
            if base != 0.0 {
                format!("{:+.6} ({:+.2}%)", d, 100.0 * d / base.abs())
            } else {
                format!("{d:+.6}")
            }
        }
        None => "changed".into(),
    }
}

/// Verdict counts, in a fixed order: "2 better, 1 worse, 40 no detectable change".
fn verdict_counts(cs: &[Comparison]) -> String {
    let order = [
        Verdict::Better,
        Verdict::Worse,
        Verdict::Higher,
        Verdict::Lower,
        Verdict::TooFew,
        Verdict::NoChange,
    ];
    order
        .iter()
        .filter_map(|v| {
            let n = cs.iter().filter(|c| c.verdict == *v).count();
            (n > 0).then(|| format!("{n} {}", v.label()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn comparison_row(c: &Comparison) -> Vec<String> {
    use super::plots::fmt_num;
    vec![
        if c.point.is_empty() {
            "(all)".into()
        } else {
            c.point.clone()
        },
        c.metric.clone(),
        format!("{}/{}", c.n_old, c.n_new),
        fmt_num(c.mean_old),
        fmt_num(c.mean_new),
        c.delta_text(),
        c.test.label().to_string(),
        c.verdict.label().to_string(),
    ]
}

const COMPARISON_HEADER: [&str; 8] = [
    "point",
    "metric",
    "n old/new",
    "old mean",
    "new mean",
    "new − old [95% CI]",
    "test",
    "verdict",
];

/// The comparisons worth listing: every one with `all`, else those with a
/// verdict other than "no detectable change".
fn listed(report: &DiffReport, all: bool) -> Vec<&Comparison> {
    report
        .comparisons
        .iter()
        .filter(|c| all || c.verdict != Verdict::NoChange)
        .collect()
}

fn comparison_note(report: &DiffReport, all: bool) -> String {
    let hidden = report.comparisons.len() - listed(report, all).len();
    format!(
        "{} sweep point × metric comparisons: {}{} (difference of means with its 95% interval: paired t when every replicate kept its seed, Welch t otherwise)",
        report.comparisons.len(),
        verdict_counts(&report.comparisons),
        if hidden > 0 {
            format!("; {hidden} without a detectable change not listed (--all lists them)")
        } else {
            String::new()
        }
    )
}

fn matching_note(report: &DiffReport) -> Option<String> {
    (!report.matched_by.is_empty()).then(|| {
        format!(
            "rows matched by {}: {} compared, {} only in old, {} only in new",
            report.matched_by.join(", "),
            report.rows_compared,
            report.removed_rows.len(),
            report.added_rows.len()
        )
    })
}

pub fn render(report: &DiffReport, format: DiffFormat) -> String {
    render_with(report, format, false)
}

/// [`render`]; `all` lists comparisons without a detectable change too.
pub fn render_with(report: &DiffReport, format: DiffFormat, all: bool) -> String {
    let keyed = !report.matched_by.is_empty();
    match format {
        DiffFormat::Json => {
            let changes: Vec<_> = report
                .changes
                .iter()
                .map(|c| json!({"row": c.row, "column": c.column, "old": c.old, "new": c.new, "delta": c.delta}))
                .collect();
            let doc = json!({
                "differs": report.differs(),
                "rows_compared": report.rows_compared,
                "changes": changes,
                "within_tolerance": report.within_tolerance,
                "added_rows": report.added_rows,
                "removed_rows": report.removed_rows,
                "added_columns": report.added_columns,
                "removed_columns": report.removed_columns,
                "matched_by": report.matched_by,
                "worse": report.worse(),
                "comparisons": report.comparisons.iter().map(|c| json!({
                    "point": c.point,
                    "metric": c.metric,
                    "n_old": c.n_old,
                    "n_new": c.n_new,
                    "mean_old": c.mean_old,
                    "mean_new": c.mean_new,
                    "difference": c.delta,
                    "ci95": c.ci.map(|(a, b)| vec![a, b]),
                    "test": c.test.label(),
                    "verdict": c.verdict.label(),
                })).collect::<Vec<_>>(),
            });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
        DiffFormat::Markdown if keyed => {
            let mut s = String::new();
            if let Some(n) = matching_note(report) {
                s.push_str(&format!("{}.\n\n", super::plots::sentence(&n)));
            }
            s.push_str(&format!(
                "{}.\n",
                super::plots::sentence(&comparison_note(report, all))
            ));
            let rows = listed(report, all);
            if !rows.is_empty() {
                s.push_str(&format!(
                    "\n| {} |\n|{}\n",
                    COMPARISON_HEADER.join(" | "),
                    "---|".repeat(8)
                ));
                for c in rows {
                    s.push_str(&format!(
                        "| {} |\n",
                        comparison_row(c).join(" | ").replace('\n', " ")
                    ));
                }
            }
            for (what, list) in [
                ("Only in old", &report.removed_rows),
                ("Only in new", &report.added_rows),
            ] {
                if !list.is_empty() {
                    s.push_str(&format!("\n{what}: {}\n", code_list(list)));
                }
            }
            s
        }
        DiffFormat::Markdown => {
            let mut s = String::new();
            if !report.differs() {
                s.push_str(&format!(
                    "**No differences** beyond tolerance in {} rows ({} within tolerance).\n",
                    report.rows_compared, report.within_tolerance
                ));
                return s;
            }
            s.push_str(&format!(
                "**{} changed cells** in {} rows compared ({} within tolerance)",
                report.changes.len(),
                report.rows_compared,
                report.within_tolerance
            ));
            s.push_str(&format!(
                "; {} rows added, {} removed.\n\n",
                report.added_rows.len(),
                report.removed_rows.len()
            ));
            if !report.changes.is_empty() {
                s.push_str("| trial | metric | old | new | change |\n|---|---|---:|---:|---:|\n");
                for c in &report.changes {
                    s.push_str(&format!(
                        "| `{}` | {} | {} | {} | {} |\n",
                        c.row,
                        c.column,
                        c.old,
                        c.new,
                        change_text(c)
                    ));
                }
            }
            for (what, list) in [
                ("Added rows", &report.added_rows),
                ("Removed rows", &report.removed_rows),
                ("Added columns", &report.added_columns),
                ("Removed columns", &report.removed_columns),
            ] {
                if !list.is_empty() {
                    s.push_str(&format!("\n{what}: {}\n", code_list(list)));
                }
            }
            s
        }
        DiffFormat::Table if keyed => {
            let mut s = String::new();
            if let Some(n) = matching_note(report) {
                s.push_str(&n);
                s.push('\n');
            }
            let mut rows = vec![COMPARISON_HEADER.map(String::from).to_vec()];
            rows.extend(listed(report, all).into_iter().map(comparison_row));
            if rows.len() > 1 {
                s.push_str(&aligned(&rows));
            }
            for (what, list) in [
                ("only in old", &report.removed_rows),
                ("only in new", &report.added_rows),
            ] {
                if !list.is_empty() {
                    s.push_str(&format!("{what}: {}\n", list.join("; ")));
                }
            }
            s.push_str(&comparison_note(report, all));
            s.push('\n');
            s
        }
        DiffFormat::Table => {
            let mut rows = vec![
                ["trial", "metric", "old", "new", "change"]
                    .map(String::from)
                    .to_vec(),
            ];
            for c in &report.changes {
                rows.push(vec![
                    c.row.clone(),
                    c.column.clone(),
                    c.old.clone(),
                    c.new.clone(),
                    change_text(c),
                ]);
            }
            let mut s = String::new();
            if report.changes.is_empty() {
                s.push_str("no changed cells\n");
            } else {
                s.push_str(&aligned(&rows));
            }
            for (what, list) in [
                ("added rows", &report.added_rows),
                ("removed rows", &report.removed_rows),
                ("added columns", &report.added_columns),
                ("removed columns", &report.removed_columns),
            ] {
                if !list.is_empty() {
                    s.push_str(&format!("{what}: {}\n", list.join(", ")));
                }
            }
            s.push_str(&format!(
                "{} rows compared, {} cells differ beyond tolerance, {} within\n",
                report.rows_compared,
                report.changes.len(),
                report.within_tolerance
            ));
            if !report.comparisons.is_empty() {
                s.push_str(&comparison_note(report, all));
                s.push('\n');
                let rows: Vec<Vec<String>> =
                    std::iter::once(COMPARISON_HEADER.map(String::from).to_vec())
                        .chain(listed(report, all).into_iter().map(comparison_row))
                        .collect();
                if rows.len() > 1 {
                    s.push_str(&aligned(&rows));
                }
            }
            s
        }
    }
}

/// Rows as columns padded to their widest cell, two spaces apart.
fn aligned(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut s = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        s.push_str(cells.join("  ").trim_end());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(rows: &[[&str; 3]]) -> Frame {
        let mut f = Frame::new(vec!["trial_id".into(), "fitness".into(), "mode".into()]);
        for r in rows {
            f.push(r.iter().map(|c| c.to_string()).collect());
        }
        f
    }

    #[test]
    fn tolerances_decide_what_counts() {
        let old = frame(&[["a", "1.0", "x"], ["b", "2.0", "x"]]);
        let new = frame(&[["a", "1.05", "x"], ["c", "2.0", "x"]]);
        let strict = diff(&old, &new, &DiffOptions::default());
        assert_eq!(strict.changes.len(), 1);
        assert_eq!(strict.removed_rows, vec!["b"]);
        assert_eq!(strict.added_rows, vec!["c"]);
        assert!(strict.differs());

        let mut loose = DiffOptions::default();
        loose
            .per_metric
            .insert("fitness".into(), Tolerance { abs: 0.1, rel: 0.0 });
        let r = diff(&old, &old.clone(), &loose);
        assert!(!r.differs());
        let r = diff(
            &frame(&[["a", "1.0", "x"]]),
            &frame(&[["a", "1.05", "x"]]),
            &loose,
        );
        assert!(!r.differs());
        assert_eq!(r.within_tolerance, 1);
        let rel = DiffOptions {
            default: Tolerance {
                abs: 0.0,
                rel: 0.01,
            },
            ..Default::default()
        };
        assert!(
            diff(
                &frame(&[["a", "1.0", "x"]]),
                &frame(&[["a", "1.05", "x"]]),
                &rel
            )
            .differs()
        );
    }

    /// Before: `inf − 1 ≤ rel · inf`, so 1.0 → inf passed any relative tolerance.
    #[test]
    fn non_finite_changes_are_always_differences() {
        let loose = DiffOptions {
            default: Tolerance { abs: 1e9, rel: 0.5 },
            ..Default::default()
        };
        for (a, b) in [
            ("1.0", "inf"),
            ("inf", "1.0"),
            ("1.0", "NaN"),
            ("NaN", "2"),
            ("inf", "-inf"),
            ("NaN", "inf"),
        ] {
            let r = diff(&frame(&[["a", a, "x"]]), &frame(&[["a", b, "x"]]), &loose);
            assert_eq!(r.changes.len(), 1, "{a} → {b}");
        }
        // The same non-finite value spelled differently is not a change.
        for (a, b) in [("inf", "Infinity"), ("NaN", "nan"), ("-inf", "-Infinity")] {
            let r = diff(
                &frame(&[["a", a, "x"]]),
                &frame(&[["a", b, "x"]]),
                &DiffOptions::default(),
            );
            assert!(!r.differs(), "{a} vs {b}");
            assert_eq!(r.within_tolerance, 1);
        }
    }

    /// Before: rows were keyed by id in a map, so of two rows with one id
    /// only the last was compared and a change in the other was invisible.
    #[test]
    fn repeated_ids_hide_no_change() {
        let old = frame(&[["a", "1.0", "x"], ["a", "2.0", "x"]]);
        let new = frame(&[["a", "1.0", "x"], ["a", "9.0", "x"]]);
        let r = diff(&old, &new, &DiffOptions::default());
        assert_eq!(r.rows_compared, 2);
        assert_eq!(r.changes.len(), 1);
        assert_eq!(r.changes[0].row, "a (occurrence 2)");
        let swapped = frame(&[["a", "9.0", "x"], ["a", "1.0", "x"]]);
        assert!(diff(&new, &swapped, &DiffOptions::default()).differs());
        assert_eq!(duplicate_id(&old), Some((0, 1)));
        assert_eq!(
            duplicate_id(&frame(&[["a", "1", "x"], ["b", "1", "x"]])),
            None
        );
    }

    #[test]
    fn load_refuses_repeated_ids_naming_both_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "trial_id,fitness\na,1\nb,\"multi\nline\"\na,3\n").unwrap();
        let e = load(&p).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::USAGE);
        let msg = e.to_string();
        assert!(
            msg.contains("t.csv:5:1: trial_id `a` appears again (first at line 2)"),
            "{msg}"
        );
    }

    #[test]
    fn text_cells_compare_exactly() {
        let r = diff(
            &frame(&[["a", "1", "x"]]),
            &frame(&[["a", "1", "y"]]),
            &DiffOptions {
                default: Tolerance { abs: 1e9, rel: 1.0 },
                ..Default::default()
            },
        );
        assert_eq!(r.changes[0].column, "mode");
    }
}
