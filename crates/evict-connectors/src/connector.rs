//! One value for "a configured provider", whichever it is, so the executor and the commands
//! can hold several without knowing each type ([`Provider`] has async methods and is not
//! object-safe).

use evict_model::{ActionKind, Evidence};

use crate::config::ConnectorsConfig;
use crate::provider::{Acted, ConnectorError, Discovery, Provider, Semantics, Target};

/// A configured provider.
#[derive(Debug)]
#[non_exhaustive]
pub enum Connector {
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(crate::postgres::Postgres),
    /// An OAuth 2.0 / OIDC authorization server.
    #[cfg(feature = "oauth")]
    OAuth(crate::oauth::OAuth),
    /// A SCIM 2.0 service.
    #[cfg(feature = "scim")]
    Scim(crate::scim::Scim),
    /// AWS IAM and STS.
    #[cfg(feature = "aws")]
    Aws(Box<crate::aws::Aws>),
}

/// The providers this build can act on.
pub fn built_in() -> &'static [&'static str] {
    &[
        #[cfg(feature = "postgres")]
        "postgres",
        #[cfg(feature = "oauth")]
        "oauth",
        #[cfg(feature = "scim")]
        "scim",
        #[cfg(feature = "aws")]
        "aws",
    ]
}

impl Connector {
    /// The connector for `provider` from `config`: `Ok(None)` when the configuration has no
    /// table for it (or this build lacks it), an error when the table is there but unusable.
    pub async fn from_config(
        config: &ConnectorsConfig,
        provider: &str,
    ) -> Result<Option<Connector>, ConnectorError> {
        match provider {
            #[cfg(feature = "postgres")]
            "postgres" => match &config.postgres {
                Some(settings) => Ok(Some(Connector::Postgres(
                    crate::postgres::Postgres::from_config(settings).await?,
                ))),
                None => Ok(None),
            },
            #[cfg(feature = "oauth")]
            "oauth" => match &config.oauth {
                Some(settings) => Ok(Some(Connector::OAuth(
                    crate::oauth::OAuth::from_config(settings).await?,
                ))),
                None => Ok(None),
            },
            #[cfg(feature = "scim")]
            "scim" => match &config.scim {
                Some(settings) => Ok(Some(Connector::Scim(crate::scim::Scim::from_config(
                    settings,
                )?))),
                None => Ok(None),
            },
            #[cfg(feature = "aws")]
            "aws" => match &config.aws {
                Some(settings) => Ok(Some(Connector::Aws(Box::new(
                    crate::aws::Aws::from_config(settings)?,
                )))),
                None => Ok(None),
            },
            _ => {
                let _ = config;
                Ok(None)
            }
        }
    }

    /// Releases connections.
    pub async fn close(&self) {
        match self {
            #[cfg(feature = "postgres")]
            Connector::Postgres(p) => p.close().await,
            #[cfg(feature = "oauth")]
            Connector::OAuth(_) => {}
            #[cfg(feature = "scim")]
            Connector::Scim(_) => {}
            #[cfg(feature = "aws")]
            Connector::Aws(_) => {}
        }
    }
}

/// Calls `$method` on whichever provider `$self` holds.
macro_rules! each {
    ($self:expr, $p:ident => $body:expr) => {
        match $self {
            #[cfg(feature = "postgres")]
            Connector::Postgres($p) => $body,
            #[cfg(feature = "oauth")]
            Connector::OAuth($p) => $body,
            #[cfg(feature = "scim")]
            Connector::Scim($p) => $body,
            #[cfg(feature = "aws")]
            Connector::Aws($p) => $body,
        }
    };
}

impl Provider for Connector {
    fn name(&self) -> &'static str {
        each!(self, p => p.name())
    }

    fn semantics(&self) -> &Semantics {
        each!(self, p => p.semantics())
    }

    async fn discover(&self) -> Result<Discovery, ConnectorError> {
        each!(self, p => p.discover().await)
    }

    async fn act(&self, target: &Target, action: ActionKind) -> Result<Acted, ConnectorError> {
        each!(self, p => p.act(target, action).await)
    }

    async fn verify(
        &self,
        target: &Target,
        action: ActionKind,
    ) -> Result<Evidence, ConnectorError> {
        each!(self, p => p.verify(target, action).await)
    }

    fn recall(&self, target: &Target, action: ActionKind, act: &crate::provider::PastAct) {
        each!(self, p => p.recall(target, action, act))
    }

    fn describe(&self, target: &Target, action: ActionKind) -> String {
        each!(self, p => p.describe(target, action))
    }

    fn discovers(&self, kind: crate::provider::TargetKind) -> bool {
        each!(self, p => p.discovers(kind))
    }
}
