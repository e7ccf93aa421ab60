//! The tier policy: which containment tier each artifact of an incident's residual access set
//! gets, and the sentence that tells a responder why.
//!
//! A policy is data (TOML) so that a team can tighten or relax it without a new build: an
//! ordered list of rules, the first matching rule wins, and a fallback tier for artifacts no
//! rule matches. The default is shipped in `policy/default.toml` and explained in
//! `docs/incident-policy.md`. Tiers follow the CISA COUN7ER countermeasure types: kill =
//! Disable/Eliminate, rotate = Refresh, validate = Examine.
//!
//! Deciding is pure: the caller gathers the [`TierFacts`] (reasons, what the artifact is, the
//! owning identity's privilege, recent use) and [`Policy::decide`] maps them to a
//! [`TierDecision`]. The only I/O is [`Policy::from_file`].

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use evict_model::{CredentialKind, PrivilegeTier, ResidualReason, Tier, UnknownValue};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use toml::Spanned;

/// The shipped default policy, compiled in so the binary works without any file.
const DEFAULT_POLICY_TOML: &str = include_str!("../policy/default.toml");

/// The origin named in errors and reports for the compiled-in default policy.
pub const BUILT_IN_ORIGIN: &str = "built-in default";

/// The rule name a [`TierDecision`] carries when no rule matched and the policy's
/// `default_tier` applied. Reserved: no rule may use it.
pub const DEFAULT_TIER_RULE: &str = "default_tier";

/// `recent_use_days` when the policy does not set it.
pub const DEFAULT_RECENT_USE_DAYS: u32 = 30;

/// The largest accepted `recent_use_days`: ten years. Audit logs rarely reach back further,
/// and a larger number is far more likely a typo than an intent.
pub const MAX_RECENT_USE_DAYS: u32 = 3650;

/// Bumped when the meaning of a parsed policy changes, so that digests of the old and new
/// meaning can never collide.
const CANONICAL_FORMAT: &str = "evict.incident.policy.v1";

/// What an artifact is: an identity, or a credential of some kind. Its text form is `identity`
/// or the credential kind's text (`access_key`, `session`, …), as in a rule's `kinds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// An identity (user, service account, agent, app).
    Identity,
    /// A credential, session or grant of the given kind.
    Credential(CredentialKind),
}

impl Subject {
    /// The text form used in policies, JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Identity => "identity",
            Subject::Credential(kind) => kind.as_str(),
        }
    }

    /// Every subject, `identity` first, then the credential kinds in declaration order.
    pub fn all() -> impl Iterator<Item = Subject> {
        std::iter::once(Subject::Identity)
            .chain(CredentialKind::ALL.iter().copied().map(Subject::Credential))
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Subject {
    type Err = UnknownValue;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().eq_ignore_ascii_case("identity") {
            return Ok(Subject::Identity);
        }
        CredentialKind::from_str(text)
            .map(Subject::Credential)
            .map_err(|_| UnknownValue {
                vocabulary: "artifact kind",
                value: text.to_string(),
                expected: join_words(Subject::all()),
            })
    }
}

impl Serialize for Subject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Everything the policy looks at to tier one artifact. The caller gathers it from the
/// residual access set, the inventory and the usage aggregates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierFacts {
    /// Every reason the artifact is in the residual access set.
    pub reasons: BTreeSet<ResidualReason>,
    /// Whether it is an identity or a credential, and of which kind.
    pub subject: Subject,
    /// The privilege tier of the identity that owns it (of the identity itself for an
    /// identity artifact); `unknown` when there is no owner or the source does not say.
    pub privilege: PrivilegeTier,
    /// Audit events that used it in the last [`Policy::recent_use_days`] days.
    pub recent_uses: u64,
}

/// The tier the policy gave an artifact, the rule that gave it and that rule's explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierDecision {
    /// The containment tier.
    pub tier: Tier,
    /// The name of the matching rule, or [`DEFAULT_TIER_RULE`] when none matched.
    pub rule: String,
    /// The sentence shown to responders and written into reports.
    pub why: String,
}

/// One validated rule of a policy. An empty condition set means "no condition on this".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Unique name, cited by every decision this rule makes.
    pub name: String,
    /// The tier the rule gives.
    pub tier: Tier,
    /// One sentence for responders and reports.
    pub why: String,
    /// At least one of these reasons must be present.
    pub any_reason: BTreeSet<ResidualReason>,
    /// Every one of these reasons must be present.
    pub all_reasons: BTreeSet<ResidualReason>,
    /// The owning identity's privilege tier must be one of these.
    pub privilege: BTreeSet<PrivilegeTier>,
    /// The artifact must be one of these.
    pub kinds: BTreeSet<Subject>,
    /// `Some(true)`: used in the recent-use window; `Some(false)`: not used in it.
    pub in_use: Option<bool>,
}

impl Rule {
    /// Whether every condition of the rule holds for these facts.
    pub fn matches(&self, facts: &TierFacts) -> bool {
        let any_reason_holds = self.any_reason.is_empty()
            || self
                .any_reason
                .iter()
                .any(|reason| facts.reasons.contains(reason));
        let all_reasons_hold = self.all_reasons.is_subset(&facts.reasons);
        let privilege_holds =
            self.privilege.is_empty() || self.privilege.contains(&facts.privilege);
        let kind_holds = self.kinds.is_empty() || self.kinds.contains(&facts.subject);
        let in_use_holds = self
            .in_use
            .is_none_or(|wanted| wanted == (facts.recent_uses > 0));
        any_reason_holds && all_reasons_hold && privilege_holds && kind_holds && in_use_holds
    }

