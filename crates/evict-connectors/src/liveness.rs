//! Liveness of leaked secrets, for `evict scan --verify`: ask the issuer, with the secret
//! itself, whether it still works — an AWS key pair through `sts:GetCallerIdentity`, a
//! `postgres://` URL through a login that runs no statement, an OAuth token through the
//! configured client's introspection — and say live, dead or unknown, with the reason.
//!
//! Asking sends the secret to the issuer: only providers opted in (`[verify] providers`) are
//! asked, each within its `[limits.NAME]`. A liveness reason never holds the secret: every
//! reason is scrubbed of it before it leaves this module.
//!
//! "Dead" is said only on an answer that only a dead secret gets (`InvalidClientTokenId`,
//! "password authentication failed"); every other answer is "unknown", with the reason.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use evict_model::{CredentialKind, Liveness, SecretString};
use tokio::sync::Semaphore;

use crate::config::{ConnectorsConfig, VerifyConfig};
use crate::limit::Bucket;
#[cfg(any(feature = "aws", feature = "oauth"))]
use crate::provider::ConnectorError;

/// The reason given for a finding of a provider that is not opted in.
pub const NOT_OPTED_IN: &str = "not opted in";

/// One secret a scan found, with what the scanner knew of it. The plaintext is held in
/// memory only.
#[derive(Debug, Clone)]
pub struct LeakedSecret {
    /// The id of the rule that named it (`aws.access_key.long_term`, `postgres.url`).
    pub rule: String,
    /// The rule's provider (`aws`, `postgres`, `generic`).
    pub provider: String,
    /// The rule's credential kind.
    pub kind: CredentialKind,
    /// Its non-secret pair, when the scanner found one (the AWS access key id of a secret
    /// access key).
    pub native_id: Option<String>,
    /// The secret.
    pub secret: Arc<SecretString>,
    /// The rule's whole match around the secret (a whole `postgres://` URL), when kept.
    pub matched: Option<Arc<SecretString>>,
}

/// Which provider would be asked about a leaked secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// STS, with an AWS key pair.
    Aws,
    /// A PostgreSQL server, with a login URL.
    Postgres,
    /// The configured OAuth issuer's introspection.
    OAuth,
}

impl Route {
    /// The provider's name, as `[verify] providers` and `[limits.NAME]` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Route::Aws => "aws",
            Route::Postgres => "postgres",
            Route::OAuth => "oauth",
        }
    }
}

/// Which provider a leaked secret goes to, if any: `oauth_rules` are the rules whose tokens
/// the configured issuer issues, `oauth_issuer` that issuer (a JWT naming it as `iss` goes
/// there too).
pub fn route(
    leaked: &LeakedSecret,
    oauth_rules: &[String],
    oauth_issuer: Option<&str>,
) -> Option<Route> {
    if leaked.provider == "aws" && leaked.kind == CredentialKind::AccessKey {
        return Some(Route::Aws);
    }
    if leaked.rule == "postgres.url" {
        return Some(Route::Postgres);
    }
    issued_by_oauth_issuer(
        leaked.kind,
        std::slice::from_ref(&leaked.rule),
        Some(&leaked.secret),
        oauth_rules,
        oauth_issuer,
    )
    .then_some(Route::OAuth)
}

/// Whether a token is the configured OAuth issuer's, so that it may be sent there (to
/// introspect or revoke it): a token named by one of `oauth_rules`, or, when its value is
/// known, a JWT naming `oauth_issuer` as its `iss`. A token of another issuer is never sent.
pub fn issued_by_oauth_issuer(
    kind: CredentialKind,
    rules: &[String],
    secret: Option<&SecretString>,
    oauth_rules: &[String],
    oauth_issuer: Option<&str>,
) -> bool {
    if !matches!(
        kind,
        CredentialKind::AccessToken | CredentialKind::RefreshToken
    ) {
        return false;
    }
    if rules.iter().any(|r| oauth_rules.contains(r)) {
        return true;
    }
    match (secret, oauth_issuer) {
        (Some(secret), Some(issuer)) => {
            jwt_issuer(secret.expose()).is_some_and(|iss| same_issuer(&iss, issuer))
        }
        _ => false,
    }
}

fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The `iss` claim of a JWS compact token, read without checking its signature (only to
/// choose where to ask; the issuer decides).
fn jwt_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = decode_base64url(payload)?;
    let text = String::from_utf8(bytes).ok()?;
    json_string_field(&text, "iss")
}

/// Base64url without padding (RFC 7515 §2), decoded by hand: the only use is reading one
/// claim, not worth a dependency in every build.
fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A top-level string field of a JSON object, without a JSON parser in every build: enough
/// for `"iss":"https://…"`; anything unusual reads as absent.
fn json_string_field(json: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\"");
    let after = &json[json.find(&key)? + key.len()..];
    let after = after.trim_start().strip_prefix(':')?.trim_start();
    let rest = after.strip_prefix('"')?;
    let end = rest.find('"')?;
    let value = &rest[..end];
    Some(value.replace("\\/", "/"))
}

/// Replaces every copy of the secret in a reason (an error message may quote what was
/// sent), so that no reason can carry it.
fn scrub(reason: &str, secrets: &[&str]) -> String {
    let mut out = reason.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "[redacted]");
    }
    out
}

/// Asks issuers whether leaked secrets still work, for the providers opted in, within each
/// provider's rate and concurrency limits.
#[derive(Debug)]
pub struct LivenessChecker {
    verify: VerifyConfig,
    oauth_issuer: Option<String>,
    #[cfg(feature = "aws")]
    sts: Option<crate::aws::SecretProbe>,
    #[cfg(feature = "oauth")]
    oauth: Option<crate::oauth::OAuth>,
    limits: HashMap<Route, (Bucket, Semaphore)>,
    /// Why a route opted in cannot be asked (its configuration is missing or failed).
    broken: HashMap<Route, String>,
}

impl LivenessChecker {
    /// A checker for what `config` opts in. A provider opted in but not usable (the OAuth
    /// issuer unreachable, no `[oauth]` table) is not an error: its findings say why they
    /// are unknown.
    pub async fn from_config(config: &ConnectorsConfig) -> LivenessChecker {
        let verify = config.verify.clone().unwrap_or_default();
        let mut broken = HashMap::new();
        let mut limits = HashMap::new();
        for route in [Route::Aws, Route::Postgres, Route::OAuth] {
            let l = config.limits_of(route.name());
            limits.insert(
                route,
                (Bucket::new(l), Semaphore::new(l.concurrency.max(1))),
            );
            let built = match route {
                Route::Aws => cfg!(feature = "aws"),
                Route::Postgres => cfg!(feature = "postgres"),
                Route::OAuth => cfg!(feature = "oauth"),
            };
            if verify.opted_in(route.name()) && !built {
                broken.insert(
                    route,
                    format!("this build has no {} connector", route.name()),
                );
            }
        }
        #[cfg(feature = "aws")]
        let sts = if verify.opted_in("aws") {
            let from_verify = verify.aws.as_ref();
            let from_aws = config.aws.as_ref();
            let region = from_verify
                .and_then(|a| a.region.clone())
                .or_else(|| from_aws.map(|a| a.region.clone()))
                .unwrap_or_else(|| "us-east-1".to_string());
            let endpoint = from_verify
                .and_then(|a| a.endpoint_url.clone())
                .or_else(|| from_aws.and_then(|a| a.endpoint_url.clone()));
            match crate::aws::SecretProbe::new(
                &region,
                endpoint.as_deref(),
                Duration::from_secs(5),
                Duration::from_secs(30),
            ) {
                Ok(probe) => Some(probe),
                Err(e) => {
                    broken.insert(Route::Aws, e.to_string());
                    None
                }
            }
        } else {
            None
        };
        let oauth_issuer = config.oauth.as_ref().map(|o| o.issuer.clone());
        #[cfg(feature = "oauth")]
        let oauth = match (&config.oauth, verify.opted_in("oauth")) {
            (Some(settings), true) => match crate::oauth::OAuth::from_config(settings).await {
                Ok(client) => Some(client),
                Err(e) => {
                    broken.insert(Route::OAuth, format!("the [oauth] client: {e}"));
                    None
                }
            },
            (None, true) => {
                broken.insert(
                    Route::OAuth,
                    "oauth is opted in but no [oauth] client is configured to introspect with"
                        .into(),
                );
                None
            }
            _ => None,
        };
        LivenessChecker {
            verify,
            oauth_issuer,
            #[cfg(feature = "aws")]
            sts,
            #[cfg(feature = "oauth")]
            oauth,
            limits,
            broken,
        }
    }

