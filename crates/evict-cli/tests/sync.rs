//! `evict sync` against real providers: the machine's PostgreSQL, moto (AWS IAM) and
//! scim2-server on loopback. What a live provider has lands in the inventory, the
//! administrator's secret comes from the environment the configuration names and is never
//! printed, a credential-report slot learns its real key id without becoming a second record,
//! and a sync that finds nothing new changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Env;
use common::aws::{create_key, create_user, iam_client, put_policy};
use evict_testkit::postgres::{admin_url, url_as};
use evict_testkit::servers::{missing, moto_check_signatures, moto_server, scim2_server};
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

const REPORT_HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,\
password_last_changed,password_next_rotation,mfa_active,access_key_1_active,\
access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,\
access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,\
access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,\
cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

fn rows_of(value: &serde_json::Value) -> &Vec<serde_json::Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_aws_gives_the_credential_reports_key_slots_their_real_key_ids() {
    let env = Env::new();
    // Its access log (a line a request) goes to a file, not the test's output.
    let moto = match moto_server(&env.path("moto_server.log")) {
        Ok(server) => server,
        Err(why) => return missing("moto_server", why),
    };
    let url = moto.base_url();

    // While moto still takes any signature: the administrator evict will sync as (an inline
    // policy allowing iam:*), and the users a credential report will describe.
    let anyone = iam_client(&url, "bootstrap", "bootstrap");
    let admin_arn = create_user(&anyone, "evict-admin").await;
    put_policy(
        &anyone,
        "evict-admin",
        "evict-sync",
        serde_json::json!([{ "Effect": "Allow", "Action": ["iam:*"], "Resource": "*" }]),
    )
    .await;
    let admin = create_key(&anyone, "evict-admin").await;
    let (admin_key, admin_secret) = (admin.id, admin.secret);
    let alice_arn = create_user(&anyone, "alice").await;
    let alice_key_1 = create_key(&anyone, "alice").await.id;
    // Distinct creation times, so the slot order (creation order) is unambiguous.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let alice_key_2 = create_key(&anyone, "alice").await.id;
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).unwrap();
    let console_password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    anyone
        .create_login_profile()
        .user_name("alice")
        .password(format!("Pw-{console_password}!"))
        .send()
        .await
        .unwrap();
    let bob_arn = create_user(&anyone, "bob").await;
    let bob_key = create_key(&anyone, "bob").await.id;
    moto_check_signatures(moto.port).unwrap();
    let iam = iam_client(&url, &admin_key, &admin_secret);
    // Since the report was taken, alice's second key was made Inactive.
    iam.update_access_key()
        .user_name("alice")
        .access_key_id(&alice_key_2)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();

    // The credential report for the same users: AWS's report names slots, never key ids.
    let account = alice_arn.split(':').nth(4).unwrap();
    let root_arn = format!("arn:aws:iam::{account}:root");
    let t = "2024-01-01T00:00:00+00:00";
    // Columns: user, arn, created, then the password (enabled, last used, last changed, next
    // rotation), mfa, key slot 1 and 2 (active, rotated, last used, region, service), and the
    // two certificate slots (active, rotated).
    let no_key = "false,N/A,N/A,N/A,N/A";
    let no_certs = "false,N/A,false,N/A";
    let report = [
        REPORT_HEADER.to_string(),
        format!(
            "<root_account>,{root_arn},{t},not_supported,N/A,not_supported,not_supported,true,\
             {no_key},{no_key},{no_certs}"
        ),
        format!(
            "evict-admin,{admin_arn},{t},false,N/A,N/A,N/A,false,\
             true,{t},N/A,N/A,N/A,{no_key},{no_certs}"
        ),
        // alice: a console password that must be rotated by 2025; key 1 last used in May 2024
        // (moto records no use, so only the report knows); key 2 still Active in the report.
        format!(
            "alice,{alice_arn},{t},true,2024-05-02T08:00:00+00:00,{t},2025-01-01T00:00:00+00:00,\
             false,true,{t},2024-05-01T10:00:00+00:00,us-east-1,iam,\
             true,2024-02-01T00:00:00+00:00,N/A,N/A,N/A,{no_certs}"
        ),
        format!(
            "bob,{bob_arn},{t},false,N/A,N/A,N/A,false,true,{t},N/A,N/A,N/A,{no_key},{no_certs}"
        ),
    ]
    .join("\n");
    let report = env.write("credential-report.csv", format!("{report}\n"));
    let imported = env.run(&["import", "aws-credential-report", report.to_str().unwrap()]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let identities = |env: &Env| {
        let run = env.run(&[
            "inventory",
            "list",
            "--identities",
            "--provider",
            "aws",
            "--format",
            "json",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        rows_of(&run.json()).clone()
    };
    let users = |rows: &[serde_json::Value]| {
        let mut arns: Vec<String> = rows
            .iter()
            .map(|r| r["external_id"].as_str().unwrap().to_string())
            .filter(|a| a.contains(":user/") || a.ends_with(":root"))
            .collect();
        arns.sort();
        arns
    };
    let before = users(&identities(&env));
    assert_eq!(before.len(), 4, "{before:?}");

    // The configuration names where the key is; a missing [aws] table says which and where to look.
    let no_table = env.write("no-aws.toml", "[limits.aws]\nconcurrency = 1\n");
    let refused = env.run(&["sync", "aws", "--config", no_table.to_str().unwrap()]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("[aws]") && refused.stderr.contains("docs/specs/connector.md"),
        "{}",
        refused.stderr
    );
    let config = env.write(
        "connectors.toml",
        format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{url}\"\n\
             access_key_id = {{ env = \"EVICT_TEST_AWS_KEY_ID\" }}\n\
             secret_access_key = {{ env = \"EVICT_TEST_AWS_SECRET\" }}\n"
        ),
    );
    let sync = || {
        let run = env.run_with(
            &[
                "sync",
                "aws",
                "--config",
                config.to_str().unwrap(),
                "--format",
                "json",
            ],
            &[
                ("EVICT_TEST_AWS_KEY_ID", admin_key.as_str()),
                ("EVICT_TEST_AWS_SECRET", admin_secret.as_str()),
            ],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            !run.stdout.contains(&admin_secret) && !run.stderr.contains(&admin_secret),
            "the administrator's secret key is never printed"
        );
        run.json()
    };
    let first = sync();
    assert_eq!(first["provider"], "aws", "{first}");
    // Four keys and one password, all in slots the report already had.
    assert_eq!(first["credentials"], 5, "{first}");
    assert_eq!(first["rejected"], 0, "{first}");

    let after = identities(&env);
    assert_eq!(
        users(&after),
        before,
        "discovery's users are the report's rows, not new ones"
    );

    let show = |key: &str| {
        let run = env.run(&["inventory", "show", key, "--format", "json"]);
        assert_eq!(run.code, 0, "{key}: {}", run.stderr);
        run.json()["credential"].clone()
    };
    let slot_1 = show(&format!("aws:{alice_arn}#access_key_1"));
    assert_eq!(slot_1["native_id"], alice_key_1.as_str(), "{slot_1}");
    assert_eq!(slot_1["status"], "active", "{slot_1}");
    // What only the report knew (moto records no use of this key) is kept.
    assert_eq!(slot_1["last_used_at"], "2024-05-01T10:00:00Z", "{slot_1}");
    assert_eq!(slot_1["last_used_from"], "us-east-1 iam", "{slot_1}");
    let slot_2 = show(&format!("aws:{alice_arn}#access_key_2"));
    assert_eq!(slot_2["native_id"], alice_key_2.as_str(), "{slot_2}");
    assert_eq!(
        slot_2["status"], "inactive",
        "the live status wins: {slot_2}"
    );
    let password = show(&format!("aws:{alice_arn}#password"));
    assert_eq!(password["native_id"], "alice", "{password}");
    assert_eq!(password["expires_at"], "2025-01-01T00:00:00Z", "{password}");
    assert_eq!(
        show(&format!("aws:{bob_arn}#access_key_1"))["native_id"],
        bob_key.as_str()
    );
    let listed = env.run(&["inventory", "list", "--provider", "aws", "--format", "json"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let listed = listed.json();
    let keyed: Vec<&serde_json::Value> = rows_of(&listed)
        .iter()
        .filter(|c| c["kind"] == "access_key")
        .collect();
    assert_eq!(keyed.len(), 4, "{keyed:?}");
    assert!(
        keyed.iter().all(|c| c["native_id"].as_str().is_some()),
        "every slot carries its key id: {keyed:?}"
    );

    // A second sync changes nothing — but the key evict signs with was just used (moto, like
    // IAM, records each use), so that key and its user may show a later last use and nothing
    // else.
    let inventory = || {
        let mut all = Vec::new();
        for extra in [&[][..], &["--identities"][..]] {
            let mut args = vec!["inventory", "list", "--provider", "aws", "--format", "json"];
            args.extend_from_slice(extra);
            let run = env.run(&args);
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert!(!run.stdout.contains(admin_secret.as_str()));
            all.extend(rows_of(&run.json()).iter().cloned());
        }
        all
    };
    let evicts_own = |row: &serde_json::Value| {
        row["external_id"] == admin_arn.as_str()
            || row["external_key"] == format!("{admin_arn}#access_key_1").as_str()
    };
    let without_own_last_use = |rows: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        rows.into_iter()
            .map(|mut row| {
                if evicts_own(&row) {
                    row.as_object_mut().unwrap().remove("last_used_at");
                }
                row
            })
            .collect()
    };
    let settled = inventory();
    let second = sync();
    assert_eq!(second["inserted"], 0, "{second}");
    assert!(second["updated"].as_u64().unwrap() <= 2, "{second}");
    assert_eq!(
        without_own_last_use(inventory()),
        without_own_last_use(settled),
        "a second sync changes nothing but the last use of evict's own key"
    );
    drop(moto);
}

/// Creates a SCIM user (RFC 7644 §3.3) with `active` as given; returns its id.
async fn create_scim_user(base_url: &str, token: &str, user_name: &str, active: bool) -> String {
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{base_url}/Users"))
        .bearer_auth(token)
        .header("Content-Type", "application/scim+json")
        .body(
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "active": active,
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    created["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_scim_brings_the_services_users_with_their_active_flag() {
    let env = Env::new();
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).unwrap();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Its access log goes to a file, not the test's output.
    let server = match scim2_server(&token, &env.path("scim2-server.log")) {
        Ok(server) => server,
        Err(why) => return missing("scim2-server (PyPI; .ci/run installs it)", why),
    };
    let base_url = format!("{}/v2", server.base_url());
    let working = create_scim_user(&base_url, &token, "working.user", true).await;
    let departed = create_scim_user(&base_url, &token, "departed.user", false).await;

    let config = env.write(
        "connectors.toml",
        format!(
            "[scim]\nbase_url = \"{base_url}\"\ntoken = {{ env = \"EVICT_TEST_SCIM_TOKEN\" }}\n"
        ),
    );
    let sync = || {
        let run = env.run_with(
            &[
                "sync",
                "scim",
                "--config",
                config.to_str().unwrap(),
                "--format",
                "json",
            ],
            &[("EVICT_TEST_SCIM_TOKEN", token.as_str())],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            !run.stdout.contains(&token) && !run.stderr.contains(&token),
            "the bearer token is never printed"
        );
        run.json()
    };
    let first = sync();
    assert_eq!(first["provider"], "scim", "{first}");
    assert_eq!(first["identities"], 2, "{first}");
    assert_eq!(first["inserted"], 2, "{first}");

    let listed = env.run(&[
        "inventory",
        "list",
        "--identities",
        "--provider",
        "scim",
        "--format",
        "json",
    ]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let listed = listed.json();
    let status_of = |id: &str| {
        rows_of(&listed)
            .iter()
            .find(|i| i["external_id"] == id)
            .map(|i| (i["name"].clone(), i["status"].clone()))
            .unwrap_or_else(|| panic!("{id} is not in the inventory: {listed}"))
    };
    assert_eq!(
        status_of(&working),
        (
            serde_json::json!("working.user"),
            serde_json::json!("active")
        )
    );
    assert_eq!(
        status_of(&departed),
        (
            serde_json::json!("departed.user"),
            serde_json::json!("disabled")
        )
    );

    let again = sync();
    assert_eq!(
        (&again["inserted"], &again["updated"]),
        (&serde_json::json!(0), &serde_json::json!(0)),
        "{again}"
    );
    drop(server);
}

#[test]
fn sync_oauth_says_there_is_nothing_to_sync_and_why() {
    let env = Env::new();
    // Before any configuration is read: there is nothing any configuration could change.
    let run = env.run(&["sync", "oauth"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing to sync") && run.stderr.contains("RFC 7009"),
        "{}",
        run.stderr
    );
    let help = env.run(&["sync", "--help"]);
    assert!(
        help.stdout.contains("aws") && help.stdout.contains("scim"),
        "{}",
        help.stdout
    );
    assert!(
        !help.stdout.contains("oauth"),
        "not offered: {}",
        help.stdout
    );
}
