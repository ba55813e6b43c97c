//! llama.cpp / GGUF block formats Q4_0, Q4_1 and Q8_0, byte-compatible with
//! ggml's reference quantizers (`quantize_row_q4_0_ref`, `quantize_row_q4_1_ref`,
//! `quantize_row_q8_0_ref` and the matching `dequantize_row_*` in
//! ggml/src/ggml-quants.c), so users can compare our quantizers with the
//! formats they deploy.
//!
//! Every block holds 32 values. Layouts (little-endian, no padding):
//! - Q4_0, 18 bytes: f16 d, 16 bytes of nibbles; byte j holds value j in the
//!   low nibble and value j+16 in the high nibble; w = (q − 8)·d.
//! - Q4_1, 20 bytes: f16 d, f16 m, 16 bytes of nibbles as Q4_0; w = q·d + m.
//! - Q8_0, 34 bytes: f16 d, 32 signed bytes; w = q·d.
//!
//! The arithmetic repeats ggml's exactly: the reciprocal is taken of the f32
//! scale before it is rounded to f16, Q4 codes are truncated after adding 8.5
//! (or 0.5), Q8_0 rounds half away from zero (C `roundf`).
//!
//! Where ggml is silent we refuse: a block whose scale (or Q4_1 minimum)
//! rounds beyond the f16 range is stored by ggml as inf, and every value of
//! that block then decodes to inf or NaN. Clamping the scale instead would
//! write a block ggml never writes and clip the tensor without saying so, so
//! `gguf_quantize` fails naming the block ([`QuantError::GgufOverflow`]).

use super::spec::QuantError;
use half::f16;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Values per ggml block.
pub const GGUF_BLOCK: usize = 32;
/// Blocks per parallel batch.
const BATCH_BLOCKS: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GgufFormat {
    Q4_0,
    Q4_1,
    Q8_0,
}

impl GgufFormat {
    /// Bytes per 32-value block.
    pub fn block_bytes(self) -> usize {
        match self {
            GgufFormat::Q4_0 => 18,
            GgufFormat::Q4_1 => 20,
            GgufFormat::Q8_0 => 34,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            GgufFormat::Q4_0 => "q4_0",
            GgufFormat::Q4_1 => "q4_1",
            GgufFormat::Q8_0 => "q8_0",
        }
    }

    /// Bits per code (scales not included).
    pub fn bits(self) -> u8 {
        match self {
            GgufFormat::Q4_0 | GgufFormat::Q4_1 => 4,
            GgufFormat::Q8_0 => 8,
        }
    }

    /// Every format, for messages and table-driven tests.
    pub const ALL: [GgufFormat; 3] = [GgufFormat::Q4_0, GgufFormat::Q4_1, GgufFormat::Q8_0];

    /// The format named `q4_0`, `q4_1` or `q8_0` (any case).
    pub fn parse(s: &str) -> Option<GgufFormat> {
        GgufFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
    }

    /// Encoded size of `n` values (n a multiple of 32).
    pub fn encoded_len(self, n: usize) -> usize {
        n / GGUF_BLOCK * self.block_bytes()
    }
}

fn check_len(n: usize) -> Result<(), QuantError> {
    if n % GGUF_BLOCK != 0 || n == 0 {
        return Err(QuantError::BadLength {
            len: n,
            block: GGUF_BLOCK,
        });
    }
    Ok(())
}

#[inline]
fn put_f16(out: &mut [u8], x: f32) {
    out.copy_from_slice(&f16::from_f32(x).to_le_bytes());
}

#[inline]
fn get_f16(b: &[u8]) -> f32 {
    f16::from_le_bytes([b[0], b[1]]).to_f32()
}

