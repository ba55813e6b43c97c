//! The parameter schema: how a study's typed parameters are declared once
//! and become manifest keys, types, docs, defaults and range checks.
//!
//! A study writes its parameters with [`params!`]: each field carries its
//! Rust type, default, doc and (optionally) a range in one place. The
//! manifest type of a field is derived from its Rust type ([`Leaf`]), so a
//! `usize` refuses `-1` where the manifest or the `--set` flag sets it, and a
//! choice lists exactly the variants of its enum ([`Choice`]). Nothing here
//! knows any study: the manifest and `evoquant list` read the schema through
//! [`ParamDoc`]s, and studies receive their typed struct.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::ops::{RangeFrom, RangeInclusive};

/// Resolved parameters, flattened to dotted key paths (`quant.bits`), in key
/// order. A `BTreeMap` so no hash order can ever reach an output.
pub type ParamSet = BTreeMap<String, toml::Value>;

/// The type a parameter accepts in a manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    /// An integer within the Rust type's range.
    Int {
        min: i64,
        max: i64,
    },
    Float,
    Bool,
    Str,
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
    /// A list of integers, each within the element type's range.
    IntList {
        min: i64,
        max: i64,
    },
    FloatList,
    StrList,
    /// A file path, relative to the manifest's folder.
    Path,
    /// A list of file paths, relative to the manifest's folder.
    PathList,
}

fn int_name(min: i64, max: i64) -> String {
    match (min, max) {
        (i64::MIN, i64::MAX) => "integer".into(),
        (0, i64::MAX) => "non-negative integer".into(),
        _ => format!("integer in {min}..={max}"),
    }
}

impl ParamType {
    pub fn name(&self) -> String {
        match self {
            ParamType::Int { min, max } => int_name(*min, *max),
            ParamType::Float => "float".into(),
            ParamType::Bool => "boolean".into(),
            ParamType::Str => "string".into(),
            ParamType::Choice(options) => format!("one of {}", options.join("|")),
            ParamType::IntList { min, max } => format!("list of {}s", int_name(*min, *max)),
            ParamType::FloatList => "list of floats".into(),
            ParamType::StrList => "list of strings".into(),
            ParamType::Path => "path".into(),
            ParamType::PathList => "list of paths".into(),
        }
    }

    /// Numeric scalars can be sampled by a random sweep; `Some(true)` for
    /// integers.
    pub fn numeric(&self) -> Option<bool> {
        match self {
            ParamType::Int { .. } => Some(true),
            ParamType::Float => Some(false),
            _ => None,
        }
    }

    /// Does a TOML value fit this type? Integers are accepted where floats
    /// are expected.
    pub fn fits(&self, value: &toml::Value) -> bool {
        use toml::Value as V;
        let in_range =
            |v: &V, min: i64, max: i64| v.as_integer().is_some_and(|i| (min..=max).contains(&i));
        match (self, value) {
            (ParamType::Int { min, max }, v @ V::Integer(_)) => in_range(v, *min, *max),
            (ParamType::Float, V::Float(_) | V::Integer(_)) => true,
            (ParamType::Bool, V::Boolean(_)) => true,
            (ParamType::Str | ParamType::Path, V::String(_)) => true,
            (ParamType::Choice(options), V::String(s)) => options.contains(&s.as_str()),
            (ParamType::IntList { min, max }, V::Array(a)) => {
                a.iter().all(|v| in_range(v, *min, *max))
            }
            (ParamType::FloatList, V::Array(a)) => a.iter().all(|v| v.is_float() || v.is_integer()),
            (ParamType::StrList | ParamType::PathList, V::Array(a)) => a.iter().all(|v| v.is_str()),
            _ => false,
        }
    }

    /// Bring a value that fits to its canonical TOML type (integers given for
    /// floats become floats), so equal parameters always hash equally.
    pub fn normalize(&self, value: &toml::Value) -> toml::Value {
        use toml::Value as V;
        match (self, value) {
            (ParamType::Float, V::Integer(i)) => V::Float(*i as f64),
            (ParamType::FloatList, V::Array(a)) => {
                V::Array(a.iter().map(|v| ParamType::Float.normalize(v)).collect())
            }
            _ => value.clone(),
        }
    }
}

