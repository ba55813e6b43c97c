//! The `quantize` / `dequantize` commands as plain requests (the CLI builds
//! them from flags). Inputs are checked before anything is written, and output
//! goes to a temporary name that is renamed into place, so a failed run never
//! leaves a partial file.
//!
//! Speed matters here (a user quantizes every tensor of a model this way),
//! so the INT path never copies the tensor: a large input is memory-mapped
//! and its f32 values used in place, the error metrics decode the packed
//! codes tile by tile instead of materialising a dequantized copy, and the
//! file is written from the tensor's own buffers. Outputs are atomic against
//! a killed process but not fsynced (`fsio::Durability::ProcessCrash`): they
//! are recomputed from their input in well under a second.

use super::binary::{Extreme, ExtremeSpec, ExtremeTensor};
use super::float_file::{self, FloatFile};
use super::gguf::{GGUF_BLOCK, GgufFormat, gguf_dequantize, gguf_quantize};
use super::metrics::{ErrorMetrics, error_metrics_chunked as error_metrics};
use super::npy::{decode_values, encode_npy, npy_layout, raw_f32_layout};
use super::packed_file::{IntParts, decode_extreme, decode_int, encode_extreme};
use super::spec::{QuantError, QuantSpec};
use super::tensor::QuantizedTensor;
use crate::error::{Error, Result};
use crate::fsio::{Durability, write_atomic_parts};
use std::path::{Path, PathBuf};

/// Output format of `quantize` (and input format of `dequantize`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Gguf(GgufFormat),
    /// evoquant's packed form (see `packed_file`).
    Int,
    /// BF16, FP16, FP8, MXFP4, NVFP4 (see `float_file`).
    Float(FloatFile),
    /// Binary or ternary sign codes with f16 group scales, with a
    /// self-describing header like `Int` (see `packed_file`).
    Extreme(Extreme),
}

#[derive(Clone, Debug)]
pub struct QuantizeRequest {
    pub input: PathBuf,
    /// The tensor to take from a `.safetensors` or GGUF input.
    pub tensor: Option<String>,
    pub format: FileFormat,
    /// Used by `FileFormat::Int` only; GGUF formats fix their own scheme.
    /// Float formats read only `granularity`: FP8 takes one scale per
    /// tensor, or per row with `PerChannel`. Binary and ternary read
    /// `granularity` and `group_size`.
    pub spec: QuantSpec,
    pub out: PathBuf,
}

#[derive(Clone, Debug)]
pub struct DequantizeRequest {
    pub input: PathBuf,
    pub format: FileFormat,
    /// Shape for GGUF inputs (which carry none); empty = 1-D.
    pub shape: Vec<usize>,
    /// Original tensor to measure the error against, if any.
    pub reference: Option<PathBuf>,
    pub out: PathBuf,
}

/// What both commands print.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantReport {
    pub numel: usize,
    pub shape: Vec<usize>,
    /// Quantized payload: codes + scales + zero points (GGUF: the block bytes).
    pub bytes: usize,
    pub bits_per_weight: f64,
    /// None when dequantizing without a reference.
    pub metrics: Option<ErrorMetrics>,
    /// Values that decode to NaN or ±inf (a packed file can hold inf scales).
    pub non_finite: usize,
}

impl QuantReport {
    /// Human-readable lines, one measure per line.
    pub fn lines(&self) -> Vec<String> {
        let mut v = vec![
            format!("values:          {} (shape {:?})", self.numel, self.shape),
            format!("bytes:           {}", self.bytes),
            format!("bits per weight: {:.4}", self.bits_per_weight),
        ];
        if self.non_finite > 0 {
            v.push(format!(
                "non-finite:      {} of {} decoded values are NaN or inf",
                self.non_finite, self.numel
            ));
        }
        match &self.metrics {
            Some(m) if m.non_finite > 0 => v.push(format!(
                "mse, sqnr, max abs error, cosine: not measured: {} value pairs hold NaN or inf",
                m.non_finite
            )),
            Some(m) => {
                v.push(format!("mse:             {:.6e}", m.mse));
                v.push(format!("sqnr:            {:.3} dB", m.sqnr_db));
                v.push(format!("max abs error:   {:.6e}", m.max_abs));
                v.push(format!("cosine:          {:.9}", m.cosine));
            }
            None => v.push("mse, sqnr, max abs error: not measured (pass --reference)".into()),
        }
        v
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::input(path, e))
}

/// Files at least this large are memory-mapped rather than read.
const MAP_AT: u64 = 1 << 20;

/// An input tensor: its shape and f32 values, which for a large
/// little-endian f32 file are the mapped file itself.
pub struct Input {
    pub shape: Vec<usize>,
    values: Values,
}

