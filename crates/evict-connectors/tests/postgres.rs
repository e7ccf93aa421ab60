//! The PostgreSQL connector against the machine's real PostgreSQL (127.0.0.1:5432, or
//! `EVICT_TEST_POSTGRES_URL`), acting as a non-superuser administrator (CREATEROLE and
//! pg_signal_backend) on a role with a live session.
#![allow(clippy::unwrap_used)]

mod compliance;

use evict_connectors::postgres::Postgres;
use evict_connectors::{ConnectorError, ConnectorsConfig, Provider, Target};
use evict_model::{ActionKind, CredentialKind, EvidenceVerdict};
use evict_testkit::postgres::{admin_url, url_as};
use sqlx::{Connection, Executor, PgConnection};

/// A password made at test time: never a literal secret in the tree.
fn generated_password() -> String {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The superuser connection the test sets up with; `None` (and a notice) when there is no
/// server outside CI. Under `CI=true` a missing server fails the test.
async fn superuser() -> Option<PgConnection> {
    let url = admin_url();
    match PgConnection::connect(&url).await {
        Ok(c) => Some(c),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL is required under CI=true but {url} is unreachable: {e}")
        }
        Err(e) => {
            eprintln!("NOTICE: skipping: {url} unreachable: {e}");
            None
        }
    }
}

struct Roles {
    admin: String,
    victim: String,
    password: String,
}

/// What the connector's administrator is given: signal other roles' backends, and see their
/// sessions' details.
const FULL_ADMIN: &str = "pg_signal_backend, pg_read_all_stats";

async fn create_roles_with(su: &mut PgConnection, tag: &str, memberships: &str) -> Roles {
    let suffix = format!("{}_{tag}", std::process::id());
    let roles = Roles {
        admin: format!("evict_admin_{suffix}"),
        victim: format!("evict_victim_{suffix}"),
        password: generated_password(),
    };
    for role in [&roles.admin, &roles.victim] {
        su.execute(format!("DROP ROLE IF EXISTS {role}").as_str())
            .await
            .unwrap();
    }
    su.execute(
        format!(
            "CREATE ROLE {} LOGIN CREATEROLE PASSWORD '{}'",
            roles.admin, roles.password
        )
        .as_str(),
    )
    .await
    .unwrap();
    su.execute(format!("GRANT {memberships} TO {}", roles.admin).as_str())
        .await
        .unwrap();
    su.execute(
        format!(
            "CREATE ROLE {} LOGIN PASSWORD '{}' VALID UNTIL '2031-01-01'",
            roles.victim, roles.password
        )
        .as_str(),
    )
    .await
    .unwrap();
    roles
}

async fn drop_roles(su: &mut PgConnection, roles: &Roles) {
    for role in [&roles.victim, &roles.admin] {
        let _ = su
            .execute(
                format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
                )
                .as_str(),
            )
            .await;
        let _ = su
            .execute(format!("DROP ROLE IF EXISTS {role}").as_str())
            .await;
    }
}

/// A victim role, an administrator role with `memberships`, and the connector connected as
/// the administrator.
struct Setup {
    su: PgConnection,
    roles: Roles,
    url: String,
    pg: Postgres,
    _secrets: tempfile::TempDir,
}

async fn setup(tag: &str, memberships: &str) -> Option<Setup> {
    let mut su = superuser().await?;
    let roles = create_roles_with(&mut su, tag, memberships).await;
    let url = admin_url();
    // The administrator's URL reaches the connector as a deployment would give it: a
    // configuration naming a secrets file.
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("admin-url");
    std::fs::write(
        &secret_file,
        format!("{}\n", url_as(&url, &roles.admin, &roles.password)),
    )
    .unwrap();
    let config = ConnectorsConfig::parse(
        &format!(
            "[postgres]\nurl = {{ file = \"{}\" }}\n",
            secret_file.display()
        ),
        "test.toml",
    )
    .unwrap();
    let pg = Postgres::from_config(config.postgres.as_ref().unwrap())
        .await
        .unwrap();
    Some(Setup {
        su,
        roles,
        url,
        pg,
        _secrets: secrets,
    })
}

impl Setup {
    /// A session of the victim role, as the attacker would hold.
    async fn victim_session(&self) -> PgConnection {
        PgConnection::connect(&url_as(&self.url, &self.roles.victim, &self.roles.password))
            .await
            .unwrap()
    }

