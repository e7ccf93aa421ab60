//! End-to-end tests of the incident report: the signed report verifies and any one-byte edit
//! makes verification fail; the HTML report renders its sections in headless Chromium (Debian
//! chromium driven by playwright-core, installed by .ci/run) without asking the network for
//! anything, and a screenshot is saved.
#![allow(clippy::unwrap_used)] // tests fail loudly at the line that broke

mod common;

use std::path::{Path, PathBuf};

use common::Env;
use evict_testkit::logs::attack_plan;
use serde_json::Value;

/// The report's sections, in order (ids the renderer must give them).
const SECTIONS: &[&str] = &[
    "summary",
    "timeline",
    "artifacts",
    "plan",
    "exceptions",
    "journal",
    "mapping",
];

/// An organisation with the planted attack, hunted and stored, an incident with a plan, one
/// attestation and one exception.
fn incident_with_a_plan(env: &Env) {
    let data = env.organisation(&["--users", "10", "--logs", "2000"]);
    let plan = attack_plan();
    env.run(&[
        "hunt",
        data.to_str().unwrap(),
        "--compromised-at",
        "2026-05-22",
        "--patched-at",
        "2026-05-26",
        "--ioc-ip",
        plan.attacker_ip,
        "--store",
        "-q",
    ]);
    let open = env.run(&[
        "incident",
        "open",
        "report-me",
        "--compromised-at",
        "2026-05-22",
        "--patched-at",
        "2026-05-26",
        "--scope",
        "provider:aws",
        "--ioc-ip",
        plan.attacker_ip,
    ]);
    assert_eq!(open.code, 0, "{}", open.stderr);
    let planned = env.run(&["incident", "plan", "report-me", "--format", "json"]);
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    let steps = planned.json()["plan"]["steps"].as_array().unwrap().clone();
    let validate = steps.iter().find(|s| s["tier"] == "validate").unwrap();
    let kill = steps.iter().find(|s| s["tier"] == "kill").unwrap();
    let attest = env.run(&[
        "incident",
        "attest",
        "report-me",
        validate["artifact"].as_str().unwrap(),
        "--by",
        "dana",
        "--note",
        "checked with the owner",
    ]);
    assert_eq!(attest.code, 0, "{}", attest.stderr);
    let except = env.run(&[
        "incident",
        "except",
        "report-me",
        kill["artifact"].as_str().unwrap(),
        "--owner",
        "sam",
        "--approver",
        "lee",
        "--reason",
        "<script>alert(1)</script> kept for forensics",
        "--expires",
        "2026-07-01",
    ]);
    assert_eq!(except.code, 0, "{}", except.stderr);
}

fn written_path(run: &common::Run) -> PathBuf {
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let line = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("report written to "))
        .unwrap_or_else(|| panic!("no path printed: {}", run.stdout));
    PathBuf::from(line.trim())
}

fn verify(env: &Env, file: &Path) -> common::Run {
    env.run(&["report", "verify", file.to_str().unwrap()])
}

