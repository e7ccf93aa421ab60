//! Secret detection for Evict: rules as data (`rules/secrets/*.yml`), a keyword prefilter and
//! regexes over trees, archives, git history and chat exports, grouped by keyed fingerprint.
//!
//! It must never return, store or print a plaintext secret: only fingerprints and redacted
//! previews leave this crate. The engine is not built yet (see the scan issue).
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]
