//! The six built-in targets of the quantization-evolution document, each
//! pinned to one concrete, publicly specified device so its figures can be
//! checked. Sources are cited per constant; "assumption" marks a figure the
//! vendor does not publish, with the reasoning.
//!
//! Energy: one table for every built-in target, Horowitz, "Computing's
//! energy problem (and what we can do about it)", ISSCC 2014, 45 nm, 0.9 V:
//! int8 add 0.03 pJ, int8 mult 0.2 pJ, int32 add 0.1 pJ, int32 mult 3.1 pJ,
//! fp16 add 0.4 pJ, fp16 mult 1.1 pJ, fp32 add 0.9 pJ, fp32 mult 3.7 pJ,
//! DRAM 1.3–2.6 nJ per 64-bit access. A MAC is one multiply plus one add.
//! Newer nodes are cheaper in absolute terms, but the *ratios* (DRAM traffic
//! dwarfs arithmetic; int8 ≪ fp16 < fp32) are what the search trades on, and
//! a custom target can supply its own figures.

use super::target::{Compute, ExecMode, Target};

/// The built-in targets, in the document's order: the one list a target is
/// added to. Manifest choices and `evoquant list` come from it.
type MakeTarget = fn() -> Target;

const BUILTINS: [(&str, MakeTarget); 6] = [
    ("arm_neon", || arm("arm_neon", false)),
    ("arm_dot", || arm("arm_dot", true)),
    ("qualcomm_hexagon", hexagon),
    ("apple_neural_engine", neural_engine),
    ("nvidia_tensorrt", tensorrt),
    ("intel_vnni", vnni),
];

/// The name that selects the `custom.*` target.
pub const CUSTOM: &str = "custom";

/// Manifest names of the built-in targets.
pub const BUILTIN_NAMES: [&str; BUILTINS.len()] = {
    let mut out = [""; BUILTINS.len()];
    let mut i = 0;
    while i < BUILTINS.len() {
        out[i] = BUILTINS[i].0;
        i += 1;
    }
    out
};

/// Every name `hardware_target` accepts: the built-ins, then `custom`.
pub const TARGET_CHOICES: [&str; BUILTINS.len() + 1] = {
    let mut out = [CUSTOM; BUILTINS.len() + 1];
    let mut i = 0;
    while i < BUILTINS.len() {
        out[i] = BUILTINS[i].0;
        i += 1;
    }
    out
};

/// Horowitz ISSCC 2014: int8 mult 0.2 + int8 add 0.03 pJ.
const E_INT8: f64 = 0.23;
/// Derived, not in the table: an array multiplier's energy grows roughly with
/// the square of its width, so an int4 mult ≈ 0.2 · (4/8)² = 0.05 pJ, plus
/// the int8 add (accumulators are wider than 4 bits) 0.03 pJ.
const E_INT4: f64 = 0.08;
/// Derived the same way: int16 mult ≈ 0.2 · (16/8)² = 0.8 pJ, plus an int16
/// add between the int8 (0.03) and int32 (0.1) figures, ≈ 0.05 pJ.
const E_INT16: f64 = 0.85;
/// Horowitz ISSCC 2014: fp16 mult 1.1 + fp16 add 0.4 pJ.
const E_FP16: f64 = 1.5;
/// Horowitz ISSCC 2014: fp32 mult 3.7 + fp32 add 0.9 pJ.
const E_FP32: f64 = 4.6;
/// Horowitz ISSCC 2014: DRAM 1.3–2.6 nJ per 64-bit access; the midpoint
/// 1.95 nJ / 8 bytes.
const E_DRAM_BYTE: f64 = 1950.0 / 8.0;

const ENERGY: [f64; 5] = [E_INT4, E_INT8, E_INT16, E_FP16, E_FP32];

const G: f64 = 1e9;
const T: f64 = 1e12;

/// A built-in target by manifest name.
pub fn builtin(name: &str) -> Option<Target> {
    BUILTINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, make)| make())
}

