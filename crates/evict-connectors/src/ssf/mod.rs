//! Shared Signals transmitter: after Evict revokes access, it tells the services that cached
//! it — relying parties holding sessions, apps holding tokens — in Security Event Tokens they
//! act on (drop the session, re-check the account), pushed to each of them.
//!
//! - [`event`]: the events (CAEP session-revoked and credential-change, RISC
//!   credential-compromise and account-disabled) and RFC 9493 subjects, built from Evict's
//!   targets and actions.
//! - [`set`]: signing SETs (RFC 8417 as OpenID SSF 1.0 profiles it, Ed25519), the public JWKS,
//!   and [`verify_set`] for the receiving side.
//! - [`push`]: RFC 8935 push delivery with bounded, jittered retries.
//!
//! This is a notifier, not a [`Provider`](crate::Provider): it acts on no target and has
//! nothing to probe. A delivered SET says a receiver *accepted* the news, not that it dropped
//! anything: evidence of revocation still comes from the provider's own probe.

pub mod event;
pub mod push;
pub mod set;

use std::sync::Arc;

use jiff::Timestamp;
use jsonwebtoken::jwk::JwkSet;

pub use event::{
    CaepContext, ChangeType, ComplexSubject, CredentialType, DisabledReason, InitiatingEntity,
    Occasion, SecurityEvent, Signal, SubjectId,
};
pub use push::{Delivery, DeliveryOutcome, Receiver, RetryPolicy};
pub use set::{SetRejected, SetSigner, SignedSet, VerifiedSet, verify_set};

use crate::config::SsfConfig;
use crate::provider::ConnectorError;

/// A receiver still owed a signal, and the `jti` it was first sent under, if it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    /// The receiver's name in the configuration.
    pub receiver: String,
    /// The SET id of the earlier attempt.
    pub jti: Option<String>,
}

/// Signs each signal once per receiver (its own `aud` and `jti`) and pushes it to all of them
/// at once; one receiver down or refusing does not hold up or stop the others.
#[derive(Debug, Clone)]
pub struct Transmitter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    signer: SetSigner,
    receivers: Vec<Receiver>,
    client: reqwest::Client,
    policy: RetryPolicy,
}

impl Transmitter {
    /// A transmitter signing with `signer` for `receivers`, retrying as `policy` says.
    pub fn new(
        signer: SetSigner,
        receivers: Vec<Receiver>,
        policy: RetryPolicy,
    ) -> Result<Transmitter, ConnectorError> {
        let mut names = std::collections::HashSet::new();
        if let Some(twice) = receivers.iter().find(|r| !names.insert(r.name.as_str())) {
            return Err(ConnectorError::Config(format!(
                "two SSF receivers are named '{}'",
                twice.name
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout.min(std::time::Duration::from_secs(5)))
            // A SET is addressed to one receiver: it is not handed on to wherever a redirect
            // points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("evict-ssf/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ConnectorError::Config(format!("cannot set up the SSF HTTP client: {e}"))
            })?;
        Ok(Transmitter {
            inner: Arc::new(Inner {
                signer,
                receivers,
                client,
                policy,
            }),
        })
    }

    /// A transmitter as the `[ssf]` configuration says, reading the signing key and the
    /// receivers' authorizations from where it points.
    pub fn from_config(config: &SsfConfig) -> Result<Transmitter, ConnectorError> {
        let key = config.signing_key.read()?;
        let signer = SetSigner::from_pkcs8_pem(&key, &config.key_id, &config.issuer)?;
        let receivers = config
            .receivers
            .iter()
            .map(|r| {
                let receiver = Receiver::new(&r.name, &r.url, &r.audience)?;
                match &r.authorization {
                    Some(reference) => receiver.with_authorization(reference.read()?),
                    None => Ok(receiver),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let defaults = RetryPolicy::default();
        let policy = RetryPolicy {
            max_attempts: config.max_attempts.unwrap_or(defaults.max_attempts),
            timeout: config
                .timeout_seconds
                .map(std::time::Duration::from_secs)
                .unwrap_or(defaults.timeout),
            ..defaults
        };
        Transmitter::new(signer, receivers, policy)
    }

    /// The public key receivers verify SETs with, as a JWK Set.
    pub fn jwks(&self) -> JwkSet {
        self.inner.signer.jwks()
    }

    /// The signer.
    pub fn signer(&self) -> &SetSigner {
        &self.inner.signer
    }

    /// The receivers, in configuration order.
    pub fn receivers(&self) -> &[Receiver] {
        &self.inner.receivers
    }

    /// Sends `signal` to every receiver and says, per receiver, whether it was delivered and
    /// after how many attempts, or why not. An error means nothing was sent: the signal could
    /// not be signed (an empty subject, say).
    pub async fn transmit(&self, signal: &Signal) -> Result<Vec<Delivery>, ConnectorError> {
        let everyone: Vec<Owed> = self
            .inner
            .receivers
            .iter()
            .map(|r| Owed {
                receiver: r.name.clone(),
                jti: None,
            })
            .collect();
        self.transmit_owed(signal, &everyone).await
    }

    /// Sends `signal` to the receivers `owed` names (those still owed it after an earlier
    /// run), each under the `jti` it was first sent with when there is one. Receivers no
    /// longer configured are skipped.
    pub async fn transmit_owed(
        &self,
        signal: &Signal,
        owed: &[Owed],
    ) -> Result<Vec<Delivery>, ConnectorError> {
        let issued_at = Timestamp::now();
        let sets = owed
            .iter()
            .filter_map(|o| {
                let index = self
                    .inner
                    .receivers
                    .iter()
                    .position(|r| r.name == o.receiver)?;
                let audience = &self.inner.receivers[index].audience;
                Some(
                    self.inner
                        .signer
                        .sign_as(signal, audience, issued_at, o.jti.as_deref())
                        .map(|set| (index, set)),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let event_type = signal.event.uri();
        let mut running = tokio::task::JoinSet::new();
        let mut tasks = std::collections::HashMap::new();
        let mut deliveries: Vec<Delivery> = Vec::with_capacity(sets.len());
        for (slot, (index, set)) in sets.into_iter().enumerate() {
            // Until its task reports, a delivery stands as failed: a task that panics is
            // reported, not lost.
            deliveries.push(Delivery {
                receiver: self.inner.receivers[index].name.clone(),
                jti: set.jti.clone(),
                event_type,
                attempts: 0,
                outcome: DeliveryOutcome::Failed {
                    permanent: false,
                    reason: "the delivery did not finish".into(),
                },
            });
            let inner = Arc::clone(&self.inner);
            let task = running.spawn(async move {
                let receiver = &inner.receivers[index];
                push::deliver(&inner.client, receiver, &set, event_type, &inner.policy).await
            });
            tasks.insert(task.id(), slot);
        }
        while let Some(joined) = running.join_next_with_id().await {
            match joined {
                Ok((id, delivery)) => {
                    if let Some(&index) = tasks.get(&id) {
                        deliveries[index] = delivery;
                    }
                }
                Err(e) => {
                    if let Some(&index) = tasks.get(&e.id()) {
                        deliveries[index].outcome = DeliveryOutcome::Failed {
                            permanent: false,
                            reason: format!("the delivery ended abnormally: {e}"),
                        };
                    }
                }
            }
        }
        Ok(deliveries)
    }
}
