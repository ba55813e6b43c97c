//! Named f32 tensors of a `.safetensors` file. The header is first validated
//! by `crate::models::safetensors::read_header` (located errors for truncated
//! or malformed files); the data is then read through the `safetensors`
//! crate. Every lookup error names the file and the tensor.

use crate::error::{Error, Result};
use crate::models::io::{FloatBytes, decode_floats};
use safetensors::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

pub struct Tensors {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl Tensors {
    pub fn open(path: &Path) -> Result<Tensors> {
        crate::models::safetensors::read_header(path).map_err(|e| Error::user(e.to_string()))?;
        let bytes = std::fs::read(path).map_err(|e| Error::input(path, e))?;
        SafeTensors::deserialize(&bytes)
            .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
        Ok(Tensors {
            path: path.to_path_buf(),
            bytes,
        })
    }

    fn st(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("validated in open")
    }

    pub fn has(&self, name: &str) -> bool {
        self.st().tensor(name).is_ok()
    }

    /// The tensor `name` as f32 (F32, F16 or BF16 in the file), which must have `shape`.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let st = self.st();
        let at = |m: String| Error::user(format!("{}: tensor `{name}`: {m}", self.path.display()));
        let v = st.tensor(name).map_err(|_| at("missing".into()))?;
        if v.shape() != shape {
            return Err(at(format!(
                "shape {:?}, the config implies {shape:?}",
                v.shape()
            )));
        }
        let d = v.data();
        Ok(match v.dtype() {
            Dtype::F32 => decode_floats(d, FloatBytes::F32),
            Dtype::F16 => decode_floats(d, FloatBytes::F16),
            Dtype::BF16 => decode_floats(d, FloatBytes::BF16),
            other => {
                return Err(at(format!(
                    "dtype {other} is not a float type the runtime reads (F32, F16, BF16)"
                )));
            }
        })
    }
}
