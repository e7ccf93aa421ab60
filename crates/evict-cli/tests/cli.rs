//! End-to-end tests of the `evict` binary on generated data with known ground truth.
#![allow(clippy::unwrap_used)] // tests fail loudly at the line that broke

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use evict_testkit::{InventoryFormat, REFERENCE_NOW, write_credential_report, write_inventory};
use predicates::prelude::*;
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn evict(&self) -> Command {
        let mut cmd = Command::cargo_bin("evict").unwrap();
        cmd.env("EVICT_HOME", self.dir.path().join("home"))
            .env_remove("EVICT_DATABASE_URL")
            .env("EVICT_NOW", REFERENCE_NOW)
            .env("NO_COLOR", "1")
            .env("COLUMNS", "200");
        cmd
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn report(&self, users: u64) -> (PathBuf, evict_testkit::ReportTruth) {
        let path = self.path("report.csv");
        let mut out = Vec::new();
        let truth = write_credential_report(42, users, &mut out).unwrap();
        std::fs::write(&path, out).unwrap();
        (path, truth)
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self
            .evict()
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "evict {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn stats(&self) -> Value {
        self.json(&["inventory", "stats"])
    }
}

fn import_json(env: &Env, kind: &str, file: &Path) -> (i32, Value, String) {
    let out = env
        .evict()
        .args(["import", kind])
        .arg(file)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stdout: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_tells_the_story_offline() {
    let env = Env::new();
    env.evict()
        .args(["demo", "--users", "50", "--inventory-rows", "200"])
        .assert()
        .success()
        .stdout(predicate::str::contains("re-imports change nothing"))
        .stdout(predicate::str::contains("intact, head"))
        .stdout(predicate::str::contains("password users without MFA"));
}

#[test]
fn importing_a_credential_report_twice_changes_nothing() {
    let env = Env::new();
    let (report, truth) = env.report(400);
    let (code, first, _) = import_json(&env, "aws-credential-report", &report);
    assert_eq!(code, 0);
    assert_eq!(first[0]["rows"], truth.users);
    assert_eq!(
        first[0]["inserted"],
        truth.users + truth.passwords + truth.access_keys + truth.certificates
    );
    let (code, second, _) = import_json(&env, "aws-credential-report", &report);
    assert_eq!(code, 0);
    assert_eq!(second[0]["inserted"], 0);
    assert_eq!(second[0]["updated"], 0);
    assert_eq!(second[0]["unchanged"], first[0]["inserted"]);
    assert_eq!(second[0]["journal_entries"], 0);

    let stats = env.stats();
    assert_eq!(stats["identities"], truth.users);
    assert_eq!(stats["active_access_keys"], truth.active_access_keys);
    assert_eq!(
        stats["access_keys_unused_90d"],
        truth.access_keys_unused_90d
    );
    assert_eq!(
        stats["access_keys_older_365d"],
        truth.access_keys_older_365d
    );
    assert_eq!(
        stats["password_users_without_mfa"],
        truth.password_users_without_mfa
    );
    env.evict()
        .args(["journal", "verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("journal intact: 1 entries"));
}

#[test]
fn list_filters_agree_with_the_ground_truth() {
    let env = Env::new();
    let (report, truth) = env.report(300);
    env.evict()
        .args(["import", "aws-credential-report"])
        .arg(&report)
        .assert()
        .success();
    let unused = env.json(&[
        "inventory",
        "list",
        "--kind",
        "access_key",
        "--status",
        "active",
        "--unused-days",
        "90",
    ]);
    assert_eq!(
        unused.as_array().unwrap().len() as u64,
        truth.access_keys_unused_90d
    );
    let old = env.json(&[
        "inventory",
        "list",
        "--kind",
        "access-key",
        "--status",
        "active",
        "--older-days",
        "365",
    ]);
    assert_eq!(
        old.as_array().unwrap().len() as u64,
        truth.access_keys_older_365d
    );
    let persistent = env.json(&["inventory", "list", "--kind", "access_key", "--persistent"]);
    assert_eq!(
        persistent.as_array().unwrap().len() as u64,
        truth.access_keys
    );
    let limited = env.json(&["inventory", "list", "--limit", "7"]);
    assert_eq!(limited.as_array().unwrap().len(), 7);
    let root = env.json(&["inventory", "list", "--identities", "--kind", "root"]);
    assert_eq!(root.as_array().unwrap().len(), 1);
    assert_eq!(root[0]["privilege"], "admin");

    // show by provider:external id and by evict id
    let shown = env.json(&["inventory", "show", "aws:arn:aws:iam::123456789012:root"]);
    assert_eq!(shown["type"], "identity");
    let id = shown["identity"]["id"].as_str().unwrap().to_string();
    let again = env.json(&["inventory", "show", &id]);
    assert_eq!(again["identity"]["name"], "<root_account>");
    env.evict()
        .args(["inventory", "show", "i_0000000000000000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "nothing in the store has id 'i_0000000000000000'",
        ));
    env.evict()
        .args(["inventory", "list", "--kind", "api-key"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "'api-key' is not a known credential kind",
        ));
}

#[test]
fn generic_inventory_in_csv_and_json_lines() {
    let env = Env::new();
    for (name, format) in [
        ("inv.csv", InventoryFormat::Csv),
        ("inv.jsonl", InventoryFormat::JsonLines),
    ] {
        let path = env.path(name);
        let mut out = Vec::new();
        let truth = write_inventory(9, 3000, format, &mut out).unwrap();
        std::fs::write(&path, out).unwrap();
        let (code, summary, stderr) = import_json(&env, "inventory", &path);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(summary[0]["rows"], truth.rows);
        assert_eq!(summary[0]["rejected"], 0);
        let stats = env.stats();
        assert_eq!(stats["identities"], truth.identities);
        assert_eq!(stats["credentials"], truth.credentials);
        assert_eq!(stats["persistent_credentials"], truth.persistent_active);
    }
    // The same organisation as CSV and as JSON lines is the same records: the second import
    // changed nothing.
    let journal = env.json(&["journal", "verify"]);
    assert_eq!(journal["entries"], 2);
}

/// Every kind of bad input: a clear message with file and line, no panic, and nothing
/// already imported is lost.
#[test]
fn bad_input_is_reported_precisely_and_loses_nothing() {
    let env = Env::new();
    let (report, truth) = env.report(100);
    env.evict()
        .args(["import", "aws-credential-report"])
        .arg(&report)
        .assert()
        .success();
    let baseline = env.stats();
    let text = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header = lines[0];

    let missing = env.path("does-not-exist.csv");
    env.evict()
        .args(["import", "aws-credential-report"])
        .arg(&missing)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does-not-exist.csv: no such file"));

    let empty = env.path("empty.csv");
    std::fs::write(&empty, "").unwrap();
    env.evict()
        .args(["import", "aws-credential-report"])
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("empty.csv: is empty"));

    let wrong = env.path("wrong-header.csv");
    std::fs::write(
        &wrong,
        format!("{}\n{}\n", header.replace("mfa_active", "mfa"), lines[2]),
    )
    .unwrap();
    env.evict()
        .args(["import", "aws-credential-report"])
        .arg(&wrong)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "wrong-header.csv:1: header is missing 1 of the report's 22 columns: mfa_active",
        ));

    let not_a_report = env.path("people.csv");
    std::fs::write(&not_a_report, "name,email\nalice,alice@example.com\n").unwrap();
    env.evict()
        .args(["import", "aws-credential-report"])
        .arg(&not_a_report)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "does not look like an AWS credential report",
        ));

    // A reordered header is matched by name, with a warning, and gives the same records.
    let reordered = env.path("reordered.csv");
    let swap = |line: &str| {
        let mut f: Vec<&str> = line.split(',').collect();
        f.swap(0, 2);
        f.join(",")
    };
    let body: Vec<String> = lines.iter().map(|l| swap(l)).collect();
    std::fs::write(&reordered, body.join("\n")).unwrap();
    let (code, summary, stderr) = import_json(&env, "aws-credential-report", &reordered);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("reordered.csv:1: columns are not in AWS's order"),
        "{stderr}"
    );
    assert_eq!(
        summary[0]["unchanged"],
        baseline["identities"].as_u64().unwrap() + baseline["credentials"].as_u64().unwrap()
    );

    // Row-level problems: each row rejected with file:line and reason, the rest imported.
    let mut rows = vec![header.to_string()];
    let fresh = |n: usize, l: &str| {
        l.replace("user/", &format!("user/bad{n}-"))
            .replacen(",", &format!("-bad{n},"), 1)
    };
    rows.push(fresh(1, lines[2])); // line 2: fine
    let mut f: Vec<String> = fresh(2, lines[3]).split(',').map(String::from).collect();
    f[2] = "03/01/2024 10:00".into();
    rows.push(f.join(",")); // line 3: date in another format
    let mut f: Vec<String> = fresh(3, lines[4]).split(',').map(String::from).collect();
    f[7] = "yes".into();
    rows.push(f.join(",")); // line 4: non-boolean
    rows.push(fresh(4, lines[5])); // line 5: fine
    let bad = env.path("bad-rows.csv");
    let mut bytes = rows.join("\n").into_bytes();
    bytes.extend_from_slice(b"\n\xff\xfe-not-utf8,");
    bytes.extend_from_slice(fresh(5, lines[6]).split_once(',').unwrap().1.as_bytes()); // line 6: invalid UTF-8
    bytes.extend_from_slice(b"\n");
    bytes.extend(std::iter::repeat_n(b'x', 100 * 1024 * 1024)); // line 7: a 100 MB line
    bytes.extend_from_slice(b"\n");
    bytes.extend_from_slice(fresh(6, lines[7]).as_bytes()); // line 8: fine
    bytes.extend_from_slice(b"\n");
    let truncated_row = fresh(7, lines[8]);
    bytes.extend_from_slice(&truncated_row.as_bytes()[..truncated_row.len() / 2]); // line 9: cut off
    std::fs::write(&bad, &bytes).unwrap();
    drop(bytes);
    let (code, summary, stderr) = import_json(&env, "aws-credential-report", &bad);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(summary[0]["rows"], 8);
    assert_eq!(summary[0]["rejected"], 5, "{stderr}");
    for expected in [
        "bad-rows.csv:3: rejected: column user_creation_time: '03/01/2024 10:00' is not an ISO 8601 time",
        "bad-rows.csv:4: rejected: column mfa_active: expected true or false, found 'yes'",
        "bad-rows.csv:6: rejected: field 1 is not valid UTF-8",
        "bad-rows.csv:7: rejected: record is longer than 1048576 bytes",
        "bad-rows.csv:9: rejected: expected 22 fields as in the header, found",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    let after = env.stats();
    assert_eq!(
        after["identities"].as_u64().unwrap(),
        truth.users + 3,
        "three good rows added, nothing lost"
    );
    env.evict().args(["journal", "verify"]).assert().success();

    // A generic inventory with an unknown column is refused before anything is written.
    let inv = env.path("inv.csv");
    std::fs::write(
        &inv,
        "record,provider,external_id,kind,expiry\nidentity,okta,u1,human,2026-01-01\n",
    )
    .unwrap();
    env.evict()
        .args(["import", "inventory"])
        .arg(&inv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "inv.csv:1: unknown column(s) expiry",
        ));
    assert_eq!(env.stats()["identities"], after["identities"]);
}

