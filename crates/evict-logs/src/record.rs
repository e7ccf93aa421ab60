//! One audit-log record as a lazily parsed JSON object.
//!
//! A record's top level is parsed once into (key, raw value) pairs; a nested value is only
//! looked at when a field under it is asked for, so a lookup of `eventName` never pays for
//! `requestParameters`. Values borrow from the record's bytes: a string without escapes is
//! returned without a copy. UTF-8 is checked for keys and for the values that are read, not for
//! the whole record; invalid bytes in a value read are replaced (U+FFFD), never an error.
//!
//! [`LazyRecord`] implements rsigma's [`Event`] with exactly the semantics of
//! [`rsigma_eval::JsonEvent`] (a literal key before a dotted path, fields inside arrays of objects
//! collected into an array, null distinct from absent, the last of duplicate keys wins), which a
//! differential test checks.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use rsigma_eval::{Event, EventValue};
use rsigma_parser::fieldpath::{first_unescaped, unescape_brackets};
use serde_json::Value;

/// Nesting deeper than this is not followed (the same cap as rsigma's `JsonEvent`).
const MAX_NESTING_DEPTH: usize = 64;
/// Arrays nested deeper than this are not converted or walked (serde_json's own recursion limit,
/// so `JsonEvent` never sees deeper values either).
const MAX_VALUE_DEPTH: usize = 128;

/// Why bytes are not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes are not JSON.
    #[error("invalid JSON at byte {offset} of the record: {message}")]
    NotJson {
        /// Byte offset within the record.
        offset: usize,
        /// What the parser expected.
        message: String,
    },
    /// Valid JSON, but not an object.
    #[error("not a JSON object (found {found} at byte {offset} of the record)")]
    NotObject {
        /// Byte offset within the record.
        offset: usize,
        /// What was found instead (`an array`, `a string`, …).
        found: &'static str,
    },
}

/// What kind of JSON value a [`JsonRef`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// `{…}`
    Object,
    /// `[…]`
    Array,
    /// `"…"`
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

/// One JSON value inside a record, unparsed: its raw bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JsonRef<'a>(&'a [u8]);

impl fmt::Debug for JsonRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonRef({})", String::from_utf8_lossy(self.0))
    }
}

impl<'a> JsonRef<'a> {
    /// The value's JSON text, exactly as in the record.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// The value's JSON text as text (invalid UTF-8 replaced), for messages.
    pub fn raw_text(&self) -> Cow<'a, str> {
        text_of(self.0)
    }

    /// The kind of value.
    pub fn kind(&self) -> JsonKind {
        match self.0.first() {
            Some(b'{') => JsonKind::Object,
            Some(b'[') => JsonKind::Array,
            Some(b'"') => JsonKind::String,
            Some(b't' | b'f') => JsonKind::Bool,
            Some(b'n') => JsonKind::Null,
            _ => JsonKind::Number,
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        self.kind() == JsonKind::Null
    }

    /// The string, unescaped (borrowed when it has no escapes); `None` for other kinds.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        (self.kind() == JsonKind::String).then(|| string_value(self.0))
    }

    /// A string as it is, a number or a boolean as its JSON text; `None` for null, objects and
    /// arrays. For fields whose type varies between producers (ids, epoch times).
    pub fn to_text(&self) -> Option<Cow<'a, str>> {
        match self.kind() {
            JsonKind::String => Some(string_value(self.0)),
            JsonKind::Number | JsonKind::Bool => Some(text_of(self.0)),
            _ => None,
        }
    }

    /// A number as `i64` when it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match number_value(self.0)? {
            EventValue::Int(n) => Some(n),
            _ => None,
        }
    }

    /// A number as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match number_value(self.0)? {
            EventValue::Int(n) => Some(n as f64),
            EventValue::Float(f) => Some(f),
            _ => None,
        }
    }

    /// `true` or `false`.
    pub fn as_bool(&self) -> Option<bool> {
        match self.0 {
            b"true" => Some(true),
            b"false" => Some(false),
            _ => None,
        }
    }

    /// An object, with its top level parsed.
    pub fn as_object(&self) -> Option<LazyRecord<'a>> {
        if self.kind() != JsonKind::Object {
            return None;
        }
        LazyRecord::parse_with_capacity(self.0, 8).ok()
    }

    /// The members of an array (empty for other kinds).
    pub fn array_items(&self) -> Vec<JsonRef<'a>> {
        let mut items = Vec::new();
        if self.kind() == JsonKind::Array {
            for_each_item(self.0, |item| items.push(item));
        }
        items
    }

    /// The value at a dotted path below this one (numeric segments index arrays).
    pub fn get(&self, path: &str) -> Option<JsonRef<'a>> {
        descend(*self, path)
    }

    /// The values of several keys of an object, found in one pass (the last of duplicate keys
    /// wins); all `None` when this is not an object.
    pub fn get_many<const N: usize>(&self, keys: [&str; N]) -> [Option<JsonRef<'a>>; N] {
        let mut found = [None; N];
        if self.kind() == JsonKind::Object {
            for_each_entry(self.0, |key, value| {
                for (slot, wanted) in found.iter_mut().zip(keys) {
                    if same_key(&key, wanted) {
                        *slot = Some(JsonRef(value));
                    }
                }
            });
        }
        found
    }

    /// The value as rsigma sees it.
    pub fn event_value(&self) -> EventValue<'a> {
        event_value(self.0, MAX_VALUE_DEPTH)
    }
}

