//! `evict incident …`: open an incident, change its scope, list and show incidents.

use anyhow::{Context as _, bail};
use evict_incident::gate::{
    DeletionFacts, EvidenceFacts, ExceptionFacts, GateLine, GateReport, Standing, closure_gate,
};
use evict_incident::plan::{Plan, build_plan};
use evict_incident::policy::Policy;
use evict_incident::report::{
    ReportAction, ReportData, ReportEvidence, ReportException, TimelineEvent, render_html,
    render_json, render_markdown,
};
use evict_incident::residual::{
    HitFacts, LocationFacts, ResidualArtifact, ResidualInputs, add_usage_detail,
    credentials_needed, find_residual, providers_in_scope,
};
use evict_incident::scope::{ScopeKind, ScopeRef, Window, location_in_scope};
use evict_incident::signing::{self, SignatureStyle, detached_signature_path, sign_report};
use evict_logs::hunt::IpNet;
use evict_model::{EvidenceVerdict, Incident, IncidentStatus, Tier};
use evict_store::{
    IncidentError, ShowResult, Store, StoredEvidence, StoredException, StoredIncident,
};

use crate::args::{Format, IncidentCommand, IncidentOpenArgs, IncidentScopeArgs};
use crate::cmd_hunt::parse_time;
use crate::{Context, Outcome, output};

pub async fn run(ctx: &Context, cmd: IncidentCommand) -> anyhow::Result<Outcome> {
    match cmd {
        IncidentCommand::Open(args) => open(ctx, args).await,
        IncidentCommand::Scope(args) => scope(ctx, args).await,
        IncidentCommand::Residual { name, policy } => residual(ctx, &name, policy.as_deref()).await,
        IncidentCommand::Plan { name, policy } => plan(ctx, &name, policy.as_deref()).await,
        IncidentCommand::Attest {
            name,
            artifact,
            by,
            note,
        } => attest(ctx, &name, &artifact, &by, &note).await,
        IncidentCommand::Except {
            name,
            artifact,
            owner,
            approver,
            reason,
            expires,
        } => except(ctx, &name, &artifact, &owner, &approver, &reason, &expires).await,
        IncidentCommand::Close {
            name,
            allow_attested,
        } => close(ctx, &name, allow_attested).await,
        IncidentCommand::Report { name, out, policy } => {
            report(ctx, &name, out.as_deref(), policy.as_deref()).await
        }
        IncidentCommand::Contain {
            name,
            execute,
            tier,
            config,
            secrets,
        } => crate::cmd_contain::contain(ctx, &name, execute, tier, config, secrets).await,
        IncidentCommand::Verify {
            name,
            config,
            secrets,
        } => crate::cmd_contain::verify(ctx, &name, config, secrets).await,
        IncidentCommand::List => list(ctx).await,
        IncidentCommand::Show { name } => show(ctx, &name).await,
    }
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !valid {
        bail!(
            "incident name '{name}': use 1-64 letters, digits, '.', '_' or '-' (e.g. 2026-05-ci-breach)"
        );
    }
    Ok(())
}

/// A path as the store would have written it, made comparable: canonical when it exists,
/// else without `./` and trailing slashes.
fn normalise_path(path: &str) -> String {
    match std::fs::canonicalize(path) {
        Ok(p) => p.display().to_string(),
        Err(_) => path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string(),
    }
}

/// Resolves scope references against the store: every one must name something the store
/// knows, and is kept in a canonical form (identities by Evict id).
async fn resolve_scope(store: &Store, given: &[String]) -> anyhow::Result<Vec<String>> {
    let mut resolved = Vec::new();
    let mut locations = None;
    for text in given {
        let mut scope = ScopeRef::parse(text)?;
        match scope.kind {
            ScopeKind::Identity => match store.show(&scope.value).await? {
                Some(ShowResult::Identity { identity, .. }) => {
                    scope.value = identity.id.to_string();
                }
                Some(ShowResult::Credential { .. }) => bail!(
                    "scope '{text}' names a credential; scope takes identities (their credentials, sessions and grants come with them)"
                ),
                None => bail!(
                    "scope '{text}': no such identity in the inventory; use an Evict id (i_…) or provider:external-id as `evict inventory list` shows them"
                ),
            },
            ScopeKind::Provider | ScopeKind::System => {
                let provider = scope.value.trim().to_ascii_lowercase();
                if !store.provider_known(&provider).await? {
                    bail!(
                        "scope '{text}': the inventory has nothing from provider '{provider}'; import it first (`evict import …`) or check the name (`evict inventory stats`)"
                    );
                }
                scope.value = provider;
            }
            ScopeKind::Repo | ScopeKind::Host => {
                if locations.is_none() {
                    locations = Some(store.secret_locations().await?);
                }
                let found = locations
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|l| location_in_scope(&scope, &l.location, &normalise_path));
                if !found {
                    bail!(
                        "scope '{text}': no stored scan has seen a secret there; run `evict scan PATH --store` (with --git for history) first, or check the {}",
                        if scope.kind == ScopeKind::Repo {
                            "path"
                        } else {
                            "host name (a component of the scanned paths)"
                        }
                    );
                }
            }
        }
        let canonical = scope.to_string();
        if !resolved.contains(&canonical) {
            resolved.push(canonical);
        }
    }
    Ok(resolved)
}

