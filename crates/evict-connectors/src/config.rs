//! Connector configuration: TOML, one table per provider. A secret (an admin URL with its
//! password, an API key) is never written in the file nor given on the command line: the file
//! names the environment variable, or the file, that holds it.
//!
//! ```toml
//! [postgres]
//! # The administrator's postgres:// URL, from $EVICT_POSTGRES_URL, or else from the file
//! # that $EVICT_POSTGRES_URL_FILE names (the container-secrets convention).
//! url = { env = "EVICT_POSTGRES_URL" }
//! # or: url = { file = "/run/secrets/evict-postgres-url" }
//!
//! # How hard the containment executor may press a provider (default 20/s, 4 at once).
//! [limits.postgres]
//! requests_per_second = 50
//! concurrency = 4
//!
//! [oauth]
//! issuer = "https://login.example.com"
//! client_id = "evict"
//! client_secret = { env = "EVICT_OAUTH_CLIENT_SECRET" }
//!
//! [scim]
//! base_url = "https://scim.example.com/scim/v2"
//! token = { env = "EVICT_SCIM_TOKEN" }
//!
//! [aws]
//! region = "us-east-1"
//! # endpoint_url = "https://iam.example.vpce.amazonaws.com"   # optional: a VPC endpoint, moto
//! access_key_id = { env = "EVICT_AWS_ACCESS_KEY_ID" }
//! secret_access_key = { env = "EVICT_AWS_SECRET_ACCESS_KEY" }
//! # session_token = { env = "EVICT_AWS_SESSION_TOKEN" }   # optional: temporary credentials
//! ```

use std::path::{Path, PathBuf};

use evict_model::{SecretString, TextPosition};
use serde::Deserialize;

use crate::provider::ConnectorError;

/// Every connector's settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorsConfig {
    /// The PostgreSQL connector.
    pub postgres: Option<PostgresConfig>,
    /// The Shared Signals transmitter.
    pub ssf: Option<SsfConfig>,
    /// The OAuth 2.0 / OpenID Connect connector.
    pub oauth: Option<OAuthConfig>,
    /// The SCIM 2.0 connector.
    pub scim: Option<ScimConfig>,
    /// The AWS IAM/STS connector.
    pub aws: Option<AwsConfig>,
    /// How hard the containment executor may press each provider, by provider name.
    #[serde(default)]
    pub limits: std::collections::BTreeMap<String, Limits>,
    /// Which providers `scan --verify` may send leaked secrets to.
    pub verify: Option<VerifyConfig>,
}

/// The opt-in of `evict scan --verify`. Asking an issuer whether a leaked secret still works
/// sends it the secret: a responder chooses consciously, provider by provider, where that
/// may happen. Nothing is probed for a provider missing from `providers`.
///
/// ```toml
/// [verify]
/// providers = ["aws", "postgres", "oauth"]
///
/// [verify.aws]            # optional: else the [aws] table's region and endpoint, else AWS's own
/// region = "us-east-1"
/// endpoint_url = "https://sts.us-east-1.amazonaws.com"
///
/// [verify.postgres]       # optional
/// hosts = ["db-01.internal.example.com"]   # only these hosts are sent a leaked password
/// connect_timeout_seconds = 5
///
/// [verify.oauth]          # optional: beyond JWTs whose iss is the [oauth] issuer
/// rules = ["okta.api_token"]
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    /// The providers leaked secrets may be sent to: `aws`, `postgres`, `oauth`.
    #[serde(default)]
    pub providers: Vec<String>,
    /// Where STS is asked.
    pub aws: Option<VerifyAwsConfig>,
    /// Which database hosts are asked.
    pub postgres: Option<VerifyPostgresConfig>,
    /// Which tokens go to the `[oauth]` issuer's introspection.
    pub oauth: Option<VerifyOAuthConfig>,
}

impl VerifyConfig {
    /// The providers `scan --verify` can probe.
    pub const PROVIDERS: &'static [&'static str] = &["aws", "postgres", "oauth"];

    /// Whether `provider` is opted in.
    pub fn opted_in(&self, provider: &str) -> bool {
        self.providers.iter().any(|p| p == provider)
    }
}

