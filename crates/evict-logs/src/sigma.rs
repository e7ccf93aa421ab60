//! The Sigma side of the hunt engine: loading rule files (Evict's pack, the shipped SigmaHQ
//! rules, a responder's own folder), deciding which log source each rule runs on, and
//! evaluating records with rsigma.
//!
//! rsigma is young, so it stays behind [`HuntEngine`]: the rest of Evict sees rule metadata and
//! rule indexes, never rsigma types.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use evict_model::Severity;
use rsigma_eval::{Engine, Event as SigmaEvent};
use rsigma_parser::{Level, LogSource, SigmaRule};
use serde::Serialize;

use crate::read::SourceKind;

/// One rule file's text and where it came from.
#[derive(Debug, Clone)]
pub struct RuleText {
    /// Where the text came from, as shown to people (`rules/hunts/aws/…yml`).
    pub origin: String,
    /// The YAML.
    pub text: String,
    /// Which pack it belongs to.
    pub pack: Pack,
}

/// Where a rule came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pack {
    /// Evict's own post-patch persistence pack (`rules/hunts/`).
    Evict,
    /// The SigmaHQ rules shipped in `rules/sigmahq/`.
    Sigmahq,
    /// A folder given with `--rules`.
    User,
}

/// What a responder needs to know about a rule that can fire.
#[derive(Debug, Clone, Serialize)]
pub struct HuntRule {
    /// The name Evict shows: the rule's `name`, else its `id`, else its title.
    pub name: String,
    /// The Sigma `id`.
    pub id: Option<String>,
    /// The title.
    pub title: String,
    /// How serious a hit is.
    pub severity: Severity,
    /// ATT&CK technique ids (`T1098.001`).
    pub techniques: Vec<String>,
    /// ATT&CK tactics (`persistence`).
    pub tactics: Vec<String>,
    /// The rule's author (SigmaHQ's licence asks that it is shown).
    pub author: Option<String>,
    /// The file it came from.
    pub origin: String,
    /// Which pack it belongs to.
    pub pack: Pack,
    /// The log source it runs on; `None` when no reader of Evict's produces its logsource.
    pub runs_on: Option<SourceKind>,
    /// The rule's logsource, as written (`aws/cloudtrail`).
    pub logsource: String,
}

/// A rule (or file) that loaded but cannot run, or did not load at all.
#[derive(Debug, Clone, Serialize)]
pub struct RuleProblem {
    /// The file.
    pub origin: String,
    /// The rule's name or id, when the file got that far.
    pub rule: Option<String>,
    /// Loaded and valid, but no log source of Evict's feeds it (the rule is listed, not run).
    pub unsupported: bool,
    /// What is wrong, for a person.
    pub reason: String,
}

impl std::fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rule {
            Some(rule) => write!(f, "{}: rule {rule}: {}", self.origin, self.reason),
            None => write!(f, "{}: {}", self.origin, self.reason),
        }
    }
}

/// One embedded example event of a rule.
#[derive(Debug, Clone)]
struct Example {
    name: String,
    should_match: bool,
    json: String,
}

/// What running the rules' embedded examples showed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExampleReport {
    /// Examples run.
    pub run: usize,
    /// Examples of rules that cannot run on any of Evict's log sources.
    pub not_run: usize,
    /// Examples that did not do what they say.
    pub failures: Vec<RuleProblem>,
}

/// Evaluates raw records and says which rules match.
pub trait HuntEngine: Send + Sync {
    /// Appends to `hits` the index (into [`HuntEngine::rules`]) of every rule that matches.
    fn evaluate(&self, kind: SourceKind, record: &dyn RecordFields, hits: &mut Vec<usize>);
    /// Every rule that loaded, runnable or not.
    fn rules(&self) -> &[HuntRule];
}

/// Field access the engine needs from a record; implemented by the lazily parsed record.
pub trait RecordFields: SigmaEvent {}
impl<T: SigmaEvent> RecordFields for T {}

/// Field access the engine needs from a record, as a sized wrapper rsigma accepts.
struct Dyn<'a>(&'a dyn RecordFields);

