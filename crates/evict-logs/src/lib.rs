//! Audit-log readers (CloudTrail, Okta, GitHub, JSON lines) that normalise records to
//! `evict_model::Event`, the Sigma hunt engine, and per-credential usage aggregation.
//!
//! It must never load a whole log file into memory, and never drop a record it cannot fully
//! normalise: it keeps the raw text and a pointer back to it, or reports it with file and offset.
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod gate;
pub mod hunt;
pub mod ip;
pub mod normalize;
pub mod read;
pub mod record;
pub mod sigma;
pub mod usage;

pub use normalize::{Mapping, NormalizeError, Normalizer, normalize};
pub use read::{ReadProblem, ReadSummary, RecordBatch, SourceKind, input_files, read_file};
pub use record::{LazyRecord, RecordError};