    /// Whether any provider is opted in at all.
    pub fn any_opted_in(&self) -> bool {
        !self.verify.providers.is_empty()
    }

    /// Which provider `leaked` would be asked through, if any.
    pub fn route(&self, leaked: &LeakedSecret) -> Option<Route> {
        let rules = self
            .verify
            .oauth
            .as_ref()
            .map(|o| o.rules.as_slice())
            .unwrap_or_default();
        route(leaked, rules, self.oauth_issuer.as_deref())
    }

    /// Asks the issuer of `leaked` whether it still works, if its provider is opted in;
    /// waits for the provider's rate limit and concurrency.
    pub async fn check(&self, leaked: &LeakedSecret) -> Liveness {
        let Some(route) = self.route(leaked) else {
            return Liveness::unknown("no liveness probe for this kind of secret");
        };
        if !self.verify.opted_in(route.name()) {
            return Liveness::unknown(NOT_OPTED_IN);
        }
        if let Some(why) = self.broken.get(&route) {
            return Liveness::unknown(why.clone());
        }
        let Some((bucket, in_flight)) = self.limits.get(&route) else {
            return Liveness::unknown("no limits for this provider");
        };
        let Ok(_permit) = in_flight.acquire().await else {
            return Liveness::unknown("the probe was cancelled");
        };
        bucket.take().await;
        let answer = match route {
            Route::Aws => self.check_aws(leaked).await,
            Route::Postgres => self.check_postgres(leaked).await,
            Route::OAuth => self.check_oauth(leaked).await,
        };
        let matched = leaked.matched.as_deref().map(SecretString::expose);
        let mut secrets = vec![leaked.secret.expose()];
        secrets.extend(matched);
        Liveness {
            state: answer.state,
            reason: scrub(&answer.reason, &secrets),
        }
    }

    #[cfg(feature = "aws")]
    async fn check_aws(&self, leaked: &LeakedSecret) -> Liveness {
        let Some(key_id) = leaked.native_id.as_deref() else {
            return Liveness::unknown(
                "no access key id was found next to this secret access key: STS cannot be \
                 asked without the pair",
            );
        };
        if !key_id.starts_with("AKIA") {
            return Liveness::unknown(format!(
                "{key_id} is a temporary key: STS refuses it without its session token, \
                 which says nothing about the key"
            ));
        }
        let Some(sts) = &self.sts else {
            return Liveness::unknown("no STS endpoint to ask");
        };
        aws_liveness(sts.caller_identity(key_id, &leaked.secret).await)
    }

    #[cfg(not(feature = "aws"))]
    async fn check_aws(&self, _leaked: &LeakedSecret) -> Liveness {
        Liveness::unknown("this build has no aws connector")
    }

    #[cfg(feature = "postgres")]
    async fn check_postgres(&self, leaked: &LeakedSecret) -> Liveness {
        let Some(matched) = &leaked.matched else {
            return Liveness::unknown("the scanner kept no URL to log in with");
        };
        let url = match LoginUrl::parse(matched.expose()) {
            Ok(url) => url,
            Err(why) => return Liveness::unknown(why),
        };
        let settings = self.verify.postgres.clone().unwrap_or_default();
        if !settings.hosts.is_empty() && !settings.hosts.iter().any(|h| h == &url.host) {
            return Liveness::unknown(format!(
                "host {} is not in [verify.postgres] hosts, so its password was not sent there",
                url.host
            ));
        }
        let timeout = Duration::from_secs(settings.connect_timeout_seconds.unwrap_or(5));
        crate::postgres::leaked_login(&url, timeout).await
    }

