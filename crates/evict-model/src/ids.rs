use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The system an identity or credential belongs to, e.g. `aws`, `okta`, `github`, `vault`.
///
/// Lowercase ASCII letters, digits, `-`, `_` and `.`; at most 64 characters. Two records with
/// the same provider and external id are the same record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Provider(String);

/// A provider name that breaks the rules of [`Provider`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "provider '{0}' is not valid: use 1-64 lowercase letters, digits, '-', '_' or '.' (e.g. aws, okta, github)"
)]
pub struct ProviderError(pub String);

impl Provider {
    /// Validates and normalises (trims, lowercases) a provider name.
    pub fn new(name: &str) -> Result<Self, ProviderError> {
        let normalised = name.trim().to_ascii_lowercase();
        let valid = !normalised.is_empty()
            && normalised.len() <= 64
            && normalised
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
        if valid {
            Ok(Provider(normalised))
        } else {
            Err(ProviderError(name.to_string()))
        }
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Provider {
    type Error = ProviderError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Provider::new(&value)
    }
}

impl From<Provider> for String {
    fn from(value: Provider) -> Self {
        value.0
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Content-derived ids: the same provider and external key always give the same id, on every
/// machine and backend, so imports are idempotent and ids in reports are stable.
fn derive_id(prefix: &str, provider: &Provider, external: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prefix.as_bytes());
    hasher.update([0]);
    hasher.update(provider.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(external.as_bytes());
    let digest = hasher.finalize();
    format!("{prefix}_{}", hex::encode(&digest[..8]))
}

macro_rules! content_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id of the record with this provider and external key.
            pub fn derive(provider: &Provider, external_key: &str) -> Self {
                $name(derive_id($prefix, provider, external_key))
            }

            /// Wraps an id read back from the store or typed by a user.
            pub fn from_stored(id: String) -> Self {
                $name(id)
            }

            /// The id's text, e.g. `i_0f3a9c1d2b4e5f60`.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether `text` has this id's shape (prefix, underscore, 16 hex digits).
            pub fn looks_like(text: &str) -> bool {
                text.strip_prefix(concat!($prefix, "_"))
                    .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

content_id!(
    /// Evict's id of an identity, derived from its provider and external id.
    IdentityId,
    "i"
);
content_id!(
    /// Evict's id of a credential, derived from its provider and external key.
    CredentialId,
    "c"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_derived_from_content_only() {
        let aws = Provider::new("AWS").unwrap();
        let a = IdentityId::derive(&aws, "arn:aws:iam::123456789012:user/alice");
        let b = IdentityId::derive(&aws, "arn:aws:iam::123456789012:user/alice");
        let c = IdentityId::derive(&aws, "arn:aws:iam::123456789012:user/bob");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(IdentityId::looks_like(a.as_str()), "{a}");
        assert!(!CredentialId::looks_like(a.as_str()));
        // Identity and credential ids never collide for the same text.
        assert_ne!(
            a.as_str()[2..],
            CredentialId::derive(&aws, "arn:aws:iam::123456789012:user/alice").as_str()[2..]
        );
    }

    #[test]
    fn provider_names_are_normalised_and_checked() {
        assert_eq!(Provider::new(" Okta ").unwrap().as_str(), "okta");
        assert!(Provider::new("").is_err());
        assert!(Provider::new("my provider").is_err());
        assert!(Provider::new(&"a".repeat(65)).is_err());
    }
}
