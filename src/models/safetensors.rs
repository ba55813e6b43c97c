//! A layer inventory read from a real `.safetensors` file, with each
//! layer's quantization error measured on its own weights.
//!
//! Why: a mixed-precision or bit-allocation study on "a LLaMA-like model"
//! rests on modelled sensitivities; on a user's own checkpoint it can rest on
//! measurements. The header (names, dtypes, shapes, offsets) is parsed and
//! validated by the `safetensors` crate, the reference implementation, so a
//! file this module accepts is one the producing frameworks accept too.
//!
//! Only the header is read at once: tensors are read one at a time with
//! positioned reads, so memory stays at one (sampled) layer however large
//! the file. Layers are the 2-D (linear, embedding) and 4-D (convolution,
//! `[out, in, kh, kw]`, viewed as `[out, in·kh·kw]`) tensors; everything else
//! (biases, norms, scalars) counts as `other_params`.
//!
//! The error measure is the relative MSE Σ(w − q(w))² / Σ w² of the
//! quantize→dequantize image `q` from `crate::quant::fake_quantize`, per bit
//! width, with the caller's spec (default: symmetric, per-channel, min-max,
//! f32 scales). Large layers are measured on evenly spaced rows, at most
//! `max_values_per_layer` values; per-channel results are exact for the rows
//! measured, and the sampled row count is reported beside the error.

use crate::quant::{
    Calibration, Granularity, QuantError, QuantSpec, ScaleDtype, Scheme, error_metrics,
    fake_quantize,
};
use safetensors::Dtype;
use safetensors::tensor::Metadata;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Bit widths measured by default.
pub const ERROR_BITS: [u8; 6] = [2, 3, 4, 6, 8, 16];

/// Headers beyond this are rejected, as by the `safetensors` crate itself.
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// What is wrong with a file; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: truncated: {detail}", path.display())]
    Truncated { path: PathBuf, detail: String },
    #[error("{}: malformed safetensors header: {detail}", path.display())]
    MalformedHeader { path: PathBuf, detail: String },
    #[error(
        "{}: tensor `{tensor}` has unsupported dtype `{dtype}` (known: BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64, C64, F8_E4M3, F8_E5M2, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, F6_E2M3, F6_E3M2, F4)",
        path.display()
    )]
    UnsupportedDtype {
        path: PathBuf,
        tensor: String,
        dtype: String,
    },
    #[error("{}: tensor `{tensor}`: {detail}", path.display())]
    BadTensor {
        path: PathBuf,
        tensor: String,
        detail: String,
    },
    /// A layer whose quantization error cannot be measured: an integer
    /// (already quantized) dtype, or no values.
    #[error(
        "{}: tensor `{tensor}` ({dtype}, shape {shape:?}) is a weight layer whose quantization error cannot be measured: {}",
        path.display(),
        if shape.contains(&0) { "it holds no values" } else { "only float tensors (F16, BF16, F32, F64) can be" }
    )]
    Unmeasurable {
        path: PathBuf,
        tensor: String,
        dtype: String,
        shape: Vec<usize>,
    },
    #[error("invalid quantization spec for error measurement: {0}")]
    InvalidSpec(String),
}

/// One tensor of the file, as the header declares it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorEntry {
    pub name: String,
    /// The safetensors dtype name (`F32`, `BF16`, …).
    pub dtype: String,
    pub shape: Vec<usize>,
    pub numel: u64,
}

/// A weight tensor treated as one quantizable layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImportedLayer {
    /// The tensor's name in the file.
    pub name: String,
    pub shape: Vec<usize>,
    /// Number of weights.
    pub params: u64,
    pub dtype: String,
    /// (bits, relative MSE) per measured width; empty when the dtype is not
    /// a float type (already quantized data) or measurement was not asked for.
    pub quant_error: Vec<(u8, f64)>,
    /// Output rows (`shape[0]`) and how many of them were measured.
    pub rows: usize,
    pub measured_rows: usize,
}

/// The header view of a file plus per-layer measurements.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SafetensorsModel {
    pub path: PathBuf,
    /// Every tensor in file (data offset) order.
    pub tensors: Vec<TensorEntry>,
    /// The 2-D and 4-D tensors in file order.
    pub layers: Vec<ImportedLayer>,
    /// Parameters outside `layers` (biases, norms, other ranks).
    pub other_params: u64,
    /// The header's free-form `__metadata__`, if any.
    pub metadata: BTreeMap<String, String>,
    /// The spec errors were measured with (bits replaced per width), if measured.
    pub error_spec: Option<QuantSpec>,
}

