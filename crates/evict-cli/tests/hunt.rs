//! End-to-end tests of `evict hunt` and of `evict rules` for hunts: the planted attack in the
//! testkit's logs of every shape, bad input, the store, and rule problems.
#![allow(clippy::unwrap_used)] // tests fail loudly at the line that broke

mod common;

use std::io::Write;

use common::Env;
use serde_json::{Value, json};

/// A CloudTrail record with the fields the hunts read.
fn cloudtrail(time: &str, name: &str, user: &str, key: &str, ip: &str, extra: Value) -> Value {
    let mut record = json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "arn": format!("arn:aws:iam::123456789012:user/{user}"),
            "accountId": "123456789012",
            "accessKeyId": key,
            "userName": user,
        },
        "eventTime": time,
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0",
        "eventID": format!("{name}-{time}"),
        "recipientAccountId": "123456789012",
    });
    if let (Some(map), Value::Object(more)) = (record.as_object_mut(), extra) {
        map.extend(more);
    }
    record
}

fn lines(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn hits_of(report: &Value) -> Vec<(String, String)> {
    let mut hits: Vec<(String, String)> = report["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["rule"].as_str().unwrap().to_string(),
                h["event_id"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    hits.sort();
    hits
}

#[test]
fn bad_input_is_reported_with_file_and_offset_and_the_rest_is_hunted() {
    let env = Env::new();
    let create_user = cloudtrail(
        "2026-05-23T10:00:00Z",
        "CreateUser",
        "ci-deploy",
        "AKIA-TEST-0001",
        "203.0.113.66",
        json!({"requestParameters": {"userName": "svc-backup-sync"}}),
    );
    let good = lines(std::slice::from_ref(&create_user));
    // Records before the truncation are kept; the cut is reported.
    let whole = gzip(format!("{{\"Records\":[{create_user},{create_user}]}}").as_bytes());
    env.write("logs/truncated.json.gz", &whole[..whole.len() - 12]);
    env.write("logs/not-json.jsonl", "this is not JSON\n");
    env.write(
        "logs/mixed.jsonl",
        format!("{good}[1,2,3]\n\"a string\"\n{{\"eventName\":\"CreateUser\"}}\n{good}"),
    );
    env.write("logs/empty.jsonl", "");
    env.write("logs/readme.txt", "not a log");
    let big = cloudtrail(
        "2026-05-23T11:00:00Z",
        "CreateUser",
        "ci-deploy",
        "AKIA-TEST-0001",
        "203.0.113.66",
        json!({"requestParameters": {"userName": "big-user", "padding": "x".repeat(50 << 20)}}),
    );
    env.write("logs/big.jsonl", lines(&[big]));

    let run = env.run(&[
        "hunt",
        env.path("logs").to_str().unwrap(),
        "--no-sigmahq",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "hits and problems make exit 1: {}", run.stderr);
    let report = run.json();
    let created: Vec<_> = hits_of(&report)
        .into_iter()
        .filter(|(rule, _)| rule == "aws-iam-user-created")
        .collect();
    // mixed.jsonl: 2, big.jsonl: 1, and the truncated gzip's first record at least.
    assert!(
        created.len() >= 4,
        "every readable CreateUser is hunted: {created:?}"
    );
    let problems: Vec<String> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} @{} line {}: {}",
                p["file"].as_str().unwrap(),
                p["offset"],
                p["line"],
                p["reason"].as_str().unwrap()
            )
        })
        .collect();
    let joined = problems.join("\n");
    assert!(joined.contains("truncated.json.gz"), "{joined}");
    assert!(joined.contains("not-json.jsonl"), "{joined}");
    let mixed_line = |line: u64| {
        report["problems"].as_array().unwrap().iter().any(|p| {
            p["file"].as_str().unwrap().ends_with("mixed.jsonl") && p["line"] == json!(line)
        })
    };
    assert!(mixed_line(2), "the array record is named by line: {joined}");
    assert!(
        mixed_line(3),
        "the string record is named by line: {joined}"
    );
    assert!(
        mixed_line(4),
        "the record without a time is named by line: {joined}"
    );
    let summary = &report["summary"];
    assert!(summary["skipped"].as_u64().unwrap() >= 5, "{summary}");
    let reasons = summary["skipped_by_reason"].as_object().unwrap();
    assert!(
        reasons.keys().any(|k| k.contains("without a usable time")),
        "{reasons:?}"
    );
    assert!(reasons.keys().any(|k| k.contains("empty")), "{reasons:?}");

    // The table says the same for people.
    let table = env.run(&["hunt", env.path("logs").to_str().unwrap(), "--no-sigmahq"]);
    assert!(table.stdout.contains("skipped:"), "{}", table.stdout);
    assert!(table.stdout.contains("mixed.jsonl"), "{}", table.stdout);
}

