//! The built-in targets: the six of the quantization-evolution document,
//! then parts people deploy to today, each pinned to one concrete, publicly
//! specified device (named by the part) so its figures can be checked.
//! Sources are cited per constant and in each target's `sources`;
//! "assumption" marks a figure the vendor does not publish, with the
//! reasoning.
//!
//! Energy has a basis per target ([`EnergyBasis`]), each from a cited
//! source and named in `evoquant list mixed_precision`:
//! - **rated or measured power × modelled time** where the part's power is
//!   published: GPU board power and CPU TDP (T4, L4, H100, Jetson AGX Orin,
//!   the Xeon slice, the Core i9), and the Raspberry Pi 5's measured board
//!   power under a CPU stress load (the Cortex-A76 targets);
//! - **a per-operation table calibrated on a measurement** for the Apple
//!   Neural Engines: Horowitz's ratios, scaled so the fp16 MAC costs what
//!   the M1 Neural Engine was measured to spend;
//! - **a per-operation table scaled to the process node** for the parts with
//!   no published power (the Qualcomm NPUs, the Cortex-X4): Horowitz's
//!   45 nm table × the Stillmaker–Baas energy factor to 7 nm, the smallest
//!   node that paper covers (these parts are 4 nm, so an upper bound on
//!   arithmetic energy), which counts arithmetic only (no SRAM movement or
//!   control: the Apple calibration shows those dominate).
//!
//! Every per-op target prices DRAM at 14 pJ/bit, an LPDDR4 whole-access
//! figure (an upper bound for the LPDDR5/5X/5T these parts use), not scaled
//! with the logic node: DRAM energy is the memory's, not the SoC's.
//! Energies of different bases are different models: compare them as such.

use super::target::{Compute, EnergyBasis, ExecMode, Target};

/// The built-in targets: the one list a target is added to. Manifest
/// choices, `evoquant list` and the docs come from it.
type MakeTarget = fn() -> Target;

