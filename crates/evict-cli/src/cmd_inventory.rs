//! `evict inventory …`

use anyhow::{Context as _, bail};
use evict_model::Provider;
use evict_store::{CredentialFilter, CredentialRow, IdentityFilter, InventoryStats, ShowResult};

use crate::args::{Format, InventoryCommand, ListArgs};
use crate::{Context, Outcome, output};

pub async fn run(ctx: &Context, cmd: InventoryCommand) -> anyhow::Result<Outcome> {
    let store = ctx.open_store().await?;
    let result = match cmd {
        InventoryCommand::List(args) => list(ctx, &store, args).await,
        InventoryCommand::Show { id } => show(ctx, &store, &id).await,
        InventoryCommand::Stats => stats(ctx, &store).await,
    };
    store.close().await;
    result
}

fn word<T: std::str::FromStr<Err = evict_model::UnknownValue>>(
    flag: &str,
    value: Option<&str>,
) -> anyhow::Result<Option<T>> {
    value
        .map(|v| v.parse::<T>().with_context(|| format!("--{flag}")))
        .transpose()
}

async fn list(
    ctx: &Context,
    store: &evict_store::Store,
    args: ListArgs,
) -> anyhow::Result<Outcome> {
    let provider = args
        .provider
        .as_deref()
        .map(Provider::new)
        .transpose()
        .context("--provider")?;
    let unused_days = args.unused_days.map(i64::from);
    let older_days = args.older_days.map(i64::from);
    // JSON is written as a stream of array items so a million rows never sit in memory.
    let json = ctx.format == Format::Json;
    if json {
        output::line("[");
    }
    let mut first = true;
    let mut emit_json = |value: serde_json::Value| {
        let text = serde_json::to_string(&value).unwrap_or_default();
        output::line(&format!("{}{text}", if first { "" } else { "," }));
        first = false;
    };
    let count = if args.identities {
        if args.persistent {
            bail!("--persistent applies to credentials, not identities");
        }
        let filter = IdentityFilter {
            provider,
            kind: word("kind", args.kind.as_deref())?,
            owner: args.owner,
            status: word("status", args.status.as_deref())?,
            unused_days,
            older_days,
        };
        let mut table = output::table(&[
            "id",
            "provider",
            "kind",
            "name",
            "owner",
            "status",
            "privilege",
            "mfa",
            "created",
            "last used",
        ]);
        let n = store
            .for_each_identity(&filter, ctx.now, args.limit, |i| {
                if json {
                    emit_json(serde_json::to_value(&i).unwrap_or_default());
                } else {
                    table.add_row(vec![
                        i.id.to_string(),
                        i.provider.to_string(),
                        i.kind.to_string(),
                        i.name.clone(),
                        output::opt(i.owner.as_deref()),
                        i.status.to_string(),
                        i.privilege.to_string(),
                        i.mfa
                            .map_or("-".into(), |m| if m { "yes".into() } else { "no".into() }),
                        output::date(i.created_at),
                        output::date(i.last_used_at),
                    ]);
                }
            })
            .await?;
        if !json {
            output::print_table(&table);
        }
        n
    } else {
        let filter = CredentialFilter {
            provider,
            kind: word("kind", args.kind.as_deref())?,
            owner: args.owner,
            status: word("status", args.status.as_deref())?,
            persistent: args.persistent,
            unused_days,
            older_days,
            identity: None,
        };
        let mut table = credential_table();
        let n = store
            .for_each_credential(&filter, ctx.now, args.limit, |c| {
                if json {
                    emit_json(serde_json::to_value(&c).unwrap_or_default());
                } else {
                    add_credential_row(&mut table, &c);
                }
            })
            .await?;
        if !json {
            output::print_table(&table);
        }
        n
    };
    if json {
        output::line("]");
    } else {
        output::note(
            ctx.quiet,
            &format!(
                "{count} {}",
                if args.identities {
                    "identities"
                } else {
                    "credentials"
                }
            ),
        );
    }
    Ok(Outcome::Ok)
}

fn credential_table() -> comfy_table::Table {
    output::table(&[
        "id",
        "provider",
        "kind",
        "identity",
        "owner",
        "status",
        "issued",
        "expires",
        "last used",
        "key",
    ])
}

fn add_credential_row(table: &mut comfy_table::Table, row: &CredentialRow) {
    let c = &row.credential;
    table.add_row(vec![
        c.id.to_string(),
        c.provider.to_string(),
        c.kind.to_string(),
        output::opt(row.identity_name.as_deref()),
        output::opt(row.owner.as_deref()),
        c.status.to_string(),
        output::date(c.issued_at),
        c.expires_at
            .map_or_else(|| "persistent".into(), |e| output::date(Some(e))),
        output::date(c.last_used_at),
        c.native_id.clone().unwrap_or_else(|| {
            c.external_key
                .rsplit('#')
                .next()
                .unwrap_or_default()
                .to_string()
        }),
    ]);
}

