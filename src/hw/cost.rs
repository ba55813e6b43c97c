//! The per-layer cost model (a model, not a measurement).
//!
//! For one layer run once per inference:
//!
//! ```text
//! weight bytes  = ⌈weights · w_bits / 8⌉ + groups · (scale bytes + zero-point bytes)
//! traffic       = weight bytes · reads/weights + (act_in + act_out) · a_bits/8
//!                 (+ act_in · a_bits/8 · 2 for a +128 shift pass on unsigned-only int8 units)
//! compute time  = MACs / peak(compute precision of the execution mode)
//! memory time   = traffic / bandwidth
//! latency       = max(compute time, memory time)               (roofline)
//! energy        = MACs · E_mac(compute) + traffic · E_dram_byte     (per-op basis)
//!               = rated power · latency                           (board-power basis)
//! ```
//!
//! Each target says which energy basis it uses ([`EnergyBasis`]).
//!
//! where `a_bits` is the activation width of the execution mode (a fallback
//! moves activations at the width it computes in), scales are fp16 (2 bytes)
//! (f32, 4 bytes, for FP8 E4M3 weights) or, for power-of-two scales, a
//! 1-byte exponent, and zero points take
//! 1 byte (2 above 8 bits) per group for asymmetric weights. 16- and 32-bit
//! weights are stored as floats without scales. Everything is assumed to come
//! from DRAM once (no cache reuse across layers), which is right for weights
//! of large models and pessimistic for small activations.

use super::target::{Compute, EnergyBasis, Execution, Target};
use serde::Serialize;

/// The shape facts the model needs about one layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerShape {
    /// Weights in the layer (rows · cols).
    pub weights: u64,
    /// Output channels (rows); per-channel scales are one per row.
    pub rows: u64,
    /// Inputs per output (cols); per-group scales split each row.
    pub cols: u64,
    /// Multiply-accumulates per inference (0 for a lookup table).
    pub macs: u64,
    /// Weights actually read per inference (an embedding reads only the
    /// rows of its tokens).
    pub weight_reads: u64,
    /// Input and output activation elements per inference.
    pub act_in: u64,
    pub act_out: u64,
}

impl LayerShape {
    /// A weight matrix applied at `tokens` positions (a linear layer over a
    /// sequence; 1 = one GEMV): every weight read once, a MAC per weight
    /// and position.
    pub fn gemm(rows: u64, cols: u64, tokens: u64) -> LayerShape {
        LayerShape {
            weights: rows * cols,
            rows,
            cols,
            macs: rows * cols * tokens,
            weight_reads: rows * cols,
            act_in: cols * tokens,
            act_out: rows * tokens,
        }
    }

    /// An embedding table of `rows` entries of width `cols`, looked up at
    /// `tokens` positions: no MACs, and only the rows of its tokens are
    /// read (at most every row), in: token ids, out: their vectors.
    pub fn lookup(rows: u64, cols: u64, tokens: u64) -> LayerShape {
        LayerShape {
            weights: rows * cols,
            rows,
            cols,
            macs: 0,
            weight_reads: cols * tokens.min(rows),
            act_in: tokens,
            act_out: cols * tokens,
        }
    }
}

/// How scales are laid out over a weight matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleLayout {
    PerTensor,
    PerChannel,
    PerGroup(u32),
}

/// The facts of a layer's quantization configuration the cost depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantChoice {
    pub weight_bits: u8,
    pub act_bits: u8,
    pub layout: ScaleLayout,
    /// Asymmetric weights carry a zero point per group.
    pub weight_zero_point: bool,
    /// The zero point is stored in 2 bytes whatever the width (ggml's Q4_1
    /// keeps its block minimum as f16).
    pub wide_zero_point: bool,
    /// Power-of-two scales are stored as a 1-byte exponent.
    pub pow2_scale: bool,
    /// Activations are signed (symmetric or power-of-two scheme).
    pub signed_activations: bool,
    /// The 8-bit operands are FP8 E4M3; FP8 weights keep an f32 scale per
    /// group (`crate::quant::fp8`), not f16.
    pub fp8: bool,
}

