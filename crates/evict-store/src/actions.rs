//! The containment executor's durable actions: each provider operation of an incident's plan
//! is a row keyed by its idempotency key, and each move it makes (planned → in flight → done,
//! failed or needs manual) is one transaction with its journal entry. A process killed at any
//! moment leaves every action in a state the next run can read: `in_flight` rows name their
//! holder, so the next run can tell a dead holder's work (to be sent again, which the
//! connector's declared idempotency makes harmless) from a live one's (left alone).
//!
//! On PostgreSQL, work is claimed with `FOR UPDATE SKIP LOCKED`, so two processes running the
//! same plan never take the same action.

use std::collections::BTreeSet;

use evict_model::{ActionKind, ActionState};
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;

use crate::Store;
use crate::columns::{
    Columns as _, int, json_column, opt_text, opt_time, parsed, required_time, text,
};
use crate::db::Backend;
use crate::error::query;
use crate::hunts::placeholders;
use crate::incidents::IncidentError;
use crate::journal;
use crate::text::time_text;

/// An action to add to an incident (nothing happens if its key is already there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAction {
    /// The idempotency key: the same operation on the same target always has the same key.
    pub key: String,
    /// The plan step it carries out.
    pub step: i64,
    /// The plan version it came from.
    pub plan_version: i64,
    /// The artifact's tier.
    pub tier: String,
    /// The artifact's key in the plan.
    pub artifact: String,
    /// The provider that acts.
    pub provider: String,
    /// `identity` or the credential kind.
    pub target_kind: String,
    /// The provider's reference for the target.
    pub native_id: String,
    /// The operation.
    pub action: ActionKind,
    /// Keys of the actions that must be verified before this one runs.
    pub after: Vec<String>,
    /// The exact request the connector will send, for the dry run and the journal.
    pub request: String,
}

/// An action as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredAction {
    /// The idempotency key.
    pub key: String,
    /// The plan step.
    pub step: i64,
    /// The plan version it came from.
    pub plan_version: i64,
    /// The artifact's tier.
    pub tier: String,
    /// The artifact's key.
    pub artifact: String,
    /// The provider.
    pub provider: String,
    /// `identity` or the credential kind.
    pub target_kind: String,
    /// The provider's reference.
    pub native_id: String,
    /// The operation.
    pub action: ActionKind,
    /// Keys that must be verified first.
    pub after: Vec<String>,
    /// The exact request.
    pub request: String,
    /// Where it stands.
    pub state: ActionState,
    /// How many times it was sent.
    pub attempts: i64,
    /// Whether the provider said it changed something (known once done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
    /// The provider's answer or the reason it failed, redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The process holding it while in flight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// When its last attempt was claimed: while in flight, since when it is held; once done,
    /// a time no later than the act that did it began (what a later probe measures a
    /// session cut-off against).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<Timestamp>,
    /// Not to be sent again before this time (backoff after a retryable failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    /// Last change.
    pub updated_at: Timestamp,
    /// The journal entry of its last change.
    pub journal: i64,
}

/// How an in-flight action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// The provider took it.
    Done {
        /// Whether anything changed (false: it was already so).
        changed: bool,
        /// What was sent and answered (no secret).
        detail: String,
    },
    /// Failed for good (refused, forbidden, not supported): a person must look.
    Failed {
        /// Why.
        reason: String,
    },
    /// Nobody can do it through a connector.
    NeedsManual {
        /// Why, and what to do.
        reason: String,
    },
    /// Failed in a way worth trying again (unreachable, throttled): back to planned.
    RetryAfter {
        /// Why.
        reason: String,
        /// Not before.
        at: Timestamp,
    },
}

impl ActionOutcome {
    fn state(&self) -> ActionState {
        match self {
            ActionOutcome::Done { .. } => ActionState::Done,
            ActionOutcome::Failed { .. } => ActionState::Failed,
            ActionOutcome::NeedsManual { .. } => ActionState::NeedsManual,
            ActionOutcome::RetryAfter { .. } => ActionState::Planned,
        }
    }

