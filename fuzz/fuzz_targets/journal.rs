//! Journal reader (what `--resume` and `merge` read back).
#![no_main]
use evoquant::runner::read_entries;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("evoquant-fuzz-j-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join("journal.jsonl")
    })
}

fuzz_target!(|data: &[u8]| {
    let p = scratch();
    std::fs::write(p, data).unwrap();
    let _ = read_entries(p);
});