enum Values {
    /// `len` f32 values at byte `offset` of the map (checked 4-aligned).
    Mapped {
        map: memmap2::Mmap,
        offset: usize,
        len: usize,
    },
    Owned(Vec<f32>),
}

impl Input {
    pub fn values(&self) -> &[f32] {
        match &self.values {
            Values::Mapped { map, offset, len } => {
                // SAFETY: `open_tensor` checked that the range lies in the map
                // and starts 4-aligned, and that the machine is little-endian,
                // so these bytes are `len` valid f32 (any bit pattern is).
                unsafe { std::slice::from_raw_parts(map.as_ptr().add(*offset).cast::<f32>(), *len) }
            }
            Values::Owned(v) => v,
        }
    }
}

/// Index of the first value that is NaN or ±inf. All cores, and the
/// first such index whatever the thread count.
fn first_non_finite(values: &[f32]) -> Option<usize> {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 16;
    values
        .par_chunks(CHUNK)
        .enumerate()
        .find_first(|(_, c)| c.iter().any(|x| !x.is_finite()))
        .and_then(|(i, c)| Some(i * CHUNK + c.iter().position(|x| !x.is_finite())?))
}

/// Open a `.npy` (f32/f16, C order) or raw little-endian `.f32` tensor and
/// reject empty tensors and non-finite values.
pub fn open_tensor(path: &Path) -> Result<Input> {
    let is_raw = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("f32"));
    let file = std::fs::File::open(path).map_err(|e| Error::input(path, e))?;
    let size = file.metadata().map_err(|e| Error::input(path, e))?.len();
    let bad = |e: super::npy::NpyError| Error::user(format!("{}: {e}", path.display()));
    let layout = |bytes: &[u8]| {
        let l = if is_raw {
            raw_f32_layout(bytes.len())
        } else {
            npy_layout(bytes)
        };
        l.map(|l| (l.shape, l.elem, l.offset)).map_err(bad)
    };
    let input = if size >= MAP_AT {
        // SAFETY: the map is read-only; a file truncated or rewritten by
        // another process while we read it is outside what we guard against
        // (as for every mmap reader), and `populate` reads it in up front.
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }
            .map_err(|e| Error::input(path, e))?;
        let (shape, elem, offset) = layout(&map)?;
        let aligned = (map.as_ptr() as usize + offset) % 4 == 0;
        if elem == 4 && aligned && cfg!(target_endian = "little") {
            let len = (map.len() - offset) / 4;
            Input {
                shape,
                values: Values::Mapped { map, offset, len },
            }
        } else {
            let v = decode_values(&map[offset..], elem);
            Input {
                shape,
                values: Values::Owned(v),
            }
        }
    } else {
        let bytes = read(path)?;
        let (shape, elem, offset) = layout(&bytes)?;
        Input {
            shape,
            values: Values::Owned(decode_values(&bytes[offset..], elem)),
        }
    };
    let values = input.values();
    if values.is_empty() {
        return Err(Error::user(format!(
            "{}: the tensor is empty",
            path.display()
        )));
    }
    if let Some(i) = first_non_finite(values) {
        return Err(Error::user(format!(
            "{}: value at flat index {i} is not finite ({}); quantization needs finite values",
            path.display(),
            values[i]
        )));
    }
    Ok(input)
}

/// Whether `path` is a model file (`.safetensors` or GGUF) holding named tensors.
pub fn is_model_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
        || crate::models::gguf::is_gguf(path)
}

/// A tensor file, or tensor `name` of a model file (decoded to f32).
pub fn open_input(path: &Path, tensor: Option<&str>) -> Result<Input> {
    match (is_model_file(path), tensor) {
        (false, None) => open_tensor(path),
        (false, Some(n)) => Err(Error::user(format!(
            "--tensor {n}: {} is a single tensor (.npy/.f32), not a .safetensors or GGUF model",
            path.display()
        ))),
        (true, None) => Err(Error::user(format!(
            "{}: a model file: name a tensor with --tensor NAME (--list-tensors lists them)",
            path.display()
        ))),
        (true, Some(n)) => {
            let src = crate::apply::Source::open(&path.display().to_string())?;
            let Some((_, shape)) = src.tensors().into_iter().find(|(t, _)| t == n) else {
                return Err(Error::user(format!(
                    "{}: no tensor `{n}` (--list-tensors lists them)",
                    path.display()
                )));
            };
            let data = src.f32(n)?;
            if let Some(i) = first_non_finite(&data) {
                return Err(Error::user(format!(
                    "{}: tensor `{n}`: value at flat index {i} is not finite",
                    path.display()
                )));
            }
            Ok(Input {
                shape,
                values: Values::Owned(data),
            })
        }
    }
}

