//! The byte layouts `evoquant quantize --format bf16|fp16|fp8_e4m3|fp8_e5m2|
//! mxfp4|nvfp4` writes (no header, like the GGUF block formats: a
//! multi-dimensional tensor's shape is given back with `dequantize
//! --shape`). All little-endian:
//!
//! | format | bytes |
//! |---|---|
//! | `bf16`, `fp16` | one u16 code per value |
//! | `fp8_e4m3`, `fp8_e5m2` | u32 scale count k, k f32 scales, one code byte per value; k = 1 (per tensor) or the rows of a per-channel tensor, each row's values divided by its scale amax / max_finite before encoding |
//! | `mxfp4` | per block of 32: the E8M0 scale byte, 16 bytes of E2M1 codes |
//! | `nvfp4` | the f32 tensor scale, then per block of 16: the E4M3 scale byte, 8 bytes of E2M1 codes |
//!
//! 4-bit codes pack two per byte, element 2i in the low nibble. The
//! reported payload (and bits per weight) counts codes and scales; the fp8
//! scale count is layout, not payload.

use super::minifloat::{
    BlockFormatError, MX_BLOCK, Minifloat, NV_BLOCK, float_quantize, mxfp4_dequantize,
    mxfp4_quantize, nvfp4_dequantize, nvfp4_quantize,
};

/// A float file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatFile {
    Bf16,
    Fp16,
    Fp8E4m3,
    Fp8E5m2,
    Mxfp4,
    Nvfp4,
}

impl FloatFile {
    pub const fn name(self) -> &'static str {
        match self {
            FloatFile::Bf16 => "bf16",
            FloatFile::Fp16 => "fp16",
            FloatFile::Fp8E4m3 => "fp8_e4m3",
            FloatFile::Fp8E5m2 => "fp8_e5m2",
            FloatFile::Mxfp4 => "mxfp4",
            FloatFile::Nvfp4 => "nvfp4",
        }
    }

    fn scalar(self) -> Option<Minifloat> {
        match self {
            FloatFile::Bf16 => Some(Minifloat::Bf16),
            FloatFile::Fp16 => Some(Minifloat::Fp16),
            FloatFile::Fp8E4m3 => Some(Minifloat::E4m3),
            FloatFile::Fp8E5m2 => Some(Minifloat::E5m2),
            _ => None,
        }
    }

    /// Values per block the last dimension must be a multiple of (1: none).
    pub const fn block(self) -> usize {
        match self {
            FloatFile::Mxfp4 => MX_BLOCK,
            FloatFile::Nvfp4 => NV_BLOCK,
            _ => 1,
        }
    }
}

/// The encoded bytes and the payload size (codes + scales).
pub fn encode(
    x: &[f32],
    format: FloatFile,
    rows: usize,
) -> Result<(Vec<u8>, usize), BlockFormatError> {
    match format {
        FloatFile::Mxfp4 => mxfp4_quantize(x).map(|b| {
            let n = b.len();
            (b, n)
        }),
        FloatFile::Nvfp4 => nvfp4_quantize(x).map(|b| {
            let n = b.len();
            (b, n)
        }),
        FloatFile::Bf16 | FloatFile::Fp16 => {
            let f = format.scalar().expect("scalar");
            let b: Vec<u8> = x
                .iter()
                .flat_map(|&v| (f.encode(v) as u16).to_le_bytes())
                .collect();
            let n = b.len();
            Ok((b, n))
        }
        FloatFile::Fp8E4m3 | FloatFile::Fp8E5m2 => {
            let f = format.scalar().expect("scalar");
            let (scales, codes) = float_quantize(x, f, rows);
            let mut b = Vec::with_capacity(4 + 4 * scales.len() + codes.len());
            b.extend((scales.len() as u32).to_le_bytes());
            for s in &scales {
                b.extend(s.to_le_bytes());
            }
            b.extend(codes.iter().map(|&c| c as u8));
            let n = b.len() - 4;
            Ok((b, n))
        }
    }
}