async fn open(ctx: &Context, args: IncidentOpenArgs) -> anyhow::Result<Outcome> {
    check_name(&args.name)?;
    let window = Window::new(
        parse_time("--compromised-at", &args.compromised_at)?,
        parse_time("--patched-at", &args.patched_at)?,
        ctx.now,
    )?;
    for ip in &args.ioc_ip {
        ip.parse::<IpNet>()
            .map_err(|e| anyhow::anyhow!("--ioc-ip '{ip}': {e}"))?;
    }
    if let Some(empty) = args.ioc_ua.iter().find(|ua| ua.trim().is_empty()) {
        bail!("--ioc-ua '{empty}': an empty user agent would match every event");
    }
    let store = ctx.open_store().await?;
    let result = async {
        let scope = resolve_scope(&store, &args.scope).await?;
        let incident = Incident {
            name: args.name.clone(),
            compromised_at: window.compromised_at,
            patched_at: Some(window.patched_at),
            scope,
            ioc_ips: args.ioc_ip.clone(),
            ioc_user_agents: args.ioc_ua.clone(),
            status: IncidentStatus::Open,
        };
        Ok::<_, anyhow::Error>(store.open_incident(&incident, ctx.now).await?)
    }
    .await;
    store.close().await;
    let stored = result?;
    match ctx.format {
        Format::Json => output::json(&stored)?,
        _ => {
            output::line(&format!("opened incident '{}'", stored.incident.name));
            print_incident(&stored);
            if stored.incident.scope.is_empty() {
                output::note(
                    ctx.quiet,
                    "note: the scope is empty; add what the attacker could reach with `evict incident scope NAME --add KIND:VALUE`",
                );
            }
        }
    }
    Ok(Outcome::Ok)
}

async fn scope(ctx: &Context, args: IncidentScopeArgs) -> anyhow::Result<Outcome> {
    if args.add.is_empty() && args.remove.is_empty() {
        bail!("nothing to change: give --add KIND:VALUE and/or --remove KIND:VALUE");
    }
    let store = ctx.open_store().await?;
    let result = async {
        let Some(current) = store.incident(&args.name).await? else {
            return Err(IncidentError::NotFound(args.name.clone()).into());
        };
        let add = resolve_scope(&store, &args.add).await?;
        let mut remove = Vec::new();
        for text in &args.remove {
            let canonical = ScopeRef::parse(text)?.to_string();
            if !current.incident.scope.contains(&canonical) {
                bail!(
                    "--remove '{text}': not in the scope of '{}'; its scope is: {}",
                    args.name,
                    if current.incident.scope.is_empty() {
                        "(empty)".to_string()
                    } else {
                        current.incident.scope.join(", ")
                    }
                );
            }
            remove.push(canonical);
        }
        Ok::<_, anyhow::Error>(
            store
                .change_incident_scope(&args.name, &add, &remove, ctx.now)
                .await?,
        )
    }
    .await;
    store.close().await;
    let (stored, changed) = result?;
    match ctx.format {
        Format::Json => {
            output::json(&serde_json::json!({ "changed": changed, "incident": stored }))?
        }
        _ => {
            output::line(if changed {
                "scope changed"
            } else {
                "scope unchanged (nothing to add or remove)"
            });
            print_incident(&stored);
        }
    }
    Ok(Outcome::Ok)
}

async fn list(ctx: &Context) -> anyhow::Result<Outcome> {
    let store = ctx.open_store().await?;
    let incidents = store.incidents().await;
    store.close().await;
    let incidents = incidents.context("list incidents")?;
    match ctx.format {
        Format::Json => output::json(&incidents)?,
        _ => {
            if incidents.is_empty() {
                output::line(
                    "no incidents; open one with `evict incident open NAME --compromised-at T --patched-at T --scope …`",
                );
                return Ok(Outcome::Ok);
            }
            let mut table = output::table(&[
                "name",
                "status",
                "compromised",
                "patched",
                "scope",
                "indicators",
                "opened",
            ]);
            for s in &incidents {
                let i = &s.incident;
                table.add_row(vec![
                    i.name.clone(),
                    i.status.to_string(),
                    output::date(Some(i.compromised_at)),
                    output::date(i.patched_at),
                    i.scope.len().to_string(),
                    (i.ioc_ips.len() + i.ioc_user_agents.len()).to_string(),
                    output::date(Some(s.opened_at)),
                ]);
            }
            output::print_table(&table);
        }
    }
    Ok(Outcome::Ok)
}

