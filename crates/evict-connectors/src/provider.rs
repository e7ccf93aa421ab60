//! The contract every provider keeps (docs/specs/connector.md): discover what exists, act on
//! one artifact, and verify with a probe of its own that the act took effect.

use std::time::Duration;

use evict_model::{ActionKind, Credential, CredentialKind, Evidence, EvidenceVerdict, Identity};
use jiff::Timestamp;

/// What a provider is asked to act on: one identity, credential or session, by the provider's
/// own reference (a role name, a key id, a backend's pid), never "everything of this user".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// What it is.
    pub kind: TargetKind,
    /// The provider's reference.
    pub native_id: String,
}

/// The kinds of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// A user, role, service account.
    Identity,
    /// A credential of an identity (a password, key, token, or a live session).
    Credential(CredentialKind),
}

impl TargetKind {
    /// `identity`, or the credential kind (`password`, `session`, …), as the store keeps it.
    pub fn as_text(self) -> &'static str {
        match self {
            TargetKind::Identity => "identity",
            TargetKind::Credential(kind) => kind.as_str(),
        }
    }

    /// The inverse of [`TargetKind::as_text`].
    pub fn from_text(text: &str) -> Option<TargetKind> {
        if text == "identity" {
            return Some(TargetKind::Identity);
        }
        text.parse().ok().map(TargetKind::Credential)
    }
}

impl std::fmt::Display for TargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_text())
    }
}

impl Target {
    /// An identity target.
    pub fn identity(native_id: impl Into<String>) -> Target {
        Target {
            kind: TargetKind::Identity,
            native_id: native_id.into(),
        }
    }

    /// What `provider`'s probe of this target found, as evidence taken now.
    pub fn evidence(&self, provider: &str, verdict: EvidenceVerdict, detail: String) -> Evidence {
        Evidence {
            subject: format!("{provider}:{}", self.native_id),
            verdict,
            detail,
            at: jiff::Timestamp::now(),
        }
    }

    /// A credential target.
    pub fn credential(kind: CredentialKind, native_id: impl Into<String>) -> Target {
        Target {
            kind: TargetKind::Credential(kind),
            native_id: native_id.into(),
        }
    }
}

/// What exists at the provider.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Discovery {
    /// Identities with their metadata.
    pub identities: Vec<Identity>,
    /// Credentials and live sessions (kind `session`).
    pub credentials: Vec<Credential>,
}

/// What an act did. The provider's answer is never evidence that access is gone: only
/// [`Provider::verify`] says that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acted {
    /// False when the target was already in the state asked for (acts are idempotent).
    pub changed: bool,
    /// What was sent and what came back, for the journal (never a secret).
    pub detail: String,
}

/// One cascade: acting `action` on targets of kind `on` also ends `ends`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cascade {
    /// The action.
    pub action: ActionKind,
    /// Done to this kind of target.
    pub on: TargetKind,
    /// Also ends these, for an auditor.
    pub ends: &'static str,
}

/// How "not found" is reported when acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFound {
    /// An act on a target that is gone returns an error naming it; the caller decides.
    Error,
    /// The provider cannot tell "gone" from "never existed" (RFC 7009 answers 200 either way).
    Indistinguishable,
}

/// What a provider declares about its revocations (DESIGN.md, Revocation semantics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Semantics {
    /// The actions it supports on each kind of target.
    pub supports: &'static [(TargetKind, ActionKind)],
    /// What each action also ends — and, as important, what it does not.
    pub cascades: &'static [Cascade],
    /// Notes on what an action leaves alive, for the plan and the auditor.
    pub leaves_alive: &'static [&'static str],
    /// How long after an act before a probe means anything.
    pub propagation_delay: Duration,
    /// Credential kinds that cannot be revoked before they expire.
    pub irrevocable: &'static [CredentialKind],
    /// Whether repeating an act is harmless.
    pub idempotent: bool,
    /// How "not found" is reported.
    pub not_found: NotFound,
    /// What must follow an action for it to mean what the plan intends: `(kind, action,
    /// then)` — e.g. PostgreSQL's `NOLOGIN` leaves open sessions working, so disabling a role
    /// is followed by terminating its sessions. The executor adds these steps itself.
    pub follow_ups: &'static [(TargetKind, ActionKind, ActionKind)],
}

impl Semantics {
    /// Whether `action` on `kind` is supported.
    pub fn supports(&self, kind: TargetKind, action: ActionKind) -> bool {
        self.supports.iter().any(|&(k, a)| k == kind && a == action)
    }
}

