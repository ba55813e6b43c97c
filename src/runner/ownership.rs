//! What `--force` may delete: only a folder evoquant wrote, and in it only
//! the files evoquant writes.
//!
//! A folder is evoquant's when its marker (`.evoquant`, written before the
//! first trial) or its `run.json` parses and says so; file names alone prove
//! nothing (a thesis folder may well hold a `trials.csv`). Inside such a
//! folder `--force` removes the fixed result files, the artifacts and
//! per-trial documents the last `report.json` lists, `plots/*.svg`, shard
//! journals and descriptions, and evoquant's temporary files; a user's
//! `NOTES.md` stays. Links are never followed: nothing outside the folder is
//! touched.

use super::journal::JOURNAL_FILE;
use super::shard::SHARDS_DIR;
use crate::error::{Error, Result};
use crate::fsio::{self, LOCK_FILE, TMP_PREFIX};
use crate::report::{
    PLOTS_DIR, REPORT_FILE, REPORT_MD, SUMMARY_FILE, TRIAL_DOCS_DIR, TRIALS_FILE, listed_artifacts,
};
use std::path::Path;

/// Create (if needed) and lock a results folder; returns the lock and
/// whether the folder already held anything. Temporaries of a killed run
/// are removed only under an exclusive lock: a shard sharing the folder may
/// be writing one right now.
pub fn open_out_dir(dir: &Path, kind: fsio::LockKind) -> Result<(fsio::DirLock, bool)> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::user(format!(
            "--out {}: is a file, not a folder",
            dir.display()
        )));
    }
    fsio::create_dir_durable(dir)?;
    let lock = fsio::lock_dir(dir, kind)?;
    if kind == fsio::LockKind::Exclusive {
        fsio::remove_stale_temps(dir);
    }
    let non_empty =
        std::fs::read_dir(dir).is_ok_and(|d| d.flatten().any(|e| e.file_name() != LOCK_FILE));
    Ok((lock, non_empty))
}

/// The marker that says a folder is evoquant's.
pub const MARKER: &str = ".evoquant";
const RUN_JSON: &str = "run.json";

/// Files at the top of a results folder that evoquant writes.
const FIXED: &[&str] = &[
    JOURNAL_FILE,
    RUN_JSON,
    TRIALS_FILE,
    SUMMARY_FILE,
    REPORT_FILE,
    REPORT_MD,
    MARKER,
];

fn says_evoquant(path: &Path) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.get("tool").and_then(|t| t.as_str()) == Some("evoquant"))
}

/// Whether `dir` is a results folder evoquant wrote.
pub fn is_ours(dir: &Path) -> bool {
    says_evoquant(&dir.join(MARKER)) || says_evoquant(&dir.join(RUN_JSON))
}

/// Mark `dir` as evoquant's before anything else is written into it.
pub fn write_marker(dir: &Path) -> Result<()> {
    let text = format!(
        "{{\"tool\": \"evoquant\", \"version\": \"{}\"}}\n",
        env!("CARGO_PKG_VERSION")
    );
    fsio::write_atomic(&dir.join(MARKER), text.as_bytes())
}

/// A regular file (not a link, not a folder) at `path`?
fn is_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// A real folder (not a link to one) at `path`?
fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_dir())
}

fn remove_file(path: &Path) -> Result<()> {
    if is_file(path) {
        std::fs::remove_file(path)
            .map_err(|e| Error::io(format!("cannot remove {}", path.display()), e))?;
    }
    Ok(())
}

/// Remove `dir` if it is a real, empty folder.
fn remove_if_empty(dir: &Path) {
    if is_real_dir(dir) {
        let _ = std::fs::remove_dir(dir);
    }
}

