//! GGUF files (llama.cpp's model format, versions 2 and 3): header, metadata
//! key/values of every value type, tensor infos, and tensor data decoded to
//! f32 (F32, F16, BF16, and the block formats Q8_0, Q4_0, Q4_1 through
//! `crate::quant::gguf`, so there is one implementation of ggml's block
//! arithmetic in the crate).
//!
//! The file is untrusted input: every count and length read from it is
//! checked against the bytes that remain before anything is allocated, so a
//! crafted file is an exit-2 error naming the file and the key or tensor,
//! never a huge allocation or a panic. The whole file is read into memory
//! (SmolLM2-135M is ~100 MB); no memory map.
//!
//! Layout (little-endian): magic `GGUF`, u32 version, u64 tensor count, u64
//! metadata count; metadata as (string key, u32 type, value); tensor infos as
//! (string name, u32 n_dims, u64 dims[n_dims] fastest-varying first, u32
//! ggml type, u64 offset); then padding to `general.alignment` (default 32)
//! and the tensor data, each tensor at its offset from the data start.

use crate::error::{Error, Result};
use crate::models::io::{FloatBytes, decode_floats};
use crate::quant::{GgufFormat, gguf_dequantize_into};
use std::path::{Path, PathBuf};

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    Str(String),
    Array(Vec<Value>),
}

impl Value {
    /// An integer value of any width, if non-negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// ggml tensor types this reader decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorType {
    F32,
    F16,
    BF16,
    Block(GgufFormat),
}

impl TensorType {
    /// The ggml type id (`enum ggml_type`), `None` for types we do not decode.
    pub fn from_id(id: u32) -> Option<TensorType> {
        Some(match id {
            0 => TensorType::F32,
            1 => TensorType::F16,
            2 => TensorType::Block(GgufFormat::Q4_0),
            3 => TensorType::Block(GgufFormat::Q4_1),
            8 => TensorType::Block(GgufFormat::Q8_0),
            30 => TensorType::BF16,
            _ => return None,
        })
    }
    pub fn id(self) -> u32 {
        match self {
            TensorType::F32 => 0,
            TensorType::F16 => 1,
            TensorType::Block(GgufFormat::Q4_0) => 2,
            TensorType::Block(GgufFormat::Q4_1) => 3,
            TensorType::Block(GgufFormat::Q8_0) => 8,
            TensorType::BF16 => 30,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            TensorType::F32 => "F32",
            TensorType::F16 => "F16",
            TensorType::BF16 => "BF16",
            TensorType::Block(GgufFormat::Q4_0) => "Q4_0",
            TensorType::Block(GgufFormat::Q4_1) => "Q4_1",
            TensorType::Block(GgufFormat::Q8_0) => "Q8_0",
        }
    }
    /// Bytes of `n` elements (`None` if `n` is not a whole number of blocks).
    pub fn bytes(self, n: u64) -> Option<u64> {
        match self {
            TensorType::F32 => n.checked_mul(4),
            TensorType::F16 | TensorType::BF16 => n.checked_mul(2),
            TensorType::Block(f) => (n % 32 == 0).then(|| n / 32 * f.block_bytes() as u64),
        }
    }
}

/// The name of a ggml type id, for messages about types we do not decode.
fn ggml_type_name(id: u32) -> String {
    const NAMES: [&str; 31] = [
        "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K",
        "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL",
        "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16",
    ];
    NAMES.get(id as usize).map_or_else(
        || format!("type id {id}"),
        |n| format!("{n} (type id {id})"),
    )
}

/// One tensor's header entry.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub name: String,
    /// ggml order: `dims[0]` varies fastest (a PyTorch `[out, in]` weight is `[in, out]`).
    pub dims: Vec<usize>,
    pub kind: TensorType,
    /// Byte range inside the file.
    pub start: usize,
    pub len: usize,
}

impl TensorInfo {
    pub fn n_elements(&self) -> usize {
        self.dims.iter().product()
    }
    /// Row-major (PyTorch) shape: the ggml dims reversed.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().copied().collect()
    }
}

pub struct Gguf {
    pub path: PathBuf,
    pub version: u32,
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: usize,
    /// Offset of the tensor data section.
    pub data_offset: usize,
    bytes: Vec<u8>,
}

