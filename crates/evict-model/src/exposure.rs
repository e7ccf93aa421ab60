use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::vocabulary::vocabulary;

vocabulary!(
    /// How sure a detector is that a match is a real secret; ordered low < medium < high.
    Confidence, "confidence" {
        /// A generic assignment (`password = …`): often real, often not.
        Low = "low",
        /// A recognisable format without a checksum.
        Medium = "medium",
        /// An unambiguous or checksummed format.
        High = "high",
    }
);

/// What bounds the life of an exposed secret, as far as the secret itself can tell.
///
/// "Persistent" is the dangerous answer: nothing but a revocation ends such a secret's use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum Persistence {
    /// Nothing in the format bounds its life (an AWS AKIA key, a token without `exp`).
    Persistent,
    /// Valid until `at` (a JWT's `exp`, a certificate's `notAfter`), still in the future.
    Expires {
        /// When it stops being accepted.
        at: Timestamp,
    },
    /// Its own expiry is in the past: harmless unless the issuer ignores it.
    Expired {
        /// When it stopped being accepted.
        at: Timestamp,
    },
    /// Short-lived by construction (AWS ASIA session credentials), the exact end unknown.
    Temporary,
    /// The issuer keeps an expiry that the secret does not show (GitHub fine-grained PATs).
    ServerSideExpiry,
    /// The format says nothing either way.
    Unknown,
}

impl Persistence {
    /// The class name used in JSON and tables.
    pub fn class(&self) -> &'static str {
        match self {
            Persistence::Persistent => "persistent",
            Persistence::Expires { .. } => "expires",
            Persistence::Expired { .. } => "expired",
            Persistence::Temporary => "temporary",
            Persistence::ServerSideExpiry => "server_side_expiry",
            Persistence::Unknown => "unknown",
        }
    }

    /// When the secret stops being valid, if the secret says.
    pub fn expires_at(&self) -> Option<Timestamp> {
        match self {
            Persistence::Expires { at } | Persistence::Expired { at } => Some(*at),
            _ => None,
        }
    }
}

impl fmt::Display for Persistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Persistence::Expires { at } => write!(f, "expires {}", at.strftime("%Y-%m-%d")),
            Persistence::Expired { at } => write!(f, "expired {}", at.strftime("%Y-%m-%d")),
            Persistence::ServerSideExpiry => f.write_str("expiry held by issuer"),
            other => f.write_str(other.class()),
        }
    }
}

vocabulary!(
    /// Whether a leaked secret still works, as its issuer answered when asked with it.
    LivenessState, "liveness" {
        /// The issuer accepted it: whoever holds a copy can use it now.
        Live = "live",
        /// The issuer refused it in a way that only a dead secret is refused.
        Dead = "dead",
        /// Not asked (not opted in, no probe for this kind), or the answer could not decide.
        Unknown = "unknown",
    }
);

/// A leaked secret's liveness and the short reason for it: what was asked and what came
/// back, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Liveness {
    /// Live, dead or unknown.
    pub state: LivenessState,
    /// Why, in a responder's words.
    pub reason: String,
}

impl Liveness {
    /// Live, because `reason`.
    pub fn live(reason: impl Into<String>) -> Liveness {
        Liveness {
            state: LivenessState::Live,
            reason: reason.into(),
        }
    }

    /// Dead, because `reason`.
    pub fn dead(reason: impl Into<String>) -> Liveness {
        Liveness {
            state: LivenessState::Dead,
            reason: reason.into(),
        }
    }

    /// Unknown, because `reason`.
    pub fn unknown(reason: impl Into<String>) -> Liveness {
        Liveness {
            state: LivenessState::Unknown,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Liveness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.state, self.reason)
    }
}
