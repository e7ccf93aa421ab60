//! Incidents as the store keeps them: the window, scope and indicators, and their status.
//! Opening an incident and every change to it is one transaction with its journal entry.

use evict_model::{Incident, IncidentStatus, Location};
use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::columns::{json_column, opt_time, parsed, required_time, text};
use crate::error::query;
use crate::hunts::placeholders;
use crate::journal;
use crate::text::{opt_time_text, time_text};
use crate::{Store, StoreError};

/// An incident with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredIncident {
    /// The incident.
    #[serde(flatten)]
    pub incident: Incident,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it was closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
    /// The journal entry that opened it.
    pub first_journal: i64,
    /// The journal entry of its last change.
    pub last_journal: i64,
}

/// Why the store would not take an incident change.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    /// The name is taken.
    #[error(
        "an incident named '{name}' already exists (opened {opened_at}); choose another name, or see it with `evict incident show {name}`"
    )]
    Exists {
        /// The name.
        name: String,
        /// When the existing one was opened.
        opened_at: Timestamp,
    },
    /// No incident has this name.
    #[error("no incident named '{0}'; `evict incident list` shows the incidents in this store")]
    NotFound(String),
    /// A closed incident cannot change.
    #[error(
        "incident '{0}' is closed; a closed incident does not change (open a new one for new findings)"
    )]
    Closed(String),
    /// An in-flight action is no longer held by the process finishing it.
    #[error(
        "action {key} is no longer held by {holder}: another run took it over (its holder looked dead); the other run's result stands"
    )]
    TakenOver {
        /// The action's idempotency key.
        key: String,
        /// Who thought it held it.
        holder: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

const COLUMNS: &str = "name, compromised_at, patched_at, scope, ioc_ips, ioc_user_agents, status, \
                       opened_at, updated_at, closed_at, first_journal, last_journal";

fn incident_from_row(row: &AnyRow) -> Result<StoredIncident, StoreError> {
    Ok(StoredIncident {
        incident: Incident {
            name: text(row, "name")?,
            compromised_at: required_time(row, "compromised_at")?,
            patched_at: opt_time(row, "patched_at")?,
            scope: json_column(row, "scope")?,
            ioc_ips: json_column(row, "ioc_ips")?,
            ioc_user_agents: json_column(row, "ioc_user_agents")?,
            status: parsed::<IncidentStatus>(row, "status")?,
        },
        opened_at: required_time(row, "opened_at")?,
        updated_at: required_time(row, "updated_at")?,
        closed_at: opt_time(row, "closed_at")?,
        first_journal: row.try_get("first_journal").map_err(query("read a row"))?,
        last_journal: row.try_get("last_journal").map_err(query("read a row"))?,
    })
}

fn list_json(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// A secret location with the credential it belongs to, for matching scope references.
#[derive(Debug, Clone)]
pub struct LocatedSecret {
    /// The credential the secret is.
    pub credential_id: String,
    /// Where it was seen.
    pub location: Location,
    /// The scanner rule that named it there.
    pub rule: String,
}

impl Store {
    /// Opens an incident. Its name must be new; the caller has checked the window and
    /// resolved the scope.
    pub async fn open_incident(
        &self,
        incident: &Incident,
        now: Timestamp,
    ) -> Result<StoredIncident, IncidentError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query("begin opening an incident"))?;
        let existing = sqlx::query(&placeholders(
            self.backend(),
            &format!("SELECT {COLUMNS} FROM incidents WHERE name = ?"),
        ))
        .bind(incident.name.clone())
        .fetch_optional(&mut *tx)
        .await
        .map_err(query("look for an incident"))?;
        if let Some(row) = existing {
            let existing = incident_from_row(&row)?;
            return Err(IncidentError::Exists {
                name: incident.name.clone(),
                opened_at: existing.opened_at,
            });
        }
        let reservation = journal::reserve(&mut tx).await?;
        let seq = reservation.seq;
        sqlx::query(&placeholders(
            self.backend(),
            &format!(
                "INSERT INTO incidents ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
        ))
        .bind(incident.name.clone())
        .bind(time_text(incident.compromised_at))
        .bind(opt_time_text(incident.patched_at))
        .bind(list_json(&incident.scope))
        .bind(list_json(&incident.ioc_ips))
        .bind(list_json(&incident.ioc_user_agents))
        .bind(incident.status.as_str())
        .bind(time_text(now))
        .bind(time_text(now))
        .bind(None::<String>)
        .bind(seq)
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(query("store an incident"))?;
        let body = serde_json::to_value(incident).unwrap_or_default();
        journal::write(
            &mut tx,
            reservation,
            now,
            "incident.open",
            &incident.name,
            &body,
        )
        .await?;
        tx.commit().await.map_err(query("commit an incident"))?;
        self.incident(&incident.name)
            .await?
            .ok_or_else(|| IncidentError::NotFound(incident.name.clone()))
    }

    /// One incident by name.
    pub async fn incident(&self, name: &str) -> Result<Option<StoredIncident>, StoreError> {
        sqlx::query(&placeholders(
            self.backend(),
            &format!("SELECT {COLUMNS} FROM incidents WHERE name = ?"),
        ))
        .bind(name.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(query("read an incident"))?
        .map(|row| incident_from_row(&row))
        .transpose()
    }

    /// Every incident, newest first.
    pub async fn incidents(&self) -> Result<Vec<StoredIncident>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM incidents ORDER BY opened_at DESC, name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(query("list incidents"))?
        .iter()
        .map(incident_from_row)
        .collect()
    }

    /// Adds and removes scope references (already resolved by the caller). Nothing changes,
    /// and no journal entry is written, when the scope would stay the same.
    pub async fn change_incident_scope(
        &self,
        name: &str,
        add: &[String],
        remove: &[String],
        now: Timestamp,
    ) -> Result<(StoredIncident, bool), IncidentError> {
        let (mut tx, reservation, current) = self
            .begin_incident_change(name, "begin changing an incident")
            .await?;
        let mut scope = current.incident.scope.clone();
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for r in remove {
            if let Some(at) = scope.iter().position(|s| s == r) {
                scope.remove(at);
                removed.push(r.clone());
            }
        }
        for a in add {
            if !scope.contains(a) {
                scope.push(a.clone());
                added.push(a.clone());
            }
        }
        if added.is_empty() && removed.is_empty() {
            tx.rollback()
                .await
                .map_err(query("end an unchanged incident"))?;
            return Ok((current, false));
        }
        sqlx::query(&placeholders(
            self.backend(),
            "UPDATE incidents SET scope = ? WHERE name = ?",
        ))
        .bind(list_json(&scope))
        .bind(name.to_string())
        .execute(&mut *tx)
        .await
        .map_err(query("change an incident's scope"))?;
        let body = serde_json::json!({ "added": added, "removed": removed, "scope": scope });
        self.finish_incident_change(tx, reservation, name, "incident.scope", &body, now)
            .await?;
        let changed = self
            .incident(name)
            .await?
            .ok_or_else(|| IncidentError::NotFound(name.to_string()))?;
        Ok((changed, true))
    }

    /// Whether any identity of `provider` is in the inventory.
    pub async fn provider_known(&self, provider: &str) -> Result<bool, StoreError> {
        let found: Option<String> = sqlx::query_scalar(&placeholders(
            self.backend(),
            "SELECT provider FROM identities WHERE provider = ? \
             UNION ALL SELECT provider FROM credentials WHERE provider = ? LIMIT 1",
        ))
        .bind(provider.to_string())
        .bind(provider.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(query("look for a provider"))?;
        Ok(found.is_some())
    }

    /// Every stored secret location, with its credential.
    pub async fn secret_locations(&self) -> Result<Vec<LocatedSecret>, StoreError> {
        let rows = sqlx::query("SELECT credential_id, location, rule_id FROM secret_locations")
            .fetch_all(&self.pool)
            .await
            .map_err(query("read secret locations"))?;
        rows.iter()
            .map(|row| {
                let location = json_column(row, "location")?;
                Ok(LocatedSecret {
                    credential_id: text(row, "credential_id")?,
                    location,
                    rule: text(row, "rule_id")?,
                })
            })
            .collect()
    }
}

/// A stored plan version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredPlan {
    /// 1, 2, …: a new version only when the content changed.
    pub version: i64,
    /// When this version was made.
    pub made_at: Timestamp,
    /// Digest of the policy that tiered it.
    pub policy_digest: String,
    /// Digest of its content.
    pub content_digest: String,
    /// The plan as JSON (evict-incident's `Plan`).
    pub plan: serde_json::Value,
    /// Its journal entry.
    pub journal: i64,
}

/// Evidence about one artifact: a probe's verdict or a person's attestation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvidence {
    /// The artifact key.
    pub artifact: String,
    /// The verdict.
    pub verdict: evict_model::EvidenceVerdict,
    /// Who (a person for attestations, a connector for probes).
    pub by: String,
    /// What was checked or said.
    pub detail: String,
    /// When.
    pub at: Timestamp,
    /// Its journal entry.
    pub journal: i64,
}