impl SafetensorsModel {
    /// Weights in `layers`.
    pub fn layer_params(&self) -> u64 {
        self.layers.iter().map(|l| l.params).sum()
    }
    /// Every element of every tensor.
    pub fn total_params(&self) -> u64 {
        self.layer_params() + self.other_params
    }
}

/// How layer errors are measured.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorOptions {
    /// Quantizer; `bits` is replaced by each entry of `bits`.
    pub spec: QuantSpec,
    pub bits: Vec<u8>,
    /// Cap on values measured per layer (whole rows, evenly spaced); 0 = all.
    pub max_values_per_layer: usize,
}

impl Default for ErrorOptions {
    fn default() -> Self {
        ErrorOptions {
            spec: QuantSpec {
                bits: 8,
                scheme: Scheme::Symmetric,
                granularity: Granularity::PerChannel,
                group_size: 128,
                calibration: Calibration::MinMax,
                percentile: 99.9,
                scale_dtype: ScaleDtype::F32,
            },
            bits: ERROR_BITS.to_vec(),
            max_values_per_layer: 1 << 20,
        }
    }
}

/// Read the header and measure every float layer with the default options.
pub fn read(path: &Path) -> Result<SafetensorsModel, SafetensorsError> {
    read_with(path, Some(&ErrorOptions::default()))
}

/// Read the header only: layers and counts, no measurement.
pub fn read_header(path: &Path) -> Result<SafetensorsModel, SafetensorsError> {
    read_with(path, None)
}

/// Read the header, then measure float layers with `options` if given.
pub fn read_with(
    path: &Path,
    options: Option<&ErrorOptions>,
) -> Result<SafetensorsModel, SafetensorsError> {
    read_impl(path, options, false)
}

/// What a study that needs every layer measured checks at validation,
/// without the measurement itself: every layer has a float dtype and values,
/// and the values [`read`] would measure (the same sampled rows) are finite.
/// Fails as [`read`] would, or with [`SafetensorsError::Unmeasurable`].
pub fn check_measurable(path: &Path) -> Result<SafetensorsModel, SafetensorsError> {
    read_impl(path, Some(&ErrorOptions::default()), true)
}

