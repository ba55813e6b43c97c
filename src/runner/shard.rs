//! Shards: one manifest's trials split over N independent processes (Slurm
//! array tasks, or any machines sharing a folder), merged afterwards.
//!
//! The assignment is fixed and documented: the trial at index `i` of the
//! expanded trial list (the `index` column of `evoquant plan`) belongs to
//! shard `i mod N`. It depends only on the manifest, the overrides and N,
//! never on timing, threads or the machine, so a requeued task reruns exactly
//! its own trials. Round-robin rather than hashing ids keeps shard sizes within
//! one trial of each other, and interleaves sweep points so expensive points
//! spread over all shards.
//!
//! Each shard owns two files in `OUT/shards/` and touches nothing else:
//! `shard-K-of-N.json` (what it is: tool version, manifest hash and text,
//! overrides, a hash of the trial list) and `shard-K-of-N.jsonl` (its journal,
//! the same format as a whole run's). `merge` reads both and refuses shards
//! that do not belong together.

use super::execute::execute;
use super::ownership;
use super::plan::{Plan, Trial};
use super::{RunOptions, RunResult, hash_hex};
use crate::error::{Error, Result};
use crate::fsio::write_atomic;
use crate::manifest::Overrides;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Folder inside the results folder that holds every shard's files.
pub const SHARDS_DIR: &str = "shards";
/// How trials are assigned, as recorded in each shard's description.
pub const ASSIGNMENT: &str = "trial index mod shards";

/// The most shards a run may be split into. Far above any Slurm array size
/// in use (the default `MaxArraySize` is 1001), and small enough that
/// `merge`'s per-shard bookkeeping stays trivial whatever a description says.
pub const MAX_SHARDS: usize = 100_000;

/// Shard `index` of `count`; `index < count <= MAX_SHARDS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// Why a shard cannot exist (a `--shard` flag, or a shard description).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("`{0}` is not K/N (for example 0/4: shard 0 of 4)")]
    Malformed(String),
    #[error("N must be at least 1 (K/N runs shard K of N, K from 0 to N-1)")]
    NoShards,
    #[error("N = {0} is more shards than evoquant supports (at most {MAX_SHARDS})")]
    TooMany(usize),
    #[error("shard {index} does not exist in a split into {count}: K runs from 0 to {}", count - 1)]
    OutOfRange { index: usize, count: usize },
}

impl Shard {
    pub fn new(index: usize, count: usize) -> std::result::Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards);
        }
        if count > MAX_SHARDS {
            return Err(ShardError::TooMany(count));
        }
        if index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// The shard a trial index belongs to.
    pub fn of(trial_index: usize, count: usize) -> usize {
        trial_index % count
    }

    pub fn contains(&self, trial: &Trial) -> bool {
        Shard::of(trial.index, self.count) == self.index
    }

    /// This shard's trials, in trial order.
    pub fn trials<'p>(&self, plan: &'p Plan) -> Vec<&'p Trial> {
        plan.trials.iter().filter(|t| self.contains(t)).collect()
    }

    fn stem(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }

    pub fn journal_path(&self, out_dir: &Path) -> PathBuf {
        out_dir
            .join(SHARDS_DIR)
            .join(format!("{}.jsonl", self.stem()))
    }

    pub fn meta_path(&self, out_dir: &Path) -> PathBuf {
        out_dir
            .join(SHARDS_DIR)
            .join(format!("{}.json", self.stem()))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    /// `K/N`, both decimal integers.
    fn from_str(s: &str) -> std::result::Result<Shard, ShardError> {
        let malformed = || ShardError::Malformed(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(malformed)?;
        let num = |t: &str| {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            t.parse::<usize>().map_err(|_| malformed())
        };
        Shard::new(num(k.trim())?, num(n.trim())?)
    }
}

/// What a shard is, written next to its journal before its first trial:
/// enough for `merge` to rebuild the plan and to refuse shards that do not
/// belong together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub tool: String,
    pub version: String,
    pub shard: usize,
    pub shards: usize,
    pub assignment: String,
    /// Absolute path of the manifest when the shard ran (relative `data.*`
    /// paths resolve against its folder).
    pub manifest: PathBuf,
    pub manifest_sha256: String,
    pub set: Vec<String>,
    pub sweep: Vec<String>,
    /// Hash of every trial's id and seed in order: the expanded plan.
    pub plan_sha256: String,
    pub trials: usize,
    pub shard_trials: Vec<String>,
    /// The manifest itself, so merging does not depend on the file staying put.
    pub manifest_text: String,
}