/// What can go wrong talking to a provider. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The provider could not be reached (down, DNS, TLS, timeout).
    #[error("cannot reach {provider}: {reason}")]
    Unreachable {
        /// Provider name.
        provider: &'static str,
        /// Why.
        reason: String,
    },
    /// The credentials Evict uses lack a permission.
    #[error("the credentials evict uses for {provider} lack permission {permission}: {reason}")]
    Forbidden {
        /// Provider name.
        provider: &'static str,
        /// The permission needed.
        permission: String,
        /// The provider's words.
        reason: String,
    },
    /// The target does not exist at the provider.
    #[error("{provider} has no {what} '{native_id}'")]
    NotFound {
        /// Provider name.
        provider: &'static str,
        /// What was looked for.
        what: &'static str,
        /// Its reference.
        native_id: String,
    },
    /// The provider does not support that action on that kind of target.
    #[error("{provider} cannot {action} a {what}")]
    Unsupported {
        /// Provider name.
        provider: &'static str,
        /// The action.
        action: ActionKind,
        /// The kind of target.
        what: String,
    },
    /// The provider answered with an error.
    #[error("{provider} refused ({what}): {reason}")]
    Provider {
        /// Provider name.
        provider: &'static str,
        /// What was being done.
        what: &'static str,
        /// The provider's words.
        reason: String,
    },
    /// The connector's configuration is wrong.
    #[error("{0}")]
    Config(String),
    /// The provider is busy or failing for now (HTTP 429 or 5xx): try again later.
    #[error("{provider} is busy ({reason}); evict will retry")]
    Throttled {
        /// Provider name.
        provider: &'static str,
        /// The provider's words or status.
        reason: String,
        /// How long the provider asked to wait, when it said.
        retry_after: Option<Duration>,
    },
}

impl ConnectorError {
    /// How long the provider asked to wait before the next try, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether trying again later may succeed (down, timeout, throttled); a refusal, a
    /// missing permission or a missing target will not change by waiting.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ConnectorError::Unreachable { .. } | ConnectorError::Throttled { .. }
        )
    }
}

/// What is known of an act that was done, for a later probe ([`Provider::recall`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PastAct {
    /// When the act began at the latest: every session issued before it is what the act was
    /// to end.
    pub began_at: Timestamp,
    /// Whether the connector said the act changed something — for a revocation, that the
    /// target was live just before it.
    pub changed: bool,
}

/// One provider: discover, act, verify. Implementations live one per folder, behind one cargo
/// feature each, and pass the compliance test in `tests/`.
#[allow(async_fn_in_trait)]
pub trait Provider {
    /// The provider's name as the inventory uses it (`aws`, `postgres`, …).
    fn name(&self) -> &'static str;

    /// What its revocations do and do not do. Borrowed from the connector, since some of it
    /// (the propagation delay) may be configured; a `&'static` answer still implements this.
    fn semantics(&self) -> &Semantics;

    /// Whether [`Provider::discover`] can list targets of `kind`. Most providers list what
    /// they act on; some cannot (no OAuth RFC lists a server's tokens), and then an act names
    /// its target from elsewhere (a leak, a log, an inventory).
    fn discovers(&self, kind: TargetKind) -> bool {
        let _ = kind;
        true
    }

    /// Identities, credentials and live sessions, with metadata.
    async fn discover(&self) -> Result<Discovery, ConnectorError>;

    /// Does `action` to `target`. Acting twice is harmless where the semantics say
    /// idempotent; the answer is not evidence.
    async fn act(&self, target: &Target, action: ActionKind) -> Result<Acted, ConnectorError>;

    /// Probes whether `target` still works after `action`, and says how it knows: verified
    /// revoked, still live, or unverified with the reason — never revoked on a guess.
    async fn verify(&self, target: &Target, action: ActionKind)
    -> Result<Evidence, ConnectorError>;

    /// Tells the connector what an earlier act on `target` — possibly by another process —
    /// was and when it began, before [`Provider::verify`] probes it. Some probes mean nothing
    /// without it: a role's session cut-off must be no earlier than the act, and an OAuth
    /// server's `active:false` proves a revocation only for a token known to have been active.
    fn recall(&self, target: &Target, action: ActionKind, act: &PastAct) {
        let _ = (target, action, act);
    }

    /// The exact request `act` would send, for the dry run's diff and the journal (never a
    /// secret).
    fn describe(&self, target: &Target, action: ActionKind) -> String {
        format!(
            "{} {action} {} {}",
            self.name(),
            target.kind,
            target.native_id
        )
    }
}