/// Documentation of one parameter, shown by `evoquant list`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDoc {
    /// Dotted key path, matching the serde field path of the params struct.
    pub key: &'static str,
    pub ty: ParamType,
    pub doc: &'static str,
    /// The declared range, as `evoquant list` shows it (`2..=100000`).
    pub range: Option<String>,
}

impl ParamDoc {
    /// A parameter a manifest declares for a kind with
    /// [`user_params`](crate::studies::DynStudy::user_params): its type is
    /// that of the value it is given, or `None` for a value no parameter can
    /// hold (an empty or nested list, a date).
    pub fn inferred(key: &str, value: &toml::Value) -> Option<ParamDoc> {
        use toml::Value as V;
        let all_ints = |a: &[V]| a.iter().all(V::is_integer);
        let ty = match value {
            V::Integer(_) => ParamType::Int {
                min: i64::MIN,
                max: i64::MAX,
            },
            V::Float(_) => ParamType::Float,
            V::Boolean(_) => ParamType::Bool,
            V::String(_) => ParamType::Str,
            V::Array(a) if a.is_empty() => return None,
            V::Array(a) if all_ints(a) => ParamType::IntList {
                min: i64::MIN,
                max: i64::MAX,
            },
            V::Array(a) if a.iter().all(|v| v.is_integer() || v.is_float()) => ParamType::FloatList,
            V::Array(a) if a.iter().all(V::is_str) => ParamType::StrList,
            _ => return None,
        };
        Some(ParamDoc {
            key: intern(key),
            ty,
            doc: "a parameter of the user's, typed by its value in [params]",
            range: None,
        })
    }

    /// The type with its declared range, for `evoquant list`.
    pub fn type_text(&self) -> String {
        match &self.range {
            // A declared range is tighter than the Rust type's bounds.
            Some(r) => match self.ty {
                ParamType::Int { .. } => format!("integer {r}"),
                ParamType::IntList { .. } => format!("list of integers, each {r}"),
                ParamType::FloatList => format!("list of floats, each {r}"),
                ty => format!("{} {r}", ty.name()),
            },
            None => self.ty.name(),
        }
    }
}

/// A study's objection to a parameter value; the manifest layer turns it into
/// a located diagnostic pointing at wherever the value was set.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamIssue {
    pub key: String,
    pub message: String,
}

impl ParamIssue {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ParamIssue {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Something that can stand in a params struct: a leaf value or a nested
/// params struct (a TOML table).
pub trait Param {
    /// Push the docs of this parameter (or of every leaf under it) at `key`.
    fn describe(key: &str, doc: &'static str, out: &mut Vec<ParamDoc>);
    /// Push the declared range violations under `key`.
    fn check_ranges(&self, _key: &str, _out: &mut Vec<ParamIssue>) {}
}

/// A leaf parameter type and its manifest type.
pub trait Leaf {
    const TYPE: ParamType;
}

impl<T: Leaf> Param for T {
    fn describe(key: &str, doc: &'static str, out: &mut Vec<ParamDoc>) {
        out.push(ParamDoc {
            key: intern(key),
            ty: T::TYPE,
            doc,
            range: None,
        });
    }
}

const fn int_bound(x: u64) -> i64 {
    if x > i64::MAX as u64 {
        i64::MAX
    } else {
        x as i64
    }
}

macro_rules! int_leaves {
    ($($t:ty),*) => {$(
        impl Leaf for $t {
            const TYPE: ParamType = ParamType::Int { min: <$t>::MIN as i64, max: int_bound(<$t>::MAX as u64) };
        }
        impl Leaf for Vec<$t> {
            const TYPE: ParamType = ParamType::IntList { min: <$t>::MIN as i64, max: int_bound(<$t>::MAX as u64) };
        }
    )*};
}
int_leaves!(u8, u16, u32, u64, usize);

impl Leaf for i64 {
    const TYPE: ParamType = ParamType::Int {
        min: i64::MIN,
        max: i64::MAX,
    };
}
impl Leaf for f64 {
    const TYPE: ParamType = ParamType::Float;
}
impl Leaf for Vec<f64> {
    const TYPE: ParamType = ParamType::FloatList;
}
impl Leaf for bool {
    const TYPE: ParamType = ParamType::Bool;
}
impl Leaf for String {
    const TYPE: ParamType = ParamType::Str;
}
impl Leaf for Vec<String> {
    const TYPE: ParamType = ParamType::StrList;
}

/// A file path parameter, relative to the manifest's folder; empty means
/// "not given".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct FilePath(pub String);

impl FilePath {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for FilePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for FilePath {
    fn from(s: &str) -> Self {
        FilePath(s.to_string())
    }
}

impl Leaf for FilePath {
    const TYPE: ParamType = ParamType::Path;
}

/// A program and its arguments, or a list of files, relative to the
/// manifest's folder: every entry that names a file or folder there has its
/// content hashed into trial identity (as for [`FilePath`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct FilePaths(pub Vec<String>);

impl Leaf for FilePaths {
    const TYPE: ParamType = ParamType::PathList;
}

/// An enum chosen by name in manifests. Implemented by [`choice!`], which
/// also makes it a [`Leaf`] whose options are exactly its variants.
pub trait Choice: Copy + 'static {
    const ALL: &'static [Self];
    const NAMES: &'static [&'static str];
    fn name(self) -> &'static str;
}

/// Make an enum (with serde names in snake_case) a manifest choice: its
/// variants and their names are listed once, here.
///
/// ```ignore
/// choice!(Renewal { Generational => "generational", SteadyState => "steady_state" });
/// ```
#[macro_export]
macro_rules! choice {
    ($t:ty { $($v:ident => $n:literal),+ $(,)? }) => {
        impl $crate::params::Choice for $t {
            const ALL: &'static [Self] = &[$(<$t>::$v),+];
            const NAMES: &'static [&'static str] = &[$($n),+];
            fn name(self) -> &'static str {
                match self { $(<$t>::$v => $n),+ }
            }
        }
        impl $crate::params::Leaf for $t {
            const TYPE: $crate::params::ParamType =
                $crate::params::ParamType::Choice(<$t as $crate::params::Choice>::NAMES);
        }
    };
}

