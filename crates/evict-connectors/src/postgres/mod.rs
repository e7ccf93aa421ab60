//! PostgreSQL: roles are identities, a login role's password (with its `VALID UNTIL`) is its
//! credential, and client backends are its sessions.
//!
//! Works as a non-superuser administrator: a role with `CREATEROLE` (to alter and drop
//! roles), membership of `pg_signal_backend` (to end other roles' sessions) and, for session
//! start times and client addresses, of `pg_read_all_stats` (without it PostgreSQL hides them,
//! and a session's kind, for other roles). Such a role can neither read whether a role has a
//! password (`pg_authid` is superuser-only) nor act on superusers; both are said, not guessed.
//!
//! What the acts do and leave alive: `NOLOGIN` refuses new logins but leaves open sessions
//! working until they end — the disable probe therefore also looks for backends, and a
//! forgotten termination is reported as still live. `PASSWORD NULL` removes the password but
//! likewise ends no session.

use std::time::Duration;

use evict_model::{
    ActionKind, Credential, CredentialKind, CredentialStatus, Evidence, EvidenceVerdict, Identity,
    IdentityKind, IdentityStatus, PrivilegeTier, Provider as ProviderName,
};
use jiff::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Row};

use crate::config::PostgresConfig;
use crate::provider::{
    Acted, Cascade, ConnectorError, Discovery, NotFound, Provider, Semantics, Target, TargetKind,
};

const NAME: &str = "postgres";
const ROLE: TargetKind = TargetKind::Identity;
const PASSWORD: TargetKind = TargetKind::Credential(CredentialKind::Password);
const SESSION: TargetKind = TargetKind::Credential(CredentialKind::Session);

static SEMANTICS: Semantics = Semantics {
    supports: &[
        (ROLE, ActionKind::Disable),
        (ROLE, ActionKind::TerminateSessions),
        (ROLE, ActionKind::Delete),
        (PASSWORD, ActionKind::Revoke),
        (SESSION, ActionKind::TerminateSessions),
    ],
    cascades: &[
        Cascade {
            action: ActionKind::Delete,
            on: ROLE,
            ends: "the role's password and memberships (refused while it owns objects)",
        },
        Cascade {
            action: ActionKind::TerminateSessions,
            on: ROLE,
            ends: "every open session of the role, with its open transactions",
        },
    ],
    leaves_alive: &[
        "disable (NOLOGIN) leaves open sessions working: terminate them too",
        "revoking the password (PASSWORD NULL) leaves open sessions working",
    ],
    propagation_delay: Duration::ZERO,
    irrevocable: &[],
    idempotent: true,
    not_found: NotFound::Error,
    follow_ups: &[(ROLE, ActionKind::Disable, ActionKind::TerminateSessions)],
};

/// The PostgreSQL connector, connected as its administrator role.
#[derive(Debug, Clone)]
pub struct Postgres {
    pool: PgPool,
    options: PgConnectOptions,
}

/// A role name quoted as an SQL identifier (role names cannot be bound as parameters in
/// `ALTER ROLE`).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn provider_error(what: &'static str) -> impl FnOnce(sqlx::Error) -> ConnectorError {
    move |e| {
        if let Some(db) = e.as_database_error() {
            match db.code().as_deref() {
                Some("42501") => {
                    return ConnectorError::Forbidden {
                        provider: NAME,
                        permission: "CREATEROLE, and membership of pg_signal_backend to end \
                                     sessions (superusers cannot be acted on by a non-superuser)"
                            .into(),
                        reason: db.message().to_string(),
                    };
                }
                Some("42704") => {
                    return ConnectorError::NotFound {
                        provider: NAME,
                        what: "role",
                        native_id: db.message().to_string(),
                    };
                }
                _ => {}
            }
        }
        match e {
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => {
                ConnectorError::Unreachable {
                    provider: NAME,
                    reason: e.to_string(),
                }
            }
            other => ConnectorError::Provider {
                provider: NAME,
                what,
                reason: other.to_string(),
            },
        }
    }
}