/// A JSON object whose top level is parsed and whose nested values are parsed on demand.
#[derive(Clone)]
pub struct LazyRecord<'a> {
    bytes: &'a [u8],
    entries: Vec<(Key<'a>, &'a [u8])>,
    /// Nested objects already looked into, with their entries: Sigma rules and normalisation
    /// ask for many fields under the same object (`userIdentity.*`), which is then scanned once.
    nested: NestedCache<'a>,
}

/// Parsed entries of nested objects, by the object's place in the record.
#[derive(Clone, Default)]
struct NestedCache<'a> {
    objects: std::cell::RefCell<Vec<NestedObject<'a>>>,
}

/// One nested object's position (start, length) in the record, and its entries.
type NestedObject<'a> = (usize, usize, Vec<(Key<'a>, &'a [u8])>);

impl<'a> NestedCache<'a> {
    /// The value of `key` in the object `raw` (the last of duplicate keys wins).
    fn get(&self, raw: &'a [u8], key: &str) -> Option<&'a [u8]> {
        let place = (raw.as_ptr() as usize, raw.len());
        let mut objects = self.objects.borrow_mut();
        let at = match objects.iter().position(|(p, l, _)| (*p, *l) == place) {
            Some(at) => at,
            None => {
                let mut entries = Vec::new();
                for_each_entry(raw, |k, v| entries.push((k, v)));
                objects.push((place.0, place.1, entries));
                objects.len() - 1
            }
        };
        objects[at]
            .2
            .iter()
            .rev()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, v)| *v)
    }
}

impl fmt::Debug for LazyRecord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyRecord")
            .field("keys", &self.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<'a> LazyRecord<'a> {
    /// Parses the top level of one record (surrounding whitespace is allowed).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, RecordError> {
        Self::parse_with_capacity(bytes, 32)
    }

    /// Parses the top level of one record held as text.
    pub fn parse_str(text: &'a str) -> Result<Self, RecordError> {
        Self::parse(text.as_bytes())
    }

    fn parse_with_capacity(bytes: &'a [u8], capacity: usize) -> Result<Self, RecordError> {
        let start = skip_space(bytes, 0);
        let found = match bytes.get(start) {
            Some(b'{') => None,
            Some(b'[') => Some("an array"),
            Some(b'"') => Some("a string"),
            Some(b't' | b'f') => Some("a boolean"),
            Some(b'n') => Some("null"),
            Some(b'-' | b'0'..=b'9') => Some("a number"),
            Some(_) => {
                return Err(RecordError::NotJson {
                    offset: start,
                    message: "expected a JSON value".into(),
                });
            }
            None => {
                return Err(RecordError::NotJson {
                    offset: bytes.len(),
                    message: "empty record".into(),
                });
            }
        };
        if let Some(found) = found {
            return Err(RecordError::NotObject {
                offset: start,
                found,
            });
        }
        let mut entries = Vec::with_capacity(capacity);
        let mut iter = Entries::new(bytes, start);
        for entry in &mut iter {
            entries.push(entry.map_err(SyntaxError::into_record_error)?);
        }
        let end = skip_space(bytes, iter.end());
        if end < bytes.len() {
            return Err(RecordError::NotJson {
                offset: end,
                message: "unexpected characters after the end of the object".into(),
            });
        }
        Ok(LazyRecord {
            bytes,
            entries,
            nested: NestedCache::default(),
        })
    }

    /// The record's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The top-level keys, in record order (duplicates included).
    pub fn keys(&self) -> impl Iterator<Item = Cow<'_, str>> {
        self.entries.iter().map(|(k, _)| text_of(k))
    }

    /// The number of top-level entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the object is `{}`.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The whole record as a value.
    pub fn value(&self) -> JsonRef<'a> {
        JsonRef(self.bytes)
    }

    /// The top-level value of `key` (no path resolution; the last of duplicate keys wins).
    pub fn get_key(&self, key: &str) -> Option<JsonRef<'a>> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, raw)| JsonRef(raw))
    }

    /// The value at a dotted path (`userIdentity.sessionContext.attributes.creationDate`).
    ///
    /// A top-level key that contains dots (`@timestamp`, a flat `actor.id`) is tried first,
    /// then each dotted prefix as a top-level key, then plain nesting. A numeric segment
    /// selects an array member (`target.0.alternateId`). No fan-out over arrays: for Sigma's
    /// any-member semantics use [`Event::get_field`].
    pub fn get(&self, path: &str) -> Option<JsonRef<'a>> {
        if let Some(found) = self.get_key(path) {
            return Some(found);
        }
        for (dot, _) in path.match_indices('.') {
            if let Some(head) = self.get_key(&path[..dot])
                && let Some(found) = descend_with(head, &path[dot + 1..], Some(&self.nested))
            {
                return Some(found);
            }
        }
        None
    }

    /// The string at a dotted path (see [`LazyRecord::get`]); `None` when absent or not a
    /// string.
    pub fn get_str(&self, path: &str) -> Option<Cow<'a, str>> {
        self.get(path)?.as_str()
    }

    /// The nested object at a dotted path, with its top level parsed, for several lookups
    /// under it.
    pub fn object(&self, path: &str) -> Option<LazyRecord<'a>> {
        self.get(path)?.as_object()
    }

    /// The entries that are not shadowed by a later duplicate key.
    fn live_entries(&self) -> impl Iterator<Item = &(Key<'a>, &'a [u8])> {
        let keep = last_of_duplicates(&self.entries);
        self.entries
            .iter()
            .enumerate()
            .filter(move |(i, _)| keep.as_ref().is_none_or(|k| k[*i]))
            .map(|(_, e)| e)
    }
}