/// The declared range of a parameter, checked for a value or every element
/// of a list.
pub trait InRange<R> {
    fn violation(&self, range: &R) -> Option<String>;
}

/// How a declared range reads in `evoquant list`.
pub trait RangeText {
    fn text(&self) -> String;
}

impl<T: std::fmt::Display> RangeText for RangeInclusive<T> {
    fn text(&self) -> String {
        format!("{}..={}", self.start(), self.end())
    }
}

impl<T: std::fmt::Display> RangeText for RangeFrom<T> {
    fn text(&self) -> String {
        format!("≥ {}", self.start)
    }
}

impl RangeText for NonNegative {
    fn text(&self) -> String {
        "finite, ≥ 0".into()
    }
}

impl RangeText for Positive {
    fn text(&self) -> String {
        "finite, > 0".into()
    }
}

// Negated comparisons on purpose: NaN compares false, so it violates
// every range.
macro_rules! ranged_scalars {
    ($($t:ty),*) => {$(
        impl InRange<RangeInclusive<$t>> for $t {
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            fn violation(&self, r: &RangeInclusive<$t>) -> Option<String> {
                // Written so that NaN is outside every range.
                (!(*self >= *r.start() && *self <= *r.end()))
                    .then(|| format!("must be within {}..={}, got {self}", r.start(), r.end()))
            }
        }
        impl InRange<RangeFrom<$t>> for $t {
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            fn violation(&self, r: &RangeFrom<$t>) -> Option<String> {
                (!(*self >= r.start)).then(|| format!("must be at least {}, got {self}", r.start))
            }
        }
    )*};
}
ranged_scalars!(u8, u16, u32, u64, usize, i64, f64);

impl<T, R> InRange<R> for Vec<T>
where
    T: InRange<R>,
{
    fn violation(&self, r: &R) -> Option<String> {
        self.iter()
            .find_map(|x| x.violation(r))
            .map(|m| format!("each {m}"))
    }
}

/// Parameter keys live as long as the program: a study's schema is built
/// from its declaration on demand, and interning keeps its keys `&'static`
/// (a bounded set: one entry per declared parameter).
pub(crate) fn intern(key: &str) -> &'static str {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    static KEYS: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut keys = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = keys.get(key) {
        return k;
    }
    let k: &'static str = Box::leak(key.to_string().into_boxed_str());
    keys.insert(k);
    k
}