impl Postgres {
    /// Connects as the administrator role that the `postgres://` URL `url` names. The URL
    /// holds a secret: take it from the environment or a file, never the command line.
    /// Connections are opened when first needed, so a server that is down fails the requests
    /// sent to it (retryably, as `Unreachable`) rather than everything else the caller does.
    pub async fn connect(url: &str) -> Result<Postgres, ConnectorError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| ConnectorError::Config(format!("postgres URL: {e}")))?;
        let options = options.disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options.clone());
        Ok(Postgres { pool, options })
    }

    /// Connects with the administrator URL read from where the configuration says.
    pub async fn from_config(config: &PostgresConfig) -> Result<Postgres, ConnectorError> {
        let url = config.url.read()?;
        Postgres::connect(url.expose()).await
    }

    /// Closes the administrator's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn can_login(&self, role: &str) -> Result<Option<bool>, ConnectorError> {
        sqlx::query("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1")
            .bind(role)
            .fetch_optional(&self.pool)
            .await
            .map_err(provider_error("read a role"))?
            .map(|row| row.try_get::<bool, _>(0))
            .transpose()
            .map_err(provider_error("read a role"))
    }

    /// The pids of the backends of `role`, other than the administrator's own. Not filtered
    /// by `backend_type`: without `pg_read_all_stats` it reads NULL for other roles'
    /// sessions, and a probe that skipped them would call a live role revoked.
    async fn backends_of(&self, role: &str) -> Result<Vec<i32>, ConnectorError> {
        let rows = sqlx::query(
            "SELECT pid FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid() \
             ORDER BY pid",
        )
        .bind(role)
        .fetch_all(&self.pool)
        .await
        .map_err(provider_error("list sessions"))?;
        rows.iter()
            .map(|r| r.try_get::<i32, _>(0))
            .collect::<Result<_, _>>()
            .map_err(provider_error("list sessions"))
    }

    async fn backend_alive(&self, pid: i32) -> Result<bool, ConnectorError> {
        let row = sqlx::query("SELECT 1 FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_optional(&self.pool)
            .await
            .map_err(provider_error("read a session"))?;
        Ok(row.is_some())
    }

    async fn terminate(&self, pids: &[i32]) -> Result<usize, ConnectorError> {
        let mut ended = 0;
        for pid in pids {
            let done: bool = sqlx::query("SELECT pg_terminate_backend($1, 5000)")
                .bind(*pid)
                .fetch_one(&self.pool)
                .await
                .map_err(provider_error("end a session"))?
                .try_get(0)
                .map_err(provider_error("end a session"))?;
            ended += usize::from(done);
        }
        Ok(ended)
    }

    async fn alter(&self, role: &str, clause: &str) -> Result<(), ConnectorError> {
        sqlx::query(&format!("ALTER ROLE {} {clause}", quote_ident(role)))
            .execute(&self.pool)
            .await
            .map_err(provider_error("alter a role"))?;
        Ok(())
    }

    /// Tries to log in as `role` without a password: the server's answer says whether it
    /// refuses the role as such (`not permitted to log in`), which no password could change.
    async fn login_probe(&self, role: &str) -> LoginProbe {
        let options = self.options.clone().username(role).password("");
        match tokio::time::timeout(Duration::from_secs(5), options.connect()).await {
            Err(_) => LoginProbe::Inconclusive("the login attempt timed out".into()),
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                LoginProbe::Accepted
            }
            Ok(Err(e)) => match e.as_database_error() {
                Some(db) if db.message().contains("not permitted to log in") => {
                    LoginProbe::Refused(db.message().to_string())
                }
                Some(db) => LoginProbe::Inconclusive(format!(
                    "the server refused for another reason ({}), which says nothing about the \
                     role",
                    db.message()
                )),
                None => LoginProbe::Inconclusive(e.to_string()),
            },
        }
    }
}