async fn show(ctx: &Context, store: &evict_store::Store, id: &str) -> anyhow::Result<Outcome> {
    let Some(found) = store.show(id).await? else {
        bail!(
            "nothing in the store has id '{id}' (use an id from `evict inventory list`, or PROVIDER:EXTERNAL_ID)"
        );
    };
    let usage = usage_of(store, &found).await?;
    if ctx.format == Format::Json {
        let mut value = serde_json::to_value(&found)?;
        if let Some(map) = value.as_object_mut()
            && !usage.is_empty()
        {
            map.insert("usage".into(), serde_json::to_value(&usage)?);
        }
        output::json(&value)?;
        return Ok(Outcome::Ok);
    }
    let (identity, credentials) = match found {
        ShowResult::Identity {
            identity,
            credentials,
        } => (Some(identity), credentials),
        ShowResult::Credential {
            credential,
            identity,
        } => (identity, vec![*credential]),
    };
    if let Some(i) = identity {
        let mut table = output::table(&["identity", ""]);
        for (k, v) in [
            ("id", i.id.to_string()),
            ("provider", i.provider.to_string()),
            ("external id", i.external_id.clone()),
            ("name", i.name.clone()),
            ("kind", i.kind.to_string()),
            ("owner", output::opt(i.owner.as_deref())),
            ("status", i.status.to_string()),
            ("privilege", i.privilege.to_string()),
            (
                "mfa",
                i.mfa.map_or(
                    "unknown".into(),
                    |m| if m { "on".into() } else { "off".into() },
                ),
            ),
            ("created", output::date(i.created_at)),
            ("last used", output::date(i.last_used_at)),
        ] {
            table.add_row(vec![k.to_string(), v]);
        }
        output::print_table(&table);
    }
    let mut table = credential_table();
    for c in &credentials {
        add_credential_row(&mut table, c);
    }
    output::print_table(&table);
    if !usage.is_empty() {
        output::line("Usage seen in hunted audit logs (what a revocation would break):");
        let mut table = output::table(&[
            "subject",
            "events",
            "failed",
            "first seen",
            "last seen",
            "top sources",
            "top actions",
        ]);
        for u in &usage {
            table.add_row(vec![
                format!("{} {}", u.subject, u.id),
                u.usage.events.to_string(),
                u.usage.failures.to_string(),
                output::date(u.usage.first_seen),
                output::date(u.usage.last_seen),
                top(&u.usage.sources),
                top(&u.usage.actions),
            ]);
        }
        output::print_table(&table);
    }
    Ok(Outcome::Ok)
}

/// One subject's usage across every hunted log set.
#[derive(serde::Serialize)]
struct ShownUsage {
    subject: &'static str,
    id: String,
    #[serde(flatten)]
    usage: evict_model::Usage,
}

/// Usage of the identity and credentials `found` names, from stored hunts.
async fn usage_of(
    store: &evict_store::Store,
    found: &ShowResult,
) -> anyhow::Result<Vec<ShownUsage>> {
    let mut subjects: Vec<(&'static str, String, String)> = Vec::new();
    let (identity, credentials): (Option<&evict_model::Identity>, Vec<&CredentialRow>) = match found
    {
        ShowResult::Identity {
            identity,
            credentials,
        } => (Some(identity), credentials.iter().collect()),
        ShowResult::Credential {
            credential,
            identity,
        } => (identity.as_ref(), vec![credential.as_ref()]),
    };
    if let Some(i) = identity {
        subjects.push((
            "identity",
            i.provider.as_str().to_string(),
            i.external_id.clone(),
        ));
    }
    for c in credentials {
        if let Some(native) = &c.credential.native_id {
            subjects.push((
                "credential",
                c.credential.provider.as_str().to_string(),
                native.clone(),
            ));
        }
    }
    let mut shown = Vec::new();
    for (subject, provider, id) in subjects {
        if let Some(usage) = store.usage_of(&provider, subject, &id).await? {
            shown.push(ShownUsage { subject, id, usage });
        }
    }
    Ok(shown)
}

/// The three most frequent values with their counts.
fn top(counts: &std::collections::BTreeMap<String, u64>) -> String {
    let mut pairs: Vec<(&String, &u64)> = counts.iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut shown: Vec<String> = pairs
        .iter()
        .take(3)
        .map(|(value, n)| format!("{value} ×{n}"))
        .collect();
    if pairs.len() > 3 {
        shown.push(format!("+{} more", pairs.len() - 3));
    }
    shown.join(", ")
}

async fn stats(ctx: &Context, store: &evict_store::Store) -> anyhow::Result<Outcome> {
    let stats = store.inventory_stats(ctx.now).await?;
    match ctx.format {
        Format::Json => output::json(&stats)?,
        Format::Table | Format::Sarif | Format::Md | Format::Html => print_stats(&stats),
    }
    Ok(Outcome::Ok)
}

/// The stats tables; the demo prints them too.
pub fn print_stats(stats: &InventoryStats) {
    let mut figures = output::table(&["figure", "count"]);
    for (name, value) in [
        ("identities", stats.identities),
        ("credentials", stats.credentials),
        ("active access keys", stats.active_access_keys),
        (
            "active access keys unused > 90 days",
            stats.access_keys_unused_90d,
        ),
        (
            "active access keys older than 365 days",
            stats.access_keys_older_365d,
        ),
        (
            "password users without MFA",
            stats.password_users_without_mfa,
        ),
        (
            "active credentials with no expiry (persistent)",
            stats.persistent_credentials,
        ),
        (
            "active credentials with no owner",
            stats.unowned_credentials,
        ),
    ] {
        figures.add_row(vec![name.to_string(), value.to_string()]);
    }
    output::print_table(&figures);
    let mut kinds = output::table(&["record", "kind", "count"]);
    for (kind, n) in &stats.identities_by_kind {
        kinds.add_row(vec!["identity".to_string(), kind.clone(), n.to_string()]);
    }
    for (kind, n) in &stats.credentials_by_kind {
        kinds.add_row(vec!["credential".to_string(), kind.clone(), n.to_string()]);
    }
    output::print_table(&kinds);
}
