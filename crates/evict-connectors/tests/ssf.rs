//! The Shared Signals transmitter against real receivers: `tests/ssf-receiver/receiver.py`
//! processes on loopback, which verify every SET with PyJWT and cryptography — code that owes
//! nothing to Evict's — against the public JWKS Evict gives them, and record what they
//! accepted and refused.
//!
//! Under `CI=true` a missing Python, PyJWT or cryptography fails the tests (`.ci/run` installs
//! them); elsewhere the tests print a notice and return.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use evict_connectors::ConnectorsConfig;
use evict_connectors::Target;
use evict_connectors::ssf::event::{
    ACCOUNT_DISABLED, CREDENTIAL_CHANGE, CREDENTIAL_COMPROMISE, EVENT_TYPES, SESSION_REVOKED,
};
use evict_connectors::ssf::set::generate_signing_key;
use evict_connectors::ssf::{
    Delivery, DeliveryOutcome, InitiatingEntity, Occasion, Receiver, RetryPolicy, SecurityEvent,
    SetSigner, Signal, SubjectId, Transmitter,
};
use evict_model::{ActionKind, CredentialKind, Identity, IdentityKind, Provider};
use evict_testkit::servers::{ServerProcess, free_port, missing, ssf_receiver};
use serde_json::Value;

const ISSUER: &str = "https://evict.test";
const INCIDENT: &str = "ir-2025-017";

/// Whether the receiver can run here; says why not (failing under CI) when it cannot.
fn receiver_available() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .output();
    match probe {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            missing(
                "the SSF test receiver (python3 with PyJWT and cryptography)",
                String::from_utf8_lossy(&out.stderr).trim(),
            );
            false
        }
        Err(e) => {
            missing("the SSF test receiver (python3)", e);
            false
        }
    }
}

/// A running receiver process and the file it records each POST in.
struct TestReceiver {
    server: ServerProcess,
    log: PathBuf,
}

impl TestReceiver {
    /// Starts a receiver that trusts the keys in `jwks` and expects `audience`; `extra` adds
    /// receiver flags (`--fail-first`, …) and `env` its environment.
    fn start(
        dir: &Path,
        name: &str,
        jwks: &Path,
        audience: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> TestReceiver {
        let log = dir.join(format!("{name}.jsonl"));
        let server = ssf_receiver(jwks, ISSUER, audience, &log, extra, env)
            .unwrap_or_else(|e| panic!("the SSF test receiver {name} did not start: {e}"));
        TestReceiver { server, log }
    }

    fn url(&self) -> String {
        format!("{}/events", self.server.base_url())
    }

    /// What it recorded, one JSON object per POST.
    fn records(&self) -> Vec<Value> {
        match std::fs::read_to_string(&self.log) {
            Ok(text) => text
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn accepted(&self) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["verdict"] == "accepted")
            .collect()
    }
}

/// A signing key written where a configuration can point, and its public JWKS written where
/// a receiver can read it.
struct Keys {
    pem_path: PathBuf,
    jwks_path: PathBuf,
}

fn write_keys(dir: &Path, name: &str, key_id: &str) -> Keys {
    let pem = generate_signing_key().unwrap();
    let pem_path = dir.join(format!("{name}.pem"));
    std::fs::write(&pem_path, pem.expose()).unwrap();
    let signer = SetSigner::from_pkcs8_pem(&pem, key_id, ISSUER).unwrap();
    let jwks_path = dir.join(format!("{name}.jwks.json"));
    std::fs::write(&jwks_path, serde_json::to_string(&signer.jwks()).unwrap()).unwrap();
    Keys {
        pem_path,
        jwks_path,
    }
}

fn signer_from(keys: &Keys, key_id: &str) -> SetSigner {
    let pem = evict_connectors::SecretRef {
        env: None,
        file: Some(keys.pem_path.clone()),
    }
    .read()
    .unwrap();
    SetSigner::from_pkcs8_pem(&pem, key_id, ISSUER).unwrap()
}

/// Retries quick enough for a test.
fn quick_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
    }
}

