//! Push delivery (RFC 8935): one POST of the SET per receiver, `Content-Type:
//! application/secevent+jwt`, `Accept: application/json`. `202 Accepted` is the only success.
//! A `400` carries the receiver's RFC 8935 §2.4 error (`invalid_key`, `authentication_failed`,
//! …): the receiver has judged this SET and will judge it the same way again, so it is a
//! permanent failure. `429`, `5xx`, `408`, timeouts and refused connections are retried with
//! jittered exponential backoff, waiting at least what `Retry-After` asks, up to a bounded
//! number of attempts.

use std::time::Duration;

use evict_model::SecretString;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use super::set::SignedSet;
use crate::provider::ConnectorError;

/// The media type of a SET in an HTTP body (RFC 8417 §7.2).
pub const SET_MEDIA_TYPE: &str = "application/secevent+jwt";

/// How hard delivery tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per receiver and SET, the first included.
    pub max_attempts: u32,
    /// The wait before the second attempt; each later wait doubles, jittered.
    pub first_delay: Duration,
    /// The longest wait between two attempts, unless the receiver asks for longer.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a receiver asking for more ends the attempts (the
    /// delivery is reported failed, to be sent again later) rather than stalling a run.
    pub max_retry_after: Duration,
    /// Timeout of one attempt, connection and answer included.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based): `first_delay` doubled each
    /// time, capped at `max_delay`, then drawn uniformly from its upper half so that many
    /// transmitters retrying one receiver do not arrive together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self
            .first_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let ceiling = doubled.min(self.max_delay);
        let mut bytes = [0u8; 4];
        // Without randomness the wait is the ceiling: still bounded, merely unjittered.
        let fraction = match getrandom::fill(&mut bytes) {
            Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
            Err(_) => 1.0,
        };
        ceiling.mul_f64(0.5 + 0.5 * fraction)
    }
}

/// A receiver: where its SETs go and who it is.
#[derive(Debug)]
pub struct Receiver {
    /// The name the configuration gives it, for reports.
    pub name: String,
    /// Its push endpoint.
    pub url: Url,
    /// The `aud` of the SETs it gets (SSF: its OAuth client id or another agreed value).
    pub audience: String,
    authorization: Option<SecretString>,
}

impl Receiver {
    /// A receiver at `url`, which must be `https` (RFC 8935 §5.2 requires TLS), or `http` on
    /// a loopback address, and carry no user name or password (a credential goes in the
    /// authorization, read from a secret).
    pub fn new(
        name: impl Into<String>,
        url: &str,
        audience: impl Into<String>,
    ) -> Result<Receiver, ConnectorError> {
        let name = name.into();
        let bad = |why: String| ConnectorError::Config(format!("SSF receiver '{name}': {why}"));
        let url = Url::parse(url).map_err(|e| bad(format!("url is not a URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "the url holds a user name or password; give the credential \
                 as authorization = { env = \"VARIABLE\" } instead"
                    .into(),
            ));
        }
        let loopback = url.host_str().is_some_and(|host| {
            host == "localhost"
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(bad(format!(
                    "{url} is plain http: SETs go over TLS (RFC 8935 §5.2); use https \
                     (plain http is accepted only on a loopback address, for tests)"
                )));
            }
            other => return Err(bad(format!("url scheme {other} is not https"))),
        }
        let audience = audience.into();
        if audience.trim().is_empty() {
            return Err(bad("audience is empty".into()));
        }
        Ok(Receiver {
            name,
            url,
            audience,
            authorization: None,
        })
    }

    /// The same receiver, sent `Authorization` with every SET: `Bearer SECRET`, or the secret
    /// as it is when it already names a scheme (`Bearer …`, `Basic …`: SSF's
    /// `authorization_header`, set by the receiver).
    pub fn with_authorization(mut self, secret: SecretString) -> Result<Receiver, ConnectorError> {
        let value = authorization_value(&secret);
        if HeaderValue::from_str(value.expose()).is_err() || secret.expose().trim().is_empty() {
            return Err(ConnectorError::Config(format!(
                "SSF receiver '{}': the authorization secret is empty or holds characters an \
                 HTTP header cannot carry (a line break?)",
                self.name
            )));
        }
        self.authorization = Some(value);
        Ok(self)
    }

    /// Whether SETs to it carry an `Authorization` header.
    pub fn has_authorization(&self) -> bool {
        self.authorization.is_some()
    }
}

fn authorization_value(secret: &SecretString) -> SecretString {
    let text = secret.expose().trim();
    if text.contains(' ') {
        SecretString::new(text.to_string())
    } else {
        SecretString::new(format!("Bearer {text}"))
    }
}

/// What became of one SET at one receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The receiver's name.
    pub receiver: String,
    /// The SET's id (each receiver gets its own SET).
    pub jti: String,
    /// The event type URI.
    pub event_type: &'static str,
    /// How many POSTs were made.
    pub attempts: u32,
    /// Delivered, or failed and why.
    pub outcome: DeliveryOutcome,
}

