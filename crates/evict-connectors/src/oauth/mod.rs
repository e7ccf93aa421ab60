//! OAuth 2.0 / OpenID Connect: refresh and access tokens revoked at the authorization server
//! (RFC 7009) and proven dead by its introspection (RFC 7662).
//!
//! **Tokens are secrets, and Evict never stores them**, so a [`Target`] cannot carry one. The
//! connector holds the tokens it is handed at run time, in memory only, each under a
//! reference the caller chooses ([`OAuth::hold`]); `act` and `verify` on
//! `Target::credential(RefreshToken | AccessToken, reference)` use the token held under it. A
//! target whose token is not held is refused with a `Config` error saying so — nothing is
//! sent, nothing guessed.
//!
//! **The revocation answer is never evidence**: RFC 7009 §2.2 answers 200 for a token the
//! server never issued, so `not_found` is `Indistinguishable`. Before revoking, the connector
//! introspects the token: `Acted::changed` is true when the server said it was active, false
//! when it said inactive, and true with the detail saying "unknown" when it cannot introspect.
//!
//! **The probe** is introspection. `active: true` is `still_live`. `active: false` is
//! `verified_revoked` only when this connector has seen the same token `active: true` through
//! the same client before (held tokens remember it): RFC 7662 §2.2 answers `active: false`
//! alike for a revoked token, one the server never issued, and one this client is not allowed
//! to introspect, so without that baseline it proves nothing and the verdict is `unverified`.
//! An error, an answer without a boolean `active` (or a JWT answer, RFC 9701) is `unverified`
//! with the reason; a refused client authentication is a `Forbidden` error, an unreachable
//! server `Unreachable`.
//!
//! **What revocation reaches is the server's choice** (RFC 7009 §2.1): revoking a refresh
//! token should end the access tokens of its grant (oidc-provider ends the whole grant);
//! revoking an access token may leave the refresh token — and so new access tokens — alive.
//! Self-contained (JWT) access tokens are checked by resource servers without asking the
//! issuer at some providers, and keep working there until they expire whatever revocation
//! says; introspection answers for the issuer only. No token kind is declared irrevocable for
//! a server that introspects and revokes opaque tokens.
//!
//! Servers let a client revoke only the tokens issued to it, unless configured otherwise: the
//! connector authenticates (`client_secret_basic`) as the client in its configuration.
//! Nothing lists a server's tokens (no RFC defines it): [`Provider::discover`] returns an
//! empty discovery.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use evict_model::{ActionKind, CredentialKind, Evidence, EvidenceVerdict, SecretString};
use jiff::Timestamp;
use reqwest::header::ACCEPT;
use reqwest::{StatusCode, Url};
use serde_json::Value;

use crate::config::OAuthConfig;
use crate::http;
use crate::provider::{
    Acted, Cascade, ConnectorError, Discovery, NotFound, PastAct, Provider, Semantics, Target,
    TargetKind,
};

const NAME: &str = "oauth";
const REFRESH_TOKEN: TargetKind = TargetKind::Credential(CredentialKind::RefreshToken);
const ACCESS_TOKEN: TargetKind = TargetKind::Credential(CredentialKind::AccessToken);

static SEMANTICS: Semantics = Semantics {
    supports: &[
        (REFRESH_TOKEN, ActionKind::Revoke),
        (ACCESS_TOKEN, ActionKind::Revoke),
    ],
    cascades: &[Cascade {
        action: ActionKind::Revoke,
        on: REFRESH_TOKEN,
        ends: "the access tokens issued from the same grant, where the server ties them to it \
               (RFC 7009 §2.1 'should'; provider-dependent — oidc-provider ends the whole \
               grant): verify each access token, do not assume",
    }],
    leaves_alive: &[
        "revoking an access token may leave its refresh token alive, and with it new access \
         tokens (RFC 7009 leaves it to the server; oidc-provider 8 does): revoke the refresh \
         token",
        "self-contained (JWT) access tokens are accepted by resource servers that do not ask \
         the issuer until they expire, whatever the revocation endpoint says; introspection \
         answers for the issuer only",
    ],
    propagation_delay: Duration::ZERO,
    irrevocable: &[],
    idempotent: true,
    not_found: NotFound::Indistinguishable,
    follow_ups: &[],
};