/// An object key, unescaped. Kept as bytes: keys are compared far more often than shown.
type Key<'a> = Cow<'a, [u8]>;

/// Whether a key is `wanted`.
#[inline]
fn same_key(key: &[u8], wanted: &str) -> bool {
    let wanted = wanted.as_bytes();
    let n = key.len();
    if n != wanted.len() {
        return false;
    }
    // Field names are short: compare them with two overlapping 8-byte loads, not a memcmp call
    // (keys of one length often share their first letters: eventName, eventTime, eventType).
    if n >= 8 {
        let word =
            |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default());
        if word(key, 0) != word(wanted, 0) || word(key, n - 8) != word(wanted, n - 8) {
            return false;
        }
        return n <= 16 || key[8..n - 8] == wanted[8..n - 8];
    }
    key.iter().zip(wanted).all(|(a, b)| a == b)
}

/// Bytes as text: borrowed when they are UTF-8, with U+FFFD for invalid bytes otherwise.
fn text_of(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// For each entry, whether it is the last with its key; `None` when there are no duplicates.
fn last_of_duplicates(entries: &[(Key<'_>, &[u8])]) -> Option<Vec<bool>> {
    let n = entries.len();
    let has_duplicates = if n <= 16 {
        (0..n).any(|i| (i + 1..n).any(|j| entries[i].0 == entries[j].0))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(n);
        !entries.iter().all(|(k, _)| seen.insert(k.as_ref()))
    };
    if !has_duplicates {
        return None;
    }
    let mut last: HashMap<&[u8], usize> = HashMap::with_capacity(n);
    for (i, (k, _)) in entries.iter().enumerate() {
        last.insert(k.as_ref(), i);
    }
    Some(
        entries
            .iter()
            .enumerate()
            .map(|(i, (k, _))| last.get(k.as_ref()) == Some(&i))
            .collect(),
    )
}

/// A string value's text: borrowed when it has no escapes and is UTF-8.
fn string_value(raw: &[u8]) -> Cow<'_, str> {
    let inner = match raw {
        [b'"', inner @ .., b'"'] => inner,
        _ => raw,
    };
    if memchr::memchr(b'\\', inner).is_none() {
        return text_of(inner);
    }
    match serde_json::from_slice::<String>(raw) {
        Ok(s) => Cow::Owned(s),
        // An invalid escape (the scanner does not check escapes): keep the text as written.
        Err(_) => text_of(inner),
    }
}

/// A number as rsigma's `JsonEvent` sees it (serde_json's `Number`: `i64` when it fits,
/// otherwise `f64`).
fn number_value(raw: &[u8]) -> Option<EventValue<'static>> {
    if !raw.is_empty() && raw.len() <= 18 && raw.iter().all(u8::is_ascii_digit) {
        let n = raw.iter().fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
        return Some(EventValue::Int(n));
    }
    let number: serde_json::Number = serde_json::from_slice(raw).ok()?;
    Some(match number.as_i64() {
        Some(n) => EventValue::Int(n),
        None => EventValue::Float(number.as_f64().unwrap_or(f64::NAN)),
    })
}

/// Converts a raw value the way `EventValue::from(&serde_json::Value)` does.
fn event_value(raw: &[u8], depth: usize) -> EventValue<'_> {
    match raw.first() {
        Some(b'"') => EventValue::Str(string_value(raw)),
        Some(b't') => EventValue::Bool(true),
        Some(b'f') => EventValue::Bool(false),
        Some(b'n') | None => EventValue::Null,
        Some(b'[') => {
            if depth == 0 {
                return EventValue::Null;
            }
            let mut items = Vec::new();
            for_each_item(raw, |item| items.push(event_value(item.0, depth - 1)));
            EventValue::Array(items)
        }
        Some(b'{') => {
            // Objects are rare as Sigma values; serde_json gives the exact key order and
            // duplicate handling of `JsonEvent`.
            match serde_json::from_slice::<Value>(raw) {
                Ok(value) => owned_event_value(&value),
                Err(_) => EventValue::Null,
            }
        }
        Some(_) => number_value(raw).unwrap_or(EventValue::Null),
    }
}

