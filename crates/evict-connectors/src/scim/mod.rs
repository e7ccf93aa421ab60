//! SCIM 2.0 (RFC 7643, RFC 7644): the users of a SCIM service are identities; a user is
//! disabled (`active: false`) or deleted, and the read-back proves it.
//!
//! Disable is a PATCH replacing `active` with `false`, in the path form
//! (`{"op":"replace","path":"active","value":false}`); a service that refuses that form (400)
//! is sent the value form (`{"op":"replace","value":{"active":false}}`), which means the same.
//! scim2-server takes the path form. The user is read first: one already inactive is left
//! alone (`changed: false`). Delete is a DELETE. 200 and 204 both mean accepted, and neither
//! is evidence: the probe reads the user back — `active: false`, or 404 (a deleted user is not
//! live either), is `verified_revoked`; `active: true`, or a user still there after a delete,
//! is `still_live`; an answer without a boolean `active` is `unverified`. A service that
//! answers 204 and changes nothing is caught by that read-back.
//!
//! What it leaves alive: SCIM is the provisioning side. Disabling or deleting a user at the
//! SCIM service ends no session already open and no token already issued in the applications
//! it provisions.
//!
//! The connector authenticates with a bearer token, sent only over TLS (or to loopback).

use std::time::Duration;

use evict_model::{
    ActionKind, Evidence, EvidenceVerdict, Identity, IdentityKind, IdentityStatus,
    Provider as ProviderName, SecretString,
};
use jiff::Timestamp;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{RequestBuilder, StatusCode, Url};
use serde_json::{Value, json};

use crate::config::ScimConfig;
use crate::http;
use crate::provider::{
    Acted, Cascade, ConnectorError, Discovery, NotFound, Provider, Semantics, Target, TargetKind,
};

const NAME: &str = "scim";
const USER: TargetKind = TargetKind::Identity;
const SCIM_JSON: &str = "application/scim+json";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Users asked for per page of the listing (RFC 7644 §3.4.2.4 `count`).
const PAGE: u64 = 100;
/// More pages than this is a service that does not advance through its own listing.
const MAX_PAGES: u64 = 100_000;

static SEMANTICS: Semantics = Semantics {
    supports: &[(USER, ActionKind::Disable), (USER, ActionKind::Delete)],
    cascades: &[Cascade {
        action: ActionKind::Delete,
        on: USER,
        ends: "the user's group memberships at the SCIM service (RFC 7644 §3.6)",
    }],
    leaves_alive: &[
        "disabling or deleting a SCIM user ends no session already open and no token already \
         issued in the applications the service provisions: terminate and revoke them there",
        "the read-back proves the SCIM service's own state; applications it provisions may \
         apply the change later",
    ],
    propagation_delay: Duration::ZERO,
    irrevocable: &[],
    idempotent: true,
    not_found: NotFound::Error,
    follow_ups: &[],
};

/// The SCIM 2.0 connector, authenticating with a bearer token.
#[derive(Debug)]
pub struct Scim {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
}

/// What reading one user back gave.
enum ReadBack {
    /// The user, as the service describes it.
    Found(Value),
    /// 404: no such user.
    Gone,
    /// An answer that says neither, and why.
    Undecided(String),
}

fn not_found(id: &str) -> ConnectorError {
    ConnectorError::NotFound {
        provider: NAME,
        what: "user",
        native_id: id.to_string(),
    }
}

fn is_accepted(status: StatusCode) -> bool {
    status == StatusCode::OK || status == StatusCode::NO_CONTENT
}

impl Scim {
    /// Sets up the connector with the bearer token read from where the configuration says.
    pub fn from_config(config: &ScimConfig) -> Result<Scim, ConnectorError> {
        let token = config.token.read()?;
        Scim::connect(config, token)
    }