fn quantize_q4_0(x: &[f32], y: &mut [u8]) {
    // ggml keeps the first value of largest magnitude (strict `<`) and +0
    // for an all-zero block; the same, as a vectorisable max then a search.
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let max = if amax == 0.0 {
        0.0
    } else {
        x.iter().copied().find(|v| v.abs() == amax).unwrap_or(0.0)
    };
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(&mut y[0..2], d);
    for j in 0..16 {
        let x0 = x[j] * id;
        let x1 = x[j + 16] * id;
        let q0 = ((x0 + 8.5) as i8).min(15) as u8;
        let q1 = ((x1 + 8.5) as i8).min(15) as u8;
        y[2 + j] = q0 | (q1 << 4);
    }
}

fn quantize_q4_1(x: &[f32], y: &mut [u8]) {
    let mut min = f32::MAX;
    let mut max = -f32::MAX;
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    let d = (max - min) / 15.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(&mut y[0..2], d);
    put_f16(&mut y[2..4], min);
    for j in 0..16 {
        let x0 = (x[j] - min) * id;
        let x1 = (x[j + 16] - min) * id;
        let q0 = ((x0 + 0.5) as i8).min(15) as u8;
        let q1 = ((x1 + 0.5) as i8).min(15) as u8;
        y[4 + j] = q0 | (q1 << 4);
    }
}

/// C `roundf` (half away from zero) for |x| < 2^23, without the libm call:
/// the truncation and the fraction `x − trunc(x)` are exact there.
#[inline]
fn round_half_away(x: f32) -> i32 {
    let t = x as i32;
    let frac = x - t as f32;
    if frac >= 0.5 {
        t + 1
    } else if frac <= -0.5 {
        t - 1
    } else {
        t
    }
}

fn quantize_q8_0(x: &[f32], y: &mut [u8]) {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(&mut y[0..2], d);
    for (o, &v) in y[2..].iter_mut().zip(x) {
        *o = round_half_away(v * id) as i8 as u8;
    }
}

fn dequantize_block(format: GgufFormat, y: &[u8], out: &mut [f32]) {
    let d = get_f16(&y[0..2]);
    match format {
        GgufFormat::Q4_0 => {
            for j in 0..16 {
                let b = y[2 + j];
                out[j] = ((b & 0x0f) as i32 - 8) as f32 * d;
                out[j + 16] = ((b >> 4) as i32 - 8) as f32 * d;
            }
        }
        GgufFormat::Q4_1 => {
            let m = get_f16(&y[2..4]);
            for j in 0..16 {
                let b = y[4 + j];
                out[j] = (b & 0x0f) as f32 * d + m;
                out[j + 16] = (b >> 4) as f32 * d + m;
            }
        }
        GgufFormat::Q8_0 => {
            for (o, &q) in out.iter_mut().zip(&y[2..]) {
                *o = (q as i8) as f32 * d;
            }
        }
    }
}

/// The f16 fields of a block as the quantizer computes them (before
/// rounding), for the overflow message.
fn block_fields(format: GgufFormat, x: &[f32]) -> Vec<(&'static str, f32)> {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let min = x.iter().fold(f32::MAX, |m, &v| m.min(v));
    let max = x.iter().fold(-f32::MAX, |m, &v| m.max(v));
    match format {
        GgufFormat::Q4_0 => vec![("scale", amax / 8.0)],
        GgufFormat::Q4_1 => vec![("scale", (max - min) / 15.0), ("minimum", min)],
        GgufFormat::Q8_0 => vec![("scale", amax / 127.0)],
    }
}

/// What a block of `format` can hold, for the overflow message.
fn limit(format: GgufFormat) -> &'static str {
    match format {
        // f16 rounds to inf from 65520 on: 8 · 65520, 127 · 65520, 15 · 65520.
        GgufFormat::Q4_0 => "blocks hold magnitudes below 524160",
        GgufFormat::Q4_1 => "blocks need max − min below 982800 and min above −65520",
        GgufFormat::Q8_0 => "blocks hold magnitudes below 8321040",
    }
}