const BUILTINS: [(&str, MakeTarget); 13] = [
    ("arm_neon", || arm("arm_neon", false)),
    ("arm_dot", || arm("arm_dot", true)),
    ("qualcomm_hexagon", hexagon),
    ("apple_neural_engine", neural_engine),
    ("nvidia_tensorrt", tensorrt),
    ("intel_vnni", vnni),
    ("nvidia_l4", l4),
    ("nvidia_h100_sxm", h100),
    ("nvidia_jetson_agx_orin", orin),
    ("snapdragon_8_gen_3_hexagon", hexagon_8g3),
    ("cortex_x4_i8mm", cortex_x4),
    ("apple_m3_neural_engine", m3_neural_engine),
    ("intel_core_i9_11900k", core_i9_11900k),
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

/// Part names for the document's six, whose manifest names are kept (they
/// name a vendor or an instruction, not the part): each alias selects the
/// same target under its own name.
pub const ALIASES: [(&str, &str); 6] = [
    ("cortex_a76_neon", "arm_neon"),
    ("cortex_a76_sdot", "arm_dot"),
    ("snapdragon_x_elite_hexagon", "qualcomm_hexagon"),
    ("apple_a17_pro_neural_engine", "apple_neural_engine"),
    ("nvidia_t4", "nvidia_tensorrt"),
    ("xeon_gold_6248_vnni", "intel_vnni"),
];

/// Every name `hardware_target` accepts: the built-ins, their part-name
/// aliases, then `custom`.
pub const TARGET_CHOICES: [&str; BUILTINS.len() + ALIASES.len() + 1] = {
    let mut out = [CUSTOM; BUILTINS.len() + ALIASES.len() + 1];
    let mut i = 0;
    while i < BUILTINS.len() {
        out[i] = BUILTINS[i].0;
        i += 1;
    }
    let mut j = 0;
    while j < ALIASES.len() {
        out[BUILTINS.len() + j] = ALIASES[j].0;
        j += 1;
    }
    out
};

/// Horowitz, "Computing's energy problem (and what we can do about it)",
/// ISSCC 2014, 45 nm, 0.9 V: int8 mult 0.2 + int8 add 0.03 pJ.
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
/// 1.95 nJ / 8 bytes (DDR3-era; the `custom.*` default).
const E_DRAM_BYTE: f64 = 1950.0 / 8.0;

/// The 45 nm per-operation table, [int4, int8, int16, fp16, fp32] pJ per MAC
/// (the `custom.*` default).
pub const ENERGY: [f64; 5] = [E_INT4, E_INT8, E_INT16, E_FP16, E_FP32];
/// The 45 nm DRAM energy per byte (pJ), the `custom.*` default.
pub const DRAM_PJ_PER_BYTE: f64 = E_DRAM_BYTE;

/// LPDDR4 DRAM energy per access, core and I/O: 13–14 pJ/bit (H. Ha,
/// Stanford PhD thesis, DramDSE simulation of 32 Gb LPDDR4 at 3.2 Gb/s/pin:
/// 14.0 pJ/bit), 14 × 8 pJ per byte. No published whole-access figure for
/// LPDDR5/5X/5T was found; their vendors claim lower energy than LPDDR4X,
/// so this is an upper bound for them.
const E_LPDDR_BYTE: f64 = 14.0 * 8.0;

/// Stillmaker & Baas, "Scaling equations for the accurate prediction of
/// CMOS device performance from 180 nm to 7 nm", Integration, the VLSI
/// Journal 58 (2017) 74–81: energy factor a·V² + b·V + c per node (fitted to
/// HSpice on PTM/ITRS models; coefficients as transcribed in UCLA NanoCAD's
/// nodeScale, which reproduce the paper's corrigendum example).
fn stillmaker_baas_energy((a, b, c): (f64, f64, f64), vdd: f64) -> f64 {
    a * vdd * vdd + b * vdd + c
}
/// High-performance 45 nm, the node of Horowitz's table (at 0.9 V).
const SB_HP45: (f64, f64, f64) = (1.018, -0.3107, 0.1539);
/// High-performance 7 nm, the paper's smallest node.
const SB_HP7: (f64, f64, f64) = (0.1776, -0.09097, 0.02447);
/// Assumed core supply of the scaled parts (not published): 0.8 V.
const SCALED_VDD: f64 = 0.8;

/// Energy per operation at 7 nm, 0.8 V relative to 45 nm, 0.9 V (≈ 0.094).
pub fn node_factor_7nm() -> f64 {
    stillmaker_baas_energy(SB_HP7, SCALED_VDD) / stillmaker_baas_energy(SB_HP45, 0.9)
}

/// Horowitz's table scaled to 7 nm (see [`node_factor_7nm`]).
fn energy_7nm() -> [f64; 5] {
    let f = node_factor_7nm();
    ENERGY.map(|e| e * f)
}

const SCALED_7NM: &str = "Horowitz 45 nm x Stillmaker-Baas 7 nm HP at 0.8 V (x0.094; a 4 nm part spends less, arithmetic only), DRAM 14 pJ/bit (LPDDR4, Ha thesis; upper bound for LPDDR5X)";
const SCALED_7NM_SOURCES: &str = "energy: Horowitz ISSCC 2014 table x Stillmaker & Baas, Integration 58 (2017) 7 nm factor (0.8 V assumed); DRAM 14 pJ/bit LPDDR4 (H. Ha, Stanford thesis)";

/// Measured Apple M1 Neural Engine efficiency: 2063 GFLOP/s per W in fp16
/// on a 3×3 convolution stack, idle-subtracted package power from
/// `powermetrics` ("ANE guide", §10 Power and efficiency), i.e. 0.485 pJ
/// per FLOP, 0.97 pJ per fp16 MAC (2 FLOP) including on-chip data movement.
const E_ANE_FP16: f64 = 2.0 / 2063e9 * 1e12;

/// Horowitz's ratios scaled so the fp16 MAC equals the M1 measurement (the
/// A17 Pro and M3 are a node newer, N3B vs N5: an upper bound).
fn energy_neural_engine() -> [f64; 5] {
    let f = E_ANE_FP16 / E_FP16;
    ENERGY.map(|e| e * f)
}

const NEURAL_ENGINE_TABLE: &str = "Horowitz ratios calibrated to the measured M1 Neural Engine (0.97 pJ per fp16 MAC, package power; N5, an upper bound for N3B), DRAM 14 pJ/bit (LPDDR4, Ha thesis; upper bound for LPDDR5)";
const NEURAL_ENGINE_SOURCES: &str = "energy: ANE guide 10 (M1 Neural Engine 2063 GFLOP/s per W fp16, powermetrics) with Horowitz ISSCC 2014 ratios; DRAM 14 pJ/bit LPDDR4 (H. Ha, Stanford thesis)";

/// Raspberry Pi 5 (4 GB, C1 stepping) board power under a CPU stress load,
/// measured by Jeff Geerling: 9.8 W (3.3 W idle). A stress test is not a
/// NEON GEMM, and the board includes I/O, so this is the board's energy
/// running flat out for the modelled time.
const PI5_STRESS_W: f64 = 9.8;

const G: f64 = 1e9;
const T: f64 = 1e12;

/// A built-in target by manifest name or part-name alias (an alias's
/// target carries the alias as its name).
pub fn builtin(name: &str) -> Option<Target> {
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, c)| c);
    BUILTINS
        .iter()
        .find(|(n, _)| *n == canonical)
        .map(|(_, make)| {
            let mut t = make();
            t.name = name.to_string();
            t
        })
}