/// A `hardware_target` value: one of [`TARGET_CHOICES`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TargetName(pub String);

impl crate::params::Leaf for TargetName {
    const TYPE: crate::params::ParamType = crate::params::ParamType::Choice(&TARGET_CHOICES);
}

impl TargetName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_custom(&self) -> bool {
        self.0 == CUSTOM
    }
}

impl From<&str> for TargetName {
    fn from(s: &str) -> Self {
        TargetName(s.to_string())
    }
}

fn arm(name: &str, dot: bool) -> Target {
    let per_s = 4.0 * 2.4 * G * 2.0; // cores × clock × pipes
    let int8 = if dot { 16.0 } else { 8.0 };
    Target {
        name: name.into(),
        device: if dot {
            "Cortex-A76 x4 @ 2.4 GHz, SDOT int8 dot products, LPDDR4X-4267 x32".into()
        } else {
            "Cortex-A76 x4 @ 2.4 GHz, NEON without dot products, LPDDR4X-4267 x32".into()
        },
        peak_macs_per_s: [0.0, int8 * per_s, 0.0, 8.0 * per_s, 4.0 * per_s],
        // 4267 MT/s × 4 bytes.
        bandwidth_bytes_per_s: 4267e6 * 4.0,
        mac_energy_pj: ENERGY,
        dram_pj_per_byte: E_DRAM_BYTE,
        modes: vec![
            ExecMode::new(8, 8, Compute::Int8),
            ExecMode::new(16, 16, Compute::Fp16),
            ExecMode::new(32, 32, Compute::Fp32),
        ],
        unsigned_int8_activations: false,
    }
}

/// Qualcomm Hexagon NPU of the Snapdragon X Elite: 45 TOPS int8 (Qualcomm
/// Snapdragon X Elite product brief), LPDDR5X-8448 on a 128-bit bus, 135 GB/s
/// (same brief). Qualcomm AI Engine Direct (QNN) HTP backend docs list the
/// quantized configurations a8w8, a16w8, a16w16 and 4-bit weights with
/// 16-bit activations, plus fp16. Assumptions (not published): int16
/// throughput half of int8 (twice the operand width on the same datapath),
/// fp16 a quarter of int8.
fn hexagon() -> Target {
    let int8 = 45.0 * T / 2.0;
    Target {
        name: "qualcomm_hexagon".into(),
        device: "Hexagon NPU (Snapdragon X Elite), 45 TOPS int8, LPDDR5X-8448 x128".into(),
        peak_macs_per_s: [0.0, int8, int8 / 2.0, int8 / 4.0, 0.0],
        bandwidth_bytes_per_s: 135.0 * G,
        mac_energy_pj: ENERGY,
        dram_pj_per_byte: E_DRAM_BYTE,
        modes: vec![
            ExecMode::new(8, 8, Compute::Int8),
            ExecMode::new(4, 16, Compute::Int16),
            ExecMode::new(8, 16, Compute::Int16),
            ExecMode::new(16, 16, Compute::Int16),
            // fp32 graphs fall back to the fp16 HTP path.
            ExecMode::new(32, 32, Compute::Fp16),
        ],
        unsigned_int8_activations: false,
    }
}

