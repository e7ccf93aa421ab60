//! `incident contain` and `verify` through the SCIM connector, with Shared Signals: a user in
//! scope is disabled at a real scim2-server, the probe reads it back, the receiver (a separate
//! process verifying signatures with PyJWT) gets one account-disabled SET for it, and the
//! incident closes on that evidence. A lying SCIM service that answers 204 and changes nothing
//! is caught by the probe, and the incident stays open.
#![allow(clippy::unwrap_used)]

mod common;

use common::Env;
use evict_connectors::ssf::SetSigner;
use evict_connectors::ssf::set::generate_signing_key;
use evict_testkit::servers::{
    free_port, missing, scim_liar, scim2_server, ssf_receiver, throttling_proxy,
};
use serde_json::Value;

const TOKEN_VARIABLE: &str = "EVICT_TEST_SCIM_TOKEN";
const ACCOUNT_DISABLED: &str =
    "https://schemas.openid.net/secevent/risc/event-type/account-disabled";

fn random_hex() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const KILL_IN_SCOPE: &str = "recent_use_days = 30\ndefault_tier = \"validate\"\n\n[[rule]]\n\
     name = \"in-scope\"\ntier = \"kill\"\nwhy = \"The test's compromised account.\"\n\
     any_reason = [\"identity_in_scope\"]\n";

/// Imports SCIM users (id, name) as identities, opens an incident scoping `scoped`, and plans.
fn incident_over(env: &Env, users: &[(&str, &str)], scoped: &str) {
    let lines: String = users
        .iter()
        .map(|(id, name)| {
            format!(
                "{{\"record\":\"identity\",\"provider\":\"scim\",\"external_id\":\"{id}\",\
                 \"kind\":\"human\",\"name\":\"{name}\"}}\n"
            )
        })
        .collect();
    let inventory = env.write("users.jsonl", lines);
    let policy = env.write("policy.toml", KILL_IN_SCOPE);
    for args in [
        vec!["import", "inventory", inventory.to_str().unwrap()],
        vec![
            "incident",
            "open",
            "breach",
            "--compromised-at",
            "2026-05-01T00:00:00Z",
            "--patched-at",
            "2026-05-20T00:00:00Z",
            "--scope",
            &format!("identity:scim:{scoped}"),
        ],
        vec![
            "incident",
            "plan",
            "breach",
            "--policy",
            policy.to_str().unwrap(),
        ],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 0, "{args:?}: {}{}", out.stdout, out.stderr);
    }
}

