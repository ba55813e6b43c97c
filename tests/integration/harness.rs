//! A small fluent helper for running the `evoquant` binary in tests.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn evoquant() -> Cmd {
    Cmd {
        args: Vec::new(),
        cwd: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    }
}

pub struct Cmd {
    args: Vec<OsString>,
    cwd: PathBuf,
}

impl Cmd {
    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(items.into_iter().map(Into::into));
        self
    }

    pub fn run(self) -> Outcome {
        let out = Command::new(env!("CARGO_BIN_EXE_evoquant"))
            .args(&self.args)
            .current_dir(&self.cwd)
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("spawn evoquant");
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            args: self.args,
        }
    }
}

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    args: Vec<OsString>,
}

impl Outcome {
    fn context(&self) -> String {
        format!(
            "evoquant {:?}\n--- exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }

    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, expected, "{}", self.context());
        self
    }

    pub fn success(&self) -> &Self {
        self.code(0)
    }

    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.context()
        );
        self
    }

    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.context()
        );
        self
    }

    /// User errors never show a panic or a backtrace.
    pub fn no_panic(&self) -> &Self {
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("backtrace"),
            "{}",
            self.context()
        );
        self
    }
}

/// The one scratch folder of the tests: a `tempfile::TempDir` (unique name,
/// removed when dropped, also while a failing test unwinds).
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("evoquant-test-{label}-"))
            .tempdir()
            .expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.path().join(p)
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, contents).expect("write file");
        p
    }
}

/// `evoquant run` on a manifest with this text, which must be refused: exit
/// 2, no panic, no output folder. Returns the outcome for message checks.
pub fn run_rejected(label: &str, manifest_text: &str) -> Outcome {
    let dir = TempDir::new(label);
    let path = dir.write("bad.toml", manifest_text);
    let out = dir.join("out");
    let result = evoquant()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .run();
    result.code(2).no_panic();
    assert!(!out.exists(), "{label}: output folder was created");
    result
}

/// `evoquant run MANIFEST --quiet --out OUT EXTRA…`, whatever its outcome.
pub fn run_into(m: &Path, out: &Path, extra: &[&str]) -> Outcome {
    evoquant()
        .arg("run")
        .arg(m)
        .arg("--quiet")
        .arg("--out")
        .arg(out)
        .args(extra)
        .run()
}

/// `evoquant run MANIFEST --quiet --out OUT`, which must succeed.
pub fn run_quietly(manifest: impl AsRef<std::ffi::OsStr>, out: impl AsRef<std::ffi::OsStr>) {
    run_quietly_with(manifest, out, &[]);
}

/// [`run_quietly`] with extra flags appended.
pub fn run_quietly_with(
    manifest: impl AsRef<std::ffi::OsStr>,
    out: impl AsRef<std::ffi::OsStr>,
    extra: &[&str],
) {
    evoquant()
        .arg("run")
        .arg(manifest.as_ref())
        .arg("--quiet")
        .arg("--out")
        .arg(out.as_ref())
        .args(extra)
        .run()
        .success();
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every file under `dir` except run.json and the journal (which may
/// legitimately differ), as (relative path, bytes), sorted.
pub fn deterministic_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
                if rel != "run.json" && rel != "journal.jsonl" {
                    out.push((rel, std::fs::read(&p).unwrap()));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Run `m` to completion into `dir/full`; run it again into `dir/killed`
/// with one job, SIGKILL that run once `after` trials are journaled, resume
/// it, and return both folders (their deterministic files must agree).
pub fn sigkill_then_resume(m: &Path, dir: &TempDir, after: usize) -> (PathBuf, PathBuf) {
    let full = dir.join("full");
    run_quietly(m, &full);
    let killed = dir.join("killed");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_evoquant"))
        .arg("run")
        .arg(m)
        .args(["--quiet", "--jobs", "1", "--out"])
        .arg(&killed)
        .spawn()
        .unwrap();
    let journal = killed.join("journal.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::fs::read_to_string(&journal).map_or(0, |j| j.lines().count()) < after
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    evoquant()
        .arg("run")
        .arg(m)
        .args(["--quiet", "--resume", "--out"])
        .arg(&killed)
        .run()
        .success();
    (full, killed)
}

/// `run --shard K/N` for every K (in reverse order), then `merge`; returns
/// the merged folder.
pub fn shard_and_merge(m: &Path, out: &Path, n: usize) -> PathBuf {
    for k in (0..n).rev() {
        evoquant()
            .arg("run")
            .arg(m)
            .args(["--quiet", "--shard", &format!("{k}/{n}"), "--out"])
            .arg(out)
            .run()
            .success();
    }
    evoquant().arg("merge").arg(out).run().success();
    out.to_path_buf()
}