#[test]
fn a_tampered_journal_is_named_by_verify() {
    let env = Env::new();
    let (report, _) = env.report(3000);
    env.evict()
        .args(["import", "aws-credential-report"])
        .arg(&report)
        .assert()
        .success();
    env.evict().args(["journal", "verify"]).assert().success();
    let db = env.dir.path().join("home").join("evict.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = evict_store::Store::open_sqlite_file(&db).await.unwrap();
        store.execute_raw("UPDATE journal SET body = replace(body, '\"inserted\"', '\"inserted_\"') WHERE seq = 1").await.unwrap();
        store.close().await;
    });
    env.evict()
        .args(["journal", "verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "journal BROKEN at entry 1: its contents do not match its hash",
        ));
}

#[test]
fn an_unusable_database_url_is_a_clear_error() {
    let env = Env::new();
    env.evict()
        .env("EVICT_DATABASE_URL", "mysql://root:hunter2@localhost/evict") // evict:allow: a made-up password for the redaction test
        .args(["inventory", "stats"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "EVICT_DATABASE_URL must be a postgres://",
        ))
        .stderr(predicate::str::contains("hunter2").not());
}

#[test]
fn stats_table_snapshot() {
    let env = Env::new();
    let (report, _) = env.report(250);
    let inv = env.path("inv.csv");
    let mut out = Vec::new();
    write_inventory(5, 800, InventoryFormat::Csv, &mut out).unwrap();
    std::fs::write(&inv, out).unwrap();
    env.evict()
        .args(["import", "aws-credential-report"])
        .arg(&report)
        .assert()
        .success();
    env.evict()
        .args(["import", "inventory"])
        .arg(&inv)
        .assert()
        .success();
    let out = env.evict().args(["inventory", "stats"]).output().unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}