impl SigmaEvent for Dyn<'_> {
    fn get_field(&self, path: &str) -> Option<rsigma_eval::EventValue<'_>> {
        self.0.get_field(path)
    }
    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.0.any_string_value(pred)
    }
    fn all_string_values(&self) -> Vec<std::borrow::Cow<'_, str>> {
        self.0.all_string_values()
    }
    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        self.0.visit_string_values(visit)
    }
    fn to_json(&self) -> serde_json::Value {
        self.0.to_json()
    }
    fn field_keys(&self) -> Vec<std::borrow::Cow<'_, str>> {
        self.0.field_keys()
    }
    // The candidate index probes only fields under the record's own keys when it knows them.
    fn top_level_keys(&self) -> Option<Vec<std::borrow::Cow<'_, str>>> {
        self.0.top_level_keys()
    }
    fn visit_top_level_keys(&self, visit: &mut dyn FnMut(&str)) -> bool {
        self.0.visit_top_level_keys(visit)
    }
}

/// The loaded rule set: one rsigma engine per log source, and every rule's metadata.
pub struct SigmaSet {
    /// Rules below this severity are listed but not run.
    min_severity: Severity,
    /// How many runnable rules that left out.
    below_severity: usize,
    rules: Vec<HuntRule>,
    /// Each rule's embedded example events (`rsigma.exemplars`), as JSON text.
    examples: Vec<(usize, Example)>,
    problems: Vec<RuleProblem>,
    sources: Vec<SourceRules>,
    /// rsigma reports a hit by the rule's key attribute; this maps it back.
    index_of: HashMap<String, usize>,
}

impl std::fmt::Debug for SigmaSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigmaSet")
            .field("rules", &self.rules.len())
            .field("problems", &self.problems.len())
            .finish()
    }
}

/// The field each log source names its action in: rules that select on it are only evaluated
/// on events whose action they name (see [`crate::gate`]).
fn gate_field(kind: SourceKind) -> Option<&'static str> {
    match kind {
        SourceKind::CloudTrail => Some("eventName"),
        SourceKind::Okta => Some("eventType"),
        SourceKind::GitHub => Some("action"),
        SourceKind::JsonLines => None,
    }
}

/// The rules that run on one log source: those a field's value bounds (almost always the action),
/// looked up by that value, and the rest in an rsigma engine (whose own index narrows them per
/// event).
struct SourceRules {
    kind: SourceKind,
    /// One entry per gating field, the action field first.
    gates: Vec<FieldGate>,
    /// Rule index and compiled rule.
    gated: Vec<(usize, rsigma_eval::CompiledRule)>,
    /// Rules no field bounds: evaluated one by one when they are few, else through `open`.
    open_rules: Vec<(usize, rsigma_eval::CompiledRule)>,
    open: Engine,
}

/// Calls `check` with every string in `value`, arrays nested at any depth included (Sigma
/// matches a value anywhere inside them).
fn visit_strings(value: &rsigma_eval::EventValue<'_>, check: &mut dyn FnMut(&str)) {
    match value {
        rsigma_eval::EventValue::Array(items) => {
            for item in items {
                visit_strings(item, check);
            }
        }
        other => {
            if let Some(text) = other.as_str() {
                check(&text);
            }
        }
    }
}

/// Up to this many ungated rules are evaluated directly; more go through rsigma's engine, whose
/// candidate index then pays for itself.
const DIRECT_OPEN_RULES: usize = 8;

/// Whether `rule` matches `event`. Cheaper than `evaluate_rule`, which also builds the match
/// details Evict does not use.
fn rule_matches(rule: &rsigma_eval::CompiledRule, event: &impl SigmaEvent) -> bool {
    let mut selections = Vec::new();
    rule.conditions.iter().any(|condition| {
        selections.clear();
        rsigma_eval::compiler::eval_condition(condition, &rule.detections, event, &mut selections)
    })
}

/// Rules bounded by the value of one field.
struct FieldGate {
    field: String,
    /// Lower-cased value to positions in `gated`.
    exact: ahash::AHashMap<String, Vec<usize>>,
    /// Lower-cased prefix and position in `gated`.
    prefixes: Vec<(String, usize)>,
}

impl SourceRules {
    fn new(kind: SourceKind) -> Self {
        SourceRules {
            kind,
            gates: Vec::new(),
            gated: Vec::new(),
            open_rules: Vec::new(),
            open: Engine::new(),
        }
    }

    fn add(
        &mut self,
        index: usize,
        compiled: rsigma_eval::CompiledRule,
        gate: Option<(String, crate::gate::Gate)>,
    ) {
        let Some((field, gate)) = gate else {
            self.open_rules.push((index, compiled.clone()));
            self.open.add_compiled_rule(compiled);
            return;
        };
        let at = self.gated.len();
        self.gated.push((index, compiled));
        let slot = match self.gates.iter().position(|g| g.field == field) {
            Some(slot) => slot,
            None => {
                let action = gate_field(self.kind) == Some(field.as_str());
                let entry = FieldGate {
                    field,
                    exact: ahash::AHashMap::default(),
                    prefixes: Vec::new(),
                };
                if action {
                    self.gates.insert(0, entry);
                    0
                } else {
                    self.gates.push(entry);
                    self.gates.len() - 1
                }
            }
        };
        let entry = &mut self.gates[slot];
        for value in gate.exact {
            let list = entry.exact.entry(value).or_default();
            if !list.contains(&at) {
                list.push(at);
            }
        }
        for prefix in gate.prefixes {
            entry.prefixes.push((prefix, at));
        }
    }
}