fn owned_event_value(value: &Value) -> EventValue<'static> {
    match EventValue::from(value) {
        EventValue::Str(s) => EventValue::Str(Cow::Owned(s.into_owned())),
        EventValue::Array(_) => EventValue::Array(
            value
                .as_array()
                .map(|a| a.iter().map(owned_event_value).collect())
                .unwrap_or_default(),
        ),
        EventValue::Map(_) => EventValue::Map(
            value
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (Cow::Owned(k.clone()), owned_event_value(v)))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        EventValue::Int(n) => EventValue::Int(n),
        EventValue::Float(f) => EventValue::Float(f),
        EventValue::Bool(b) => EventValue::Bool(b),
        EventValue::Null => EventValue::Null,
    }
}

/// Calls `visit` with each member of an array's raw text (stops quietly on malformed text).
fn for_each_item<'a>(raw: &'a [u8], mut visit: impl FnMut(JsonRef<'a>)) {
    for item in Items::new(raw, 0) {
        let Ok(item) = item else { return };
        visit(JsonRef(item));
    }
}

/// Calls `visit` with each (key, value) of an object's raw text (stops quietly on malformed
/// text).
fn for_each_entry<'a>(raw: &'a [u8], mut visit: impl FnMut(Key<'a>, &'a [u8])) {
    for entry in Entries::new(raw, 0) {
        let Ok((key, value)) = entry else { return };
        visit(key, value);
    }
}

/// The value of `key` in an object's raw text; the last of duplicate keys wins.
fn object_get<'a>(raw: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let mut found = None;
    for_each_entry(raw, |k, v| {
        if same_key(&k, key) {
            found = Some(v);
        }
    });
    found
}

/// Plain dotted descent below a value; numeric segments index arrays.
fn descend<'a>(value: JsonRef<'a>, path: &str) -> Option<JsonRef<'a>> {
    descend_with(value, path, None)
}

/// [`descend`], remembering the objects it looks into in `cache` when there is one.
fn descend_with<'a>(
    mut value: JsonRef<'a>,
    path: &str,
    cache: Option<&NestedCache<'a>>,
) -> Option<JsonRef<'a>> {
    for segment in path.split('.') {
        value = match value.kind() {
            JsonKind::Object => JsonRef(match cache {
                Some(cache) => cache.get(value.0, segment)?,
                None => object_get(value.0, segment)?,
            }),
            JsonKind::Array => {
                let index: usize = segment.parse().ok()?;
                Items::new(value.0, 0).nth(index)?.ok().map(JsonRef)?
            }
            _ => return None,
        };
    }
    Some(value)
}

// -------------------------------------------------------------------------------------------
// The scanner: one level of an object or array at a time. Strings are skipped with memchr,
// nested values by bracket matching; scalars are checked against JSON's grammar. Nested values
// are checked when they are looked into.
// -------------------------------------------------------------------------------------------

/// A syntax error at a byte offset of the scanned text.
#[derive(Debug, Clone, Copy)]
struct SyntaxError {
    offset: usize,
    message: &'static str,
}

impl SyntaxError {
    fn into_record_error(self) -> RecordError {
        RecordError::NotJson {
            offset: self.offset,
            message: self.message.into(),
        }
    }
}

fn syntax(offset: usize, message: &'static str) -> SyntaxError {
    SyntaxError { offset, message }
}

