//! `[params]`: every key checked against the study's schema, every value
//! against its parameter's type.

use super::super::Setting;
use super::super::source::{Origin, suggest};
use super::{Parser, in_source_order};
use crate::studies::{ParamDoc, ParamType, fits, normalize};
use std::collections::BTreeMap;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The study's parameter schema, for key and type checks.
pub(super) struct Schema {
    pub(super) docs: BTreeMap<&'static str, ParamDoc>,
    /// `[params]` may declare new parameters (see `DynStudy::user_params`).
    pub(super) open: bool,
}

impl Schema {
    pub(super) fn keys(&self) -> impl Iterator<Item = &str> {
        self.docs.keys().copied()
    }

    /// Is `prefix` the start of some dotted parameter key (a nested table)?
    pub(super) fn is_prefix(&self, prefix: &str) -> bool {
        let dotted = format!("{prefix}.");
        self.docs.keys().any(|k| k.starts_with(&dotted))
    }

    pub(super) fn unknown_message(&self, key: &str) -> String {
        if self.open {
            return format!(
                "unknown parameter `{key}`{}; a parameter of the user's is declared with its value in [params], which gives its type",
                suggest(key, self.keys())
            );
        }
        format!(
            "unknown parameter `{key}`{}; `evoquant list` shows the parameters of each kind",
            suggest(key, self.keys())
        )
    }
}

pub(super) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Check one value against a parameter's type; returns it normalised.
pub(super) fn typed_value(
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
pub(super) fn found(p: &Parser, v: &Spanned<DeValue>) -> String {
    let text = p.file.text.get(v.span()).unwrap_or("?");
    let short: String = text.chars().take(40).collect();
    format!("{} `{short}`", v.get_ref().type_str())
}

pub(super) fn parse_params(
    p: &mut Parser,
    schema: &mut Schema,
    table: &DeTable,
    prefix: &str,
    out: &mut BTreeMap<String, Setting>,
) {
    for (k, v) in in_source_order(table) {
        let key = join(prefix, k.get_ref());
        let key_path = format!("params.{key}");
        if let Some(doc) = schema.docs.get(key.as_str()) {
            // `"quant.bits" = 4` and `quant.bits = 4` (or `[params.quant]`)
            // are one key: the second must not silently win.
            if out.contains_key(&key) {
                p.error(
                    k.span(),
                    &key_path,
                    format!("`{key}` is set twice in [params] (a quoted and a dotted spelling are the same key); set it once"),
                );
                continue;
            }
            if let Some(value) = typed_value(p, doc.ty, v, &key_path) {
                set(out, key, value, v);
            }
        } else if let (DeValue::Table(t), true) =
            (v.get_ref(), schema.open || schema.is_prefix(&key))
        {
            parse_params(p, schema, t, &key, out);
        } else if schema.open {
            // A parameter of the user's: declared here, typed by its value.
            match p.leaf(v.span()).and_then(|value| ParamDoc::inferred(&key, &value)) {
                Some(doc) => {
                    schema.docs.insert(doc.key, doc.clone());
                    if let Some(value) = typed_value(p, doc.ty, v, &key_path) {
                        set(out, key, value, v);
                    }
                }
                None => p.error(
                    v.span(),
                    &key_path,
                    format!(
                        "a parameter must be a number, boolean, string or a non-empty list of numbers or of strings, found {}",
                        found(p, v)
                    ),
                ),
            }
        } else {
            p.error(k.span(), &key_path, schema.unknown_message(&key));
        }
    }
}

/// Record a checked value where the manifest wrote it.
fn set(
    out: &mut BTreeMap<String, Setting>,
    key: String,
    value: toml::Value,
    at: &Spanned<DeValue>,
) {
    out.insert(
        key,
        Setting {
            value,
            origin: Origin::Span(at.span()),
        },
    );
}