/// Cost of one layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerCost {
    pub execution: Execution,
    /// True stored bytes of the weights with scales and zero points.
    pub weight_bytes: f64,
    /// Of which metadata (scales and zero points).
    pub metadata_bytes: f64,
    pub traffic_bytes: f64,
    pub latency_s: f64,
    pub energy_j: f64,
    /// Memory-bound (memory time ≥ compute time).
    pub memory_bound: bool,
    /// A +128 shift pass was costed for signed activations.
    pub shifted: bool,
}

/// Totals over a model.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TotalCost {
    pub weight_bytes: f64,
    pub metadata_bytes: f64,
    pub latency_s: f64,
    pub energy_j: f64,
    pub fallback_layers: usize,
    pub memory_bound_layers: usize,
}

impl TotalCost {
    pub fn add(&mut self, c: &LayerCost) {
        self.weight_bytes += c.weight_bytes;
        self.metadata_bytes += c.metadata_bytes;
        self.latency_s += c.latency_s;
        self.energy_j += c.energy_j;
        self.fallback_layers += usize::from(!c.execution.native);
        self.memory_bound_layers += usize::from(c.memory_bound);
    }
}

/// Stored bytes of a layer's weights, and of the metadata within them.
pub fn weight_bytes(shape: &LayerShape, q: &QuantChoice) -> (f64, f64) {
    let data = (shape.weights * u64::from(q.weight_bits)).div_ceil(8) as f64;
    if q.weight_bits >= 16 {
        return (data, 0.0);
    }
    let groups = match q.layout {
        ScaleLayout::PerTensor => 1,
        ScaleLayout::PerChannel => shape.rows.max(1),
        ScaleLayout::PerGroup(g) => shape.rows.max(1) * shape.cols.div_ceil(u64::from(g.max(1))),
    } as f64;
    // Scales are stored as f16 whatever the scheme, as `quant` packs them
    // and `quant_config.json` declares (`scale_dtype`); a power-of-two
    // scale is an f16 power of two, not a bare exponent.
    let scale = if q.fp8 && q.weight_bits == 8 {
        4.0
    } else {
        2.0
    };
    let zero = if q.weight_zero_point {
        if q.weight_bits > 8 || q.wide_zero_point {
            2.0
        } else {
            1.0
        }
    } else {
        0.0
    };
    let meta = groups * (scale + zero);
    (data + meta, meta)
}

