//! `evict hunt`: audit logs through the Sigma rules and the window-aware built-ins.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use evict_logs::hunt::{self, Hit, HuntOptions, IpNet, Progress, WindowPosition};
use evict_logs::normalize::{Mapping, Normalizer};
use evict_logs::read::{ReadProblem, ReadSummary, SourceKind};
use evict_logs::sigma::{RuleProblem, SigmaSet};
use evict_logs::usage::UsageRow;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::Timestamp;
use serde::Serialize;

use crate::args::{Format, HuntArgs};
use crate::{Context, Outcome, output};

#[derive(Serialize)]
struct HuntJson<'a> {
    hits: &'a [Hit],
    summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    stored: Option<evict_store::HuntStoreSummary>,
    #[serde(skip_serializing_if = "<[UsageRow]>::is_empty")]
    usage: &'a [UsageRow],
    problems: &'a [ReadProblem],
    rule_problems: &'a [RuleProblem],
}

#[derive(Serialize)]
struct Summary {
    files: u64,
    records: u64,
    bytes: u64,
    events: u64,
    filtered: u64,
    window_unjudged: u64,
    skipped: u64,
    skipped_by_reason: std::collections::BTreeMap<String, u64>,
    hits: u64,
    hits_listed: usize,
    hits_listed_during_window: usize,
    hits_by_rule: std::collections::BTreeMap<String, u64>,
    rules_run: usize,
    rules_below_min_severity: usize,
    rules_unsupported: usize,
    seconds: f64,
    events_per_second: f64,
    megabytes_per_second: f64,
}

/// Parses a time given on the command line: RFC 3339, or a date meaning midnight UTC.
pub fn parse_time(flag: &str, text: &str) -> anyhow::Result<Timestamp> {
    if let Some(t) = evict_model::parse_time_or_date(text) {
        return Ok(t);
    }
    bail!("{flag} '{text}': not a time; use RFC 3339 (2026-05-22T14:00:00Z) or a date (2026-05-22)")
}

