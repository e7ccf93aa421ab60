//! Provider connectors: discover what exists, act on one artifact, and verify with a probe
//! that the act took effect — one folder and one cargo feature per provider, each keeping the
//! contract of docs/specs/connector.md.
//!
//! A connector must never take a provider's "OK" as evidence (RFC 7009 answers 200 for a
//! token it never knew), never report "revoked" on a guess — a probe that cannot decide says
//! "unverified" — never act on more than the one artifact it is given, and never log or
//! return a secret.
#![forbid(unsafe_code)]
#![deny(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub mod config;
pub mod connector;
pub mod limit;
pub mod liveness;
pub mod provider;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(any(feature = "oauth", feature = "scim", feature = "ssf"))]
mod http;
#[cfg(feature = "oauth")]
pub mod oauth;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "scim")]
pub mod scim;

#[cfg(feature = "ssf")]
pub mod ssf;

pub use config::{
    AwsConfig, ConnectorsConfig, Limits, OAuthConfig, PostgresConfig, ScimConfig, SecretRef,
    SsfConfig, SsfReceiverConfig, VerifyConfig,
};
pub use connector::Connector;
pub use provider::{
    Acted, Cascade, ConnectorError, Discovery, NotFound, PastAct, Provider, Semantics, Target,
    TargetKind,
};
