//! `evoquant diff`: compare two result sets cell by cell with tolerances.
//!
//! Two rules keep a real change from hiding: a non-finite value never falls
//! within a tolerance (1.0 → inf is a change; only the same NaN or the same
//! infinity spelled differently is not), and rows are keyed by trial id only
//! when ids are unique, since a map keyed by a repeated id keeps one row and
//! silently drops the others. `load` refuses such a table naming both lines.

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
}

impl DiffReport {
    pub fn differs(&self) -> bool {
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

pub fn render(report: &DiffReport, format: DiffFormat) -> String {
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
            });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
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
                    s.push_str(&format!(
                        "\n{what}: {}\n",
                        list.iter()
                            .map(|x| format!("`{x}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
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
                let widths: Vec<usize> = (0..5)
                    .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
                    .collect();
                for r in &rows {
                    let cells: Vec<String> = r
                        .iter()
                        .zip(&widths)
                        .map(|(c, w)| format!("{c:<w$}"))
                        .collect();
                    s.push_str(cells.join("  ").trim_end());
                    s.push('\n');
                }
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
            s
        }
    }
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
