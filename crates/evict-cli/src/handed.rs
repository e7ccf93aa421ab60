//! Secrets a responder hands over for one run (`--secrets FILE`): the store keeps only keyed
//! fingerprints, but some acts and probes need the value itself (an OAuth server revokes and
//! introspects a token only when shown it). The values are held in memory for the run and
//! found by fingerprint; they are never printed, journalled or stored.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use evict_model::{FingerprintKey, SecretString};

use crate::output;

/// The handed-over secrets, by fingerprint.
#[derive(Default)]
pub(crate) struct HandedSecrets {
    by_fingerprint: HashMap<String, Arc<SecretString>>,
}

/// A line of a secrets file that is not a secret.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RejectedLine {
    pub line: usize,
    pub reason: &'static str,
}

impl HandedSecrets {
    /// Reads `path` (one secret a line; blank lines and lines starting with `#` are skipped),
    /// fingerprinting each under `key`. Lines that cannot be a secret are reported by number
    /// on stderr — never their content — and the rest are used.
    pub(crate) fn read(path: &Path, key: &FingerprintKey, quiet: bool) -> anyhow::Result<Self> {
        warn_if_readable_by_others(path, quiet);
        let bytes = std::fs::read(path)
            .with_context(|| format!("{}: cannot read the secrets file", path.display()))?;
        let (handed, rejected) = Self::parse(&bytes, key);
        for r in &rejected {
            output::note(
                false,
                &format!(
                    "warning: {}:{}: skipped: {}",
                    path.display(),
                    r.line,
                    r.reason
                ),
            );
        }
        output::note(
            quiet,
            &format!(
                "{}: {} secrets handed over for this run{}",
                path.display(),
                handed.len(),
                if rejected.is_empty() {
                    String::new()
                } else {
                    format!(", {} lines skipped", rejected.len())
                }
            ),
        );
        Ok(handed)
    }

    fn parse(bytes: &[u8], key: &FingerprintKey) -> (Self, Vec<RejectedLine>) {
        let mut handed = HandedSecrets::default();
        let mut rejected = Vec::new();
        for (n, raw) in bytes.split(|b| *b == b'\n').enumerate() {
            let line = n + 1;
            let Ok(text) = std::str::from_utf8(raw) else {
                rejected.push(RejectedLine {
                    line,
                    reason: "not UTF-8 text",
                });
                continue;
            };
            let text = text.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            if text.chars().any(char::is_whitespace) {
                rejected.push(RejectedLine {
                    line,
                    reason: "holds whitespace: write one secret a line, with nothing else on it",
                });
                continue;
            }
            let secret = SecretString::new(text.to_string());
            let fingerprint = key.fingerprint(&secret);
            handed
                .by_fingerprint
                .entry(fingerprint.as_str().to_string())
                .or_insert_with(|| Arc::new(secret));
        }
        (handed, rejected)
    }

    /// The secret whose fingerprint is `fingerprint`, if it was handed over.
    pub(crate) fn get(&self, fingerprint: &str) -> Option<&Arc<SecretString>> {
        self.by_fingerprint.get(fingerprint)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_fingerprint.len()
    }
}

/// A file of live secrets should be the responder's alone; say so when it is not, without
/// refusing (the responder may be on a shared machine with no choice).
fn warn_if_readable_by_others(path: &Path, quiet: bool) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            output::note(
                quiet,
                &format!(
                    "{}: readable by others (mode {:o}); `chmod 600` it, and delete it when the \
                     incident is closed",
                    path.display(),
                    meta.permissions().mode() & 0o777
                ),
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, quiet);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_secret_a_line_is_found_by_fingerprint_and_bad_lines_are_numbered() {
        let key = FingerprintKey::from_bytes([7; 32]);
        let text = b"# tokens from the attacker's stash\n\nrt-synthetic-0001\r\n  at-synthetic-0002  \nnot one secret\n\xff\xfe\nrt-synthetic-0001\n";
        let (handed, rejected) = HandedSecrets::parse(text, &key);
        assert_eq!(handed.len(), 2, "duplicates count once");
        let fp = key.fingerprint(&SecretString::new("at-synthetic-0002".into()));
        assert_eq!(
            handed.get(fp.as_str()).map(|s| s.expose()),
            Some("at-synthetic-0002")
        );
        assert_eq!(
            rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![5, 6]
        );
    }
}
