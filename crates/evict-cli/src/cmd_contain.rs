//! `evict incident contain` and `evict incident verify`: the plan carried out through the
//! connectors, one durable action at a time, and each action's effect proven by the
//! connector's own probe.
//!
//! Every action is a row in the store before anything is sent (planned → in flight → done,
//! failed or needs manual), keyed by an idempotency key derived from what it does, and every
//! move is a journal entry carrying the digest of the request and of the answer. A run killed
//! at any moment is resumed by running the command again: an action left in flight by a
//! process that no longer exists is sent again — connectors declare their acts idempotent, so
//! the provider ends in the same state — and nothing done is sent twice.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use evict_connectors::limit::Bucket;
use evict_connectors::{
    Connector, ConnectorError, ConnectorsConfig, Limits, PastAct, Provider, Target,
};
use evict_connectors::{TargetKind, connector};
use evict_incident::plan::{Plan, PlanStep};
use evict_model::{ActionKind, ActionState, CredentialKind, EvidenceVerdict, Tier};
use evict_store::{ActionOutcome, NewAction, ShowResult, Store, StoredAction, StoredEvidence};
use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::args::{ContainTier, Format};
use crate::handed::HandedSecrets;
use crate::{Context, Outcome, output};

/// Actions a worker claims, and records the end of, in one store transaction: each commit is
/// a disk flush on PostgreSQL, and one per action would cap a run below what providers take.
/// A worker killed mid-batch leaves at most this many actions to send again.
const CLAIM_BATCH: usize = 4;
/// Attempts before a retryable failure counts as failed.
const MAX_ATTEMPTS: i64 = 5;
/// An in-flight action held by a process on another machine is taken over after this long.
const FOREIGN_LEASE: Duration = Duration::from_secs(600);
/// How the request of an action no connector can do begins; the rest says why.
const BY_HAND: &str = "by hand: ";
/// How an action names a token the OAuth connector is handed by fingerprint
/// (`secret:<fingerprint>`, the external key a scan gives a secret it cannot name otherwise).
const HANDED_TOKEN: &str = "secret:";

/// The connector configuration: `--config FILE` (which must exist), else
/// `$EVICT_HOME/connectors.toml` when there is one; `None` when neither is given.
pub(crate) fn connectors_config(
    ctx: &Context,
    given: Option<PathBuf>,
) -> anyhow::Result<Option<(PathBuf, ConnectorsConfig)>> {
    let explicit = given.is_some();
    let path = given.unwrap_or_else(|| ctx.home.dir().join("connectors.toml"));
    if !path.exists() {
        if explicit {
            bail!("{}: no such connector configuration", path.display());
        }
        return Ok(None);
    }
    let config = ConnectorsConfig::from_file(&path)?;
    Ok(Some((path, config)))
}

/// The connector configuration, for a command that cannot work without one.
pub(crate) fn required_connectors_config(
    ctx: &Context,
    given: Option<PathBuf>,
) -> anyhow::Result<(PathBuf, ConnectorsConfig)> {
    let default = ctx.home.dir().join("connectors.toml");
    connectors_config(ctx, given)?.ok_or_else(|| {
        anyhow!(
            "{}: no connector configuration; write one (docs/specs/connector.md shows the \
             format) or pass --config FILE",
            default.display()
        )
    })
}

/// One action the plan asks for, resolved to a provider's target (or the reason it cannot be).
#[derive(Debug, Clone, Serialize)]
struct Intended {
    key: String,
    step: i64,
    tier: Tier,
    artifact: String,
    label: String,
    provider: String,
    target_kind: String,
    native_id: String,
    /// What the plan asked.
    planned: ActionKind,
    /// What the connector will do (differs when the provider has another word for it).
    action: ActionKind,
    after: Vec<String>,
    request: String,
    /// Why no connector can do it.
    #[serde(skip_serializing_if = "Option::is_none")]
    manual: Option<String>,
}

fn action_key(provider: &str, kind: &str, native_id: &str, action: ActionKind) -> String {
    let d = evict_store::digest(&format!("{provider}\n{kind}\n{native_id}\n{action}"));
    format!("a_{}", &d[..24])
}

/// What a connector calls the plan's action on this kind of target: the same word, or the
/// provider's way of doing it (a password cannot be set aside, only removed — PostgreSQL
/// revokes it, IAM deletes the login profile; a session is revoked by ending it).
fn connector_action(
    semantics: &evict_connectors::Semantics,
    kind: TargetKind,
    planned: ActionKind,
) -> Option<ActionKind> {
    if semantics.supports(kind, planned) {
        return Some(planned);
    }
    let alternatives: &[ActionKind] = match (kind, planned) {
        (TargetKind::Credential(CredentialKind::Session), ActionKind::Revoke) => {
            &[ActionKind::TerminateSessions]
        }
        (TargetKind::Credential(CredentialKind::Password), ActionKind::Disable) => {
            &[ActionKind::Revoke, ActionKind::Delete]
        }
        (TargetKind::Credential(CredentialKind::Password), ActionKind::Delete) => {
            &[ActionKind::Revoke]
        }
        _ => &[],
    };
    alternatives
        .iter()
        .copied()
        .find(|a| semantics.supports(kind, *a))
}

/// The inventory rows a plan's steps name, read in bulk (a plan may have tens of thousands of
/// steps; one lookup each would dominate the run).
#[derive(Default)]
struct Named {
    credentials: std::collections::HashMap<String, evict_model::Credential>,
    identities: std::collections::HashMap<String, evict_model::Identity>,
    /// The scanner rules that found each token credential (which say whose token it is).
    token_rules: std::collections::HashMap<String, Vec<String>>,
}

/// Where the plan's tokens may be sent: the `[oauth]` issuer, for tokens that are its
/// (`[verify.oauth] rules`, or a JWT naming it), with the values handed over for this run.
struct TokenRouting<'a> {
    issuer: Option<&'a str>,
    oauth_rules: &'a [String],
    handed: &'a HandedSecrets,
}

fn token_kind(kind: CredentialKind) -> bool {
    matches!(
        kind,
        CredentialKind::AccessToken | CredentialKind::RefreshToken
    )
}

