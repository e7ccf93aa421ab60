//! `evict rules check`: every rule's examples must match it and its negative examples must not,
//! through the whole engine (prefilter, regex, validators), exactly as a scan would run them.

use evict_model::FingerprintKey;
use jiff::Timestamp;
use serde::Serialize;

use crate::engine::Engine;
use crate::rules::RuleSet;

/// What the check found for one rule.
#[derive(Debug, Clone, Serialize)]
pub struct RuleCheck {
    /// Rule id.
    pub id: String,
    /// The file it came from.
    pub file: String,
    /// Problems that make the rule wrong.
    pub errors: Vec<String>,
    /// Problems that make the rule weak.
    pub warnings: Vec<String>,
}

/// The check of a whole rule set.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Rules checked.
    pub rules: usize,
    /// Examples run (positive and negative).
    pub examples: usize,
    /// Rules with errors or warnings.
    pub problems: Vec<RuleCheck>,
}

impl CheckReport {
    /// Total errors.
    pub fn errors(&self) -> usize {
        self.problems.iter().map(|p| p.errors.len()).sum()
    }

    /// Total warnings.
    pub fn warnings(&self) -> usize {
        self.problems.iter().map(|p| p.warnings.len()).sum()
    }
}

/// Runs every example of every rule through an engine built from `rules`.
pub fn check_rules(rules: RuleSet, now: Timestamp) -> CheckReport {
    // Fingerprints are not kept: any key will do.
    let engine = Engine::new(rules, FingerprintKey::from_bytes([7; 32]), now);
    let mut scratch = engine.scratch();
    let mut problems = Vec::new();
    let mut examples = 0;
    for (index, rule) in engine.rules().rules().iter().enumerate() {
        let index = index as u16;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for (n, example) in rule.examples.iter().enumerate() {
            examples += 1;
            let found = engine
                .scan(example.as_bytes(), 0, example.len(), &mut scratch)
                .detections
                .iter()
                .any(|d| d.rule == index);
            if !found {
                errors.push(format!(
                    "example {} does not produce a finding: {}",
                    n + 1,
                    why_not(rule, example.as_bytes())
                ));
            }
        }
        for (n, negative) in rule.negative_examples.iter().enumerate() {
            examples += 1;
            let found = engine
                .scan(negative.as_bytes(), 0, negative.len(), &mut scratch)
                .detections
                .iter()
                .any(|d| d.rule == index);
            if found {
                errors.push(format!(
                    "negative example {} produces a finding; tighten the pattern or add a validator",
                    n + 1
                ));
            }
        }
        for (n, example) in rule.examples.iter().enumerate() {
            for (other, id) in ids_in(engine.rules(), example.as_bytes()) {
                if secrets_of(rule, example.as_bytes()).contains(&id) {
                    errors.push(format!(
                        "example {}: captures as a secret what rule '{other}' keeps in clear as a \
                         provider id; a value is either secret or not",
                        n + 1
                    ));
                }
            }
        }
        if rule.negative_examples.is_empty() {
            warnings.push(
                "has no negative_examples: show at least one near miss or placeholder it must not report"
                    .into(),
            );
        }
        if !errors.is_empty() || !warnings.is_empty() {
            problems.push(RuleCheck {
                id: rule.id.clone(),
                file: rule.file.clone(),
                errors,
                warnings,
            });
        }
    }
    CheckReport {
        rules: engine.rules().len(),
        examples,
        problems,
    }
}

/// Every `secret` capture of `rule` in `text`.
fn secrets_of(rule: &crate::rules::Rule, text: &[u8]) -> Vec<Vec<u8>> {
    rule.regex
        .captures_iter(text)
        .filter_map(|c| c.get(rule.secret_group))
        .map(|m| m.as_bytes().to_vec())
        .collect()
}

/// Every non-secret id any rule captures in `text` (its `id` group or its `pair`), by rule.
fn ids_in(rules: &RuleSet, text: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut ids = Vec::new();
    for rule in rules.rules() {
        let mut regexes = Vec::new();
        if rule.id_group.is_some() {
            regexes.push(&rule.regex);
        }
        if let Some((pair, _)) = &rule.pair {
            regexes.push(pair);
        }
        for regex in regexes {
            let Some(group) = regex.capture_names().position(|n| n == Some("id")) else {
                continue;
            };
            for caps in regex.captures_iter(text) {
                if let Some(m) = caps.get(group) {
                    ids.push((rule.id.clone(), m.as_bytes().to_vec()));
                }
            }
        }
    }
    ids
}

/// Which stage turned an example away, so the rule author knows what to fix.
fn why_not(rule: &crate::rules::Rule, example: &[u8]) -> String {
    let lower = example.to_ascii_lowercase();
    let has_keyword = rule
        .keywords
        .iter()
        .any(|k| memchr::memmem::find(&lower, k.to_ascii_lowercase().as_bytes()).is_some());
    if !has_keyword {
        return "it contains none of the rule's keywords, so the prefilter skips it".into();
    }
    let Some(caps) = rule.regex.captures(example) else {
        return "the pattern does not match it".into();
    };
    let Some(secret) = caps.get(rule.secret_group) else {
        return "the pattern matches but the 'secret' group is empty".into();
    };
    if let Some(v) = rule
        .validators
        .iter()
        .find(|v| !v.accepts(secret.as_bytes()))
    {
        return format!("the validator {v:?} rejects the captured secret");
    }
    "it is silenced by an inline evict:allow".into()
}
