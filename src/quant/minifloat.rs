//! The floating-point formats people ship: BF16 and FP16 (IEEE-style, round
//! to nearest even, overflow to ±inf), FP8 E4M3 and E5M2 (OCP 8-bit
//! Floating Point Specification (OFP8) rev. 1.0, saturating), FP4 E2M1 (OCP
//! Microscaling Formats (MX) Specification v1.0), and the two block-scaled
//! 4-bit formats built on it:
//!
//! - **MXFP4** (OCP MX v1.0): blocks of 32 E2M1 elements sharing one E8M0
//!   scale, a bare power of two `2^(e − 127)`; the scale is
//!   `2^(⌊log2 amax⌋ − emax_elem)` with `emax_elem = 2` (E2M1's largest
//!   binade, 6 = 1.5 · 2²), elements are `x / scale` rounded to E2M1 (to
//!   nearest even, saturating at ±6). 4 + 8/32 = 4.25 bits per weight.
//! - **NVFP4** (NVIDIA, "Introducing NVFP4 for efficient and accurate
//!   low-precision inference", 2025): blocks of 16 E2M1 elements, one E4M3
//!   scale per block and one FP32 scale per tensor: `global = amax_tensor /
//!   (6 · 448)`, `block scale = E4M3(amax_block / 6 / global)`, elements
//!   `E2M1(x / (block scale · global))`. 4 + 8/16 + 32/n bits per weight.
//!
//! Encoding is exact arithmetic on the f32 bit pattern (no intermediate
//! rounding through f64), so results match `ml_dtypes` bit for bit on every
//! input its conversion defines; the tests in `tests/integration/formats.rs`
//! compare them. The one deliberate difference is overflow in the 8- and
//! 4-bit formats: OCP's *saturating* mode maps finite values beyond the
//! largest normal (and E4M3's ±inf) to ±max, where `ml_dtypes` gives NaN
//! (E4M3) or ±inf (E5M2); E5M2 keeps ±inf as ±inf. NaN encodes as the
//! format's NaN (E4M3: S.1111.111 only; E2M1 has none, so NaN is refused by
//! the callers, which take finite tensors).

/// A scalar floating-point storage format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Minifloat {
    Bf16,
    Fp16,
    /// OCP E4M3 ("e4m3fn"): bias 7, no infinities, NaN = S.1111.111, max 448.
    E4m3,
    /// OCP E5M2: bias 15, IEEE-like infinities and NaNs, max 57344.
    E5m2,
    /// OCP E2M1: bias 1, no infinities or NaN, max 6.
    E2m1,
}

/// The layout facts of a format.
#[derive(Clone, Copy, Debug)]
struct Layout {
    exp_bits: u32,
    man_bits: u32,
    bias: i32,
    /// The all-ones exponent holds inf/NaN (IEEE-like) rather than numbers.
    ieee_special: bool,
    /// Overflow saturates to ±max (OCP saturating mode) instead of ±inf.
    saturate: bool,
}

