//! The scripts `evoquant slurm` writes are safe for any path or value
//! (issue 13): they pass `bash -n`, and run with a stub `evoquant` on PATH
//! the stub receives exactly the intended argv while nothing injected runs.
//! Paths that reach `#SBATCH` lines are refused instead (exit 2, naming the flag).

use crate::harness::{TempDir, evoquant, read};
use crate::runner::TINY;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Text a shell would run if any quoting failed: each creates a marker file.
const HOSTILE: &str =
    "x\ntouch PWNED_nl\n$(touch PWNED_sub) `touch PWNED_tick`; touch PWNED_semi 'q' \"z\" sp ace";

/// An executable that appends its argv, NUL-separated, to `argv.log`
/// beside itself, one record per call ending in an extra NUL.
fn stub(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("evoquant");
    std::fs::write(
        &p,
        "#!/bin/bash\nlog=\"$(dirname \"$0\")/argv.log\"\nprintf '%s\\0' \"$@\" >> \"$log\"\nprintf '\\0' >> \"$log\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn calls(log: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.split("\0\0")
        .filter(|r| !r.is_empty())
        .map(|r| r.split('\0').map(String::from).collect())
        .collect()
}

fn bash(
    script: &Path,
    cwd: &Path,
    path_dir: &Path,
    extra_env: &[(&str, &str)],
) -> std::process::Output {
    let path = format!(
        "{}:{}",
        path_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("bash");
    c.arg(script).current_dir(cwd).env("PATH", path);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn markers(dir: &Path) -> Vec<String> {
    fn walk(d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("PWNED")
            {
                out.push(p.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

#[test]
fn hostile_paths_and_values_are_quoted_and_never_run() {
    let dir = TempDir::new("slurm-hostile");
    let manifest = dir.join(&format!("m {HOSTILE}.toml"));
    std::fs::write(&manifest, TINY).unwrap();
    let out = dir.join(&format!("out {HOSTILE}"));
    let scripts = dir.join("scripts");
    let stub_dir = dir.join(&format!("bin {HOSTILE}"));
    let stub = stub(&stub_dir);
    evoquant()
        .arg("slurm")
        .arg(&manifest)
        .args([
            "--shards",
            "2",
            "--set",
            "population=6",
            "--sweep",
            "threshold=[0.9, 0.95]",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--script-dir")
        .arg(&scripts)
        .arg("--evoquant")
        .arg(&stub)
        .run()
        .success();
    let array = scripts.join("array.sbatch");
    let merge = scripts.join("merge.sbatch");
    for s in [&array, &merge] {
        let n = Command::new("bash").arg("-n").arg(s).output().unwrap();
        assert!(
            n.status.success(),
            "bash -n {}: {}",
            s.display(),
            String::from_utf8_lossy(&n.stderr)
        );
        // The header is comments to the last line before the body.
        let text = read(s);
        let header: Vec<&str> = text
            .lines()
            .take_while(|l| *l != "set -euo pipefail")
            .collect();
        assert!(
            header.iter().all(|l| l.is_empty() || l.starts_with('#')),
            "{text}"
        );
    }
    // Run both bodies as a compute node would, from a folder we can search.
    let cwd = dir.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let ran = bash(&array, &cwd, &stub_dir, &[("SLURM_ARRAY_TASK_ID", "1")]);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let ran = bash(&merge, &cwd, &stub_dir, &[]);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );

    let s = |p: &Path| p.to_str().unwrap().to_string();
    let manifest_abs = s(&std::fs::canonicalize(&manifest).unwrap());
    let expected: Vec<Vec<String>> = vec![
        [
            "run",
            &manifest_abs,
            "--out",
            &s(&out),
            "--shard",
            "1/2",
            "--resume",
            "--jobs",
            "1",
            "--set",
            "population=6",
            "--sweep",
            "threshold=[0.9, 0.95]",
        ]
        .map(String::from)
        .to_vec(),
        ["merge", &s(&out)].map(String::from).to_vec(),
    ];
    assert_eq!(calls(&stub_dir.join("argv.log")), expected);
    assert_eq!(
        markers(dir.path()),
        Vec::<String>::new(),
        "an injected command ran"
    );
}

#[test]
fn paths_in_sbatch_directives_are_refused_naming_the_flag() {
    let dir = TempDir::new("slurm-directive");
    let manifest = dir.write("tiny.toml", TINY);
    let slurm = |extra: &[&std::ffi::OsStr]| {
        evoquant()
            .arg("slurm")
            .arg(&manifest)
            .args(["--shards", "2"])
            .args(extra.iter().copied())
            .run()
    };
    let bad_out = dir.join("o\ntouch /tmp/PWNED\n");
    // --out with a newline, scripts (and #SBATCH --output) under it.
    slurm(&["--out".as_ref(), bad_out.as_os_str()])
        .code(2)
        .stderr_has("--out")
        .no_panic();
    for bad in ["s\nx", "s x", "s#x", "s%x", "s'x", "s\\x"] {
        let bad_dir = dir.join(bad);
        slurm(&[
            "--out".as_ref(),
            dir.join("out").as_os_str(),
            "--script-dir".as_ref(),
            bad_dir.as_os_str(),
        ])
        .code(2)
        .stderr_has("--script-dir")
        .no_panic();
        assert!(!bad_dir.exists());
    }
    for bad in ["--comment=a b", "--x=\nid", "--x='q'", "--hetjob"] {
        slurm(&[
            "--out".as_ref(),
            dir.join("out").as_os_str(),
            "--sbatch-option".as_ref(),
            bad.as_ref(),
        ])
        .code(2)
        .stderr_has("--sbatch-option")
        .no_panic();
    }
    assert!(!dir.join("out").exists());
    assert!(!bad_out.exists());
}
