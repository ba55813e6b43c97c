//! The packed quantized tensor, and `fake_quantize`, its allocation-free twin.
//!
//! Work is split into batches of whole groups (about `BATCH_VALUES` values, a
//! multiple of 8 so each batch's codes start on a byte boundary); rayon runs
//! batches in parallel and every value's result depends only on its group, so
//! the bits are the same for any thread count. Inside a batch, pass 1 computes
//! each group's scale and zero point, pass 2 quantizes tile by tile into a
//! stack buffer and packs it — the batch stays in cache between the passes.

use super::block4;
use super::calibrate::{calibrate_with, stats};
use super::kernel::{Kernel, kernel_for_range};
use super::layout::Layout;
use super::metrics::{BlockSums, ErrorMetrics, METRIC_BLOCK, error_metrics, from_block_totals};
use super::pack::{pack, packed_len, unpack};
use super::spec::{Calibration, QuantError, QuantSpec};
use rayon::prelude::*;

/// Target values per parallel batch (a batch is never split inside a group).
const BATCH_VALUES: usize = 1 << 15;
/// Codes quantized into the stack buffer before packing (multiple of 8).
const TILE: usize = 1024;

/// A tensor of packed integer codes with per-group scales and zero points.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedTensor {
    shape: Vec<usize>,
    spec: QuantSpec,
    /// Codes q − qmin (unsigned), `spec.bits` bits each, LSB first (see `pack`).
    codes: Vec<u8>,
    /// One per group, already rounded to `spec.scale_dtype`.
    scales: Vec<f32>,
    /// One per group for asymmetric schemes, empty otherwise.
    zero_points: Vec<i32>,
}

/// Batch geometry: `values` per batch and the `groups` it holds.
#[derive(Clone, Copy)]
struct Batching {
    values: usize,
    groups: usize,
}

fn batching(l: &Layout) -> Batching {
    // Groups are all `group_len` long when rows divide evenly (or there is a
    // single row, whose short group is the tensor's last); otherwise a batch
    // must hold whole rows.
    let uniform = l.row_len % l.group_len == 0 || l.row_len == l.numel;
    let unit = if uniform { l.group_len } else { l.row_len };
    let units = (BATCH_VALUES / unit).max(1).next_multiple_of(8);
    let groups_per_unit = if uniform { 1 } else { l.groups_per_row };
    Batching {
        values: unit * units,
        groups: groups_per_unit * units,
    }
}

#[inline]
fn group_kernel(xs: &[f32], spec: &QuantSpec) -> Option<Kernel> {
    let (lo, hi, finite) = stats(xs);
    if !finite {
        return None;
    }
    let (lo, hi) = match spec.calibration {
        Calibration::MinMax => (lo, hi),
        m => calibrate_with(
            xs,
            spec.bits,
            spec.scheme,
            m,
            spec.percentile,
            spec.scale_dtype,
        ),
    };
    Some(kernel_for_range(
        lo,
        hi,
        spec.bits,
        spec.scheme,
        spec.scale_dtype,
    ))
}

fn non_finite(data: &[f32]) -> QuantError {
    let index = data.iter().position(|x| !x.is_finite()).unwrap_or(0);
    QuantError::NonFinite {
        index,
        value: data.get(index).copied().unwrap_or(f32::NAN),
    }
}

impl QuantizedTensor {
    /// Quantize and pack `data` (row-major `shape`). Fails on an invalid spec,
    /// a shape that does not match, an empty tensor or non-finite values.
    pub fn quantize(
        data: &[f32],
        shape: &[usize],
        spec: &QuantSpec,
    ) -> Result<QuantizedTensor, QuantError> {
        let mut q = QuantizedTensor {
            shape: Vec::new(),
            spec: *spec,
            codes: Vec::new(),
            scales: Vec::new(),
            zero_points: Vec::new(),
        };
        q.requantize(data, shape, spec)?;
        Ok(q)
    }