/// An exception: an artifact left as it is, owned, approved and time-limited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredException {
    /// The artifact key.
    pub artifact: String,
    /// Who answers for it.
    pub owner: String,
    /// Who approved it (never the owner).
    pub approver: String,
    /// Why.
    pub reason: String,
    /// When it ends (for an irrevocable artifact, its natural expiry).
    pub expires_at: Timestamp,
    /// When it was granted.
    pub at: Timestamp,
    /// Its journal entry.
    pub journal: i64,
}

impl Store {
    /// Starts a change to an open incident: a write transaction that holds the next journal
    /// place from the start (so a concurrent change waits instead of being lost), with the
    /// incident as it stands. A closed incident is refused.
    pub(crate) async fn begin_incident_change(
        &self,
        name: &str,
        what: &'static str,
    ) -> Result<
        (
            sqlx::Transaction<'static, sqlx::Any>,
            journal::Reservation,
            StoredIncident,
        ),
        IncidentError,
    > {
        let mut tx = self.pool.begin().await.map_err(query(what))?;
        let reservation = journal::reserve(&mut tx).await?;
        let row = sqlx::query(&placeholders(
            self.backend(),
            &format!("SELECT {COLUMNS} FROM incidents WHERE name = ?"),
        ))
        .bind(name.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(query("read an incident"))?;
        let Some(row) = row else {
            return Err(IncidentError::NotFound(name.to_string()));
        };
        let current = incident_from_row(&row)?;
        if current.incident.status == IncidentStatus::Closed {
            return Err(IncidentError::Closed(name.to_string()));
        }
        Ok((tx, reservation, current))
    }

    /// Ends a change begun with [`Store::begin_incident_change`]: the incident's last change,
    /// its journal entry (`kind`, `body`) and the commit. Returns the entry's number.
    pub(crate) async fn finish_incident_change(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        reservation: journal::Reservation,
        name: &str,
        kind: &str,
        body: &serde_json::Value,
        now: Timestamp,
    ) -> Result<i64, IncidentError> {
        let seq = reservation.seq;
        journal::write(&mut tx, reservation, now, kind, name, body).await?;
        self.end_actions_change(tx, name, seq, now).await?;
        Ok(seq)
    }

    /// Stores a plan as the incident's next version, unless the latest version has the same
    /// content. `plan` is the plan as JSON text (serialised once by the caller: a large
    /// incident's plan is tens of megabytes). Returns the version in force and whether a new
    /// one was written.
    pub async fn store_plan(
        &self,
        name: &str,
        plan: String,
        policy_digest: &str,
        content_digest: &str,
        now: Timestamp,
    ) -> Result<(i64, bool), IncidentError> {
        let (mut tx, reservation, _) = self
            .begin_incident_change(name, "begin storing a plan")
            .await?;
        let latest = sqlx::query(&placeholders(
            self.backend(),
            "SELECT version, content_digest FROM incident_plans WHERE incident = ? \
             ORDER BY version DESC LIMIT 1",
        ))
        .bind(name.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(query("read the latest plan"))?;
        let (version, same) = match latest {
            Some(row) => {
                let v: i64 = row.try_get("version").map_err(query("read a plan"))?;
                (v, text(&row, "content_digest")? == content_digest)
            }
            None => (0, false),
        };
        if same {
            tx.rollback()
                .await
                .map_err(query("end an unchanged plan"))?;
            return Ok((version, false));
        }
        let version = version + 1;
        sqlx::query(&placeholders(
            self.backend(),
            "INSERT INTO incident_plans (incident, version, made_at, policy_digest, \
             content_digest, plan, journal) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(name.to_string())
        .bind(version)
        .bind(time_text(now))
        .bind(policy_digest.to_string())
        .bind(content_digest.to_string())
        .bind(plan)
        .bind(reservation.seq)
        .execute(&mut *tx)
        .await
        .map_err(query("store a plan"))?;
        let body = serde_json::json!({
            "version": version,
            "policy_digest": policy_digest,
            "content_digest": content_digest,
        });
        self.finish_incident_change(tx, reservation, name, "incident.plan", &body, now)
            .await?;
        Ok((version, true))
    }

    /// The incident's latest plan.
    pub async fn latest_plan(&self, name: &str) -> Result<Option<StoredPlan>, StoreError> {
        let row = sqlx::query(&placeholders(
            self.backend(),
            "SELECT version, made_at, policy_digest, content_digest, plan, journal \
             FROM incident_plans WHERE incident = ? ORDER BY version DESC LIMIT 1",
        ))
        .bind(name.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(query("read the latest plan"))?;
        row.map(|row| {
            Ok(StoredPlan {
                version: row.try_get("version").map_err(query("read a plan"))?,
                made_at: required_time(&row, "made_at")?,
                policy_digest: text(&row, "policy_digest")?,
                content_digest: text(&row, "content_digest")?,
                plan: json_column(&row, "plan")?,
                journal: row.try_get("journal").map_err(query("read a plan"))?,
            })
        })
        .transpose()
    }

    /// Records evidence about an artifact of an open incident.
    pub async fn record_evidence(
        &self,
        name: &str,
        evidence: &StoredEvidence,
        now: Timestamp,
    ) -> Result<i64, IncidentError> {
        let (mut tx, reservation, _) = self
            .begin_incident_change(name, "begin recording evidence")
            .await?;
        let seq = reservation.seq;
        sqlx::query(&placeholders(
            self.backend(),
            "INSERT INTO incident_evidence (incident, artifact, verdict, by_whom, detail, at, journal) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(name.to_string())
        .bind(evidence.artifact.clone())
        .bind(evidence.verdict.as_str())
        .bind(evidence.by.clone())
        .bind(evidence.detail.clone())
        .bind(time_text(evidence.at))
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(query("store evidence"))?;
        let body = serde_json::json!({
            "artifact": evidence.artifact,
            "verdict": evidence.verdict,
            "by": evidence.by,
            "detail": evidence.detail,
        });
        self.finish_incident_change(tx, reservation, name, "incident.evidence", &body, now)
            .await
    }

    /// Every piece of evidence of an incident, oldest first.
    pub async fn evidence_of(&self, name: &str) -> Result<Vec<StoredEvidence>, StoreError> {
        sqlx::query(&placeholders(
            self.backend(),
            "SELECT artifact, verdict, by_whom, detail, at, journal FROM incident_evidence \
             WHERE incident = ? ORDER BY journal",
        ))
        .bind(name.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(query("read evidence"))?
        .iter()
        .map(|row| {
            Ok(StoredEvidence {
                artifact: text(row, "artifact")?,
                verdict: parsed(row, "verdict")?,
                by: text(row, "by_whom")?,
                detail: text(row, "detail")?,
                at: required_time(row, "at")?,
                journal: row.try_get("journal").map_err(query("read evidence"))?,
            })
        })
        .collect()
    }

    /// Grants (or replaces) an exception for an artifact of an open incident.
    pub async fn record_exception(
        &self,
        name: &str,
        exception: &StoredException,
        now: Timestamp,
    ) -> Result<i64, IncidentError> {
        let (mut tx, reservation, _) = self
            .begin_incident_change(name, "begin recording an exception")
            .await?;
        let seq = reservation.seq;
        sqlx::query(&placeholders(
            self.backend(),
            "DELETE FROM incident_exceptions WHERE incident = ? AND artifact = ?",
        ))
        .bind(name.to_string())
        .bind(exception.artifact.clone())
        .execute(&mut *tx)
        .await
        .map_err(query("replace an exception"))?;
        sqlx::query(&placeholders(
            self.backend(),
            "INSERT INTO incident_exceptions (incident, artifact, owner, approver, reason, \
             expires_at, at, journal) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(name.to_string())
        .bind(exception.artifact.clone())
        .bind(exception.owner.clone())
        .bind(exception.approver.clone())
        .bind(exception.reason.clone())
        .bind(time_text(exception.expires_at))
        .bind(time_text(exception.at))
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(query("store an exception"))?;
        let body = serde_json::json!({
            "artifact": exception.artifact,
            "owner": exception.owner,
            "approver": exception.approver,
            "reason": exception.reason,
            "expires_at": exception.expires_at,
        });
        self.finish_incident_change(tx, reservation, name, "incident.exception", &body, now)
            .await
    }

    /// The exceptions of an incident.
    pub async fn exceptions_of(&self, name: &str) -> Result<Vec<StoredException>, StoreError> {
        sqlx::query(&placeholders(
            self.backend(),
            "SELECT artifact, owner, approver, reason, expires_at, at, journal \
             FROM incident_exceptions WHERE incident = ? ORDER BY artifact",
        ))
        .bind(name.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(query("read exceptions"))?
        .iter()
        .map(|row| {
            Ok(StoredException {
                artifact: text(row, "artifact")?,
                owner: text(row, "owner")?,
                approver: text(row, "approver")?,
                reason: text(row, "reason")?,
                expires_at: required_time(row, "expires_at")?,
                at: required_time(row, "at")?,
                journal: row.try_get("journal").map_err(query("read exceptions"))?,
            })
        })
        .collect()
    }

    /// Closes an incident; `gate` is what the closure gate saw, kept in the journal entry.
    pub async fn close_incident(
        &self,
        name: &str,
        gate: &serde_json::Value,
        now: Timestamp,
    ) -> Result<StoredIncident, IncidentError> {
        let (mut tx, reservation, _) = self
            .begin_incident_change(name, "begin closing an incident")
            .await?;
        sqlx::query(&placeholders(
            self.backend(),
            "UPDATE incidents SET status = 'closed', closed_at = ? WHERE name = ?",
        ))
        .bind(time_text(now))
        .bind(name.to_string())
        .execute(&mut *tx)
        .await
        .map_err(query("close an incident"))?;
        self.finish_incident_change(tx, reservation, name, "incident.close", gate, now)
            .await?;
        self.incident(name)
            .await?
            .ok_or_else(|| IncidentError::NotFound(name.to_string()))
    }
}