/// Every tensor of a model file: name, row-major shape, stored type.
pub fn list_tensors(path: &Path) -> Result<Vec<(String, Vec<usize>, String)>> {
    if !is_model_file(path) {
        return Err(Error::user(format!(
            "--list-tensors: {} is not a .safetensors or GGUF model",
            path.display()
        )));
    }
    let src = crate::apply::Source::open(&path.display().to_string())?;
    Ok(src
        .tensors()
        .into_iter()
        .map(|(n, s)| {
            let k = src.kind(&n).map_or("other", |k| k.name()).to_string();
            (n, s, k)
        })
        .collect())
}

fn quant_error(path: &Path, e: QuantError) -> Error {
    Error::user(format!("{}: {e}", path.display()))
}

fn check_gguf_shape(path: &Path, shape: &[usize], numel: usize) -> Result<()> {
    let last = shape.last().copied().unwrap_or(1);
    if last % GGUF_BLOCK != 0 || numel % GGUF_BLOCK != 0 {
        return Err(Error::user(format!(
            "{}: shape {shape:?}: GGUF block formats need the last dimension to be a multiple of {GGUF_BLOCK}",
            path.display()
        )));
    }
    Ok(())
}

/// Quantize a tensor file and write the packed result.
pub fn run_quantize(req: &QuantizeRequest) -> Result<QuantReport> {
    if let FileFormat::Int = req.format {
        req.spec
            .validate()
            .map_err(|e| Error::user(format!("invalid quantization flags: {e}")))?;
    }
    let input = open_input(&req.input, req.tensor.as_deref())?;
    let data = input.values();
    let shape = &input.shape;
    let (bytes, payload, approx) = match req.format {
        FileFormat::Gguf(f) => {
            check_gguf_shape(&req.input, shape, data.len())?;
            let enc = gguf_quantize(data, f).map_err(|e| quant_error(&req.input, e))?;
            let approx = gguf_dequantize(&enc, f).map_err(|e| quant_error(&req.input, e))?;
            let n = enc.len();
            (enc, n, approx)
        }
        FileFormat::Int => {
            let (q, metrics) = QuantizedTensor::quantize_measured(data, shape, &req.spec)
                .map_err(|e| quant_error(&req.input, e))?;
            check_image(&req.input, &metrics, || first_non_finite(&q.dequantize()))?;
            let parts = IntParts::of(&q);
            write_atomic_parts(&req.out, &parts.parts(), Durability::ProcessCrash)?;
            return Ok(quantized_report(shape, q.size_bytes(), metrics));
        }
        FileFormat::Float(f) => {
            use super::spec::Granularity;
            let rows = match req.spec.granularity {
                Granularity::PerChannel => shape.first().copied().unwrap_or(1),
                Granularity::PerGroup => {
                    return Err(Error::user(format!(
                        "--format {}: per-group scales are not a layout of this format (fp8 takes per-tensor or per-channel; mxfp4 and nvfp4 fix their own blocks)",
                        f.name()
                    )));
                }
                _ => 1,
            };
            let block = f.block();
            if block > 1 {
                let last = shape.last().copied().unwrap_or(1);
                if last % block != 0 || data.len() % block != 0 {
                    return Err(Error::user(format!(
                        "{}: shape {:?}: {} needs the last dimension to be a multiple of its block size {block}",
                        req.input.display(),
                        shape,
                        f.name()
                    )));
                }
            }
            let (enc, payload) = float_file::encode(data, f, rows)
                .map_err(|e| Error::user(format!("{}: {e}", req.input.display())))?;
            let (approx, _) = float_file::decode(&enc, f)
                .map_err(|e| Error::Internal(format!("{}: {e}", req.input.display())))?;
            (enc, payload, approx)
        }
        FileFormat::Extreme(kind) => {
            let spec = ExtremeSpec {
                kind,
                granularity: req.spec.granularity,
                group_size: req.spec.group_size,
            };
            spec.validate()
                .map_err(|e| Error::user(format!("invalid quantization flags: {e}")))?;
            let q = ExtremeTensor::quantize(data, shape, &spec)
                .map_err(|e| quant_error(&req.input, e))?;
            (encode_extreme(&q), q.size_bytes(), q.dequantize())
        }
    };
    // FP16 and BF16 overflow to ±inf as IEEE formats do (FP16 beyond 65504,
    // BF16 only near f32::MAX); FP8/FP4 scale and saturate. Refuse rather
    // than write infinities.
    if let FileFormat::Float(f) = req.format
        && let Some(i) = first_non_finite(&approx)
    {
        return Err(Error::user(format!(
            "{}: value at flat index {i} ({}) overflows {} (it rounds to inf); scale the tensor down or use an fp8 format, whose scales saturate",
            req.input.display(),
            data[i],
            f.name()
        )));
    }
    let metrics = error_metrics(data, &approx);
    check_image(&req.input, &metrics, || first_non_finite(&approx))?;
    write_atomic_parts(&req.out, &[&bytes], Durability::ProcessCrash)?;
    Ok(quantized_report(shape, payload, metrics))
}