/// A bounds-checked reader over the file's bytes.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl Cursor<'_> {
    /// Magic, version, tensor count and metadata count.
    fn header(&mut self) -> Result<(u32, usize, usize)> {
        let magic = self.arr::<4>("magic")?;
        if &magic != b"GGUF" {
            return Err(self.err(
                "magic",
                format!("{magic:02x?} is not `GGUF`: not a GGUF file"),
            ));
        }
        let version = self.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(self.err("version", format!("{version} is not supported (2 or 3)")));
        }
        // Smallest tensor info: 8-byte name length, n_dims, type, offset.
        let n_tensors = self.count(24, "tensor count")?;
        // Smallest metadata entry: 8-byte key length, type, 1-byte value.
        let n_kv = self.count(13, "metadata count")?;
        Ok((version, n_tensors, n_kv))
    }

    /// Metadata entry `i`: its key and value.
    fn entry(&mut self, i: usize) -> Result<(String, Value)> {
        let key = self.string(&format!("metadata[{i}] key"))?;
        let ty = self.u32(&format!("metadata `{key}` type"))?;
        let v = self.value(ty, &format!("metadata `{key}`"), 0)?;
        Ok((key, v))
    }

    fn err(&self, what: &str, msg: impl std::fmt::Display) -> Error {
        Error::user(format!(
            "{}: {what}: {msg} (at byte {})",
            self.path.display(),
            self.pos
        ))
    }
    fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8]> {
        if n > self.remaining() {
            return Err(self.err(
                what,
                format!(
                    "truncated: needs {n} bytes, {} remain of {}",
                    self.remaining(),
                    self.b.len()
                ),
            ));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        Ok(self.take(N, what)?.try_into().expect("N bytes"))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.arr(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }
    /// A count of items of at least `min_bytes` each that must fit in what remains.
    fn count(&mut self, min_bytes: usize, what: &str) -> Result<usize> {
        let n = self.u64(what)?;
        let fits = usize::try_from(n).ok().filter(|&n| {
            n.checked_mul(min_bytes.max(1))
                .is_some_and(|b| b <= self.remaining())
        });
        fits.ok_or_else(|| {
            self.err(
                what,
                format!(
                    "count {n} cannot fit in the {} bytes that remain of the file",
                    self.remaining()
                ),
            )
        })
    }
    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.count(1, what)?;
        let s = self.take(n, what)?;
        String::from_utf8(s.to_vec()).map_err(|_| self.err(what, "string is not UTF-8"))
    }
    fn value(&mut self, ty: u32, what: &str, depth: usize) -> Result<Value> {
        Ok(match ty {
            0 => Value::U8(self.arr::<1>(what)?[0]),
            1 => Value::I8(self.arr::<1>(what)?[0] as i8),
            2 => Value::U16(u16::from_le_bytes(self.arr(what)?)),
            3 => Value::I16(i16::from_le_bytes(self.arr(what)?)),
            4 => Value::U32(self.u32(what)?),
            5 => Value::I32(i32::from_le_bytes(self.arr(what)?)),
            6 => Value::F32(f32::from_le_bytes(self.arr(what)?)),
            7 => match self.arr::<1>(what)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(self.err(what, format!("bool byte {b} is neither 0 nor 1"))),
            },
            8 => Value::Str(self.string(what)?),
            9 => {
                if depth > 4 {
                    return Err(self.err(what, "arrays nested more than 4 deep"));
                }
                let et = self.u32(what)?;
                let min = match et {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => 12,
                    t => return Err(self.err(what, format!("unknown array element type {t}"))),
                };
                let n = self.count(min, what)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.value(et, what, depth + 1)?);
                }
                Value::Array(v)
            }
            10 => Value::U64(self.u64(what)?),
            11 => Value::I64(i64::from_le_bytes(self.arr(what)?)),
            12 => Value::F64(f64::from_le_bytes(self.arr(what)?)),
            t => return Err(self.err(what, format!("unknown value type {t}"))),
        })
    }
}

/// True if `bytes` start with the GGUF magic.
pub fn has_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(b"GGUF")
}

/// True if the file at `path` starts with the GGUF magic.
pub fn is_gguf(path: &Path) -> bool {
    use std::io::Read;
    let mut m = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut m))
        .is_ok()
        && has_magic(&m)
}