impl Minifloat {
    pub const ALL: [Minifloat; 5] = [
        Minifloat::Bf16,
        Minifloat::Fp16,
        Minifloat::E4m3,
        Minifloat::E5m2,
        Minifloat::E2m1,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Minifloat::Bf16 => "bf16",
            Minifloat::Fp16 => "fp16",
            Minifloat::E4m3 => "fp8_e4m3",
            Minifloat::E5m2 => "fp8_e5m2",
            Minifloat::E2m1 => "fp4_e2m1",
        }
    }

    pub const fn bits(self) -> u32 {
        let l = self.layout();
        1 + l.exp_bits + l.man_bits
    }

    const fn layout(self) -> Layout {
        match self {
            Minifloat::Bf16 => Layout {
                exp_bits: 8,
                man_bits: 7,
                bias: 127,
                ieee_special: true,
                saturate: false,
            },
            Minifloat::Fp16 => Layout {
                exp_bits: 5,
                man_bits: 10,
                bias: 15,
                ieee_special: true,
                saturate: false,
            },
            Minifloat::E4m3 => Layout {
                exp_bits: 4,
                man_bits: 3,
                bias: 7,
                ieee_special: false,
                saturate: true,
            },
            Minifloat::E5m2 => Layout {
                exp_bits: 5,
                man_bits: 2,
                bias: 15,
                ieee_special: true,
                saturate: true,
            },
            Minifloat::E2m1 => Layout {
                exp_bits: 2,
                man_bits: 1,
                bias: 1,
                ieee_special: false,
                saturate: true,
            },
        }
    }

    /// The largest finite magnitude's code (sign clear).
    const fn max_code(self) -> u32 {
        let l = self.layout();
        let all = (1u32 << (l.exp_bits + l.man_bits)) - 1;
        match self {
            // S.1111.110: the all-ones mantissa of the top exponent is NaN.
            Minifloat::E4m3 => all - 1,
            // IEEE-like: the top exponent is inf/NaN.
            _ if l.ieee_special => all - (1 << l.man_bits),
            _ => all,
        }
    }

    /// The largest finite value (448 for E4M3, 57344 for E5M2, 6 for E2M1).
    pub fn max_finite(self) -> f32 {
        self.decode(self.max_code())
    }

    /// The code of NaN (sign clear), if the format has one.
    const fn nan_code(self) -> Option<u32> {
        let l = self.layout();
        match self {
            Minifloat::E2m1 => None,
            Minifloat::E4m3 => Some((1 << (l.exp_bits + l.man_bits)) - 1),
            // Quiet NaN: top exponent, top mantissa bit.
            _ => Some(((1 << l.exp_bits) - 1) << l.man_bits | 1 << (l.man_bits - 1)),
        }
    }

    const fn inf_code(self) -> Option<u32> {
        let l = self.layout();
        if l.ieee_special {
            Some(((1 << l.exp_bits) - 1) << l.man_bits)
        } else {
            None
        }
    }

    /// Encode an f32 (round to nearest, ties to even). NaN gives the format's
    /// NaN (sign kept; E2M1 has none and gives +0 — callers reject NaN).
    pub fn encode(self, x: f32) -> u32 {
        let l = self.layout();
        let width = l.exp_bits + l.man_bits;
        let bits = x.to_bits();
        let sign = (bits >> 31) << width;
        let abs = bits & 0x7fff_ffff;
        if x.is_nan() {
            return match self.nan_code() {
                Some(c) => sign | c,
                None => 0,
            };
        }
        if x.is_infinite() {
            return sign
                | match (l.saturate, self.inf_code()) {
                    (false, Some(c)) => c,
                    // E5M2 keeps infinities even when saturating finite overflow.
                    (true, Some(c)) => c,
                    (_, None) => self.max_code(),
                };
        }
        let mag = self.round_magnitude(abs);
        let code = if mag > self.max_code() {
            if l.saturate {
                self.max_code()
            } else {
                self.inf_code().unwrap_or(self.max_code())
            }
        } else {
            mag
        };
        sign | code
    }

    /// Round a finite, non-negative f32 bit pattern to this format's
    /// magnitude code; a result above `max_code` means overflow.
    fn round_magnitude(self, abs: u32) -> u32 {
        let l = self.layout();
        let e32 = (abs >> 23) as i32; // biased f32 exponent
        if e32 == 0 && abs & 0x7f_ffff == 0 {
            return 0;
        }
        // Significand with the implicit bit (f32 subnormals have none).
        let (sig, exp) = if e32 == 0 {
            (abs & 0x7f_ffff, -126)
        } else {
            ((abs & 0x7f_ffff) | 0x80_0000, e32 - 127)
        };
        // Value = sig · 2^(exp − 23). Target exponent of the result: normal
        // if exp ≥ 1 − bias, else the subnormal binade 1 − bias.
        let min_exp = 1 - l.bias;
        let target_exp = exp.max(min_exp);
        // Keep man_bits fractional bits at target_exp: shift right by
        // 23 − man_bits + (target_exp − exp).
        let shift = (23 - l.man_bits as i32 + (target_exp - exp)) as u32;
        let q = if shift >= 32 {
            // Far below half the smallest subnormal: rounds to 0 (sig < 2^24,
            // shift ≥ 32 means the value is < 2^-8 of the smallest step).
            0
        } else {
            let q = sig >> shift;
            let rem = sig & ((1u32 << shift) - 1);
            let half = 1u32 << (shift - 1);
            if rem > half || (rem == half && q & 1 == 1) {
                q + 1
            } else {
                q
            }
        };
        // q holds the significand at target_exp with man_bits fraction bits
        // (implicit bit included for normals). Re-bias; a carry into the next
        // binade is handled by the addition (q = 2^(man_bits+1) → exponent+1).
        if q == 0 {
            return 0;
        }
        let biased = target_exp + l.bias; // ≥ 1
        if q < (1 << l.man_bits) {
            // Subnormal (only possible at target_exp = min_exp).
            q
        } else {
            ((biased as u32 - 1) << l.man_bits) + q
        }
    }

    /// Decode a code (the low `bits()` bits) to f32.
    pub fn decode(self, code: u32) -> f32 {
        let l = self.layout();
        let width = l.exp_bits + l.man_bits;
        let sign = if (code >> width) & 1 == 1 {
            -1.0f32
        } else {
            1.0
        };
        let mag = code & ((1 << width) - 1);
        if Some(mag) == self.nan_code() || (l.ieee_special && mag > self.inf_code().unwrap_or(0)) {
            return f32::NAN;
        }
        if Some(mag) == self.inf_code() {
            return sign * f32::INFINITY;
        }
        let e = (mag >> l.man_bits) as i32;
        let m = mag & ((1 << l.man_bits) - 1);
        let v = if e == 0 {
            m as f32 * pow2(1 - l.bias - l.man_bits as i32)
        } else {
            ((1 << l.man_bits) + m) as f32 * pow2(e - l.bias - l.man_bits as i32)
        };
        sign * v
    }

    /// `x` rounded through the format.
    pub fn round_trip(self, x: f32) -> f32 {
        self.decode(self.encode(x))
    }
}