/// The four signals an incident's containment sends about one person: a session ended, an
/// access key revoked, that key's compromise, the account disabled.
fn incident_signals() -> Vec<Signal> {
    let mut alice = Identity::new(
        Provider::new("okta").unwrap(),
        "00u1alice",
        IdentityKind::Human,
    );
    alice.name = "alice@example.com".into();
    let occasion = Occasion {
        at: jiff::Timestamp::now(),
        initiated_by: InitiatingEntity::Admin,
        reason: Some(format!("containment of incident {INCIDENT}")),
        compromised: true,
    };
    let user = SubjectId::for_identity(&alice, Some("https://example.okta.com"));
    let session = Target::credential(CredentialKind::Session, "102sess4711");
    let key = Target::credential(CredentialKind::AccessKey, "AKIAEVICTTEST0000001");
    let events = [
        (
            SubjectId::for_session(&session.native_id, Some(user.clone())),
            SecurityEvent::for_action(&session, ActionKind::TerminateSessions, &occasion),
        ),
        (
            user.clone(),
            SecurityEvent::for_action(&key, ActionKind::Revoke, &occasion),
        ),
        (
            user.clone(),
            Some(SecurityEvent::compromise(
                CredentialKind::AccessKey,
                &occasion,
            )),
        ),
        (
            SubjectId::for_identity(&alice, None),
            SecurityEvent::for_action(
                &Target::identity("00u1alice"),
                ActionKind::Disable,
                &occasion,
            ),
        ),
    ];
    events
        .into_iter()
        .map(|(subject, event)| Signal::new(subject, event.unwrap()).in_transaction(INCIDENT))
        .collect()
}

