use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{CredentialId, IdentityId, Provider};

/// A pointer back to the raw record an event was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawPointer {
    /// The file the record was read from.
    pub file: String,
    /// Byte offset of the record's start in the (decompressed) stream.
    pub offset: u64,
}

/// Whether the audited action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The action succeeded.
    Success,
    /// The action was refused or failed.
    Failure,
    /// The record does not say.
    Unknown,
}

/// One normalised audit-log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened.
    pub time: Timestamp,
    /// The provider that logged it.
    pub provider: Provider,
    /// Evict's normalised action name (e.g. `credential.create`).
    pub action: String,
    /// The provider's own action name (e.g. `CreateAccessKey`).
    pub raw_action: String,
    /// The acting identity, when resolved.
    pub actor: Option<IdentityId>,
    /// The actor's provider-native name (ARN, login).
    pub actor_name: Option<String>,
    /// The credential the actor used, when resolved.
    pub credential: Option<CredentialId>,
    /// The credential's provider-native id (e.g. an access key id).
    pub credential_native_id: Option<String>,
    /// What the action was done to.
    pub target: Option<String>,
    /// The source address as the log wrote it (not always an IP).
    pub source: Option<String>,
    /// The user agent.
    pub user_agent: Option<String>,
    /// Success or failure.
    pub outcome: Outcome,
    /// Where the raw record is.
    pub raw: RawPointer,
}

/// What depends on a credential or identity, aggregated from events.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// First use seen.
    pub first_seen: Option<Timestamp>,
    /// Last use seen.
    pub last_seen: Option<Timestamp>,
    /// Source addresses with counts.
    pub sources: BTreeMap<String, u64>,
    /// User agents with counts.
    pub user_agents: BTreeMap<String, u64>,
    /// Actions (service:action) with counts.
    pub actions: BTreeMap<String, u64>,
    /// Failed attempts: a dead credential still being tried.
    pub failures: u64,
}
