//! The one way evoquant writes a file, at the bottom of the module graph.
//!
//! Every output goes through [`write_atomic`] (or [`write_atomic_parts`]):
//! the bytes go to a temporary file with a name no other process or thread
//! can pick (pid, a process-wide counter) and are renamed over the target.
//! Readers therefore see the old file or the new one, never a torn mix, and
//! two processes writing the same folder never trample each other's
//! temporary files. On any failure the temporary file is removed, so a full
//! disk leaves nothing behind.
//!
//! [`Durability`] says what the rename must survive. Results folders (the
//! records a study's hours of compute produced, the journal's companions)
//! are [`Durability::PowerLoss`]: the file is `sync_all`ed before the rename
//! and the folder after it, so a node crash cannot leave a renamed but empty
//! file. A `quantize`, `dequantize` or `apply` artefact is
//! [`Durability::ProcessCrash`]: atomic against a killed process (the rename
//! is the commit point, the kernel has the bytes) but not forced to the disk,
//! because it is recomputed from its inputs in seconds and an fsync of a
//! 100 MB file costs more than computing it.
//!
//! Journals are appended with [`DurableAppender`]: each record is written in
//! one `write_all` and then `sync_data`ed. `File::flush` does nothing on a
//! plain file, so without the sync a journaled trial survives `SIGKILL` (the
//! kernel has the bytes) but not a power loss.

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of every temporary file evoquant creates; `--force` and the
/// cleanup of a failed write recognise them by it.
pub const TMP_PREFIX: &str = ".evoquant-tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary path beside `path`, unique within this machine's processes.
fn temp_path(path: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = OsString::from(TMP_PREFIX);
    name.push(std::process::id().to_string());
    name.push(format!("-{n}-"));
    name.push(path.file_name().unwrap_or_default());
    path.with_file_name(name)
}

/// What a finished [`write_atomic_parts`] must survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// A power loss or node crash: file and folder are fsynced.
    PowerLoss,
    /// A killed process: the rename is atomic, nothing is forced to disk.
    ProcessCrash,
}

/// Write `bytes` to `path` atomically and durably, creating parent folders.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_parts(path, &[bytes], Durability::PowerLoss)
}

/// Write the concatenation of `parts` to `path` atomically, creating parent
/// folders: large artefacts are written from the buffers they already live
/// in instead of being copied into one.
pub fn write_atomic_parts(path: &Path, parts: &[&[u8]], durability: Durability) -> Result<()> {
    let parent = parent_of(path);
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        for part in parts {
            f.write_all(part)?;
        }
        if durability == Durability::PowerLoss {
            f.sync_all()?;
        }
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(format!("cannot write {}", path.display()), e));
    }
    match durability {
        Durability::PowerLoss => sync_dir(parent),
        Durability::ProcessCrash => Ok(()),
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Fsync a folder so renames and creations inside it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(format!("cannot sync folder {}", dir.display()), e))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Create a folder (and its parents) and make its entry durable.
pub fn create_dir_durable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    sync_dir(parent_of(dir))
}

/// An append-only file whose every record reaches the disk before
/// [`DurableAppender::append`] returns.
#[derive(Debug)]
pub struct DurableAppender {
    file: File,
    path: PathBuf,
}

