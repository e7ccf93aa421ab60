//! Detection rules: loaded from YAML (docs/rule-format.md), compiled once into a [`RuleSet`]
//! with one multi-literal prefilter over every rule's keywords.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use evict_model::{Confidence, CredentialKind, Provider};
use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::validate::Validator;

/// The rule files shipped in the binary: `rules/secrets/*.yml`, embedded at build time.
const BUILTIN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// Upper bound on a compiled rule regex; a pattern that needs more is a mistake.
const REGEX_SIZE_LIMIT: usize = 8 << 20;

/// Why rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// A rules file could not be read.
    #[error("cannot read rules file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A rules file is not valid YAML of the rule schema.
    #[error("{file}: {reason} (see docs/rule-format.md)")]
    Parse {
        /// The file.
        file: String,
        /// What the parser said, with line and column.
        reason: String,
    },
    /// A rule is well-formed YAML but unusable.
    #[error("{file}: rule '{rule}': {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// The rule id.
        rule: String,
        /// What is wrong.
        reason: String,
    },
    /// The keyword prefilter could not be built.
    #[error("cannot build the keyword prefilter: {0}")]
    Prefilter(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rules: Vec<RuleSpec>,
}

/// One rule as written in YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique id.
    pub id: String,
    /// What the secret is.
    pub name: String,
    /// Issuer.
    pub provider: String,
    /// Credential kind.
    pub kind: String,
    /// high / medium / low.
    pub confidence: String,
    /// Prefilter literals.
    pub keywords: Vec<String>,
    /// The regex with a `secret` group.
    pub pattern: String,
    /// A nearby id pattern.
    #[serde(default)]
    pub pair: Option<PairSpec>,
    /// Checks on the secret.
    #[serde(default)]
    pub validators: Vec<ValidatorSpec>,
    /// How the lifetime is known.
    pub persistence: String,
    /// Texts that must match.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Texts that must not match.
    #[serde(default)]
    pub negative_examples: Vec<String>,
    /// Documentation links.
    #[serde(default)]
    pub references: Vec<String>,
    /// Longer explanation.
    #[serde(default)]
    pub description: Option<String>,
}

/// `pair:` in YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairSpec {
    /// Regex with an `id` group.
    pub pattern: String,
    /// How many lines before and after the secret to look.
    pub within_lines: u32,
}

/// A validator as written: a name, or `entropy: N`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ValidatorSpec {
    /// `github_checksum`, `jwt`, …
    Named(String),
    /// `entropy: 3.5`
    Entropy {
        /// Minimum Shannon entropy, bits per character.
        entropy: f64,
    },
}

/// How a rule learns the lifetime of what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifetimeSource {
    /// Nothing bounds it.
    Unbounded,
    /// Short-lived by construction.
    Temporary,
    /// The issuer holds an expiry.
    ServerSideExpiry,
    /// A JWT `exp` claim.
    JwtExp,
    /// An X.509 `notAfter`.
    Certificate,
    /// Nothing known.
    Unknown,
}

impl LifetimeSource {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "unbounded" => LifetimeSource::Unbounded,
            "temporary" => LifetimeSource::Temporary,
            "server_side_expiry" => LifetimeSource::ServerSideExpiry,
            "jwt_exp" => LifetimeSource::JwtExp,
            "certificate" => LifetimeSource::Certificate,
            "unknown" => LifetimeSource::Unknown,
            _ => return None,
        })
    }
}

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// Unique id.
    pub id: String,
    /// What the secret is.
    pub name: String,
    /// Issuer.
    pub provider: Provider,
    /// Credential kind.
    pub kind: CredentialKind,
    /// How sure a match is.
    pub confidence: Confidence,
    /// Prefilter literals.
    pub keywords: Vec<String>,
    pub(crate) regex: Regex,
    pub(crate) secret_group: usize,
    pub(crate) id_group: Option<usize>,
    pub(crate) pair: Option<(Regex, u32)>,
    pub(crate) validators: Vec<Validator>,
    /// How the lifetime is known.
    pub lifetime: LifetimeSource,
    /// Where the format is documented.
    pub references: Vec<String>,
    /// Longer explanation, if any.
    pub description: Option<String>,
    /// The file the rule came from.
    pub file: String,
    pub(crate) examples: Vec<String>,
    pub(crate) negative_examples: Vec<String>,
}

