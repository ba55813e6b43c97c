//! The content of the files a trial reads, as part of its identity.
//!
//! A path parameter names a file (a safetensors inventory, a bit-allocation
//! JSON, a model folder); replacing the file must not leave `--resume`
//! reporting the old trials as cached, nor let `merge` mix shards that read
//! different data. So every existing file or folder a path parameter names
//! is hashed, and the hash joins the trial's canonical parameters — and with
//! them its id, its seed and the shards' trial-list hash. A value that names
//! nothing on disk (empty, or a study's sentinel such as `builtin`) is left
//! to the study's validation.

use crate::error::{Error, Result};
use crate::params::{ParamDoc, ParamType};
use crate::records::InputFile;
use crate::studies::ParamSet;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Hashes each resolved path once, however many points name it.
pub struct InputHasher<'a> {
    base_dir: &'a Path,
    path_keys: Vec<(&'static str, bool)>,
    seen: BTreeMap<PathBuf, (String, u64)>,
}

impl<'a> InputHasher<'a> {
    pub fn new(base_dir: &'a Path, docs: &[ParamDoc]) -> Self {
        InputHasher {
            base_dir,
            path_keys: docs
                .iter()
                .filter_map(|d| match d.ty {
                    ParamType::Path => Some((d.key, false)),
                    ParamType::PathList => Some((d.key, true)),
                    _ => None,
                })
                .collect(),
            seen: BTreeMap::new(),
        }
    }

    /// The input files one point's parameters name, in key order.
    pub fn inputs(&mut self, params: &ParamSet) -> Result<Vec<InputFile>> {
        let mut out = Vec::new();
        for &(key, list) in &self.path_keys {
            let given: Vec<&str> = match params.get(key) {
                Some(toml::Value::String(s)) if !list => vec![s.as_str()],
                Some(toml::Value::Array(a)) if list => {
                    a.iter().filter_map(|v| v.as_str()).collect()
                }
                _ => continue,
            };
            for given in given {
                if given.is_empty() {
                    continue;
                }
                let path = self.base_dir.join(given);
                if !path.exists() {
                    continue;
                }
                let (sha256, bytes) = match self.seen.get(&path) {
                    Some(h) => h.clone(),
                    None => {
                        let h = hash_path(&path)?;
                        self.seen.insert(path.clone(), h.clone());
                        h
                    }
                };
                out.push(InputFile {
                    param: key.to_string(),
                    path: given.to_string(),
                    sha256,
                    bytes,
                });
            }
        }
        Ok(out)
    }
}

/// The canonical-parameter suffix that makes inputs part of the identity;
/// empty when there are none, so trials that read no file keep their ids.
pub fn canonical_suffix(inputs: &[InputFile]) -> String {
    inputs
        .iter()
        .map(|i| format!(";input:{}:{}=sha256:{}", i.param, i.path, i.sha256))
        .collect()
}

fn hash_path(path: &Path) -> Result<(String, u64)> {
    if path.is_dir() {
        let mut files = Vec::new();
        walk(path, path, &mut files)?;
        files.sort();
        let mut h = Sha256::new();
        let mut total = 0;
        for rel in files {
            let (sha, bytes) = hash_file(&path.join(&rel))?;
            total += bytes;
            h.update(rel.as_bytes());
            h.update([0u8]);
            h.update(sha.as_bytes());
            h.update([0u8]);
        }
        let d: [u8; 32] = h.finalize().into();
        Ok((d.iter().map(|b| format!("{b:02x}")).collect(), total))
    } else {
        hash_file(path)
    }
}

/// Relative paths (with `/`) of the regular files under `dir`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::input(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::input(dir, e))?;
        let p = entry.path();
        if p.is_dir() {
            walk(root, &p, out)?;
        } else if p.is_file() {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::input(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::input(path, e))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        h.update(&buf[..n]);
    }
    let d: [u8; 32] = h.finalize().into();
    Ok((d.iter().map(|b| format!("{b:02x}")).collect(), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::hash_bytes_hex;

    #[test]
    fn files_and_folders_hash_by_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), "[1]").unwrap();
        let (h, n) = hash_path(&dir.path().join("a.json")).unwrap();
        assert_eq!(h, hash_bytes_hex(b"[1]"));
        assert_eq!(n, 3);
        std::fs::create_dir(dir.path().join("m")).unwrap();
        std::fs::write(dir.path().join("m/x"), "1").unwrap();
        let before = hash_path(&dir.path().join("m")).unwrap();
        std::fs::write(dir.path().join("m/x"), "2").unwrap();
        let after = hash_path(&dir.path().join("m")).unwrap();
        assert_ne!(before.0, after.0);
        std::fs::rename(dir.path().join("m/x"), dir.path().join("m/y")).unwrap();
        assert_ne!(hash_path(&dir.path().join("m")).unwrap().0, after.0);
    }
}