fn read_impl(
    path: &Path,
    options: Option<&ErrorOptions>,
    check_only: bool,
) -> Result<SafetensorsModel, SafetensorsError> {
    if let Some(o) = options {
        for &b in &o.bits {
            QuantSpec { bits: b, ..o.spec }
                .validate()
                .map_err(|e| SafetensorsError::InvalidSpec(format!("bits {b}: {e}")))?;
        }
    }
    let io = |source| SafetensorsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let (header, data_start) = read_header_bytes(path, &mut file, file_len)?;
    let meta = parse_header(path, &header, file_len - data_start)?;
    let data_len = meta.data_len() as u64;
    let available = file_len - data_start;
    if data_len > available {
        return Err(SafetensorsError::Truncated {
            path: path.to_path_buf(),
            detail: format!(
                "the header declares {data_len} data bytes but only {available} follow it"
            ),
        });
    }
    if data_len < available {
        return Err(SafetensorsError::MalformedHeader {
            path: path.to_path_buf(),
            detail: format!(
                "{} bytes follow the last tensor's data (the header declares {data_len} data bytes)",
                available - data_len
            ),
        });
    }

    let mut model = SafetensorsModel {
        path: path.to_path_buf(),
        tensors: Vec::new(),
        layers: Vec::new(),
        other_params: 0,
        metadata: meta
            .metadata()
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        error_spec: options.map(|o| o.spec),
    };
    let mut buf = Vec::new();
    let mut values = Vec::new();
    let mut out = Vec::new();
    for name in meta.offset_keys() {
        let Some(info) = meta.info(&name) else {
            continue;
        };
        let numel: u64 = info.shape.iter().map(|&d| d as u64).product();
        model.tensors.push(TensorEntry {
            name: name.clone(),
            dtype: info.dtype.to_string(),
            shape: info.shape.clone(),
            numel,
        });
        if !matches!(info.shape.len(), 2 | 4) {
            model.other_params += numel;
            continue;
        }
        let rows = info.shape[0];
        let mut layer = ImportedLayer {
            name: name.clone(),
            shape: info.shape.clone(),
            params: numel,
            dtype: info.dtype.to_string(),
            quant_error: Vec::new(),
            rows,
            measured_rows: 0,
        };
        if check_only && (float_width(info.dtype).is_none() || numel == 0) {
            return Err(SafetensorsError::Unmeasurable {
                path: path.to_path_buf(),
                tensor: name.clone(),
                dtype: info.dtype.to_string(),
                shape: info.shape.clone(),
            });
        }
        let measure = options.zip(float_width(info.dtype)).filter(|_| numel > 0);
        if let Some((o, width)) = measure {
            let row_len = (numel / rows as u64) as usize;
            let picked = pick_rows(rows, row_len, o.max_values_per_layer);
            read_rows(
                path,
                &mut file,
                data_start + info.data_offsets.0 as u64,
                row_len * width,
                &picked,
                &mut buf,
            )?;
            decode(info.dtype, &buf, &mut values);
            if check_only {
                if let Some(index) = values.iter().position(|v| !v.is_finite()) {
                    return Err(non_finite(
                        path,
                        &name,
                        values[index],
                        picked[index / row_len],
                        index % row_len,
                    ));
                }
                model.layers.push(layer);
                continue;
            }
            out.resize(values.len(), 0.0);
            let shape = [picked.len(), row_len];
            for &bits in &o.bits {
                let spec = QuantSpec { bits, ..o.spec };
                fake_quantize(&values, &shape, &spec, &mut out).map_err(|e| match e {
                    QuantError::NonFinite { index, value } => {
                        non_finite(path, &name, value, picked[index / row_len], index % row_len)
                    }
                    e => SafetensorsError::InvalidSpec(format!("bits {bits}: {e}")),
                })?;
                layer.quant_error.push((bits, relative_mse(&values, &out)));
            }
            layer.measured_rows = picked.len();
        }
        model.layers.push(layer);
    }
    // Network order, as far as names tell it: embeddings first, heads last,
    // `layers.2` before `layers.10` (the header's order is by data offset,
    // usually alphabetical).
    model.layers.sort_by_key(|l| network_key(&l.name));
    Ok(model)
}

/// The sort key of a layer name in network order.
fn network_key(name: &str) -> (u8, Vec<(String, u64)>) {
    (stage(name), natural_key(name))
}

/// Does the name say the tensor is an embedding table (looked up, not
/// multiplied)?
pub fn is_embedding(name: &str) -> bool {
    stage(name) == 0
}

/// 0 for embedding tables, 2 for output heads, 1 for everything between.
fn stage(name: &str) -> u8 {
    let n = name.to_ascii_lowercase();
    let last = n.split('.').rev().find(|p| *p != "weight").unwrap_or("");
    // Heads first: GPT-NeoX's output head is `embed_out`.
    if n.starts_with("lm_head")
        || n.starts_with("output.")
        || matches!(last, "lm_head" | "classifier" | "head" | "embed_out")
    {
        2
    } else if n.contains("embed") || matches!(last, "wte" | "wpe" | "tok_embeddings") {
        0
    } else {
        1
    }
}

/// A name split into text and number runs, numbers compared by value.
fn natural_key(name: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = name.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            // Digits too long for u64 keep their text order.
            out.push((
                std::mem::take(&mut text),
                digits.parse().unwrap_or(u64::MAX),
            ));
        } else {
            text.push(c);
            chars.next();
        }
    }
    out.push((text, 0));
    out
}

fn non_finite(path: &Path, tensor: &str, value: f32, row: usize, col: usize) -> SafetensorsError {
    SafetensorsError::BadTensor {
        path: path.to_path_buf(),
        tensor: tensor.to_string(),
        detail: format!("value {value} at row {row}, column {col} is not finite"),
    }
}