/// Files directly in `dir` (a real folder) whose names satisfy `pred`.
fn files_in(dir: &Path, pred: impl Fn(&str) -> bool) -> Vec<std::path::PathBuf> {
    if !is_real_dir(dir) {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .flatten()
        .filter(|e| pred(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .filter(|p| is_file(p))
        .collect();
    out.sort();
    out
}

/// Delete what evoquant wrote in `dir`, refusing (exit 2) when `dir` is not
/// an evoquant results folder. Returns how many entries were left (the
/// user's own files).
pub fn remove_ours(dir: &Path) -> Result<usize> {
    if !is_ours(dir) {
        return Err(Error::user(format!(
            "{} is not an evoquant results folder (no evoquant {MARKER} or {RUN_JSON} in it); refusing to delete anything with --force",
            dir.display()
        )));
    }
    for rel in listed_artifacts(dir) {
        remove_file(&dir.join(&rel))?;
        // Per-trial documents live in trials/<id>/: drop emptied folders.
        if let Some(parent) = Path::new(&rel)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            remove_if_empty(&dir.join(parent));
        }
    }
    remove_if_empty(&dir.join(TRIAL_DOCS_DIR));
    let plots = dir.join(PLOTS_DIR);
    for svg in files_in(&plots, |n| n.ends_with(".svg")) {
        remove_file(&svg)?;
    }
    remove_if_empty(&plots);
    let shards = dir.join(SHARDS_DIR);
    for f in files_in(&shards, |n| {
        n.starts_with("shard-") && (n.ends_with(".json") || n.ends_with(".jsonl"))
    }) {
        remove_file(&f)?;
    }
    remove_if_empty(&shards);
    for f in files_in(dir, |n| n.starts_with(TMP_PREFIX)) {
        remove_file(&f)?;
    }
    // The marker goes last: a --force killed half-way can be forced again.
    for name in FIXED.iter().filter(|n| **n != MARKER).chain([&MARKER]) {
        remove_file(&dir.join(name))?;
    }
    let left = std::fs::read_dir(dir)
        .map(|d| d.flatten().filter(|e| e.file_name() != LOCK_FILE).count())
        .unwrap_or(0);
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_alone_do_not_make_a_folder_ours() {
        let d_tmp = tempfile::tempdir().unwrap();
        let d = d_tmp.path().to_path_buf();
        std::fs::write(d.join("thesis.tex"), "x").unwrap();
        std::fs::write(d.join("trials.csv"), "a,b").unwrap();
        std::fs::write(d.join("run.json"), "{\"tool\": \"other\"}").unwrap();
        assert!(remove_ours(&d).is_err());
        assert!(d.join("thesis.tex").exists() && d.join("trials.csv").exists());
    }

    #[test]
    fn only_our_files_are_removed() {
        let d_tmp = tempfile::tempdir().unwrap();
        let d = d_tmp.path().to_path_buf();
        write_marker(&d).unwrap();
        for f in ["trials.csv", "summary.csv", "journal.jsonl", "NOTES.md"] {
            std::fs::write(d.join(f), "x").unwrap();
        }
        std::fs::create_dir_all(d.join("trials/abc")).unwrap();
        std::fs::write(d.join("trials/abc/champion.json"), "{}").unwrap();
        std::fs::write(d.join("trials/mine.txt"), "keep").unwrap();
        std::fs::write(d.join("generations.csv"), "x").unwrap();
        std::fs::write(
            d.join("report.json"),
            r#"{"artifacts": ["generations.csv", "trials/abc/champion.json", "../outside.csv", "/etc/passwd"]}"#,
        )
        .unwrap();
        std::fs::create_dir_all(d.join("plots")).unwrap();
        std::fs::write(d.join("plots/a.svg"), "x").unwrap();
        let left = remove_ours(&d).unwrap();
        let mut names: Vec<String> = walk(&d);
        names.sort();
        assert_eq!(names, ["NOTES.md", "trials", "trials/mine.txt"]);
        assert_eq!(left, 2);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_not_followed() {
        let d_tmp = tempfile::tempdir().unwrap();
        let d = d_tmp.path().to_path_buf();
        let outside_tmp = tempfile::tempdir().unwrap();
        let outside = outside_tmp.path().to_path_buf();
        std::fs::write(outside.join("precious.svg"), "x").unwrap();
        write_marker(&d).unwrap();
        std::os::unix::fs::symlink(&outside, d.join("plots")).unwrap();
        remove_ours(&d).unwrap();
        assert!(outside.join("precious.svg").exists());
    }

    fn walk(d: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name == LOCK_FILE {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                out.push(name.clone());
                for sub in walk(&e.path()) {
                    out.push(format!("{name}/{sub}"));
                }
            } else {
                out.push(name);
            }
        }
        out
    }

    #[test]
    fn relative_paths_must_stay_inside() {
        use crate::report::stays_inside;
        assert!(stays_inside("trials/abc/x.json"));
        assert!(!stays_inside("../x"));
        assert!(!stays_inside("/etc/passwd"));
        assert!(!stays_inside("a/../../b"));
        assert!(!stays_inside(""));
    }
}