    /// Whether the rule has no conditions and so matches every artifact.
    pub fn is_catch_all(&self) -> bool {
        self.any_reason.is_empty()
            && self.all_reasons.is_empty()
            && self.privilege.is_empty()
            && self.kinds.is_empty()
            && self.in_use.is_none()
    }
}

/// A validated tier policy: ordered rules, first match wins, then `default_tier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    recent_use_days: u32,
    default_tier: Tier,
    rules: Vec<Rule>,
    origin: String,
    source_text: String,
    digest: String,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::default_policy()
    }
}

impl Policy {
    /// The shipped default policy (`policy/default.toml`, compiled in).
    pub fn default_policy() -> Policy {
        // The embedded text is fixed at build time and the unit tests parse it, so a failure
        // here is a broken build, not a runtime condition a caller could handle.
        #[allow(clippy::expect_used)]
        Policy::from_toml(DEFAULT_POLICY_TOML, BUILT_IN_ORIGIN)
            .expect("the built-in incident policy is valid (checked by the unit tests)")
    }

    /// Parses and validates a policy. `origin` names it in errors and in
    /// [`Policy::origin`]: a file path, or [`BUILT_IN_ORIGIN`].
    pub fn from_toml(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let source = Source { origin, text };
        let raw: RawPolicy = toml::from_str(text).map_err(|error| source.syntax(&error))?;

        let recent_use_days = match raw.recent_use_days {
            None => DEFAULT_RECENT_USE_DAYS,
            Some(days) => validate_recent_use_days(&source, days)?,
        };
        let default_tier = match raw.default_tier {
            None => Tier::Validate,
            Some(word) => word.get_ref().parse::<Tier>().map_err(|_| {
                source.invalid(
                    Some(word.span()),
                    None,
                    format!(
                        "default_tier \"{}\" is not a tier; valid tiers: {}",
                        word.get_ref(),
                        join_words(Tier::ALL.iter())
                    ),
                )
            })?,
        };
        let rules = validate_rules(&source, raw.rule)?;

        let digest = canonical_digest(recent_use_days, default_tier, &rules)
            .map_err(|problem| source.invalid(None, None, problem))?;
        Ok(Policy {
            recent_use_days,
            default_tier,
            rules,
            origin: origin.to_string(),
            source_text: text.to_string(),
            digest,
        })
    }

    /// Reads, parses and validates a policy file; errors name the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Policy, PolicyError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: origin.clone(),
            source,
        })?;
        Policy::from_toml(&text, &origin)
    }

    /// The tier for one artifact: the first rule that matches, else `default_tier`.
    pub fn decide(&self, facts: &TierFacts) -> TierDecision {
        match self.rules.iter().find(|rule| rule.matches(facts)) {
            Some(rule) => TierDecision {
                tier: rule.tier,
                rule: rule.name.clone(),
                why: rule.why.clone(),
            },
            None => TierDecision {
                tier: self.default_tier,
                rule: DEFAULT_TIER_RULE.to_string(),
                why: format!(
                    "No rule of the policy matched this artifact, so it gets the policy's \
                     default tier ({}).",
                    self.default_tier
                ),
            },
        }
    }

    /// How many days back "recent use" reaches ([`TierFacts::recent_uses`]).
    pub fn recent_use_days(&self) -> u32 {
        self.recent_use_days
    }

    /// The tier for artifacts no rule matches.
    pub fn default_tier(&self) -> Tier {
        self.default_tier
    }

    /// The rules in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Where the policy came from: a file path or [`BUILT_IN_ORIGIN`].
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The policy text exactly as read, comments included, so the policy in force can be shown.
    pub fn source_text(&self) -> &str {
        &self.source_text
    }

    /// SHA-256 (lowercase hex) of the canonical JSON of the parsed policy. Comments, key order
    /// and spelling variants do not change it; any change to what the policy decides does. A
    /// stored plan records it to say which policy produced it.
    pub fn digest(&self) -> String {
        self.digest.clone()
    }
}

/// A line and column (both from 1; the column counts characters) in a policy's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why a policy could not be loaded. Every message names the policy's origin.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy file could not be read.
    #[error("cannot read the incident policy {path}: {source}")]
    Read {
        /// The file asked for.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, or a value of the wrong type.
    #[error("incident policy {origin}{}: {message}", at(.location))]
    Syntax {
        /// File path or [`BUILT_IN_ORIGIN`].
        origin: String,
        /// Where in the text, when the parser knows.
        location: Option<Location>,
        /// The parser's complaint.
        message: String,
    },
    /// Valid TOML that is not a usable policy.
    #[error("incident policy {origin}{}: {}{problem}", at(.location), rule_prefix(.rule))]
    Invalid {
        /// File path or [`BUILT_IN_ORIGIN`].
        origin: String,
        /// Where in the text, when known.
        location: Option<Location>,
        /// The rule at fault, as `rule #N "name"`, when the problem is in one rule.
        rule: Option<String>,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

fn at(location: &Option<Location>) -> String {
    location.map(|l| format!(":{l}")).unwrap_or_default()
}

fn rule_prefix(rule: &Option<String>) -> String {
    rule.as_ref().map(|r| format!("{r}: ")).unwrap_or_default()
}

/// The policy text and its name, to turn byte spans into locations in errors.
struct Source<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn location(&self, span: &Range<usize>) -> Location {
        let at = evict_model::TextPosition::at(self.text, span.start);
        Location {
            line: at.line,
            column: at.column,
        }
    }

    fn syntax(&self, error: &toml::de::Error) -> PolicyError {
        let mut message = error.message().trim().to_string();
        let span = error.span();
        // `[rule]` instead of `[[rule]]` is the easiest slip to make and serde's wording
        // ("expected a sequence") does not point at the fix.
        let at_single_bracket_rule = span
            .as_ref()
            .and_then(|span| self.text.get(span.start..))
            .is_some_and(|rest| rest.starts_with("[rule]"));
        if at_single_bracket_rule {
            message.push_str("; rules are an array of tables: write [[rule]] with double brackets");
        }
        PolicyError::Syntax {
            origin: self.origin.to_string(),
            location: span.map(|span| self.location(&span)),
            message,
        }
    }

    fn invalid(
        &self,
        span: Option<Range<usize>>,
        rule: Option<&RuleLabel>,
        problem: String,
    ) -> PolicyError {
        PolicyError::Invalid {
            origin: self.origin.to_string(),
            location: span.map(|span| self.location(&span)),
            rule: rule.map(|label| label.to_string()),
            problem,
        }
    }
}

/// Names a rule in errors: by position (from 1, as a person counts `[[rule]]` tables) and by
/// name once it is known.
struct RuleLabel {
    number: usize,
    name: Option<String>,
}

impl fmt::Display for RuleLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "rule #{} \"{name}\"", self.number),
            None => write!(f, "rule #{}", self.number),
        }
    }
}

