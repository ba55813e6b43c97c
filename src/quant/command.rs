//! The `quantize` / `dequantize` commands as plain requests (the CLI builds
//! them from flags). Inputs are checked before anything is written, and output
//! goes to a temporary name that is renamed into place, so a failed run never
//! leaves a partial file.

use super::binary::{Extreme, ExtremeSpec, ExtremeTensor};
use super::float_file::{self, FloatFile};
use super::gguf::{GGUF_BLOCK, GgufFormat, gguf_dequantize, gguf_quantize};
use super::metrics::{ErrorMetrics, error_metrics_chunked as error_metrics};
use super::npy::{Tensor, encode_npy, parse_npy, parse_raw_f32};
use super::packed_file::{decode_extreme, decode_int, encode_extreme, encode_int};
use super::spec::{QuantError, QuantSpec};
use super::tensor::QuantizedTensor;
use crate::error::{Error, Result};
use crate::fsio::write_atomic;
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

/// Read a `.npy` (f32/f16, C order) or raw little-endian `.f32` tensor and
/// reject non-finite values.
pub fn read_tensor(path: &Path) -> Result<Tensor> {
    let bytes = read(path)?;
    let is_raw = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("f32"));
    let t = if is_raw {
        parse_raw_f32(&bytes)
    } else {
        parse_npy(&bytes)
    }
    .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
    if t.data.is_empty() {
        return Err(Error::user(format!(
            "{}: the tensor is empty",
            path.display()
        )));
    }
    if let Some(i) = t.data.iter().position(|x| !x.is_finite()) {
        return Err(Error::user(format!(
            "{}: value at flat index {i} is not finite ({}); quantization needs finite values",
            path.display(),
            t.data[i]
        )));
    }
    Ok(t)
}

/// Whether `path` is a model file (`.safetensors` or GGUF) holding named tensors.
pub fn is_model_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
        || crate::models::gguf::is_gguf(path)
}

/// A tensor file, or tensor `name` of a model file (decoded to f32).
pub fn read_input(path: &Path, tensor: Option<&str>) -> Result<Tensor> {
    match (is_model_file(path), tensor) {
        (false, None) => read_tensor(path),
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
            if let Some(i) = data.iter().position(|x| !x.is_finite()) {
                return Err(Error::user(format!(
                    "{}: tensor `{n}`: value at flat index {i} is not finite",
                    path.display()
                )));
            }
            Ok(Tensor { shape, data })
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
    let t = read_input(&req.input, req.tensor.as_deref())?;
    let (bytes, payload, approx) = match req.format {
        FileFormat::Gguf(f) => {
            check_gguf_shape(&req.input, &t.shape, t.data.len())?;
            let enc = gguf_quantize(&t.data, f).map_err(|e| quant_error(&req.input, e))?;
            let approx = gguf_dequantize(&enc, f).map_err(|e| quant_error(&req.input, e))?;
            let n = enc.len();
            (enc, n, approx)
        }
        FileFormat::Int => {
            let q = QuantizedTensor::quantize(&t.data, &t.shape, &req.spec)
                .map_err(|e| quant_error(&req.input, e))?;
            (encode_int(&q), q.size_bytes(), q.dequantize())
        }
        FileFormat::Float(f) => {
            use super::spec::Granularity;
            let rows = match req.spec.granularity {
                Granularity::PerChannel => t.shape.first().copied().unwrap_or(1),
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
                let last = t.shape.last().copied().unwrap_or(1);
                if last % block != 0 || t.data.len() % block != 0 {
                    return Err(Error::user(format!(
                        "{}: shape {:?}: {} needs the last dimension to be a multiple of its block size {block}",
                        req.input.display(),
                        t.shape,
                        f.name()
                    )));
                }
            }
            let (enc, payload) = float_file::encode(&t.data, f, rows)
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
            let q = ExtremeTensor::quantize(&t.data, &t.shape, &spec)
                .map_err(|e| quant_error(&req.input, e))?;
            (encode_extreme(&q), q.size_bytes(), q.dequantize())
        }
    };
    // FP16 and BF16 overflow to ±inf as IEEE formats do (FP16 beyond 65504,
    // BF16 only near f32::MAX); FP8/FP4 scale and saturate. Refuse rather
    // than write infinities.
    if let FileFormat::Float(f) = req.format
        && let Some(i) = approx.iter().position(|v| !v.is_finite())
    {
        return Err(Error::user(format!(
            "{}: value at flat index {i} ({}) overflows {} (it rounds to inf); scale the tensor down or use an fp8 format, whose scales saturate",
            req.input.display(),
            t.data[i],
            f.name()
        )));
    }
    let metrics = error_metrics(&t.data, &approx);
    // The input is finite and GGUF overflow is refused above, so a
    // non-finite image is our bug: say so rather than write it.
    if metrics.non_finite > 0 {
        let i = approx.iter().position(|v| !v.is_finite()).unwrap_or(0);
        return Err(Error::Internal(format!(
            "{}: quantization turned finite input into {} non-finite values (first at flat index {i}); nothing was written",
            req.input.display(),
            metrics.non_finite
        )));
    }
    write_atomic(&req.out, &bytes)?;
    Ok(QuantReport {
        numel: t.data.len(),
        shape: t.shape,
        bytes: payload,
        bits_per_weight: payload as f64 * 8.0 / approx.len() as f64,
        metrics: Some(metrics),
        non_finite: 0,
    })
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
            let r = read_tensor(path)?;
            if r.data.len() != values.len() {
                return Err(Error::user(format!(
                    "--reference {}: holds {} values but the quantized tensor has {}",
                    path.display(),
                    r.data.len(),
                    values.len()
                )));
            }
            Some(error_metrics(&r.data, &values))
        }
        None => None,
    };
    write_atomic(&req.out, &encode_npy(&shape, &values))?;
    Ok(QuantReport {
        numel: values.len(),
        bits_per_weight: payload as f64 * 8.0 / values.len() as f64,
        non_finite: values.iter().filter(|v| !v.is_finite()).count(),
        shape,
        bytes: payload,
        metrics,
    })
}
