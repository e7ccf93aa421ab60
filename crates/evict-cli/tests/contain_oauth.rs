//! `incident contain` and `verify` through the OAuth connector: a token of a real
//! oidc-provider leaks into a repository, `evict scan --store` keeps only its fingerprint, and
//! the responder hands the value over for the run (`--secrets FILE`). Evict revokes it
//! (RFC 7009), a separate `verify` process proves it dead by introspection (RFC 7662) against
//! the act's recalled baseline, and the incident closes; a bystander token stays live, and the
//! value is nowhere in the output, the journal or the store.
#![allow(clippy::unwrap_used)]

mod common;

use common::Env;
use evict_testkit::servers::{missing, oidc_provider};
use serde_json::Value;

fn random_text(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).unwrap();
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

const KILL_EXPOSED: &str = "recent_use_days = 30\ndefault_tier = \"validate\"\n\n[[rule]]\n\
     name = \"leaked\"\ntier = \"kill\"\nwhy = \"The test's leaked token.\"\n\
     any_reason = [\"exposed_in_scope\"]\n";

async fn client_credentials_token(issuer: &str, secret: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth("service", Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "api")])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

async fn introspected_active(issuer: &str, secret: &str, token: &str) -> bool {
    let answer: Value = reqwest::Client::new()
        .post(format!("{issuer}/token/introspection"))
        .basic_auth("service", Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["active"].as_bool().unwrap()
}

/// Every file under `dir`, as bytes, concatenated (the store and everything beside it).
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_bytes(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
    out
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaked_token_handed_over_is_revoked_proven_dead_by_another_process_and_closes() {
    let env = Env::new();
    let (app_secret, service_secret) = (random_text(24), random_text(24));
    let server = match oidc_provider(&app_secret, &service_secret) {
        Ok(s) => s,
        Err(why) => return missing("oidc-provider (npm)", why),
    };
    let issuer = server.base_url();
    let leaked = client_credentials_token(&issuer, &service_secret).await;
    let bystander = client_credentials_token(&issuer, &service_secret).await;
    assert!(introspected_active(&issuer, &service_secret, &leaked).await);

    let repo = env.write("repo/deploy/.env", format!("API_TOKEN={leaked}\n"));
    let repo = repo.parent().unwrap().parent().unwrap().to_path_buf();
    let secret_file = env.write("oauth-client-secret", format!("{service_secret}\n"));
    let config = env.write(
        "connectors.toml",
        format!(
            "[oauth]\nissuer = \"{issuer}\"\nclient_id = \"service\"\n\
             client_secret = {{ file = \"{}\" }}\nrequest_timeout_secs = 10\n\n\
             [verify]\nproviders = []\n\n[verify.oauth]\nrules = [\"generic.token\"]\n",
            secret_file.display()
        ),
    );
    let policy = env.write("policy.toml", KILL_EXPOSED);
    let handed = env.write("handed.txt", format!("# from the stash\n{leaked}\n"));
    let (config, policy, handed, repo) = (
        config.to_str().unwrap(),
        policy.to_str().unwrap(),
        handed.to_str().unwrap(),
        repo.to_str().unwrap(),
    );

    let scanned = env.run(&["scan", repo, "--store"]);
    assert_eq!(
        scanned.code, 1,
        "one finding: {}{}",
        scanned.stdout, scanned.stderr
    );
    for args in [
        vec![
            "incident",
            "open",
            "breach",
            "--compromised-at",
            "2026-05-01T00:00:00Z",
            "--patched-at",
            "2026-05-20T00:00:00Z",
            "--scope",
            &format!("repo:{repo}"),
        ],
        vec!["incident", "plan", "breach", "--policy", policy],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 0, "{args:?}: {}{}", out.stdout, out.stderr);
    }

    // Without the value, the step says what is missing and nothing is sent.
    let dry = env.run(&[
        "incident", "contain", "breach", "--config", config, "--format", "json",
    ]);
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    let actions = dry.json()["actions"].as_array().unwrap().clone();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["provider"], "oauth", "{actions:?}");
    assert_eq!(actions[0]["state"], "needs_manual");
    assert!(
        actions[0]["request"]
            .as_str()
            .unwrap()
            .contains("--secrets FILE"),
        "{actions:?}"
    );
    let unhanded = env.run(&[
        "incident",
        "contain",
        "breach",
        "--execute",
        "--config",
        config,
        "--format",
        "json",
    ]);
    assert_eq!(unhanded.code, 1, "{}{}", unhanded.stdout, unhanded.stderr);
    assert_eq!(unhanded.json()["actions"][0]["state"], "needs_manual");
    assert!(introspected_active(&issuer, &service_secret, &leaked).await);

    // Handed over: the dry run names the exact request, by fingerprint only.
    let dry = env.run(&[
        "incident",
        "contain",
        "breach",
        "--config",
        config,
        "--secrets",
        handed,
    ]);
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    assert!(dry.stdout.contains("secret:"), "{}", dry.stdout);

    let done = env.run(&[
        "incident",
        "contain",
        "breach",
        "--execute",
        "--config",
        config,
        "--secrets",
        handed,
        "--format",
        "json",
    ]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    let action = &done.json()["actions"][0];
    assert_eq!(action["state"], "done", "{action}");
    assert_eq!(action["action"], "revoke", "{action}");
    assert!(!introspected_active(&issuer, &service_secret, &leaked).await);
    assert!(
        introspected_active(&issuer, &service_secret, &bystander).await,
        "only the leaked token is revoked"
    );

    // Probing needs the value too; without it nothing is claimed and the gate stays shut.
    let blind = env.run(&["incident", "verify", "breach", "--config", config]);
    assert_eq!(blind.code, 1, "{}{}", blind.stdout, blind.stderr);
    assert!(blind.stdout.contains("unverified"), "{}", blind.stdout);
    let refused = env.run(&["incident", "close", "breach"]);
    assert_ne!(refused.code, 0, "{}{}", refused.stdout, refused.stderr);

    // Another process, handed the value, proves it dead against the act's baseline.
    let verified = env.run(&[
        "incident",
        "verify",
        "breach",
        "--config",
        config,
        "--secrets",
        handed,
        "--format",
        "json",
    ]);
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
    let probed = &verified.json()["probed"][0];
    assert_eq!(probed["verdict"], "verified_revoked", "{probed}");
    let closed = env.run(&["incident", "close", "breach"]);
    assert_eq!(closed.code, 0, "{}{}", closed.stdout, closed.stderr);

    // The report says what was done and what proved it.
    let report_file = env.path("report.md");
    let report = env.run(&[
        "incident",
        "report",
        "breach",
        "--format",
        "md",
        "--out",
        report_file.to_str().unwrap(),
    ]);
    assert_eq!(report.code, 0, "{}{}", report.stdout, report.stderr);
    let report = std::fs::read_to_string(&report_file).unwrap();
    let containment = report
        .split("\n## Containment\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    assert!(
        containment.contains("1 actions through the connectors: 1 done"),
        "{containment}"
    );
    assert!(
        containment.contains("verified revoked by probe:oauth"),
        "{containment}"
    );
    assert!(!report.contains(&leaked), "the token is in the report");

    let journal = env.run(&["journal", "show", "--format", "json"]);
    for (what, text) in [
        (
            "output",
            format!("{}{}{}", done.stdout, done.stderr, verified.stdout),
        ),
        ("journal", journal.stdout.clone()),
    ] {
        assert!(!text.contains(&leaked), "the token is in the {what}");
    }
    assert!(
        !holds(&all_bytes(&env.home()), &leaked),
        "the token is in the store"
    );
}
