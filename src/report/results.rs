//! The final files of a run, built from journal entries in trial order.
//!
//! Everything here is a pure function of the plan and the entries, which is
//! why a resumed run, a run with any `--jobs` and an uninterrupted run write
//! the same bytes.

use super::frame::Frame;
use super::stats::summarise;
use crate::error::Result;
use crate::fsio::write_atomic;
use crate::params::ParamSet;
use crate::records::{InputFile, JournalEntry, Status, TRIAL_ID};
use crate::value::display_value;
use crate::value::{Value, format_float};
use serde_json::{Map, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub const TRIALS_FILE: &str = "trials.csv";
pub const SUMMARY_FILE: &str = "summary.csv";
pub const REPORT_FILE: &str = "report.json";
pub const TRIAL_DOCS_DIR: &str = "trials";

/// What the report needs to know of a run, as plain data: the runner
/// builds it from its plan, so the report depends on no runner type.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub manifest_path: PathBuf,
    pub manifest_text: String,
    /// Folder relative paths resolve against (and whose git state run.json records).
    pub base_dir: PathBuf,
    pub base_seed: u64,
    pub replicates: u32,
    /// Defaults overlaid with the fixed parameters.
    pub base: ParamSet,
    pub swept_keys: Vec<String>,
    /// Each point's swept values, in `swept_keys` order.
    pub points: Vec<Vec<toml::Value>>,
    /// Every trial in trial order.
    pub trials: Vec<TrialInfo>,
    /// Every distinct file the trials read, sorted.
    pub inputs: Vec<InputFile>,
    /// What the manifest claims, tested by the report.
    pub claims: Vec<super::claims::Claim>,
    /// Fixed parameters no trial used (sorted): report.md leaves them out.
    pub unused: Vec<String>,
}

/// One trial of a [`RunInfo`].
#[derive(Clone, Debug)]
pub struct TrialInfo {
    pub id: String,
    pub point: usize,
    pub replicate: u32,
    pub seed: u64,
}

