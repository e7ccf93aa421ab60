//! Residual access and plan at the scale, per backend: an organisation of 1,000,000
//! credentials (100,000 identities, ten credentials each, over ten providers), 10,000,000 usage
//! rows (every credential seen in ten log sets) and 100,000 hunt hits, with an incident scoped
//! to one provider (a tenth of everything) plus indicators.
//!
//! `cargo bench -p evict-cli --bench incident` builds the store through the store API (the
//! inventory) and bulk SQL (usage and hits, which hunts would take hours to produce), then
//! times `evict incident residual` and `evict incident plan` as child processes and reads
//! their peak RSS (VmHWM) while they run. Sizes: `EVICT_BENCH_CREDENTIALS` (default
//! 1,000,000), `EVICT_BENCH_BACKENDS=sqlite,postgres`; PostgreSQL through
//! `EVICT_TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/postgres).
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use evict_model::{Credential, CredentialKind, Identity, IdentityKind, Provider};
use evict_store::{InventoryBatch, Store};
use evict_testkit::postgres::admin_url;
use evict_testkit::reference_now;
use sqlx::Connection;

const PROVIDERS: &[&str] = &[
    "aws",
    "okta",
    "github",
    "vault",
    "k8s",
    "slack",
    "gcp",
    "azure",
    "datadog",
    "pagerduty",
];

async fn fill(store: &Store, credentials: u64) {
    let now = reference_now();
    let identities = credentials / 10;
    let mut batch = InventoryBatch::default();
    let mut line = 0;
    let flush = |batch: &mut InventoryBatch| std::mem::take(batch);
    for i in 0..identities {
        let provider = Provider::new(PROVIDERS[(i % 10) as usize]).unwrap();
        let mut identity = Identity::new(
            provider.clone(),
            format!("svc-{i:07}"),
            IdentityKind::Service,
        );
        identity.owner = Some(format!("team-{}", i % 40));
        line += 1;
        batch.identities.push((line, identity.clone()));
        for k in 0..10 {
            let kind = if k == 9 {
                CredentialKind::Session
            } else {
                CredentialKind::AccessKey
            };
            let mut c = Credential::new(provider.clone(), format!("svc-{i:07}-key-{k}"), kind);
            c.native_id = Some(format!("K{i:07}{k}"));
            c.identity = Some(identity.id.clone());
            c.issued_at = Some("2026-01-01T00:00:00Z".parse().unwrap());
            line += 1;
            batch.credentials.push((line, c));
        }
        if batch.len() >= 22_000 {
            let mut b = flush(&mut batch);
            b.source = "bench".into();
            b.file = "bench".into();
            store.upsert_inventory(b, now).await.unwrap();
        }
    }
    let mut b = flush(&mut batch);
    b.source = "bench".into();
    b.file = "bench".into();
    store.upsert_inventory(b, now).await.unwrap();
}

/// Ten usage rows per credential and 100,000 hunt hits, in bulk SQL that both backends run.
const USAGE_SQL: &str = "INSERT INTO log_usage (log_set, provider, subject, native_id, events, \
    failures, first_seen, last_seen, sources, user_agents, actions, journal) \
    WITH s(n) AS (VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) \
    SELECT 'set-' || s.n, c.provider, 'credential', c.native_id, 5, 0, '2026-05-01T00:00:00Z', \
    '2026-05-30T00:00:00Z', '{\"198.51.100.7\":5}', '{\"aws-cli/2.15\":5}', \
    '{\"s3:listbuckets\":5}', 1 FROM credentials c, s WHERE c.native_id IS NOT NULL";
const HITS_SQL: &str = "INSERT INTO hunt_hits (hit_key, rule, rule_id, title, severity, \
    techniques, at, window_position, source_kind, action, actor, credential, source, \
    user_agent, summary, event_id, raw_file, raw_offset, first_journal, last_journal, target) \
    SELECT 'h' || c.native_id, CASE WHEN c.provider = 'aws' THEN 'ioc-ip' \
    ELSE 'aws-access-key-created' END, NULL, 'bench', 'high', \
    CASE WHEN c.provider = 'aws' THEN '[]' ELSE '[\"T1098.001\"]' END, \
    '2026-05-23T01:00:00Z', 'during', CASE c.provider WHEN 'aws' THEN 'cloudtrail' ELSE c.provider END, \
    'CreateAccessKey', 'svc-actor', c.native_id, '203.0.113.66', 'bench-agent', \
    'bench hit', NULL, 'bench.jsonl', 0, 1, 1, 'svc-target' \
    FROM credentials c WHERE c.native_id LIKE '%0'";

