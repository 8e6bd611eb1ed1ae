//! One file of the configuration, from YAML text to `RawConfig`, with every structural problem
//! collected instead of only the first.
//!
//! serde_saphyr parses the YAML and gives values their positions (`Spanned`); the `Raw*`
//! structs (here and in the sections' own modules) say which keys exist. Between the two sits
//! `Tracked`, a deserializer that wraps serde_saphyr's and follows the walk the derived
//! `Deserialize` implementations make, keeping the key path (`workflows[0].steps[1].http.url`):
//!
//! - A struct names its keys when it asks for a mapping (the `fields` of `deserialize_struct`).
//!   A key that is not among them is reported with its position and key path, its value is
//!   skipped, and reading goes on, so one run finds every unknown key. The schema is the
//!   structs themselves: there is no second list of keys to keep in step.
//! - A key written twice in one mapping is reported and its later value skipped (serde_saphyr
//!   is told to pass repeated keys on rather than fail at the first).
//! - The position of every key, and the text of its value when that is a scalar, is recorded
//!   by key path (`Places`), so that a problem found later and named only by its key path
//!   still gets a line and column.
//! - What stops reading (YAML that does not parse, a value of the wrong type, a required key
//!   that is missing) ends the file with one more problem, at the position serde_saphyr gives,
//!   under the key path being read.
//!
//! Why not parse into a YAML tree first and check it against a schema: the validation needs the
//! positions that `Spanned` carries, and only serde_saphyr's own deserializer fills them in, so
//! the values have to be read by it anyway. Wrapping it checks the keys in that same pass,
//! against the same structs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::value::StringDeserializer;
use serde::de::{
    self, DeserializeSeed, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde_saphyr::{DuplicateKeyPolicy, Location, MessageFormatter, Options, Spanned};

use super::ConfigIssue;
use super::raw::RawConfig;

/// Where each key of one file is, by key path.
#[derive(Debug, Default)]
pub(crate) struct Places(BTreeMap<String, Place>);

/// One key: its position, and its value when that is a scalar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    /// 1-based line of the key.
    pub line: u64,
    /// 1-based column of the key.
    pub column: u64,
    /// The value as read, when it is a scalar (a string, a number, a boolean).
    pub scalar: Option<String>,
}

impl Places {
    /// The key at `path` (`notifications.channels.mail.email.host`).
    pub(crate) fn get(&self, path: &str) -> Option<&Place> {
        self.0.get(path)
    }
}

/// What reading one file gave.
pub(crate) struct ReadFile {
    /// The file as written, unless a problem stopped reading it.
    pub raw: Option<RawConfig>,
    /// Where its keys are.
    pub places: Places,
    /// Unknown and repeated keys, and the problem that stopped reading, if one did.
    pub issues: Vec<ConfigIssue>,
}

/// Reads one file; `file` is only used in problems.
pub(crate) fn read(file: &Path, text: &str) -> ReadFile {
    let tracker = Tracker {
        file,
        state: RefCell::default(),
    };
    if text.trim().is_empty() {
        return ReadFile {
            raw: Some(RawConfig::default()),
            places: Places::default(),
            issues: Vec::new(),
        };
    }
    let mut options = Options::default();
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    options.with_snippet = false;
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        RawConfig::deserialize(Tracked {
            inner: de,
            tracker: &tracker,
            path: String::new(),
            spanned: false,
        })
    });
    let raw = match result {
        Ok(raw) => Some(raw),
        Err(error) => {
            let path = tracker.state.borrow().failed_at.clone().unwrap_or_default();
            let at = error.location().unwrap_or(Location::UNKNOWN);
            tracker.issue(at, &path, message(&error));
            None
        }
    };
    let state = tracker.state.into_inner();
    ReadFile {
        raw,
        places: Places(state.places),
        issues: state.issues,
    }
}

/// What stopped reading, in words for the person who wrote the file (serde_saphyr's own,
/// where they are already that).
fn message(error: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error;
    match error.without_snippet() {
        Error::SerdeMissingField { field, .. } => format!("missing key `{field}`"),
        Error::InvalidScalar { ty, .. } => format!("expected {}", scalar(ty)),
        Error::Unexpected { expected, .. } => match *expected {
            "mapping start" => "expected a mapping (`key: value` entries)".to_owned(),
            "sequence start" => "expected a list (`- item` entries or `[a, b]`)".to_owned(),
            "string scalar" => "expected a single value, not a list or a mapping".to_owned(),
            other => format!("expected {other}"),
        },
        other => serde_saphyr::UserMessageFormatter
            .format_message(other)
            .into_owned(),
    }
}

