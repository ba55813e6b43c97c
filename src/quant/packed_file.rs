//! The `int` packed file: a `QuantizedTensor` that carries its own shape and
//! spec, so `dequantize` needs nothing else.
//!
//! Layout (all little-endian):
//! 1. magic `EVOQINT1` (8 bytes);
//! 2. u32 length of the header, then the header: UTF-8 JSON
//!    `{"shape": [...], "spec": {bits, scheme, granularity, group_size,
//!    calibration, percentile, scale_dtype}}`;
//! 3. packed codes: q − qmin as unsigned `bits`-bit fields, LSB first
//!    (⌈numel·bits/8⌉ bytes);
//! 4. one scale per group, f16 or f32 per `scale_dtype`;
//! 5. for asymmetric specs, one zero point per group: i8 for bits ≤ 8, i16 above.
//!
//! Sections 3–5 are exactly `QuantizedTensor::size_bytes()` bytes.
//!
//! The reader sizes every section from the header with checked arithmetic
//! and compares it with the bytes present before allocating, so a small
//! crafted file cannot make `dequantize` allocate what no file backs.
//!
//! The `binary` / `ternary` file ([`encode_extreme`]) is laid out the same
//! way with magic `EVOQEXT1`, header `{"shape": [...], "spec": {kind,
//! granularity, group_size}}`, then the 1- or 2-bit codes
//! (`crate::quant::binary`: binary 1 = +α, 0 = −α; ternary 0, 1 = +α,
//! 2 = −α), then one f16 scale per group: exactly
//! `ExtremeTensor::size_bytes()` bytes after the header.

use super::binary::{ExtremeSpec, ExtremeTensor};
use super::pack::packed_len;
use super::spec::{QuantError, QuantSpec, ScaleDtype, SpecError};
use super::tensor::{QuantizedTensor, zero_point_bytes};
use serde::{Deserialize, Serialize};

pub const INT_MAGIC: &[u8; 8] = b"EVOQINT1";
pub const EXTREME_MAGIC: &[u8; 8] = b"EVOQEXT1";

#[derive(Serialize, Deserialize)]
struct ExtremeHeader {
    shape: Vec<usize>,
    spec: ExtremeSpec,
}

#[derive(Serialize, Deserialize)]
struct Header {
    shape: Vec<usize>,
    spec: QuantSpec,
}

/// What is wrong with an `int` file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum IntFileError {
    #[error("not an evoquant {0} file (bad magic)")]
    BadMagic(&'static str),
    #[error("truncated header: it declares {declared} bytes but {held} follow the length field")]
    TruncatedHeader { declared: u64, held: usize },
    #[error("bad header: {0}")]
    BadHeader(String),
    #[error("bad header: {0}")]
    Spec(#[from] SpecError),
    #[error("bad header: shape {0:?} overflows")]
    ShapeOverflow(Vec<usize>),
    #[error(
        "file is truncated: its header's shape {shape:?} needs more code bytes than the file holds"
    )]
    TruncatedCodes { shape: Vec<usize> },
    #[error(
        "file size does not match its header: {held} bytes of scales and zero points are not a whole number of {per_group}-byte groups"
    )]
    GroupBytes { held: usize, per_group: usize },
    #[error("{0}")]
    Parts(#[from] QuantError),
}

/// The `int` file of a quantized tensor as its four sections, borrowing
/// what is already laid out as the file wants it (the codes; f32 scales on a
/// little-endian machine), so `quantize` writes a tensor-sized file without
/// first copying it into one buffer.
pub struct IntParts<'a> {
    head: Vec<u8>,
    codes: &'a [u8],
    scales: std::borrow::Cow<'a, [u8]>,
    zero_points: Vec<u8>,
}

