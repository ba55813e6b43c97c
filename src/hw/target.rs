//! A hardware target as data: compute precisions with their peak throughput
//! and energy per MAC, memory bandwidth, energy per DRAM byte, and the list
//! of execution modes it supports natively.
//!
//! A *mode* is a (stored weight bits, activation bits, compute precision)
//! triple the target runs as such, e.g. Hexagon's W4A16 (4-bit weights,
//! 16-bit activations, int16 compute) or the Neural Engine's weight-only
//! W4A16 (4-bit weights decompressed to fp16). A layer's configuration is
//! mapped to the first listed mode wide enough for both operands; when that
//! mode's widths are not exactly the configuration's, the layer runs as a
//! fallback (stored in its own bits, computed in the mode's precision) and
//! is reported as such.

use serde::Serialize;

/// The precision the multiply-accumulate units compute in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compute {
    Int4,
    Int8,
    Int16,
    Fp16,
    Fp32,
    /// OCP FP8 (E4M3) tensor-core MACs: both operands FP8 (Ada, Hopper).
    Fp8,
}

impl Compute {
    pub const ALL: [Compute; 5] = [
        Compute::Int4,
        Compute::Int8,
        Compute::Int16,
        Compute::Fp16,
        Compute::Fp32,
    ];

    /// Position in the per-precision arrays (`peak_macs_per_s`,
    /// `mac_energy_pj`); FP8 has its own field ([`Target::fp8_macs_per_s`]).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The compute units take integer codes (no float operand can feed them).
    pub const fn is_integer(self) -> bool {
        matches!(self, Compute::Int4 | Compute::Int8 | Compute::Int16)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Compute::Int4 => "int4",
            Compute::Int8 => "int8",
            Compute::Int16 => "int16",
            Compute::Fp16 => "fp16",
            Compute::Fp32 => "fp32",
            Compute::Fp8 => "fp8",
        }
    }
}

/// One natively supported combination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecMode {
    /// Stored weight bits the mode consumes directly.
    pub weight_bits: u8,
    /// Activation bits the mode consumes and produces.
    pub act_bits: u8,
    pub compute: Compute,
}

impl ExecMode {
    pub const fn new(weight_bits: u8, act_bits: u8, compute: Compute) -> ExecMode {
        ExecMode {
            weight_bits,
            act_bits,
            compute,
        }
    }
}

/// How a target runs one layer's (weight bits, activation bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Execution {
    pub mode: ExecMode,
    /// The configuration is exactly a native mode.
    pub native: bool,
}

/// Where a target's energy figure comes from (each built-in says which).
#[derive(Clone, Debug, PartialEq)]
pub enum EnergyBasis {
    /// Energy per operation: `MACs · mac_energy_pj[compute] + traffic ·
    /// dram_pj_per_byte`, from a per-operation table; `table` says which
    /// (scaled to the part's process node, calibrated on a measurement, or
    /// the manifest's own).
    PerOp { table: &'static str },
    /// Rated board (or package) power × modelled latency: the energy of the
    /// device running flat out for the modelled time. An upper bound (the
    /// rated power is a ceiling, idle and memory-bound stretches draw less);
    /// `mac_energy_pj` and `dram_pj_per_byte` are then unused.
    BoardPower { watts: f64 },
}

impl EnergyBasis {
    /// `per-op table` / `70 W board power × time`, for tables and docs.
    pub fn text(&self) -> String {
        match self {
            EnergyBasis::PerOp { table } => {
                format!("per-op table (pJ/MAC + pJ/DRAM byte): {table}")
            }
            EnergyBasis::BoardPower { watts } => format!("{watts} W rated power × modelled time"),
        }
    }
}

/// A hardware target. Throughput in MAC/s (one MAC = 2 "ops" in vendor
/// TOPS figures), 0 where the precision is not supported.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Manifest name (`arm_neon`).
    pub name: String,
    /// The concrete device the figures describe.
    pub device: String,
    pub peak_macs_per_s: [f64; 5],
    /// FP8 tensor-core MAC/s (0 = none); FP8 is not among the five
    /// `Compute::ALL` precisions because only a few parts have it.
    pub fp8_macs_per_s: f64,
    pub bandwidth_bytes_per_s: f64,
    pub mac_energy_pj: [f64; 5],
    pub dram_pj_per_byte: f64,
    /// Native modes, cheapest first; the last must accept 32-bit operands so
    /// every configuration has a fallback.
    pub modes: Vec<ExecMode>,
    /// Int8 dot products take unsigned activations × signed weights (x86
    /// VPDPBUSD): signed (symmetric) activations need a +128 shift pass.
    pub unsigned_int8_activations: bool,
    /// How energy is computed (see [`EnergyBasis`]).
    pub energy: EnergyBasis,
    /// The public documents the figures come from, and which figures are
    /// assumptions (shown by `evoquant list mixed_precision` and the docs).
    pub sources: String,
}

impl Target {
    /// The mode a (weight bits, activation bits) integer configuration runs in.
    pub fn execution(&self, weight_bits: u8, act_bits: u8) -> Execution {
        self.execution_of(weight_bits, act_bits, false)
    }

