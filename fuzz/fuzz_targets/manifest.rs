//! Manifest text → parse, validate every point, expand into trials.
#![no_main]
use evoquant::manifest::{Manifest, Overrides, SourceFile};
use evoquant::runner::Plan;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = SourceFile::new(Path::new("fuzz.toml"), text.to_string());
    if let Ok(m) = Manifest::from_source(source, &Overrides::default()) {
        let _ = Plan::new(m);
    }
});
