use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{IdentityId, Provider};
use crate::vocabulary::vocabulary;

vocabulary!(
    /// What kind of principal an identity is.
    IdentityKind, "identity kind" {
        /// A person.
        Human = "human",
        /// A service account used by software.
        Service = "service",
        /// A workload identity (pod, VM, function) federated from a platform.
        Workload = "workload",
        /// An AI agent acting with its own credentials.
        AiAgent = "ai_agent",
        /// A chat or automation bot.
        Bot = "bot",
        /// An OAuth client or third-party app.
        OauthApp = "oauth_app",
        /// A provider's root or break-glass account.
        Root = "root",
    }
);

vocabulary!(
    /// How much an identity can do, as far as the inventory says.
    PrivilegeTier, "privilege tier" {
        /// Ordinary rights.
        Standard = "standard",
        /// Elevated rights over some systems.
        Privileged = "privileged",
        /// Administrative rights over the provider.
        Admin = "admin",
        /// Not known from the source.
        Unknown = "unknown",
    }
);

vocabulary!(
    /// Whether an identity can act.
    IdentityStatus, "identity status" {
        /// Enabled.
        Active = "active",
        /// Disabled or suspended; may be re-enabled.
        Disabled = "disabled",
        /// Removed from the provider.
        Deleted = "deleted",
    }
);

/// A principal at a provider: a person, service account, workload, AI agent, bot or app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Evict's id, derived from `provider` and `external_id`.
    pub id: IdentityId,
    /// The provider the identity lives in.
    pub provider: Provider,
    /// The provider's own id (an ARN, a user id, a login).
    pub external_id: String,
    /// A readable name.
    pub name: String,
    /// What kind of principal this is.
    pub kind: IdentityKind,
    /// Who answers for it (a person or a team); `None` is itself a finding.
    pub owner: Option<String>,
    /// Enabled, disabled or deleted.
    pub status: IdentityStatus,
    /// Its privilege, as far as the source says.
    pub privilege: PrivilegeTier,
    /// Whether it has multi-factor authentication, when the source says.
    pub mfa: Option<bool>,
    /// When it was created.
    pub created_at: Option<Timestamp>,
    /// Who created it, when the source says.
    pub created_by: Option<String>,
    /// When it was disabled, if it is.
    pub disabled_at: Option<Timestamp>,
    /// When it last signed in or acted, when the source says.
    pub last_used_at: Option<Timestamp>,
}

impl Identity {
    /// A new identity with the id derived from provider and external id; other fields at
    /// their least-assuming defaults.
    pub fn new(provider: Provider, external_id: impl Into<String>, kind: IdentityKind) -> Self {
        let external_id = external_id.into();
        Identity {
            id: IdentityId::derive(&provider, &external_id),
            name: external_id.clone(),
            provider,
            external_id,
            kind,
            owner: None,
            status: IdentityStatus::Active,
            privilege: PrivilegeTier::Unknown,
            mfa: None,
            created_at: None,
            created_by: None,
            disabled_at: None,
            last_used_at: None,
        }
    }
}
