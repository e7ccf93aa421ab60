//! End-to-end tests of `evict incident`: opening with its checks, scope changes, the journal,
//! and the residual access state on the testkit organisation with its planted attack.
#![allow(clippy::unwrap_used)] // tests fail loudly at the line that broke

mod common;

use common::Env;
use evict_testkit::logs::attack_plan;
use serde_json::Value;
use std::collections::BTreeSet;

fn journal_entries(env: &Env) -> u64 {
    let run = env.run(&["journal", "verify", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["entries"].as_u64().unwrap()
}

#[test]
fn opening_checks_the_window_the_name_and_the_scope_and_changes_nothing_on_error() {
    let env = Env::new();
    env.organisation(&["--users", "5"]);
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
    let data = env.organisation(&["--users", "20", "--logs", "3000"]);
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
    // The planted ground truth, exactly: every foothold and everything the attacker used,
    // in all three providers, is killed, and nothing else is. The inventory (a credential
    // report of other users) knows none of them, so each is listed by the provider's own
    // reference.
    let expected: BTreeSet<String> = [
        format!("aws:credential:{}", plan.compromised_key_id),
        format!("aws:credential:{}", plan.new_key_id),
        format!("aws:identity:{}", plan.backdoor_user),
        format!(
            "aws:credential:CreateLoginProfile for {}",
            plan.backdoor_user
        ),
        format!("aws:change:AttachUserPolicy on {}", plan.backdoor_user),
        format!("aws:change:UpdateAssumeRolePolicy on {}", plan.trusted_role),
        format!("aws:session:{}", plan.pre_patch_session_key_id),
        format!("okta:session:{}", plan.okta_attacker_session_id),
        format!("okta:identity:{}", plan.okta_backdoor_user),
        format!(
            "okta:change:user.account.privilege.grant on {}",
            plan.okta_backdoor_user
        ),
        format!("okta:credential:{}", plan.okta_api_token_id),
        "okta:credential:app.oauth2.as.consent.grant for Backup Sync Connector".to_string(),
        format!("github:credential:{}", plan.github_hashed_token),
        format!(
            "github:credential:repo.add_member for {}",
            plan.github_outside_collaborator
        ),
        format!("github:credential:{}", plan.github_ssh_key_fingerprint),
        format!("github:credential:{}", plan.github_deploy_key_fingerprint),
        format!("github:credential:{}", plan.github_oauth_app_id),
        format!("github:credential:{}", plan.github_new_pat_id),
    ]
    .into_iter()
    .collect();
    let json = residual.json();
    let killed: BTreeSet<String> = json["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["tier"]["tier"] == "kill")
        .map(|a| a["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        killed.difference(&expected).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "killed but not planted"
    );
    assert_eq!(
        expected.difference(&killed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "planted but not killed"
    );
    assert!(
        json["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["tier"]["tier"] != "rotate"),
        "nothing of the planted attack is merely rotated"
    );
    // Artifacts only the logs know get the kind their action or key says, and one event seen
    // by two rules (or created, then used) is one artifact.
    let kind_of = |needle: &str| -> Vec<String> {
        json["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["label"].as_str().unwrap().contains(needle))
            .map(|a| a["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        kind_of(&format!("CreateLoginProfile for {}", plan.backdoor_user)),
        ["password"]
    );
    assert_eq!(kind_of(&plan.pre_patch_session_key_id), ["session"]);
    assert_eq!(kind_of(&plan.new_key_id), ["access_key"]);
    assert_eq!(kind_of(&plan.okta_api_token_id), ["api_token"]);
    assert_eq!(kind_of(&plan.github_ssh_key_fingerprint), ["ssh_key"]);
    assert_eq!(
        kind_of("consent.grant for Backup Sync Connector"),
        ["oauth_grant"]
    );
    assert!(
        kind_of(&format!("CreateAccessKey on {}", plan.key_target_user)).is_empty(),
        "the key creation is listed twice"
    );
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

#[test]
fn the_gate_refuses_closure_until_every_artifact_has_evidence_or_an_exception() {
    let env = Env::new();
    env.organisation(&["--users", "3"]);
    let open = env.run(&[
        "incident",
        "open",
        "gate",
        "--compromised-at",
        "2026-05-22",
        "--patched-at",
        "2026-05-26",
        "--scope",
        "provider:aws",
    ]);
    assert_eq!(open.code, 0, "{}", open.stderr);
    let no_plan = env.run(&["incident", "close", "gate"]);
    assert_eq!(no_plan.code, 2);
    assert!(
        no_plan.stderr.contains("has no plan yet"),
        "{}",
        no_plan.stderr
    );

    let plan = env.run(&["incident", "plan", "gate", "--format", "json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan = plan.json();
    assert_eq!(plan["version"], 1);
    let steps = plan["plan"]["steps"].as_array().unwrap();
    assert!(steps.len() >= 3, "{steps:?}");
    assert!(
        steps
            .iter()
            .all(|s| s["tier"] == "validate" && s["action"] == "examine")
    );
    let keys: Vec<String> = steps
        .iter()
        .map(|s| s["artifact"].as_str().unwrap().to_string())
        .collect();
    // The same residual state makes no new version.
    let again = env.run(&["incident", "plan", "gate", "--format", "json"]);
    assert_eq!(again.json()["version"], 1);
    assert_eq!(again.json()["new_version"], false);

    let refused = env.run(&["incident", "close", "gate"]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused
            .stdout
            .contains(&format!("{} of {} artifacts", keys.len(), keys.len()))
    );
    for key in &keys {
        assert!(
            refused.stdout.contains(key.as_str()),
            "{key} not listed as missing"
        );
    }

    // Attest all but one; except the last with an approver who is not the owner.
    for key in &keys[1..] {
        let attest = env.run(&[
            "incident",
            "attest",
            "gate",
            key,
            "--by",
            "dana",
            "--note",
            "key unused, owner confirmed",
        ]);
        assert_eq!(attest.code, 0, "{}", attest.stderr);
    }
    let unknown = env.run(&[
        "incident", "attest", "gate", "c_nope", "--by", "dana", "--note", "x",
    ]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("not an artifact of the latest plan")
    );
    let still = env.run(&["incident", "close", "gate", "--format", "json"]);
    assert_eq!(still.code, 1);
    let gate = still.json();
    assert_eq!(gate["closed"], false);
    let missing: Vec<&Value> = gate["gate"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["standing"].get("missing").is_some())
        .collect();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0]["artifact"], keys[0].as_str());

    let same_person = env.run(&[
        "incident",
        "except",
        "gate",
        &keys[0],
        "--owner",
        "sam",
        "--approver",
        "sam",
        "--reason",
        "break-glass",
        "--expires",
        "2026-09-01",
    ]);
    assert_eq!(same_person.code, 2);
    assert!(
        same_person
            .stderr
            .contains("approver must not be the owner")
    );
    let past = env.run(&[
        "incident",
        "except",
        "gate",
        &keys[0],
        "--owner",
        "sam",
        "--approver",
        "lee",
        "--reason",
        "break-glass",
        "--expires",
        "2026-05-01",
    ]);
    assert_eq!(past.code, 2);
    assert!(past.stderr.contains("not in the future"));
    let excepted = env.run(&[
        "incident",
        "except",
        "gate",
        &keys[0],
        "--owner",
        "sam",
        "--approver",
        "lee",
        "--reason",
        "break-glass account, rotated quarterly",
        "--expires",
        "2026-09-01",
    ]);
    assert_eq!(excepted.code, 0, "{}", excepted.stderr);

    let closed = env.run(&["incident", "close", "gate"]);
    assert_eq!(closed.code, 0, "{}{}", closed.stdout, closed.stderr);
    assert!(closed.stdout.contains("closed"));
    let twice = env.run(&["incident", "close", "gate"]);
    assert_eq!(twice.code, 2);
    assert!(twice.stderr.contains("is closed"), "{}", twice.stderr);
    let show = env.run(&["incident", "show", "gate", "--format", "json"]);
    assert_eq!(show.json()["status"], "closed");
    let verify = env.run(&["journal", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
}

#[test]
fn attestations_count_for_the_kill_tier_only_when_allowed() {
    let env = Env::new();
    let data = env.organisation(&["--users", "3", "--logs", "1500"]);
    let plan_ids = attack_plan();
    env.run(&[
        "hunt",
        data.join("cloudtrail.jsonl").to_str().unwrap(),
        "--ioc-ip",
        plan_ids.attacker_ip,
        "--store",
        "-q",
    ]);
    env.run(&[
        "incident",
        "open",
        "kills",
        "--compromised-at",
        "2026-05-22",
        "--patched-at",
        "2026-05-26",
    ]);
    let plan = env
        .run(&["incident", "plan", "kills", "--format", "json"])
        .json();
    let steps = plan["plan"]["steps"].as_array().unwrap();
    assert!(!steps.is_empty());
    assert!(steps.iter().all(|s| s["tier"] == "kill"), "{steps:#?}");
    let mut keys: Vec<&str> = steps
        .iter()
        .map(|s| s["artifact"].as_str().unwrap())
        .collect();
    keys.dedup();
    for key in &keys {
        env.run(&[
            "incident",
            "attest",
            "kills",
            key,
            "--by",
            "dana",
            "--note",
            "deactivated by hand",
        ]);
    }
    let refused = env.run(&["incident", "close", "kills"]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("only attested"),
        "{}",
        refused.stdout
    );
    let allowed = env.run(&["incident", "close", "kills", "--allow-attested"]);
    assert_eq!(allowed.code, 0, "{}{}", allowed.stdout, allowed.stderr);
}

#[test]
fn a_policy_file_with_errors_is_refused_with_its_line_and_nothing_is_stored() {
    let env = Env::new();
    env.organisation(&["--users", "2"]);
    env.run(&[
        "incident",
        "open",
        "p",
        "--compromised-at",
        "2026-05-22",
        "--patched-at",
        "2026-05-26",
        "--scope",
        "provider:aws",
    ]);
    let policy = env.write(
        "tiers.toml",
        "recent_use_days = 30\n\n[[rule]]\nname = \"x\"\ntier = \"obliterate\"\nwhy = \"no\"\n",
    );
    for command in ["residual", "plan"] {
        let run = env.run(&[
            "incident",
            command,
            "p",
            "--policy",
            policy.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 2, "{command}: {}", run.stdout);
        assert!(
            run.stderr.contains("tiers.toml:"),
            "{command}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("obliterate"),
            "{command}: {}",
            run.stderr
        );
    }
    let show = env.run(&["incident", "close", "p"]);
    assert!(
        show.stderr.contains("has no plan yet"),
        "a refused plan was stored: {}",
        show.stderr
    );
}

#[test]
fn a_secret_exposed_in_scope_brings_every_other_copy_with_it() {
    use evict_testkit::Rng;
    use evict_testkit::secrets;
    let env = Env::new();
    let leaked = secrets::github_classic(&mut Rng::new(77)).secret;
    let kept = secrets::slack_bot(&mut Rng::new(78)).secret;
    let infra = env.write("src/infra/deploy/.env", format!("GITHUB_TOKEN={leaked}\n"));
    env.write(
        "src/web/config.txt",
        format!("token = {leaked}\nslack = {kept}\n"),
    );
    let src = env.path("src");
    let scan = env.run(&["scan", src.to_str().unwrap(), "--store", "-q"]);
    assert_eq!(scan.code, 1, "findings are expected: {}", scan.stderr);
    let repo = infra.parent().unwrap().parent().unwrap();
    let open = env.run(&[
        "incident",
        "open",
        "leak",
        "--compromised-at",
        "2026-05-22",
        "--patched-at",
        "2026-05-26",
        "--scope",
        &format!("repo:{}", repo.display()),
    ]);
    assert_eq!(open.code, 0, "{}", open.stderr);
    let residual = env.run(&["incident", "residual", "leak", "--format", "json"]);
    assert_eq!(residual.code, 0, "{}", residual.stderr);
    let json = residual.json();
    let artifacts = json["artifacts"].as_array().unwrap();
    // Only the token seen in the scoped repository is there; the Slack token lives outside.
    assert_eq!(artifacts.len(), 1, "{artifacts:#?}");
    let reasons: Vec<(&str, Vec<&str>)> = artifacts[0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["reason"].as_str().unwrap(),
                r["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, "exposed_in_scope");
    assert!(reasons[0].1[0].contains("infra/deploy/.env"), "{reasons:?}");
    assert_eq!(reasons[1].0, "copy_of_exposed");
    assert!(reasons[1].1[0].contains("web/config.txt"), "{reasons:?}");
    assert_eq!(artifacts[0]["tier"]["tier"], "rotate");
    // Nothing printed or stored carries the secret itself.
    assert!(!residual.stdout.contains(&leaked));
}
