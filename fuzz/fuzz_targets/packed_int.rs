//! Packed `.int` reader, then the dequantize it feeds (which allocates one
//! value per element the header declares).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = evoquant::quant::packed_file::decode_int(data) {
        let _ = q.dequantize();
    }
});
