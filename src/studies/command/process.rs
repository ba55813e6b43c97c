//! Running a user's command for one trial: its own process group, a
//! timeout, and no orphans.
//!
//! The command gets its own process group so that a timeout kills it with
//! everything it started (a shell, a Python interpreter and its workers).
//! Once the command exits, whatever it left running in its group is killed
//! too, so the pipes close and nothing outlives the trial. If evoquant itself
//! is interrupted (SIGINT, SIGTERM, SIGHUP), a handler kills every running
//! trial's group before evoquant dies of the signal as it would have; if
//! evoquant is killed outright (SIGKILL), Linux's parent-death signal kills
//! each command's direct process.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// What a finished command left.
pub struct Finished {
    pub status: Option<ExitStatus>,
    pub timed_out: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Process groups of running commands, for the signal handler. A fixed
/// array of atomics: the handler may only do async-signal-safe work.
const SLOTS: usize = 1024;
static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

struct Registered(Option<usize>);

impl Registered {
    fn new(pgid: i32) -> Registered {
        let slot = GROUPS.iter().position(|g| {
            g.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        });
        Registered(slot)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            GROUPS[i].store(0, Ordering::SeqCst);
        }
    }
}

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    for g in &GROUPS {
        let pgid = g.load(Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill, signal and raise are async-signal-safe.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

fn install_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    #[cfg(unix)]
    ONCE.call_once(|| {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: installs a handler that only calls async-signal-safe
            // functions; the disposition is restored before re-raising.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as usize;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
    });
}

/// A command that exits without reading its stdin closes the pipe, and the
/// write would raise SIGPIPE, whose default action (restored in `main` so
/// that `evoquant list | head` ends quietly) kills evoquant. Blocked in the
/// writing thread, the signal stays pending there and the write returns
/// EPIPE; the thread then ends and the pending signal with it.
fn block_sigpipe() {
    #[cfg(unix)]
    // SAFETY: changes only this thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn kill_group(pgid: i32) {
    #[cfg(unix)]
    // SAFETY: sending a signal has no memory-safety preconditions.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
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
    install_handler();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn()?;
    let pgid = child.id() as i32;
    let _registered = Registered::new(pgid);
    let mut input = child.stdin.take();
    let mut out = child.stdout.take();
    let err = child.stderr.take();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            block_sigpipe();
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
                kill_group(pgid);
                (rx.recv().ok().flatten(), true)
            }
        };
        // Whatever the command left running would hold the pipes open.
        kill_group(pgid);
        Ok(Finished {
            status,
            timed_out,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        })
    })
}