/// The range of a float that must be finite and ≥ 0 (a sigma, a speed, a
/// weight): `range NON_NEGATIVE`.
#[derive(Clone, Copy, Debug)]
pub struct NonNegative;
pub const NON_NEGATIVE: NonNegative = NonNegative;

/// The range of a float that must be finite and > 0: `range POSITIVE`.
#[derive(Clone, Copy, Debug)]
pub struct Positive;
pub const POSITIVE: Positive = Positive;

impl InRange<NonNegative> for f64 {
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    fn violation(&self, _: &NonNegative) -> Option<String> {
        (!(*self >= 0.0 && self.is_finite()))
            .then(|| format!("must be a finite number ≥ 0, got {self}"))
    }
}

impl InRange<Positive> for f64 {
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    fn violation(&self, _: &Positive) -> Option<String> {
        (!(*self > 0.0 && self.is_finite()))
            .then(|| format!("must be a finite number > 0, got {self}"))
    }
}

/// Dotted key of a field under a prefix.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Declare a params struct once: fields with their type, default, doc and
/// optional `range`. Generates the struct (serde, `deny_unknown_fields`,
/// `default`), its `Default`, and its [`Param`] impl (docs and range checks).
/// A field whose type is itself declared with `params!` becomes a nested
/// table (`arena.sensors`).
#[macro_export]
macro_rules! params {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident : $ty:ty = $default:expr $(, range $range:expr)?
            );* $(;)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $( $field: $default, )* }
            }
        }

        impl $crate::params::Param for $name {
            fn describe(key: &str, _doc: &'static str, out: &mut Vec<$crate::params::ParamDoc>) {
                $(
                    <$ty as $crate::params::Param>::describe(
                        &$crate::params::join(key, stringify!($field)),
                        concat!($($doc),*).trim_ascii(),
                        out,
                    );
                    $(
                        if let Some(doc) = out.last_mut() {
                            doc.range = Some($crate::params::RangeText::text(&$range));
                        }
                    )?
                )*
            }
            fn check_ranges(&self, key: &str, out: &mut Vec<$crate::params::ParamIssue>) {
                $(
                    let field_key = $crate::params::join(key, stringify!($field));
                    $crate::params::Param::check_ranges(&self.$field, &field_key, out);
                    $(
                        if let Some(m) = $crate::params::InRange::violation(&self.$field, &$range) {
                            out.push($crate::params::ParamIssue::new(field_key.clone(), m));
                        }
                    )?
                )*
            }
        }
    };
}

/// Does a TOML value fit a declared parameter type?
pub fn fits(ty: ParamType, value: &toml::Value) -> bool {
    ty.fits(value)
}

/// A fitting value in its canonical TOML type.
pub fn normalize(ty: ParamType, value: &toml::Value) -> toml::Value {
    ty.normalize(value)
}

/// Every leaf parameter of `P` with its type and doc, in declaration order.
pub fn docs_of<P: Param>() -> Vec<ParamDoc> {
    let mut out = Vec::new();
    P::describe("", "", &mut out);
    out
}

/// The declared range violations of a value.
pub fn range_issues<P: Param>(p: &P) -> Vec<ParamIssue> {
    let mut out = Vec::new();
    p.check_ranges("", &mut out);
    out
}

/// Every default of `P`, flattened to dotted keys.
pub fn defaults_of<P: Serialize + Default>() -> ParamSet {
    let value = toml::Value::try_from(P::default()).expect("params defaults serialize to TOML");
    let mut out = ParamSet::new();
    flatten("", &value, &mut out);
    out
}

/// Build a study's typed params from a flat parameter set. A failure names
/// the dotted key it happened at, so the manifest can point at the place
/// that set it.
pub fn typed<P: DeserializeOwned>(params: &ParamSet) -> Result<P, ParamIssue> {
    serde_path_to_error::deserialize(unflatten(params)).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        ParamIssue::new(key, e.into_inner().to_string())
    })
}

/// Flatten nested tables into dotted keys; arrays stay leaves.
pub fn flatten(prefix: &str, value: &toml::Value, out: &mut ParamSet) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(&join(prefix, k), v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), leaf.clone());
        }
    }
}