/// The custom attribute Evict sets on each rule it compiles, so a hit maps back to its rule.
const KEY_ATTRIBUTE: &str = "evict.rule_index";

/// Evict's own hunt pack, embedded at build time from `rules/hunts/`.
pub fn builtin_hunts() -> Vec<RuleText> {
    embedded(BUILTIN_HUNTS, Pack::Evict)
}

/// The SigmaHQ rules shipped in `rules/sigmahq/`, embedded at build time.
pub fn builtin_sigmahq() -> Vec<RuleText> {
    embedded(BUILTIN_SIGMAHQ, Pack::Sigmahq)
}

const BUILTIN_HUNTS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_hunts.rs"));
const BUILTIN_SIGMAHQ: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_sigmahq.rs"));

fn embedded(files: &[(&str, &str)], pack: Pack) -> Vec<RuleText> {
    files
        .iter()
        .map(|(origin, text)| RuleText {
            origin: (*origin).to_string(),
            text: (*text).to_string(),
            pack,
        })
        .collect()
}

/// Reads every `*.yml` / `*.yaml` under `dir` (sorted). Unreadable files become problems.
pub fn rules_from_dir(dir: &Path) -> (Vec<RuleText>, Vec<RuleProblem>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    collect_yaml(dir, &mut files, &mut problems);
    files.sort();
    let mut texts = Vec::new();
    for file in files {
        let origin = file.display().to_string();
        match std::fs::read_to_string(&file) {
            Ok(text) => texts.push(RuleText {
                origin,
                text,
                pack: Pack::User,
            }),
            Err(e) => problems.push(RuleProblem {
                origin,
                rule: None,
                unsupported: false,
                reason: format!("cannot read the rule file: {e}"),
            }),
        }
    }
    (texts, problems)
}

fn collect_yaml(path: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<RuleProblem>) {
    collect_yaml_at(path, files, problems, 0);
}

/// Folders deeper than this are not entered (a symlink loop would otherwise never end).
const MAX_RULE_DEPTH: usize = 16;

fn collect_yaml_at(
    path: &Path,
    files: &mut Vec<PathBuf>,
    problems: &mut Vec<RuleProblem>,
    depth: usize,
) {
    if depth > MAX_RULE_DEPTH {
        problems.push(RuleProblem {
            origin: path.display().to_string(),
            rule: None,
            unsupported: false,
            reason: format!(
                "folders nested deeper than {MAX_RULE_DEPTH} (a symlink loop?) are not read"
            ),
        });
        return;
    }
    if path.is_file() {
        files.push(path.to_path_buf());
        return;
    }
    match std::fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries.filter_map(Result::ok) {
                let p = entry.path();
                if p.is_dir() {
                    collect_yaml_at(&p, files, problems, depth + 1);
                } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                    files.push(p);
                }
            }
        }
        Err(e) => problems.push(RuleProblem {
            origin: path.display().to_string(),
            rule: None,
            unsupported: false,
            reason: format!("cannot read the rules folder: {e}"),
        }),
    }
}

/// The logsource a mapping file declares for generic JSON lines (`product: gcp`,
/// `service: gcp.audit`), so the rules written for it run on those records.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredLogSource {
    /// Sigma `product`.
    #[serde(default)]
    pub product: Option<String>,
    /// Sigma `service`.
    #[serde(default)]
    pub service: Option<String>,
    /// Sigma `category`.
    #[serde(default)]
    pub category: Option<String>,
}

