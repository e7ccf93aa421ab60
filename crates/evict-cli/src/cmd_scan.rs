//! `evict scan …`

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use evict_connectors::ConnectorsConfig;
use evict_connectors::liveness::{LeakedSecret, LivenessChecker};
use evict_model::{Confidence, Liveness, LivenessState, Location};
use evict_scan::chat::{FieldMap, scan_message_lines, scan_slack_export};
use evict_scan::{
    Collector, Engine, HeldSecret, IgnoreList, ScanStats, SecretFinding, Sink, Skipped,
    TreeOptions, scan_path,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::args::{FailOn, Format, ScanArgs};
use crate::cmd_rules::load_rules;
use crate::{Context, Outcome, output};

/// Locations shown per finding in the table; JSON and SARIF carry all of them.
const PLACES_SHOWN: usize = 3;

#[derive(Debug, Serialize)]
struct ScanReport<'a> {
    findings: &'a [SecretFinding],
    stats: &'a ScanStats,
    seconds: f64,
    rules: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    stored: Option<evict_store::ScanStoreSummary>,
    #[serde(skip_serializing_if = "<[Skipped]>::is_empty")]
    skipped: &'a [Skipped],
}

pub async fn run(ctx: &Context, args: ScanArgs) -> anyhow::Result<Outcome> {
    let mut paths = args.paths.clone();
    if paths.is_empty() && args.slack_export.is_empty() && args.messages.is_empty() {
        paths.push(PathBuf::from("."));
    }
    for path in paths
        .iter()
        .chain(&args.slack_export)
        .chain(&args.messages)
        .chain(&args.ignore_file)
    {
        if !path.exists() {
            bail!("{}: no such file or directory", path.display());
        }
    }
    let field_map = FieldMap::parse(&args.map).map_err(anyhow::Error::msg)?;
    let rules = load_rules(args.rules.as_deref())?;
    let rule_count = rules.len();
    let home = &ctx.home;
    let key = home
        .fingerprint_key()
        .context("the fingerprint key under $EVICT_HOME")?;
    let engine = Engine::new(rules, key, ctx.now);
    // Plaintext is kept in memory only when it will be sent to its issuer.
    let engine = if args.verify {
        engine.keeping_plaintext()
    } else {
        engine
    };
    let verify_config = if args.verify {
        Some(
            crate::cmd_contain::connectors_config(ctx, args.config.clone())?
                .map(|(_, config)| config)
                .unwrap_or_default(),
        )
    } else {
        None
    };

    let mut ignore = IgnoreList::default();
    for root in paths.iter().filter(|p| p.is_dir()) {
        ignore.merge(IgnoreList::load(root)?);
    }
    for file in &args.ignore_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read ignore file {}", file.display()))?;
        ignore.merge(IgnoreList::parse(&file.display().to_string(), &text)?);
    }

    let collector = Collector::default();
    let sink = Sink {
        engine: &engine,
        collector: &collector,
        ignore: &ignore,
    };
    let options = TreeOptions {
        respect_gitignore: args.gitignore,
        follow_symlinks: args.follow_symlinks,
        include_cache_dirs: args.include_cache_dirs,
        threads: args.threads.unwrap_or(TreeOptions::default().threads),
        exclude: vec![home.dir().to_path_buf()],
        ..TreeOptions::default()
    };
    let started = Instant::now();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        scope.spawn(|| show_progress(&collector, &done, ctx.quiet));
        let result = scan_inputs(sink, &paths, &args, &field_map, &options);
        done.store(true, Ordering::Relaxed);
        result
    })?;
    let held = collector.take_plaintexts();
    let (mut findings, stats, skipped) = collector.finish();
    if let Some(config) = &verify_config {
        check_liveness(config, &mut findings, held, ctx.quiet).await;
    }
    let seconds = started.elapsed().as_secs_f64();

    let stored = if args.store {
        let store = ctx.open_store().await?;
        let records: Vec<_> = findings.iter().map(store_record).collect();
        let summary = store.record_scan(&records, ctx.now).await;
        store.close().await;
        Some(summary?)
    } else {
        None
    };

    let shown_skips: &[Skipped] = if args.verbose || ctx.format != Format::Table {
        &skipped
    } else {
        &[]
    };
    match ctx.format {
        Format::Json => output::json(&ScanReport {
            findings: &findings,
            stats: &stats,
            seconds,
            rules: rule_count,
            stored: stored.clone(),
            skipped: shown_skips,
        })?,
        Format::Sarif => output::json(&evict_scan::sarif::sarif_log(
            &findings,
            engine.rules(),
            env!("CARGO_PKG_VERSION"),
        ))?,
        Format::Table | Format::Md | Format::Html => {
            print_report(&findings, &stats, seconds, stored.as_ref(), shown_skips)
        }
    }
    if ctx.format != Format::Table && !ctx.quiet {
        output::note(false, &summary_line(&findings, &stats, seconds));
    }
    let threshold = match args.fail_on {
        FailOn::Low => Some(Confidence::Low),
        FailOn::Medium => Some(Confidence::Medium),
        FailOn::High => Some(Confidence::High),
        FailOn::Never => None,
    };
    let failing = threshold.is_some_and(|t| findings.iter().any(|f| f.confidence >= t));
    Ok(if failing {
        Outcome::Attention
    } else {
        Outcome::Ok
    })
}