    /// The mode a configuration runs in; `fp8`: its 8-bit operands are FP8.
    /// FP8 codes cannot feed integer units, and only FP8 configurations use
    /// FP8 modes; a configuration with FP8 operands on a part without FP8
    /// units falls back to the first wide enough float mode (the codes are
    /// stored at 8 bits and widened), and is native only in an FP8 mode of
    /// its exact widths.
    pub fn execution_of(&self, weight_bits: u8, act_bits: u8, fp8: bool) -> Execution {
        let float_operand = fp8 && (weight_bits == 8 || act_bits == 8);
        let mode = self
            .modes
            .iter()
            .copied()
            .filter(|m| {
                if float_operand {
                    !m.compute.is_integer()
                } else {
                    m.compute != Compute::Fp8
                }
            })
            .find(|m| m.weight_bits >= weight_bits && m.act_bits >= act_bits)
            .unwrap_or(ExecMode::new(32, 32, Compute::Fp32));
        Execution {
            mode,
            native: mode.weight_bits == weight_bits
                && mode.act_bits == act_bits
                && (mode.compute == Compute::Fp8) == float_operand,
        }
    }

    pub fn peak(&self, c: Compute) -> f64 {
        match c {
            Compute::Fp8 => self.fp8_macs_per_s,
            _ => self.peak_macs_per_s[c.index()],
        }
    }

    /// Energy of one MAC in `c` on a per-op basis. FP8 runs only on the
    /// board-power targets (where it is unused); Horowitz's table has no FP8
    /// entry, so it is taken at the fp16 MAC's, an upper bound.
    pub fn mac_energy(&self, c: Compute) -> f64 {
        match c {
            Compute::Fp8 => self.mac_energy_pj[Compute::Fp16.index()],
            _ => self.mac_energy_pj[c.index()],
        }
    }

    /// Human-readable list of the native modes (`W8A8/int8, W16A16/fp16`).
    pub fn modes_text(&self) -> String {
        self.modes
            .iter()
            .map(|m| format!("W{}A{}/{}", m.weight_bits, m.act_bits, m.compute.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Check the invariants the cost model relies on; messages name the field.
    pub fn check(&self) -> Result<(), TargetError> {
        if !(self.bandwidth_bytes_per_s > 0.0 && self.bandwidth_bytes_per_s.is_finite()) {
            return Err(TargetError::Bandwidth);
        }
        for m in &self.modes {
            let p = self.peak(m.compute);
            if !(p > 0.0 && p.is_finite()) {
                return Err(TargetError::NoThroughput(
                    format!("W{}A{}", m.weight_bits, m.act_bits),
                    m.compute.name(),
                ));
            }
        }
        match self.modes.last() {
            Some(m) if m.weight_bits >= 32 && m.act_bits >= 32 => {}
            _ => return Err(TargetError::NoFallback),
        }
        if self
            .mac_energy_pj
            .iter()
            .chain([&self.dram_pj_per_byte])
            .any(|e| !(*e >= 0.0 && e.is_finite()))
        {
            return Err(TargetError::Energy);
        }
        if let EnergyBasis::BoardPower { watts } = self.energy
            && !(watts > 0.0 && watts.is_finite())
        {
            return Err(TargetError::Energy);
        }
        Ok(())
    }
}

/// A hardware target the cost model cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TargetError {
    #[error("bandwidth must be > 0")]
    Bandwidth,
    #[error("mode {0} computes in {1} whose throughput is not > 0")]
    NoThroughput(String, &'static str),
    #[error("needs an fp32 (or 32-bit) fallback mode last")]
    NoFallback,
    #[error("energies must be finite and ≥ 0")]
    Energy,
    #[error("unknown hardware target `{0}` (known: {1})")]
    Unknown(String, String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::builtin;

    #[test]
    fn fp8_configurations_use_fp8_units_or_fall_back_to_float() {
        let h100 = builtin("nvidia_h100_sxm").unwrap();
        let e = h100.execution_of(8, 8, true);
        assert!(e.native);
        assert_eq!(e.mode.compute, Compute::Fp8);
        // INT8 never lands on FP8 units, FP8 never on integer ones.
        assert_eq!(h100.execution_of(8, 8, false).mode.compute, Compute::Int8);
        let e = h100.execution_of(8, 16, true);
        assert!(!e.native, "FP8 weights in the int8 weight-only mode");
        assert_eq!(e.mode.compute, Compute::Fp16);
        // 4-bit integer weights with FP8 activations: FP8 units, not native.
        let e = h100.execution_of(4, 8, true);
        assert_eq!(e.mode.compute, Compute::Fp8);
        assert!(!e.native);
        // No FP8 on a T4 (Turing), an A76, a Hexagon: the float path.
        for t in ["nvidia_tensorrt", "arm_neon", "qualcomm_hexagon"] {
            let t = builtin(t).unwrap();
            let e = t.execution_of(8, 8, true);
            assert!(!e.native && !e.mode.compute.is_integer(), "{}", t.name);
        }
        // Wider configurations ignore the flag.
        assert_eq!(h100.execution_of(16, 16, true), h100.execution(16, 16));
    }

    #[test]
    fn picks_the_first_wide_enough_mode_and_flags_fallbacks() {
        let neon = builtin("arm_neon").unwrap();
        let e = neon.execution(8, 8);
        assert!(e.native);
        assert_eq!(e.mode.compute, Compute::Int8);
        let e = neon.execution(6, 8);
        assert!(!e.native, "6-bit weights are unpacked to int8");
        assert_eq!(e.mode.compute, Compute::Int8);
        let e = neon.execution(8, 16);
        assert_eq!(e.mode.compute, Compute::Fp16);
        assert!(!e.native);
    }
}