/// Which of Evict's readers produces records a rule with this logsource is written for.
///
/// `jsonl` is the logsource a mapping file declares for generic JSON lines, so rules for
/// sources Evict has no dedicated reader for (GCP, Azure, M365) can run on such exports.
pub fn source_for(logsource: &LogSource, jsonl: Option<&DeclaredLogSource>) -> Option<SourceKind> {
    let product = logsource.product.as_deref().map(str::to_ascii_lowercase);
    let service = logsource.service.as_deref().map(str::to_ascii_lowercase);
    match (product.as_deref(), service.as_deref()) {
        (Some("aws"), Some("cloudtrail")) => return Some(SourceKind::CloudTrail),
        (Some("okta"), None | Some("okta")) => return Some(SourceKind::Okta),
        (Some("github"), None | Some("audit")) => return Some(SourceKind::GitHub),
        _ => {}
    }
    let declared = jsonl?;
    let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, _) => true,
        (Some(_), None) => false,
    };
    (logsource.product.is_some()
        && same(&logsource.product, &declared.product)
        && same(&logsource.service, &declared.service)
        && same(&logsource.category, &declared.category))
    .then_some(SourceKind::JsonLines)
}

fn logsource_text(logsource: &LogSource) -> String {
    [&logsource.product, &logsource.service, &logsource.category]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("/")
}

fn severity(level: Option<Level>) -> Severity {
    match level {
        Some(Level::Critical) => Severity::Critical,
        Some(Level::High) => Severity::High,
        Some(Level::Medium) | None => Severity::Medium,
        Some(Level::Low) => Severity::Low,
        Some(Level::Informational) => Severity::Info,
    }
}

/// ATT&CK tactics and technique ids from Sigma tags (`attack.persistence`, `attack.t1098.001`).
fn attack(tags: &[String]) -> (Vec<String>, Vec<String>) {
    let mut tactics = Vec::new();
    let mut techniques = Vec::new();
    for tag in tags {
        let Some(rest) = tag.strip_prefix("attack.") else {
            continue;
        };
        let bytes = rest.as_bytes();
        let numbered = |prefix: u8| {
            bytes.len() >= 5
                && bytes[0].eq_ignore_ascii_case(&prefix)
                && bytes[1..5].iter().all(u8::is_ascii_digit)
        };
        if numbered(b't') {
            techniques.push(rest.to_ascii_uppercase());
        } else if !numbered(b'g') && !numbered(b's') {
            // Groups (G0016) and software (S0002) are neither tactics nor techniques.
            tactics.push(rest.to_string());
        }
    }
    (tactics, techniques)
}

/// The `id:` of a YAML document that did not parse, found textually so an error can name it.
fn id_in_text(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("id:"))
        .map(|id| id.trim().trim_matches(['"', '\'']).to_string())
        .filter(|id| !id.is_empty())
}

/// The name hits carry: the rule's `name`, else its file's stem (SigmaHQ names files after
/// what they find), else its id or title.
fn name_of(rule: &SigmaRule, origin: &str, rules_in_file: usize) -> String {
    let stem = Path::new(origin)
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|_| rules_in_file == 1)
        .map(str::to_string);
    rule.custom_attributes
        .get("name")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| rule.name.clone())
        .or(stem)
        .or_else(|| rule.id.clone())
        .unwrap_or_else(|| rule.title.clone())
}

impl SigmaSet {
    /// Parses, classifies and compiles every rule. Nothing is skipped silently: a rule that does
    /// not parse or compile, or whose logsource no reader produces, is a [`RuleProblem`].
    pub fn load(texts: &[RuleText], jsonl_logsource: Option<&DeclaredLogSource>) -> SigmaSet {
        SigmaSet::load_at(texts, jsonl_logsource, Severity::Info)
    }

