//! Minimal NumPy `.npy` reader and writer (format versions 1–3) for the
//! `quantize` commands: little-endian f32 or f16, C order, any shape. Small
//! enough to own; a crate would bring ndarray along for no gain.
//!
//! Errors are plain messages; the caller prefixes the file name.

/// A tensor read from disk: row-major shape and f32 values.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

const MAGIC: &[u8] = b"\x93NUMPY";

/// Parse a `.npy` file's bytes.
pub fn parse_npy(bytes: &[u8]) -> Result<Tensor, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (bad magic)".into());
    }
    let major = bytes[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated .npy header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let header = bytes
        .get(start..start + header_len)
        .ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(header).map_err(|_| "the .npy header is not text")?;
    let descr = dict_value(header, "descr").ok_or("the .npy header has no 'descr'")?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    let elem = match descr {
        "<f4" => 4,
        "<f2" => 2,
        other => {
            return Err(format!(
                "unsupported dtype '{other}': expected little-endian float32 ('<f4') or float16 ('<f2')"
            ));
        }
    };
    let fortran =
        dict_value(header, "fortran_order").ok_or("the .npy header has no 'fortran_order'")?;
    match fortran.trim() {
        "False" => {}
        "True" => {
            return Err(
                "Fortran-order arrays are not supported; save with np.ascontiguousarray".into(),
            );
        }
        other => return Err(format!("bad fortran_order value '{other}'")),
    }
    let shape_txt = dict_value(header, "shape").ok_or("the .npy header has no 'shape'")?;
    let shape = parse_shape(shape_txt)?;
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("shape overflows")?;
    let body = &bytes[start + header_len..];
    let need = numel.checked_mul(elem).ok_or("shape overflows")?;
    if body.len() != need {
        return Err(format!(
            "shape {shape:?} needs {need} data bytes but the file holds {}",
            body.len()
        ));
    }
    let data = if elem == 4 {
        body.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        body.chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()
    };
    Ok(Tensor { shape, data })
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

fn parse_shape(txt: &str) -> Result<Vec<usize>, String> {
    let inner = txt
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("bad shape '{txt}'"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format!("bad shape '{txt}'"))
        })
        .collect()
}

/// Parse raw little-endian f32 (`.f32` files): a 1-D tensor.
pub fn parse_raw_f32(bytes: &[u8]) -> Result<Tensor, String> {
    if bytes.len() % 4 != 0 {
        return Err(format!(
            "raw f32 file length {} is not a multiple of 4 bytes",
            bytes.len()
        ));
    }
    let data: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(Tensor {
        shape: vec![data.len()],
        data,
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
        assert!(
            parse_npy(&swap("<f4", "<f8"))
                .unwrap_err()
                .contains("'<f8'")
        );
        assert!(
            parse_npy(&swap("False", "True "))
                .unwrap_err()
                .contains("Fortran")
        );
        assert!(
            parse_npy(&good[..good.len() - 1])
                .unwrap_err()
                .contains("data bytes")
        );
        assert!(parse_npy(b"hello").is_err());
        assert!(parse_raw_f32(&[0, 0, 0]).is_err());
    }
}