impl DurableAppender {
    /// Open (creating if needed) `path` for appending. A newly created file's
    /// folder entry is synced too.
    pub fn open(path: &Path) -> Result<Self> {
        let existed = path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
        if !existed {
            sync_dir(parent_of(path))?;
        }
        Ok(DurableAppender {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Append one record (its bytes in one write) and sync it to the disk.
    pub fn append(&mut self, record: &[u8]) -> Result<()> {
        self.file
            .write_all(record)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| Error::io(format!("cannot append to {}", self.path.display()), e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Name of the lock file evoquant keeps in a results folder.
pub const LOCK_FILE: &str = ".evoquant.lock";

/// Whether a lock excludes every other holder (a run, `merge`, `report`)
/// or only exclusive ones (the shards of one run write side by side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    Exclusive,
    Shared,
}

/// An advisory lock on a results folder (`flock` on its lock file), held
/// until dropped. `flock` is released by the kernel when the process dies,
/// so a killed run never leaves a folder locked.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// How long a busy lock is retried before the folder counts as in use.
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_millis(1000);

/// Lock `dir` (which must exist) without waiting beyond [`LOCK_GRACE`]: a folder another evoquant
/// is writing is the user's to wait for, so this refuses with exit 2.
pub fn lock_dir(dir: &Path, kind: LockKind) -> Result<DirLock> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("cannot open lock {}", path.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let op = match kind {
            LockKind::Exclusive => libc::LOCK_EX,
            LockKind::Shared => libc::LOCK_SH,
        } | libc::LOCK_NB;
        // A child forked by another thread of ours (a `command` trial, a
        // test's subprocess) shares the lock's open file description until
        // it execs, so a lock released a moment ago can still read as held:
        // retry briefly before calling the folder busy.
        let deadline = std::time::Instant::now() + LOCK_GRACE;
        // SAFETY: flock on a file descriptor we own; no memory is passed.
        while unsafe { libc::flock(file.as_raw_fd(), op) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
            if e.kind() == std::io::ErrorKind::WouldBlock {
                return Err(Error::user(format!(
                    "{} is in use by another evoquant (run, merge or report); wait for it to finish",
                    dir.display()
                )));
            }
            return Err(Error::io(format!("cannot lock {}", path.display()), e));
        }
    }
    #[cfg(not(unix))]
    let _ = kind;
    Ok(DirLock { _file: file })
}

/// Remove temporary files a killed evoquant left in `dir` (not recursive).
/// Only names with [`TMP_PREFIX`] are touched.
pub fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX)
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let d_tmp = tempfile::tempdir().unwrap();
        let d = d_tmp.path().to_path_buf();
        let p = d.join("a.csv");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.csv"]);
    }

    #[test]
    fn parts_are_written_in_order_at_either_durability() {
        let d = tempfile::tempdir().unwrap();
        for (i, durability) in [Durability::PowerLoss, Durability::ProcessCrash]
            .into_iter()
            .enumerate()
        {
            let p = d.path().join(format!("sub/{i}.bin"));
            write_atomic_parts(&p, &[b"ab", b"", b"cde"], durability).unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), b"abcde");
        }
    }

    #[test]
    fn temporary_names_are_unique() {
        let p = Path::new("/x/report.md");
        assert_ne!(temp_path(p), temp_path(p));
        assert!(
            temp_path(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(TMP_PREFIX)
        );
    }

    #[test]
    fn failed_write_removes_its_temporary() {
        let d_tmp = tempfile::tempdir().unwrap();
        let d = d_tmp.path().to_path_buf();
        // The target is a non-empty folder: rename fails after the temp exists.
        let target = d.join("busy");
        std::fs::create_dir_all(target.join("inside")).unwrap();
        assert!(write_atomic(&target, b"x").is_err());
        let temps = std::fs::read_dir(&d)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(TMP_PREFIX)
            })
            .count();
        assert_eq!(temps, 0);
    }

    #[test]
    fn exclusive_lock_refuses_a_second_holder_and_shared_locks_coexist() {
        let d_tmp = tempfile::tempdir().unwrap();
        let d = d_tmp.path().to_path_buf();
        let a = lock_dir(&d, LockKind::Exclusive).unwrap();
        let e = lock_dir(&d, LockKind::Exclusive).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::USAGE);
        assert!(lock_dir(&d, LockKind::Shared).is_err());
        drop(a);
        let s1 = lock_dir(&d, LockKind::Shared).unwrap();
        let _s2 = lock_dir(&d, LockKind::Shared).unwrap();
        assert!(lock_dir(&d, LockKind::Exclusive).is_err());
        drop(s1);
    }

    #[test]
    fn appender_appends_records() {
        let d_tmp = tempfile::tempdir().unwrap();
        let d = d_tmp.path().to_path_buf();
        let p = d.join("journal.jsonl");
        let mut a = DurableAppender::open(&p).unwrap();
        a.append(b"1\n").unwrap();
        drop(a);
        let mut a = DurableAppender::open(&p).unwrap();
        a.append(b"2\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"1\n2\n");
    }
}
