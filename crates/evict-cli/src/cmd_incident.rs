//! `evict incident …`: open an incident, change its scope, list and show incidents.

use anyhow::{Context as _, bail};
use evict_incident::policy::Policy;
use evict_incident::residual::{HitFacts, LocationFacts, ResidualInputs, residual_access};
use evict_incident::scope::{ScopeKind, ScopeRef, Window, location_in_scope};
use evict_logs::hunt::IpNet;
use evict_model::{Incident, IncidentStatus, Tier};
use evict_store::{IncidentError, ShowResult, Store, StoredIncident};

use crate::args::{Format, IncidentCommand, IncidentOpenArgs, IncidentScopeArgs};
use crate::cmd_hunt::parse_time;
use crate::{Context, Outcome, output};

pub async fn run(ctx: &Context, cmd: IncidentCommand) -> anyhow::Result<Outcome> {
    match cmd {
        IncidentCommand::Open(args) => open(ctx, args).await,
        IncidentCommand::Scope(args) => scope(ctx, args).await,
        IncidentCommand::Residual { name, policy } => residual(ctx, &name, policy.as_deref()).await,
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
    let store = crate::open_store().await?;
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
    let store = crate::open_store().await?;
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
    let store = crate::open_store().await?;
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
    let store = crate::open_store().await?;
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

/// The provider a log source speaks for.
fn provider_of(source_kind: &str) -> String {
    match source_kind {
        "cloudtrail" => "aws".into(),
        other => other.into(),
    }
}

async fn residual(
    ctx: &Context,
    name: &str,
    policy_file: Option<&std::path::Path>,
) -> anyhow::Result<Outcome> {
    let policy = match policy_file {
        Some(path) => Policy::from_file(path)?,
        None => Policy::default_policy(),
    };
    let store = crate::open_store().await?;
    let loaded = async {
        let Some(stored) = store.incident(name).await? else {
            return Err(IncidentError::NotFound(name.to_string()).into());
        };
        let mut identities = Vec::new();
        store
            .for_each_identity(&Default::default(), ctx.now, None, |i| identities.push(i))
            .await?;
        let mut credentials = Vec::new();
        store
            .for_each_credential(&Default::default(), ctx.now, None, |c| {
                credentials.push(c.credential)
            })
            .await?;
        let locations = store.secret_locations().await?;
        let hits = store.hunt_hits().await?;
        let usage = store.credential_usage().await?;
        Ok::<_, anyhow::Error>((stored, identities, credentials, locations, hits, usage))
    }
    .await;
    store.close().await;
    let (stored, identities, credentials, locations, hits, usage) = loaded?;
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
    let locations: Vec<LocationFacts> = locations
        .into_iter()
        .map(|l| LocationFacts {
            credential_id: l.credential_id,
            location: l.location,
        })
        .collect();
    let hits: Vec<HitFacts> = hits
        .into_iter()
        .map(|h| HitFacts {
            provider: provider_of(&h.source_kind),
            pointer: format!("{}@{}", h.raw.file, h.raw.offset),
            rule: h.rule,
            techniques: h.techniques,
            at: h.time,
            action: h.action,
            actor: h.actor,
            credential: h.credential,
            target: h.target,
            summary: h.summary,
        })
        .collect();
    let inputs = ResidualInputs {
        window,
        scope: &scope,
        now: ctx.now,
        identities: &identities,
        credentials: &credentials,
        locations: &locations,
        hits: &hits,
        usage: &usage,
        normalise: &normalise_path,
    };
    let artifacts = residual_access(&inputs, &policy);
    let count = |tier: Tier| artifacts.iter().filter(|a| a.tier.tier == tier).count();
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({
            "incident": incident.name,
            "policy": { "origin": policy.origin(), "digest": policy.digest() },
            "counts": {
                "kill": count(Tier::Kill),
                "rotate": count(Tier::Rotate),
                "validate": count(Tier::Validate),
            },
            "artifacts": artifacts,
        }))?,
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
