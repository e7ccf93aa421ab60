//! The SCIM connector against a real scim2-server (PyPI) on loopback, with a bearer token
//! generated at test time and users created through SCIM itself; and against a lying service
//! (tests/scim-liar/liar.py) that answers 204 and changes nothing.
#![allow(clippy::unwrap_used)]

mod compliance;

use std::process::{Command, Stdio};

use evict_connectors::scim::Scim;
use evict_connectors::{ConnectorError, ConnectorsConfig, Provider, ScimConfig, SecretRef, Target};
use evict_model::{ActionKind, EvidenceVerdict, IdentityStatus, SecretString};
use evict_testkit::servers::{ServerProcess, free_port, missing, scim_liar, scim2_server};

fn generated_token() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Service {
    server: ServerProcess,
    token: String,
    secrets: tempfile::TempDir,
}

/// scim2-server on a free port with a generated bearer token; `None` (after [`missing`])
/// when it cannot run.
fn start() -> Option<Service> {
    let installed = Command::new("scim2-server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if let Err(why) = installed {
        missing(
            "scim2-server (PyPI)",
            format!("cannot run scim2-server ({why}): .ci/run installs it with pip"),
        );
        return None;
    }
    let token = generated_token();
    let secrets = tempfile::tempdir().unwrap();
    // Its access log (a line a request) goes to a file, not the test's output.
    match scim2_server(&token, &secrets.path().join("scim2-server.log")) {
        Ok(server) => Some(Service {
            server,
            token,
            secrets,
        }),
        Err(why) => {
            missing("scim2-server (PyPI)", why);
            None
        }
    }
}

impl Service {
    fn base_url(&self) -> String {
        format!("{}/v2", self.server.base_url())
    }

    /// The connector, its token in a file as a deployment would give it.
    fn connector(&self) -> Scim {
        let file = self.secrets.path().join("scim-token");
        std::fs::write(&file, format!("{}\n", self.token)).unwrap();
        let config = ConnectorsConfig::parse(
            &format!(
                "[scim]\nbase_url = \"{}\"\ntoken = {{ file = \"{}\" }}\n",
                self.base_url(),
                file.display()
            ),
            "test.toml",
        )
        .unwrap();
        Scim::from_config(config.scim.as_ref().unwrap()).unwrap()
    }

    /// Creates a user through SCIM (RFC 7644 §3.3) and returns its id.
    async fn create_user(&self, user_name: &str) -> String {
        let created: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/Users", self.base_url()))
            .bearer_auth(&self.token)
            .header("Content-Type", "application/scim+json")
            .body(
                serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name,
                    "active": true,
                })
                .to_string(),
            )
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        created["id"].as_str().unwrap().to_string()
    }
}

fn config(base_url: String) -> ScimConfig {
    ScimConfig {
        base_url,
        token: SecretRef {
            env: Some("UNUSED".into()),
            file: None,
        },
        connect_timeout_secs: 2,
        request_timeout_secs: 5,
    }
}

