//! `[sweep]`: grid axes, `[[sweep.zip]]` groups and the `[sweep.random]`
//! block, each parsed into one [`Dimension`] of the sweep.

use super::super::Setting;
use super::super::source::Origin;
use super::super::sweep::{Dimension, Distribution, GridAxis, RandomDim, RandomSweep, ZipGroup};
use super::params::{Schema, found, join, typed_value};
use super::{Parser, in_source_order};
use crate::studies::ParamDoc;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

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

pub(super) fn parse_sweep(
    p: &mut Parser,
    schema: &Schema,
    table: &DeTable,
    dims: &mut Vec<Dimension>,
) {
    for (k, v) in in_source_order(table) {
        match k.get_ref().as_ref() {
            "zip" => parse_zips(p, schema, v, dims),
            "random" => dims.extend(parse_random(p, schema, v).map(Dimension::Random)),
            _ => parse_grid_entry(p, schema, "", k, v, dims),
        }
    }
}

fn parse_grid_entry(
    p: &mut Parser,
    schema: &Schema,
    prefix: &str,
    k: &Spanned<std::borrow::Cow<str>>,
    v: &Spanned<DeValue>,
    dims: &mut Vec<Dimension>,
) {
    let key = join(prefix, k.get_ref());
    let key_path = format!("sweep.{key}");
    if let Some(doc) = schema.docs.get(key.as_str()) {
        if let Some(values) = axis_values(p, doc, v, &key_path) {
            dims.push(Dimension::Grid(GridAxis {
                key,
                key_origin: Origin::Span(k.span()),
                values,
            }));
        }
    } else if let (DeValue::Table(t), true) = (v.get_ref(), schema.is_prefix(&key)) {
        for (k2, v2) in in_source_order(t) {
            parse_grid_entry(p, schema, &key, k2, v2, dims);
        }
    } else {
        let mut msg = schema.unknown_message(&key);
        if prefix.is_empty() {
            msg.push_str(" (sweep also accepts `zip` and `random`)");
        }
        p.error(k.span(), &key_path, msg);
    }
}

fn parse_zips(p: &mut Parser, schema: &Schema, v: &Spanned<DeValue>, dims: &mut Vec<Dimension>) {
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
        dims.push(Dimension::Zip(ZipGroup {
            keys,
            key_origins: spans.into_iter().map(Origin::Span).collect(),
            columns,
        }));
    }
}

/// Dotted keys of a table whose nested tables are key paths, with the span
/// of each leaf key.
pub(super) fn flatten_keys<'a, 'i>(
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
pub(super) fn check_duplicates(
    p: &mut Parser,
    fixed: &BTreeMap<String, Setting>,
    dims: &[Dimension],
) {
    let mut seen: BTreeMap<&str, &'static str> =
        fixed.keys().map(|k| (k.as_str(), "[params]")).collect();
    for dim in dims {
        for (key, origin) in dim.keys() {
            if let Some(first) = seen.get(key) {
                let diag = p.file.diag_at(
                    origin,
                    &format!("sweep.{key}"),
                    format!(
                        "`{key}` is set in {first} and again in {}; set it in one place",
                        dim.place()
                    ),
                );
                p.diags.push(diag);
            } else {
                seen.insert(key, dim.place());
            }
        }
    }
}
