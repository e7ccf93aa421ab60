//! The closure gate: an incident closes only when every artifact of its plan has verified
//! evidence of revocation, an attestation where attestations are allowed, or a live exception.
//! It never counts a revoke call, an "unverified" probe or an expired exception.

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

/// Judges every artifact of `plan` against the evidence and exceptions.
pub fn closure_gate(
    plan: &Plan,
    plan_version: i64,
    evidence: &[EvidenceFacts],
    exceptions: &[ExceptionFacts],
    allow_attested: bool,
    now: Timestamp,
) -> GateReport {
    // The latest verdict per artifact decides: a later "still live" undoes an earlier
    // "verified", as it should.
    let mut latest: BTreeMap<&str, &EvidenceFacts> = BTreeMap::new();
    for e in evidence {
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
                what: match exceptions.iter().find(|x| x.artifact == step.artifact) {
                    Some(x) => format!("its exception expired at {}", x.expires_at),
                    None => format!("no evidence yet; expected: {}", step.proof),
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
