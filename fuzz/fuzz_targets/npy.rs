//! `.npy` reader: any bytes must give a tensor or an error, never a panic
//! or an allocation the file cannot back.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = evoquant::quant::npy::parse_npy(data);
});
