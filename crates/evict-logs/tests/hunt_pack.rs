//! Evict's built-in post-patch persistence hunt pack (`rules/hunts/`).
//!
//! Every rule file must parse and compile with rsigma, carry the metadata Evict shows a
//! responder (a stable `name`, a unique UUID, ATT&CK technique tags, a level, a logsource one of
//! Evict's readers produces) and embedded `rsigma.exemplars` that prove it: at least one record
//! it must match and two it must not. Each exemplar is evaluated as raw JSON, the way `evict
//! hunt` sees a log record, by an engine holding only its own rule. The exemplars are then run
//! through every other rule of the pack, so an accidental overlap between two rules shows up
//! here rather than as a duplicate finding in front of a responder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rsigma_eval::{Engine, JsonEvent};
use rsigma_parser::{
    ExemplarPayload, Expect, Severity as LintSeverity, SigmaRule, exemplars, parse_sigma_yaml,
};

/// The logsources Evict's readers produce, written exactly as SigmaHQ writes them, and the
/// folder of `rules/hunts/` their rules live in.
const LOGSOURCES: &[(&str, &str, &str)] = &[
    ("aws", "cloudtrail", "aws"),
    ("okta", "okta", "okta"),
    ("github", "audit", "github"),
];

/// Rule pairs whose exemplars are meant to fire both rules: `(rule whose exemplar it is, other
/// rule that also fires, why)`. Every pair listed here must actually occur, so the list cannot
/// silently outlive the rules it describes.
const INTENDED_OVERLAPS: &[(&str, &str, &str)] = &[
    (
        "aws-access-key-for-other-user",
        "aws-access-key-created",
        "every key created for another user is also a key created; the second rule ranks it higher",
    ),
    (
        "aws-access-key-created",
        "aws-access-key-for-other-user",
        "the generic rule's exemplars include keys made for another user",
    ),
    (
        "github-owner-or-enterprise-admin-granted",
        "github-org-member-added",
        "a member added straight in as owner is also a member added",
    ),
    (
        "github-org-member-added",
        "github-owner-or-enterprise-admin-granted",
        "the member-added exemplars include a member added straight in as owner",
    ),
    (
        "github-repo-admin-granted",
        "github-outside-collaborator-added",
        "a collaborator added with admin is also a collaborator added",
    ),
    (
        "github-user-ssh-key-added",
        "github-deploy-key-added",
        "GitHub logs both as public_key.create; the boundary exemplar (repo set) is a deploy key",
    ),
    (
        "github-deploy-key-added",
        "github-user-ssh-key-added",
        "GitHub logs both as public_key.create; the boundary exemplar (no repo) is a user key",
    ),
];

/// One rule of the pack and where it came from.
#[derive(Debug)]
struct PackRule {
    /// Path relative to `rules/hunts/`.
    file: String,
    rule: SigmaRule,
}

impl PackRule {
    fn name(&self) -> &str {
        self.rule.name.as_deref().unwrap_or("<no name>")
    }
}

/// One exemplar, already converted to the JSON record `evict hunt` would read.
#[derive(Debug)]
struct Example {
    name: String,
    expect: Expect,
    record: serde_json::Value,
}

fn pack_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/hunts")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the hunt pack folder {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("readable folder entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

/// Parses every file of the pack; any parse problem fails the test with the file named.
fn load_pack() -> Vec<PackRule> {
    let dir = pack_dir();
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no rules under {}", dir.display());
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for path in files {
        let file = path
            .strip_prefix(&dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&path).expect("readable rule file");
        let collection = match parse_sigma_yaml(&text) {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("{file}: does not parse: {e}"));
                continue;
            }
        };
        for error in &collection.errors {
            problems.push(format!("{file}: {error}"));
        }
        if collection.rules.len() != 1
            || !collection.correlations.is_empty()
            || !collection.filters.is_empty()
        {
            problems.push(format!(
                "{file}: must hold exactly one detection rule (found {} rules, {} correlations, \
                 {} filters)",
                collection.rules.len(),
                collection.correlations.len(),
                collection.filters.len()
            ));
        }
        for rule in collection.rules {
            rules.push(PackRule {
                file: file.clone(),
                rule,
            });
        }
    }
    assert!(
        problems.is_empty(),
        "hunt pack does not load:\n{}",
        problems.join("\n")
    );
    rules
}

