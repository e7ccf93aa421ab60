//! `evict demo --live`: the incident story on real local servers that the command starts and
//! stops itself. The ground truth is asserted from what the servers themselves said before and
//! after (read back by the demo directly, not through Evict), from the store's actions and
//! evidence, and from outside: once the command has exited, none of the ports it served on
//! accepts a connection — also after a Ctrl-C in the middle of the story. Without the servers'
//! programs it starts nothing and names each install command.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use evict_testkit::servers::missing;
use serde_json::Value;

/// The demo keeps its store in the temporary folder after it ends: a test's goes with the test.
struct Run {
    tmp: tempfile::TempDir,
}

fn run() -> Run {
    Run {
        tmp: tempfile::tempdir().unwrap(),
    }
}

impl Run {
    fn evict(&self) -> Command {
        let mut cmd = evict();
        cmd.env("TMPDIR", self.tmp.path());
        cmd
    }
}

fn evict() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("evict"));
    cmd.env_remove("EVICT_DATABASE_URL")
        .env_remove("EVICT_DEMO_POSTGRES_URL")
        .env_remove("EVICT_NOW")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200");
    cmd
}

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_millis(300),
    )
    .is_ok()
}

/// The demo said a server is not installed: under CI a failure, elsewhere a skip.
fn not_installed(code: i32, stderr: &str) -> bool {
    if code == 2 && stderr.contains("not installed; nothing was started") {
        missing("the servers of evict demo --live", stderr);
        return true;
    }
    false
}

#[test]
fn the_live_story_revokes_and_proves_every_foothold_and_leaves_no_server_running() {
    let started = Instant::now();
    let run = run();
    let out = run
        .evict()
        .args(["demo", "--live", "--format", "json"])
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if not_installed(code, &stderr) {
        return;
    }
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let story: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("one JSON document on stdout ({e}): {stdout}"));

    // Before containment every foothold worked, by the servers' own word.
    let before = &story["before"];
    assert_eq!(
        before["postgres"]["login_with_its_password"]["accepted"],
        true
    );
    assert_eq!(before["postgres"]["held_session"]["query"]["answers"], true);
    assert_eq!(before["postgres"]["rolcanlogin"], true);
    assert_eq!(before["aws"]["status"], "Active");
    assert_eq!(before["oauth"]["active"], true);
    assert_eq!(before["scim"]["active"], true);

    // After it, none does.
    let after = &story["after"];
    let pg = &after["postgres"];
    assert_eq!(pg["rolcanlogin"], false, "{pg}");
    assert_eq!(pg["login_with_its_password"]["accepted"], false, "{pg}");
    assert_eq!(pg["held_session"]["query"]["answers"], false, "{pg}");
    assert_eq!(pg["sessions_of_the_role"], serde_json::json!([]), "{pg}");
    assert_eq!(after["aws"]["status"], "Inactive", "{after}");
    assert_eq!(after["oauth"]["active"], false, "{after}");
    assert_eq!(after["scim"]["active"], false, "{after}");
    assert_eq!(story["all_dead"], true);

    // Every action done, every artifact proven by its connector's probe, on all four providers.
    let outcome = story["outcome"].as_array().unwrap();
    for row in outcome {
        assert_eq!(row["state"], "done", "{row}");
        assert_eq!(row["verdict"], "verified_revoked", "{row}");
    }
    let providers: std::collections::BTreeSet<&str> = outcome
        .iter()
        .map(|r| r["provider"].as_str().unwrap())
        .collect();
    for p in ["postgres", "aws", "oauth", "scim"] {
        assert!(providers.contains(p), "no action on {p}: {providers:?}");
    }
    let pg_disable = outcome
        .iter()
        .find(|r| {
            r["provider"] == "postgres" && r["target"].as_str().unwrap().starts_with("identity")
        })
        .expect("the attacker's role is disabled");
    assert_eq!(pg_disable["then"][0], "terminate_sessions (done)");
    assert_eq!(story["all_verified"], true);

    // The gate refused to close on the providers' answers, and closed on the evidence.
    assert_eq!(story["incident"]["refused_before_verify"], true);
    assert_eq!(story["incident"]["closed"], true);
    let steps = story["steps"].as_array().unwrap();
    let command = |c: &str| {
        steps
            .iter()
            .filter(|s| s["command"].as_str().unwrap().starts_with(c))
            .collect::<Vec<_>>()
    };
    let contains = command("evict incident contain");
    assert_eq!(contains.len(), 2);
    assert_eq!(contains[0]["output"]["execute"], false);
    assert_eq!(contains[1]["output"]["execute"], true);
    let closes = command("evict incident close");
    assert_eq!(closes[0]["exit"], 1);
    assert_eq!(closes[0]["output"]["closed"], false);
    assert_eq!(closes[1]["output"]["closed"], true);
    for sync in ["postgres", "aws", "scim"] {
        assert_eq!(command(&format!("evict sync {sync}")).len(), 1);
    }
    let scan = &command("evict scan")[0]["output"];
    assert_eq!(scan["findings"][0]["rule"], "generic.token", "{scan}");

    // Nothing the demo started is left listening.
    let ports = story["ports"].as_array().unwrap();
    assert!(ports.len() >= 3, "{ports:?}");
    for port in ports {
        let port = u16::try_from(port.as_u64().unwrap()).unwrap();
        assert!(!accepts(port), "port {port} still accepts connections");
    }
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

