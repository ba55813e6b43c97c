//! `list`: study kinds and their parameters.

use crate::error::{Error, Result, exit};
use crate::manifest::suggest;
use crate::runner::display_value;
use crate::studies;
use clap::Args;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Show only this kind.
    kind: Option<String>,
}

pub fn list(args: ListArgs) -> Result<i32> {
    let all = studies::registry();
    let shown: Vec<_> = match &args.kind {
        Some(k) => {
            let found: Vec<_> = all.iter().filter(|s| s.kind() == k).copied().collect();
            if found.is_empty() {
                let names: Vec<&str> = all.iter().map(|s| s.kind()).collect();
                return Err(Error::user(format!(
                    "unknown study kind `{k}`{}; known kinds: {}",
                    suggest(k, names.iter().copied()),
                    names.join(", ")
                )));
            }
            found
        }
        None => all,
    };
    for study in shown {
        let mut text = format!("{}\n  {}\n\n", study.kind(), study.about());
        let defaults = study.defaults();
        for doc in study.param_docs() {
            let default = defaults.get(doc.key).map(display_value).unwrap_or_default();
            text.push_str(&format!(
                "  {:<28} {:<22} default {default}\n",
                doc.key,
                doc.type_text()
            ));
            text.push_str(&format!("      {}\n", doc.doc));
        }
        text.push_str(&study.notes());
        super::say(&text)?;
    }
    Ok(exit::OK)
}