async fn verdict(scim: &Scim, id: &str, action: ActionKind) -> (EvidenceVerdict, String) {
    let evidence = scim.verify(&Target::identity(id), action).await.unwrap();
    (evidence.verdict, evidence.detail)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_and_a_deleted_user_are_proven_gone_and_the_innocent_is_untouched() {
    let Some(service) = start() else { return };
    let scim = service.connector();
    let mallory = service.create_user("mallory").await;
    let eve = service.create_user("eve").await;
    let innocent = service.create_user("innocent").await;

    let found = scim.discover().await.unwrap();
    let status = |id: &str| {
        found
            .identities
            .iter()
            .find(|i| i.external_id == id)
            .map(|i| (i.name.clone(), i.status))
    };
    assert_eq!(
        status(&mallory),
        Some(("mallory".into(), IdentityStatus::Active))
    );
    assert!(
        found.credentials.is_empty(),
        "SCIM passwords are never read"
    );

    // Disable: the PATCH is accepted, and the read-back proves it.
    assert_eq!(
        verdict(&scim, &mallory, ActionKind::Disable).await.0,
        EvidenceVerdict::StillLive
    );
    let acted = scim
        .act(&Target::identity(&mallory), ActionKind::Disable)
        .await
        .unwrap();
    assert!(acted.changed);
    assert!(acted.detail.contains("path form"), "{}", acted.detail);
    let (disabled, detail) = verdict(&scim, &mallory, ActionKind::Disable).await;
    assert_eq!(disabled, EvidenceVerdict::VerifiedRevoked, "{detail}");
    assert!(detail.contains("active:false"), "{detail}");
    let again = scim
        .act(&Target::identity(&mallory), ActionKind::Disable)
        .await
        .unwrap();
    assert!(!again.changed, "already inactive: {}", again.detail);

    // Delete: accepted, and the read-back is a 404 — for a delete and for a disable alike.
    assert!(
        scim.act(&Target::identity(&eve), ActionKind::Delete)
            .await
            .unwrap()
            .changed
    );
    for action in [ActionKind::Delete, ActionKind::Disable] {
        let (gone, detail) = verdict(&scim, &eve, action).await;
        assert_eq!(gone, EvidenceVerdict::VerifiedRevoked, "{detail}");
        assert!(detail.contains("404"), "{detail}");
    }
    match scim.act(&Target::identity(&eve), ActionKind::Delete).await {
        Err(ConnectorError::NotFound { native_id, .. }) => assert_eq!(native_id, eve),
        other => panic!("deleting a deleted user: {other:?}"),
    }

    // The innocent user was not touched by either act.
    let (untouched, detail) = verdict(&scim, &innocent, ActionKind::Disable).await;
    assert_eq!(untouched, EvidenceVerdict::StillLive, "{detail}");
    let found = scim.discover().await.unwrap();
    let status = |id: &str| {
        found
            .identities
            .iter()
            .find(|i| i.external_id == id)
            .map(|i| i.status)
    };
    assert_eq!(status(&innocent), Some(IdentityStatus::Active));
    assert_eq!(status(&mallory), Some(IdentityStatus::Disabled));
    assert_eq!(status(&eve), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_pages_through_every_user_and_the_contract_holds() {
    let Some(service) = start() else { return };
    let scim = service.connector();
    // More users than one page (100) holds.
    let mut ids = Vec::new();
    for n in 0..130 {
        ids.push(service.create_user(&format!("user-{n:03}")).await);
    }
    let found = scim.discover().await.unwrap();
    let mut listed: Vec<&str> = found
        .identities
        .iter()
        .map(|i| i.external_id.as_str())
        .collect();
    listed.sort_unstable();
    listed.dedup();
    assert_eq!(listed.len(), 130, "every user exactly once");
    assert!(ids.iter().all(|id| listed.contains(&id.as_str())));

    compliance::check(&scim, &Target::identity(&ids[7])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_forbidden_and_never_echoed() {
    let Some(service) = start() else { return };
    let victim = service.create_user("victim").await;
    let wrong_token = generated_token();
    let wrong = Scim::connect(
        &config(service.base_url()),
        SecretString::new(wrong_token.clone()),
    )
    .unwrap();
    let results = [
        wrong.discover().await.err(),
        wrong
            .act(&Target::identity(&victim), ActionKind::Disable)
            .await
            .err(),
        wrong
            .verify(&Target::identity(&victim), ActionKind::Disable)
            .await
            .err(),
    ];
    for result in results {
        match result {
            Some(e @ ConnectorError::Forbidden { .. }) => {
                let message = e.to_string();
                assert!(message.contains("401"), "{message}");
                assert!(message.contains("scim.token"), "{message}");
                assert!(!message.contains(&wrong_token), "{message}");
                assert!(!message.contains(&service.token), "{message}");
            }
            other => panic!("a wrong bearer token: {other:?}"),
        }
    }
    assert_eq!(
        verdict(&service.connector(), &victim, ActionKind::Disable)
            .await
            .0,
        EvidenceVerdict::StillLive,
        "nothing was changed with the wrong token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_is_down_is_unreachable() {
    let scim = Scim::connect(
        &config(format!("http://127.0.0.1:{}/v2", free_port())),
        SecretString::new(generated_token()),
    )
    .unwrap();
    let target = Target::identity("someone");
    assert!(matches!(
        scim.discover().await,
        Err(ConnectorError::Unreachable { .. })
    ));
    assert!(matches!(
        scim.act(&target, ActionKind::Disable).await,
        Err(ConnectorError::Unreachable { .. })
    ));
    assert!(matches!(
        scim.verify(&target, ActionKind::Delete).await,
        Err(ConnectorError::Unreachable { .. })
    ));
    match Scim::connect(
        &config("http://scim.example/v2".into()),
        SecretString::new(generated_token()),
    ) {
        Err(ConnectorError::Config(message)) => assert!(message.contains("https://"), "{message}"),
        other => panic!("a bearer token over http:// off loopback: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_answers_204_and_changes_nothing_is_caught_by_the_read_back() {
    let server = match scim_liar() {
        Ok(server) => server,
        Err(why) => {
            missing("python3 (tests/scim-liar/liar.py)", why);
            return;
        }
    };
    let scim = Scim::connect(
        &config(server.base_url()),
        SecretString::new(generated_token()),
    )
    .unwrap();
    let target = Target::identity("liar-1");
    // The acts "succeed": 204 No Content.
    let disabled = scim.act(&target, ActionKind::Disable).await.unwrap();
    assert!(disabled.detail.contains("204"), "{}", disabled.detail);
    let (verdict_disable, detail) = verdict(&scim, "liar-1", ActionKind::Disable).await;
    assert_eq!(
        verdict_disable,
        EvidenceVerdict::StillLive,
        "a 204 is not evidence: {detail}"
    );
    assert!(detail.contains("active:true"), "{detail}");
    scim.act(&target, ActionKind::Delete).await.unwrap();
    let (verdict_delete, detail) = verdict(&scim, "liar-1", ActionKind::Delete).await;
    assert_eq!(verdict_delete, EvidenceVerdict::StillLive, "{detail}");
    assert!(detail.contains("still exists"), "{detail}");
}