/// Every built-in target with its device, native modes, energy basis and
/// sources, as `evoquant list mixed_precision` prints them.
pub fn targets_text() -> String {
    let mut out =
        String::from("\n  hardware targets (figures are a model from the cited sources):\n");
    for name in BUILTIN_NAMES {
        let t = builtin(name).expect("built-in");
        let alias = ALIASES
            .iter()
            .find(|(_, c)| *c == name)
            .map(|(a, _)| format!(" (also `{a}`)"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {name}{alias}\n      device:  {}\n      modes:   {}\n      energy:  {}\n      sources: {}\n",
            t.device,
            t.modes_text(),
            t.energy.text(),
            t.sources
        ));
    }
    out.push_str("  custom\n      the custom.* parameters (per-op energy table)\n");
    out
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

/// The integer, fp16 and fp32 modes of a CPU without int4 or int16 paths.
fn cpu_modes() -> Vec<ExecMode> {
    vec![
        ExecMode::new(8, 8, Compute::Int8),
        ExecMode::new(16, 16, Compute::Fp16),
        ExecMode::new(32, 32, Compute::Fp32),
    ]
}

/// TensorRT on an Ampere-or-later NVIDIA GPU: INT8 (W8A8; FP8 W8A8 on Ada
/// and Hopper runs at the same rate), weight-only INT4 / INT8 that
/// dequantize into an fp16 GEMM (TensorRT "Working with Quantized Types":
/// INT4 is weight-only quantization, activations stay fp16; NVIDIA Model
/// Optimizer support matrix: W4A16 on Ampere and later), fp16, fp32.
fn tensorrt_modes() -> Vec<ExecMode> {
    vec![
        ExecMode::new(8, 8, Compute::Int8),
        ExecMode::new(4, 16, Compute::Fp16),
        ExecMode::new(8, 16, Compute::Fp16),
        ExecMode::new(16, 16, Compute::Fp16),
        ExecMode::new(32, 32, Compute::Fp32),
    ]
}

/// [`tensorrt_modes`] with FP8 W8A8 on the FP8 tensor cores of Ada and
/// Hopper (TensorRT "Working with Quantized Types": FP8 E4M3 for weights
/// and activations, per-tensor activation and per-channel or per-tensor
/// weight scales), after INT8 so integer genes keep the INT8 path.
fn fp8_tensorrt_modes() -> Vec<ExecMode> {
    let mut m = tensorrt_modes();
    m.insert(1, ExecMode::new(8, 8, Compute::Fp8));
    m
}

/// Cortex-A76 ×4 at 2.4 GHz (the Raspberry Pi 5's BCM2712; Raspberry Pi 5
/// product brief: LPDDR4X-4267 on a 32-bit bus). Per core and cycle, from the
/// Arm Cortex-A76 Software Optimization Guide (two 128-bit ASIMD pipes V0/V1):
/// - FMLA (fp32 4 lanes, fp16 8 lanes) issues on both pipes: 8 fp32 / 16
///   fp16 MACs;
/// - plain-NEON int8 is SMLAL/SMLAL2 (8 int8 × int8 → int16 MACs each),
///   which the guide lists on pipe V0 only (throughput 1): 8 int8 MACs, half
///   the fp16 rate; the int16 accumulators also need widening (SADALP) every
///   few steps, which is not costed, so 8 is an upper bound;
/// - SDOT (ARMv8.2 dot product, 16 int8 MACs into 4 int32 lanes) issues on
///   both pipes: 32 int8 MACs, 4× plain NEON.
fn arm(name: &str, dot: bool) -> Target {
    let per_core_s = 4.0 * 2.4 * G; // cores × clock
    let int8 = if dot { 16.0 * 2.0 } else { 8.0 };
    Target {
        name: name.into(),
        device: if dot {
            "Arm Cortex-A76 x4 @ 2.4 GHz (Raspberry Pi 5), SDOT int8 dot products, LPDDR4X-4267 x32"
                .into()
        } else {
            "Arm Cortex-A76 x4 @ 2.4 GHz (Raspberry Pi 5), NEON without dot products (SMLAL), LPDDR4X-4267 x32".into()
        },
        peak_macs_per_s: [
            0.0,
            int8 * per_core_s,
            0.0,
            16.0 * per_core_s,
            8.0 * per_core_s,
        ],
        fp8_macs_per_s: 0.0,
        // 4267 MT/s × 4 bytes.
        bandwidth_bytes_per_s: 4267e6 * 4.0,
        mac_energy_pj: ENERGY,
        dram_pj_per_byte: E_DRAM_BYTE,
        modes: cpu_modes(),
        unsigned_int8_activations: false,
        energy: EnergyBasis::BoardPower {
            watts: PI5_STRESS_W,
        },
        sources: format!(
            "Arm Cortex-A76 Software Optimization Guide ({}; LLVM's Neoverse N1 model, an A76 derivative, agrees: SMLAL on V0, FMLA on V0/V1); Raspberry Pi 5 product brief (4x A76 @ 2.4 GHz, LPDDR4X-4267 x32, BCM2712 in TSMC 16 nm); energy: 9.8 W Raspberry Pi 5 board power measured under CPU stress (Jeff Geerling, 4 GB C1) x modelled time",
            if dot {
                "SDOT on both ASIMD pipes, 16 MACs each"
            } else {
                "SMLAL on pipe V0 only, 8 MACs; FMLA on both pipes"
            }
        ),
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
        device: "Qualcomm Hexagon NPU (Snapdragon X Elite), 45 TOPS int8, LPDDR5X-8448 x128".into(),
        peak_macs_per_s: [0.0, int8, int8 / 2.0, int8 / 4.0, 0.0],
        fp8_macs_per_s: 0.0,
        bandwidth_bytes_per_s: 135.0 * G,
        mac_energy_pj: energy_7nm(),
        dram_pj_per_byte: E_LPDDR_BYTE,
        modes: vec![
            ExecMode::new(8, 8, Compute::Int8),
            ExecMode::new(4, 16, Compute::Int16),
            ExecMode::new(8, 16, Compute::Int16),
            ExecMode::new(16, 16, Compute::Int16),
            // fp32 graphs fall back to the fp16 HTP path.
            ExecMode::new(32, 32, Compute::Fp16),
        ],
        unsigned_int8_activations: false,
        energy: EnergyBasis::PerOp { table: SCALED_7NM },
        sources: format!(
            "Qualcomm Snapdragon X Elite product brief (45 TOPS, 135 GB/s, LPDDR5X-8448, TSMC 4 nm); QNN HTP backend docs (a8w8, a16w8, a16w16, a16w4, fp16); assumptions: 45 TOPS is the int8 rate, int16 = 1/2, fp16 = 1/4 of int8; {SCALED_7NM_SOURCES}"
        ),
    }
}

/// Apple A17 Pro Neural Engine: 35 TOPS (Apple, iPhone 15 Pro announcement,
/// Sept 2023); int8 × int8 compute is faster on A17 Pro / M4 (coremltools
/// "Performance": "increased throughput possible for int8-int8 compute",
/// W8A8 ResNet-50 considerably faster than W16A16); everything else
/// computes in fp16 and int8 / int4 weights are decompressed (coremltools
/// `linear_quantize_weights`: "all computation at runtime uses float
/// precision").
/// Assumptions: the 35 TOPS figure is the int8 rate and fp16 is half of it;
/// memory is the A17 Pro's LPDDR5-6400 on a 64-bit bus, 51.2 GB/s.
fn neural_engine() -> Target {
    let int8 = 35.0 * T / 2.0;
    Target {
        name: "apple_neural_engine".into(),
        device: "Apple A17 Pro Neural Engine, 35 TOPS, LPDDR5-6400 x64".into(),
        peak_macs_per_s: [0.0, int8, 0.0, int8 / 2.0, 0.0],
        fp8_macs_per_s: 0.0,
        bandwidth_bytes_per_s: 51.2 * G,
        mac_energy_pj: energy_neural_engine(),
        dram_pj_per_byte: E_LPDDR_BYTE,
        modes: vec![
            ExecMode::new(8, 8, Compute::Int8),
            ExecMode::new(4, 16, Compute::Fp16),
            ExecMode::new(8, 16, Compute::Fp16),
            ExecMode::new(16, 16, Compute::Fp16),
            // No fp32 on the Neural Engine: Core ML computes it in fp16.
            ExecMode::new(32, 32, Compute::Fp16),
        ],
        unsigned_int8_activations: false,
        energy: EnergyBasis::PerOp {
            table: NEURAL_ENGINE_TABLE,
        },
        sources: format!(
            "Apple iPhone 15 Pro announcement (35 TOPS, TSMC N3B); coremltools Performance (faster int8-int8 compute on A17 Pro/M4) and weight-only linear quantization (float compute); assumptions: 35 TOPS is the int8 rate, fp16 half, LPDDR5-6400 x64; {NEURAL_ENGINE_SOURCES}"
        ),
    }
}

/// NVIDIA T4 with TensorRT (NVIDIA T4 datasheet): 8.1 TFLOPS fp32, 65 TFLOPS
/// fp16, 130 TOPS int8, 320 GB/s GDDR6, 70 W maximum board power. The
/// datasheet's 260 TOPS int4 is a tensor-core peak TensorRT does not expose:
/// TensorRT's INT4 is weight-only (W4A16, dequantized into an fp16 GEMM), so
/// there is no native W4A4 and W4A4 runs as W8A8 int8 (a fallback). Weight-
/// only W4A16 itself is listed for "Ampere and later" GPUs (NVIDIA Model
/// Optimizer support matrix), and the T4 is Turing: on it W4A16 / W8A16 are
/// not native either (they run as fp16 GEMMs on weights stored narrow).
fn tensorrt() -> Target {
    Target {
        name: "nvidia_tensorrt".into(),
        device: "NVIDIA T4 (Turing) with TensorRT, 320 GB/s GDDR6, 70 W".into(),
        peak_macs_per_s: [0.0, 130.0 * T / 2.0, 0.0, 65.0 * T / 2.0, 8.1 * T / 2.0],
        fp8_macs_per_s: 0.0,
        bandwidth_bytes_per_s: 320.0 * G,
        mac_energy_pj: ENERGY,
        dram_pj_per_byte: E_DRAM_BYTE,
        modes: vec![
            ExecMode::new(8, 8, Compute::Int8),
            ExecMode::new(16, 16, Compute::Fp16),
            ExecMode::new(32, 32, Compute::Fp32),
        ],
        unsigned_int8_activations: false,
        energy: EnergyBasis::BoardPower { watts: 70.0 },
        sources: "NVIDIA T4 datasheet (8.1/65/130 TOPS fp32/fp16/int8, 320 GB/s, 70 W); TensorRT Working with Quantized Types (INT4 is weight-only: no W4A4); NVIDIA Model Optimizer support matrix (weight-only W4A16: Ampere and later, so not on Turing); energy: 70 W board power x modelled time".into(),
    }
}

/// Intel Xeon Gold 6248 (Cascade Lake, AVX-512 VNNI; Intel ARK: 20 cores,
/// 2.5 GHz base, 150 W TDP, six DDR4-2933 channels), 8 of its 20 cores: two
/// 512-bit FMA units per core (Intel 64 and IA-32 Architectures Optimization
/// Reference Manual). VPDPBUSD: 64 int8 MACs per 512-bit instruction with
/// unsigned activations × signed weights (Intel Intrinsics Guide), so
/// symmetric (signed) activations need a +128 shift and a compensation term;
/// FMA: 16 fp32 MACs per instruction. No fp16 arithmetic (AVX512-FP16 came
/// with Sapphire Rapids): fp16 weights are converted and computed in fp32.
/// Memory: six DDR4-2933 channels, 6 × 23.47 GB/s = 140.8 GB/s. Energy: the
/// slice's share of the TDP, 8/20 × 150 W = 60 W (assumption: power shares
/// evenly over cores).
fn vnni() -> Target {
    let per_s = 8.0 * 2.5 * G * 2.0; // cores × clock × FMA units
    Target {
        name: "intel_vnni".into(),
        device: "Intel Xeon Gold 6248 (Cascade Lake), 8 of 20 cores @ 2.5 GHz, AVX-512 VNNI, 6x DDR4-2933".into(),
        peak_macs_per_s: [0.0, 64.0 * per_s, 0.0, 0.0, 16.0 * per_s],
        fp8_macs_per_s: 0.0,
        bandwidth_bytes_per_s: 6.0 * 2933e6 * 8.0,
        mac_energy_pj: ENERGY,
        dram_pj_per_byte: E_DRAM_BYTE,
        modes: vec![
            ExecMode::new(8, 8, Compute::Int8),
            ExecMode::new(32, 32, Compute::Fp32),
        ],
        unsigned_int8_activations: true,
        energy: EnergyBasis::BoardPower { watts: 60.0 },
        sources: "Intel ARK Xeon Gold 6248 (20 cores, 2.5 GHz, 150 W, DDR4-2933 x6); Intel Optimization Reference Manual (2 FMA units); Intrinsics Guide (VPDPBUSD u8 x s8); energy: 8/20 of the 150 W TDP (assumption: even per-core share) x modelled time".into(),
    }
}

/// NVIDIA L4 (Ada Lovelace; NVIDIA L4 datasheet): 30.3 TFLOPS fp32, 242
/// TFLOPS fp16 and 485 TOPS int8 / 485 TFLOPS FP8 *with sparsity* (half
/// dense: 121 / 242.5), 300 GB/s GDDR6, 72 W maximum power. Dense rates are
/// used (the search does not prune). FP8 runs at the int8 rate; the genome
/// has no FP8 gene, so W8A8 is costed as int8, which is the same cost.
fn l4() -> Target {
    Target {
        name: "nvidia_l4".into(),
        device: "NVIDIA L4 (Ada) with TensorRT, 300 GB/s GDDR6, 72 W".into(),
        peak_macs_per_s: [0.0, 242.5 * T / 2.0, 0.0, 121.0 * T / 2.0, 30.3 * T / 2.0],
        fp8_macs_per_s: 242.5 * T / 2.0,
        bandwidth_bytes_per_s: 300.0 * G,
        mac_energy_pj: ENERGY,
        dram_pj_per_byte: E_DRAM_BYTE,
        modes: fp8_tensorrt_modes(),
        unsigned_int8_activations: false,
        energy: EnergyBasis::BoardPower { watts: 72.0 },
        sources: "NVIDIA L4 datasheet (30.3 TFLOPS fp32; 242 fp16, 485 int8/FP8 with sparsity, half dense; 300 GB/s; 72 W); TensorRT docs (INT4 weight-only; FP8 E4M3 W8A8); energy: 72 W board power x modelled time".into(),
    }
}

/// NVIDIA H100 SXM5 (Hopper; NVIDIA H100 datasheet): 67 TFLOPS fp32, 1,979
/// TFLOPS fp16 and 3,958 TOPS int8 / TFLOPS FP8 *with sparsity* (dense:
/// 989.5 / 1,979), 3.35 TB/s HBM3, up to 700 W. Dense rates are used.
fn h100() -> Target {
    Target {
        name: "nvidia_h100_sxm".into(),
        device: "NVIDIA H100 SXM5 (Hopper) with TensorRT, 3.35 TB/s HBM3, 700 W".into(),
        peak_macs_per_s: [0.0, 1979.0 * T / 2.0, 0.0, 989.5 * T / 2.0, 67.0 * T / 2.0],
        fp8_macs_per_s: 1979.0 * T / 2.0,
        bandwidth_bytes_per_s: 3350.0 * G,
        mac_energy_pj: ENERGY,
        dram_pj_per_byte: E_DRAM_BYTE,
        modes: fp8_tensorrt_modes(),
        unsigned_int8_activations: false,
        energy: EnergyBasis::BoardPower { watts: 700.0 },
        sources: "NVIDIA H100 datasheet, SXM5 (67 TFLOPS fp32; 1979 fp16, 3958 int8/FP8 with sparsity, half dense; 3.35 TB/s; up to 700 W); TensorRT docs (INT4 weight-only; FP8 E4M3 W8A8); energy: 700 W board power x modelled time".into(),
    }
}

/// NVIDIA Jetson AGX Orin 64GB (Jetson AGX Orin series datasheet): 275
/// sparse int8 TOPS of which the Ampere GPU's are 170 (the rest the two
/// DLAs, not used by a GPU TensorRT engine), i.e. 85 dense; 5.3 TFLOPS fp32
/// on the CUDA cores; 204.8 GB/s LPDDR5 (256-bit); 15–60 W module power.
/// Dense fp16 tensor throughput is half of int8 (Jetson AGX Orin technical
/// brief: each tensor core does 16 fp16 HMMA or 32 int8 IMMA per cycle).
fn orin() -> Target {
    let int8 = 85.0 * T / 2.0;
    Target {
        name: "nvidia_jetson_agx_orin".into(),
        device: "NVIDIA Jetson AGX Orin 64GB (Ampere GPU) with TensorRT, 204.8 GB/s LPDDR5, 60 W mode".into(),
        peak_macs_per_s: [0.0, int8, 0.0, int8 / 2.0, 5.3 * T / 2.0],
        fp8_macs_per_s: 0.0,
        bandwidth_bytes_per_s: 204.8 * G,
        mac_energy_pj: ENERGY,
        dram_pj_per_byte: E_DRAM_BYTE,
        modes: tensorrt_modes(),
        unsigned_int8_activations: false,
        energy: EnergyBasis::BoardPower { watts: 60.0 },
        sources: "NVIDIA Jetson AGX Orin series datasheet (GPU 170 sparse int8 TOPS = 85 dense; 5.3 TFLOPS fp32; 204.8 GB/s; 15-60 W); Jetson AGX Orin technical brief (tensor core 16 fp16 HMMA vs 32 int8 IMMA: fp16 = 1/2 of int8); energy: 60 W module power x modelled time".into(),
    }
}

/// Qualcomm Hexagon NPU of the Snapdragon 8 Gen 3 (phone). Snapdragon 8 Gen 3
/// product brief: LPDDR5X up to 4800 MHz (9600 MT/s) on a 64-bit bus,
/// 76.8 GB/s, TSMC 4 nm (N4P); INT4 support on the Hexagon NPU, published
/// as 4-bit weights with 16-bit activations (Qualcomm AI Hub models: "INT4
/// (4-bit weight, 16-bit activation)"; QNN a16w4), so W4A8 is not taken as
/// native (it runs as W8A8). Qualcomm publishes no TOPS figure for this part
/// (only "+98% AI performance" over the 8 Gen 2). Assumption: the X Elite's
/// 45 TOPS int8 (the same Hexagon generation, announced together at
/// Snapdragon Summit 2023; the phone part clocks no higher, so this is an
/// upper bound), int16 = ½, fp16 = ¼ of int8 as for `qualcomm_hexagon`.
fn hexagon_8g3() -> Target {
    let int8 = 45.0 * T / 2.0;
    Target {
        name: "snapdragon_8_gen_3_hexagon".into(),
        device: "Qualcomm Snapdragon 8 Gen 3 Hexagon NPU, INT4 weights, LPDDR5X-9600 x64".into(),
        peak_macs_per_s: [0.0, int8, int8 / 2.0, int8 / 4.0, 0.0],
        fp8_macs_per_s: 0.0,
        bandwidth_bytes_per_s: 9600e6 * 8.0,
        mac_energy_pj: energy_7nm(),
        dram_pj_per_byte: E_LPDDR_BYTE,
        modes: vec![
            ExecMode::new(8, 8, Compute::Int8),
            ExecMode::new(4, 16, Compute::Int16),
            ExecMode::new(8, 16, Compute::Int16),
            ExecMode::new(16, 16, Compute::Int16),
            ExecMode::new(32, 32, Compute::Fp16),
        ],
        unsigned_int8_activations: false,
        energy: EnergyBasis::PerOp { table: SCALED_7NM },
        sources: format!(
            "Qualcomm Snapdragon 8 Gen 3 product brief (LPDDR5X 4800 MHz, INT4 support, TSMC 4 nm); Qualcomm AI Hub (INT4 = 4-bit weights, 16-bit activations); QNN HTP backend docs (a8w8, a16w4, a16w8, a16w16, fp16); assumptions: 45 TOPS int8 as on the X Elite (not published for this part), int16 = 1/2, fp16 = 1/4 of int8; {SCALED_7NM_SOURCES}"
        ),
    }
}

/// Arm Cortex-X4 ×4 (MediaTek Dimensity 9300: one at 3.25 GHz and three at
/// 2.85 GHz, LPDDR5T-9600 on a 64-bit bus, 76.8 GB/s; MediaTek product
/// page), Armv9.2 with the i8mm extension: SMMLA multiplies a 2×8 by an 8×2
/// int8 matrix into 2×2 int32, 32 MACs per 128-bit instruction (Arm
/// Architecture Reference Manual), twice SDOT's 16. Four 128-bit vector
/// pipes per core, SMMLA, SDOT and FMLA issuing on all four (LLVM schedules
/// `cortex-x4` with its Neoverse V3 model, taken from the Neoverse V3
/// Software Optimization Guide: VMMA, VDOT and VFMA on V0–V3; SMLAL on V0
/// and V2 only). Assumption: the four X4 cores at 2.85 GHz (the sustained
/// all-big-core clock; one of them reaches 3.25 GHz).
fn cortex_x4() -> Target {
    let per_core_s = 4.0 * 2.85 * G * 4.0; // cores × clock × pipes
    Target {
        name: "cortex_x4_i8mm".into(),
        device: "Arm Cortex-X4 x4 @ 2.85 GHz (Dimensity 9300), i8mm SMMLA int8, LPDDR5T-9600 x64"
            .into(),
        peak_macs_per_s: [
            0.0,
            32.0 * per_core_s,
            0.0,
            8.0 * per_core_s,
            4.0 * per_core_s,
        ],
        fp8_macs_per_s: 0.0,
        bandwidth_bytes_per_s: 9600e6 * 8.0,
        mac_energy_pj: energy_7nm(),
        dram_pj_per_byte: E_LPDDR_BYTE,
        modes: cpu_modes(),
        unsigned_int8_activations: false,
        energy: EnergyBasis::PerOp { table: SCALED_7NM },
        sources: format!(
            "MediaTek Dimensity 9300 (4x Cortex-X4 at 3.25/2.85 GHz, LPDDR5T-9600, TSMC 3rd-gen 4 nm); Arm ARM (SMMLA: 32 int8 MACs per instruction); LLVM cortex-x4 = Neoverse V3 model (4 vector pipes, SMMLA/SDOT/FMLA on all four); assumption: 2.85 GHz on all four; {SCALED_7NM_SOURCES}"
        ),
    }
}

/// Apple M3 Neural Engine: 18 TOPS (Apple M3 family announcement, Oct 2023),
/// 100 GB/s unified LPDDR5 (same), TSMC N3B. coremltools "Performance" names
/// A17 Pro and M4 as the Neural Engines where int8 × int8 compute gains
/// throughput, so on the M3 W8A8 gains nothing over fp16: it is modelled at
/// the fp16 rate (8-bit storage, a fallback) and int4 / int8 weights are
/// weight-only. Assumption: the 18 TOPS figure is the fp16 rate (the Neural
/// Engine's datapath before A17 Pro/M4 is described as fp16).
fn m3_neural_engine() -> Target {
    let fp16 = 18.0 * T / 2.0;
    Target {
        name: "apple_m3_neural_engine".into(),
        device: "Apple M3 Neural Engine, 18 TOPS, 100 GB/s LPDDR5".into(),
        peak_macs_per_s: [0.0, 0.0, 0.0, fp16, 0.0],
        fp8_macs_per_s: 0.0,
        bandwidth_bytes_per_s: 100.0 * G,
        mac_energy_pj: energy_neural_engine(),
        dram_pj_per_byte: E_LPDDR_BYTE,
        modes: vec![
            ExecMode::new(4, 16, Compute::Fp16),
            ExecMode::new(8, 16, Compute::Fp16),
            ExecMode::new(16, 16, Compute::Fp16),
            ExecMode::new(32, 32, Compute::Fp16),
        ],
        unsigned_int8_activations: false,
        energy: EnergyBasis::PerOp {
            table: NEURAL_ENGINE_TABLE,
        },
        sources: format!(
            "Apple M3 announcement (18 TOPS, 100 GB/s, TSMC N3B); coremltools Performance (int8-int8 throughput gain only on A17 Pro/M4: W8A8 at the fp16 rate on M3); assumption: 18 TOPS is the fp16 rate; {NEURAL_ENGINE_SOURCES}"
        ),
    }
}

/// Intel Core i9-11900K (Rocket Lake, client; Intel ARK: 8 cores, 3.5 GHz
/// base, 125 W TDP, DDR4-3200 dual channel, 51.2 GB/s) with AVX-512 VNNI.
/// Client Cypress Cove cores have one 512-bit FMA unit (ports 0+1 fused;
/// Intel Optimization Reference Manual, Ice Lake client microarchitecture),
/// so 64 int8 MACs (VPDPBUSD, unsigned activations × signed weights) and 16
/// fp32 MACs per core and cycle; no fp16 arithmetic.
fn core_i9_11900k() -> Target {
    let per_s = 8.0 * 3.5 * G; // cores × clock × one FMA unit
    Target {
        name: "intel_core_i9_11900k".into(),
        device: "Intel Core i9-11900K (Rocket Lake) 8 cores @ 3.5 GHz, AVX-512 VNNI, 2x DDR4-3200".into(),
        peak_macs_per_s: [0.0, 64.0 * per_s, 0.0, 0.0, 16.0 * per_s],
        fp8_macs_per_s: 0.0,
        bandwidth_bytes_per_s: 2.0 * 3200e6 * 8.0,
        mac_energy_pj: ENERGY,
        dram_pj_per_byte: E_DRAM_BYTE,
        modes: vec![
            ExecMode::new(8, 8, Compute::Int8),
            ExecMode::new(32, 32, Compute::Fp32),
        ],
        unsigned_int8_activations: true,
        energy: EnergyBasis::BoardPower { watts: 125.0 },
        sources: "Intel ARK Core i9-11900K (8 cores, 3.5 GHz, 125 W, DDR4-3200 x2); Intel Optimization Reference Manual (one 512-bit FMA unit on client cores); Intrinsics Guide (VPDPBUSD); energy: 125 W TDP x modelled time".into(),
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
        fp8_macs_per_s: 0.0,
        bandwidth_bytes_per_s: bandwidth_gbps * G,
        mac_energy_pj: *pj_per_mac,
        dram_pj_per_byte: pj_per_byte,
        modes,
        unsigned_int8_activations: false,
        energy: EnergyBasis::PerOp {
            table: "custom.pj_per_mac and custom.pj_per_byte",
        },
        sources: "custom.* parameters of the manifest".into(),
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
            assert!(
                !t.sources.is_empty() && t.sources.contains("energy"),
                "{name}"
            );
        }
        assert!(builtin("tpu").is_none());
        // The document's six come first, unchanged in name.
        assert_eq!(
            BUILTIN_NAMES[..6],
            [
                "arm_neon",
                "arm_dot",
                "qualcomm_hexagon",
                "apple_neural_engine",
                "nvidia_tensorrt",
                "intel_vnni"
            ]
        );
    }

    #[test]
    fn documented_throughput_ratios_hold() {
        let neon = builtin("arm_neon").unwrap();
        let dot = builtin("arm_dot").unwrap();
        // Cortex-A76 SWOG: SMLAL issues on V0 only (8 MACs/cycle), FMLA and
        // SDOT on both pipes: plain-NEON int8 is half the fp16 rate and a
        // quarter of SDOT's; fp32 is half of fp16.
        assert_eq!(neon.peak(Compute::Int8), 4.0 * 2.4e9 * 8.0);
        assert_eq!(dot.peak(Compute::Int8), 4.0 * neon.peak(Compute::Int8));
        assert_eq!(neon.peak(Compute::Fp16), 2.0 * neon.peak(Compute::Int8));
        assert_eq!(neon.peak(Compute::Fp16), 2.0 * neon.peak(Compute::Fp32));
        let trt = builtin("nvidia_tensorrt").unwrap();
        assert_eq!(trt.peak(Compute::Int8), 2.0 * trt.peak(Compute::Fp16));
        // TensorRT's INT4 is weight-only: W4A4 is no native mode on the T4
        // and runs as W8A8 int8; W4A16 is native weight-only in fp16.
        let e = trt.execution(4, 4);
        assert!(!e.native);
        assert_eq!((e.mode.weight_bits, e.mode.act_bits), (8, 8));
        assert_eq!(e.mode.compute, Compute::Int8);
        // Weight-only W4A16 is Ampere and later: not native on the Turing T4,
        // native on the Ada L4.
        assert!(!trt.execution(4, 16).native);
        assert_eq!(trt.execution(4, 16).mode.compute, Compute::Fp16);
        assert!(builtin("nvidia_l4").unwrap().execution(4, 16).native);
        assert!(trt.modes.iter().all(|m| m.compute != Compute::Int4));
        // i8mm SMMLA: twice SDOT's MACs per instruction.
        let x4 = builtin("cortex_x4_i8mm").unwrap();
        assert_eq!(x4.peak(Compute::Int8), 4.0 * x4.peak(Compute::Fp16));
        // Snapdragon 8 Gen 3: INT4 weights are published with 16-bit
        // activations (W4A16 native); W4A8 runs as W8A8.
        let h = builtin("snapdragon_8_gen_3_hexagon").unwrap();
        assert!(h.execution(4, 16).native);
        assert!(!h.execution(4, 8).native);
        assert_eq!(h.execution(4, 8).mode.compute, Compute::Int8);
        // The M3 Neural Engine has no int8 compute path.
        let m3 = builtin("apple_m3_neural_engine").unwrap();
        assert!(!m3.execution(8, 8).native);
        assert_eq!(m3.execution(8, 8).mode.compute, Compute::Fp16);
        let vnni = builtin("intel_vnni").unwrap();
        assert_eq!(vnni.peak(Compute::Int8), 4.0 * vnni.peak(Compute::Fp32));
        // The Neural Engine never computes int4 weights natively.
        let ane = builtin("apple_neural_engine").unwrap();
        assert_eq!(ane.execution(4, 16).mode.compute, Compute::Fp16);
        assert!(!ane.execution(4, 8).native);
    }

    /// Before: every per-op target used the same 45 nm table, so FP32
    /// ResNet-50 cost the same energy on a Cortex-A76, a phone NPU and a
    /// Neural Engine. Each now has its own basis, stated in its sources.
    #[test]
    fn each_target_has_its_own_cited_energy_basis() {
        // Stillmaker & Baas, HP45 at 0.9 V to HP7 at 0.8 V.
        assert!(
            (node_factor_7nm() - 0.0935).abs() < 5e-4,
            "{}",
            node_factor_7nm()
        );
        // M1 Neural Engine: 2063 GFLOP/s per W = 0.97 pJ per fp16 MAC.
        assert!((E_ANE_FP16 - 0.9695).abs() < 1e-3);
        let ane = builtin("apple_neural_engine").unwrap();
        assert!((ane.mac_energy_pj[Compute::Fp16.index()] - E_ANE_FP16).abs() < 1e-12);
        let x4 = builtin("cortex_x4_i8mm").unwrap();
        assert!((x4.mac_energy_pj[Compute::Int8.index()] - 0.23 * node_factor_7nm()).abs() < 1e-12);
        assert_eq!(x4.dram_pj_per_byte, 112.0);
        assert_eq!(
            builtin("arm_neon").unwrap().energy,
            EnergyBasis::BoardPower { watts: 9.8 }
        );
        for name in BUILTIN_NAMES {
            let t = builtin(name).unwrap();
            assert!(!t.sources.contains("no published power"), "{name}");
            if let EnergyBasis::PerOp { table } = t.energy {
                assert_ne!(t.mac_energy_pj, ENERGY, "{name} still on the 45 nm table");
                assert!(table.contains("DRAM 14 pJ/bit"), "{name}");
            }
        }
    }

    #[test]
    fn the_target_listing_names_every_target_and_its_sources() {
        let text = targets_text();
        for name in BUILTIN_NAMES {
            let t = builtin(name).unwrap();
            assert!(text.contains(&format!("  {name}")), "{name}");
            assert!(text.contains(&t.sources), "{name}");
        }
    }

    #[test]
    fn part_name_aliases_select_the_same_figures() {
        for (alias, canonical) in ALIASES {
            let a = builtin(alias).unwrap();
            let mut c = builtin(canonical).unwrap();
            assert_eq!(a.name, alias);
            c.name = alias.to_string();
            assert_eq!(a, c, "{alias}");
            assert!(TARGET_CHOICES.contains(&alias));
            assert!(!BUILTIN_NAMES.contains(&alias));
        }
        assert_eq!(TARGET_CHOICES.last(), Some(&CUSTOM));
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
