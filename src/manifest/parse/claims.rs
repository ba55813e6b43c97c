//! `[[claims]]`: what a study tests, each claim a metric and a bound, with
//! an optional sweep-point filter. Claims are not parameters: they reach the
//! report through report.json and change no trial id or seed.

use super::super::sweep::Dimension;
use super::super::{Setting, suggest};
use super::params::{Schema, typed_value};
use super::sweep::flatten_keys;
use super::{Parser, in_source_order};
use crate::report::claims::{Bound, Claim};
use crate::value::display_value;
use std::collections::BTreeMap;
use toml::Spanned;
use toml::de::DeValue;

const KEYS: [&str; 7] = [
    "text",
    "metric",
    "at_least",
    "at_most",
    "equals",
    "tolerance",
    "where",
];

/// A finite number (integer or float) at `v`.
fn number(p: &mut Parser, v: &Spanned<DeValue>, key: &str) -> Option<f64> {
    let x = match p.leaf(v.span()) {
        Some(toml::Value::Integer(i)) => i as f64,
        Some(toml::Value::Float(x)) => x,
        _ => {
            let found = v.get_ref().type_str();
            p.error(v.span(), key, format!("expected a number, found {found}"));
            return None;
        }
    };
    if !x.is_finite() {
        p.error(v.span(), key, "must be a finite number");
        return None;
    }
    Some(x)
}

/// Parse `[[claims]]`; `fixed`, `defaults` and `dims` let a `where` filter
/// be checked against the points the manifest actually runs.
pub(super) fn parse_claims(
    p: &mut Parser,
    schema: &Schema,
    v: &Spanned<DeValue>,
    fixed: &BTreeMap<String, Setting>,
    defaults: &crate::studies::ParamSet,
    dims: &[Dimension],
) -> Vec<Claim> {
    let DeValue::Array(items) = v.get_ref() else {
        p.error(
            v.span(),
            "claims",
            "expected [[claims]] tables (an array of tables)",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (ci, item) in items.iter().enumerate() {
        let path = format!("claims[{ci}]");
        let Some(table) = p.table(item, &path) else {
            continue;
        };
        let (mut text, mut metric) = (None, None);
        let mut bounds: Vec<(String, f64, std::ops::Range<usize>)> = Vec::new();
        let mut tolerance: Option<(f64, std::ops::Range<usize>)> = None;
        let mut at = Vec::new();
        let mut ok = true;
        for (k, v) in in_source_order(table) {
            let name = k.get_ref().as_ref();
            let key = format!("{path}.{name}");
            match name {
                "text" | "metric" => {
                    let s = p.string(v, &key);
                    match s {
                        Some(s) if s.trim().is_empty() => {
                            p.error(v.span(), &key, "must not be empty");
                            ok = false;
                        }
                        Some(s) if name == "text" => text = Some(s),
                        Some(s) => metric = Some(s),
                        None => ok = false,
                    }
                }
                "at_least" | "at_most" | "equals" => match number(p, v, &key) {
                    Some(x) => bounds.push((name.to_string(), x, k.span())),
                    None => ok = false,
                },
                "tolerance" => match number(p, v, &key) {
                    Some(x) if x >= 0.0 => tolerance = Some((x, k.span())),
                    Some(_) => {
                        p.error(v.span(), &key, "must be at least 0");
                        ok = false;
                    }
                    None => ok = false,
                },
                "where" => {
                    let Some(t) = p.table(v, &key) else {
                        ok = false;
                        continue;
                    };
                    let mut flat = Vec::new();
                    flatten_keys(t, "", &mut flat);
                    for (param, span, value) in flat {
                        let key = format!("{path}.where.{param}");
                        let Some(doc) = schema.docs.get(param.as_str()) else {
                            p.error(span, &key, schema.unknown_message(&param));
                            ok = false;
                            continue;
                        };
                        let vspan = value.span();
                        let Some(value) = typed_value(p, doc.ty, value, &key) else {
                            ok = false;
                            continue;
                        };
                        if let Some(problem) = never_run(&param, &value, fixed, defaults, dims) {
                            let _ = span;
                            p.error(vspan, &key, problem);
                            ok = false;
                            continue;
                        }
                        at.push((param, display_value(&value)));
                    }
                }
                other => {
                    let hint = suggest(other, KEYS);
                    p.error(
                        k.span(),
                        &key,
                        format!(
                            "unknown key `{other}`{hint}; a claim has: {}",
                            KEYS.join(", ")
                        ),
                    );
                    ok = false;
                }
            }
        }
        let header = item.span();
        for (field, found) in [("text", text.is_some()), ("metric", metric.is_some())] {
            if !found && !table.iter().any(|(k, _)| k.get_ref() == field) {
                p.error(header.clone(), &path, format!("missing `{field}`"));
                ok = false;
            }
        }
        let bound = match bounds.as_slice() {
            // A bound given but malformed was reported where it is.
            [] if !ok => None,
            [] => {
                p.error(
                    header.clone(),
                    &path,
                    "states no bound: give one of `at_least`, `at_most` or `equals` (with `tolerance`)",
                );
                None
            }
            [(kind, x, _)] => match kind.as_str() {
                "at_least" => Some(Bound::AtLeast(*x)),
                "at_most" => Some(Bound::AtMost(*x)),
                _ => Some(Bound::Equals {
                    value: *x,
                    tolerance: tolerance.as_ref().map_or(0.0, |t| t.0),
                }),
            },
            [_, (kind, _, span), ..] => {
                p.error(
                    span.clone(),
                    &format!("{path}.{kind}"),
                    "a claim states one bound: `at_least`, `at_most` or `equals`; make two claims for a range",
                );
                None
            }
        };
        if let (Some((_, span)), Some(b)) = (&tolerance, &bound)
            && !matches!(b, Bound::Equals { .. })
        {
            p.error(
                span.clone(),
                &format!("{path}.tolerance"),
                "`tolerance` goes with `equals` only",
            );
            ok = false;
        }
        if let (true, Some(text), Some(metric), Some(bound)) = (ok, text, metric, bound) {
            out.push(Claim {
                text,
                metric,
                bound,
                at,
            });
        }
    }
    out
}

/// Why no trial would have `key = value`, if none would.
fn never_run(
    key: &str,
    value: &toml::Value,
    fixed: &BTreeMap<String, Setting>,
    defaults: &crate::studies::ParamSet,
    dims: &[Dimension],
) -> Option<String> {
    let shown = display_value(value);
    let listed = |values: Vec<&toml::Value>| -> Option<String> {
        if values.contains(&value) {
            return None;
        }
        let all: Vec<String> = values.iter().map(|v| display_value(v)).collect();
        Some(format!(
            "no sweep point has `{key}` = {shown}; the sweep gives it {}",
            all.join(", ")
        ))
    };
    for d in dims {
        match d {
            Dimension::Grid(a) if a.key == key => {
                return listed(a.values.iter().map(|s| &s.value).collect());
            }
            Dimension::Zip(z) => {
                if let Some(i) = z.keys.iter().position(|k| k == key) {
                    return listed(z.columns[i].iter().map(|s| &s.value).collect());
                }
            }
            // Sampled values cannot be named in advance.
            Dimension::Random(r) if r.dims.iter().any(|x| x.key == key) => return None,
            _ => {}
        }
    }
    let actual = fixed
        .get(key)
        .map(|s| &s.value)
        .or_else(|| defaults.get(key))?;
    (actual != value).then(|| {
        format!(
            "`{key}` is {} in every trial (not swept), so a claim at {shown} would test nothing",
            display_value(actual)
        )
    })
}
