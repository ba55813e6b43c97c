//! Child processes that never outlive evoquant: each in its own process
//! group, registered so a signal kills them all, reaped when dropped.
//!
//! Users' programs run as trials (`kind = "command"`) and as long-lived
//! evaluator workers (`mixed_precision` with `model = "command"`). Each gets
//! its own process group so that a timeout kills it with everything it
//! started (a shell, a Python interpreter and its workers). If evoquant
//! itself is interrupted (SIGINT, SIGTERM, SIGHUP), a handler kills every
//! registered group before evoquant dies of the signal as it would have; if
//! evoquant is killed outright (SIGKILL), Linux's parent-death signal kills
//! each child's direct process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicI32, Ordering};

/// Process groups of running children, for the signal handler. A fixed
/// array of atomics: the handler may only do async-signal-safe work.
const SLOTS: usize = 1024;
static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

/// A child's process group, registered with the signal handler until
/// dropped. Dropping it kills the group (whatever is still running in it).
pub struct Group {
    pgid: i32,
    slot: Option<usize>,
}

impl Group {
    fn new(pgid: i32) -> Group {
        let slot = GROUPS.iter().position(|g| {
            g.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        });
        Group { pgid, slot }
    }

    /// Kill every process in the group now (idempotent).
    pub fn kill(&self) {
        kill_group(self.pgid);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        kill_group(self.pgid);
        if let Some(i) = self.slot {
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

/// A child that exits without reading its stdin closes the pipe, and a
/// write would raise SIGPIPE, whose default action (restored in `main` so
/// that `evoquant list | head` ends quietly) kills evoquant. Blocked in the
/// writing thread, the signal stays pending there and the write returns
/// EPIPE. Call it first in every thread that writes to a child.
pub fn block_sigpipe() {
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

/// Spawn `cmd` in a new process group that dies with evoquant.
pub fn spawn(cmd: &mut Command) -> std::io::Result<(Child, Group)> {
    install_handler();
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
    let child = cmd.spawn()?;
    let group = Group::new(child.id() as i32);
    Ok((child, group))
}

/// The program and its arguments with each that names something relative
/// to the manifest's folder made absolute (the child runs in another
/// folder). A bare program name is looked up on PATH unless the manifest's
/// folder has it.
pub fn resolve_command(command: &[String], base_dir: &Path) -> (PathBuf, Vec<String>) {
    let abs = |s: &str| -> Option<PathBuf> {
        let p = base_dir.join(s);
        p.exists().then(|| std::path::absolute(&p).unwrap_or(p))
    };
    let program = match command.first() {
        Some(p) => abs(p).unwrap_or_else(|| PathBuf::from(p)),
        None => PathBuf::new(),
    };
    let args = command
        .iter()
        .skip(1)
        .map(|a| abs(a).map_or_else(|| a.clone(), |p| p.display().to_string()))
        .collect();
    (program, args)
}

/// Why a manifest's command cannot run, if it cannot: empty, or a program
/// that is neither relative to the manifest's folder, a path, nor on PATH.
pub fn command_problem(command: &[String], base_dir: &Path, example: &str) -> Option<String> {
    match command.first() {
        None => Some(format!("set the command to run, e.g. {example}")),
        Some(p) if p.is_empty() => Some("the program name is empty".into()),
        Some(p) if !program_exists(p, base_dir) => Some(format!(
            "program `{p}` is neither a file relative to the manifest's folder nor on PATH"
        )),
        Some(_) => None,
    }
}

fn program_exists(program: &str, base_dir: &Path) -> bool {
    if base_dir.join(program).is_file() {
        return true;
    }
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_the_group_kills_what_the_child_started() {
        let (mut child, group) = spawn(
            Command::new("sh")
                .args(["-c", "sleep 30 & echo $!; wait"])
                .stdout(std::process::Stdio::piped()),
        )
        .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let grandchild: i32 = line.trim().parse().unwrap();
        drop(group);
        child.wait().unwrap();
        // The grandchild is gone (or a zombie reaped by init shortly).
        let gone = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat"));
            stat.map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"))
        });
        assert!(gone, "grandchild {grandchild} survived its group");
    }

    #[test]
    fn commands_resolve_against_the_manifest_folder_then_path() {
        let dir = std::env::temp_dir();
        assert!(command_problem(&["sh".into()], &dir, "x").is_none());
        let e = command_problem(&["no-such-program-evoquant".into()], &dir, "x").unwrap();
        assert!(e.contains("no-such-program-evoquant"), "{e}");
        assert!(
            command_problem(&[], &dir, "[\"python3\"]")
                .unwrap()
                .contains("python3")
        );
        let (p, args) = resolve_command(&["sh".into(), "-c".into()], &dir);
        assert_eq!((p, args), (PathBuf::from("sh"), vec!["-c".to_string()]));
    }
}