/// 2^e as an f32, exactly, for −149 ≤ e ≤ 127.
fn pow2(e: i32) -> f32 {
    if e >= -126 {
        f32::from_bits(((e + 127) as u32) << 23)
    } else {
        f32::from_bits(1u32 << (e + 149))
    }
}

/// E8M0 (OCP MX scale): 2^(code − 127); code 255 is NaN.
pub fn e8m0_decode(code: u8) -> f32 {
    match code {
        255 => f32::NAN,
        c => pow2_wide(i32::from(c) - 127),
    }
}

/// 2^e for −127 ≤ e ≤ 127 (2^-127 is an f32 subnormal).
fn pow2_wide(e: i32) -> f32 {
    if e >= -126 {
        pow2(e)
    } else {
        f32::from_bits(1u32 << (e + 149))
    }
}

/// Elements per MXFP4 block (OCP MX v1.0).
pub const MX_BLOCK: usize = 32;
/// Elements per NVFP4 block.
pub const NV_BLOCK: usize = 16;
/// E2M1's largest binade exponent (6 = 1.5 · 2²), OCP MX `emax_elem`.
const E2M1_EMAX: i32 = 2;

/// The shared E8M0 code of one MXFP4 block: 2^(⌊log2 amax⌋ − 2), clamped to
/// the E8M0 range; an all-zero block takes the smallest scale.
pub fn mx_scale_code(block: &[f32]) -> u8 {
    let amax = block.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if amax == 0.0 || !amax.is_finite() {
        return 0;
    }
    // ⌊log2 amax⌋ exactly from the bit pattern (subnormals included:
    // m · 2^-149 has its top bit at 31 − leading_zeros(m)).
    let bits = amax.to_bits();
    let e32 = (bits >> 23) as i32;
    let floor_log2 = if e32 == 0 {
        31 - (bits & 0x7f_ffff).leading_zeros() as i32 - 149
    } else {
        e32 - 127
    };
    ((floor_log2 - E2M1_EMAX).clamp(-127, 127) + 127) as u8
}

/// Pack 4-bit codes two per byte, element 2i in the low nibble.
pub fn pack_nibbles(codes: &[u8]) -> Vec<u8> {
    codes
        .chunks(2)
        .map(|c| (c[0] & 0xf) | (c.get(1).copied().unwrap_or(0) & 0xf) << 4)
        .collect()
}

/// Unpack `n` 4-bit codes packed by [`pack_nibbles`].
pub fn unpack_nibbles(bytes: &[u8], n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (bytes[i / 2] >> (4 * (i % 2))) & 0xf)
        .collect()
}

/// Why a block format cannot encode a tensor.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BlockFormatError {
    #[error("{len} values is not a positive multiple of the {format} block size {block}")]
    BadLength {
        format: &'static str,
        len: usize,
        block: usize,
    },
    #[error("value at flat index {index} is not finite ({value})")]
    NonFinite { index: usize, value: f32 },
    #[error("{bytes} bytes is not a whole {format} file ({what})")]
    BadBytes {
        format: &'static str,
        bytes: usize,
        what: &'static str,
    },
}