/// The inverse of [`flatten`].
pub fn unflatten(params: &ParamSet) -> toml::Value {
    let mut root = toml::Table::new();
    for (key, value) in params {
        let mut table = &mut root;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                table.insert(part.to_string(), value.clone());
            } else {
                table = table
                    .entry(part.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                    .expect("a parameter key path never passes through a leaf");
            }
        }
    }
    toml::Value::Table(root)
}

/// Check that a [`Choice`]'s names are its serde names (a test helper for
/// the modules that declare choices).
#[cfg(test)]
pub fn assert_choice_names_match_serde<T: Choice + Serialize>() {
    for v in T::ALL {
        let json = serde_json::to_value(v).unwrap();
        assert_eq!(
            json.as_str(),
            Some(v.name()),
            "{}",
            std::any::type_name::<T>()
        );
    }
    assert_eq!(T::ALL.len(), T::NAMES.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Colour {
        Red,
        DarkBlue,
    }
    crate::choice!(Colour { Red => "red", DarkBlue => "dark_blue" });

    crate::params! {
        pub struct Inner {
            /// Bits.
            bits: u32 = 4, range 1..=16;
        }
    }

    crate::params! {
        pub struct Outer {
            /// Genomes per generation.
            population: usize = 8, range 2..;
            /// A rate.
            rate: f64 = 0.5, range 0.0..=1.0;
            /// Widths.
            hidden: Vec<usize> = vec![8], range 1..=4096;
            colour: Colour = Colour::Red;
            inner: Inner = Inner::default();
        }
    }

    #[test]
    fn docs_come_from_the_declaration() {
        let docs = docs_of::<Outer>();
        let keys: Vec<_> = docs.iter().map(|d| d.key).collect();
        assert_eq!(
            keys,
            ["population", "rate", "hidden", "colour", "inner.bits"]
        );
        assert_eq!(docs[0].doc, "Genomes per generation.");
        assert_eq!(docs[0].type_text(), "integer ≥ 2");
        assert_eq!(docs[4].type_text(), "integer 1..=16");
        assert_eq!(
            docs[0].ty,
            ParamType::Int {
                min: 0,
                max: i64::MAX
            }
        );
        assert_eq!(docs[3].ty, ParamType::Choice(&["red", "dark_blue"]));
        assert_eq!(
            docs[4].ty,
            ParamType::Int {
                min: 0,
                max: u32::MAX as i64
            }
        );
        assert_choice_names_match_serde::<Colour>();
    }

    #[test]
    fn the_rust_type_bounds_the_manifest_type() {
        let usize_ty = <usize as Leaf>::TYPE;
        assert!(!usize_ty.fits(&toml::Value::Integer(-1)));
        assert!(usize_ty.fits(&toml::Value::Integer(0)));
        let u8_list = <Vec<u8> as Leaf>::TYPE;
        assert!(!u8_list.fits(&toml::Value::Array(vec![toml::Value::Integer(256)])));
        assert_eq!(usize_ty.name(), "non-negative integer");
        assert_eq!(<u32 as Leaf>::TYPE.name(), "integer in 0..=4294967295");
    }

    #[test]
    fn declared_ranges_are_checked_with_their_keys() {
        let mut p = Outer::default();
        assert!(range_issues(&p).is_empty());
        p.population = 1;
        p.rate = f64::NAN;
        p.hidden = vec![8, 0];
        p.inner.bits = 17;
        let keys: Vec<_> = range_issues(&p).into_iter().map(|i| i.key).collect();
        assert_eq!(keys, ["population", "rate", "hidden", "inner.bits"]);
    }

    #[test]
    fn typed_errors_name_the_key() {
        let mut flat = defaults_of::<Outer>();
        flat.insert("inner.bits".into(), toml::Value::String("x".into()));
        let e = typed::<Outer>(&flat).unwrap_err();
        assert_eq!(e.key, "inner.bits");
    }

    #[test]
    fn flatten_and_unflatten_are_inverse() {
        let v: toml::Value = toml::from_str("a = 1\n[q]\nbits = 4\nlist = [1, 2]\n").unwrap();
        let mut flat = ParamSet::new();
        flatten("", &v, &mut flat);
        assert_eq!(flat.keys().collect::<Vec<_>>(), ["a", "q.bits", "q.list"]);
        assert_eq!(unflatten(&flat), v);
    }
}