/// The 8-byte little-endian header length, then the header itself.
fn read_header_bytes(
    path: &Path,
    file: &mut File,
    file_len: u64,
) -> Result<(Vec<u8>, u64), SafetensorsError> {
    let truncated = |detail: String| SafetensorsError::Truncated {
        path: path.to_path_buf(),
        detail,
    };
    if file_len < 8 {
        return Err(truncated(format!(
            "the file is {file_len} bytes, shorter than the 8-byte header length"
        )));
    }
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|source| SafetensorsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER_BYTES {
        return Err(SafetensorsError::MalformedHeader {
            path: path.to_path_buf(),
            detail: format!(
                "the header length field says {n} bytes, above the {MAX_HEADER_BYTES}-byte limit (not a safetensors file?)"
            ),
        });
    }
    if n > file_len - 8 {
        return Err(truncated(format!(
            "the header declares {n} bytes but only {} follow the length field",
            file_len - 8
        )));
    }
    let mut header = vec![0u8; n as usize];
    file.read_exact(&mut header)
        .map_err(|source| SafetensorsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok((header, 8 + n))
}

/// Parse and validate the header JSON with the `safetensors` crate, after
/// checking dtype names and every tensor's extent ourselves
/// ([`check_extents`]): the crate's own errors do not always name the tensor.
fn parse_header(path: &Path, header: &[u8], data_bytes: u64) -> Result<Metadata, SafetensorsError> {
    let malformed = |detail: String| SafetensorsError::MalformedHeader {
        path: path.to_path_buf(),
        detail,
    };
    let text = std::str::from_utf8(header)
        .map_err(|e| malformed(format!("the header is not UTF-8: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| malformed(format!("invalid JSON: {e}")))?;
    let serde_json::Value::Object(map) = &value else {
        return Err(malformed("the header is not a JSON object".into()));
    };
    for (name, entry) in map {
        if name == "__metadata__" {
            continue;
        }
        let Some(d) = entry.get("dtype").and_then(|d| d.as_str()) else {
            continue;
        };
        if serde_json::from_value::<Dtype>(serde_json::Value::String(d.to_string())).is_err() {
            return Err(SafetensorsError::UnsupportedDtype {
                path: path.to_path_buf(),
                tensor: name.clone(),
                dtype: d.to_string(),
            });
        }
    }
    check_extents(path, map, data_bytes)?;
    serde_json::from_value::<Metadata>(value).map_err(|e| malformed(e.to_string()))
}

/// Every tensor's byte extent, checked before anything is read or
/// allocated: shape × dtype size without overflow and equal to its
/// `data_offsets` span, start ≤ end ≤ the data bytes present, and the spans
/// tiling the data from byte 0 with no overlap or gap (in any header order).
/// Entries of the wrong JSON shape are left to the crate's parser.
fn check_extents(
    path: &Path,
    map: &serde_json::Map<String, serde_json::Value>,
    data_bytes: u64,
) -> Result<(), SafetensorsError> {
    let bad = |tensor: &str, detail: String| SafetensorsError::BadTensor {
        path: path.to_path_buf(),
        tensor: tensor.to_string(),
        detail,
    };
    let mut spans: Vec<(u64, u64, &str)> = Vec::new();
    for (name, entry) in map {
        if name == "__metadata__" {
            continue;
        }
        let dtype = entry
            .get("dtype")
            .cloned()
            .and_then(|d| serde_json::from_value::<Dtype>(d).ok());
        let shape: Option<Vec<u64>> = entry
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(serde_json::Value::as_u64).collect());
        let offsets: Option<Vec<u64>> = entry
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(serde_json::Value::as_u64).collect());
        let (Some(dtype), Some(shape), Some(offsets)) = (dtype, shape, offsets) else {
            continue;
        };
        let &[start, end] = offsets.as_slice() else {
            continue;
        };
        let bits = shape
            .iter()
            .try_fold(dtype.bitsize() as u64, |a, &d| a.checked_mul(d))
            .filter(|&b| usize::try_from(b).is_ok())
            .ok_or_else(|| {
                bad(
                    name,
                    format!("shape {shape:?} of {dtype} holds more bytes than a file can"),
                )
            })?;
        if bits % 8 != 0 {
            return Err(bad(
                name,
                format!("shape {shape:?} of {dtype} is not a whole number of bytes"),
            ));
        }
        if start > end {
            return Err(bad(
                name,
                format!("data_offsets [{start}, {end}] end before they start"),
            ));
        }
        if end - start != bits / 8 {
            return Err(bad(
                name,
                format!(
                    "shape {shape:?} of {dtype} needs {} bytes but data_offsets [{start}, {end}] span {}",
                    bits / 8,
                    end - start
                ),
            ));
        }
        if end > data_bytes {
            return Err(bad(
                name,
                format!(
                    "data_offsets [{start}, {end}] reach past the {data_bytes} data bytes that follow the header (truncated file?)"
                ),
            ));
        }
        spans.push((start, end, name));
    }
    spans.sort_unstable();
    let mut at = (0u64, "the start of the data");
    for &(start, end, name) in &spans {
        if start < at.0 {
            return Err(bad(
                name,
                format!(
                    "data_offsets [{start}, {end}] overlap tensor `{}`, which ends at byte {}",
                    at.1, at.0
                ),
            ));
        }
        if start > at.0 {
            return Err(bad(
                name,
                format!(
                    "data_offsets [{start}, {end}] leave bytes {}..{start} after {} unused (tensors must tile the data)",
                    at.0,
                    if at.0 == 0 {
                        at.1.to_string()
                    } else {
                        format!("`{}`", at.1)
                    }
                ),
            ));
        }
        at = (end, name);
    }
    Ok(())
}

/// Bytes per value of the float dtypes whose errors are measured.
fn float_width(d: Dtype) -> Option<usize> {
    match d {
        Dtype::F16 | Dtype::BF16 => Some(2),
        Dtype::F32 => Some(4),
        Dtype::F64 => Some(8),
        _ => None,
    }
}

/// Evenly spaced rows holding at most `max_values` values (at least one
/// row); all rows when `max_values` is 0 or large enough.
fn pick_rows(rows: usize, row_len: usize, max_values: usize) -> Vec<usize> {
    let k = if max_values == 0 {
        rows
    } else {
        (max_values / row_len.max(1)).clamp(1, rows)
    };
    (0..k).map(|i| i * rows / k).collect()
}

/// Read the picked rows of a tensor starting at byte `start` into `buf`.
fn read_rows(
    path: &Path,
    file: &mut File,
    start: u64,
    row_bytes: usize,
    picked: &[usize],
    buf: &mut Vec<u8>,
) -> Result<(), SafetensorsError> {
    let io = |source| SafetensorsError::Io {
        path: path.to_path_buf(),
        source,
    };
    buf.resize(row_bytes * picked.len(), 0);
    let contiguous = picked.iter().enumerate().all(|(i, &r)| r == i);
    if contiguous {
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        file.read_exact(buf).map_err(io)?;
    } else {
        for (chunk, &r) in buf.chunks_exact_mut(row_bytes).zip(picked) {
            file.seek(SeekFrom::Start(start + (r * row_bytes) as u64))
                .map_err(io)?;
            file.read_exact(chunk).map_err(io)?;
        }
    }
    Ok(())
}

/// Little-endian float bytes to f32 (F64 rounds to nearest).
fn decode(d: Dtype, bytes: &[u8], out: &mut Vec<f32>) {
    out.clear();
    match d {
        Dtype::F32 => out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
        Dtype::F16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()),
        ),
        Dtype::BF16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()),
        ),
        Dtype::F64 => out.extend(bytes.chunks_exact(8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            f64::from_le_bytes(a) as f32
        })),
        _ => {}
    }
}

