//! `evict incident contain`, `verify` and `close` against AWS IAM through the `evict` binary:
//! a moto server that checks every signature and every caller's IAM policy, an attacker who
//! used a stolen deploy key to make an IAM user with its own access key and console password,
//! and a bystander whose key nothing may touch. The test reads moto's state back with its own
//! IAM client after each step; the exit codes and the JSON are checked too, but are never the
//! only proof.
//!
//! The foothold is known to be the attacker's from the audit log: `evict hunt` over the
//! CloudTrail records of what the stolen key did (used from the attacker's address, it made
//! the user, its key and its login profile during the window), with `evict sync aws` giving
//! the inventory the real key ids those records name.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::aws::{Key, create_key, create_user, iam_client, put_policy};
use common::{Env, Run};
use evict_testkit::servers::{ServerProcess, missing, moto_check_signatures, moto_server};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// Where the attacker came from.
const ATTACKER_IP: &str = "203.0.113.66";
/// The configuration names this variable for the key id, and this one's `_FILE` twin for the
/// file holding the secret (the container-secrets convention).
const KEY_ID_VARIABLE: &str = "EVICT_TEST_AWS_KEY_ID";
const SECRET_VARIABLE: &str = "EVICT_TEST_AWS_SECRET";

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).unwrap();
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Gives `user` a console password (a login profile) made at test time.
async fn set_console_password(iam: &aws_sdk_iam::Client, user: &str) {
    iam.create_login_profile()
        .user_name(user)
        .password(format!("Pw-{}!", random_hex(12)))
        .send()
        .await
        .unwrap();
}

/// Whole seconds, as CloudTrail writes times.
fn second(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap()
}

/// An AWS account after the breach, on a moto server that checks signatures and policies.
struct Breach {
    _moto: ServerProcess,
    /// The responder's own eyes: an IAM client signing as `evict-admin`.
    iam: aws_sdk_iam::Client,
    /// Evict's adequate credentials: `evict-admin`, allowed `iam:*`.
    admin: Key,
    /// Credentials allowed `iam:*` except one action each, by that action.
    lacking: BTreeMap<String, Key>,
    /// `ci-deploy`'s access key, which the attacker stole.
    stolen: Key,
    /// The access key the attacker made for its user `backdoor`.
    backdoor: Key,
    /// `alice`'s access key: she has nothing to do with the breach.
    alice: Key,
    compromised_at: Timestamp,
    patched_at: Timestamp,
    /// The clock evict runs with: just after the patch.
    now: Timestamp,
    config: String,
}

/// One CloudTrail record of a call made with `ci-deploy`'s key from `ip`.
fn record(
    account: &str,
    at: Timestamp,
    (source, name): (&str, &str),
    key: &str,
    ip: &str,
    request: Value,
    response: Value,
) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEVICTTESTCIDEPLOY",
            "arn": format!("arn:aws:iam::{account}:user/ci-deploy"),
            "accountId": account,
            "accessKeyId": key,
            "userName": "ci-deploy",
        },
        "eventTime": second(at).to_string(),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request,
        "responseElements": response,
        "eventID": random_hex(16),
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    })
}

