//! The OAuth connector against a real oidc-provider (tests/oidc/server.mjs) on loopback. The
//! tokens are real: an authorization code obtained through the server's own login and consent
//! pages with PKCE (S256) and exchanged for an access and a refresh token, and a
//! client-credentials access token. Client secrets are generated at test time.
#![allow(clippy::unwrap_used)]

mod compliance;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use evict_connectors::oauth::OAuth;
use evict_connectors::{ConnectorError, ConnectorsConfig, OAuthConfig, Provider, Target};
use evict_model::{ActionKind, CredentialKind, EvidenceVerdict, SecretString};
use evict_testkit::servers::{OidcProvider, free_port, missing, oidc_provider};
use reqwest::redirect::Policy;
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256};

const REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// Random bytes as URL-safe text: secrets, PKCE verifiers, states.
fn random_text(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).unwrap();
    URL_SAFE_NO_PAD.encode(buffer)
}

struct Oidc {
    server: OidcProvider,
    app_secret: String,
    service_secret: String,
    secrets: tempfile::TempDir,
}

/// Starts oidc-provider on a free port; `None` (after [`missing`]) when it cannot run.
fn start() -> Option<Oidc> {
    let (app_secret, service_secret) = (random_text(24), random_text(24));
    match oidc_provider(&app_secret, &service_secret) {
        Ok(server) => Some(Oidc {
            server,
            app_secret,
            service_secret,
            secrets: tempfile::tempdir().unwrap(),
        }),
        Err(why) => {
            missing("oidc-provider (npm)", why);
            None
        }
    }
}

impl Oidc {
    fn issuer(&self) -> String {
        self.server.issuer()
    }

    /// The connector configured as `client`, its secret in a file as a deployment would
    /// give it, the endpoints read from the server's metadata.
    async fn connector(&self, client: &str) -> OAuth {
        let secret = match client {
            "app" => &self.app_secret,
            "service" => &self.service_secret,
            other => panic!("no client {other}"),
        };
        let file = self.secrets.path().join(client);
        std::fs::write(&file, format!("{secret}\n")).unwrap();
        let config = ConnectorsConfig::parse(
            &format!(
                "[oauth]\nissuer = \"{}\"\nclient_id = \"{client}\"\n\
                 client_secret = {{ file = \"{}\" }}\nrequest_timeout_secs = 10\n",
                self.issuer(),
                file.display()
            ),
            "test.toml",
        )
        .unwrap();
        OAuth::from_config(config.oauth.as_ref().unwrap())
            .await
            .unwrap()
    }

