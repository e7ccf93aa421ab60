//! `evict demo`: the story so far, on a generated organisation, in a fresh temporary store.

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::Context as _;
use evict_store::import::{ImportKind, Quiet, import_file};
use evict_store::{EvictHome, Store};
use evict_testkit::{InventoryFormat, write_credential_report, write_inventory};

use crate::args::{DemoArgs, Format};
use crate::{Context, Outcome, output};

pub async fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<Outcome> {
    if args.live {
        return crate::demo_live::run(ctx).await;
    }
    let dir = std::env::temp_dir().join(format!(
        "evict-demo-{}-{}",
        std::process::id(),
        ctx.now.as_second()
    ));
    let home = EvictHome::at(dir.join("home"));
    home.ensure()?;
    let data = dir.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    // The demo never touches the user's own store, whatever EVICT_DATABASE_URL says.
    let now = evict_testkit::reference_now();
    let table = ctx.format == Format::Table;
    let say = |text: &str| {
        if table {
            output::line(text);
        }
    };

    say("Evict demo: a synthetic organisation, generated offline.\n");
    let report = data.join("credential-report.csv");
    let inventory = data.join("inventory.csv");
    let report_truth = {
        let mut out = BufWriter::new(File::create(&report)?);
        let t = write_credential_report(args.seed, args.users, &mut out)?;
        out.flush()?;
        t
    };
    let inventory_truth = {
        let mut out = BufWriter::new(File::create(&inventory)?);
        let t = write_inventory(
            args.seed,
            args.inventory_rows,
            InventoryFormat::Csv,
            &mut out,
        )?;
        out.flush()?;
        t
    };
    say(&format!(
        "1. Generated an AWS credential report ({} IAM users incl. root, {} access keys) and a generic inventory ({} identities, {} credentials across Slack, Kubernetes, Vault, GitHub, Okta).",
        report_truth.users,
        report_truth.access_keys,
        inventory_truth.identities,
        inventory_truth.credentials
    ));

    let store = Store::open_sqlite(&home).await?;
    let first_report = import_file(
        &store,
        ImportKind::AwsCredentialReport,
        &report,
        now,
        &Quiet,
    )
    .await?;
    let first_inventory =
        import_file(&store, ImportKind::Inventory, &inventory, now, &Quiet).await?;
    say(&format!(
        "2. Imported both into a fresh store at {}: {} + {} records inserted, {} rows rejected.",
        home.dir().display(),
        first_report.inserted,
        first_inventory.inserted,
        first_report.rejected + first_inventory.rejected
    ));
    let again = import_file(
        &store,
        ImportKind::AwsCredentialReport,
        &report,
        now,
        &Quiet,
    )
    .await?;
    say(&format!(
        "3. Imported the credential report again: {} inserted, {} updated, {} unchanged — re-imports change nothing.",
        again.inserted, again.updated, again.unchanged
    ));
    let journal = store.journal_verify().await?;
    say(&format!(
        "4. Evidence journal: {} hash-chained entries, {}.\n",
        journal.entries,
        match (&journal.broken, &journal.head) {
            (None, Some(head)) => format!("intact, head {}", &head[..16]),
            (None, None) => "empty".into(),
            (Some(b), _) => format!("BROKEN at entry {}", b.seq),
        }
    ));
    let (findings, scan_stats, stored) = demo_scan(&home, &store, &data, args.seed, now).await?;
    let copies = findings
        .iter()
        .map(|f| f.locations.len())
        .max()
        .unwrap_or(0);
    say(&format!(
        "5. Scanned a repository checkout with leaked secrets ({} files, an archive among them): {} secrets in {} places — the GitHub token copied to {copies} places is one finding, revoked once. Stored {} fingerprints and previews, never the secrets.",
        scan_stats.files,
        findings.len(),
        findings.iter().map(|f| f.locations.len()).sum::<usize>(),
        stored.credentials_new + stored.credentials_linked + stored.credentials_known,
    ));
    if table {
        let mut found = output::table(&["rule", "secret", "lifetime", "seen"]);
        for finding in &findings {
            found.add_row(vec![
                finding.rule.clone(),
                finding.preview.clone(),
                finding.persistence.to_string(),
                finding.locations.len().to_string(),
            ]);
        }
        output::print_table(&found);
        say("");
    }
    let (hunt, hunt_stored) = demo_hunt(&store, &data, args.seed, now).await?;
    let during: Vec<&evict_logs::hunt::Hit> = hunt
        .hits
        .iter()
        .filter(|h| h.window == Some(evict_logs::hunt::WindowPosition::During))
        .collect();
    let after: Vec<&evict_logs::hunt::Hit> = hunt
        .hits
        .iter()
        .filter(|h| {
            h.window == Some(evict_logs::hunt::WindowPosition::After)
                && h.rule_id.is_none()
                && !h.rule.starts_with("ioc-")
        })
        .collect();
    say(&format!(
        "6. Hunted {} CloudTrail, Okta and GitHub audit-log events with Evict's pack, the shipped SigmaHQ rules (medium and above) and the window (compromised {}, patched {}): {} hits in all, {} of them inside the window; {} uses after the patch of access that should be dead. Stored the hits and the usage of {} credentials and identities.",
        hunt.events,
        evict_testkit::logs::COMPROMISED_AT,
        evict_testkit::logs::PATCHED_AT,
        hunt.hits_by_rule.values().sum::<u64>(),
        during.len(),
        after.len(),
        hunt_stored.usage_rows,
    ));
    if table {
        let mut found = output::table(&["time", "rule", "what"]);
        for hit in during
            .iter()
            .filter(|h| !h.rule.starts_with("ioc-") && h.severity >= evict_model::Severity::Medium)
            .chain(after.iter())
        {
            found.add_row(vec![
                hit.time.strftime("%Y-%m-%d %H:%M").to_string(),
                hit.rule.clone(),
                hit.summary.clone(),
            ]);
        }
        output::print_table(&found);
        say("");
    }
    let story = demo_incident(&store, &home, &data, now, table).await?;
    let stats = store.inventory_stats(now).await?;
    store.close().await;
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({
            "home": home.dir(),
            "imports": [first_report, first_inventory, again],
            "journal": journal,
            "scan": { "findings": findings, "stats": scan_stats, "stored": stored },
            "hunt": {
                "events": hunt.events,
                "hits": hunt.hits,
                "hits_by_rule": hunt.hits_by_rule,
                "stored": hunt_stored,
            },
            "incident": story,
            "stats": stats,
        }))?,
        Format::Table | Format::Sarif | Format::Md | Format::Html => {
            say(&format!("Inventory posture as of {now}:"));
            crate::cmd_inventory::print_stats(&stats);
            say(&format!(
                "\nExplore it: EVICT_HOME={} evict inventory list --persistent --unused-days 90 --now {now}",
                home.dir().display()
            ));
        }
    }
    Ok(if journal.broken.is_some() {
        Outcome::Attention
    } else {
        Outcome::Ok
    })
}