async fn show(ctx: &Context, name: &str) -> anyhow::Result<Outcome> {
    let store = ctx.open_store().await?;
    let incident = store.incident(name).await;
    store.close().await;
    let Some(stored) = incident? else {
        return Err(IncidentError::NotFound(name.to_string()).into());
    };
    match ctx.format {
        Format::Json => output::json(&stored)?,
        _ => print_incident(&stored),
    }
    Ok(Outcome::Ok)
}

/// The provider a log source speaks for (hits stored before their provider was recorded).
fn provider_of(source_kind: &str) -> String {
    match source_kind {
        "cloudtrail" => "aws".into(),
        other => other.into(),
    }
}

/// The residual access set of an incident, tiered by the policy given (or the default).
pub(crate) async fn compute_residual(
    now: jiff::Timestamp,
    store: &Store,
    name: &str,
    policy_file: Option<&std::path::Path>,
) -> anyhow::Result<(Policy, Vec<ResidualArtifact>)> {
    let policy = match policy_file {
        Some(path) => Policy::from_file(path)?,
        None => Policy::default_policy(),
    };
    let Some(stored) = store.incident(name).await? else {
        return Err(IncidentError::NotFound(name.to_string()).into());
    };
    let incident = &stored.incident;
    let Some(patched_at) = incident.patched_at else {
        bail!("incident '{name}' has no patch time; residual access is measured from the patch");
    };
    let window = Window {
        compromised_at: incident.compromised_at,
        patched_at,
    };
    let scope = incident
        .scope
        .iter()
        .map(|s| ScopeRef::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    // Four independent reads at once: the store answers on several connections, and the
    // credentials of the providers in scope are known from the scope alone.
    let providers = providers_in_scope(&scope);
    let read_identities = async {
        let mut identities = Vec::new();
        store
            .for_each_identity(&Default::default(), now, None, |i| identities.push(i))
            .await?;
        Ok::<_, anyhow::Error>(identities)
    };
    let read_locations = async {
        Ok::<_, anyhow::Error>(
            store
                .secret_locations()
                .await?
                .into_iter()
                .map(|l| LocationFacts {
                    credential_id: l.credential_id,
                    location: l.location,
                })
                .collect::<Vec<_>>(),
        )
    };
    let read_hits = async {
        Ok::<_, anyhow::Error>(
            store
                .hunt_hits()
                .await?
                .into_iter()
                .map(|h| HitFacts {
                    provider: h.provider.unwrap_or_else(|| provider_of(&h.source_kind)),
                    pointer: format!("{}@{}", h.raw.file, h.raw.offset),
                    rule: h.rule,
                    techniques: h.techniques,
                    at: h.time,
                    action: h.action,
                    actor: h.actor,
                    credential: h.credential,
                    target: h.target,
                    created: h.created,
                    summary: h.summary,
                })
                .collect::<Vec<_>>(),
        )
    };
    let read_provider_credentials = async {
        let mut credentials = Vec::new();
        for provider in &providers {
            store
                .for_each_credential_of(&evict_model::Provider::new(provider)?, |c| {
                    credentials.push(c)
                })
                .await?;
        }
        Ok::<_, anyhow::Error>(credentials)
    };
    let (identities, locations, hits, mut credentials) = tokio::try_join!(
        read_identities,
        read_locations,
        read_hits,
        read_provider_credentials
    )?;
    // Only the credentials the incident can touch are read, not the whole inventory.
    let wanted = credentials_needed(&scope, &identities, &locations, &hits);
    let mut seen: std::collections::HashSet<String> =
        credentials.iter().map(|c| c.id.to_string()).collect();
    // What a provider scan above has read already is not asked for again.
    let scanned = |provider: &str| wanted.providers.contains(provider);
    let provider_of_identity: std::collections::HashMap<&str, &str> = identities
        .iter()
        .map(|i| (i.id.as_str(), i.provider.as_str()))
        .collect();
    let identity_ids: Vec<String> = wanted
        .identity_ids
        .iter()
        .filter(|id| {
            !provider_of_identity
                .get(id.as_str())
                .is_some_and(|p| scanned(p))
        })
        .cloned()
        .collect();
    let natives: Vec<(String, String)> = wanted
        .natives
        .iter()
        .filter(|(provider, _)| !scanned(provider))
        .cloned()
        .collect();
    let ids: Vec<String> = wanted
        .ids
        .iter()
        .filter(|id| !seen.contains(id.as_str()))
        .cloned()
        .collect();
    let named = store
        .credentials_named(&ids, &identity_ids, &natives)
        .await?;
    for c in named {
        if seen.insert(c.id.to_string()) {
            credentials.push(c);
        }
    }
    let inputs = ResidualInputs {
        window,
        scope: &scope,
        now,
        identities: &identities,
        credentials: &credentials,
        locations: &locations,
        hits: &hits,
        normalise: &normalise_path,
    };
    let found = find_residual(&inputs);
    // Counts decide the tiers; where the use came from is read only for what will be killed
    // or rotated.
    let totals = store.credential_usage_totals(&found.usage_keys()).await?;
    let mut artifacts = found.tier(&totals, &policy);
    let acted_on: std::collections::BTreeSet<(String, String)> = artifacts
        .iter()
        .filter(|a| a.tier.tier != Tier::Validate)
        .filter_map(|a| a.usage_key.clone())
        .collect();
    let detail = store.credential_usage(&acted_on).await?;
    add_usage_detail(&mut artifacts, &detail);
    Ok((policy, artifacts))
}

async fn residual(
    ctx: &Context,
    name: &str,
    policy_file: Option<&std::path::Path>,
) -> anyhow::Result<Outcome> {
    let store = ctx.open_store().await?;
    let computed = compute_residual(ctx.now, &store, name, policy_file).await;
    store.close().await;
    let (policy, artifacts) = computed?;
    let count = |tier: Tier| artifacts.iter().filter(|a| a.tier.tier == tier).count();
    match ctx.format {
        Format::Json => {
            // Serialised straight from the artifacts: a copy as a JSON value would double
            // the memory of a large incident.
            #[derive(serde::Serialize)]
            struct Answer<'a> {
                incident: &'a str,
                policy: serde_json::Value,
                counts: serde_json::Value,
                artifacts: &'a [ResidualArtifact],
            }
            output::json(&Answer {
                incident: name,
                policy: serde_json::json!({ "origin": policy.origin(), "digest": policy.digest() }),
                counts: serde_json::json!({
                    "kill": count(Tier::Kill),
                    "rotate": count(Tier::Rotate),
                    "validate": count(Tier::Validate),
                }),
                artifacts: &artifacts,
            })?;
        }
        _ => {
            if artifacts.is_empty() {
                output::line(&format!(
                    "incident '{name}': no residual access found from the scope, scans and hunts in the store"
                ));
            } else {
                let mut table = output::table(&[
                    "tier",
                    "provider",
                    "kind",
                    "artifact",
                    "reasons",
                    "evidence",
                    "recent use",
                ]);
                for a in &artifacts {
                    let reasons: Vec<&str> = a.reasons.iter().map(|r| r.reason.as_str()).collect();
                    let evidence: usize = a.reasons.iter().map(|r| r.evidence.len()).sum();
                    table.add_row(vec![
                        a.tier.tier.to_string(),
                        a.provider.clone(),
                        a.kind.to_string(),
                        a.label.clone(),
                        reasons.join(", "),
                        evidence.to_string(),
                        a.disruption.recent_uses.to_string(),
                    ]);
                }
                output::print_table(&table);
                output::line(&format!(
                    "{} artifacts: {} kill, {} rotate, {} validate (policy: {}); --format json has every reason's evidence",
                    artifacts.len(),
                    count(Tier::Kill),
                    count(Tier::Rotate),
                    count(Tier::Validate),
                    policy.origin()
                ));
            }
        }
    }
    Ok(Outcome::Ok)
}