impl Delivery {
    /// Whether the receiver accepted the SET.
    pub fn delivered(&self) -> bool {
        self.outcome == DeliveryOutcome::Delivered
    }
}

/// Delivered, or failed with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered `202 Accepted`.
    Delivered,
    /// It did not take the SET.
    Failed {
        /// True when sending the same SET again cannot help (the receiver refused it: a
        /// wrong key, audience or authorization); false when the receiver was down, busy or
        /// unreachable on every attempt.
        permanent: bool,
        /// What happened, in words a responder can act on.
        reason: String,
    },
}

enum Attempt {
    Delivered,
    Permanent(String),
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
}

/// The RFC 8935 §2.3 error body.
#[derive(Deserialize)]
struct PushError {
    err: String,
    description: Option<String>,
}

/// What a receiver's RFC 8935 error code asks the responder to fix.
fn hint(code: &str) -> &'static str {
    match code {
        "invalid_key" => {
            "the receiver does not trust the signing key: give it the current JWKS (ssf.key_id \
             and the public key)"
        }
        "invalid_issuer" => {
            "the receiver expects another issuer: compare ssf.issuer with its setting"
        }
        "invalid_audience" => {
            "the receiver expects another audience: compare ssf.receivers.audience with its client id"
        }
        "authentication_failed" => {
            "the receiver did not accept the authorization: check ssf.receivers.authorization"
        }
        "access_denied" => "the receiver does not allow this transmitter to send it events",
        "invalid_request" => "the receiver could not parse the SET or its event",
        _ => "see the receiver's own logs",
    }
}

/// Receiver-supplied text, made safe to show: printable, one line, bounded.
fn clean(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    cleaned.trim().to_string()
}