/// Writes the organisation's audit logs with the planted attack, hunts them with the window and
/// the attacker's indicators, and stores hits and usage.
async fn demo_hunt(
    store: &Store,
    data: &std::path::Path,
    seed: u64,
    now: jiff::Timestamp,
) -> anyhow::Result<(evict_logs::hunt::HuntReport, evict_store::HuntStoreSummary)> {
    use evict_testkit::logs::{
        ATTACKER_IP, COMPROMISED_AT, CloudTrailOptions, CloudTrailShape, ExportShape,
        OrgLogsOptions, PATCHED_AT, write_org_logs,
    };
    let logs = data.join("logs");
    write_org_logs(
        seed,
        20_000,
        &OrgLogsOptions {
            cloudtrail: CloudTrailOptions {
                shape: CloudTrailShape::S3Objects {
                    records_per_file: 500,
                },
                logstash_timestamps: false,
            },
            export: ExportShape::JsonLines,
        },
        &logs,
    )?;
    let options = evict_logs::hunt::HuntOptions {
        compromised_at: Some(COMPROMISED_AT.parse()?),
        patched_at: Some(PATCHED_AT.parse()?),
        ioc_ips: vec![ATTACKER_IP.parse().map_err(anyhow::Error::msg)?],
        ioc_user_agents: vec!["evil-kit".into()],
        max_hits_per_rule: evict_logs::hunt::DEFAULT_MAX_HITS_PER_RULE,
        ..Default::default()
    };
    let engine = evict_logs::sigma::SigmaSet::standard_at(
        &[],
        true,
        true,
        None,
        evict_model::Severity::Medium,
    );
    let (files, _) = evict_logs::read::input_files(std::slice::from_ref(&logs));
    let mut report = evict_logs::hunt::run(
        &engine,
        &files,
        None,
        &evict_logs::normalize::Normalizer::new(None),
        &options,
        &evict_logs::hunt::Progress::default(),
    );
    let hits = crate::cmd_hunt::stored_hits(&report.hits);
    let usage: Vec<_> = std::mem::take(&mut report.usage)
        .into_sorted()
        .iter()
        .map(crate::cmd_hunt::stored_usage)
        .collect();
    let stored = store
        .record_hunt(&logs.display().to_string(), &hits, &usage, now)
        .await?;
    Ok((report, stored))
}