/// Where `scan --verify` asks STS about leaked AWS key pairs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyAwsConfig {
    /// The region requests are signed for.
    pub region: Option<String>,
    /// STS at another endpoint than AWS's own (`https://`, or `http://` on loopback).
    pub endpoint_url: Option<String>,
}

/// Which PostgreSQL servers `scan --verify` may log in to with a leaked URL.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyPostgresConfig {
    /// Only URLs naming one of these hosts are probed (the others stay unknown); empty or
    /// missing: any host a leaked URL names.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Seconds to wait for a login. Default 5.
    pub connect_timeout_seconds: Option<u64>,
}

/// Which leaked tokens `scan --verify` sends to the `[oauth]` issuer's introspection.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyOAuthConfig {
    /// Ids of rules whose tokens that issuer issues (JWTs naming it as `iss` are sent anyway).
    #[serde(default)]
    pub rules: Vec<String>,
}

/// How hard the executor may press one provider: at most `requests_per_second` (a token
/// bucket) over at most `concurrency` requests at once.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Requests per second, sustained.
    #[serde(default = "Limits::default_rate")]
    pub requests_per_second: f64,
    /// Requests in flight at once.
    #[serde(default = "Limits::default_concurrency")]
    pub concurrency: usize,
}

impl Limits {
    fn default_rate() -> f64 {
        20.0
    }

    fn default_concurrency() -> usize {
        4
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            requests_per_second: Limits::default_rate(),
            concurrency: Limits::default_concurrency(),
        }
    }
}

impl ConnectorsConfig {
    /// The limits for `provider`: its `[limits.NAME]` table, or 20 requests/s, 4 at once.
    pub fn limits_of(&self, provider: &str) -> Limits {
        self.limits.get(provider).copied().unwrap_or_default()
    }
}

/// The PostgreSQL connector's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// Where the administrator's `postgres://` URL is read from.
    pub url: SecretRef,
}

/// The Shared Signals transmitter's settings: who Evict is to receivers, the key it signs
/// Security Event Tokens with, and where each receiver takes them.
///
/// ```toml
/// [ssf]
/// issuer = "https://evict.example.com"
/// # An Ed25519 private key, PKCS#8 PEM (`openssl genpkey -algorithm ed25519`).
/// signing_key = { file = "/run/secrets/evict-ssf-signing-key.pem" }
/// key_id = "evict-ssf-1"
///
/// [[ssf.receivers]]
/// name = "payments"
/// url = "https://payments.example.com/ssf/events"
/// audience = "payments"
/// # Optional: sent as `Authorization: Bearer …` with every SET.
/// authorization = { env = "EVICT_SSF_PAYMENTS_TOKEN" }
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsfConfig {
    /// The `iss` of every SET; receivers check it.
    pub issuer: String,
    /// Where the Ed25519 private key (PKCS#8 PEM) is read from.
    pub signing_key: SecretRef,
    /// The `kid` receivers find the public key by.
    pub key_id: String,
    /// Every receiver; each gets every event.
    #[serde(default)]
    pub receivers: Vec<SsfReceiverConfig>,
    /// Attempts per receiver and SET (default 5).
    pub max_attempts: Option<u32>,
    /// Timeout of one attempt in seconds (default 10).
    pub timeout_seconds: Option<u64>,
}

/// One Shared Signals receiver.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsfReceiverConfig {
    /// A name for reports.
    pub name: String,
    /// Its RFC 8935 push endpoint (https).
    pub url: String,
    /// The `aud` its SETs carry.
    pub audience: String,
    /// Where its bearer token (or whole `Authorization` value) is read from, if it wants one.
    pub authorization: Option<SecretRef>,
}

