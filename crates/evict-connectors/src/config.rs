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
//! [oauth]
//! issuer = "https://login.example.com"
//! client_id = "evict"
//! client_secret = { env = "EVICT_OAUTH_CLIENT_SECRET" }
//!
//! [scim]
//! base_url = "https://scim.example.com/scim/v2"
//! token = { env = "EVICT_SCIM_TOKEN" }
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
    /// The OAuth 2.0 / OpenID Connect connector.
    pub oauth: Option<OAuthConfig>,
    /// The SCIM 2.0 connector.
    pub scim: Option<ScimConfig>,
}

/// The PostgreSQL connector's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// Where the administrator's `postgres://` URL is read from.
    pub url: SecretRef,
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
        Ok(config)
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
}