    fn text(&self) -> &str {
        match self {
            ActionOutcome::Done { detail, .. } => detail,
            ActionOutcome::Failed { reason }
            | ActionOutcome::NeedsManual { reason }
            | ActionOutcome::RetryAfter { reason, .. } => reason,
        }
    }
}

/// The hex SHA-256 of a request or response, as the journal records it.
pub fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

const COLUMNS: &str = "key, step, plan_version, tier, artifact, provider, target_kind, native_id, \
                       action, after_keys, request, state, attempts, changed, result, claimed_by, \
                       claimed_at, not_before, updated_at, journal";

fn action_from_row(row: &AnyRow) -> Result<StoredAction, crate::StoreError> {
    Ok(StoredAction {
        key: text(row, "key")?,
        step: int(row, "step")?,
        plan_version: int(row, "plan_version")?,
        tier: text(row, "tier")?,
        artifact: text(row, "artifact")?,
        provider: text(row, "provider")?,
        target_kind: text(row, "target_kind")?,
        native_id: text(row, "native_id")?,
        action: parsed(row, "action")?,
        after: json_column(row, "after_keys")?,
        request: text(row, "request")?,
        state: parsed(row, "state")?,
        attempts: int(row, "attempts")?,
        changed: row.opt_int("changed")?.map(|v| v != 0),
        result: opt_text(row, "result")?,
        claimed_by: opt_text(row, "claimed_by")?,
        claimed_at: opt_time(row, "claimed_at")?,
        not_before: opt_time(row, "not_before")?,
        updated_at: required_time(row, "updated_at")?,
        journal: int(row, "journal")?,
    })
}

impl Store {
    /// Adds the actions of a plan to an open incident; an action whose key is already there is
    /// left exactly as it is (so a re-run never resets progress). Returns how many were new.
    pub async fn add_actions(
        &self,
        name: &str,
        actions: &[NewAction],
        now: Timestamp,
    ) -> Result<usize, IncidentError> {
        let (mut tx, reservation, _) = self
            .begin_incident_change(name, "begin adding actions")
            .await?;
        let mut added = Vec::new();
        for a in actions {
            let done = sqlx::query(&placeholders(
                self.backend(),
                "INSERT INTO incident_actions (incident, key, step, plan_version, tier, artifact, \
                 provider, target_kind, native_id, action, after_keys, request, state, attempts, \
                 updated_at, journal) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'planned', 0, ?, ?) \
                 ON CONFLICT (incident, key) DO NOTHING",
            ))
            .bind(name.to_string())
            .bind(a.key.clone())
            .bind(a.step)
            .bind(a.plan_version)
            .bind(a.tier.clone())
            .bind(a.artifact.clone())
            .bind(a.provider.clone())
            .bind(a.target_kind.clone())
            .bind(a.native_id.clone())
            .bind(a.action.as_str())
            .bind(serde_json::to_string(&a.after).unwrap_or_else(|_| "[]".into()))
            .bind(a.request.clone())
            .bind(time_text(now))
            .bind(reservation.seq)
            .execute(&mut *tx)
            .await
            .map_err(query("store an action"))?;
            if done.rows_affected() > 0 {
                added.push(a.key.as_str());
            }
        }
        if added.is_empty() {
            tx.rollback()
                .await
                .map_err(query("end adding no actions"))?;
            return Ok(0);
        }
        let body = serde_json::json!({ "added": added.len(), "keys": added });
        self.finish_incident_change(tx, reservation, name, "incident.actions", &body, now)
            .await?;
        Ok(added.len())
    }

