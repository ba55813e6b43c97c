//! Snapshots of committed experiments: one source of truth for the test suite
//! (which writes them through insta) and `evoquant check` (which compares a
//! fresh run against them).
//!
//! The `.snap` format is insta's: a `---` delimited metadata header, then the
//! contents; contents compare after trimming trailing whitespace, as insta
//! does. We read it ourselves because insta's contents API is in its unstable
//! `internals` module.

use super::{PLOTS_DIR, REPORT_FILE, REPORT_MD, SUMMARY_FILE, TRIAL_DOCS_DIR, TRIALS_FILE};
use crate::error::{Error, Result};
use crate::fsio::write_atomic;
use std::path::{Path, PathBuf};

/// The test file that owns the snapshots, recorded in their headers.
pub const SNAPSHOT_SOURCE: &str = "tests/integration/snapshots.rs";

/// Name and contents of every snapshot of one results folder: trials.csv,
/// summary.csv, each artifact CSV, and each per-trial JSON document name
/// (all trials' documents of one name concatenated, in trial-id order), and
/// the human-readable report when the folder has one: `report.md` and each
/// `plots/<name>.svg` (as `<stem>__plot_<name>.svg`).
pub fn entries(stem: &str, out_dir: &Path) -> Result<Vec<(String, String)>> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| Error::io(format!("cannot read {}", p.display()), e))
    };
    let mut out = Vec::new();
    for file in [TRIALS_FILE, SUMMARY_FILE] {
        out.push((format!("{stem}__{file}"), read(&out_dir.join(file))?));
    }
    let mut csvs: Vec<PathBuf> = list(out_dir)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .filter(|p| {
            let name = p.file_name().unwrap_or_default();
            name != TRIALS_FILE && name != SUMMARY_FILE
        })
        .collect();
    csvs.sort();
    for p in csvs {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        out.push((format!("{stem}__{name}"), read(&p)?));
    }
    let docs_dir = out_dir.join(TRIAL_DOCS_DIR);
    if docs_dir.is_dir() {
        let mut by_name: std::collections::BTreeMap<String, String> = Default::default();
        let mut trial_dirs = list(&docs_dir)?;
        trial_dirs.sort();
        for dir in trial_dirs {
            let id = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let mut docs = list(&dir)?;
            docs.sort();
            for doc in docs {
                let name = doc
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string();
                let text = by_name.entry(name).or_default();
                text.push_str(&format!("## trial {id}\n"));
                text.push_str(&read(&doc)?);
            }
        }
        for (name, text) in by_name {
            out.push((format!("{stem}__{name}"), text));
        }
    }
    if let Some(inputs) = input_files(out_dir)? {
        out.push((format!("{stem}__{INPUTS_SNAPSHOT}"), inputs));
    }
    let report = out_dir.join(REPORT_MD);
    if report.is_file() {
        out.push((format!("{stem}__{REPORT_MD}"), read(&report)?));
    }
    let plots_dir = out_dir.join(PLOTS_DIR);
    if plots_dir.is_dir() {
        let mut svgs: Vec<PathBuf> = list(&plots_dir)?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "svg"))
            .collect();
        svgs.sort();
        for p in svgs {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            out.push((format!("{stem}__plot_{name}"), read(&p)?));
        }
    }
    for (name, _) in &out {
        let file = &name[stem.len() + 2..];
        if file.starts_with('_') || file.contains("__") {
            return Err(Error::Internal(format!(
                "{}: a results file whose name starts with '_' or holds \"__\" cannot be snapshotted unambiguously",
                out_dir.join(file).display()
            )));
        }
    }
    Ok(out)
}

/// The snapshot of the files the trials read (from report.json), so `check`
/// can say that an input changed rather than only that every id moved.
pub const INPUTS_SNAPSHOT: &str = "inputs.json";

