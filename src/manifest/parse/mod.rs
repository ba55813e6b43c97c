//! From TOML text to a [`Manifest`], checking every key against the schema of
//! the study kind and collecting every problem with its location.
//!
//! One pass per concern over the spanned TOML tree: the `[study]` and
//! `[seeds]` headers here, `[params]` in `params`, `[sweep]` in `sweep`.
//! Every pass records problems in the one [`Parser`] and carries on, so a
//! manifest with five mistakes gets five located messages at once.

mod claims;
mod params;
mod sweep;

use super::Manifest;
use super::source::{SourceFile, suggest};
use super::sweep::canonical_order;
use crate::error::{Diagnostic, Error, Result};
use crate::studies;
use params::{Schema, parse_params};
use std::collections::BTreeMap;
use std::ops::Range;
use sweep::{check_duplicates, parse_sweep};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub(super) type Entry<'a, 'i> = (
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
);

/// Table entries in the order they appear in the file (the parser sorts them).
pub(super) fn in_source_order<'a, 'i>(table: &'a DeTable<'i>) -> Vec<Entry<'a, 'i>> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

pub(super) struct Parser<'m> {
    pub(super) file: &'m SourceFile,
    pub(super) diags: Vec<Diagnostic>,
}

impl Parser<'_> {
    pub(super) fn error(&mut self, span: Range<usize>, key: &str, msg: impl Into<String>) {
        self.diags.push(self.file.diag(span, key, msg));
    }

    /// The parsed value of a leaf whose text is at `span`.
    pub(super) fn leaf(&self, span: Range<usize>) -> Option<toml::Value> {
        self.file.text.get(span)?.parse::<toml::Value>().ok()
    }

    pub(super) fn table<'a, 'i>(
        &mut self,
        v: &'a Spanned<DeValue<'i>>,
        key: &str,
    ) -> Option<&'a DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.error(
                    v.span(),
                    key,
                    format!("expected a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub(super) fn string(&mut self, v: &Spanned<DeValue>, key: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            other => {
                self.error(
                    v.span(),
                    key,
                    format!("expected a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub(super) fn integer(&mut self, v: &Spanned<DeValue>, key: &str, min: i64) -> Option<i64> {
        match self.leaf(v.span()) {
            Some(toml::Value::Integer(i)) if i >= min => Some(i),
            Some(toml::Value::Integer(i)) => {
                self.error(v.span(), key, format!("must be at least {min}, found {i}"));
                None
            }
            _ => {
                let found = v.get_ref().type_str();
                self.error(v.span(), key, format!("expected an integer, found {found}"));
                None
            }
        }
    }

    pub(super) fn unknown(&mut self, span: Range<usize>, key: &str, name: &str, known: &[&str]) {
        let hint = suggest(name, known.iter().copied());
        self.error(
            span,
            key,
            format!(
                "unknown key `{name}`{hint}; expected one of: {}",
                known.join(", ")
            ),
        );
    }
}

/// Parse and check a manifest's text.
pub fn parse(file: SourceFile) -> Result<Manifest> {
    let doc = match DeTable::parse(&file.text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let diag = file.diag(span, "", format!("invalid TOML: {}", e.message()));
            return Err(Error::Located(vec![diag]));
        }
    };
    let mut p = Parser {
        file: &file,
        diags: Vec::new(),
    };
    let mut study = None;
    let mut seeds = None;
    let mut params = None;
    let mut sweep = None;
    let mut claims_table = None;
    for (k, v) in in_source_order(doc.get_ref()) {
        match k.get_ref().as_ref() {
            "study" => study = p.table(v, "study"),
            "seeds" => seeds = p.table(v, "seeds"),
            "params" => params = p.table(v, "params"),
            "sweep" => sweep = p.table(v, "sweep"),
            "claims" => claims_table = Some(v),
            other => p.unknown(
                k.span(),
                other,
                other,
                &["study", "seeds", "params", "sweep", "claims"],
            ),
        }
    }

    let (name, kind_name, description) = parse_study(&mut p, study);
    let (base_seed, replicates) = parse_seeds(&mut p, seeds);
    let known = studies::registry();
    let study = kind_name.as_ref().and_then(|(kind, span)| {
        let found = studies::find(kind);
        if found.is_none() {
            let names: Vec<&str> = known.iter().map(|s| s.kind()).collect();
            let hint = suggest(kind, names.iter().copied());
            p.error(
                span.clone(),
                "study.kind",
                format!(
                    "unknown study kind `{kind}`{hint}; known kinds: {}",
                    names.join(", ")
                ),
            );
        }
        found
    });

    let mut fixed = BTreeMap::new();
    let mut dims = Vec::new();
    let mut claims = Vec::new();
    let mut schema = Schema {
        docs: BTreeMap::new(),
        open: false,
    };
    if let Some(study) = study {
        schema.docs = studies::docs_by_key(study);
        schema.open = study.user_params();
        if let Some(t) = params {
            parse_params(&mut p, &mut schema, t, "", &mut fixed);
        }
        if let Some(t) = sweep {
            parse_sweep(&mut p, &schema, t, &mut dims);
        }
        canonical_order(&mut dims);
        if schema.open {
            // A user's parameter is declared by its value in [params]; a
            // sweep of it replaces that value (which gave only its type).
            let own = studies::docs_by_key(study);
            for dim in &dims {
                for (key, _) in dim.keys() {
                    if !own.contains_key(key) {
                        fixed.remove(key);
                    }
                }
            }
        }
        check_duplicates(&mut p, &fixed, &dims);
        if let Some(v) = claims_table {
            claims = claims::parse_claims(&mut p, &schema, v, &fixed, &study.defaults(), &dims);
        }
    }

    let diags = std::mem::take(&mut p.diags);
    match (diags.is_empty(), name, study, base_seed, replicates) {
        (true, Some(name), Some(study), Some(base_seed), Some(replicates)) => Ok(Manifest {
            source: file,
            name,
            description: description.unwrap_or_default(),
            study,
            base_seed,
            replicates,
            fixed,
            sweep: dims,
            schema: schema.docs,
            claims,
        }),
        _ => Err(Error::Located(diags)),
    }
}