/// Every rule, compiled, with the keyword automaton that decides which rules run on an input.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) prefilter: AhoCorasick,
    /// For each prefilter pattern, the rules it triggers.
    pub(crate) triggers: Vec<Vec<u16>>,
}

impl RuleSet {
    /// The rules shipped in the binary.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        let mut specs = Vec::new();
        for (file, text) in BUILTIN {
            specs.extend(parse_file(file, text)?);
        }
        RuleSet::compile(specs)
    }

    /// The built-in rules plus every `*.yml`/`*.yaml` file in `dir` (same ids replace built-ins).
    pub fn builtin_and_dir(dir: &Path) -> Result<RuleSet, RuleError> {
        let mut specs: Vec<(String, RuleSpec)> = Vec::new();
        for (file, text) in BUILTIN {
            specs.extend(parse_file(file, text)?);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| RuleError::Read {
                path: dir.to_path_buf(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| RuleError::Read {
                path: path.clone(),
                source,
            })?;
            for (file, spec) in parse_file(&path.display().to_string(), &text)? {
                specs.retain(|(_, s)| s.id != spec.id);
                specs.push((file, spec));
            }
        }
        RuleSet::compile(specs)
    }

    /// Compiles parsed rules; rejects duplicates, bad regexes and unknown vocabulary.
    pub fn compile(specs: Vec<(String, RuleSpec)>) -> Result<RuleSet, RuleError> {
        let mut seen = HashSet::new();
        let mut rules = Vec::with_capacity(specs.len());
        for (file, spec) in specs {
            if !seen.insert(spec.id.clone()) {
                return Err(RuleError::Invalid {
                    file,
                    rule: spec.id,
                    reason: "this id is used by another rule".into(),
                });
            }
            rules.push(compile_rule(file, spec)?);
        }
        if rules.len() > usize::from(u16::MAX) {
            return Err(RuleError::Prefilter("more than 65535 rules".into()));
        }
        // One automaton over the distinct keywords; each keyword remembers its rules.
        let mut keyword_index: BTreeMap<String, Vec<u16>> = BTreeMap::new();
        for (index, rule) in rules.iter().enumerate() {
            for keyword in &rule.keywords {
                keyword_index
                    .entry(keyword.to_ascii_lowercase())
                    .or_default()
                    .push(index as u16);
            }
        }
        let (keywords, mut triggers): (Vec<String>, Vec<Vec<u16>>) =
            keyword_index.into_iter().unzip();
        // The search reports the longest keyword at each position. A keyword contains every
        // shorter keyword that is a substring of it, so it triggers their rules too.
        let direct = triggers.clone();
        for (i, keyword) in keywords.iter().enumerate() {
            for (j, other) in keywords.iter().enumerate() {
                if i != j && keyword.contains(other.as_str()) {
                    triggers[i].extend(&direct[j]);
                }
            }
            triggers[i].sort_unstable();
            triggers[i].dedup();
        }
        let prefilter = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&keywords)
            .map_err(|e| RuleError::Prefilter(e.to_string()))?;
        Ok(RuleSet {
            rules,
            prefilter,
            triggers,
        })
    }

    /// The compiled rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule at an index from a match.
    pub fn rule(&self, index: u16) -> &Rule {
        &self.rules[usize::from(index)]
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// Parses one rules file; every rule comes back with the file's name.
pub fn parse_file(file: &str, text: &str) -> Result<Vec<(String, RuleSpec)>, RuleError> {
    let parsed: RuleFile = yaml_serde::from_str(text).map_err(|e| RuleError::Parse {
        file: file.to_string(),
        reason: e.to_string(),
    })?;
    Ok(parsed
        .rules
        .into_iter()
        .map(|spec| (file.to_string(), spec))
        .collect())
}

fn compile_rule(file: String, spec: RuleSpec) -> Result<Rule, RuleError> {
    let invalid = |reason: String| RuleError::Invalid {
        file: file.clone(),
        rule: spec.id.clone(),
        reason,
    };
    let id_ok = !spec.id.is_empty()
        && spec
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !id_ok {
        return Err(invalid(
            "id must be lowercase letters, digits, '.', '_' or '-'".into(),
        ));
    }
    let provider = Provider::new(&spec.provider).map_err(|e| invalid(e.to_string()))?;
    let kind: CredentialKind = spec.kind.parse().map_err(|e| invalid(format!("{e}")))?;
    let confidence: Confidence = spec
        .confidence
        .parse()
        .map_err(|e| invalid(format!("{e}")))?;
    let lifetime = LifetimeSource::parse(&spec.persistence).ok_or_else(|| {
        invalid(format!(
            "persistence '{}' is not one of unbounded, temporary, server_side_expiry, jwt_exp, \
             certificate, unknown",
            spec.persistence
        ))
    })?;
    if spec.keywords.is_empty() {
        return Err(invalid(
            "needs at least one keyword: the prefilter runs a rule only where one occurs".into(),
        ));
    }
    if let Some(short) = spec.keywords.iter().find(|k| k.len() < 3) {
        return Err(invalid(format!(
            "keyword '{short}' is shorter than 3 characters and would make the prefilter match almost everywhere"
        )));
    }
    let regex = build_regex(&spec.pattern).map_err(|e| invalid(format!("pattern: {e}")))?;
    let secret_group = group_index(&regex, "secret")
        .ok_or_else(|| invalid("pattern has no named group 'secret'".into()))?;
    let id_group = group_index(&regex, "id");
    let pair = match &spec.pair {
        None => None,
        Some(pair) => {
            let pair_regex =
                build_regex(&pair.pattern).map_err(|e| invalid(format!("pair.pattern: {e}")))?;
            if group_index(&pair_regex, "id").is_none() {
                return Err(invalid("pair.pattern has no named group 'id'".into()));
            }
            Some((pair_regex, pair.within_lines))
        }
    };
    let validators = spec
        .validators
        .iter()
        .map(Validator::from_spec)
        .collect::<Result<Vec<_>, String>>()
        .map_err(invalid)?;
    if spec.examples.is_empty() {
        return Err(invalid("needs at least one example that must match".into()));
    }
    Ok(Rule {
        id: spec.id,
        name: spec.name,
        provider,
        kind,
        confidence,
        keywords: spec.keywords,
        regex,
        secret_group,
        id_group,
        pair,
        validators,
        lifetime,
        references: spec.references,
        description: spec.description,
        file,
        examples: spec.examples,
        negative_examples: spec.negative_examples,
    })
}

fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

fn group_index(regex: &Regex, name: &str) -> Option<usize> {
    regex.capture_names().position(|group| group == Some(name))
}

/// The `secret` captures of every rule's own examples, as `(rule id, example text, secrets)`.
///
/// Test support only: these are the rules' synthetic examples, never scanned input. The
/// no-plaintext test plants every example and checks none of these strings comes out.
#[doc(hidden)]
pub fn example_secrets(rules: &RuleSet) -> Vec<(String, String, Vec<String>)> {
    rules
        .rules
        .iter()
        .flat_map(|rule| {
            rule.examples.iter().map(move |example| {
                let secrets = rule
                    .regex
                    .captures_iter(example.as_bytes())
                    .filter_map(|c| c.get(rule.secret_group))
                    .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                    .collect();
                (rule.id.clone(), example.clone(), secrets)
            })
        })
        .collect()
}