fn print_incident(stored: &StoredIncident) {
    let i = &stored.incident;
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_string()
        } else {
            items.join(", ")
        }
    };
    output::line(&format!("incident     {}", i.name));
    output::line(&format!("status       {}", i.status));
    output::line(&format!(
        "window       {} … {}",
        i.compromised_at,
        i.patched_at
            .map_or_else(|| "not patched".to_string(), |t| t.to_string())
    ));
    output::line(&format!("scope        {}", list(&i.scope)));
    output::line(&format!("indicator IPs {}", list(&i.ioc_ips)));
    output::line(&format!("indicator UAs {}", list(&i.ioc_user_agents)));
    output::line(&format!(
        "opened       {} (journal entry {}, last change {})",
        stored.opened_at, stored.first_journal, stored.last_journal
    ));
}

async fn plan(
    ctx: &Context,
    name: &str,
    policy_file: Option<&std::path::Path>,
) -> anyhow::Result<Outcome> {
    let store = ctx.open_store().await?;
    let result = async {
        let (policy, artifacts) = compute_residual(ctx.now, &store, name, policy_file).await?;
        let plan = build_plan(name, &artifacts, &policy, ctx.now);
        let (version, new) = store
            .store_plan(
                name,
                serde_json::to_string(&plan)?,
                &plan.policy_digest,
                &plan.content_digest(),
                ctx.now,
            )
            .await?;
        Ok::<_, anyhow::Error>((plan, version, new))
    }
    .await;
    store.close().await;
    let (plan, version, new) = result?;
    let note = if new {
        format!("stored as version {version}")
    } else {
        format!("unchanged since version {version}")
    };
    match ctx.format {
        Format::Json => {
            #[derive(serde::Serialize)]
            struct Answer<'a> {
                version: i64,
                new_version: bool,
                plan: &'a Plan,
            }
            output::json(&Answer {
                version,
                new_version: new,
                plan: &plan,
            })?;
        }
        Format::Md => output::line(&plan_markdown(&plan, version)),
        Format::Html => output::line(&plan_html(&plan, version)),
        Format::Table | Format::Sarif => {
            if plan.steps.is_empty() {
                output::line(&format!("incident '{name}': nothing to do ({note})"));
                return Ok(Outcome::Ok);
            }
            let mut table = output::table(&[
                "#", "phase", "tier", "action", "artifact", "owner", "breaks", "after",
            ]);
            for s in &plan.steps {
                table.add_row(vec![
                    s.order.to_string(),
                    format!("{:?}", s.phase),
                    s.tier.to_string(),
                    s.action.to_string(),
                    format!("{} ({}, {})", s.label, s.provider, s.artifact),
                    s.owner.clone().unwrap_or_else(|| "-".into()),
                    s.disruption.clone(),
                    s.after
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                ]);
            }
            output::print_table(&table);
            output::line(&format!(
                "plan of '{name}': {} steps ({note}); --format json|md|html has each step's proof and reason",
                plan.steps.len()
            ));
        }
    }
    Ok(Outcome::Ok)
}