    /// Like [`SigmaSet::load`], but rules below `min_severity` are listed and not run.
    pub fn load_at(
        texts: &[RuleText],
        jsonl_logsource: Option<&DeclaredLogSource>,
        min_severity: Severity,
    ) -> SigmaSet {
        let mut set = SigmaSet {
            min_severity,
            below_severity: 0,
            rules: Vec::new(),
            examples: Vec::new(),
            problems: Vec::new(),
            sources: Vec::new(),
            index_of: HashMap::new(),
        };
        let mut engines: BTreeMap<SourceKind, SourceRules> = BTreeMap::new();
        for text in texts {
            let collection = match rsigma_parser::parse_sigma_yaml(&text.text) {
                Ok(c) => c,
                Err(e) => {
                    set.problems.push(RuleProblem {
                        origin: text.origin.clone(),
                        rule: id_in_text(&text.text),
                        unsupported: false,
                        reason: format!("not a valid Sigma rule: {e}"),
                    });
                    continue;
                }
            };
            for error in &collection.errors {
                set.problems.push(RuleProblem {
                    origin: text.origin.clone(),
                    rule: id_in_text(&text.text),
                    unsupported: false,
                    reason: format!("not a valid Sigma rule: {error}"),
                });
            }
            for correlation in &collection.correlations {
                set.problems.push(RuleProblem {
                    origin: text.origin.clone(),
                    rule: correlation.id.clone().or(Some(correlation.title.clone())),
                    unsupported: true,
                    reason: "correlation rules are not run by evict hunt yet".into(),
                });
            }
            for filter in &collection.filters {
                set.problems.push(RuleProblem {
                    origin: text.origin.clone(),
                    rule: filter.id.clone().or(Some(filter.title.clone())),
                    unsupported: true,
                    reason: "filter rules are not applied by evict hunt yet".into(),
                });
            }
            for rule in &collection.rules {
                let mut name = name_of(rule, &text.origin, collection.rules.len());
                if set.rules.iter().any(|r| r.name == name)
                    || crate::hunt::BUILTINS.iter().any(|b| b.name == name)
                {
                    // Hits, caps and the store key on the name: a second rule under the same
                    // name (a tuned copy of a SigmaHQ file) must not merge with the first.
                    let unique = format!("{name}@{}", text.origin);
                    set.problems.push(RuleProblem {
                        origin: text.origin.clone(),
                        rule: Some(name.clone()),
                        unsupported: true,
                        reason: format!(
                            "another rule already has this name; its hits are named {unique}"
                        ),
                    });
                    name = unique;
                }
                set.add_rule(text, rule, name, jsonl_logsource, &mut engines);
            }
        }
        set.sources = engines.into_values().collect();
        set
    }

    fn add_rule(
        &mut self,
        text: &RuleText,
        rule: &SigmaRule,
        name: String,
        jsonl_logsource: Option<&DeclaredLogSource>,
        engines: &mut BTreeMap<SourceKind, SourceRules>,
    ) {
        let runs_on = source_for(&rule.logsource, jsonl_logsource);
        let (tactics, techniques) = attack(&rule.tags);
        let index = self.rules.len();
        let meta_severity = severity(rule.level);
        let meta = HuntRule {
            name: name.clone(),
            id: rule.id.clone(),
            title: rule.title.clone(),
            severity: severity(rule.level),
            techniques,
            tactics,
            author: rule.author.clone(),
            origin: text.origin.clone(),
            pack: text.pack,
            runs_on,
            logsource: logsource_text(&rule.logsource),
        };
        // Compile every rule, runnable or not, so `rules check` reports what rsigma refuses.
        let mut keyed = rule.clone();
        keyed.custom_attributes.insert(
            KEY_ATTRIBUTE.into(),
            yaml_serde::Value::String(index.to_string()),
        );
        let compiled = match rsigma_eval::compile_rule(&keyed) {
            Ok(c) => c,
            Err(e) => {
                self.problems.push(RuleProblem {
                    origin: text.origin.clone(),
                    rule: Some(name),
                    unsupported: false,
                    reason: format!("rsigma cannot compile it: {e}"),
                });
                return;
            }
        };
        match runs_on {
            Some(_) if meta_severity < self.min_severity => self.below_severity += 1,
            Some(kind) => {
                let gate = gate_field(kind).and_then(|field| crate::gate::best_gate(rule, field));
                engines
                    .entry(kind)
                    .or_insert_with(|| SourceRules::new(kind))
                    .add(index, compiled, gate);
            }
            None => self.problems.push(RuleProblem {
                origin: text.origin.clone(),
                rule: Some(name.clone()),
                unsupported: true,
                reason: format!(
                    "logsource {} has no reader in evict hunt (CloudTrail, Okta, GitHub); \
                     run it on JSON lines whose mapping file declares this logsource",
                    logsource_text(&rule.logsource)
                ),
            }),
        }
        match rsigma_parser::exemplars(rule) {
            Ok(list) => {
                for exemplar in list {
                    let rsigma_parser::ExemplarPayload::Event(event) = exemplar.payload else {
                        continue;
                    };
                    self.examples.push((
                        index,
                        Example {
                            name: exemplar.name,
                            should_match: exemplar.expect == rsigma_parser::Expect::Match,
                            json: serde_json::to_string(&event).unwrap_or_default(),
                        },
                    ));
                }
            }
            Err(errors) => {
                for error in errors {
                    self.problems.push(RuleProblem {
                        origin: text.origin.clone(),
                        rule: Some(name.clone()),
                        unsupported: false,
                        reason: format!("bad rsigma.exemplars: {error}"),
                    });
                }
            }
        }
        self.index_of.insert(index.to_string(), index);
        self.rules.push(meta);
    }