/// A new active SCIM user, by its id.
async fn scim_user_id(base: &str, token: &str, name: &str) -> String {
    let user: Value = reqwest::Client::new()
        .post(format!("{base}/Users"))
        .bearer_auth(token)
        .header("Content-Type", "application/scim+json")
        .body(
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "active": true,
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
    user["id"].as_str().unwrap().to_string()
}

/// `evict ARGS --config CONFIG --format json`, with the SCIM token in the environment.
fn evict_json(env: &Env, args: &[&str], config: &str, token: &str) -> common::Run {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--config", config, "--format", "json"]);
    env.run_with(&all, &[(TOKEN_VARIABLE, token)])
}

async fn active(base: &str, token: &str, id: &str) -> bool {
    let user: Value = reqwest::Client::new()
        .get(format!("{base}/Users/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    user["active"].as_bool().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scim_user_is_disabled_verified_announced_once_and_the_incident_closes() {
    let env = Env::new();
    let token = random_hex();
    let server = match scim2_server(&token, &env.path("scim2-server.log")) {
        Ok(s) => s,
        Err(why) => return missing("scim2-server", why),
    };
    let base = format!("{}/v2", server.base_url());
    let mallory = scim_user_id(&base, &token, "mallory").await;
    let alice = scim_user_id(&base, &token, "alice").await;

    // The transmitter's key, and the receiver that pins its public half.
    let issuer = "https://evict.test";
    let key = generate_signing_key().unwrap();
    let key_file = env.write("ssf-key.pem", key.expose());
    let jwks = SetSigner::from_pkcs8_pem(&key, "evict-test-1", issuer)
        .unwrap()
        .jwks();
    let jwks_file = env.write("jwks.json", serde_json::to_string(&jwks).unwrap());
    let received = env.path("received.jsonl");
    let receiver = match ssf_receiver(&jwks_file, issuer, "downstream", &received, &[], &[]) {
        Ok(r) => r,
        Err(why) => return missing("the SSF receiver", why),
    };
    // A second receiver, "late", is down for the first verify (nothing listens at its URL).
    let write_config = |late_url: &str| {
        env.write(
            "connectors.toml",
            format!(
                "[scim]\nbase_url = \"{base}\"\ntoken = {{ env = \"{TOKEN_VARIABLE}\" }}\n\n\
                 [ssf]\nissuer = \"{issuer}\"\nsigning_key = {{ file = \"{}\" }}\n\
                 key_id = \"evict-test-1\"\nmax_attempts = 2\n\n\
                 [[ssf.receivers]]\nname = \"downstream\"\n\
                 url = \"{}/events\"\naudience = \"downstream\"\n\n\
                 [[ssf.receivers]]\nname = \"late\"\nurl = \"{late_url}/events\"\n\
                 audience = \"late\"\n",
                key_file.display(),
                receiver.base_url()
            ),
        )
    };
    let config = write_config(&format!("http://127.0.0.1:{}", free_port()));
    let config = config.to_str().unwrap();
    incident_over(&env, &[(&mallory, "mallory"), (&alice, "alice")], &mallory);
    let run = |args: &[&str]| evict_json(&env, args, config, &token);

    let contained = run(&["incident", "contain", "breach", "--execute"]);
    assert_eq!(
        contained.code, 0,
        "{}{}",
        contained.stdout, contained.stderr
    );
    let report = contained.json();
    assert_eq!(report["counts"]["done"], 1, "{report}");
    assert_eq!(report["actions"][0]["action"], "disable", "{report}");
    assert!(
        !active(&base, &token, &mallory).await,
        "the user is disabled"
    );
    assert!(active(&base, &token, &alice).await, "the bystander is not");

    let verified = run(&["incident", "verify", "breach"]);
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
    let verified = verified.json();
    assert_eq!(
        verified["probed"][0]["verdict"], "verified_revoked",
        "{verified}"
    );
    let signals = verified["signals"].as_array().unwrap();
    assert_eq!(signals.len(), 2, "{verified}");
    let to = |name: &str| {
        signals
            .iter()
            .find(|s| s["receiver"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(to("downstream")["event_type"], ACCOUNT_DISABLED);
    assert_eq!(to("downstream")["outcome"], "delivered");
    assert!(
        to("late")["outcome"]
            .as_str()
            .unwrap()
            .starts_with("failed"),
        "{verified}"
    );
    let late_jti = to("late")["jti"].as_str().unwrap().to_string();
    let accepted = |path: &std::path::Path| -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["verdict"] == "accepted")
            .collect()
    };
    assert_eq!(
        accepted(&received).len(),
        1,
        "the receiver verified the SET"
    );
    let set = &accepted(&received)[0];
    assert_eq!(set["event_type"], ACCOUNT_DISABLED, "{set}");
    assert_eq!(set["event"]["reason"], "hijacking", "{set}");
    assert_eq!(set["sub_id"]["format"], "opaque", "{set}");
    assert_eq!(set["sub_id"]["id"], mallory.as_str(), "{set}");

    // Verified again with "late" up: the receiver that took the event is not sent it again,
    // and "late" gets it under the jti of the attempt it missed.
    let received_late = env.path("received-late.jsonl");
    let late = match ssf_receiver(&jwks_file, issuer, "late", &received_late, &[], &[]) {
        Ok(r) => r,
        Err(why) => return missing("the SSF receiver", why),
    };
    write_config(&late.base_url());
    let again = run(&["incident", "verify", "breach"]).json();
    let signals = again["signals"].as_array().unwrap();
    assert_eq!(signals.len(), 1, "{again}");
    assert_eq!(signals[0]["receiver"], "late", "{again}");
    assert_eq!(signals[0]["outcome"], "delivered", "{again}");
    assert_eq!(signals[0]["jti"], late_jti.as_str(), "{again}");
    assert_eq!(accepted(&received).len(), 1);
    let taken = accepted(&received_late);
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0]["jti"], late_jti.as_str());

    // And once every receiver has it, nobody is told again.
    let third = run(&["incident", "verify", "breach"]).json();
    assert!(third["signals"].as_array().unwrap().is_empty(), "{third}");
    assert_eq!(accepted(&received).len(), 1);
    assert_eq!(accepted(&received_late).len(), 1);

    let close = env.run(&["incident", "close", "breach"]);
    assert_eq!(close.code, 0, "{}{}", close.stdout, close.stderr);
    for out in [&contained.stdout, &contained.stderr] {
        assert!(!out.contains(&token), "the SCIM token is never printed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scim_service_that_answers_204_and_changes_nothing_does_not_close_the_incident() {
    let env = Env::new();
    let liar = match scim_liar() {
        Ok(s) => s,
        Err(why) => return missing("python3 (tests/scim-liar/liar.py)", why),
    };
    let token = random_hex();
    let config = env.write(
        "connectors.toml",
        format!(
            "[scim]\nbase_url = \"{}\"\ntoken = {{ env = \"{TOKEN_VARIABLE}\" }}\n",
            liar.base_url()
        ),
    );
    let config = config.to_str().unwrap();
    incident_over(&env, &[("liar-1", "mallory")], "liar-1");
    let run = |args: &[&str]| evict_json(&env, args, config, &token);
    let contained = run(&["incident", "contain", "breach", "--execute"]);
    assert_eq!(
        contained.code, 0,
        "{}{}",
        contained.stdout, contained.stderr
    );
    assert_eq!(
        contained.json()["counts"]["done"],
        1,
        "the service said yes"
    );

    let verified = run(&["incident", "verify", "breach"]);
    assert_eq!(verified.code, 1, "{}{}", verified.stdout, verified.stderr);
    let verified = verified.json();
    assert_eq!(verified["probed"][0]["verdict"], "still_live", "{verified}");

    let close = env.run(&["incident", "close", "breach"]);
    assert_eq!(close.code, 1, "{}", close.stdout);
    assert!(
        close.stdout.contains("the last probe shows it still works"),
        "{}",
        close.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_429_and_503_is_waited_out_and_each_act_and_probe_lands_once() {
    let env = Env::new();
    let token = random_hex();
    let server = match scim2_server(&token, &env.path("scim2-server.log")) {
        Ok(s) => s,
        Err(why) => return missing("scim2-server", why),
    };
    let log = env.path("proxy.log");
    let proxy = match throttling_proxy(&server.base_url(), &log) {
        Ok(p) => p,
        Err(why) => return missing("python3 (tests/throttle/proxy.py)", why),
    };
    let direct = format!("{}/v2", server.base_url());
    let mallory = scim_user_id(&direct, &token, "mallory").await;
    let alice = scim_user_id(&direct, &token, "alice").await;
    let config = env.write(
        "connectors.toml",
        format!(
            "[scim]\nbase_url = \"{}/v2\"\ntoken = {{ env = \"{TOKEN_VARIABLE}\" }}\n",
            proxy.base_url()
        ),
    );
    let config = config.to_str().unwrap();
    incident_over(&env, &[(&mallory, "mallory"), (&alice, "alice")], &mallory);
    let run = |args: &[&str]| evict_json(&env, args, config, &token);

    let contained = run(&["incident", "contain", "breach", "--execute"]);
    assert_eq!(
        contained.code, 0,
        "{}{}",
        contained.stdout, contained.stderr
    );
    let action = &contained.json()["actions"][0];
    assert_eq!(action["state"], "done", "{action}");
    assert_eq!(
        action["attempts"], 3,
        "the read-back refused 429, the change 503, then both pass: {action}"
    );
    assert!(!active(&direct, &token, &mallory).await);
    assert!(active(&direct, &token, &alice).await);

    // The probe is refused too, and asked again.
    let reset = reqwest::Client::new()
        .post(format!("{}/_proxy/reset", proxy.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    let verified = run(&["incident", "verify", "breach"]);
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
    assert_eq!(
        verified.json()["probed"][0]["verdict"],
        "verified_revoked",
        "{}",
        verified.stdout
    );

    // What reached the service: the write refused once, then sent once.
    let seen: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let statuses = |method: &str| -> Vec<i64> {
        seen.iter()
            .filter(|r| r["method"] == method && r["path"] != "/_proxy/reset")
            .map(|r| r["status"].as_i64().unwrap())
            .collect()
    };
    let patches = statuses("PATCH");
    assert_eq!(patches.len(), 2, "{seen:?}");
    assert_eq!(patches[0], 503, "{seen:?}");
    assert!((200..300).contains(&patches[1]), "{seen:?}");
    let refused_reads = statuses("GET").iter().filter(|s| **s == 429).count();
    assert_eq!(
        refused_reads, 2,
        "once for the act, once for the probe: {seen:?}"
    );
}
