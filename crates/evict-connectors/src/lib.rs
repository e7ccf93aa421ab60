//! Provider connectors (AWS, OAuth/OIDC, PostgreSQL, SCIM, Shared Signals): discover, act,
//! verify — one module and one cargo feature per provider.
//!
//! A probe that cannot decide must report "unverified", never "revoked"; a revoke response is
//! never evidence by itself. Not built yet (see the connectors issue).
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]
