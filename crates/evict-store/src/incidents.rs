//! Incidents as the store keeps them: the window, scope and indicators, and their status.
//! Opening an incident and every change to it is one transaction with its journal entry.

use evict_model::{Incident, IncidentStatus, Location};
use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::query;
use crate::hunts::placeholders;
use crate::inventory::{opt_time, parsed, text};
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
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

const COLUMNS: &str = "name, compromised_at, patched_at, scope, ioc_ips, ioc_user_agents, status, \
                       opened_at, updated_at, closed_at, first_journal, last_journal";

fn json_list(row: &AnyRow, column: &'static str) -> Result<Vec<String>, StoreError> {
    let value = text(row, column)?;
    serde_json::from_str(&value).map_err(|e| StoreError::Corrupt {
        what: column,
        value,
        reason: e.to_string(),
    })
}

fn required_time(row: &AnyRow, column: &'static str) -> Result<Timestamp, StoreError> {
    opt_time(row, column)?.ok_or_else(|| StoreError::Corrupt {
        what: column,
        value: String::new(),
        reason: "missing".into(),
    })
}

fn incident_from_row(row: &AnyRow) -> Result<StoredIncident, StoreError> {
    Ok(StoredIncident {
        incident: Incident {
            name: text(row, "name")?,
            compromised_at: required_time(row, "compromised_at")?,
            patched_at: opt_time(row, "patched_at")?,
            scope: json_list(row, "scope")?,
            ioc_ips: json_list(row, "ioc_ips")?,
            ioc_user_agents: json_list(row, "ioc_user_agents")?,
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
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query("begin changing an incident"))?;
        // Taking the journal place first makes this a write transaction from the start, so a
        // concurrent change waits instead of being lost.
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
            "UPDATE incidents SET scope = ?, updated_at = ?, last_journal = ? WHERE name = ?",
        ))
        .bind(list_json(&scope))
        .bind(time_text(now))
        .bind(reservation.seq)
        .bind(name.to_string())
        .execute(&mut *tx)
        .await
        .map_err(query("change an incident's scope"))?;
        let body = serde_json::json!({ "added": added, "removed": removed, "scope": scope });
        journal::write(&mut tx, reservation, now, "incident.scope", name, &body).await?;
        tx.commit()
            .await
            .map_err(query("commit an incident change"))?;
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
        let rows = sqlx::query("SELECT credential_id, location FROM secret_locations")
            .fetch_all(&self.pool)
            .await
            .map_err(query("read secret locations"))?;
        rows.iter()
            .map(|row| {
                let json = text(row, "location")?;
                let location = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                    what: "location",
                    value: json.clone(),
                    reason: e.to_string(),
                })?;
                Ok(LocatedSecret {
                    credential_id: text(row, "credential_id")?,
                    location,
                })
            })
            .collect()
    }
}