/// Is `rel` a plain relative path that stays inside its folder?
pub fn stays_inside(rel: &str) -> bool {
    !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The artifact paths a folder's `report.json` lists (only those inside it).
pub fn listed_artifacts(dir: &Path) -> Vec<String> {
    std::fs::read(dir.join(REPORT_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get("artifacts")?.as_array().map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .filter(|s| stays_inside(s))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// Names in first-seen order without duplicates.
fn union_in_order<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !out.iter().any(|o| o == n) {
            out.push(n.to_string());
        }
    }
    out
}

fn metric_names(entries: &[Option<&JournalEntry>]) -> Vec<String> {
    union_in_order(
        entries
            .iter()
            .flatten()
            .filter_map(|e| e.output.as_ref())
            .flat_map(|o| o.metrics.iter().map(|(n, _)| n.as_str())),
    )
}

fn status_text(entry: Option<&JournalEntry>) -> &'static str {
    match entry.map(|e| e.status) {
        Some(Status::Ok) => "ok",
        Some(Status::Failed) => "failed",
        None => "not_run",
    }
}

/// `name`, or — when `header` already has it (a metric named like a swept
/// parameter or a bookkeeping column) — `name_<suffix>` (then `_2`, …):
/// no CSV repeats a column name, since readers such as pandas and Python's
/// `csv.DictReader` silently keep one of the two.
fn distinct_column(header: &[String], name: &str, suffix: &str) -> String {
    if !header.iter().any(|h| h == name) {
        return name.to_string();
    }
    let base = format!("{name}_{suffix}");
    let mut candidate = base.clone();
    let mut i = 2;
    while header.contains(&candidate) {
        candidate = format!("{base}_{i}");
        i += 1;
    }
    candidate
}

fn trials_frame(plan: &RunInfo, entries: &[Option<&JournalEntry>], metrics: &[String]) -> Frame {
    let mut header: Vec<String> = [TRIAL_ID, "replicate", "seed"].map(String::from).to_vec();
    header.extend(plan.swept_keys.iter().cloned());
    header.extend(["status", "error"].map(String::from));
    for m in metrics {
        let name = distinct_column(&header, m, "metric");
        header.push(name);
    }
    let mut frame = Frame::new(header);
    for (trial, entry) in plan.trials.iter().zip(entries) {
        let mut row = vec![
            trial.id.clone(),
            trial.replicate.to_string(),
            trial.seed.to_string(),
        ];
        row.extend(plan.points[trial.point].iter().map(display_value));
        row.push(status_text(*entry).to_string());
        row.push(entry.and_then(|e| e.error.clone()).unwrap_or_default());
        let output = entry.and_then(|e| e.output.as_ref());
        for m in metrics {
            row.push(
                output
                    .and_then(|o| o.get(m))
                    .map(Value::to_string)
                    .unwrap_or_default(),
            );
        }
        frame.push(row);
    }
    frame
}

const STAT_COLUMNS: [&str; 6] = ["mean", "std", "min", "max", "ci95_lo", "ci95_hi"];

/// Numeric metric values of each point's successful trials, in trial order.
fn point_values(
    plan: &RunInfo,
    entries: &[Option<&JournalEntry>],
    metrics: &[String],
) -> Vec<(usize, usize, BTreeMap<String, Vec<f64>>)> {
    let mut out: Vec<(usize, usize, BTreeMap<String, Vec<f64>>)> = (0..plan.points.len())
        .map(|_| (0, 0, BTreeMap::new()))
        .collect();
    for (trial, entry) in plan.trials.iter().zip(entries) {
        let slot = &mut out[trial.point];
        match entry {
            Some(e) if e.status == Status::Ok => {
                slot.0 += 1;
                if let Some(o) = &e.output {
                    for m in metrics {
                        if let Some(x) = o.get(m).and_then(Value::as_f64) {
                            slot.2.entry(m.clone()).or_default().push(x);
                        }
                    }
                }
            }
            Some(_) => slot.1 += 1,
            None => {}
        }
    }
    out
}

/// Every recorded value of metric `m`, in trial order.
fn observed<'a>(
    entries: &'a [Option<&'a JournalEntry>],
    m: &'a str,
) -> impl Iterator<Item = &'a Value> + 'a {
    entries
        .iter()
        .flatten()
        .filter_map(|e| e.output.as_ref())
        .filter_map(move |o| o.get(m))
}

fn numeric_metrics(entries: &[Option<&JournalEntry>], metrics: &[String]) -> Vec<String> {
    metrics
        .iter()
        .filter(|m| observed(entries, m).any(|v| v.as_f64().is_some()))
        .cloned()
        .collect()
}

/// Metrics every observed value of which is a boolean: they summarise as
/// proportions.
fn boolean_metrics(entries: &[Option<&JournalEntry>], metrics: &[String]) -> BTreeSet<String> {
    metrics
        .iter()
        .filter(|m| observed(entries, m).all(|v| matches!(v, Value::Bool(_))))
        .cloned()
        .collect()
}

fn opt_float(x: Option<f64>) -> String {
    x.map(format_float).unwrap_or_default()
}

fn summary_frame(plan: &RunInfo, entries: &[Option<&JournalEntry>], numeric: &[String]) -> Frame {
    let mut header = plan.swept_keys.clone();
    let stat_names = ["n".to_string(), "failed".to_string()].into_iter().chain(
        numeric
            .iter()
            .flat_map(|m| STAT_COLUMNS.iter().map(move |s| format!("{m}_{s}"))),
    );
    for name in stat_names {
        let name = distinct_column(&header, &name, "summary");
        header.push(name);
    }
    let mut frame = Frame::new(header);
    let booleans = boolean_metrics(entries, numeric);
    for (point, (n, failed, values)) in plan.points.iter().zip(point_values(plan, entries, numeric))
    {
        let mut row: Vec<String> = point.iter().map(display_value).collect();
        row.push(n.to_string());
        row.push(failed.to_string());
        for m in numeric {
            let method = super::metrics::method(m, booleans.contains(m));
            match values.get(m).and_then(|xs| summarise(xs, method)) {
                Some((s, _)) => row.extend([
                    format_float(s.mean),
                    opt_float(s.std),
                    format_float(s.min),
                    format_float(s.max),
                    opt_float(s.ci95.map(|c| c.0)),
                    opt_float(s.ci95.map(|c| c.1)),
                ]),
                None => row.extend(STAT_COLUMNS.iter().map(|_| String::new())),
            }
        }
        frame.push(row);
    }
    frame
}