    /// [`quantize`](Self::quantize) into this tensor's buffers: a loop that
    /// quantizes same-sized tensors again and again (a fitness evaluation)
    /// allocates nothing after the first call. On error the tensor is left
    /// empty (numel 0) and must be requantized before other use.
    pub fn requantize(
        &mut self,
        data: &[f32],
        shape: &[usize],
        spec: &QuantSpec,
    ) -> Result<(), QuantError> {
        let result = self.requantize_inner(data, shape, spec);
        if result.is_err() {
            self.shape.clear();
            self.shape.push(0);
            self.codes.clear();
            self.scales.clear();
            self.zero_points.clear();
        }
        result
    }

    fn requantize_inner(
        &mut self,
        data: &[f32],
        shape: &[usize],
        spec: &QuantSpec,
    ) -> Result<(), QuantError> {
        let l = Layout::new(shape, data.len(), spec)?;
        let b = batching(&l);
        let bits = spec.bits;
        let (qmin, _) = spec.qrange();
        let n_groups = l.n_groups();
        // Every byte, scale and zero point below is overwritten, so stale
        // contents of reused buffers never leak into the result.
        let QuantizedTensor {
            codes,
            scales,
            zero_points: zps,
            ..
        } = self;
        codes.resize(packed_len(l.numel, bits), 0);
        scales.resize(n_groups, 0.0);
        zps.resize(n_groups, 0);
        let batch_bytes = b.values * bits as usize / 8;
        // Small groups that tile the tensor evenly take a fused one-pass route.
        let small =
            (b.groups * l.group_len == b.values && l.group_len <= TILE / 8).then_some(l.group_len);
        let ok = codes
            .par_chunks_mut(batch_bytes)
            .zip(scales.par_chunks_mut(b.groups))
            .zip(zps.par_chunks_mut(b.groups))
            .enumerate()
            .map(|(bi, ((codes, scales), zps))| {
                let start = bi * b.values;
                let end = (start + b.values).min(l.numel);
                let g0 = bi * b.groups;
                if let Some(g) = small {
                    return quantize_small_groups(&data[start..end], g, spec, codes, scales, zps);
                }
                let mut ok = true;
                l.for_segments(start, end, |g, a, e| {
                    match group_kernel(&data[a..e], spec) {
                        Some(k) => {
                            scales[g - g0] = k.scale;
                            zps[g - g0] = k.zp;
                        }
                        None => ok = false,
                    }
                });
                if !ok {
                    return false;
                }
                let mut buf = [0u16; TILE];
                let mut t = start;
                while t < end {
                    let te = (t + TILE).min(end);
                    l.for_segments(t, te, |g, a, e| {
                        let k = Kernel::new(scales[g - g0], zps[g - g0], qmin, k_qmax(bits));
                        for (o, &w) in buf[a - t..e - t].iter_mut().zip(&data[a..e]) {
                            *o = k.ucode(w);
                        }
                    });
                    let off = (t - start) * bits as usize / 8;
                    pack(&buf[..te - t], bits, &mut codes[off..]);
                    t = te;
                }
                true
            })
            .reduce(|| true, |a, b| a && b);
        if !ok {
            return Err(non_finite(data));
        }
        if !spec.scheme.has_zero_point() {
            zps.clear();
        }
        self.shape.clear();
        self.shape.extend_from_slice(shape);
        self.spec = *spec;
        Ok(())
    }

