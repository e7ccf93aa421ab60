use std::path::Path;

use futures_core::future::BoxFuture;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, ConnectOptions, Executor};

use crate::error::query;
use crate::{EvictHome, StoreError};

/// The numbered migrations, embedded in the binary: (version, description, SQLite, PostgreSQL).
/// Each version exists for both backends, so the two schemas never drift apart in numbering.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "inventory and journal",
        include_str!("../migrations/sqlite/0001_inventory_and_journal.sql"),
        include_str!("../migrations/postgres/0001_inventory_and_journal.sql"),
    ),
    (
        2,
        "secret locations",
        include_str!("../migrations/sqlite/0002_secret_locations.sql"),
        include_str!("../migrations/postgres/0002_secret_locations.sql"),
    ),
    (
        3,
        "hunt hits and usage",
        include_str!("../migrations/sqlite/0003_hunt_hits_and_usage.sql"),
        include_str!("../migrations/postgres/0003_hunt_hits_and_usage.sql"),
    ),
    (
        4,
        "incidents",
        include_str!("../migrations/sqlite/0004_incidents.sql"),
        include_str!("../migrations/postgres/0004_incidents.sql"),
    ),
    (
        5,
        "plans, evidence and exceptions",
        include_str!("../migrations/sqlite/0005_plans_evidence_exceptions.sql"),
        include_str!("../migrations/postgres/0005_plans_evidence_exceptions.sql"),
    ),
    (
        6,
        "credentials by provider",
        include_str!("../migrations/sqlite/0006_credentials_by_provider.sql"),
        include_str!("../migrations/postgres/0006_credentials_by_provider.sql"),
    ),
    (
        7,
        "usage totals",
        include_str!("../migrations/sqlite/0007_usage_totals.sql"),
        include_str!("../migrations/postgres/0007_usage_totals.sql"),
    ),
    (
        8,
        "what hunt hits created",
        include_str!("../migrations/sqlite/0008_hunt_hits_created.sql"),
        include_str!("../migrations/postgres/0008_hunt_hits_created.sql"),
    ),
    (
        9,
        "incident actions",
        include_str!("../migrations/sqlite/0009_incident_actions.sql"),
        include_str!("../migrations/postgres/0009_incident_actions.sql"),
    ),
    (
        10,
        "secret liveness",
        include_str!("../migrations/sqlite/0010_secret_liveness.sql"),
        include_str!("../migrations/postgres/0010_secret_liveness.sql"),
    ),
    (
        11,
        "hunt hits' provider",
        include_str!("../migrations/sqlite/0011_hunt_hits_provider.sql"),
        include_str!("../migrations/postgres/0011_hunt_hits_provider.sql"),
    ),
];

/// Hands the embedded migrations of one backend to sqlx's migrator.
#[derive(Debug)]
struct Embedded(Backend);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sqlite, postgres)| {
                    let sql = if self.0 == Backend::Sqlite {
                        sqlite
                    } else {
                        postgres
                    };
                    Migration::new(
                        *version,
                        (*description).into(),
                        MigrationType::Simple,
                        (*sql).into(),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Which database holds the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default, a file under `$EVICT_HOME`.
    Sqlite,
    /// A shared PostgreSQL database.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The store: a connection pool on one backend, with the schema brought up to date.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    target: String,
}

impl Store {
    /// Opens the store the environment names: `EVICT_DATABASE_URL` when set, otherwise the
    /// SQLite file in `home`.
    pub async fn open_from_env(home: &EvictHome) -> Result<Store, StoreError> {
        match std::env::var("EVICT_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Store::open_url(url.trim()).await,
            _ => Store::open_sqlite(home).await,
        }
    }

    /// Opens (creating if needed) the SQLite store in `home`.
    pub async fn open_sqlite(home: &EvictHome) -> Result<Store, StoreError> {
        home.ensure()?;
        Store::open_sqlite_file(&home.database_path()).await
    }

    /// Opens (creating if needed) a SQLite store at an explicit file.
    pub async fn open_sqlite_file(path: &Path) -> Result<Store, StoreError> {
        let url = format!("sqlite://{}?mode=rwc", encode_path(path));
        Store::connect(Backend::Sqlite, &url, path.display().to_string()).await
    }

