//! Every committed fuzz input (`tests/fuzz_regressions/<target>/`: the inputs
//! that found bugs and a few small seeds) fed to the same reader API as the
//! fuzz target of that name (`fuzz/fuzz_targets/`). Errors are fine; a panic,
//! an abort or an allocation no file backs is not. This is what CI runs of
//! the fuzzing: the corpus, not the fuzzer.

use evoquant::manifest::{Manifest, Overrides, SourceFile};
use evoquant::models::safetensors::{ErrorOptions, read_header, read_with};
use evoquant::runner::{Plan, read_entries};
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no inputs", dir.display());
    files
}

/// Run `f` on each input, naming the input that panicked.
fn each(target: &str, f: impl Fn(&Path, &[u8])) {
    for p in inputs(target) {
        let bytes = std::fs::read(&p).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&p, &bytes)));
        assert!(r.is_ok(), "{target}: {} panicked", p.display());
    }
}

#[test]
fn fuzz_npy() {
    each("npy", |_, b| {
        let _ = evoquant::quant::npy::parse_npy(b);
    });
}

#[test]
fn fuzz_packed_int() {
    each("packed_int", |_, b| {
        if let Ok(q) = evoquant::quant::packed_file::decode_int(b) {
            let _ = q.dequantize();
        }
    });
}

#[test]
fn fuzz_manifest() {
    each("manifest", |_, b| {
        let Ok(text) = std::str::from_utf8(b) else {
            return;
        };
        let source = SourceFile::new(Path::new("fuzz.toml"), text.to_string());
        if let Ok(m) = Manifest::from_source(source, &Overrides::default()) {
            let _ = Plan::new(m);
        }
    });
}

#[test]
fn fuzz_safetensors_header() {
    let o = ErrorOptions {
        bits: vec![4],
        max_values_per_layer: 4096,
        ..ErrorOptions::default()
    };
    // The readers take a path: the input files are read in place.
    each("safetensors_header", |p, _| {
        let _ = read_header(p);
        let _ = read_with(p, Some(&o));
    });
}

#[test]
fn fuzz_journal() {
    each("journal", |p, _| {
        let _ = read_entries(p);
    });
}

#[test]
fn fuzz_gguf() {
    each("gguf", |p, b| {
        if let Ok(g) = evoquant::models::gguf::Gguf::parse(p, b.to_vec()) {
            for t in &g.tensors {
                let _ = g.f32(&t.name, &t.shape());
            }
        }
    });
}
