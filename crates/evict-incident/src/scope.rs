//! What an incident covers (its scope references) and when (its exposure window), checked
//! before anything is stored.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The kinds of thing an incident's scope can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// One identity: an Evict id (`i_…`) or `provider:external-id`.
    Identity,
    /// Every identity of a provider (`provider:aws`).
    Provider,
    /// An identity system whose signing keys and trust anchors are in scope (`system:okta`).
    System,
    /// A repository or folder that was scanned: every secret seen in it.
    Repo,
    /// A host whose files were collected and scanned: every secret seen under a path with a
    /// component of that name.
    Host,
}

impl ScopeKind {
    /// Every kind, in the order they are listed.
    pub const ALL: &'static [ScopeKind] = &[
        ScopeKind::Identity,
        ScopeKind::Provider,
        ScopeKind::System,
        ScopeKind::Repo,
        ScopeKind::Host,
    ];

    /// The word before the colon.
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Identity => "identity",
            ScopeKind::Provider => "provider",
            ScopeKind::System => "system",
            ScopeKind::Repo => "repo",
            ScopeKind::Host => "host",
        }
    }
}

/// One scope reference, `kind:value`, as given (the store resolves it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ScopeRef {
    /// What it names.
    pub kind: ScopeKind,
    /// The name, id or path.
    pub value: String,
}

/// A scope reference that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope '{given}': {reason}")]
pub struct ScopeError {
    /// The text given.
    pub given: String,
    /// What is wrong and what would be right.
    pub reason: String,
}

impl ScopeRef {
    /// Reads `kind:value`, e.g. `identity:aws:ci-deploy`, `repo:./infra`, `provider:okta`.
    pub fn parse(text: &str) -> Result<ScopeRef, ScopeError> {
        let err = |reason: String| ScopeError {
            given: text.to_string(),
            reason,
        };
        let kinds = ScopeKind::ALL
            .iter()
            .map(|k| format!("{}:…", k.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let Some((kind, value)) = text.trim().split_once(':') else {
            return Err(err(format!("expected KIND:VALUE, one of {kinds}")));
        };
        let kind = match kind.trim().to_ascii_lowercase().as_str() {
            "identity" => ScopeKind::Identity,
            "provider" => ScopeKind::Provider,
            "system" => ScopeKind::System,
            "repo" => ScopeKind::Repo,
            "host" => ScopeKind::Host,
            other => return Err(err(format!("unknown kind '{other}'; expected {kinds}"))),
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(err(format!("nothing after '{}:'", kind.as_str())));
        }
        Ok(ScopeRef {
            kind,
            value: value.to_string(),
        })
    }
}

impl fmt::Display for ScopeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.value)
    }
}

/// The exposure window: from when the attacker may have been in to when the hole was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// When the attacker got in (or the earliest time it may have).
    pub compromised_at: Timestamp,
    /// When the hole was closed.
    pub patched_at: Timestamp,
}

/// A window that cannot be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// The patch is before the compromise.
    #[error(
        "--patched-at {patched_at} is before --compromised-at {compromised_at}: the window would be empty; check the order of the two times"
    )]
    PatchedBeforeCompromised {
        /// Given compromise time.
        compromised_at: Timestamp,
        /// Given patch time.
        patched_at: Timestamp,
    },
    /// A time after now.
    #[error(
        "{flag} {at} is in the future (now is {now}); give the time the event happened, in UTC (e.g. 2026-05-22T00:00:00Z)"
    )]
    InFuture {
        /// Which flag.
        flag: &'static str,
        /// The time given.
        at: Timestamp,
        /// The clock.
        now: Timestamp,
    },
}

impl Window {
    /// Checks the order of the two times and that neither is in the future.
    pub fn new(
        compromised_at: Timestamp,
        patched_at: Timestamp,
        now: Timestamp,
    ) -> Result<Window, WindowError> {
        for (flag, at) in [
            ("--compromised-at", compromised_at),
            ("--patched-at", patched_at),
        ] {
            if at > now {
                return Err(WindowError::InFuture { flag, at, now });
            }
        }
        if patched_at < compromised_at {
            return Err(WindowError::PatchedBeforeCompromised {
                compromised_at,
                patched_at,
            });
        }
        Ok(Window {
            compromised_at,
            patched_at,
        })
    }

    /// Whether `at` falls inside the window (both ends included).
    pub fn contains(&self, at: Timestamp) -> bool {
        self.compromised_at <= at && at <= self.patched_at
    }
}