    /// Sets up the connector with `token` (from a file or the environment, never the command
    /// line). Nothing is sent until it is used.
    pub fn connect(config: &ScimConfig, token: SecretString) -> Result<Scim, ConnectorError> {
        if config.connect_timeout_secs == 0 || config.request_timeout_secs == 0 {
            return Err(ConnectorError::Config(
                "scim: the timeouts must be at least one second".into(),
            ));
        }
        let base = http::endpoint(NAME, "scim.base_url", &config.base_url)?;
        if base.cannot_be_a_base() {
            return Err(ConnectorError::Config(format!(
                "scim: base_url {base} cannot have /Users under it"
            )));
        }
        let http = http::client(
            NAME,
            Duration::from_secs(config.connect_timeout_secs),
            Duration::from_secs(config.request_timeout_secs),
        )?;
        Ok(Scim { http, base, token })
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            // Each segment is percent-encoded: a user id with a '/' stays one segment.
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn send(&self, request: RequestBuilder) -> Result<(StatusCode, Vec<u8>), ConnectorError> {
        let response = request
            .bearer_auth(self.token.expose())
            .header(ACCEPT, SCIM_JSON)
            .send()
            .await
            .map_err(|e| http::unreachable(NAME, e))?;
        http::read(NAME, response).await
    }

    /// The service's words in an error answer (RFC 7644 §3.12 `detail`, `scimType`), never
    /// with the bearer token in them.
    fn words(&self, status: StatusCode, body: &[u8]) -> String {
        let secrets = [self.token.expose()];
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .map(|s| http::scrub(s, &secrets))
        };
        match (field("scimType"), field("detail")) {
            (Some(kind), Some(detail)) => format!("HTTP {status}: {kind}: {detail}"),
            (None, Some(detail)) => format!("HTTP {status}: {detail}"),
            _ if body.is_empty() => format!("HTTP {status}"),
            _ => format!("HTTP {status}: {}", http::snippet(body, &secrets)),
        }
    }

    /// What an error answer means for the responder.
    fn refused(&self, what: &'static str, status: StatusCode, body: &[u8]) -> ConnectorError {
        let reason = self.words(status, body);
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ConnectorError::Forbidden {
                provider: NAME,
                permission: "a bearer token the SCIM service accepts, with read and write access \
                             to /Users: check the secret that scim.token names"
                    .into(),
                reason,
            },
            _ if status.is_redirection() => ConnectorError::Provider {
                provider: NAME,
                what,
                reason: format!(
                    "{reason}: the service redirects, and evict does not follow redirects with \
                     credentials; configure scim.base_url as the address it redirects to"
                ),
            },
            _ => ConnectorError::Provider {
                provider: NAME,
                what,
                reason,
            },
        }
    }

    /// Reads one user. Transport failures and refused credentials are errors.
    async fn read_user(&self, id: &str) -> Result<ReadBack, ConnectorError> {
        let url = self.url(&["Users", id]);
        let (status, body) = self.send(self.http.get(url.clone())).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(ReadBack::Gone);
        }
        if !status.is_success() {
            return match self.refused("read a user", status, &body) {
                e @ (ConnectorError::Forbidden { .. } | ConnectorError::Unreachable { .. }) => {
                    Err(e)
                }
                other => Ok(ReadBack::Undecided(format!("GET {url}: {other}"))),
            };
        }
        let Ok(user) = serde_json::from_slice::<Value>(&body) else {
            return Ok(ReadBack::Undecided(format!(
                "GET {url}: HTTP {status}, but the answer is not JSON: {}",
                http::snippet(&body, &[self.token.expose()])
            )));
        };
        match user.get("id").and_then(Value::as_str) {
            Some(answered) if answered == id => Ok(ReadBack::Found(user)),
            other => Ok(ReadBack::Undecided(format!(
                "GET {url}: HTTP {status}, but the answer describes user {}, not '{id}'",
                other.map_or("(no id)".to_string(), |o| format!("'{o}'"))
            ))),
        }
    }

    /// PATCH replacing `active` with `false`: the path form, or the value form when the
    /// service refuses the path form. Says which form was taken.
    async fn deactivate(&self, id: &str) -> Result<String, ConnectorError> {
        let url = self.url(&["Users", id]);
        let forms = [
            (
                "path form",
                json!({"op": "replace", "path": "active", "value": false}),
            ),
            (
                "value form",
                json!({"op": "replace", "value": {"active": false}}),
            ),
        ];
        let mut refusal = None;
        for (form, operation) in forms {
            let body = json!({"schemas": [PATCH_OP], "Operations": [operation]});
            let request = self
                .http
                .patch(url.clone())
                .header(CONTENT_TYPE, SCIM_JSON)
                .body(body.to_string());
            let (status, answer) = self.send(request).await?;
            if is_accepted(status) {
                let after = refusal
                    .map(|r| format!(", after the path form was refused ({r})"))
                    .unwrap_or_default();
                return Ok(format!(
                    "PATCH {url} replace active=false ({form}{after}): HTTP {status}"
                ));
            }
            if status == StatusCode::NOT_FOUND {
                return Err(not_found(id));
            }
            if status != StatusCode::BAD_REQUEST || refusal.is_some() {
                return Err(self.refused("disable a user", status, &answer));
            }
            refusal = Some(self.words(status, &answer));
        }
        Err(ConnectorError::Provider {
            provider: NAME,
            what: "disable a user",
            reason: "both PATCH forms were refused".into(),
        })
    }

    /// One page of the user listing (RFC 7644 §3.4.2.4), from `start` (1-based).
    async fn users_page(&self, start: u64) -> Result<(u64, Vec<Value>), ConnectorError> {
        let url = self.url(&["Users"]);
        let request = self.http.get(url.clone()).query(&[
            ("startIndex", start.to_string()),
            ("count", PAGE.to_string()),
        ]);
        let (status, body) = self.send(request).await?;
        if !status.is_success() {
            return Err(self.refused("list users", status, &body));
        }
        let page: Value = serde_json::from_slice(&body).map_err(|e| ConnectorError::Provider {
            provider: NAME,
            what: "list users",
            reason: format!("GET {url}: the answer is not JSON ({e})"),
        })?;
        let total = page
            .get("totalResults")
            .and_then(Value::as_u64)
            .ok_or_else(|| ConnectorError::Provider {
                provider: NAME,
                what: "list users",
                reason: format!("GET {url}: the answer has no totalResults (RFC 7644 §3.4.2)"),
            })?;
        let resources = match page.get("Resources") {
            Some(Value::Array(users)) => users.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => {
                return Err(ConnectorError::Provider {
                    provider: NAME,
                    what: "list users",
                    reason: format!("GET {url}: Resources is not a list"),
                });
            }
        };
        Ok((total, resources))
    }
}

