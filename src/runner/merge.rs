//! `merge`: the shards' journals of one results folder become the final
//! files of a whole run.
//!
//! The plan is rebuilt from the manifest text and overrides the shards
//! recorded, the entries are put in trial order, and [`super::finish`] writes
//! them: the same function a whole run ends with, so a merged folder matches
//! a local run byte for byte by construction. Shard files are only read, never
//! changed, so merging is safe to repeat and safe while a shard still runs.

use super::journal::{JournalEntry, Status, read_entries};
use super::plan::Plan;
use super::shard::{SHARDS_DIR, Shard, ShardMeta, plan_hash, read_metas};
use super::{Finished, RunResult};
use crate::error::{Error, Result};
use crate::manifest::{Manifest, SourceFile};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

/// Missing trials listed per shard before "... and N more".
const LIST_LIMIT: usize = 20;

#[derive(Clone, Debug, PartialEq)]
pub struct MergeResult {
    pub out_dir: PathBuf,
    pub shards: usize,
    pub total: usize,
    pub failed: usize,
}

/// Check that the shards belong together and to this evoquant.
fn check_metas(out_dir: &Path, metas: &[(PathBuf, ShardMeta)]) -> Result<()> {
    let Some((first_path, first)) = metas.first() else {
        return Err(Error::user(format!(
            "{}: no shards to merge (expected {}/shard-K-of-N.json files written by `evoquant run MANIFEST --shard K/N --out {}`)",
            out_dir.display(),
            out_dir.join(SHARDS_DIR).display(),
            out_dir.display()
        )));
    };
    let ours = env!("CARGO_PKG_VERSION");
    if let Some((path, m)) = metas.iter().find(|(_, m)| m.version != ours) {
        return Err(Error::user(format!(
            "{} was written by evoquant {}, this is evoquant {ours}; rerun the shards with this version (or merge with that one)",
            path.display(),
            m.version
        )));
    }
    for (path, m) in &metas[1..] {
        if let Some(why) = first.mismatch(m) {
            return Err(Error::user(format!(
                "{} and {} cannot be merged: {why}; nothing was written",
                first_path.display(),
                path.display()
            )));
        }
    }
    Ok(())
}

/// The plan the shards ran, rebuilt from what they recorded.
fn rebuild_plan(meta: &ShardMeta) -> Result<Plan> {
    let source = SourceFile::new(&meta.manifest, meta.manifest_text.clone());
    let plan = Plan::new(Manifest::from_source(source, &meta.overrides())?)?;
    if plan_hash(&plan) != meta.plan_sha256 {
        return Err(Error::user(format!(
            "the manifest recorded by the shards ({}) no longer expands to the trials they ran; rerun the shards",
            meta.manifest.display()
        )));
    }
    Ok(plan)
}

/// The message for an incomplete set of shards.
/// A word for a POSIX shell, single-quoted unless plainly safe.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:,+@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn missing_message(
    out_dir: &Path,
    plan: &Plan,
    meta: &ShardMeta,
    present: &[bool],
    missing: &[usize],
) -> String {
    let count = meta.shards;
    let mut lines = vec![format!(
        "cannot merge {}: {} of {} trials have no result yet",
        out_dir.display(),
        missing.len(),
        plan.trials.len()
    )];
    // One pass over trials and missing, not one per shard: N may be large.
    let mut of = vec![0usize; count];
    for t in &plan.trials {
        of[Shard::of(t.index, count)] += 1;
    }
    let mut by_shard: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in missing {
        by_shard.entry(Shard::of(i, count)).or_default().push(i);
    }
    let shards: Vec<usize> = by_shard.keys().copied().collect();
    for (k, indices) in by_shard {
        let state = if present[k] {
            format!("{} of {} trials missing", indices.len(), of[k])
        } else {
            format!("never ran, {} trials", of[k])
        };
        let mut shown = indices[..indices.len().min(LIST_LIMIT)]
            .iter()
            .map(|&i| format!("{} (index {i})", plan.trials[i].id))
            .collect::<Vec<_>>()
            .join(", ");
        if indices.len() > LIST_LIMIT {
            shown.push_str(&format!(", ... and {} more", indices.len() - LIST_LIMIT));
        }
        lines.push(format!("  shard {k}/{count}: {state}: {shown}"));
    }
    // The shards' own overrides, so the rerun is of the same trials; with
    // --resume a shard keeps the trials it finished (never --force, never
    // deleting shard files: they hold finished work).
    let mut flags = String::new();
    for s in &meta.set {
        flags.push_str(&format!(" --set {}", shell_word(s)));
    }
    for s in &meta.sweep {
        flags.push_str(&format!(" --sweep {}", shell_word(s)));
    }
    let command = |k: usize| {
        format!(
            "evoquant run {} --shard {k}/{count} --resume --out {}{flags}",
            shell_word(&plan.manifest.source.path.display().to_string()),
            shell_word(&out_dir.display().to_string())
        )
    };
    lines.push(
        "run the missing shards (--resume keeps the trials they finished), then merge again; nothing was written:"
            .to_string(),
    );
    for &k in shards.iter().take(LIST_LIMIT) {
        lines.push(format!("  {}", command(k)));
    }
    if shards.len() > LIST_LIMIT {
        lines.push(format!(
            "  ... and {} more shards: {}",
            shards.len() - LIST_LIMIT,
            command(usize::MAX).replace(&format!("{}/", usize::MAX), "K/")
        ));
    }
    lines.join("\n")
}