#[inline]
fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// The index of the first `"` or `\\` at or after `i`. Eight bytes at a time: most strings in
/// logs are short, where a call into a SIMD search costs more than it saves.
#[inline]
pub(crate) fn find_quote_or_backslash(b: &[u8], mut i: usize) -> Option<usize> {
    let start = i;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let quote = w ^ (ONES * u64::from(b'"'));
        let slash = w ^ (ONES * u64::from(b'\\'));
        // A zero byte in `quote` or `slash` is a match; the lowest flagged byte is exact.
        let found =
            ((quote.wrapping_sub(ONES) & !quote) | (slash.wrapping_sub(ONES) & !slash)) & HIGH;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
        if i - start >= 64 && b.len() - i >= 64 {
            // A long string: let SIMD take over.
            return memchr::memchr2(b'"', b'\\', &b[i..]).map(|k| i + k);
        }
    }
    b.get(i..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|k| i + k)
}

/// From the opening quote at `i`, the index just after the closing quote.
#[inline]
fn skip_string(b: &[u8], i: usize) -> Result<usize, SyntaxError> {
    scan_string(b, i).map(|(end, _)| end)
}

/// From the opening quote at `i`, the index just after the closing quote, and whether the
/// string has escapes.
#[inline]
fn scan_string(b: &[u8], mut i: usize) -> Result<(usize, bool), SyntaxError> {
    let open = i;
    let mut escapes = false;
    i += 1;
    loop {
        match find_quote_or_backslash(b, i) {
            None => return Err(syntax(open, "unterminated string")),
            Some(j) => {
                if b[j] == b'"' {
                    return Ok((j + 1, escapes));
                }
                escapes = true;
                i = j + 2;
            }
        }
    }
}

/// From a container's opening bracket at `i`, the index just after its closing bracket.
/// Bracket kinds are checked to a depth of 128.
fn skip_container(b: &[u8], mut i: usize) -> Result<usize, SyntaxError> {
    let open = i;
    // One bit per open bracket: 1 for `{`, 0 for `[`; deeper nesting is not checked.
    let mut kinds: u128 = 0;
    let mut depth: usize = 0;
    let mut checked = true;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = skip_string(b, i)?;
                continue;
            }
            c @ (b'{' | b'[') => {
                kinds = (kinds << 1) | u128::from(c == b'{');
                depth += 1;
                checked &= depth <= 128;
            }
            c @ (b'}' | b']') => {
                if checked && ((kinds & 1) == 1) != (c == b'}') {
                    return Err(syntax(i, "mismatched bracket"));
                }
                kinds >>= 1;
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(syntax(open, "unterminated object or array"))
}

/// From a number's first byte at `i`, the index just after it (JSON's number grammar).
fn skip_number(b: &[u8], mut i: usize) -> Result<usize, SyntaxError> {
    let start = i;
    let digits = |b: &[u8], mut i: usize| {
        let from = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        (i, i > from)
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(b, i).0,
        _ => return Err(syntax(start, "invalid number")),
    }
    if b.get(i) == Some(&b'.') {
        let (next, any) = digits(b, i + 1);
        if !any {
            return Err(syntax(start, "invalid number"));
        }
        i = next;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let (next, any) = digits(b, i);
        if !any {
            return Err(syntax(start, "invalid number"));
        }
        i = next;
    }
    Ok(i)
}

/// From a value's first byte at `i`, the index just after it.
#[inline]
fn skip_value(b: &[u8], i: usize) -> Result<usize, SyntaxError> {
    let literal = |word: &[u8]| {
        if b[i..].starts_with(word) {
            Ok(i + word.len())
        } else {
            Err(syntax(i, "invalid literal"))
        }
    };
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'{' | b'[') => skip_container(b, i),
        Some(b't') => literal(b"true"),
        Some(b'f') => literal(b"false"),
        Some(b'n') => literal(b"null"),
        Some(b'-' | b'0'..=b'9') => skip_number(b, i),
        Some(_) => Err(syntax(i, "expected a JSON value")),
        None => Err(syntax(i, "unexpected end of record")),
    }
}

/// A key's bytes: borrowed when it has no escapes.
fn key_text(b: &[u8], open: usize, end: usize, escapes: bool) -> Key<'_> {
    let inner = &b[open + 1..end - 1];
    if !escapes {
        return Cow::Borrowed(inner);
    }
    match serde_json::from_slice::<String>(&b[open..end]) {
        Ok(key) => Cow::Owned(key.into_bytes()),
        Err(_) => Cow::Borrowed(inner),
    }
}

/// The entries of the object whose `{` is at `start` of `text`.
struct Entries<'a> {
    text: &'a [u8],
    pos: usize,
    first: bool,
    done: bool,
}

impl<'a> Entries<'a> {
    fn new(text: &'a [u8], start: usize) -> Self {
        let ok = text.get(start) == Some(&b'{');
        Entries {
            text,
            pos: start + 1,
            first: true,
            done: !ok,
        }
    }

    /// The index just after the closing brace (once the iterator has finished cleanly).
    fn end(&self) -> usize {
        self.pos
    }