/// Decode bytes written by [`encode`]: the values and the payload size.
pub fn decode(bytes: &[u8], format: FloatFile) -> Result<(Vec<f32>, usize), BlockFormatError> {
    let bad = |what: &'static str| BlockFormatError::BadBytes {
        format: format.name(),
        bytes: bytes.len(),
        what,
    };
    match format {
        FloatFile::Mxfp4 => mxfp4_dequantize(bytes).map(|v| (v, bytes.len())),
        FloatFile::Nvfp4 => nvfp4_dequantize(bytes).map(|v| (v, bytes.len())),
        FloatFile::Bf16 | FloatFile::Fp16 => {
            if bytes.is_empty() || bytes.len() % 2 != 0 {
                return Err(bad("a positive even number of bytes"));
            }
            let f = format.scalar().expect("scalar");
            let v = bytes
                .chunks_exact(2)
                .map(|c| f.decode(u32::from(u16::from_le_bytes([c[0], c[1]]))))
                .collect();
            Ok((v, bytes.len()))
        }
        FloatFile::Fp8E4m3 | FloatFile::Fp8E5m2 => {
            let f = format.scalar().expect("scalar");
            let what = "a u32 scale count k ≥ 1, k f32 scales, then a multiple of k code bytes";
            if bytes.len() < 4 {
                return Err(bad(what));
            }
            let k = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
            let head = k.checked_mul(4).and_then(|s| s.checked_add(4));
            let Some(head) = head.filter(|&h| k >= 1 && h < bytes.len()) else {
                return Err(bad(what));
            };
            let codes = &bytes[head..];
            if codes.len() % k != 0 {
                return Err(bad(what));
            }
            let scales: Vec<f32> = bytes[4..head]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let per = codes.len() / k;
            let v = codes
                .chunks(per)
                .zip(&scales)
                .flat_map(|(row, &s)| row.iter().map(move |&c| f.decode(u32::from(c)) * s))
                .collect();
            Ok((v, bytes.len() - 4))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_round_trips_through_its_bytes() {
        let x: Vec<f32> = (0..128)
            .map(|i| ((i * 29 % 128) as f32 - 63.5) * 0.013)
            .collect();
        for f in [
            FloatFile::Bf16,
            FloatFile::Fp16,
            FloatFile::Fp8E4m3,
            FloatFile::Fp8E5m2,
            FloatFile::Mxfp4,
            FloatFile::Nvfp4,
        ] {
            for rows in [1, 4] {
                let (b, payload) = encode(&x, f, rows).unwrap();
                let (y, p2) = decode(&b, f).unwrap();
                assert_eq!(y.len(), x.len(), "{}", f.name());
                assert_eq!(payload, p2, "{}", f.name());
                let amax = 63.5 * 0.013;
                for (a, q) in x.iter().zip(&y) {
                    assert!((a - q).abs() <= amax / 5.0, "{} {a} {q}", f.name());
                }
            }
        }
        // True sizes: fp8 per channel = codes + 4 f32 scales; mxfp4 4.25 b/w.
        assert_eq!(encode(&x, FloatFile::Fp8E4m3, 4).unwrap().1, 128 + 16);
        assert_eq!(encode(&x, FloatFile::Mxfp4, 1).unwrap().1 * 8, 128 * 17 / 4);
        assert_eq!(encode(&x, FloatFile::Nvfp4, 1).unwrap().1, 4 + 8 * 9);
        assert!(decode(&[1, 0, 0, 0], FloatFile::Fp8E4m3).is_err());
        assert!(decode(&[9, 9, 9, 9, 0, 0, 0, 0, 1], FloatFile::Fp8E5m2).is_err());
        assert!(decode(&[1, 2, 3], FloatFile::Bf16).is_err());
    }
}