type StudyHeader = (
    Option<String>,
    Option<(String, Range<usize>)>,
    Option<String>,
);

fn parse_study(p: &mut Parser, table: Option<&DeTable>) -> StudyHeader {
    let Some(table) = table else {
        p.error(
            0..0,
            "study",
            "missing [study] table with `name` and `kind`",
        );
        return (None, None, None);
    };
    let (mut name, mut kind, mut description) = (None, None, None);
    for (k, v) in in_source_order(table) {
        match k.get_ref().as_ref() {
            "name" => {
                name = p.string(v, "study.name");
                if let Some(n) = &name {
                    let ok = !n.is_empty()
                        && n.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                        && !n.starts_with('.');
                    if !ok {
                        p.error(
                            v.span(),
                            "study.name",
                            "must be a folder name: letters, digits, '-', '_', '.' (not starting with '.')",
                        );
                        name = None;
                    }
                }
            }
            "kind" => kind = p.string(v, "study.kind").map(|s| (s, v.span())),
            "description" => description = p.string(v, "study.description"),
            other => p.unknown(
                k.span(),
                &format!("study.{other}"),
                other,
                &["name", "kind", "description"],
            ),
        }
    }
    let header_span = 0..0;
    if name.is_none() && !table.iter().any(|(k, _)| k.get_ref() == "name") {
        p.error(
            header_span.clone(),
            "study.name",
            "missing `name` in [study]",
        );
    }
    if kind.is_none() && !table.iter().any(|(k, _)| k.get_ref() == "kind") {
        p.error(header_span, "study.kind", "missing `kind` in [study]");
    }
    (name, kind, description)
}

