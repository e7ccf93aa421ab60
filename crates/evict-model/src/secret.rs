use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// A plaintext secret held in memory only long enough to fingerprint it.
///
/// It is deliberately not `Serialize`, not `Clone`, and its `Debug` and `Display` print
/// `[redacted]`, so a secret cannot reach a log line, a JSON document or the store by accident.
pub struct SecretString(String);

impl SecretString {
    /// Takes ownership of a plaintext secret.
    pub fn new(secret: String) -> Self {
        SecretString(secret)
    }

    /// The plaintext, for the fingerprint, the redacted preview, or the one call that needs
    /// it (a connector logging in with its administrator's credentials).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The redacted preview of this secret (see [`redacted_preview`]).
    pub fn preview(&self) -> String {
        redacted_preview(&self.0)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        // Best effort: overwrite the bytes before the allocation goes back to the allocator.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&bytes);
    }
}

/// A short preview that lets a responder recognise a secret without being able to use it:
/// a recognisable prefix (up to the first `_`/`-` within 8 characters, else 4 characters) and
/// the last 4 characters, e.g. `ghp_…Xy9Q`. Secrets shorter than 16 characters show only `…`
/// and their length, since any character of a short secret is a real share of it.
pub fn redacted_preview(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 16 {
        return format!("…({} chars)", chars.len());
    }
    let prefix_len = chars
        .iter()
        .take(8)
        .position(|c| *c == '_' || *c == '-')
        .map(|i| i + 1)
        .unwrap_or(4);
    let prefix: String = chars[..prefix_len].iter().collect();
    let suffix: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}…{suffix}")
}

/// The per-installation key under which secrets are fingerprinted (HMAC-SHA256).
///
/// A keyed fingerprint, unlike a bare hash, cannot be brute-forced from the store for
/// low-entropy secrets by someone who has the database but not the key.
pub struct FingerprintKey([u8; 32]);

impl FingerprintKey {
    /// Length of the key in bytes.
    pub const LEN: usize = 32;

    /// Wraps key bytes (generated and stored by the caller; this crate does no I/O).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        FingerprintKey(bytes)
    }

    /// The key's bytes, to write it to its file.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The keyed fingerprint of a secret.
    pub fn fingerprint(&self, secret: &SecretString) -> Fingerprint {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(secret.expose().as_bytes());
        Fingerprint(hex::encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey([redacted])")
    }
}

/// The keyed fingerprint of a secret: 64 lowercase hex digits. Equal secrets have equal
/// fingerprints under one installation key; this is the unit of revocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Wraps a fingerprint read back from the store.
    pub fn from_stored(hex: String) -> Self {
        Fingerprint(hex)
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, enough to tell fingerprints apart in a table.
    pub fn short(&self) -> &str {
        &self.0[..12.min(self.0.len())]
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn synthetic_secret() -> String {
        // Assembled at run time so the source tree never holds a token-shaped literal.
        format!("{}_{}", "ghp", "Zz".repeat(18))
    }

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let plain = synthetic_secret();
        let secret = SecretString::new(plain.clone());
        let shown = format!("{secret} {secret:?} {:?}", vec![&secret]);
        assert!(!shown.contains(&plain[4..]), "{shown}");
        assert!(shown.contains("[redacted]"));
        let key = FingerprintKey::from_bytes([7; 32]);
        assert_eq!(format!("{key:?}"), "FingerprintKey([redacted])");
    }

    #[test]
    fn preview_keeps_prefix_and_last_four_only() {
        let plain = synthetic_secret();
        assert_eq!(redacted_preview(&plain), "ghp_…ZzZz");
        assert_eq!(redacted_preview("short"), "…(5 chars)");
        assert_eq!(redacted_preview("AKIAABCDEFGHIJKLMNOP"), "AKIA…MNOP");
    }

    #[test]
    fn fingerprints_depend_on_the_key() {
        let secret = SecretString::new(synthetic_secret());
        let a = FingerprintKey::from_bytes([1; 32]).fingerprint(&secret);
        let b = FingerprintKey::from_bytes([2; 32]).fingerprint(&secret);
        assert_ne!(a, b);
        assert_eq!(a, FingerprintKey::from_bytes([1; 32]).fingerprint(&secret));
        assert_eq!(a.as_str().len(), 64);
        assert_eq!(a.short().len(), 12);
    }

    proptest! {
        #[test]
        fn preview_never_reveals_more_than_prefix_and_suffix(secret in "\\PC{0,80}") {
            let preview = redacted_preview(&secret);
            let n = secret.chars().count();
            if n < 16 {
                prop_assert_eq!(preview, format!("…({n} chars)"));
            } else {
                // At most 8 + 4 characters of the secret survive.
                prop_assert!(preview.chars().count() <= 8 + 1 + 4);
            }
        }
    }
}
