//! `evict rules check|list`: secret detectors and hunts.

use std::path::{Path, PathBuf};

use evict_logs::hunt::BUILTINS;
use evict_logs::sigma::{ExampleReport, HuntEngine, RuleProblem, SigmaSet};
use evict_scan::{RuleSet, check_rules};
use serde::Serialize;

use crate::args::{Format, RuleKind, RulesCommand};
use crate::{Context, Outcome, output};

/// The built-in rules, plus those in `dir` when given.
pub fn load_rules(dir: Option<&Path>) -> anyhow::Result<RuleSet> {
    Ok(match dir {
        Some(dir) => RuleSet::builtin_and_dir(dir)?,
        None => RuleSet::builtin()?,
    })
}

fn secrets_wanted(kind: RuleKind) -> bool {
    matches!(kind, RuleKind::Secrets | RuleKind::All)
}

fn hunts_wanted(kind: RuleKind) -> bool {
    matches!(kind, RuleKind::Hunts | RuleKind::All)
}

#[derive(Serialize)]
struct HuntCheck<'a> {
    rules: usize,
    runnable: std::collections::BTreeMap<String, usize>,
    errors: Vec<&'a RuleProblem>,
    unsupported: Vec<&'a RuleProblem>,
    examples: &'a ExampleReport,
}

pub fn run(ctx: &Context, cmd: RulesCommand) -> anyhow::Result<Outcome> {
    match cmd {
        RulesCommand::Check {
            rules,
            hunt_rules,
            kind,
            warnings_as_errors,
        } => {
            let mut failed = false;
            let mut json = serde_json::Map::new();
            if secrets_wanted(kind) {
                failed |= check_secrets(ctx, rules.as_deref(), warnings_as_errors, &mut json)?;
            }
            if hunts_wanted(kind) {
                failed |= check_hunts(ctx, &hunt_rules, &mut json)?;
            }
            if ctx.format != Format::Table {
                output::json(&json)?;
            }
            Ok(if failed {
                Outcome::Attention
            } else {
                Outcome::Ok
            })
        }
        RulesCommand::List {
            rules,
            hunt_rules,
            kind,
        } => list(ctx, rules.as_deref(), &hunt_rules, kind),
    }
}

fn check_secrets(
    ctx: &Context,
    dir: Option<&Path>,
    warnings_as_errors: bool,
    json: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<bool> {
    let report = check_rules(load_rules(dir)?, ctx.now);
    let failed = report.errors() > 0 || (warnings_as_errors && report.warnings() > 0);
    if ctx.format == Format::Table {
        for problem in &report.problems {
            for error in &problem.errors {
                output::line(&format!("{}: {}: error: {error}", problem.file, problem.id));
            }
            for warning in &problem.warnings {
                output::line(&format!(
                    "{}: {}: warning: {warning}",
                    problem.file, problem.id
                ));
            }
        }
        output::line(&format!(
            "secrets: {} rules, {} examples: {} errors, {} warnings{}",
            report.rules,
            report.examples,
            report.errors(),
            report.warnings(),
            if warnings_as_errors && report.warnings() > 0 {
                " (warnings are errors)"
            } else {
                ""
            }
        ));
    } else {
        json.insert("secrets".into(), serde_json::to_value(&report)?);
    }
    Ok(failed)
}

fn check_hunts(
    ctx: &Context,
    dirs: &[PathBuf],
    json: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<bool> {
    let set = SigmaSet::standard(dirs, true, true, None);
    let examples = set.check_examples();
    let errors: Vec<&RuleProblem> = set
        .problems()
        .iter()
        .filter(|p| !p.unsupported)
        .chain(&examples.failures)
        .collect();
    let unsupported: Vec<&RuleProblem> = set.problems().iter().filter(|p| p.unsupported).collect();
    let runnable = set.runnable();
    if ctx.format == Format::Table {
        for problem in &unsupported {
            output::line(&format!("unsupported: {problem}"));
        }
        for problem in &errors {
            output::line(&format!("error: {problem}"));
        }
        let per_source: Vec<String> = runnable
            .iter()
            .map(|(kind, n)| format!("{n} on {kind}"))
            .collect();
        output::line(&format!(
            "hunts: {} Sigma rules ({}), {} unsupported, {} built-in window and indicator hunts; \
             {} examples run: {} errors",
            set.rules().len(),
            per_source.join(", "),
            unsupported.len(),
            BUILTINS.len(),
            examples.run,
            errors.len(),
        ));
    } else {
        let check = HuntCheck {
            rules: set.rules().len(),
            runnable: runnable
                .iter()
                .map(|(k, n)| (k.as_str().to_string(), *n))
                .collect(),
            errors: errors.clone(),
            unsupported,
            examples: &examples,
        };
        json.insert("hunts".into(), serde_json::to_value(&check)?);
    }
    Ok(!errors.is_empty())
}

fn list(
    ctx: &Context,
    dir: Option<&Path>,
    hunt_dirs: &[PathBuf],
    kind: RuleKind,
) -> anyhow::Result<Outcome> {
    let mut items: Vec<serde_json::Value> = Vec::new();
    let mut table = output::table(&["type", "name", "source", "severity / confidence", "ATT&CK"]);
    if secrets_wanted(kind) {
        let rules = load_rules(dir)?;
        for r in rules.rules() {
            items.push(serde_json::json!({
                "type": "secret", "id": r.id, "name": r.name, "provider": r.provider,
                "kind": r.kind, "confidence": r.confidence,
                "keywords": r.keywords, "file": r.file,
            }));
            table.add_row(vec![
                "secret".to_string(),
                r.id.clone(),
                r.provider.to_string(),
                r.confidence.to_string(),
                String::new(),
            ]);
        }
    }
    if hunts_wanted(kind) {
        let set = SigmaSet::standard(hunt_dirs, true, true, None);
        for r in set.rules() {
            let mut item = serde_json::to_value(r)?;
            if let Some(map) = item.as_object_mut() {
                map.insert("type".into(), "hunt".into());
            }
            items.push(item);
            table.add_row(vec![
                "hunt".to_string(),
                r.name.clone(),
                r.runs_on.map_or_else(
                    || format!("({}: unsupported)", r.logsource),
                    |k| k.to_string(),
                ),
                r.severity.to_string(),
                r.techniques.join(" "),
            ]);
        }
        for b in BUILTINS {
            let mut item = serde_json::to_value(b)?;
            if let Some(map) = item.as_object_mut() {
                map.insert("type".into(), "hunt".into());
                map.insert("pack".into(), "builtin".into());
            }
            items.push(item);
            table.add_row(vec![
                "hunt".to_string(),
                b.name.to_string(),
                format!(
                    "any (needs {})",
                    if b.needs.is_empty() {
                        "nothing"
                    } else {
                        b.needs
                    }
                ),
                b.severity.to_string(),
                b.techniques.join(" "),
            ]);
        }
    }
    match ctx.format {
        Format::Json | Format::Sarif | Format::Md | Format::Html => output::json(&items)?,
        Format::Table => {
            output::print_table(&table);
            output::line(&format!("{} rules", items.len()));
        }
    }
    Ok(Outcome::Ok)
}
