//! `evict incident contain` and `verify` against the machine's real PostgreSQL through the
//! PostgreSQL connector: the dry run sends nothing, execution changes exactly the planned
//! roles and journals each action once, a run killed with SIGKILL at random moments finishes
//! on the next start with nothing skipped and nothing recorded twice, and two processes on a
//! PostgreSQL store never take the same action.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Env;
use evict_testkit::postgres::{admin_url, fresh_database, url_as};
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection, Row};

/// Roles on the real server for one test: an administrator with exactly the rights the
/// connector needs, `victims` login roles with passwords, and one innocent bystander.
struct Roles {
    su: PgConnection,
    admin: String,
    admin_url: String,
    prefix: String,
    victims: Vec<String>,
    innocent: String,
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Roles {
    async fn create(tag: &str, victims: usize) -> Option<Roles> {
        let url = admin_url();
        let su = match PgConnection::connect(&url).await {
            Ok(c) => c,
            Err(e) => {
                evict_testkit::servers::missing("PostgreSQL", format!("{url}: {e}"));
                return None;
            }
        };
        let prefix = format!("evict_{tag}_{}", std::process::id());
        let mut roles = Roles {
            su,
            admin: format!("{prefix}_admin"),
            admin_url: String::new(),
            victims: (0..victims).map(|n| format!("{prefix}_v{n:04}")).collect(),
            innocent: format!("{prefix}_innocent"),
            prefix,
        };
        roles.drop_all().await;
        let password = random_hex();
        let mut sql = format!(
            "CREATE ROLE {} LOGIN CREATEROLE PASSWORD '{password}';\
             GRANT pg_signal_backend, pg_read_all_stats TO {};",
            roles.admin, roles.admin
        );
        for role in roles.victims.iter().chain([&roles.innocent]) {
            sql.push_str(&format!(
                "CREATE ROLE {role} LOGIN PASSWORD '{}';",
                random_hex()
            ));
        }
        roles.su.execute(sql.as_str()).await.unwrap();
        roles.admin_url = url_as(&url, &roles.admin, &password);
        Some(roles)
    }

    async fn drop_all(&mut self) {
        let rows = sqlx::query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1")
            .bind(format!("{}\\_%", self.prefix))
            .fetch_all(&mut self.su)
            .await
            .unwrap();
        let mut sql = String::new();
        for row in rows {
            let name: String = row.get(0);
            sql.push_str(&format!("DROP ROLE IF EXISTS {name};"));
        }
        if !sql.is_empty() {
            self.su.execute(sql.as_str()).await.unwrap();
        }
    }

    /// Which of the test's roles (but the administrator) still have a password (only a
    /// superuser can read it).
    async fn with_password(&mut self) -> Vec<String> {
        sqlx::query(
            "SELECT rolname FROM pg_authid WHERE rolname LIKE $1 AND rolname <> $2 \
             AND rolpassword IS NOT NULL ORDER BY rolname",
        )
        .bind(format!("{}\\_%", self.prefix))
        .bind(self.admin.clone())
        .fetch_all(&mut self.su)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    }
}

const SECRET_VARIABLE: &str = "EVICT_TEST_CONTAIN_URL";

/// A store with the roles synced, an incident scoping the victims, and its plan, made with a
/// policy that kills what is in scope; `store` is `EVICT_DATABASE_URL` (`None`: SQLite).
fn incident_with_plan(env: &Env, roles: &Roles, rate: u32, store: Option<&str>) -> String {
    let config = env.write(
        "connectors.toml",
        format!(
            "[postgres]\nurl = {{ env = \"{SECRET_VARIABLE}\" }}\n\n\
             [limits.postgres]\nrequests_per_second = {rate}\nconcurrency = 2\n"
        ),
    );
    let policy = env.write(
        "policy.toml",
        "recent_use_days = 30\ndefault_tier = \"validate\"\n\n[[rule]]\nname = \"in-scope\"\n\
         tier = \"kill\"\nwhy = \"The test's compromised roles.\"\nany_reason = [\"identity_in_scope\"]\n",
    );
    let mut envs = vec![(SECRET_VARIABLE, roles.admin_url.as_str())];
    envs.extend(store.map(|url| ("EVICT_DATABASE_URL", url)));
    let run = |args: &[&str]| {
        let out = env.run_with(args, &envs);
        assert_eq!(out.code, 0, "{args:?}: {}{}", out.stdout, out.stderr);
        out
    };
    run(&["sync", "postgres", "--config", config.to_str().unwrap()]);
    let mut open = vec![
        "incident".to_string(),
        "open".into(),
        "breach".into(),
        "--compromised-at".into(),
        "2026-05-01T00:00:00Z".into(),
        "--patched-at".into(),
        "2026-05-20T00:00:00Z".into(),
        "--scope".into(),
    ];
    open.extend(
        roles
            .victims
            .iter()
            .map(|v| format!("identity:postgres:{v}")),
    );
    run(&open.iter().map(String::as_str).collect::<Vec<_>>());
    run(&[
        "incident",
        "plan",
        "breach",
        "--policy",
        policy.to_str().unwrap(),
    ]);
    config.to_str().unwrap().to_string()
}

/// The journal's action entries, per action key: how many starts and how many dones.
fn journal_counts(env: &Env) -> BTreeMap<String, (usize, usize)> {
    let out = env.run(&["journal", "show", "--kind", "action.", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for entry in out.json().as_array().unwrap() {
        let body: Value = serde_json::from_str(entry["body"].as_str().unwrap()).unwrap();
        let slot = counts
            .entry(body["key"].as_str().unwrap().to_string())
            .or_default();
        match entry["kind"].as_str().unwrap() {
            "action.start" => slot.0 += 1,
            "action.done" => slot.1 += 1,
            _ => {}
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contain_sends_nothing_in_a_dry_run_then_revokes_each_planned_password_once() {
    let Some(mut roles) = Roles::create("contain", 3).await else {
        return;
    };
    let env = Env::new();
    let config = incident_with_plan(&env, &roles, 50, None);
    let admin_url = roles.admin_url.clone();
    let with_secret = [(SECRET_VARIABLE, admin_url.as_str())];
    let contain = |extra: &[&str]| {
        let mut args = vec!["incident", "contain", "breach", "--config", config.as_str()];
        args.extend_from_slice(extra);
        env.run_with(&args, &with_secret)
    };

    // The dry run names each exact request and changes nothing.
    let dry = contain(&[]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    for v in &roles.victims {
        assert!(
            dry.stdout
                .contains(&format!("ALTER ROLE \"{v}\" PASSWORD NULL")),
            "{}",
            dry.stdout
        );
    }
    assert!(dry.stdout.contains("nothing was sent"), "{}", dry.stdout);
    assert!(!dry.stdout.contains(&roles.innocent), "{}", dry.stdout);
    assert_eq!(roles.with_password().await.len(), 4);

    // Executed: exactly the victims lose their passwords; the bystander keeps its own.
    let run = contain(&["--execute", "--format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["counts"]["done"], 3, "{report}");
    assert_eq!(roles.with_password().await, vec![roles.innocent.clone()]);
    assert!(
        !run.stdout.contains(&admin_url) && !run.stderr.contains(&admin_url),
        "the administrator's URL is never printed"
    );

    // Again: nothing is sent twice.
    let again = contain(&["--execute", "--format", "json"]).json();
    assert!(
        again["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["state"] == "done" && a["attempts"] == 1),
        "{again}"
    );
    let counts = journal_counts(&env);
    assert_eq!(counts.len(), 3);
    assert!(counts.values().all(|&c| c == (1, 1)), "{counts:?}");

    // The probe cannot prove a password gone without reading pg_authid, and says so: the
    // evidence is "unverified", and the gate does not take it.
    let verify = env.run_with(
        &[
            "incident", "verify", "breach", "--config", &config, "--format", "json",
        ],
        &with_secret,
    );
    assert_eq!(verify.code, 1, "{}{}", verify.stdout, verify.stderr);
    let probed = verify.json();
    assert!(
        probed["probed"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["verdict"] == "unverified"),
        "{probed}"
    );
    let close = env.run(&["incident", "close", "breach"]);
    assert_eq!(close.code, 1, "{}", close.stdout);
    assert_eq!(env.run(&["journal", "verify"]).code, 0);
    roles.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_containment_killed_at_random_moments_finishes_with_each_action_done_once() {
    let Some(mut roles) = Roles::create("kill", 700).await else {
        return;
    };
    let env = Env::new();
    let config = incident_with_plan(&env, &roles, 20, None);
    let admin_url = roles.admin_url.clone();
    let start = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_evict"));
        cmd.env("EVICT_HOME", env.home())
            .env_remove("EVICT_DATABASE_URL")
            .env("EVICT_NOW", evict_testkit::REFERENCE_NOW)
            .env(SECRET_VARIABLE, &admin_url)
            .args([
                "incident",
                "contain",
                "breach",
                "--execute",
                "--quiet",
                "--config",
                config.as_str(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd.spawn().unwrap()
    };
    let (mut kills, mut finished) = (0, 0);
    while kills < 50 {
        let mut child = start();
        let mut byte = [0u8; 2];
        getrandom::fill(&mut byte).unwrap();
        let after = Duration::from_millis(30 + u64::from(u16::from_le_bytes(byte)) % 1200);
        let began = Instant::now();
        while began.elapsed() < after {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        } else {
            finished += 1;
        }
        child.wait().unwrap();
        assert!(
            finished == 0,
            "the plan finished after only {kills} kills; give the test more roles"
        );
    }
    let last = start().wait().unwrap();
    assert!(last.success());

    // The provider: every victim's password is gone, the bystander's is not.
    assert_eq!(roles.with_password().await, vec![roles.innocent.clone()]);
    // The store: every action done; the journal: one "done" per action, and a start for each
    // attempt (an action a killed run held is sent again, which is why acts are idempotent).
    let actions = env
        .run_with(
            &[
                "incident", "contain", "breach", "--format", "json", "--config", &config,
            ],
            &[(SECRET_VARIABLE, admin_url.as_str())],
        )
        .json();
    let actions = actions["actions"].as_array().unwrap().clone();
    assert_eq!(actions.len(), 700);
    assert!(actions.iter().all(|a| a["state"] == "done"));
    let counts = journal_counts(&env);
    assert_eq!(counts.len(), 700);
    let resent: usize = counts.values().map(|c| c.0 - 1).sum();
    assert!(counts.values().all(|c| c.1 == 1), "{counts:?}");
    for a in &actions {
        let key = a["key"].as_str().unwrap();
        assert_eq!(
            a["attempts"].as_u64().unwrap() as usize,
            counts[key].0,
            "{key}: the stored attempts match the journal's starts"
        );
    }
    eprintln!("{kills} kills; {resent} actions sent again after their holder was killed");
    assert_eq!(env.run(&["journal", "verify"]).code, 0);
    roles.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_a_postgres_store_never_take_the_same_action() {
    let Some(mut roles) = Roles::create("pair", 120).await else {
        return;
    };
    let database = format!("evict_contain_pair_{}", std::process::id());
    let store_url = match fresh_database(&database) {
        Ok(url) => url,
        Err(why) => {
            evict_testkit::servers::missing("PostgreSQL", why);
            return;
        }
    };
    let env = Env::new();
    let admin_url = roles.admin_url.clone();
    let with_store = |cmd: &mut std::process::Command| {
        cmd.env("EVICT_HOME", env.home())
            .env("EVICT_DATABASE_URL", &store_url)
            .env("EVICT_NOW", evict_testkit::REFERENCE_NOW)
            .env(SECRET_VARIABLE, &admin_url);
    };
    let config = incident_with_plan(&env, &roles, 100, Some(&store_url));
    let config = config.as_str();

    let children: Vec<_> = (0..2)
        .map(|_| {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_evict"));
            with_store(&mut cmd);
            cmd.args([
                "incident",
                "contain",
                "breach",
                "--execute",
                "--quiet",
                "--config",
                config,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(roles.with_password().await, vec![roles.innocent.clone()]);
    let entries = env
        .run_with(
            &["journal", "show", "--kind", "action.", "--format", "json"],
            &[("EVICT_DATABASE_URL", &store_url)],
        )
        .json();
    let mut starts: BTreeMap<String, usize> = BTreeMap::new();
    let mut holders = std::collections::BTreeSet::new();
    for e in entries.as_array().unwrap() {
        let body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
        if e["kind"] == "action.start" {
            *starts
                .entry(body["key"].as_str().unwrap().into())
                .or_default() += 1;
            holders.insert(body["holder"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(starts.len(), 120);
    assert!(
        starts.values().all(|&n| n == 1),
        "an action was taken twice: {starts:?}"
    );
    assert_eq!(holders.len(), 2, "both processes took work: {holders:?}");
    roles.drop_all().await;
    roles
        .su
        .execute(format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)").as_str())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_cannot_be_reached_fails_its_actions_and_the_next_run_finishes_them() {
    let Some(mut roles) = Roles::create("down", 2).await else {
        return;
    };
    let env = Env::new();
    let config = incident_with_plan(&env, &roles, 50, None);
    let admin_url = roles.admin_url.clone();
    // The same administrator, at a port nothing listens on.
    let closed = evict_testkit::servers::free_port();
    let (before, after) = admin_url.split_once("@").unwrap();
    let path = after.split_once('/').map_or("", |(_, p)| p);
    let down = format!("{before}@127.0.0.1:{closed}/{path}");
    let contain = |url: &str| {
        env.run_with(
            &[
                "incident",
                "contain",
                "breach",
                "--execute",
                "--config",
                &config,
                "--format",
                "json",
            ],
            &[(SECRET_VARIABLE, url)],
        )
    };

    let failed = contain(&down);
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    let report = failed.json();
    assert_eq!(report["counts"]["failed"], 2, "{report}");
    for a in report["actions"].as_array().unwrap() {
        let result = a["result"].as_str().unwrap();
        assert!(
            result.contains("gave up after 5 attempts") && result.contains("cannot reach postgres"),
            "{result}"
        );
        assert_eq!(a["attempts"], 5, "{a}");
    }
    assert!(!failed.stdout.contains(&admin_url) && !failed.stderr.contains(&admin_url));
    assert_eq!(roles.with_password().await.len(), 3, "nothing changed");

    // Back up: the next run takes up exactly the failed actions and finishes them.
    let done = contain(&admin_url);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(done.json()["counts"]["done"], 2);
    assert_eq!(roles.with_password().await, vec![roles.innocent.clone()]);
    let counts = journal_counts(&env);
    assert!(
        counts
            .values()
            .all(|&(starts, dones)| starts == 6 && dones == 1),
        "{counts:?}"
    );
    roles.drop_all().await;
}
