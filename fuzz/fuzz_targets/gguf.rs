//! GGUF reader: any bytes must give a model file or an error, never a panic
//! or an allocation the file cannot back; every tensor of a file that parses
//! must decode or be refused.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = evoquant::models::gguf::Gguf::parse(Path::new("fuzz.gguf"), data.to_vec()) {
        for t in &g.tensors {
            let _ = g.f32(&t.name, &t.shape());
        }
    }
});