fn options(args: &HuntArgs) -> anyhow::Result<HuntOptions> {
    let time = |flag: &str, value: &Option<String>| {
        value.as_deref().map(|v| parse_time(flag, v)).transpose()
    };
    let options = HuntOptions {
        since: time("--since", &args.since)?,
        until: time("--until", &args.until)?,
        compromised_at: time("--compromised-at", &args.compromised_at)?,
        patched_at: time("--patched-at", &args.patched_at)?,
        ioc_ips: args
            .ioc_ip
            .iter()
            .map(|ip| ip.parse::<IpNet>().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?,
        ioc_user_agents: args
            .ioc_ua
            .iter()
            .filter(|ua| !ua.trim().is_empty())
            .map(|ua| ua.to_lowercase())
            .collect(),
        max_hits_per_rule: args.max_hits_per_rule,
    };
    if let (Some(c), Some(p)) = (options.compromised_at, options.patched_at)
        && c > p
    {
        bail!("--compromised-at ({c}) is after --patched-at ({p})");
    }
    if let (Some(s), Some(u)) = (options.since, options.until)
        && s >= u
    {
        bail!("--since ({s}) is not before --until ({u})");
    }
    Ok(options)
}

pub async fn run(ctx: &Context, args: HuntArgs) -> anyhow::Result<Outcome> {
    for path in args.paths.iter().chain(&args.rules).chain(&args.mapping) {
        if !path.exists() {
            bail!("{}: no such file or directory", path.display());
        }
    }
    let options = options(&args)?;
    let kind = args
        .source
        .as_deref()
        .map(str::parse::<SourceKind>)
        .transpose()?;
    let mapping = match &args.mapping {
        Some(file) => Some(Mapping::load(file).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    if kind == Some(SourceKind::JsonLines) && mapping.is_none() {
        bail!("--source jsonl needs --mapping FILE (see docs/log-mapping.md)");
    }
    let jsonl_logsource = mapping.as_ref().and_then(Mapping::logsource);
    let min_severity: evict_model::Severity = args
        .min_severity
        .parse()
        .map_err(|e| anyhow::anyhow!("--min-severity: {e}"))?;
    let engine = SigmaSet::standard_at(
        &args.rules,
        !args.no_default_rules,
        !args.no_default_rules && !args.no_sigmahq,
        jsonl_logsource.as_ref(),
        min_severity,
    );
    let rule_errors: Vec<&RuleProblem> = engine
        .problems()
        .iter()
        .filter(|p| !p.unsupported)
        .collect();
    for problem in &rule_errors {
        output::error(&format!("{problem} (the rule is skipped)"));
    }
    match (options.compromised_at, options.patched_at) {
        (Some(_), None) => output::note(
            ctx.quiet,
            "without --patched-at the window hunts (sessions and credentials used after the \
             patch) do not run; hits are still marked before/during the window",
        ),
        (None, Some(_)) => output::note(
            ctx.quiet,
            "without --compromised-at there is no window to compare with: credentials used \
             from new sources after the patch, and sessions without an issue time (Okta), are \
             not judged",
        ),
        _ => {}
    }
    let rules_run: usize = engine.runnable().values().sum();
    let unsupported = engine.problems().iter().filter(|p| p.unsupported).count();
    if rules_run == 0 && options.ioc_ips.is_empty() && options.ioc_user_agents.is_empty() {
        output::note(
            ctx.quiet,
            "no rule runs on CloudTrail, Okta or GitHub logs; only the built-in window hunts run",
        );
    }

    let (mut files, mut walk) = evict_logs::read::input_files(&args.paths);
    // A file named twice (a folder and a file inside it) is hunted once.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.canonicalize().unwrap_or_else(|_| f.clone())));
    let normalizer = Normalizer::new(mapping);
    let progress = Progress::default();
    let started = Instant::now();
    let done = AtomicBool::new(false);
    let mut report = std::thread::scope(|scope| {
        scope.spawn(|| show_progress(&progress, files.len(), &done, ctx.quiet));
        let report = hunt::run(&engine, &files, kind, &normalizer, &options, &progress);
        done.store(true, Ordering::Relaxed);
        report
    });
    let seconds = started.elapsed().as_secs_f64();
    walk.merge(std::mem::take(&mut report.read));
    let mut read: ReadSummary = walk;
    read.problems
        .sort_by(|a, b| (&a.file, a.offset).cmp(&(&b.file, b.offset)));

    let total_hits: u64 = report.hits_by_rule.values().sum();
    let usage = std::mem::take(&mut report.usage).into_sorted();
    let stored = if args.store {
        let store = ctx.open_store().await?;
        let log_set = log_set(&args.paths);
        let hits = stored_hits(&report.hits);
        let not_stored = total_hits - hits.len() as u64;
        if not_stored > 0 {
            output::note(
                ctx.quiet,
                &format!(
                    "{not_stored} hits beyond --max-hits-per-rule are counted but not stored \
                     (--max-hits-per-rule 0 stores all)"
                ),
            );
        }
        let rows: Vec<_> = usage.iter().map(stored_usage).collect();
        let summary = store.record_hunt(&log_set, &hits, &rows, ctx.now).await;
        store.close().await;
        Some(summary.context("storing the hunt")?)
    } else {
        None
    };

    let skipped: u64 = read.skipped_by_reason.values().sum();
    let summary = Summary {
        files: read.files,
        records: read.records,
        bytes: read.bytes,
        events: report.events,
        filtered: report.filtered,
        window_unjudged: report.unjudged,
        skipped,
        skipped_by_reason: read.skipped_by_reason.clone(),
        hits: total_hits,
        hits_listed: report.hits.len(),
        hits_listed_during_window: report
            .hits
            .iter()
            .filter(|h| h.window == Some(WindowPosition::During))
            .count(),
        hits_by_rule: report.hits_by_rule.clone(),
        rules_run,
        rules_below_min_severity: engine.below_severity(),
        rules_unsupported: unsupported,
        seconds,
        events_per_second: report.events as f64 / seconds.max(1e-9),
        megabytes_per_second: read.bytes as f64 / 1e6 / seconds.max(1e-9),
    };
    match ctx.format {
        Format::Json | Format::Sarif | Format::Md | Format::Html => output::json(&HuntJson {
            hits: &report.hits,
            summary,
            stored: stored.clone(),
            usage: &usage,
            problems: &read.problems,
            rule_problems: engine.problems(),
        })?,
        Format::Table => {
            print_hits(&report.hits);
            print_problems(&read, args.verbose);
            output::line(&summary_line(&summary, stored.as_ref()));
        }
    }
    if read.files == 0 && read.problem_count > 0 {
        bail!("no log file could be read");
    }
    // A rule that did not load is a hole in the hunt: never an all-clear.
    Ok(
        if total_hits == 0 && read.problem_count == 0 && rule_errors.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Attention
        },
    )
}

/// The name a hunt's usage rows are stored under: the canonical input paths.
fn log_set(paths: &[PathBuf]) -> String {
    let mut names: Vec<String> = paths
        .iter()
        .map(|p| {
            p.canonicalize()
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        })
        .collect();
    names.sort();
    names.dedup();
    names.join("\n")
}

pub(crate) fn stored_usage(row: &UsageRow) -> evict_store::StoredUsage {
    evict_store::StoredUsage {
        provider: row.provider.clone(),
        subject: row.subject.as_str().to_string(),
        native_id: row.id.clone(),
        usage: row.usage.clone(),
    }
}

/// Hits as the store keeps them. Each file's canonical path is looked up once: the same record
/// reached as `logs/a.json` or `./logs/a.json` is one stored hit.
pub(crate) fn stored_hits(hits: &[Hit]) -> Vec<evict_store::StoredHit> {
    let mut canonical: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    hits.iter()
        .map(|hit| {
            let file = canonical
                .entry(hit.raw.file.as_str())
                .or_insert_with(|| {
                    std::fs::canonicalize(&hit.raw.file)
                        .map_or_else(|_| hit.raw.file.clone(), |p| p.display().to_string())
                })
                .clone();
            stored_hit(hit, file)
        })
        .collect()
}

fn stored_hit(hit: &Hit, file: String) -> evict_store::StoredHit {
    evict_store::StoredHit {
        rule: hit.rule.clone(),
        rule_id: hit.rule_id.clone(),
        title: hit.title.clone(),
        severity: hit.severity,
        techniques: hit.techniques.clone(),
        time: hit.time,
        window: hit.window.map(|w| window_word(w).to_string()),
        source_kind: hit.source_kind.as_str().to_string(),
        provider: Some(hit.provider.clone()),
        action: hit.action.clone(),
        actor: hit.actor.clone(),
        credential: hit.credential.clone(),
        target: hit.target.clone(),
        created: hit.created.clone(),
        source: hit.source.clone(),
        user_agent: hit.user_agent.clone(),
        summary: hit.summary.clone(),
        event_id: hit.event_id.clone(),
        raw: evict_model::RawPointer {
            file,
            offset: hit.raw.offset,
        },
    }
}

fn window_word(w: WindowPosition) -> &'static str {
    match w {
        WindowPosition::Before => "before",
        WindowPosition::During => "during",
        WindowPosition::After => "after",
    }
}

fn print_hits(hits: &[Hit]) {
    if hits.is_empty() {
        return;
    }
    let mut table = output::table(&[
        "time",
        "severity",
        "rule",
        "window",
        "ATT&CK",
        "credential",
        "what",
        "record",
    ]);
    for hit in hits {
        table.add_row(vec![
            hit.time.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            hit.severity.to_string(),
            hit.rule.clone(),
            hit.window.map_or("-", window_word).to_string(),
            hit.techniques.join(" "),
            output::opt(hit.credential.as_deref()),
            hit.summary.clone(),
            format!("{}@{}", hit.raw.file, hit.raw.offset),
        ]);
    }
    output::print_table(&table);
}

fn print_problems(read: &ReadSummary, verbose: bool) {
    let shown = if verbose { read.problems.len() } else { 10 };
    for problem in read.problems.iter().take(shown) {
        output::line(&format!("skipped: {problem}"));
    }
    if read.problems.len() > shown || read.problem_count > read.problems.len() as u64 {
        output::line(&format!(
            "… {} more problems (--verbose or --format json lists them)",
            read.problem_count.saturating_sub(shown as u64)
        ));
    }
}

fn summary_line(s: &Summary, stored: Option<&evict_store::HuntStoreSummary>) -> String {
    let listed = if s.hits_listed as u64 == s.hits {
        String::new()
    } else {
        format!(", {} listed (--max-hits-per-rule)", s.hits_listed)
    };
    let mut line = format!(
        "{} hits{listed} ({} listed during the exposure window) in {} events from {} files \
         ({:.1} MB) in {:.2} s ({:.0} events/s); {} rules run, {} below --min-severity, {} \
         unsupported (evict rules check lists them)",
        s.hits,
        s.hits_listed_during_window,
        s.events,
        s.files,
        s.bytes as f64 / 1e6,
        s.seconds,
        s.events_per_second,
        s.rules_run,
        s.rules_below_min_severity,
        s.rules_unsupported,
    );
    if s.window_unjudged > 0 {
        line.push_str(&format!(
            "; {} uses after the patch not judged by the window hunts (too many sessions or \
             sources to keep; narrow with --since/--until)",
            s.window_unjudged
        ));
    }
    if s.filtered > 0 {
        line.push_str(&format!("; {} events outside --since/--until", s.filtered));
    }
    if s.skipped > 0 {
        let reasons: Vec<String> = s
            .skipped_by_reason
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        line.push_str(&format!("; skipped: {}", reasons.join(", ")));
    }
    if let Some(stored) = stored {
        line.push_str(&format!(
            "; stored {} new hits ({} already stored), usage of {} credentials and identities \
             ({} in the inventory)",
            stored.hits_new, stored.hits_again, stored.usage_rows, stored.usage_linked
        ));
    }
    line
}

fn show_progress(progress: &Progress, files: usize, done: &AtomicBool, quiet: bool) {
    if quiet {
        return;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if bar.is_hidden() {
        return;
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} hunting: {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    while !done.load(Ordering::Relaxed) {
        bar.set_message(format!(
            "{}/{files} files, {} records, {:.1} MB",
            progress.files.load(Ordering::Relaxed),
            progress.records.load(Ordering::Relaxed),
            progress.bytes.load(Ordering::Relaxed) as f64 / 1e6
        ));
        bar.tick();
        std::thread::sleep(Duration::from_millis(120));
    }
    bar.finish_and_clear();
}