fn plan_markdown(plan: &Plan, version: i64) -> String {
    let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
    let mut out = format!(
        "# Containment plan: {}\n\nVersion {version}, made {}, tier policy {} (digest `{}`).\n",
        plan.incident,
        plan.made_at,
        plan.policy_origin,
        &plan.policy_digest[..16.min(plan.policy_digest.len())]
    );
    let mut phase = None;
    for s in &plan.steps {
        if phase != Some(s.phase) {
            phase = Some(s.phase);
            out.push_str(&format!(
                "\n## {:?}\n\n{}.\n\n| # | tier | action | artifact | owner | breaks | proof | why |\n|---|---|---|---|---|---|---|---|\n",
                s.phase,
                s.phase.explain()
            ));
        }
        out.push_str(&format!(
            "| {} | {} | {}{} | {} ({}, `{}`) | {} | {} | {} | {} |\n",
            s.order,
            s.tier,
            s.action,
            if s.after.is_empty() {
                String::new()
            } else {
                format!(" after {:?}", s.after)
            },
            cell(&s.label),
            s.provider,
            s.artifact,
            cell(s.owner.as_deref().unwrap_or("-")),
            cell(&s.disruption),
            cell(&s.proof),
            cell(&s.why)
        ));
    }
    out
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn plan_html(plan: &Plan, version: i64) -> String {
    let mut rows = String::new();
    for s in &plan.steps {
        rows.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}<br><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            s.tier,
            s.order,
            s.phase,
            s.tier,
            html_escape(&s.action.to_string()),
            html_escape(&s.label),
            html_escape(&s.artifact),
            html_escape(s.owner.as_deref().unwrap_or("-")),
            html_escape(&s.disruption),
            html_escape(&s.proof),
            html_escape(&s.why),
        ));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Containment plan: {name}</title>\n<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .5em;vertical-align:top}}tr.kill td:nth-child(3){{color:#b00;font-weight:bold}}tr.rotate td:nth-child(3){{color:#a60}}</style></head>\n<body><h1>Containment plan: {name}</h1><p>Version {version}, made {made}, tier policy {origin} (digest <code>{digest}</code>).</p>\n<table><thead><tr><th>#</th><th>phase</th><th>tier</th><th>action</th><th>artifact</th><th>owner</th><th>breaks</th><th>proof</th><th>why</th></tr></thead><tbody>\n{rows}</tbody></table></body></html>",
        name = html_escape(&plan.incident),
        made = plan.made_at,
        origin = html_escape(&plan.policy_origin),
        digest = html_escape(&plan.policy_digest),
    )
}

/// The latest plan, or an error saying to make one.
pub(crate) async fn latest_plan(store: &Store, name: &str) -> anyhow::Result<(i64, Plan)> {
    if store.incident(name).await?.is_none() {
        return Err(IncidentError::NotFound(name.to_string()).into());
    }
    let Some(stored) = store.latest_plan(name).await? else {
        bail!("incident '{name}' has no plan yet; make one with `evict incident plan {name}`");
    };
    let plan: Plan = serde_json::from_value(stored.plan)
        .with_context(|| format!("stored plan version {} of '{name}'", stored.version))?;
    Ok((stored.version, plan))
}

fn check_artifact(plan: &Plan, name: &str, artifact: &str) -> anyhow::Result<()> {
    if !plan.steps.iter().any(|s| s.artifact == artifact) {
        bail!(
            "'{artifact}' is not an artifact of the latest plan of '{name}'; `evict incident plan {name}` lists them (the key after the label)"
        );
    }
    Ok(())
}