fn parse_seeds(p: &mut Parser, table: Option<&DeTable>) -> (Option<u64>, Option<u32>) {
    let (mut base, mut replicates) = (Some(0u64), Some(1u32));
    let Some(table) = table else {
        return (base, replicates);
    };
    for (k, v) in in_source_order(table) {
        match k.get_ref().as_ref() {
            "base" => base = p.integer(v, "seeds.base", 0).map(|i| i as u64),
            "replicates" => {
                replicates = p.integer(v, "seeds.replicates", 1).and_then(|i| {
                    u32::try_from(i).ok().or_else(|| {
                        p.error(v.span(), "seeds.replicates", "too many replicates");
                        None
                    })
                })
            }
            other => p.unknown(
                k.span(),
                &format!("seeds.{other}"),
                other,
                &["base", "replicates"],
            ),
        }
    }
    (base, replicates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Dimension;
    use std::path::Path;

    fn parse_str(text: &str) -> Result<Manifest> {
        parse(SourceFile::new(Path::new("m.toml"), text.to_string()))
    }

    /// A kind with the keys these tests use.
    fn head() -> String {
        let kind = crate::studies::kind_with(&[
            "threshold",
            "population",
            "generations",
            "mutation_rate",
            "data.test",
        ]);
        format!("[study]\nname = \"t\"\nkind = \"{kind}\"\n")
    }

    #[test]
    fn dimensions_are_in_canonical_order_whatever_the_file_order() {
        let h = head();
        let text = format!(
            "{h}[sweep.random]\nn = 2\nuniform = {{ mutation_rate = [0.1, 0.2] }}\n\
             [[sweep.zip]]\npopulation = [8, 16]\ngenerations = [2, 4]\n\
             [sweep]\nthreshold = [0.9, 0.95]\n"
        );
        let m = parse_str(&text).unwrap();
        let kinds: Vec<&str> = m.sweep.iter().map(Dimension::place).collect();
        assert_eq!(kinds, ["[sweep]", "[[sweep.zip]]", "[sweep.random]"]);
        assert_eq!(
            m.swept_keys(),
            ["threshold", "population", "generations", "mutation_rate"]
        );
        assert_eq!(m.point_count().unwrap(), 8);
    }

    #[test]
    fn a_quoted_and_a_dotted_spelling_of_one_key_are_refused() {
        let h = head();
        let text = format!("{h}[params]\n\"data.test\" = \"builtin\"\ndata.test = \"builtin\"\n");
        let err = parse_str(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("m.toml:6:6: params.data.test: `data.test` is set twice"),
            "{err}"
        );
        let text = format!("{h}[params]\npopulation = 8\n[params.data]\n");
        assert!(parse_str(&text).is_ok());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let h = head();
        let text =
            format!("{h}[params]\npopulatoin = 8\n[sweep]\nthreshold = []\n[seeds]\nbogus = 1\n");
        let err = parse_str(&text).unwrap_err().to_string();
        for want in [
            "m.toml:5:1: params.populatoin: unknown parameter",
            "m.toml:7:13: sweep.threshold: a sweep axis needs at least one value",
            "m.toml:9:1: seeds.bogus: unknown key",
        ] {
            assert!(err.contains(want), "{want}\n{err}");
        }
    }

    #[test]
    fn a_key_swept_in_two_dimensions_is_refused() {
        let h = head();
        let text = format!("{h}[sweep]\npopulation = [8]\n[[sweep.zip]]\npopulation = [16]\n");
        let err = parse_str(&text).unwrap_err().to_string();
        assert!(
            err.contains("`population` is set in [sweep] and again in [[sweep.zip]]"),
            "{err}"
        );
    }

    #[test]
    fn claims_are_parsed_and_their_mistakes_located() {
        let h = head();
        let ok = format!(
            "{h}[params]\npopulation = 8\n[sweep]\nthreshold = [0.9, 0.95]\n\
             [[claims]]\ntext = \"at least\"\nmetric = \"score\"\nat_least = 1\n\
             where = {{ threshold = 0.95 }}\n\
             [[claims]]\ntext = \"eq\"\nmetric = \"score\"\nequals = 8\ntolerance = 0.5\n"
        );
        let m = parse_str(&ok).unwrap();
        assert_eq!(m.claims.len(), 2);
        assert_eq!(
            m.claims[0].at,
            vec![("threshold".to_string(), "0.95".to_string())]
        );
        assert_eq!(
            m.claims[1].bound,
            crate::report::claims::Bound::Equals {
                value: 8.0,
                tolerance: 0.5
            }
        );
        let bad = format!(
            "{h}[params]\npopulation = 8\n[sweep]\nthreshold = [0.9, 0.95]\n\
             [[claims]]\ntext = \"x\"\nmetric = \"score\"\nat_least = 1\nat_most = 2\n\
             [[claims]]\nmetric = \"score\"\nat_least = \"high\"\n\
             [[claims]]\ntext = \"w\"\nmetric = \"s\"\nat_most = 1\ntolerance = 1\n\
             where = {{ threshold = 0.97, populaton = 8 }}\n\
             [[claims]]\ntext = \"p\"\nmetric = \"s\"\nat_most = 1\nwhere = {{ population = 9 }}\nnote = 1\n"
        );
        let err = parse_str(&bad).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::USAGE);
        let err = err.to_string();
        assert!(!err.contains("states no bound"), "{err}");
        for want in [
            "m.toml:12:1: claims[0].at_most: a claim states one bound",
            "m.toml:13:1: claims[1]: missing `text`",
            "m.toml:15:12: claims[1].at_least: expected a number, found string",
            "m.toml:20:1: claims[2].tolerance: `tolerance` goes with `equals` only",
            "m.toml:21:23: claims[2].where.threshold: no sweep point has `threshold` = 0.97; the sweep gives it 0.9, 0.95",
            "claims[2].where.populaton: unknown parameter `populaton` (did you mean `population`?)",
            "claims[3].where.population: `population` is 8 in every trial (not swept), so a claim at 9 would test nothing",
            "claims[3].note: unknown key `note`",
        ] {
            assert!(err.contains(want), "{want}\n{err}");
        }
    }
}