/// `general.architecture` of the GGUF file at `path` (`None` when absent or
/// not a string; an error, as [`Gguf::parse`] gives, for a file that is not
/// GGUF v2/v3 or whose metadata is malformed), from its metadata alone: the file is mapped, so a model's
/// tensor data is never read just to learn what kind of model it is.
pub fn architecture(path: &Path) -> Result<Option<String>> {
    let file = std::fs::File::open(path).map_err(|e| Error::input(path, e))?;
    // SAFETY: a read-only map of a file we only read; a file rewritten
    // under us is outside what any reader guards against.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::input(path, e))?;
    let mut c = Cursor {
        b: &map,
        pos: 0,
        path,
    };
    let (_, _, n_kv) = c.header()?;
    for i in 0..n_kv {
        let (key, v) = c.entry(i)?;
        if key == "general.architecture" {
            return Ok(v.as_str().map(str::to_string));
        }
    }
    Ok(None)
}

impl Gguf {
    pub fn open(path: &Path) -> Result<Gguf> {
        let bytes = std::fs::read(path).map_err(|e| Error::input(path, e))?;
        Gguf::parse(path, bytes)
    }

    /// Parse `bytes` (the content of `path`, which only labels messages).
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<Gguf> {
        let mut c = Cursor {
            b: &bytes,
            pos: 0,
            path,
        };
        let (version, n_tensors, n_kv) = c.header()?;
        let mut metadata = Vec::with_capacity(n_kv);
        for i in 0..n_kv {
            metadata.push(c.entry(i)?);
        }
        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => 32,
            Some((_, v)) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => a as usize,
                _ => {
                    return Err(c.err(
                        "metadata `general.alignment`",
                        format!("{v:?} is not a power of two up to 2^20"),
                    ));
                }
            },
        };
        let mut raw = Vec::with_capacity(n_tensors);
        for i in 0..n_tensors {
            let name = c.string(&format!("tensor[{i}] name"))?;
            let what = format!("tensor `{name}`");
            let nd = c.u32(&what)? as usize;
            if !(1..=4).contains(&nd) {
                return Err(c.err(&what, format!("{nd} dimensions (1 to 4 supported)")));
            }
            let mut dims = Vec::with_capacity(nd);
            for _ in 0..nd {
                dims.push(c.u64(&what)?);
            }
            let ty = c.u32(&what)?;
            let off = c.u64(&what)?;
            raw.push((name, dims, ty, off));
        }
        let data_offset = c.pos.next_multiple_of(alignment);
        let file_len = bytes.len();
        let mut tensors = Vec::with_capacity(raw.len());
        for (name, dims, ty, off) in raw {
            let at = |m: String| Error::user(format!("{}: tensor `{name}`: {m}", path.display()));
            let n = dims
                .iter()
                .try_fold(1u64, |a, &d| a.checked_mul(d))
                .filter(|&n| n > 0)
                .ok_or_else(|| at(format!("dims {dims:?} are empty or overflow")))?;
            let kind = TensorType::from_id(ty).ok_or_else(|| {
                at(format!(
                    "tensor type {} is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1)",
                    ggml_type_name(ty)
                ))
            })?;
            if matches!(kind, TensorType::Block(_)) && dims[0] % 32 != 0 {
                return Err(at(format!(
                    "{} rows of {} values are not whole 32-value blocks",
                    kind.name(),
                    dims[0]
                )));
            }
            let len = kind
                .bytes(n)
                .ok_or_else(|| at(format!("{n} values overflow")))?;
            if off % alignment as u64 != 0 {
                return Err(at(format!(
                    "offset {off} is not a multiple of the alignment {alignment}"
                )));
            }
            let start = (data_offset as u64).checked_add(off);
            let end = start.and_then(|s| s.checked_add(len));
            let (Some(start), Some(end)) = (start, end) else {
                return Err(at(format!("offset {off} overflows")));
            };
            if end > file_len as u64 {
                return Err(at(format!(
                    "data [{start}, {end}) lies past the end of the file ({file_len} bytes): truncated"
                )));
            }
            tensors.push(TensorInfo {
                dims: dims.iter().map(|&d| d as usize).collect(),
                name,
                kind,
                start: start as usize,
                len: len as usize,
            });
        }
        Ok(Gguf {
            path: path.to_path_buf(),
            version,
            metadata,
            tensors,
            alignment,
            data_offset,
            bytes,
        })
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn key_err(&self, key: &str, msg: impl std::fmt::Display) -> Error {
        Error::user(format!("{}: metadata `{key}`: {msg}", self.path.display()))
    }

    /// A required non-negative integer key.
    pub fn usize(&self, key: &str) -> Result<usize> {
        let v = self.get(key).ok_or_else(|| self.key_err(key, "missing"))?;
        v.as_u64()
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| self.key_err(key, format!("{v:?} is not a non-negative integer")))
    }

    /// A required number.
    pub fn f64(&self, key: &str) -> Result<f64> {
        let v = self.get(key).ok_or_else(|| self.key_err(key, "missing"))?;
        v.as_f64()
            .ok_or_else(|| self.key_err(key, format!("{v:?} is not a number")))
    }

    /// A required string.
    pub fn str(&self, key: &str) -> Result<&str> {
        let v = self.get(key).ok_or_else(|| self.key_err(key, "missing"))?;
        v.as_str()
            .ok_or_else(|| self.key_err(key, format!("{v:?} is not a string")))
    }

    /// A required array of strings.
    pub fn strings(&self, key: &str) -> Result<Vec<&str>> {
        let v = self.get(key).ok_or_else(|| self.key_err(key, "missing"))?;
        let a = v
            .as_array()
            .ok_or_else(|| self.key_err(key, "is not an array"))?;
        a.iter()
            .enumerate()
            .map(|(i, s)| {
                s.as_str()
                    .ok_or_else(|| self.key_err(key, format!("element {i} is not a string")))
            })
            .collect()
    }

    /// An optional boolean key.
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.key_err(key, format!("{v:?} is not a bool"))),
        }
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw bytes of a tensor as stored.
    pub fn raw(&self, t: &TensorInfo) -> &[u8] {
        &self.bytes[t.start..t.start + t.len]
    }

    /// The tensor `name` decoded to f32, which must have the row-major
    /// `shape` (ggml dims reversed).
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let at = |m: String| Error::user(format!("{}: tensor `{name}`: {m}", self.path.display()));
        let t = self.tensor(name).ok_or_else(|| at("missing".into()))?;
        if t.shape() != shape {
            return Err(at(format!(
                "shape {:?}, the metadata implies {shape:?}",
                t.shape()
            )));
        }
        decode(t.kind, self.raw(t), t.n_elements()).map_err(at)
    }
}

