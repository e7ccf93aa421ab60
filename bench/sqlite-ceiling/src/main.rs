//! The ceiling for `evict import` into SQLite: the credentials table exactly as migration 0001
//! creates it, rows pre-generated in memory, one prepared statement stepped per row through
//! rusqlite (the thinnest safe binding there is), the same pragmas as the store. Only the
//! inserts and commits are timed, so what is measured is SQLite's own work.
//!
//! `cargo run --release -- ROWS ROWS_PER_TRANSACTION INDEXES` where INDEXES is
//! `now` (the migration's secondary indexes, maintained per row), `late` (created after the
//! load; the time to build them is reported and added) or `none`. Add `upsert` for the store's
//! `ON CONFLICT … DO UPDATE` clause.

use std::time::Instant;

use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

const TABLE: &str = "CREATE TABLE credentials (
    id TEXT PRIMARY KEY, provider TEXT NOT NULL, external_key TEXT NOT NULL, native_id TEXT,
    identity_id TEXT, kind TEXT NOT NULL, status TEXT NOT NULL,
    fingerprint TEXT CHECK (fingerprint IS NULL OR length(fingerprint) = 64), preview TEXT,
    issued_at TEXT, expires_at TEXT, last_used_at TEXT, last_used_from TEXT,
    scopes TEXT NOT NULL DEFAULT '', source TEXT NOT NULL, content_hash TEXT NOT NULL,
    first_journal INTEGER NOT NULL, updated_at TEXT NOT NULL) STRICT;";
const INDEXES: &str = "CREATE INDEX credentials_identity ON credentials (identity_id);
CREATE INDEX credentials_native_id ON credentials (provider, native_id) WHERE native_id IS NOT NULL;
CREATE INDEX credentials_fingerprint ON credentials (fingerprint) WHERE fingerprint IS NOT NULL;";
const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
    PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 20000;";

/// A content-derived id shaped like evict-model's (`prefix_` + 16 hex digits of a SHA-256).
fn derived_id(prefix: &str, n: u64) -> String {
    let digest = Sha256::digest(n.to_le_bytes());
    format!("{prefix}_{}", hex::encode(&digest[..8]))
}

struct Row {
    id: String,
    external_key: String,
    identity: String,
    content_hash: String,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: sqlite-ceiling ROWS ROWS_PER_TRANSACTION now|late|none [upsert]";
    let rows: u64 = args.get(1).and_then(|s| s.parse().ok()).expect(usage);
    let per_tx: usize = args.get(2).and_then(|s| s.parse().ok()).expect(usage);
    let indexes = args.get(3).map(String::as_str).expect(usage);
    let upsert = args.get(4).is_some_and(|a| a == "upsert");

    let dir = std::env::temp_dir().join(format!("sqlite-ceiling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    let db = Connection::open(dir.join("ceiling.db")).expect("open the scratch database");
    db.execute_batch(PRAGMAS).expect("pragmas");
    db.execute_batch(TABLE).expect("table");
    if indexes == "now" {
        db.execute_batch(INDEXES).expect("indexes");
    }
    let conflict = if upsert {
        " ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
         content_hash = excluded.content_hash WHERE credentials.content_hash <> excluded.content_hash"
    } else {
        ""
    };
    let sql = format!(
        "INSERT INTO credentials VALUES ({}){conflict}",
        ["?"; 18].join(",")
    );

    // As the importer does: each transaction's rows written in id order.
    let mut data: Vec<Row> = (0..rows)
        .map(|n| Row {
            id: derived_id("cred", n),
            external_key: format!("key-{n:012}"),
            identity: derived_id("idn", n / 3),
            content_hash: hex::encode(&Sha256::digest(n.to_be_bytes())[..16]),
        })
        .collect();
    for chunk in data.chunks_mut(per_tx) {
        chunk.sort_by(|a, b| a.id.cmp(&b.id));
    }

    let start = Instant::now();
    for chunk in data.chunks(per_tx) {
        let tx = db.unchecked_transaction().expect("begin");
        {
            let mut insert = tx.prepare_cached(&sql).expect("prepare");
            for r in chunk {
                insert
                    .execute(params![
                        r.id,
                        "aws",
                        r.external_key,
                        r.external_key,
                        r.identity,
                        "access_key",
                        "active",
                        None::<String>,
                        "key-…0042",
                        "2024-01-02T03:04:05Z",
                        None::<String>,
                        "2026-01-02T03:04:05Z",
                        "198.51.100.7",
                        "",
                        "inventory",
                        r.content_hash,
                        1i64,
                        "2026-11-22T00:00:00Z"
                    ])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    let load = start.elapsed().as_secs_f64();
    let mut total = load;
    let mut late = String::new();
    if indexes == "late" {
        let start = Instant::now();
        db.execute_batch(INDEXES).expect("indexes");
        let build = start.elapsed().as_secs_f64();
        total += build;
        late = format!(", indexes built after in {build:.2} s");
    }
    println!(
        "{rows} rows, {per_tx} per transaction, indexes {indexes}{}: load {load:.2} s{late}; {:.0} rows/s",
        if upsert { ", upsert" } else { "" },
        rows as f64 / total
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