fn scan_inputs(
    sink: Sink<'_>,
    paths: &[PathBuf],
    args: &ScanArgs,
    field_map: &FieldMap,
    options: &TreeOptions,
) -> anyhow::Result<()> {
    if args.staged {
        let repo = paths.first().map_or(Path::new("."), PathBuf::as_path);
        evict_scan::history::scan_staged(sink, repo)?;
    } else if args.git {
        for repo in paths {
            evict_scan::history::scan_history(sink, repo, options.threads)?;
        }
    } else {
        for path in paths {
            scan_path(sink, path, options);
        }
    }
    for folder in &args.slack_export {
        scan_slack_export(sink, folder);
    }
    for file in &args.messages {
        scan_message_lines(sink, file, field_map);
    }
    Ok(())
}

fn show_progress(collector: &Collector, done: &AtomicBool, quiet: bool) {
    if quiet {
        return;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if bar.is_hidden() {
        return;
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} scanning: {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    while !done.load(Ordering::Relaxed) {
        let (inputs, bytes) = collector.progress();
        bar.set_message(format!("{inputs} inputs, {}", megabytes(bytes)));
        bar.tick();
        std::thread::sleep(Duration::from_millis(120));
    }
    bar.finish_and_clear();
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

pub(crate) fn store_record(finding: &SecretFinding) -> evict_store::ScannedSecret {
    evict_store::ScannedSecret {
        provider: finding.provider.clone(),
        kind: finding.kind,
        rule: finding.rule.clone(),
        confidence: finding.confidence,
        fingerprint: finding.fingerprint.clone(),
        preview: finding.preview.clone(),
        native_id: finding.native_id.clone(),
        expires_at: finding.persistence.expires_at(),
        locations: finding.locations.clone(),
        liveness: finding.liveness.clone(),
    }
}

/// Asks each finding's issuer, for the providers opted in, whether it still works; every
/// finding gets a liveness. The plaintexts are dropped (and overwritten) when this returns.
async fn check_liveness(
    config: &ConnectorsConfig,
    findings: &mut [SecretFinding],
    mut held: HashMap<String, HeldSecret>,
    quiet: bool,
) {
    let checker = Arc::new(LivenessChecker::from_config(config).await);
    if !checker.any_opted_in() && !quiet {
        output::note(
            false,
            "--verify: no provider is opted in, so no secret was sent anywhere; add [verify] \
             providers = [\"aws\", \"postgres\", \"oauth\"] to connectors.toml (or --config FILE) \
             for those you choose to send leaked secrets to",
        );
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (index, finding) in findings.iter_mut().enumerate() {
        let Some(plain) = held.remove(finding.fingerprint.as_str()) else {
            finding.liveness = Some(Liveness::unknown("the plaintext was not kept"));
            continue;
        };
        let leaked = LeakedSecret {
            rule: finding.rule.clone(),
            provider: finding.provider.as_str().to_string(),
            kind: finding.kind,
            native_id: finding.native_id.clone(),
            matched: plain.matched.get(&finding.rule).cloned(),
            secret: plain.secret,
        };
        let checker = checker.clone();
        tasks.spawn(async move { (index, checker.check(&leaked).await) });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, liveness)) => findings[index].liveness = Some(liveness),
            Err(e) => output::note(false, &format!("a liveness probe failed: {e}")),
        }
    }
    for finding in findings.iter_mut().filter(|f| f.liveness.is_none()) {
        finding.liveness = Some(Liveness::unknown("the probe did not finish"));
    }
}

fn summary_line(findings: &[SecretFinding], stats: &ScanStats, seconds: f64) -> String {
    let places: usize = findings.iter().map(|f| f.locations.len()).sum();
    let by = |c: Confidence| findings.iter().filter(|f| f.confidence == c).count();
    let skipped: u64 = stats.skipped.values().sum();
    let mut line = format!(
        "{} secret{} ({} high, {} medium, {} low) in {places} place{}; scanned {} files, {} blobs, {} messages, {} in {seconds:.2} s",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        by(Confidence::High),
        by(Confidence::Medium),
        by(Confidence::Low),
        if places == 1 { "" } else { "s" },
        stats.files,
        stats.blobs,
        stats.messages,
        megabytes(stats.bytes),
    );
    if skipped > 0 {
        let reasons: Vec<String> = stats
            .skipped
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        line.push_str(&format!("; skipped {skipped} ({})", reasons.join(", ")));
    }
    if findings.iter().any(|f| f.liveness.is_some()) {
        let by = |state: LivenessState| {
            findings
                .iter()
                .filter(|f| f.liveness.as_ref().is_some_and(|l| l.state == state))
                .count()
        };
        line.push_str(&format!(
            "; liveness: {} live, {} dead, {} unknown",
            by(LivenessState::Live),
            by(LivenessState::Dead),
            by(LivenessState::Unknown)
        ));
    }
    if stats.allowed_inline > 0 {
        line.push_str(&format!("; {} allowed inline", stats.allowed_inline));
    }
    if stats.ignored > 0 {
        line.push_str(&format!("; {} ignored by .evictignore", stats.ignored));
    }
    line
}

fn print_report(
    findings: &[SecretFinding],
    stats: &ScanStats,
    seconds: f64,
    stored: Option<&evict_store::ScanStoreSummary>,
    skipped: &[Skipped],
) {
    if !findings.is_empty() {
        let verified = findings.iter().any(|f| f.liveness.is_some());
        let mut header = vec![
            "confidence",
            "rule",
            "secret",
            "lifetime",
            "fingerprint",
            "seen",
            "where",
        ];
        if verified {
            header.push("liveness");
        }
        let mut table = output::table(&header);
        for finding in findings {
            let mut places: Vec<String> = finding
                .locations
                .iter()
                .take(PLACES_SHOWN)
                .map(Location::display)
                .collect();
            if finding.locations.len() > PLACES_SHOWN {
                places.push(format!(
                    "(+{} more)",
                    finding.locations.len() - PLACES_SHOWN
                ));
            }
            let secret = match &finding.native_id {
                Some(id) if !finding.preview.contains(id.as_str()) => {
                    format!("{} (id {id})", finding.preview)
                }
                _ => finding.preview.clone(),
            };
            let mut row = vec![
                finding.confidence.to_string(),
                finding.rule.clone(),
                secret,
                finding.persistence.to_string(),
                finding.fingerprint.short().to_string(),
                finding.locations.len().to_string(),
                places.join("\n"),
            ];
            if verified {
                row.push(
                    finding
                        .liveness
                        .as_ref()
                        .map_or_else(|| "unknown".into(), ToString::to_string),
                );
            }
            table.add_row(row);
        }
        output::print_table(&table);
    }
    for skip in skipped {
        output::line(&format!("skipped {}: {}", skip.what, skip.reason));
    }
    if let Some(stored) = stored {
        output::line(&format!(
            "stored: {} new credentials, {} linked to inventory, {} new locations",
            stored.credentials_new, stored.credentials_linked, stored.locations_new
        ));
    }
    output::line(&summary_line(findings, stats, seconds));
}