/// Σ(w − q)² / Σ w², via the shared error metrics (mse / mean square);
/// 0 for an all-zero tensor reconstructed exactly.
fn relative_mse(w: &[f32], q: &[f32]) -> f64 {
    let m = error_metrics(w, q);
    let mean_sq = w.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / w.len() as f64;
    if mean_sq == 0.0 {
        if m.mse == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        m.mse / mean_sq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;
    use std::collections::HashMap;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(label: &str) -> TempDir {
            let d = std::env::temp_dir().join(format!(
                "evoquant-safetensors-{}-{label}",
                std::process::id()
            ));
            std::fs::create_dir_all(&d).unwrap();
            TempDir(d)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Deterministic weights with a few large values per row, like real ones.
    fn weights(rows: usize, cols: usize, seed: u32) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| {
                let x = ((i as u32).wrapping_mul(2_654_435_761) ^ seed) as f32 / u32::MAX as f32;
                let v = (x - 0.5) * 0.2;
                if i % 97 == 0 { v * 8.0 } else { v }
            })
            .collect()
    }

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// A small model: two linear layers (one F32, one BF16), a conv, a bias,
    /// a norm and an int8 tensor.
    fn model_bytes() -> Vec<u8> {
        let fc1 = f32_bytes(&weights(16, 24, 1));
        let fc2: Vec<u8> = weights(8, 16, 2)
            .iter()
            .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
            .collect();
        let conv = f32_bytes(&weights(4, 3 * 3 * 3, 3));
        let bias = f32_bytes(&[0.1; 16]);
        let norm = f32_bytes(&[1.0; 8]);
        let q = vec![3u8; 10 * 12];
        let tensors = vec![
            (
                "fc1.weight",
                TensorView::new(Dtype::F32, vec![16, 24], &fc1).unwrap(),
            ),
            (
                "fc1.bias",
                TensorView::new(Dtype::F32, vec![16], &bias).unwrap(),
            ),
            (
                "fc2.weight",
                TensorView::new(Dtype::BF16, vec![8, 16], &fc2).unwrap(),
            ),
            (
                "norm.weight",
                TensorView::new(Dtype::F32, vec![8], &norm).unwrap(),
            ),
            (
                "conv.weight",
                TensorView::new(Dtype::F32, vec![4, 3, 3, 3], &conv).unwrap(),
            ),
            (
                "q.weight",
                TensorView::new(Dtype::I8, vec![10, 12], &q).unwrap(),
            ),
        ];
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), "pt".to_string());
        safetensors::serialize(tensors, Some(meta)).unwrap()
    }

    fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn layers_are_in_natural_order_of_their_names() {
        let mut names = vec![
            "model.layers.10.mlp",
            "lm_head",
            "model.layers.2.mlp",
            "model.layers.1.attn",
            "model.embed",
            "gpt_neox.embed_out",
        ];
        names.sort_by_key(|n| network_key(n));
        assert_eq!(
            names,
            [
                "model.embed",
                "model.layers.1.attn",
                "model.layers.2.mlp",
                "model.layers.10.mlp",
                "gpt_neox.embed_out",
                "lm_head"
            ]
        );
        assert!(
            is_embedding("model.embed_tokens.weight") && is_embedding("transformer.wte.weight")
        );
        assert!(!is_embedding("gpt_neox.embed_out.weight") && !is_embedding("lm_head.weight"));
    }

    #[test]
    fn reads_names_shapes_dtypes_and_groups_layers() {
        let dir = TempDir::new("ok");
        let p = write(&dir, "m.safetensors", &model_bytes());
        let m = read(&p).unwrap();
        assert_eq!(m.tensors.len(), 6);
        assert_eq!(m.metadata.get("format").map(String::as_str), Some("pt"));
        let names: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            ["conv.weight", "fc1.weight", "fc2.weight", "q.weight"]
        );
        let fc2 = m.layers.iter().find(|l| l.name == "fc2.weight").unwrap();
        assert_eq!((fc2.dtype.as_str(), fc2.params), ("BF16", 128));
        let conv = m.layers.iter().find(|l| l.name == "conv.weight").unwrap();
        assert_eq!((conv.shape.clone(), conv.params), (vec![4, 3, 3, 3], 108));
        assert_eq!(m.other_params, 16 + 8);
        assert_eq!(m.total_params(), 16 * 24 + 16 + 128 + 8 + 108 + 120);
        // Int8 data is already quantized: listed, not measured.
        let q = m.layers.iter().find(|l| l.name == "q.weight").unwrap();
        assert!(q.quant_error.is_empty());
        assert_eq!(read_header(&p).unwrap().layers.len(), 4);
    }

    #[test]
    fn errors_fall_with_bits_and_match_a_direct_computation() {
        let dir = TempDir::new("err");
        let p = write(&dir, "m.safetensors", &model_bytes());
        let m = read(&p).unwrap();
        for l in m.layers.iter().filter(|l| l.dtype != "I8") {
            let bits: Vec<u8> = l.quant_error.iter().map(|e| e.0).collect();
            assert_eq!(bits, ERROR_BITS);
            for w in l.quant_error.windows(2) {
                assert!(w[1].1 < w[0].1, "{}: {:?}", l.name, l.quant_error);
            }
            assert!(l.quant_error[0].1 > 1e-3 && l.quant_error[5].1 < 1e-7);
            assert_eq!(l.measured_rows, l.rows);
        }
        // fc1 at 4 bits, recomputed by hand from the same weights.
        let w = weights(16, 24, 1);
        let spec = QuantSpec {
            bits: 4,
            ..ErrorOptions::default().spec
        };
        let mut q = vec![0.0; w.len()];
        fake_quantize(&w, &[16, 24], &spec, &mut q).unwrap();
        let se: f64 = w
            .iter()
            .zip(&q)
            .map(|(&a, &b)| f64::from(a - b).powi(2))
            .sum();
        let ss: f64 = w.iter().map(|&a| f64::from(a).powi(2)).sum();
        let fc1 = m.layers.iter().find(|l| l.name == "fc1.weight").unwrap();
        let got = fc1.quant_error.iter().find(|e| e.0 == 4).unwrap().1;
        assert!(
            (got - se / ss).abs() <= 1e-9 * (se / ss),
            "{got} vs {}",
            se / ss
        );
    }

    #[test]
    fn sampling_reads_evenly_spaced_whole_rows() {
        assert_eq!(pick_rows(10, 4, 0), (0..10).collect::<Vec<_>>());
        assert_eq!(pick_rows(10, 4, 20), vec![0, 2, 4, 6, 8]);
        assert_eq!(pick_rows(10, 100, 5), vec![0]);
        let dir = TempDir::new("sample");
        let p = write(&dir, "m.safetensors", &model_bytes());
        let o = ErrorOptions {
            max_values_per_layer: 24 * 4,
            ..ErrorOptions::default()
        };
        let m = read_with(&p, Some(&o)).unwrap();
        let fc1 = m.layers.iter().find(|l| l.name == "fc1.weight").unwrap();
        assert_eq!((fc1.rows, fc1.measured_rows), (16, 4));
        // Per-channel error of rows 0, 4, 8, 12 computed directly.
        let w = weights(16, 24, 1);
        let sub: Vec<f32> = [0, 4, 8, 12]
            .iter()
            .flat_map(|&r| w[r * 24..(r + 1) * 24].to_vec())
            .collect();
        let mut q = vec![0.0; sub.len()];
        let spec = QuantSpec { bits: 2, ..o.spec };
        fake_quantize(&sub, &[4, 24], &spec, &mut q).unwrap();
        assert_eq!(fc1.quant_error[0], (2, relative_mse(&sub, &q)));
    }

    fn expect_err(bytes: &[u8], label: &str) -> String {
        let dir = TempDir::new(label);
        let p = write(&dir, "bad.safetensors", bytes);
        let e = read(&p).expect_err(label);
        let msg = e.to_string();
        assert!(msg.contains("bad.safetensors"), "{label}: {msg}");
        msg
    }

    #[test]
    fn missing_truncated_and_malformed_files_are_typed_errors() {
        let good = model_bytes();
        let e = read(Path::new("/nonexistent/x.safetensors")).unwrap_err();
        assert!(matches!(e, SafetensorsError::Io { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/x.safetensors"));

        assert!(expect_err(&good[..5], "tiny").contains("truncated"));
        assert!(expect_err(&good[..40], "mid-header").contains("truncated"));
        let m = expect_err(&good[..good.len() - 3], "mid-data");
        assert!(m.contains("truncated") && m.contains("data bytes"), "{m}");

        let mut extra = good.clone();
        extra.extend_from_slice(&[0; 4]);
        assert!(expect_err(&extra, "trailing").contains("follow the last tensor"));

        let header = |json: &str, data: usize| {
            let mut b = (json.len() as u64).to_le_bytes().to_vec();
            b.extend_from_slice(json.as_bytes());
            b.extend(std::iter::repeat_n(0u8, data));
            b
        };
        let m = expect_err(&header("{\"a\": [1, 2", 0), "json");
        assert!(m.contains("malformed") && m.contains("JSON"), "{m}");
        let m = expect_err(&header("[1, 2]", 0), "array");
        assert!(m.contains("not a JSON object"), "{m}");
        let m = expect_err(
            &header(
                r#"{"w":{"dtype":"F128","shape":[2,2],"data_offsets":[0,64]}}"#,
                64,
            ),
            "dtype",
        );
        assert!(
            m.contains("unsupported dtype `F128`") && m.contains("`w`"),
            "{m}"
        );
        // Offsets that disagree with dtype × shape.
        let m = expect_err(
            &header(
                r#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#,
                12,
            ),
            "offsets",
        );
        assert!(
            m.contains("tensor `w`") && m.contains("needs 16 bytes"),
            "{m}"
        );
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(expect_err(&huge, "huge").contains("limit"));
        // Offsets beyond the data, overlapping, leaving gaps or out of header
        // order; shapes whose byte size overflows; absurd header lengths.
        for (json, data, label, want) in [
            (
                r#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]}}"#,
                16,
                "beyond",
                "tensor `w`: data_offsets [16, 32] reach past the 16 data bytes",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                12,
                "overlap",
                "tensor `b`: data_offsets [4, 12] overlap tensor `a`, which ends at byte 8",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                12,
                "gap",
                "tensor `b`: data_offsets [8, 12] leave bytes 4..8 after `a` unused",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                8,
                "late-start",
                "tensor `a`: data_offsets [4, 8] leave bytes 0..4 after the start of the data unused",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
                8,
                "reversed",
                "tensor `a`: data_offsets [8, 0] end before they start",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}"#,
                0,
                "overflow",
                "tensor `a`: shape [4294967296, 4294967296, 4] of F32 holds more bytes than a file can",
            ),
            (
                r#"{"a":{"dtype":"F64","shape":[18446744073709551615],"data_offsets":[0,8]}}"#,
                8,
                "overflow-1d",
                "tensor `a`: shape [18446744073709551615] of F64 holds more bytes",
            ),
        ] {
            let m = expect_err(&header(json, data), label);
            assert!(m.contains(want), "{label}: {m}");
        }
        // Out of header order but tiling the data: accepted, file order kept.
        let dir = TempDir::new("order");
        let p = write(
            &dir,
            "m.safetensors",
            &header(
                r#"{"b":{"dtype":"F32","shape":[1,1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}}"#,
                8,
            ),
        );
        let names: Vec<String> = read_header(&p)
            .unwrap()
            .tensors
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        // A header length above the file size (but under the limit).
        let mut long = 1000u64.to_le_bytes().to_vec();
        long.extend_from_slice(b"{}");
        assert!(expect_err(&long, "long").contains("declares 1000 bytes"));
        let mut not_utf8 = 2u64.to_le_bytes().to_vec();
        not_utf8.extend_from_slice(&[0xff, 0xfe]);
        assert!(expect_err(&not_utf8, "utf8").contains("UTF-8"));
    }

    #[test]
    fn non_finite_weights_name_the_tensor_and_position() {
        let mut w = weights(4, 8, 5);
        w[8 + 3] = f32::NAN;
        let b = f32_bytes(&w);
        let t = vec![("w", TensorView::new(Dtype::F32, vec![4, 8], &b).unwrap())];
        let bytes = safetensors::serialize(t, None).unwrap();
        let m = expect_err(&bytes, "nan");
        assert!(m.contains("`w`") && m.contains("row 1, column 3"), "{m}");
    }

    /// What trials would fail on (NaN in measured rows, integer or empty
    /// layers) fails `check_measurable`, which `validate` runs.
    #[test]
    fn check_measurable_catches_what_measurement_would() {
        let dir = TempDir::new("measurable");
        let p = write(&dir, "m.safetensors", &model_bytes());
        let e = check_measurable(&p).unwrap_err();
        assert!(matches!(e, SafetensorsError::Unmeasurable { .. }), "{e}");
        assert!(e.to_string().contains("`q.weight` (I8"), "{e}");

        let mut w = weights(4, 8, 5);
        w[2 * 8 + 7] = f32::INFINITY;
        let b = f32_bytes(&w);
        let t = vec![("w", TensorView::new(Dtype::F32, vec![4, 8], &b).unwrap())];
        let p = write(
            &dir,
            "nan.safetensors",
            &safetensors::serialize(t, None).unwrap(),
        );
        let msg = check_measurable(&p).unwrap_err().to_string();
        assert!(
            msg.contains("`w`") && msg.contains("row 2, column 7"),
            "{msg}"
        );

        let t = vec![("e", TensorView::new(Dtype::F32, vec![0, 8], &[]).unwrap())];
        let p = write(
            &dir,
            "empty.safetensors",
            &safetensors::serialize(t, None).unwrap(),
        );
        let msg = check_measurable(&p).unwrap_err().to_string();
        assert!(msg.contains("holds no values"), "{msg}");

        let b = f32_bytes(&weights(4, 8, 5));
        let t = vec![("w", TensorView::new(Dtype::F32, vec![4, 8], &b).unwrap())];
        let p = write(
            &dir,
            "ok.safetensors",
            &safetensors::serialize(t, None).unwrap(),
        );
        assert_eq!(check_measurable(&p).unwrap().layers.len(), 1);
    }

    #[test]
    fn an_invalid_spec_is_rejected_before_reading() {
        let o = ErrorOptions {
            bits: vec![1],
            ..ErrorOptions::default()
        };
        let e = read_with(Path::new("/nonexistent"), Some(&o)).unwrap_err();
        assert!(matches!(e, SafetensorsError::InvalidSpec(_)), "{e}");
    }
}
