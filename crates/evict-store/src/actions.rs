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
    /// Since when.
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

    /// Takes the next planned action of `provider` that is due, is not in `skip`, and that no
    /// other process holds, and marks it in flight for `holder` (journal: the request's
    /// digest). `None` when there is nothing left to take.
    pub async fn claim_action(
        &self,
        name: &str,
        provider: &str,
        holder: &str,
        skip: &BTreeSet<String>,
        now: Timestamp,
    ) -> Result<Option<StoredAction>, IncidentError> {
        let (mut tx, reservation, _) = self
            .begin_incident_change(name, "begin claiming an action")
            .await?;
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut after: (i64, String) = (i64::MIN, String::new());
        let chosen = loop {
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
            .map_err(query("find an action to take"))?;
            if rows.is_empty() {
                break None;
            }
            let actions = rows
                .iter()
                .map(action_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(a) = actions.iter().find(|a| !skip.contains(&a.key)) {
                break Some(a.clone());
            }
            let last = actions.last().map(|a| (a.step, a.key.clone()));
            after = last.unwrap_or(after);
        };
        let Some(mut action) = chosen else {
            tx.rollback().await.map_err(query("end an empty claim"))?;
            return Ok(None);
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
        .bind(reservation.seq)
        .bind(name.to_string())
        .bind(action.key.clone())
        .execute(&mut *tx)
        .await
        .map_err(query("claim an action"))?;
        action.state = ActionState::InFlight;
        action.attempts += 1;
        action.claimed_by = Some(holder.to_string());
        action.claimed_at = Some(now);
        action.journal = reservation.seq;
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
        self.finish_incident_change(tx, reservation, name, "action.start", &body, now)
            .await?;
        Ok(Some(action))
    }

    /// Records how an action `holder` had in flight ended (journal: the response's digest).
    /// Refused when `holder` no longer holds it — another run took it over.
    pub async fn finish_action(
        &self,
        name: &str,
        key: &str,
        holder: &str,
        outcome: &ActionOutcome,
        now: Timestamp,
    ) -> Result<i64, IncidentError> {
        let (mut tx, reservation, _) = self
            .begin_incident_change(name, "begin finishing an action")
            .await?;
        let (changed, not_before) = match outcome {
            ActionOutcome::Done { changed, .. } => (Some(i64::from(*changed)), None),
            ActionOutcome::RetryAfter { at, .. } => (None, Some(time_text(*at))),
            _ => (None, None),
        };
        let state = outcome.state();
        let updated = sqlx::query(&placeholders(
            self.backend(),
            "UPDATE incident_actions SET state = ?, changed = ?, result = ?, not_before = ?, \
             claimed_by = NULL, claimed_at = NULL, updated_at = ?, journal = ? \
             WHERE incident = ? AND key = ? AND state = 'in_flight' AND claimed_by = ?",
        ))
        .bind(state.as_str())
        .bind(changed)
        .bind(outcome.text().to_string())
        .bind(not_before)
        .bind(time_text(now))
        .bind(reservation.seq)
        .bind(name.to_string())
        .bind(key.to_string())
        .bind(holder.to_string())
        .execute(&mut *tx)
        .await
        .map_err(query("finish an action"))?;
        if updated.rows_affected() == 0 {
            tx.rollback().await.map_err(query("end a lost action"))?;
            return Err(IncidentError::TakenOver {
                key: key.to_string(),
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
        self.finish_incident_change(tx, reservation, name, kind, &body, now)
            .await
    }

    /// Puts an action back to planned: an in-flight action whose holder is gone (`from`
    /// `in_flight`, `holder` given), or a failed or needs-manual one that a new run should try
    /// again. Returns false when it was not in that state (someone else moved it).
    pub async fn reopen_action(
        &self,
        name: &str,
        key: &str,
        from: ActionState,
        holder: Option<&str>,
        why: &str,
        now: Timestamp,
    ) -> Result<bool, IncidentError> {
        let (mut tx, reservation, _) = self
            .begin_incident_change(name, "begin reopening an action")
            .await?;
        let updated = sqlx::query(&placeholders(
            self.backend(),
            "UPDATE incident_actions SET state = 'planned', claimed_by = NULL, claimed_at = NULL, \
             not_before = NULL, updated_at = ?, journal = ? \
             WHERE incident = ? AND key = ? AND state = ? AND COALESCE(claimed_by, '') = ?",
        ))
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