/// Decode `n` values of type `kind` from `b` (exactly their bytes).
pub fn decode(kind: TensorType, b: &[u8], n: usize) -> std::result::Result<Vec<f32>, String> {
    if kind.bytes(n as u64) != Some(b.len() as u64) {
        return Err(format!("{} bytes for {n} {} values", b.len(), kind.name()));
    }
    Ok(match kind {
        TensorType::F32 => decode_floats(b, FloatBytes::F32),
        TensorType::F16 => decode_floats(b, FloatBytes::F16),
        TensorType::BF16 => decode_floats(b, FloatBytes::BF16),
        TensorType::Block(f) => {
            let mut out = vec![0.0f32; n];
            gguf_dequantize_into(b, f, &mut out).map_err(|e| e.to_string())?;
            out
        }
    })
}

/// A GGUF v3 file with the default alignment (32), for tests and small
/// synthetic models; tensors are given with their row-major shape.
pub fn write(
    metadata: &[(&str, Value)],
    tensors: &[(&str, Vec<usize>, TensorType, Vec<u8>)],
) -> Vec<u8> {
    write_aligned(metadata, tensors, 32)
}

/// A GGUF v3 file as the specification lays it out: header, metadata, tensor
/// infos in the order given, padding to `alignment` (which must equal the
/// `general.alignment` in `metadata`, if any), then each tensor's encoded
/// bytes at an offset that is a multiple of `alignment`, zero-padded between.
pub fn write_aligned<K: AsRef<str>, N: AsRef<str>, D: AsRef<[u8]>>(
    metadata: &[(K, Value)],
    tensors: &[(N, Vec<usize>, TensorType, D)],
    alignment: usize,
) -> Vec<u8> {
    let infos: Vec<(&str, &[usize], TensorType, usize)> = tensors
        .iter()
        .map(|(n, s, k, d)| (n.as_ref(), s.as_slice(), *k, d.as_ref().len()))
        .collect();
    let (mut o, offsets) = header(metadata, &infos, alignment);
    let base = o.len();
    for ((_, _, _, data), off) in tensors.iter().zip(offsets) {
        o.resize(base + off, 0);
        o.extend_from_slice(data.as_ref());
    }
    o
}