/// Logs in with a leaked URL's own credentials — the liveness probe of `scan --verify` —
/// and closes at once: no statement is run (sqlx sends only the startup message, the
/// password exchange and a Terminate). TLS is used when the server offers it.
pub async fn leaked_login(
    url: &crate::liveness::LoginUrl,
    timeout: Duration,
) -> evict_model::Liveness {
    let who = format!("{} on {}:{}/{}", url.user, url.host, url.port, url.database);
    let options = PgConnectOptions::new_without_pgpass()
        .host(&url.host)
        .port(url.port)
        .username(&url.user)
        .password(url.password.expose())
        .database(&url.database)
        .application_name("evict-liveness-probe")
        .ssl_mode(sqlx::postgres::PgSslMode::Prefer)
        .disable_statement_logging();
    let outcome = match tokio::time::timeout(timeout, options.connect()).await {
        Err(_) => Err((None, format!("no answer within {} s", timeout.as_secs()))),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => match e.as_database_error() {
            Some(db) => Err((db.code().map(|c| c.to_string()), db.message().to_string())),
            None => Err((None, e.to_string())),
        },
    };
    crate::liveness::postgres_liveness(&who, outcome)
}

enum LoginProbe {
    Refused(String),
    Accepted,
    Inconclusive(String),
}

fn parse_pid(target: &Target) -> Result<i32, ConnectorError> {
    target
        .native_id
        .parse()
        .map_err(|_| ConnectorError::NotFound {
            provider: NAME,
            what: "session (a backend pid)",
            native_id: target.native_id.clone(),
        })
}

