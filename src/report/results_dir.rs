//! A results folder read back from disk: what `report` draws from.
//!
//! Reports are built from the written files alone (never from in-memory run
//! state) so that a report can be regenerated, or produced for a folder that
//! was copied from a cluster, without rerunning a single trial.

use super::frame::Frame;
use super::{REPORT_FILE, SUMMARY_FILE, TRIALS_FILE};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One sweep point: its swept values, in `sweep.keys` order.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub values: Vec<String>,
}

#[derive(Debug)]
pub struct ResultsDir {
    pub dir: PathBuf,
    pub name: String,
    pub kind: String,
    pub description: String,
    /// File name of the manifest (no folder: reports must not depend on where
    /// the run happened).
    pub manifest: String,
    pub manifest_sha256: String,
    pub base_seed: u64,
    pub replicates: u64,
    /// Resolved fixed parameters (swept keys excluded), in key order.
    pub params: Vec<(String, String)>,
    /// Fixed parameters no trial used (none listed by a folder written
    /// before report.json recorded them).
    pub unused_params: Vec<String>,
    pub swept_keys: Vec<String>,
    /// Sweep points in summary order.
    pub points: Vec<Point>,
    pub trials: Frame,
    pub summary: Frame,
    /// Artifact CSV file names listed in report.json.
    pub artifacts: Vec<String>,
    /// The manifest's claims (none in a folder written before claims existed).
    pub claims: Vec<super::claims::Claim>,
}

fn bad(path: &Path, what: &str) -> Error {
    Error::user(format!("{}: {what}", path.display()))
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl ResultsDir {
    /// Read a results folder; every problem is a user error naming the path.
    pub fn load(dir: &Path) -> Result<ResultsDir> {
        if dir.exists() && !dir.is_dir() {
            return Err(bad(
                dir,
                "not a folder; give a results folder written by `evoquant run`",
            ));
        }
        if !dir.is_dir() {
            return Err(bad(dir, "no such results folder"));
        }
        let report_path = dir.join(REPORT_FILE);
        if !report_path.is_file() {
            return Err(bad(
                dir,
                &format!(
                    "not an evoquant results folder (no {REPORT_FILE}); run `evoquant run` first"
                ),
            ));
        }
        // A folder the user named: an unreadable report.json is theirs to fix.
        let text =
            std::fs::read_to_string(&report_path).map_err(|e| Error::input(&report_path, e))?;
        let report: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| bad(&report_path, &format!("malformed JSON: {e}")))?;
        let field = |path: &[&str]| -> Result<&serde_json::Value> {
            let mut v = &report;
            for k in path {
                v = v
                    .get(k)
                    .ok_or_else(|| bad(&report_path, &format!("missing `{}`", path.join("."))))?;
            }
            Ok(v)
        };
        let text_field = |path: &[&str]| -> Result<String> {
            Ok(match field(path)? {
                serde_json::Value::Null => String::new(),
                v => json_text(v),
            })
        };
        let int_field = |path: &[&str]| -> Result<u64> {
            field(path)?.as_u64().ok_or_else(|| {
                bad(
                    &report_path,
                    &format!("`{}` is not an integer", path.join(".")),
                )
            })
        };
        let params: Vec<(String, String)> = field(&["params"])?
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), json_text(v))).collect())
            .unwrap_or_default();
        let swept_keys: Vec<String> = field(&["sweep", "keys"])?
            .as_array()
            .map(|a| a.iter().map(json_text).collect())
            .unwrap_or_default();
        // report.json's params hold the base values, swept keys included:
        // those are not fixed, so they are left out here.
        let params: Vec<(String, String)> = params
            .into_iter()
            .filter(|(k, _): &(String, String)| !swept_keys.contains(k))
            .collect();
        let artifacts = field(&["artifacts"])?
            .as_array()
            .map(|a| {
                a.iter()
                    .map(json_text)
                    .filter(|n| n.ends_with(".csv"))
                    .collect()
            })
            .unwrap_or_default();
        let trials = read_frame(&dir.join(TRIALS_FILE))?;
        let summary = read_frame(&dir.join(SUMMARY_FILE))?;
        let mut points = Vec::new();
        let cols: Vec<usize> = swept_keys
            .iter()
            .map(|k| {
                summary
                    .column(k)
                    .ok_or_else(|| bad(&dir.join(SUMMARY_FILE), &format!("no column `{k}`")))
            })
            .collect::<Result<_>>()?;
        for row in &summary.rows {
            points.push(Point {
                values: cols.iter().map(|&c| row[c].clone()).collect(),
            });
        }
        let unused_params = report
            .get("unused_params")
            .and_then(|c| c.as_array())
            .map(|a| a.iter().map(json_text).collect())
            .unwrap_or_default();
        let claims = report
            .get("claims")
            .and_then(|c| c.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(super::claims::Claim::from_json)
                    .collect()
            })
            .unwrap_or_default();
        Ok(ResultsDir {
            claims,
            dir: dir.to_path_buf(),
            name: text_field(&["study", "name"])?,
            kind: text_field(&["study", "kind"])?,
            description: text_field(&["study", "description"])?,
            manifest: text_field(&["study", "manifest"])?,
            manifest_sha256: text_field(&["study", "manifest_sha256"])?,
            base_seed: int_field(&["seeds", "base"])?,
            replicates: int_field(&["seeds", "replicates"])?,
            params,
            unused_params,
            swept_keys,
            points,
            trials,
            summary,
            artifacts,
        })
    }

    /// The artifact table `name` (`generations` → `generations.csv`), if
    /// the run wrote it.
    pub fn table(&self, name: &str) -> Result<Option<Frame>> {
        let file = crate::records::table_file(name);
        if !self.artifacts.contains(&file) {
            return Ok(None);
        }
        read_frame(&self.dir.join(file)).map(Some)
    }

    /// Where the runner wrote a trial's JSON document `name`.
    pub fn document_path(&self, trial_id: &str, name: &str) -> std::path::PathBuf {
        self.dir
            .join(crate::report::TRIAL_DOCS_DIR)
            .join(trial_id)
            .join(crate::records::document_file(name))
    }

    /// A fixed parameter's value as written in report.json.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// "k=v, k=v" for a point; empty when nothing is swept.
    pub fn point_label(&self, point: usize) -> String {
        self.swept_keys
            .iter()
            .zip(&self.points[point].values)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The sweep point of each row of a frame that carries the swept columns
    /// (trials.csv and every artifact do).
    pub fn row_points(&self, frame: &Frame) -> Vec<Option<usize>> {
        let cols: Vec<Option<usize>> = self.swept_keys.iter().map(|k| frame.column(k)).collect();
        frame
            .rows
            .iter()
            .map(|row| {
                let values: Option<Vec<&String>> =
                    cols.iter().map(|c| c.map(|c| &row[c])).collect();
                let values = values?;
                self.points
                    .iter()
                    .position(|p| p.values.iter().zip(&values).all(|(a, b)| a == *b))
            })
            .collect()
    }

    /// Rows of trials.csv whose status is ok.
    pub fn ok_trials(&self) -> Vec<usize> {
        let status = self.trials.column("status");
        (0..self.trials.rows.len())
            .filter(|&r| status.is_none_or(|c| self.trials.rows[r][c] == "ok"))
            .collect()
    }

    /// Rows of `frame` at each sweep point; with `only_ok`, only rows whose
    /// index is an ok trial (for trials.csv: the ok trials).
    pub fn rows_by_point(&self, frame: &Frame, only_ok: bool) -> Vec<Vec<usize>> {
        let points = self.row_points(frame);
        let ok = self.ok_trials();
        (0..self.points.len())
            .map(|p| {
                (0..frame.rows.len())
                    .filter(|&r| points[r] == Some(p))
                    .filter(|r| !only_ok || ok.contains(r))
                    .collect()
            })
            .collect()
    }

    /// `<stem>.svg` for a single sweep point, `<stem>_<point>.svg` for
    /// several; points whose labels share a slug get distinct names.
    pub fn plot_file(&self, stem: &str, p: usize) -> String {
        if self.points.len() == 1 {
            format!("{stem}.svg")
        } else {
            let labels: Vec<String> = (0..self.points.len())
                .map(|q| self.point_label(q))
                .collect();
            let point = super::plots::distinct_slug(&labels[p], labels.iter().map(String::as_str));
            format!("{stem}_{point}.svg")
        }
    }

    /// ` (<point>)` to append to a plot title, empty for an unswept run.
    pub fn title_suffix(&self, p: usize) -> String {
        match self.point_label(p) {
            l if l.is_empty() => String::new(),
            l => format!(" ({l})"),
        }
    }
}