    /// Rebuild from stored parts (a packed file); checks that sizes agree.
    pub fn from_parts(
        shape: Vec<usize>,
        spec: QuantSpec,
        codes: Vec<u8>,
        scales: Vec<f32>,
        zero_points: Vec<i32>,
    ) -> Result<QuantizedTensor, QuantError> {
        let numel: usize = shape.iter().product();
        let l = Layout::new(&shape, numel, &spec)?;
        let (qmin, qmax) = spec.qrange();
        let want_zp = if spec.scheme.has_zero_point() {
            l.n_groups()
        } else {
            0
        };
        if codes.len() != packed_len(numel, spec.bits)
            || scales.len() != l.n_groups()
            || zero_points.len() != want_zp
        {
            return Err(QuantError::InvalidSpec(format!(
                "stored sizes do not match shape {shape:?}: {} code bytes, {} scales, {} zero points",
                codes.len(),
                scales.len(),
                zero_points.len()
            )));
        }
        if scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(QuantError::InvalidSpec(
                "a stored scale is not positive and finite".into(),
            ));
        }
        if zero_points.iter().any(|z| !(qmin..=qmax).contains(z)) {
            return Err(QuantError::InvalidSpec(format!(
                "a stored zero point is outside [{qmin}, {qmax}]"
            )));
        }
        Ok(QuantizedTensor {
            shape,
            spec,
            codes,
            scales,
            zero_points,
        })
    }

    /// Unpack and dequantize into `out` (length `numel`).
    ///
    /// # Panics
    /// If `out.len()` differs from the number of values.
    pub fn dequantize_into(&self, out: &mut [f32]) {
        let l = Layout::new(&self.shape, out.len(), &self.spec)
            .expect("dequantize_into: output length must equal numel");
        let b = batching(&l);
        let bits = self.spec.bits;
        let (qmin, qmax) = self.spec.qrange();
        let batch_bytes = b.values * bits as usize / 8;
        let zp_of = |g: usize| self.zero_points.get(g).copied().unwrap_or(0);
        out.par_chunks_mut(b.values)
            .zip(self.codes.par_chunks(batch_bytes))
            .enumerate()
            .for_each(|(bi, (out, codes))| {
                let start = bi * b.values;
                let end = start + out.len();
                let mut buf = [0u16; TILE];
                let mut t = start;
                while t < end {
                    let te = (t + TILE).min(end);
                    let off = (t - start) * bits as usize / 8;
                    unpack(&codes[off..], bits, &mut buf[..te - t]);
                    l.for_segments(t, te, |g, a, e| {
                        let k = Kernel::new(self.scales[g], zp_of(g), qmin, qmax);
                        for (o, &c) in out[a - start..e - start].iter_mut().zip(&buf[a - t..e - t])
                        {
                            *o = k.value_u(c);
                        }
                    });
                    t = te;
                }
            });
    }

    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.numel()];
        self.dequantize_into(&mut out);
        out
    }

    /// [`error_metrics_chunked`](super::metrics::error_metrics_chunked) of
    /// `reference` against this tensor's values, bit for bit, decoded tile by
    /// tile into the stack instead of into a second tensor-sized buffer.
    ///
    /// # Panics
    /// If `reference.len()` differs from the number of values.
    pub fn error_metrics(&self, reference: &[f32]) -> ErrorMetrics {
        let l = Layout::new(&self.shape, reference.len(), &self.spec)
            .expect("error_metrics: reference length must equal numel");
        let blocks: Vec<[f64; 5]> = reference
            .par_chunks(METRIC_BLOCK)
            .enumerate()
            .map(|(bi, r)| self.block_sums(&l, bi * METRIC_BLOCK, r))
            .collect();
        from_block_totals(reference.len(), &blocks)
            .unwrap_or_else(|| error_metrics(reference, &self.dequantize()))
    }

    /// [`quantize`](Self::quantize), then [`error_metrics`](Self::error_metrics)
    /// against `data`. (Decoding each batch's metric blocks inside the
    /// quantize pass, while they are in cache, was measured: no faster on
    /// the 2-core VM than this second streamed pass, so it is not done.)
    pub fn quantize_measured(
        data: &[f32],
        shape: &[usize],
        spec: &QuantSpec,
    ) -> Result<(QuantizedTensor, ErrorMetrics), QuantError> {
        let q = QuantizedTensor::quantize(data, shape, spec)?;
        let metrics = q.error_metrics(data);
        Ok((q, metrics))
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// True storage size: packed codes + scales (in their dtype) + zero points
    /// (one byte each up to 8 bits, two bytes above).
    pub fn size_bytes(&self) -> usize {
        self.codes.len()
            + self.scales.len() * self.spec.scale_dtype.bytes()
            + self.zero_points.len() * zero_point_bytes(self.spec.bits)
    }

    /// size_bytes · 8 / numel, metadata included.
    pub fn bits_per_weight(&self) -> f64 {
        self.size_bytes() as f64 * 8.0 / self.numel() as f64
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn spec(&self) -> &QuantSpec {
        &self.spec
    }
    /// Packed codes (q − qmin), LSB first.
    pub fn codes(&self) -> &[u8] {
        &self.codes
    }
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }
    /// Empty unless the scheme is asymmetric.
    pub fn zero_points(&self) -> &[i32] {
        &self.zero_points
    }
    /// Signed code of value `i` (for inspection and tests).
    pub fn code(&self, i: usize) -> i32 {
        let bits = self.spec.bits;
        let first = i * bits as usize / 8;
        let shift = i * bits as usize % 8;
        let mut acc = 0u32;
        for (j, &b) in self.codes[first..(first + 3).min(self.codes.len())]
            .iter()
            .enumerate()
        {
            acc |= u32::from(b) << (8 * j);
        }
        let u = (acc >> shift) & ((1u32 << bits) - 1);
        u as i32 + self.spec.qrange().0
    }
}