/// The bytes before the tensor data (padded to `alignment`) for tensors of
/// (name, row-major shape, type, data length), and each tensor's offset from
/// the data start. The file is the header, then each tensor at its offset.
pub fn header<K: AsRef<str>>(
    metadata: &[(K, Value)],
    tensors: &[(&str, &[usize], TensorType, usize)],
    alignment: usize,
) -> (Vec<u8>, Vec<usize>) {
    fn put_str(o: &mut Vec<u8>, s: &str) {
        o.extend_from_slice(&(s.len() as u64).to_le_bytes());
        o.extend_from_slice(s.as_bytes());
    }
    fn type_id(v: &Value) -> u32 {
        match v {
            Value::U8(_) => 0,
            Value::I8(_) => 1,
            Value::U16(_) => 2,
            Value::I16(_) => 3,
            Value::U32(_) => 4,
            Value::I32(_) => 5,
            Value::F32(_) => 6,
            Value::Bool(_) => 7,
            Value::Str(_) => 8,
            Value::Array(_) => 9,
            Value::U64(_) => 10,
            Value::I64(_) => 11,
            Value::F64(_) => 12,
        }
    }
    fn put_val(o: &mut Vec<u8>, v: &Value) {
        match v {
            Value::U8(x) => o.push(*x),
            Value::I8(x) => o.push(*x as u8),
            Value::U16(x) => o.extend_from_slice(&x.to_le_bytes()),
            Value::I16(x) => o.extend_from_slice(&x.to_le_bytes()),
            Value::U32(x) => o.extend_from_slice(&x.to_le_bytes()),
            Value::I32(x) => o.extend_from_slice(&x.to_le_bytes()),
            Value::U64(x) => o.extend_from_slice(&x.to_le_bytes()),
            Value::I64(x) => o.extend_from_slice(&x.to_le_bytes()),
            Value::F32(x) => o.extend_from_slice(&x.to_le_bytes()),
            Value::F64(x) => o.extend_from_slice(&x.to_le_bytes()),
            Value::Bool(x) => o.push(u8::from(*x)),
            Value::Str(s) => put_str(o, s),
            Value::Array(a) => {
                let et = a.first().map_or(4, type_id);
                o.extend_from_slice(&et.to_le_bytes());
                o.extend_from_slice(&(a.len() as u64).to_le_bytes());
                for x in a {
                    put_val(o, x);
                }
            }
        }
    }
    let data_len: usize = tensors
        .iter()
        .map(|t| t.3.next_multiple_of(alignment))
        .sum();
    let mut o = Vec::with_capacity(data_len + (1 << 20));
    o.extend_from_slice(b"GGUF");
    o.extend_from_slice(&3u32.to_le_bytes());
    o.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    o.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    for (k, v) in metadata {
        put_str(&mut o, k.as_ref());
        o.extend_from_slice(&type_id(v).to_le_bytes());
        put_val(&mut o, v);
    }
    let mut off = 0usize;
    let mut offsets = Vec::new();
    for &(name, shape, kind, len) in tensors {
        put_str(&mut o, name);
        o.extend_from_slice(&(shape.len() as u32).to_le_bytes());
        for &d in shape.iter().rev() {
            o.extend_from_slice(&(d as u64).to_le_bytes());
        }
        o.extend_from_slice(&kind.id().to_le_bytes());
        o.extend_from_slice(&(off as u64).to_le_bytes());
        offsets.push(off);
        off = (off + len).next_multiple_of(alignment);
    }
    o.resize(o.len().next_multiple_of(alignment), 0);
    (o, offsets)
}

