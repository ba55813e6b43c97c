//! safetensors reader: header length, JSON, offsets, then the per-layer
//! measurement that reads tensor rows at those offsets. The reader takes a
//! path (it reads with positioned reads), so each input goes through a file.
#![no_main]
use evoquant::models::safetensors::{ErrorOptions, read_header, read_with};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("evoquant-fuzz-st-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join("in.safetensors")
    })
}

fuzz_target!(|data: &[u8]| {
    let p = scratch();
    std::fs::write(p, data).unwrap();
    let _ = read_header(p);
    let o = ErrorOptions {
        bits: vec![4],
        max_values_per_layer: 4096,
        ..ErrorOptions::default()
    };
    let _ = read_with(p, Some(&o));
});
