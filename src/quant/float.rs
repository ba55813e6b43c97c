//! FP16 and FP32 as "no integer quantization" precisions, so a study can put
//! them on the same axis as integer bit widths: FP32 is the identity, FP16 is
//! a round trip through IEEE half precision (round to nearest even; values
//! beyond ±65504 become ±inf, as on real fp16 hardware).

/// Replace each value by its IEEE f16 round trip.
pub fn fp16_round_trip_in_place(xs: &mut [f32]) {
    for x in xs.iter_mut() {
        *x = half::f16::from_f32(*x).to_f32();
    }
}

/// Bytes per value of a float precision given in bits (16 or 32).
pub fn float_bytes(bits: u8) -> usize {
    usize::from(bits) / 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp16_rounds_to_nearest_half() {
        let mut v = [1.0f32, 0.1, 65504.0, 1e-8, 70000.0];
        fp16_round_trip_in_place(&mut v);
        assert_eq!(v[0], 1.0);
        assert_eq!(v[1], half::f16::from_f32(0.1).to_f32());
        assert!((v[1] - 0.1).abs() < 1e-4);
        assert_eq!(v[2], 65504.0);
        assert_eq!(v[3], 0.0);
        assert_eq!(v[4], f32::INFINITY);
        assert_eq!(float_bytes(16), 2);
    }
}