/// The first block whose stored f16 fields are not finite.
fn first_overflow(data: &[f32], bytes: &[u8], format: GgufFormat) -> Option<QuantError> {
    let fields = if format == GgufFormat::Q4_1 { 2 } else { 1 };
    let block = bytes
        .chunks_exact(format.block_bytes())
        .position(|y| (0..fields).any(|f| !get_f16(&y[2 * f..2 * f + 2]).is_finite()))?;
    let x = &data[block * GGUF_BLOCK..(block + 1) * GGUF_BLOCK];
    let (field, value) = block_fields(format, x)
        .into_iter()
        .find(|&(_, v)| !f16::from_f32(v).is_finite())
        .unwrap_or(("scale", f32::INFINITY));
    Some(QuantError::GgufOverflow {
        format: format.name(),
        block,
        field,
        value,
        limit: limit(format),
    })
}

/// Encode `data` (length a multiple of 32, all finite) as ggml blocks.
/// Fails on a block ggml would store with an infinite f16 field (see the
/// module doc).
pub fn gguf_quantize(data: &[f32], format: GgufFormat) -> Result<Vec<u8>, QuantError> {
    check_len(data.len())?;
    let mut out = vec![0u8; format.encoded_len(data.len())];
    gguf_quantize_into(data, format, &mut out)?;
    Ok(out)
}

/// [`gguf_quantize`] into `out` (exactly `format.encoded_len(data.len())` bytes).
pub fn gguf_quantize_into(
    data: &[f32],
    format: GgufFormat,
    out: &mut [u8],
) -> Result<(), QuantError> {
    check_len(data.len())?;
    let bb = format.block_bytes();
    if out.len() != format.encoded_len(data.len()) {
        return Err(QuantError::BadLength {
            len: out.len(),
            block: bb,
        });
    }
    if let Some(index) = data.iter().position(|x| !x.is_finite()) {
        return Err(QuantError::NonFinite {
            index,
            value: data[index],
        });
    }
    out.par_chunks_mut(bb * BATCH_BLOCKS)
        .zip(data.par_chunks(GGUF_BLOCK * BATCH_BLOCKS))
        .for_each(|(y, x)| {
            for (yb, xb) in y.chunks_exact_mut(bb).zip(x.chunks_exact(GGUF_BLOCK)) {
                match format {
                    GgufFormat::Q4_0 => quantize_q4_0(xb, yb),
                    GgufFormat::Q4_1 => quantize_q4_1(xb, yb),
                    GgufFormat::Q8_0 => quantize_q8_0(xb, yb),
                }
            }
        });
    if let Some(e) = first_overflow(data, out, format) {
        return Err(e);
    }
    Ok(())
}

/// `data` as a ggml engine sees it after storing it in `format`: encode and
/// decode, in place. Row-major rows of `row_len` values (a multiple of 32)
/// are blocked like ggml blocks a tensor's rows.
pub fn gguf_fake_quantize(
    data: &[f32],
    row_len: usize,
    format: GgufFormat,
    out: &mut [f32],
) -> Result<(), QuantError> {
    if row_len % GGUF_BLOCK != 0 || row_len == 0 {
        return Err(QuantError::InvalidSpec(format!(
            "{} needs rows of whole 32-value blocks; rows here hold {row_len} values",
            format.name()
        )));
    }
    let bytes = gguf_quantize(data, format)?;
    gguf_dequantize_into(&bytes, format, out)
}

/// Decode ggml blocks into `out`, whose length must be 32 × the block count.
pub fn gguf_dequantize_into(
    bytes: &[u8],
    format: GgufFormat,
    out: &mut [f32],
) -> Result<(), QuantError> {
    let bb = format.block_bytes();
    check_len(out.len())?;
    if bytes.len() != format.encoded_len(out.len()) {
        return Err(QuantError::BadLength {
            len: bytes.len(),
            block: bb,
        });
    }
    out.par_chunks_mut(GGUF_BLOCK * BATCH_BLOCKS)
        .zip(bytes.par_chunks(bb * BATCH_BLOCKS))
        .for_each(|(x, y)| {
            for (xb, yb) in x.chunks_exact_mut(GGUF_BLOCK).zip(y.chunks_exact(bb)) {
                dequantize_block(format, yb, xb);
            }
        });
    Ok(())
}

