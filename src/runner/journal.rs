//! The crash-safe journal: one JSON line per finished trial, flushed before
//! anything else happens, so a run killed at any instant can resume and still
//! produce final files byte-identical to an uninterrupted run.

use crate::error::{Error, Result};
pub use crate::records::{JournalEntry, Status};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const JOURNAL_FILE: &str = "journal.jsonl";

pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Open `journal.jsonl` in `dir` for appending; see [`Journal::open_file`].
    pub fn open(dir: &Path, resume: bool) -> Result<(Journal, Vec<JournalEntry>)> {
        Journal::open_file(&dir.join(JOURNAL_FILE), resume)
    }

    /// Open a journal file for appending; when `resume`, first read back the
    /// entries already there. A torn last line (the process died mid-write)
    /// is cut off.
    pub fn open_file(path: &Path, resume: bool) -> Result<(Journal, Vec<JournalEntry>)> {
        let path = path.to_path_buf();
        let ctx = |what: &str| format!("{what} {}", path.display());
        let mut entries = Vec::new();
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(ctx("cannot open journal"), e))?;
        if resume {
            let good_len;
            (entries, good_len) = read_complete(&file, &path)?;
            file.set_len(good_len)
                .map_err(|e| Error::io(ctx("cannot truncate journal"), e))?;
            file.seek(SeekFrom::End(0))
                .map_err(|e| Error::io(ctx("cannot seek journal"), e))?;
        } else {
            file.set_len(0)
                .map_err(|e| Error::io(ctx("cannot truncate journal"), e))?;
        }
        Ok((Journal { path, file }, entries))
    }

    /// Append one entry as a single write and sync it to the disk
    /// (`sync_data`: `flush` does nothing on a plain file), so a journaled
    /// trial survives a power loss or a node crash, not only `SIGKILL`.
    pub fn append(&mut self, entry: &JournalEntry) -> Result<()> {
        let mut line = serde_json::to_string(entry)
            .map_err(|e| Error::Internal(format!("journal entry: {e}")))?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(|e| Error::io(format!("cannot write {}", self.path.display()), e))
    }
}

/// The complete entries of a journal and the byte length they span; a torn
/// final line is left out, a corrupt complete line is an error.
fn read_complete(file: &File, path: &Path) -> Result<(Vec<JournalEntry>, u64)> {
    let mut entries = Vec::new();
    let mut good_len = 0u64;
    let mut reader = BufReader::new(file);
    // Lines are read as bytes and decoded only when complete: a torn final
    // write may end inside a multi-byte character.
    let mut line = Vec::new();
    let mut line_no = 0;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(format!("cannot read journal {}", path.display()), e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break; // end, or a torn final write: drop it
        }
        line_no += 1;
        let parsed = std::str::from_utf8(&line)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                serde_json::from_str::<JournalEntry>(text.trim_end()).map_err(|e| e.to_string())
            });
        match parsed {
            Ok(entry) => {
                entries.push(entry);
                good_len += n as u64;
            }
            Err(e) => {
                return Err(Error::user(format!(
                    "{}:{line_no}: corrupt journal line ({e}); rerun with --force to start over",
                    path.display()
                )));
            }
        }
    }
    Ok((entries, good_len))
}

/// Read a journal without changing it (another process may still be
/// appending to it): its complete entries, in the order they were written.
pub fn read_entries(path: &Path) -> Result<Vec<JournalEntry>> {
    let file = File::open(path).map_err(|e| Error::input(path, e))?;
    Ok(read_complete(&file, path)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::TrialOutput;

    fn entry(id: &str) -> JournalEntry {
        JournalEntry {
            id: id.into(),
            seed: u64::MAX,
            replicate: 0,
            status: Status::Ok,
            error: None,
            output: Some(TrialOutput::default()),
        }
    }

    #[test]
    fn resume_drops_a_torn_last_line() {
        let dir = tempdir();
        {
            let (mut j, _) = Journal::open(&dir, false).unwrap();
            j.append(&entry("a")).unwrap();
            j.append(&entry("b")).unwrap();
        }
        let path = dir.join(JOURNAL_FILE);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"id\":\"c\",\"se");
        std::fs::write(&path, text).unwrap();
        let (mut j, entries) = Journal::open(&dir, true).unwrap();
        assert_eq!(entries, vec![entry("a"), entry("b")]);
        j.append(&entry("d")).unwrap();
        let (_, entries) = Journal::open(&dir, true).unwrap();
        assert_eq!(entries, vec![entry("a"), entry("b"), entry("d")]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("evoquant-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