impl Named {
    async fn read(store: &Store, steps: &[&PlanStep]) -> anyhow::Result<Named> {
        let credential_ids: Vec<String> = steps
            .iter()
            .filter(|s| s.artifact.starts_with("c_"))
            .map(|s| s.artifact.clone())
            .collect();
        let identity_ids: BTreeSet<&str> = steps
            .iter()
            .filter(|s| s.artifact.starts_with("i_"))
            .map(|s| s.artifact.as_str())
            .collect();
        let mut named = Named::default();
        for c in store.credentials_named(&credential_ids, &[], &[]).await? {
            named.credentials.insert(c.id.to_string(), c);
        }
        let tokens: BTreeSet<&str> = named
            .credentials
            .values()
            .filter(|c| token_kind(c.kind) && c.fingerprint.is_some())
            .map(|c| c.id.as_str())
            .collect();
        if !tokens.is_empty() {
            for located in store.secret_locations().await? {
                if tokens.contains(located.credential_id.as_str()) {
                    let rules = named.token_rules.entry(located.credential_id).or_default();
                    if !rules.contains(&located.rule) {
                        rules.push(located.rule);
                    }
                }
            }
        }
        let providers: BTreeSet<&str> = steps
            .iter()
            .filter(|s| s.artifact.starts_with("i_"))
            .map(|s| s.provider.as_str())
            .collect();
        for p in providers {
            let filter = evict_store::IdentityFilter {
                provider: Some(evict_model::Provider::new(p)?),
                ..Default::default()
            };
            store
                .for_each_identity(&filter, Timestamp::now(), None, |i| {
                    if identity_ids.contains(i.id.as_str()) {
                        named.identities.insert(i.id.to_string(), i);
                    }
                })
                .await?;
        }
        Ok(named)
    }

    /// The OAuth connector's reference for a step's token when the token is the configured
    /// issuer's, with what is missing when its value was not handed over; `None` when the
    /// step is not such a token. The reference is the same either way, so the action is too.
    fn oauth_target(
        &self,
        step: &PlanStep,
        routing: &TokenRouting<'_>,
    ) -> Option<(Target, Option<String>)> {
        let c = self.credentials.get(&step.artifact)?;
        let fingerprint = c.fingerprint.as_ref()?;
        let issuer = routing.issuer?;
        let handed = routing.handed.get(fingerprint.as_str());
        let rules = self.token_rules.get(&step.artifact).map_or(&[][..], |r| r);
        let ours = evict_connectors::liveness::issued_by_oauth_issuer(
            c.kind,
            rules,
            handed.map(|s| &**s),
            routing.oauth_rules,
            Some(issuer),
        );
        if !ours {
            return None;
        }
        let target = Target::credential(c.kind, format!("{HANDED_TOKEN}{}", fingerprint.as_str()));
        let missing = handed.is_none().then(|| {
            format!(
                "the token's value is needed to revoke it at {issuer} and evict never stores \
                 it: hand it over with --secrets FILE (one secret a line; fingerprint {})",
                fingerprint.short()
            )
        });
        Some((target, missing))
    }

    /// The provider's reference for a plan step's artifact, or why there is none.
    fn target_of(&self, step: &PlanStep) -> Result<Target, String> {
        let key = step.artifact.as_str();
        if let Some(identity) = self.identities.get(key) {
            return Ok(Target::identity(identity.external_id.clone()));
        }
        if let Some(c) = self.credentials.get(key) {
            return match &c.native_id {
                Some(native) => Ok(Target::credential(c.kind, native.clone())),
                None => Err(format!(
                    "the provider's id of {} is not known; `evict sync {}` attaches it",
                    c.external_key, step.provider
                )),
            };
        }
        if key.starts_with("i_") || key.starts_with("c_") {
            return Err(format!("{key} is no longer in the inventory"));
        }
        let mut parts = key.splitn(3, ':');
        let (_, what, reference) = (parts.next(), parts.next(), parts.next());
        match (what, reference) {
            (Some("identity"), Some(r)) => Ok(Target::identity(r)),
            (Some("session" | "credential"), Some(r)) => {
                match step.kind.parse::<CredentialKind>() {
                    Ok(kind) => Ok(Target::credential(kind, r)),
                    Err(_) => Err(format!("{key}: '{}' is not a credential kind", step.kind)),
                }
            }
            (Some("change"), _) => Err(
                "an attacker's change is reverted by hand (no connector reverts changes yet); \
                 attest it when done"
                    .into(),
            ),
            _ => Err(format!("{key}: not an artifact key a connector can act on")),
        }
    }
}

fn wanted(tier: Tier, choice: ContainTier) -> bool {
    match choice {
        ContainTier::Kill => tier == Tier::Kill,
        ContainTier::Rotate => tier == Tier::Rotate,
        ContainTier::All => tier != Tier::Validate,
    }
}