/// A token handed to the connector at run time, and whether introspection through this
/// client has shown it active (the baseline that makes a later `active: false` mean
/// something).
#[derive(Debug)]
struct Held {
    token: Arc<SecretString>,
    seen_active: Option<Timestamp>,
}

/// The OAuth 2.0 / OIDC connector, authenticating as one client of one authorization server.
#[derive(Debug)]
pub struct OAuth {
    http: reqwest::Client,
    client_id: String,
    client_secret: SecretString,
    revocation: Url,
    introspection: Option<Url>,
    held: Mutex<HashMap<String, Held>>,
}

/// What introspection said about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Introspected {
    /// `active: true`, with what the server said about it (never the token).
    Active(String),
    /// `active: false`.
    Inactive,
    /// No usable answer, and why.
    Undecided(String),
}

/// The `token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1) for a kind of token.
fn hint(kind: TargetKind) -> Option<&'static str> {
    match kind {
        REFRESH_TOKEN => Some("refresh_token"),
        ACCESS_TOKEN => Some("access_token"),
        _ => None,
    }
}

/// `text` encoded as `application/x-www-form-urlencoded`, as RFC 6749 §2.3.1 has client ids
/// and secrets encoded before they are joined for HTTP Basic authentication.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

fn evidence(subject: String, verdict: EvidenceVerdict, detail: String) -> Evidence {
    Evidence {
        subject,
        verdict,
        detail,
        at: Timestamp::now(),
    }
}

fn unsupported(target: &Target, action: ActionKind) -> ConnectorError {
    ConnectorError::Unsupported {
        provider: NAME,
        action,
        what: target.kind.to_string(),
    }
}

impl OAuth {
    /// Connects with the client secret read from where the configuration says, reading the
    /// endpoints from the issuer's metadata unless both are configured.
    pub async fn from_config(config: &OAuthConfig) -> Result<OAuth, ConnectorError> {
        let secret = config.client_secret.read()?;
        OAuth::connect(config, secret).await
    }