/// The file as written. Words stay strings here so that a wrong word gets a message naming
/// the rule and listing the valid words, which serde's own enum errors do not.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    recent_use_days: Option<Spanned<i64>>,
    default_tier: Option<Spanned<String>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

type RawWords = Option<Spanned<Vec<Spanned<String>>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<Spanned<String>>,
    tier: Option<Spanned<String>>,
    why: Option<Spanned<String>>,
    any_reason: RawWords,
    all_reasons: RawWords,
    privilege: RawWords,
    kinds: RawWords,
    in_use: Option<bool>,
}

fn validate_recent_use_days(source: &Source, days: Spanned<i64>) -> Result<u32, PolicyError> {
    let span = days.span();
    let days = *days.get_ref();
    match u32::try_from(days) {
        Ok(days) if (1..=MAX_RECENT_USE_DAYS).contains(&days) => Ok(days),
        _ => Err(source.invalid(
            Some(span),
            None,
            format!(
                "recent_use_days = {days} is out of range; it must be between 1 and \
                 {MAX_RECENT_USE_DAYS} (days of audit history that count as recent use)"
            ),
        )),
    }
}

fn validate_rules(
    source: &Source,
    raw_rules: Vec<Spanned<RawRule>>,
) -> Result<Vec<Rule>, PolicyError> {
    if raw_rules.is_empty() {
        return Err(source.invalid(
            None,
            None,
            "the policy has no [[rule]] tables, so every artifact would silently get \
             default_tier; start from a copy of the shipped default policy \
             (docs/incident-policy.md)"
                .to_string(),
        ));
    }
    let rule_count = raw_rules.len();
    let rule_spans: Vec<Range<usize>> = raw_rules.iter().map(Spanned::span).collect();
    let mut rules: Vec<Rule> = Vec::with_capacity(rule_count);
    for (index, raw) in raw_rules.into_iter().enumerate() {
        let rule = validate_rule(source, index + 1, raw, &rules)?;
        rules.push(rule);
    }
    if let Some(position) = rules.iter().position(Rule::is_catch_all)
        && position + 1 < rule_count
    {
        let dead: Vec<String> = rules
            .iter()
            .enumerate()
            .skip(position + 1)
            .map(|(index, rule)| format!("#{} \"{}\"", index + 1, rule.name))
            .collect();
        let label = RuleLabel {
            number: position + 1,
            name: rules.get(position).map(|rule| rule.name.clone()),
        };
        return Err(source.invalid(
            rule_spans.get(position).cloned(),
            Some(&label),
            format!(
                "it has no conditions, so it matches every artifact and the rules after it \
                 ({}) could never apply; move it to the end or give it a condition",
                dead.join(", ")
            ),
        ));
    }
    Ok(rules)
}

