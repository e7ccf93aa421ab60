//! Incidents: residual access state, tiering, disruption risk, the ordered containment plan,
//! the closure gate and the evidence report.
//!
//! It must never mark an artifact revoked without evidence, and never talk to a provider
//! itself: acting is the connectors' job. Pure logic over data the store hands it; the only
//! I/O is the signing key file of [`signing`].
#![forbid(unsafe_code)]
#![deny(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub mod gate;
pub mod plan;
pub mod policy;
pub mod report;
pub mod residual;
pub mod scope;
pub mod signing;
