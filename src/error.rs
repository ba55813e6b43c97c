//! Errors and the exit codes they map to.
//!
//! The split that matters to users is *whose* problem it is: a mistake in what
//! they gave us (manifest, flag, input file) exits 2 with a message that points
//! at the source; a failure of the run itself (a trial failed, results differ)
//! exits 1; anything else (an I/O failure writing results) exits 3.

use std::fmt;
use std::path::{Path, PathBuf};

/// Exit codes, published in the README.
pub mod exit {
    /// Everything worked and nothing differed.
    pub const OK: i32 = 0;
    /// The command ran but found a failure: a trial failed, `diff` found
    /// differences beyond tolerance, `check` found drift.
    pub const FAILURE: i32 = 1;
    /// The user's input is wrong: manifest, flag, missing or malformed file,
    /// refusing to overwrite results. Nothing was written.
    pub const USAGE: i32 = 2;
    /// The environment failed us: I/O errors while writing results, a bug.
    pub const INTERNAL: i32 = 3;
}

/// A problem located in a source file (manifest, data file): the message
/// names the file, line:column and the key path.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line and column; `None` when the problem has no single place
    /// (for example a parameter left at its default).
    pub location: Option<(usize, usize)>,
    /// Dotted key path such as `params.population` or `sweep.zip[0]`.
    pub key_path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.location {
            write!(f, ":{line}:{col}")?;
        }
        if self.key_path.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.key_path, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A user mistake with a plain message (bad flag value, missing file,
    /// malformed data). Exit 2.
    #[error("{0}")]
    User(String),
    /// Every located problem found in one pass over a manifest or data file. Exit 2.
    #[error("{}", join_diagnostics(.0))]
    Located(Vec<Diagnostic>),
    /// Reading or writing failed for a reason outside the user's input. Exit 3.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A broken invariant inside evoquant. Exit 3.
    #[error("internal error: {0}")]
    Internal(String),
}

fn join_diagnostics(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    pub fn user(msg: impl Into<String>) -> Self {
        Error::User(msg.into())
    }

    /// An I/O error on a user-named input: missing or unreadable files are the
    /// user's to fix, so they exit 2.
    pub fn input(path: &Path, source: std::io::Error) -> Self {
        Error::User(format!("{}: {source}", path.display()))
    }

    /// An I/O error on something we write.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::User(_) | Error::Located(_) => exit::USAGE,
            Error::Io { .. } | Error::Internal(_) => exit::INTERNAL,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// 1-based line and column of a byte offset, for messages that point at source.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 8), (2, 3));
    }

    #[test]
    fn diagnostic_names_file_line_and_key() {
        let d = Diagnostic {
            file: "x.toml".into(),
            location: Some((3, 7)),
            key_path: "params.population".into(),
            message: "must be at least 2".into(),
        };
        assert_eq!(
            d.to_string(),
            "x.toml:3:7: params.population: must be at least 2"
        );
    }
}
