//! The compliance test every provider passes (docs/specs/connector.md): run on a live target
//! the provider may act on.

use evict_connectors::{ConnectorError, NotFound, Provider, Target, TargetKind};
use evict_model::{ActionKind, EvidenceVerdict};

/// The reference the check acts on to see how "not found" is reported. A provider that needs
/// the target handed to it first (an OAuth token) is given a made-up one under this name.
pub const MISSING: &str = "evict-compliance-no-such-target";

/// Checks the contract on `live`, an identity with nothing open that `p` can disable.
#[allow(dead_code)] // Not every provider disables identities.
pub async fn check<P: Provider>(p: &P, live: &Target) {
    assert_eq!(live.kind, TargetKind::Identity);
    check_target(p, live, ActionKind::Disable).await;
}

/// Checks the contract on `live`, a target with nothing open that `p` can do `action` to.
pub async fn check_target<P: Provider>(p: &P, live: &Target, action: ActionKind) {
    let semantics = p.semantics();
    assert!(
        semantics.supports(live.kind, action),
        "{}: {action} on {:?} is not declared",
        p.name(),
        live.kind
    );

    // Discovery lists what acts can target, where the provider can list that kind at all.
    let found = p.discover().await.unwrap();
    if p.discovers(live.kind) {
        let listed = match live.kind {
            TargetKind::Identity => found
                .identities
                .iter()
                .any(|i| i.external_id == live.native_id),
            TargetKind::Credential(kind) => found
                .credentials
                .iter()
                .any(|c| c.kind == kind && c.native_id.as_deref() == Some(&live.native_id)),
        };
        assert!(
            listed,
            "{}: discover does not list {}",
            p.name(),
            live.native_id
        );
    }
    assert!(
        found
            .identities
            .iter()
            .all(|i| i.provider.as_str() == p.name())
            && found
                .credentials
                .iter()
                .all(|c| c.provider.as_str() == p.name()),
        "everything discovered carries the provider's name"
    );

    // What is not declared is refused, not attempted.
    let undeclared = [
        ActionKind::RotateSigningKey,
        ActionKind::Revert,
        ActionKind::Examine,
    ]
    .into_iter()
    .find(|a| !semantics.supports(live.kind, *a))
    .expect("some action is not supported on the target's kind");
    assert!(matches!(
        p.act(live, undeclared).await,
        Err(ConnectorError::Unsupported { .. })
    ));

    // Before the act, the probe does not claim revocation.
    let before = p.verify(live, action).await.unwrap();
    assert_eq!(
        before.verdict,
        EvidenceVerdict::StillLive,
        "{}",
        before.detail
    );

    // The act, the declared delay, then the probe's own evidence.
    let acted = p.act(live, action).await.unwrap();
    assert!(acted.changed, "{}", acted.detail);
    tokio::time::sleep(semantics.propagation_delay).await;
    let after = p.verify(live, action).await.unwrap();
    assert_eq!(
        after.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        after.detail
    );
    assert!(!after.detail.is_empty(), "evidence says what was checked");

    // Idempotent as declared.
    if semantics.idempotent {
        let again = p.act(live, action).await.unwrap();
        assert!(!again.changed, "{}", again.detail);
    }

    // "Not found" is reported as declared.
    let missing = Target {
        kind: live.kind,
        native_id: MISSING.into(),
    };
    let result = p.act(&missing, action).await;
    match semantics.not_found {
        NotFound::Error => assert!(
            matches!(result, Err(ConnectorError::NotFound { .. })),
            "{result:?}"
        ),
        NotFound::Indistinguishable => assert!(result.is_ok(), "{result:?}"),
    }
}