fn failure(delivery: &Delivery) -> (bool, &str) {
    match &delivery.outcome {
        DeliveryOutcome::Failed { permanent, reason } => (*permanent, reason.as_str()),
        DeliveryOutcome::Delivered => panic!("{delivery:?} was delivered"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_four_events_arrive_verified_at_every_receiver() {
    if !receiver_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = write_keys(dir.path(), "evict", "evict-1");
    let token: String = {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).unwrap();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    let token_path = dir.path().join("payments.token");
    std::fs::write(&token_path, format!("{token}\n")).unwrap();
    let payments = TestReceiver::start(
        dir.path(),
        "payments",
        &keys.jwks_path,
        "payments-client",
        &["--expect-authorization-env", "SSF_TEST_TOKEN"],
        &[("SSF_TEST_TOKEN", &token)],
    );
    let wiki = TestReceiver::start(dir.path(), "wiki", &keys.jwks_path, "wiki-client", &[], &[]);

    // Configured the way an operator would: the key and the bearer token by reference.
    let config = ConnectorsConfig::parse(
        &format!(
            r#"
[ssf]
issuer = "{ISSUER}"
signing_key = {{ file = "{}" }}
key_id = "evict-1"

[[ssf.receivers]]
name = "payments"
url = "{}"
audience = "payments-client"
authorization = {{ file = "{}" }}

[[ssf.receivers]]
name = "wiki"
url = "{}"
audience = "wiki-client"
"#,
            keys.pem_path.display(),
            payments.url(),
            token_path.display(),
            wiki.url(),
        ),
        "connectors.toml",
    )
    .unwrap();
    let transmitter = Transmitter::from_config(config.ssf.as_ref().unwrap()).unwrap();

    let mut sent = Vec::new();
    for signal in incident_signals() {
        let deliveries = transmitter.transmit(&signal).await.unwrap();
        assert_eq!(deliveries.len(), 2);
        for delivery in &deliveries {
            assert!(delivery.delivered(), "{delivery:?}");
            assert_eq!(delivery.attempts, 1, "{delivery:?}");
            assert_eq!(delivery.event_type, signal.event.uri());
        }
        assert_ne!(deliveries[0].jti, deliveries[1].jti, "one SET per receiver");
        sent.extend(deliveries);
    }

    for (receiver, name, audience) in [
        (&payments, "payments", "payments-client"),
        (&wiki, "wiki", "wiki-client"),
    ] {
        let records = receiver.records();
        assert!(
            records.iter().all(|r| r["verdict"] == "accepted"),
            "{name} refused something: {records:#?}"
        );
        let accepted = receiver.accepted();
        let types: Vec<_> = accepted.iter().map(|r| r["event_type"].clone()).collect();
        assert_eq!(types, EVENT_TYPES.map(Value::from), "{name}");
        let jtis: Vec<_> = sent
            .iter()
            .filter(|d| d.receiver == name)
            .map(|d| Value::from(d.jti.as_str()))
            .collect();
        let received: Vec<_> = accepted.iter().map(|r| r["jti"].clone()).collect();
        assert_eq!(
            received, jtis,
            "{name} got exactly the SETs reported delivered"
        );
        for record in &accepted {
            assert_eq!(record["aud"], audience);
            assert_eq!(record["iss"], ISSUER);
            assert_eq!(record["txn"], INCIDENT);
            assert_eq!(
                record["authorization"],
                name == "payments",
                "only payments is configured with a bearer token"
            );
        }
        let by_type = |uri: &str| {
            accepted
                .iter()
                .find(|r| r["event_type"] == uri)
                .unwrap()
                .clone()
        };
        let session = by_type(SESSION_REVOKED);
        assert_eq!(session["sub_id"]["format"], "complex");
        assert_eq!(session["sub_id"]["session"]["id"], "102sess4711");
        assert_eq!(session["sub_id"]["user"]["format"], "iss_sub");
        assert_eq!(session["event"]["initiating_entity"], "admin");
        assert!(session["event"]["event_timestamp"].is_i64());
        let change = by_type(CREDENTIAL_CHANGE);
        assert_eq!(change["event"]["credential_type"], "access_key");
        assert_eq!(change["event"]["change_type"], "revoke");
        assert_eq!(change["event"]["friendly_name"], "AKIAEVICTTEST0000001");
        assert_eq!(
            change["event"]["reason_admin"]["en"],
            format!("containment of incident {INCIDENT}")
        );
        let compromise = by_type(CREDENTIAL_COMPROMISE);
        assert_eq!(compromise["event"]["credential_type"], "access_key");
        let disabled = by_type(ACCOUNT_DISABLED);
        assert_eq!(disabled["event"]["reason"], "hijacking");
        assert_eq!(
            disabled["sub_id"],
            serde_json::json!({"format": "email", "email": "alice@example.com"})
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_the_receiver_cannot_verify_is_a_permanent_failure_reported_with_its_error() {
    if !receiver_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trusted = write_keys(dir.path(), "trusted", "evict-1");
    let stranger = write_keys(dir.path(), "stranger", "evict-1");
    let receiver = TestReceiver::start(dir.path(), "rp", &trusted.jwks_path, "rp", &[], &[]);
    // The same kid, another key: what a receiver sees after a key was swapped without
    // telling it.
    let wrong_key = Transmitter::new(
        signer_from(&stranger, "evict-1"),
        vec![Receiver::new("rp", &receiver.url(), "rp").unwrap()],
        quick_policy(5),
    )
    .unwrap();
    let signal = incident_signals().remove(1);
    let deliveries = wrong_key.transmit(&signal).await.unwrap();
    let (permanent, reason) = failure(&deliveries[0]);
    assert!(permanent, "a refused SET is not retried: {reason}");
    assert_eq!(deliveries[0].attempts, 1, "{reason}");
    assert!(reason.contains("400 invalid_key"), "{reason}");
    assert!(
        reason.contains("JWKS"),
        "the reason says what to fix: {reason}"
    );

    let wrong_audience = Transmitter::new(
        signer_from(&trusted, "evict-1"),
        vec![Receiver::new("rp", &receiver.url(), "someone-else").unwrap()],
        quick_policy(5),
    )
    .unwrap();
    let deliveries = wrong_audience.transmit(&signal).await.unwrap();
    let (permanent, reason) = failure(&deliveries[0]);
    assert!(
        permanent && reason.contains("400 invalid_audience"),
        "{reason}"
    );

    let records = receiver.records();
    let errors: Vec<_> = records.iter().map(|r| r["err"].clone()).collect();
    assert_eq!(
        errors,
        [Value::from("invalid_key"), Value::from("invalid_audience")],
        "the receiver refused both, once each: {records:#?}"
    );
    assert!(receiver.accepted().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_receiver_gets_the_set_after_retries_that_honour_retry_after() {
    if !receiver_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = write_keys(dir.path(), "evict", "evict-1");
    let flaky = TestReceiver::start(
        dir.path(),
        "flaky",
        &keys.jwks_path,
        "flaky",
        &["--fail-first", "2", "--fail-status", "503"],
        &[],
    );
    let throttled = TestReceiver::start(
        dir.path(),
        "throttled",
        &keys.jwks_path,
        "throttled",
        &[
            "--fail-first",
            "2",
            "--fail-status",
            "429",
            "--retry-after",
            "1",
        ],
        &[],
    );
    let down = TestReceiver::start(
        dir.path(),
        "down",
        &keys.jwks_path,
        "down",
        &["--fail-first", "1000", "--fail-status", "500"],
        &[],
    );
    let transmitter = Transmitter::new(
        signer_from(&keys, "evict-1"),
        vec![
            Receiver::new("flaky", &flaky.url(), "flaky").unwrap(),
            Receiver::new("throttled", &throttled.url(), "throttled").unwrap(),
            Receiver::new("down", &down.url(), "down").unwrap(),
        ],
        quick_policy(4),
    )
    .unwrap();
    let started = Instant::now();
    let deliveries = transmitter
        .transmit(&incident_signals().remove(0))
        .await
        .unwrap();
    let elapsed = started.elapsed();

    assert!(deliveries[0].delivered(), "{:?}", deliveries[0]);
    assert_eq!(deliveries[0].attempts, 3);
    assert!(deliveries[1].delivered(), "{:?}", deliveries[1]);
    assert_eq!(deliveries[1].attempts, 3);
    assert!(
        elapsed >= Duration::from_secs(2),
        "two Retry-After: 1 waits were honoured, yet it took {elapsed:?}"
    );
    let (permanent, reason) = failure(&deliveries[2]);
    assert!(!permanent, "a receiver answering 500 may recover: {reason}");
    assert_eq!(deliveries[2].attempts, 4, "bounded by max_attempts");
    assert!(
        reason.contains("500") && reason.contains("gave up after 4 attempts"),
        "{reason}"
    );

    for (receiver, delivery) in [(&flaky, &deliveries[0]), (&throttled, &deliveries[1])] {
        let verdicts: Vec<_> = receiver
            .records()
            .iter()
            .map(|r| r["verdict"].clone())
            .collect();
        let mut expected = vec![Value::from("failed_on_purpose"); 2];
        expected.push(Value::from("accepted"));
        assert_eq!(verdicts, expected);
        // The retries resend the same SET: its jti is the one reported.
        assert_eq!(receiver.accepted()[0]["jti"], delivery.jti.as_str());
    }
    assert_eq!(
        down.records().len(),
        4,
        "the receiver saw each of the 4 attempts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_asking_to_wait_too_long_is_left_for_later() {
    if !receiver_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = write_keys(dir.path(), "evict", "evict-1");
    let slow = TestReceiver::start(
        dir.path(),
        "slow",
        &keys.jwks_path,
        "slow",
        &[
            "--fail-first",
            "10",
            "--fail-status",
            "429",
            "--retry-after",
            "3600",
        ],
        &[],
    );
    let transmitter = Transmitter::new(
        signer_from(&keys, "evict-1"),
        vec![Receiver::new("slow", &slow.url(), "slow").unwrap()],
        quick_policy(5),
    )
    .unwrap();
    let started = Instant::now();
    let deliveries = transmitter
        .transmit(&incident_signals().remove(3))
        .await
        .unwrap();
    let (permanent, reason) = failure(&deliveries[0]);
    assert!(!permanent);
    assert_eq!(deliveries[0].attempts, 1);
    assert!(reason.contains("retry after 3600s"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_receiver_fails_with_its_reason_while_the_other_gets_everything() {
    if !receiver_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = write_keys(dir.path(), "evict", "evict-1");
    let alive = TestReceiver::start(dir.path(), "alive", &keys.jwks_path, "alive", &[], &[]);
    // Nothing listens on this port: every connection is refused.
    let dead_url = format!("http://127.0.0.1:{}/events", free_port());
    let transmitter = Transmitter::new(
        signer_from(&keys, "evict-1"),
        vec![
            Receiver::new("dead", &dead_url, "dead").unwrap(),
            Receiver::new("alive", &alive.url(), "alive").unwrap(),
        ],
        quick_policy(3),
    )
    .unwrap();
    for signal in incident_signals() {
        let deliveries = transmitter.transmit(&signal).await.unwrap();
        let (permanent, reason) = failure(&deliveries[0]);
        assert!(
            !permanent,
            "an unreachable receiver may come back: {reason}"
        );
        assert_eq!(deliveries[0].attempts, 3, "{reason}");
        assert!(
            reason.contains("the connection failed")
                && reason.to_lowercase().contains("connection refused")
                && reason.contains("gave up after 3"),
            "{reason}"
        );
        assert!(deliveries[1].delivered(), "{:?}", deliveries[1]);
        assert_eq!(deliveries[1].attempts, 1);
    }
    let types: Vec<_> = alive
        .accepted()
        .iter()
        .map(|r| r["event_type"].clone())
        .collect();
    assert_eq!(types, EVENT_TYPES.map(Value::from));
}
