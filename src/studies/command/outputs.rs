//! Reading back what a command left: metrics from the last non-empty stdout
//! line, a table per `*.csv`, a document per `*.json`, and its stdout and
//! stderr as text documents. Every refusal names the file or the metric.

use super::process::Finished;
use crate::records::TrialOutput;
use crate::studies::{StudyError, Table};
use crate::value::Value;
use std::path::Path;

/// Lines of stderr quoted in a failed trial's message.
const STDERR_TAIL: usize = 10;
/// Names the runner's own files use.
const RESERVED: [&str; 4] = ["trials", "summary", "stdout", "stderr"];

fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(STDERR_TAIL);
    if lines.is_empty() {
        "(stderr was empty)".into()
    } else {
        format!("last lines of stderr:\n{}", lines[start..].join("\n"))
    }
}

pub fn collect(f: &Finished, timeout_s: f64, dir: &Path) -> Result<TrialOutput, StudyError> {
    let fail = |why: String| StudyError::new(format!("{why}; {}", tail(&f.stderr)));
    if f.timed_out {
        return Err(fail(format!(
            "timed out after {timeout_s} s (timeout_s); its process group was killed"
        )));
    }
    match f.status {
        Some(s) if s.success() => {}
        Some(s) => return Err(fail(format!("the command failed ({s})"))),
        None => return Err(fail("the command's exit status is unknown".into())),
    }
    let stdout = String::from_utf8_lossy(&f.stdout);
    let Some(last) = stdout.lines().rev().find(|l| !l.trim().is_empty()) else {
        return Err(fail(
            "no metrics: the last non-empty line of stdout must be a JSON object, and stdout was empty".into(),
        ));
    };
    let metrics: serde_json::Map<String, serde_json::Value> = serde_json::from_str(last.trim())
        .map_err(|e| {
            let short: String = last.chars().take(80).collect();
            fail(format!(
                "no metrics: the last non-empty line of stdout must be a JSON object ({e}), found `{short}`"
            ))
        })?;
    let mut out = TrialOutput::default();
    for (name, v) in &metrics {
        let value = match v {
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::String(s) => Value::Text(s.clone()),
            other => {
                return Err(fail(format!(
                    "metric `{name}` is {}; metrics are numbers, booleans or strings",
                    match other {
                        serde_json::Value::Null => "null",
                        serde_json::Value::Array(_) => "a list",
                        _ => "an object",
                    }
                )));
            }
        };
        out.metric(name, value);
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| StudyError::new(format!("cannot read the trial's working folder: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for path in files {
        let (Some(stem), Some(ext)) = (
            path.file_stem().and_then(|s| s.to_str()),
            path.extension().and_then(|s| s.to_str()),
        ) else {
            continue;
        };
        if ext != "csv" && ext != "json" {
            continue;
        }
        let file = format!("{stem}.{ext}");
        let ok_name = !stem.is_empty()
            && !stem.starts_with('_')
            && !stem.contains("__")
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !RESERVED.contains(&stem);
        if !ok_name {
            return Err(StudyError::new(format!(
                "output {file}: names are letters, digits, '-', '_', '.', not starting with '_', without \"__\", and not {}",
                RESERVED.join("/")
            )));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| StudyError::new(format!("output {file}: {e}")))?;
        if ext == "csv" {
            out.table(
                read_table(stem, &text)
                    .map_err(|e| StudyError::new(format!("output {file}: {e}")))?,
            );
        } else {
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| StudyError::new(format!("output {file}: not JSON: {e}")))?;
            out.document(stem, value);
        }
    }
    out.text_document("stdout", "log", stdout.into_owned());
    out.text_document(
        "stderr",
        "log",
        String::from_utf8_lossy(&f.stderr).into_owned(),
    );
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
enum TableError {
    #[error("{0}")]
    Csv(csv::Error),
    #[error("the header row has an empty column name")]
    EmptyColumn,
    #[error("column `{0}` appears twice in the header")]
    Repeated(String),
    #[error("row {0}: {1}")]
    Row(usize, csv::Error),
}

/// A CSV with a header row; cells are kept as written.
fn read_table(name: &str, text: &str) -> Result<Table, TableError> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(TableError::Csv)?
        .iter()
        .map(String::from)
        .collect();
    if header.is_empty() || header.iter().any(String::is_empty) {
        return Err(TableError::EmptyColumn);
    }
    if let Some(dup) = header
        .iter()
        .enumerate()
        .find(|(i, h)| header[..*i].contains(h))
    {
        return Err(TableError::Repeated(dup.1.clone()));
    }
    let cols: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = Table::new(name, &cols);
    for (i, row) in r.records().enumerate() {
        let row = row.map_err(|e| TableError::Row(i + 2, e))?;
        table.push(row.iter().map(|c| Value::Text(c.to_string())).collect());
    }
    Ok(table)
}
