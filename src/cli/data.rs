//! `evoquant data bit-alloc --out DIR`: write the built-in layer inventories
//! of the bit-allocation study as JSON, so users can inspect them or use them
//! as a template for their own measured sensitivities.

use crate::error::{Error, Result};
use crate::models::Split;
use std::path::Path;

/// Write `train.json`, `valid.json` and `test.json` into `out` (created if
/// missing). The files are deterministic: same bytes on every run.
pub fn write_bit_alloc(out: &Path) -> Result<Vec<std::path::PathBuf>> {
    if out.exists() && !out.is_dir() {
        return Err(Error::user(format!(
            "{}: exists and is not a directory",
            out.display()
        )));
    }
    std::fs::create_dir_all(out)
        .map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
    let mut written = Vec::new();
    for split in Split::ALL {
        let path = out.join(format!("{}.json", split.name()));
        split.builtin().save(&path)?;
        written.push(path);
    }
    Ok(written)
}