    fn step(&mut self) -> Result<Option<(Key<'a>, &'a [u8])>, SyntaxError> {
        let b = self.text;
        let mut i = skip_space(b, self.pos);
        if self.first {
            self.first = false;
            if b.get(i) == Some(&b'}') {
                self.pos = i + 1;
                return Ok(None);
            }
        } else {
            match b.get(i) {
                Some(b',') => i = skip_space(b, i + 1),
                Some(b'}') => {
                    self.pos = i + 1;
                    return Ok(None);
                }
                Some(_) => return Err(syntax(i, "expected ',' or '}'")),
                None => return Err(syntax(i, "unexpected end of record")),
            }
        }
        if b.get(i) != Some(&b'"') {
            return Err(syntax(i, "expected a string key"));
        }
        let (key_end, escapes) = scan_string(b, i)?;
        let key = key_text(b, i, key_end, escapes);
        i = skip_space(b, key_end);
        if b.get(i) != Some(&b':') {
            return Err(syntax(i, "expected ':'"));
        }
        i = skip_space(b, i + 1);
        let end = skip_value(b, i)?;
        self.pos = end;
        Ok(Some((key, &self.text[i..end])))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<(Key<'a>, &'a [u8]), SyntaxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = self.step();
        if !matches!(step, Ok(Some(_))) {
            self.done = true;
        }
        step.transpose()
    }
}

/// The members of the array whose `[` is at `start` of `text`.
struct Items<'a> {
    text: &'a [u8],
    pos: usize,
    first: bool,
    done: bool,
}

impl<'a> Items<'a> {
    fn new(text: &'a [u8], start: usize) -> Self {
        let ok = text.get(start) == Some(&b'[');
        Items {
            text,
            pos: start + 1,
            first: true,
            done: !ok,
        }
    }

    fn step(&mut self) -> Result<Option<&'a [u8]>, SyntaxError> {
        let b = self.text;
        let mut i = skip_space(b, self.pos);
        if self.first {
            self.first = false;
            if b.get(i) == Some(&b']') {
                self.pos = i + 1;
                return Ok(None);
            }
        } else {
            match b.get(i) {
                Some(b',') => i = skip_space(b, i + 1),
                Some(b']') => {
                    self.pos = i + 1;
                    return Ok(None);
                }
                Some(_) => return Err(syntax(i, "expected ',' or ']'")),
                None => return Err(syntax(i, "unexpected end of array")),
            }
        }
        let end = skip_value(b, i)?;
        self.pos = end;
        Ok(Some(&self.text[i..end]))
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<&'a [u8], SyntaxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = self.step();
        if !matches!(step, Ok(Some(_))) {
            self.done = true;
        }
        step.transpose()
    }
}

// -------------------------------------------------------------------------------------------
// rsigma's Event, mirroring `JsonEvent` (rsigma-eval 0.23, src/event/json.rs).
// -------------------------------------------------------------------------------------------

/// One step of a Sigma field path.
enum PathOp<'p> {
    /// Object key; distributes over arrays.
    Key(Cow<'p, str>),
    /// Positional array index, negative from the end.
    Index(i64),
}

fn path_root_key(path: &str) -> Option<Cow<'_, str>> {
    let segment = match first_unescaped(path, b'.') {
        Some(0) => return None,
        Some(pos) => &path[..pos],
        None => path,
    };
    if segment.is_empty() {
        return None;
    }
    let name = match first_unescaped(segment, b'[') {
        Some(0) => return None,
        Some(pos) => &segment[..pos],
        None => segment,
    };
    if name.is_empty() {
        return None;
    }
    Some(unescape_brackets(name))
}

fn parse_index_groups(s: &str) -> Option<Vec<i64>> {
    let mut out = Vec::new();
    let mut rem = s;
    while !rem.is_empty() {
        let rest = rem.strip_prefix('[')?;
        let close = rest.find(']')?;
        out.push(rest[..close].parse().ok()?);
        rem = &rest[close + 1..];
    }
    Some(out)
}

fn parse_path_ops(path: &str) -> Vec<PathOp<'_>> {
    let mut ops = Vec::new();
    for part in path.split('.') {
        let groups = first_unescaped(part, b'[')
            .and_then(|bpos| Some((bpos, parse_index_groups(&part[bpos..])?)));
        match groups {
            Some((bpos, indices)) => {
                let name = &part[..bpos];
                if !name.is_empty() {
                    ops.push(PathOp::Key(unescape_brackets(name)));
                }
                ops.extend(indices.into_iter().map(PathOp::Index));
            }
            None => ops.push(PathOp::Key(unescape_brackets(part))),
        }
    }
    ops
}

fn resolve_array_index(index: i64, len: usize) -> Option<usize> {
    if index >= 0 {
        usize::try_from(index).ok().filter(|&i| i < len)
    } else {
        usize::try_from(index.unsigned_abs())
            .ok()
            .and_then(|abs| len.checked_sub(abs))
    }
}