#[test]
fn a_missing_path_or_a_bad_flag_is_a_usage_error() {
    let env = Env::new();
    let run = env.run(&["hunt", env.path("nowhere").to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no such file"), "{}", run.stderr);
    env.write("a.jsonl", "");
    for (flag, value, says) in [
        ("--ioc-ip", "not-an-ip", "not an IP address"),
        ("--compromised-at", "yesterday", "not a time"),
        ("--source", "splunk", "unknown log source"),
    ] {
        let run = env.run(&["hunt", env.path("a.jsonl").to_str().unwrap(), flag, value]);
        assert_eq!(run.code, 2, "{flag} {value}");
        assert!(run.stderr.contains(says), "{flag}: {}", run.stderr);
    }
    let run = env.run(&[
        "hunt",
        env.path("a.jsonl").to_str().unwrap(),
        "--compromised-at",
        "2026-05-26",
        "--patched-at",
        "2026-05-22",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("is after --patched-at"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_broken_hunt_rule_is_named_and_the_others_still_run() {
    let env = Env::new();
    env.write(
        "rules/syntax.yml",
        "title: broken\nid: 11111111-2222-4333-8444-555555555555\nlogsource: {product: aws, \
         service: cloudtrail}\ndetection:\n  sel:\n    eventName: [CreateUser\n  condition: sel\n",
    );
    env.write(
        "rules/modifier.yml",
        "title: unknown modifier\nid: 22222222-2222-4333-8444-555555555555\nlogsource: \
         {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName|sounds_like: \
         CreateUser\n  condition: sel\nlevel: high\n",
    );
    env.write(
        "rules/azure.yml",
        "title: an azure rule\nid: 33333333-2222-4333-8444-555555555555\nlogsource: {product: \
         azure, service: signinlogs}\ndetection:\n  sel:\n    ResultType: 50053\n  condition: \
         sel\nlevel: low\n",
    );
    let check = env.run(&[
        "rules",
        "check",
        "--kind",
        "hunts",
        "--hunt-rules",
        env.path("rules").to_str().unwrap(),
    ]);
    assert_eq!(check.code, 1, "{}{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("syntax.yml") && check.stdout.contains("11111111-2222"),
        "the syntax error names file and rule id: {}",
        check.stdout
    );
    assert!(
        check.stdout.contains("modifier.yml") && check.stdout.contains("sounds_like"),
        "the unknown modifier is named: {}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .lines()
            .any(|l| l.starts_with("unsupported:") && l.contains("azure.yml")),
        "the rule for a source without a reader is listed as unsupported: {}",
        check.stdout
    );

    // The built-in rules alone check clean.
    let clean = env.run(&["rules", "check", "--kind", "hunts"]);
    assert_eq!(clean.code, 0, "{}", clean.stdout);

    // A hunt with the broken folder still runs every good rule, and says what it skipped.
    let record = cloudtrail(
        "2026-05-23T10:00:00Z",
        "CreateUser",
        "ci-deploy",
        "AKIA-TEST-0001",
        "192.0.2.10",
        json!({"requestParameters": {"userName": "x"}}),
    );
    env.write("ct.jsonl", lines(&[record]));
    let run = env.run(&[
        "hunt",
        env.path("ct.jsonl").to_str().unwrap(),
        "--rules",
        env.path("rules").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("syntax.yml"), "{}", run.stderr);
    assert!(
        hits_of(&run.json())
            .iter()
            .any(|(rule, _)| rule == "aws-iam-user-created")
    );
}

#[test]
fn stored_hunts_keep_hits_and_usage_once_and_journal_them() {
    let env = Env::new();
    let key = format!("AKIA{}", "Q".repeat(16));
    let mut records = Vec::new();
    for (day, ip) in [(10, "192.0.2.10"), (12, "192.0.2.10"), (28, "198.51.100.9")] {
        records.push(cloudtrail(
            &format!("2026-05-{day:02}T09:00:00Z"),
            "ListUsers",
            "ci-deploy",
            &key,
            ip,
            json!({}),
        ));
    }
    records.push(cloudtrail(
        "2026-05-23T09:00:00Z",
        "CreateAccessKey",
        "ci-deploy",
        &key,
        "203.0.113.66",
        json!({"requestParameters": {"userName": "billing-admin"},
               "responseElements": {"accessKey": {"accessKeyId": "AKIA-NEW", "userName": "billing-admin"}}}),
    ));
    env.write("ct/a.jsonl", lines(&records));
    let logs = env.path("ct").to_str().unwrap().to_string();
    let hunt = |extra: &[&str]| {
        let mut args = vec![
            "hunt",
            logs.as_str(),
            "--no-sigmahq",
            "--compromised-at",
            "2026-05-22",
            "--patched-at",
            "2026-05-26",
            "--store",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let run = env.run(&args);
        assert_eq!(run.code, 1, "{}", run.stderr);
        run.json()
    };
    let first = hunt(&[]);
    let rules: Vec<String> = hits_of(&first).into_iter().map(|(r, _)| r).collect();
    assert!(
        rules.contains(&"credential-new-source-after-patch".to_string()),
        "{rules:?}"
    );
    assert!(rules.contains(&"aws-access-key-for-other-user".to_string()));
    let stored = &first["stored"];
    assert_eq!(stored["hits_new"], json!(rules.len()));
    assert_eq!(stored["hits_again"], json!(0));
    let usage = first["usage"].as_array().unwrap();
    let mine = usage
        .iter()
        .find(|u| u["subject"] == "credential" && u["id"] == json!(key))
        .unwrap();
    assert_eq!(mine["events"], json!(4));
    assert_eq!(mine["sources"]["192.0.2.10"], json!(2));
    assert_eq!(mine["first_seen"], json!("2026-05-10T09:00:00Z"));
    assert_eq!(mine["last_seen"], json!("2026-05-28T09:00:00Z"));
    assert_eq!(mine["actions"]["iam:listusers"], json!(3));

    // The same logs again: nothing new, usage replaced rather than doubled.
    let second = hunt(&[]);
    assert_eq!(second["stored"]["hits_new"], json!(0));
    assert_eq!(second["stored"]["hits_again"], json!(rules.len()));
    let verify = env.run(&["journal", "verify", "--format", "json"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    assert_eq!(verify.json()["entries"], json!(2));

    // The inventory shows what the logs say about a credential: what revoking it would break.
    env.write(
        "inventory.csv",
        format!(
            "record,provider,external_id,kind,name,identity
             identity,aws,arn:aws:iam::123456789012:user/ci-deploy,service,ci-deploy,
             credential,aws,{key},access_key,,arn:aws:iam::123456789012:user/ci-deploy
"
        ),
    );
    let import = env.run(&[
        "import",
        "inventory",
        env.path("inventory.csv").to_str().unwrap(),
    ]);
    assert_eq!(import.code, 0, "{}{}", import.stdout, import.stderr);
    let shown = env
        .run(&[
            "inventory",
            "show",
            &format!("aws:{key}"),
            "--format",
            "json",
        ])
        .json();
    let usage = shown["usage"].as_array().expect("usage shown");
    let credential = usage.iter().find(|u| u["subject"] == "credential").unwrap();
    assert_eq!(
        credential["events"],
        json!(4),
        "replaced, not doubled, by the second hunt"
    );
    assert_eq!(credential["sources"]["198.51.100.9"], json!(1));
    assert!(
        usage
            .iter()
            .any(|u| u["subject"] == "identity" && u["events"] == json!(4))
    );
    let table = env.run(&["inventory", "show", &format!("aws:{key}")]);
    assert!(
        table.stdout.contains("what a revocation would break"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("192.0.2.10 ×2"), "{}", table.stdout);
    assert!(
        !std::fs::read(env.home().join("evict.db"))
            .unwrap()
            .windows(4)
            .any(|w| w == b"\"Rec"),
        "raw records are not copied into the store"
    );
}

/// What the pack (with the window and indicator built-ins) must find on each planted step, and
/// nothing else: the exact ground truth the testkit's attack is checked against.
fn expected_rules(step: &str) -> &'static [&'static str] {
    const IOC: [&str; 2] = ["ioc-ip", "ioc-user-agent"];
    match step {
        "initial_access"
        | "ioc_activity"
        | "okta_session_from_attacker"
        | "github_ioc_activity"
        | "github_pat_created" => &IOC,
        "role_assumed_from_outside" => &[
            "aws-role-assumed-from-other-account",
            "ioc-ip",
            "ioc-user-agent",
        ],
        // Added below: one hit for the first use from the new address.
        "new_key_used_after_patch" => &[],
        "backdoor_user" => &["aws-iam-user-created", "ioc-ip", "ioc-user-agent"],
        "backdoor_login_profile" => &["aws-console-password-set", "ioc-ip", "ioc-user-agent"],
        "backdoor_admin_policy" => &[
            "aws-admin-managed-policy-attached",
            "ioc-ip",
            "ioc-user-agent",
        ],
        "access_key_for_other_user" => &[
            "aws-access-key-created",
            "aws-access-key-for-other-user",
            "ioc-ip",
            "ioc-user-agent",
        ],
        "console_login_no_mfa" => &["aws-console-login-without-mfa", "ioc-ip", "ioc-user-agent"],
        "role_trust_change" => &[
            "aws-role-trust-outside-account",
            "aws-role-trust-policy-updated",
            "ioc-ip",
            "ioc-user-agent",
        ],
        "pre_patch_session_used_after_patch" => &["session-issued-before-patch-used-after"],
        "okta_backdoor_user" => &["okta-user-created", "ioc-ip", "ioc-user-agent"],
        "okta_admin_role" => &["okta-admin-role-granted", "ioc-ip", "ioc-user-agent"],
        "okta_api_token" => &["okta-api-token-created", "ioc-ip", "ioc-user-agent"],
        "okta_oauth_grant" => &["okta-oauth-consent-granted", "ioc-ip", "ioc-user-agent"],
        "github_outside_collaborator" => &[
            "github-outside-collaborator-added",
            "github-repo-admin-granted",
            "ioc-ip",
            "ioc-user-agent",
        ],
        "github_ssh_key" => &["github-user-ssh-key-added", "ioc-ip", "ioc-user-agent"],
        "github_deploy_key" => &["github-deploy-key-added", "ioc-ip", "ioc-user-agent"],
        "github_oauth_grant" => &["github-oauth-app-authorized", "ioc-ip", "ioc-user-agent"],
        "github_pat_access_granted" => &[
            "github-personal-access-token-granted",
            "ioc-ip",
            "ioc-user-agent",
        ],
        "benign_backdoor_user" => &["aws-iam-user-created"],
        "benign_backdoor_login_profile" => &["aws-console-password-set"],
        "benign_access_key_for_other_user" => {
            &["aws-access-key-created", "aws-access-key-for-other-user"]
        }
        "benign_okta_backdoor_user" => &["okta-user-created"],
        "benign_github_outside_collaborator" => &["github-org-member-added"],
        // A read-only policy and a login with MFA look like the attack and are not footholds.
        "benign_backdoor_admin_policy" | "benign_console_login_no_mfa" => &[],
        other => panic!("the testkit planted a step this test does not know: {other}"),
    }
}

#[test]
fn the_pack_finds_exactly_the_planted_attack_in_logs_of_every_shape() {
    use evict_testkit::logs::{
        ATTACKER_IP, COMPROMISED_AT, CloudTrailOptions, CloudTrailShape, ExportShape,
        OrgLogsOptions, PATCHED_AT, write_org_logs,
    };
    let shapes = [
        (CloudTrailShape::JsonLines, ExportShape::JsonLines, false),
        (CloudTrailShape::JsonLines, ExportShape::JsonLines, true),
        (
            CloudTrailShape::S3Objects {
                records_per_file: 200,
            },
            ExportShape::JsonArray,
            false,
        ),
        (CloudTrailShape::JsonArray, ExportShape::JsonArray, false),
    ];
    for (i, (cloudtrail, export, logstash)) in shapes.into_iter().enumerate() {
        let env = Env::new();
        let dir = env.path("logs");
        let truth = write_org_logs(
            40 + i as u64,
            4000,
            &OrgLogsOptions {
                cloudtrail: CloudTrailOptions {
                    shape: cloudtrail,
                    logstash_timestamps: logstash,
                },
                export,
            },
            &dir,
        )
        .unwrap();
        let shape = format!("{cloudtrail:?} / {export:?} / logstash {logstash}");
        let run = env.run(&[
            "hunt",
            dir.to_str().unwrap(),
            "--no-sigmahq",
            "--compromised-at",
            COMPROMISED_AT,
            "--patched-at",
            PATCHED_AT,
            "--ioc-ip",
            ATTACKER_IP,
            "--ioc-ua",
            "evil-kit",
            "--format",
            "json",
        ]);
        assert_eq!(run.code, 1, "{shape}: {}", run.stderr);
        let report = run.json();
        assert_eq!(
            report["summary"]["skipped"],
            json!(0),
            "{shape}: nothing generated is skipped: {}",
            report["problems"]
        );
        assert_eq!(
            report["summary"]["events"],
            json!(truth.cloudtrail.events + truth.okta.events + truth.github.events),
            "{shape}: every record is hunted"
        );

        let mut expected = std::collections::BTreeSet::new();
        let planted: Vec<_> = truth.planted().collect();
        for event in &planted {
            for rule in expected_rules(event.step) {
                expected.insert((rule.to_string(), event.event_id.clone()));
            }
        }
        // The billing-admin key made during the window is used twice after the patch from one
        // new address: one hit, on the first use.
        let first_use = planted
            .iter()
            .filter(|e| e.step == "new_key_used_after_patch")
            .min_by_key(|e| e.time)
            .unwrap();
        expected.insert((
            "credential-new-source-after-patch".to_string(),
            first_use.event_id.clone(),
        ));
        let found: std::collections::BTreeSet<(String, String)> =
            hits_of(&report).into_iter().collect();
        let missing: Vec<_> = expected.difference(&found).collect();
        let extra: Vec<_> = found.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{shape}\nmissing: {missing:#?}\nnot planted: {extra:#?}"
        );

        // Window positions: the footholds are inside the window, the look-alikes before it.
        for hit in report["hits"].as_array().unwrap() {
            let id = hit["event_id"].as_str().unwrap();
            let event = planted.iter().find(|e| e.event_id == id).unwrap();
            let window = hit["window"].as_str().unwrap();
            if !event.malicious {
                assert_eq!(
                    window, "before",
                    "{shape}: look-alike {} is not a window hit",
                    event.step
                );
            } else if event.step.ends_with("after_patch") {
                assert_eq!(window, "after", "{shape}: {}", event.step);
            } else {
                assert_eq!(window, "during", "{shape}: {}", event.step);
            }
            assert!(hit["raw"]["file"].as_str().is_some() && hit["raw"]["offset"].is_u64());
        }
        let during = report["summary"]["hits_listed_during_window"]
            .as_u64()
            .unwrap();
        assert_eq!(
            during,
            found
                .iter()
                .filter(|(_, id)| planted
                    .iter()
                    .any(|e| &e.event_id == id && e.malicious && !e.step.ends_with("after_patch")))
                .count() as u64
        );
    }
}

#[test]
fn without_a_window_or_indicators_only_the_sigma_footholds_are_found() {
    use evict_testkit::logs::{OrgLogsOptions, write_org_logs};
    let env = Env::new();
    let dir = env.path("logs");
    let truth = write_org_logs(7, 3000, &OrgLogsOptions::default(), &dir).unwrap();
    let run = env.run(&[
        "hunt",
        dir.to_str().unwrap(),
        "--no-sigmahq",
        "--format",
        "json",
    ]);
    let report = run.json();
    let rules: std::collections::BTreeSet<String> =
        hits_of(&report).into_iter().map(|(r, _)| r).collect();
    for builtin in [
        "ioc-ip",
        "ioc-user-agent",
        "session-issued-before-patch-used-after",
        "credential-new-source-after-patch",
    ] {
        assert!(!rules.contains(builtin), "{builtin} needs its flags");
    }
    assert!(rules.contains("aws-access-key-for-other-user"));
    assert!(rules.contains("aws-role-trust-outside-account"));
    assert!(
        report["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h.get("window").is_none())
    );
    assert!(truth.planted().count() > 20);

    // --since / --until keep only the events in between, and say how many were left out.
    let run = env.run(&[
        "hunt",
        dir.to_str().unwrap(),
        "--no-sigmahq",
        "--since",
        evict_testkit::logs::COMPROMISED_AT,
        "--until",
        evict_testkit::logs::PATCHED_AT,
        "--format",
        "json",
    ]);
    let inside = run.json();
    let since: jiff::Timestamp = evict_testkit::logs::COMPROMISED_AT.parse().unwrap();
    let until: jiff::Timestamp = evict_testkit::logs::PATCHED_AT.parse().unwrap();
    let hits = inside["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    for hit in hits {
        let t: jiff::Timestamp = hit["time"].as_str().unwrap().parse().unwrap();
        assert!(since <= t && t < until, "{t} is outside --since/--until");
    }
    let summary = &inside["summary"];
    assert!(summary["filtered"].as_u64().unwrap() > 0);
    assert_eq!(
        summary["filtered"].as_u64().unwrap() + summary["events"].as_u64().unwrap(),
        report["summary"]["events"].as_u64().unwrap()
    );
    // The look-alike user made before the compromise is gone; the backdoor user stays.
    let created = |r: &Value| {
        hits_of(r)
            .iter()
            .filter(|(rule, _)| rule == "aws-iam-user-created")
            .count()
    };
    assert_eq!((created(&report), created(&inside)), (2, 1));
}

#[test]
fn json_lines_with_a_declared_logsource_run_the_rules_written_for_it() {
    let env = Env::new();
    env.write(
        "gcp.yml",
        "provider: gcp\ntime: '@timestamp'\naction: gcp.audit.method_name\n\
         actor: user.email\nsource: source.ip\nlogsource: {product: gcp, service: gcp.audit}\n",
    );
    let record = |time: &str, method: &str| {
        json!({
            "@timestamp": time,
            "gcp": {"audit": {"method_name": method}},
            "user": {"email": "ops@example.com"},
            "source": {"ip": "203.0.113.66"},
        })
    };
    env.write(
        "gcp.jsonl",
        lines(&[
            record(
                "2026-05-23T10:00:00Z",
                "google.iam.admin.v1.IAM.serviceAccounts.delete",
            ),
            record("2026-05-23T11:00:00Z", "storage.buckets.list"),
        ]),
    );
    let with = |mapping: &str| {
        env.run(&[
            "hunt",
            env.path("gcp.jsonl").to_str().unwrap(),
            "--source",
            "jsonl",
            "--mapping",
            env.path(mapping).to_str().unwrap(),
            "--ioc-ip",
            "203.0.113.66",
            "--format",
            "json",
        ])
    };
    let report = with("gcp.yml").json();
    let rules: Vec<String> = hits_of(&report).into_iter().map(|(r, _)| r).collect();
    assert!(
        rules.contains(&"gcp_service_account_disabled_or_deleted".to_string()),
        "{rules:?}"
    );
    assert_eq!(
        rules.iter().filter(|r| *r == "ioc-ip").count(),
        2,
        "indicators apply to mapped logs too"
    );
    assert_eq!(report["usage"][0]["provider"], json!("gcp"));

    // Without the declaration the GCP rules do not run; an unknown key in the file is an
    // error that names it.
    env.write(
        "plain.yml",
        "provider: gcp\ntime: '@timestamp'\naction: gcp.audit.method_name\n",
    );
    let plain: Vec<String> = hits_of(&with("plain.yml").json())
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert!(!plain.iter().any(|r| r.starts_with("gcp_")), "{plain:?}");
    env.write("typo.yml", "provider: gcp\ntime: ts\naction: a\nactr: x\n");
    let typo = with("typo.yml");
    assert_eq!(typo.code, 2);
    assert!(
        typo.stderr.contains("typo.yml") && typo.stderr.contains("actr"),
        "{}",
        typo.stderr
    );
}

fn okta(time: &str, session: &str, ip: &str, uuid: &str) -> Value {
    json!({
        "uuid": uuid,
        "published": time,
        "eventType": "user.session.access_admin_app",
        "actor": {"id": "00u1", "type": "User", "alternateId": "ops-admin@example.com"},
        "client": {"ipAddress": ip, "userAgent": {"rawUserAgent": "Mozilla/5.0"}},
        "authenticationContext": {"externalSessionId": session},
        "outcome": {"result": "SUCCESS"},
        "transaction": {"type": "WEB", "id": format!("tx-{uuid}")},
    })
}

#[test]
fn sessions_without_an_issue_time_seen_in_the_window_and_used_after_the_patch_are_found() {
    let env = Env::new();
    env.write(
        "okta.jsonl",
        lines(&[
            okta(
                "2026-05-23T10:00:00.000Z",
                "sess-attacker",
                "203.0.113.66",
                "u1",
            ),
            okta(
                "2026-05-27T10:00:00.000Z",
                "sess-attacker",
                "198.51.100.9",
                "u2",
            ),
            okta(
                "2026-05-27T11:00:00.000Z",
                "sess-attacker",
                "198.51.100.9",
                "u3",
            ),
            okta("2026-05-28T10:00:00.000Z", "sess-new", "192.0.2.7", "u4"),
        ]),
    );
    let logs = env.path("okta.jsonl");
    let logs = logs.to_str().unwrap();
    let run = env.run(&[
        "hunt",
        logs,
        logs, // named twice: hunted once
        "--compromised-at",
        "2026-05-22",
        "--patched-at",
        "2026-05-26",
        "--format",
        "json",
    ]);
    let report = run.json();
    assert_eq!(
        report["summary"]["events"],
        json!(4),
        "the file is read once"
    );
    let sessions: Vec<String> = hits_of(&report)
        .into_iter()
        .filter(|(rule, _)| rule == "session-issued-before-patch-used-after")
        .map(|(_, id)| id)
        .collect();
    // The window's session is reported at its first use after the patch; a session that began
    // after the patch is not.
    assert_eq!(sessions, vec!["u2".to_string()]);
}

#[test]
fn a_rule_that_did_not_load_is_never_an_all_clear_and_stored_hits_are_not_duplicated() {
    let env = Env::new();
    let record = cloudtrail(
        "2026-05-23T10:00:00Z",
        "CreateUser",
        "ci-deploy",
        "AKIA-TEST-0001",
        "192.0.2.10",
        json!({"requestParameters": {"userName": "x"}}),
    );
    env.write(
        "logs/quiet.jsonl",
        lines(&[cloudtrail(
            "2026-05-23T10:00:00Z",
            "ListBuckets",
            "ci-deploy",
            "AKIA-TEST-0001",
            "192.0.2.10",
            json!({}),
        )]),
    );
    env.write("rules/broken.yml", "title: [unclosed\n");
    let run = env.run(&[
        "hunt",
        env.path("logs").to_str().unwrap(),
        "--no-sigmahq",
        "--rules",
        env.path("rules").to_str().unwrap(),
    ]);
    assert_eq!(
        run.code, 1,
        "no hits, but a rule did not load: {}",
        run.stdout
    );
    assert!(run.stderr.contains("broken.yml"), "{}", run.stderr);

    env.write("logs/a.jsonl", lines(&[record]));
    let store = |path: &str| {
        let run = env.run_with(
            &["hunt", path, "--no-sigmahq", "--store", "--format", "json"],
            &[],
        );
        run.json()["stored"].clone()
    };
    let first = store(env.path("logs").to_str().unwrap());
    assert_eq!(first["hits_new"], json!(1));
    let dotted = format!("{}/./logs", env.dir.path().display());
    let again = store(&dotted);
    assert_eq!(
        (again["hits_new"].clone(), again["hits_again"].clone()),
        (json!(0), json!(1)),
        "the same record under another spelling of its path is the same hit"
    );
}
