//! `evict rules check|list`

use std::path::Path;

use evict_scan::{RuleSet, check_rules};

use crate::args::{Format, RulesCommand};
use crate::{Context, Outcome, output};

/// The built-in rules, plus those in `dir` when given.
pub fn load_rules(dir: Option<&Path>) -> anyhow::Result<RuleSet> {
    Ok(match dir {
        Some(dir) => RuleSet::builtin_and_dir(dir)?,
        None => RuleSet::builtin()?,
    })
}

pub fn run(ctx: &Context, cmd: RulesCommand) -> anyhow::Result<Outcome> {
    match cmd {
        RulesCommand::Check {
            rules,
            warnings_as_errors,
        } => {
            let report = check_rules(load_rules(rules.as_deref())?, ctx.now);
            let failed = report.errors() > 0 || (warnings_as_errors && report.warnings() > 0);
            match ctx.format {
                Format::Json => output::json(&report)?,
                Format::Table | Format::Sarif => {
                    for problem in &report.problems {
                        for error in &problem.errors {
                            output::line(&format!(
                                "{}: {}: error: {error}",
                                problem.file, problem.id
                            ));
                        }
                        for warning in &problem.warnings {
                            output::line(&format!(
                                "{}: {}: warning: {warning}",
                                problem.file, problem.id
                            ));
                        }
                    }
                    output::line(&format!(
                        "{} rules, {} examples: {} errors, {} warnings{}",
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
                }
            }
            Ok(if failed {
                Outcome::Attention
            } else {
                Outcome::Ok
            })
        }
        RulesCommand::List { rules } => {
            let rules = load_rules(rules.as_deref())?;
            match ctx.format {
                Format::Json => {
                    let list: Vec<_> = rules
                        .rules()
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "id": r.id, "name": r.name, "provider": r.provider,
                                "kind": r.kind, "confidence": r.confidence,
                                "keywords": r.keywords, "file": r.file,
                            })
                        })
                        .collect();
                    output::json(&list)?;
                }
                Format::Table | Format::Sarif => {
                    let mut table =
                        output::table(&["id", "name", "provider", "kind", "confidence"]);
                    for r in rules.rules() {
                        table.add_row(vec![
                            r.id.clone(),
                            r.name.clone(),
                            r.provider.to_string(),
                            r.kind.to_string(),
                            r.confidence.to_string(),
                        ]);
                    }
                    output::print_table(&table);
                    output::line(&format!("{} rules", rules.len()));
                }
            }
            Ok(Outcome::Ok)
        }
    }
}
