//! Secrets found by a scan: each becomes (or joins) a credential, keyed by fingerprint, with
//! one row per place it was seen. Only fingerprints, previews and locations are written.

use evict_model::{
    Confidence, Credential, CredentialKind, Fingerprint, Liveness, LivenessState, Location,
    Provider,
};
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};

use crate::error::query;
use crate::inventory::upsert_credentials;
use crate::journal;
use crate::text::time_text;
use crate::{Backend, Store, StoreError};

/// One secret from a scan, as the store keeps it: no plaintext.
#[derive(Debug, Clone)]
pub struct ScannedSecret {
    /// Issuer, from the rule.
    pub provider: Provider,
    /// Credential kind, from the rule.
    pub kind: CredentialKind,
    /// The rule that named it.
    pub rule: String,
    /// The rule's confidence.
    pub confidence: Confidence,
    /// Keyed fingerprint.
    pub fingerprint: Fingerprint,
    /// Redacted preview.
    pub preview: String,
    /// A non-secret provider id (an AWS access key id), when the scan saw one.
    pub native_id: Option<String>,
    /// Expiry the secret itself carries.
    pub expires_at: Option<Timestamp>,
    /// Every place it was seen.
    pub locations: Vec<Location>,
    /// What its issuer answered when asked whether it still works (`scan --verify`).
    pub liveness: Option<Liveness>,
}

/// What recording a scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanStoreSummary {
    /// Secrets the store did not know: new credentials.
    pub credentials_new: u64,
    /// Secrets attached to an inventory credential with the same provider id.
    pub credentials_linked: u64,
    /// Secrets already known by fingerprint.
    pub credentials_known: u64,
    /// Places not seen before.
    pub locations_new: u64,
    /// Places seen before (their last-seen time moves).
    pub locations_again: u64,
    /// Liveness answers recorded (`scan --verify`).
    #[serde(skip_serializing_if = "is_zero")]
    pub liveness_recorded: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn location_kind(location: &Location) -> &'static str {
    match location {
        Location::File { .. } => "file",
        Location::Git { .. } => "git",
        Location::Message { .. } => "message",
    }
}

impl Store {
    /// Records a scan's secrets and their locations in one transaction with one journal entry.
    ///
    /// A secret joins the credential that already has its fingerprint; else the inventory
    /// credential with the same provider and native id (learning its fingerprint); else it
    /// becomes a new credential whose external key is its native id or `secret:<fingerprint>`.
    pub async fn record_scan(
        &self,
        secrets: &[ScannedSecret],
        now: Timestamp,
    ) -> Result<ScanStoreSummary, StoreError> {
        let mut summary = ScanStoreSummary::default();
        if secrets.is_empty() {
            return Ok(summary);
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query("begin storing a scan"))?;
        let reservation = journal::reserve(&mut tx).await?;
        let marker = reservation.seq;
        let at = time_text(now);
        let mut digest = Sha256::new();
        for secret in secrets {
            let credential_id = self
                .credential_for(&mut tx, secret, marker, &at, &mut summary)
                .await?;
            for location in &secret.locations {
                let json = serde_json::to_string(location).unwrap_or_default();
                let key = hex::encode(&Sha256::digest(json.as_bytes())[..16]);
                let sql = match self.backend() {
                    Backend::Sqlite => {
                        "INSERT INTO secret_locations (credential_id, location_key, rule_id, confidence, kind, \
                         location, first_seen, last_seen, first_journal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (credential_id, location_key) DO UPDATE SET last_seen = excluded.last_seen \
                         RETURNING first_journal"
                    }
                    Backend::Postgres => {
                        "INSERT INTO secret_locations (credential_id, location_key, rule_id, confidence, kind, \
                         location, first_seen, last_seen, first_journal) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                         ON CONFLICT (credential_id, location_key) DO UPDATE SET last_seen = excluded.last_seen \
                         RETURNING first_journal"
                    }
                };
                let first: i64 = sqlx::query(sql)
                    .bind(credential_id.clone())
                    .bind(key.clone())
                    .bind(secret.rule.clone())
                    .bind(secret.confidence.as_str())
                    .bind(location_kind(location))
                    .bind(json)
                    .bind(at.clone())
                    .bind(at.clone())
                    .bind(marker)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(query("store a secret location"))?
                    .try_get("first_journal")
                    .map_err(query("read back a secret location"))?;
                if first == marker {
                    summary.locations_new += 1;
                } else {
                    summary.locations_again += 1;
                }
                digest.update(credential_id.as_bytes());
                digest.update(b":");
                digest.update(key.as_bytes());
                digest.update(b"\n");
            }
            if let Some(liveness) = &secret.liveness {
                let sql = match self.backend() {
                    Backend::Sqlite => {
                        "INSERT INTO secret_liveness (credential_id, checked_at, liveness, reason, \
                         journal_seq) VALUES (?, ?, ?, ?, ?) ON CONFLICT (credential_id, checked_at) \
                         DO UPDATE SET liveness = excluded.liveness, reason = excluded.reason"
                    }
                    Backend::Postgres => {
                        "INSERT INTO secret_liveness (credential_id, checked_at, liveness, reason, \
                         journal_seq) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id, checked_at) \
                         DO UPDATE SET liveness = excluded.liveness, reason = excluded.reason"
                    }
                };
                sqlx::query(sql)
                    .bind(credential_id.clone())
                    .bind(at.clone())
                    .bind(liveness.state.as_str())
                    .bind(liveness.reason.clone())
                    .bind(marker)
                    .execute(&mut *tx)
                    .await
                    .map_err(query("store a secret's liveness"))?;
                summary.liveness_recorded += 1;
                digest.update(credential_id.as_bytes());
                digest.update(b":liveness:");
                digest.update(liveness.state.as_str().as_bytes());
                digest.update(b"\n");
            }
        }
        let count = |state: LivenessState| {
            secrets
                .iter()
                .filter(|s| s.liveness.as_ref().is_some_and(|l| l.state == state))
                .count()
        };
        let mut body = serde_json::json!({
            "secrets": secrets.len(),
            "credentials_new": summary.credentials_new,
            "credentials_linked": summary.credentials_linked,
            "locations_new": summary.locations_new,
            "locations_again": summary.locations_again,
            "changes_sha256": hex::encode(digest.finalize()),
        });
        if summary.liveness_recorded > 0 {
            body["liveness"] = serde_json::json!({
                "live": count(LivenessState::Live),
                "dead": count(LivenessState::Dead),
                "unknown": count(LivenessState::Unknown),
            });
        }
        journal::write(&mut tx, reservation, now, "scan.store", "scan", &body).await?;
        tx.commit().await.map_err(query("commit a scan"))?;
        Ok(summary)
    }