    /// Connects as `config`'s client with `client_secret` (from a file or the environment,
    /// never the command line).
    pub async fn connect(
        config: &OAuthConfig,
        client_secret: SecretString,
    ) -> Result<OAuth, ConnectorError> {
        if config.connect_timeout_secs == 0 || config.request_timeout_secs == 0 {
            return Err(ConnectorError::Config(
                "oauth: the timeouts must be at least one second".into(),
            ));
        }
        let http = http::client(
            NAME,
            Duration::from_secs(config.connect_timeout_secs),
            Duration::from_secs(config.request_timeout_secs),
        )?;
        let issuer = http::endpoint(NAME, "oauth.issuer", &config.issuer)?;
        let configured = |key: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|v| http::endpoint(NAME, key, v))
                .transpose()
        };
        let revocation = configured("oauth.revocation_endpoint", &config.revocation_endpoint)?;
        let introspection = configured(
            "oauth.introspection_endpoint",
            &config.introspection_endpoint,
        )?;
        let (revocation, introspection) = match (revocation, introspection) {
            (Some(r), Some(i)) => (r, Some(i)),
            (revocation, introspection) => {
                let metadata = Metadata::read(&http, &issuer).await?;
                let revocation = match revocation.or(metadata.revocation) {
                    Some(url) => url,
                    None => {
                        return Err(ConnectorError::Config(format!(
                            "oauth: {issuer} announces no revocation_endpoint (RFC 7009) in its \
                             metadata: set oauth.revocation_endpoint if it has one"
                        )));
                    }
                };
                (revocation, introspection.or(metadata.introspection))
            }
        };
        Ok(OAuth {
            http,
            client_id: config.client_id.clone(),
            client_secret,
            revocation,
            introspection,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// Holds `token` in memory under `native_id`, for acts and probes on
    /// `Target::credential(RefreshToken | AccessToken, native_id)`. Holding another token
    /// under the same reference replaces it (and forgets what was seen of the old one). A
    /// shared token is held without copying its value.
    pub fn hold(&self, native_id: impl Into<String>, token: impl Into<Arc<SecretString>>) {
        self.held_tokens().insert(
            native_id.into(),
            Held {
                token: token.into(),
                seen_active: None,
            },
        );
    }

    /// Drops the token held under `native_id`; false when none was.
    pub fn forget(&self, native_id: &str) -> bool {
        self.held_tokens().remove(native_id).is_some()
    }

    /// The RFC 7009 revocation endpoint in use.
    pub fn revocation_endpoint(&self) -> &Url {
        &self.revocation
    }

    /// The RFC 7662 introspection endpoint in use, if the server has one.
    pub fn introspection_endpoint(&self) -> Option<&Url> {
        self.introspection.as_ref()
    }

    /// Asks introspection about a token that is not held (a leaked one) and returns the
    /// answer as it is, for a caller that words it itself. `active: false` is no evidence that
    /// the token is dead: see [`OAuth::probe`].
    pub async fn introspect_leaked(
        &self,
        token: &SecretString,
        kind: CredentialKind,
    ) -> Result<Introspected, ConnectorError> {
        self.introspect(token.expose(), hint(TargetKind::Credential(kind)))
            .await
    }

    /// Probes a token that is not held — a leaked one, for `scan --verify` — by
    /// introspection: `still_live` when the server says `active: true`; otherwise
    /// `unverified`, since `active: false` is also the answer for a token of another server
    /// or one this client may not introspect. `kind` gives the `token_type_hint`.
    pub async fn probe(
        &self,
        token: &SecretString,
        kind: CredentialKind,
    ) -> Result<Evidence, ConnectorError> {
        let kind = TargetKind::Credential(kind);
        let subject = format!("{NAME}:token {}", token.preview());
        let answer = self.introspect(token.expose(), hint(kind)).await?;
        let asked = self.asked(hint(kind));
        Ok(match answer {
            Introspected::Active(what) => evidence(
                subject,
                EvidenceVerdict::StillLive,
                format!("{asked}: active:true ({what})"),
            ),
            Introspected::Inactive => evidence(
                subject,
                EvidenceVerdict::Unverified,
                format!(
                    "{asked}: active:false, which RFC 7662 §2.2 answers alike for a revoked \
                     token, one this server never issued and one client '{}' may not \
                     introspect: not evidence that the token is dead anywhere",
                    self.client_id
                ),
            ),
            Introspected::Undecided(why) => evidence(
                subject,
                EvidenceVerdict::Unverified,
                format!("{asked}: {why}"),
            ),
        })
    }

    fn held_tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        // A panic elsewhere while holding the lock leaves the map itself intact.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The token held under the target's reference, and when it was last seen active.
    fn held(
        &self,
        target: &Target,
    ) -> Result<(Arc<SecretString>, Option<Timestamp>), ConnectorError> {
        match self.held_tokens().get(&target.native_id) {
            Some(held) => Ok((Arc::clone(&held.token), held.seen_active)),
            None => Err(ConnectorError::Config(format!(
                "the oauth connector holds no token under '{id}': the token itself is needed \
                 to revoke it (RFC 7009) or introspect it (RFC 7662), and evict never stores \
                 tokens; hand it over for the run (`evict incident contain|verify --secrets \
                 FILE`, one secret a line), never on the command line",
                id = target.native_id
            ))),
        }
    }

    fn seen_active(&self, target: &Target, token: &Arc<SecretString>) {
        if let Some(held) = self.held_tokens().get_mut(&target.native_id) {
            // Only for the token probed: it may have been replaced meanwhile.
            if Arc::ptr_eq(&held.token, token) {
                held.seen_active = Some(Timestamp::now());
            }
        }
    }

    fn asked(&self, hint: Option<&str>) -> String {
        let endpoint = self
            .introspection
            .as_ref()
            .map_or_else(|| "(none)".to_string(), Url::to_string);
        match hint {
            Some(hint) => format!(
                "introspection (RFC 7662) at {endpoint} as client '{}', token_type_hint={hint}",
                self.client_id
            ),
            None => format!(
                "introspection (RFC 7662) at {endpoint} as client '{}'",
                self.client_id
            ),
        }
    }

    /// POSTs a form with the client's credentials (`client_secret_basic`).
    async fn post(
        &self,
        url: &Url,
        form: &[(&str, &str)],
    ) -> Result<(StatusCode, Vec<u8>), ConnectorError> {
        let response = self
            .http
            .post(url.clone())
            .basic_auth(
                form_encode(&self.client_id),
                Some(form_encode(self.client_secret.expose())),
            )
            .header(ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| http::unreachable(NAME, e))?;
        http::read(NAME, response).await
    }

    /// The server's words in an error answer (`error`, `error_description`), or the start
    /// of its body, never with the token or the client secret in them.
    fn words(&self, status: StatusCode, body: &[u8], token: &str) -> String {
        let secrets = [token, self.client_secret.expose()];
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .map(|s| http::scrub(s, &secrets))
        };
        match (field("error"), field("error_description")) {
            (Some(error), Some(description)) => format!("HTTP {status}: {error}: {description}"),
            (Some(error), None) => format!("HTTP {status}: {error}"),
            _ if body.is_empty() => format!("HTTP {status}"),
            _ => format!("HTTP {status}: {}", http::snippet(body, &secrets)),
        }
    }

    /// What a refusal means for the responder: bad client credentials and refused
    /// permissions are `Forbidden`, the rest the server's own words (an overloaded server is
    /// `Throttled` before this, in [`http::read`]).
    fn refused(
        &self,
        what: &'static str,
        status: StatusCode,
        body: &[u8],
        token: &str,
    ) -> ConnectorError {
        let reason = self.words(status, body, token);
        let error: Option<String> = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string));
        let description = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| {
                v.get("error_description")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase)
            })
            .unwrap_or_default();
        if status == StatusCode::UNAUTHORIZED || error.as_deref() == Some("invalid_client") {
            return ConnectorError::Forbidden {
                provider: NAME,
                permission: format!(
                    "to authenticate as client '{}' (client_secret_basic): check oauth.client_id \
                     and the secret that oauth.client_secret names",
                    self.client_id
                ),
                reason,
            };
        }
        if status == StatusCode::FORBIDDEN
            || error.as_deref() == Some("unauthorized_client")
            || description.contains("belong")
            || description.contains("not authorized")
        {
            return ConnectorError::Forbidden {
                provider: NAME,
                permission: format!(
                    "to {what} for client '{}': servers let only the client a token was issued \
                     to revoke or introspect it (RFC 7009 §2.1) unless configured otherwise — \
                     configure evict as that client",
                    self.client_id
                ),
                reason,
            };
        }
        if status.is_redirection() {
            return ConnectorError::Provider {
                provider: NAME,
                what,
                reason: format!(
                    "{reason}: the endpoint redirects, and evict does not follow redirects with \
                     credentials; configure the endpoint it redirects to"
                ),
            };
        }
        ConnectorError::Provider {
            provider: NAME,
            what,
            reason,
        }
    }

    /// Asks the introspection endpoint about `token`. Transport failures and refused client
    /// authentication are errors (retry, or fix the configuration); any other answer that
    /// does not say `active` is undecided, with the reason.
    async fn introspect(
        &self,
        token: &str,
        hint: Option<&str>,
    ) -> Result<Introspected, ConnectorError> {
        let Some(url) = &self.introspection else {
            return Ok(Introspected::Undecided(
                "the server announces no introspection_endpoint (RFC 7662), and none is \
                 configured (oauth.introspection_endpoint): nothing can tell whether the \
                 token still works"
                    .into(),
            ));
        };
        let mut form = vec![("token", token)];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint));
        }
        let (status, body) = self.post(url, &form).await?;
        if !status.is_success() {
            return match self.refused("introspect a token", status, &body, token) {
                e @ (ConnectorError::Forbidden { .. } | ConnectorError::Unreachable { .. }) => {
                    Err(e)
                }
                other => Ok(Introspected::Undecided(other.to_string())),
            };
        }
        let secrets = [token, self.client_secret.expose()];
        let Ok(answer) = serde_json::from_slice::<Value>(&body) else {
            return Ok(Introspected::Undecided(format!(
                "HTTP {status}, but the answer is not JSON (RFC 7662 §2.2): {}",
                http::snippet(&body, &secrets)
            )));
        };
        Ok(match answer.get("active") {
            Some(Value::Bool(false)) => Introspected::Inactive,
            Some(Value::Bool(true)) => Introspected::Active(describe_active(&answer)),
            _ => Introspected::Undecided(format!(
                "HTTP {status}, but the answer has no boolean \"active\" (RFC 7662 §2.2): {}",
                http::snippet(&body, &secrets)
            )),
        })
    }
}