/// One frame per artifact table name: trial id, swept params and replicate
/// prepended to the study's own columns.
fn artifact_frames(plan: &RunInfo, entries: &[Option<&JournalEntry>]) -> Vec<(String, Frame)> {
    let outputs: Vec<_> = plan
        .trials
        .iter()
        .zip(entries)
        .filter_map(|(t, e)| e.and_then(|e| e.output.as_ref()).map(|o| (t, o)))
        .collect();
    let names = union_in_order(
        outputs
            .iter()
            .flat_map(|(_, o)| o.tables.iter().map(|t| t.name.as_str())),
    );
    names
        .into_iter()
        .map(|name| {
            let tables: Vec<_> = outputs
                .iter()
                .flat_map(|(trial, o)| {
                    o.tables
                        .iter()
                        .filter(|t| t.name == name)
                        .map(move |t| (*trial, t))
                })
                .collect();
            let columns = union_in_order(
                tables
                    .iter()
                    .flat_map(|(_, t)| t.columns.iter().map(String::as_str)),
            );
            let mut header = vec![TRIAL_ID.to_string()];
            header.extend(plan.swept_keys.iter().cloned());
            header.push("replicate".into());
            for c in &columns {
                let name = distinct_column(&header, c, "column");
                header.push(name);
            }
            let mut frame = Frame::new(header);
            for (trial, table) in tables {
                let index: Vec<Option<usize>> = columns
                    .iter()
                    .map(|c| table.columns.iter().position(|x| x == c))
                    .collect();
                for cells in &table.rows {
                    let mut row = vec![trial.id.clone()];
                    row.extend(plan.points[trial.point].iter().map(display_value));
                    row.push(trial.replicate.to_string());
                    row.extend(index.iter().map(|i| {
                        i.and_then(|i| cells.get(i))
                            .map(Value::to_string)
                            .unwrap_or_default()
                    }));
                    frame.push(row);
                }
            }
            (crate::records::table_file(&name), frame)
        })
        .collect()
}

/// JSON for a metric: numbers stay numbers; NaN and infinities become text.
fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Int(i) => json!(i),
        Value::Float(x) if x.is_finite() => json!(x),
        Value::Float(x) => json!(format_float(*x)),
        Value::Bool(b) => json!(b),
        Value::Text(s) => json!(s),
    }
}

fn toml_json(v: &toml::Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn frame_json(frame: &Frame) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = frame
        .rows
        .iter()
        .map(|r| {
            let obj: Map<String, serde_json::Value> = frame
                .header
                .iter()
                .zip(r)
                .map(|(h, c)| (h.clone(), json!(c)))
                .collect();
            serde_json::Value::Object(obj)
        })
        .collect();
    json!(rows)
}

fn report_json(
    plan: &RunInfo,
    entries: &[Option<&JournalEntry>],
    summary: &Frame,
    artifacts: &[String],
) -> serde_json::Value {
    let m = plan;
    let params: Map<String, serde_json::Value> = plan
        .base
        .iter()
        .map(|(k, v)| (k.clone(), toml_json(v)))
        .collect();
    let trials: Vec<serde_json::Value> = plan
        .trials
        .iter()
        .zip(entries)
        .map(|(t, e)| {
            let swept: Map<String, serde_json::Value> = plan
                .swept_keys
                .iter()
                .zip(&plan.points[t.point])
                .map(|(k, v)| (k.clone(), toml_json(v)))
                .collect();
            let metrics: Map<String, serde_json::Value> = e
                .and_then(|e| e.output.as_ref())
                .map(|o| {
                    o.metrics
                        .iter()
                        .map(|(n, v)| (n.clone(), value_json(v)))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "id": t.id,
                "replicate": t.replicate,
                "seed": t.seed,
                "params": swept,
                "status": status_text(*e),
                "error": e.and_then(|e| e.error.clone()),
                "metrics": metrics,
            })
        })
        .collect();
    let file_name = m
        .manifest_path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    json!({
        "study": {
            "name": m.name,
            "kind": m.kind,
            "description": m.description,
            "manifest": file_name,
            "manifest_sha256": crate::ids::hash_hex(&m.manifest_text),
        },
        "seeds": { "base": m.base_seed, "replicates": m.replicates },
        "params": params,
        "unused_params": plan.unused,
        "sweep": { "keys": plan.swept_keys, "points": plan.points.len() },
        "inputs": plan.inputs,
        "claims": plan.claims.iter().map(super::claims::Claim::to_json).collect::<Vec<_>>(),
        "trials": trials,
        "summary": frame_json(summary),
        "artifacts": artifacts,
    })
}

