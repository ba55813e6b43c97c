//! What may go into a generated script, and how.
//!
//! Three places take user values, and each has its own rule:
//! shell words are POSIX single-quoted (safe for any text); comment lines
//! show values with control characters escaped (a newline would end the
//! comment and start a command); `#SBATCH` directives are parsed by sbatch,
//! not the shell, so values there are checked and refused rather than quoted.

use crate::error::{Error, Result};

/// Single-quote for a POSIX shell: safe for any text.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:,+@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Text for a `#` comment line: control characters (newline above all)
/// shown as escapes, so the value cannot leave the comment.
pub fn comment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A path written into an `#SBATCH --output=` directive. sbatch splits
/// directives at whitespace, honours its own quotes and backslashes, stops at
/// `#`, expands `%` patterns in file names and treats a line mentioning
/// `hetjob`/`packjob` as a heterogeneous-job separator; none of these can be
/// escaped portably, so such paths are refused, naming the flag.
pub fn check_directive_path(flag: &str, path: &str) -> Result<()> {
    let bad = path
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "#'\"\\%".contains(*c));
    let lower = path.to_ascii_lowercase();
    if let Some(c) = bad {
        return Err(Error::user(format!(
            "{flag} {path:?}: the path goes into an #SBATCH directive and may not contain {:?} \
             (whitespace, control characters, # ' \" \\ and % are refused)",
            c
        )));
    }
    if lower.contains("hetjob") || lower.contains("packjob") {
        return Err(Error::user(format!(
            "{flag} {path:?}: sbatch reads an #SBATCH line containing \"hetjob\" or \"packjob\" as a job separator"
        )));
    }
    Ok(())
}

/// Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or UNLIMITED.
pub fn valid_time(t: &str) -> bool {
    if matches!(t, "UNLIMITED" | "INFINITE" | "unlimited" | "infinite") {
        return true;
    }
    let nums = |s: &str, max_parts: usize| {
        let parts: Vec<&str> = s.split(':').collect();
        parts.len() <= max_parts
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    match t.split_once('-') {
        Some((days, rest)) => nums(days, 1) && nums(rest, 3),
        None => nums(t, 3),
    }
}

pub fn check_partition(p: &str) -> Result<()> {
    if p.is_empty()
        || !p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.,-".contains(&b))
    {
        return Err(Error::user(format!(
            "--partition {p:?}: expected a partition name (letters, digits, _ . , -)"
        )));
    }
    Ok(())
}

pub fn check_time(t: &str) -> Result<()> {
    if !valid_time(t) {
        return Err(Error::user(format!(
            "--time {t:?}: expected Slurm's format, e.g. 30 (minutes), 2:00:00 or 1-12:00:00"
        )));
    }
    Ok(())
}

/// One long option, `--name` or `--name=value`; the value may not hold
/// anything sbatch's directive parser would split, unquote or cut.
pub fn check_sbatch_option(o: &str) -> Result<()> {
    let (name, value) = o
        .strip_prefix("--")
        .map(|rest| rest.split_once('=').unwrap_or((rest, "")))
        .unwrap_or(("", ""));
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let value_ok = !value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "#'\"\\".contains(c));
    let lower = o.to_ascii_lowercase();
    if !name_ok || !value_ok || lower.contains("hetjob") || lower.contains("packjob") {
        return Err(Error::user(format!(
            "--sbatch-option {o:?}: expected one long sbatch option such as --account=proj \
             (no whitespace, quotes, backslashes or #)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        for t in [
            "30",
            "30:00",
            "2:00:00",
            "1-12",
            "1-12:00",
            "1-12:00:00",
            "UNLIMITED",
        ] {
            assert!(valid_time(t), "{t}");
        }
        for t in ["", "1h", "1:2:3:4", "-1", "1-", "1--2", "a-1", "1\n"] {
            assert!(!valid_time(t), "{t}");
        }
    }

    #[test]
    fn quoting_survives_anything() {
        assert_eq!(sh_quote("a/b.toml"), "a/b.toml");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("$(x)\n`y`;"), "'$(x)\n`y`;'");
    }

    #[test]
    fn comments_cannot_be_left() {
        assert_eq!(comment("/tmp/o\ntouch x"), "/tmp/o\\ntouch x");
        assert!(!comment("a\r\n\tb\u{0}").chars().any(char::is_control));
        assert_eq!(comment("$(x) 'ü'"), "$(x) 'ü'");
    }

    #[test]
    fn directive_paths_and_options() {
        check_directive_path("--out", "/r/tiny-1.2/slurm").unwrap();
        for bad in [
            "/a\nb",
            "/a b",
            "/a#b",
            "/a'b",
            "/a\"b",
            "/a\\b",
            "/100%",
            "/x/HetJob",
        ] {
            let e = check_directive_path("--script-dir", bad).unwrap_err();
            assert!(e.to_string().starts_with("--script-dir"), "{e}");
        }
        for ok in ["--account=proj", "--exclusive", "--mem=4G", "--gres=gpu:1"] {
            check_sbatch_option(ok).unwrap();
        }
        for bad in [
            "-A",
            "--",
            "--=x",
            "--a b",
            "--comment=a b",
            "--x=\n",
            "--x='a'",
            "--x=#",
            "--hetjob",
        ] {
            assert!(check_sbatch_option(bad).is_err(), "{bad:?}");
        }
        check_partition("gpu_a.1").unwrap();
        assert!(check_partition("a\nb").is_err());
        assert!(check_time("1\n").is_err());
    }
}