impl<'a> IntParts<'a> {
    pub fn of(q: &'a QuantizedTensor) -> IntParts<'a> {
        use rayon::prelude::*;
        use std::borrow::Cow;
        let header = serde_json::to_vec(&Header {
            shape: q.shape().to_vec(),
            spec: *q.spec(),
        })
        .expect("header serializes");
        let scales: Cow<[u8]> = match q.spec().scale_dtype {
            ScaleDtype::F32 if cfg!(target_endian = "little") => {
                // SAFETY: f32 has no padding and every bit pattern is a valid
                // u8 sequence; on a little-endian machine its in-memory bytes
                // are the file's little-endian bytes.
                Cow::Borrowed(unsafe {
                    std::slice::from_raw_parts(
                        q.scales().as_ptr().cast::<u8>(),
                        q.scales().len() * 4,
                    )
                })
            }
            ScaleDtype::F32 => {
                Cow::Owned(q.scales().iter().flat_map(|s| s.to_le_bytes()).collect())
            }
            ScaleDtype::F16 => {
                let mut v = vec![0u8; q.scales().len() * 2];
                v.par_chunks_mut(2)
                    .zip(q.scales().par_iter())
                    .for_each(|(o, &s)| o.copy_from_slice(&half::f16::from_f32(s).to_le_bytes()));
                Cow::Owned(v)
            }
        };
        let zb = zero_point_bytes(q.spec().bits);
        let mut zero_points = vec![0u8; q.zero_points().len() * zb];
        zero_points
            .par_chunks_mut(zb)
            .zip(q.zero_points().par_iter())
            .for_each(|(o, &z)| {
                if zb == 1 {
                    o[0] = z as i8 as u8;
                } else {
                    o.copy_from_slice(&(z as i16).to_le_bytes());
                }
            });
        IntParts {
            head: with_header(INT_MAGIC, &header, 0),
            codes: q.codes(),
            scales,
            zero_points,
        }
    }

    /// The file's bytes, in order.
    pub fn parts(&self) -> [&[u8]; 4] {
        [&self.head, self.codes, &self.scales, &self.zero_points]
    }

    pub fn file_len(&self) -> usize {
        self.parts().iter().map(|p| p.len()).sum()
    }
}

/// Serialize a quantized tensor to the `int` file format.
pub fn encode_int(q: &QuantizedTensor) -> Vec<u8> {
    let parts = IntParts::of(q);
    let mut out = Vec::with_capacity(parts.file_len());
    for p in parts.parts() {
        out.extend_from_slice(p);
    }
    out
}

/// Magic, length-prefixed JSON header and what follows it.
fn split_header<'a, H: serde::de::DeserializeOwned>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    what: &'static str,
) -> Result<(H, &'a [u8]), IntFileError> {
    if bytes.len() < 12 || &bytes[..8] != magic {
        return Err(IntFileError::BadMagic(what));
    }
    let hl = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let header = usize::try_from(hl)
        .ok()
        .and_then(|hl| hl.checked_add(12))
        .and_then(|end| bytes.get(12..end))
        .ok_or(IntFileError::TruncatedHeader {
            declared: u64::from(hl),
            held: bytes.len() - 12,
        })?;
    let h: H =
        serde_json::from_slice(header).map_err(|e| IntFileError::BadHeader(e.to_string()))?;
    Ok((h, &bytes[12 + header.len()..]))
}

fn numel_of(shape: &[usize]) -> Result<usize, IntFileError> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| IntFileError::ShapeOverflow(shape.to_vec()))
}

fn with_header(magic: &[u8; 8], header: &[u8], payload: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + header.len() + payload);
    out.extend_from_slice(magic);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(header);
    out
}