/// The OAuth 2.0 / OpenID Connect connector's settings: the authorization server, and the
/// client Evict authenticates as (`client_secret_basic`) to revoke (RFC 7009) and introspect
/// (RFC 7662) tokens. Servers let a client revoke only the tokens issued to it (RFC 7009
/// §2.1), so this is the client the tokens were issued to, or one the server lets act on
/// every token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// The issuer's base URL; the endpoints are read from its
    /// `/.well-known/openid-configuration` unless both are given below.
    pub issuer: String,
    /// The client's id.
    pub client_id: String,
    /// Where the client's secret is read from.
    pub client_secret: SecretRef,
    /// The RFC 7009 revocation endpoint, instead of the discovered one.
    pub revocation_endpoint: Option<String>,
    /// The RFC 7662 introspection endpoint, instead of the discovered one.
    pub introspection_endpoint: Option<String>,
    /// How long to wait for a connection, in seconds.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// How long to wait for a whole request and its answer, in seconds.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
}

/// The SCIM 2.0 connector's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimConfig {
    /// The service's base URL, under which `/Users` is found.
    pub base_url: String,
    /// Where the bearer token Evict authenticates with is read from.
    pub token: SecretRef,
    /// How long to wait for a connection, in seconds.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// How long to wait for a whole request and its answer, in seconds.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
}

fn default_connect_timeout_secs() -> u64 {
    5
}

fn default_request_timeout_secs() -> u64 {
    30
}

/// The AWS connector's settings: where to reach IAM and STS, and where the access key evict
/// signs with is read from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// The region requests are signed for (IAM is global; STS answers in this region).
    pub region: String,
    /// Another endpoint than AWS's own for both IAM and STS: a VPC endpoint (`https://`), or
    /// a test server on a loopback address (only there is plain `http://` accepted).
    pub endpoint_url: Option<String>,
    /// Where the access key id is read from.
    pub access_key_id: SecretRef,
    /// Where the secret access key is read from.
    pub secret_access_key: SecretRef,
    /// Where the session token is read from, when the credentials are temporary.
    pub session_token: Option<SecretRef>,
    /// Seconds after an act before a probe means anything (IAM is eventually consistent).
    /// Default [`AwsConfig::DEFAULT_PROPAGATION_DELAY_SECONDS`]; tests against a local
    /// server set 0.
    pub propagation_delay_seconds: Option<u64>,
    /// Seconds to wait for a connection. Default 5.
    pub connect_timeout_seconds: Option<u64>,
    /// Seconds one call may take, retries included. Default 30.
    pub operation_timeout_seconds: Option<u64>,
    /// Attempts per call on throttling, server errors and dropped connections. Default 3.
    pub max_attempts: Option<u32>,
}

impl AwsConfig {
    /// The declared propagation delay unless configured: AWS documents IAM as eventually
    /// consistent; a key's deactivation is usually seen everywhere within seconds.
    pub const DEFAULT_PROPAGATION_DELAY_SECONDS: u64 = 10;

    fn check(&self, origin: &str) -> Result<(), ConnectorError> {
        self.access_key_id.check(origin, "aws.access_key_id")?;
        self.secret_access_key
            .check(origin, "aws.secret_access_key")?;
        if let Some(token) = &self.session_token {
            token.check(origin, "aws.session_token")?;
        }
        if self.region.trim().is_empty() {
            return Err(ConnectorError::Config(format!(
                "{origin}: aws.region is empty (e.g. region = \"us-east-1\")"
            )));
        }
        if self.max_attempts == Some(0) {
            return Err(ConnectorError::Config(format!(
                "{origin}: aws.max_attempts must be at least 1"
            )));
        }
        if let Some(url) = &self.endpoint_url {
            check_endpoint(url).map_err(|why| {
                ConnectorError::Config(format!("{origin}: aws.endpoint_url {why}"))
            })?;
        }
        Ok(())
    }
}

/// An endpoint is `https://HOST…`, or `http://` on a loopback address: a session token sent
/// over plain HTTP to anywhere else could be read on the way.
pub(crate) fn check_endpoint(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "must start with https:// (or http:// on a loopback address)".to_string())?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("must name a host, without user information".into());
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    match scheme {
        "https" => Ok(()),
        "http"
            if host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback()) =>
        {
            Ok(())
        }
        "http" => Err(format!(
            "uses plain http:// to {host}, which is not a loopback address: use https://"
        )),
        other => Err(format!("has scheme {other}: use https://")),
    }
}

