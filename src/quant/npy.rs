//! Minimal NumPy `.npy` reader and writer (format versions 1–3) for the
//! `quantize` commands: little-endian f32 or f16, C order, any shape. Small
//! enough to own; a crate would bring ndarray along for no gain.
//!
//! Errors are typed ([`NpyError`]); the caller adds the file name. Every
//! length the header declares is checked against the bytes present before
//! anything is allocated for it.

/// A tensor read from disk: row-major shape and f32 values.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

const MAGIC: &[u8] = b"\x93NUMPY";

/// What is wrong with a `.npy` (or raw `.f32`) file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NpyError {
    #[error("not a .npy file (bad magic)")]
    BadMagic,
    #[error("truncated .npy header")]
    TruncatedHeader,
    #[error("unsupported .npy format version {0}")]
    UnsupportedVersion(u8),
    #[error("the .npy header is not text")]
    HeaderNotText,
    #[error("the .npy header has no '{0}'")]
    MissingKey(&'static str),
    #[error("unsupported dtype '{0}': expected little-endian float32 ('<f4') or float16 ('<f2')")]
    UnsupportedDtype(String),
    #[error("Fortran-order arrays are not supported; save with np.ascontiguousarray")]
    FortranOrder,
    #[error("bad fortran_order value '{0}'")]
    BadFortranOrder(String),
    #[error("bad shape '{0}'")]
    BadShape(String),
    #[error("shape {0:?} overflows")]
    ShapeOverflow(Vec<usize>),
    #[error("shape {shape:?} needs {need} data bytes but the file holds {held}")]
    DataSize {
        shape: Vec<usize>,
        need: usize,
        held: usize,
    },
    #[error("raw f32 file length {0} is not a multiple of 4 bytes")]
    RawLength(usize),
}

/// Where a `.npy` file's values are and how they are stored, read from
/// its header alone, so a memory-mapped file's body can be borrowed as is.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyLayout {
    pub shape: Vec<usize>,
    /// Bytes per value: 4 (`<f4`) or 2 (`<f2`).
    pub elem: usize,
    /// Offset of the first value; the body runs to the end of the file.
    pub offset: usize,
}

/// Parse a `.npy` file's bytes.
pub fn parse_npy(bytes: &[u8]) -> Result<Tensor, NpyError> {
    let l = npy_layout(bytes)?;
    Ok(Tensor {
        data: decode_values(&bytes[l.offset..], l.elem),
        shape: l.shape,
    })
}

/// Little-endian f32 (`elem` 4) or f16 (`elem` 2) values, as f32.
pub fn decode_values(body: &[u8], elem: usize) -> Vec<f32> {
    if elem == 4 {
        body.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        body.chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()
    }
}

/// Check a `.npy` file's header against its length and say where its
/// values are.
pub fn npy_layout(bytes: &[u8]) -> Result<NpyLayout, NpyError> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    let major = bytes[6];
    let (header_len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(NpyError::TruncatedHeader);
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(NpyError::UnsupportedVersion(v)),
    };
    // The header length is checked against the file before it is sliced.
    let header = start
        .checked_add(header_len)
        .and_then(|end| bytes.get(start..end))
        .ok_or(NpyError::TruncatedHeader)?;
    let header = std::str::from_utf8(header).map_err(|_| NpyError::HeaderNotText)?;
    let descr = dict_value(header, "descr").ok_or(NpyError::MissingKey("descr"))?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    let elem: usize = match descr {
        "<f4" => 4,
        "<f2" => 2,
        other => return Err(NpyError::UnsupportedDtype(other.to_string())),
    };
    let fortran =
        dict_value(header, "fortran_order").ok_or(NpyError::MissingKey("fortran_order"))?;
    match fortran.trim() {
        "False" => {}
        "True" => return Err(NpyError::FortranOrder),
        other => return Err(NpyError::BadFortranOrder(other.to_string())),
    }
    let shape_txt = dict_value(header, "shape").ok_or(NpyError::MissingKey("shape"))?;
    let shape = parse_shape(shape_txt)?;
    // Checked: a crafted shape must not wrap to a size the file happens to hold.
    let need = shape
        .iter()
        .try_fold(elem, |a, &d| a.checked_mul(d))
        .ok_or_else(|| NpyError::ShapeOverflow(shape.clone()))?;
    let offset = start + header_len;
    let held = bytes.len() - offset;
    if held != need {
        return Err(NpyError::DataSize { shape, need, held });
    }
    Ok(NpyLayout {
        shape,
        elem,
        offset,
    })
}

/// The raw text of `'key': value` in a Python dict literal, up to the next
/// top-level comma or the closing brace.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pat_single = format!("'{key}'");
    let pat_double = format!("\"{key}\"");
    let at = header
        .find(&pat_single)
        .or_else(|| header.find(&pat_double))?;
    let rest = &header[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?;
    let mut depth = 0i32;
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    None
}

