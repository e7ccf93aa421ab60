//! SARIF 2.1.0 for code-scanning services (GitHub code scanning accepts it): one result per
//! place a secret was seen, all results of one secret sharing its fingerprint.

use evict_model::{Confidence, Location};
use serde_json::{Value, json};

use crate::findings::SecretFinding;
use crate::rules::RuleSet;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF log for `findings` found with `rules`.
pub fn sarif_log(findings: &[SecretFinding], rules: &RuleSet, tool_version: &str) -> Value {
    let mut used: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    used.sort_unstable();
    used.dedup();
    let descriptors: Vec<Value> = used
        .iter()
        .filter_map(|id| rules.rules().iter().find(|r| r.id == *id))
        .map(|rule| {
            let mut descriptor = json!({
                "id": rule.id,
                "name": pascal_case(&rule.id),
                "shortDescription": { "text": rule.name },
                "fullDescription": {
                    "text": rule.description.clone().unwrap_or_else(|| format!(
                        "{} ({} {}) found in plain text. Revoke it at the issuer, then remove every copy.",
                        rule.name, rule.provider, rule.kind
                    ))
                },
                "defaultConfiguration": { "level": level(rule.confidence) },
                "properties": {
                    "tags": ["security", "secret", rule.provider.as_str()],
                    "precision": precision(rule.confidence),
                    "security-severity": severity(rule.confidence),
                },
            });
            if let Some(uri) = rule.references.first() {
                descriptor["helpUri"] = json!(uri);
            }
            descriptor
        })
        .collect();
    let mut results = Vec::new();
    for finding in findings {
        let rule_index = used.iter().position(|id| *id == finding.rule);
        let places = finding.locations.len();
        for location in &finding.locations {
            let message = format!(
                "{} {} (fingerprint {}, {}) seen in {} place{}. Revoke it at {}, then remove every copy.",
                finding.name,
                finding.preview,
                finding.fingerprint.short(),
                finding.persistence,
                places,
                if places == 1 { "" } else { "s" },
                finding.provider,
            );
            let mut result = json!({
                "ruleId": finding.rule,
                "level": level(finding.confidence),
                "message": { "text": message },
                "locations": [physical_location(location)],
                "partialFingerprints": {
                    "evictSecret/v1": finding.fingerprint.as_str(),
                    "evictLocation/v1": location.display(),
                },
                "properties": {
                    "fingerprint": finding.fingerprint.as_str(),
                    "persistence": finding.persistence.class(),
                    "kind": finding.kind,
                },
            });
            if let Some(index) = rule_index {
                result["ruleIndex"] = json!(index);
            }
            if let Some(liveness) = &finding.liveness {
                result["properties"]["liveness"] = json!(liveness.state);
                result["properties"]["livenessReason"] = json!(liveness.reason);
            }
            if let Location::Git {
                commit,
                author,
                date,
                ..
            } = location
            {
                result["properties"]["commit"] = json!(commit);
                result["properties"]["author"] = json!(author);
                result["properties"]["committed_at"] = json!(date.to_string());
            }
            results.push(result);
        }
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "evict",
                "version": tool_version,
                "informationUri": "https://example.invalid/evict",
                "rules": descriptors,
            }},
            "results": results,
            "columnKind": "utf16CodeUnits",
        }],
    })
}

fn physical_location(location: &Location) -> Value {
    let (uri, line, column) = match location {
        Location::File {
            path,
            line,
            column,
            ..
            // An archive member has no URI of its own: the archive is the artifact.
        } => (uri_reference(path), *line, *column),
        Location::Git {
            path, line, column, ..
        } => (uri_reference(path), *line, *column),
        Location::Message { export, line, .. } => (uri_reference(export), *line, 1),
    };
    let mut physical = json!({
        "physicalLocation": {
            "artifactLocation": { "uri": uri },
            "region": { "startLine": line.max(1), "startColumn": column.max(1) },
        }
    });
    if let Location::File {
        entry: Some(entry), ..
    } = location
    {
        physical["message"] = json!({ "text": format!("inside archive member {entry}") });
    }
    physical
}

/// A relative URI reference for a path: `/` separators, unsafe bytes percent-encoded.
fn uri_reference(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn pascal_case(id: &str) -> String {
    id.split(['.', '-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn level(confidence: Confidence) -> &'static str {
    match confidence {
        Confidence::High | Confidence::Medium => "error",
        Confidence::Low => "warning",
    }
}

fn precision(confidence: Confidence) -> &'static str {
    match confidence {
        Confidence::High => "very-high",
        Confidence::Medium => "high",
        Confidence::Low => "medium",
    }
}

fn severity(confidence: Confidence) -> &'static str {
    match confidence {
        Confidence::High => "9.0",
        Confidence::Medium => "7.5",
        Confidence::Low => "5.0",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_escaped_and_relative() {
        assert_eq!(uri_reference("src/a b.rs"), "src/a%20b.rs");
        assert_eq!(uri_reference("dir\\x.txt"), "dir/x.txt");
        assert_eq!(pascal_case("github.pat.classic"), "GithubPatClassic");
    }
}