/// Merge the shards in `out_dir` into its final files. Refuses (exit 2,
/// nothing written) when shards disagree or a trial has no result.
pub fn merge(out_dir: &Path) -> Result<MergeResult> {
    let _lock = match out_dir.is_dir() {
        true => Some(crate::fsio::lock_dir(
            out_dir,
            crate::fsio::LockKind::Exclusive,
        )?),
        false => None, // read_metas says what is missing
    };
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let metas = read_metas(out_dir)?;
    check_metas(out_dir, &metas)?;
    let meta = &metas[0].1;
    let count = meta.shards;
    let plan = rebuild_plan(meta)?;

    // Per trial: its successful entry, else the last failure (a resumed
    // shard retries failures, so a later Ok supersedes them).
    let wanted: BTreeMap<&str, u64> = plan
        .trials
        .iter()
        .map(|t| (t.id.as_str(), t.seed))
        .collect();
    let mut best: BTreeMap<String, JournalEntry> = BTreeMap::new();
    let mut present = vec![false; count];
    for (_, m) in &metas {
        // read_metas checked every description's shard and count.
        let shard = m.shard().map_err(|e| Error::Internal(e.to_string()))?;
        present[shard.index] = true;
        let journal = shard.journal_path(out_dir);
        if !journal.exists() {
            continue;
        }
        for entry in read_entries(&journal)? {
            if wanted.get(entry.id.as_str()) != Some(&entry.seed) {
                continue;
            }
            let keep_old = best
                .get(&entry.id)
                .is_some_and(|old| old.status == Status::Ok);
            if !keep_old {
                best.insert(entry.id.clone(), entry);
            }
        }
    }
    let missing: Vec<usize> = plan
        .trials
        .iter()
        .filter(|t| !best.contains_key(&t.id))
        .map(|t| t.index)
        .collect();
    if !missing.is_empty() {
        return Err(Error::user(missing_message(
            out_dir, &plan, meta, &present, &missing,
        )));
    }

    let entries: Vec<Option<JournalEntry>> =
        plan.trials.iter().map(|t| best.remove(&t.id)).collect();
    let failed = entries
        .iter()
        .flatten()
        .filter(|e| e.status == Status::Failed)
        .count();
    let result = RunResult {
        out_dir: out_dir.to_path_buf(),
        total: plan.trials.len(),
        ran: 0,
        cached: plan.trials.len(),
        failed,
        not_run: 0,
    };
    let merged = MergeResult {
        out_dir: out_dir.to_path_buf(),
        shards: count,
        total: plan.trials.len(),
        failed,
    };
    let finished = Finished {
        result,
        entries,
        started_at,
        wall: clock.elapsed(),
        // The shards timed their trials; the merge runs none.
        durations: BTreeMap::new(),
    };
    super::finish(&plan, &finished, out_dir, 1)?;
    Ok(merged)
}
