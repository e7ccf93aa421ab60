//! Import throughput and peak memory, per backend and input size.
//!
//! `cargo bench -p evict-store --bench import` generates the inputs with evict-testkit, then
//! runs every import in a fresh child process (this same binary) so each peak RSS (VmHWM) is
//! that import's alone. Sizes can be overridden: `EVICT_BENCH_ROWS=250000,1000000`,
//! `EVICT_BENCH_USERS=100000`; `EVICT_BENCH_BACKENDS=sqlite,postgres`; PostgreSQL is reached
//! through `EVICT_TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/postgres).
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use evict_store::Store;
use evict_store::import::{ImportKind, Quiet, import_file};
use evict_testkit::postgres::admin_url;
use evict_testkit::{InventoryFormat, reference_now, write_credential_report, write_inventory};
use sqlx::Connection;

fn sizes(var: &str, default: &[u64]) -> Vec<u64> {
    std::env::var(var)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Child: import one file into a fresh store and print `rows records seconds peak_kib`.
fn child(backend: &str, kind: &str, file: &Path, scratch: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (store, database) = match backend {
            "sqlite" => (
                Store::open_sqlite_file(&scratch.join("bench.db"))
                    .await
                    .unwrap(),
                None,
            ),
            _ => {
                let name = format!("evict_bench_{}", std::process::id());
                let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let url = format!("{}/{name}", admin_url().rsplit_once('/').unwrap().0);
                (Store::open_url(&url).await.unwrap(), Some(name))
            }
        };
        let kind = if kind == "report" {
            ImportKind::AwsCredentialReport
        } else {
            ImportKind::Inventory
        };
        let start = Instant::now();
        let summary = import_file(&store, kind, file, reference_now(), &Quiet)
            .await
            .unwrap();
        let seconds = start.elapsed().as_secs_f64();
        assert_eq!(summary.rejected, 0);
        store.close().await;
        println!(
            "{} {} {seconds:.3} {}",
            summary.rows,
            summary.inserted,
            peak_rss_kib()
        );
        if let Some(name) = database {
            let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
            sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    });
}

fn generate(dir: &Path, kind: &str, size: u64) -> PathBuf {
    let path = dir.join(format!("{kind}-{size}.csv"));
    let mut out = BufWriter::new(File::create(&path).unwrap());
    if kind == "report" {
        write_credential_report(2026, size, &mut out).unwrap();
    } else {
        write_inventory(2026, size, InventoryFormat::Csv, &mut out).unwrap();
    }
    out.flush().unwrap();
    path
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(
            &args[i + 1],
            &args[i + 2],
            Path::new(&args[i + 3]),
            Path::new(&args[i + 4]),
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let backends: Vec<String> = std::env::var("EVICT_BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite,postgres".into())
        .split(',')
        .map(String::from)
        .collect();
    let mut cases = Vec::new();
    for size in sizes("EVICT_BENCH_ROWS", &[250_000, 1_000_000]) {
        cases.push(("inventory", size, generate(dir.path(), "inventory", size)));
    }
    for size in sizes("EVICT_BENCH_USERS", &[100_000]) {
        cases.push(("report", size, generate(dir.path(), "report", size)));
    }
    println!("| backend | input | rows | records | seconds | rows/s | records/s | peak RSS |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for backend in &backends {
        for (kind, size, path) in &cases {
            let scratch = tempfile::tempdir().unwrap();
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--child", backend, kind])
                .arg(path)
                .arg(scratch.path())
                .output()
                .unwrap();
            if !out.status.success() {
                eprintln!(
                    "{backend} {kind} {size}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                continue;
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let v: Vec<f64> = text
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
            let (rows, records, seconds, kib) = (v[0], v[1], v[2], v[3]);
            let input = if *kind == "report" {
                format!("credential report, {size} users")
            } else {
                format!("inventory CSV, {size} rows")
            };
            println!(
                "| {backend} | {input} | {rows} | {records} | {seconds:.2} | {:.0} | {:.0} | {:.0} MiB |",
                rows / seconds,
                records / seconds,
                kib / 1024.0
            );
        }
    }
}
