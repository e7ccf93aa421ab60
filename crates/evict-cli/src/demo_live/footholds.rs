//! The attacker's side of `evict demo --live`, and the administrator's eyes: real artifacts
//! made on each server the way an intruder would make them, and each server read back
//! directly (not through Evict) before and after containment.
//!
//! Every secret here is made at run time, held in memory, and written only to files in the
//! run's private folder (removed at the end); none is printed.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor, Row};

use super::lab::random_hex;

/// The attacker's tool, as its sessions announce it (`application_name`): the incident's
/// indicator.
pub const ATTACKER_AGENT: &str = "evil-kit/2.1";

/// A password made at run time: `bytes` random bytes as hex.
pub fn secret(bytes: usize) -> anyhow::Result<String> {
    random_hex(bytes).map_err(|e| anyhow!("{e}"))
}

/// Writes a secret to a new file only this user can read.
pub fn write_secret(path: &Path, value: &str) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(value.as_bytes())?;
    Ok(path.to_path_buf())
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// The roles and database of the run. On a shared server their names carry the run's process
/// id, so that runs side by side do not meet.
#[derive(Debug, Clone)]
pub struct PgNames {
    pub database: String,
    pub responder: String,
    pub attacker: String,
    /// Whether they are the run's to drop at the end (on a server the run did not start).
    pub drop_after: bool,
}

impl PgNames {
    pub fn new(shared_server: bool) -> PgNames {
        let prefix = if shared_server {
            format!("evict_demo_{}_", std::process::id())
        } else {
            String::new()
        };
        PgNames {
            database: if shared_server {
                format!("evict_demo_{}", std::process::id())
            } else {
                "evict_demo".into()
            },
            responder: format!("{prefix}evict_responder"),
            attacker: format!("{prefix}mallory"),
            drop_after: shared_server,
        }
    }
}

/// The attacker's PostgreSQL role and its open session.
// No Debug: it holds a plaintext secret made for the run.
pub struct PgFoothold {
    admin: PgConnectOptions,
    pub names: PgNames,
    attacker_password: String,
    /// The responder's URL, with its password: what Evict's connector logs in with.
    pub responder_url: String,
    /// The attacker's session, held open.
    session: Option<PgConnection>,
    /// Its backend's process id.
    pub pid: i32,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Connects as the superuser, waiting out a server that is still starting.
async fn connect_admin(admin: &PgConnectOptions) -> anyhow::Result<PgConnection> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match admin.connect().await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() < deadline && e.to_string().contains("starting up") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e).context("connecting to PostgreSQL as its superuser"),
        }
    }
}