    /// Every action of an incident, in plan order.
    pub async fn actions_of(&self, name: &str) -> Result<Vec<StoredAction>, crate::StoreError> {
        sqlx::query(&placeholders(
            self.backend(),
            &format!(
                "SELECT {COLUMNS} FROM incident_actions WHERE incident = ? ORDER BY step, key"
            ),
        ))
        .bind(name.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(query("read actions"))?
        .iter()
        .map(action_from_row)
        .collect()
    }

    /// Takes up to `limit` planned actions of `provider` that are due, are not in `skip`, and
    /// that no other process holds, in plan order, and marks them in flight for `holder` —
    /// one transaction, one journal entry each (with the request's digest). Empty when there
    /// is nothing left to take. Taking a few at a time keeps the store's commits (each one a
    /// disk flush on PostgreSQL) from limiting how fast a provider can be worked.
    pub async fn claim_actions(
        &self,
        name: &str,
        provider: &str,
        holder: &str,
        skip: &BTreeSet<String>,
        limit: usize,
        now: Timestamp,
    ) -> Result<Vec<StoredAction>, IncidentError> {
        let (mut tx, first, _) = self
            .begin_incident_change(name, "begin claiming actions")
            .await?;
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut after: (i64, String) = (i64::MIN, String::new());
        let mut chosen: Vec<StoredAction> = Vec::new();
        while chosen.len() < limit {
            let rows = sqlx::query(&placeholders(
                self.backend(),
                &format!(
                    "SELECT {COLUMNS} FROM incident_actions WHERE incident = ? AND provider = ? \
                     AND state = 'planned' AND (not_before IS NULL OR not_before <= ?) \
                     AND (step > ? OR (step = ? AND key > ?)) \
                     ORDER BY step, key LIMIT 64{lock}"
                ),
            ))
            .bind(name.to_string())
            .bind(provider.to_string())
            .bind(time_text(now))
            .bind(after.0)
            .bind(after.0)
            .bind(after.1.clone())
            .fetch_all(&mut *tx)
            .await
            .map_err(query("find actions to take"))?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let a = action_from_row(row)?;
                after = (a.step, a.key.clone());
                if !skip.contains(&a.key) && chosen.len() < limit {
                    chosen.push(a);
                }
            }
        }
        if chosen.is_empty() {
            tx.rollback().await.map_err(query("end an empty claim"))?;
            return Ok(Vec::new());
        }
        let mut reservation = Some(first);
        for action in &mut chosen {
            let place = match reservation.take() {
                Some(r) => r,
                None => journal::reserve(&mut tx).await?,
            };
            sqlx::query(&placeholders(
                self.backend(),
                "UPDATE incident_actions SET state = 'in_flight', attempts = attempts + 1, \
                 claimed_by = ?, claimed_at = ?, updated_at = ?, journal = ? \
                 WHERE incident = ? AND key = ?",
            ))
            .bind(holder.to_string())
            .bind(time_text(now))
            .bind(time_text(now))
            .bind(place.seq)
            .bind(name.to_string())
            .bind(action.key.clone())
            .execute(&mut *tx)
            .await
            .map_err(query("claim an action"))?;
            action.state = ActionState::InFlight;
            action.attempts += 1;
            action.claimed_by = Some(holder.to_string());
            action.claimed_at = Some(now);
            action.journal = place.seq;
            let body = serde_json::json!({
                "key": action.key,
                "artifact": action.artifact,
                "provider": action.provider,
                "action": action.action,
                "target": action.native_id,
                "attempt": action.attempts,
                "holder": holder,
                "request_digest": digest(&action.request),
            });
            journal::write(&mut tx, place, now, "action.start", name, &body).await?;
        }
        self.end_actions_change(tx, name, chosen.last().map_or(0, |a| a.journal), now)
            .await?;
        Ok(chosen)
    }