/// Runs `evict ARGS` on the store and returns (seconds, peak RSS in MiB, stdout).
fn timed(exe: &Path, home: &Path, url: Option<&str>, args: &[&str]) -> (f64, f64, Vec<u8>) {
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env("EVICT_HOME", home)
        .env("EVICT_NOW", "2026-06-01T00:00:00Z")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match url {
        Some(u) => cmd.env("EVICT_DATABASE_URL", u),
        None => cmd.env_remove("EVICT_DATABASE_URL"),
    };
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    // Read stdout as it comes, or a large JSON answer would block the child on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut out).unwrap();
        out
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            let seconds = start.elapsed().as_secs_f64();
            if !status.success() {
                let mut err = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("evict {args:?} failed: {err}");
            }
            return (seconds, peak_kib as f64 / 1024.0, reader.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let credentials: u64 = std::env::var("EVICT_BENCH_CREDENTIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let backends: Vec<String> = std::env::var("EVICT_BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite,postgres".into())
        .split(',')
        .map(String::from)
        .collect();
    let exe = Path::new(env!("CARGO_BIN_EXE_evict")).to_path_buf();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "| backend | credentials | usage rows | hunt hits | step | seconds | peak RSS | output |"
    );
    println!("|---|---:|---:|---:|---|---:|---:|---:|");
    for backend in &backends {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let (url, pg_name) = if backend == "postgres" {
            let name = format!("evict_bench_incident_{}", std::process::id());
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
            });
            (
                Some(format!(
                    "{}/{name}",
                    admin_url().rsplit_once('/').unwrap().0
                )),
                Some(name),
            )
        } else {
            (None, None)
        };
        let setup = Instant::now();
        let (usage_rows, hits) = runtime.block_on(async {
            let store = match &url {
                Some(u) => Store::open_url(u).await.unwrap(),
                None => Store::open_sqlite_file(&home.join("evict.db"))
                    .await
                    .unwrap(),
            };
            fill(&store, credentials).await;
            store.close().await;
            let usage = sql_count(&url, &home, USAGE_SQL).await;
            let hits = sql_count(&url, &home, HITS_SQL).await;
            // A store filled over months has its statistics (and, on PostgreSQL, its
            // visibility map: autovacuum has run); one filled in a minute needs them gathered,
            // or PostgreSQL plans the usage lookups as if the table were empty and reads the
            // heap behind every index entry.
            let settle = if url.is_some() {
                "VACUUM ANALYZE"
            } else {
                "ANALYZE"
            };
            sql_count(&url, &home, settle).await;
            (usage, hits)
        });
        eprintln!(
            "{backend}: set up in {:.0} s",
            setup.elapsed().as_secs_f64()
        );
        let open = [
            "incident",
            "open",
            "bench",
            "--compromised-at",
            "2026-05-22",
            "--patched-at",
            "2026-05-26",
            "--scope",
            "provider:aws",
            "--ioc-ip",
            "203.0.113.66",
        ];
        timed(&exe, &home, url.as_deref(), &open);
        for (step, args) in [
            (
                "residual",
                ["incident", "residual", "bench", "--format", "json"],
            ),
            ("plan", ["incident", "plan", "bench", "--format", "json"]),
        ] {
            let (seconds, mib, out) = timed(&exe, &home, url.as_deref(), &args);
            let json: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
            let artifacts = json["artifacts"]
                .as_array()
                .or_else(|| json["plan"]["steps"].as_array())
                .map_or(0, Vec::len);
            let what = if step == "plan" { "steps" } else { "artifacts" };
            println!(
                "| {backend} | {credentials} | {usage_rows} | {hits} | {step} | {seconds:.2} | {mib:.0} MiB | {artifacts} {what} |"
            );
        }
        if std::env::var("EVICT_BENCH_KEEP").is_ok_and(|v| v == "1") {
            eprintln!(
                "kept: EVICT_HOME={} {}",
                home.display(),
                url.clone().unwrap_or_default()
            );
            std::mem::forget(dir);
            continue;
        }
        if let Some(name) = pg_name {
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
                sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
            });
        }
    }
}

async fn sql_count(url: &Option<String>, home: &Path, sql: &str) -> u64 {
    match url {
        Some(u) => {
            let mut c = sqlx::PgConnection::connect(u).await.unwrap();
            sqlx::query(sql)
                .execute(&mut c)
                .await
                .unwrap()
                .rows_affected()
        }
        None => {
            let path = home.join("evict.db");
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            sqlx::query(sql)
                .execute(&mut c)
                .await
                .unwrap()
                .rows_affected()
        }
    }
}