/// Apple A17 Pro Neural Engine: 35 TOPS (Apple, iPhone 15 Pro announcement,
/// Sept 2023); the W8A8 int8 compute path exists on A17 Pro / M4 (Apple
/// coremltools "Quantization Overview": activation quantization speeds up
/// compute on newer Neural Engines); everything else computes in fp16 and
/// int8 / int4 weights are decompressed (coremltools weight-only
/// linear quantization / palettization save memory and bandwidth only).
/// Assumptions: the 35 TOPS figure is the int8 rate and fp16 is half of it;
/// memory is the A17 Pro's LPDDR5-6400 on a 64-bit bus, 51.2 GB/s.
fn neural_engine() -> Target {
    let int8 = 35.0 * T / 2.0;
    Target {
        name: "apple_neural_engine".into(),
        device: "Apple A17 Pro Neural Engine, 35 TOPS, LPDDR5-6400 x64".into(),
        peak_macs_per_s: [0.0, int8, 0.0, int8 / 2.0, 0.0],
        bandwidth_bytes_per_s: 51.2 * G,
        mac_energy_pj: ENERGY,
        dram_pj_per_byte: E_DRAM_BYTE,
        modes: vec![
            ExecMode::new(8, 8, Compute::Int8),
            ExecMode::new(4, 16, Compute::Fp16),
            ExecMode::new(8, 16, Compute::Fp16),
            ExecMode::new(16, 16, Compute::Fp16),
            // No fp32 on the Neural Engine: Core ML computes it in fp16.
            ExecMode::new(32, 32, Compute::Fp16),
        ],
        unsigned_int8_activations: false,
    }
}

/// NVIDIA T4 with TensorRT (NVIDIA T4 datasheet): 8.1 TFLOPS fp32, 65 TFLOPS
/// fp16, 130 TOPS int8, 260 TOPS int4 tensor-core peak, 320 GB/s GDDR6.
/// INT4 weight-only (W4A16) still computes in fp16 (TensorRT weight-only
/// quantization dequantizes in the GEMM), as does W8A16.
fn tensorrt() -> Target {
    Target {
        name: "nvidia_tensorrt".into(),
        device: "NVIDIA T4 (Turing), TensorRT, 320 GB/s GDDR6".into(),
        peak_macs_per_s: [
            260.0 * T / 2.0,
            130.0 * T / 2.0,
            0.0,
            65.0 * T / 2.0,
            8.1 * T / 2.0,
        ],
        bandwidth_bytes_per_s: 320.0 * G,
        mac_energy_pj: ENERGY,
        dram_pj_per_byte: E_DRAM_BYTE,
        modes: vec![
            ExecMode::new(4, 4, Compute::Int4),
            ExecMode::new(8, 8, Compute::Int8),
            ExecMode::new(4, 16, Compute::Fp16),
            ExecMode::new(8, 16, Compute::Fp16),
            ExecMode::new(16, 16, Compute::Fp16),
            ExecMode::new(32, 32, Compute::Fp32),
        ],
        unsigned_int8_activations: false,
    }
}

/// Intel Xeon (Cascade Lake, AVX-512 VNNI) slice: 8 cores at 2.5 GHz, two
/// 512-bit FMA units per core (Intel 64 and IA-32 Architectures Optimization
/// Reference Manual). VPDPBUSD: 64 int8 MACs per 512-bit instruction with
/// unsigned activations × signed weights (Intel Intrinsics Guide), so
/// symmetric (signed) activations need a +128 shift and a compensation term;
/// FMA: 16 fp32 MACs per instruction. No fp16 arithmetic (AVX512-FP16 came
/// with Sapphire Rapids): fp16 weights are converted and computed in fp32.
/// Memory: six DDR4-2933 channels, 6 × 23.47 GB/s = 140.8 GB/s.
fn vnni() -> Target {
    let per_s = 8.0 * 2.5 * G * 2.0; // cores × clock × FMA units
    Target {
        name: "intel_vnni".into(),
        device: "Xeon (Cascade Lake) 8 cores @ 2.5 GHz, AVX-512 VNNI, 6x DDR4-2933".into(),
        peak_macs_per_s: [0.0, 64.0 * per_s, 0.0, 0.0, 16.0 * per_s],
        bandwidth_bytes_per_s: 6.0 * 2933e6 * 8.0,
        mac_energy_pj: ENERGY,
        dram_pj_per_byte: E_DRAM_BYTE,
        modes: vec![
            ExecMode::new(8, 8, Compute::Int8),
            ExecMode::new(32, 32, Compute::Fp32),
        ],
        unsigned_int8_activations: true,
    }
}

