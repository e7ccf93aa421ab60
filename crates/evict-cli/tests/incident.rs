//! End-to-end tests of `evict incident`: opening with its checks, scope changes, the journal,
//! and the residual access state on the testkit organisation with its planted attack.
#![allow(clippy::unwrap_used)] // tests fail loudly at the line that broke

mod common;

use common::Env;
use evict_testkit::logs::attack_plan;
use serde_json::Value;

fn journal_entries(env: &Env) -> u64 {
    let run = env.run(&["journal", "verify", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["entries"].as_u64().unwrap()
}

#[test]
fn opening_checks_the_window_the_name_and_the_scope_and_changes_nothing_on_error() {
    let env = Env::new();
    let report = env.path("data");
    let generated = env.run(&[
        "generate",
        "--out",
        report.to_str().unwrap(),
        "--users",
        "5",
    ]);
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    let csv = report.join("credential-report.csv");
    assert_eq!(
        env.run(&[
            "import",
            "aws-credential-report",
            csv.to_str().unwrap(),
            "-q"
        ])
        .code,
        0
    );
    let before = journal_entries(&env);

    let open = |extra: &[&str]| {
        let mut args = vec![
            "incident",
            "open",
            "ci-breach",
            "--compromised-at",
            "2026-05-22T00:00:00Z",
        ];
        if !extra.contains(&"--patched-at") {
            args.extend(["--patched-at", "2026-05-26"]);
        }
        args.extend_from_slice(extra);
        env.run(&args)
    };
    for (extra, message) in [
        (
            vec!["--patched-at", "2026-05-20"],
            "is before --compromised-at",
        ),
        (vec!["--patched-at", "2026-07-01"], "is in the future"),
        (vec!["--scope", "identity:aws:nobody"], "no such identity"),
        (
            vec!["--scope", "provider:okta"],
            "nothing from provider 'okta'",
        ),
        (
            vec!["--scope", "repo:/no/such/repo"],
            "no stored scan has seen",
        ),
        (vec!["--scope", "team:payments"], "unknown kind 'team'"),
        (
            vec!["--ioc-ip", "203.0.113.300"],
            "--ioc-ip '203.0.113.300'",
        ),
    ] {
        let run = open(&extra);
        assert_eq!(run.code, 2, "{extra:?} should be refused: {}", run.stdout);
        assert!(run.stderr.contains(message), "{extra:?}: {}", run.stderr);
    }
    let bad_name = env.run(&[
        "incident",
        "open",
        "no spaces",
        "--compromised-at",
        "2026-05-22",
        "--patched-at",
        "2026-05-26",
    ]);
    assert_eq!(bad_name.code, 2);
    assert!(bad_name.stderr.contains("incident name 'no spaces'"));
    assert_eq!(
        journal_entries(&env),
        before,
        "a refused open wrote to the journal"
    );
    assert_eq!(
        env.run(&["incident", "list", "--format", "json"]).json(),
        Value::Array(vec![])
    );

    let opened = open(&[
        "--scope",
        "provider:aws",
        "identity:aws:arn:aws:iam::123456789012:root",
        "--ioc-ip",
        "203.0.113.0/24",
        "--format",
        "json",
    ]);
    assert_eq!(opened.code, 0, "{}", opened.stderr);
    let incident = opened.json();
    assert_eq!(incident["status"], "open");
    assert_eq!(incident["patched_at"], "2026-05-26T00:00:00Z");
    let scope: Vec<&str> = incident["scope"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(scope.len(), 2, "{scope:?}");
    assert_eq!(scope[0], "provider:aws");
    assert!(
        scope[1].starts_with("identity:i_"),
        "identities are kept by Evict id: {scope:?}"
    );
    assert_eq!(journal_entries(&env), before + 1);

    let again = open(&[]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(journal_entries(&env), before + 1);

    let removed = env.run(&[
        "incident",
        "scope",
        "ci-breach",
        "--remove",
        "provider:aws",
        "--format",
        "json",
    ]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert_eq!(removed.json()["changed"], true);
    assert_eq!(
        removed.json()["incident"]["scope"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let unchanged = env.run(&[
        "incident",
        "scope",
        "ci-breach",
        "--add",
        scope[1],
        "--format",
        "json",
    ]);
    assert_eq!(unchanged.json()["changed"], false);
    let not_there = env.run(&["incident", "scope", "ci-breach", "--remove", "provider:aws"]);
    assert_eq!(not_there.code, 2);
    assert!(
        not_there.stderr.contains("not in the scope"),
        "{}",
        not_there.stderr
    );
    assert_eq!(
        journal_entries(&env),
        before + 2,
        "only the real change is journaled"
    );

    let missing = env.run(&["incident", "show", "nope"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("no incident named 'nope'"));
}

/// The artifacts of `evict incident residual` as (tier, label, reasons).
fn artifacts(run: &common::Run) -> Vec<(String, String, Vec<String>)> {
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["tier"]["tier"].as_str().unwrap().to_string(),
                a["label"].as_str().unwrap().to_string(),
                a["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["reason"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn residual_access_kills_the_planted_footholds_and_not_the_lookalike() {
    let env = Env::new();
    let data = env.path("data");
    let generated = env.run(&[
        "generate",
        "--out",
        data.to_str().unwrap(),
        "--users",
        "20",
        "--logs",
        "3000",
    ]);
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    let csv = data.join("credential-report.csv");
    assert_eq!(
        env.run(&[
            "import",
            "aws-credential-report",
            csv.to_str().unwrap(),
            "-q"
        ])
        .code,
        0
    );
    let plan = attack_plan();
    let hunt = env.run(&[
        "hunt",
        data.to_str().unwrap(),
        "--compromised-at",
        "2026-05-22T00:00:00Z",
        "--patched-at",
        "2026-05-26T00:00:00Z",
        "--ioc-ip",
        plan.attacker_ip,
        "--store",
        "-q",
    ]);
    assert_eq!(hunt.code, 1, "the planted attack is found: {}", hunt.stderr);
    // The window opens early enough to hold an administrator's legitimate user and key
    // creation (the testkit's look-alike), to show it is examined, not killed.
    let open = env.run(&[
        "incident",
        "open",
        "planted",
        "--compromised-at",
        "2026-05-10T00:00:00Z",
        "--patched-at",
        "2026-05-26T00:00:00Z",
        "--scope",
        "provider:aws",
    ]);
    assert_eq!(open.code, 0, "{}", open.stderr);
    let residual = env.run(&["incident", "residual", "planted", "--format", "json"]);
    let found = artifacts(&residual);
    let tier_of = |needle: &str| -> Vec<&str> {
        found
            .iter()
            .filter(|(_, label, _)| label.contains(needle))
            .map(|(tier, _, _)| tier.as_str())
            .collect()
    };
    // The attacker's footholds in all three providers, and what it used, are killed.
    for needle in [
        format!("identity {} ", plan.backdoor_user),
        format!("CreateAccessKey for {}", plan.key_target_user),
        format!("CreateLoginProfile for {}", plan.backdoor_user),
        format!("UpdateAssumeRolePolicy on {}", plan.trusted_role),
        plan.pre_patch_session_key_id.clone(),
        plan.compromised_key_id.clone(),
        format!("identity {} ", plan.okta_backdoor_user),
        format!("repo.add_member for {}", plan.github_outside_collaborator),
        plan.github_hashed_token.clone(),
    ] {
        let tiers = tier_of(&needle);
        assert!(
            !tiers.is_empty(),
            "'{needle}' missing from the residual set: {found:#?}"
        );
        assert!(
            tiers.iter().all(|t| *t == "kill"),
            "'{needle}' not killed: {tiers:?}"
        );
    }
    // The administrator's ordinary work during the window is examined, never killed.
    let lookalike: Vec<_> = found
        .iter()
        .filter(|(_, label, _)| label.contains("new-hire"))
        .collect();
    assert!(
        !lookalike.is_empty(),
        "the look-alike is not even examined: {found:#?}"
    );
    for (tier, label, reasons) in lookalike {
        assert_eq!(tier, "validate", "{label}: {reasons:?}");
        assert_eq!(
            reasons,
            &vec!["changed_during_window".to_string()],
            "{label}"
        );
    }
    // Every credential of the in-scope provider is there, to be examined at least.
    let in_scope = found
        .iter()
        .filter(|(_, _, reasons)| reasons.iter().any(|r| r == "identity_in_scope"))
        .count();
    assert!(in_scope > 20, "only {in_scope} in-scope credentials");
    assert!(
        found
            .iter()
            .all(|(tier, _, reasons)| tier != "kill"
                || reasons.iter().any(|r| r != "identity_in_scope")),
        "a credential was killed only for being in scope"
    );
}