    /// Runs every rule's embedded examples through the same path logs take (the lazy record,
    /// the per-source engine) and returns the ones that did not do what they say.
    pub fn check_examples(&self) -> ExampleReport {
        let mut report = ExampleReport::default();
        let mut hits = Vec::new();
        for (index, example) in &self.examples {
            let rule = &self.rules[*index];
            let Some(kind) = rule.runs_on else {
                report.not_run += 1;
                continue;
            };
            report.run += 1;
            let failure = match crate::record::LazyRecord::parse(example.json.as_bytes()) {
                Err(e) => Some(format!("the example is not a record: {e}")),
                Ok(record) => {
                    hits.clear();
                    self.evaluate(kind, &record, &mut hits);
                    let matched = hits.contains(index);
                    match (example.should_match, matched) {
                        (true, false) => Some("should match but does not".to_string()),
                        (false, true) => Some("should not match but does".to_string()),
                        _ => None,
                    }
                }
            };
            if let Some(reason) = failure {
                report.failures.push(RuleProblem {
                    origin: rule.origin.clone(),
                    rule: Some(rule.name.clone()),
                    unsupported: false,
                    reason: format!("example '{}': {reason}", example.name),
                });
            }
        }
        report
    }

    /// Evict's pack and the shipped SigmaHQ rules (each unless left out), plus every rule file
    /// under `dirs`.
    pub fn standard(
        dirs: &[PathBuf],
        evict_pack: bool,
        sigmahq: bool,
        jsonl_logsource: Option<&DeclaredLogSource>,
    ) -> SigmaSet {
        SigmaSet::standard_at(dirs, evict_pack, sigmahq, jsonl_logsource, Severity::Info)
    }

    /// Like [`SigmaSet::standard`], but rules below `min_severity` are listed and not run.
    pub fn standard_at(
        dirs: &[PathBuf],
        evict_pack: bool,
        sigmahq: bool,
        jsonl_logsource: Option<&DeclaredLogSource>,
        min_severity: Severity,
    ) -> SigmaSet {
        let mut texts = Vec::new();
        if evict_pack {
            texts.extend(builtin_hunts());
        }
        if sigmahq {
            texts.extend(builtin_sigmahq());
        }
        let mut problems = Vec::new();
        for dir in dirs {
            let (more, trouble) = rules_from_dir(dir);
            texts.extend(more);
            problems.extend(trouble);
        }
        let mut set = SigmaSet::load_at(&texts, jsonl_logsource, min_severity);
        problems.append(&mut set.problems);
        set.problems = problems;
        set
    }

    /// Rules and files that could not load or cannot run.
    pub fn problems(&self) -> &[RuleProblem] {
        &self.problems
    }

    /// Runnable rules left out for being below the minimum severity.
    pub fn below_severity(&self) -> usize {
        self.below_severity
    }

    /// How many rules run on each log source.
    pub fn runnable(&self) -> BTreeMap<SourceKind, usize> {
        self.sources
            .iter()
            .map(|s| (s.kind, s.gated.len() + s.open.rule_count()))
            .collect()
    }
}

impl HuntEngine for SigmaSet {
    fn evaluate(&self, kind: SourceKind, record: &dyn RecordFields, hits: &mut Vec<usize>) {
        let Some(rules) = self.sources.iter().find(|s| s.kind == kind) else {
            return;
        };
        let event = Dyn(record);
        for gate in &rules.gates {
            let Some(value) = record.get_field(&gate.field) else {
                continue;
            };
            let mut check = |text: &str| {
                if !text.is_ascii() {
                    // Sigma folds case the Unicode way (`ſ` matches `s`); rather than mirror
                    // that, a non-ASCII value is checked against every rule of this gate.
                    for (index, compiled) in &rules.gated {
                        if !hits.contains(index) && rule_matches(compiled, &event) {
                            hits.push(*index);
                        }
                    }
                    return;
                }
                // Actions are short ASCII: lower-case them on the stack, not the heap.
                let mut stack = [0u8; 64];
                let owned;
                let value: &str = match stack.get_mut(..text.len()) {
                    Some(slot) => {
                        slot.copy_from_slice(text.as_bytes());
                        slot.make_ascii_lowercase();
                        std::str::from_utf8(slot).unwrap_or_default()
                    }
                    None => {
                        owned = text.to_ascii_lowercase();
                        &owned
                    }
                };
                let named = gate.exact.get(value).into_iter().flatten();
                let prefixed = gate
                    .prefixes
                    .iter()
                    .filter(|(p, _)| value.starts_with(p.as_str()))
                    .map(|(_, at)| at);
                for &at in named.chain(prefixed) {
                    let (index, compiled) = &rules.gated[at];
                    if !hits.contains(index) && rule_matches(compiled, &event) {
                        hits.push(*index);
                    }
                }
            };
            visit_strings(&value, &mut check);
        }
        if rules.open_rules.len() <= DIRECT_OPEN_RULES {
            for (index, compiled) in &rules.open_rules {
                if rule_matches(compiled, &event) {
                    hits.push(*index);
                }
            }
            return;
        }
        for result in rules.open.evaluate(&event) {
            let index = result
                .header
                .custom_attributes
                .get(KEY_ATTRIBUTE)
                .and_then(|v| v.as_str())
                .and_then(|k| self.index_of.get(k));
            if let Some(&index) = index {
                hits.push(index);
            }
        }
    }

