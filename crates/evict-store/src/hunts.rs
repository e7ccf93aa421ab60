//! What a hunt found: hits (one row per rule and raw record) and usage per credential and
//! identity (one row per subject and log set). Logs carry ids and hashes, never secrets.

use std::borrow::Cow;

use evict_model::{RawPointer, Severity, Usage};
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::columns::{
    Columns, PackedQuery, int, json_column, opt_text, opt_time, parsed, required_time, text,
    two_at_a_time,
};
use crate::error::query;
use crate::journal;
use crate::text::{opt_time_text, time_text};
use crate::{Backend, Store, StoreError};

/// One hunt hit, as the store keeps it.
#[derive(Debug, Clone)]
pub struct StoredHit {
    /// The rule's name.
    pub rule: String,
    /// The Sigma id, when the rule has one.
    pub rule_id: Option<String>,
    /// The rule's title.
    pub title: String,
    /// How serious.
    pub severity: Severity,
    /// ATT&CK technique ids.
    pub techniques: Vec<String>,
    /// When the event happened.
    pub time: Timestamp,
    /// `before` / `during` / `after` the exposure window, when one was given.
    pub window: Option<String>,
    /// The log source (`cloudtrail`, `okta`, `github`, `jsonl`).
    pub source_kind: String,
    /// The provider the event is filed under (`aws`, `okta`, `github`, or a JSON-lines
    /// mapping's provider); `None` for hits stored before Evict recorded it.
    pub provider: Option<String>,
    /// The provider's action name.
    pub action: String,
    /// The actor.
    pub actor: Option<String>,
    /// The actor's credential id.
    pub credential: Option<String>,
    /// What the action was done to.
    pub target: Option<String>,
    /// The provider's id of what the action created, when the record names it.
    pub created: Option<String>,
    /// The source address as logged.
    pub source: Option<String>,
    /// The user agent.
    pub user_agent: Option<String>,
    /// One line for people.
    pub summary: String,
    /// The provider's id of the record.
    pub event_id: Option<String>,
    /// Where the raw record is.
    pub raw: RawPointer,
}

/// One subject's usage from one hunt.
#[derive(Debug, Clone)]
pub struct StoredUsage {
    /// The provider.
    pub provider: String,
    /// `credential` or `identity`.
    pub subject: String,
    /// The provider-native id.
    pub native_id: String,
    /// The aggregates.
    pub usage: Usage,
}

/// What storing a hunt did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HuntStoreSummary {
    /// Hits not stored before.
    pub hits_new: u64,
    /// Hits already stored by an earlier hunt of the same records.
    pub hits_again: u64,
    /// Usage rows written (replacing this log set's earlier rows).
    pub usage_rows: u64,
    /// Usage rows whose credential is in the inventory (matched by provider and native id).
    pub usage_linked: u64,
}