/// A user-defined target (`hardware_target = "custom"`): throughput in vendor
/// TOPS (2 ops per MAC) per [int4, int8, int16, fp16, fp32], 0 = unsupported.
/// Modes are derived: each supported precision computes its own width
/// (int4 → W4A4, int8 → W8A8, int16 and fp16 → W16A16, fp32 → W32A32), and
/// `weight_only` adds W4A16 / W8A16 decompressed to fp16 (or fp32).
pub fn custom(
    name: &str,
    tops: &[f64; 5],
    bandwidth_gbps: f64,
    pj_per_mac: &[f64; 5],
    pj_per_byte: f64,
    weight_only: bool,
) -> Target {
    let peak = tops.map(|t| t * T / 2.0);
    let wide = if peak[Compute::Fp16.index()] > 0.0 {
        Compute::Fp16
    } else {
        Compute::Fp32
    };
    let mut modes = Vec::new();
    if peak[Compute::Int4.index()] > 0.0 {
        modes.push(ExecMode::new(4, 4, Compute::Int4));
    }
    if peak[Compute::Int8.index()] > 0.0 {
        modes.push(ExecMode::new(8, 8, Compute::Int8));
    }
    if weight_only && peak[wide.index()] > 0.0 {
        modes.push(ExecMode::new(4, 16, wide));
        modes.push(ExecMode::new(8, 16, wide));
    }
    if peak[Compute::Int16.index()] > 0.0 {
        modes.push(ExecMode::new(16, 16, Compute::Int16));
    } else if peak[Compute::Fp16.index()] > 0.0 {
        modes.push(ExecMode::new(16, 16, Compute::Fp16));
    }
    let last = if peak[Compute::Fp32.index()] > 0.0 {
        Compute::Fp32
    } else {
        wide
    };
    modes.push(ExecMode::new(32, 32, last));
    Target {
        name: "custom".into(),
        device: name.into(),
        peak_macs_per_s: peak,
        bandwidth_bytes_per_s: bandwidth_gbps * G,
        mac_energy_pj: *pj_per_mac,
        dram_pj_per_byte: pj_per_byte,
        modes,
        unsigned_int8_activations: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_consistent() {
        for name in BUILTIN_NAMES {
            let t = builtin(name).unwrap();
            assert_eq!(t.name, name);
            t.check().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(builtin("tpu").is_none());
    }

    #[test]
    fn documented_throughput_ratios_hold() {
        let neon = builtin("arm_neon").unwrap();
        let dot = builtin("arm_dot").unwrap();
        // SDOT doubles plain-NEON int8 throughput; fp32 is half of fp16.
        assert_eq!(dot.peak(Compute::Int8), 2.0 * neon.peak(Compute::Int8));
        assert_eq!(neon.peak(Compute::Fp16), 2.0 * neon.peak(Compute::Fp32));
        let trt = builtin("nvidia_tensorrt").unwrap();
        assert_eq!(trt.peak(Compute::Int8), 2.0 * trt.peak(Compute::Fp16));
        let vnni = builtin("intel_vnni").unwrap();
        assert_eq!(vnni.peak(Compute::Int8), 4.0 * vnni.peak(Compute::Fp32));
        // The Neural Engine never computes int4 weights natively.
        let ane = builtin("apple_neural_engine").unwrap();
        assert_eq!(ane.execution(4, 16).mode.compute, Compute::Fp16);
        assert!(!ane.execution(4, 8).native);
    }

    #[test]
    fn custom_targets_derive_their_modes() {
        let t = custom(
            "npu",
            &[0.0, 10.0, 0.0, 5.0, 0.0],
            50.0,
            &ENERGY,
            E_DRAM_BYTE,
            true,
        );
        t.check().unwrap();
        assert!(t.execution(8, 8).native);
        assert!(t.execution(4, 16).native);
        assert_eq!(t.execution(32, 32).mode.compute, Compute::Fp16);
    }
}