    fn rules(&self) -> &[HuntRule] {
        &self.rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_sigmahq_rule_loads_and_every_unsupported_one_says_why() {
        let texts = builtin_sigmahq();
        assert!(texts.len() >= 260, "{} SigmaHQ files embedded", texts.len());
        let set = SigmaSet::load(&texts, None);
        let errors: Vec<String> = set
            .problems()
            .iter()
            .filter(|p| !p.unsupported)
            .map(|p| p.to_string())
            .collect();
        assert!(errors.is_empty(), "rules that did not load: {errors:#?}");
        assert_eq!(set.rules().len(), texts.len());
        let runnable = set.runnable();
        assert_eq!(runnable.get(&SourceKind::CloudTrail), Some(&57));
        assert_eq!(runnable.get(&SourceKind::Okta), Some(&21));
        assert_eq!(runnable.get(&SourceKind::GitHub), Some(&15));
        for rule in set.rules().iter().filter(|r| r.runs_on.is_none()) {
            assert!(
                set.problems()
                    .iter()
                    .any(|p| p.unsupported && p.rule.as_deref() == Some(rule.name.as_str())),
                "{} cannot run and is not reported",
                rule.name
            );
        }
    }

    /// `rules/sigmahq` is a copy of the shared SigmaHQ set; when that set is next to the
    /// checkout, the copy must be the same, file for file.
    #[test]
    fn the_shipped_copy_is_the_shared_sigmahq_set() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sigma/rules");
        if !shared.is_dir() {
            return;
        }
        let (theirs, problems) = rules_from_dir(&shared);
        assert!(problems.is_empty());
        let ours = builtin_sigmahq();
        assert_eq!(ours.len(), theirs.len());
        let mut ours: Vec<&str> = ours.iter().map(|r| r.text.as_str()).collect();
        let mut theirs: Vec<&str> = theirs.iter().map(|r| r.text.as_str()).collect();
        ours.sort_unstable();
        theirs.sort_unstable();
        assert!(
            ours == theirs,
            "rules/sigmahq differs from ../shared/sigma/rules"
        );
        // And every rule there loads.
        let set = SigmaSet::load(&rules_from_dir(&shared).0, None);
        assert!(
            set.problems().iter().all(|p| p.unsupported),
            "{:?}",
            set.problems()
        );
    }

    #[test]
    fn attack_tags_split_into_tactics_and_techniques() {
        let tags: Vec<String> = [
            "attack.persistence",
            "attack.privilege-escalation",
            "attack.t1098.001",
            "attack.T1078",
            "attack.g0016",
            "attack.s0002",
            "cve.2021-1234",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (tactics, techniques) = attack(&tags);
        assert_eq!(tactics, vec!["persistence", "privilege-escalation"]);
        assert_eq!(techniques, vec!["T1098.001", "T1078"]);
    }
}

#[cfg(test)]
mod pack_tests {
    use super::*;

    /// The pack's own test runs its examples through rsigma's `JsonEvent`; this runs them through
    /// the path logs take (the lazy record, the per-source engines with every rule loaded), so a
    /// difference between the two event models shows up here.
    #[test]
    fn the_packs_examples_hold_through_the_lazy_record_with_every_rule_loaded() {
        let set = SigmaSet::standard(&[], true, true, None);
        let report = set.check_examples();
        assert!(
            report.run >= 3 * 40,
            "{} examples run: the pack should carry at least three per rule",
            report.run
        );
        let failures: Vec<String> = report.failures.iter().map(|f| f.to_string()).collect();
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn a_wrong_example_is_caught() {
        let rule = "title: t\nid: 8d3c1c1e-0000-4000-8000-000000000001\nname: test-wrong-example\n\
            logsource: {product: aws, service: cloudtrail}\n\
            detection:\n  sel:\n    eventName: CreateUser\n  condition: sel\nlevel: high\n\
            rsigma.exemplars:\n  - name: says-match-but-is-not\n    expect: match\n    \
            event: {eventName: DeleteUser}\n";
        let set = SigmaSet::load(
            &[RuleText {
                origin: "test.yml".into(),
                text: rule.into(),
                pack: Pack::User,
            }],
            None,
        );
        let report = set.check_examples();
        assert_eq!(report.run, 1);
        assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
        assert!(
            report.failures[0]
                .to_string()
                .contains("example 'says-match-but-is-not': should match but does not")
        );
    }
}

#[cfg(test)]
mod gate_tests {
    use super::*;