fn check_blocks(x: &[f32], block: usize, format: &'static str) -> Result<(), BlockFormatError> {
    if x.is_empty() || x.len() % block != 0 {
        return Err(BlockFormatError::BadLength {
            format,
            len: x.len(),
            block,
        });
    }
    if let Some(index) = x.iter().position(|v| !v.is_finite()) {
        return Err(BlockFormatError::NonFinite {
            index,
            value: x[index],
        });
    }
    Ok(())
}

/// Bytes of one MXFP4 block: the E8M0 scale, then 16 bytes of packed E2M1.
pub const MX_BLOCK_BYTES: usize = 1 + MX_BLOCK / 2;
/// Bytes of one NVFP4 block: the E4M3 scale, then 8 bytes of packed E2M1.
pub const NV_BLOCK_BYTES: usize = 1 + NV_BLOCK / 2;

/// MXFP4-encode `x` (a multiple of 32 finite values): per block, the E8M0
/// scale byte then 16 bytes of E2M1 codes (element 2i in the low nibble).
pub fn mxfp4_quantize(x: &[f32]) -> Result<Vec<u8>, BlockFormatError> {
    check_blocks(x, MX_BLOCK, "mxfp4")?;
    let mut out = Vec::with_capacity(x.len() / MX_BLOCK * MX_BLOCK_BYTES);
    for block in x.chunks_exact(MX_BLOCK) {
        let code = mx_scale_code(block);
        let scale = e8m0_decode(code);
        out.push(code);
        let codes: Vec<u8> = block
            .iter()
            .map(|&v| Minifloat::E2m1.encode(v / scale) as u8)
            .collect();
        out.extend(pack_nibbles(&codes));
    }
    Ok(out)
}

/// Decode MXFP4 blocks written by [`mxfp4_quantize`].
pub fn mxfp4_dequantize(bytes: &[u8]) -> Result<Vec<f32>, BlockFormatError> {
    if bytes.is_empty() || bytes.len() % MX_BLOCK_BYTES != 0 {
        return Err(BlockFormatError::BadBytes {
            format: "mxfp4",
            bytes: bytes.len(),
            what: "a multiple of 17-byte blocks",
        });
    }
    let mut out = Vec::with_capacity(bytes.len() / MX_BLOCK_BYTES * MX_BLOCK);
    for b in bytes.chunks_exact(MX_BLOCK_BYTES) {
        let scale = e8m0_decode(b[0]);
        for c in unpack_nibbles(&b[1..], MX_BLOCK) {
            out.push(Minifloat::E2m1.decode(u32::from(c)) * scale);
        }
    }
    Ok(out)
}

/// The NVFP4 per-tensor FP32 scale: amax / (6 · 448), so the largest block
/// scale is E4M3's largest value; 1 for an all-zero tensor.
pub fn nvfp4_global_scale(x: &[f32]) -> f32 {
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let g = amax / (6.0 * 448.0);
    if g > 0.0 && g.is_finite() { g } else { 1.0 }
}

/// NVFP4-encode `x` (a multiple of 16 finite values): the f32 per-tensor
/// scale (little-endian), then per block the E4M3 scale byte and 8 bytes of
/// E2M1 codes (element 2i in the low nibble).
pub fn nvfp4_quantize(x: &[f32]) -> Result<Vec<u8>, BlockFormatError> {
    check_blocks(x, NV_BLOCK, "nvfp4")?;
    let global = nvfp4_global_scale(x);
    let mut out = Vec::with_capacity(4 + x.len() / NV_BLOCK * NV_BLOCK_BYTES);
    out.extend(global.to_le_bytes());
    for block in x.chunks_exact(NV_BLOCK) {
        let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let code = Minifloat::E4m3.encode(amax / 6.0 / global) as u8;
        let scale = Minifloat::E4m3.decode(u32::from(code)) * global;
        out.push(code);
        let codes: Vec<u8> = block
            .iter()
            .map(|&v| {
                if scale == 0.0 {
                    0
                } else {
                    Minifloat::E2m1.encode(v / scale) as u8
                }
            })
            .collect();
        out.extend(pack_nibbles(&codes));
    }
    Ok(out)
}