fn read_frame(path: &Path) -> Result<Frame> {
    if !path.is_file() {
        return Err(bad(path, "missing (is this a complete results folder?)"));
    }
    Frame::read_csv(path)
}

/// A numeric cell (`true`/`false` count as 1/0); `None` for empty or text.
pub fn num(frame: &Frame, row: usize, col: usize) -> Option<f64> {
    let cell = frame.rows.get(row)?.get(col)?;
    match cell.as_str() {
        "true" => Some(1.0),
        "false" => Some(0.0),
        s => s.parse::<f64>().ok(),
    }
}

/// Whether every non-empty cell of column `name` over `rows` is a boolean
/// (a yes/no metric, summarised as a proportion).
pub fn is_boolean(frame: &Frame, name: &str, rows: &[usize]) -> bool {
    let Some(c) = frame.column(name) else {
        return false;
    };
    let mut cells = rows
        .iter()
        .map(|&r| frame.rows[r][c].as_str())
        .filter(|x| !x.is_empty())
        .peekable();
    cells.peek().is_some() && cells.all(|x| x == "true" || x == "false")
}

/// The interval method of metric `name` of trials.csv.
pub fn interval_method(results: &ResultsDir, name: &str) -> super::stats::Method {
    let boolean = is_boolean(&results.trials, name, &results.ok_trials());
    super::metrics::method(name, boolean)
}

/// The numeric values of a column over the given rows, skipping blanks.
pub fn column_values(frame: &Frame, name: &str, rows: &[usize]) -> Vec<f64> {
    let Some(c) = frame.column(name) else {
        return Vec::new();
    };
    rows.iter().filter_map(|&r| num(frame, r, c)).collect()
}