/// The plan's steps as connector actions, with the follow-ups connectors declare.
async fn intended_actions(
    store: &Store,
    plan: &Plan,
    choice: ContainTier,
    connectors: &BTreeMap<String, Connector>,
    configured: bool,
    routing: &TokenRouting<'_>,
) -> anyhow::Result<Vec<Intended>> {
    let mut out: Vec<Intended> = Vec::new();
    let mut key_of_step: BTreeMap<u32, String> = BTreeMap::new();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    let steps: Vec<&PlanStep> = plan
        .steps
        .iter()
        .filter(|s| wanted(s.tier, choice) && s.action != ActionKind::Examine)
        .collect();
    let named = Named::read(store, &steps).await?;
    for step in steps {
        let order = i64::from(step.order) * 10;
        let (provider, resolved, missing) = match named.oauth_target(step, routing) {
            Some((target, missing)) => ("oauth".to_string(), Ok(target), missing),
            None => (step.provider.clone(), named.target_of(step), None),
        };
        let (target_kind, native_id) = match &resolved {
            Ok(t) => (t.kind.to_string(), t.native_id.clone()),
            Err(_) => (step.kind.clone(), step.artifact.clone()),
        };
        let after = step
            .after
            .iter()
            .filter_map(|o| key_of_step.get(o))
            .map(|k| format!("verified:{k}"))
            .collect();
        let mut intended = Intended {
            key: String::new(),
            step: order,
            tier: step.tier,
            artifact: step.artifact.clone(),
            label: step.label.clone(),
            provider: provider.clone(),
            target_kind,
            native_id,
            planned: step.action,
            action: step.action,
            after,
            request: String::new(),
            manual: None,
        };
        let connector = connectors.get(&provider);
        match (&resolved, connector) {
            (Err(why), _) => intended.manual = Some(why.clone()),
            (Ok(_), None) => {
                intended.manual = Some(if !connector::built_in().contains(&provider.as_str()) {
                    format!(
                        "evict has no connector for {provider} yet: do it by hand, then \
                             attest it"
                    )
                } else if configured {
                    format!("no [{provider}] table in the connector configuration")
                } else {
                    "no connector configuration ($EVICT_HOME/connectors.toml or --config)".into()
                })
            }
            (Ok(target), Some(c)) => {
                match connector_action(c.semantics(), target.kind, step.action) {
                    Some(action) => {
                        intended.action = action;
                        intended.request = c.describe(target, action);
                    }
                    None => {
                        intended.manual = Some(format!(
                            "{provider} cannot {} a {}",
                            step.action, target.kind
                        ))
                    }
                }
            }
        }
        if let Some(why) = missing {
            intended.manual.get_or_insert(why);
        }
        if let Some(why) = &intended.manual {
            intended.request = format!("{BY_HAND}{why}");
        }
        intended.key = action_key(
            &intended.provider,
            &intended.target_kind,
            &intended.native_id,
            intended.action,
        );
        key_of_step.insert(step.order, intended.key.clone());
        // The same request as an earlier step: a foothold's password, which the provider can
        // only remove, is already deleted by its "disable"; the plan's deletion after it is
        // that one action (and would otherwise wait on its own verification).
        if !keys.insert(intended.key.clone()) {
            continue;
        }
        let follow_ups: Vec<ActionKind> = match (&resolved, connector, &intended.manual) {
            (Ok(target), Some(c), None) => c
                .semantics()
                .follow_ups
                .iter()
                .filter(|(k, a, _)| *k == target.kind && *a == intended.action)
                .map(|(_, _, then)| *then)
                .collect(),
            _ => Vec::new(),
        };
        let main_key = intended.key.clone();
        out.push(intended.clone());
        for (n, then) in follow_ups.into_iter().enumerate() {
            let target = resolved.as_ref().ok().cloned();
            let (Some(target), Some(c)) = (target, connector) else {
                continue;
            };
            out.push(Intended {
                key: action_key(
                    &intended.provider,
                    &intended.target_kind,
                    &intended.native_id,
                    then,
                ),
                step: order + 1 + n as i64,
                action: then,
                planned: then,
                after: vec![format!("done:{main_key}")],
                request: c.describe(&target, then),
                ..intended.clone()
            });
        }
    }
    Ok(out)
}

/// This process, as an in-flight action's holder: host, pid and the process's start time, so
/// a later run on this host can tell whether the holder still runs (a reused pid has another
/// start time).
fn this_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into());
    let pid = std::process::id();
    format!("{host}/{pid}/{}", start_time(pid).unwrap_or_default())
}

fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// Whether the holder of an in-flight action is gone: `Some(true)` when it ran on this host
/// and no longer does, `Some(false)` when it still runs here, `None` for another host.
fn holder_gone(holder: &str) -> Option<bool> {
    let mine = this_holder();
    let host = mine.split('/').next()?;
    let mut parts = holder.split('/');
    let (h, pid, started) = (parts.next()?, parts.next()?, parts.next()?);
    if h != host {
        return None;
    }
    let pid: u32 = pid.parse().ok()?;
    Some(start_time(pid).as_deref() != Some(started))
}

/// The wait before attempt `attempts + 1`: exponential from 200 ms, at most 30 s, jittered
/// by ±50 %, or what the provider asked.
fn backoff(attempts: i64, asked: Option<Duration>) -> Duration {
    if let Some(asked) = asked {
        return asked.min(Duration::from_secs(300));
    }
    let base = 0.2 * 2f64.powi(attempts.clamp(1, 8) as i32 - 1);
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    let jitter = 0.5 + f64::from(byte[0]) / 255.0;
    Duration::from_secs_f64((base * jitter).min(30.0))
}

fn outcome_of(
    result: Result<evict_connectors::Acted, ConnectorError>,
    action: ActionKind,
    attempts: i64,
) -> ActionOutcome {
    match result {
        Ok(acted) => ActionOutcome::Done {
            changed: acted.changed,
            detail: acted.detail,
        },
        // Deleting what is gone is done (deleted by hand, or with its user by an earlier
        // step); the probe, not this answer, proves it.
        Err(e @ ConnectorError::NotFound { .. }) if action == ActionKind::Delete => {
            ActionOutcome::Done {
                changed: false,
                detail: format!("{e}: already gone"),
            }
        }
        Err(e) if e.retryable() && attempts < MAX_ATTEMPTS => {
            let asked = e.retry_after();
            let wait = backoff(attempts, asked);
            ActionOutcome::RetryAfter {
                reason: e.to_string(),
                at: Timestamp::now() + wait,
            }
        }
        Err(e) if e.retryable() => ActionOutcome::Failed {
            reason: format!("gave up after {attempts} attempts: {e}"),
        },
        // Not something another attempt mends: the provider cannot do it, or the connector
        // lacks what it needs (an OAuth token's value is never stored, so it must be handed
        // over) — a person must.
        Err(e @ (ConnectorError::Unsupported { .. } | ConnectorError::Config(_))) => {
            ActionOutcome::NeedsManual {
                reason: e.to_string(),
            }
        }
        Err(e) => ActionOutcome::Failed {
            reason: e.to_string(),
        },
    }
}

fn target_of_action(a: &StoredAction) -> Option<Target> {
    Some(Target {
        kind: TargetKind::from_text(&a.target_kind)?,
        native_id: a.native_id.clone(),
    })
}

/// Keys of planned actions that may not run yet: a dependency not done (follow-ups) or not
/// verified (deletions after a disable).
fn blocked(actions: &[StoredAction], verified: &BTreeSet<String>) -> BTreeSet<String> {
    let by_key: BTreeMap<&str, &StoredAction> =
        actions.iter().map(|a| (a.key.as_str(), a)).collect();
    actions
        .iter()
        .filter(|a| a.state == ActionState::Planned)
        .filter(|a| {
            a.after.iter().any(|dep| {
                let (need, key) = dep.split_once(':').unwrap_or(("verified", dep));
                match by_key.get(key) {
                    None => true,
                    Some(d) if d.state != ActionState::Done => true,
                    Some(d) => need == "verified" && !verified.contains(&d.artifact),
                }
            })
        })
        .map(|a| a.key.clone())
        .collect()
}