    async fn finish(mut self) {
        self.pg.close().await;
        drop_roles(&mut self.su, &self.roles).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_role_with_a_live_session_is_still_live_until_the_session_ends() {
    let Some(t) = setup("disable", FULL_ADMIN).await else {
        return;
    };
    // The attacker's session, opened before the containment.
    let mut attacker = t.victim_session().await;
    let (pg, roles) = (&t.pg, &t.roles);

    let found = pg.discover().await.unwrap();
    let victim = found
        .identities
        .iter()
        .find(|i| i.external_id == roles.victim)
        .expect("the role is discovered");
    assert_eq!(victim.status.to_string(), "active");
    let password = found
        .credentials
        .iter()
        .find(|c| {
            c.kind == CredentialKind::Password && c.native_id.as_deref() == Some(&roles.victim)
        })
        .expect("its password is a credential");
    assert_eq!(
        password.expires_at.map(|t| t.to_string()),
        Some("2031-01-01T00:00:00Z".into()),
        "VALID UNTIL is the expiry"
    );
    assert!(
        found
            .credentials
            .iter()
            .any(|c| c.kind == CredentialKind::Session && c.identity.as_ref() == Some(&victim.id)),
        "its open session is discovered: {:?}",
        found
            .credentials
            .iter()
            .filter(|c| c.kind == CredentialKind::Session)
            .collect::<Vec<_>>()
    );

    let role = Target::identity(&roles.victim);
    let acted = pg.act(&role, ActionKind::Disable).await.unwrap();
    assert!(acted.changed);
    // NOLOGIN alone: the open session still works, and the probe is not fooled.
    sqlx::query("SELECT 1")
        .execute(&mut attacker)
        .await
        .unwrap();
    let probe = pg.verify(&role, ActionKind::Disable).await.unwrap();
    assert_eq!(
        probe.verdict,
        EvidenceVerdict::StillLive,
        "{}",
        probe.detail
    );
    assert!(probe.detail.contains("sessions"), "{}", probe.detail);

    pg.act(&role, ActionKind::TerminateSessions).await.unwrap();
    let ended = pg
        .verify(&role, ActionKind::TerminateSessions)
        .await
        .unwrap();
    assert_eq!(
        ended.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        ended.detail
    );
    assert!(
        sqlx::query("SELECT 1")
            .execute(&mut attacker)
            .await
            .is_err(),
        "the attacker's session is gone"
    );
    let probe = pg.verify(&role, ActionKind::Disable).await.unwrap();
    assert_eq!(
        probe.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        probe.detail
    );
    assert!(
        probe.detail.contains("not permitted to log in"),
        "{}",
        probe.detail
    );
    let login = PgConnection::connect(&url_as(&t.url, &roles.victim, &roles.password)).await;
    assert!(login.is_err(), "a new login is refused");

    // Acting again changes nothing.
    assert!(!pg.act(&role, ActionKind::Disable).await.unwrap().changed);

    // The password: revoked, and the probe says what it can prove.
    let secret = Target::credential(CredentialKind::Password, &roles.victim);
    pg.act(&secret, ActionKind::Revoke).await.unwrap();
    let probe = pg.verify(&secret, ActionKind::Revoke).await.unwrap();
    assert_eq!(
        probe.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "a role that cannot log in has no usable password: {}",
        probe.detail
    );

    pg.act(&role, ActionKind::Delete).await.unwrap();
    let gone = pg.verify(&role, ActionKind::Delete).await.unwrap();
    assert_eq!(gone.verdict, EvidenceVerdict::VerifiedRevoked);
    match pg.act(&role, ActionKind::Disable).await {
        Err(ConnectorError::NotFound { native_id, .. }) => assert_eq!(native_id, roles.victim),
        other => panic!("acting on a dropped role: {other:?}"),
    }

    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_alone_cannot_be_proven_revoked_by_a_non_superuser() {
    let Some(t) = setup("password", FULL_ADMIN).await else {
        return;
    };
    let (pg, roles) = (&t.pg, &t.roles);
    let secret = Target::credential(CredentialKind::Password, &roles.victim);
    pg.act(&secret, ActionKind::Revoke).await.unwrap();
    let probe = pg.verify(&secret, ActionKind::Revoke).await.unwrap();
    assert_eq!(
        probe.verdict,
        EvidenceVerdict::Unverified,
        "never 'revoked' on a guess: {}",
        probe.detail
    );
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_is_ended_by_its_pid_and_superusers_are_refused() {
    let Some(t) = setup("session", FULL_ADMIN).await else {
        return;
    };
    let mut session = t.victim_session().await;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut session)
        .await
        .unwrap();
    let (pg, roles) = (&t.pg, &t.roles);
    let target = Target::credential(CredentialKind::Session, pid.to_string());
    assert_eq!(
        pg.verify(&target, ActionKind::TerminateSessions)
            .await
            .unwrap()
            .verdict,
        EvidenceVerdict::StillLive
    );
    assert!(
        pg.act(&target, ActionKind::TerminateSessions)
            .await
            .unwrap()
            .changed
    );
    assert_eq!(
        pg.verify(&target, ActionKind::TerminateSessions)
            .await
            .unwrap()
            .verdict,
        EvidenceVerdict::VerifiedRevoked
    );
    // A superuser is out of a CREATEROLE administrator's reach, and the error says why.
    match pg
        .act(&Target::identity("postgres"), ActionKind::Disable)
        .await
    {
        Err(ConnectorError::Forbidden { permission, .. }) => {
            assert!(permission.contains("CREATEROLE"), "{permission}")
        }
        other => panic!("disabling a superuser: {other:?}"),
    }
    compliance::check(pg, &Target::identity(&roles.victim)).await;
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_hidden_from_an_administrator_without_stats_still_count_as_live() {
    // Without pg_read_all_stats, PostgreSQL hides other roles' session details (even their
    // kind): the probe must still see that a session is open.
    let Some(t) = setup("nostats", "pg_signal_backend").await else {
        return;
    };
    let mut attacker = t.victim_session().await;
    let (pg, roles) = (&t.pg, &t.roles);
    let role = Target::identity(&roles.victim);
    pg.act(&role, ActionKind::Disable).await.unwrap();
    let probe = pg.verify(&role, ActionKind::Disable).await.unwrap();
    assert_eq!(
        probe.verdict,
        EvidenceVerdict::StillLive,
        "{}",
        probe.detail
    );
    pg.act(&role, ActionKind::TerminateSessions).await.unwrap();
    assert!(
        sqlx::query("SELECT 1")
            .execute(&mut attacker)
            .await
            .is_err()
    );
    let probe = pg.verify(&role, ActionKind::Disable).await.unwrap();
    assert_eq!(
        probe.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        probe.detail
    );
    t.finish().await;
}