#[test]
fn a_signed_report_verifies_and_any_edit_breaks_it() {
    let env = Env::new();
    incident_with_a_plan(&env);
    let unsigned = env.run(&["incident", "report", "report-me"]);
    let unsigned_path = written_path(&unsigned);
    assert!(
        unsigned.stdout.contains("not signed"),
        "{}",
        unsigned.stdout
    );
    assert!(
        !std::fs::read_to_string(&unsigned_path)
            .unwrap()
            .contains("evict-signature")
    );

    let keys = env.run(&["keys", "init", "--format", "json"]);
    assert_eq!(keys.code, 0, "{}", keys.stderr);
    let fingerprint = keys.json()["fingerprint"].as_str().unwrap().to_string();
    let again = env.run(&["keys", "init"]);
    assert_eq!(again.code, 2, "a second init must not replace the key");

    for format in ["html", "md", "json"] {
        let out = env.path(&format!("report.{format}"));
        let run = env.run(&[
            "incident",
            "report",
            "report-me",
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
        ]);
        let path = written_path(&run);
        assert_eq!(path, out);
        assert!(run.stdout.contains(&fingerprint), "{}", run.stdout);
        let ok = verify(&env, &path);
        assert_eq!(ok.code, 0, "{format}: {}", ok.stdout);
        assert!(ok.stdout.contains("signature OK"));

        // One byte changed anywhere in the body (start, middle, end) fails verification.
        let original = std::fs::read(&path).unwrap();
        let body_len = if format == "json" {
            original.len()
        } else {
            original[..original.len() - 1]
                .iter()
                .rposition(|&b| b == b'\n')
                .unwrap()
        };
        for at in [0, body_len / 2, body_len - 1] {
            let mut edited = original.clone();
            edited[at] ^= 0x01;
            std::fs::write(&path, &edited).unwrap();
            let bad = verify(&env, &path);
            assert_eq!(bad.code, 1, "{format}: an edit at byte {at} verified");
            assert!(bad.stdout.contains("NOT VERIFIED"), "{}", bad.stdout);
        }
        std::fs::write(&path, &original).unwrap();
        assert_eq!(verify(&env, &path).code, 0);
    }

    // Another installation's key does not vouch for this report.
    let other = Env::new();
    assert_eq!(other.run(&["keys", "init"]).code, 0);
    let foreign = other.run(&[
        "report",
        "verify",
        env.path("report.html").to_str().unwrap(),
    ]);
    assert_eq!(foreign.code, 1);
    assert!(foreign.stdout.contains(&fingerprint), "{}", foreign.stdout);
    // Every report written is in the journal, which still verifies.
    assert_eq!(env.run(&["journal", "verify"]).code, 0);
}

/// Debian's chromium and the project's playwright-core, or why they cannot be used.
fn browser() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser");
    if !Path::new("/usr/bin/chromium").exists() {
        return Err("/usr/bin/chromium is missing (apt-get install chromium)".into());
    }
    if !dir.join("node_modules/playwright-core").exists() {
        return Err(format!(
            "playwright-core is missing (cd {} && npm ci)",
            dir.display()
        ));
    }
    Ok(dir)
}

#[test]
fn the_html_report_renders_every_section_in_chromium_and_asks_the_network_for_nothing() {
    let dir = match browser() {
        Ok(dir) => dir,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and the browser is not there: {why}")
        }
        Err(why) => {
            eprintln!("skipping the browser test outside CI: {why}");
            return;
        }
    };
    let env = Env::new();
    incident_with_a_plan(&env);
    let out = env.path("report.html");
    written_path(&env.run(&[
        "incident",
        "report",
        "report-me",
        "--out",
        out.to_str().unwrap(),
    ]));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(
        !html.contains("<script>alert(1)</script>"),
        "text from the store was not escaped"
    );
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("incident-report.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut args = vec![
        dir.join("check-report.mjs").display().to_string(),
        out.display().to_string(),
        screenshot.display().to_string(),
    ];
    args.extend(SECTIONS.iter().map(|s| s.to_string()));
    let run = std::process::Command::new("node")
        .args(&args)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "chromium check failed: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let result: Value = serde_json::from_slice(&run.stdout).unwrap();
    for id in SECTIONS {
        let section = &result["sections"][id];
        assert_eq!(section["count"], 1, "section {id}: {result}");
        assert!(
            section["heading"].as_str().is_some_and(|h| !h.is_empty()),
            "section {id} has no heading: {result}"
        );
        assert!(
            section["height"].as_u64().unwrap() > 10,
            "section {id} is not rendered"
        );
    }
    assert_eq!(
        result["external_requests"],
        Value::Array(vec![]),
        "{result}"
    );
    assert_eq!(result["console_errors"], Value::Array(vec![]), "{result}");
    assert!(
        result["svg_markers"].as_u64().unwrap() > 5,
        "the timeline is empty: {result}"
    );
    let png = std::fs::metadata(&screenshot).unwrap();
    assert!(
        png.len() > 10_000,
        "screenshot too small: {} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", screenshot.display());
}
