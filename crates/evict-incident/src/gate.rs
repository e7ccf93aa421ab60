//! The closure gate: an incident closes only when every artifact of its plan has verified
//! evidence of revocation, an attestation where attestations are allowed, or a live exception.
//! It never counts a revoke call, an "unverified" probe or an expired exception.
//!
//! A foothold the plan deletes once its disable is verified is not done with when the disable
//! is: until the deletion is done, only an exception (or a person's attestation that it was
//! deleted by hand) stands for it, and once it is done, only evidence taken after it.

use std::collections::BTreeMap;

use evict_model::{EvidenceVerdict, Tier};
use jiff::Timestamp;
use serde::Serialize;

use crate::plan::Plan;

/// The latest word on one artifact.
#[derive(Debug, Clone)]
pub struct EvidenceFacts {
    /// The artifact key.
    pub artifact: String,
    /// The verdict.
    pub verdict: EvidenceVerdict,
    /// When.
    pub at: Timestamp,
}

/// An exception as the gate needs it.
#[derive(Debug, Clone)]
pub struct ExceptionFacts {
    /// The artifact key.
    pub artifact: String,
    /// When it ends.
    pub expires_at: Timestamp,
}

/// A deletion the plan makes after a verified disable, as the executor has it.
#[derive(Debug, Clone)]
pub struct DeletionFacts {
    /// The artifact key.
    pub artifact: String,
    /// When the deletion was done, or last tried.
    pub at: Timestamp,
    /// `None` when done; else where it stands, for the responder (`planned`, `failed: …`).
    pub pending: Option<String>,
}

/// What the gate thinks of one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// A probe shows it no longer works.
    Verified,
    /// A person attested it, and attestations count for it.
    Attested,
    /// An exception covers it until the time given.
    Excepted {
        /// When the exception ends.
        until: Timestamp,
    },
    /// Nothing that counts yet.
    Missing {
        /// What is missing, for the responder.
        what: String,
    },
}

/// One artifact's line in the gate's answer.
#[derive(Debug, Clone, Serialize)]
pub struct GateLine {
    /// The artifact key.
    pub artifact: String,
    /// For people.
    pub label: String,
    /// Its tier.
    pub tier: Tier,
    /// The planned action, and its proof.
    pub action: String,
    /// Where it stands.
    pub standing: Standing,
}

/// The gate's answer.
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    /// Whether the incident may close.
    pub may_close: bool,
    /// The plan version judged.
    pub plan_version: i64,
    /// Every artifact, missing ones first.
    pub lines: Vec<GateLine>,
}

