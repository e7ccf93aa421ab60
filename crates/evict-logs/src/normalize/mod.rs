//! Records to [`evict_model::Event`]s.
//!
//! Each source has its own module; they share one rule: a record that has no usable time or
//! action name cannot be an event and is an error (the caller reports it with file and offset),
//! while every other field that is missing or of an unexpected type simply becomes `None`.

mod cloudtrail;
mod github;
mod mapping;
mod okta;

use std::borrow::Cow;

use evict_model::{Event, Outcome, Provider, RawPointer};
use jiff::Timestamp;

use crate::read::SourceKind;
use crate::record::{JsonKind, JsonRef, LazyRecord};

pub use mapping::{Mapping, MappingError, TimeFormat};

/// Why a record could not become an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// None of the time fields is present.
    #[error("no usable time: {field} is missing")]
    MissingTime {
        /// The field(s) looked at.
        field: String,
    },
    /// The time field does not hold a time.
    #[error("no usable time: {field} {value:?} is not a time")]
    BadTime {
        /// The field.
        field: String,
        /// Its value (shortened).
        value: String,
    },
    /// The action name is missing.
    #[error("no action: {field} is missing or not a string")]
    MissingAction {
        /// The field looked at.
        field: String,
    },
    /// `jsonl` records are normalised through a mapping file.
    #[error("JSON lines are normalised through a mapping file: pass --mapping FILE")]
    NeedsMapping,
}

impl NormalizeError {
    /// A short reason to count skipped records by.
    pub fn category(&self) -> &'static str {
        match self {
            NormalizeError::MissingTime { .. } | NormalizeError::BadTime { .. } => {
                "record without a usable time"
            }
            NormalizeError::MissingAction { .. } => "record without an action",
            NormalizeError::NeedsMapping => "no mapping file for JSON lines",
        }
    }
}

/// Normalises a record of a built-in source (CloudTrail, Okta, GitHub). JSON lines need a
/// mapping: use [`Normalizer`] or [`Mapping::normalize`]; here they are an error.
pub fn normalize(
    kind: SourceKind,
    rec: &LazyRecord<'_>,
    pointer: RawPointer,
) -> Result<Event, NormalizeError> {
    match kind {
        SourceKind::CloudTrail => cloudtrail::normalize(rec, pointer),
        SourceKind::Okta => okta::normalize(rec, pointer),
        SourceKind::GitHub => github::normalize(rec, pointer),
        SourceKind::JsonLines => Err(NormalizeError::NeedsMapping),
    }
}

/// Normalises records of any source: the built-ins, and JSON lines through a mapping.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    mapping: Option<Mapping>,
}

impl Normalizer {
    /// A normaliser; `mapping` is used for `jsonl` records.
    pub fn new(mapping: Option<Mapping>) -> Self {
        Normalizer { mapping }
    }

    /// Normalises one record of `kind`.
    pub fn normalize(
        &self,
        kind: SourceKind,
        rec: &LazyRecord<'_>,
        pointer: RawPointer,
    ) -> Result<Event, NormalizeError> {
        match (kind, &self.mapping) {
            (SourceKind::JsonLines, Some(mapping)) => mapping.normalize(rec, pointer),
            _ => normalize(kind, rec, pointer),
        }
    }
}

/// A new event with the required fields and every optional one empty.
fn event(
    time: Timestamp,
    provider: Provider,
    raw_action: String,
    action: String,
    raw: RawPointer,
) -> Event {
    Event {
        time,
        provider,
        id: None,
        service: None,
        action,
        raw_action,
        actor: None,
        actor_name: None,
        actor_kind: None,
        credential: None,
        credential_native_id: None,
        credential_kind: None,
        session: None,
        target: None,
        created: None,
        source: None,
        source_ip: None,
        user_agent: None,
        outcome: Outcome::Unknown,
        error_code: None,
        account: None,
        region: None,
        raw,
    }
}

/// The provider of a built-in source (validated once).
fn builtin_provider(kind: SourceKind) -> Provider {
    static PROVIDERS: std::sync::OnceLock<[Provider; 3]> = std::sync::OnceLock::new();
    let providers = PROVIDERS.get_or_init(|| {
        ["aws", "okta", "github"].map(|name| {
            Provider::new(name)
                .unwrap_or_else(|_| unreachable!("built-in provider names are valid"))
        })
    });
    match kind {
        SourceKind::Okta => providers[1].clone(),
        SourceKind::GitHub => providers[2].clone(),
        _ => providers[0].clone(),
    }
}

/// A non-empty string at `path`.
fn string(rec: &LazyRecord<'_>, path: &str) -> Option<String> {
    let value = rec.get(path)?.as_str()?;
    (!value.is_empty()).then(|| value.into_owned())
}

/// A non-empty string value, owned.
fn owned(value: Option<JsonRef<'_>>) -> Option<String> {
    let text = value?.as_str()?;
    (!text.is_empty()).then(|| text.into_owned())
}

/// A non-empty string, or a number as text, at `path` (ids whose type varies).
fn text(rec: &LazyRecord<'_>, path: &str) -> Option<String> {
    let value = rec.get(path)?.to_text()?;
    (!value.is_empty()).then(|| value.into_owned())
}