impl PgFoothold {
    /// A fresh database, Evict's administrator role (CREATEROLE, pg_signal_backend,
    /// pg_read_all_stats: what the connector needs, not a superuser), and the attacker's role
    /// with a password and a session open on the database, announcing the attacker's tool.
    pub async fn plant(admin_url: &str, names: PgNames) -> anyhow::Result<PgFoothold> {
        let admin = PgConnectOptions::from_str(admin_url)?
            .application_name("evict-demo")
            .disable_statement_logging();
        let mut su = connect_admin(&admin).await?;
        su.execute(
            format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote(&names.database)
            )
            .as_str(),
        )
        .await?;
        su.execute(format!("CREATE DATABASE {}", quote(&names.database)).as_str())
            .await?;
        let responder_password = secret(18)?;
        let attacker_password = secret(18)?;
        for role in [&names.attacker, &names.responder] {
            su.execute(format!("DROP ROLE IF EXISTS {}", quote(role)).as_str())
                .await?;
        }
        su.execute(
            format!(
                "CREATE ROLE {r} LOGIN CREATEROLE PASSWORD '{responder_password}'; \
                 GRANT pg_signal_backend, pg_read_all_stats TO {r}",
                r = quote(&names.responder)
            )
            .as_str(),
        )
        .await
        .context("creating Evict's administrator role")?;
        // The attacker, holding a stolen superuser password, makes a role of their own.
        su.execute(
            format!(
                "CREATE ROLE {} LOGIN PASSWORD '{attacker_password}'",
                quote(&names.attacker)
            )
            .as_str(),
        )
        .await
        .context("creating the attacker's role")?;
        let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
            .fetch_one(&mut su)
            .await?;
        if version >= 160_000 {
            // From PostgreSQL 16 a CREATEROLE role manages only the roles it has ADMIN on.
            su.execute(
                format!(
                    "GRANT {} TO {} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE",
                    quote(&names.attacker),
                    quote(&names.responder)
                )
                .as_str(),
            )
            .await?;
        }
        su.close().await?;
        let attacker = admin
            .clone()
            .username(&names.attacker)
            .password(&attacker_password)
            .database(&names.database)
            .application_name(ATTACKER_AGENT);
        let mut session = attacker
            .connect()
            .await
            .context("opening the attacker's session")?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut session)
            .await?;
        let responder_url = format!(
            "postgres://{}:{responder_password}@{}:{}/{}",
            names.responder,
            admin.get_host(),
            admin.get_port(),
            names.database
        );
        Ok(PgFoothold {
            admin,
            names,
            attacker_password,
            responder_url,
            session: Some(session),
            pid,
        })
    }

    /// The database's client sessions, as JSON lines a DBA would export from
    /// `pg_stat_activity` during triage (time, role, client address, application); returns
    /// how many.
    pub async fn export_sessions(&self, path: &Path) -> anyhow::Result<usize> {
        let mut su = connect_admin(&self.admin).await?;
        let rows = sqlx::query(
            "SELECT (extract(epoch FROM backend_start) * 1000)::bigint AS started, usename, \
             coalesce(client_addr::text, 'local') AS client, application_name, pid \
             FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' \
             ORDER BY backend_start",
        )
        .bind(&self.names.database)
        .fetch_all(&mut su)
        .await?;
        su.close().await?;
        let mut lines = String::new();
        for row in &rows {
            let record = json!({
                "time": row.try_get::<i64, _>("started")?,
                "event": "session.start",
                "role": row.try_get::<String, _>("usename")?,
                "client": row.try_get::<String, _>("client")?,
                "application": row.try_get::<String, _>("application_name")?,
                "pid": row.try_get::<i32, _>("pid")?,
                "database": self.names.database,
            });
            lines.push_str(&record.to_string());
            lines.push('\n');
        }
        std::fs::write(path, lines)?;
        Ok(rows.len())
    }

    /// What the server says, asked directly: can the role log in (a real login with the
    /// attacker's password), does its held session still answer, and which sessions of it
    /// remain.
    pub async fn read_back(&mut self) -> anyhow::Result<Value> {
        let mut su = connect_admin(&self.admin).await?;
        let can_login: Option<bool> =
            sqlx::query_scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1")
                .bind(&self.names.attacker)
                .fetch_optional(&mut su)
                .await?;
        let sessions: Vec<i32> =
            sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE usename = $1 ORDER BY pid")
                .bind(&self.names.attacker)
                .fetch_all(&mut su)
                .await?;
        su.close().await?;
        let login = self
            .admin
            .clone()
            .username(&self.names.attacker)
            .password(&self.attacker_password)
            .database(&self.names.database)
            .application_name(ATTACKER_AGENT)
            .connect()
            .await;
        let login = match login {
            Ok(c) => {
                c.close().await?;
                json!({ "accepted": true })
            }
            Err(e) => json!({ "accepted": false, "answer": pg_answer(&e) }),
        };
        let held = match self.session.as_mut() {
            None => json!({ "answers": false, "answer": "closed" }),
            Some(session) => match sqlx::query("SELECT 1").execute(&mut *session).await {
                Ok(_) => json!({ "answers": true }),
                Err(e) => {
                    self.session = None;
                    json!({ "answers": false, "answer": pg_answer(&e) })
                }
            },
        };
        Ok(json!({
            "role": self.names.attacker,
            "rolcanlogin": can_login,
            "login_with_its_password": login,
            "held_session": { "pid": self.pid, "query": held },
            "sessions_of_the_role": sessions,
        }))
    }

    /// Whether the read-back shows the role dead: no login, no session, the held one cut.
    pub fn dead(read: &Value) -> bool {
        read["login_with_its_password"]["accepted"] == false
            && read["held_session"]["query"]["answers"] == false
            && read["sessions_of_the_role"]
                .as_array()
                .is_some_and(Vec::is_empty)
    }
}