/// Cost of one layer on one target.
pub fn layer_cost(target: &Target, shape: &LayerShape, q: &QuantChoice) -> LayerCost {
    let execution = target.execution_of(q.weight_bits, q.act_bits, q.fp8);
    let (wbytes, meta) = weight_bytes(shape, q);
    let read_fraction = if shape.weights == 0 {
        0.0
    } else {
        shape.weight_reads as f64 / shape.weights as f64
    };
    let act_bytes = f64::from(execution.mode.act_bits.min(32)) / 8.0;
    let mut traffic = wbytes * read_fraction + (shape.act_in + shape.act_out) as f64 * act_bytes;
    let shifted = target.unsigned_int8_activations
        && execution.mode.compute == Compute::Int8
        && q.signed_activations;
    if shifted {
        traffic += 2.0 * shape.act_in as f64 * act_bytes;
    }
    let compute_s = shape.macs as f64 / target.peak(execution.mode.compute);
    let memory_s = traffic / target.bandwidth_bytes_per_s;
    let latency_s = compute_s.max(memory_s);
    let energy_j = match target.energy {
        EnergyBasis::PerOp { .. } => {
            (shape.macs as f64 * target.mac_energy(execution.mode.compute)
                + traffic * target.dram_pj_per_byte)
                * 1e-12
        }
        EnergyBasis::BoardPower { watts } => watts * latency_s,
    };
    LayerCost {
        execution,
        weight_bytes: wbytes,
        metadata_bytes: meta,
        traffic_bytes: traffic,
        latency_s,
        energy_j,
        memory_bound: memory_s >= compute_s,
        shifted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::builtin;

    fn gemm(rows: u64, cols: u64, tokens: u64) -> LayerShape {
        LayerShape::gemm(rows, cols, tokens)
    }

    fn q(w: u8, a: u8, layout: ScaleLayout, zp: bool) -> QuantChoice {
        QuantChoice {
            weight_bits: w,
            act_bits: a,
            layout,
            weight_zero_point: zp,
            wide_zero_point: false,
            pow2_scale: false,
            signed_activations: false,
            fp8: false,
        }
    }

    #[test]
    fn fp8_keeps_f32_scales_and_runs_on_fp8_units_where_there_are_some() {
        let s = gemm(64, 256, 64);
        let fp8 = QuantChoice {
            fp8: true,
            ..q(8, 8, ScaleLayout::PerChannel, false)
        };
        // 16384 one-byte codes + 64 f32 scales.
        assert_eq!(weight_bytes(&s, &fp8), (16384.0 + 256.0, 256.0));
        let h100 = builtin("nvidia_h100_sxm").unwrap();
        let c = layer_cost(&h100, &s, &fp8);
        assert!(c.execution.native);
        assert_eq!(c.execution.mode.compute, Compute::Fp8);
        // On a T4 (no FP8) it computes in fp16 and is flagged a fallback.
        let t4 = builtin("nvidia_tensorrt").unwrap();
        let c = layer_cost(&t4, &s, &fp8);
        assert!(!c.execution.native);
        assert_eq!(c.execution.mode.compute, Compute::Fp16);
    }

    #[test]
    fn packed_bytes_include_scales_and_zero_points() {
        let s = gemm(64, 256, 1);
        // 4-bit: 8192 bytes of codes; per-group 128: 64·2 groups of 2+1 bytes.
        let (b, m) = weight_bytes(&s, &q(4, 8, ScaleLayout::PerGroup(128), true));
        assert_eq!(m, 128.0 * 3.0);
        assert_eq!(b, 8192.0 + 384.0);
        let (b, m) = weight_bytes(&s, &q(6, 8, ScaleLayout::PerTensor, false));
        assert_eq!((b, m), (12288.0 + 2.0, 2.0));
        let (b, m) = weight_bytes(&s, &q(16, 16, ScaleLayout::PerChannel, true));
        assert_eq!((b, m), (32768.0, 0.0));
    }

    #[test]
    fn roofline_is_the_max_of_compute_and_memory_time() {
        let neon = builtin("arm_neon").unwrap();
        // Batch-1 GEMV: memory bound; fewer weight bits → proportionally faster.
        let s = gemm(4096, 4096, 1);
        let c8 = layer_cost(&neon, &s, &q(8, 8, ScaleLayout::PerChannel, false));
        let c4 = layer_cost(&neon, &s, &q(4, 8, ScaleLayout::PerChannel, false));
        assert!(c8.memory_bound && c4.memory_bound);
        assert!(c4.latency_s < 0.6 * c8.latency_s);
        assert!(!c4.execution.native);
        // Large batch: compute bound; int8 SDOT beats plain NEON int8 4×
        // (SMLAL on one pipe, SDOT on two with twice the MACs).
        let big = gemm(1024, 1024, 4096);
        let dot = builtin("arm_dot").unwrap();
        let a = layer_cost(&neon, &big, &q(8, 8, ScaleLayout::PerChannel, false));
        let b = layer_cost(&dot, &big, &q(8, 8, ScaleLayout::PerChannel, false));
        assert!(!a.memory_bound && !b.memory_bound);
        assert!((a.latency_s / b.latency_s - 4.0).abs() < 1e-9);
        // A per-op target: energy = MAC energy + traffic energy exactly.
        let x4 = builtin("cortex_x4_i8mm").unwrap();
        let c = layer_cost(&x4, &big, &q(8, 8, ScaleLayout::PerChannel, false));
        let expect = (big.macs as f64 * x4.mac_energy_pj[Compute::Int8.index()]
            + c.traffic_bytes * x4.dram_pj_per_byte)
            * 1e-12;
        assert!((c.energy_j - expect).abs() < 1e-15 * expect.max(1.0));
    }

    #[test]
    fn energy_has_a_basis_per_target() {
        // FP32 GEMM, compute bound: the per-op targets price MACs and
        // traffic, the board-power targets price time at their rated power,
        // so the same layer no longer costs the same everywhere.
        let s = gemm(1024, 1024, 256);
        let fp32 = q(32, 32, ScaleLayout::PerTensor, false);
        let neon = layer_cost(&builtin("arm_neon").unwrap(), &s, &fp32);
        let xeon = layer_cost(&builtin("intel_vnni").unwrap(), &s, &fp32);
        let t4 = layer_cost(&builtin("nvidia_tensorrt").unwrap(), &s, &fp32);
        let x4_target = builtin("cortex_x4_i8mm").unwrap();
        let x4 = layer_cost(&x4_target, &s, &fp32);
        assert!((t4.energy_j - 70.0 * t4.latency_s).abs() <= 1e-12 * t4.energy_j);
        assert!((xeon.energy_j - 60.0 * xeon.latency_s).abs() <= 1e-12 * xeon.energy_j);
        assert!((neon.energy_j - 9.8 * neon.latency_s).abs() <= 1e-12 * neon.energy_j);
        let per_op = (s.macs as f64 * x4_target.mac_energy_pj[Compute::Fp32.index()]
            + x4.traffic_bytes * 112.0)
            * 1e-12;
        assert!((x4.energy_j - per_op).abs() <= 1e-12 * per_op);
        let all = [neon.energy_j, xeon.energy_j, t4.energy_j, x4.energy_j];
        for (i, a) in all.iter().enumerate() {
            assert!(all[i + 1..].iter().all(|b| b != a), "{all:?}");
        }
    }

    #[test]
    fn resnet50_int8_is_slower_than_fp16_on_plain_neon_but_not_with_sdot() {
        // SMLAL on one pipe: plain-NEON int8 computes at half the fp16 rate,
        // so the compute-bound ResNet-50 is slower at W8A8 than at W16A16.
        let inv = crate::models::Family::Resnet50Like.shaped(1, 1);
        let total = |t: &Target, w: u8, a: u8| -> (f64, f64) {
            let mut c = TotalCost::default();
            for l in &inv.layers {
                c.add(&layer_cost(
                    t,
                    &l.shape,
                    &q(w, a, ScaleLayout::PerChannel, false),
                ));
            }
            (c.latency_s, c.energy_j)
        };
        let neon = builtin("arm_neon").unwrap();
        let dot = builtin("arm_dot").unwrap();
        let (int8, _) = total(&neon, 8, 8);
        let (fp16, _) = total(&neon, 16, 16);
        assert!(int8 > 1.9 * fp16, "int8 {int8} fp16 {fp16}");
        let (dot8, _) = total(&dot, 8, 8);
        assert!(dot8 < 0.6 * fp16, "sdot {dot8} fp16 {fp16}");
        // FP32 energy differs per target now (it was one 45 nm table).
        let e: Vec<f64> = ["arm_neon", "intel_vnni", "nvidia_tensorrt"]
            .iter()
            .map(|n| total(&builtin(n).unwrap(), 32, 32).1)
            .collect();
        assert!(e[0] != e[1] && e[1] != e[2] && e[0] != e[2], "{e:?}");
    }

    #[test]
    fn vnni_charges_a_shift_for_signed_activations() {
        let vnni = builtin("intel_vnni").unwrap();
        let s = gemm(256, 256, 8);
        let mut signed = q(8, 8, ScaleLayout::PerChannel, false);
        signed.signed_activations = true;
        let a = layer_cost(&vnni, &s, &signed);
        let b = layer_cost(&vnni, &s, &q(8, 8, ScaleLayout::PerChannel, false));
        assert!(a.shifted && !b.shifted);
        assert!(a.traffic_bytes > b.traffic_bytes);
    }
}