    /// Gating (by action or another exact field) and direct evaluation must find exactly what
    /// rsigma's own engine finds with every rule loaded: a differential test over the testkit's
    /// logs of all three sources.
    #[test]
    fn gated_evaluation_finds_what_the_full_engine_finds() {
        use evict_testkit::logs::{ExportShape, write_cloudtrail_to, write_github, write_okta};
        let set = SigmaSet::standard(&[], true, true, None);
        let mut reference: BTreeMap<SourceKind, Engine> = BTreeMap::new();
        for (index, rule) in set.rules.iter().enumerate() {
            let Some(kind) = rule.runs_on else { continue };
            let text = builtin_hunts()
                .into_iter()
                .chain(builtin_sigmahq())
                .find(|t| t.origin == rule.origin)
                .expect("the rule's file");
            let parsed = rsigma_parser::parse_sigma_yaml(&text.text).expect("parses");
            let mut keyed = parsed.rules[0].clone();
            keyed.custom_attributes.insert(
                KEY_ATTRIBUTE.into(),
                yaml_serde::Value::String(index.to_string()),
            );
            let compiled = rsigma_eval::compile_rule(&keyed).expect("compiles");
            reference
                .entry(kind)
                .or_default()
                .add_compiled_rule(compiled);
        }
        let mut logs: Vec<(SourceKind, Vec<u8>)> = Vec::new();
        let mut out = Vec::new();
        write_cloudtrail_to(5, 20_000, &Default::default(), &mut out).expect("written");
        logs.push((SourceKind::CloudTrail, out));
        let mut out = Vec::new();
        write_okta(5, 5_000, ExportShape::JsonLines, &mut out).expect("written");
        logs.push((SourceKind::Okta, out));
        let mut out = Vec::new();
        write_github(5, 5_000, ExportShape::JsonLines, &mut out).expect("written");
        logs.push((SourceKind::GitHub, out));
        let mut compared = 0;
        let mut matched = 0;
        for (kind, bytes) in &logs {
            for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let record = crate::record::LazyRecord::parse(line).expect("a record");
                let mut ours = Vec::new();
                set.evaluate(*kind, &record, &mut ours);
                ours.sort_unstable();
                let mut theirs: Vec<usize> = reference[kind]
                    .evaluate(&Dyn(&record))
                    .iter()
                    .filter_map(|r| {
                        r.header
                            .custom_attributes
                            .get(KEY_ATTRIBUTE)?
                            .as_str()?
                            .parse()
                            .ok()
                    })
                    .collect();
                theirs.sort_unstable();
                assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(line));
                compared += 1;
                matched += usize::from(!ours.is_empty());
            }
        }
        assert_eq!(compared, 30_000);
        assert!(matched > 1_000, "only {matched} records matched anything");
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn two_rules_with_one_name_stay_apart_and_the_clash_is_reported() {
        let rule = |id: &str| RuleText {
            origin: format!("{id}/same.yml"),
            text: format!(
                "title: t\nid: {id}\nlogsource: {{product: aws, service: cloudtrail}}\n\
                 detection:\n  sel:\n    eventName: CreateUser\n  condition: sel\nlevel: high\n"
            ),
            pack: Pack::User,
        };
        let set = SigmaSet::load(
            &[
                rule("8d3c1c1e-0000-4000-8000-0000000000a1"),
                rule("8d3c1c1e-0000-4000-8000-0000000000a2"),
            ],
            None,
        );
        let names: Vec<&str> = set.rules().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names[0], "same");
        assert_ne!(names[0], names[1]);
        assert!(
            set.problems()
                .iter()
                .any(|p| p.reason.contains("already has this name"))
        );
        let record =
            crate::record::LazyRecord::parse(br#"{"eventName":"CreateUser"}"#).expect("record");
        let mut hits = Vec::new();
        set.evaluate(SourceKind::CloudTrail, &record, &mut hits);
        hits.sort_unstable();
        assert_eq!(hits, vec![0, 1]);
    }
}