/// report.json's `inputs`, pretty-printed, when the trials read any file.
fn input_files(out_dir: &Path) -> Result<Option<String>> {
    let path = out_dir.join(REPORT_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
    match doc.get("inputs") {
        Some(serde_json::Value::Array(a)) if !a.is_empty() => {
            let mut text = serde_json::to_string_pretty(a)
                .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
            text.push('\n');
            Ok(Some(text))
        }
        _ => Ok(None),
    }
}

/// What changed between two `inputs.json` snapshots, one line per file.
pub fn input_changes(old: &str, new: &str) -> Vec<String> {
    let parse =
        |t: &str| -> Vec<crate::records::InputFile> { serde_json::from_str(t).unwrap_or_default() };
    let (old, new) = (parse(old), parse(new));
    let short = |h: &str| h.chars().take(12).collect::<String>();
    let mut out = Vec::new();
    for n in &new {
        match old.iter().find(|o| o.param == n.param && o.path == n.path) {
            Some(o) if o.sha256 != n.sha256 => out.push(format!(
                "params.{} = {:?}: content changed (sha256 {}… → {}…, {} → {} bytes)",
                n.param,
                n.path,
                short(&o.sha256),
                short(&n.sha256),
                o.bytes,
                n.bytes
            )),
            Some(_) => {}
            None => out.push(format!(
                "params.{} = {:?}: a new input file",
                n.param, n.path
            )),
        }
    }
    for o in &old {
        if !new.iter().any(|n| n.param == o.param && n.path == o.path) {
            out.push(format!("params.{} = {:?}: no longer read", o.param, o.path));
        }
    }
    out
}

fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect())
}

pub fn snapshot_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.snap"))
}

/// Contents of a `.snap` file, without its header.
pub fn read_snapshot(path: &Path) -> Result<Option<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        // A committed snapshot that cannot be read (not UTF-8, no permission)
        // is the user's to fix or regenerate.
        Err(e) => return Err(Error::input(path, e)),
    };
    let text = text.replace("\r\n", "\n");
    let body = text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n").map(|(_, body)| body))
        .ok_or_else(|| {
            Error::user(format!(
                "{}: not an insta snapshot (no --- header)",
                path.display()
            ))
        })?;
    Ok(Some(body.to_string()))
}

pub fn write_snapshot(path: &Path, contents: &str) -> Result<()> {
    let text = format!(
        "---\nsource: {SNAPSHOT_SOURCE}\n---\n{}\n",
        contents.trim_end()
    );
    write_atomic(path, text.as_bytes())
}

/// Equal as insta compares snapshot contents.
pub fn same_contents(a: &str, b: &str) -> bool {
    a.trim_end() == b.trim_end()
}

/// The manifest stem a snapshot name belongs to. Names are
/// `<stem>__<file>` and `<file>` never holds `__` nor starts with `_`
/// ([`entries`] refuses such files), so the last `__` is the separator:
/// `a___x` belongs to `a_`, never to `a`.
pub fn owner(name: &str) -> Option<&str> {
    name.rsplit_once("__").map(|(stem, _)| stem)
}