/// Writes a small checkout with secrets planted (one token copied into three places, one of them
/// inside a zip), scans it and stores the findings.
async fn demo_scan(
    home: &EvictHome,
    store: &Store,
    data: &std::path::Path,
    seed: u64,
    now: jiff::Timestamp,
) -> anyhow::Result<(
    Vec<evict_scan::SecretFinding>,
    evict_scan::ScanStats,
    evict_store::ScanStoreSummary,
)> {
    let checkout = data.join("checkout");
    std::fs::create_dir_all(checkout.join("deploy"))?;
    let mut rng = evict_testkit::Rng::new(seed);
    let planted = evict_testkit::secrets::assorted(&mut rng);
    let token = &planted[0];
    std::fs::write(checkout.join(".env"), format!("{}\n", token.text))?;
    std::fs::write(
        checkout.join("deploy/ci.sh"),
        format!("#!/bin/sh\nexport {}\n", token.text),
    )?;
    {
        let mut zip = zip::ZipWriter::new(File::create(checkout.join("backup.zip"))?);
        zip.start_file("old/.env", zip::write::SimpleFileOptions::default())?;
        zip.write_all(token.text.as_bytes())?;
        zip.finish()?;
    }
    for (n, secret) in planted.iter().enumerate().skip(1) {
        std::fs::write(
            checkout.join(format!("config-{n}.txt")),
            format!("# settings\n{}\n", secret.text),
        )?;
    }
    let engine = evict_scan::Engine::new(
        evict_scan::RuleSet::builtin()?,
        home.fingerprint_key()?,
        now,
    );
    let collector = evict_scan::Collector::default();
    let ignore = evict_scan::IgnoreList::default();
    let sink = evict_scan::Sink {
        engine: &engine,
        collector: &collector,
        ignore: &ignore,
    };
    evict_scan::scan_path(sink, &checkout, &evict_scan::TreeOptions::default());
    let (findings, stats, _) = collector.finish();
    let records: Vec<_> = findings.iter().map(crate::cmd_scan::store_record).collect();
    let stored = store.record_scan(&records, now).await?;
    Ok((findings, stats, stored))
}