/// Where a secret is read from: an environment variable (or, when it is unset, the file its
/// `_FILE` twin names), or a file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "SecretRefForm")]
pub struct SecretRef {
    /// The environment variable.
    pub env: Option<String>,
    /// The file.
    pub file: Option<PathBuf>,
}

/// What the configuration may hold where a secret goes. A secret written in its place is
/// refused without the parser quoting it back.
#[derive(Deserialize)]
#[serde(untagged)]
enum SecretRefForm {
    Reference {
        env: Option<String>,
        file: Option<PathBuf>,
    },
    Written(serde::de::IgnoredAny),
}

impl TryFrom<SecretRefForm> for SecretRef {
    type Error = &'static str;

    fn try_from(form: SecretRefForm) -> Result<SecretRef, &'static str> {
        match form {
            SecretRefForm::Reference { env, file } => Ok(SecretRef { env, file }),
            SecretRefForm::Written(_) => Err(
                "a secret is never written in the configuration: give { env = \"VARIABLE\" } \
                 or { file = \"PATH\" }",
            ),
        }
    }
}

impl ConnectorsConfig {
    /// Reads and checks a configuration file.
    pub fn from_file(path: &Path) -> Result<ConnectorsConfig, ConnectorError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConnectorError::Config(format!("{}: {e}", path.display())))?;
        ConnectorsConfig::parse(&text, &path.display().to_string())
    }

    /// Parses configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<ConnectorsConfig, ConnectorError> {
        // The parser's own message quotes the offending line, which may hold a secret
        // written where a reference belongs: say where, and what, but not the line.
        let config: ConnectorsConfig = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|span| format!(":{}", TextPosition::at(text, span.start)))
                .unwrap_or_default();
            ConnectorError::Config(format!("{origin}{at}: {}", e.message().trim()))
        })?;
        if let Some(pg) = &config.postgres {
            pg.url.check(origin, "postgres.url")?;
        }
        for (provider, limits) in &config.limits {
            if !(limits.requests_per_second > 0.0 && limits.requests_per_second.is_finite())
                || limits.concurrency == 0
            {
                return Err(ConnectorError::Config(format!(
                    "{origin}: limits.{provider} needs requests_per_second > 0 and concurrency >= 1"
                )));
            }
        }
        if let Some(ssf) = &config.ssf {
            ssf.check(origin)?;
        }
        if let Some(oauth) = &config.oauth {
            oauth.client_secret.check(origin, "oauth.client_secret")?;
            check_timeouts(
                origin,
                "oauth",
                oauth.connect_timeout_secs,
                oauth.request_timeout_secs,
            )?;
        }
        if let Some(scim) = &config.scim {
            scim.token.check(origin, "scim.token")?;
            check_timeouts(
                origin,
                "scim",
                scim.connect_timeout_secs,
                scim.request_timeout_secs,
            )?;
        }
        if let Some(aws) = &config.aws {
            aws.check(origin)?;
        }
        if let Some(verify) = &config.verify {
            for provider in &verify.providers {
                if !VerifyConfig::PROVIDERS.contains(&provider.as_str()) {
                    return Err(ConnectorError::Config(format!(
                        "{origin}: verify.providers names '{provider}', which scan --verify \
                         cannot probe; it can probe {}",
                        VerifyConfig::PROVIDERS.join(", ")
                    )));
                }
            }
            if let Some(url) = verify.aws.as_ref().and_then(|a| a.endpoint_url.as_ref()) {
                check_endpoint(url).map_err(|why| {
                    ConnectorError::Config(format!("{origin}: verify.aws.endpoint_url {why}"))
                })?;
            }
        }
        Ok(config)
    }
}