/// Plain dotted paths with fewer dots than this take the fast path of `get_field`.
const PLAIN_PATH_SEGMENTS: usize = 8;

/// [`collect_by_ops`] for a plain dotted path: every segment an object key (distributing over
/// arrays), none escaped.
fn collect_by_keys<'a>(
    current: &'a [u8],
    keys: &[&str],
    out: &mut Vec<EventValue<'a>>,
    depth: usize,
    cache: &NestedCache<'a>,
) {
    let Some((key, rest)) = keys.split_first() else {
        out.push(event_value(current, MAX_VALUE_DEPTH));
        return;
    };
    if depth == 0 {
        return;
    }
    match current.first() {
        Some(b'{') => {
            if let Some(next) = cache.get(current, key) {
                collect_by_keys(next, rest, out, depth - 1, cache);
            }
        }
        Some(b'[') => {
            for_each_item(current, |item| {
                collect_by_keys(item.0, keys, out, depth - 1, cache)
            });
        }
        _ => {}
    }
}

fn collect_by_ops<'a>(
    current: &'a [u8],
    ops: &[PathOp<'_>],
    out: &mut Vec<EventValue<'a>>,
    depth: usize,
    cache: &NestedCache<'a>,
) {
    let Some((op, rest)) = ops.split_first() else {
        out.push(event_value(current, MAX_VALUE_DEPTH));
        return;
    };
    if depth == 0 {
        return;
    }
    match (op, current.first()) {
        (PathOp::Key(key), Some(b'{')) => {
            if let Some(next) = cache.get(current, key) {
                collect_by_ops(next, rest, out, depth - 1, cache);
            }
        }
        (PathOp::Key(_), Some(b'[')) => {
            for_each_item(current, |item| {
                collect_by_ops(item.0, ops, out, depth - 1, cache)
            });
        }
        (PathOp::Index(i), Some(b'[')) => {
            let items = JsonRef(current).array_items();
            if let Some(idx) = resolve_array_index(*i, items.len()) {
                collect_by_ops(items[idx].0, rest, out, depth - 1, cache);
            }
        }
        _ => {}
    }
}

