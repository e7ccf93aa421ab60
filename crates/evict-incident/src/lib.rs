//! Incidents: residual access state, tiering, disruption risk, the ordered containment plan,
//! the closure gate and the evidence report.
//!
//! It must never mark an artifact revoked without evidence, and never talk to a provider
//! itself: acting is the connectors' job. Not built yet (see the incident issue).
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]