/// Write trials.csv, summary.csv, the artifacts and report.json.
pub fn write_results(
    plan: &RunInfo,
    entries: &[Option<&JournalEntry>],
    out_dir: &Path,
) -> Result<()> {
    let metrics = metric_names(entries);
    let numeric = numeric_metrics(entries, &metrics);
    write_atomic(
        &out_dir.join(TRIALS_FILE),
        &trials_frame(plan, entries, &metrics).to_csv(),
    )?;
    let summary = summary_frame(plan, entries, &numeric);
    write_atomic(&out_dir.join(SUMMARY_FILE), &summary.to_csv())?;

    // What the folder's previous report.json listed: whatever of it this
    // run does not write again is stale (a resume after a manifest edit) and
    // removed, so the folder holds exactly this run's files.
    let previous = listed_artifacts(out_dir);
    let mut artifacts = Vec::new();
    for (file, frame) in artifact_frames(plan, entries) {
        write_atomic(&out_dir.join(&file), &frame.to_csv())?;
        artifacts.push(file);
    }
    for (trial, entry) in plan.trials.iter().zip(entries) {
        let Some(output) = entry.and_then(|e| e.output.as_ref()) else {
            continue;
        };
        for doc in &output.documents {
            let dir = format!("{TRIAL_DOCS_DIR}/{}", trial.id);
            let (rel, text) = match (&doc.value, doc.text_extension.as_str()) {
                (_, "") => {
                    let rel = format!("{dir}/{}", crate::records::document_file(&doc.name));
                    let mut text = serde_json::to_string_pretty(&doc.value)
                        .map_err(|e| crate::Error::Internal(format!("{rel}: {e}")))?;
                    text.push('\n');
                    (rel, text)
                }
                (serde_json::Value::String(text), ext) => {
                    (format!("{dir}/{}.{ext}", doc.name), text.clone())
                }
                (_, _) => {
                    return Err(crate::Error::Internal(format!(
                        "text document {} of trial {} is not a string",
                        doc.name, trial.id
                    )));
                }
            };
            write_atomic(&out_dir.join(&rel), text.as_bytes())?;
            artifacts.push(rel);
        }
    }
    for stale in previous.iter().filter(|p| !artifacts.contains(p)) {
        let path = out_dir.join(stale);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
            std::fs::remove_file(&path)
                .map_err(|e| crate::Error::io(format!("cannot remove {}", path.display()), e))?;
        }
        if let Some(parent) = path.parent().filter(|p| *p != out_dir) {
            let _ = std::fs::remove_dir(parent); // only if emptied
        }
    }
    let report = report_json(plan, entries, &summary, &artifacts);
    let mut text = serde_json::to_string_pretty(&report)
        .map_err(|e| crate::Error::Internal(format!("report.json: {e}")))?;
    text.push('\n');
    write_atomic(&out_dir.join(REPORT_FILE), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_column_name_repeats() {
        let header: Vec<String> = ["trial_id", "search", "status", "search_metric"]
            .map(String::from)
            .to_vec();
        assert_eq!(distinct_column(&header, "fitness", "metric"), "fitness");
        assert_eq!(
            distinct_column(&header, "search", "metric"),
            "search_metric_2"
        );
        assert_eq!(
            distinct_column(&header, "status", "metric"),
            "status_metric"
        );
    }
}
