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
        let docs = study.param_docs();
        // Columns as wide as their widest entry, so every default lines up.
        // The type (which can be long: every option of a choice) comes
        // last, so nothing after it can be pushed out of line.
        let default_of = |key: &str| match defaults.get(key) {
            // An empty string is shown as TOML writes it, never blank.
            Some(toml::Value::String(s)) if s.is_empty() => "\"\"".to_string(),
            Some(v) => display_value(v),
            None => "(none)".to_string(),
        };
        let key_w = docs
            .iter()
            .map(|d| d.key.chars().count())
            .max()
            .unwrap_or(0);
        let def_w = docs
            .iter()
            .map(|d| default_of(d.key).chars().count())
            .max()
            .unwrap_or(0)
            .min(24);
        for doc in docs {
            let default = default_of(doc.key);
            text.push_str(&format!(
                "  {:<key_w$}  default {default:<def_w$}  {}\n",
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
