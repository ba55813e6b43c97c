//! From TOML text to a [`Manifest`], checking every key against the schema of
//! the study kind and collecting every problem with its location.

use super::source::{Origin, SourceFile, suggest};
use super::sweep::{Distribution, GridAxis, RandomDim, RandomSweep, ZipGroup};
use super::{Manifest, Setting};
use crate::error::{Diagnostic, Error, Result};
use crate::studies::{self, ParamDoc, ParamType, fits, normalize};
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

type Entry<'a, 'i> = (
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
);

/// Table entries in the order they appear in the file (the parser sorts them).
fn in_source_order<'a, 'i>(table: &'a DeTable<'i>) -> Vec<Entry<'a, 'i>> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

struct Parser<'m> {
    file: &'m SourceFile,
    diags: Vec<Diagnostic>,
}

impl Parser<'_> {
    fn error(&mut self, span: Range<usize>, key: &str, msg: impl Into<String>) {
        self.diags.push(self.file.diag(span, key, msg));
    }

    /// The parsed value of a leaf whose text is at `span`.
    fn leaf(&self, span: Range<usize>) -> Option<toml::Value> {
        self.file.text.get(span)?.parse::<toml::Value>().ok()
    }

    fn table<'a, 'i>(&mut self, v: &'a Spanned<DeValue<'i>>, key: &str) -> Option<&'a DeTable<'i>> {
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

    fn string(&mut self, v: &Spanned<DeValue>, key: &str) -> Option<String> {
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

    fn integer(&mut self, v: &Spanned<DeValue>, key: &str, min: i64) -> Option<i64> {
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

    fn unknown(&mut self, span: Range<usize>, key: &str, name: &str, known: &[&str]) {
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
    for (k, v) in in_source_order(doc.get_ref()) {
        match k.get_ref().as_ref() {
            "study" => study = p.table(v, "study"),
            "seeds" => seeds = p.table(v, "seeds"),
            "params" => params = p.table(v, "params"),
            "sweep" => sweep = p.table(v, "sweep"),
            other => p.unknown(
                k.span(),
                other,
                other,
                &["study", "seeds", "params", "sweep"],
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
    let mut grid = Vec::new();
    let mut zips = Vec::new();
    let mut random = None;
    if let Some(study) = study {
        let docs = studies::docs_by_key(study);
        let schema = Schema { docs: &docs };
        if let Some(t) = params {
            parse_params(&mut p, &schema, t, "", &mut fixed);
        }
        if let Some(t) = sweep {
            parse_sweep(&mut p, &schema, t, &mut grid, &mut zips, &mut random);
        }
        check_duplicates(&mut p, &fixed, &grid, &zips, &random);
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
            grid,
            zips,
            random,
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

/// The study's parameter schema, for key and type checks.
struct Schema<'a> {
    docs: &'a BTreeMap<&'static str, ParamDoc>,
}

impl Schema<'_> {
    fn keys(&self) -> impl Iterator<Item = &str> {
        self.docs.keys().copied()
    }

    /// Is `prefix` the start of some dotted parameter key (a nested table)?
    fn is_prefix(&self, prefix: &str) -> bool {
        let dotted = format!("{prefix}.");
        self.docs.keys().any(|k| k.starts_with(&dotted))
    }

    fn unknown_message(&self, key: &str) -> String {
        format!(
            "unknown parameter `{key}`{}; `evoquant list` shows the parameters of each kind",
            suggest(key, self.keys())
        )
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Check one value against a parameter's type; returns it normalised.
fn typed_value(
    p: &mut Parser,
    ty: ParamType,
    v: &Spanned<DeValue>,
    key_path: &str,
) -> Option<toml::Value> {
    let value = p.leaf(v.span());
    match value {
        Some(value) if fits(ty, &value) => Some(normalize(ty, &value)),
        _ => {
            // A misspelled choice gets the nearest option suggested.
            let hint = match (ty, &value) {
                (ParamType::Choice(options), Some(toml::Value::String(s))) => {
                    suggest(s, options.iter().copied())
                }
                _ => String::new(),
            };
            p.error(
                v.span(),
                key_path,
                format!("expected {}, found {}{hint}", ty.name(), found(p, v)),
            );
            None
        }
    }
}

/// How a wrong value reads in a message: its text, shortened.
fn found(p: &Parser, v: &Spanned<DeValue>) -> String {
    let text = p.file.text.get(v.span()).unwrap_or("?");
    let short: String = text.chars().take(40).collect();
    format!("{} `{short}`", v.get_ref().type_str())
}

fn parse_params(
    p: &mut Parser,
    schema: &Schema,
    table: &DeTable,
    prefix: &str,
    out: &mut BTreeMap<String, Setting>,
) {
    for (k, v) in in_source_order(table) {
        let key = join(prefix, k.get_ref());
        let key_path = format!("params.{key}");
        if let Some(doc) = schema.docs.get(key.as_str()) {
            if let Some(value) = typed_value(p, doc.ty, v, &key_path) {
                out.insert(
                    key,
                    Setting {
                        value,
                        origin: Origin::Span(v.span()),
                    },
                );
            }
        } else if let (DeValue::Table(t), true) = (v.get_ref(), schema.is_prefix(&key)) {
            parse_params(p, schema, t, &key, out);
        } else {
            p.error(k.span(), &key_path, schema.unknown_message(&key));
        }
    }
}

/// The non-empty list of typed values of a sweep axis.
fn axis_values(
    p: &mut Parser,
    doc: &ParamDoc,
    v: &Spanned<DeValue>,
    key_path: &str,
) -> Option<Vec<Setting>> {
    let DeValue::Array(items) = v.get_ref() else {
        p.error(
            v.span(),
            key_path,
            format!("a sweep axis is a list of values, found {}", found(p, v)),
        );
        return None;
    };
    if items.is_empty() {
        p.error(v.span(), key_path, "a sweep axis needs at least one value");
        return None;
    }
    let mut values = Vec::new();
    let mut ok = true;
    for item in items.iter() {
        match typed_value(p, doc.ty, item, key_path) {
            Some(value) => values.push(Setting {
                value,
                origin: Origin::Span(item.span()),
            }),
            None => ok = false,
        }
    }
    ok.then_some(values)
}

fn parse_sweep(
    p: &mut Parser,
    schema: &Schema,
    table: &DeTable,
    grid: &mut Vec<GridAxis>,
    zips: &mut Vec<ZipGroup>,
    random: &mut Option<RandomSweep>,
) {
    for (k, v) in in_source_order(table) {
        match k.get_ref().as_ref() {
            "zip" => parse_zips(p, schema, v, zips),
            "random" => *random = parse_random(p, schema, v),
            _ => parse_grid_entry(p, schema, "", k, v, grid),
        }
    }
}

fn parse_grid_entry(
    p: &mut Parser,
    schema: &Schema,
    prefix: &str,
    k: &Spanned<std::borrow::Cow<str>>,
    v: &Spanned<DeValue>,
    grid: &mut Vec<GridAxis>,
) {
    let key = join(prefix, k.get_ref());
    let key_path = format!("sweep.{key}");
    if let Some(doc) = schema.docs.get(key.as_str()) {
        if let Some(values) = axis_values(p, doc, v, &key_path) {
            grid.push(GridAxis {
                key,
                key_origin: Origin::Span(k.span()),
                values,
            });
        }
    } else if let (DeValue::Table(t), true) = (v.get_ref(), schema.is_prefix(&key)) {
        for (k2, v2) in in_source_order(t) {
            parse_grid_entry(p, schema, &key, k2, v2, grid);
        }
    } else {
        let mut msg = schema.unknown_message(&key);
        if prefix.is_empty() {
            msg.push_str(" (sweep also accepts `zip` and `random`)");
        }
        p.error(k.span(), &key_path, msg);
    }
}

fn parse_zips(p: &mut Parser, schema: &Schema, v: &Spanned<DeValue>, zips: &mut Vec<ZipGroup>) {
    let DeValue::Array(groups) = v.get_ref() else {
        p.error(
            v.span(),
            "sweep.zip",
            "expected [[sweep.zip]] tables (an array of tables)",
        );
        return;
    };
    for (gi, group) in groups.iter().enumerate() {
        let path = format!("sweep.zip[{gi}]");
        let Some(table) = p.table(group, &path) else {
            continue;
        };
        let mut keys = Vec::new();
        let mut columns: Vec<Vec<Setting>> = Vec::new();
        let mut spans = Vec::new();
        let mut flat = Vec::new();
        flatten_keys(table, "", &mut flat);
        for (key, kspan, value) in flat {
            let key_path = format!("{path}.{key}");
            let Some(doc) = schema.docs.get(key.as_str()) else {
                p.error(kspan, &key_path, schema.unknown_message(&key));
                continue;
            };
            if let Some(values) = axis_values(p, doc, value, &key_path) {
                keys.push(key);
                spans.push(kspan);
                columns.push(values);
            }
        }
        if columns.is_empty() {
            if table.is_empty() {
                p.error(group.span(), &path, "a zip group needs at least one key");
            }
            continue;
        }
        let len = columns[0].len();
        if let Some(i) = columns.iter().position(|c| c.len() != len) {
            p.error(
                spans[i].clone(),
                &format!("{path}.{}", keys[i]),
                format!(
                    "zip lists must have equal lengths: `{}` has {len} values, `{}` has {}",
                    keys[0],
                    keys[i],
                    columns[i].len()
                ),
            );
            continue;
        }
        zips.push(ZipGroup {
            keys,
            key_origins: spans.into_iter().map(Origin::Span).collect(),
            columns,
        });
    }
}

/// Dotted keys of a table whose nested tables are key paths, with the span
/// of each leaf key.
fn flatten_keys<'a, 'i>(
    table: &'a DeTable<'i>,
    prefix: &str,
    out: &mut Vec<(String, Range<usize>, &'a Spanned<DeValue<'i>>)>,
) {
    for (k, v) in in_source_order(table) {
        let key = join(prefix, k.get_ref());
        match v.get_ref() {
            DeValue::Table(t) => flatten_keys(t, &key, out),
            _ => out.push((key, k.span(), v)),
        }
    }
}

fn parse_random(p: &mut Parser, schema: &Schema, v: &Spanned<DeValue>) -> Option<RandomSweep> {
    let table = p.table(v, "sweep.random")?;
    let mut n = None;
    let mut dims = Vec::new();
    for (k, v) in in_source_order(table) {
        let section = k.get_ref().as_ref();
        let path = format!("sweep.random.{section}");
        match section {
            "n" => n = p.integer(v, &path, 1).map(|i| i as usize),
            "uniform" | "log_uniform" | "choice" => {
                let Some(t) = p.table(v, &path) else { continue };
                let mut flat = Vec::new();
                flatten_keys(t, "", &mut flat);
                for (key, kspan, value) in flat {
                    let key_path = format!("{path}.{key}");
                    let Some(doc) = schema.docs.get(key.as_str()) else {
                        p.error(kspan, &key_path, schema.unknown_message(&key));
                        continue;
                    };
                    let dist = if section == "choice" {
                        axis_values(p, doc, value, &key_path).map(Distribution::Choice)
                    } else {
                        parse_range(p, doc, value, &key_path, section == "log_uniform")
                    };
                    if let Some(dist) = dist {
                        dims.push(RandomDim {
                            key,
                            origin: Origin::Span(kspan),
                            dist,
                        });
                    }
                }
            }
            other => p.unknown(
                k.span(),
                &path,
                other,
                &["n", "uniform", "log_uniform", "choice"],
            ),
        }
    }
    let Some(n) = n else {
        if !table.iter().any(|(k, _)| k.get_ref() == "n") {
            p.error(
                v.span(),
                "sweep.random.n",
                "missing `n`, the number of random points",
            );
        }
        return None;
    };
    if dims.is_empty() {
        p.error(
            v.span(),
            "sweep.random",
            "no dimensions: add `uniform`, `log_uniform` or `choice` tables",
        );
        return None;
    }
    Some(RandomSweep { n, dims })
}

fn parse_range(
    p: &mut Parser,
    doc: &ParamDoc,
    v: &Spanned<DeValue>,
    key_path: &str,
    log: bool,
) -> Option<Distribution> {
    let integer = match doc.ty.numeric() {
        Some(integer) => integer,
        None => {
            let other = doc.ty;
            p.error(
                v.span(),
                key_path,
                format!(
                    "a range needs a numeric parameter; this one is {}",
                    other.name()
                ),
            );
            return None;
        }
    };
    let bounds: Option<Vec<f64>> = match p.leaf(v.span()) {
        Some(toml::Value::Array(a)) if a.len() == 2 => a
            .iter()
            .map(|x| match x {
                toml::Value::Integer(i) => Some(*i as f64),
                toml::Value::Float(f) if !integer => Some(*f),
                _ => None,
            })
            .collect(),
        _ => None,
    };
    let Some(b) = bounds else {
        let what = if integer { "integers" } else { "numbers" };
        p.error(
            v.span(),
            key_path,
            format!(
                "expected a range [low, high] of two {what}, found {}",
                found(p, v)
            ),
        );
        return None;
    };
    let (lo, hi) = (b[0], b[1]);
    // NaN slips past `lo > hi` and inf overflows the sampler: refuse both here.
    if !lo.is_finite() || !hi.is_finite() {
        p.error(
            v.span(),
            key_path,
            format!("range bounds must be finite numbers, found [{lo}, {hi}]"),
        );
        return None;
    }
    if lo > hi {
        p.error(
            v.span(),
            key_path,
            format!("range low {lo} is above high {hi}"),
        );
        return None;
    }
    if log && lo <= 0.0 {
        p.error(v.span(), key_path, "a log_uniform range must be positive");
        return None;
    }
    Some(if log {
        Distribution::LogUniform { lo, hi, integer }
    } else {
        Distribution::Uniform { lo, hi, integer }
    })
}

/// A key may be set or swept in one place only.
fn check_duplicates(
    p: &mut Parser,
    fixed: &BTreeMap<String, Setting>,
    grid: &[GridAxis],
    zips: &[ZipGroup],
    random: &Option<RandomSweep>,
) {
    let mut seen: BTreeMap<String, &'static str> =
        fixed.keys().map(|k| (k.clone(), "[params]")).collect();
    let mut swept: Vec<(&String, &Origin, &'static str)> = Vec::new();
    for a in grid {
        swept.push((&a.key, &a.key_origin, "[sweep]"));
    }
    for z in zips {
        for (k, o) in z.keys.iter().zip(&z.key_origins) {
            swept.push((k, o, "[[sweep.zip]]"));
        }
    }
    if let Some(r) = random {
        for d in &r.dims {
            swept.push((&d.key, &d.origin, "[sweep.random]"));
        }
    }
    for (key, origin, place) in swept {
        if let Some(first) = seen.get(key.as_str()) {
            let diag = p.file.diag_at(
                origin,
                &format!("sweep.{key}"),
                format!("`{key}` is set in {first} and again in {place}; set it in one place"),
            );
            p.diags.push(diag);
        } else {
            seen.insert(key.clone(), place);
        }
    }
}
