//! The HTTP API, the web board and the scheduler behind `evict serve`.
//!
//! It must never expose a plaintext secret or an internal error's details to a client. Not
//! built yet.
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]
