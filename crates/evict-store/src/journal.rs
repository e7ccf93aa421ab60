use evict_model::journal::{self, ChainBreak, ChainVerifier, Entry};
use jiff::Timestamp;
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use crate::error::query;
use crate::text::time_text;
use crate::{Store, StoreError};

/// A reserved place at the end of the chain, taken at the start of a transaction so the change
/// it records can refer to its sequence number.
#[derive(Debug)]
pub(crate) struct Reservation {
    pub(crate) seq: i64,
    prev_hash: String,
}

/// Takes the next sequence number. The head row's update locks it until the transaction ends,
/// so concurrent writers (several `evict` processes on one PostgreSQL) queue instead of forking
/// the chain.
pub(crate) async fn reserve(tx: &mut Transaction<'_, Any>) -> Result<Reservation, StoreError> {
    let row = sqlx::query("UPDATE journal_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut **tx)
        .await
        .map_err(query("reserve a journal entry"))?;
    Ok(Reservation {
        seq: row.try_get("seq").map_err(query("read the journal head"))?,
        prev_hash: row
            .try_get("hash")
            .map_err(query("read the journal head"))?,
    })
}

/// Writes the reserved entry and moves the head to it, inside the caller's transaction.
pub(crate) async fn write(
    tx: &mut Transaction<'_, Any>,
    reservation: Reservation,
    at: Timestamp,
    kind: &str,
    subject: &str,
    body: &serde_json::Value,
) -> Result<String, StoreError> {
    let at = time_text(at);
    let body = journal::canonical_json(body);
    let hash = journal::entry_hash(
        &reservation.prev_hash,
        reservation.seq,
        &at,
        kind,
        subject,
        &body,
    );
    sqlx::query(
        "INSERT INTO journal (seq, at, kind, subject, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(reservation.seq)
    .bind(&at)
    .bind(kind)
    .bind(subject)
    .bind(&body)
    .bind(&reservation.prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await
    .map_err(query("write a journal entry"))?;
    sqlx::query("UPDATE journal_head SET hash = $1 WHERE id = 1")
        .bind(&hash)
        .execute(&mut **tx)
        .await
        .map_err(query("move the journal head"))?;
    Ok(hash)
}

/// The outcome of `evict journal verify`.
#[derive(Debug, Clone, Serialize)]
pub struct JournalReport {
    /// Entries that verified.
    pub entries: i64,
    /// The head hash, when the chain is intact.
    pub head: Option<String>,
    /// The first break, when it is not.
    pub broken: Option<ChainBreak>,
}

impl Store {
    /// Appends one entry in its own transaction (for changes that are nothing but the entry).
    pub async fn journal_append(
        &self,
        at: Timestamp,
        kind: &str,
        subject: &str,
        body: &serde_json::Value,
    ) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await.map_err(query("begin"))?;
        let reservation = reserve(&mut tx).await?;
        let hash = write(&mut tx, reservation, at, kind, subject, body).await?;
        tx.commit().await.map_err(query("commit a journal entry"))?;
        Ok(hash)
    }

    /// Re-computes the whole chain, page by page, and compares it with the stored head.
    pub async fn journal_verify(&self) -> Result<JournalReport, StoreError> {
        let head: Option<(i64, String)> =
            sqlx::query("SELECT seq, hash FROM journal_head WHERE id = 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(query("read the journal head"))?
                .map(|row| -> Result<(i64, String), StoreError> {
                    Ok((
                        row.try_get("seq").map_err(query("read the journal head"))?,
                        row.try_get("hash")
                            .map_err(query("read the journal head"))?,
                    ))
                })
                .transpose()?;
        let mut verifier = ChainVerifier::default();
        let mut verified = 0i64;
        let mut after = i64::MIN;
        loop {
            let rows = sqlx::query(
                "SELECT seq, at, kind, subject, body, prev_hash, hash FROM journal \
                 WHERE seq > $1 ORDER BY seq LIMIT 5000",
            )
            .bind(after)
            .fetch_all(&self.pool)
            .await
            .map_err(query("read the journal"))?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("seq").map_err(query("read the journal"))?;
            for row in &rows {
                let entry = entry_from_row(row)?;
                if let Err(broken) = verifier.push(&entry) {
                    return Ok(JournalReport {
                        entries: verified,
                        head: None,
                        broken: Some(broken),
                    });
                }
                verified += 1;
            }
        }
        let head_ref = head.as_ref().map(|(seq, hash)| (*seq, hash.as_str()));
        Ok(match verifier.finish(head_ref) {
            Ok((entries, hash)) => JournalReport {
                entries,
                head: Some(hash),
                broken: None,
            },
            Err(broken) => JournalReport {
                entries: verified,
                head: None,
                broken: Some(broken),
            },
        })
    }

    /// The newest entries, newest first.
    pub async fn journal_tail(&self, limit: i64) -> Result<Vec<Entry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, subject, body, prev_hash, hash FROM journal ORDER BY seq DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(query("read the journal"))?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Entries oldest first, optionally only those about `subject` and of a kind starting
    /// with `kind` (`action.` gives every action entry).
    pub async fn journal_entries(
        &self,
        subject: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Vec<Entry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, subject, body, prev_hash, hash FROM journal \
             WHERE ($1 = '' OR subject = $1) AND ($2 = '' OR kind LIKE $2 || '%') ORDER BY seq",
        )
        .bind(subject.unwrap_or("").to_string())
        .bind(kind.unwrap_or("").to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(query("read the journal"))?;
        rows.iter().map(entry_from_row).collect()
    }
}

fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<Entry, StoreError> {
    let get = |name: &str| -> Result<String, StoreError> {
        row.try_get::<String, _>(name)
            .map_err(query("read the journal"))
    };
    Ok(Entry {
        seq: row.try_get("seq").map_err(query("read the journal"))?,
        at: get("at")?,
        kind: get("kind")?,
        subject: get("subject")?,
        body: get("body")?,
        prev_hash: get("prev_hash")?,
        hash: get("hash")?,
    })
}