/// What an `active: true` answer says about the token, for the evidence: the client, type,
/// scope and expiry — never the token, nor the subject's identity beyond its id.
fn describe_active(answer: &Value) -> String {
    let text = |name: &str| answer.get(name).and_then(Value::as_str);
    let mut parts = Vec::new();
    if let Some(client) = text("client_id") {
        parts.push(format!("client_id {client}"));
    }
    if let Some(kind) = text("token_type") {
        parts.push(format!("token_type {kind}"));
    }
    if let Some(scope) = text("scope") {
        parts.push(format!("scope '{scope}'"));
    }
    if let Some(exp) = answer.get("exp").and_then(Value::as_i64) {
        match Timestamp::from_second(exp) {
            Ok(at) => parts.push(format!("expires {at}")),
            Err(_) => parts.push(format!("exp {exp}")),
        }
    }
    if parts.is_empty() {
        "no details given".into()
    } else {
        parts.join(", ")
    }
}

/// The issuer's metadata (OpenID Connect Discovery 1.0), as far as the connector needs it.
struct Metadata {
    revocation: Option<Url>,
    introspection: Option<Url>,
}

impl Metadata {
    async fn read(http: &reqwest::Client, issuer: &Url) -> Result<Metadata, ConnectorError> {
        let mut url = issuer.clone();
        url.path_segments_mut()
            .map_err(|()| ConnectorError::Config(format!("oauth: {issuer} cannot have a path")))?
            .pop_if_empty()
            .extend([".well-known", "openid-configuration"]);
        let response = http
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| http::unreachable(NAME, e))?;
        let (status, body) = http::read(NAME, response).await?;
        if !status.is_success() {
            return Err(ConnectorError::Provider {
                provider: NAME,
                what: "read the issuer's metadata",
                reason: format!(
                    "GET {url}: HTTP {status}; set oauth.revocation_endpoint and \
                     oauth.introspection_endpoint if the server publishes no metadata"
                ),
            });
        }
        let metadata: Value =
            serde_json::from_slice(&body).map_err(|e| ConnectorError::Provider {
                provider: NAME,
                what: "read the issuer's metadata",
                reason: format!("GET {url}: not JSON ({e})"),
            })?;
        // OpenID Connect Discovery §4.3: the metadata must name the issuer it was asked of,
        // or it belongs to another server (a mix-up).
        let announced = metadata.get("issuer").and_then(Value::as_str);
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        if !announced.is_some_and(|a| same(a, issuer.as_str())) {
            return Err(ConnectorError::Config(format!(
                "oauth: the metadata at {url} names issuer {}, not {issuer}: check oauth.issuer",
                announced.unwrap_or("(none)")
            )));
        }
        let endpoint = |key: &str| {
            metadata
                .get(key)
                .and_then(Value::as_str)
                .map(|text| http::endpoint(NAME, key, text))
                .transpose()
        };
        Ok(Metadata {
            revocation: endpoint("revocation_endpoint")?,
            introspection: endpoint("introspection_endpoint")?,
        })
    }
}

