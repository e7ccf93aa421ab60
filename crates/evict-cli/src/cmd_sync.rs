//! `evict sync PROVIDER`: the inventory refreshed from a live provider through its connector.

use anyhow::{Context as _, anyhow, bail};
use evict_connectors::{Connector, Provider};
use evict_model::CredentialKind;
use evict_store::InventoryBatch;

use crate::args::{Format, SyncArgs};
use crate::{Context, Outcome, output};

pub async fn run(ctx: &Context, args: SyncArgs) -> anyhow::Result<Outcome> {
    let name = args.provider.name();
    if let Some(why) = args.provider.nothing_to_sync() {
        bail!("evict sync {name}: {why}");
    }
    let (path, config) = crate::cmd_contain::required_connectors_config(ctx, args.config)?;
    let connector = Connector::from_config(&config, name)
        .await
        .with_context(|| format!("connecting to {name} as {} configures it", path.display()))?
        .ok_or_else(|| {
            anyhow!(
                "{}: no [{name}] table; add one (docs/specs/connector.md shows its settings)",
                path.display()
            )
        })?;
    let found = connector.discover().await;
    connector.close().await;
    let provider = connector.name();
    let found = found.with_context(|| format!("reading what {provider} holds"))?;
    // Live sessions are counted, not stored: the store cannot yet retire a session once it
    // ends, and an inventory of stale sessions would mislead.
    let sessions = found
        .credentials
        .iter()
        .filter(|c| c.kind == CredentialKind::Session)
        .count();
    let mut batch = InventoryBatch {
        source: format!("sync:{provider}"),
        file: format!("{provider} (live)"),
        ..Default::default()
    };
    let mut line = 0;
    for identity in found.identities {
        line += 1;
        batch.identities.push((line, identity));
    }
    for credential in found.credentials {
        if credential.kind != CredentialKind::Session {
            line += 1;
            batch.credentials.push((line, credential));
        }
    }
    let (identities, credentials) = (batch.identities.len(), batch.credentials.len());
    let store = ctx.open_store().await?;
    let outcome = store.upsert_inventory(batch, ctx.now).await;
    store.close().await;
    let outcome = outcome.with_context(|| format!("storing what {provider} returned"))?;
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({
            "provider": provider,
            "identities": identities,
            "credentials": credentials,
            "live_sessions": sessions,
            "inserted": outcome.inserted,
            "updated": outcome.updated,
            "unchanged": outcome.unchanged,
            "rejected": outcome.rejected.len(),
            "journal_entries": outcome.journal_entries,
        }))?,
        _ => output::line(&format!(
            "{provider}: {identities} identities, {credentials} credentials ({} new, {} changed, \
             {} unchanged, {} rejected); {sessions} live sessions seen, not stored",
            outcome.inserted,
            outcome.updated,
            outcome.unchanged,
            outcome.rejected.len()
        )),
    }
    Ok(Outcome::Ok)
}
