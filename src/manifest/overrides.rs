//! Command-line overrides in the style of Hydra: `--set key=value` fixes a
//! parameter, `--sweep key=a,b,c` replaces or adds a grid axis. They are
//! applied after parsing and checked against the same schema, so a typo in a
//! flag is caught exactly like a typo in the manifest.

use super::source::{Origin, suggest};
use super::sweep::{Dimension, GridAxis};
use super::{Manifest, Setting};
use crate::error::{Error, Result};
use crate::studies::{ParamType, fits, normalize};

#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `key=value` pairs from `--set`.
    pub set: Vec<String>,
    /// `key=v1,v2,...` lists from `--sweep`.
    pub sweep: Vec<String>,
}

fn split_pair<'a>(flag: &str, arg: &'a str) -> Result<(&'a str, &'a str)> {
    match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim(), v.trim())),
        _ => Err(Error::user(format!(
            "{flag} {arg}: expected key=value, for example `{flag} population=32`"
        ))),
    }
}

/// A flag's value as TOML if it parses as the right type, else as a bare
/// string (so `--set mode=steady_state` needs no quotes).
fn flag_value(ty: ParamType, text: &str) -> toml::Value {
    match text.parse::<toml::Value>() {
        Ok(v) if fits(ty, &v) => normalize(ty, &v),
        _ => toml::Value::String(text.to_string()),
    }
}

/// Split `a,b,c` at top-level commas; `[...]` is read as one TOML array.
fn sweep_items(text: &str) -> Vec<String> {
    if let Ok(toml::Value::Array(items)) = text.parse::<toml::Value>() {
        return items.iter().map(|v| v.to_string()).collect();
    }
    // `[8],[16,8]`: a list of lists, one list per sweep value.
    if text.trim_start().starts_with('[')
        && let Ok(toml::Value::Array(items)) = format!("[{text}]").parse::<toml::Value>()
    {
        return items.iter().map(|v| v.to_string()).collect();
    }
    text.split(',').map(|s| s.trim().to_string()).collect()
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.sweep.is_empty()
    }

    pub fn apply(&self, m: &mut Manifest) -> Result<()> {
        let docs = m.schema.clone();
        let kind = m.study.kind();
        let check_key = |flag: &str, arg: &str, key: &str| -> Result<ParamType> {
            docs.get(key).map(|d| d.ty).ok_or_else(|| {
                Error::user(format!(
                    "{flag} {arg}: unknown parameter `{key}` of study kind {kind}{}",
                    suggest(key, docs.keys().copied())
                ))
            })
        };
        for arg in &self.set {
            let (key, text) = split_pair("--set", arg)?;
            let origin = Origin::Flag(format!("--set {arg}"));
            match key {
                "seeds.base" => m.base_seed = parse_count("--set", arg, text, 0)?,
                "seeds.replicates" => {
                    m.replicates = u32::try_from(parse_count("--set", arg, text, 1)?)
                        .map_err(|_| Error::user(format!("--set {arg}: too many replicates")))?
                }
                _ => {
                    let ty = check_key("--set", arg, key)?;
                    let value = flag_value(ty, text);
                    if !fits(ty, &value) {
                        return Err(Error::user(format!(
                            "--set {arg}: params.{key}: expected {}",
                            ty.name()
                        )));
                    }
                    forbid_zip_or_random(m, "--set", arg, key)?;
                    m.remove_axis(key);
                    m.fixed.insert(key.to_string(), Setting { value, origin });
                }
            }
        }
        for arg in &self.sweep {
            let (key, text) = split_pair("--sweep", arg)?;
            let ty = check_key("--sweep", arg, key)?;
            forbid_zip_or_random(m, "--sweep", arg, key)?;
            let origin = Origin::Flag(format!("--sweep {arg}"));
            let mut values = Vec::new();
            for item in sweep_items(text) {
                let value = flag_value(ty, &item);
                if item.is_empty() || !fits(ty, &value) {
                    return Err(Error::user(format!(
                        "--sweep {arg}: params.{key}: `{item}` is not {}",
                        ty.name()
                    )));
                }
                values.push(Setting {
                    value,
                    origin: origin.clone(),
                });
            }
            // An empty axis would expand the study to zero trials.
            if values.is_empty() {
                return Err(Error::user(format!(
                    "--sweep {arg}: gives no values for `{key}`; list at least one"
                )));
            }
            if let Some(dup) = values
                .iter()
                .enumerate()
                .find(|(i, v)| values[..*i].iter().any(|w| w.value == v.value))
            {
                return Err(Error::user(format!(
                    "--sweep {arg}: `{}` is listed twice; each value of `{key}` must be distinct (duplicates give duplicate trial ids)",
                    dup.1.value
                )));
            }
            m.fixed.remove(key);
            let axis = GridAxis {
                key: key.to_string(),
                key_origin: origin,
                values,
            };
            m.push_axis(axis);
        }
        Ok(())
    }
}

fn parse_count(flag: &str, arg: &str, text: &str, min: u64) -> Result<u64> {
    match text.parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(Error::user(format!(
            "{flag} {arg}: expected an integer of at least {min}"
        ))),
    }
}

fn forbid_zip_or_random(m: &Manifest, flag: &str, arg: &str, key: &str) -> Result<()> {
    match m.dimension_of(key) {
        Some(d @ (Dimension::Zip(_) | Dimension::Random(_))) => Err(Error::user(format!(
            "{flag} {arg}: `{key}` is swept in {} of {}; edit the manifest to change it",
            d.place(),
            m.source.path.display()
        ))),
        _ => Ok(()),
    }
}
