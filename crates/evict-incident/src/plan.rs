//! The ordered containment plan: what to do to each residual artifact, in an order that leaves
//! the attacker no way back in while it runs, and the evidence that will prove each step.
//!
//! The order follows what the anchors taught (DESIGN.md, Revocation semantics): sessions and
//! refresh tokens are cut together so none can be minted again from the other; keys are
//! deactivated before anything is deleted, one key per step, never "all keys of a user";
//! attacker-made identities are disabled, then deleted once the disable is verified; changes
//! the attacker made are reverted; rotations come after the kills; signing keys rotate last,
//! because rotating them invalidates every token they signed; examination closes the list.

use std::collections::BTreeMap;

use evict_model::{ActionKind, CredentialKind, Tier};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::policy::Subject;
use crate::residual::{ArtifactRef, ResidualArtifact};

/// The phases of a plan, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Sessions, refresh tokens, access tokens and grants, all together.
    CutSessions,
    /// Long-term keys and tokens deactivated (reversible), one per step.
    DeactivateKeys,
    /// Attacker-made identities and the attacker's changes disabled or reverted.
    DisableFootholds,
    /// What was disabled, deleted for good once the disable is verified.
    DeleteFootholds,
    /// Exposed credentials in use replaced, then the old ones retired.
    Rotate,
    /// Keys that sign tokens, last.
    RotateSigningKeys,
    /// In scope without exposure evidence: looked at and attested.
    Examine,
}

impl Phase {
    /// What the phase is for, for the plan's reader.
    pub fn explain(self) -> &'static str {
        match self {
            Phase::CutSessions => {
                "cut sessions and refresh tokens together, so neither can mint the other again"
            }
            Phase::DeactivateKeys => "deactivate keys and tokens (reversible), one at a time",
            Phase::DisableFootholds => "disable what the attacker made and revert what it changed",
            Phase::DeleteFootholds => "delete the disabled footholds once the disable is verified",
            Phase::Rotate => "rotate exposed credentials still in use: replacement first",
            Phase::RotateSigningKeys => {
                "rotate signing keys last: every token they signed stops working"
            }
            Phase::Examine => "examine what is in scope without evidence of exposure",
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    /// 1-based position in the plan.
    pub order: u32,
    /// Its phase.
    pub phase: Phase,
    /// The artifact's tier.
    pub tier: Tier,
    /// The artifact's key (`evict incident attest NAME KEY`).
    pub artifact: String,
    /// The artifact, for people.
    pub label: String,
    /// Provider.
    pub provider: String,
    /// Identity or credential kind.
    pub kind: String,
    /// Owner of the artifact's identity, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// What to do.
    pub action: ActionKind,
    /// Why it is in the plan at this tier (the policy rule's reason).
    pub why: String,
    /// What the step will break, from recent use.
    pub disruption: String,
    /// The evidence that will prove the step took effect.
    pub proof: String,
    /// Steps that must be verified first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<u32>,
}

/// The ordered plan for one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The incident.
    pub incident: String,
    /// When it was made.
    pub made_at: Timestamp,
    /// The tier policy that tiered it: where it came from and its digest.
    pub policy_origin: String,
    /// [`crate::policy::Policy::digest`].
    pub policy_digest: String,
    /// Artifacts per tier.
    pub artifacts: BTreeMap<Tier, u32>,
    /// The steps, in order.
    pub steps: Vec<PlanStep>,
}

impl Plan {
    /// The steps' content without the time it was made, for telling whether a new plan
    /// differs from the stored one.
    pub fn content_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let json = serde_json::to_vec(&(&self.policy_digest, &self.steps)).unwrap_or_default();
        hex::encode(Sha256::digest(&json))
    }
}

fn session_like(kind: Subject) -> bool {
    matches!(
        kind,
        Subject::Credential(
            CredentialKind::Session
                | CredentialKind::RefreshToken
                | CredentialKind::AccessToken
                | CredentialKind::OauthGrant
        )
    )
}

fn proof(provider: &str, kind: Subject, action: ActionKind) -> String {
    let aws = provider == "aws";
    match (action, kind) {
        (ActionKind::Revoke, Subject::Credential(CredentialKind::Session)) if aws => {
            "the role's AWSRevokeOlderSessions deny on aws:TokenIssueTime reads back with a cut-off after the session's issue time".into()
        }
        (ActionKind::Revoke, _) => {
            "RFC 7662 introspection (or the provider's read-back) says the token or grant is no longer active; the revoke response alone is not evidence".into()
        }
        (ActionKind::Disable, Subject::Identity) => {
            "the identity reads back disabled (SCIM active:false, IAM login profile gone) and a login with it is refused".into()
        }
        (ActionKind::Disable, _) if aws => {
            "ListAccessKeys shows the key Inactive, and STS GetCallerIdentity with it is refused when the secret is known".into()
        }
        (ActionKind::Disable, _) => {
            "the provider reads the credential back as disabled and a request with it is refused".into()
        }
        (ActionKind::Delete, _) => "the provider answers not found for it".into(),
        (ActionKind::Revert, _) => {
            "the policy, trust relationship or membership reads back as it was before the window".into()
        }
        (ActionKind::Rotate, _) => {
            "the replacement is in use (usage moves to it) and the old secret is refused".into()
        }
        (ActionKind::RotateSigningKey, _) => {
            "the old key is gone from the published keys and a token it signed is refused".into()
        }
        (ActionKind::TerminateSessions, _) => "no live session of it remains".into(),
        (ActionKind::Examine, _) => {
            "a responder's attestation (evict incident attest) or a probe showing it is not exposed".into()
        }
    }
}