    #[cfg(not(feature = "postgres"))]
    async fn check_postgres(&self, _leaked: &LeakedSecret) -> Liveness {
        Liveness::unknown("this build has no postgres connector")
    }

    #[cfg(feature = "oauth")]
    async fn check_oauth(&self, leaked: &LeakedSecret) -> Liveness {
        let Some(oauth) = &self.oauth else {
            return Liveness::unknown("no [oauth] client to introspect with");
        };
        oauth_liveness(oauth.introspect_leaked(&leaked.secret, leaked.kind).await)
    }

    #[cfg(not(feature = "oauth"))]
    async fn check_oauth(&self, _leaked: &LeakedSecret) -> Liveness {
        Liveness::unknown("this build has no oauth connector")
    }
}

/// Live, dead or unknown from the STS probe's answer.
#[cfg(feature = "aws")]
pub fn aws_liveness(answer: Result<crate::aws::CallerIdentityProbe, ConnectorError>) -> Liveness {
    use evict_model::EvidenceVerdict;
    match answer {
        Ok(probe) => match probe.verdict {
            EvidenceVerdict::StillLive => Liveness::live(probe.detail),
            EvidenceVerdict::VerifiedRevoked => Liveness::dead(probe.detail),
            _ => Liveness::unknown(probe.detail),
        },
        Err(e) => Liveness::unknown(format!("STS could not be asked: {e}")),
    }
}

/// Live or unknown from an introspection answer: `active: false` is not "dead", since a
/// server answers it alike for a revoked token and one never issued to this client.
#[cfg(feature = "oauth")]
pub fn oauth_liveness(answer: Result<crate::oauth::Introspected, ConnectorError>) -> Liveness {
    use crate::oauth::Introspected;
    match answer {
        Ok(Introspected::Active(what)) => {
            Liveness::live(format!("introspection: active:true ({what})"))
        }
        Ok(Introspected::Inactive) => {
            Liveness::unknown("inactive (cannot tell revoked from never issued to this client)")
        }
        Ok(Introspected::Undecided(why)) => Liveness::unknown(format!("introspection: {why}")),
        Err(e) => Liveness::unknown(format!("introspection could not be asked: {e}")),
    }
}

/// The parts of a leaked `postgres://` URL a login needs; nothing else of the URL (no query
/// parameter) is honoured, so a planted URL cannot make the probe do more than log in.
#[derive(Debug)]
pub struct LoginUrl {
    /// The host.
    pub host: String,
    /// The port (5432 unless given).
    pub port: u16,
    /// The user.
    pub user: String,
    /// The password.
    pub password: SecretString,
    /// The database (the user's name unless given, as libpq does).
    pub database: String,
}

