//! Mapping files: how the records of another application's JSON log become events
//! (format: `docs/log-mapping.md`).

use std::path::Path;

use evict_model::{Event, Outcome, Provider, RawPointer, SessionContext};
use serde::Deserialize;

use super::{NormalizeError, event, string, text, time_of};
use crate::ip::normalize_ip;
use crate::record::LazyRecord;

/// How the time field is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// RFC 3339 text, or epoch seconds/milliseconds told apart by size.
    #[default]
    Auto,
    /// RFC 3339 / ISO 8601 text (`2024-03-01T12:00:00Z`; no offset means UTC).
    Rfc3339,
    /// Milliseconds since 1970 (a number or numeric text).
    EpochMs,
    /// Seconds since 1970 (a number or numeric text, fractions allowed).
    EpochS,
}

/// A mapping file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct MappingError {
    /// The file.
    pub origin: String,
    /// The 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    provider: String,
    time: String,
    #[serde(default)]
    time_format: TimeFormat,
    action: String,
    id: Option<String>,
    service: Option<String>,
    actor: Option<String>,
    actor_kind: Option<String>,
    credential: Option<String>,
    credential_kind: Option<String>,
    session: Option<String>,
    target: Option<String>,
    source: Option<String>,
    user_agent: Option<String>,
    outcome: Option<String>,
    success_values: Option<Vec<String>>,
    failure_values: Option<Vec<String>>,
    error_code: Option<String>,
    account: Option<String>,
    region: Option<String>,
    /// The Sigma logsource these records are (`product: gcp`, `service: gcp.audit`): the rules
    /// written for it run on them.
    #[serde(default)]
    logsource: Option<crate::sigma::DeclaredLogSource>,
}

const DEFAULT_SUCCESS: &[&str] = &[
    "success",
    "succeeded",
    "ok",
    "allow",
    "allowed",
    "true",
    "pass",
];
const DEFAULT_FAILURE: &[&str] = &[
    "failure", "failed", "fail", "deny", "denied", "error", "false", "blocked", "rejected",
];

/// A parsed mapping file: which dotted path of a record holds each event field.
#[derive(Debug, Clone)]
pub struct Mapping {
    provider: Provider,
    file: MappingFile,
    success: Vec<String>,
    failure: Vec<String>,
}

impl Mapping {
    /// The Sigma logsource the file declares for its records, if any.
    pub fn logsource(&self) -> Option<crate::sigma::DeclaredLogSource> {
        self.file.logsource.clone()
    }

    /// Reads and parses a mapping file.
    pub fn load(path: &Path) -> Result<Mapping, MappingError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| MappingError {
            origin: origin.clone(),
            line: None,
            message: format!("cannot read the mapping file: {e}"),
        })?;
        Mapping::parse(&text, &origin)
    }

    /// Parses a mapping file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Mapping, MappingError> {
        let file: MappingFile = yaml_serde::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line());
            let mut message = e.to_string();
            // The line is shown in front; drop the parser's own "at line N column M".
            if line.is_some()
                && let Some(at) = message.rfind(" at line ")
            {
                message.truncate(at);
            }
            MappingError {
                origin: origin.to_string(),
                line,
                message,
            }
        })?;
        let line_of = |key: &str| {
            text.lines()
                .position(|l| l.trim_start().starts_with(&format!("{key}:")))
                .map(|i| i + 1)
        };
        let provider = Provider::new(&file.provider).map_err(|e| MappingError {
            origin: origin.to_string(),
            line: line_of("provider"),
            message: e.to_string(),
        })?;
        for (key, path) in [("time", &file.time), ("action", &file.action)] {
            if path.trim().is_empty() {
                return Err(MappingError {
                    origin: origin.to_string(),
                    line: line_of(key),
                    message: format!(
                        "'{key}' must name a field (a dotted path such as event.time)"
                    ),
                });
            }
        }
        let lower = |values: &Option<Vec<String>>, default: &[&str]| match values {
            Some(v) => v.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
            None => default.iter().map(|s| s.to_string()).collect(),
        };
        Ok(Mapping {
            provider,
            success: lower(&file.success_values, DEFAULT_SUCCESS),
            failure: lower(&file.failure_values, DEFAULT_FAILURE),
            file,
        })
    }

    /// The provider the mapped events belong to.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// Normalises one record through this mapping.
    pub fn normalize(
        &self,
        rec: &LazyRecord<'_>,
        raw: RawPointer,
    ) -> Result<Event, NormalizeError> {
        let m = &self.file;
        let time = time_of(rec, &[m.time.as_str()], m.time_format)?;
        let raw_action = text(rec, &m.action).ok_or_else(|| NormalizeError::MissingAction {
            field: m.action.clone(),
        })?;
        let action = format!("{}:{}", self.provider, raw_action.to_ascii_lowercase());
        let mut ev = event(time, self.provider.clone(), raw_action, action, raw);
        let get = |path: &Option<String>| path.as_deref().and_then(|p| text(rec, p));
        ev.id = get(&m.id);
        ev.service = get(&m.service);
        ev.actor_name = get(&m.actor);
        ev.actor_kind = get(&m.actor_kind);
        ev.credential_native_id = get(&m.credential);
        if ev.credential_native_id.is_some() {
            ev.credential_kind = m.credential_kind.clone();
        }
        if let Some(id) = get(&m.session) {
            ev.session = Some(SessionContext {
                id: Some(id),
                ..SessionContext::default()
            });
        }
        ev.target = get(&m.target);
        ev.source = m.source.as_deref().and_then(|p| string(rec, p));
        ev.source_ip = ev.source.as_deref().and_then(normalize_ip);
        ev.user_agent = get(&m.user_agent);
        ev.outcome = match get(&m.outcome) {
            Some(value) => {
                let value = value.trim().to_ascii_lowercase();
                if self.success.contains(&value) {
                    Outcome::Success
                } else if self.failure.contains(&value) {
                    Outcome::Failure
                } else {
                    Outcome::Unknown
                }
            }
            None => Outcome::Unknown,
        };
        ev.error_code = get(&m.error_code);
        ev.account = get(&m.account);
        ev.region = get(&m.region);
        Ok(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_file_and_line() {
        let err = Mapping::parse("provider: myapp\ntime: ts\naction: a\nactorr: x\n", "m.yml")
            .unwrap_err();
        assert_eq!(err.line, Some(4), "{err}");
        assert!(err.to_string().starts_with("m.yml:4: "), "{err}");
        assert!(err.to_string().contains("actorr"), "{err}");

        let err = Mapping::parse("provider: My App!\ntime: ts\naction: a\n", "m.yml").unwrap_err();
        assert_eq!(err.line, Some(1), "{err}");

        let err = Mapping::parse("provider: x\ntime: ts\n", "m.yml").unwrap_err();
        assert!(err.to_string().contains("action"), "{err}");

        let err = Mapping::parse(
            "provider: x\ntime: ts\naction: a\ntime_format: iso\n",
            "m.yml",
        )
        .unwrap_err();
        assert_eq!(err.line, Some(4), "{err}");
    }
}
