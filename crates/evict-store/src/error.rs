use std::path::PathBuf;

/// What can go wrong with the store. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or opened.
    #[error("cannot open the {backend} store at {target}: {source}")]
    Open {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The file or the URL with its password removed.
        target: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database was written by a newer Evict.
    #[error(
        "the store at {target} has schema version {found}, newer than this evict supports ({supported}); \
         upgrade evict, or point EVICT_HOME / EVICT_DATABASE_URL at another store"
    )]
    SchemaTooNew {
        /// The file or the URL with its password removed.
        target: String,
        /// The newest migration applied to the database.
        found: i64,
        /// The newest migration this build knows.
        supported: i64,
    },
    /// Applying migrations failed.
    #[error("cannot bring the store at {target} up to date: {source}")]
    Migrate {
        /// The file or the URL with its password removed.
        target: String,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("store query failed ({what}): {source}")]
    Query {
        /// What was being done.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored value does not parse back (the database was edited by hand or is corrupt).
    #[error("stored {what} '{value}' is not valid: {reason}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// The stored text.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// `$EVICT_HOME` or a file in it could not be used.
    #[error("{path}: {reason}")]
    Home {
        /// The path involved.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The URL in `EVICT_DATABASE_URL` is not one Evict can use.
    #[error(
        "EVICT_DATABASE_URL must be a postgres:// or postgresql:// URL (or unset for SQLite under EVICT_HOME), not '{0}'"
    )]
    UnsupportedUrl(String),
}

pub(crate) fn query(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { what, source }
}
