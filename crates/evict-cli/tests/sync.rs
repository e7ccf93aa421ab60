//! `evict sync postgres` against the machine's real PostgreSQL: the roles a live server has
//! land in the inventory, the administrator's URL comes from the environment named in the
//! configuration, and a sync that finds nothing new changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::Env;
use evict_testkit::postgres::{admin_url, url_as};
use sqlx::{Connection, Executor, PgConnection};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_postgres_brings_the_servers_roles_into_the_inventory() {
    let url = admin_url();
    let mut su = match PgConnection::connect(&url).await {
        Ok(c) => c,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL is required under CI=true but {url} is unreachable: {e}")
        }
        Err(e) => {
            eprintln!("NOTICE: skipping: {url} unreachable: {e}");
            return;
        }
    };
    let suffix = std::process::id();
    let (admin, victim) = (
        format!("evict_sync_admin_{suffix}"),
        format!("evict_sync_victim_{suffix}"),
    );
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    for sql in [
        format!("DROP ROLE IF EXISTS {victim}"),
        format!("DROP ROLE IF EXISTS {admin}"),
        format!("CREATE ROLE {admin} LOGIN CREATEROLE PASSWORD '{password}'"),
        format!("GRANT pg_signal_backend, pg_read_all_stats TO {admin}"),
        format!("CREATE ROLE {victim} LOGIN VALID UNTIL '2031-01-01'"),
    ] {
        su.execute(sql.as_str()).await.unwrap();
    }

    let env = Env::new();
    let missing = env.run(&["sync", "postgres"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("connectors.toml") && missing.stderr.contains("--config"),
        "{}",
        missing.stderr
    );
    let config = env.write(
        "connectors.toml",
        "[postgres]\nurl = { env = \"EVICT_TEST_SYNC_URL\" }\n",
    );
    let config = config.to_str().unwrap();
    let secret = url_as(&url, &admin, &password);
    let unset = env.run(&["sync", "postgres", "--config", config]);
    assert_eq!(unset.code, 2);
    assert!(
        unset.stderr.contains("$EVICT_TEST_SYNC_URL"),
        "{}",
        unset.stderr
    );

    let sync = |args: &[&str]| {
        let mut all = vec!["sync", "postgres", "--config", config];
        all.extend_from_slice(args);
        env.run_with(&all, &[("EVICT_TEST_SYNC_URL", secret.as_str())])
    };
    let first = sync(&["--format", "json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        !first.stdout.contains(&password) && !first.stderr.contains(&password),
        "the administrator's password is never printed"
    );
    let counts = first.json();
    assert!(counts["identities"].as_u64().unwrap() >= 2, "{counts}");
    assert!(counts["inserted"].as_u64().unwrap() >= 2, "{counts}");

    let listed = env.run(&[
        "inventory",
        "list",
        "--provider",
        "postgres",
        "--format",
        "json",
    ]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let listed = listed.json();
    let text = listed.to_string();
    assert!(
        text.contains(&victim),
        "the role is in the inventory: {text}"
    );
    assert!(
        text.contains(&format!("{victim}/password")),
        "its password is a credential: {text}"
    );

    let again = sync(&["--format", "json"]).json();
    assert_eq!(again["inserted"], 0, "{again}");
    assert_eq!(again["updated"], 0, "{again}");

    for sql in [
        format!("DROP ROLE IF EXISTS {victim}"),
        format!("DROP ROLE IF EXISTS {admin}"),
    ] {
        su.execute(sql.as_str()).await.unwrap();
    }
}
