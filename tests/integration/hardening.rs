//! Reliability: the CLI never panics on a full stdout or stderr and keeps the
//! exit-code contract (2 the user's mistake, 3 our I/O failure).

use crate::harness::TempDir;
use std::fs::File;
use std::process::{Command, Stdio};

const MANIFEST: &str = "experiments/bit_alloc_thresholds.toml";

/// Run evoquant with stdout (or stderr) going to /dev/full, which fails
/// every write with ENOSPC. Returns (exit code, captured other stream).
fn with_full(args: &[&std::ffi::OsStr], full_stderr: bool) -> (i32, String) {
    let full = || Stdio::from(File::options().write(true).open("/dev/full").unwrap());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_evoquant"));
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_BACKTRACE");
    if full_stderr {
        cmd.stdout(Stdio::piped()).stderr(full());
    } else {
        cmd.stdout(full()).stderr(Stdio::piped());
    }
    let out = cmd.output().expect("spawn evoquant");
    let other = if full_stderr {
        &out.stdout
    } else {
        &out.stderr
    };
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(other).into_owned(),
    )
}

fn os(items: &[String]) -> Vec<&std::ffi::OsStr> {
    items.iter().map(std::ffi::OsStr::new).collect()
}

#[test]
fn full_stdout_or_stderr_exits_3_without_a_panic() {
    if !std::path::Path::new("/dev/full").exists() {
        return;
    }
    let dir = TempDir::new("devfull");
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let results = p("results");
    crate::harness::run_quietly(MANIFEST, &results);
    let tensor: Vec<u8> = (0..64)
        .flat_map(|i| (i as f32 * 0.1).to_le_bytes())
        .collect();
    std::fs::write(dir.join("w.f32"), tensor).unwrap();
    let csv = format!("{results}/trials.csv");
    let commands: Vec<Vec<String>> = vec![
        vec!["validate".into(), MANIFEST.into()],
        vec!["list".into()],
        vec!["diff".into(), csv.clone(), csv.clone()],
        vec!["report".into(), results.clone(), "--out".into(), p("rep")],
        vec![
            "quantize".into(),
            p("w.f32"),
            "--format".into(),
            "q8_0".into(),
            "--out".into(),
            p("w.q8"),
        ],
        vec!["data".into(), "bit-alloc".into(), "--out".into(), p("data")],
    ];
    for args in &commands {
        let (code, stderr) = with_full(&os(args), false);
        assert_eq!(code, 3, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.contains("stdout"), "{args:?}: {stderr}");
    }
    let run: Vec<String> = vec!["run".into(), MANIFEST.into(), "--out".into(), p("run2")];
    let (code, stdout) = with_full(&os(&run), true);
    assert_eq!(code, 3, "run with a full stderr: {stdout}");
}

const BASE: &str = "[study]\nname = \"h\"\nkind = \"bit_allocation\"\n[seeds]\nbase = 1\nreplicates = 1\n[params]\npopulation = 4\ngenerations = 2\n";

/// NaN and inf range bounds used to panic the sampler in validate/plan.
#[test]
fn non_finite_random_bounds_are_located_errors() {
    for (label, dist) in [
        ("nan-log", "log_uniform = { threshold = [nan, 0.99] }"),
        ("inf-uniform", "uniform = { threshold = [0.9, inf] }"),
        ("nan-uniform", "uniform = { threshold = [nan, nan] }"),
    ] {
        let text = format!("{BASE}[sweep.random]\nn = 2\n{dist}\n");
        crate::harness::run_rejected(label, &text)
            .stderr_has("bad.toml:")
            .stderr_has("finite");
    }
}

/// Duplicate sweep values gave duplicate trial ids; an empty `--sweep` list
/// gave a study of zero trials.
#[test]
fn duplicate_or_empty_sweeps_are_refused() {
    crate::harness::run_rejected(
        "dup-grid",
        &format!("{BASE}[sweep]\nthreshold = [0.9, 0.9]\n"),
    )
    .stderr_has("bad.toml:")
    .stderr_has("appears twice");
    let dir = TempDir::new("sweep-flags");
    let m = dir.write("m.toml", BASE);
    for (flag, needle) in [
        ("threshold=[]", "no values"),
        ("threshold=0.9,0.9", "listed twice"),
    ] {
        crate::harness::evoquant()
            .arg("validate")
            .arg(&m)
            .args(["--sweep", flag])
            .run()
            .code(2)
            .stderr_has("--sweep")
            .stderr_has(needle)
            .no_panic();
    }
}

/// `--out` naming a regular file (for folders) or a folder (for files) used
/// to exit 3 from the failed write; it is the user's to fix: exit 2.
#[test]
fn out_of_the_wrong_kind_exits_2() {
    let dir = TempDir::new("out-kind");
    let file = dir.write("taken", "x");
    let folder = dir.join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    let tensor: Vec<u8> = (0..64).flat_map(|i| (i as f32).to_le_bytes()).collect();
    std::fs::write(dir.join("w.f32"), tensor).unwrap();
    let w = dir.join("w.f32");
    let runs: Vec<Vec<std::ffi::OsString>> = vec![
        vec![
            "run".into(),
            MANIFEST.into(),
            "--quiet".into(),
            "--out".into(),
            file.clone().into(),
        ],
        vec![
            "report".into(),
            "results".into(),
            "--out".into(),
            file.clone().into(),
        ],
        vec![
            "data".into(),
            "bit-alloc".into(),
            "--out".into(),
            file.clone().into(),
        ],
        vec![
            "quantize".into(),
            w.into(),
            "--format".into(),
            "q8_0".into(),
            "--out".into(),
            folder.into(),
        ],
    ];
    for args in runs {
        crate::harness::evoquant()
            .args(args)
            .run()
            .code(2)
            .stderr_has(&dir.path().to_string_lossy())
            .no_panic();
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}