/// Steps 7-11: the incident opened on the planted attack, its residual access, the plan,
/// attestations, the gate refusing and then passing, and the signed report.
async fn demo_incident(
    store: &Store,
    home: &EvictHome,
    data: &std::path::Path,
    now: jiff::Timestamp,
    table: bool,
) -> anyhow::Result<serde_json::Value> {
    use evict_incident::gate::Standing;
    use evict_incident::plan::build_plan;
    use evict_model::{EvidenceVerdict, Incident, IncidentStatus, Tier};

    let say = |text: &str| {
        if table {
            output::line(text);
        }
    };
    let plan_ids = evict_testkit::logs::attack_plan();
    let checkout = std::fs::canonicalize(data.join("checkout"))?;
    let name = "demo-breach";
    let incident = Incident {
        name: name.into(),
        compromised_at: plan_ids.compromised_at,
        patched_at: Some(plan_ids.patched_at),
        scope: vec![
            "provider:aws".into(),
            format!("repo:{}", checkout.display()),
        ],
        ioc_ips: vec![plan_ids.attacker_ip.into()],
        ioc_user_agents: vec!["evil-kit".into()],
        status: IncidentStatus::Open,
    };
    store.open_incident(&incident, now).await?;
    let (policy, artifacts) = crate::cmd_incident::compute_residual(now, store, name, None).await?;
    let count = |tier: Tier| artifacts.iter().filter(|a| a.tier.tier == tier).count();
    say(&format!(
        "7. Opened incident '{name}' (window {} … {}, scope: AWS and the leaked checkout, indicators {} and evil-kit). Residual access: {} artifacts — {} to kill now, {} to rotate, {} to examine.",
        plan_ids.compromised_at,
        plan_ids.patched_at,
        plan_ids.attacker_ip,
        artifacts.len(),
        count(Tier::Kill),
        count(Tier::Rotate),
        count(Tier::Validate),
    ));
    if table {
        let mut kills = output::table(&["tier", "provider", "artifact", "why"]);
        for a in artifacts.iter().filter(|a| a.tier.tier != Tier::Validate) {
            let reasons: Vec<&str> = a.reasons.iter().map(|r| r.reason.as_str()).collect();
            kills.add_row(vec![
                a.tier.tier.to_string(),
                a.provider.clone(),
                a.label.clone(),
                reasons.join(", "),
            ]);
        }
        output::print_table(&kills);
        say("");
    }
    let plan = build_plan(name, &artifacts, &policy, now);
    let (version, _) = store
        .store_plan(
            name,
            serde_json::to_string(&plan)?,
            &plan.policy_digest,
            &plan.content_digest(),
            now,
        )
        .await?;
    say(&format!(
        "8. Plan version {version}: {} ordered steps — sessions cut first, keys deactivated one at a time, footholds disabled then deleted, rotations, signing keys last; each step names the evidence that will prove it.",
        plan.steps.len()
    ));

    let mut keys: Vec<(&str, Tier)> = plan
        .steps
        .iter()
        .map(|s| (s.artifact.as_str(), s.tier))
        .collect();
    keys.dedup();
    let attest = |artifact: &str| evict_store::StoredEvidence {
        artifact: artifact.to_string(),
        verdict: EvidenceVerdict::Attested,
        by: "demo responder".into(),
        detail: "checked by hand in the demo (no connector ran)".into(),
        at: now,
        journal: 0,
    };
    for (artifact, tier) in &keys {
        if *tier == Tier::Validate {
            store.record_evidence(name, &attest(artifact), now).await?;
        }
    }
    let refused = crate::cmd_incident::judge(store, name, &plan, version, false, now).await?;
    let missing = refused
        .lines
        .iter()
        .filter(|l| matches!(l.standing, Standing::Missing { .. }))
        .count();
    say(&format!(
        "9. Attested the {} artifacts to examine. The closure gate refuses: {missing} kill and rotate artifacts have no evidence of revocation yet.",
        count(Tier::Validate)
    ));
    for (artifact, tier) in &keys {
        if *tier != Tier::Validate {
            store.record_evidence(name, &attest(artifact), now).await?;
        }
    }
    let passed = crate::cmd_incident::judge(store, name, &plan, version, true, now).await?;
    if passed.may_close {
        store
            .close_incident(
                name,
                &serde_json::json!({ "plan_version": version, "allow_attested": true }),
                now,
            )
            .await?;
    }
    say(&format!(
        "10. With every artifact attested by hand and attestations allowed for every tier (--allow-attested; connectors will bring verified evidence), the gate {} and the incident is {}.",
        if passed.may_close {
            "passes"
        } else {
            "still refuses"
        },
        if passed.may_close { "closed" } else { "open" },
    ));
    let key = evict_incident::signing::init_keys(home.dir())?;
    let written =
        crate::cmd_incident::write_report(now, store, home, name, None, None, "html").await?;
    say(&format!(
        "11. Signed report (key {}): {}\n    Check it: EVICT_HOME={} evict report verify {}\n",
        key.fingerprint,
        written.path.display(),
        home.dir().display(),
        written.path.display()
    ));
    Ok(serde_json::json!({
        "name": name,
        "artifacts": { "kill": count(Tier::Kill), "rotate": count(Tier::Rotate), "validate": count(Tier::Validate) },
        "plan_steps": plan.steps.len(),
        "gate_missing_before": missing,
        "closed": passed.may_close,
        "report": written.path,
        "report_signed_with": written.signed_with,
    }))
}