/// Little-endian f32 bytes (a tensor's data for [`write`]).
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::gguf_quantize;

    fn sample() -> Vec<u8> {
        let w: Vec<f32> = (0..64).map(|i| i as f32 * 0.25 - 8.0).collect();
        write(
            &[
                ("general.architecture", Value::Str("llama".into())),
                ("a.u8", Value::U8(7)),
                ("a.i64", Value::I64(-3)),
                ("a.f64", Value::F64(0.5)),
                ("a.bool", Value::Bool(true)),
                (
                    "a.arr",
                    Value::Array(vec![Value::Str("x".into()), Value::Str("yz".into())]),
                ),
                (
                    "a.nested",
                    Value::Array(vec![Value::Array(vec![Value::U16(1)])]),
                ),
            ],
            &[
                ("w32", vec![2, 32], TensorType::F32, f32_bytes(&w)),
                (
                    "wq",
                    vec![2, 32],
                    TensorType::Block(GgufFormat::Q8_0),
                    gguf_quantize(&w, GgufFormat::Q8_0).unwrap(),
                ),
                (
                    "wh",
                    vec![64],
                    TensorType::F16,
                    w.iter()
                        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                        .collect(),
                ),
            ],
        )
    }

    #[test]
    fn round_trips_metadata_and_tensors() {
        let g = Gguf::parse(Path::new("t.gguf"), sample()).unwrap();
        assert_eq!(g.version, 3);
        assert_eq!(g.str("general.architecture").unwrap(), "llama");
        assert_eq!(g.usize("a.u8").unwrap(), 7);
        assert!(g.usize("a.i64").is_err());
        assert_eq!(g.f64("a.f64").unwrap(), 0.5);
        assert_eq!(g.bool("a.bool").unwrap(), Some(true));
        assert_eq!(g.strings("a.arr").unwrap(), ["x", "yz"]);
        let w = g.f32("w32", &[2, 32]).unwrap();
        assert_eq!(w[1], -7.75);
        let q = g.f32("wq", &[2, 32]).unwrap();
        assert!(w.iter().zip(&q).all(|(a, b)| (a - b).abs() < 0.04));
        assert_eq!(g.f32("wh", &[64]).unwrap(), w);
        let e = g.f32("w32", &[32, 2]).unwrap_err().to_string();
        assert!(
            e.contains("t.gguf") && e.contains("`w32`") && e.contains("shape"),
            "{e}"
        );
        let e = g.f32("nope", &[1]).unwrap_err().to_string();
        assert!(e.contains("`nope`") && e.contains("missing"), "{e}");
    }

    #[test]
    fn every_truncation_is_a_located_error() {
        let b = sample();
        // Every prefix fails cleanly (header, metadata, infos or data).
        for n in (0..b.len()).step_by(7) {
            let e = Gguf::parse(Path::new("t.gguf"), b[..n].to_vec());
            let e = e.err().unwrap_or_else(|| panic!("prefix {n} parsed"));
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains("t.gguf"), "{e}");
        }
    }

    #[test]
    fn crafted_counts_and_types_are_refused() {
        let mut b = sample();
        b[..4].copy_from_slice(b"GGUG");
        let e = Gguf::parse(Path::new("t.gguf"), b)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("magic"), "{e}");
        // A huge tensor count.
        let mut b = sample();
        b[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        let e = Gguf::parse(Path::new("t.gguf"), b)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("tensor count"), "{e}");
        // A huge key length (first key at byte 24).
        let mut b = sample();
        b[24..32].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let e = Gguf::parse(Path::new("t.gguf"), b)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("metadata[0] key") && e.contains("cannot fit"),
            "{e}"
        );
        // An unsupported tensor type (Q6_K = 14).
        let w = vec![0u8; 210];
        let b = write(&[], &[("blk.0.x", vec![256], TensorType::F32, w)]);
        let mut b = b;
        let pos = 24 + 8 + 7 + 4 + 8;
        assert_eq!(&b[pos..pos + 4], &0u32.to_le_bytes());
        b[pos..pos + 4].copy_from_slice(&14u32.to_le_bytes());
        let e = Gguf::parse(Path::new("t.gguf"), b)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`blk.0.x`") && e.contains("Q6_K"), "{e}");
    }
}
