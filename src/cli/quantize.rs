//! Flags of `evoquant quantize` / `dequantize`, turned into plain requests for
//! `quant::command`; clap types stop here.

use crate::error::{Result, exit};
use crate::quant::binary::Extreme;
use crate::quant::command::{
    DequantizeRequest, FileFormat, QuantReport, QuantizeRequest, run_dequantize, run_quantize,
};
use crate::quant::float_file::FloatFile;
use crate::quant::{Calibration, GgufFormat, Granularity, QuantSpec, ScaleDtype, Scheme};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    #[value(name = "q4_0")]
    Q4_0,
    #[value(name = "q4_1")]
    Q4_1,
    #[value(name = "q8_0")]
    Q8_0,
    /// evoquant's packed form with a self-describing header.
    Int,
    /// BF16 (round to nearest even), two bytes per value.
    Bf16,
    /// IEEE FP16 (round to nearest even), two bytes per value.
    Fp16,
    /// OCP FP8 E4M3 (saturating), per-tensor or per-channel f32 scales.
    #[value(name = "fp8_e4m3")]
    Fp8E4m3,
    /// OCP FP8 E5M2 (saturating), per-tensor or per-channel f32 scales.
    #[value(name = "fp8_e5m2")]
    Fp8E5m2,
    /// OCP MXFP4: E2M1 in blocks of 32 with an E8M0 scale (4.25 bits/weight).
    Mxfp4,
    /// NVIDIA NVFP4: E2M1 in blocks of 16 with an E4M3 scale, plus an f32 tensor scale.
    Nvfp4,
    /// Sign × mean |w| per group (XNOR-Net), 1 bit per weight plus f16 scales.
    Binary,
    /// {−1, 0, +1} × scale per group, TWN threshold 0.7 · mean |w|; 2 bits plus f16 scales.
    Ternary,
}

impl From<FormatArg> for FileFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Q4_0 => FileFormat::Gguf(GgufFormat::Q4_0),
            FormatArg::Q4_1 => FileFormat::Gguf(GgufFormat::Q4_1),
            FormatArg::Q8_0 => FileFormat::Gguf(GgufFormat::Q8_0),
            FormatArg::Int => FileFormat::Int,
            FormatArg::Bf16 => FileFormat::Float(FloatFile::Bf16),
            FormatArg::Fp16 => FileFormat::Float(FloatFile::Fp16),
            FormatArg::Fp8E4m3 => FileFormat::Float(FloatFile::Fp8E4m3),
            FormatArg::Fp8E5m2 => FileFormat::Float(FloatFile::Fp8E5m2),
            FormatArg::Mxfp4 => FileFormat::Float(FloatFile::Mxfp4),
            FormatArg::Nvfp4 => FileFormat::Float(FloatFile::Nvfp4),
            FormatArg::Binary => FileFormat::Extreme(Extreme::Binary),
            FormatArg::Ternary => FileFormat::Extreme(Extreme::Ternary),
        }
    }
}