impl QuantizedTensor {
    /// [`BlockSums`] of `reference` (the values from `start`, `start` a
    /// multiple of [`METRIC_BLOCK`]) against their decoded codes, decoded
    /// tile by tile into the stack exactly as `dequantize_into` decodes.
    fn block_sums(&self, l: &Layout, start: usize, reference: &[f32]) -> [f64; 5] {
        let bits = self.spec.bits as usize;
        let (qmin, qmax) = self.spec.qrange();
        let mut codes = [0u16; TILE];
        let mut vals = [0f32; TILE];
        let mut sums = BlockSums::default();
        // Groups that tile the tensor evenly and fit a tile a whole number
        // of times start at multiples of their length.
        let gl = l.group_len;
        let uniform = l.row_len % gl == 0 || l.row_len == l.numel;
        let small = uniform && gl <= TILE && TILE % gl == 0;
        for (ti, r) in reference.chunks(TILE).enumerate() {
            let t = start + ti * TILE;
            unpack(
                &self.codes[t * bits / 8..],
                self.spec.bits,
                &mut codes[..r.len()],
            );
            let n = r.len();
            if small {
                // Whole groups, numbered by position: no segment walk.
                let g = t / gl;
                let groups = vals[..n].chunks_mut(gl).zip(codes[..n].chunks(gl));
                for (j, (vs, cs)) in groups.enumerate() {
                    let zp = self.zero_points.get(g + j).copied().unwrap_or(0);
                    let k = Kernel::new(self.scales[g + j], zp, qmin, qmax);
                    for (o, &c) in vs.iter_mut().zip(cs) {
                        *o = k.value_u(c);
                    }
                }
            } else {
                l.for_segments(t, t + n, |g, a, e| {
                    let zp = self.zero_points.get(g).copied().unwrap_or(0);
                    let k = Kernel::new(self.scales[g], zp, qmin, qmax);
                    for (o, &c) in vals[a - t..e - t].iter_mut().zip(&codes[a - t..e - t]) {
                        *o = k.value_u(c);
                    }
                });
            }
            sums.add(r, &vals[..n]);
        }
        sums.total()
    }
}