    async fn credential_for(
        &self,
        tx: &mut Transaction<'_, Any>,
        secret: &ScannedSecret,
        marker: i64,
        at: &str,
        summary: &mut ScanStoreSummary,
    ) -> Result<String, StoreError> {
        let sqlite = self.backend() == Backend::Sqlite;
        let by_fingerprint = if sqlite {
            "SELECT id FROM credentials WHERE fingerprint = ? ORDER BY id LIMIT 1"
        } else {
            "SELECT id FROM credentials WHERE fingerprint = $1 ORDER BY id LIMIT 1"
        };
        if let Some(id) = sqlx::query_scalar::<Any, String>(by_fingerprint)
            .bind(secret.fingerprint.as_str().to_string())
            .fetch_optional(&mut **tx)
            .await
            .map_err(query("look up a credential by fingerprint"))?
        {
            summary.credentials_known += 1;
            return Ok(id);
        }
        if let Some(native_id) = &secret.native_id {
            let by_native = if sqlite {
                "SELECT id FROM credentials WHERE provider = ? AND native_id = ? ORDER BY id LIMIT 1"
            } else {
                "SELECT id FROM credentials WHERE provider = $1 AND native_id = $2 ORDER BY id LIMIT 1"
            };
            if let Some(id) = sqlx::query_scalar::<Any, String>(by_native)
                .bind(secret.provider.as_str().to_string())
                .bind(native_id.clone())
                .fetch_optional(&mut **tx)
                .await
                .map_err(query("look up a credential by provider id"))?
            {
                let learn = if sqlite {
                    "UPDATE credentials SET fingerprint = COALESCE(fingerprint, ?), \
                     preview = COALESCE(preview, ?), updated_at = ? WHERE id = ?"
                } else {
                    "UPDATE credentials SET fingerprint = COALESCE(fingerprint, $1), \
                     preview = COALESCE(preview, $2), updated_at = $3 WHERE id = $4"
                };
                sqlx::query(learn)
                    .bind(secret.fingerprint.as_str().to_string())
                    .bind(secret.preview.clone())
                    .bind(at.to_string())
                    .bind(id.clone())
                    .execute(&mut **tx)
                    .await
                    .map_err(query("attach a fingerprint to a credential"))?;
                summary.credentials_linked += 1;
                return Ok(id);
            }
        }
        let external_key = secret
            .native_id
            .clone()
            .unwrap_or_else(|| format!("secret:{}", secret.fingerprint.as_str()));
        let mut credential = Credential::new(secret.provider.clone(), external_key, secret.kind);
        credential.native_id = secret.native_id.clone();
        credential.fingerprint = Some(secret.fingerprint.clone());
        credential.preview = Some(secret.preview.clone());
        credential.expires_at = secret.expires_at;
        let id = credential.id.as_str().to_string();
        upsert_credentials(tx, self.backend(), &[(0, credential)], "scan", marker, at).await?;
        summary.credentials_new += 1;
        Ok(id)
    }
}
