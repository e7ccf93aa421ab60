//! End-to-end tests of `evict scan` and `evict rules`, on trees, archives, chat exports and git
//! repositories generated at test time with known secrets.
#![allow(clippy::unwrap_used)] // tests fail loudly at the line that broke

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command as Process;

use evict_testkit::Rng;
use evict_testkit::secrets::{self, PlantedSecret};
use serde_json::Value;

use common::Env;

/// Built-in rules. Pinned so that a rule file that stops loading, or a rule that is dropped,
/// fails the suite instead of silently shrinking coverage. Change it with the rules.
const BUILTIN_RULES: usize = 208;

fn scan_json(env: &Env, target: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["scan", target.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let run = env.run(&args);
    assert!(
        run.code == 0 || run.code == 1,
        "scan failed: {}",
        run.stderr
    );
    (run.code, run.json())
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

fn finding_for<'a>(report: &'a Value, rule: &str) -> Option<&'a Value> {
    findings(report).iter().find(|f| {
        f["rule"] == rule
            || f["also_matched"]
                .as_array()
                .is_some_and(|a| a.iter().any(|r| r == rule))
    })
}

fn zip_with(path: &Path, entries: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn rules_check_passes_with_warnings_as_errors_and_no_rule_disappears() {
    let env = Env::new();
    let run = env.run(&["rules", "check", "--warnings-as-errors"]);
    assert_eq!(
        run.code, 0,
        "rules check failed:\n{}{}",
        run.stdout, run.stderr
    );
    let list = env
        .run(&["rules", "list", "--kind", "secrets", "--format", "json"])
        .json();
    let rules = list.as_array().unwrap();
    assert!(
        rules.len() >= 80,
        "at least 80 built-in rules, found {}",
        rules.len()
    );
    assert_eq!(
        rules.len(),
        BUILTIN_RULES,
        "the built-in rule count changed"
    );
}

#[test]
fn a_broken_rule_is_reported_by_rules_check() {
    let env = Env::new();
    let secret = secrets::github_classic(&mut Rng::new(3)).secret;
    env.write(
        "extra/bad.yml",
        format!(
            "rules:\n  - id: test.never\n    name: never matches\n    provider: github\n    kind: api_token\n    \
             confidence: high\n    keywords: [ghp_]\n    pattern: '(?P<secret>ghp_[0-9]{{36}})'\n    \
             persistence: unbounded\n    examples: ['{secret}']\n"
        ),
    );
    let run = env.run(&[
        "rules",
        "check",
        "--rules",
        env.path("extra").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "test.never: error: example 1 does not produce a finding: the pattern does not match it"
        ),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains(&secret),
        "rules check printed an example secret"
    );
}

#[test]
fn one_secret_in_many_places_is_one_finding_with_every_location() {
    let env = Env::new();
    let planted = secrets::github_classic(&mut Rng::new(5));
    let line = format!("{}\n", planted.text);
    env.write("tree/a.env", format!("# config\n{line}"));
    env.write("tree/deep/b.txt", format!("x\ny\n{line}"));
    zip_with(&env.path("tree/c.zip"), &[("inner/c.txt", line.as_bytes())]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(line.as_bytes()).unwrap();
    env.write("tree/d.log.gz", gz.finish().unwrap());
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(line.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "e.txt", line.as_bytes())
        .unwrap();
    env.write("tree/e.tgz", tar.into_inner().unwrap().finish().unwrap());

    let (code, report) = scan_json(&env, &env.path("tree"), &[]);
    assert_eq!(code, 1, "findings exit 1");
    let finding = finding_for(&report, planted.rule).expect("the GitHub token is found");
    assert_eq!(
        findings(&report).len(),
        1,
        "one secret, one finding: {report:#}"
    );
    let places: Vec<String> = finding["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{}|{}|{}",
                l["path"].as_str().unwrap().rsplit('/').next().unwrap(),
                l["entry"].as_str().unwrap_or("-"),
                l["line"]
            )
        })
        .collect();
    assert_eq!(
        places,
        vec![
            "a.env|-|2",
            "c.zip|inner/c.txt|1",
            "d.log.gz|d.log|1",
            "b.txt|-|3",
            "e.tgz|e.txt|1"
        ]
    );
    assert_eq!(finding["persistence"]["class"], "persistent");
    assert_eq!(report["stats"]["archives"], 3);
}