/// Decode NVFP4 written by [`nvfp4_quantize`].
pub fn nvfp4_dequantize(bytes: &[u8]) -> Result<Vec<f32>, BlockFormatError> {
    if bytes.len() < 4 + NV_BLOCK_BYTES || (bytes.len() - 4) % NV_BLOCK_BYTES != 0 {
        return Err(BlockFormatError::BadBytes {
            format: "nvfp4",
            bytes: bytes.len(),
            what: "a 4-byte scale then a multiple of 9-byte blocks",
        });
    }
    let global = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let mut out = Vec::with_capacity((bytes.len() - 4) / NV_BLOCK_BYTES * NV_BLOCK);
    for b in bytes[4..].chunks_exact(NV_BLOCK_BYTES) {
        let scale = Minifloat::E4m3.decode(u32::from(b[0])) * global;
        for c in unpack_nibbles(&b[1..], NV_BLOCK) {
            out.push(Minifloat::E2m1.decode(u32::from(c)) * scale);
        }
    }
    Ok(out)
}

/// True bits per weight of the block formats, scales included: MXFP4
/// 4 + 8/32; NVFP4 4 + 8/16 + 32/n.
pub fn block_bits_per_weight(format: &str, n: usize) -> f64 {
    match format {
        "mxfp4" => 4.0 + 8.0 / MX_BLOCK as f64,
        _ => 4.0 + 8.0 / NV_BLOCK as f64 + 32.0 / n.max(1) as f64,
    }
}