impl Provider for OAuth {
    fn name(&self) -> &'static str {
        NAME
    }

    fn semantics(&self) -> &'static Semantics {
        &SEMANTICS
    }

    /// An act that found the token active (`changed`) is the baseline a later `active:false`
    /// is read against, in whichever process the act ran.
    fn recall(&self, target: &Target, _action: ActionKind, act: &PastAct) {
        if !act.changed {
            return;
        }
        if let Some(held) = self.held_tokens().get_mut(&target.native_id) {
            held.seen_active = Some(
                held.seen_active
                    .map_or(act.began_at, |t| t.max(act.began_at)),
            );
        }
    }

    fn discovers(&self, _kind: TargetKind) -> bool {
        false
    }

    /// Nothing: no RFC lets a client list a server's tokens. Tokens come to the connector
    /// from a leak, a log or a responder ([`OAuth::hold`]).
    async fn discover(&self) -> Result<Discovery, ConnectorError> {
        Ok(Discovery::default())
    }

    async fn act(&self, target: &Target, action: ActionKind) -> Result<Acted, ConnectorError> {
        if !SEMANTICS.supports(target.kind, action) {
            return Err(unsupported(target, action));
        }
        let (token, _) = self.held(target)?;
        let hint = hint(target.kind);
        let before = self.introspect(token.expose(), hint).await?;
        if matches!(before, Introspected::Active(_)) {
            self.seen_active(target, &token);
        }
        let mut form = vec![("token", token.expose())];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint));
        }
        let (status, body) = self.post(&self.revocation, &form).await?;
        if !status.is_success() {
            return Err(self.refused("revoke a token", status, &body, token.expose()));
        }
        let (changed, before_words) = match &before {
            Introspected::Active(_) => (true, "introspection had said active:true".to_string()),
            Introspected::Inactive => (
                false,
                "introspection had said active:false (revoked, unknown, or not visible to \
                 this client)"
                    .to_string(),
            ),
            // Not known to have changed anything: `changed` is the baseline a later probe
            // recalls, and only an active:true answer makes one.
            Introspected::Undecided(why) => (
                false,
                format!("whether it was active before is unknown ({why})"),
            ),
        };
        Ok(Acted {
            changed,
            detail: format!(
                "POST {} token_type_hint={} for the token held as '{}' as client '{}': HTTP \
                 {status}, which RFC 7009 answers even for tokens the server does not know — \
                 not evidence; before it, {before_words}",
                self.revocation,
                hint.unwrap_or("(none)"),
                target.native_id,
                self.client_id
            ),
        })
    }

    async fn verify(
        &self,
        target: &Target,
        action: ActionKind,
    ) -> Result<Evidence, ConnectorError> {
        if !SEMANTICS.supports(target.kind, action) {
            return Err(unsupported(target, action));
        }
        let (token, seen_active) = self.held(target)?;
        let hint = hint(target.kind);
        let subject = format!("{NAME}:{}", target.native_id);
        let asked = format!(
            "{} for the token held as '{}'",
            self.asked(hint),
            target.native_id
        );
        Ok(match self.introspect(token.expose(), hint).await? {
            Introspected::Active(what) => {
                self.seen_active(target, &token);
                evidence(
                    subject,
                    EvidenceVerdict::StillLive,
                    format!("{asked}: active:true ({what})"),
                )
            }
            Introspected::Inactive => match seen_active {
                Some(at) => evidence(
                    subject,
                    EvidenceVerdict::VerifiedRevoked,
                    format!(
                        "{asked}: active:false; the same client was told active:true for it at \
                         {at}, so the server does introspect it for this client: it no longer \
                         works at this server"
                    ),
                ),
                None => evidence(
                    subject,
                    EvidenceVerdict::Unverified,
                    format!(
                        "{asked}: active:false, but this client was never told active:true for \
                         it: RFC 7662 §2.2 answers active:false alike for a revoked token, one \
                         the server never issued and one this client may not introspect; probe \
                         before acting to have a baseline"
                    ),
                ),
            },
            Introspected::Undecided(why) => evidence(
                subject,
                EvidenceVerdict::Unverified,
                format!("{asked}: {why}"),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_credentials_are_form_encoded_before_basic_auth() {
        assert_eq!(form_encode("app-1.x_y*"), "app-1.x_y*");
        assert_eq!(form_encode("a b:c/d%"), "a+b%3Ac%2Fd%25");
        assert_eq!(form_encode("é"), "%C3%A9");
    }

    #[test]
    fn the_semantics_say_what_a_revocation_reaches_and_what_it_leaves() {
        assert!(SEMANTICS.supports(REFRESH_TOKEN, ActionKind::Revoke));
        assert!(!SEMANTICS.supports(TargetKind::Identity, ActionKind::Disable));
        assert_eq!(SEMANTICS.not_found, NotFound::Indistinguishable);
        assert!(SEMANTICS.cascades[0].ends.contains("provider-dependent"));
        assert!(
            SEMANTICS
                .leaves_alive
                .iter()
                .any(|n| n.contains("access token") && n.contains("refresh token"))
        );
    }

    #[test]
    fn an_active_answer_is_described_without_the_token() {
        let answer = serde_json::json!({
            "active": true, "client_id": "app", "scope": "openid", "exp": 1_800_000_000,
            "sub": "alice"
        });
        let words = describe_active(&answer);
        assert!(words.contains("client_id app"), "{words}");
        assert!(words.contains("expires 2027-"), "{words}");
    }
}