fn validate_rule(
    source: &Source,
    number: usize,
    raw: Spanned<RawRule>,
    earlier: &[Rule],
) -> Result<Rule, PolicyError> {
    let rule_span = raw.span();
    let raw = raw.into_inner();
    let mut label = RuleLabel { number, name: None };

    let Some(name) = raw.name else {
        return Err(source.invalid(
            Some(rule_span),
            Some(&label),
            "it has no name; add name = \"...\" (decisions and reports cite it)".to_string(),
        ));
    };
    let name_span = name.span();
    let name = name.into_inner();
    let name_is_well_formed = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !name_is_well_formed {
        return Err(source.invalid(
            Some(name_span),
            Some(&label),
            format!(
                "name \"{name}\" must be non-empty and use only letters, digits, '-', '_' \
                 and '.'"
            ),
        ));
    }
    label.name = Some(name.clone());
    if name == DEFAULT_TIER_RULE {
        return Err(source.invalid(
            Some(name_span),
            Some(&label),
            format!(
                "the name \"{DEFAULT_TIER_RULE}\" is reserved for decisions made by the \
                 policy's default_tier; choose another name"
            ),
        ));
    }
    if let Some(first) = earlier.iter().position(|rule| rule.name == name) {
        return Err(source.invalid(
            Some(name_span),
            Some(&label),
            format!(
                "rule #{} already has this name; rule names must be unique because decisions \
                 and reports cite them",
                first + 1
            ),
        ));
    }

    let Some(tier_word) = raw.tier else {
        return Err(source.invalid(
            Some(rule_span),
            Some(&label),
            format!(
                "it has no tier; add tier = one of {}",
                join_words(Tier::ALL.iter())
            ),
        ));
    };
    let tier = tier_word.get_ref().parse::<Tier>().map_err(|_| {
        source.invalid(
            Some(tier_word.span()),
            Some(&label),
            format!(
                "tier \"{}\" is not a tier; valid tiers: {} (kill = disable now, rotate = \
                 replace on a schedule, validate = examine after the incident)",
                tier_word.get_ref(),
                join_words(Tier::ALL.iter())
            ),
        )
    })?;

    let why = match raw.why {
        None => {
            return Err(source.invalid(
                Some(rule_span),
                Some(&label),
                "it has no why; add why = \"...\": one sentence telling responders why this \
                 tier (it is shown in the plan and the report)"
                    .to_string(),
            ));
        }
        Some(why) if why.get_ref().trim().is_empty() => {
            return Err(source.invalid(
                Some(why.span()),
                Some(&label),
                "why is empty; write one sentence telling responders why this tier".to_string(),
            ));
        }
        Some(why) => why.into_inner().trim().to_string(),
    };

    let context = WordsContext {
        source,
        label: &label,
    };
    let reasons = || join_words(ResidualReason::ALL.iter());
    let any_reason = context.parse("any_reason", raw.any_reason, "residual reason", &reasons)?;
    let all_reasons = context.parse("all_reasons", raw.all_reasons, "residual reason", &reasons)?;
    let privilege = context.parse("privilege", raw.privilege, "privilege tier", &|| {
        join_words(PrivilegeTier::ALL.iter())
    })?;
    let kinds = context.parse("kinds", raw.kinds, "artifact kind", &|| {
        join_words(Subject::all())
    })?;

    Ok(Rule {
        name,
        tier,
        why,
        any_reason,
        all_reasons,
        privilege,
        kinds,
        in_use: raw.in_use,
    })
}

/// Parses a rule's word lists, naming the rule and the valid words when one is wrong.
struct WordsContext<'a> {
    source: &'a Source<'a>,
    label: &'a RuleLabel,
}

impl WordsContext<'_> {
    fn parse<T: FromStr + Ord>(
        &self,
        key: &str,
        words: RawWords,
        what: &str,
        valid: &dyn Fn() -> String,
    ) -> Result<BTreeSet<T>, PolicyError> {
        let Some(words) = words else {
            return Ok(BTreeSet::new());
        };
        if words.get_ref().is_empty() {
            // An empty list reads as "no condition" to some and "matches nothing" to others;
            // refusing it avoids both surprises.
            return Err(self.source.invalid(
                Some(words.span()),
                Some(self.label),
                format!("{key} = [] is empty; list at least one {what} or remove the key"),
            ));
        }
        words
            .into_inner()
            .into_iter()
            .map(|word| {
                word.get_ref().parse::<T>().map_err(|_| {
                    self.source.invalid(
                        Some(word.span()),
                        Some(self.label),
                        format!(
                            "{key} lists \"{}\", which is not a known {what}; valid: {}",
                            word.get_ref(),
                            valid()
                        ),
                    )
                })
            })
            .collect()
    }
}