impl SsfConfig {
    fn check(&self, origin: &str) -> Result<(), ConnectorError> {
        let wrong = |what: String| Err(ConnectorError::Config(format!("{origin}: {what}")));
        self.signing_key.check(origin, "ssf.signing_key")?;
        if self.issuer.trim().is_empty() {
            return wrong("ssf.issuer is empty: it is the iss receivers check".into());
        }
        if self.key_id.trim().is_empty() {
            return wrong("ssf.key_id is empty: receivers find the public key by it".into());
        }
        if self.max_attempts == Some(0) {
            return wrong("ssf.max_attempts is 0: at least one attempt is made".into());
        }
        if self.timeout_seconds == Some(0) {
            return wrong("ssf.timeout_seconds is 0".into());
        }
        let mut names = std::collections::HashSet::new();
        for receiver in &self.receivers {
            let name = receiver.name.trim();
            if name.is_empty() {
                return wrong("an [[ssf.receivers]] entry has an empty name".into());
            }
            if !names.insert(name) {
                return wrong(format!("two [[ssf.receivers]] are named '{name}'"));
            }
            if receiver.audience.trim().is_empty() {
                return wrong(format!("ssf receiver '{name}' has an empty audience"));
            }
            let Some((scheme, rest)) = receiver.url.split_once("://") else {
                return wrong(format!("ssf receiver '{name}': url is not an http(s) URL"));
            };
            if !matches!(scheme, "https" | "http") {
                return wrong(format!("ssf receiver '{name}': url is not an http(s) URL"));
            }
            // Userinfo would be a password in the file: refuse it without quoting it.
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            if authority.contains('@') {
                return wrong(format!(
                    "ssf receiver '{name}': the url holds a user name or password; give \
                     the credential as authorization = {{ env = \"VARIABLE\" }} instead"
                ));
            }
            if let Some(auth) = &receiver.authorization {
                auth.check(origin, &format!("ssf receiver '{name}' authorization"))?;
            }
        }
        Ok(())
    }
}

fn check_timeouts(
    origin: &str,
    table: &str,
    connect: u64,
    request: u64,
) -> Result<(), ConnectorError> {
    if connect == 0 || request == 0 {
        return Err(ConnectorError::Config(format!(
            "{origin}: {table}.connect_timeout_secs and {table}.request_timeout_secs must be at \
             least 1 (a request without a deadline can hang a containment run)"
        )));
    }
    Ok(())
}