/// Hash of the expanded trial list: ids and seeds in trial order.
pub fn plan_hash(plan: &Plan) -> String {
    let text: String = plan
        .trials
        .iter()
        .map(|t| format!("{} {}\n", t.id, t.seed))
        .collect();
    hash_hex(&text)
}

impl ShardMeta {
    pub fn new(plan: &Plan, shard: Shard, overrides: &Overrides) -> ShardMeta {
        let path = &plan.manifest.source.path;
        ShardMeta {
            tool: "evoquant".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            shard: shard.index,
            shards: shard.count,
            assignment: ASSIGNMENT.into(),
            manifest: std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()),
            manifest_sha256: hash_hex(&plan.manifest.source.text),
            set: overrides.set.clone(),
            sweep: overrides.sweep.clone(),
            plan_sha256: plan_hash(plan),
            trials: plan.trials.len(),
            shard_trials: shard.trials(plan).iter().map(|t| t.id.clone()).collect(),
            manifest_text: plan.manifest.source.text.clone(),
        }
    }

    /// The shard this description is of; an edited or corrupt description
    /// may name one that cannot exist, so this is checked like `--shard`.
    pub fn shard(&self) -> std::result::Result<Shard, ShardError> {
        Shard::new(self.shard, self.shards)
    }

    pub fn overrides(&self) -> Overrides {
        Overrides {
            set: self.set.clone(),
            sweep: self.sweep.clone(),
        }
    }

    /// Why two shards cannot be merged together, if they cannot.
    pub fn mismatch(&self, other: &ShardMeta) -> Option<String> {
        let short = |h: &str| h.chars().take(12).collect::<String>();
        if self.tool != other.tool || self.version != other.version {
            Some(format!(
                "written by {} {} and {} {}",
                self.tool, self.version, other.tool, other.version
            ))
        } else if self.manifest_sha256 != other.manifest_sha256 {
            Some(format!(
                "different manifests: sha256 {}… ({}) and {}… ({})",
                short(&self.manifest_sha256),
                self.manifest.display(),
                short(&other.manifest_sha256),
                other.manifest.display()
            ))
        } else if self.set != other.set || self.sweep != other.sweep {
            Some(format!(
                "different overrides: --set {:?} --sweep {:?} and --set {:?} --sweep {:?}",
                self.set, self.sweep, other.set, other.sweep
            ))
        } else if self.plan_sha256 != other.plan_sha256 {
            Some("the same manifest expanded to different trial lists".into())
        } else if self.shards != other.shards {
            Some(format!(
                "split into {} and into {} shards",
                self.shards, other.shards
            ))
        } else {
            None
        }
    }
}

