//! Audit-log readers (CloudTrail, Okta, GitHub, JSON lines) that normalise records to
//! `evict_model::Event`, the Sigma hunt engine, and per-credential usage aggregation.
//!
//! It must never load a whole log file into memory, and never drop a record it cannot fully
//! normalise: it keeps the raw text and a pointer back to it. Not built yet (see the hunt issue).
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]