/// One pass over a batch of equal groups of `g` values (the last may be
/// short): each group's kernel is computed and used at once, codes go to a
/// stack tile whose length is a multiple of both `g` and 8 so packing stays
/// byte-aligned. Blocks of 4 under the chaos spec go eight at a time through
/// `block4`, at 4 bits straight to nibbles.
fn quantize_small_groups(
    data: &[f32],
    g: usize,
    spec: &QuantSpec,
    codes: &mut [u8],
    scales: &mut [f32],
    zps: &mut [i32],
) -> bool {
    let bits = spec.bits;
    let tile = (TILE / (8 * g)) * 8 * g;
    let mut buf = [0u16; TILE];
    let mut gi = 0;
    let soa = block4::applies(g, spec);
    for (ti, chunk) in data.chunks(tile).enumerate() {
        let byte0 = ti * tile * bits as usize / 8;
        let mut done = 0;
        if soa {
            for (xs, out) in chunk
                .chunks_exact(block4::VALUES)
                .zip(buf.chunks_exact_mut(block4::VALUES))
            {
                #[cfg(target_arch = "x86_64")]
                if bits == 4 {
                    let at = byte0 + done / 2;
                    if super::block4_sse2::eight_blocks_int4(
                        xs,
                        spec.scheme == crate::quant::Scheme::Asymmetric,
                        &mut codes[at..at + 16],
                        &mut scales[gi..gi + 8],
                        &mut zps[gi..gi + 8],
                    ) {
                        gi += block4::LANES;
                        done += block4::VALUES;
                        continue;
                    }
                }
                let Some(lanes) = block4::eight_blocks(xs, spec) else {
                    return false;
                };
                for j in 0..block4::LANES {
                    scales[gi + j] = lanes.s[j];
                    zps[gi + j] = lanes.zp(j);
                }
                if bits == 4 {
                    let at = byte0 + done / 2;
                    lanes.write_nibbles(&mut codes[at..at + block4::VALUES / 2]);
                } else {
                    lanes.write_codes(out);
                }
                gi += block4::LANES;
                done += block4::VALUES;
            }
        }
        // With nibbles already written, the tile's remainder packs from the
        // buffer start at its own (byte-aligned: done is a multiple of 32) offset.
        let (from, skip) = if soa && bits == 4 {
            (0, done)
        } else {
            (done, 0)
        };
        for (grp, out) in chunk[done..].chunks(g).zip(buf[from..].chunks_mut(g)) {
            let Some(k) = group_kernel(grp, spec) else {
                return false;
            };
            scales[gi] = k.scale;
            zps[gi] = k.zp;
            gi += 1;
            for (o, &w) in out.iter_mut().zip(grp) {
                *o = k.ucode(w);
            }
        }
        let n = chunk.len() - skip;
        pack(
            &buf[..n],
            bits,
            &mut codes[byte0 + skip * bits as usize / 8..],
        );
    }
    true
}

/// Bytes per stored zero point: i8 up to 8 bits, i16 above.
pub(crate) fn zero_point_bytes(bits: u8) -> usize {
    if bits <= 8 { 1 } else { 2 }
}

#[inline(always)]
fn k_qmax(bits: u8) -> i32 {
    (1i32 << (bits - 1)) - 1
}

