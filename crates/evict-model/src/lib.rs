//! Evict's domain model: identities, credentials, where secrets were seen, audit events, usage,
//! findings, incidents with their artifacts, actions and evidence, and just-in-time grants.
//!
//! These are plain typed values with serde. This crate must never do I/O (no files, network,
//! clock or environment) and must never hold a plaintext secret in anything that can be
//! printed, logged or serialised: secrets live only in [`SecretString`], whose `Debug` and
//! `Display` redact, and leave as a [`Fingerprint`] and a redacted preview.
#![forbid(unsafe_code)]
#![deny(missing_docs, clippy::print_stdout, clippy::print_stderr)]

mod credential;
mod event;
mod exposure;
mod grant;
mod identity;
mod ids;
mod incident;
pub mod journal;
mod location;
mod secret;
mod text;
mod time;
mod vocabulary;

pub use credential::{Credential, CredentialKind, CredentialStatus};
pub use event::{Event, Outcome, RawPointer, SessionContext, Usage};
pub use exposure::{Confidence, Liveness, LivenessState, Persistence};
pub use grant::Grant;
pub use identity::{Identity, IdentityKind, IdentityStatus, PrivilegeTier};
pub use ids::{CredentialId, IdentityId, Provider, ProviderError};
pub use incident::{
    Action, ActionKind, ActionState, Artifact, Evidence, EvidenceVerdict, Finding, Incident,
    IncidentStatus, ResidualReason, Severity, Tier,
};
pub use location::Location;
pub use secret::{Fingerprint, FingerprintKey, SecretString, redacted_preview};
pub use text::TextPosition;
pub use time::parse_time_or_date;
pub use vocabulary::UnknownValue;