/// Artifacts whose latest evidence is verified.
async fn verified_artifacts(store: &Store, name: &str) -> anyhow::Result<BTreeSet<String>> {
    let mut latest: BTreeMap<String, EvidenceVerdict> = BTreeMap::new();
    for e in store.evidence_of(name).await? {
        latest.insert(e.artifact, e.verdict);
    }
    Ok(latest
        .into_iter()
        .filter(|(_, v)| *v == EvidenceVerdict::VerifiedRevoked)
        .map(|(a, _)| a)
        .collect())
}

/// What every worker of one round shares.
#[derive(Clone)]
struct Round {
    store: Arc<Store>,
    name: Arc<str>,
    holder: Arc<str>,
    skip: Arc<BTreeSet<String>>,
    progress: Arc<Progress>,
}

/// Runs every claimable action of one provider with `limits`, until none is left.
async fn drain(
    round: Round,
    provider: String,
    connector: Option<Arc<Connector>>,
    limits: Limits,
) -> anyhow::Result<()> {
    let Round {
        store,
        name,
        holder,
        skip,
        progress,
    } = round;
    let bucket = Arc::new(Bucket::new(limits));
    let workers = if connector.is_some() {
        limits.concurrency
    } else {
        1
    };
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (store, name, provider, connector, holder, skip, bucket, progress) = (
            store.clone(),
            name.clone(),
            provider.clone(),
            connector.clone(),
            holder.clone(),
            skip.clone(),
            bucket.clone(),
            progress.clone(),
        );
        tasks.spawn(async move {
            loop {
                let claimed = store
                    .claim_actions(
                        &name,
                        &provider,
                        &holder,
                        &skip,
                        CLAIM_BATCH,
                        Timestamp::now(),
                    )
                    .await?;
                if claimed.is_empty() {
                    // Retries waiting out their backoff are this provider's too.
                    let pending = store
                        .actions_of(&name)
                        .await?
                        .into_iter()
                        .filter(|a| {
                            a.provider == provider
                                && a.state == ActionState::Planned
                                && !skip.contains(&a.key)
                        })
                        .filter_map(|a| a.not_before)
                        .min();
                    match pending {
                        Some(at) => {
                            let wait = at.duration_since(Timestamp::now());
                            let wait = Duration::try_from(wait).unwrap_or_default();
                            tokio::time::sleep(wait.max(Duration::from_millis(20))).await;
                            continue;
                        }
                        None => return Ok::<_, anyhow::Error>(()),
                    }
                }
                let mut outcomes = Vec::with_capacity(claimed.len());
                for action in claimed {
                    let by_hand = action.request.strip_prefix(BY_HAND);
                    let outcome = match (&connector, target_of_action(&action), by_hand) {
                        (Some(c), Some(target), None) => {
                            bucket.take().await;
                            let sent = tokio::time::timeout(
                                Duration::from_secs(60),
                                c.act(&target, action.action),
                            )
                            .await
                            .unwrap_or_else(|_| {
                                Err(ConnectorError::Unreachable {
                                    provider: c.name(),
                                    reason: "no answer within 60 s".into(),
                                })
                            });
                            outcome_of(sent, action.action, action.attempts)
                        }
                        _ => ActionOutcome::NeedsManual {
                            reason: by_hand.unwrap_or(&action.request).to_string(),
                        },
                    };
                    progress.tick(&outcome);
                    outcomes.push((action.key, outcome));
                }
                store
                    .finish_actions(&name, &holder, &outcomes, Timestamp::now())
                    .await?;
            }
        });
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.map_err(|e| anyhow!("an executor task failed: {e}"));
        if let Err(e) = result.and_then(|r| r) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Counts for the progress line.
struct Progress {
    quiet: bool,
    total: usize,
    finished: std::sync::atomic::AtomicUsize,
}

impl Progress {
    fn tick(&self, outcome: &ActionOutcome) {
        if matches!(outcome, ActionOutcome::RetryAfter { .. }) {
            return;
        }
        let n = self
            .finished
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        if !self.quiet && (n.is_multiple_of(100) || n == self.total) {
            output::note(self.quiet, &format!("{n}/{} actions finished", self.total));
        }
    }
}

/// Connectors for the providers `providers`, from the configuration.
async fn connect(
    config: Option<&ConnectorsConfig>,
    providers: &BTreeSet<String>,
) -> anyhow::Result<BTreeMap<String, Connector>> {
    let mut out = BTreeMap::new();
    let Some(config) = config else {
        return Ok(out);
    };
    for p in providers {
        if let Some(c) = Connector::from_config(config, p)
            .await
            .with_context(|| format!("connecting to {p}"))?
        {
            out.insert(p.clone(), c);
        }
    }
    Ok(out)
}

async fn close_all(connectors: BTreeMap<String, Connector>) {
    for c in connectors.values() {
        c.close().await;
    }
}

#[derive(Serialize)]
struct ContainReport<'a> {
    incident: &'a str,
    plan_version: i64,
    execute: bool,
    counts: BTreeMap<&'static str, usize>,
    actions: Vec<ActionLine>,
}

#[derive(Serialize)]
struct ActionLine {
    key: String,
    step: i64,
    tier: String,
    provider: String,
    action: ActionKind,
    target_kind: String,
    target: String,
    artifact: String,
    state: ActionState,
    attempts: i64,
    request: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    waiting_for: Option<String>,
}

/// The secrets handed over with `--secrets FILE`, fingerprinted with this installation's key;
/// none when no file is given.
pub(crate) fn handed_secrets(
    ctx: &Context,
    given: Option<PathBuf>,
) -> anyhow::Result<HandedSecrets> {
    let Some(path) = given else {
        return Ok(HandedSecrets::default());
    };
    let key = ctx.home.fingerprint_key()?;
    HandedSecrets::read(&path, &key, ctx.quiet || ctx.format == Format::Json)
}

/// Gives the OAuth connector, if there is one, the handed-over tokens that `native_ids`
/// name (`secret:<fingerprint>`).
fn hold_handed_tokens<'a>(
    connectors: &BTreeMap<String, Connector>,
    native_ids: impl Iterator<Item = &'a str>,
    handed: &HandedSecrets,
) {
    let Some(Connector::OAuth(oauth)) = connectors.get("oauth") else {
        return;
    };
    for native_id in native_ids {
        let token = native_id
            .strip_prefix(HANDED_TOKEN)
            .and_then(|fingerprint| handed.get(fingerprint));
        if let Some(token) = token {
            oauth.hold(native_id, Arc::clone(token));
        }
    }
}