/// quantize → dequantize without packing, into `out`: the fast path for
/// fitness evaluation. Bit-identical to `QuantizedTensor::quantize` followed by
/// `dequantize_into`, and allocation-free.
pub fn fake_quantize(
    data: &[f32],
    shape: &[usize],
    spec: &QuantSpec,
    out: &mut [f32],
) -> Result<(), QuantError> {
    let l = Layout::new(shape, data.len(), spec)?;
    if out.len() != data.len() {
        return Err(QuantError::ShapeMismatch {
            shape: shape.to_vec(),
            expected: data.len(),
            actual: out.len(),
        });
    }
    let b = batching(&l);
    let soa = b.groups * l.group_len == b.values && block4::applies(l.group_len, spec);
    let qmin = spec.qrange().0;
    let ok = out
        .par_chunks_mut(b.values)
        .enumerate()
        .map(|(bi, out)| {
            let mut start = bi * b.values;
            let mut out = out;
            if soa {
                let n = out.len() / block4::VALUES * block4::VALUES;
                let (head, tail) = out.split_at_mut(n);
                for (xs, o) in data[start..start + n]
                    .chunks_exact(block4::VALUES)
                    .zip(head.chunks_exact_mut(block4::VALUES))
                {
                    let Some(lanes) = block4::eight_blocks(xs, spec) else {
                        return false;
                    };
                    lanes.write_values(qmin, o);
                }
                start += n;
                out = tail;
            }
            let mut ok = true;
            l.for_segments(start, start + out.len(), |_, a, e| {
                match group_kernel(&data[a..e], spec) {
                    Some(k) => {
                        for (o, &w) in out[a - start..e - start].iter_mut().zip(&data[a..e]) {
                            *o = k.fake(w);
                        }
                    }
                    None => ok = false,
                }
            });
            ok
        })
        .reduce(|| true, |a, b| a && b);
    if ok { Ok(()) } else { Err(non_finite(data)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::spec::{Granularity, ScaleDtype, Scheme};

    /// The chaos-evolve formula written out literally, on values checked by hand.
    #[test]
    fn int4_block_is_the_documents_formula() {
        // Block [-1.0, -0.5, 0.25, 2.0]: scale = 3/15 = 0.2,
        // zp = clip(round(1/0.2) - 8) = round(5.0) - 8 = -3,
        // q = clip(round(w/0.2) - 3) = [-5-3, round(-2.5)-3, round(1.25)-3, 10-3]
        //   = [-8, -2-3, 1-3, 7] = [-8, -5, -2, 7]   (np.round(-2.5) = -2),
        // w' = (q + 3)*0.2 = [-1.0, -0.4, 0.2, 2.0].
        // Block [1, 2, 3, 4]: scale = 0.2, zp = clip(-5 - 8) = -8,
        // q = clip([5, 10, 15, 20] - 8) = [-3, 2, 7, 7], w' = [1, 2, 3, 3]:
        // the formula cannot reach 4 when the block excludes zero.
        let w = [-1.0f32, -0.5, 0.25, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0];
        let spec = QuantSpec::chaos_int4(4);
        let q = QuantizedTensor::quantize(&w, &[10], &spec).unwrap();
        let s = 3.0f32 / 15.0;
        assert_eq!(q.scales(), &[s, s, 5.0]);
        assert_eq!(q.zero_points(), &[-3, -8, -8]);
        let codes: Vec<i32> = (0..10).map(|i| q.code(i)).collect();
        assert_eq!(codes, vec![-8, -5, -2, 7, -3, 2, 7, 7, -7, -7]);
        let d = q.dequantize();
        let want = [
            -5.0 * s,
            -2.0 * s,
            1.0 * s,
            10.0 * s,
            5.0 * s,
            10.0 * s,
            15.0 * s,
            15.0 * s,
            5.0,
            5.0,
        ];
        assert_eq!(d, want);
        // Same numbers by the literal formula, generic over any block.
        for (blk, out) in w.chunks(4).zip(d.chunks(4)) {
            let (mn, mx) = blk
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            if mn == mx {
                continue;
            }
            let scale = (mx - mn) / 15.0;
            let zp = ((-mn / scale).round_ties_even() - 8.0).clamp(-8.0, 7.0);
            for (&x, &y) in blk.iter().zip(out) {
                let qv = ((x / scale).round_ties_even() + zp).clamp(-8.0, 7.0);
                assert_eq!((qv - zp) * scale, y);
            }
        }
        // 10 values: 5 code bytes + 3 f32 scales + 3 i8 zero points.
        assert_eq!(q.size_bytes(), 5 + 12 + 3);
    }

    /// Regression: blocks that exclude zero used to clip their zero point and
    /// collapse ([0.5, 0.55, 0.6, 0.58] all became one value). The standard
    /// scheme widens the range to 0 and keeps every value within half a step.
    #[test]
    fn one_signed_blocks_keep_their_range_under_the_standard_scheme() {
        let w = [
            0.5f32, 0.55, 0.6, 0.58, 1.0, 2.0, 3.0, 4.0, -4.0, -3.0, -2.0, -1.5,
        ];
        let spec = QuantSpec {
            scheme: Scheme::Asymmetric,
            ..QuantSpec::chaos_int4(4)
        };
        let q = QuantizedTensor::quantize(&w, &[12], &spec).unwrap();
        let d = q.dequantize();
        for (g, blk) in w.chunks(4).enumerate() {
            let s = q.scales()[g];
            for (i, &x) in blk.iter().enumerate() {
                let y = d[g * 4 + i];
                assert!(
                    (x - y).abs() <= 0.5 * s * (1.0 + 1e-6),
                    "{x} -> {y}, scale {s}"
                );
            }
            // Zero is a code of every block.
            let zp = q.zero_points()[g];
            assert!((-8..=7).contains(&zp));
        }
        assert_eq!(q.scales()[1], 4.0 / 15.0);
        assert_eq!(q.zero_points()[1], -8);
        assert_eq!(q.zero_points()[2], 7);
        let distinct: std::collections::BTreeSet<u32> =
            d[..4].iter().map(|x| x.to_bits()).collect();
        assert!(distinct.len() >= 3, "{:?}", &d[..4]);
        // The document's formula on the same data keeps its known defect.
        let doc = QuantizedTensor::quantize(&w, &[12], &QuantSpec::chaos_int4(4)).unwrap();
        assert_eq!(doc.dequantize()[4..8], [1.0, 2.0, 3.0, 3.0]);
    }

    /// Reused buffers carry nothing over: requantizing a bigger, then a
    /// smaller tensor under other specs equals quantizing each afresh.
    #[test]
    fn requantize_equals_a_fresh_quantize() {
        let big: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.7).sin() * 3.0).collect();
        let small: Vec<f32> = (0..37).map(|i| (i as f32 * 1.3).cos()).collect();
        let sym = QuantSpec {
            bits: 3,
            scheme: Scheme::Symmetric,
            ..QuantSpec::chaos_int4(8)
        };
        let mut q = QuantizedTensor::quantize(&big, &[1000], &QuantSpec::chaos_int4(4)).unwrap();
        for (data, spec) in [
            (&small, sym),
            (&big, QuantSpec::chaos_int4(4)),
            (&small, QuantSpec::chaos_int4(4)),
            (&big, sym),
        ] {
            q.requantize(data, &[data.len()], &spec).unwrap();
            assert_eq!(
                q,
                QuantizedTensor::quantize(data, &[data.len()], &spec).unwrap()
            );
        }
        let bad = [1.0f32, f32::NAN];
        assert!(q.requantize(&bad, &[2], &sym).is_err());
        assert_eq!(q.numel(), 0);
        assert!(q.codes().is_empty() && q.scales().is_empty());
    }

    #[test]
    fn block4_f32_costs_fourteen_bits_per_weight() {
        let w: Vec<f32> = (0..4096).map(|i| (i as f32 * 0.37).sin()).collect();
        let q = QuantizedTensor::quantize(&w, &[64, 64], &QuantSpec::chaos_int4(4)).unwrap();
        assert_eq!(q.bits_per_weight(), 14.0);
    }

    fn all_specs() -> Vec<QuantSpec> {
        let mut v = Vec::new();
        for bits in [1u8, 2, 3, 4, 6, 8, 12, 16] {
            for scheme in [
                Scheme::Symmetric,
                Scheme::Asymmetric,
                Scheme::AsymmetricClipped,
                Scheme::PowerOfTwo,
            ] {
                if bits == 1 && !scheme.has_zero_point() {
                    continue;
                }
                for granularity in [
                    Granularity::PerTensor,
                    Granularity::PerChannel,
                    Granularity::PerGroup,
                    Granularity::Block,
                ] {
                    for calibration in [
                        Calibration::MinMax,
                        Calibration::Percentile,
                        Calibration::Mse,
                        Calibration::Entropy,
                    ] {
                        for scale_dtype in [ScaleDtype::F16, ScaleDtype::F32] {
                            v.push(QuantSpec {
                                bits,
                                scheme,
                                granularity,
                                group_size: 7,
                                calibration,
                                percentile: 99.0,
                                scale_dtype,
                            });
                        }
                    }
                }
            }
        }
        v
    }

    #[test]
    fn fake_quantize_matches_packed_roundtrip_bit_for_bit() {
        let w: Vec<f32> = (0..3 * 50)
            .map(|i| (i as f32 * 0.91).sin() * (1.0 + (i % 13) as f32))
            .collect();
        for spec in all_specs() {
            let q = QuantizedTensor::quantize(&w, &[3, 50], &spec).unwrap();
            let mut fake = vec![0f32; w.len()];
            fake_quantize(&w, &[3, 50], &spec, &mut fake).unwrap();
            assert_eq!(q.dequantize(), fake, "{spec:?}");
        }
    }

    #[test]
    fn large_tensors_are_identical_across_thread_counts() {
        let n = 300_007;
        let w: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.013).sin() * 3.0).collect();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        for group_size in [4, 5] {
            let spec = QuantSpec {
                group_size,
                ..QuantSpec::chaos_int4(4)
            };
            let a = one.install(|| QuantizedTensor::quantize(&w, &[n], &spec).unwrap());
            let b = QuantizedTensor::quantize(&w, &[n], &spec).unwrap();
            assert_eq!(a, b);
            let mut fake = vec![0f32; n];
            fake_quantize(&w, &[n], &spec, &mut fake).unwrap();
            assert_eq!(b.dequantize(), fake);
            let mut fake1 = vec![0f32; n];
            one.install(|| fake_quantize(&w, &[n], &spec, &mut fake1).unwrap());
            assert_eq!(fake, fake1);
        }
    }

    #[test]
    fn non_finite_input_is_reported_with_its_index() {
        let mut w = vec![0.5f32; 100];
        w[37] = f32::NAN;
        let e = QuantizedTensor::quantize(&w, &[100], &QuantSpec::chaos_int4(4)).unwrap_err();
        assert!(matches!(e, QuantError::NonFinite { index: 37, .. }));
        w[37] = f32::INFINITY;
        let mut out = vec![0f32; 100];
        assert!(matches!(
            fake_quantize(&w, &[100], &QuantSpec::chaos_int4(4), &mut out),
            Err(QuantError::NonFinite { index: 37, .. })
        ));
    }

    #[test]
    fn from_parts_rejects_inconsistent_sizes() {
        let w = [1.0f32, 2.0, 3.0, 4.0];
        let q = QuantizedTensor::quantize(&w, &[4], &QuantSpec::chaos_int4(2)).unwrap();
        let back = QuantizedTensor::from_parts(
            q.shape().to_vec(),
            *q.spec(),
            q.codes().to_vec(),
            q.scales().to_vec(),
            q.zero_points().to_vec(),
        )
        .unwrap();
        assert_eq!(back, q);
        assert!(
            QuantizedTensor::from_parts(
                vec![4],
                *q.spec(),
                vec![0],
                q.scales().to_vec(),
                q.zero_points().to_vec()
            )
            .is_err()
        );
    }

    #[test]
    fn streamed_error_metrics_equal_the_metrics_of_the_decoded_tensor() {
        use crate::quant::metrics::error_metrics_chunked;
        let w: Vec<f32> = (0..50_003)
            .map(|i| ((i * 7919) % 1000) as f32 / 97.0 - 5.0)
            .collect();
        let shape = [50_003];
        for (bits, scheme, granularity, group) in [
            (4, Scheme::Asymmetric, Granularity::Block, 4),
            (3, Scheme::Symmetric, Granularity::Block, 32),
            (8, Scheme::Asymmetric, Granularity::PerTensor, 1),
            (5, Scheme::Symmetric, Granularity::Block, 100),
        ] {
            let spec = QuantSpec {
                bits,
                scheme,
                granularity,
                group_size: group,
                ..QuantSpec::chaos_int4(group)
            };
            let q = QuantizedTensor::quantize(&w, &shape, &spec).unwrap();
            let want = error_metrics_chunked(&w, &q.dequantize());
            assert_eq!(q.error_metrics(&w), want, "{bits} bits {granularity:?}");
            assert!(want.mse > 0.0);
            let (measured, m) = QuantizedTensor::quantize_measured(&w, &shape, &spec).unwrap();
            assert_eq!((measured, m), (q, want), "{bits} bits {granularity:?}");
        }
    }
}