    /// A client-credentials access token of the `service` client.
    async fn client_credentials_token(&self) -> String {
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer()))
            .basic_auth("service", Some(&self.service_secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "api")])
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().unwrap().to_string()
    }

    /// The real authorization-code flow of the `app` client with PKCE (S256): the
    /// authorization request, the server's login and consent pages (with its cookies), the
    /// redirect carrying the code, and the code exchanged at the token endpoint. Returns the
    /// access and refresh tokens.
    async fn authorization_code_tokens(&self) -> (String, String) {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .unwrap();
        let verifier = random_text(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_text(12);
        let mut url = Url::parse_with_params(
            &format!("{}/auth", self.issuer()),
            [
                ("client_id", "app"),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid offline_access"),
                ("prompt", "consent"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("state", state.as_str()),
            ],
        )
        .unwrap();
        let mut request = browser.get(url.clone());
        let code = 'flow: {
            for _ in 0..12 {
                let response = request.send().await.unwrap();
                let status = response.status();
                if status.is_redirection() {
                    let location = response.headers()["location"].to_str().unwrap().to_string();
                    let next = url.join(&location).unwrap();
                    if next.as_str().starts_with(REDIRECT_URI) {
                        let query: Vec<(String, String)> =
                            next.query_pairs().into_owned().collect();
                        let get =
                            |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                        assert_eq!(get("state").as_deref(), Some(state.as_str()));
                        break 'flow get("code").unwrap_or_else(|| panic!("no code: {next}"));
                    }
                    url = next;
                    request = browser.get(url.clone());
                    continue;
                }
                assert_eq!(status, StatusCode::OK, "{url}");
                // A login or consent page of the development interactions: submit its form.
                let page = response.text().await.unwrap();
                let action = between(&page, "action=\"", "\"").expect("a form");
                let prompt = between(&page, "name=\"prompt\" value=\"", "\"").expect("a prompt");
                let action = url.join(action).unwrap();
                let password = random_text(9);
                let form: Vec<(&str, &str)> = match prompt {
                    "login" => vec![
                        ("prompt", "login"),
                        ("login", "alice"),
                        ("password", password.as_str()),
                    ],
                    "consent" => vec![("prompt", "consent")],
                    other => panic!("unexpected interaction {other}"),
                };
                url = action.clone();
                request = browser.post(action).form(&form);
            }
            panic!("the authorization flow did not end at the redirect URI");
        };
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer()))
            .basic_auth("app", Some(&self.app_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            answer["access_token"].as_str().unwrap().to_string(),
            answer["refresh_token"]
                .as_str()
                .expect("a refresh token is issued")
                .to_string(),
        )
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

fn refresh(id: &str) -> Target {
    Target::credential(CredentialKind::RefreshToken, id)
}

fn access(id: &str) -> Target {
    Target::credential(CredentialKind::AccessToken, id)
}

async fn verdict(oauth: &OAuth, target: &Target) -> (EvidenceVerdict, String) {
    let evidence = oauth.verify(target, ActionKind::Revoke).await.unwrap();
    (evidence.verdict, evidence.detail)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_refresh_token_ends_its_grant_and_introspection_proves_it() {
    let Some(oidc) = start() else { return };
    let oauth = oidc.connector("app").await;
    assert!(
        oauth
            .revocation_endpoint()
            .as_str()
            .ends_with("/token/revocation"),
        "the endpoints come from the issuer's metadata"
    );
    let (access_token, refresh_token) = oidc.authorization_code_tokens().await;
    oauth.hold("alice-refresh", SecretString::new(refresh_token.clone()));
    oauth.hold("alice-access", SecretString::new(access_token.clone()));

    // 1. Both are live, and the probe says so.
    for target in [refresh("alice-refresh"), access("alice-access")] {
        let (verdict, detail) = verdict(&oauth, &target).await;
        assert_eq!(verdict, EvidenceVerdict::StillLive, "{detail}");
        assert!(detail.contains("active:true"), "{detail}");
        assert!(detail.contains("client_id app"), "{detail}");
        assert!(!detail.contains(&refresh_token) && !detail.contains(&access_token));
    }

    // 2. Revoke the refresh token only: its grant's access token dies with it.
    let acted = oauth
        .act(&refresh("alice-refresh"), ActionKind::Revoke)
        .await
        .unwrap();
    assert!(acted.changed, "{}", acted.detail);
    assert!(acted.detail.contains("not evidence"), "{}", acted.detail);
    assert!(!acted.detail.contains(&refresh_token), "{}", acted.detail);
    for target in [refresh("alice-refresh"), access("alice-access")] {
        let (verdict, detail) = verdict(&oauth, &target).await;
        assert_eq!(verdict, EvidenceVerdict::VerifiedRevoked, "{detail}");
        assert!(detail.contains("active:false"), "{detail}");
    }
    // The server agrees: the refresh token no longer mints access tokens.
    let refused = reqwest::Client::new()
        .post(format!("{}/token", oidc.issuer()))
        .basic_auth("app", Some(&oidc.app_secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);

    // Revoking again changes nothing, and says so.
    let again = oauth
        .act(&refresh("alice-refresh"), ActionKind::Revoke)
        .await
        .unwrap();
    assert!(!again.changed, "{}", again.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_an_access_token_leaves_the_refresh_token_alive_as_declared() {
    let Some(oidc) = start() else { return };
    let oauth = oidc.connector("app").await;
    let (access_token, refresh_token) = oidc.authorization_code_tokens().await;
    oauth.hold("bob-access", SecretString::new(access_token));
    oauth.hold("bob-refresh", SecretString::new(refresh_token));
    assert_eq!(
        verdict(&oauth, &refresh("bob-refresh")).await.0,
        EvidenceVerdict::StillLive
    );
    oauth
        .act(&access("bob-access"), ActionKind::Revoke)
        .await
        .unwrap();
    let (dead, detail) = verdict(&oauth, &access("bob-access")).await;
    assert_eq!(dead, EvidenceVerdict::VerifiedRevoked, "{detail}");
    // What the semantics warn of: the refresh token still works after its access token went.
    let (alive, detail) = verdict(&oauth, &refresh("bob-refresh")).await;
    assert_eq!(alive, EvidenceVerdict::StillLive, "{detail}");
    assert!(
        oauth
            .semantics()
            .leaves_alive
            .iter()
            .any(|n| n.contains("revoking an access token may leave its refresh token"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_credentials_token_is_revoked_and_the_contract_holds() {
    let Some(oidc) = start() else { return };
    let oauth = oidc.connector("service").await;

    // 3. A client-credentials token, revoked directly and proven dead.
    oauth.hold(
        "service-token",
        SecretString::new(oidc.client_credentials_token().await),
    );
    let target = access("service-token");
    assert_eq!(verdict(&oauth, &target).await.0, EvidenceVerdict::StillLive);
    assert!(
        oauth
            .act(&target, ActionKind::Revoke)
            .await
            .unwrap()
            .changed
    );
    let (verdict_after, detail) = verdict(&oauth, &target).await;
    assert_eq!(verdict_after, EvidenceVerdict::VerifiedRevoked, "{detail}");

    // The compliance check, on a second live token; the check's "missing" target is a
    // made-up token the server never issued (answered 200 all the same).
    oauth.hold(
        "compliance-token",
        SecretString::new(oidc.client_credentials_token().await),
    );
    oauth.hold(compliance::MISSING, SecretString::new(random_text(32)));
    assert!(oauth.discover().await.unwrap().identities.is_empty());
    compliance::check_target(&oauth, &access("compliance-token"), ActionKind::Revoke).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_token_proves_nothing_and_a_token_not_held_is_refused() {
    let Some(oidc) = start() else { return };
    let oauth = oidc.connector("service").await;

    // 4. A token the server never issued: the revocation is answered 200 (RFC 7009), the
    // connector claims no change, and the probe does not call it revoked — introspection
    // answers active:false for it exactly as for a revoked token.
    let made_up = random_text(32);
    oauth.hold("made-up", SecretString::new(made_up.clone()));
    let acted = oauth
        .act(&access("made-up"), ActionKind::Revoke)
        .await
        .unwrap();
    assert!(!acted.changed, "{}", acted.detail);
    assert!(acted.detail.contains("HTTP 200"), "{}", acted.detail);
    let (verdict_made_up, detail) = verdict(&oauth, &access("made-up")).await;
    assert_eq!(verdict_made_up, EvidenceVerdict::Unverified, "{detail}");
    assert!(detail.contains("never issued"), "{detail}");
    assert!(!detail.contains(&made_up), "{detail}");
    // The same for the probe of a token that is not held (a leak): not live here, nothing
    // more; a live one is reported live.
    let probe = oauth
        .probe(
            &SecretString::new(made_up.clone()),
            CredentialKind::AccessToken,
        )
        .await
        .unwrap();
    assert_eq!(
        probe.verdict,
        EvidenceVerdict::Unverified,
        "{}",
        probe.detail
    );
    assert!(!probe.subject.contains(&made_up) && !probe.detail.contains(&made_up));
    let leaked = oidc.client_credentials_token().await;
    let probe = oauth
        .probe(
            &SecretString::new(leaked.clone()),
            CredentialKind::AccessToken,
        )
        .await
        .unwrap();
    assert_eq!(
        probe.verdict,
        EvidenceVerdict::StillLive,
        "{}",
        probe.detail
    );
    assert!(!probe.subject.contains(&leaked) && !probe.detail.contains(&leaked));

    // 5. A target whose token is not held: a clear error, and nothing is sent — the live
    // token under another name stays live.
    oauth.hold("live", SecretString::new(leaked));
    for result in [
        oauth
            .act(&access("not-held"), ActionKind::Revoke)
            .await
            .err(),
        oauth
            .verify(&access("not-held"), ActionKind::Revoke)
            .await
            .err(),
    ] {
        match result {
            Some(ConnectorError::Config(message)) => {
                assert!(message.contains("'not-held'"), "{message}");
                assert!(message.contains("the token itself is needed"), "{message}");
                assert!(message.contains("RFC 7009"), "{message}");
            }
            other => panic!("a target whose token is not held: {other:?}"),
        }
    }
    assert_eq!(
        verdict(&oauth, &access("live")).await.0,
        EvidenceVerdict::StillLive
    );
    // Forgotten tokens are gone from the connector.
    assert!(oauth.forget("live"));
    assert!(
        oauth
            .verify(&access("live"), ActionKind::Revoke)
            .await
            .is_err()
    );
    // What is not declared is refused before anything is looked up.
    assert!(matches!(
        oauth
            .act(&Target::identity("alice"), ActionKind::Disable)
            .await,
        Err(ConnectorError::Unsupported { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_or_another_clients_token_is_forbidden() {
    let Some(oidc) = start() else { return };
    // 6. A wrong client secret: Forbidden, saying which client, never echoing a secret.
    let wrong_secret = random_text(24);
    let config = OAuthConfig {
        issuer: oidc.issuer(),
        client_id: "service".into(),
        client_secret: evict_connectors::SecretRef {
            env: Some("UNUSED".into()),
            file: None,
        },
        revocation_endpoint: None,
        introspection_endpoint: None,
        connect_timeout_secs: 5,
        request_timeout_secs: 10,
    };
    let wrong = OAuth::connect(&config, SecretString::new(wrong_secret.clone()))
        .await
        .unwrap();
    let token = oidc.client_credentials_token().await;
    wrong.hold("t", SecretString::new(token.clone()));
    for result in [
        wrong.act(&access("t"), ActionKind::Revoke).await.err(),
        wrong.verify(&access("t"), ActionKind::Revoke).await.err(),
    ] {
        match result {
            Some(e @ ConnectorError::Forbidden { .. }) => {
                let message = e.to_string();
                assert!(message.contains("client 'service'"), "{message}");
                assert!(message.contains("invalid_client"), "{message}");
                assert!(!message.contains(&wrong_secret), "{message}");
                assert!(!message.contains(&oidc.service_secret), "{message}");
                assert!(!message.contains(&token), "{message}");
            }
            other => panic!("a wrong client secret: {other:?}"),
        }
    }
    // Nothing was revoked by the refused client.
    let right = oidc.connector("service").await;
    right.hold("t", SecretString::new(token.clone()));
    assert_eq!(
        verdict(&right, &access("t")).await.0,
        EvidenceVerdict::StillLive
    );

    // Another client's token: the server refuses (RFC 7009 §2.1), and the error says why.
    let app = oidc.connector("app").await;
    app.hold("service-token", SecretString::new(token.clone()));
    match app.act(&access("service-token"), ActionKind::Revoke).await {
        Err(e @ ConnectorError::Forbidden { .. }) => {
            let message = e.to_string();
            assert!(message.contains("RFC 7009"), "{message}");
            assert!(!message.contains(&token), "{message}");
        }
        other => panic!("revoking another client's token: {other:?}"),
    }
    assert_eq!(
        verdict(&right, &access("t")).await.0,
        EvidenceVerdict::StillLive
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_down_is_unreachable() {
    // 7. Nothing listens on the port: reading the metadata, acting and probing all say
    // Unreachable (retry), within the configured deadline.
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut config = OAuthConfig {
        issuer: base.clone(),
        client_id: "service".into(),
        client_secret: evict_connectors::SecretRef {
            env: Some("UNUSED".into()),
            file: None,
        },
        revocation_endpoint: None,
        introspection_endpoint: None,
        connect_timeout_secs: 2,
        request_timeout_secs: 3,
    };
    let started = std::time::Instant::now();
    match OAuth::connect(&config, SecretString::new(random_text(16))).await {
        Err(ConnectorError::Unreachable { provider, .. }) => assert_eq!(provider, "oauth"),
        other => panic!("metadata from a server that is down: {other:?}"),
    }
    config.revocation_endpoint = Some(format!("{base}/token/revocation"));
    config.introspection_endpoint = Some(format!("{base}/token/introspection"));
    let oauth = OAuth::connect(&config, SecretString::new(random_text(16)))
        .await
        .unwrap();
    oauth.hold("t", SecretString::new(random_text(32)));
    assert!(matches!(
        oauth.act(&access("t"), ActionKind::Revoke).await,
        Err(ConnectorError::Unreachable { .. })
    ));
    assert!(matches!(
        oauth.verify(&access("t"), ActionKind::Revoke).await,
        Err(ConnectorError::Unreachable { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(20));

    // Credentials go over TLS, or over loopback only.
    config.issuer = "http://idp.example".into();
    config.revocation_endpoint = None;
    match OAuth::connect(&config, SecretString::new(random_text(16))).await {
        Err(ConnectorError::Config(message)) => assert!(message.contains("https://"), "{message}"),
        other => panic!("an http:// issuer off loopback: {other:?}"),
    }
}