/// Decode a whole ggml byte stream (length a multiple of the block size).
pub fn gguf_dequantize(bytes: &[u8], format: GgufFormat) -> Result<Vec<f32>, QuantError> {
    let bb = format.block_bytes();
    if bytes.len() % bb != 0 || bytes.is_empty() {
        return Err(QuantError::BadLength {
            len: bytes.len(),
            block: bb,
        });
    }
    let mut out = vec![0f32; bytes.len() / bb * GGUF_BLOCK];
    gguf_dequantize_into(bytes, format, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_0_known_block() {
        // First half -8..7, second half 0.5·(j − 8). amax = 8 at x[0] = −8, so
        // d = −8/−8 = 1, id = 1: q = trunc(x + 8.5).
        let x: Vec<f32> = (0..16)
            .map(|j| j as f32 - 8.0)
            .chain((0..16).map(|j| 0.5 * (j as f32 - 8.0)))
            .collect();
        let y = gguf_quantize(&x, GgufFormat::Q4_0).unwrap();
        assert_eq!(y.len(), 18);
        assert_eq!(&y[..2], &[0x00, 0x3c]); // f16 1.0
        // byte j: low = j, high = trunc(0.5j + 4.5)
        assert_eq!(&y[2..6], &[0x40, 0x51, 0x52, 0x63]);
        assert_eq!(y[17], 0xcf);
        let back = gguf_dequantize(&y, GgufFormat::Q4_0).unwrap();
        assert_eq!(&back[..16], &x[..16]);
        // -4 → q 4 → -4; -3.5 → trunc(5.0) = 5 → -3; -3.0 → 5 → -3 (half rounds up).
        assert_eq!(&back[16..19], &[-4.0, -3.0, -3.0]);
    }

    #[test]
    fn q4_0_positive_extreme_gives_negative_d() {
        let mut x = vec![0.0f32; 32];
        x[5] = 8.0;
        x[6] = -8.0; // same magnitude later: the first one wins
        let y = gguf_quantize(&x, GgufFormat::Q4_0).unwrap();
        assert_eq!(&y[..2], &[0x00, 0xbc]); // f16 −1.0
        let back = gguf_dequantize(&y, GgufFormat::Q4_0).unwrap();
        assert_eq!(back[5], 8.0);
        // −8 · id(−1) + 8.5 = 16.5 → 16 → min(15): the value saturates to −7.
        assert_eq!(back[6], -7.0);
    }

    #[test]
    fn q4_1_known_block() {
        // min 0, max 15 → d = 1, m = 0; q = trunc(x + 0.5).
        let x: Vec<f32> = (0..16)
            .map(|j| j as f32)
            .chain((0..16).map(|j| 0.5 * j as f32 + 0.25))
            .collect();
        let y = gguf_quantize(&x, GgufFormat::Q4_1).unwrap();
        assert_eq!(y.len(), 20);
        assert_eq!(&y[..4], &[0x00, 0x3c, 0x00, 0x00]);
        assert_eq!(&y[4..8], &[0x00, 0x11, 0x12, 0x23]);
        let back = gguf_dequantize(&y, GgufFormat::Q4_1).unwrap();
        assert_eq!(&back[..16], &x[..16]);
        assert_eq!(&back[16..20], &[0.0, 1.0, 1.0, 2.0]);
    }

    #[test]
    fn q8_0_known_block() {
        let mut x = vec![0.0f32; 32];
        x[..6].copy_from_slice(&[127.0, -127.0, 2.5, -2.5, 3.5, 0.49]);
        let y = gguf_quantize(&x, GgufFormat::Q8_0).unwrap();
        assert_eq!(y.len(), 34);
        // d = 127/127 = 1; roundf rounds half away from zero.
        assert_eq!(&y[..8], &[0x00, 0x3c, 0x7f, 0x81, 0x03, 0xfd, 0x04, 0x00]);
        let back = gguf_dequantize(&y, GgufFormat::Q8_0).unwrap();
        assert_eq!(&back[..6], &[127.0, -127.0, 3.0, -3.0, 4.0, 0.0]);
    }

    #[test]
    fn round_half_away_is_roundf() {
        let mut x = -130.0f32;
        while x < 130.0 {
            for v in [
                x,
                x.next_up(),
                x.next_down(),
                x + 0.5,
                (x + 0.5).next_down(),
            ] {
                assert_eq!(round_half_away(v), v.round() as i32, "{v}");
            }
            x += 0.25;
        }
    }

    #[test]
    fn zero_blocks_and_bad_lengths() {
        for f in [GgufFormat::Q4_0, GgufFormat::Q4_1, GgufFormat::Q8_0] {
            let y = gguf_quantize(&[0.0; 64], f).unwrap();
            assert_eq!(gguf_dequantize(&y, f).unwrap(), vec![0.0; 64]);
            assert_eq!(
                gguf_quantize(&[0.0; 33], f),
                Err(QuantError::BadLength { len: 33, block: 32 })
            );
            assert!(gguf_dequantize(&y[1..], f).is_err());
            assert!(matches!(
                gguf_quantize(&[f32::NAN; 32], f),
                Err(QuantError::NonFinite { index: 0, .. })
            ));
        }
    }

    /// Before: finite values beyond the f16 range gave an inf scale, so
    /// `quantize` wrote blocks that decode to inf/NaN.
    #[test]
    fn blocks_beyond_the_f16_range_are_refused_naming_the_block() {
        for (f, big, field) in [
            (GgufFormat::Q4_0, 600_000.0f32, "scale"),
            (GgufFormat::Q8_0, 9.0e6, "scale"),
            (GgufFormat::Q4_1, 1.0e6, "scale"),
            (GgufFormat::Q4_1, f32::MAX, "scale"),
        ] {
            let mut x = vec![0.5f32; 96];
            x[70] = big;
            x[71] = -big;
            match gguf_quantize(&x, f) {
                Err(QuantError::GgufOverflow {
                    block, field: got, ..
                }) => assert_eq!((block, got), (2, field), "{f:?} {big}"),
                other => panic!("{f:?} {big}: {other:?}"),
            }
            let msg = gguf_quantize(&x, f).unwrap_err().to_string();
            assert!(msg.contains("block 2 (flat values 64..96)"), "{msg}");
        }
        // Q4_1 stores its minimum as f16 too, even when the range is small.
        let x = vec![-70_000.0f32; 32];
        assert!(matches!(
            gguf_quantize(&x, GgufFormat::Q4_1),
            Err(QuantError::GgufOverflow {
                field: "minimum",
                ..
            })
        ));
        // Just inside the limits every block decodes finite.
        for (f, big) in [
            (GgufFormat::Q4_0, 524_000.0f32),
            (GgufFormat::Q8_0, 8.32e6),
            (GgufFormat::Q4_1, 65_000.0),
        ] {
            let mut x = vec![0.0f32; 32];
            x[3] = big;
            x[4] = -big;
            let back = gguf_dequantize(&gguf_quantize(&x, f).unwrap(), f).unwrap();
            assert!(back.iter().all(|v| v.is_finite()), "{f:?}: {back:?}");
        }
    }

    #[test]
    fn error_is_bounded_by_the_step_on_smooth_data() {
        let x: Vec<f32> = (0..32 * 100).map(|i| (i as f32 * 0.173).sin()).collect();
        for (f, steps) in [
            (GgufFormat::Q4_0, 8.0f32),
            (GgufFormat::Q4_1, 15.0),
            (GgufFormat::Q8_0, 127.0),
        ] {
            let back = gguf_dequantize(&gguf_quantize(&x, f).unwrap(), f).unwrap();
            for (xb, bb) in x.chunks(32).zip(back.chunks(32)) {
                let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
                // One full step (+ f16 rounding of d) bounds the error.
                let step = 2.0 * amax / steps * 1.01;
                for (a, b) in xb.iter().zip(bb) {
                    assert!((a - b).abs() <= step, "{f:?}: {a} vs {b}");
                }
            }
        }
    }
}