/// Every snapshot name in `dir`, sorted.
pub fn all_names(dir: &Path) -> Result<Vec<String>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut names: Vec<String> = list(dir)?
        .into_iter()
        .filter_map(|p| {
            let f = p.file_name()?.to_string_lossy().to_string();
            f.strip_suffix(".snap").map(str::to_string)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Existing snapshot names that belong to `stem` exactly (see [`owner`]).
pub fn existing_names(dir: &Path, stem: &str) -> Result<Vec<String>> {
    Ok(all_names(dir)?
        .into_iter()
        .filter(|n| owner(n) == Some(stem))
        .collect())
}

/// Cell-level differences of a drifted CSV snapshot (rows by trial id, or
/// by position), `None` when either side is not a CSV.
pub fn csv_drift(
    old: &str,
    new: &str,
    tol: &super::diff::Tolerance,
) -> Option<super::diff::DiffReport> {
    let (a, b) = (super::Frame::parse_csv(old)?, super::Frame::parse_csv(new)?);
    let opts = super::diff::DiffOptions {
        default: tol.clone(),
        ..Default::default()
    };
    Some(super::diff::diff(&a, &b, &opts))
}

/// Whether two texts differ only in numbers within `tol` (each maximal run
/// of letters, digits and `._+-` is a token; tokens that both parse as
/// numbers compare with the tolerance, the rest exactly).
pub fn same_within(old: &str, new: &str, tol: &super::diff::Tolerance) -> bool {
    fn tokens(s: &str) -> Vec<&str> {
        let word = |c: char| c.is_ascii_alphanumeric() || "._+-".contains(c);
        let mut out = Vec::new();
        let mut start = None;
        for (i, c) in s.char_indices() {
            match (word(c), start) {
                (true, None) => start = Some(i),
                (false, Some(st)) => {
                    out.push(&s[st..i]);
                    out.push(&s[i..i + c.len_utf8()]);
                    start = None;
                }
                (false, None) if !c.is_whitespace() => out.push(&s[i..i + c.len_utf8()]),
                _ => {}
            }
        }
        if let Some(st) = start {
            out.push(&s[st..]);
        }
        out
    }
    let (a, b) = (tokens(old), tokens(new));
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| {
            x == y
                || match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(p), Ok(q)) => {
                        p.is_finite() && q.is_finite() && {
                            let d = (p - q).abs();
                            d <= tol.abs || d <= tol.rel * p.abs().max(q.abs())
                        }
                    }
                    _ => false,
                }
        })
}

/// A unified diff for a drifted snapshot, shortened for the terminal.
pub fn drift_diff(name: &str, old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old.trim_end(), new.trim_end());
    let text = diff
        .unified_diff()
        .context_radius(1)
        .header(&format!("{name} (snapshot)"), &format!("{name} (this run)"))
        .to_string();
    const MAX_LINES: usize = 40;
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() > MAX_LINES {
        format!(
            "{}\n... ({} more lines)\n",
            lines[..MAX_LINES].join("\n"),
            lines.len() - MAX_LINES
        )
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trip() {
        let dir = std::env::temp_dir().join(format!("evoquant-snap-{}", std::process::id()));
        let p = snapshot_path(&dir, "x__trials.csv");
        write_snapshot(&p, "a,b\n1,2\n").unwrap();
        let back = read_snapshot(&p).unwrap().unwrap();
        assert!(same_contents(&back, "a,b\n1,2"));
        assert!(!same_contents(&back, "a,b\n1,3"));
        assert_eq!(read_snapshot(&dir.join("missing.snap")).unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn tolerant_comparison_of_csv_and_text() {
        use crate::report::diff::Tolerance;
        let exact = Tolerance::default();
        let loose = Tolerance {
            abs: 0.01,
            rel: 0.0,
        };
        let d = csv_drift(
            "trial_id,x,y\na,1.0,2\nb,3,4\n",
            "trial_id,x,y\na,1.005,2\nb,3,5\n",
            &exact,
        )
        .unwrap();
        assert_eq!(d.changes.len(), 2);
        let d = csv_drift("trial_id,x\na,1.0\n", "trial_id,x\na,1.005\n", &loose).unwrap();
        assert!(!d.differs());
        assert!(same_within(
            "<text x=\"1.0\">a 8606e0e</text>",
            "<text x=\"1.004\">a 8606e0e</text>",
            &loose
        ));
        assert!(!same_within("a 1.0", "a 1.5", &loose));
        assert!(!same_within("hash 8606e0e", "hash 8606e0f", &loose));
        assert!(!same_within("a b", "a b c", &loose));
    }

    #[test]
    fn ownership_is_exact() {
        assert_eq!(owner("a__trials.csv"), Some("a"));
        assert_eq!(owner("a___trials.csv"), Some("a_"));
        assert_eq!(owner("a__b__plot_x.svg"), Some("a__b"));
        assert_eq!(owner("stray"), None);
    }
}