impl Provider for Postgres {
    fn name(&self) -> &'static str {
        NAME
    }

    fn semantics(&self) -> &'static Semantics {
        &SEMANTICS
    }

    async fn discover(&self) -> Result<Discovery, ConnectorError> {
        let provider =
            ProviderName::new(NAME).map_err(|e| ConnectorError::Config(e.to_string()))?;
        let roles = sqlx::query(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, \
             rolvaliduntil::text AS valid_until FROM pg_roles WHERE rolname !~ '^pg_' \
             ORDER BY rolname",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(provider_error("list roles"))?;
        let mut found = Discovery::default();
        for row in &roles {
            let read = provider_error("read a role");
            let name: String = row.try_get("rolname").map_err(read)?;
            let login: bool = row.try_get("rolcanlogin").map_err(provider_error("read"))?;
            let superuser: bool = row.try_get("rolsuper").map_err(provider_error("read"))?;
            let createrole: bool = row
                .try_get("rolcreaterole")
                .map_err(provider_error("read"))?;
            let createdb: bool = row.try_get("rolcreatedb").map_err(provider_error("read"))?;
            let valid_until: Option<String> =
                row.try_get("valid_until").map_err(provider_error("read"))?;
            let mut identity = Identity::new(provider.clone(), name.clone(), IdentityKind::Service);
            identity.status = if login {
                IdentityStatus::Active
            } else {
                IdentityStatus::Disabled
            };
            identity.privilege = if superuser {
                PrivilegeTier::Admin
            } else if createrole || createdb {
                PrivilegeTier::Privileged
            } else {
                PrivilegeTier::Standard
            };
            if login {
                let mut password = Credential::new(
                    provider.clone(),
                    format!("{name}/password"),
                    CredentialKind::Password,
                );
                password.native_id = Some(name.clone());
                password.identity = Some(identity.id.clone());
                // `infinity` and NULL both mean no expiry.
                password.expires_at = valid_until
                    .as_deref()
                    .and_then(|t| t.replace(' ', "T").parse::<Timestamp>().ok());
                found.credentials.push(password);
            }
            found.identities.push(identity);
        }
        let sessions = sqlx::query(
            "SELECT pid, usename, backend_start::text AS started, client_addr::text AS client \
             FROM pg_stat_activity WHERE usename IS NOT NULL \
             AND (backend_type = 'client backend' OR backend_type IS NULL) \
             AND pid <> pg_backend_pid() ORDER BY pid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(provider_error("list sessions"))?;
        for row in &sessions {
            let pid: i32 = row.try_get("pid").map_err(provider_error("read"))?;
            let role: String = row.try_get("usename").map_err(provider_error("read"))?;
            let started: Option<String> = row.try_get("started").map_err(provider_error("read"))?;
            let client: Option<String> = row.try_get("client").map_err(provider_error("read"))?;
            let mut session = Credential::new(
                provider.clone(),
                format!("{role}/session/{pid}"),
                CredentialKind::Session,
            );
            session.native_id = Some(pid.to_string());
            session.identity = found
                .identities
                .iter()
                .find(|i| i.external_id == role)
                .map(|i| i.id.clone());
            session.status = CredentialStatus::Active;
            session.issued_at = started
                .as_deref()
                .and_then(|t| t.replace(' ', "T").parse::<Timestamp>().ok());
            session.last_used_from = client;
            found.credentials.push(session);
        }
        Ok(found)
    }

    async fn act(&self, target: &Target, action: ActionKind) -> Result<Acted, ConnectorError> {
        if !SEMANTICS.supports(target.kind, action) {
            return Err(ConnectorError::Unsupported {
                provider: NAME,
                action,
                what: target.kind.to_string(),
            });
        }
        let role = target.native_id.as_str();
        match (target.kind, action) {
            (ROLE, ActionKind::Disable) => {
                let Some(login) = self.can_login(role).await? else {
                    return Err(not_found(role));
                };
                if login {
                    self.alter(role, "NOLOGIN").await?;
                }
                Ok(Acted {
                    changed: login,
                    detail: format!("ALTER ROLE {} NOLOGIN", quote_ident(role)),
                })
            }
            (ROLE, ActionKind::TerminateSessions) => {
                if self.can_login(role).await?.is_none() {
                    return Err(not_found(role));
                }
                let pids = self.backends_of(role).await?;
                let ended = self.terminate(&pids).await?;
                Ok(Acted {
                    changed: ended > 0,
                    detail: format!("pg_terminate_backend on {pids:?}: {ended} ended"),
                })
            }
            (ROLE, ActionKind::Delete) => {
                if self.can_login(role).await?.is_none() {
                    return Err(not_found(role));
                }
                sqlx::query(&format!("DROP ROLE {}", quote_ident(role)))
                    .execute(&self.pool)
                    .await
                    .map_err(provider_error("drop a role"))?;
                Ok(Acted {
                    changed: true,
                    detail: format!("DROP ROLE {}", quote_ident(role)),
                })
            }
            (PASSWORD, ActionKind::Revoke) => {
                if self.can_login(role).await?.is_none() {
                    return Err(not_found(role));
                }
                self.alter(role, "PASSWORD NULL").await?;
                Ok(Acted {
                    changed: true,
                    detail: format!("ALTER ROLE {} PASSWORD NULL", quote_ident(role)),
                })
            }
            (SESSION, ActionKind::TerminateSessions) => {
                let pid = parse_pid(target)?;
                let ended = self.terminate(&[pid]).await?;
                Ok(Acted {
                    changed: ended > 0,
                    detail: format!("pg_terminate_backend({pid}): {}", ended > 0),
                })
            }
            _ => Err(ConnectorError::Unsupported {
                provider: NAME,
                action,
                what: target.kind.to_string(),
            }),
        }
    }

    fn describe(&self, target: &Target, action: ActionKind) -> String {
        let role = quote_ident(&target.native_id);
        match (target.kind, action) {
            (ROLE, ActionKind::Disable) => format!("ALTER ROLE {role} NOLOGIN"),
            (ROLE, ActionKind::TerminateSessions) => {
                format!("pg_terminate_backend(pid, 5000) for every backend of role {role}")
            }
            (ROLE, ActionKind::Delete) => format!("DROP ROLE {role}"),
            (PASSWORD, ActionKind::Revoke) => format!("ALTER ROLE {role} PASSWORD NULL"),
            (SESSION, ActionKind::TerminateSessions) => {
                format!("pg_terminate_backend({}, 5000)", target.native_id)
            }
            (kind, action) => format!("unsupported: {action} on a {kind}"),
        }
    }

    async fn verify(
        &self,
        target: &Target,
        action: ActionKind,
    ) -> Result<Evidence, ConnectorError> {
        let role = target.native_id.as_str();
        match (target.kind, action) {
            (ROLE, ActionKind::Disable | ActionKind::TerminateSessions) => {
                let Some(login) = self.can_login(role).await? else {
                    return Ok(target.evidence(
                        NAME,
                        EvidenceVerdict::VerifiedRevoked,
                        format!("pg_roles has no role '{role}'"),
                    ));
                };
                let backends = self.backends_of(role).await?;
                if action == ActionKind::TerminateSessions {
                    return Ok(if backends.is_empty() {
                        target.evidence(
                            NAME,
                            EvidenceVerdict::VerifiedRevoked,
                            format!("pg_stat_activity: no session of '{role}' remains"),
                        )
                    } else {
                        target.evidence(
                            NAME,
                            EvidenceVerdict::StillLive,
                            format!(
                                "pg_stat_activity: sessions of '{role}' still open: {backends:?}"
                            ),
                        )
                    });
                }
                if login {
                    return Ok(target.evidence(
                        NAME,
                        EvidenceVerdict::StillLive,
                        format!("pg_roles: '{role}' can still log in (rolcanlogin = true)"),
                    ));
                }
                if !backends.is_empty() {
                    return Ok(target.evidence(
                        NAME,
                        EvidenceVerdict::StillLive,
                        format!(
                            "'{role}' is NOLOGIN but sessions opened before still work: \
                             {backends:?} (terminate them)"
                        ),
                    ));
                }
                Ok(match self.login_probe(role).await {
                    LoginProbe::Refused(answer) => target.evidence(
                        NAME,
                        EvidenceVerdict::VerifiedRevoked,
                        format!(
                            "pg_roles: rolcanlogin = false; no session open; a login attempt \
                             was refused: {answer}"
                        ),
                    ),
                    LoginProbe::Accepted => target.evidence(
                        NAME,
                        EvidenceVerdict::StillLive,
                        format!("a login as '{role}' succeeded"),
                    ),
                    LoginProbe::Inconclusive(why) => target.evidence(
                        NAME,
                        EvidenceVerdict::VerifiedRevoked,
                        format!(
                            "pg_roles: rolcanlogin = false; no session open (login probe \
                             inconclusive: {why})"
                        ),
                    ),
                })
            }
            (ROLE, ActionKind::Delete) => Ok(match self.can_login(role).await? {
                None => target.evidence(
                    NAME,
                    EvidenceVerdict::VerifiedRevoked,
                    format!("pg_roles has no role '{role}'"),
                ),
                Some(_) => target.evidence(
                    NAME,
                    EvidenceVerdict::StillLive,
                    format!("pg_roles still has '{role}'"),
                ),
            }),
            (PASSWORD, ActionKind::Revoke) => Ok(match self.can_login(role).await? {
                None => target.evidence(
                    NAME,
                    EvidenceVerdict::VerifiedRevoked,
                    format!("pg_roles has no role '{role}'"),
                ),
                Some(false) => target.evidence(
                    NAME,
                    EvidenceVerdict::VerifiedRevoked,
                    format!("'{role}' cannot log in (NOLOGIN), password or not"),
                ),
                Some(true) => target.evidence(
                    NAME,
                    EvidenceVerdict::Unverified,
                    "a non-superuser cannot read whether a role has a password (pg_authid), \
                     and a login probe without the old password cannot tell; disable the \
                     role to have proof"
                        .into(),
                ),
            }),
            (SESSION, ActionKind::TerminateSessions) => {
                let pid = parse_pid(target)?;
                Ok(if self.backend_alive(pid).await? {
                    target.evidence(
                        NAME,
                        EvidenceVerdict::StillLive,
                        format!("pg_stat_activity still has backend {pid}"),
                    )
                } else {
                    target.evidence(
                        NAME,
                        EvidenceVerdict::VerifiedRevoked,
                        format!("pg_stat_activity has no backend {pid}"),
                    )
                })
            }
            _ => Err(ConnectorError::Unsupported {
                provider: NAME,
                action,
                what: target.kind.to_string(),
            }),
        }
    }
}

fn not_found(role: &str) -> ConnectorError {
    ConnectorError::NotFound {
        provider: NAME,
        what: "role",
        native_id: role.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_quoted_as_identifiers() {
        assert_eq!(quote_ident("ci"), "\"ci\"");
        assert_eq!(
            quote_ident("x\"; DROP ROLE admin; --"),
            "\"x\"\"; DROP ROLE admin; --\""
        );
    }

    #[test]
    fn the_semantics_say_what_disable_leaves_alive() {
        assert!(SEMANTICS.supports(ROLE, ActionKind::Disable));
        assert!(!SEMANTICS.supports(PASSWORD, ActionKind::Delete));
        assert!(
            SEMANTICS
                .leaves_alive
                .iter()
                .any(|n| n.contains("NOLOGIN") && n.contains("sessions"))
        );
    }
}