/// Judges every artifact of `plan` against the evidence, exceptions and the deletions made
/// (or still to make) after a verified disable.
pub fn closure_gate(
    plan: &Plan,
    plan_version: i64,
    evidence: &[EvidenceFacts],
    exceptions: &[ExceptionFacts],
    deletions: &[DeletionFacts],
    allow_attested: bool,
    now: Timestamp,
) -> GateReport {
    let deletion: BTreeMap<&str, &DeletionFacts> =
        deletions.iter().map(|d| (d.artifact.as_str(), d)).collect();
    // The latest verdict per artifact decides: a later "still live" undoes an earlier
    // "verified", as it should. Where a deletion followed, only what came after it counts;
    // while it is not done, only a person's word that it was done by hand.
    let mut latest: BTreeMap<&str, &EvidenceFacts> = BTreeMap::new();
    for e in evidence {
        let counts = match deletion.get(e.artifact.as_str()) {
            None => true,
            Some(d) if d.pending.is_none() => e.at >= d.at,
            Some(d) => e.at >= d.at && e.verdict == EvidenceVerdict::Attested,
        };
        if !counts {
            continue;
        }
        let slot = latest.entry(e.artifact.as_str()).or_insert(e);
        if e.at >= slot.at {
            *slot = e;
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut lines = Vec::new();
    for step in &plan.steps {
        if !seen.insert(step.artifact.as_str()) {
            continue;
        }
        let exception = exceptions
            .iter()
            .find(|x| x.artifact == step.artifact && x.expires_at > now);
        let standing = match (
            latest.get(step.artifact.as_str()).map(|e| e.verdict),
            exception,
        ) {
            (Some(EvidenceVerdict::VerifiedRevoked), _) => Standing::Verified,
            (_, Some(x)) => Standing::Excepted {
                until: x.expires_at,
            },
            (Some(EvidenceVerdict::Attested), _)
                if allow_attested || step.tier == Tier::Validate =>
            {
                Standing::Attested
            }
            (Some(EvidenceVerdict::Attested), _) => Standing::Missing {
                what: format!(
                    "only attested; a {} artifact needs verified evidence (a probe), an exception, or --allow-attested",
                    step.tier
                ),
            },
            (Some(EvidenceVerdict::StillLive), _) => Standing::Missing {
                what: "the last probe shows it still works".into(),
            },
            (Some(EvidenceVerdict::Unverified), _) => Standing::Missing {
                what: "the last probe could not decide; probe again after the provider's delay"
                    .into(),
            },
            (None, _) => Standing::Missing {
                what: match (
                    exceptions.iter().find(|x| x.artifact == step.artifact),
                    deletion.get(step.artifact.as_str()),
                ) {
                    (Some(x), _) => format!("its exception expired at {}", x.expires_at),
                    (
                        None,
                        Some(DeletionFacts {
                            pending: Some(state),
                            ..
                        }),
                    ) => format!(
                        "disabled, but the deletion the plan makes after the disable is not done ({state}): run `evict incident contain {} --execute` again (or delete it by hand and attest it)",
                        plan.incident
                    ),
                    (None, Some(d)) => format!(
                        "deleted at {}, but not probed since: run `evict incident verify {}`",
                        d.at, plan.incident
                    ),
                    (None, None) => format!("no evidence yet; expected: {}", step.proof),
                },
            },
        };
        lines.push(GateLine {
            artifact: step.artifact.clone(),
            label: step.label.clone(),
            tier: step.tier,
            action: step.action.to_string(),
            standing,
        });
    }
    lines.sort_by_key(|l| !matches!(l.standing, Standing::Missing { .. }));
    GateReport {
        may_close: lines
            .iter()
            .all(|l| !matches!(l.standing, Standing::Missing { .. })),
        plan_version,
        lines,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use evict_model::{ActionKind, PrivilegeTier, ResidualReason};

    use super::*;
    use crate::plan::build_plan;
    use crate::policy::{Policy, Subject, TierDecision};
    use crate::residual::{ArtifactRef, Disruption, ReasonWithEvidence, ResidualArtifact};

    fn t(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// A plan with one attacker-made identity: disabled, then deleted once that is verified.
    fn foothold_plan() -> Plan {
        let backdoor = ResidualArtifact {
            key: "i_backdoor".into(),
            artifact: ArtifactRef::Identity {
                id: "i_backdoor".into(),
            },
            owner: None,
            provider: "aws".into(),
            label: "backdoor".into(),
            kind: Subject::Identity,
            identity: None,
            privilege: PrivilegeTier::Unknown,
            reasons: vec![ReasonWithEvidence {
                reason: ResidualReason::CreatedDuringWindow,
                evidence: vec!["hunt".into()],
            }],
            tier: TierDecision {
                tier: Tier::Kill,
                rule: "attacker-created".into(),
                why: "test".into(),
            },
            disruption: Disruption::default(),
            usage_key: None,
        };
        let plan = build_plan(
            "breach",
            &[backdoor],
            &Policy::default_policy(),
            t("2026-05-21T00:00:00Z"),
        );
        let actions: Vec<ActionKind> = plan.steps.iter().map(|s| s.action).collect();
        assert_eq!(actions, vec![ActionKind::Disable, ActionKind::Delete]);
        plan
    }

    fn judged(evidence: &[(EvidenceVerdict, &str)], deletion: Option<DeletionFacts>) -> Standing {
        let evidence: Vec<EvidenceFacts> = evidence
            .iter()
            .map(|(verdict, at)| EvidenceFacts {
                artifact: "i_backdoor".into(),
                verdict: *verdict,
                at: t(at),
            })
            .collect();
        let deletions: Vec<DeletionFacts> = deletion.into_iter().collect();
        let gate = closure_gate(
            &foothold_plan(),
            1,
            &evidence,
            &[],
            &deletions,
            true,
            t("2026-05-22T00:00:00Z"),
        );
        assert_eq!(gate.lines.len(), 1);
        gate.lines[0].standing.clone()
    }

    #[test]
    fn a_foothold_stands_on_its_deletion_not_only_on_its_verified_disable() {
        use EvidenceVerdict::{Attested, VerifiedRevoked};
        let disabled = [(VerifiedRevoked, "2026-05-21T10:00:00Z")];
        let deletion = |at: &str, pending: Option<&str>| DeletionFacts {
            artifact: "i_backdoor".into(),
            at: t(at),
            pending: pending.map(str::to_string),
        };
        // No deletion known (no executor ran it): the disable's evidence is what there is.
        assert_eq!(judged(&disabled, None), Standing::Verified);
        // The deletion waits or failed: the verified disable does not close the incident, nor
        // does probing the disable again.
        let waiting = judged(
            &[
                (VerifiedRevoked, "2026-05-21T10:00:00Z"),
                (VerifiedRevoked, "2026-05-21T12:00:00Z"),
            ],
            Some(deletion("2026-05-21T11:00:00Z", Some("failed: forbidden"))),
        );
        match waiting {
            Standing::Missing { what } => {
                assert!(what.contains("failed: forbidden"), "{what}");
                assert!(what.contains("evict incident contain breach"), "{what}");
            }
            other => panic!("{other:?}"),
        }
        // Deleted by hand and attested after: the person's word, where attestations count.
        assert_eq!(
            judged(
                &[
                    (VerifiedRevoked, "2026-05-21T10:00:00Z"),
                    (Attested, "2026-05-21T12:00:00Z")
                ],
                Some(deletion("2026-05-21T11:00:00Z", Some("needs manual"))),
            ),
            Standing::Attested
        );
        // Done: only a probe after it counts.
        match judged(&disabled, Some(deletion("2026-05-21T11:00:00Z", None))) {
            Standing::Missing { what } => {
                assert!(what.contains("evict incident verify breach"), "{what}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            judged(
                &[
                    (VerifiedRevoked, "2026-05-21T10:00:00Z"),
                    (VerifiedRevoked, "2026-05-21T12:00:00Z")
                ],
                Some(deletion("2026-05-21T11:00:00Z", None)),
            ),
            Standing::Verified
        );
    }
}
