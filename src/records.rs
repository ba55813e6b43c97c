//! Records: what a trial produced and how it ended, the boundary between
//! the studies that make them, the runner that journals them and the report
//! that writes them. Plain serde data at the bottom of the module graph.

use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The first column of trials.csv and of every artifact table.
pub const TRIAL_ID: &str = "trial_id";

/// The file the runner writes the table `name` to, in the results folder.
pub fn table_file(name: &str) -> String {
    format!("{name}.csv")
}

/// The file the runner writes the JSON document `name` to, in a trial's folder.
pub fn document_file(name: &str) -> String {
    format!("{name}.json")
}

/// A file a trial reads, named by a path parameter: its content is part of
/// the trial's identity, and run.json/report.json record it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InputFile {
    /// The parameter that names it.
    pub param: String,
    /// The path as the manifest gives it.
    pub path: String,
    /// SHA-256 of its content (for a folder, of every file's relative path
    /// and content, in path order).
    pub sha256: String,
    pub bytes: u64,
}

/// A table artifact. All trials' tables of one name are concatenated by the
/// runner into `<name>.csv`, prefixed with the trial's id and parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn new(name: &str, columns: &[&str]) -> Self {
        Table {
            name: name.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len(), "table {}", self.name);
        self.rows.push(row);
    }
}

/// A per-trial artifact, written to `trials/<trial id>/<name>.json` — or,
/// for a text document, its text verbatim to `<name>.<text_extension>`
/// (e.g. a YAML export a deployment script reads).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub name: String,
    /// The JSON value, or a JSON string holding a text document's text.
    pub value: serde_json::Value,
    /// File extension of a text document; empty for JSON.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text_extension: String,
}

/// Everything a trial produces, in the order the study produced it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrialOutput {
    pub metrics: Vec<(String, Value)>,
    pub tables: Vec<Table>,
    pub documents: Vec<Document>,
}

impl TrialOutput {
    pub fn metric(&mut self, name: &str, value: impl Into<Value>) {
        self.metrics.push((name.to_string(), value.into()));
    }

    pub fn table(&mut self, table: Table) {
        self.tables.push(table);
    }

    pub fn document(&mut self, name: &str, value: serde_json::Value) {
        self.documents.push(Document {
            name: name.to_string(),
            value,
            text_extension: String::new(),
        });
    }

    /// A text artifact written verbatim as `<name>.<extension>`.
    pub fn text_document(&mut self, name: &str, extension: &str, text: String) {
        self.documents.push(Document {
            name: name.to_string(),
            value: serde_json::Value::String(text),
            text_extension: extension.to_string(),
        });
    }

    pub fn get(&self, metric: &str) -> Option<&Value> {
        self.metrics
            .iter()
            .find(|(n, _)| n == metric)
            .map(|(_, v)| v)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub id: String,
    pub seed: u64,
    pub replicate: u32,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<TrialOutput>,
}

/// The counts of a run (or a shard, or a merge).
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub out_dir: PathBuf,
    pub total: usize,
    pub ran: usize,
    pub cached: usize,
    pub failed: usize,
    pub not_run: usize,
}

impl RunResult {
    /// Every trial ran and succeeded; otherwise `run` exits 1.
    pub fn complete(&self) -> bool {
        self.failed == 0 && self.not_run == 0
    }
}
