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

/// The session an actor acted in, as far as the log says.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionContext {
    /// When the session (or temporary credential) was issued: CloudTrail
    /// `sessionContext.attributes.creationDate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<Timestamp>,
    /// Whether the session was authenticated with MFA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
    /// The provider's session id (Okta `authenticationContext.externalSessionId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The provider's transaction or request id (Okta `transaction.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

/// One normalised audit-log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened.
    pub time: Timestamp,
    /// The provider that logged it (`aws`, `okta`, `github`, or a mapped name).
    pub provider: Provider,
    /// The provider's own id for the record (CloudTrail `eventID`, Okta `uuid`, GitHub
    /// `_document_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The service within the provider (CloudTrail `eventSource`, e.g. `iam.amazonaws.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Evict's normalised action name (`service:action`, lower case).
    pub action: String,
    /// The provider's own action name (e.g. `CreateAccessKey`).
    pub raw_action: String,
    /// The acting identity, when resolved against the inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<IdentityId>,
    /// The actor's provider-native name (ARN, login, Okta user id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// The kind of actor as the provider names it (`IAMUser`, `AssumedRole`, `Root`, `User`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_kind: Option<String>,
    /// The credential the actor used, when resolved against the inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialId>,
    /// The credential's provider-native id (an access key id, a GitHub `hashed_token`, a token
    /// id). Never a secret: logs carry ids and hashes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_native_id: Option<String>,
    /// What kind of credential that is (`access_key`, `temporary_key`, `hashed_token`,
    /// `personal_access_token`, `oauth_token`, `session`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_kind: Option<String>,
    /// The session the actor acted in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionContext>,
    /// What the action was done to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The provider's id of what the action created, when the record names it (the key id in
    /// CloudTrail's CreateAccessKey response, an Okta API token's id, a GitHub key's
    /// fingerprint, token id or OAuth application id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The source address exactly as the log wrote it (not always an IP: `AWS Internal`,
    /// `ec2.amazonaws.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The source as an IP address, when it is one (zero-padded octets normalised).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<std::net::IpAddr>,
    /// The user agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Success or failure.
    pub outcome: Outcome,
    /// The provider's error code on failure (CloudTrail `errorCode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The account, organisation or tenant the record belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The region, when the provider has regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Where the raw record is.
    pub raw: RawPointer,
}

/// What depends on a credential or identity, aggregated from events.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Events seen.
    #[serde(default)]
    pub events: u64,
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

impl Usage {
    /// Adds `other` (the same subject seen elsewhere: another thread, another log set).
    pub fn merge(&mut self, other: Usage) {
        self.events += other.events;
        self.failures += other.failures;
        self.first_seen = match (self.first_seen, other.first_seen) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_seen = match (self.last_seen, other.last_seen) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (mine, theirs) in [
            (&mut self.sources, other.sources),
            (&mut self.user_agents, other.user_agents),
            (&mut self.actions, other.actions),
        ] {
            for (value, count) in theirs {
                *mine.entry(value).or_insert(0) += count;
            }
        }
    }
}