async fn post_once(client: &reqwest::Client, receiver: &Receiver, set: &SignedSet) -> Attempt {
    let mut request = client
        .post(receiver.url.clone())
        .header(CONTENT_TYPE, SET_MEDIA_TYPE)
        .header(ACCEPT, "application/json")
        .body(set.token.clone());
    if let Some(secret) = &receiver.authorization {
        // Checked when the receiver was made; sensitive keeps it out of reqwest's Debug.
        if let Ok(mut value) = HeaderValue::from_str(secret.expose()) {
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            return Attempt::Retry {
                reason: clean(&crate::http::transport_failure(&e.without_url())),
                retry_after: None,
            };
        }
    };
    let status = response.status();
    let wait = crate::http::retry_after(response.headers());
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(clean);
    match status {
        StatusCode::ACCEPTED => Attempt::Delivered,
        StatusCode::BAD_REQUEST => {
            let body = response.text().await.unwrap_or_default();
            match serde_json::from_str::<PushError>(&body) {
                Ok(error) => {
                    let code = clean(&error.err);
                    let description = error
                        .description
                        .map(|d| format!(": {}", clean(&d)))
                        .unwrap_or_default();
                    Attempt::Permanent(format!(
                        "refused the SET (400 {code}{description}); {}",
                        hint(&code)
                    ))
                }
                Err(_) => Attempt::Permanent(
                    "answered 400 without the RFC 8935 error object: is the url the \
                     receiver's SET push endpoint?"
                        .into(),
                ),
            }
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Attempt::Permanent(format!(
            "answered {status}: the receiver refused the authorization; check \
             ssf.receivers.authorization"
        )),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => Attempt::Retry {
            reason: format!("answered {status}"),
            retry_after: wait,
        },
        s if s.is_server_error() => Attempt::Retry {
            reason: format!("answered {status}"),
            retry_after: wait,
        },
        s if s.is_redirection() => Attempt::Permanent(format!(
            "answered {status} to {}: a SET is not sent on to another address; configure the \
             final url",
            location.as_deref().unwrap_or("an unnamed location")
        )),
        s if s.is_success() => Attempt::Permanent(format!(
            "answered {status}, not 202 Accepted as RFC 8935 requires of a SET receiver: is the \
             url its push endpoint?"
        )),
        _ => Attempt::Permanent(format!("answered {status}")),
    }
}

/// Delivers `set` to `receiver`, retrying as `policy` says.
pub(crate) async fn deliver(
    client: &reqwest::Client,
    receiver: &Receiver,
    set: &SignedSet,
    event_type: &'static str,
    policy: &RetryPolicy,
) -> Delivery {
    let max_attempts = policy.max_attempts.max(1);
    let mut attempts = 0;
    let outcome = loop {
        attempts += 1;
        match post_once(client, receiver, set).await {
            Attempt::Delivered => break DeliveryOutcome::Delivered,
            Attempt::Permanent(reason) => {
                break DeliveryOutcome::Failed {
                    permanent: true,
                    reason,
                };
            }
            Attempt::Retry {
                reason,
                retry_after,
            } => {
                if attempts >= max_attempts {
                    break DeliveryOutcome::Failed {
                        permanent: false,
                        reason: format!(
                            "{reason}; gave up after {attempts} attempts (send it again later)"
                        ),
                    };
                }
                if let Some(asked) = retry_after
                    && asked > policy.max_retry_after
                {
                    break DeliveryOutcome::Failed {
                        permanent: false,
                        reason: format!(
                            "{reason} and asked to retry after {}s, longer than the {}s \
                             evict waits (send it again later)",
                            asked.as_secs(),
                            policy.max_retry_after.as_secs()
                        ),
                    };
                }
                let wait = policy
                    .backoff(attempts)
                    .max(retry_after.unwrap_or_default());
                tokio::time::sleep(wait).await;
            }
        }
    };
    Delivery {
        receiver: receiver.name.clone(),
        jti: set.jti.clone(),
        event_type,
        attempts,
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_bounds_and_is_jittered() {
        let policy = RetryPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for attempt in 1..=8 {
            let ceiling = (100u64 << (attempt - 1)).min(1000);
            let wait = policy.backoff(attempt).as_millis() as u64;
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "attempt {attempt}: {wait}ms not in {}..={ceiling}ms",
                ceiling / 2
            );
        }
        let draws: std::collections::HashSet<_> = (0..20).map(|_| policy.backoff(4)).collect();
        assert!(draws.len() > 1, "the waits are jittered");
        assert!(policy.backoff(u32::MAX) <= policy.max_delay);
    }

    #[test]
    fn receivers_take_tls_or_loopback_and_no_credential_in_the_url() {
        assert!(Receiver::new("a", "https://rp.example.com/ssf", "rp").is_ok());
        assert!(Receiver::new("a", "http://127.0.0.1:9/ssf", "rp").is_ok());
        assert!(Receiver::new("a", "http://localhost:9/ssf", "rp").is_ok());
        let plain = Receiver::new("a", "http://rp.example.com/ssf", "rp").unwrap_err();
        assert!(plain.to_string().contains("TLS"), "{plain}");
        let url = ["https://user", ":pw@rp.example.com/"].concat();
        let userinfo = Receiver::new("a", &url, "rp").unwrap_err().to_string();
        assert!(userinfo.contains("authorization"), "{userinfo}");
        assert!(
            !userinfo.contains("pw@"),
            "the URL is not quoted back: {userinfo}"
        );
        assert!(Receiver::new("a", "https://rp.example.com/", " ").is_err());
    }

    #[test]
    fn authorization_is_a_bearer_token_unless_it_names_its_scheme() {
        let bare = authorization_value(&SecretString::new("abc123".into()));
        assert_eq!(bare.expose(), "Bearer abc123");
        let whole = authorization_value(&SecretString::new("Basic dXNlcg==".into()));
        assert_eq!(whole.expose(), "Basic dXNlcg==");
        let receiver = Receiver::new("a", "https://rp.example.com/", "rp").unwrap();
        let broken = receiver
            .with_authorization(SecretString::new("tok3n\nsecretpart".into()))
            .unwrap_err()
            .to_string();
        assert!(
            broken.contains("line break") && !broken.contains("secretpart"),
            "{broken}"
        );
    }

    #[test]
    fn receiver_text_is_one_bounded_line() {
        assert_eq!(clean("bad\r\nkey\u{1b}[31m"), "bad  key [31m");
        assert_eq!(clean(&"x".repeat(1000)).len(), 300);
    }
}
