//! Running a user's command for one trial: its own process group
//! (`crate::subprocess`), a timeout, and no orphans. Once the command
//! exits, whatever it left running in its group is killed too, so the pipes
//! close and nothing outlives the trial.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// What a finished command left.
pub struct Finished {
    pub status: Option<ExitStatus>,
    pub timed_out: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Run `program args` in `dir` with `env`, `stdin` on its standard input,
/// at most `timeout`; `on_progress` sees each stderr line after `progress:`.
pub fn run(
    program: &Path,
    args: &[String],
    dir: &Path,
    env: &[(&str, String)],
    stdin: &[u8],
    timeout: Duration,
    on_progress: &(dyn Fn(&str) + Sync),
) -> std::io::Result<Finished> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (mut child, group) = crate::subprocess::spawn(&mut cmd)?;
    let mut input = child.stdin.take();
    let mut out = child.stdout.take();
    let err = child.stderr.take();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            crate::subprocess::block_sigpipe();
            if let Some(w) = input.as_mut() {
                // A command that does not read its input closes the pipe.
                let _ = w.write_all(stdin);
            }
            drop(input);
        });
        let stdout = scope.spawn(move || {
            let mut buf = Vec::new();
            if let Some(r) = out.as_mut() {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        });
        let stderr = scope.spawn(move || {
            let mut buf = Vec::new();
            if let Some(r) = err {
                let mut r = BufReader::new(r);
                let mut line = Vec::new();
                while matches!(r.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                    if let Some(rest) = line.strip_prefix(b"progress:") {
                        on_progress(String::from_utf8_lossy(rest).trim());
                    }
                    buf.extend_from_slice(&line);
                    line.clear();
                }
            }
            buf
        });
        // A waiting thread rather than polling: the trial ends the moment
        // the command does.
        let (tx, rx) = std::sync::mpsc::channel();
        scope.spawn(move || {
            let _ = tx.send(child.wait().ok());
        });
        let (status, timed_out) = match rx.recv_timeout(timeout) {
            Ok(status) => (status, false),
            Err(_) => {
                group.kill();
                (rx.recv().ok().flatten(), true)
            }
        };
        // Whatever the command left running would hold the pipes open.
        group.kill();
        Ok(Finished {
            status,
            timed_out,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        })
    })
}