async fn attest(
    ctx: &Context,
    name: &str,
    artifact: &str,
    by: &str,
    note: &str,
) -> anyhow::Result<Outcome> {
    if by.trim().is_empty() || note.trim().is_empty() {
        bail!("--by and --note must say who attests and what was done");
    }
    let store = ctx.open_store().await?;
    let result = async {
        let (_, plan) = latest_plan(&store, name).await?;
        check_artifact(&plan, name, artifact)?;
        let evidence = StoredEvidence {
            artifact: artifact.to_string(),
            verdict: EvidenceVerdict::Attested,
            by: by.trim().to_string(),
            detail: note.trim().to_string(),
            at: ctx.now,
            journal: 0,
        };
        Ok::<_, anyhow::Error>(store.record_evidence(name, &evidence, ctx.now).await?)
    }
    .await;
    store.close().await;
    let seq = result?;
    match ctx.format {
        Format::Json => output::json(
            &serde_json::json!({ "artifact": artifact, "verdict": "attested", "journal": seq }),
        )?,
        _ => output::line(&format!(
            "attested {artifact} for '{name}' by {by} (journal entry {seq}); attested is not verified"
        )),
    }
    Ok(Outcome::Ok)
}

#[allow(clippy::too_many_arguments)]
async fn except(
    ctx: &Context,
    name: &str,
    artifact: &str,
    owner: &str,
    approver: &str,
    reason: &str,
    expires: &str,
) -> anyhow::Result<Outcome> {
    let expires_at = parse_time("--expires", expires)?;
    if expires_at <= ctx.now {
        bail!(
            "--expires {expires_at} is not in the future; an exception must end later than now ({})",
            ctx.now
        );
    }
    if owner.trim().is_empty() || approver.trim().is_empty() || reason.trim().is_empty() {
        bail!("--owner, --approver and --reason must all be given");
    }
    if owner.trim().eq_ignore_ascii_case(approver.trim()) {
        bail!("the approver must not be the owner ({owner}): an exception needs a second person");
    }
    let store = ctx.open_store().await?;
    let result = async {
        let (_, plan) = latest_plan(&store, name).await?;
        check_artifact(&plan, name, artifact)?;
        let exception = StoredException {
            artifact: artifact.to_string(),
            owner: owner.trim().to_string(),
            approver: approver.trim().to_string(),
            reason: reason.trim().to_string(),
            expires_at,
            at: ctx.now,
            journal: 0,
        };
        Ok::<_, anyhow::Error>(store.record_exception(name, &exception, ctx.now).await?)
    }
    .await;
    store.close().await;
    let seq = result?;
    match ctx.format {
        Format::Json => output::json(
            &serde_json::json!({ "artifact": artifact, "expires_at": expires_at, "journal": seq }),
        )?,
        _ => output::line(&format!(
            "exception for {artifact} in '{name}' until {expires_at}, owner {owner}, approved by {approver} (journal entry {seq})"
        )),
    }
    Ok(Outcome::Ok)
}

async fn close(ctx: &Context, name: &str, allow_attested: bool) -> anyhow::Result<Outcome> {
    let store = ctx.open_store().await?;
    let result = async {
        let Some(current) = store.incident(name).await? else {
            return Err(IncidentError::NotFound(name.to_string()).into());
        };
        if current.incident.status == IncidentStatus::Closed {
            return Err(IncidentError::Closed(name.to_string()).into());
        }
        let (version, plan) = latest_plan(&store, name).await?;
        let gate = judge(&store, name, &plan, version, allow_attested, ctx.now).await?;
        let closed = if gate.may_close {
            let body = serde_json::json!({
                "plan_version": version,
                "allow_attested": allow_attested,
                "artifacts": gate.lines.len(),
            });
            Some(store.close_incident(name, &body, ctx.now).await?)
        } else {
            None
        };
        Ok::<_, anyhow::Error>((gate, closed))
    }
    .await;
    store.close().await;
    let (gate, closed) = result?;
    let missing: Vec<&GateLine> = gate
        .lines
        .iter()
        .filter(|l| matches!(l.standing, Standing::Missing { .. }))
        .collect();
    match ctx.format {
        Format::Json => {
            output::json(&serde_json::json!({ "closed": closed.is_some(), "gate": gate }))?
        }
        _ => {
            if closed.is_some() {
                output::line(&format!(
                    "incident '{name}' closed: all {} artifacts of plan version {} are verified, attested where allowed, or excepted",
                    gate.lines.len(),
                    gate.plan_version
                ));
            } else {
                output::line(&format!(
                    "incident '{name}' NOT closed: {} of {} artifacts of plan version {} lack evidence:",
                    missing.len(),
                    gate.lines.len(),
                    gate.plan_version
                ));
                for l in &missing {
                    if let Standing::Missing { what } = &l.standing {
                        output::line(&format!(
                            "  {} {} ({}; {}): {what}",
                            l.tier, l.artifact, l.label, l.action
                        ));
                    }
                }
            }
        }
    }
    Ok(if closed.is_some() {
        Outcome::Ok
    } else {
        Outcome::Attention
    })
}