/// An engine holding only `rule`.
fn engine_for(rule: &SigmaRule) -> Engine {
    let mut engine = Engine::new();
    engine
        .add_rule(rule)
        .unwrap_or_else(|e| panic!("rule {:?} does not compile: {e}", rule.name));
    engine
}

fn fires(engine: &Engine, record: &serde_json::Value) -> bool {
    !engine.evaluate(&JsonEvent::borrow(record)).is_empty()
}

/// The rule's exemplars as JSON records; a malformed exemplar list fails the test.
fn examples(rule: &PackRule) -> Vec<Example> {
    let list = exemplars(&rule.rule).unwrap_or_else(|errors| {
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!(
            "{}: invalid rsigma.exemplars: {}",
            rule.file,
            errors.join("; ")
        )
    });
    list.into_iter()
        .map(|exemplar| {
            let ExemplarPayload::Event(event) = &exemplar.payload else {
                panic!(
                    "{}: exemplar {} is not a single event",
                    rule.file, exemplar.name
                );
            };
            let record = serde_json::to_value(event).unwrap_or_else(|e| {
                panic!("{}: exemplar {} is not JSON: {e}", rule.file, exemplar.name)
            });
            Example {
                name: exemplar.name,
                expect: exemplar.expect,
                record,
            }
        })
        .collect()
}

/// Every exemplar of `rule` whose outcome differs from its `expect`, as messages.
fn exemplar_failures(rule: &PackRule) -> Vec<String> {
    let engine = engine_for(&rule.rule);
    examples(rule)
        .into_iter()
        .filter_map(|example| {
            let fired = fires(&engine, &example.record);
            let wanted = example.expect == Expect::Match;
            (fired != wanted).then(|| {
                format!(
                    "{} ({}): exemplar {:?} expected {} but the rule {}",
                    rule.name(),
                    rule.file,
                    example.name,
                    example.expect,
                    if fired { "matched" } else { "did not match" }
                )
            })
        })
        .collect()
}

#[test]
fn every_rule_compiles_into_one_engine() {
    let pack = load_pack();
    let mut engine = Engine::new();
    let errors: Vec<String> = pack
        .iter()
        .filter_map(|r| {
            engine
                .add_rule(&r.rule)
                .err()
                .map(|e| format!("{}: {e}", r.file))
        })
        .collect();
    assert!(
        errors.is_empty(),
        "rules rsigma cannot compile:\n{}",
        errors.join("\n")
    );
    assert_eq!(engine.rule_count(), pack.len());
}

/// rsigma's linter checks the Sigma specification (field types, status and level values,
/// modifier combinations); errors and warnings fail, softer hints are only printed.
#[test]
fn every_rule_passes_the_sigma_linter() {
    let dir = pack_dir();
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable rule file");
        for warning in rsigma_parser::lint_yaml_str(&text) {
            let line = format!(
                "{}: {}",
                path.strip_prefix(&dir).unwrap_or(&path).display(),
                warning.to_string().replace('\n', " ")
            );
            match warning.severity {
                LintSeverity::Error | LintSeverity::Warning => problems.push(line),
                LintSeverity::Info | LintSeverity::Hint => println!("lint: {line}"),
            }
        }
    }
    assert!(problems.is_empty(), "Sigma lint:\n{}", problems.join("\n"));
}

fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_kebab(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_technique_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("attack.t") else {
        return false;
    };
    let (number, sub) = rest.split_once('.').unwrap_or((rest, ""));
    number.len() == 4
        && number.bytes().all(|b| b.is_ascii_digit())
        && (sub.is_empty() || (sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit())))
}