impl LoginUrl {
    /// Parses `postgres://USER:PASSWORD@HOST[:PORT][/DATABASE]` (also `postgresql://` and
    /// `postgres+DRIVER://`), percent-decoding user, password and database. The error never
    /// holds the URL.
    pub fn parse(url: &str) -> Result<LoginUrl, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| "not a postgres:// URL".to_string())?;
        if !(scheme.starts_with("postgres")) {
            return Err("not a postgres:// URL".into());
        }
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (userinfo, hostpath) = rest
            .rsplit_once('@')
            .ok_or_else(|| "the URL names no user and password".to_string())?;
        let (user, password) = userinfo
            .split_once(':')
            .ok_or_else(|| "the URL has no password".to_string())?;
        if user.is_empty() {
            return Err("the URL names no user".into());
        }
        let (authority, database) = match hostpath.split_once('/') {
            Some((a, d)) => (a, Some(d)),
            None => (hostpath, None),
        };
        if authority.contains(',') {
            return Err("the URL names several hosts; only a single-host URL is probed".into());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| "the URL's IPv6 host is not closed with ]".to_string())?;
            (host.to_string(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err("the URL names no host".into());
        }
        let port = match port {
            Some(p) if !p.is_empty() => p
                .parse()
                .map_err(|_| format!("the URL's port '{p}' is not a number"))?,
            _ => 5432,
        };
        let user =
            percent_decode(user).ok_or("the URL's user is not valid percent-encoded UTF-8")?;
        let password = SecretString::new(
            percent_decode(password)
                .ok_or("the URL's password is not valid percent-encoded UTF-8")?,
        );
        let database = match database.filter(|d| !d.is_empty()) {
            Some(d) => percent_decode(d).ok_or("the URL's database is not valid UTF-8")?,
            None => user.clone(),
        };
        Ok(LoginUrl {
            host,
            port,
            user,
            password,
            database,
        })
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Live, dead or unknown from a PostgreSQL login's outcome: the SQLSTATE and message of the
/// server's refusal, or `None` with the transport failure.
pub fn postgres_liveness(who: &str, outcome: Result<(), (Option<String>, String)>) -> Liveness {
    match outcome {
        Ok(()) => Liveness::live(format!(
            "logged in as {who}; no statement run, the connection closed"
        )),
        Err((Some(code), message)) => {
            let refused_as_dead = code == "28P01"
                || message.contains("password authentication failed")
                || message.contains("not permitted to log in")
                || (message.contains("role") && message.contains("does not exist"));
            if refused_as_dead {
                Liveness::dead(format!("login as {who} refused: {message}"))
            } else if code == "3D000" {
                // The server checks the database only after the password: it was accepted.
                Liveness::live(format!(
                    "the password of {who} was accepted, then the server said: {message}"
                ))
            } else {
                Liveness::unknown(format!(
                    "login as {who} refused for another reason ({code}: {message}), which says \
                     nothing about the password"
                ))
            }
        }
        Err((None, why)) => Liveness::unknown(format!("could not reach {who}: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evict_model::LivenessState;

    fn leaked(rule: &str, provider: &str, kind: CredentialKind, secret: String) -> LeakedSecret {
        LeakedSecret {
            rule: rule.into(),
            provider: provider.into(),
            kind,
            native_id: None,
            secret: Arc::new(SecretString::new(secret)),
            matched: None,
        }
    }

    #[test]
    fn secrets_go_to_their_own_issuer_only() {
        let key = leaked(
            "aws.access_key.long_term",
            "aws",
            CredentialKind::AccessKey,
            "x".repeat(40),
        );
        assert_eq!(route(&key, &[], None), Some(Route::Aws));
        let url = leaked(
            "postgres.url",
            "postgres",
            CredentialKind::Password,
            "pw".into(),
        );
        assert_eq!(route(&url, &[], None), Some(Route::Postgres));
        // A JWT goes to the configured issuer only when it names it.
        let claims = r#"{"iss":"https:\/\/login.example.com\/","sub":"1"}"#;
        let token = format!("eyJhbGciOiJub25lIn0.{}.sig", base64url(claims.as_bytes()));
        let jwt = leaked("jwt.token", "generic", CredentialKind::AccessToken, token);
        assert_eq!(
            route(&jwt, &[], Some("https://login.example.com")),
            Some(Route::OAuth)
        );
        assert_eq!(route(&jwt, &[], Some("https://other.example.com")), None);
        assert_eq!(route(&jwt, &[], None), None);
        let opaque = leaked(
            "acme.token",
            "acme",
            CredentialKind::AccessToken,
            "t".into(),
        );
        assert_eq!(route(&opaque, &[], Some("https://x")), None);
        assert_eq!(
            route(&opaque, &["acme.token".into()], Some("https://x")),
            Some(Route::OAuth)
        );
        let slack = leaked("slack.bot", "slack", CredentialKind::ApiToken, "t".into());
        assert_eq!(route(&slack, &[], Some("https://x")), None);
    }

    fn base64url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
                << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    }

    #[test]
    fn login_urls_parse_without_their_query() {
        let password = ["p%40ss", "word"].concat();
        let url = LoginUrl::parse(&format!(
            "postgresql://app%2Duser:{password}@db.internal:6543/orders?sslmode=disable"
        ))
        .unwrap();
        assert_eq!(
            (
                url.host.as_str(),
                url.port,
                url.user.as_str(),
                url.database.as_str()
            ),
            ("db.internal", 6543, "app-user", "orders")
        );
        assert_eq!(url.password.expose(), "p@ssword");
        let v6 = LoginUrl::parse(&format!("postgres://app:{password}@[::1]")).unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.port, v6.database.as_str()),
            ("::1", 5432, "app")
        );
        let several = LoginUrl::parse(&format!("postgres://app:{password}@a,b/db"));
        assert!(several.unwrap_err().contains("several hosts"));
        let no_user = LoginUrl::parse(&format!("postgres://:{password}@h/db"));
        assert!(!no_user.unwrap_err().contains(&password));
    }

    #[test]
    fn postgres_answers_are_classified() {
        let who = "app at db:5432";
        assert_eq!(postgres_liveness(who, Ok(())).state, LivenessState::Live);
        let refused = |code: &str, message: &str| {
            postgres_liveness(who, Err((Some(code.into()), message.into()))).state
        };
        assert_eq!(
            refused("28P01", "password authentication failed for user \"app\""),
            LivenessState::Dead
        );
        assert_eq!(
            refused("28000", "role \"app\" is not permitted to log in"),
            LivenessState::Dead
        );
        assert_eq!(
            refused("28000", "role \"app\" does not exist"),
            LivenessState::Dead
        );
        assert_eq!(
            refused("3D000", "database \"x\" does not exist"),
            LivenessState::Live
        );
        assert_eq!(
            refused("28000", "no pg_hba.conf entry for host \"10.0.0.1\""),
            LivenessState::Unknown
        );
        assert_eq!(
            refused("53300", "sorry, too many clients already"),
            LivenessState::Unknown
        );
        assert_eq!(
            postgres_liveness(who, Err((None, "connection refused".into()))).state,
            LivenessState::Unknown
        );
    }

    #[test]
    fn reasons_never_hold_the_secret() {
        let secret = ["hunter", "2hunter2"].concat();
        let reason = format!("the server said: bad password '{secret}'");
        assert!(!scrub(&reason, &[&secret]).contains(&secret));
    }

    #[cfg(feature = "aws")]
    #[test]
    fn sts_answers_are_classified() {
        use crate::aws::CallerIdentityProbe;
        use evict_model::EvidenceVerdict;
        let probe = |verdict| {
            Ok(CallerIdentityProbe {
                verdict,
                detail: "d".into(),
            })
        };
        assert_eq!(
            aws_liveness(probe(EvidenceVerdict::StillLive)).state,
            LivenessState::Live
        );
        assert_eq!(
            aws_liveness(probe(EvidenceVerdict::VerifiedRevoked)).state,
            LivenessState::Dead
        );
        assert_eq!(
            aws_liveness(probe(EvidenceVerdict::Unverified)).state,
            LivenessState::Unknown
        );
        let unreachable = Err(ConnectorError::Unreachable {
            provider: "aws",
            reason: "connection refused".into(),
        });
        assert_eq!(aws_liveness(unreachable).state, LivenessState::Unknown);
    }

    #[cfg(feature = "oauth")]
    #[test]
    fn inactive_tokens_are_not_called_dead() {
        use crate::oauth::Introspected;
        assert_eq!(
            oauth_liveness(Ok(Introspected::Active("client_id x".into()))).state,
            LivenessState::Live
        );
        let inactive = oauth_liveness(Ok(Introspected::Inactive));
        assert_eq!(inactive.state, LivenessState::Unknown);
        assert_eq!(
            inactive.reason,
            "inactive (cannot tell revoked from never issued to this client)"
        );
        assert_eq!(
            oauth_liveness(Ok(Introspected::Undecided("HTTP 500".into()))).state,
            LivenessState::Unknown
        );
    }
}