/// Starts moto and stages the breach: evict's administrator (and, for each action in
/// `lacking`, a user allowed everything but it), `ci-deploy` with IAM rights and the key the
/// attacker stole, `alice` with a key and a console password, then — signing with the stolen
/// key — the attacker's user `backdoor` with an Active key and a login profile. CloudTrail's
/// records of the attacker's calls are written to `cloudtrail/`.
async fn breach(env: &Env, lacking: &[&str]) -> Option<Breach> {
    let moto = match moto_server(&env.path("moto_server.log")) {
        Ok(server) => server,
        Err(why) => {
            missing("moto_server", why);
            return None;
        }
    };
    let url = moto.base_url();
    let compromised_at = second(Timestamp::now()) - SignedDuration::from_secs(60);

    // While moto takes any signature: the account as it was before the breach.
    let anyone = iam_client(&url, "bootstrap", "bootstrap");
    let everything = json!([{ "Effect": "Allow", "Action": ["iam:*"], "Resource": "*" }]);
    create_user(&anyone, "evict-admin").await;
    put_policy(&anyone, "evict-admin", "evict", everything.clone()).await;
    let admin = create_key(&anyone, "evict-admin").await;
    let mut lacking_keys = BTreeMap::new();
    for action in lacking {
        let user = format!("evict-without-{}", action.trim_start_matches("iam:"));
        create_user(&anyone, &user).await;
        put_policy(
            &anyone,
            &user,
            "evict",
            json!([
                { "Effect": "Allow", "Action": ["iam:*"], "Resource": "*" },
                { "Effect": "Deny", "Action": [action], "Resource": "*" },
            ]),
        )
        .await;
        lacking_keys.insert(action.to_string(), create_key(&anyone, &user).await);
    }
    let ci_arn = create_user(&anyone, "ci-deploy").await;
    put_policy(&anyone, "ci-deploy", "deploy", everything).await;
    let stolen = create_key(&anyone, "ci-deploy").await;
    create_user(&anyone, "alice").await;
    let alice = create_key(&anyone, "alice").await;
    set_console_password(&anyone, "alice").await;
    moto_check_signatures(moto.port).unwrap();

    // The attacker, with the stolen key: a user of its own, with a key and a console password.
    let attacker = iam_client(&url, &stolen.id, &stolen.secret);
    let attacked_at = Timestamp::now();
    create_user(&attacker, "backdoor").await;
    let backdoor = create_key(&attacker, "backdoor").await;
    set_console_password(&attacker, "backdoor").await;
    let patched_at = second(Timestamp::now()) + SignedDuration::from_secs(2);
    let now = patched_at + SignedDuration::from_secs(1);

    let account = ci_arn.split(':').nth(4).unwrap().to_string();
    let iam_call = |name| ("iam.amazonaws.com", name);
    let by_attacker = |name, request, response| {
        record(
            &account,
            attacked_at,
            iam_call(name),
            &stolen.id,
            ATTACKER_IP,
            request,
            response,
        )
    };
    let records = [
        record(
            &account,
            attacked_at,
            ("sts.amazonaws.com", "GetCallerIdentity"),
            &stolen.id,
            ATTACKER_IP,
            Value::Null,
            Value::Null,
        ),
        by_attacker(
            "CreateUser",
            json!({ "userName": "backdoor" }),
            json!({ "user": { "userName": "backdoor",
                              "arn": format!("arn:aws:iam::{account}:user/backdoor") } }),
        ),
        by_attacker(
            "CreateAccessKey",
            json!({ "userName": "backdoor" }),
            json!({ "accessKey": { "userName": "backdoor", "accessKeyId": backdoor.id,
                                   "status": "Active" } }),
        ),
        by_attacker(
            "CreateLoginProfile",
            json!({ "userName": "backdoor", "passwordResetRequired": false }),
            json!({ "loginProfile": { "userName": "backdoor" } }),
        ),
        // The deploy pipeline's own use of the key, from its usual address, before the breach.
        record(
            &account,
            compromised_at - SignedDuration::from_hours(1),
            iam_call("ListUsers"),
            &stolen.id,
            "198.51.100.20",
            Value::Null,
            Value::Null,
        ),
    ];
    let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
    env.write("cloudtrail/trail.jsonl", lines);

    let config = env.write(
        "connectors.toml",
        format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{url}\"\n\
             access_key_id = {{ env = \"{KEY_ID_VARIABLE}\" }}\n\
             secret_access_key = {{ env = \"{SECRET_VARIABLE}\" }}\n\
             propagation_delay_seconds = 0\n"
        ),
    );
    Some(Breach {
        iam: iam_client(&url, &admin.id, &admin.secret),
        _moto: moto,
        admin,
        lacking: lacking_keys,
        stolen,
        backdoor,
        alice,
        compromised_at,
        patched_at,
        now,
        config: config.to_str().unwrap().to_string(),
    })
}

