//! A manifest's text with its path, so every problem can be reported as
//! `file:line:col: key.path: message`.

use crate::error::{Diagnostic, line_col};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Where a setting came from, for pointing at it in an error.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// A byte range in the manifest.
    Span(Range<usize>),
    /// A command-line flag, e.g. `--set population=3`.
    Flag(String),
    /// The study's default value.
    Default,
}

#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: &Path, text: String) -> Self {
        SourceFile {
            path: path.to_path_buf(),
            text,
        }
    }

    pub fn diag(
        &self,
        span: Range<usize>,
        key_path: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            file: self.path.clone(),
            location: Some(line_col(&self.text, span.start)),
            key_path: key_path.to_string(),
            message: message.into(),
        }
    }

    /// A diagnostic at wherever `origin` says the value came from.
    pub fn diag_at(
        &self,
        origin: &Origin,
        key_path: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        match origin {
            Origin::Span(span) => self.diag(span.clone(), key_path, message),
            Origin::Flag(flag) => Diagnostic {
                file: self.path.clone(),
                location: None,
                key_path: key_path.to_string(),
                message: format!("{} (set by `{flag}`)", message.into()),
            },
            Origin::Default => Diagnostic {
                file: self.path.clone(),
                location: None,
                key_path: key_path.to_string(),
                message: format!("{} (the default value)", message.into()),
            },
        }
    }
}

/// "did you mean `x`?" for the closest candidate, if any is close enough.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let best = candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min();
    match best {
        Some((_, c)) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_near_names() {
        assert_eq!(
            suggest("popuation", ["population", "generations"]),
            " (did you mean `population`?)"
        );
        assert_eq!(suggest("zzz", ["population"]), "");
    }
}