fn parse_shape(txt: &str) -> Result<Vec<usize>, NpyError> {
    let bad = || NpyError::BadShape(txt.to_string());
    let inner = txt
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(bad)?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>().map_err(|_| bad()))
        .collect()
}

/// The layout of a raw little-endian f32 file (`.f32`) of `len` bytes: a
/// 1-D tensor from byte 0.
pub fn raw_f32_layout(len: usize) -> Result<NpyLayout, NpyError> {
    if len % 4 != 0 {
        return Err(NpyError::RawLength(len));
    }
    Ok(NpyLayout {
        shape: vec![len / 4],
        elem: 4,
        offset: 0,
    })
}

/// Encode an f32 tensor as a version 1.0 `.npy` file.
pub fn encode_npy(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let shape_txt = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // Pad with spaces so data starts on a 64-byte boundary, newline last.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for x in data {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_shapes() {
        for shape in [vec![], vec![5], vec![2, 3], vec![2, 1, 2]] {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 1.0).collect();
            let bytes = encode_npy(&shape, &data);
            assert_eq!(bytes.len() % 64, (n * 4) % 64);
            assert_eq!(parse_npy(&bytes).unwrap(), Tensor { shape, data });
        }
    }

    #[test]
    fn numpy_written_header_parses() {
        // As written by numpy 1.x for np.zeros((2, 2), np.float16).
        let mut h = b"\x93NUMPY\x01\x00".to_vec();
        let text = "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }";
        let mut text = text.to_string();
        text.push_str(&" ".repeat(128 - 10 - text.len() - 1));
        text.push('\n');
        h.extend_from_slice(&(text.len() as u16).to_le_bytes());
        h.extend_from_slice(text.as_bytes());
        for x in [1.0f32, -2.0, 0.5, 0.0] {
            h.extend_from_slice(&half::f16::from_f32(x).to_le_bytes());
        }
        let t = parse_npy(&h).unwrap();
        assert_eq!(t.shape, vec![2, 2]);
        assert_eq!(t.data, vec![1.0, -2.0, 0.5, 0.0]);
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        let good = encode_npy(&[2], &[1.0, 2.0]);
        let swap = |from: &str, to: &str| {
            let at = good
                .windows(from.len())
                .position(|w| w == from.as_bytes())
                .unwrap();
            let mut b = good.clone();
            b[at..at + to.len()].copy_from_slice(to.as_bytes());
            b
        };
        assert_eq!(
            parse_npy(&swap("<f4", "<f8")),
            Err(NpyError::UnsupportedDtype("<f8".into()))
        );
        assert_eq!(
            parse_npy(&swap("False", "True ")),
            Err(NpyError::FortranOrder)
        );
        assert!(matches!(
            parse_npy(&good[..good.len() - 1]),
            Err(NpyError::DataSize {
                need: 8,
                held: 7,
                ..
            })
        ));
        assert_eq!(parse_npy(b"hello"), Err(NpyError::BadMagic));
        assert_eq!(raw_f32_layout(3), Err(NpyError::RawLength(3)));
        assert_eq!(raw_f32_layout(8).unwrap().shape, [2]);
    }

    /// Lengths a crafted header declares are checked against the bytes
    /// present: none of these may allocate what the file cannot back.
    #[test]
    fn declared_lengths_are_checked_before_allocating() {
        let good = encode_npy(&[2], &[1.0, 2.0]);
        // A version-2 header length of 4 GiB in a 100-byte file.
        let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
        v2.extend_from_slice(&u32::MAX.to_le_bytes());
        v2.extend_from_slice(&good[10..]);
        assert_eq!(parse_npy(&v2), Err(NpyError::TruncatedHeader));
        // Shapes whose byte size overflows, or wraps to what the file holds.
        let with_shape = |shape: &str| {
            let text = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}\n");
            let mut b = b"\x93NUMPY\x01\x00".to_vec();
            b.extend_from_slice(&(text.len() as u16).to_le_bytes());
            b.extend_from_slice(text.as_bytes());
            b.extend_from_slice(&[0u8; 8]);
            b
        };
        let wraps = format!("({}, 2)", 1usize << 62); // 2^63 values · 4 bytes wraps to 0
        assert!(matches!(
            parse_npy(&with_shape(&wraps)),
            Err(NpyError::ShapeOverflow(_))
        ));
        let huge = format!("({},)", usize::MAX);
        assert!(matches!(
            parse_npy(&with_shape(&huge)),
            Err(NpyError::ShapeOverflow(_))
        ));
        let big = format!("({},)", 1usize << 40);
        assert!(matches!(
            parse_npy(&with_shape(&big)),
            Err(NpyError::DataSize { held: 8, .. })
        ));
        assert!(matches!(
            parse_npy(&with_shape("(-1,)")),
            Err(NpyError::BadShape(_))
        ));
    }
}