#[test]
fn every_rule_carries_the_metadata_evict_shows() {
    let pack = load_pack();
    let mut problems = Vec::new();
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    let mut ids: BTreeMap<String, &str> = BTreeMap::new();
    for r in &pack {
        let rule = &r.rule;
        let file = r.file.as_str();
        let mut problem = |what: String| problems.push(format!("{file}: {what}"));

        match rule.name.as_deref() {
            None => problem("no `name:`".into()),
            Some(name) => {
                if !is_kebab(name) {
                    problem(format!("name {name:?} is not kebab-case"));
                }
                if let Some(other) = names.insert(name.to_string(), file) {
                    problem(format!("name {name:?} is also used by {other}"));
                }
                let stem = Path::new(file).file_stem().and_then(|s| s.to_str());
                if stem != Some(name) {
                    problem(format!("file is not named after the rule ({name}.yml)"));
                }
            }
        }
        match rule.id.as_deref() {
            None => problem("no `id:`".into()),
            Some(id) => {
                if !is_uuid(id) {
                    problem(format!("id {id:?} is not a UUID"));
                }
                if let Some(other) = ids.insert(id.to_ascii_lowercase(), file) {
                    problem(format!("id {id} is also used by {other}"));
                }
            }
        }
        if !rule.tags.iter().any(|t| is_technique_tag(t)) {
            problem("no ATT&CK technique tag (attack.tNNNN or attack.tNNNN.NNN)".into());
        }
        if !rule
            .tags
            .iter()
            .any(|t| t.starts_with("attack.") && !is_technique_tag(t))
        {
            problem("no ATT&CK tactic tag (attack.persistence, …)".into());
        }
        let logsource = (
            rule.logsource.product.as_deref(),
            rule.logsource.service.as_deref(),
        );
        let folder = file.split('/').next();
        match LOGSOURCES
            .iter()
            .find(|(p, s, _)| logsource == (Some(*p), Some(*s)))
        {
            None => problem(format!(
                "logsource {logsource:?} is not one Evict reads (aws/cloudtrail, okta/okta, \
                 github/audit)"
            )),
            Some((_, _, dir)) => {
                if folder != Some(*dir) {
                    problem(format!("a {dir} rule must live in rules/hunts/{dir}/"));
                }
                if rule.name.as_deref().is_some_and(|n| !n.starts_with(dir)) {
                    problem(format!("a {dir} rule's name starts with `{dir}-`"));
                }
            }
        }
        if rule.logsource.category.is_some() {
            problem("logsource has a category; Evict's readers match on product/service".into());
        }
        if rule.level.is_none() {
            problem("no `level:`".into());
        }
        if rule.status.is_none() {
            problem("no `status:`".into());
        }
        if rule.author.as_deref() != Some("Evict") {
            problem("author is not Evict".into());
        }
        if rule
            .description
            .as_deref()
            .is_none_or(|d| d.trim().len() < 40)
        {
            problem("description missing or too short to say what to do".into());
        }
        if rule.references.is_empty() {
            problem("no references".into());
        }
        if rule.falsepositives.is_empty() {
            problem("no falsepositives".into());
        }
        if rule.date.is_none() {
            problem("no date".into());
        }
        let list = examples(r);
        let matching = list.iter().filter(|e| e.expect == Expect::Match).count();
        let other = list.len() - matching;
        if matching < 1 {
            problem("needs at least one `expect: match` exemplar".into());
        }
        if other < 2 {
            problem(format!(
                "needs at least two `expect: no-match` exemplars, has {other}"
            ));
        }
        if list.iter().any(|e| !e.record.is_object()) {
            problem("an exemplar event is not a mapping".into());
        }
    }
    assert!(
        problems.is_empty(),
        "hunt pack metadata:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_exemplar_behaves_as_it_says() {
    let pack = load_pack();
    let failures: Vec<String> = pack.iter().flat_map(exemplar_failures).collect();
    assert!(
        failures.is_empty(),
        "exemplars that fail:\n{}",
        failures.join("\n")
    );
}

/// The check above must be able to fail: a rule whose exemplar is wrong is reported.
#[test]
fn a_broken_exemplar_is_reported() {
    let text = r#"
title: Self-test rule
name: aws-self-test
id: 00000000-0000-4000-8000-000000000000
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventName: CreateUser
    condition: selection
level: medium
rsigma.exemplars:
    - name: right
      expect: match
      event:
          eventName: CreateUser
    - name: wrong-should-match
      expect: match
      event:
          eventName: DeleteUser
    - name: wrong-should-not-match
      expect: no-match
      event:
          eventName: CreateUser
"#;
    let collection = parse_sigma_yaml(text).expect("self-test rule parses");
    let rule = PackRule {
        file: "self-test.yml".into(),
        rule: collection.rules.into_iter().next().expect("one rule"),
    };
    let failures = exemplar_failures(&rule);
    assert_eq!(failures.len(), 2, "{failures:#?}");
    assert!(failures[0].contains("wrong-should-match") && failures[0].contains("did not match"));
    assert!(failures[1].contains("wrong-should-not-match") && failures[1].contains("matched"));
}

/// A failed call creates nothing: every CloudTrail exemplar that matches must stop matching once
/// the call carries an `errorCode`, and every Okta exemplar once its outcome is a failure.
#[test]
fn failed_calls_never_match() {
    let pack = load_pack();
    let mut problems = Vec::new();
    for r in &pack {
        let failed: fn(&mut serde_json::Value) = match r.rule.logsource.product.as_deref() {
            Some("aws") => |record| {
                record["errorCode"] = "AccessDenied".into();
                record["errorMessage"] = "User is not authorized to perform this operation".into();
            },
            Some("okta") => |record| {
                record["outcome"] =
                    serde_json::json!({"result": "FAILURE", "reason": "INVALID_CREDENTIALS"});
            },
            // The GitHub audit log records only what happened.
            _ => continue,
        };
        let engine = engine_for(&r.rule);
        for example in examples(r)
            .into_iter()
            .filter(|e| e.expect == Expect::Match)
        {
            let mut record = example.record;
            failed(&mut record);
            if fires(&engine, &record) {
                problems.push(format!(
                    "{}: exemplar {:?} still matches as a failed call",
                    r.name(),
                    example.name
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "rules that match failed calls:\n{}",
        problems.join("\n")
    );
}

#[test]
fn exemplars_fire_no_other_rule_unless_intended() {
    let pack = load_pack();
    let engines: Vec<Engine> = pack.iter().map(|r| engine_for(&r.rule)).collect();
    let mut overlaps: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (i, owner) in pack.iter().enumerate() {
        for example in examples(owner) {
            for (j, other) in pack.iter().enumerate() {
                if i != j && fires(&engines[j], &example.record) {
                    overlaps
                        .entry((owner.name().to_string(), other.name().to_string()))
                        .or_default()
                        .push(format!("{} ({})", example.name, example.expect));
                }
            }
        }
    }
    let intended: BTreeSet<(String, String)> = INTENDED_OVERLAPS
        .iter()
        .map(|(a, b, _)| ((*a).to_string(), (*b).to_string()))
        .collect();
    for ((owner, other), names) in &overlaps {
        let verdict = if intended.contains(&(owner.clone(), other.clone())) {
            "intended"
        } else {
            "UNEXPECTED"
        };
        println!("overlap ({verdict}): exemplars of {owner} also fire {other}: {names:?}");
    }
    let unexpected: Vec<String> = overlaps
        .iter()
        .filter(|(pair, _)| !intended.contains(*pair))
        .map(|((owner, other), names)| format!("{owner} -> {other}: {names:?}"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "exemplars that fire another rule of the pack (fix a rule, or list the pair in \
         INTENDED_OVERLAPS with the reason):\n{}",
        unexpected.join("\n")
    );
    let stale: Vec<String> = intended
        .iter()
        .filter(|pair| !overlaps.contains_key(*pair))
        .map(|(a, b)| format!("{a} -> {b}"))
        .collect();
    assert!(
        stale.is_empty(),
        "INTENDED_OVERLAPS lists pairs that no longer overlap (remove them):\n{}",
        stale.join("\n")
    );
}