impl Breach {
    /// Runs `evict` at the breach's clock, signing with `key`: its id in the environment, its
    /// secret in a file the environment names.
    fn evict(&self, env: &Env, key: &Key, args: &[&str]) -> Run {
        let secret_file = env.write(&format!("secrets/{}", key.id), format!("{}\n", key.secret));
        let now = self.now.to_string();
        let run = env.run_with(
            args,
            &[
                ("EVICT_NOW", now.as_str()),
                (KEY_ID_VARIABLE, key.id.as_str()),
                (
                    &format!("{SECRET_VARIABLE}_FILE"),
                    secret_file.to_str().unwrap(),
                ),
            ],
        );
        for secret in [&self.admin.secret, &key.secret, &self.backdoor.secret] {
            assert!(
                !run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()),
                "{args:?} printed a secret key"
            );
        }
        run
    }

    /// `evict incident …` with the configuration, in JSON.
    fn incident(&self, env: &Env, key: &Key, args: &[&str]) -> Run {
        let mut all = vec!["incident"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", &self.config, "--format", "json"]);
        self.evict(env, key, &all)
    }

    /// Sync, hunt, open the incident and plan it; returns the plan.
    fn plan(&self, env: &Env) -> Value {
        let ok = |run: Run, what: &str| {
            assert_eq!(run.code, 0, "{what}: {}{}", run.stdout, run.stderr);
            run
        };
        let synced = ok(
            self.evict(
                env,
                &self.admin,
                &["sync", "aws", "--config", &self.config, "--format", "json"],
            ),
            "sync",
        );
        assert_eq!(synced.json()["rejected"], 0, "{}", synced.stdout);
        // The inventory now has the foothold's key by its real id.
        let listed = ok(
            self.evict(
                env,
                &self.admin,
                &["inventory", "list", "--provider", "aws", "--format", "json"],
            ),
            "inventory",
        )
        .json();
        let key = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["native_id"] == self.backdoor.id.as_str())
            .unwrap_or_else(|| panic!("the attacker's key is not in the inventory: {listed}"));
        assert_eq!(key["status"], "active", "{key}");

        let (compromised, patched) = (self.compromised_at.to_string(), self.patched_at.to_string());
        let hunt = self.evict(
            env,
            &self.admin,
            &[
                "hunt",
                env.path("cloudtrail").to_str().unwrap(),
                "--no-sigmahq",
                "--ioc-ip",
                ATTACKER_IP,
                "--compromised-at",
                &compromised,
                "--patched-at",
                &patched,
                "--store",
                "--format",
                "json",
            ],
        );
        assert_eq!(hunt.code, 1, "hits: {}{}", hunt.stdout, hunt.stderr);
        ok(
            self.evict(
                env,
                &self.admin,
                &[
                    "incident",
                    "open",
                    "breach",
                    "--compromised-at",
                    &compromised,
                    "--patched-at",
                    &patched,
                    "--ioc-ip",
                    ATTACKER_IP,
                ],
            ),
            "open",
        );
        ok(
            self.evict(
                env,
                &self.admin,
                &["incident", "plan", "breach", "--format", "json"],
            ),
            "plan",
        )
        .json()["plan"]
            .clone()
    }

    async fn key_status(&self, user: &str, key: &Key) -> Option<String> {
        let listed = self.iam.list_access_keys().user_name(user).send().await;
        let Ok(listed) = listed else {
            return None;
        };
        listed
            .access_key_metadata()
            .iter()
            .find(|k| k.access_key_id() == Some(key.id.as_str()))
            .and_then(|k| k.status())
            .map(|s| s.as_str().to_string())
    }

    async fn has_login_profile(&self, user: &str) -> bool {
        self.iam
            .get_login_profile()
            .user_name(user)
            .send()
            .await
            .is_ok()
    }

    async fn user_exists(&self, user: &str) -> bool {
        self.iam.get_user().user_name(user).send().await.is_ok()
    }

    /// Nothing of the breach's bystanders changed: alice's key and console password, evict's
    /// own key.
    async fn bystanders_untouched(&self) {
        assert_eq!(
            self.key_status("alice", &self.alice).await.as_deref(),
            Some("Active")
        );
        assert!(self.has_login_profile("alice").await);
        assert_eq!(
            self.key_status("evict-admin", &self.admin).await.as_deref(),
            Some("Active")
        );
    }
}