fn join_words<T: fmt::Display>(words: impl IntoIterator<Item = T>) -> String {
    words
        .into_iter()
        .map(|word| word.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the digest covers: everything that changes a decision, nothing that does not (origin,
/// comments, formatting).
#[derive(Serialize)]
struct CanonicalPolicy<'a> {
    format: &'static str,
    recent_use_days: u32,
    default_tier: Tier,
    rules: &'a [Rule],
}

fn canonical_digest(
    recent_use_days: u32,
    default_tier: Tier,
    rules: &[Rule],
) -> Result<String, String> {
    let canonical = CanonicalPolicy {
        format: CANONICAL_FORMAT,
        recent_use_days,
        default_tier,
        rules,
    };
    let json = serde_json::to_vec(&canonical)
        .map_err(|error| format!("cannot compute the policy digest: {error}"))?;
    Ok(hex::encode(Sha256::digest(&json)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ResidualReason::*;

    fn facts(
        reasons: &[ResidualReason],
        subject: Subject,
        privilege: PrivilegeTier,
        recent_uses: u64,
    ) -> TierFacts {
        TierFacts {
            reasons: reasons.iter().copied().collect(),
            subject,
            privilege,
            recent_uses,
        }
    }

    fn credential(kind: CredentialKind) -> Subject {
        Subject::Credential(kind)
    }

    fn error_text(text: &str) -> String {
        Policy::from_toml(text, "test-policy.toml")
            .unwrap_err()
            .to_string()
    }

    const ONE_RULE_TAIL: &str = r#"
[[rule]]
name = "rest"
tier = "validate"
why = "Everything else."
"#;

    #[test]
    fn default_policy_parses_with_the_documented_rules_in_order() {
        let policy = Policy::default_policy();
        assert_eq!(policy.origin(), BUILT_IN_ORIGIN);
        assert_eq!(policy.recent_use_days(), 30);
        assert_eq!(policy.default_tier(), Tier::Validate);
        let rules: Vec<(&str, Tier)> = policy
            .rules()
            .iter()
            .map(|rule| (rule.name.as_str(), rule.tier))
            .collect();
        assert_eq!(
            rules,
            vec![
                ("attacker-created", Tier::Kill),
                ("used-from-indicator", Tier::Kill),
                ("exposed-privileged-idle", Tier::Kill),
                ("exposed-privileged-in-use", Tier::Rotate),
                ("exposed", Tier::Rotate),
                ("pre-patch-sessions", Tier::Kill),
                ("signing-keys", Tier::Rotate),
                ("in-scope", Tier::Validate),
            ]
        );
        assert_eq!(policy.source_text(), DEFAULT_POLICY_TOML);
        assert_eq!(Policy::default(), policy);
    }

    #[test]
    fn every_default_rule_is_reachable_and_decides_its_documented_tier() {
        use CredentialKind::*;
        use PrivilegeTier::*;
        let policy = Policy::default_policy();
        let cases = [
            (
                facts(
                    &[CreatedDuringWindow, IdentityInScope],
                    Subject::Identity,
                    Standard,
                    0,
                ),
                "attacker-created",
                Tier::Kill,
            ),
            (
                // Attacker-made wins even when production already leans on it.
                facts(&[CreatedByFoothold], credential(AccessKey), Admin, 500),
                "attacker-created",
                Tier::Kill,
            ),
            (
                facts(
                    &[UsedFromIndicator, ExposedInScope],
                    credential(ApiToken),
                    Admin,
                    12,
                ),
                "used-from-indicator",
                Tier::Kill,
            ),
            (
                facts(
                    &[UsedAfterPatchFromNewSource],
                    credential(Password),
                    Standard,
                    3,
                ),
                "used-from-indicator",
                Tier::Kill,
            ),
            (
                facts(&[ExposedInScope], credential(AccessKey), Admin, 0),
                "exposed-privileged-idle",
                Tier::Kill,
            ),
            (
                facts(
                    &[CopyOfExposed, IdentityInScope],
                    credential(ClientSecret),
                    Privileged,
                    0,
                ),
                "exposed-privileged-idle",
                Tier::Kill,
            ),
            (
                facts(&[CopyOfExposed], credential(AccessKey), Privileged, 5),
                "exposed-privileged-in-use",
                Tier::Rotate,
            ),
            (
                facts(&[ExposedInScope], credential(ApiToken), Standard, 100),
                "exposed",
                Tier::Rotate,
            ),
            (
                // Unknown privilege is not treated as privileged by the default.
                facts(&[ExposedInScope], credential(WebhookSecret), Unknown, 0),
                "exposed",
                Tier::Rotate,
            ),
            (
                facts(
                    &[IssuedBeforePatch, IdentityInScope],
                    credential(RefreshToken),
                    Standard,
                    9,
                ),
                "pre-patch-sessions",
                Tier::Kill,
            ),
            (
                facts(&[IssuedBeforePatch], credential(OauthGrant), Admin, 0),
                "pre-patch-sessions",
                Tier::Kill,
            ),
            (
                facts(&[SigningKeyInScope], credential(SigningKey), Admin, 10_000),
                "signing-keys",
                Tier::Rotate,
            ),
            (
                facts(&[IdentityInScope], credential(Password), Admin, 0),
                "in-scope",
                Tier::Validate,
            ),
            (
                // issued_before_patch only kills the session-like kinds it names.
                facts(
                    &[IssuedBeforePatch, IdentityInScope],
                    credential(SshKey),
                    Standard,
                    0,
                ),
                "in-scope",
                Tier::Validate,
            ),
        ];
        let mut reached = BTreeSet::new();
        for (facts, rule, tier) in &cases {
            let decision = policy.decide(facts);
            assert_eq!(
                (decision.rule.as_str(), decision.tier),
                (*rule, *tier),
                "facts: {facts:?}"
            );
            let expected_why = &policy.rules().iter().find(|r| r.name == *rule).unwrap().why;
            assert_eq!(&decision.why, expected_why);
            reached.insert(decision.rule);
        }
        let all: BTreeSet<String> = policy.rules().iter().map(|r| r.name.clone()).collect();
        assert_eq!(reached, all, "every default rule must be reachable");
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let kill_first = r#"
[[rule]]
name = "kill-exposed"
tier = "kill"
why = "Exposed."
any_reason = ["exposed_in_scope"]

[[rule]]
name = "rotate-tokens"
tier = "rotate"
why = "Tokens."
kinds = ["api_token"]
"#;
        let rotate_first = r#"
[[rule]]
name = "rotate-tokens"
tier = "rotate"
why = "Tokens."
kinds = ["api_token"]

[[rule]]
name = "kill-exposed"
tier = "kill"
why = "Exposed."
any_reason = ["exposed_in_scope"]
"#;
        let exposed_token = facts(
            &[ExposedInScope],
            credential(CredentialKind::ApiToken),
            PrivilegeTier::Standard,
            0,
        );
        let decision = Policy::from_toml(kill_first, "a")
            .unwrap()
            .decide(&exposed_token);
        assert_eq!(
            (decision.rule.as_str(), decision.tier),
            ("kill-exposed", Tier::Kill)
        );
        let decision = Policy::from_toml(rotate_first, "b")
            .unwrap()
            .decide(&exposed_token);
        assert_eq!(
            (decision.rule.as_str(), decision.tier),
            ("rotate-tokens", Tier::Rotate)
        );
    }

    #[test]
    fn default_tier_applies_when_no_rule_matches() {
        let policy = Policy::from_toml(
            r#"
default_tier = "rotate"
recent_use_days = 7

[[rule]]
name = "indicator"
tier = "kill"
why = "Attacker used it."
any_reason = ["used_from_indicator"]
"#,
            "custom.toml",
        )
        .unwrap();
        assert_eq!(policy.recent_use_days(), 7);
        let decision = policy.decide(&facts(
            &[IdentityInScope],
            Subject::Identity,
            PrivilegeTier::Unknown,
            0,
        ));
        assert_eq!(decision.tier, Tier::Rotate);
        assert_eq!(decision.rule, DEFAULT_TIER_RULE);
        assert!(
            decision.why.contains("default tier (rotate)"),
            "{}",
            decision.why
        );
    }

    #[test]
    fn conditions_are_anded_and_each_one_is_enforced() {
        let policy = Policy::from_toml(
            r#"
[[rule]]
name = "strict"
tier = "kill"
why = "All conditions hold."
any_reason = ["exposed_in_scope", "copy_of_exposed"]
all_reasons = ["identity_in_scope", "issued_before_patch"]
privilege = ["admin"]
kinds = ["identity", "session"]
in_use = true
"#,
            "strict.toml",
        )
        .unwrap();
        let matching = facts(
            &[CopyOfExposed, IdentityInScope, IssuedBeforePatch],
            Subject::Identity,
            PrivilegeTier::Admin,
            1,
        );
        assert_eq!(policy.decide(&matching).rule, "strict");
        assert_eq!(
            policy
                .decide(&TierFacts {
                    subject: credential(CredentialKind::Session),
                    ..matching.clone()
                })
                .rule,
            "strict"
        );

        let variations = [
            (
                "no any_reason",
                TierFacts {
                    reasons: [IdentityInScope, IssuedBeforePatch].into_iter().collect(),
                    ..matching.clone()
                },
            ),
            (
                "all_reasons incomplete",
                TierFacts {
                    reasons: [CopyOfExposed, IdentityInScope].into_iter().collect(),
                    ..matching.clone()
                },
            ),
            (
                "privilege",
                TierFacts {
                    privilege: PrivilegeTier::Privileged,
                    ..matching.clone()
                },
            ),
            (
                "kind",
                TierFacts {
                    subject: credential(CredentialKind::AccessKey),
                    ..matching.clone()
                },
            ),
            (
                "not in use",
                TierFacts {
                    recent_uses: 0,
                    ..matching.clone()
                },
            ),
        ];
        for (what, facts) in variations {
            assert_eq!(policy.decide(&facts).rule, DEFAULT_TIER_RULE, "{what}");
        }
    }

    #[test]
    fn words_are_read_leniently_and_stored_canonically() {
        let policy = Policy::from_toml(
            r#"
[[rule]]
name = "x"
tier = "Kill"
why = "  Spaced.  "
any_reason = ["Exposed-In-Scope"]
kinds = ["Identity", "refresh-token"]
"#,
            "t",
        )
        .unwrap();
        let rule = &policy.rules()[0];
        assert_eq!(rule.tier, Tier::Kill);
        assert_eq!(rule.why, "Spaced.");
        assert_eq!(rule.any_reason, [ExposedInScope].into_iter().collect());
        assert_eq!(
            rule.kinds,
            [Subject::Identity, credential(CredentialKind::RefreshToken)]
                .into_iter()
                .collect()
        );
    }

    #[test]
    fn syntax_errors_name_the_origin_line_and_column() {
        let text = "recent_use_days = 30\n\n[[rule]\nname = \"x\"\n";
        let message = error_text(text);
        assert!(
            message.starts_with("incident policy test-policy.toml:3:"),
            "{message}"
        );

        let message = error_text("recent_use_days = 30\nwhy = \"a\" \"b\"\n");
        assert!(
            message.starts_with("incident policy test-policy.toml:2:11: "),
            "{message}"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let message = error_text("# é\n[[rule]]\nname = \"é\" 7\n");
        assert!(
            message.starts_with("incident policy test-policy.toml:3:12: "),
            "{message}"
        );
    }

    #[test]
    fn a_single_bracket_rule_table_gets_a_hint() {
        let message = error_text("recent_use_days = 30\n[rule]\nname = \"x\"\n");
        assert!(
            message.starts_with("incident policy test-policy.toml:2:1: "),
            "{message}"
        );
        assert!(
            message.ends_with("write [[rule]] with double brackets"),
            "{message}"
        );

        let message = error_text(&format!(
            "[[rule]]\nname = \"a\"\ntier = \"kill\"\nwhy = \"w\"\nkinds = {{ x = 1 }}\n{ONE_RULE_TAIL}"
        ));
        assert!(!message.contains("double brackets"), "{message}");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_location() {
        let message = error_text(&format!(
            "[[rule]]\nname = \"a\"\ntier = \"kill\"\nwhy = \"w\"\nany_reasons = [\"exposed_in_scope\"]\n{ONE_RULE_TAIL}"
        ));
        assert!(
            message.starts_with("incident policy test-policy.toml:5:1: "),
            "{message}"
        );
        assert!(message.contains("unknown field `any_reasons`"), "{message}");
        assert!(
            message.contains("`any_reason`"),
            "valid keys are listed: {message}"
        );

        let message = error_text("[[rules]]\nname = \"a\"\n");
        assert!(
            message.starts_with("incident policy test-policy.toml:1:"),
            "{message}"
        );
        assert!(message.contains("unknown field `rules`"), "{message}");
    }

    #[test]
    fn wrong_value_types_are_syntax_errors_with_location() {
        let message = error_text(&format!(
            "[[rule]]\nname = \"a\"\ntier = \"kill\"\nwhy = \"w\"\nin_use = \"yes\"\n{ONE_RULE_TAIL}"
        ));
        assert!(
            message.starts_with("incident policy test-policy.toml:5:10: "),
            "{message}"
        );
        assert!(message.contains("boolean"), "{message}");
    }

    #[test]
    fn unknown_tier_names_the_rule_and_lists_the_tiers() {
        let message = error_text(
            "[[rule]]\nname = \"nuke\"\ntier = \"terminate\"\nwhy = \"w\"\nin_use = true\n",
        );
        assert!(
            message.starts_with(
                "incident policy test-policy.toml:3:8: rule #1 \"nuke\": tier \"terminate\" is not a tier; valid tiers: kill, rotate, validate"
            ),
            "{message}"
        );
    }

    #[test]
    fn unknown_reason_names_the_rule_and_lists_every_reason() {
        let message = error_text(&format!(
            "[[rule]]\nname = \"leak\"\ntier = \"kill\"\nwhy = \"w\"\nall_reasons = [\"identity_in_scope\", \"exposed\"]\n{ONE_RULE_TAIL}"
        ));
        assert!(
            message.starts_with(
                "incident policy test-policy.toml:5:37: rule #1 \"leak\": all_reasons lists \"exposed\", which is not a known residual reason; valid: "
            ),
            "{message}"
        );
        for reason in ResidualReason::ALL {
            assert!(
                message.contains(reason.as_str()),
                "{reason} missing: {message}"
            );
        }
    }

    #[test]
    fn unknown_kind_lists_identity_and_every_credential_kind() {
        let message = error_text(&format!(
            "{ONE_RULE_TAIL}\n[[rule]]\nname = \"tok\"\ntier = \"kill\"\nwhy = \"w\"\nkinds = [\"token\"]\n"
        ));
        assert!(message.contains("test-policy.toml:"), "{message}");
        assert!(
            message.contains(
                "rule #2 \"tok\": kinds lists \"token\", which is not a known artifact kind"
            ),
            "{message}"
        );
        for subject in Subject::all() {
            assert!(
                message.contains(subject.as_str()),
                "{subject} missing: {message}"
            );
        }
    }

    #[test]
    fn unknown_privilege_lists_the_privilege_tiers() {
        let message = error_text(
            "[[rule]]\nname = \"root\"\ntier = \"kill\"\nwhy = \"w\"\nprivilege = [\"root\"]\n",
        );
        assert!(
            message.contains(
                "rule #1 \"root\": privilege lists \"root\", which is not a known privilege tier; valid: standard, privileged, admin, unknown"
            ),
            "{message}"
        );
        assert!(
            message.starts_with("incident policy test-policy.toml:5:14: "),
            "{message}"
        );
    }

    #[test]
    fn duplicate_rule_names_are_rejected() {
        let message = error_text(&format!(
            "[[rule]]\nname = \"rest\"\ntier = \"kill\"\nwhy = \"w\"\nin_use = true\n{ONE_RULE_TAIL}"
        ));
        assert!(
            message.contains("rule #2 \"rest\": rule #1 already has this name"),
            "{message}"
        );
        assert!(
            message.starts_with("incident policy test-policy.toml:"),
            "{message}"
        );
    }

    #[test]
    fn an_empty_rule_list_is_rejected() {
        let message = error_text("recent_use_days = 30\n");
        assert!(
            message
                .starts_with("incident policy test-policy.toml: the policy has no [[rule]] tables"),
            "{message}"
        );
        let message = error_text("rule = []\n");
        assert!(message.contains("has no [[rule]] tables"), "{message}");
    }

    #[test]
    fn missing_why_name_or_tier_are_rejected_per_rule() {
        let message = error_text(&format!(
            "{ONE_RULE_TAIL}\n[[rule]]\nname = \"quiet\"\ntier = \"kill\"\nin_use = true\n"
        ));
        assert!(
            message.contains("test-policy.toml:")
                && message.contains("rule #2 \"quiet\": it has no why"),
            "{message}"
        );

        let message = error_text(
            "[[rule]]\nname = \"blank\"\ntier = \"kill\"\nwhy = \"   \"\nin_use = true\n",
        );
        assert!(
            message.starts_with(
                "incident policy test-policy.toml:4:7: rule #1 \"blank\": why is empty"
            ),
            "{message}"
        );

        let message = error_text("[[rule]]\ntier = \"kill\"\nwhy = \"w\"\n");
        assert!(message.contains("rule #1: it has no name"), "{message}");

        let message = error_text("[[rule]]\nname = \"t\"\nwhy = \"w\"\n");
        assert!(
            message.contains(
                "rule #1 \"t\": it has no tier; add tier = one of kill, rotate, validate"
            ),
            "{message}"
        );
    }

    #[test]
    fn malformed_or_reserved_rule_names_are_rejected() {
        let message = error_text("[[rule]]\nname = \"two words\"\ntier = \"kill\"\nwhy = \"w\"\n");
        assert!(
            message.contains("rule #1: name \"two words\" must be non-empty"),
            "{message}"
        );
        let message =
            error_text("[[rule]]\nname = \"default_tier\"\ntier = \"kill\"\nwhy = \"w\"\n");
        assert!(message.contains("is reserved"), "{message}");
    }

    #[test]
    fn a_catch_all_rule_must_be_last() {
        let message = error_text(&format!(
            "[[rule]]\nname = \"everything\"\ntier = \"kill\"\nwhy = \"w\"\n\n[[rule]]\nname = \"idle\"\ntier = \"kill\"\nwhy = \"w\"\nin_use = false\n{ONE_RULE_TAIL}"
        ));
        assert!(
            message.starts_with(
                "incident policy test-policy.toml:1:1: rule #1 \"everything\": it has no conditions"
            ),
            "{message}"
        );
        assert!(message.contains("#2 \"idle\", #3 \"rest\""), "{message}");
    }

    #[test]
    fn empty_condition_lists_are_rejected() {
        let message = error_text(&format!(
            "[[rule]]\nname = \"none\"\ntier = \"kill\"\nwhy = \"w\"\nkinds = []\n{ONE_RULE_TAIL}"
        ));
        assert!(
            message.contains("test-policy.toml:5:9: rule #1 \"none\": kinds = [] is empty"),
            "{message}"
        );
    }

    #[test]
    fn recent_use_days_must_be_between_1_and_3650() {
        for (days, column) in [("0", 19), ("3651", 19), ("-5", 19)] {
            let message = error_text(&format!("recent_use_days = {days}\n{ONE_RULE_TAIL}"));
            assert!(
                message.starts_with(&format!(
                    "incident policy test-policy.toml:1:{column}: recent_use_days = {days} is out of range; it must be between 1 and 3650"
                )),
                "{message}"
            );
        }
        for days in [1, 3650] {
            let policy =
                Policy::from_toml(&format!("recent_use_days = {days}\n{ONE_RULE_TAIL}"), "t")
                    .unwrap();
            assert_eq!(policy.recent_use_days(), days);
        }
    }

    #[test]
    fn an_unknown_default_tier_is_rejected() {
        let message = error_text(&format!("default_tier = \"ignore\"\n{ONE_RULE_TAIL}"));
        assert!(
            message.starts_with(
                "incident policy test-policy.toml:1:16: default_tier \"ignore\" is not a tier; valid tiers: kill, rotate, validate"
            ),
            "{message}"
        );
    }

    #[test]
    fn files_are_read_and_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, ONE_RULE_TAIL).unwrap();
        let policy = Policy::from_file(&path).unwrap();
        assert_eq!(policy.origin(), path.display().to_string());
        assert_eq!(policy.source_text(), ONE_RULE_TAIL);

        let missing = dir.path().join("missing.toml");
        let message = Policy::from_file(&missing).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!(
                "cannot read the incident policy {}: ",
                missing.display()
            )),
            "{message}"
        );

        std::fs::write(
            &path,
            "[[rule]]\nname = \"x\"\ntier = \"zap\"\nwhy = \"w\"\n",
        )
        .unwrap();
        let message = Policy::from_file(&path).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("incident policy {}:3:8: ", path.display())),
            "{message}"
        );
    }

    #[test]
    fn the_digest_is_stable_and_tracks_meaning_not_formatting() {
        let default = Policy::default_policy();
        assert_eq!(default.digest(), Policy::default_policy().digest());
        assert_eq!(default.digest().len(), 64);
        assert!(
            default
                .digest()
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );

        // Comments, blank lines and the origin are not part of the meaning.
        let stripped: String = DEFAULT_POLICY_TOML
            .lines()
            .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
            .map(|line| format!("{line}\n"))
            .collect();
        let reparsed = Policy::from_toml(&stripped, "elsewhere.toml").unwrap();
        assert_eq!(reparsed.digest(), default.digest());

        let changed = [
            DEFAULT_POLICY_TOML.replacen("tier = \"kill\"", "tier = \"rotate\"", 1),
            DEFAULT_POLICY_TOML.replacen("recent_use_days = 30", "recent_use_days = 31", 1),
            DEFAULT_POLICY_TOML.replacen("in_use = false", "", 1),
            DEFAULT_POLICY_TOML.replacen("disable it now.", "disable it at once.", 1),
            DEFAULT_POLICY_TOML.replacen(
                "\"created_by_foothold\"",
                "\"created_by_foothold\", \"identity_in_scope\"",
                1,
            ),
        ];
        let mut digests = BTreeSet::from([default.digest()]);
        for text in &changed {
            assert_ne!(text.as_str(), DEFAULT_POLICY_TOML, "the edit must apply");
            let policy = Policy::from_toml(text, BUILT_IN_ORIGIN).unwrap();
            assert!(
                digests.insert(policy.digest()),
                "digest did not change for an edit"
            );
        }

        // Rule order is meaning too: swap rules 4 and 5.
        let mut rules: Vec<&str> = DEFAULT_POLICY_TOML.split("[[rule]]").collect();
        rules.swap(4, 5);
        let swapped = Policy::from_toml(&rules.join("[[rule]]"), BUILT_IN_ORIGIN).unwrap();
        assert_eq!(swapped.rules()[3].name, "exposed");
        assert_ne!(swapped.digest(), default.digest());
    }

    #[test]
    fn subjects_use_the_vocabulary_text_form() {
        for subject in Subject::all() {
            assert_eq!(subject.as_str().parse::<Subject>().unwrap(), subject);
        }
        let error = "token".parse::<Subject>().unwrap_err();
        assert!(
            error.to_string().contains("identity, access_key"),
            "{error}"
        );

        let facts = facts(
            &[IssuedBeforePatch, IdentityInScope],
            credential(CredentialKind::RefreshToken),
            PrivilegeTier::Admin,
            4,
        );
        let json = serde_json::to_value(&facts).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "reasons": ["identity_in_scope", "issued_before_patch"],
                "subject": "refresh_token",
                "privilege": "admin",
                "recent_uses": 4,
            })
        );
        assert_eq!(serde_json::from_value::<TierFacts>(json).unwrap(), facts);
    }

    #[test]
    fn every_toml_example_in_the_documentation_is_a_valid_policy() {
        let doc = include_str!("../../../docs/incident-policy.md");
        let mut examples = 0;
        for block in doc.split("```toml").skip(1) {
            let example = block.split("```").next().unwrap();
            if let Err(error) = Policy::from_toml(example, "docs/incident-policy.md") {
                panic!("documentation example does not parse: {error}\n{example}");
            }
            examples += 1;
        }
        assert!(examples >= 2, "expected the doc to show TOML examples");
    }
}