fn disruption_text(a: &ResidualArtifact) -> String {
    let d = &a.disruption;
    if d.recent_uses == 0 {
        return match d.last_used_at {
            Some(t) => format!("no recent use (last {})", t.strftime("%Y-%m-%d")),
            None => "no use known".into(),
        };
    }
    let mut parts = vec![format!("{} recent uses", d.recent_uses)];
    if let Some((source, n)) = d.sources.first() {
        parts.push(format!("most from {source} ({n})"));
    }
    if let Some((action, n)) = d.actions.first() {
        parts.push(format!("mostly {action} ({n})"));
    }
    if let Some((agent, _)) = d.user_agents.first() {
        parts.push(format!("agent {agent}"));
    }
    parts.join(", ")
}

/// Builds the ordered plan from tiered residual artifacts.
pub fn build_plan(
    incident: &str,
    artifacts: &[ResidualArtifact],
    policy: &crate::policy::Policy,
    made_at: Timestamp,
) -> Plan {
    struct Draft<'a> {
        phase: Phase,
        action: ActionKind,
        artifact: &'a ResidualArtifact,
        delete_after_disable: bool,
    }
    let mut drafts: Vec<Draft<'_>> = Vec::new();
    for a in artifacts {
        let is_change =
            matches!(&a.artifact, ArtifactRef::Unresolved { what, .. } if what == "change");
        let (phase, action) = match (a.tier.tier, a.kind) {
            (Tier::Kill, _) if is_change => (Phase::DisableFootholds, ActionKind::Revert),
            (Tier::Kill, kind) if session_like(kind) => (Phase::CutSessions, ActionKind::Revoke),
            (Tier::Kill, Subject::Identity) => (Phase::DisableFootholds, ActionKind::Disable),
            (Tier::Kill, Subject::Credential(CredentialKind::SigningKey)) => {
                (Phase::RotateSigningKeys, ActionKind::RotateSigningKey)
            }
            (Tier::Kill, Subject::Credential(_)) => (Phase::DeactivateKeys, ActionKind::Disable),
            (Tier::Rotate, Subject::Credential(CredentialKind::SigningKey)) => {
                (Phase::RotateSigningKeys, ActionKind::RotateSigningKey)
            }
            (Tier::Rotate, kind) if session_like(kind) => (Phase::CutSessions, ActionKind::Revoke),
            (Tier::Rotate, _) => (Phase::Rotate, ActionKind::Rotate),
            (Tier::Validate, _) => (Phase::Examine, ActionKind::Examine),
        };
        // A foothold is deleted after it is disabled; a legitimate key that only leaked is not.
        let foothold = a.reasons.iter().any(|r| {
            matches!(
                r.reason,
                evict_model::ResidualReason::CreatedDuringWindow
                    | evict_model::ResidualReason::CreatedByFoothold
            )
        });
        drafts.push(Draft {
            phase,
            action,
            artifact: a,
            delete_after_disable: foothold && action == ActionKind::Disable,
        });
    }
    drafts.sort_by(|x, y| {
        (
            x.phase,
            &x.artifact.owner,
            &x.artifact.provider,
            &x.artifact.label,
        )
            .cmp(&(
                y.phase,
                &y.artifact.owner,
                &y.artifact.provider,
                &y.artifact.label,
            ))
    });

    let step =
        |order: u32, phase: Phase, action: ActionKind, a: &ResidualArtifact, after: Vec<u32>| {
            PlanStep {
                order,
                phase,
                tier: a.tier.tier,
                artifact: a.key.clone(),
                label: a.label.clone(),
                provider: a.provider.clone(),
                kind: a.kind.to_string(),
                owner: a.owner.clone(),
                action,
                why: a.tier.why.clone(),
                disruption: disruption_text(a),
                proof: proof(&a.provider, a.kind, action),
                after,
            }
        };
    let mut steps = Vec::new();
    let mut deletes = Vec::new();
    for d in &drafts {
        let order = u32::try_from(steps.len() + 1).unwrap_or(u32::MAX);
        steps.push(step(order, d.phase, d.action, d.artifact, Vec::new()));
        if d.delete_after_disable {
            deletes.push((order, d.artifact));
        }
    }
    // Deletions go after every disable and revert, before rotations.
    let insert_at = steps
        .iter()
        .position(|s| s.phase > Phase::DisableFootholds)
        .unwrap_or(steps.len());
    let delete_steps: Vec<PlanStep> = deletes
        .iter()
        .map(|(disable, a)| {
            step(
                0,
                Phase::DeleteFootholds,
                ActionKind::Delete,
                a,
                vec![*disable],
            )
        })
        .collect();
    steps.splice(insert_at..insert_at, delete_steps);
    // Renumber, keeping each delete pointing at its disable.
    let mut renumber = BTreeMap::new();
    for (n, s) in steps.iter_mut().enumerate() {
        let new = u32::try_from(n + 1).unwrap_or(u32::MAX);
        if s.order != 0 {
            renumber.insert(s.order, new);
        }
        s.order = new;
    }
    for s in &mut steps {
        for a in &mut s.after {
            *a = renumber.get(a).copied().unwrap_or(*a);
        }
    }
    let mut counts = BTreeMap::new();
    for a in artifacts {
        *counts.entry(a.tier.tier).or_insert(0) += 1;
    }
    Plan {
        incident: incident.to_string(),
        made_at,
        policy_origin: policy.origin().to_string(),
        policy_digest: policy.digest(),
        artifacts: counts,
        steps,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::policy::{Policy, TierDecision};
    use crate::residual::{Disruption, ReasonWithEvidence};
    use evict_model::{PrivilegeTier, ResidualReason};

    fn artifact(key: &str, kind: Subject, tier: Tier, reason: ResidualReason) -> ResidualArtifact {
        let what = if kind == Subject::Identity {
            "identity"
        } else {
            "credential"
        };
        ResidualArtifact {
            key: key.into(),
            artifact: ArtifactRef::Unresolved {
                provider: "aws".into(),
                what: what.into(),
                reference: key.into(),
            },
            owner: Some("team-a".into()),
            provider: "aws".into(),
            label: key.into(),
            kind,
            identity: None,
            privilege: PrivilegeTier::Unknown,
            reasons: vec![ReasonWithEvidence {
                reason,
                evidence: vec!["test".into()],
            }],
            tier: TierDecision {
                tier,
                rule: "test".into(),
                why: "test".into(),
            },
            disruption: Disruption::default(),
            usage_key: None,
        }
    }

    #[test]
    fn sessions_go_first_deletes_follow_their_disable_and_signing_keys_come_last() {
        use CredentialKind::*;
        let artifacts = vec![
            artifact(
                "signing",
                Subject::Credential(SigningKey),
                Tier::Rotate,
                ResidualReason::SigningKeyInScope,
            ),
            artifact(
                "examine",
                Subject::Credential(AccessKey),
                Tier::Validate,
                ResidualReason::IdentityInScope,
            ),
            artifact(
                "backdoor",
                Subject::Identity,
                Tier::Kill,
                ResidualReason::CreatedDuringWindow,
            ),
            artifact(
                "leaked",
                Subject::Credential(AccessKey),
                Tier::Rotate,
                ResidualReason::ExposedInScope,
            ),
            artifact(
                "stolen",
                Subject::Credential(AccessKey),
                Tier::Kill,
                ResidualReason::UsedFromIndicator,
            ),
            artifact(
                "session",
                Subject::Credential(Session),
                Tier::Kill,
                ResidualReason::IssuedBeforePatch,
            ),
            artifact(
                "new-key",
                Subject::Credential(AccessKey),
                Tier::Kill,
                ResidualReason::CreatedDuringWindow,
            ),
        ];
        let plan = build_plan(
            "i",
            &artifacts,
            &Policy::default_policy(),
            Timestamp::UNIX_EPOCH,
        );
        let order: Vec<(&str, ActionKind)> = plan
            .steps
            .iter()
            .map(|s| (s.artifact.as_str(), s.action))
            .collect();
        assert_eq!(
            order,
            vec![
                ("session", ActionKind::Revoke),
                ("new-key", ActionKind::Disable),
                ("stolen", ActionKind::Disable),
                ("backdoor", ActionKind::Disable),
                ("new-key", ActionKind::Delete),
                ("backdoor", ActionKind::Delete),
                ("leaked", ActionKind::Rotate),
                ("signing", ActionKind::RotateSigningKey),
                ("examine", ActionKind::Examine),
            ]
        );
        // Each delete waits for its own disable; a stolen legitimate key is not deleted.
        let step = |key: &str, action: ActionKind| {
            plan.steps
                .iter()
                .find(|s| s.artifact == key && s.action == action)
                .unwrap()
        };
        assert_eq!(
            step("new-key", ActionKind::Delete).after,
            vec![step("new-key", ActionKind::Disable).order]
        );
        assert_eq!(
            step("backdoor", ActionKind::Delete).after,
            vec![step("backdoor", ActionKind::Disable).order]
        );
        assert!(
            plan.steps
                .iter()
                .all(|s| !(s.artifact == "stolen" && s.action == ActionKind::Delete))
        );
        assert_eq!(
            plan.steps.iter().map(|s| s.order).collect::<Vec<_>>(),
            (1..=9).collect::<Vec<_>>()
        );
        assert_eq!(plan.artifacts.get(&Tier::Kill), Some(&4));
        // The same input makes the same content.
        let again = build_plan("i", &artifacts, &Policy::default_policy(), Timestamp::MAX);
        assert_eq!(plan.content_digest(), again.content_digest());
    }
}