/// A scaled 8/16-bit float tensor: `scales` f32 values (one per tensor or
/// per row of `rows` equal rows), each group's values divided by its scale
/// and encoded. BF16/FP16 take scale 1 (no scaling: they are plain
/// storage); FP8 takes amax / max_finite so the group's largest value maps
/// to the format's largest (OCP practice for per-tensor / per-channel FP8).
pub fn float_quantize(x: &[f32], format: Minifloat, rows: usize) -> (Vec<f32>, Vec<u32>) {
    let rows = rows.max(1);
    let per = x.len() / rows;
    let mut scales = Vec::with_capacity(rows);
    let mut codes = Vec::with_capacity(x.len());
    for row in x.chunks(per.max(1)) {
        let scale = match format {
            Minifloat::Bf16 | Minifloat::Fp16 => 1.0,
            _ => {
                let amax = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let s = amax / format.max_finite();
                if s > 0.0 && s.is_finite() { s } else { 1.0 }
            }
        };
        scales.push(scale);
        codes.extend(row.iter().map(|&v| format.encode(v / scale)));
    }
    (scales, codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_of_each_format() {
        assert_eq!(Minifloat::E4m3.max_finite(), 448.0);
        assert_eq!(Minifloat::E5m2.max_finite(), 57344.0);
        assert_eq!(Minifloat::E2m1.max_finite(), 6.0);
        assert_eq!(Minifloat::Fp16.max_finite(), 65504.0);
        assert_eq!(Minifloat::Bf16.max_finite(), f32::from_bits(0x7f7f_0000));
        // E2M1's eight magnitudes.
        let m: Vec<f32> = (0..8).map(|c| Minifloat::E2m1.decode(c)).collect();
        assert_eq!(m, [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]);
        // Ties to even: 2.5 → 2, 3.5 → 4, 5 → 4 (4 is even), 0.25 → 0.
        for (x, y) in [(2.5, 2.0), (3.5, 4.0), (5.0, 4.0), (0.25, 0.0), (0.75, 1.0)] {
            assert_eq!(Minifloat::E2m1.round_trip(x), y, "{x}");
        }
        // Saturation and NaN.
        assert_eq!(Minifloat::E4m3.encode(1e9), 0x7e);
        assert_eq!(Minifloat::E4m3.encode(f32::NEG_INFINITY), 0xfe);
        assert_eq!(Minifloat::E4m3.encode(f32::NAN), 0x7f);
        assert!(Minifloat::E4m3.decode(0xff).is_nan());
        assert_eq!(Minifloat::E5m2.encode(1e9), 0x7b);
        assert_eq!(Minifloat::E5m2.encode(f32::INFINITY), 0x7c);
        assert_eq!(Minifloat::Fp16.encode(1e9), 0x7c00);
        // Smallest subnormals and signed zero.
        assert_eq!(Minifloat::E4m3.decode(1), 2f32.powi(-9));
        assert_eq!(Minifloat::E5m2.decode(1), 2f32.powi(-16));
        assert_eq!(Minifloat::E4m3.encode(-0.0), 0x80);
        assert_eq!(
            Minifloat::E4m3.round_trip(2f32.powi(-10)),
            0.0,
            "tie to even 0"
        );
        assert_eq!(
            Minifloat::E4m3.round_trip(3.0 * 2f32.powi(-10)),
            2f32.powi(-8),
            "tie up to even"
        );
    }

    #[test]
    fn fp16_and_bf16_agree_with_the_half_crate() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = f32::from_bits(state as u32);
            let h = half::f16::from_f32(x);
            let b = half::bf16::from_f32(x);
            if x.is_nan() {
                assert!(Minifloat::Fp16.round_trip(x).is_nan());
                assert!(Minifloat::Bf16.round_trip(x).is_nan());
                continue;
            }
            assert_eq!(Minifloat::Fp16.encode(x), u32::from(h.to_bits()), "{x:e}");
            assert_eq!(Minifloat::Bf16.encode(x), u32::from(b.to_bits()), "{x:e}");
            assert_eq!(
                Minifloat::Fp16.round_trip(x).to_bits(),
                h.to_f32().to_bits()
            );
        }
    }

    #[test]
    fn every_code_decodes_and_re_encodes_to_itself() {
        for f in Minifloat::ALL {
            let n = 1u32 << f.bits().min(16);
            for c in 0..n {
                let v = f.decode(c);
                if v.is_nan() {
                    continue;
                }
                assert_eq!(f.encode(v), c, "{} code {c:#x} = {v:e}", f.name());
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Without a Python reference: every finite in-range value rounds to
        /// a nearest code (ties to the even code), and rounding is monotone.
        #[test]
        fn rounding_is_to_a_nearest_code_and_monotone(
            bits in proptest::prelude::any::<u32>(),
            other in proptest::prelude::any::<u32>(),
            which in 0usize..3,
        ) {
            let f = [Minifloat::E4m3, Minifloat::E5m2, Minifloat::E2m1][which];
            let (x, y) = (f32::from_bits(bits), f32::from_bits(other));
            proptest::prop_assume!(x.is_finite() && y.is_finite());
            let max = f.max_finite();
            let x = x.clamp(-max, max);
            let y = y.clamp(-max, max);
            let got = f.round_trip(x);
            let best = (0..1u32 << f.bits())
                .map(|c| f.decode(c))
                .filter(|v| v.is_finite())
                .map(|v| (f64::from(v) - f64::from(x)).abs())
                .fold(f64::INFINITY, f64::min);
            proptest::prop_assert_eq!((f64::from(got) - f64::from(x)).abs(), best);
            if x <= y {
                proptest::prop_assert!(got <= f.round_trip(y));
            }
        }
    }

    #[test]
    fn mx_scale_is_the_ocp_power_of_two() {
        // amax 6 → ⌊log2 6⌋ − 2 = 0 → 2^0; amax 1 → 2^-2; amax 0 → 2^-127.
        let mut b = [0.0f32; 32];
        b[3] = -6.0;
        assert_eq!(e8m0_decode(mx_scale_code(&b)), 1.0);
        b[3] = 1.0;
        assert_eq!(e8m0_decode(mx_scale_code(&b)), 0.25);
        assert_eq!(mx_scale_code(&[0.0; 32]), 0);
        assert_eq!(e8m0_decode(0), f32::from_bits(1 << 22));
        // amax 7 → scale 1, 7 saturates to 6.
        b[3] = 7.0;
        let enc = mxfp4_quantize(&b).unwrap();
        assert_eq!(enc.len(), MX_BLOCK_BYTES);
        assert_eq!(mxfp4_dequantize(&enc).unwrap()[3], 6.0);
        assert_eq!(block_bits_per_weight("mxfp4", 64), 4.25);
        assert_eq!(block_bits_per_weight("nvfp4", 64), 4.5 + 0.5);
    }

    #[test]
    fn nvfp4_round_trips_block_maxima_closely() {
        let x: Vec<f32> = (0..64)
            .map(|i| ((i * 37 % 64) as f32 - 31.5) * 0.37)
            .collect();
        let enc = nvfp4_quantize(&x).unwrap();
        assert_eq!(enc.len(), 4 + 4 * NV_BLOCK_BYTES);
        let y = nvfp4_dequantize(&enc).unwrap();
        for (b, (xs, ys)) in x.chunks(16).zip(y.chunks(16)).enumerate() {
            let amax = xs.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (a, q) in xs.iter().zip(ys) {
                // Half the widest E2M1 step (2 of 6) of the block, plus the
                // E4M3 scale's own rounding (≤ 1/16).
                assert!(
                    (a - q).abs() <= amax / 6.0 * 1.07 + 1e-6,
                    "block {b}: {a} {q}"
                );
            }
        }
        assert!(matches!(
            nvfp4_quantize(&x[..10]),
            Err(BlockFormatError::BadLength { .. })
        ));
    }
}