fn visit_strings<'a>(
    raw: &'a [u8],
    visit: &mut dyn FnMut(Cow<'a, str>) -> bool,
    depth: usize,
) -> bool {
    if depth == 0 {
        return false;
    }
    match raw.first() {
        Some(b'"') => visit(string_value(raw)),
        Some(b'[') => {
            let mut stop = false;
            for_each_item(raw, |item| {
                if !stop {
                    stop = visit_strings(item.0, visit, depth - 1);
                }
            });
            stop
        }
        Some(b'{') => {
            let mut entries = Vec::new();
            for_each_entry(raw, |k, v| entries.push((k, v)));
            let keep = last_of_duplicates(&entries);
            for (i, (_, v)) in entries.iter().enumerate() {
                if keep.as_ref().is_none_or(|k| k[i]) && visit_strings(v, visit, depth - 1) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

impl<'a> LazyRecord<'a> {
    /// Visits every string leaf (depth-capped like `JsonEvent`) until `visit` returns `true`;
    /// returns whether it did.
    fn walk_strings(&self, visit: &mut dyn FnMut(Cow<'a, str>) -> bool) -> bool {
        for (_, raw) in self.live_entries() {
            if visit_strings(raw, visit, MAX_NESTING_DEPTH - 1) {
                return true;
            }
        }
        false
    }
}

impl Event for LazyRecord<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        if let Some(found) = self.get_key(path) {
            return Some(found.event_value());
        }
        let (mut dots, mut special) = (0usize, false);
        for b in path.bytes() {
            match b {
                b'.' => dots += 1,
                b'[' | b'\\' => special = true,
                _ => {}
            }
        }
        if dots == 0 && !special {
            return None;
        }
        if !special && dots < PLAIN_PATH_SEGMENTS {
            // A plain dotted path (almost every Sigma field): no escapes or indexes to parse.
            let mut segments = [""; PLAIN_PATH_SEGMENTS];
            for (slot, segment) in segments.iter_mut().zip(path.split('.')) {
                *slot = segment;
            }
            let value = self.get_key(segments[0])?;
            let mut collected = Vec::new();
            collect_by_keys(
                value.0,
                &segments[1..=dots],
                &mut collected,
                MAX_VALUE_DEPTH,
                &self.nested,
            );
            return match collected.len() {
                0 => None,
                1 => collected.pop(),
                _ => Some(EventValue::Array(collected)),
            };
        }
        if let Some(root) = path_root_key(path)
            && self.get_key(&root).is_none()
        {
            return None;
        }
        let ops = parse_path_ops(path);
        let (first, rest) = ops.split_first()?;
        let mut collected = Vec::new();
        // The root is this object: a leading key selects an entry; a leading index selects
        // nothing (the root is not an array).
        if let PathOp::Key(key) = first
            && let Some(value) = self.get_key(key)
        {
            collect_by_ops(value.0, rest, &mut collected, MAX_VALUE_DEPTH, &self.nested);
        }
        match collected.len() {
            0 => None,
            1 => collected.pop(),
            _ => Some(EventValue::Array(collected)),
        }
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.walk_strings(&mut |s| pred(&s))
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        self.walk_strings(&mut |s| {
            out.push(s);
            false
        });
        out
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        self.walk_strings(&mut |s| {
            visit(&s);
            false
        });
    }

    fn to_json(&self) -> Value {
        serde_json::from_slice(self.bytes).unwrap_or(Value::Null)
    }

    fn top_level_keys(&self) -> Option<Vec<Cow<'_, str>>> {
        Some(self.live_entries().map(|(k, _)| text_of(k)).collect())
    }

    fn visit_top_level_keys(&self, visit: &mut dyn FnMut(&str)) -> bool {
        for (key, _) in &self.entries {
            visit(&text_of(key));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_exactly_at_every_length() {
        let names = [
            "",
            "a",
            "ab",
            "eventNam",
            "eventName",
            "eventTime",
            "eventType",
            "requestParameters",
            "requestParametert",
            "sessionContext.attributes",
            "userIdentity",
            "userIdentitY",
            "responseElements",
            "xesponseElements",
            "1234567",
            "12345678",
            "123456789",
        ];
        for a in names {
            for b in names {
                assert_eq!(same_key(a.as_bytes(), b), a == b, "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn top_level_and_nested_lookups() {
        let rec = LazyRecord::parse(
            br#" {"eventName":"CreateUser","@timestamp":"t","actor.id":"flat",
                "actor":{"id":"nested","n":[{"x":1},{"x":"two"}]},"esc":"a\u0062\"c","n":null} "#,
        )
        .unwrap();
        assert_eq!(rec.get_str("eventName").as_deref(), Some("CreateUser"));
        assert_eq!(rec.get_str("@timestamp").as_deref(), Some("t"));
        assert_eq!(rec.get_str("actor.id").as_deref(), Some("flat"));
        assert_eq!(
            rec.get("actor.n.1.x").unwrap().as_str().as_deref(),
            Some("two")
        );
        assert_eq!(rec.get("actor.n.0.x").unwrap().as_i64(), Some(1));
        assert_eq!(rec.get_str("esc").as_deref(), Some("ab\"c"));
        assert!(rec.get("n").unwrap().is_null());
        assert!(rec.get("missing").is_none());
        assert!(rec.get("actor.missing").is_none());
    }

    #[test]
    fn dotted_prefix_key_then_nesting() {
        let rec = LazyRecord::parse(br#"{"a.b":{"c":"yes"}}"#).unwrap();
        assert_eq!(rec.get_str("a.b.c").as_deref(), Some("yes"));
    }

    #[test]
    fn errors_carry_offsets() {
        assert_eq!(
            LazyRecord::parse(b"  [1]").unwrap_err(),
            RecordError::NotObject {
                offset: 2,
                found: "an array"
            }
        );
        let RecordError::NotJson { offset, .. } =
            LazyRecord::parse(br#"{"a":1,"b" 2}"#).unwrap_err()
        else {
            panic!("expected NotJson")
        };
        assert_eq!(offset, 11);
        // Invalid UTF-8 in a value is replaced when read, not an error.
        let rec = LazyRecord::parse(b"{\"a\":\"\xff\",\"b\":\"ok\"}").unwrap();
        assert_eq!(rec.get_str("a").as_deref(), Some("\u{fffd}"));
        assert_eq!(rec.get_str("b").as_deref(), Some("ok"));
        assert!(matches!(
            LazyRecord::parse(br#"{"a":1} {"b":2}"#).unwrap_err(),
            RecordError::NotJson { offset: 8, .. }
        ));
        assert!(matches!(
            LazyRecord::parse(br#"{"a":1"#).unwrap_err(),
            RecordError::NotJson { .. }
        ));
        assert!(LazyRecord::parse(b"{ }").unwrap().is_empty());
        assert!(LazyRecord::parse(b"").is_err());
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let rec = LazyRecord::parse(br#"{"a":"first","b":{"c":1,"c":2},"a":"second"}"#).unwrap();
        assert_eq!(rec.get_str("a").as_deref(), Some("second"));
        assert_eq!(rec.get("b.c").unwrap().as_i64(), Some(2));
        assert_eq!(rec.all_string_values(), vec![Cow::Borrowed("second")]);
    }
}