/// Rewrites `?` placeholders as `$1, $2, …` for PostgreSQL.
pub(crate) fn placeholders(backend: Backend, sql: &str) -> Cow<'_, str> {
    if backend == Backend::Sqlite {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn hit_key(hit: &StoredHit) -> String {
    let mut digest = Sha256::new();
    digest.update(hit.rule.as_bytes());
    digest.update(b"\0");
    digest.update(hit.raw.file.as_bytes());
    digest.update(b"\0");
    digest.update(hit.raw.offset.to_le_bytes());
    hex::encode(&digest.finalize()[..16])
}

fn map_json(map: &std::collections::BTreeMap<String, u64>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

impl Store {
    /// Stores a hunt's hits and usage in one transaction with one journal entry. `log_set`
    /// names the inputs (their canonical paths): this set's earlier usage rows are replaced,
    /// so hunting the same logs twice never counts an event twice.
    pub async fn record_hunt(
        &self,
        log_set: &str,
        hits: &[StoredHit],
        usage: &[StoredUsage],
        now: Timestamp,
    ) -> Result<HuntStoreSummary, StoreError> {
        let backend = self.backend();
        let mut summary = HuntStoreSummary::default();
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query("begin storing a hunt"))?;
        let reservation = journal::reserve(&mut tx).await?;
        let marker = reservation.seq;
        let mut digest = Sha256::new();
        let insert_hit = placeholders(
            backend,
            "INSERT INTO hunt_hits (hit_key, rule, rule_id, title, severity, techniques, at, \
             window_position, source_kind, action, actor, credential, source, user_agent, summary, \
             event_id, raw_file, raw_offset, first_journal, last_journal, target, created, \
             provider) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (hit_key) DO UPDATE SET window_position = excluded.window_position, \
             title = excluded.title, severity = excluded.severity, summary = excluded.summary, \
             techniques = excluded.techniques, last_journal = excluded.last_journal \
             RETURNING first_journal",
        );
        for hit in hits {
            let key = hit_key(hit);
            let offset = i64::try_from(hit.raw.offset).unwrap_or(i64::MAX);
            let first: i64 = sqlx::query(&insert_hit)
                .bind(key.clone())
                .bind(hit.rule.clone())
                .bind(hit.rule_id.clone())
                .bind(hit.title.clone())
                .bind(hit.severity.as_str())
                .bind(serde_json::to_string(&hit.techniques).unwrap_or_else(|_| "[]".into()))
                .bind(time_text(hit.time))
                .bind(hit.window.clone())
                .bind(hit.source_kind.clone())
                .bind(hit.action.clone())
                .bind(hit.actor.clone())
                .bind(hit.credential.clone())
                .bind(hit.source.clone())
                .bind(hit.user_agent.clone())
                .bind(hit.summary.clone())
                .bind(hit.event_id.clone())
                .bind(hit.raw.file.clone())
                .bind(offset)
                .bind(marker)
                .bind(marker)
                .bind(hit.target.clone())
                .bind(hit.created.clone())
                .bind(hit.provider.clone())
                .fetch_one(&mut *tx)
                .await
                .map_err(query("store a hunt hit"))?
                .try_get("first_journal")
                .map_err(query("read back a hunt hit"))?;
            if first == marker {
                summary.hits_new += 1;
            } else {
                summary.hits_again += 1;
            }
            digest.update(key.as_bytes());
            digest.update(b"\n");
        }
        sqlx::query(&placeholders(
            backend,
            "DELETE FROM log_usage WHERE log_set = ?",
        ))
        .bind(log_set.to_string())
        .execute(&mut *tx)
        .await
        .map_err(query("replace a log set's usage"))?;
        let insert_usage = placeholders(
            backend,
            "INSERT INTO log_usage (log_set, provider, subject, native_id, events, failures, \
             first_seen, last_seen, sources, user_agents, actions, journal) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        for row in usage {
            let u = &row.usage;
            sqlx::query(&insert_usage)
                .bind(log_set.to_string())
                .bind(row.provider.clone())
                .bind(row.subject.clone())
                .bind(row.native_id.clone())
                .bind(i64::try_from(u.events).unwrap_or(i64::MAX))
                .bind(i64::try_from(u.failures).unwrap_or(i64::MAX))
                .bind(opt_time_text(u.first_seen))
                .bind(opt_time_text(u.last_seen))
                .bind(map_json(&u.sources))
                .bind(map_json(&u.user_agents))
                .bind(map_json(&u.actions))
                .bind(marker)
                .execute(&mut *tx)
                .await
                .map_err(query("store usage"))?;
            summary.usage_rows += 1;
            digest.update(row.provider.as_bytes());
            digest.update(b":");
            digest.update(row.subject.as_bytes());
            digest.update(b":");
            digest.update(row.native_id.as_bytes());
            digest.update(b"\n");
        }
        let linked: i64 = sqlx::query(&placeholders(
            backend,
            "SELECT COUNT(*) AS n FROM log_usage u JOIN credentials c \
             ON c.provider = u.provider AND c.native_id = u.native_id \
             WHERE u.log_set = ? AND u.subject = 'credential'",
        ))
        .bind(log_set.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(query("link usage to the inventory"))?
        .try_get("n")
        .map_err(query("count linked usage"))?;
        summary.usage_linked = u64::try_from(linked).unwrap_or(0);
        let body = serde_json::json!({
            "log_set": log_set,
            "hits": hits.len(),
            "hits_new": summary.hits_new,
            "usage_rows": summary.usage_rows,
            "changes_sha256": hex::encode(digest.finalize()),
        });
        journal::write(&mut tx, reservation, now, "hunt.store", "hunt", &body).await?;
        tx.commit().await.map_err(query("commit a hunt"))?;
        Ok(summary)
    }

    /// Usage of one subject across every log set hunted, summed.
    pub async fn usage_of(
        &self,
        provider: &str,
        subject: &str,
        native_id: &str,
    ) -> Result<Option<Usage>, StoreError> {
        let rows = sqlx::query(&placeholders(
            self.backend(),
            "SELECT events, failures, first_seen, last_seen, sources, user_agents, actions \
             FROM log_usage WHERE provider = ? AND subject = ? AND native_id = ? ORDER BY log_set",
        ))
        .bind(provider.to_string())
        .bind(subject.to_string())
        .bind(native_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(query("read usage"))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut total = Usage::default();
        for row in &rows {
            total.merge(usage_from_row(row)?);
        }
        Ok(Some(total))
    }

    /// Usage of the given credentials (provider, native id) from every stored hunt, summed
    /// across log sets. Only the rows asked for are read, however many the store holds.
    pub async fn credential_usage(
        &self,
        keys: &std::collections::BTreeSet<(String, String)>,
    ) -> Result<std::collections::HashMap<(String, String), Usage>, StoreError> {
        self.usage_by_key(keys, true).await
    }

    /// Like [`Store::credential_usage`] but only the counts and first and last use, summed by
    /// the database (one row per credential, whatever the number of log sets); the maps of
    /// sources, agents and actions stay empty.
    pub async fn credential_usage_totals(
        &self,
        keys: &std::collections::BTreeSet<(String, String)>,
    ) -> Result<std::collections::HashMap<(String, String), Usage>, StoreError> {
        self.usage_by_key(keys, false).await
    }

    async fn usage_by_key(
        &self,
        keys: &std::collections::BTreeSet<(String, String)>,
        detail: bool,
    ) -> Result<std::collections::HashMap<(String, String), Usage>, StoreError> {
        let mut all: std::collections::HashMap<(String, String), Usage> =
            std::collections::HashMap::new();
        // By provider, so each query walks the (provider, subject, native_id) index.
        let mut by_provider: std::collections::BTreeMap<&str, Vec<&str>> =
            std::collections::BTreeMap::new();
        for (provider, native) in keys {
            by_provider.entry(provider).or_default().push(native);
        }
        let columns: &[&str] = if detail {
            &[
                "native_id",
                "events",
                "failures",
                "first_seen",
                "last_seen",
                "sources",
                "user_agents",
                "actions",
            ]
        } else {
            &[
                "native_id",
                "CAST(SUM(events) AS BIGINT) AS events",
                "CAST(SUM(failures) AS BIGINT) AS failures",
                "MIN(first_seen) AS first_seen",
                "MAX(last_seen) AS last_seen",
                "'{}' AS sources",
                "'{}' AS user_agents",
                "'{}' AS actions",
            ]
        };
        let mut jobs = Vec::new();
        for (provider, natives) in &by_provider {
            for chunk in natives.chunks(2_000) {
                let mut rest = String::from(
                    "FROM log_usage WHERE provider = ? AND subject = 'credential' AND native_id IN (",
                );
                for n in 0..chunk.len() {
                    rest.push_str(if n == 0 { "?" } else { ", ?" });
                }
                rest.push(')');
                if !detail {
                    rest.push_str(" GROUP BY native_id");
                }
                jobs.push(async move {
                    let packed = PackedQuery::new(self.backend(), columns, &rest, "native_id");
                    let mut q = sqlx::query(packed.sql()).bind(provider.to_string());
                    for native in chunk {
                        q = q.bind(native.to_string());
                    }
                    packed
                        .rows(&self.pool, q, "read usage")
                        .await?
                        .iter()
                        .map(|row| {
                            Ok((
                                (provider.to_string(), text(row, "native_id")?),
                                usage_from_row(row)?,
                            ))
                        })
                        .collect::<Result<Vec<_>, StoreError>>()
                });
            }
        }
        two_at_a_time(jobs, |page| {
            for (key, usage) in page {
                all.entry(key).or_default().merge(usage);
            }
        })
        .await?;
        Ok(all)
    }

    /// Every stored hunt hit.
    pub async fn hunt_hits(&self) -> Result<Vec<StoredHit>, StoreError> {
        let packed = PackedQuery::new(
            self.backend(),
            &[
                "hit_key",
                "rule",
                "rule_id",
                "title",
                "severity",
                "techniques",
                "at",
                "window_position",
                "source_kind",
                "provider",
                "action",
                "actor",
                "credential",
                "target",
                "created",
                "source",
                "user_agent",
                "summary",
                "event_id",
                "raw_file",
                "raw_offset",
            ],
            "FROM hunt_hits WHERE hit_key > ? ORDER BY hit_key LIMIT ?",
            "hit_key",
        );
        let mut hits = Vec::new();
        packed
            .page_through(
                &self.pool,
                &[],
                None,
                "read hunt hits",
                |row| {
                    let key = text(row, "hit_key")?;
                    let hit = StoredHit {
                        rule: text(row, "rule")?,
                        rule_id: opt_text(row, "rule_id")?,
                        title: text(row, "title")?,
                        severity: parsed(row, "severity")?,
                        techniques: json_column(row, "techniques")?,
                        time: required_time(row, "at")?,
                        window: opt_text(row, "window_position")?,
                        source_kind: text(row, "source_kind")?,
                        provider: opt_text(row, "provider")?,
                        action: text(row, "action")?,
                        actor: opt_text(row, "actor")?,
                        credential: opt_text(row, "credential")?,
                        target: opt_text(row, "target")?,
                        created: opt_text(row, "created")?,
                        source: opt_text(row, "source")?,
                        user_agent: opt_text(row, "user_agent")?,
                        summary: text(row, "summary")?,
                        event_id: opt_text(row, "event_id")?,
                        raw: RawPointer {
                            file: text(row, "raw_file")?,
                            offset: u64::try_from(int(row, "raw_offset")?).unwrap_or(0),
                        },
                    };
                    Ok((key.clone(), (key, hit)))
                },
                |keyed| hits.push(keyed),
            )
            .await?;
        hits.sort_by(|a, b| (a.1.time, &a.0).cmp(&(b.1.time, &b.0)));
        Ok(hits.into_iter().map(|(_, hit)| hit).collect())
    }

    /// How many hits are stored.
    pub async fn hunt_hit_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM hunt_hits")
            .fetch_one(&self.pool)
            .await
            .map_err(query("count hunt hits"))?
            .try_get("n")
            .map_err(query("count hunt hits"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

fn usage_from_row(row: &impl Columns) -> Result<Usage, StoreError> {
    let count = |name| Ok::<_, StoreError>(u64::try_from(int(row, name)?).unwrap_or(0));
    Ok(Usage {
        events: count("events")?,
        failures: count("failures")?,
        first_seen: opt_time(row, "first_seen")?,
        last_seen: opt_time(row, "last_seen")?,
        sources: json_column(row, "sources")?,
        user_agents: json_column(row, "user_agents")?,
        actions: json_column(row, "actions")?,
    })
}
