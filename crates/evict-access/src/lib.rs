//! Just-in-time access: time-boxed, task-bound grants with request, approval, expiry and a
//! verified automatic revocation.
//!
//! It must never issue a grant without an expiry. Not built yet.
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]
