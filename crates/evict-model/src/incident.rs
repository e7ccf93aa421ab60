use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::vocabulary::vocabulary;

vocabulary!(
    /// How serious a finding is.
    Severity, "severity" {
        /// Informational.
        Info = "info",
        /// Low.
        Low = "low",
        /// Medium.
        Medium = "medium",
        /// High.
        High = "high",
        /// Critical.
        Critical = "critical",
    }
);

vocabulary!(
    /// An incident's life cycle.
    IncidentStatus, "incident status" {
        /// Opened, residual access being worked out.
        Open = "open",
        /// Containment actions done.
        Contained = "contained",
        /// Every artifact has evidence.
        Verified = "verified",
        /// Closed through the gate.
        Closed = "closed",
    }
);

vocabulary!(
    /// Containment tiers, after the CISA COUN7ER countermeasure types.
    Tier, "tier" {
        /// Disable / Eliminate now.
        Kill = "kill",
        /// Refresh on a schedule.
        Rotate = "rotate",
        /// Examine after the incident.
        Validate = "validate",
    }
);

vocabulary!(
    /// Why an artifact is in an incident's residual access set. An artifact keeps every
    /// reason that applies; the tier policy decides from them.
    ResidualReason, "residual reason" {
        /// A credential, session or grant of an identity in the incident's scope.
        IdentityInScope = "identity_in_scope",
        /// A secret seen at a location in scope (repository, host, system).
        ExposedInScope = "exposed_in_scope",
        /// Another copy of a secret exposed in scope, wherever it lives.
        CopyOfExposed = "copy_of_exposed",
        /// Created during the exposure window: an attacker's foothold.
        CreatedDuringWindow = "created_during_window",
        /// Created by, or belonging to, a foothold.
        CreatedByFoothold = "created_by_foothold",
        /// Created or changed during the window by an actor not known to be compromised
        /// (possibly legitimate work): examine it.
        ChangedDuringWindow = "changed_during_window",
        /// A session, refresh token or grant issued before the patch and still valid.
        IssuedBeforePatch = "issued_before_patch",
        /// Used from an attacker address or user agent.
        UsedFromIndicator = "used_from_indicator",
        /// Used after the patch from a source it never used before the window.
        UsedAfterPatchFromNewSource = "used_after_patch_from_new_source",
        /// A signing key or trust anchor of an identity system in scope: the tokens it
        /// issued cannot be revoked one by one.
        SigningKeyInScope = "signing_key_in_scope",
    }
);

vocabulary!(
    /// One provider operation.
    ActionKind, "action kind" {
        /// Disable or deactivate, reversibly.
        Disable = "disable",
        /// Revoke a token or grant.
        Revoke = "revoke",
        /// Issue a replacement and retire the old one.
        Rotate = "rotate",
        /// Delete for good.
        Delete = "delete",
        /// End live sessions.
        TerminateSessions = "terminate_sessions",
        /// Rotate a key that signs tokens.
        RotateSigningKey = "rotate_signing_key",
        /// Undo a change (a trust policy, a membership, a role grant) made by the attacker.
        Revert = "revert",
        /// Look at it and decide; no provider operation.
        Examine = "examine",
    }
);

vocabulary!(
    /// Where an action stands.
    ActionState, "action state" {
        /// Planned, not started.
        Planned = "planned",
        /// Sent to the provider, result not yet known.
        InFlight = "in_flight",
        /// The provider accepted it.
        Done = "done",
        /// The provider refused or the call failed.
        Failed = "failed",
        /// No connector can do it (none configured, or the provider cannot): a person must.
        NeedsManual = "needs_manual",
    }
);

vocabulary!(
    /// What a verification probe concluded.
    EvidenceVerdict, "evidence verdict" {
        /// The probe shows the artifact no longer works.
        VerifiedRevoked = "verified_revoked",
        /// The probe shows it still works.
        StillLive = "still_live",
        /// The probe could not decide; never counts as revoked.
        Unverified = "unverified",
        /// A person attested it by hand.
        Attested = "attested",
    }
);

/// A posture or hunt result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule that produced it.
    pub rule_id: String,
    /// Severity.
    pub severity: Severity,
    /// What was found, for a person.
    pub summary: String,
    /// OWASP Non-Human Identities Top 10 ids (e.g. `NHI7`).
    pub owasp_nhi: Vec<String>,
    /// NIST CSF 2.0 ids (e.g. `PR.AA`).
    pub nist_csf: Vec<String>,
    /// Pointers to the evidence (record ids, file offsets).
    pub evidence: Vec<String>,
}

/// An incident: scope, exposure window and indicators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Short unique name.
    pub name: String,
    /// When the attacker got in (or the earliest time it may have).
    pub compromised_at: Timestamp,
    /// When the hole was closed.
    pub patched_at: Option<Timestamp>,
    /// Scope entries such as `identity:ID`, `repo:PATH`, `provider:aws`.
    pub scope: Vec<String>,
    /// Attacker IP addresses.
    pub ioc_ips: Vec<String>,
    /// Attacker user agents.
    pub ioc_user_agents: Vec<String>,
    /// Life-cycle state.
    pub status: IncidentStatus,
}

/// An artifact in an incident's residual access state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// The credential or identity id.
    pub subject: String,
    /// Every reason that put it in the residual set.
    pub reasons: Vec<String>,
    /// Containment tier.
    pub tier: Tier,
    /// Services, IPs and agents a kill would break.
    pub disruption: Vec<String>,
}

/// One provider operation with its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Idempotency key: the same action is never sent twice.
    pub key: String,
    /// The artifact acted on.
    pub subject: String,
    /// What to do.
    pub kind: ActionKind,
    /// Where it stands.
    pub state: ActionState,
    /// How many times it was sent.
    pub attempts: u32,
    /// The provider's answer, redacted.
    pub result: Option<String>,
}

/// A verification probe's result for an artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The artifact probed.
    pub subject: String,
    /// What the probe concluded.
    pub verdict: EvidenceVerdict,
    /// What was checked and what came back, for an auditor.
    pub detail: String,
    /// When the probe ran.
    pub at: Timestamp,
}