/// Whether a secret's location falls under a `repo:` or `host:` scope reference. Paths are
/// compared after `normalise` (the caller's: canonical where the path exists, so `./infra`
/// and `/src/infra` agree).
pub fn location_in_scope(
    scope: &ScopeRef,
    location: &evict_model::Location,
    normalise: &dyn Fn(&str) -> String,
) -> bool {
    use evict_model::Location;
    let under = |path: &str, root: &str| {
        let (path, root) = (normalise(path), normalise(root));
        path == root
            || path
                .strip_prefix(root.trim_end_matches('/'))
                .is_some_and(|rest| rest.starts_with('/'))
    };
    let has_component = |path: &str, name: &str| path.split(['/', '\\']).any(|c| c == name);
    match (scope.kind, location) {
        (ScopeKind::Repo, Location::Git { repo, .. }) => under(repo, &scope.value),
        (ScopeKind::Repo, Location::File { path, .. }) => under(path, &scope.value),
        (ScopeKind::Repo, Location::Message { .. }) => false,
        (ScopeKind::Host, Location::File { path, .. }) => has_component(path, &scope.value),
        (ScopeKind::Host, Location::Git { repo, .. }) => has_component(repo, &scope.value),
        (ScopeKind::Host, Location::Message { .. }) => false,
        (ScopeKind::Identity | ScopeKind::Provider | ScopeKind::System, _) => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn scope_references_parse_with_their_kind() {
        let r = ScopeRef::parse("identity:aws:ci-deploy").unwrap();
        assert_eq!(r.kind, ScopeKind::Identity);
        assert_eq!(r.value, "aws:ci-deploy");
        assert_eq!(r.to_string(), "identity:aws:ci-deploy");
        assert_eq!(
            ScopeRef::parse(" Repo: ./infra ").unwrap(),
            ScopeRef {
                kind: ScopeKind::Repo,
                value: "./infra".into()
            }
        );
    }

    #[test]
    fn bad_scope_references_say_what_is_expected() {
        let e = ScopeRef::parse("team:payments").unwrap_err();
        assert!(e.to_string().contains("unknown kind 'team'"), "{e}");
        assert!(e.to_string().contains("identity:…"), "{e}");
        let e = ScopeRef::parse("payments").unwrap_err();
        assert!(e.to_string().contains("expected KIND:VALUE"), "{e}");
        let e = ScopeRef::parse("host:").unwrap_err();
        assert!(e.to_string().contains("nothing after 'host:'"), "{e}");
    }

    #[test]
    fn locations_fall_under_repo_and_host_scopes() {
        use evict_model::Location;
        let same = |p: &str| p.trim_start_matches("./").trim_end_matches('/').to_string();
        let file = |p: &str| Location::File {
            path: p.into(),
            entry: None,
            line: 1,
            column: 1,
        };
        let repo = ScopeRef::parse("repo:./infra/").unwrap();
        assert!(location_in_scope(&repo, &file("infra/deploy/.env"), &same));
        assert!(location_in_scope(&repo, &file("infra"), &same));
        assert!(!location_in_scope(
            &repo,
            &file("infrastructure/.env"),
            &same
        ));
        let host = ScopeRef::parse("host:web-01").unwrap();
        assert!(location_in_scope(
            &host,
            &file("evidence/web-01/etc/app.env"),
            &same
        ));
        assert!(!location_in_scope(
            &host,
            &file("evidence/web-011/etc/app.env"),
            &same
        ));
        let provider = ScopeRef::parse("provider:aws").unwrap();
        assert!(!location_in_scope(&provider, &file("aws/x"), &same));
    }

    #[test]
    fn windows_refuse_wrong_order_and_the_future() {
        let now = t("2026-06-01T00:00:00Z");
        let w = Window::new(t("2026-05-22T00:00:00Z"), t("2026-05-26T00:00:00Z"), now).unwrap();
        assert!(w.contains(t("2026-05-22T00:00:00Z")));
        assert!(w.contains(t("2026-05-24T00:00:00Z")));
        assert!(!w.contains(t("2026-05-26T00:00:01Z")));
        let e = Window::new(t("2026-05-26T00:00:00Z"), t("2026-05-22T00:00:00Z"), now).unwrap_err();
        assert!(matches!(e, WindowError::PatchedBeforeCompromised { .. }));
        assert!(e.to_string().contains("before --compromised-at"), "{e}");
        let e = Window::new(t("2026-05-22T00:00:00Z"), t("2026-07-01T00:00:00Z"), now).unwrap_err();
        assert!(
            e.to_string()
                .contains("--patched-at 2026-07-01T00:00:00Z is in the future"),
            "{e}"
        );
    }
}