impl SecretRef {
    fn check(&self, origin: &str, key: &str) -> Result<(), ConnectorError> {
        match (&self.env, &self.file) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err(ConnectorError::Config(format!(
                "{origin}: {key} needs exactly one of env = \"VARIABLE\" or file = \"PATH\" \
                 (a secret is never written in the configuration)"
            ))),
        }
    }

    /// Reads the secret from the process environment or the file.
    pub fn read(&self) -> Result<SecretString, ConnectorError> {
        self.read_with(|name| std::env::var(name).ok())
    }

    /// Reads the secret with `env` looking variables up (tests pass their own).
    pub fn read_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<SecretString, ConnectorError> {
        let from_file = |path: &Path| {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConnectorError::Config(format!(
                    "cannot read the secret file {}: {e}",
                    path.display()
                ))
            })?;
            let secret = text.trim_end_matches(['\r', '\n']).to_string();
            if secret.is_empty() {
                return Err(ConnectorError::Config(format!(
                    "the secret file {} is empty",
                    path.display()
                )));
            }
            Ok(SecretString::new(secret))
        };
        match (&self.env, &self.file) {
            (Some(name), None) => match env(name).filter(|v| !v.is_empty()) {
                Some(value) => Ok(SecretString::new(value)),
                None => match env(&format!("{name}_FILE")).filter(|v| !v.is_empty()) {
                    Some(path) => from_file(Path::new(&path)),
                    None => Err(ConnectorError::Config(format!(
                        "the secret is read from ${name} (or the file ${name}_FILE names), \
                         and neither is set"
                    ))),
                },
            },
            (None, Some(path)) => from_file(path),
            _ => Err(ConnectorError::Config(
                "a secret needs exactly one of env or file".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_comes_from_its_variable_or_the_file_its_twin_names() {
        let dir = std::env::temp_dir().join(format!("evict-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("url");
        std::fs::write(&file, "postgres://from-file\n").unwrap();
        let reference = SecretRef {
            env: Some("PG_URL".into()),
            file: None,
        };
        let set = |name: &str| (name == "PG_URL").then(|| "postgres://from-env".to_string());
        assert_eq!(
            reference.read_with(set).unwrap().expose(),
            "postgres://from-env"
        );
        let twin = |name: &str| (name == "PG_URL_FILE").then(|| file.display().to_string());
        assert_eq!(
            reference.read_with(twin).unwrap().expose(),
            "postgres://from-file",
            "the trailing newline of a secrets file is not part of the secret"
        );
        let unset = reference.read_with(|_| None).unwrap_err().to_string();
        assert!(
            unset.contains("$PG_URL") && unset.contains("PG_URL_FILE"),
            "{unset}"
        );
        let by_file = SecretRef {
            env: None,
            file: Some(file.clone()),
        };
        assert_eq!(by_file.read().unwrap().expose(), "postgres://from-file");
        assert!(!format!("{:?}", by_file.read().unwrap()).contains("from-file"));
        std::fs::write(&file, "\n").unwrap();
        assert!(by_file.read().unwrap_err().to_string().contains("empty"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_file_names_where_secrets_are_and_errors_say_where_it_is_wrong() {
        let config =
            ConnectorsConfig::parse("[postgres]\nurl = { env = \"PG_URL\" }\n", "c.toml").unwrap();
        assert_eq!(config.postgres.unwrap().url.env.as_deref(), Some("PG_URL"));
        // Assembled here so that the source holds no URL with a password in it.
        let url = ["postgres://admin", ":hunter2@db/x"].concat();
        let written_in =
            ConnectorsConfig::parse(&format!("[postgres]\nurl = \"{url}\"\n"), "c.toml")
                .unwrap_err()
                .to_string();
        assert!(written_in.starts_with("c.toml:2:7: "), "{written_in}");
        assert!(written_in.contains("never written"), "{written_in}");
        assert!(
            !written_in.contains("hunter2"),
            "the secret is not echoed: {written_in}"
        );
        let both = ConnectorsConfig::parse(
            "[postgres]\nurl = { env = \"A\", file = \"/b\" }\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(both.contains("exactly one"), "{both}");
        let oauth = ConnectorsConfig::parse(
            "[oauth]\nissuer = \"https://idp\"\nclient_id = \"evict\"\n\
             client_secret = { env = \"S\" }\nrequest_timeout_secs = 9\n",
            "c.toml",
        )
        .unwrap()
        .oauth
        .unwrap();
        assert_eq!(
            (oauth.connect_timeout_secs, oauth.request_timeout_secs),
            (5, 9)
        );
        let written_secret = ConnectorsConfig::parse(
            &format!(
                "[scim]\nbase_url = \"https://scim\"\ntoken = \"{}\"\n",
                ["hun", "ter2"].concat()
            ),
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(written_secret.contains("never written"), "{written_secret}");
        assert!(!written_secret.contains("hunter2"), "{written_secret}");
        let no_deadline = ConnectorsConfig::parse(
            "[scim]\nbase_url = \"https://scim\"\ntoken = { env = \"T\" }\n\
             connect_timeout_secs = 0\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(no_deadline.contains("at least 1"), "{no_deadline}");
        let unknown = ConnectorsConfig::parse("[postgress]\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(unknown.starts_with("c.toml:1:"), "{unknown}");
        assert!(unknown.contains("postgress"), "{unknown}");
    }

    #[test]
    fn the_ssf_table_names_its_key_and_receivers_and_refuses_what_would_hold_a_secret() {
        let text = r#"
[ssf]
issuer = "https://evict.example.com"
signing_key = { file = "/run/secrets/ssf.pem" }
key_id = "k1"

[[ssf.receivers]]
name = "payments"
url = "https://payments.example.com/ssf"
audience = "payments"
authorization = { env = "PAYMENTS_SSF_TOKEN" }

[[ssf.receivers]]
name = "wiki"
url = "https://wiki.example.com/ssf"
audience = "wiki"
"#;
        let ssf = ConnectorsConfig::parse(text, "c.toml")
            .unwrap()
            .ssf
            .unwrap();
        assert_eq!(ssf.receivers.len(), 2);
        assert_eq!(
            ssf.receivers[0]
                .authorization
                .as_ref()
                .unwrap()
                .env
                .as_deref(),
            Some("PAYMENTS_SSF_TOKEN")
        );
        assert!(ssf.receivers[1].authorization.is_none());

        let written_key = text.replace(
            "signing_key = { file = \"/run/secrets/ssf.pem\" }",
            "signing_key = \"key-material-written-inline\"",
        );
        let err = ConnectorsConfig::parse(&written_key, "c.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("never written") && !err.contains("key-material"),
            "{err}"
        );

        let url = ["https://svc", ":pw@payments.example.com/ssf"].concat();
        let userinfo = text.replace("https://payments.example.com/ssf", &url);
        let err = ConnectorsConfig::parse(&userinfo, "c.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("authorization") && !err.contains("pw@"),
            "{err}"
        );

        let twice = text.replace("name = \"wiki\"", "name = \"payments\"");
        let err = ConnectorsConfig::parse(&twice, "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("two [[ssf.receivers]]"), "{err}");
    }

    #[test]
    fn the_aws_table_names_where_its_secrets_are_and_refuses_them_written_in() {
        let text = "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"http://127.0.0.1:5000\"\n\
                    access_key_id = { env = \"EVICT_AWS_ACCESS_KEY_ID\" }\n\
                    secret_access_key = { file = \"/run/secrets/aws\" }\n\
                    propagation_delay_seconds = 0\n";
        let aws = ConnectorsConfig::parse(text, "c.toml")
            .unwrap()
            .aws
            .unwrap();
        assert_eq!(aws.region, "us-east-1");
        assert_eq!(
            aws.access_key_id.env.as_deref(),
            Some("EVICT_AWS_ACCESS_KEY_ID")
        );
        assert_eq!(aws.propagation_delay_seconds, Some(0));
        assert!(aws.session_token.is_none());

        // Assembled here so that the source holds nothing that looks like a credential.
        let secret = ["written-", "in-", "place"].concat();
        let written_in = ConnectorsConfig::parse(
            &format!(
                "[aws]\nregion = \"us-east-1\"\naccess_key_id = {{ env = \"K\" }}\n\
                 secret_access_key = \"{secret}\"\n"
            ),
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(written_in.starts_with("c.toml:4:21: "), "{written_in}");
        assert!(written_in.contains("never written"), "{written_in}");
        assert!(!written_in.contains(&secret), "not echoed: {written_in}");

        let token_written_in = ConnectorsConfig::parse(
            &format!(
                "[aws]\nregion = \"r\"\naccess_key_id = {{ env = \"K\" }}\n\
                 secret_access_key = {{ env = \"S\" }}\nsession_token = \"{secret}\"\n"
            ),
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            token_written_in.contains("never written"),
            "{token_written_in}"
        );
        assert!(!token_written_in.contains(&secret), "{token_written_in}");
    }

    #[test]
    fn plain_http_is_accepted_only_to_a_loopback_endpoint() {
        for ok in [
            "https://iam.amazonaws.com",
            "http://127.0.0.1:5000",
            "http://localhost:5000/",
            "http://[::1]:5000",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.5:5000",
            "http://iam.amazonaws.com",
            "http://127.0.0.1.example.com",
            "ftp://127.0.0.1",
            "127.0.0.1:5000",
            "https://user@host",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
        let config = |extra: &str| {
            ConnectorsConfig::parse(
                &format!(
                    "[aws]\nregion = \"us-east-1\"\naccess_key_id = {{ env = \"K\" }}\n\
                     secret_access_key = {{ env = \"S\" }}\n{extra}"
                ),
                "c.toml",
            )
        };
        let plain = config("endpoint_url = \"http://iam.example.com\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            plain.contains("aws.endpoint_url") && plain.contains("https"),
            "{plain}"
        );
        assert!(config("max_attempts = 0\n").is_err());
        assert!(
            config("region2 = \"x\"\n").is_err(),
            "unknown keys are refused"
        );
    }
}