    /// Records how actions `holder` had in flight ended — one transaction, one journal entry
    /// each (with the response's digest). Refused, and nothing recorded, when `holder` no
    /// longer holds one of them (another run took it over).
    pub async fn finish_actions(
        &self,
        name: &str,
        holder: &str,
        outcomes: &[(String, ActionOutcome)],
        now: Timestamp,
    ) -> Result<(), IncidentError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let (mut tx, first, _) = self
            .begin_incident_change(name, "begin finishing actions")
            .await?;
        let mut reservation = Some(first);
        let mut last = 0;
        for (key, outcome) in outcomes {
            let place = match reservation.take() {
                Some(r) => r,
                None => journal::reserve(&mut tx).await?,
            };
            last = place.seq;
            let (changed, not_before) = match outcome {
                ActionOutcome::Done { changed, .. } => (Some(i64::from(*changed)), None),
                ActionOutcome::RetryAfter { at, .. } => (None, Some(time_text(*at))),
                _ => (None, None),
            };
            let state = outcome.state();
            let updated = sqlx::query(&placeholders(
                self.backend(),
                "UPDATE incident_actions SET state = ?, changed = ?, result = ?, not_before = ?, \
                 claimed_by = NULL, updated_at = ?, journal = ? \
                 WHERE incident = ? AND key = ? AND state = 'in_flight' AND claimed_by = ?",
            ))
            .bind(state.as_str())
            .bind(changed)
            .bind(outcome.text().to_string())
            .bind(not_before)
            .bind(time_text(now))
            .bind(place.seq)
            .bind(name.to_string())
            .bind(key.clone())
            .bind(holder.to_string())
            .execute(&mut *tx)
            .await
            .map_err(query("finish an action"))?;
            if updated.rows_affected() == 0 {
                tx.rollback().await.map_err(query("end a lost action"))?;
                return Err(IncidentError::TakenOver {
                    key: key.clone(),
                    holder: holder.to_string(),
                });
            }
            let kind = match state {
                ActionState::Done => "action.done",
                ActionState::Failed => "action.failed",
                ActionState::NeedsManual => "action.needs_manual",
                _ => "action.retry",
            };
            let mut body = serde_json::json!({
                "key": key,
                "state": state,
                "response_digest": digest(outcome.text()),
                "result": outcome.text(),
            });
            if let ActionOutcome::Done { changed, .. } = outcome {
                body["changed"] = serde_json::Value::Bool(*changed);
            }
            journal::write(&mut tx, place, now, kind, name, &body).await?;
        }
        self.end_actions_change(tx, name, last, now).await
    }

    /// The incident's last change, then the commit, for a transaction that wrote its journal
    /// entries (the last one `last`).
    pub(crate) async fn end_actions_change(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        name: &str,
        last: i64,
        now: Timestamp,
    ) -> Result<(), IncidentError> {
        sqlx::query(&placeholders(
            self.backend(),
            "UPDATE incidents SET updated_at = ?, last_journal = ? WHERE name = ?",
        ))
        .bind(time_text(now))
        .bind(last)
        .bind(name.to_string())
        .execute(&mut *tx)
        .await
        .map_err(query("update an incident"))?;
        tx.commit().await.map_err(query("commit actions"))?;
        Ok(())
    }

    /// Puts an action back to planned: an in-flight action whose holder is gone (`from`
    /// `in_flight`, `holder` given), or a failed or needs-manual one that a new run should try
    /// again — with `request`, when what it will send is new (a connector configured since, a
    /// secret handed over). Returns false when it was not in that state (someone else moved
    /// it).
    #[allow(clippy::too_many_arguments)]
    pub async fn reopen_action(
        &self,
        name: &str,
        key: &str,
        from: ActionState,
        holder: Option<&str>,
        request: Option<&str>,
        why: &str,
        now: Timestamp,
    ) -> Result<bool, IncidentError> {
        let (mut tx, reservation, _) = self
            .begin_incident_change(name, "begin reopening an action")
            .await?;
        let updated = sqlx::query(&placeholders(
            self.backend(),
            "UPDATE incident_actions SET state = 'planned', claimed_by = NULL, claimed_at = NULL, \
             not_before = NULL, request = COALESCE(?, request), updated_at = ?, journal = ? \
             WHERE incident = ? AND key = ? AND state = ? AND COALESCE(claimed_by, '') = ?",
        ))
        .bind(request.map(str::to_string))
        .bind(time_text(now))
        .bind(reservation.seq)
        .bind(name.to_string())
        .bind(key.to_string())
        .bind(from.as_str())
        .bind(holder.unwrap_or("").to_string())
        .execute(&mut *tx)
        .await
        .map_err(query("reopen an action"))?;
        if updated.rows_affected() == 0 {
            tx.rollback()
                .await
                .map_err(query("end an unchanged action"))?;
            return Ok(false);
        }
        let body = serde_json::json!({ "key": key, "from": from, "holder": holder, "why": why });
        self.finish_incident_change(tx, reservation, name, "action.reopen", &body, now)
            .await?;
        Ok(true)
    }
}