    /// Opens a store by URL: `postgres://…`, `postgresql://…` or `sqlite://…`.
    pub async fn open_url(url: &str) -> Result<Store, StoreError> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        Store::connect(backend, url, redact_url(url)).await
    }

    async fn connect(backend: Backend, url: &str, target: String) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let open_err = |source| StoreError::Open {
            backend: backend.name(),
            target: target.clone(),
            source,
        };
        let options: AnyConnectOptions = url.parse().map_err(open_err)?;
        // Statement logging would put every bound value in the log; never enable it.
        let options = options.disable_statement_logging();
        // Two SQLite connections: one write at a time anyway, two reads for two cores, and each
        // holds a 64 MB page cache (four put a large incident's residual over 1 GB).
        let connections = match backend {
            Backend::Sqlite => 2,
            Backend::Postgres => 4,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // wal_autocheckpoint: the default (1,000 pages) checkpoints and fsyncs
                        // every few import batches, rewriting the same random index pages each
                        // time; 20,000 pages (~80 MB of WAL) made imports 3x faster.
                        conn.execute(
                            "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; \
                             PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
                             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; \
                             PRAGMA wal_autocheckpoint = 20000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(open_err)?;
        let store = Store {
            pool,
            backend,
            target,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Which backend this store is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The file or URL (password removed) the store was opened from.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The newest migration this build knows.
    pub fn supported_schema_version(&self) -> i64 {
        MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0)
    }

    /// The newest migration applied to the database (0 for a new database).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let exists_sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        };
        let exists: i64 = sqlx::query_scalar(exists_sql)
            .fetch_one(&self.pool)
            .await
            .map_err(query("look for the migrations table"))?;
        if exists == 0 {
            return Ok(0);
        }
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await
                .map_err(query("read the schema version"))?;
        Ok(version.unwrap_or(0))
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let found = self.schema_version().await?;
        let supported = self.supported_schema_version();
        if found > supported {
            return Err(StoreError::SchemaTooNew {
                target: self.target.clone(),
                found,
                supported,
            });
        }
        let migrate_err = |source| StoreError::Migrate {
            target: self.target.clone(),
            source,
        };
        let migrator = Migrator::new(Embedded(self.backend))
            .await
            .map_err(migrate_err)?;
        migrator.run(&self.pool).await.map_err(migrate_err)
    }

    /// Closes the pool, waiting for connections to finish (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs raw SQL. For tests that tamper with the database on purpose; not for engines.
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(query("run raw SQL"))
    }

    /// Every row of a table as text, in primary-key order: for tests that prove an operation
    /// left the store unchanged.
    #[doc(hidden)]
    pub async fn dump_table(&self, table: &str, order_by: &str) -> Result<Vec<String>, StoreError> {
        use sqlx::{Column, Row};
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY {order_by}"))
            .fetch_all(&self.pool)
            .await
            .map_err(query("dump a table"))?;
        Ok(rows
            .iter()
            .map(|row| {
                (0..row.columns().len())
                    .map(|i| {
                        let name = row.column(i).name();
                        let text = row
                            .try_get::<Option<String>, _>(i)
                            .map(|v| v.unwrap_or_else(|| "NULL".into()))
                            .or_else(|_| row.try_get::<Option<i64>, _>(i).map(|v| format!("{v:?}")))
                            .unwrap_or_else(|_| "?".into());
                        format!("{name}={text}")
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect())
    }
}

/// SQLite URLs carry the path: escape the characters a URL would read as syntax.
fn encode_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            ' ' => out.push_str("%20"),
            c => out.push(c),
        }
    }
    out
}

/// A URL fit for messages: any password replaced.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{masked}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://evict:hunter2@db.internal:5432/evict"), // evict:allow: a made-up password
            "postgres://evict:***@db.internal:5432/evict"
        );
        assert_eq!(
            redact_url("postgres://evict@db/evict"),
            "postgres://evict@db/evict"
        );
        assert_eq!(redact_url("postgres://db/evict"), "postgres://db/evict");
    }
}