fn identity(provider: &ProviderName, user: &Value) -> Result<Identity, ConnectorError> {
    let id = user
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ConnectorError::Provider {
            provider: NAME,
            what: "list users",
            reason: "a user in the listing has no id (RFC 7643 §3.1)".into(),
        })?;
    let mut identity = Identity::new(provider.clone(), id, IdentityKind::Human);
    if let Some(name) = user.get("userName").and_then(Value::as_str) {
        identity.name = name.to_string();
    }
    // RFC 7643 leaves the meaning of a missing `active` to the service: assume the user can
    // act, which is the safe side for an inventory of access.
    identity.status = match user.get("active") {
        Some(Value::Bool(false)) => IdentityStatus::Disabled,
        _ => IdentityStatus::Active,
    };
    identity.created_at = user
        .pointer("/meta/created")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok());
    Ok(identity)
}

impl Provider for Scim {
    fn name(&self) -> &'static str {
        NAME
    }

    fn semantics(&self) -> &'static Semantics {
        &SEMANTICS
    }

    fn discovers(&self, kind: TargetKind) -> bool {
        kind == USER
    }

    /// Every user, page by page; no credentials (SCIM passwords are write-only).
    async fn discover(&self) -> Result<Discovery, ConnectorError> {
        let provider =
            ProviderName::new(NAME).map_err(|e| ConnectorError::Config(e.to_string()))?;
        let mut found = Discovery::default();
        let mut start = 1;
        for _ in 0..MAX_PAGES {
            let (total, users) = self.users_page(start).await?;
            for user in &users {
                found.identities.push(identity(&provider, user)?);
            }
            let seen = start - 1 + users.len() as u64;
            if users.is_empty() || seen >= total {
                return Ok(found);
            }
            start = seen + 1;
        }
        Err(ConnectorError::Provider {
            provider: NAME,
            what: "list users",
            reason: format!("the listing did not end after {MAX_PAGES} pages"),
        })
    }

    async fn act(&self, target: &Target, action: ActionKind) -> Result<Acted, ConnectorError> {
        if !SEMANTICS.supports(target.kind, action) {
            return Err(ConnectorError::Unsupported {
                provider: NAME,
                action,
                what: target.kind.to_string(),
            });
        }
        let id = target.native_id.as_str();
        if id.is_empty() {
            return Err(not_found(id));
        }
        match action {
            ActionKind::Disable => match self.read_user(id).await? {
                ReadBack::Gone => Err(not_found(id)),
                ReadBack::Undecided(why) => Err(ConnectorError::Provider {
                    provider: NAME,
                    what: "read a user before disabling it",
                    reason: why,
                }),
                ReadBack::Found(user) if user.get("active") == Some(&Value::Bool(false)) => {
                    Ok(Acted {
                        changed: false,
                        detail: format!(
                            "GET {}: active is already false; nothing sent",
                            self.url(&["Users", id])
                        ),
                    })
                }
                ReadBack::Found(_) => Ok(Acted {
                    changed: true,
                    detail: self.deactivate(id).await?,
                }),
            },
            ActionKind::Delete => {
                let url = self.url(&["Users", id]);
                let (status, body) = self.send(self.http.delete(url.clone())).await?;
                if status == StatusCode::NOT_FOUND {
                    return Err(not_found(id));
                }
                if !is_accepted(status) {
                    return Err(self.refused("delete a user", status, &body));
                }
                Ok(Acted {
                    changed: true,
                    detail: format!("DELETE {url}: HTTP {status}"),
                })
            }
            _ => Err(ConnectorError::Unsupported {
                provider: NAME,
                action,
                what: target.kind.to_string(),
            }),
        }
    }

    async fn verify(
        &self,
        target: &Target,
        action: ActionKind,
    ) -> Result<Evidence, ConnectorError> {
        if !SEMANTICS.supports(target.kind, action) {
            return Err(ConnectorError::Unsupported {
                provider: NAME,
                action,
                what: target.kind.to_string(),
            });
        }
        let id = target.native_id.as_str();
        let url = self.url(&["Users", id]);
        Ok(match self.read_user(id).await? {
            ReadBack::Gone => target.evidence(
                NAME,
                EvidenceVerdict::VerifiedRevoked,
                format!("GET {url}: HTTP 404, the service has no such user"),
            ),
            ReadBack::Undecided(why) => target.evidence(NAME, EvidenceVerdict::Unverified, why),
            ReadBack::Found(user) => {
                let active = user.get("active");
                match (action, active) {
                    (ActionKind::Delete, _) => target.evidence(
                        NAME,
                        EvidenceVerdict::StillLive,
                        format!(
                            "GET {url}: the user still exists (active: {})",
                            active.map_or("absent".to_string(), Value::to_string)
                        ),
                    ),
                    (_, Some(Value::Bool(false))) => target.evidence(
                        NAME,
                        EvidenceVerdict::VerifiedRevoked,
                        format!("GET {url}: active:false"),
                    ),
                    (_, Some(Value::Bool(true))) => target.evidence(
                        NAME,
                        EvidenceVerdict::StillLive,
                        format!("GET {url}: active:true"),
                    ),
                    (_, other) => target.evidence(
                        NAME,
                        EvidenceVerdict::Unverified,
                        format!(
                            "GET {url}: the user has no boolean active ({}), so the service \
                             does not say whether it can act",
                            other.map_or("absent".to_string(), Value::to_string)
                        ),
                    ),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_stay_one_path_segment() {
        let config = ScimConfig {
            base_url: "http://127.0.0.1:9/scim/v2/".into(),
            token: crate::SecretRef {
                env: Some("T".into()),
                file: None,
            },
            connect_timeout_secs: 1,
            request_timeout_secs: 1,
        };
        let scim = Scim::connect(&config, SecretString::new("t".into())).unwrap();
        assert_eq!(
            scim.url(&["Users", "a/b c"]).as_str(),
            "http://127.0.0.1:9/scim/v2/Users/a%2Fb%20c"
        );
    }

    #[test]
    fn a_user_without_active_is_assumed_able_to_act() {
        let provider = ProviderName::new(NAME).unwrap();
        let user =
            json!({"id": "1", "userName": "ann", "meta": {"created": "2026-01-02T03:04:05.5Z"}});
        let found = identity(&provider, &user).unwrap();
        assert_eq!(found.status, IdentityStatus::Active);
        assert_eq!(found.name, "ann");
        assert!(found.created_at.is_some());
        let off = identity(&provider, &json!({"id": "2", "active": false})).unwrap();
        assert_eq!(off.status, IdentityStatus::Disabled);
        assert!(identity(&provider, &json!({"userName": "no id"})).is_err());
    }
}