// Values are spelled as in quant_config.json and manifests (`min_max`,
// `per_channel`); the former CLI spellings stay as hidden aliases.

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SchemeArg {
    Symmetric,
    Asymmetric,
    /// The chaos-evolve document's formula: range not widened to 0, zero point clipped.
    #[value(name = "asymmetric_clipped", alias = "asymmetric-clipped")]
    AsymmetricClipped,
    #[value(name = "power_of_two", alias = "power-of-two")]
    PowerOfTwo,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GranularityArg {
    #[value(name = "per_tensor", alias = "per-tensor")]
    PerTensor,
    #[value(name = "per_channel", alias = "per-channel")]
    PerChannel,
    #[value(name = "per_group", alias = "per-group")]
    PerGroup,
    Block,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CalibrationArg {
    #[value(name = "min_max", alias = "minmax")]
    Minmax,
    Percentile,
    Mse,
    Entropy,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ScaleDtypeArg {
    F16,
    F32,
}

/// Quantize a tensor (.npy f32/f16, or raw little-endian .f32) and write the packed result.
#[derive(Args, Debug)]
pub struct QuantizeArgs {
    /// Input: .npy (f32 or f16, C order), raw little-endian .f32, or a
    /// .safetensors / GGUF model with --tensor NAME.
    pub input: PathBuf,
    /// The tensor of a .safetensors or GGUF input to quantize.
    #[arg(long)]
    pub tensor: Option<String>,
    /// List the tensors of a .safetensors or GGUF input (name, shape, type) and exit.
    #[arg(long)]
    pub list_tensors: bool,
    /// Output format: ggml block bytes (q4_0, q4_1, q8_0; no header), `int`, a float
    /// format (bf16, fp16, fp8_e4m3, fp8_e5m2 [--granularity per-channel for a scale per
    /// row], mxfp4, nvfp4; no header, see docs/quant.md), or `binary` / `ternary`
    /// (--granularity, --block-size; with a header like `int`).
    #[arg(long, value_enum, required_unless_present = "list_tensors")]
    pub format: Option<FormatArg>,
    /// Bit width for `int` (1..=16).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub bits: u8,
    #[arg(long, value_enum, default_value = "asymmetric")]
    pub scheme: SchemeArg,
    #[arg(long, value_enum, default_value = "block")]
    pub granularity: GranularityArg,
    /// Block size (granularity block) or group size (per-group).
    #[arg(long, default_value_t = 32)]
    pub block_size: usize,
    #[arg(long, value_enum, default_value = "min_max")]
    pub calibration: CalibrationArg,
    /// Percentile for --calibration percentile, in [50, 100].
    #[arg(long, default_value_t = 99.9)]
    pub percentile: f32,
    /// Storage type of scales for `int`.
    #[arg(long, value_enum, default_value = "f32")]
    pub scale_dtype: ScaleDtypeArg,
    /// Output file (written atomically).
    #[arg(long, required_unless_present = "list_tensors")]
    pub out: Option<PathBuf>,
}

/// Decode a file written by `quantize` into a .npy f32 tensor.
#[derive(Args, Debug)]
pub struct DequantizeArgs {
    /// Packed input written by `evoquant quantize`.
    pub input: PathBuf,
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// Shape for GGUF and float-format inputs, e.g. 64,128 (default: 1-D). `int`, `binary` and `ternary` files carry their own.
    #[arg(long, value_delimiter = ',')]
    pub shape: Vec<usize>,
    /// Original tensor to report MSE, SQNR and max error against.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Output .npy file (written atomically).
    #[arg(long)]
    pub out: PathBuf,
}

impl QuantizeArgs {
    /// The request (`format` and `out` are present unless `--list-tensors`).
    pub fn request(&self, format: FormatArg, out: PathBuf) -> QuantizeRequest {
        QuantizeRequest {
            input: self.input.clone(),
            tensor: self.tensor.clone(),
            format: format.into(),
            spec: QuantSpec {
                bits: self.bits,
                scheme: match self.scheme {
                    SchemeArg::Symmetric => Scheme::Symmetric,
                    SchemeArg::Asymmetric => Scheme::Asymmetric,
                    SchemeArg::AsymmetricClipped => Scheme::AsymmetricClipped,
                    SchemeArg::PowerOfTwo => Scheme::PowerOfTwo,
                },
                granularity: match self.granularity {
                    GranularityArg::PerTensor => Granularity::PerTensor,
                    GranularityArg::PerChannel => Granularity::PerChannel,
                    GranularityArg::PerGroup => Granularity::PerGroup,
                    GranularityArg::Block => Granularity::Block,
                },
                group_size: self.block_size,
                calibration: match self.calibration {
                    CalibrationArg::Minmax => Calibration::MinMax,
                    CalibrationArg::Percentile => Calibration::Percentile,
                    CalibrationArg::Mse => Calibration::Mse,
                    CalibrationArg::Entropy => Calibration::Entropy,
                },
                percentile: self.percentile,
                scale_dtype: match self.scale_dtype {
                    ScaleDtypeArg::F16 => ScaleDtype::F16,
                    ScaleDtypeArg::F32 => ScaleDtype::F32,
                },
            },
            out,
        }
    }
}

impl DequantizeArgs {
    pub fn request(&self) -> DequantizeRequest {
        DequantizeRequest {
            input: self.input.clone(),
            format: self.format.into(),
            shape: self.shape.clone(),
            reference: self.reference.clone(),
            out: self.out.clone(),
        }
    }
}

fn print(report: &QuantReport, out: &std::path::Path) -> Result<()> {
    super::say(&format!("wrote {}", out.display()))?;
    for line in report.lines() {
        super::say(&line)?;
    }
    Ok(())
}

pub fn quantize(args: &QuantizeArgs) -> Result<i32> {
    if args.list_tensors {
        for (name, shape, kind) in crate::quant::command::list_tensors(&args.input)? {
            super::say(&format!("{name}\t{shape:?}\t{kind}"))?;
        }
        return Ok(exit::OK);
    }
    let (Some(format), Some(out)) = (args.format, args.out.clone()) else {
        return Err(crate::error::Error::user("--format and --out are required"));
    };
    super::check_out_file(&out)?;
    let report = run_quantize(&args.request(format, out.clone()))?;
    print(&report, &out)?;
    Ok(exit::OK)
}

pub fn dequantize(args: &DequantizeArgs) -> Result<i32> {
    super::check_out_file(&args.out)?;
    let report = run_dequantize(&args.request())?;
    print(&report, &args.out)?;
    Ok(exit::OK)
}
