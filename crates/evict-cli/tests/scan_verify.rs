//! `evict scan --verify` end to end, against real issuers the test starts or owns: a moto
//! server (IAM/STS, authentication on) that issued one live AWS key pair and one it then
//! deleted, and the machine's PostgreSQL with a role that logs in, one dropped and one
//! `NOLOGIN`. The leaked copies are written into a temporary tree at run time (the
//! repository itself holds no credential), and the scan must mark exactly those live and
//! dead, leave every provider not opted in unknown, and never print or store a secret.
#![allow(clippy::unwrap_used)] // tests fail loudly at the line that broke

mod common;

use std::process::Command as Process;

use evict_testkit::servers::{ServerProcess, missing, moto_check_signatures, moto_server};
use serde_json::Value;
use sqlx::{Connection, Row};

use common::Env;
use common::aws::{Key, REGION, iam_client, put_policy};

/// Random hex made at test time: names and passwords, never a literal secret in the tree.
fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).unwrap();
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key of `user` whose id the scanner's AWS rules recognise (`AKIA` + 16 base-32
/// characters, as AWS issues them; moto's random tail sometimes holds a 0, 1, 8 or 9).
async fn create_key(iam: &aws_sdk_iam::Client, user: &str) -> Key {
    for _ in 0..40 {
        let key = iam
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .unwrap()
            .access_key
            .unwrap();
        let base32 = key.access_key_id[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
        if key.access_key_id.len() == 20 && base32 {
            return Key {
                id: key.access_key_id,
                secret: key.secret_access_key,
            };
        }
        iam.delete_access_key()
            .user_name(user)
            .access_key_id(&key.access_key_id)
            .send()
            .await
            .unwrap();
    }
    panic!("moto issued no AWS-shaped key id in 40 tries");
}

/// Moto with a live key and a deleted one of user `leaky`; `None` outside CI without moto.
fn moto() -> Option<(ServerProcess, Key, Key)> {
    // Its access log goes to a file (kept open by moto after the folder goes).
    let logs = tempfile::tempdir().unwrap();
    let server = match moto_server(&logs.path().join("moto_server.log")) {
        Ok(server) => server,
        Err(why) => {
            missing("moto_server", why);
            return None;
        }
    };
    let port = server.port;
    let url = server.base_url();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (live, dead) = runtime.block_on(async {
        // Before authentication is switched on, moto takes any signature.
        let iam = iam_client(&url, "bootstrap", "bootstrap");
        iam.create_user().user_name("leaky").send().await.unwrap();
        put_policy(
            &iam,
            "leaky",
            "whoami",
            serde_json::json!([
                { "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*" }
            ]),
        )
        .await;
        let dead = create_key(&iam, "leaky").await;
        iam.delete_access_key()
            .user_name("leaky")
            .access_key_id(&dead.id)
            .send()
            .await
            .unwrap();
        let live = create_key(&iam, "leaky").await;
        (live, dead)
    });
    moto_check_signatures(port).unwrap();
    Some((server, live, dead))
}

/// Runs SQL on the test server as its administrator.
fn psql(sql: &str) -> Result<(), String> {
    let out = Process::new("psql")
        .args([
            evict_testkit::postgres::admin_url().as_str(),
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Roles the test made, dropped when it ends however it ends.
struct Roles(Vec<String>);

impl Drop for Roles {
    fn drop(&mut self) {
        for role in &self.0 {
            let _ = psql(&format!("DROP ROLE IF EXISTS {role}"));
        }
    }
}

struct Planted {
    tree: std::path::PathBuf,
    secrets: Vec<String>,
    live_key: String,
    dead_key: String,
    live_role: String,
    dropped_role: String,
    nologin_role: String,
    _roles: Roles,
}

/// The leaked copies, in a tree assembled now; `None` outside CI without PostgreSQL.
fn plant(env: &Env, live: &Key, dead: &Key) -> Option<Planted> {
    let suffix = random_hex(4);
    let (live_role, dropped_role, nologin_role) = (
        format!("evict_sv_live_{suffix}"),
        format!("evict_sv_dropped_{suffix}"),
        format!("evict_sv_nologin_{suffix}"),
    );
    let passwords: Vec<String> = (0..3).map(|_| format!("Pw{}x", random_hex(10))).collect();
    let roles = Roles(vec![live_role.clone(), nologin_role.clone()]);
    let made = psql(&format!(
        "CREATE ROLE {live_role} LOGIN PASSWORD '{}'; \
         CREATE ROLE {dropped_role} LOGIN PASSWORD '{}'; DROP ROLE {dropped_role}; \
         CREATE ROLE {nologin_role} NOLOGIN PASSWORD '{}'",
        passwords[0], passwords[1], passwords[2]
    ));
    if let Err(why) = made {
        missing("PostgreSQL on 127.0.0.1:5432 with psql", why);
        return None;
    }
    let admin = evict_testkit::postgres::admin_url();
    let url = |role: &str, password: &str| {
        evict_testkit::postgres::url_as(&admin, role, password)
            .replace("postgres://", "postgresql://")
    };
    let tree = env.path("leaks");
    let write = |name: &str, text: String| {
        let path = tree.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    for (folder, key) in [("live", live), ("dead", dead)] {
        write(
            &format!("{folder}/aws-credentials"),
            format!(
                "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                key.id, key.secret
            ),
        );
    }
    write(
        "app/live.env",
        format!("DATABASE_URL={}\n", url(&live_role, &passwords[0])),
    );
    write(
        "app/dropped.env",
        format!("DATABASE_URL={}\n", url(&dropped_role, &passwords[1])),
    );
    write(
        "app/nologin.env",
        format!("DATABASE_URL={}\n", url(&nologin_role, &passwords[2])),
    );
    let mut secrets = vec![live.secret.clone(), dead.secret.clone()];
    secrets.extend(passwords);
    Some(Planted {
        tree,
        secrets,
        live_key: live.id.clone(),
        dead_key: dead.id.clone(),
        live_role,
        dropped_role,
        nologin_role,
        _roles: roles,
    })
}

fn liveness_of<'a>(report: &'a Value, what: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["native_id"].as_str() == Some(what)
                || f["locations"][0]["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(what))
        })
        .unwrap_or_else(|| panic!("no finding for {what}: {report:#}"))
}

fn assert_no_secret(planted: &Planted, what: &str, text: &str) {
    for secret in &planted.secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a planted secret appears in {what}"
        );
    }
}

#[test]
fn scan_verify_marks_live_and_dead_secrets_and_never_shows_them() {
    let Some((moto, live, dead)) = moto() else {
        return;
    };
    let env = Env::new();
    let Some(planted) = plant(&env, &live, &dead) else {
        return;
    };
    let tree = planted.tree.to_str().unwrap();
    let config = env.write(
        "connectors.toml",
        format!(
            "[verify]\nproviders = [\"aws\", \"postgres\"]\n\n\
             [verify.aws]\nregion = \"{REGION}\"\nendpoint_url = \"{}\"\n\n\
             [limits.aws]\nrequests_per_second = 5\nconcurrency = 2\n",
            moto.base_url()
        ),
    );
    let config = config.to_str().unwrap();

    let run = env.run(&[
        "scan", tree, "--format", "json", "--verify", "--config", config, "--store",
    ]);
    assert_eq!(run.code, 1, "findings exit 1: {}", run.stderr);
    assert_no_secret(&planted, "the JSON report", &run.stdout);
    assert_no_secret(&planted, "stderr", &run.stderr);
    let report = run.json();
    let state = |what: &str| {
        let l = &liveness_of(&report, what)["liveness"];
        (
            l["state"].as_str().unwrap().to_string(),
            l["reason"].as_str().unwrap().to_string(),
        )
    };
    let (s, why) = state(&planted.live_key);
    assert_eq!(s, "live", "{why}");
    assert!(
        why.contains("GetCallerIdentity") && why.contains("leaky"),
        "{why}"
    );
    let (s, why) = state(&planted.dead_key);
    assert_eq!(s, "dead", "{why}");
    assert!(why.contains("InvalidClientTokenId"), "{why}");
    let (s, why) = state("app/live.env");
    assert_eq!(s, "live", "{why}");
    assert!(
        why.contains(&planted.live_role) && why.contains("no statement"),
        "{why}"
    );
    let (s, why) = state("app/dropped.env");
    assert_eq!(s, "dead", "{why}");
    assert!(
        why.contains(&planted.dropped_role) && why.contains("does not exist"),
        "{why}"
    );
    let (s, why) = state("app/nologin.env");
    assert_eq!(s, "dead", "{why}");
    assert!(
        why.contains(&planted.nologin_role) && why.contains("not permitted to log in"),
        "{why}"
    );
    assert_eq!(
        report["findings"].as_array().unwrap().len(),
        5,
        "{report:#}"
    );
    assert!(
        run.stderr.contains("liveness: 2 live, 3 dead, 0 unknown"),
        "{}",
        run.stderr
    );

    // The store keeps each answer, never the secret.
    let db = env.home().join("evict.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stored: Vec<(String, String)> = runtime.block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let rows = sqlx::query(
            "SELECT c.native_id, l.liveness FROM secret_liveness l \
             JOIN credentials c ON c.id = l.credential_id ORDER BY l.liveness",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        rows.iter()
            .map(|r| {
                (
                    r.try_get::<Option<String>, _>(0)
                        .unwrap()
                        .unwrap_or_default(),
                    r.try_get::<String, _>(1).unwrap(),
                )
            })
            .collect()
    });
    assert_eq!(stored.len(), 5, "{stored:?}");
    assert!(
        stored.contains(&(planted.live_key.clone(), "live".into())),
        "{stored:?}"
    );
    assert!(
        stored.contains(&(planted.dead_key.clone(), "dead".into())),
        "{stored:?}"
    );
    for file in ["evict.db", "evict.db-wal"] {
        if let Ok(bytes) = std::fs::read(env.home().join(file)) {
            assert_no_secret(&planted, file, &String::from_utf8_lossy(&bytes));
        }
    }

    // Table and SARIF carry it too.
    let table = env.run(&["scan", tree, "--verify", "--config", config]);
    assert_no_secret(&planted, "the table", &table.stdout);
    assert_no_secret(&planted, "stderr", &table.stderr);
    assert!(table.stdout.contains("liveness"), "{}", table.stdout);
    assert!(
        table.stdout.contains("dead (sts:GetCallerIdentity"),
        "{}",
        table.stdout
    );
    let sarif = env.run(&[
        "scan", tree, "--format", "sarif", "--verify", "--config", config,
    ]);
    assert_no_secret(&planted, "SARIF", &sarif.stdout);
    let sarif = sarif.json();
    let states: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["properties"]["liveness"].as_str().unwrap())
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "live").count(),
        2,
        "{states:?}"
    );
    assert_eq!(
        states.iter().filter(|s| **s == "dead").count(),
        3,
        "{states:?}"
    );
}