/// The first non-empty string among `paths`.
fn first_string(rec: &LazyRecord<'_>, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|path| string(rec, path))
}

/// The event's time from the first of `fields` that is present.
fn time_of(
    rec: &LazyRecord<'_>,
    fields: &[&str],
    format: TimeFormat,
) -> Result<Timestamp, NormalizeError> {
    for field in fields {
        let Some(value) = rec.get(field) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        return parse_time(value, format).ok_or_else(|| NormalizeError::BadTime {
            field: (*field).to_string(),
            value: shorten(&value.raw_text()),
        });
    }
    Err(NormalizeError::MissingTime {
        field: fields.join(" or "),
    })
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// A time in a JSON value: RFC 3339 text (an offset-less date-time is taken as UTC), or epoch
/// seconds or milliseconds as a number or numeric text.
pub(crate) fn parse_time(value: JsonRef<'_>, format: TimeFormat) -> Option<Timestamp> {
    let text: Cow<'_, str> = match value.kind() {
        JsonKind::String => value.as_str()?,
        JsonKind::Number => value.raw_text(),
        _ => return None,
    };
    let text = text.trim();
    let numeric = !text.is_empty()
        && text.bytes().all(|b| {
            b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'e' || b == b'E' || b == b'+'
        })
        && text.bytes().any(|b| b.is_ascii_digit())
        && !text[1..].contains('-');
    match format {
        TimeFormat::Rfc3339 => parse_text_time(text),
        TimeFormat::EpochMs => epoch(text, 1_000.0),
        TimeFormat::EpochS => epoch(text, 1.0),
        TimeFormat::Auto if numeric => {
            let n: f64 = text.parse().ok()?;
            // 1e11 seconds is the year 5138; 1e11 milliseconds is 1973.
            epoch(text, if n.abs() >= 1e11 { 1_000.0 } else { 1.0 })
        }
        TimeFormat::Auto => parse_text_time(text),
    }
}

fn parse_text_time(text: &str) -> Option<Timestamp> {
    if let Some(ts) = fast_utc_time(text) {
        return Some(ts);
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the shape every supported log writes, without the cost
/// of a general parser. Anything else (offsets, leap seconds, odd widths) is left to jiff.
fn fast_utc_time(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() < 20 || b[b.len() - 1] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let n = num(20..b.len() - 1)?;
            n * 10i64.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    Timestamp::new(seconds, nanos as i32).ok()
}

fn epoch(text: &str, per_second: f64) -> Option<Timestamp> {
    if let Ok(n) = text.parse::<i64>() {
        let ms = if per_second == 1.0 {
            n.checked_mul(1_000)?
        } else {
            n
        };
        return Timestamp::from_millisecond(ms).ok();
    }
    let n: f64 = text.parse().ok()?;
    if !n.is_finite() {
        return None;
    }
    let nanos = n / per_second * 1e9;
    if nanos.abs() >= 9.2e18 {
        return None;
    }
    Timestamp::from_nanosecond(nanos as i128).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(json: &str, format: TimeFormat) -> Option<String> {
        let wrapped = format!("{{\"t\":{json}}}");
        let rec = LazyRecord::parse(wrapped.as_bytes()).unwrap();
        parse_time(rec.get("t").unwrap(), format).map(|t| t.to_string())
    }

    #[test]
    fn fast_time_agrees_with_jiff() {
        for text in [
            "2024-03-01T12:00:00Z",
            "2024-02-29T23:59:59.999999999Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.5Z",
            "2000-02-29T00:00:00.1Z",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "2100-03-01T00:00:00.000Z",
        ] {
            assert_eq!(
                fast_utc_time(text),
                text.parse::<Timestamp>().ok(),
                "{text}"
            );
        }
        for text in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.1234567890Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00+00:00",
        ] {
            assert_eq!(fast_utc_time(text), None, "{text}");
        }
    }

    #[test]
    fn times() {
        let auto = TimeFormat::Auto;
        assert_eq!(
            time("\"2024-03-01T12:00:00Z\"", auto).as_deref(),
            Some("2024-03-01T12:00:00Z")
        );
        assert_eq!(
            time("\"2024-03-01T12:00:00.123+02:00\"", auto).as_deref(),
            Some("2024-03-01T10:00:00.123Z")
        );
        assert_eq!(
            time("\"2024-03-01 12:00:00\"", auto).as_deref(),
            Some("2024-03-01T12:00:00Z")
        );
        assert_eq!(
            time("1709294400000", auto).as_deref(),
            Some("2024-03-01T12:00:00Z")
        );
        assert_eq!(
            time("\"1709294400\"", auto).as_deref(),
            Some("2024-03-01T12:00:00Z")
        );
        assert_eq!(
            time("1709294400.5", TimeFormat::EpochS).as_deref(),
            Some("2024-03-01T12:00:00.5Z")
        );
        assert_eq!(
            time("1709294400", TimeFormat::EpochMs).as_deref(),
            Some("1970-01-20T18:48:14.4Z")
        );
        assert_eq!(time("\"yesterday\"", auto), None);
        assert_eq!(time("true", auto), None);
        assert_eq!(time("1e300", auto), None);
        assert_eq!(time("\"2024-13-01T00:00:00Z\"", auto), None);
        assert_eq!(time("\"-\"", auto), None);
    }
}