/// What a value of a Rust scalar type is, for a person.
fn scalar(ty: &str) -> String {
    match ty {
        "u8" => "a whole number from 0 to 255".to_owned(),
        "u16" => "a whole number from 0 to 65535".to_owned(),
        "u32" => "a whole number from 0 to 4294967295".to_owned(),
        "u64" | "u128" | "usize" => "a whole number of 0 or more".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "bool" | "boolean" => "true or false".to_owned(),
        "char" => "a single character".to_owned(),
        other => format!("a value of type {other}"),
    }
}

/// What the walk found so far, shared by every wrapper of one file.
struct Tracker<'f> {
    file: &'f Path,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    places: BTreeMap<String, Place>,
    issues: Vec<ConfigIssue>,
    /// The key path of the deepest value whose reading failed.
    failed_at: Option<String>,
}

impl Tracker<'_> {
    fn issue(&self, at: Location, path: &str, message: String) {
        self.state.borrow_mut().issues.push(ConfigIssue {
            file: self.file.to_owned(),
            line: at.line(),
            column: at.column(),
            path: path.to_owned(),
            message,
        });
    }

    fn place(&self, path: &str, at: Location) {
        self.state.borrow_mut().places.insert(
            path.to_owned(),
            Place {
                line: at.line(),
                column: at.column(),
                scalar: None,
            },
        );
    }

    /// Remembers the scalar value of the key at `path`.
    fn scalar(&self, path: &str, value: &dyn fmt::Display) {
        if let Some(place) = self.state.borrow_mut().places.get_mut(path) {
            place.scalar = Some(value.to_string());
        }
    }

    /// Remembers where reading failed; the deepest value fails first.
    fn failed(&self, path: &str) {
        let mut state = self.state.borrow_mut();
        if state.failed_at.is_none() {
            state.failed_at = Some(path.to_owned());
        }
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// serde_saphyr's deserializer (or one it hands out for a nested value), positioned at the
/// value found at `path`.
struct Tracked<'t, 'f, D> {
    inner: D,
    tracker: &'t Tracker<'f>,
    path: String,
    /// Whether this is the inside of a newtype. The only newtype the raw structs hold is
    /// `Spanned`, which asks for any value and is handed a mapping of its value and positions
    /// (`SpannedMap`); another newtype would still be read right, only less closely checked.
    spanned: bool,
}

/// What the value at a path is read as.
#[derive(Clone, Copy)]
enum Shape {
    /// A struct: a mapping with these keys only.
    Struct(&'static [&'static str]),
    /// Anything else: a map with any keys, a list, a scalar.
    Open,
    /// The mapping a `Spanned` reads itself from: its `value` entry is the value as written.
    Spanned,
}

impl<'t, 'f, D> Tracked<'t, 'f, D> {
    fn visit<V>(self, visitor: V, shape: Shape) -> (D, Visit<'t, 'f, V>) {
        (
            self.inner,
            Visit {
                inner: visitor,
                tracker: self.tracker,
                path: self.path,
                shape,
            },
        )
    }
}

macro_rules! forward_open {
    ($($method:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            let (inner, visit) = self.visit(visitor, Shape::Open);
            inner.$method(visit)
        }
    )*};
}

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Tracked<'_, '_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let shape = if self.spanned {
            Shape::Spanned
        } else {
            Shape::Open
        };
        let (inner, visit) = self.visit(visitor, shape);
        inner.deserialize_any(visit)
    }

    forward_open!(
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (inner, visit) = self.visit(visitor, Shape::Open);
        inner.deserialize_unit_struct(name, visit)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (inner, visit) = self.visit(visitor, Shape::Open);
        inner.deserialize_newtype_struct(name, visit)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (inner, visit) = self.visit(visitor, Shape::Open);
        inner.deserialize_tuple(len, visit)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (inner, visit) = self.visit(visitor, Shape::Open);
        inner.deserialize_tuple_struct(name, len, visit)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (inner, visit) = self.visit(visitor, Shape::Struct(fields));
        inner.deserialize_struct(name, fields, visit)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (inner, visit) = self.visit(visitor, Shape::Open);
        inner.deserialize_enum(name, variants, visit)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// A seed that reads its value through `Tracked`.
struct TrackedSeed<'t, 'f, S> {
    inner: S,
    tracker: &'t Tracker<'f>,
    path: String,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for TrackedSeed<'_, '_, S> {
    type Value = S::Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Tracked {
            inner: deserializer,
            tracker: self.tracker,
            path: self.path,
            spanned: false,
        })
    }
}

/// The visitor of a value at `path`: records scalars, and wraps what it is handed to read
/// nested values (mappings, lists, optional and newtype values).
struct Visit<'t, 'f, V> {
    inner: V,
    tracker: &'t Tracker<'f>,
    path: String,
    shape: Shape,
}

macro_rules! record_scalar {
    ($($method:ident: $ty:ty),* $(,)?) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
            self.tracker.scalar(&self.path, &value);
            self.inner.$method(value)
        }
    )*};
}

