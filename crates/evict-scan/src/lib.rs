//! Secret detection for Evict: rules as data (`rules/secrets/*.yml`), a keyword prefilter and
//! regexes over trees, archives, git history and chat exports, grouped by keyed fingerprint.
//!
//! It must never return, store or print a plaintext secret: a match is fingerprinted and
//! redacted inside [`engine`] before anything else sees it, and only fingerprints, redacted
//! previews and non-secret provider ids (an AWS access key id) leave this crate.
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod chat;
pub mod check;
pub mod engine;
pub mod findings;
pub mod git;
pub mod history;
pub mod lifetime;
pub mod rules;
pub mod sarif;
pub mod suppress;
pub mod tree;
pub mod validate;

pub use check::{CheckReport, check_rules};
pub use engine::{Detection, Engine, Plaintext, Scratch};
pub use findings::{Collector, HeldSecret, ScanStats, SecretFinding, Skipped};
pub use rules::{Rule, RuleError, RuleSet};
pub use suppress::IgnoreList;
pub use tree::{Sink, TreeOptions, scan_path};
