//! The model `apply` reads: a GGUF file, or a `.safetensors` file (alone or
//! a Hugging Face folder's `model.safetensors`), seen the same way: named
//! tensors with a row-major shape, decoded to f32 on demand.

use super::hf_gguf::{Family, Folder};
use crate::error::{Error, Result};
use crate::models::gguf::{self, Gguf, TensorType};
use crate::models::io::{FloatBytes, decode_floats};
use safetensors::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

pub enum Source {
    Gguf(Gguf),
    Safetensors {
        path: PathBuf,
        bytes: Vec<u8>,
        /// The Hugging Face folder it sits in, when there is a config.json.
        folder: Option<Folder>,
    },
}

impl Source {
    /// `model`: a GGUF or .safetensors file, a folder holding model.safetensors,
    /// or a name `evoquant eval` resolves (`models/<name>`, `org/name`).
    pub fn open(model: &str) -> Result<Source> {
        let direct = PathBuf::from(model);
        let path = if direct.exists() {
            direct
        } else {
            crate::models::transformer::resolve(model)?
                .path()
                .to_path_buf()
        };
        let path = if path.is_dir() {
            path.join("model.safetensors")
        } else {
            path
        };
        if gguf::is_gguf(&path) {
            return Ok(Source::Gguf(Gguf::open(&path)?));
        }
        if path.extension().and_then(|e| e.to_str()) != Some("safetensors") {
            return Err(Error::user(format!(
                "{}: neither a GGUF file nor a .safetensors file",
                path.display()
            )));
        }
        crate::models::safetensors::read_header(&path).map_err(|e| Error::user(e.to_string()))?;
        let bytes = std::fs::read(&path).map_err(|e| Error::input(&path, e))?;
        SafeTensors::deserialize(&bytes)
            .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
        let folder = Folder::next_to(&path)?;
        Ok(Source::Safetensors {
            path,
            bytes,
            folder,
        })
    }

    pub fn path(&self) -> &Path {
        match self {
            Source::Gguf(g) => &g.path,
            Source::Safetensors { path, .. } => path,
        }
    }

    fn st(bytes: &[u8]) -> SafeTensors<'_> {
        SafeTensors::deserialize(bytes).expect("validated in open")
    }

    /// Every tensor: (name, row-major shape), in file order.
    pub fn tensors(&self) -> Vec<(String, Vec<usize>)> {
        match self {
            Source::Gguf(g) => g
                .tensors
                .iter()
                .map(|t| (t.name.clone(), t.shape()))
                .collect(),
            Source::Safetensors { bytes, .. } => {
                let st = Source::st(bytes);
                let mut v: Vec<(String, Vec<usize>, usize)> = st
                    .tensors()
                    .into_iter()
                    .map(|(n, t)| {
                        let start = t.data().as_ptr() as usize;
                        (n, t.shape().to_vec(), start)
                    })
                    .collect();
                v.sort_by_key(|t| t.2);
                v.into_iter().map(|(n, s, _)| (n, s)).collect()
            }
        }
    }

    /// The Hugging Face folder of a safetensors source, if any.
    pub fn folder(&self) -> Option<&Folder> {
        match self {
            Source::Safetensors { folder, .. } => folder.as_ref(),
            Source::Gguf(_) => None,
        }
    }

    /// Layers: (layer name, tensor name, shape) of every `NAME.weight` with
    /// 2 or more dims, named as eval names them: a Hugging Face `bert.`
    /// prefix is dropped, the layers of a Hugging Face LLaMA folder get
    /// their GGUF names (`blk.0.attn_q`, `token_embd`, `output`), and those
    /// of a BERT GGUF their Hugging Face names.
    pub fn layers(&self) -> Vec<(String, String, Vec<usize>)> {
        let llama = self.folder().and_then(|f| f.family) == Some(Family::Llama);
        // A BERT GGUF names its layers as eval does: by their Hugging Face names.
        let bert_gguf = matches!(self, Source::Gguf(g)
            if g.str("general.architecture").ok() == Some("bert"));
        self.tensors()
            .into_iter()
            .filter(|(_, s)| s.len() >= 2)
            .filter_map(|(n, s)| {
                if bert_gguf {
                    let hf = crate::models::transformer::bert::hf_tensor_name(&n)?;
                    let layer = hf.strip_suffix(".weight")?.to_string();
                    return Some((layer, n.clone(), s));
                }
                if llama {
                    if let Ok(Some(g)) = super::hf_gguf::gguf_name(Family::Llama, &n) {
                        let layer = g.strip_suffix(".weight")?.to_string();
                        return Some((layer, n.clone(), s));
                    }
                }
                let layer = n.strip_suffix(".weight")?;
                let layer = layer.strip_prefix("bert.").unwrap_or(layer);
                Some((layer.to_string(), n.clone(), s))
            })
            .collect()
    }

    /// `output` when a GGUF model's head is its token embedding.
    pub fn tied_head(&self) -> Option<String> {
        match self {
            Source::Gguf(g) => (g.tensor("output.weight").is_none()
                && g.tensor("token_embd.weight").is_some())
            .then(|| "output".to_string()),
            Source::Safetensors { .. } => None,
        }
    }

    /// The tensor `name` as f32.
    pub fn f32(&self, name: &str) -> Result<Vec<f32>> {
        let at =
            |m: String| Error::user(format!("{}: tensor `{name}`: {m}", self.path().display()));
        match self {
            Source::Gguf(g) => {
                let t = g.tensor(name).ok_or_else(|| at("missing".into()))?;
                gguf::decode(t.kind, g.raw(t), t.n_elements()).map_err(at)
            }
            Source::Safetensors { bytes, .. } => {
                let st = Source::st(bytes);
                let v = st.tensor(name).map_err(|_| at("missing".into()))?;
                let fb = float_bytes(v.dtype()).ok_or_else(|| {
                    at(format!(
                        "dtype {} is not a float type (F32, F16, BF16)",
                        v.dtype()
                    ))
                })?;
                Ok(decode_floats(v.data(), fb))
            }
        }
    }

    /// The source dtype of tensor `name` as a ggml type, if it has one.
    pub fn kind(&self, name: &str) -> Option<TensorType> {
        match self {
            Source::Gguf(g) => g.tensor(name).map(|t| t.kind),
            Source::Safetensors { bytes, .. } => {
                match Source::st(bytes).tensor(name).ok()?.dtype() {
                    Dtype::F32 => Some(TensorType::F32),
                    Dtype::F16 => Some(TensorType::F16),
                    Dtype::BF16 => Some(TensorType::BF16),
                    _ => None,
                }
            }
        }
    }

    /// Raw bytes and safetensors dtype of a safetensors tensor.
    pub fn st_raw(&self, name: &str) -> Option<(Dtype, &[u8])> {
        match self {
            Source::Safetensors { bytes, .. } => {
                let v = Source::st(bytes).tensor(name).ok()?;
                let (d, data) = (v.dtype(), v.data());
                // `data` borrows `bytes`, which `self` owns.
                let off = data.as_ptr() as usize - bytes.as_ptr() as usize;
                Some((d, &bytes[off..off + data.len()]))
            }
            Source::Gguf(_) => None,
        }
    }
}

fn float_bytes(d: Dtype) -> Option<FloatBytes> {
    match d {
        Dtype::F32 => Some(FloatBytes::F32),
        Dtype::F16 => Some(FloatBytes::F16),
        Dtype::BF16 => Some(FloatBytes::BF16),
        _ => None,
    }
}