/// Every shard description in `OUT/shards/`, ordered by (N, K). A missing
/// folder means no shards.
pub fn read_metas(out_dir: &Path) -> Result<Vec<(PathBuf, ShardMeta)>> {
    let dir = out_dir.join(SHARDS_DIR);
    let Ok(listing) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut metas = Vec::new();
    for item in listing {
        let path = item.map_err(|e| Error::input(&dir, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().to_string());
        if !name.is_some_and(|n| n.starts_with("shard-") && n.ends_with(".json")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::input(&path, e))?;
        let meta: ShardMeta = serde_json::from_str(&text).map_err(|e| {
            Error::user(format!(
                "{}: not a shard description written by evoquant ({e})",
                path.display()
            ))
        })?;
        if let Err(why) = meta.shard() {
            return Err(Error::user(format!(
                "{}: \"shard\": {}, \"shards\": {}: {why}",
                path.display(),
                meta.shard,
                meta.shards
            )));
        }
        metas.push((path, meta));
    }
    metas.sort_by_key(|(_, m)| (m.shards, m.shard));
    Ok(metas)
}

/// Run one shard's trials into the shared results folder: its journal and
/// description only, no final files (`merge` writes those).
pub fn run_shard(
    plan: &Plan,
    shard: Shard,
    overrides: &Overrides,
    opts: &RunOptions,
) -> Result<RunResult> {
    let out = &opts.out_dir;
    // Shards of one run write side by side; a whole run or a merge excludes them.
    let (_lock, non_empty) = ownership::open_out_dir(out, crate::fsio::LockKind::Shared)?;
    // A folder holding only the scripts `evoquant slurm` wrote is ours too.
    let ours = ownership::is_ours(out) || out.join("slurm").join("array.sbatch").is_file();
    if non_empty && !ours {
        return Err(Error::user(format!(
            "{} is not an evoquant results folder; refusing to write shards into it",
            out.display()
        )));
    }
    let meta = ShardMeta::new(plan, shard, overrides);
    let journal = shard.journal_path(out);
    let meta_path = shard.meta_path(out);
    let own_exists = journal.exists() || meta_path.exists();
    if own_exists && !opts.resume && !opts.force {
        return Err(Error::user(format!(
            "shard {shard} already has a journal in {}; pass --resume to continue it or --force to rerun it",
            out.display()
        )));
    }
    for (path, other) in read_metas(out)? {
        // --force replaces this shard's own files, so only others count then.
        if opts.force && path == meta_path {
            continue;
        }
        if let Some(why) = meta.mismatch(&other) {
            return Err(Error::user(format!(
                "{} holds {} that cannot be merged with this shard ({why}); give this run another --out (the shards there are finished work of another run: merge them with `evoquant merge {}`, or rerun with that run's manifest and flags)",
                out.display(),
                path.display(),
                out.display()
            )));
        }
    }
    if own_exists && !opts.resume {
        for p in [&journal, &meta_path] {
            if p.exists() {
                std::fs::remove_file(p)
                    .map_err(|e| Error::io(format!("cannot remove {}", p.display()), e))?;
            }
        }
    }
    ownership::write_marker(out)?;
    let mut text = serde_json::to_string_pretty(&meta)
        .map_err(|e| Error::Internal(format!("shard description: {e}")))?;
    text.push('\n');
    write_atomic(&meta_path, text.as_bytes())?;

    let trials = shard.trials(plan);
    let done = execute(plan, &trials, &journal, opts)?;
    Ok(RunResult {
        out_dir: out.clone(),
        total: trials.len(),
        ran: done.ran,
        cached: done.cached,
        failed: done.failed,
        not_run: trials.len() - done.finished.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_k_of_n() {
        assert_eq!("0/1".parse(), Ok(Shard { index: 0, count: 1 }));
        assert_eq!("3/8".parse(), Ok(Shard { index: 3, count: 8 }));
        assert_eq!(Shard { index: 3, count: 8 }.to_string(), "3/8");
    }

    #[test]
    fn rejects_bad_values_with_a_reason() {
        for (text, needle) in [
            ("4/4", "K runs from 0 to 3"),
            ("9/4", "K runs from 0 to 3"),
            ("0/0", "at least 1"),
            ("1", "is not K/N"),
            ("a/4", "is not K/N"),
            ("-1/4", "is not K/N"),
            ("1/4/2", "is not K/N"),
            ("/4", "is not K/N"),
            ("1/", "is not K/N"),
            ("99999999999999999999999/4", "is not K/N"),
        ] {
            let err = text.parse::<Shard>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn file_names_are_per_shard() {
        let a = Shard::new(1, 4).unwrap();
        let b = Shard::new(1, 8).unwrap();
        let out = Path::new("/r");
        assert_ne!(a.journal_path(out), b.journal_path(out));
        assert_eq!(
            a.journal_path(out),
            Path::new("/r/shards/shard-1-of-4.jsonl")
        );
        assert_eq!(a.meta_path(out), Path::new("/r/shards/shard-1-of-4.json"));
    }

    proptest! {
        /// Every trial index lands in exactly one shard, and shard sizes
        /// differ by at most one.
        #[test]
        fn every_trial_in_exactly_one_balanced_shard(trials in 0usize..500, count in 1usize..40) {
            let shards: Vec<Shard> = (0..count).map(|k| Shard::new(k, count).unwrap()).collect();
            let mut sizes = vec![0usize; count];
            for i in 0..trials {
                let owners: Vec<usize> = shards
                    .iter()
                    .filter(|s| Shard::of(i, s.count) == s.index)
                    .map(|s| s.index)
                    .collect();
                prop_assert_eq!(owners.len(), 1);
                sizes[owners[0]] += 1;
            }
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            prop_assert!(max - min <= 1);
            prop_assert_eq!(sizes.iter().sum::<usize>(), trials);
        }
    }

    const MANIFEST: &str = r#"
[study]
name = "s"
kind = "KIND"
[seeds]
base = 3
replicates = 3
[sweep]
threshold = [0.9, 0.95, 0.97]
"#;

    fn plan(text: &str, overrides: &Overrides) -> Plan {
        let text = &text.replace("KIND", crate::studies::kind_with(&["threshold"]));
        let source = crate::manifest::SourceFile::new(Path::new("m.toml"), text.to_string());
        Plan::new(crate::manifest::Manifest::from_source(source, overrides).unwrap()).unwrap()
    }

    /// The assignment of a real plan: a partition, stable when the plan is
    /// expanded again (another process, another machine), and recorded in
    /// each shard's description.
    #[test]
    fn plan_shards_partition_the_trials_and_are_stable() {
        let none = Overrides::default();
        let a = plan(MANIFEST, &none);
        let b = plan(MANIFEST, &none);
        assert_eq!(a.trials.len(), 9);
        for count in 1..=10 {
            let mut seen: Vec<String> = Vec::new();
            for k in 0..count {
                let shard = Shard::new(k, count).unwrap();
                let ids_a: Vec<&str> = shard.trials(&a).iter().map(|t| t.id.as_str()).collect();
                let ids_b: Vec<&str> = shard.trials(&b).iter().map(|t| t.id.as_str()).collect();
                assert_eq!(ids_a, ids_b);
                assert_eq!(ShardMeta::new(&a, shard, &none).shard_trials, ids_a);
                seen.extend(ids_a.iter().map(|s| s.to_string()));
            }
            seen.sort();
            let mut all: Vec<String> = a.trials.iter().map(|t| t.id.clone()).collect();
            all.sort();
            assert_eq!(seen, all, "N = {count}");
        }
    }

    #[test]
    fn descriptions_tell_apart_what_cannot_be_merged() {
        let none = Overrides::default();
        let p = plan(MANIFEST, &none);
        let s0 = Shard::new(0, 2).unwrap();
        let base = ShardMeta::new(&p, s0, &none);
        assert_eq!(
            base.mismatch(&ShardMeta::new(&p, Shard::new(1, 2).unwrap(), &none)),
            None
        );
        assert!(
            base.mismatch(&ShardMeta::new(&p, Shard::new(1, 3).unwrap(), &none))
                .unwrap()
                .contains("split into 2 and into 3")
        );
        let edited = plan(&MANIFEST.replace("base = 3", "base = 4"), &none);
        assert!(
            base.mismatch(&ShardMeta::new(&edited, s0, &none))
                .unwrap()
                .contains("different manifests")
        );
        let set = Overrides {
            set: vec!["population=8".into()],
            sweep: vec![],
        };
        assert!(
            base.mismatch(&ShardMeta::new(&plan(MANIFEST, &set), s0, &set))
                .unwrap()
                .contains("different overrides")
        );
        let mut old = base.clone();
        old.version = "0.0.1".into();
        assert!(base.mismatch(&old).unwrap().contains("0.0.1"));
    }
}
