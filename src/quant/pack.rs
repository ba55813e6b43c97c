//! Bit packing of unsigned codes, LSB first.
//!
//! Value i occupies bits [i·b, (i+1)·b) of a little-endian bit stream: at 4
//! bits value 2k is the low nibble of byte k and value 2k+1 the high nibble; at
//! 2 bits four values per byte from the low end. Widths 1, 2, 4 and 8 have
//! dedicated loops that vectorise; other widths go through a 64-bit
//! accumulator. Packing a run that starts at a multiple of 8 values always
//! starts on a byte boundary, which is what lets the quantizer pack tiles in
//! parallel.

/// Bytes needed for `n` codes of `bits` bits.
pub fn packed_len(n: usize, bits: u8) -> usize {
    (n * bits as usize).div_ceil(8)
}

/// Pack `codes` (each < 2^bits) into `out`, which must hold `packed_len` bytes.
pub fn pack(codes: &[u16], bits: u8, out: &mut [u8]) {
    let n = codes.len();
    debug_assert!(out.len() >= packed_len(n, bits));
    match bits {
        8 => {
            for (o, &c) in out.iter_mut().zip(codes) {
                *o = c as u8;
            }
        }
        4 => {
            let pairs = n / 2;
            for (o, c) in out[..pairs].iter_mut().zip(codes.chunks_exact(2)) {
                *o = (c[0] as u8 & 0x0f) | ((c[1] as u8) << 4);
            }
            if n % 2 == 1 {
                out[pairs] = codes[n - 1] as u8 & 0x0f;
            }
        }
        2 | 1 => {
            let per = 8 / bits as usize;
            let mask = (1u8 << bits) - 1;
            for (o, c) in out.iter_mut().zip(codes.chunks(per)) {
                let mut byte = 0u8;
                for (j, &v) in c.iter().enumerate() {
                    byte |= (v as u8 & mask) << (j * bits as usize);
                }
                *o = byte;
            }
        }
        _ => {
            let mask = (1u64 << bits) - 1;
            let mut acc = 0u64;
            let mut filled = 0u32;
            let mut k = 0;
            for &c in codes {
                acc |= (u64::from(c) & mask) << filled;
                filled += u32::from(bits);
                while filled >= 8 {
                    out[k] = acc as u8;
                    k += 1;
                    acc >>= 8;
                    filled -= 8;
                }
            }
            if filled > 0 {
                out[k] = acc as u8;
            }
        }
    }
}

/// Unpack `out.len()` codes of `bits` bits from `bytes`.
pub fn unpack(bytes: &[u8], bits: u8, out: &mut [u16]) {
    let n = out.len();
    debug_assert!(bytes.len() >= packed_len(n, bits));
    match bits {
        8 => {
            for (o, &b) in out.iter_mut().zip(bytes) {
                *o = u16::from(b);
            }
        }
        4 => {
            let pairs = n / 2;
            for (o, &b) in out.chunks_exact_mut(2).zip(&bytes[..pairs]) {
                o[0] = u16::from(b & 0x0f);
                o[1] = u16::from(b >> 4);
            }
            if n % 2 == 1 {
                out[n - 1] = u16::from(bytes[pairs] & 0x0f);
            }
        }
        2 | 1 => {
            let per = 8 / bits as usize;
            let mask = (1u8 << bits) - 1;
            for (o, &b) in out.chunks_mut(per).zip(bytes) {
                for (j, v) in o.iter_mut().enumerate() {
                    *v = u16::from((b >> (j * bits as usize)) & mask);
                }
            }
        }
        _ => {
            let mask = (1u64 << bits) - 1;
            let mut acc = 0u64;
            let mut filled = 0u32;
            let mut k = 0;
            for o in out.iter_mut() {
                while filled < u32::from(bits) {
                    acc |= u64::from(bytes[k]) << filled;
                    k += 1;
                    filled += 8;
                }
                *o = (acc & mask) as u16;
                acc >>= bits;
                filled -= u32::from(bits);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nibble_and_crumb_order_is_lsb_first() {
        let mut out = [0u8; 2];
        pack(&[0x1, 0x2, 0x3], 4, &mut out);
        assert_eq!(out, [0x21, 0x03]);
        let mut out = [0u8; 1];
        pack(&[1, 2, 3, 0], 2, &mut out);
        assert_eq!(out, [0b00_11_10_01]);
        let mut out = [0u8; 2];
        pack(&[0b101, 0b011, 0b111], 3, &mut out);
        assert_eq!(out, [0b11_011_101, 0b0000_0001]);
    }

    proptest! {
        #[test]
        fn pack_unpack_roundtrips_every_width(bits in 1u8..=16, raw in prop::collection::vec(any::<u16>(), 0..200)) {
            let mask = if bits == 16 { u16::MAX } else { (1u16 << bits) - 1 };
            let codes: Vec<u16> = raw.iter().map(|c| c & mask).collect();
            let mut bytes = vec![0u8; packed_len(codes.len(), bits)];
            pack(&codes, bits, &mut bytes);
            let mut back = vec![0u16; codes.len()];
            unpack(&bytes, bits, &mut back);
            prop_assert_eq!(back, codes);
        }
    }
}
