//! `evoquant data bit-alloc --out DIR`: write the built-in layer inventories
//! of the bit-allocation study as JSON, so users can inspect them or use them
//! as a template for their own measured sensitivities; with `--from-model`,
//! a TEST inventory measured on a real network
//! (`crate::studies::bit_allocation::measured`).

use crate::error::{Error, Result};
use crate::models::Split;
use std::path::Path;

fn out_dir(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(Error::user(format!(
            "{}: exists and is not a directory",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(format!("creating {}", out.display()), e))
}

/// Measure `model`'s per-layer loss curves and write them as
/// `out/measured.json`, usable as `data.test`. Deterministic: the same
/// bytes on every run and thread count.
pub fn write_measured(
    out: &Path,
    model: &str,
    eval_texts: usize,
    max_seq_len: usize,
) -> Result<std::path::PathBuf> {
    let (eval, _) = crate::studies::mixed_precision::transformer::corpus_sizes();
    if !(2..=eval).contains(&eval_texts) {
        return Err(Error::user(format!(
            "--eval-texts must be in 2..={eval} (the built-in evaluation corpus), got {eval_texts}"
        )));
    }
    if max_seq_len < 3 {
        return Err(Error::user("--max-seq-len must be at least 3"));
    }
    let path = crate::models::transformer::resolve(model)?
        .path()
        .to_path_buf();
    let spec = crate::models::transformer::session::SessionSpec {
        eval_texts,
        calib_texts: 1,
        max_seq_len,
    };
    let m = crate::studies::bit_allocation::measured::Measured::load(&path, &spec)?;
    out_dir(out)?;
    let file = out.join("measured.json");
    m.inventory.save(&file)?;
    Ok(file)
}

/// Write `train.json`, `valid.json` and `test.json` into `out` (created if
/// missing). The files are deterministic: same bytes on every run.
pub fn write_bit_alloc(out: &Path) -> Result<Vec<std::path::PathBuf>> {
    out_dir(out)?;
    let mut written = Vec::new();
    for split in Split::ALL {
        let path = out.join(format!("{}.json", split.name()));
        split.builtin().save(&path)?;
        written.push(path);
    }
    Ok(written)
}
