//! Text → token ids with the Hugging Face `tokenizers` crate from a model's
//! `tokenizer.json`, so ids match what the Python stack produces.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub struct Tokenizer {
    path: PathBuf,
    inner: tokenizers::Tokenizer,
}

impl Tokenizer {
    pub fn from_file(path: &Path) -> Result<Tokenizer> {
        if !path.exists() {
            return Err(Error::user(format!("{}: no such file", path.display())));
        }
        let mut inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| Error::user(format!("{}: not a tokenizer.json: {e}", path.display())))?;
        // Texts run one at a time: no padding, and truncation is ours (`encode`).
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
        Ok(Tokenizer {
            path: path.to_path_buf(),
            inner,
        })
    }

    /// Ids with special tokens; longer texts keep their first `max_len − 1`
    /// tokens and their final token (BERT's `[SEP]`).
    pub fn encode(&self, text: &str, max_len: usize) -> Result<Vec<u32>> {
        let enc = self.inner.encode(text, true).map_err(|e| {
            Error::user(format!("{}: cannot encode text: {e}", self.path.display()))
        })?;
        let mut ids = enc.get_ids().to_vec();
        if ids.len() > max_len && max_len >= 2 {
            let last = *ids.last().expect("non-empty");
            ids.truncate(max_len - 1);
            ids.push(last);
        }
        Ok(ids)
    }
}
