//! The compliance test every provider passes (docs/specs/connector.md): run on a live
//! identity the provider may disable.

use evict_connectors::{ConnectorError, NotFound, Provider, Target, TargetKind};
use evict_model::{ActionKind, EvidenceVerdict};

/// Checks the contract on `live`, an identity with nothing open that `p` can disable.
pub async fn check<P: Provider>(p: &P, live: &Target) {
    let semantics = p.semantics();
    assert_eq!(live.kind, TargetKind::Identity);

    // Discovery lists what acts can target.
    let found = p.discover().await.unwrap();
    assert!(
        found
            .identities
            .iter()
            .any(|i| i.external_id == live.native_id),
        "{}: discover does not list {}",
        p.name(),
        live.native_id
    );
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
    .find(|a| !semantics.supports(TargetKind::Identity, *a))
    .expect("some action is not supported on identities");
    assert!(matches!(
        p.act(live, undeclared).await,
        Err(ConnectorError::Unsupported { .. })
    ));

    // Before the act, the probe does not claim revocation.
    assert!(semantics.supports(TargetKind::Identity, ActionKind::Disable));
    let before = p.verify(live, ActionKind::Disable).await.unwrap();
    assert_eq!(
        before.verdict,
        EvidenceVerdict::StillLive,
        "{}",
        before.detail
    );

    // The act, the declared delay, then the probe's own evidence.
    let acted = p.act(live, ActionKind::Disable).await.unwrap();
    assert!(acted.changed);
    tokio::time::sleep(semantics.propagation_delay).await;
    let after = p.verify(live, ActionKind::Disable).await.unwrap();
    assert_eq!(
        after.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        after.detail
    );
    assert!(!after.detail.is_empty(), "evidence says what was checked");

    // Idempotent as declared.
    if semantics.idempotent {
        assert!(!p.act(live, ActionKind::Disable).await.unwrap().changed);
    }

    // "Not found" is reported as declared.
    let missing = Target::identity("evict-compliance-no-such-identity");
    let result = p.act(&missing, ActionKind::Disable).await;
    match semantics.not_found {
        NotFound::Error => assert!(
            matches!(result, Err(ConnectorError::NotFound { .. })),
            "{result:?}"
        ),
        NotFound::Indistinguishable => assert!(result.is_ok(), "{result:?}"),
    }
}
