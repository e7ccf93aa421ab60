//! `.evictignore`: findings a team has decided about, each with the reason it gave.
//!
//! ```text
//! # kind:value   reason (required)
//! path:rules/secrets/*.yml    rule examples are synthetic test data
//! rule:generic.password       too noisy in this repository; tracked in SEC-123
//! fingerprint:3f2a9c41d07e    revoked 2026-10-01, kept in the changelog on purpose
//! ```

use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};

/// A line of `.evictignore` that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct IgnoreFileError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parsed ignore entries.
#[derive(Debug, Default)]
pub struct IgnoreList {
    fingerprints: Vec<String>,
    rules: Vec<String>,
    paths: Option<GlobSet>,
    /// Every entry with its reason, for the report.
    pub entries: Vec<(String, String)>,
}

/// Shortest fingerprint prefix accepted: the table's short form.
const MIN_FINGERPRINT_PREFIX: usize = 12;

impl IgnoreList {
    /// Parses `.evictignore` text.
    pub fn parse(file: &str, text: &str) -> Result<IgnoreList, IgnoreFileError> {
        let mut list = IgnoreList::default();
        let mut globs = GlobSetBuilder::new();
        let mut any_glob = false;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |reason: String| IgnoreFileError {
                file: file.to_string(),
                line: n + 1,
                reason,
            };
            let (entry, reason) = line
                .split_once(char::is_whitespace)
                .map(|(e, r)| (e, r.trim()))
                .unwrap_or((line, ""));
            if reason.is_empty() {
                return Err(error(format!(
                    "'{entry}' has no reason; write why it is safe to ignore after the entry"
                )));
            }
            let (kind, value) = entry.split_once(':').ok_or_else(|| {
                error(format!(
                    "'{entry}' is not kind:value (kinds: path, rule, fingerprint)"
                ))
            })?;
            match kind {
                "path" => {
                    let glob = Glob::new(value)
                        .map_err(|e| error(format!("bad path glob '{value}': {e}")))?;
                    globs.add(glob);
                    any_glob = true;
                }
                "rule" => list.rules.push(value.to_string()),
                "fingerprint" => {
                    let value = value.to_ascii_lowercase();
                    if value.len() < MIN_FINGERPRINT_PREFIX
                        || !value.bytes().all(|b| b.is_ascii_hexdigit())
                    {
                        return Err(error(format!(
                            "fingerprint '{value}' must be at least {MIN_FINGERPRINT_PREFIX} hex digits"
                        )));
                    }
                    list.fingerprints.push(value);
                }
                other => {
                    return Err(error(format!(
                        "unknown kind '{other}' (kinds: path, rule, fingerprint)"
                    )));
                }
            }
            list.entries.push((entry.to_string(), reason.to_string()));
        }
        if any_glob {
            list.paths = Some(globs.build().map_err(|e| IgnoreFileError {
                file: file.to_string(),
                line: 0,
                reason: e.to_string(),
            })?);
        }
        Ok(list)
    }

    /// Reads `.evictignore` in `root` if it exists.
    pub fn load(root: &Path) -> Result<IgnoreList, IgnoreFileError> {
        let path = root.join(".evictignore");
        match std::fs::read_to_string(&path) {
            Ok(text) => IgnoreList::parse(&path.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IgnoreList::default()),
            Err(e) => Err(IgnoreFileError {
                file: path.display().to_string(),
                line: 0,
                reason: e.to_string(),
            }),
        }
    }

    /// Adds another list's entries.
    pub fn merge(&mut self, other: IgnoreList) {
        self.fingerprints.extend(other.fingerprints);
        self.rules.extend(other.rules);
        self.entries.extend(other.entries);
        self.paths = match (self.paths.take(), other.paths) {
            (None, p) | (p, None) => p,
            // Two glob sets: keep both by rebuilding from the recorded path entries.
            (Some(_), Some(_)) => {
                let mut builder = GlobSetBuilder::new();
                for (entry, _) in &self.entries {
                    if let Some(Ok(glob)) = entry.strip_prefix("path:").map(Glob::new) {
                        builder.add(glob);
                    }
                }
                builder.build().ok()
            }
        };
    }

    /// True when `path` (relative to the scanned root, `/`-separated) is ignored.
    pub fn ignores_path(&self, path: &str) -> bool {
        self.paths
            .as_ref()
            .is_some_and(|set| set.is_match(path.trim_start_matches("./")))
    }

    /// True when findings of this rule or fingerprint are ignored.
    pub fn ignores_finding(&self, rule: &str, fingerprint: &str) -> bool {
        self.rules.iter().any(|r| r == rule)
            || self.fingerprints.iter().any(|f| fingerprint.starts_with(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_need_reasons_and_known_kinds() {
        let list = IgnoreList::parse(
            ".evictignore",
            "# comment\npath:docs/**  examples only\nrule:generic.password noisy\nfingerprint:ABCDEF012345 revoked\n",
        )
        .unwrap();
        assert!(list.ignores_path("docs/a/b.md"));
        assert!(list.ignores_path("./docs/x"));
        assert!(!list.ignores_path("src/docs.rs"));
        assert!(list.ignores_finding("generic.password", "00"));
        assert!(list.ignores_finding("x", "abcdef0123456789"));
        assert!(!list.ignores_finding("x", "abcdef0000"));

        let err = IgnoreList::parse("f", "\n\nrule:x\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.reason.contains("no reason"), "{err}");
        assert!(IgnoreList::parse("f", "wat:x because").is_err());
        assert!(IgnoreList::parse("f", "fingerprint:abc short").is_err());
    }
}