#[test]
fn ctrl_c_in_the_middle_of_the_story_stops_every_server() {
    let run = run();
    let mut child = run
        .evict()
        .args(["demo", "--live", "--format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut ports = Vec::new();
    let mut line = String::new();
    // The story's header names the servers; the first step is under way after it.
    while stderr.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        let started_here = [
            "moto on",
            "oidc-provider on",
            "scim2-server on",
            "throwaway",
        ];
        if started_here.iter().any(|s| line.contains(s))
            && let Some((_, rest)) = line.split_once("127.0.0.1:")
        {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            ports.push(digits.parse::<u16>().unwrap());
        }
        if line.contains("1. The attacker's footholds") {
            break;
        }
        line.clear();
    }
    if ports.is_empty() {
        let code = child.wait().unwrap().code().unwrap_or(-1);
        assert!(
            not_installed(code, &seen),
            "no servers announced (exit {code}): {seen}"
        );
        return;
    }
    assert!(ports.len() >= 3, "not every server announced: {seen}");
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{seen}{rest}");
    assert!(rest.contains("interrupted (Ctrl-C)"), "{rest}");
    for port in ports {
        assert!(
            !accepts(port),
            "port {port} still accepts connections after Ctrl-C"
        );
    }
}

#[test]
fn without_the_servers_programs_it_names_each_install_and_starts_nothing() {
    let empty = tempfile::tempdir().unwrap();
    let out = evict()
        .args(["demo", "--live"])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "a story was told: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains("nothing was started"), "{stderr}");
    for install in [
        "pip install 'moto[server]'",
        "pip install scim2-server",
        "npm install -g oidc-provider@8",
    ] {
        assert!(stderr.contains(install), "{install} is not named: {stderr}");
    }
    // PostgreSQL is also found off PATH (/usr/lib/postgresql/*/bin), or as the server on
    // 127.0.0.1:5432: it is named only when neither is there.
    let postgres_here = std::path::Path::new("/usr/lib/postgresql").is_dir() || accepts(5432);
    assert_eq!(
        stderr.contains("apt-get install postgresql"),
        !postgres_here,
        "{stderr}"
    );

    // A server the user names must answer, or nothing starts either.
    let closed = evict_testkit::servers::free_port();
    let out = evict()
        .args(["demo", "--live"])
        .env("PATH", empty.path())
        .env(
            "EVICT_DEMO_POSTGRES_URL",
            format!("postgres://postgres@127.0.0.1:{closed}/postgres"),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("EVICT_DEMO_POSTGRES_URL")
            && stderr.contains(&format!("127.0.0.1:{closed}")),
        "{stderr}"
    );
}