#[test]
fn large_and_odd_files_are_scanned_or_skipped_with_a_reason() {
    let env = Env::new();
    let mut rng = Rng::new(9);
    let minified_secret = secrets::github_classic(&mut rng);
    let utf8_secret = secrets::stripe_live(&mut rng);
    let utf16_secret = secrets::slack_bot(&mut rng);
    // 12 MB on one line with the secret at the very end: crosses the 8 MiB block boundary.
    let mut minified = "var a=1;".repeat(1_500_000).into_bytes();
    minified.extend_from_slice(format!(";t=\"{}\"", minified_secret.secret).as_bytes());
    env.write("odd/minified.js", &minified);
    let mut invalid = b"\xc3\x28 garbage \xfd\xff\n".to_vec();
    invalid.extend_from_slice(utf8_secret.text.as_bytes());
    invalid.extend_from_slice(b"\n\xff\n");
    env.write("odd/invalid-utf8.txt", &invalid);
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(
        format!("line one\n{}\n", utf16_secret.text)
            .encode_utf16()
            .flat_map(u16::to_le_bytes),
    );
    env.write("odd/utf16.txt", &utf16);
    env.write(
        "odd/program.bin",
        b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0 ghp_ AKIA",
    );
    std::os::unix::fs::symlink(env.path("odd"), env.path("odd/loop")).unwrap();
    std::os::unix::fs::symlink(env.path("odd/missing"), env.path("odd/dangling")).unwrap();
    // A zip bomb: 1 GiB of one letter deflates to about a megabyte.
    {
        let file = std::fs::File::create(env.path("odd/bomb.zip")).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file("zeros.txt", options).unwrap();
        let block = vec![b'a'; 1 << 20];
        for _ in 0..1024 {
            zip.write_all(&block).unwrap();
        }
        zip.finish().unwrap();
    }
    env.write(
        "odd/corrupt.zip",
        b"PK\x03\x04 this is not really a zip archive",
    );

    let started = std::time::Instant::now();
    let run = env.run(&[
        "scan",
        env.path("odd").to_str().unwrap(),
        "--format",
        "json",
        "--follow-symlinks",
        "--verbose",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    for planted in [&minified_secret, &utf8_secret, &utf16_secret] {
        assert!(
            finding_for(&report, planted.rule).is_some(),
            "{} not found: {report:#}",
            planted.rule
        );
    }
    let skipped: Vec<(String, String)> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["what"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reason_of = |name: &str| {
        skipped
            .iter()
            .find(|(what, _)| what.contains(name))
            .map(|(_, reason)| reason.clone())
            .unwrap_or_else(|| panic!("{name} not skipped: {skipped:?}"))
    };
    assert_eq!(reason_of("program.bin"), "binary file");
    assert!(
        reason_of("loop").contains("symbolic link loop"),
        "{skipped:?}"
    );
    assert!(
        reason_of("dangling").starts_with("unreadable"),
        "{skipped:?}"
    );
    assert!(
        reason_of("bomb.zip").contains("decompression budget spent"),
        "{skipped:?}"
    );
    assert!(
        reason_of("corrupt.zip").contains("corrupt zip"),
        "{skipped:?}"
    );
    assert!(started.elapsed().as_secs() < 120, "the bomb was bounded");
    let minified_place = &finding_for(&report, minified_secret.rule).unwrap()["locations"][0];
    assert_eq!(minified_place["line"], 1);
    assert_eq!(
        minified_place["column"],
        12_000_000 + 5,
        "columns count from the start of the line, across blocks"
    );
}

#[test]
fn thresholds_ignores_and_inline_allows_decide_the_exit_code() {
    let env = Env::new();
    let mut rng = Rng::new(11);
    let token = secrets::github_classic(&mut rng);
    let password = secrets::generic_password(&mut rng);
    env.write("repo/app.env", format!("{}\n", password.text));
    let (code, report) = scan_json(&env, &env.path("repo"), &["--fail-on", "high"]);
    assert_eq!(
        code, 0,
        "a low-confidence finding does not fail --fail-on high: {report:#}"
    );
    assert_eq!(findings(&report).len(), 1);
    let (code, _) = scan_json(&env, &env.path("repo"), &[]);
    assert_eq!(code, 1, "--fail-on low (the default) fails on any finding");

    env.write(
        "repo/src/main.rs",
        format!(
            "let t = \"{}\"; // evict:allow test fixture\n",
            token.secret
        ),
    );
    env.write("repo/docs/guide.md", format!("{}\n", token.text));
    let fingerprint = finding_for(&scan_json(&env, &env.path("repo"), &[]).1, token.rule).unwrap()
        ["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    env.write(
        "repo/.evictignore",
        format!(
            "path:docs/**  the guide shows a revoked token\nrule:{}  reviewed\n",
            password.rule
        ),
    );
    let (code, report) = scan_json(&env, &env.path("repo"), &[]);
    assert_eq!(code, 0, "everything is allowed or ignored: {report:#}");
    assert_eq!(report["stats"]["allowed_inline"], 1);
    assert!(report["stats"]["ignored"].as_u64().unwrap() >= 2);

    env.write(
        "repo/.evictignore",
        format!("fingerprint:{}\n", &fingerprint[..16]),
    );
    let run = env.run(&["scan", env.path("repo").to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(".evictignore:1: 'fingerprint:")
            && run.stderr.contains("has no reason"),
        "{}",
        run.stderr
    );
}

#[test]
fn persistence_comes_from_the_secret_itself() {
    let env = Env::new();
    let mut rng = Rng::new(13);
    // REFERENCE_NOW is 2026-06-01.
    let future = secrets::jwt(&mut rng, Some(1_893_456_000)); // 2030-01-01
    let past = secrets::jwt(&mut rng, Some(1_577_836_800)); // 2020-01-01
    let forever = secrets::jwt(&mut rng, None);
    env.write(
        "t/a.txt",
        format!("{}\n{}\n{}\n", future.text, past.text, forever.text),
    );
    let (_, report) = scan_json(&env, &env.path("t"), &[]);
    let classes: Vec<(String, String)> = findings(&report)
        .iter()
        .map(|f| {
            (
                f["preview"].as_str().unwrap().to_string(),
                f["persistence"]["class"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let class_of = |p: &PlantedSecret| {
        let preview = evict_model::redacted_preview(&p.secret);
        classes
            .iter()
            .find(|(pv, _)| *pv == preview)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| panic!("{preview} not in {classes:?}"))
    };
    assert_eq!(class_of(&future), "expires");
    assert_eq!(class_of(&past), "expired");
    assert_eq!(class_of(&forever), "persistent");
    let table = env.run(&["scan", env.path("t").to_str().unwrap()]);
    assert!(
        table.stdout.contains("expires 2030-01-01") && table.stdout.contains("persistent"),
        "{}",
        table.stdout
    );
}

#[test]
fn chat_exports_locate_secrets_by_message() {
    let env = Env::new();
    let mut rng = Rng::new(17);
    let in_slack = secrets::slack_bot(&mut rng);
    let in_ticket = secrets::github_classic(&mut rng);
    env.write(
        "slack/channels.json",
        "[{\"id\":\"C1\",\"name\":\"deploys\"}]",
    );
    env.write(
        "slack/deploys/2026-05-02.json",
        serde_json::to_string(&serde_json::json!([
            {"type": "message", "user": "U123", "text": "hello", "ts": "1714600000.000100"},
            {"type": "message", "user": "U456", "text": format!("use this:\n{}", in_slack.text), "ts": "1714600001.000200"},
        ]))
        .unwrap(),
    );
    env.write(
        "tickets.jsonl",
        format!(
            "{}\nnot json at all\n{}\n",
            serde_json::json!({"key": "OPS-1", "fields": {"body": "nothing here"}, "queue": "ops"}),
            serde_json::json!({"key": "OPS-2", "fields": {"body": format!("token {}", in_ticket.secret)}, "queue": "ops", "reporter": "dana"}),
        ),
    );
    let run = env.run(&[
        "scan",
        "--format",
        "json",
        "--verbose",
        "--slack-export",
        env.path("slack").to_str().unwrap(),
        "--messages",
        env.path("tickets.jsonl").to_str().unwrap(),
        "--map",
        "text=fields.body",
        "--map",
        "id=key",
        "--map",
        "channel=queue",
        "--map",
        "author=reporter",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let slack = &finding_for(&report, in_slack.rule).unwrap()["locations"][0];
    assert_eq!(slack["type"], "message");
    assert_eq!(slack["channel"], "deploys");
    assert_eq!(slack["message"], "1714600001.000200");
    assert_eq!(slack["author"], "U456");
    assert_eq!(slack["line"], 2);
    let ticket = &finding_for(&report, in_ticket.rule).unwrap()["locations"][0];
    assert_eq!(
        (
            ticket["message"].as_str(),
            ticket["channel"].as_str(),
            ticket["author"].as_str()
        ),
        (Some("OPS-2"), Some("ops"), Some("dana"))
    );
    assert_eq!(report["stats"]["messages"], 4);
    let bad = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["what"].as_str().unwrap().ends_with("tickets.jsonl:2"))
        .expect("the bad line is reported with file:line");
    assert!(bad["reason"].as_str().unwrap().starts_with("invalid JSON"));
}

#[test]
fn sarif_output_validates_against_the_sarif_2_1_0_schema() {
    let env = Env::new();
    let mut rng = Rng::new(19);
    let mut text = String::new();
    for planted in secrets::assorted(&mut rng) {
        text.push_str(&planted.text);
        text.push('\n');
    }
    env.write("s/dir with space/config.txt", &text);
    let run = env.run(&["scan", env.path("s").to_str().unwrap(), "--format", "sarif"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let sarif: Value = serde_json::from_str(&run.stdout).unwrap();
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/schemas/sarif-schema-2.1.0.json");
    let schema_path = if schema_path.exists() {
        schema_path
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sarif-schema-2.1.0.json")
    };
    let schema: Value = serde_json::from_slice(&std::fs::read(&schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF does not validate: {errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() >= 6, "{results:#?}");
    assert!(results.iter().all(|r| {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .contains("dir%20with%20space/config.txt")
    }));
}

/// PostgreSQL for the store checks: mandatory under CI=true, skipped with a notice elsewhere.
fn postgres_database(name: &str) -> Option<String> {
    evict_testkit::postgres::fresh_database(name)
        .map_err(|why| evict_testkit::servers::missing("PostgreSQL", why))
        .ok()
}

#[test]
fn no_plaintext_secret_in_any_output_or_either_store() {
    let env = Env::new();
    let examples = evict_scan::rules::example_secrets(&evict_scan::RuleSet::builtin().unwrap());
    // (rule, plaintext): secrets under 8 characters are left out, as they could occur by chance.
    let mut plaintexts: Vec<(String, String)> = Vec::new();
    for (n, (rule, example, secrets)) in examples.iter().enumerate() {
        env.write(&format!("plant/{rule}/{n}.txt"), format!("{example}\n"));
        plaintexts.extend(
            secrets
                .iter()
                .filter(|s| s.len() >= 8)
                .map(|s| (rule.clone(), s.clone())),
        );
    }
    let mut rng = Rng::new(23);
    for planted in secrets::assorted(&mut rng) {
        env.write(
            &format!("plant/testkit/{}.txt", planted.rule),
            format!("{}\n", planted.text),
        );
        plaintexts.push((planted.rule.to_string(), planted.secret));
    }
    zip_with(
        &env.path("plant/all.zip"),
        &[(
            "all.txt",
            std::fs::read(env.path("plant/testkit/github.pat.classic.txt"))
                .unwrap()
                .as_slice(),
        )],
    );
    assert!(
        plaintexts.len() >= 80,
        "every rule contributes a planted secret"
    );
    let target = env.path("plant");
    let target = target.to_str().unwrap();

    let mut outputs = Vec::new();
    for format in ["table", "json", "sarif"] {
        let run = env.run(&["scan", target, "--format", format, "--verbose"]);
        assert_eq!(run.code, 1, "{format}: {}", run.stderr);
        outputs.push((format!("scan --format {format}"), run.stdout + &run.stderr));
    }
    let stored = env.run(&["scan", target, "--store", "--format", "json"]);
    assert_eq!(stored.code, 1, "{}", stored.stderr);
    let report = stored.json();
    let rules_found: std::collections::HashSet<&str> = findings(&report)
        .iter()
        .flat_map(|f| {
            std::iter::once(f["rule"].as_str().unwrap()).chain(
                f["also_matched"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| r.as_str().unwrap()),
            )
        })
        .collect();
    for (rule, _, _) in &examples {
        assert!(
            rules_found.contains(rule.as_str()),
            "rule {rule} found nothing in its own planted example"
        );
    }
    assert!(
        report["stored"]["credentials_new"].as_u64().unwrap() >= 80,
        "{:#}",
        report["stored"]
    );
    outputs.push(("scan --store".into(), stored.stdout + &stored.stderr));
    let listed = env.run(&["inventory", "list", "--format", "json"]);
    outputs.push(("inventory list".into(), listed.stdout + &listed.stderr));

    let mut sqlite = Vec::new();
    for file in ["evict.db", "evict.db-wal"] {
        if let Ok(bytes) = std::fs::read(env.home().join(file)) {
            sqlite.extend(bytes);
        }
    }
    assert!(sqlite.len() > 4096, "the SQLite store was written");
    let sqlite = String::from_utf8_lossy(&sqlite).into_owned();
    outputs.push(("SQLite file".into(), sqlite));

    if let Some(url) = postgres_database("evict_scan_plaintext") {
        let run = env.run_with(
            &["scan", target, "--store", "--format", "json"],
            &[("EVICT_DATABASE_URL", &url)],
        );
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.json()["stored"]["locations_new"].as_u64().unwrap() >= 80);
        let dump = Process::new("pg_dump")
            .args(["--data-only", url.as_str()])
            .output()
            .unwrap();
        assert!(
            dump.status.success(),
            "{}",
            String::from_utf8_lossy(&dump.stderr)
        );
        let dump = String::from_utf8_lossy(&dump.stdout).into_owned();
        assert!(
            dump.contains("secret_locations"),
            "the dump holds the scan's tables"
        );
        outputs.push(("PostgreSQL dump".into(), dump));
    }

    for (name, text) in &outputs {
        for (rule, secret) in &plaintexts {
            if let Some(at) = text.find(secret.as_str()) {
                let context = &text[text[..at].rfind('\n').map_or(0, |p| p + 1)..at];
                panic!(
                    "{name} contains a plaintext secret of rule {rule} (preview {}) after {context:?}",
                    evict_model::redacted_preview(secret)
                );
            }
        }
    }
}

#[test]
fn stored_secrets_link_to_the_inventory_credential_with_the_same_key_id() {
    let env = Env::new();
    let pair = secrets::aws_key_pair(&mut Rng::new(29));
    let key_id = pair.native_id.clone().unwrap();
    env.write(
        "inventory.jsonl",
        format!(
            "{}\n{}\n",
            serde_json::json!({"record": "identity", "provider": "aws", "external_id": "arn:aws:iam::123456789012:user/ci", "name": "ci", "kind": "service"}),
            serde_json::json!({"record": "credential", "provider": "aws", "external_id": key_id, "identity": "arn:aws:iam::123456789012:user/ci", "kind": "access_key", "status": "active"}),
        ),
    );
    let import = env.run(&[
        "import",
        "inventory",
        env.path("inventory.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(import.code, 0, "{}{}", import.stdout, import.stderr);
    env.write("leak/credentials", format!("{}\n", pair.text));
    let first = env
        .run(&[
            "scan",
            env.path("leak").to_str().unwrap(),
            "--store",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(
        first["stored"]["credentials_linked"], 1,
        "{:#}",
        first["stored"]
    );
    assert_eq!(first["stored"]["credentials_new"], 0);
    let finding = finding_for(&first, pair.rule).unwrap();
    assert_eq!(finding["native_id"], key_id.as_str());
    let shown = env
        .run(&[
            "inventory",
            "show",
            &format!("aws:{key_id}"),
            "--format",
            "json",
        ])
        .json();
    assert!(
        shown
            .to_string()
            .contains(finding["fingerprint"].as_str().unwrap()),
        "the inventory credential learnt the fingerprint: {shown:#}"
    );
    let again = env
        .run(&[
            "scan",
            env.path("leak").to_str().unwrap(),
            "--store",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(again["stored"]["credentials_known"], 1);
    assert_eq!(again["stored"]["locations_new"], 0);
    assert_eq!(again["stored"]["locations_again"], 1);
    let journal = env.run(&["journal", "verify"]);
    assert_eq!(journal.code, 0, "{}", journal.stdout);
}

#[test]
fn the_projects_own_tree_scans_clean() {
    let env = Env::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let run = env.run(&["scan", root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(run.code, 0, "the repository has findings:\n{}", run.stdout);
    assert!(findings(&run.json()).is_empty());
}

/// `git` in `dir` with a fixed identity and no user configuration.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Process::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Dana Dev")
        .env("GIT_AUTHOR_EMAIL", "dana@example.invalid")
        .env("GIT_COMMITTER_NAME", "Dana Dev")
        .env("GIT_COMMITTER_EMAIL", "dana@example.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn git_history_finds_a_removed_secret_at_its_first_commit_with_the_commits_that_kept_it() {
    let env = Env::new();
    let repo = env.path("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    let planted = secrets::github_classic(&mut Rng::new(31));
    let mut commits = Vec::new();
    std::fs::write(
        repo.join("deploy.sh"),
        format!("#!/bin/sh\nexport {}\n", planted.text),
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "add deploy"]);
    commits.push(git(&repo, &["rev-parse", "HEAD"]));
    for n in 0..2 {
        std::fs::write(repo.join("README"), format!("revision {n}\n")).unwrap();
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "docs"]);
        commits.push(git(&repo, &["rev-parse", "HEAD"]));
    }
    std::fs::remove_file(repo.join("deploy.sh")).unwrap();
    git(&repo, &["commit", "-q", "-am", "remove the token"]);

    let (tree_code, tree) = scan_json(&env, &repo, &[]);
    assert_eq!(
        (tree_code, findings(&tree).len()),
        (0, 0),
        "the work tree no longer has it"
    );
    let (code, report) = scan_json(&env, &repo, &["--git"]);
    assert_eq!(code, 1);
    let finding = finding_for(&report, planted.rule).expect("history still holds the token");
    let places = finding["locations"].as_array().unwrap();
    assert_eq!(places.len(), 1, "one blob, one location: {places:#?}");
    let place = &places[0];
    assert_eq!(place["type"], "git");
    assert_eq!(place["commit"], commits[0].as_str());
    assert_eq!(place["path"], "deploy.sh");
    assert_eq!(place["line"], 2);
    assert_eq!(place["author"], "Dana Dev <dana@example.invalid>");
    assert_eq!(place["date"], "2026-01-02T03:04:05Z");
    assert_eq!(
        place["also_in"],
        serde_json::json!([commits[1], commits[2]])
    );
    assert_eq!(
        report["stats"]["blobs"], 3,
        "deploy.sh and two README versions, each once"
    );

    // A shallow clone is scanned as far as it goes, and says so.
    let shallow = env.path("shallow");
    git(
        env.dir.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &format!("file://{}", repo.display()),
            shallow.to_str().unwrap(),
        ],
    );
    let run = env.run(&[
        "scan",
        shallow.to_str().unwrap(),
        "--git",
        "--format",
        "json",
        "--verbose",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let skipped = run.json()["skipped"].to_string();
    assert!(skipped.contains("shallow clone"), "{skipped}");
}

#[test]
fn a_corrupt_object_is_reported_and_the_rest_of_history_still_scanned() {
    let env = Env::new();
    let repo = env.path("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    let mut rng = Rng::new(37);
    let kept = secrets::slack_bot(&mut rng);
    let damaged = secrets::stripe_live(&mut rng);
    std::fs::write(repo.join("a.txt"), format!("{}\n", kept.text)).unwrap();
    std::fs::write(repo.join("b.txt"), format!("{}\n", damaged.text)).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "two files"]);
    let blob = git(&repo, &["rev-parse", "HEAD:b.txt"]);
    let object = repo.join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    let mut perms = std::fs::metadata(&object).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(&object, perms).unwrap();
    let mut bytes = std::fs::read(&object).unwrap();
    for b in bytes.iter_mut().skip(2) {
        *b ^= 0x5a;
    }
    std::fs::write(&object, bytes).unwrap();

    let run = env.run(&[
        "scan",
        repo.to_str().unwrap(),
        "--git",
        "--format",
        "json",
        "--verbose",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert!(
        finding_for(&report, kept.rule).is_some(),
        "the intact blob is scanned"
    );
    assert!(finding_for(&report, damaged.rule).is_none());
    let skipped = report["skipped"].to_string();
    assert!(
        skipped.contains(&blob[..12]) && skipped.contains("unreadable object"),
        "{skipped}"
    );
}

#[test]
fn pre_commit_mode_scans_only_what_is_staged() {
    let env = Env::new();
    let repo = env.path("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("clean.txt"), "nothing\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "start"]);
    let mut rng = Rng::new(41);
    let staged = secrets::github_classic(&mut rng);
    let unstaged = secrets::slack_bot(&mut rng);
    std::fs::write(repo.join("config.env"), format!("{}\n", staged.text)).unwrap();
    git(&repo, &["add", "config.env"]);
    std::fs::write(repo.join("notes.txt"), format!("{}\n", unstaged.text)).unwrap();

    let run = env.run(&[
        "scan",
        "--staged",
        repo.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(findings(&report).len(), 1, "{report:#}");
    let place = &finding_for(&report, staged.rule).unwrap()["locations"][0];
    assert_eq!(
        (place["path"].as_str(), place["line"].as_u64()),
        (Some("config.env"), Some(1))
    );

    git(&repo, &["reset", "-q", "config.env"]);
    let run = env.run(&["scan", "--staged", repo.to_str().unwrap()]);
    assert_eq!(run.code, 0, "nothing staged, nothing found: {}", run.stdout);
}
