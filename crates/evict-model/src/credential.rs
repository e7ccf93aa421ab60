use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{CredentialId, IdentityId, Provider};
use crate::secret::Fingerprint;
use crate::vocabulary::vocabulary;

vocabulary!(
    /// What kind of trust artifact a credential is.
    CredentialKind, "credential kind" {
        /// A long-term cloud access key (e.g. AWS AKIA…).
        AccessKey = "access_key",
        /// An API token or personal access token.
        ApiToken = "api_token",
        /// A password (console or database login).
        Password = "password",
        /// A signed-in session.
        Session = "session",
        /// An OAuth refresh token.
        RefreshToken = "refresh_token",
        /// An OAuth access token or other bearer token.
        AccessToken = "access_token",
        /// An OAuth consent or app authorisation.
        OauthGrant = "oauth_grant",
        /// An SSH public key or certificate.
        SshKey = "ssh_key",
        /// An X.509 certificate (client or signing).
        Certificate = "certificate",
        /// A registered device or authenticator.
        Device = "device",
        /// A key that signs tokens others trust.
        SigningKey = "signing_key",
        /// A shared webhook secret.
        WebhookSecret = "webhook_secret",
        /// A service-account key file or client secret.
        ClientSecret = "client_secret",
    }
);

vocabulary!(
    /// The provider's view of a credential.
    CredentialStatus, "credential status" {
        /// Usable.
        Active = "active",
        /// Deactivated but not deleted; can be re-activated.
        Inactive = "inactive",
        /// Revoked or deleted.
        Revoked = "revoked",
        /// Past its expiry.
        Expired = "expired",
    }
);

/// A trust artifact bound to an identity (or to nobody, which is itself a risk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Evict's id, derived from `provider` and `external_key`.
    pub id: CredentialId,
    /// The provider the credential authenticates to.
    pub provider: Provider,
    /// The key that identifies this credential in its source: the provider-native id where
    /// the source has one, otherwise a stable slot such as `<user arn>#access_key_1`.
    pub external_key: String,
    /// The provider-native, non-secret id (e.g. an AWS access key id) once known; discovery
    /// attaches it to a slot that an import could only name.
    pub native_id: Option<String>,
    /// The identity it belongs to, if any.
    pub identity: Option<IdentityId>,
    /// What kind of artifact it is.
    pub kind: CredentialKind,
    /// Active, inactive, revoked or expired.
    pub status: CredentialStatus,
    /// Keyed fingerprint of the secret, when the secret itself was seen.
    pub fingerprint: Option<Fingerprint>,
    /// Redacted preview of the secret, when seen.
    pub preview: Option<String>,
    /// When it was issued (or last rotated).
    pub issued_at: Option<Timestamp>,
    /// When it expires; `None` means nothing bounds its life: persistent.
    pub expires_at: Option<Timestamp>,
    /// When it was last used, when the source says.
    pub last_used_at: Option<Timestamp>,
    /// Where it was last used from (IP, region, service), when the source says.
    pub last_used_from: Option<String>,
    /// The scopes or permissions it carries.
    pub scopes: Vec<String>,
}

impl Credential {
    /// A new active credential with the id derived from provider and external key.
    pub fn new(provider: Provider, external_key: impl Into<String>, kind: CredentialKind) -> Self {
        let external_key = external_key.into();
        Credential {
            id: CredentialId::derive(&provider, &external_key),
            provider,
            external_key,
            native_id: None,
            identity: None,
            kind,
            status: CredentialStatus::Active,
            fingerprint: None,
            preview: None,
            issued_at: None,
            expires_at: None,
            last_used_at: None,
            last_used_from: None,
            scopes: Vec::new(),
        }
    }

    /// True when nothing bounds the credential's life.
    pub fn is_persistent(&self) -> bool {
        self.expires_at.is_none()
    }
}