/// `evict incident contain NAME [--execute] [--tier …] [--secrets FILE]`.
pub async fn contain(
    ctx: &Context,
    name: &str,
    execute: bool,
    tier: ContainTier,
    config: Option<PathBuf>,
    secrets: Option<PathBuf>,
) -> anyhow::Result<Outcome> {
    let config = connectors_config(ctx, config)?;
    let handed = handed_secrets(ctx, secrets)?;
    let store = Arc::new(ctx.open_store().await?);
    let result = contain_with(ctx, &store, name, execute, tier, config.as_ref(), &handed).await;
    store.close().await;
    result
}

async fn contain_with(
    ctx: &Context,
    store: &Arc<Store>,
    name: &str,
    execute: bool,
    tier: ContainTier,
    config: Option<&(PathBuf, ConnectorsConfig)>,
    handed: &HandedSecrets,
) -> anyhow::Result<Outcome> {
    let (version, plan) = crate::cmd_incident::latest_plan(store, name).await?;
    let steps = || {
        plan.steps
            .iter()
            .filter(|s| wanted(s.tier, tier) && s.action != ActionKind::Examine)
    };
    let mut providers: BTreeSet<String> = steps().map(|s| s.provider.clone()).collect();
    let oauth = config.and_then(|(_, c)| c.oauth.as_ref());
    // Tokens found by a scan carry their rule's provider; the issuer's own go to [oauth].
    let tokens_in_plan = steps().any(|s| s.kind.parse::<CredentialKind>().is_ok_and(token_kind));
    if oauth.is_some() && tokens_in_plan {
        providers.insert("oauth".into());
    }
    let connectors = connect(config.map(|(_, c)| c), &providers).await?;
    let routing = TokenRouting {
        issuer: oauth.map(|o| o.issuer.as_str()),
        oauth_rules: config
            .and_then(|(_, c)| c.verify.as_ref()?.oauth.as_ref())
            .map_or(&[][..], |o| o.rules.as_slice()),
        handed,
    };
    let intended =
        intended_actions(store, &plan, tier, &connectors, config.is_some(), &routing).await;
    let intended = match intended {
        Ok(i) => i,
        Err(e) => {
            close_all(connectors).await;
            return Err(e);
        }
    };
    if !execute {
        close_all(connectors).await;
        let existing: BTreeMap<String, StoredAction> = store
            .actions_of(name)
            .await?
            .into_iter()
            .map(|a| (a.key.clone(), a))
            .collect();
        let lines: Vec<ActionLine> = intended
            .iter()
            .map(|i| {
                let stored = existing.get(&i.key);
                ActionLine {
                    key: i.key.clone(),
                    step: i.step,
                    tier: i.tier.to_string(),
                    provider: i.provider.clone(),
                    action: i.action,
                    target_kind: i.target_kind.clone(),
                    target: i.native_id.clone(),
                    artifact: i.artifact.clone(),
                    state: stored.map_or(
                        if i.manual.is_some() {
                            ActionState::NeedsManual
                        } else {
                            ActionState::Planned
                        },
                        |s| s.state,
                    ),
                    attempts: stored.map_or(0, |s| s.attempts),
                    request: i.request.clone(),
                    result: stored.and_then(|s| s.result.clone()),
                    waiting_for: None,
                }
            })
            .collect();
        return print_contain(ctx, name, version, false, lines);
    }

    let new_actions: Vec<NewAction> = intended
        .iter()
        .map(|i| NewAction {
            key: i.key.clone(),
            step: i.step,
            plan_version: version,
            tier: i.tier.to_string(),
            artifact: i.artifact.clone(),
            provider: i.provider.clone(),
            target_kind: i.target_kind.clone(),
            native_id: i.native_id.clone(),
            action: i.action,
            after: i.after.clone(),
            request: i.request.clone(),
        })
        .collect();
    let now = Timestamp::now();
    store.add_actions(name, &new_actions, now).await?;
    let wanted_keys: BTreeSet<&str> = intended.iter().map(|i| i.key.as_str()).collect();
    let intended_by_key: BTreeMap<&str, &Intended> =
        intended.iter().map(|i| (i.key.as_str(), i)).collect();
    hold_handed_tokens(
        &connectors,
        intended
            .iter()
            .filter(|i| i.manual.is_none())
            .map(|i| i.native_id.as_str()),
        handed,
    );

    // Take up what earlier runs left: work of a holder that is gone, failures worth another
    // try, and manual work a connector configured since can now do.
    let holder: Arc<str> = this_holder().into();
    for a in store.actions_of(name).await? {
        let Some(now_intended) = intended_by_key.get(a.key.as_str()) else {
            continue;
        };
        // What it will send now, when that is no longer "by hand".
        let request = (now_intended.manual.is_none() && a.request != now_intended.request)
            .then_some(now_intended.request.as_str());
        let reopen = match a.state {
            ActionState::InFlight => {
                let held = a.claimed_by.as_deref().unwrap_or_default();
                let stale = a.claimed_at.is_some_and(|t| {
                    Duration::try_from(now.duration_since(t)).unwrap_or_default() > FOREIGN_LEASE
                });
                match holder_gone(held) {
                    Some(true) => Some(format!("its holder {held} is gone; sending it again")),
                    None if stale => Some(format!(
                        "its holder {held} on another host has held it past the lease"
                    )),
                    _ => None,
                }
            }
            ActionState::Failed => Some("failed in an earlier run; trying again".into()),
            ActionState::NeedsManual
                if now_intended.manual.is_none() && connectors.contains_key(&a.provider) =>
            {
                Some("a connector can do it now".into())
            }
            _ => None,
        };
        if let Some(why) = reopen {
            store
                .reopen_action(
                    name,
                    &a.key,
                    a.state,
                    a.claimed_by.as_deref(),
                    request,
                    &why,
                    now,
                )
                .await?;
        }
    }

    let limits_of = |p: &str| config.map(|(_, c)| c.limits_of(p)).unwrap_or_default();
    let connectors: BTreeMap<String, Arc<Connector>> = connectors
        .into_iter()
        .map(|(k, v)| (k, Arc::new(v)))
        .collect();
    let name_arc: Arc<str> = name.into();
    let total = intended.len();
    let progress = Arc::new(Progress {
        quiet: ctx.quiet || ctx.format == Format::Json,
        total,
        finished: Default::default(),
    });
    // Rounds: a round runs everything not blocked; what it finishes may unblock follow-ups.
    let mut last_blocked: Option<BTreeSet<String>> = None;
    let verified = verified_artifacts(store, name).await?;
    let result = loop {
        let actions: Vec<StoredAction> = store
            .actions_of(name)
            .await?
            .into_iter()
            .filter(|a| wanted_keys.contains(a.key.as_str()))
            .collect();
        let skip = blocked(&actions, &verified);
        if last_blocked.as_ref() == Some(&skip) {
            break Ok(());
        }
        let runnable = actions
            .iter()
            .any(|a| a.state == ActionState::Planned && !skip.contains(&a.key));
        last_blocked = Some(skip.clone());
        if !runnable {
            break Ok(());
        }
        let skip = Arc::new(skip);
        let mut providers = tokio::task::JoinSet::new();
        let names: BTreeSet<String> = actions.iter().map(|a| a.provider.clone()).collect();
        for p in names {
            let round = Round {
                store: store.clone(),
                name: name_arc.clone(),
                holder: holder.clone(),
                skip: skip.clone(),
                progress: progress.clone(),
            };
            providers.spawn(drain(
                round,
                p.clone(),
                connectors.get(&p).cloned(),
                limits_of(&p),
            ));
        }
        let mut failed = None;
        while let Some(joined) = providers.join_next().await {
            let r = joined.map_err(|e| anyhow!("an executor task failed: {e}"));
            if let Err(e) = r.and_then(|r| r) {
                failed.get_or_insert(e);
            }
        }
        if let Some(e) = failed {
            break Err(e);
        }
    };
    for c in connectors.values() {
        c.close().await;
    }
    result?;
    // Another process may still be finishing actions it claimed: wait for them (while their
    // holders live), so the report is of the whole plan, not of a moment.
    let deadline = std::time::Instant::now() + FOREIGN_LEASE;
    loop {
        let held = store
            .actions_of(name)
            .await?
            .into_iter()
            .filter(|a| wanted_keys.contains(a.key.as_str()) && a.state == ActionState::InFlight)
            .filter(|a| holder_gone(a.claimed_by.as_deref().unwrap_or_default()) != Some(true))
            .count();
        if held == 0 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let actions: Vec<StoredAction> = store
        .actions_of(name)
        .await?
        .into_iter()
        .filter(|a| wanted_keys.contains(a.key.as_str()))
        .collect();
    let skip = blocked(&actions, &verified);
    let lines = actions
        .into_iter()
        .map(|a| {
            let waiting_for = skip.contains(&a.key).then(|| {
                if a.after.iter().any(|d| d.starts_with("verified:")) {
                    format!("verification of what comes first: run `evict incident verify {name}`, then contain again")
                } else {
                    "the action before it".to_string()
                }
            });
            ActionLine {
                key: a.key,
                step: a.step,
                tier: a.tier,
                provider: a.provider,
                action: a.action,
                target_kind: a.target_kind,
                target: a.native_id,
                artifact: a.artifact,
                state: a.state,
                attempts: a.attempts,
                request: a.request,
                result: a.result,
                waiting_for,
            }
        })
        .collect();
    print_contain(ctx, name, version, true, lines)
}

fn print_contain(
    ctx: &Context,
    name: &str,
    version: i64,
    execute: bool,
    lines: Vec<ActionLine>,
) -> anyhow::Result<Outcome> {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for l in &lines {
        *counts.entry(l.state.as_str()).or_default() += 1;
    }
    let unfinished = lines.iter().any(|l| l.state != ActionState::Done);
    match ctx.format {
        Format::Json => output::json(&ContainReport {
            incident: name,
            plan_version: version,
            execute,
            counts,
            actions: lines,
        })?,
        _ => {
            if execute {
                output::line(&format!(
                    "containment of '{name}' (plan version {version}): {}",
                    counts
                        .iter()
                        .map(|(s, n)| format!("{n} {s}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            } else {
                output::line(&format!(
                    "dry run: containment of '{name}' (plan version {version}) would send {} requests; nothing was sent. Run again with --execute.",
                    lines
                        .iter()
                        .filter(|l| l.state == ActionState::Planned)
                        .count()
                ));
            }
            let mut table = output::table(&[
                "step",
                "tier",
                "provider",
                "action",
                "target",
                "state",
                "request / result",
            ]);
            for l in &lines {
                let said = match (&l.result, &l.waiting_for) {
                    (_, Some(w)) => format!("{} — waiting for {w}", l.request),
                    (Some(r), None) if l.state != ActionState::Done || r != &l.request => {
                        format!("{} — {r}", l.request)
                    }
                    _ => l.request.clone(),
                };
                table.add_row(vec![
                    format!("{}", l.step / 10),
                    l.tier.clone(),
                    l.provider.clone(),
                    l.action.to_string(),
                    format!("{} {}", l.target_kind, l.target),
                    l.state.to_string(),
                    said,
                ]);
            }
            output::print_table(&table);
        }
    }
    Ok(if execute && unfinished {
        Outcome::Attention
    } else {
        Outcome::Ok
    })
}

#[derive(Serialize)]
struct VerifyLine {
    artifact: String,
    provider: String,
    action: ActionKind,
    target: String,
    verdict: Option<EvidenceVerdict>,
    detail: String,
}

/// Probes one done action after its provider's declared delay and records the evidence.
async fn probe(
    store: &Store,
    name: &str,
    c: &Connector,
    a: &StoredAction,
    bucket: &Bucket,
    quiet: bool,
) -> anyhow::Result<VerifyLine> {
    let mut line = VerifyLine {
        artifact: a.artifact.clone(),
        provider: a.provider.clone(),
        action: a.action,
        target: a.native_id.clone(),
        verdict: None,
        detail: String::new(),
    };
    let Some(target) = target_of_action(a) else {
        line.detail = format!(
            "stored target kind '{}' is not one evict knows",
            a.target_kind
        );
        return Ok(line);
    };
    let ready = a.updated_at + c.semantics().propagation_delay;
    let wait = Duration::try_from(ready.duration_since(Timestamp::now())).unwrap_or_default();
    if !wait.is_zero() {
        output::note(
            quiet,
            &format!(
                "waiting {wait:?} for {}'s declared propagation delay",
                a.provider
            ),
        );
        tokio::time::sleep(wait).await;
    }
    if let Some(began_at) = a.claimed_at {
        let act = PastAct {
            began_at,
            changed: a.changed.unwrap_or(false),
        };
        c.recall(&target, a.action, &act);
    }
    // A busy or unreachable provider is asked again, as acts are, before the probe counts
    // as failed.
    let mut attempts = 0;
    let (verdict, detail) = loop {
        attempts += 1;
        bucket.take().await;
        match c.verify(&target, a.action).await {
            Ok(e) => break (e.verdict, e.detail),
            Err(e) if e.retryable() && attempts < MAX_ATTEMPTS => {
                let asked = e.retry_after();
                tokio::time::sleep(backoff(attempts, asked)).await;
            }
            Err(e) => {
                break (
                    EvidenceVerdict::Unverified,
                    format!("the probe failed after {attempts} attempts: {e}"),
                );
            }
        }
    };
    let evidence = StoredEvidence {
        artifact: a.artifact.clone(),
        verdict,
        by: format!("probe:{}", a.provider),
        detail: format!("{} {}: {detail}", a.action, a.native_id),
        at: Timestamp::now(),
        journal: 0,
    };
    store
        .record_evidence(name, &evidence, Timestamp::now())
        .await?;
    line.verdict = Some(verdict);
    line.detail = detail;
    Ok(line)
}

/// One Shared Signals delivery, for the output.
#[derive(Serialize)]
struct SignalLine {
    artifact: String,
    key: String,
    receiver: String,
    event_type: &'static str,
    jti: String,
    attempts: u32,
    outcome: String,
}

/// Tells every Shared Signals receiver about each action a probe has verified — after the
/// probe, never on the provider's word — once: a receiver that took an action's SET in an
/// earlier run is not sent it again, and one that did not is sent it under the same `jti`
/// (the journal says which).
async fn signal_verified(
    store: &Store,
    name: &str,
    ssf: &evict_connectors::SsfConfig,
    verified: &[&StoredAction],
) -> anyhow::Result<Vec<SignalLine>> {
    use evict_connectors::ssf::{
        InitiatingEntity, Occasion, Owed, SecurityEvent, Signal, SubjectId,
    };
    let transmitter = evict_connectors::ssf::Transmitter::from_config(ssf)
        .context("setting up the Shared Signals transmitter ([ssf] in the configuration)")?;
    // Per action and receiver, from earlier runs: the jti it was first sent under, and
    // whether the receiver took it.
    let mut sent: BTreeMap<(String, String), (String, bool)> = BTreeMap::new();
    for entry in store
        .journal_entries(Some(name), Some("signal.sent"))
        .await?
    {
        let Ok(body) = serde_json::from_str::<serde_json::Value>(&entry.body) else {
            continue;
        };
        let Some(key) = body["key"].as_str() else {
            continue;
        };
        for d in body["deliveries"].as_array().into_iter().flatten() {
            let (Some(receiver), Some(jti)) = (d["receiver"].as_str(), d["jti"].as_str()) else {
                continue;
            };
            let slot = sent
                .entry((key.to_string(), receiver.to_string()))
                .or_insert_with(|| (jti.to_string(), false));
            slot.1 |= d["delivered"] == true;
        }
    }
    let mut out = Vec::new();
    for a in verified {
        let Some(target) = target_of_action(a) else {
            continue;
        };
        // Only receivers that have not taken it, each under its first jti: a receiver whose
        // 202 was lost recognises the event as one it has.
        let owed: Vec<Owed> = transmitter
            .receivers()
            .iter()
            .filter_map(|r| match sent.get(&(a.key.clone(), r.name.clone())) {
                Some((_, true)) => None,
                earlier => Some(Owed {
                    receiver: r.name.clone(),
                    jti: earlier.map(|(jti, _)| jti.clone()),
                }),
            })
            .collect();
        if owed.is_empty() {
            continue;
        }
        let occasion = Occasion {
            at: a.updated_at,
            initiated_by: InitiatingEntity::Admin,
            reason: Some(format!("containment of incident {name}")),
            compromised: true,
        };
        let Some(event) = SecurityEvent::for_action(&target, a.action, &occasion) else {
            continue;
        };
        let user = match store.show(&a.artifact).await? {
            Some(ShowResult::Identity { identity, .. }) => {
                Some(SubjectId::for_identity(&identity, None))
            }
            Some(ShowResult::Credential { identity, .. }) => {
                identity.as_ref().map(|i| SubjectId::for_identity(i, None))
            }
            None => None,
        };
        let subject = match (target.kind, user) {
            (TargetKind::Credential(CredentialKind::Session), user) => {
                SubjectId::for_session(&target.native_id, user)
            }
            (_, Some(user)) => user,
            (_, None) => SubjectId::opaque(&target.native_id),
        };
        let signal = Signal::new(subject, event).in_transaction(&a.key);
        let deliveries = transmitter.transmit_owed(&signal, &owed).await?;
        let all_delivered = deliveries.iter().all(|d| d.delivered());
        let body = serde_json::json!({
            "key": a.key,
            "artifact": a.artifact,
            "all_delivered": all_delivered,
            "deliveries": deliveries.iter().map(|d| serde_json::json!({
                "receiver": d.receiver,
                "jti": d.jti,
                "event_type": d.event_type,
                "attempts": d.attempts,
                "delivered": d.delivered(),
            })).collect::<Vec<_>>(),
        });
        store
            .journal_append(Timestamp::now(), "signal.sent", name, &body)
            .await?;
        for d in deliveries {
            out.push(SignalLine {
                artifact: a.artifact.clone(),
                key: a.key.clone(),
                receiver: d.receiver.clone(),
                event_type: d.event_type,
                jti: d.jti.clone(),
                attempts: d.attempts,
                outcome: match &d.outcome {
                    evict_connectors::ssf::DeliveryOutcome::Delivered => "delivered".into(),
                    evict_connectors::ssf::DeliveryOutcome::Failed { permanent, reason } => {
                        format!(
                            "failed{}: {reason}",
                            if *permanent { " for good" } else { "" }
                        )
                    }
                },
            });
        }
    }
    Ok(out)
}

/// `evict incident verify NAME`: every done action's probe, after its provider's declared
/// delay, recorded as evidence the closure gate reads.
pub async fn verify(
    ctx: &Context,
    name: &str,
    config: Option<PathBuf>,
    secrets: Option<PathBuf>,
) -> anyhow::Result<Outcome> {
    let (_, config) = required_connectors_config(ctx, config)?;
    let handed = handed_secrets(ctx, secrets)?;
    let store = ctx.open_store().await?;
    let result = verify_with(ctx, &store, name, &config, &handed).await;
    store.close().await;
    result
}

async fn verify_with(
    ctx: &Context,
    store: &Store,
    name: &str,
    config: &ConnectorsConfig,
    handed: &HandedSecrets,
) -> anyhow::Result<Outcome> {
    if store.incident(name).await?.is_none() {
        return Err(evict_store::IncidentError::NotFound(name.to_string()).into());
    }
    let actions = store.actions_of(name).await?;
    if actions.is_empty() {
        bail!(
            "incident '{name}' has no actions yet; run `evict incident contain {name} --execute` first"
        );
    }
    // One probe per artifact: its latest done action that is not a follow-up (the disable
    // probe already looks for the sessions its follow-up ends).
    let mut latest: BTreeMap<&str, &StoredAction> = BTreeMap::new();
    let mut not_done = Vec::new();
    for a in &actions {
        if a.after.iter().any(|d| d.starts_with("done:")) {
            continue;
        }
        if a.state != ActionState::Done {
            not_done.push(a);
            continue;
        }
        let slot = latest.entry(a.artifact.as_str()).or_insert(a);
        if a.step >= slot.step {
            *slot = a;
        }
    }
    // An action planned before its target was known (a key id not yet synced, a token not
    // yet handed over) is superseded by the same act on the same artifact that was done.
    let done_acts: BTreeSet<(&str, ActionKind)> = actions
        .iter()
        .filter(|a| a.state == ActionState::Done)
        .map(|a| (a.artifact.as_str(), a.action))
        .collect();
    not_done.retain(|a| !done_acts.contains(&(a.artifact.as_str(), a.action)));
    let providers: BTreeSet<String> = latest.values().map(|a| a.provider.clone()).collect();
    let connectors = connect(Some(config), &providers).await?;
    hold_handed_tokens(
        &connectors,
        latest.values().map(|a| a.native_id.as_str()),
        handed,
    );
    let connectors: BTreeMap<String, Arc<Connector>> = connectors
        .into_iter()
        .map(|(k, v)| (k, Arc::new(v)))
        .collect();
    let quiet = ctx.quiet || ctx.format == Format::Json;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for provider in &providers {
        let queue: std::collections::VecDeque<StoredAction> = latest
            .values()
            .filter(|a| &a.provider == provider)
            .map(|a| (*a).clone())
            .collect();
        let Some(c) = connectors.get(provider) else {
            let mut lines = lines.lock().await;
            for a in queue {
                lines.push(VerifyLine {
                    artifact: a.artifact.clone(),
                    provider: a.provider.clone(),
                    action: a.action,
                    target: a.native_id.clone(),
                    verdict: None,
                    detail: format!("no [{}] connector configured to probe with", a.provider),
                });
            }
            continue;
        };
        // Probes are requests too: the same per-provider rate and concurrency as acts.
        let limits = config.limits_of(provider);
        let bucket = Arc::new(Bucket::new(limits));
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..limits.concurrency {
            let (c, bucket, queue, lines, store, name) = (
                c.clone(),
                bucket.clone(),
                queue.clone(),
                lines.clone(),
                store.clone(),
                name.to_string(),
            );
            tasks.spawn(async move {
                loop {
                    let Some(a) = queue.lock().await.pop_front() else {
                        return Ok::<_, anyhow::Error>(());
                    };
                    let line = probe(&store, &name, &c, &a, &bucket, quiet).await?;
                    lines.lock().await.push(line);
                }
            });
        }
    }
    let mut failed = None;
    while let Some(joined) = tasks.join_next().await {
        let r = joined.map_err(|e| anyhow!("a probe task failed: {e}"));
        if let Err(e) = r.and_then(|r| r) {
            failed.get_or_insert(e);
        }
    }
    for c in connectors.values() {
        c.close().await;
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let mut lines = std::mem::take(&mut *lines.lock().await);
    lines.sort_by(|a, b| a.artifact.cmp(&b.artifact));
    let verified_actions: Vec<&StoredAction> = latest
        .values()
        .copied()
        .filter(|a| {
            lines.iter().any(|l| {
                l.artifact == a.artifact && l.verdict == Some(EvidenceVerdict::VerifiedRevoked)
            })
        })
        .collect();
    let signals = match config.ssf.as_ref() {
        Some(ssf) => signal_verified(store, name, ssf, &verified_actions).await?,
        None => Vec::new(),
    };
    let all_verified = not_done.is_empty()
        && lines
            .iter()
            .all(|l| l.verdict == Some(EvidenceVerdict::VerifiedRevoked));
    match ctx.format {
        Format::Json => output::json(&serde_json::json!({
            "incident": name,
            "probed": lines,
            "signals": signals,
            "not_done": not_done.iter().map(|a| serde_json::json!({
                "key": a.key, "artifact": a.artifact, "action": a.action, "state": a.state,
            })).collect::<Vec<_>>(),
        }))?,
        _ => {
            let verified = lines
                .iter()
                .filter(|l| l.verdict == Some(EvidenceVerdict::VerifiedRevoked))
                .count();
            output::line(&format!(
                "verification of '{name}': {verified} of {} probed artifacts verified revoked; {} actions not done",
                lines.len(),
                not_done.len()
            ));
            let mut table = output::table(&[
                "artifact",
                "provider",
                "action",
                "target",
                "verdict",
                "what the probe saw",
            ]);
            for l in &lines {
                table.add_row(vec![
                    l.artifact.clone(),
                    l.provider.clone(),
                    l.action.to_string(),
                    l.target.clone(),
                    l.verdict.map_or("not probed".into(), |v| v.to_string()),
                    l.detail.clone(),
                ]);
            }
            output::print_table(&table);
            for s in &signals {
                output::line(&format!(
                    "signal {} about {} to {}: {}",
                    s.event_type, s.artifact, s.receiver, s.outcome
                ));
            }
        }
    }
    Ok(if all_verified {
        Outcome::Ok
    } else {
        Outcome::Attention
    })
}