/// The input is finite and overflow is refused before this, so a
/// non-finite image is our bug: say so rather than write it.
fn check_image(
    input: &Path,
    metrics: &ErrorMetrics,
    first_bad: impl FnOnce() -> Option<usize>,
) -> Result<()> {
    if metrics.non_finite == 0 {
        return Ok(());
    }
    Err(Error::Internal(format!(
        "{}: quantization turned finite input into {} non-finite values (first at flat index {}); nothing was written",
        input.display(),
        metrics.non_finite,
        first_bad().unwrap_or(0)
    )))
}

fn quantized_report(shape: &[usize], payload: usize, metrics: ErrorMetrics) -> QuantReport {
    let numel: usize = shape.iter().product();
    QuantReport {
        numel,
        shape: shape.to_vec(),
        bytes: payload,
        bits_per_weight: payload as f64 * 8.0 / numel as f64,
        metrics: Some(metrics),
        non_finite: 0,
    }
}

/// Decode a packed file to `.npy` f32.
/// The shape of `n` decoded values: `--shape` if given (it must hold
/// exactly `n`), else flat.
fn decoded_shape(req: &DequantizeRequest, n: usize) -> Result<Vec<usize>> {
    let shape = if req.shape.is_empty() {
        vec![n]
    } else {
        req.shape.clone()
    };
    let held = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if held != Some(n) {
        return Err(Error::user(format!(
            "--shape {shape:?} does not hold the {n} values {} decodes to",
            req.input.display()
        )));
    }
    Ok(shape)
}

pub fn run_dequantize(req: &DequantizeRequest) -> Result<QuantReport> {
    let bytes = read(&req.input)?;
    let (shape, values, payload) = match req.format {
        FileFormat::Gguf(f) => {
            let values = gguf_dequantize(&bytes, f).map_err(|_| {
                Error::user(format!(
                    "{}: {} bytes is not a whole number of {} blocks ({} bytes each)",
                    req.input.display(),
                    bytes.len(),
                    f.name(),
                    f.block_bytes()
                ))
            })?;
            let shape = decoded_shape(req, values.len())?;
            (shape, values, bytes.len())
        }
        FileFormat::Float(f) => {
            let (values, payload) = float_file::decode(&bytes, f)
                .map_err(|e| Error::user(format!("{}: {e}", req.input.display())))?;
            let shape = decoded_shape(req, values.len())?;
            (shape, values, payload)
        }
        FileFormat::Int => {
            let q = decode_int(&bytes)
                .map_err(|e| Error::user(format!("{}: {e}", req.input.display())))?;
            if !req.shape.is_empty() && req.shape != q.shape() {
                return Err(Error::user(format!(
                    "--shape {:?} differs from the shape {:?} stored in {}",
                    req.shape,
                    q.shape(),
                    req.input.display()
                )));
            }
            (q.shape().to_vec(), q.dequantize(), q.size_bytes())
        }
        FileFormat::Extreme(kind) => {
            let q = decode_extreme(&bytes)
                .map_err(|e| Error::user(format!("{}: {e}", req.input.display())))?;
            if q.spec.kind != kind {
                return Err(Error::user(format!(
                    "{}: holds {} weights, not {} (--format {})",
                    req.input.display(),
                    q.spec.kind.name(),
                    kind.name(),
                    q.spec.kind.name()
                )));
            }
            if !req.shape.is_empty() && req.shape != q.shape {
                return Err(Error::user(format!(
                    "--shape {:?} differs from the shape {:?} stored in {}",
                    req.shape,
                    q.shape,
                    req.input.display()
                )));
            }
            (q.shape.clone(), q.dequantize(), q.size_bytes())
        }
    };
    let metrics = match &req.reference {
        Some(path) => {
            let r = open_tensor(path)?;
            if r.values().len() != values.len() {
                return Err(Error::user(format!(
                    "--reference {}: holds {} values but the quantized tensor has {}",
                    path.display(),
                    r.values().len(),
                    values.len()
                )));
            }
            Some(error_metrics(r.values(), &values))
        }
        None => None,
    };
    write_atomic_parts(
        &req.out,
        &[&encode_npy(&shape, &values)],
        Durability::ProcessCrash,
    )?;
    Ok(QuantReport {
        numel: values.len(),
        bits_per_weight: payload as f64 * 8.0 / values.len() as f64,
        non_finite: values.iter().filter(|v| !v.is_finite()).count(),
        shape,
        bytes: payload,
        metrics,
    })
}