/// The plan's steps as (kind, label, action, number of steps it waits for).
fn steps(plan: &Value) -> Vec<(String, String, String, usize)> {
    let mut steps: Vec<_> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_string(),
                s["label"].as_str().unwrap().to_string(),
                s["action"].as_str().unwrap().to_string(),
                s["after"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    steps.sort();
    steps
}

/// A contain report's actions by (target kind, target, action): (state, result).
fn actions(report: &Value) -> BTreeMap<(String, String, String), (String, String)> {
    report["actions"]
        .as_array()
        .unwrap_or_else(|| panic!("no actions: {report}"))
        .iter()
        .map(|a| {
            (
                (
                    a["target_kind"].as_str().unwrap().to_string(),
                    a["target"].as_str().unwrap().to_string(),
                    a["action"].as_str().unwrap().to_string(),
                ),
                (
                    a["state"].as_str().unwrap().to_string(),
                    a["result"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

fn action(kind: &str, target: &str, action: &str) -> (String, String, String) {
    (kind.into(), target.into(), action.into())
}

/// How many times the journal says each action was sent, by its key.
fn starts(b: &Breach, env: &Env) -> BTreeMap<String, usize> {
    let shown = b.evict(
        env,
        &b.admin,
        &[
            "journal",
            "show",
            "--subject",
            "breach",
            "--kind",
            "action.",
            "--format",
            "json",
        ],
    );
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let mut counts = BTreeMap::new();
    for entry in shown.json().as_array().unwrap() {
        if entry["kind"] == "action.start" {
            let body: Value = serde_json::from_str(entry["body"].as_str().unwrap()).unwrap();
            *counts
                .entry(body["key"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    counts
}

/// The keys of the actions in `state` in a contain report.
fn keys_in(report: &Value, state: &str) -> Vec<String> {
    let mut keys: Vec<String> = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == state)
        .map(|a| a["key"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

/// The actions the journal shows sent since `before` (an earlier [`starts`]).
fn sent_since(b: &Breach, env: &Env, before: &BTreeMap<String, usize>) -> Vec<String> {
    starts(b, env)
        .into_iter()
        .filter(|(k, n)| before.get(k) != Some(n))
        .map(|(k, _)| k)
        .collect()
}

/// The probes' verdicts by target.
fn verdicts(verified: &Value) -> BTreeMap<String, String> {
    verified["probed"]
        .as_array()
        .unwrap_or_else(|| panic!("nothing probed: {verified}"))
        .iter()
        .map(|p| {
            (
                format!(
                    "{} {}",
                    p["action"].as_str().unwrap(),
                    p["target"].as_str().unwrap()
                ),
                p["verdict"].as_str().unwrap_or("none").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attackers_user_is_disabled_verified_then_deleted_and_the_incident_closes() {
    let env = Env::new();
    let Some(b) = breach(&env, &[]).await else {
        return;
    };
    let (bd, stolen) = (b.backdoor.id.as_str(), b.stolen.id.as_str());

    // The plan: the attacker's user, key and password disabled, and deleted after the disable
    // is verified; the stolen deploy key disabled but, being legitimate, not deleted.
    let plan = b.plan(&env);
    let s = |kind: &str, label: &str, act: &str, after: usize| {
        (kind.to_string(), label.to_string(), act.to_string(), after)
    };
    let mut expected = vec![
        s("access_key", bd, "disable", 0),
        s("access_key", bd, "delete", 1),
        s("access_key", stolen, "disable", 0),
        s("identity", "backdoor", "disable", 0),
        s("identity", "backdoor", "delete", 1),
        s("password", "backdoor", "disable", 0),
        s("password", "backdoor", "delete", 1),
    ];
    expected.sort();
    assert_eq!(steps(&plan), expected, "{plan}");
    assert!(!plan.to_string().contains(&b.alice.id), "{plan}");

    // The dry run sends nothing.
    let dry = b.incident(&env, &b.admin, &["contain", "breach"]);
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    assert_eq!(dry.json()["execute"], false);
    assert_eq!(
        b.key_status("backdoor", &b.backdoor).await.as_deref(),
        Some("Active")
    );

    // Executed: every disable is done and read back from IAM; the deletions wait.
    let first = b.incident(&env, &b.admin, &["contain", "breach", "--execute"]);
    assert_eq!(
        first.code, 1,
        "deletions wait: {}{}",
        first.stdout, first.stderr
    );
    let report = first.json();
    let acts = actions(&report);
    for (key, state) in [
        (action("access_key", bd, "disable"), "done"),
        (action("access_key", stolen, "disable"), "done"),
        // A console password is not set aside but removed: the disable is IAM's delete.
        (action("password", "backdoor", "delete"), "done"),
        (
            action("identity", &waiting_user(&report), "disable"),
            "done",
        ),
        (action("access_key", bd, "delete"), "planned"),
        (
            action("identity", &waiting_user(&report), "delete"),
            "planned",
        ),
    ] {
        assert_eq!(
            acts.get(&key).map(|(s, _)| s.as_str()),
            Some(state),
            "{key:?}: {report}"
        );
    }
    assert_eq!(acts.len(), 6, "{report}");
    assert!(
        report["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["state"] == "planned")
            .all(|a| a["waiting_for"]
                .as_str()
                .is_some_and(|w| w.contains("evict incident verify breach"))),
        "{report}"
    );
    assert_eq!(
        b.key_status("backdoor", &b.backdoor).await.as_deref(),
        Some("Inactive")
    );
    assert_eq!(
        b.key_status("ci-deploy", &b.stolen).await.as_deref(),
        Some("Inactive")
    );
    assert!(!b.has_login_profile("backdoor").await);
    assert!(
        b.user_exists("backdoor").await,
        "not deleted before the verification"
    );
    b.bystanders_untouched().await;

    // Nothing is verified yet: the incident may not close.
    let refused = b.evict(&env, &b.admin, &["incident", "close", "breach"]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stdout.contains("NOT closed"), "{}", refused.stdout);

    // Verified in another process: each disable is read back; the deletions are not done.
    let verified = b.incident(&env, &b.admin, &["verify", "breach"]);
    assert_eq!(verified.code, 1, "{}{}", verified.stdout, verified.stderr);
    let seen = verified.json();
    let v = verdicts(&seen);
    assert_eq!(v.len(), 4, "{seen}");
    assert!(v.values().all(|v| v == "verified_revoked"), "{seen}");
    assert_eq!(seen["not_done"].as_array().unwrap().len(), 2, "{seen}");

    // The foothold is disabled but still there: the plan's deletions are not done, and the
    // incident does not close on the disable's evidence alone.
    let early = b.evict(&env, &b.admin, &["incident", "close", "breach"]);
    assert_eq!(early.code, 1, "{}{}", early.stdout, early.stderr);
    assert!(
        early
            .stdout
            .contains("the deletion the plan makes after the disable is not done (planned)"),
        "{}",
        early.stdout
    );

    // Contained again: the verified disables let the deletions run.
    let second = b.incident(&env, &b.admin, &["contain", "breach", "--execute"]);
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    let report = second.json();
    assert_eq!(report["counts"]["done"], 6, "{report}");
    assert!(
        !b.user_exists("backdoor").await,
        "the attacker's user is gone"
    );
    assert_eq!(b.key_status("backdoor", &b.backdoor).await, None);
    assert_eq!(
        b.key_status("ci-deploy", &b.stolen).await.as_deref(),
        Some("Inactive"),
        "the stolen legitimate key is disabled, not deleted"
    );
    assert!(b.user_exists("ci-deploy").await);
    b.bystanders_untouched().await;

    let verified = b.incident(&env, &b.admin, &["verify", "breach"]);
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
    let seen = verified.json();
    let v = verdicts(&seen);
    assert!(v.values().all(|v| v == "verified_revoked"), "{seen}");
    assert!(v.contains_key(&format!("delete {bd}")), "{seen}");

    let closed = b.evict(&env, &b.admin, &["incident", "close", "breach"]);
    assert_eq!(closed.code, 0, "{}{}", closed.stdout, closed.stderr);

    // Each action was sent once.
    let sent = starts(&b, &env);
    assert_eq!(sent.len(), 6, "{sent:?}");
    assert!(sent.values().all(|&n| n == 1), "{sent:?}");
    b.bystanders_untouched().await;
}

/// The target the connector names the attacker's user by (its ARN, as discovery has it).
fn waiting_user(report: &Value) -> String {
    report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["target_kind"] == "identity")
        .and_then(|a| a["target"].as_str())
        .unwrap_or_else(|| panic!("no identity action: {report}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_fails_only_what_needs_it_and_a_later_run_finishes_the_rest() {
    let env = Env::new();
    let Some(b) = breach(&env, &["iam:DeleteLoginProfile", "iam:DeleteAccessKey"]).await else {
        return;
    };
    let bd = b.backdoor.id.as_str();
    b.plan(&env);
    let no_login_profile = &b.lacking["iam:DeleteLoginProfile"];
    let no_delete_key = &b.lacking["iam:DeleteAccessKey"];

    // Without iam:DeleteLoginProfile: the keys are disabled; the password and the user's
    // disable (which removes the password too) fail, naming the permission.
    let first = b.incident(&env, no_login_profile, &["contain", "breach", "--execute"]);
    assert_eq!(first.code, 1, "{}{}", first.stdout, first.stderr);
    let report = first.json();
    let user = waiting_user(&report);
    let acts = actions(&report);
    assert_eq!(
        acts[&action("access_key", bd, "disable")].0,
        "done",
        "{report}"
    );
    assert_eq!(
        acts[&action("access_key", &b.stolen.id, "disable")].0,
        "done",
        "{report}"
    );
    for key in [
        action("password", "backdoor", "delete"),
        action("identity", &user, "disable"),
    ] {
        let (state, result) = &acts[&key];
        assert_eq!(state, "failed", "{key:?}: {report}");
        assert!(
            result.contains("iam:DeleteLoginProfile"),
            "{key:?}: {result}"
        );
    }
    assert_eq!(
        b.key_status("backdoor", &b.backdoor).await.as_deref(),
        Some("Inactive")
    );
    assert!(
        b.has_login_profile("backdoor").await,
        "the permission was missing"
    );
    // The table says it too.
    let table = b.evict(
        &env,
        no_login_profile,
        &["incident", "contain", "breach", "--config", &b.config],
    );
    assert!(
        table.stdout.contains("iam:DeleteLoginProfile"),
        "{}",
        table.stdout
    );

    // With adequate credentials, only what failed is sent again.
    let before = starts(&b, &env);
    let second = b.incident(&env, &b.admin, &["contain", "breach", "--execute"]);
    assert_eq!(
        second.code, 1,
        "deletions wait: {}{}",
        second.stdout, second.stderr
    );
    let acts = actions(&second.json());
    assert_eq!(acts[&action("password", "backdoor", "delete")].0, "done");
    assert_eq!(acts[&action("identity", &user, "disable")].0, "done");
    assert!(!b.has_login_profile("backdoor").await);
    assert_eq!(
        sent_since(&b, &env, &before),
        keys_in(&report, "failed"),
        "only the failed actions are sent again"
    );

    let verified = b.incident(&env, no_delete_key, &["verify", "breach"]);
    let seen = verified.json();
    assert!(
        verdicts(&seen).values().all(|v| v == "verified_revoked"),
        "{seen}"
    );

    // Without iam:DeleteAccessKey: neither the key nor the user (whose teardown deletes its
    // keys) can be deleted; both fail naming it, and nothing else is sent.
    let third = b.incident(&env, no_delete_key, &["contain", "breach", "--execute"]);
    assert_eq!(third.code, 1, "{}{}", third.stdout, third.stderr);
    let report = third.json();
    let acts = actions(&report);
    for key in [
        action("access_key", bd, "delete"),
        action("identity", &user, "delete"),
    ] {
        let (state, result) = &acts[&key];
        assert_eq!(state, "failed", "{key:?}: {report}");
        assert!(result.contains("iam:DeleteAccessKey"), "{key:?}: {result}");
    }
    assert!(b.user_exists("backdoor").await);
    assert_eq!(
        b.key_status("backdoor", &b.backdoor).await.as_deref(),
        Some("Inactive")
    );
    let refused = b.evict(&env, &b.admin, &["incident", "close", "breach"]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stdout.contains("iam:DeleteAccessKey")
            && refused
                .stdout
                .contains("evict incident contain breach --execute"),
        "{}",
        refused.stdout
    );

    // Meanwhile a responder deleted the attacker's key by hand.
    b.iam
        .delete_access_key()
        .user_name("backdoor")
        .access_key_id(bd)
        .send()
        .await
        .unwrap();

    // Adequate credentials again: the deletions, and nothing else; the key's deletion finds
    // it gone, which is what it was to do, and the user's teardown does not trip over it.
    let before = starts(&b, &env);
    let fourth = b.incident(&env, &b.admin, &["contain", "breach", "--execute"]);
    assert_eq!(fourth.code, 0, "{}{}", fourth.stdout, fourth.stderr);
    let (state, result) = &actions(&fourth.json())[&action("access_key", bd, "delete")];
    assert_eq!(state, "done", "{}", fourth.stdout);
    assert!(result.contains("already gone"), "{result}");
    assert!(!b.user_exists("backdoor").await);
    assert_eq!(
        sent_since(&b, &env, &before),
        keys_in(&report, "failed"),
        "only the failed deletions are sent again"
    );

    let verified = b.incident(&env, &b.admin, &["verify", "breach"]);
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
    let closed = b.evict(&env, &b.admin, &["incident", "close", "breach"]);
    assert_eq!(closed.code, 0, "{}{}", closed.stdout, closed.stderr);
    b.bystanders_untouched().await;
}