/// A report written to disk.
pub(crate) struct WrittenReport {
    pub path: std::path::PathBuf,
    pub signed_with: Option<String>,
    pub sha256: String,
}

async fn report(
    ctx: &Context,
    name: &str,
    out: Option<&std::path::Path>,
    policy_file: Option<&std::path::Path>,
) -> anyhow::Result<Outcome> {
    let extension = match ctx.format {
        Format::Md => "md",
        Format::Json => "json",
        _ => "html",
    };
    let home = &ctx.home;
    let store = ctx.open_store().await?;
    let result = write_report(ctx.now, &store, home, name, out, policy_file, extension).await;
    store.close().await;
    let written = result?;
    output::line(&format!("report written to {}", written.path.display()));
    match written.signed_with {
        Some(key) => output::line(&format!(
            "  signed with {key}; check it with `evict report verify {}`",
            written.path.display()
        )),
        None => output::line(
            "  not signed: run `evict keys init` once to sign reports with this installation's key",
        ),
    }
    output::note(ctx.quiet, &format!("  sha256 {}", written.sha256));
    Ok(Outcome::Ok)
}

/// Renders the incident's report (`html`, `md` or `json`), signs it when the installation has
/// a key, writes it and journals its digest.
pub(crate) async fn write_report(
    now: jiff::Timestamp,
    store: &Store,
    home: &evict_store::EvictHome,
    name: &str,
    out: Option<&std::path::Path>,
    policy_file: Option<&std::path::Path>,
    extension: &str,
) -> anyhow::Result<WrittenReport> {
    let style = match extension {
        "md" => SignatureStyle::Markdown,
        "json" => SignatureStyle::Detached,
        _ => SignatureStyle::Html,
    };
    // Load the key first: a damaged key must stop the report, not produce an unsigned one.
    let signer = match signing::load_signing_key(home.dir()) {
        Ok(signer) => Some(signer),
        Err(signing::SigningError::KeyMissing { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    {
        let Some(stored) = store.incident(name).await? else {
            return Err(IncidentError::NotFound(name.to_string()).into());
        };
        let (_, artifacts) = compute_residual(now, store, name, policy_file).await?;
        let plan = match store.latest_plan(name).await? {
            Some(p) => Some((p.version, serde_json::from_value::<Plan>(p.plan)?)),
            None => None,
        };
        let evidence = store.evidence_of(name).await?;
        let exceptions = store.exceptions_of(name).await?;
        // A closed incident passed the gate; judged again with attestations allowed, every
        // line still says whether it was verified or only attested.
        let closed = stored.incident.status == IncidentStatus::Closed;
        let gate = match &plan {
            Some((version, plan)) => Some(judge(store, name, plan, *version, closed, now).await?),
            None => None,
        };
        let incident = &stored.incident;
        let patched_at = incident.patched_at.unwrap_or(now);
        let mut timeline = vec![TimelineEvent {
            at: stored.opened_at,
            kind: "opened".into(),
            label: format!("incident {name} opened"),
            detail: String::new(),
        }];
        let from = incident.compromised_at - jiff::SignedDuration::from_hours(24);
        for hit in store.hunt_hits().await? {
            if hit.time >= from {
                timeline.push(TimelineEvent {
                    at: hit.time,
                    kind: "hit".into(),
                    label: format!("{}: {}", hit.rule, hit.summary),
                    detail: hit.severity.to_string(),
                });
            }
        }
        for e in &evidence {
            timeline.push(TimelineEvent {
                at: e.at,
                kind: "evidence".into(),
                label: format!("{} by {}: {}", e.artifact, e.by, e.detail),
                detail: e.verdict.to_string(),
            });
        }
        for x in &exceptions {
            timeline.push(TimelineEvent {
                at: x.at,
                kind: "exception".into(),
                label: format!(
                    "{} excepted until {} ({})",
                    x.artifact, x.expires_at, x.reason
                ),
                detail: format!("owner {}, approver {}", x.owner, x.approver),
            });
        }
        if let Some((version, plan)) = &plan {
            timeline.push(TimelineEvent {
                at: plan.made_at,
                kind: "plan".into(),
                label: format!("plan version {version}: {} steps", plan.steps.len()),
                detail: String::new(),
            });
        }
        if let Some(closed) = stored.closed_at {
            timeline.push(TimelineEvent {
                at: closed,
                kind: "closed".into(),
                label: format!("incident {name} closed"),
                detail: String::new(),
            });
        }
        timeline.sort_by_key(|e| e.at);
        let mut latest_evidence: std::collections::BTreeMap<&str, &evict_store::StoredEvidence> =
            std::collections::BTreeMap::new();
        for e in &evidence {
            // Evidence is read in the order it was recorded: the last word stands.
            latest_evidence.insert(e.artifact.as_str(), e);
        }
        let mut actions: Vec<ReportAction> = store
            .actions_of(name)
            .await?
            .into_iter()
            .map(|a| ReportAction {
                evidence: latest_evidence
                    .get(a.artifact.as_str())
                    .map(|e| ReportEvidence {
                        verdict: e.verdict,
                        at: e.at,
                        by: e.by.clone(),
                    }),
                step: a.step,
                provider: a.provider,
                action: a.action,
                target: format!("{} {}", a.target_kind, a.native_id),
                artifact: a.artifact,
                state: a.state,
                attempts: a.attempts,
                result: a.result,
            })
            .collect();
        actions.sort_by(|x, y| (x.step, &x.target).cmp(&(y.step, &y.target)));
        let journal = store.journal_verify().await?;
        if let Some(broken) = &journal.broken {
            bail!(
                "the journal is broken at entry {} ({}); a report cannot vouch for it — run `evict journal verify`",
                broken.seq,
                broken.reason
            );
        }
        let data = ReportData {
            incident: incident.name.clone(),
            status: incident.status,
            compromised_at: incident.compromised_at,
            patched_at,
            scope: incident.scope.clone(),
            ioc_ips: incident.ioc_ips.clone(),
            ioc_user_agents: incident.ioc_user_agents.clone(),
            generated_at: now,
            artifacts,
            plan,
            gate,
            actions,
            exceptions: exceptions
                .iter()
                .map(|x| ReportException {
                    artifact: x.artifact.clone(),
                    owner: x.owner.clone(),
                    approver: x.approver.clone(),
                    reason: x.reason.clone(),
                    expires_at: x.expires_at,
                })
                .collect(),
            timeline,
            journal_head: journal.head.clone().unwrap_or_default(),
            journal_entries: journal.entries,
            evict_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let body = match extension {
            "md" => render_markdown(&data),
            "json" => render_json(&data),
            _ => render_html(&data),
        };
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => {
                let dir = home.dir().join("reports");
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("{}: cannot create", dir.display()))?;
                dir.join(format!(
                    "{name}-{}.{extension}",
                    now.strftime("%Y%m%dT%H%M%SZ")
                ))
            }
        };
        let mut signed_with = None;
        let bytes = match (&signer, style) {
            (Some(signer), SignatureStyle::Detached) => {
                let sig = sign_report(signer, body.as_bytes(), SignatureStyle::Detached);
                let sig_path = detached_signature_path(&path);
                std::fs::write(&sig_path, sig)
                    .with_context(|| format!("{}: cannot write", sig_path.display()))?;
                signed_with = Some(signer.fingerprint().to_string());
                body.into_bytes()
            }
            (Some(signer), style) => {
                signed_with = Some(signer.fingerprint().to_string());
                sign_report(signer, body.as_bytes(), style)
            }
            (None, _) => body.into_bytes(),
        };
        std::fs::write(&path, &bytes)
            .with_context(|| format!("{}: cannot write", path.display()))?;
        use sha2::Digest as _;
        let digest = hex::encode(sha2::Sha256::digest(&bytes));
        store
            .journal_append(
                now,
                "incident.report",
                name,
                &serde_json::json!({
                    "file": path.display().to_string(),
                    "sha256": digest,
                    "format": extension,
                    "signed_with": signed_with,
                    "journal_head": data.journal_head,
                }),
            )
            .await?;
        Ok(WrittenReport {
            path,
            signed_with,
            sha256: digest,
        })
    }
}

/// The closure gate on the incident's stored evidence and exceptions.
pub(crate) async fn judge(
    store: &Store,
    name: &str,
    plan: &Plan,
    version: i64,
    allow_attested: bool,
    now: jiff::Timestamp,
) -> anyhow::Result<GateReport> {
    let evidence: Vec<EvidenceFacts> = store
        .evidence_of(name)
        .await?
        .into_iter()
        .map(|e| EvidenceFacts {
            artifact: e.artifact,
            verdict: e.verdict,
            at: e.at,
        })
        .collect();
    let exceptions: Vec<ExceptionFacts> = store
        .exceptions_of(name)
        .await?
        .into_iter()
        .map(|x| ExceptionFacts {
            artifact: x.artifact,
            expires_at: x.expires_at,
        })
        .collect();
    // The deletions the executor makes after a verified disable (`after` "verified:KEY").
    let deletions: Vec<DeletionFacts> = store
        .actions_of(name)
        .await?
        .into_iter()
        .filter(|a| {
            a.action == evict_model::ActionKind::Delete
                && a.after.iter().any(|d| d.starts_with("verified:"))
        })
        .map(|a| DeletionFacts {
            pending: (a.state != evict_model::ActionState::Done).then(|| match &a.result {
                Some(result) => format!("{}: {result}", a.state),
                None => a.state.to_string(),
            }),
            artifact: a.artifact,
            at: a.updated_at,
        })
        .collect();
    Ok(closure_gate(
        plan,
        version,
        &evidence,
        &exceptions,
        &deletions,
        allow_attested,
        now,
    ))
}