macro_rules! forward_value {
    ($($method:ident: $ty:ty),* $(,)?) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
            self.inner.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Visit<'_, '_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    record_scalar!(
        visit_bool: bool,
        visit_i8: i8,
        visit_i16: i16,
        visit_i32: i32,
        visit_i64: i64,
        visit_i128: i128,
        visit_u8: u8,
        visit_u16: u16,
        visit_u32: u32,
        visit_u64: u64,
        visit_u128: u128,
        visit_f32: f32,
        visit_f64: f64,
        visit_char: char,
        visit_str: &str,
        visit_borrowed_str: &'de str,
        visit_string: String,
    );

    forward_value!(
        visit_bytes: &[u8],
        visit_borrowed_bytes: &'de [u8],
        visit_byte_buf: Vec<u8>,
    );

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Tracked {
            inner: deserializer,
            tracker: self.tracker,
            path: self.path,
            spanned: false,
        })
    }

    fn visit_newtype_struct<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(Tracked {
            inner: deserializer,
            tracker: self.tracker,
            path: self.path,
            spanned: true,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(Seq {
            inner: seq,
            tracker: self.tracker,
            path: self.path,
            index: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        match self.shape {
            Shape::Spanned => self.inner.visit_map(SpannedMap {
                inner: map,
                tracker: self.tracker,
                path: self.path,
                value_next: false,
            }),
            Shape::Struct(fields) => self.inner.visit_map(Map {
                inner: map,
                tracker: self.tracker,
                path: self.path,
                fields: Some(fields),
                seen: BTreeMap::new(),
                value_path: None,
            }),
            Shape::Open => self.inner.visit_map(Map {
                inner: map,
                tracker: self.tracker,
                path: self.path,
                fields: None,
                seen: BTreeMap::new(),
                value_path: None,
            }),
        }
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

/// A list: element `i` is at `path[i]`.
struct Seq<'t, 'f, A> {
    inner: A,
    tracker: &'t Tracker<'f>,
    path: String,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<'_, '_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        let path = format!("{}[{}]", self.path, self.index);
        self.index += 1;
        let seed = TrackedSeed {
            inner: seed,
            tracker: self.tracker,
            path: path.clone(),
        };
        self.inner.next_element_seed(seed).inspect_err(|_| {
            self.tracker.failed(&path);
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// A mapping as written: each key is read with its position, checked against `fields` (for a
/// struct) and against the keys before it, and recorded.
struct Map<'t, 'f, A> {
    inner: A,
    tracker: &'t Tracker<'f>,
    path: String,
    fields: Option<&'static [&'static str]>,
    seen: BTreeMap<String, Location>,
    /// The path of the value to read next.
    value_path: Option<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<'_, '_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(key) = self.inner.next_key::<Spanned<String>>()? else {
                return Ok(None);
            };
            let (name, at) = (key.value, key.referenced);
            let path = child(&self.path, &name);
            if let Some(first) = self.seen.get(&name) {
                self.tracker.issue(
                    at,
                    &path,
                    format!(
                        "key `{name}` appears twice in this mapping (first at line {}, column {}); \
                         remove one",
                        first.line(),
                        first.column()
                    ),
                );
                self.inner.next_value::<IgnoredAny>()?;
                continue;
            }
            self.seen.insert(name.clone(), at);
            if let Some(fields) = self.fields
                && !fields.contains(&name.as_str())
            {
                self.tracker.issue(
                    at,
                    &path,
                    format!("unknown key `{name}`; valid here: {}", fields.join(", ")),
                );
                self.inner.next_value::<IgnoredAny>()?;
                continue;
            }
            self.tracker.place(&path, at);
            self.value_path = Some(path);
            let key: StringDeserializer<A::Error> = name.into_deserializer();
            return seed.deserialize(key).map(Some);
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let path = self.value_path.take().unwrap_or_else(|| self.path.clone());
        let seed = TrackedSeed {
            inner: seed,
            tracker: self.tracker,
            path: path.clone(),
        };
        self.inner.next_value_seed(seed).inspect_err(|_| {
            self.tracker.failed(&path);
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// The mapping through which a `Spanned` reads itself: its `value` entry is the value as
/// written (read on at the same path); the other entries (positions) are passed on as they are.
struct SpannedMap<'t, 'f, A> {
    inner: A,
    tracker: &'t Tracker<'f>,
    path: String,
    value_next: bool,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for SpannedMap<'_, '_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(key) = self.inner.next_key::<String>()? else {
            return Ok(None);
        };
        self.value_next = key == "value";
        let key: StringDeserializer<A::Error> = key.into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        if std::mem::take(&mut self.value_next) {
            self.inner.next_value_seed(TrackedSeed {
                inner: seed,
                tracker: self.tracker,
                path: self.path.clone(),
            })
        } else {
            self.inner.next_value_seed(seed)
        }
    }
}