/// The server's own words for a refusal (PostgreSQL's message, without the client's framing).
fn pg_answer(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

/// Drops the run's database and roles from a server the run did not start (on every way out,
/// so a shared server keeps nothing of the run). Errors are reported, not raised.
pub async fn drop_pg(admin_url: &str, names: &PgNames) -> Result<(), String> {
    if !names.drop_after {
        return Ok(());
    }
    let admin = PgConnectOptions::from_str(admin_url)
        .map_err(|e| e.to_string())?
        .disable_statement_logging();
    let mut su = connect_admin(&admin).await.map_err(|e| format!("{e:#}"))?;
    let mut problems = Vec::new();
    let database = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote(&names.database)
    );
    let statements = [
        database,
        format!("DROP ROLE IF EXISTS {}", quote(&names.attacker)),
        format!("DROP ROLE IF EXISTS {}", quote(&names.responder)),
    ];
    for statement in statements {
        if let Err(e) = su.execute(statement.as_str()).await {
            problems.push(format!("{statement}: {}", pg_answer(&e)));
        }
    }
    let _ = su.close().await;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

// ---------------------------------------------------------------------------------------------
// AWS (moto)

/// Evict's IAM administrator and the attacker's IAM user with its access key.
// No Debug: it holds a plaintext secret made for the run.
pub struct AwsFoothold {
    url: String,
    pub responder_key_id: String,
    pub responder_secret: String,
    pub user: String,
    pub user_arn: String,
    pub key_id: String,
}

/// An IAM client signing as `id`/`secret` against moto at `url`.
fn iam_client(url: &str, id: &str, secret: &str) -> aws_sdk_iam::Client {
    use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(id, secret, None, None, "evict-demo"))
        .http_client(http)
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

async fn create_key(iam: &aws_sdk_iam::Client, user: &str) -> anyhow::Result<(String, String)> {
    let key = iam
        .create_access_key()
        .user_name(user)
        .send()
        .await?
        .access_key
        .ok_or_else(|| anyhow!("moto made no access key for {user}"))?;
    Ok((key.access_key_id, key.secret_access_key))
}

impl AwsFoothold {
    /// While moto still takes any signature, its root makes Evict's administrator (an inline
    /// policy allowing `iam:*`) with an access key; then moto is switched to checking every
    /// signature and policy, and the attacker — holding that kind of access — makes an IAM
    /// user of their own with an Active access key.
    pub async fn plant(url: &str, port: u16) -> anyhow::Result<AwsFoothold> {
        let anyone = iam_client(url, "bootstrap", "bootstrap");
        let responder = "evict-responder";
        anyone.create_user().user_name(responder).send().await?;
        anyone
            .put_user_policy()
            .user_name(responder)
            .policy_name("evict-containment")
            .policy_document(
                json!({
                    "Version": "2012-10-17",
                    "Statement": [{ "Effect": "Allow", "Action": ["iam:*"], "Resource": "*" }]
                })
                .to_string(),
            )
            .send()
            .await
            .context("creating Evict's IAM administrator")?;
        let (responder_key_id, responder_secret) = create_key(&anyone, responder).await?;
        evict_testkit::servers::moto_check_signatures(port).map_err(|e| anyhow!("{e}"))?;
        let iam = iam_client(url, &responder_key_id, &responder_secret);
        let user = "svc-backup-sync".to_string();
        let user_arn = iam
            .create_user()
            .user_name(&user)
            .send()
            .await
            .context("creating the attacker's IAM user")?
            .user
            .map(|u| u.arn)
            .ok_or_else(|| anyhow!("moto returned no user"))?;
        // The attacker keeps the secret half; the demo has no use for it.
        let (key_id, _) = create_key(&iam, &user).await?;
        Ok(AwsFoothold {
            url: url.to_string(),
            responder_key_id,
            responder_secret,
            user,
            user_arn,
            key_id,
        })
    }

    /// The key's status as IAM lists it to the administrator.
    pub async fn read_back(&self) -> anyhow::Result<Value> {
        let iam = iam_client(&self.url, &self.responder_key_id, &self.responder_secret);
        let keys = iam
            .list_access_keys()
            .user_name(&self.user)
            .send()
            .await
            .context("ListAccessKeys")?;
        let status = keys
            .access_key_metadata
            .iter()
            .find(|k| k.access_key_id.as_deref() == Some(self.key_id.as_str()))
            .and_then(|k| k.status.as_ref().map(|s| s.as_str().to_string()));
        Ok(json!({
            "user": self.user_arn,
            "access_key_id": self.key_id,
            "status": status,
        }))
    }

    pub fn dead(read: &Value) -> bool {
        read["status"] != "Active"
    }
}

// ---------------------------------------------------------------------------------------------
// OAuth (oidc-provider)

/// An access token the attacker obtained for the `service` client (client credentials).
// No Debug: it holds a plaintext secret made for the run.
pub struct OAuthFoothold {
    client: reqwest::Client,
    service_secret: String,
    introspection: String,
    pub token: String,
    pub expires_in: Option<u64>,
}

impl OAuthFoothold {
    pub async fn plant(issuer: &str, service_secret: &str) -> anyhow::Result<OAuthFoothold> {
        let client = reqwest::Client::new();
        let metadata: Value = client
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let endpoint = |name: &str| {
            metadata[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("oidc-provider's metadata has no {name}"))
        };
        let (token_endpoint, introspection) = (
            endpoint("token_endpoint")?,
            endpoint("introspection_endpoint")?,
        );
        // Evict's generic detector, like most, takes a value for a secret only when it mixes
        // digits and letters; a token without either (about one in a thousand) is asked again.
        for _ in 0..8 {
            let answer: Value = client
                .post(&token_endpoint)
                .basic_auth("service", Some(service_secret))
                .form(&[("grant_type", "client_credentials"), ("scope", "api")])
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let token = answer["access_token"]
                .as_str()
                .ok_or_else(|| anyhow!("oidc-provider gave no access token"))?
                .to_string();
            if token.chars().any(|c| c.is_ascii_digit())
                && token.chars().any(|c| c.is_ascii_alphabetic())
            {
                return Ok(OAuthFoothold {
                    client,
                    service_secret: service_secret.to_string(),
                    introspection,
                    token,
                    expires_in: answer["expires_in"].as_u64(),
                });
            }
        }
        bail!("oidc-provider gave no access token with both digits and letters in 8 tries")
    }

    /// RFC 7662 introspection of the token, as its own client.
    pub async fn read_back(&self) -> anyhow::Result<Value> {
        let answer: Value = self
            .client
            .post(&self.introspection)
            .basic_auth("service", Some(&self.service_secret))
            .form(&[("token", self.token.as_str())])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(json!({
            "active": answer["active"],
            "client_id": answer["client_id"],
            "scope": answer["scope"],
        }))
    }

    pub fn dead(read: &Value) -> bool {
        read["active"] == false
    }
}

// ---------------------------------------------------------------------------------------------
// SCIM (scim2-server)

/// A user the attacker provisioned through the SCIM service.
// No Debug: it holds a plaintext secret made for the run.
pub struct ScimFoothold {
    client: reqwest::Client,
    base: String,
    token: String,
    pub user_name: String,
    pub id: String,
}

impl ScimFoothold {
    pub async fn plant(base: &str, token: &str) -> anyhow::Result<ScimFoothold> {
        let client = reqwest::Client::new();
        let user_name = "mallory.contractor".to_string();
        let created: Value = client
            .post(format!("{base}/Users"))
            .bearer_auth(token)
            .header("Content-Type", "application/scim+json")
            .body(
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name,
                    "active": true,
                })
                .to_string(),
            )
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = created["id"]
            .as_str()
            .ok_or_else(|| anyhow!("scim2-server gave the new user no id"))?
            .to_string();
        Ok(ScimFoothold {
            client,
            base: base.to_string(),
            token: token.to_string(),
            user_name,
            id,
        })
    }

    /// The user as the SCIM service returns it.
    pub async fn read_back(&self) -> anyhow::Result<Value> {
        let user: Value = self
            .client
            .get(format!("{}/Users/{}", self.base, self.id))
            .bearer_auth(&self.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(json!({ "id": self.id, "userName": user["userName"], "active": user["active"] }))
    }

    pub fn dead(read: &Value) -> bool {
        read["active"] == false
    }
}
