//! Evict's store: SQLite under `$EVICT_HOME` by default, PostgreSQL when
//! `EVICT_DATABASE_URL` is a `postgres://` URL — one schema, one contract, numbered migrations,
//! the hash-chained evidence journal, and the streaming importers that fill the inventory.
//!
//! It must never store a plaintext secret (only fingerprints and redacted previews), never
//! write a change without its journal entry in the same transaction, and never open a
//! database whose schema is newer than this build.
#![forbid(unsafe_code)]
#![deny(missing_docs, clippy::print_stdout, clippy::print_stderr)]

mod actions;
mod columns;
mod db;
mod error;
mod home;
mod hunts;
pub mod import;
mod incidents;
mod inventory;
mod journal;
mod scans;
mod text;

pub use actions::{ActionOutcome, NewAction, StoredAction, digest};
pub use db::{Backend, Store};
pub use error::StoreError;
pub use home::EvictHome;
pub use hunts::{HuntStoreSummary, StoredHit, StoredUsage};
pub use incidents::{
    IncidentError, LocatedSecret, StoredEvidence, StoredException, StoredIncident, StoredPlan,
};
pub use inventory::{
    BatchOutcome, CredentialFilter, CredentialRow, IdentityFilter, InventoryBatch, InventoryStats,
    RejectedRow, ShowResult,
};
pub use journal::JournalReport;
pub use scans::{ScanStoreSummary, ScannedSecret};