/// Serialize a binary or ternary tensor (see the module docs).
pub fn encode_extreme(t: &ExtremeTensor) -> Vec<u8> {
    let header = serde_json::to_vec(&ExtremeHeader {
        shape: t.shape.clone(),
        spec: t.spec,
    })
    .expect("header serializes");
    let mut out = with_header(EXTREME_MAGIC, &header, t.size_bytes());
    out.extend_from_slice(&t.codes);
    for &s in &t.scales {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Parse a binary / ternary file; every size is checked against the header.
pub fn decode_extreme(bytes: &[u8]) -> Result<ExtremeTensor, IntFileError> {
    let (h, rest): (ExtremeHeader, _) = split_header(bytes, EXTREME_MAGIC, "binary/ternary")?;
    h.spec
        .validate()
        .map_err(|e| IntFileError::BadHeader(e.to_string()))?;
    let numel = numel_of(&h.shape)?;
    let groups = h.spec.layout(&h.shape, numel)?.n_groups();
    let code_len = numel
        .checked_mul(usize::from(h.spec.kind.bits()))
        .map(|_| packed_len(numel, h.spec.kind.bits()))
        .filter(|&n| n <= rest.len())
        .ok_or_else(|| IntFileError::TruncatedCodes {
            shape: h.shape.clone(),
        })?;
    let (codes, scales) = rest.split_at(code_len);
    if scales.len() != 2 * groups {
        return Err(IntFileError::GroupBytes {
            held: scales.len(),
            per_group: 2,
        });
    }
    Ok(ExtremeTensor {
        spec: h.spec,
        shape: h.shape,
        codes: codes.to_vec(),
        scales: scales
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect(),
    })
}

/// Parse an `int` file; every size is checked against the header.
pub fn decode_int(bytes: &[u8]) -> Result<QuantizedTensor, IntFileError> {
    let (h, mut rest): (Header, _) = split_header(bytes, INT_MAGIC, "int")?;
    h.spec.validate()?;
    let numel = numel_of(&h.shape)?;
    // Size the sections from the header alone, then let from_parts cross-check.
    // Checked: a crafted shape can make numel·bits wrap to a tiny length that
    // passes the size check, and the decoder would then allocate numel values.
    let code_len = numel
        .checked_mul(usize::from(h.spec.bits))
        .map(|b| b.div_ceil(8))
        .filter(|&n| n <= rest.len())
        .ok_or_else(|| IntFileError::TruncatedCodes {
            shape: h.shape.clone(),
        })?;
    let (codes, tail) = rest.split_at(code_len);
    let codes = codes.to_vec();
    rest = tail;
    let sb = h.spec.scale_dtype.bytes();
    let zb = zero_point_bytes(h.spec.bits);
    let asym = h.spec.scheme.has_zero_point();
    // n_groups · (sb + zb·asym) must equal what is left.
    let per_group = sb + if asym { zb } else { 0 };
    if rest.len() % per_group != 0 {
        return Err(IntFileError::GroupBytes {
            held: rest.len(),
            per_group,
        });
    }
    let n_groups = rest.len() / per_group;
    let (scale_bytes, rest) = rest.split_at(n_groups * sb);
    let scales: Vec<f32> = if sb == 2 {
        scale_bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()
    } else {
        scale_bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    let zero_points: Vec<i32> = if !asym {
        Vec::new()
    } else if zb == 1 {
        rest.iter().map(|&b| i32::from(b as i8)).collect()
    } else {
        rest.chunks_exact(2)
            .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
            .collect()
    };
    Ok(QuantizedTensor::from_parts(
        h.shape,
        h.spec,
        codes,
        scales,
        zero_points,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::spec::{Granularity, Scheme};

    #[test]
    fn roundtrip_and_size_accounting() {
        let w: Vec<f32> = (0..60).map(|i| (i as f32 * 0.3).cos() * 2.0).collect();
        for bits in [2u8, 4, 8, 12] {
            for scheme in [
                Scheme::Asymmetric,
                Scheme::AsymmetricClipped,
                Scheme::Symmetric,
            ] {
                for scale_dtype in [ScaleDtype::F16, ScaleDtype::F32] {
                    let spec = QuantSpec {
                        bits,
                        scheme,
                        scale_dtype,
                        granularity: Granularity::PerGroup,
                        group_size: 7,
                        ..QuantSpec::chaos_int4(4)
                    };
                    let q = QuantizedTensor::quantize(&w, &[4, 15], &spec).unwrap();
                    let bytes = encode_int(&q);
                    let hl = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
                    assert_eq!(bytes.len(), 12 + hl + q.size_bytes());
                    assert_eq!(decode_int(&bytes).unwrap(), q);
                    assert!(decode_int(&bytes[..bytes.len() - 1]).is_err());
                }
            }
        }
    }

    /// A shape whose numel·bits wraps to 0 used to pass the size checks and
    /// abort `dequantize` allocating 4 EiB.
    #[test]
    fn overflowing_shape_is_refused_before_allocating() {
        let w = [1.0f32, -2.0, 3.0, 0.5];
        let q = QuantizedTensor::quantize(&w, &[4], &QuantSpec::chaos_int4(4)).unwrap();
        let bytes = encode_int(&q);
        let hl = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&bytes[12..12 + hl]).unwrap();
        let huge = header.replace("[4]", &format!("[{}]", 1usize << 62));
        assert_ne!(huge, header);
        let mut crafted = bytes[..8].to_vec();
        crafted.extend_from_slice(&(huge.len() as u32).to_le_bytes());
        crafted.extend_from_slice(huge.as_bytes());
        crafted.extend_from_slice(&bytes[12 + hl..]);
        assert!(matches!(
            decode_int(&crafted),
            Err(IntFileError::TruncatedCodes { .. })
        ));
        let mut long_header = bytes.clone();
        long_header[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_int(&long_header),
            Err(IntFileError::TruncatedHeader {
                declared: 0xffff_ffff,
                ..
            })
        ));
    }

    /// More crafted headers: each must fail typed, before allocating.
    #[test]
    fn crafted_headers_are_refused_typed() {
        let w = [1.0f32, -2.0, 3.0, 0.5];
        let q = QuantizedTensor::quantize(&w, &[4], &QuantSpec::chaos_int4(4)).unwrap();
        let bytes = encode_int(&q);
        let hl = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&bytes[12..12 + hl])
            .unwrap()
            .to_string();
        let craft = |h: &str| {
            let mut b = bytes[..8].to_vec();
            b.extend_from_slice(&(h.len() as u32).to_le_bytes());
            b.extend_from_slice(h.as_bytes());
            b.extend_from_slice(&bytes[12 + hl..]);
            b
        };
        let shape = |s: &str| craft(&header.replace("[4]", s));
        // The product overflows usize.
        let over = format!("[{}, {}]", 1usize << 40, 1usize << 40);
        assert!(matches!(
            decode_int(&shape(&over)),
            Err(IntFileError::ShapeOverflow(_))
        ));
        // Large, not overflowing: more code bytes than the file holds.
        let big = format!("[{}]", 1usize << 40);
        assert!(matches!(
            decode_int(&shape(&big)),
            Err(IntFileError::TruncatedCodes { .. })
        ));
        // A shape the codes fit but the scale bytes left over do not.
        assert!(matches!(
            decode_int(&shape("[2]")),
            Err(IntFileError::GroupBytes { .. })
        ));
        // An invalid spec in the header is a typed spec error.
        let bad_bits = header.replace("\"bits\":4", "\"bits\":0");
        assert_ne!(bad_bits, header);
        assert_eq!(
            decode_int(&craft(&bad_bits)),
            Err(IntFileError::Spec(SpecError::Bits(0)))
        );
        assert!(matches!(
            decode_int(&craft("{not json")),
            Err(IntFileError::BadHeader(_))
        ));
        assert_eq!(decode_int(b"EVOQINT1"), Err(IntFileError::BadMagic("int")));
    }
}