#[test]
fn without_an_opt_in_nothing_is_sent_and_everything_is_unknown() {
    let Some((moto, live, dead)) = moto() else {
        return;
    };
    let env = Env::new();
    let Some(planted) = plant(&env, &live, &dead) else {
        return;
    };
    let tree = planted.tree.to_str().unwrap();
    // The endpoint is there, but no provider is opted in.
    let config = env.write(
        "connectors.toml",
        format!(
            "[verify]\nproviders = []\n\n[verify.aws]\nendpoint_url = \"{}\"\n",
            moto.base_url()
        ),
    );
    let run = env.run(&[
        "scan",
        tree,
        "--format",
        "json",
        "--verify",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_no_secret(&planted, "the JSON report", &run.stdout);
    assert_no_secret(&planted, "stderr", &run.stderr);
    assert!(
        run.stderr.contains("no provider is opted in"),
        "{}",
        run.stderr
    );
    let report = run.json();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 5);
    for finding in findings {
        assert_eq!(finding["liveness"]["state"], "unknown", "{finding:#}");
        assert_eq!(finding["liveness"]["reason"], "not opted in", "{finding:#}");
    }
    // Only AWS opted in: the PostgreSQL URLs stay unknown, the keys are asked.
    let aws_only = env.write(
        "aws-only.toml",
        format!(
            "[verify]\nproviders = [\"aws\"]\n\n[verify.aws]\nendpoint_url = \"{}\"\n",
            moto.base_url()
        ),
    );
    let run = env.run(&[
        "scan",
        tree,
        "--format",
        "json",
        "--verify",
        "--config",
        aws_only.to_str().unwrap(),
    ]);
    let report = run.json();
    assert_eq!(
        liveness_of(&report, &planted.live_key)["liveness"]["state"],
        "live"
    );
    assert_eq!(
        liveness_of(&report, "app/live.env")["liveness"]["reason"],
        "not opted in"
    );
    // Without --verify, no liveness at all.
    let plain = env.run(&["scan", tree, "--format", "json"]);
    assert!(
        plain.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.get("liveness").is_none())
    );
}
