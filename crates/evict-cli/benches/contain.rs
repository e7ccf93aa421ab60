//! Containment and verification at the scale: 10,000 credentials (PostgreSQL login
//! roles' passwords on the machine's real server) revoked by `evict incident contain
//! --execute` with the provider limited to R requests a second, then probed by `evict
//! incident verify` under the same limit. The target is a total time of at most
//! 1.15 × 10,000 / R for each.
//!
//! `cargo bench -p evict-cli --bench contain`. Sizes: `EVICT_BENCH_ROLES` (default 10,000),
//! `EVICT_BENCH_RATE` (R, default 200 requests/s), `EVICT_BENCH_BACKENDS=sqlite,postgres` (the
//! store; the provider is PostgreSQL either way). PostgreSQL through `EVICT_TEST_POSTGRES_URL`.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use evict_testkit::postgres::{admin_url, fresh_database, url_as};
use sqlx::{Connection, Executor, PgConnection};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Run<'a> {
    home: &'a std::path::Path,
    store_url: Option<String>,
    admin_url: &'a str,
}

impl Run<'_> {
    fn evict(&self, args: &[&str]) -> Duration {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_evict"));
        cmd.env("EVICT_HOME", self.home)
            .env("EVICT_NOW", evict_testkit::REFERENCE_NOW)
            .env("EVICT_BENCH_ADMIN_URL", self.admin_url)
            .args(args);
        match &self.store_url {
            Some(url) => cmd.env("EVICT_DATABASE_URL", url),
            None => cmd.env_remove("EVICT_DATABASE_URL"),
        };
        let started = Instant::now();
        let out = cmd.output().unwrap();
        let took = started.elapsed();
        assert!(
            out.status.success() || out.status.code() == Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let roles = env_number("EVICT_BENCH_ROLES", 10_000);
    let rate = env_number("EVICT_BENCH_RATE", 200);
    let backends = std::env::var("EVICT_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite".into());
    let url = admin_url();
    let mut su = PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("the benchmark needs PostgreSQL at {url}: {e}"));
    let ideal = roles as f64 / rate as f64;
    println!(
        "containment benchmark: {roles} PostgreSQL passwords, provider limited to {rate} requests/s \
         (ideal {ideal:.1} s, target ≤ {:.1} s)",
        ideal * 1.15
    );
    for backend in backends.split(',') {
        let prefix = format!("evict_bench_{}", std::process::id());
        let admin = format!("{prefix}_admin");
        let password = random_hex();
        let mut sql = format!(
            "CREATE ROLE {admin} LOGIN CREATEROLE PASSWORD '{password}';\
             GRANT pg_signal_backend, pg_read_all_stats TO {admin};"
        );
        for n in 0..roles {
            sql.push_str(&format!(
                "CREATE ROLE {prefix}_v{n:05} LOGIN PASSWORD '{}';",
                random_hex()
            ));
        }
        su.execute(sql.as_str()).await.unwrap();
        let admin_url = url_as(&url, &admin, &password);

        let home = tempfile::tempdir().unwrap();
        let store_url = match backend {
            "postgres" => Some(fresh_database(&format!("{prefix}_store")).unwrap()),
            _ => None,
        };
        let run = Run {
            home: home.path(),
            store_url: store_url.clone(),
            admin_url: &admin_url,
        };
        let config = home.path().join("connectors.toml");
        std::fs::write(
            &config,
            format!(
                "[postgres]\nurl = {{ env = \"EVICT_BENCH_ADMIN_URL\" }}\n\n[limits.postgres]\n\
                 requests_per_second = {rate}\nconcurrency = 4\n"
            ),
        )
        .unwrap();
        let policy = home.path().join("policy.toml");
        std::fs::write(
            &policy,
            "recent_use_days = 30\ndefault_tier = \"validate\"\n\n[[rule]]\nname = \"in-scope\"\n\
             tier = \"kill\"\nwhy = \"benchmark\"\nany_reason = [\"identity_in_scope\"]\n",
        )
        .unwrap();
        let config = config.to_str().unwrap();
        run.evict(&["sync", "postgres", "--config", config]);
        let mut open: Vec<String> = [
            "incident",
            "open",
            "bench",
            "--compromised-at",
            "2026-05-01T00:00:00Z",
            "--patched-at",
            "2026-05-20T00:00:00Z",
            "--scope",
        ]
        .map(String::from)
        .to_vec();
        open.extend((0..roles).map(|n| format!("identity:postgres:{prefix}_v{n:05}")));
        run.evict(&open.iter().map(String::as_str).collect::<Vec<_>>());
        run.evict(&[
            "incident",
            "plan",
            "bench",
            "--policy",
            policy.to_str().unwrap(),
        ]);

        let contain = run.evict(&[
            "incident",
            "contain",
            "bench",
            "--execute",
            "--quiet",
            "--config",
            config,
        ]);
        let verify = run.evict(&["incident", "verify", "bench", "--quiet", "--config", config]);
        for (what, took) in [("contain --execute", contain), ("verify", verify)] {
            let secs = took.as_secs_f64();
            println!(
                "{backend:>8} store  {what:<18} {secs:7.1} s  = {:.3} × 10,000/R  ({})",
                secs / ideal,
                if secs <= ideal * 1.15 {
                    "meets the target"
                } else {
                    "MISSES the target"
                }
            );
        }

        let mut drop = String::new();
        for n in 0..roles {
            drop.push_str(&format!("DROP ROLE IF EXISTS {prefix}_v{n:05};"));
        }
        drop.push_str(&format!("DROP ROLE IF EXISTS {admin};"));
        su.execute(drop.as_str()).await.unwrap();
        if store_url.is_some() {
            su.execute(format!("DROP DATABASE IF EXISTS {prefix}_store WITH (FORCE)").as_str())
                .await
                .unwrap();
        }
    }
}
