use std::collections::{BTreeMap, HashMap, HashSet};

use evict_model::{
    Credential, CredentialId, CredentialKind, CredentialStatus, Fingerprint, Identity, IdentityId,
    IdentityKind, IdentityStatus, PrivilegeTier, Provider,
};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::columns::{Columns, PackedQuery, opt_text, opt_time, parsed, text, two_at_a_time};
use crate::error::query;
use crate::journal;
use crate::text::{opt_time_text, time_text};
use crate::{Backend, Store, StoreError};

/// Rows per multi-row statement: well under SQLite's and PostgreSQL's bind limits.
const ROWS_PER_STATEMENT: usize = 400;

/// One batch of parsed inventory records, written in one transaction with one journal entry.
#[derive(Debug, Default)]
pub struct InventoryBatch {
    /// Importer name, e.g. `aws-credential-report`.
    pub source: String,
    /// The file the records came from.
    pub file: String,
    /// Identities with the line they were read from.
    pub identities: Vec<(u64, Identity)>,
    /// Credentials with the line they were read from.
    pub credentials: Vec<(u64, Credential)>,
}

impl InventoryBatch {
    /// Records in the batch.
    pub fn len(&self) -> usize {
        self.identities.len() + self.credentials.len()
    }

    /// True when the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A record the store would not take, with its line and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedRow {
    /// 1-based line in the file.
    pub line: u64,
    /// What is wrong, for a person.
    pub reason: String,
}

/// What one batch (or a whole import, summed) did to the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchOutcome {
    /// Records that were new.
    pub inserted: u64,
    /// Records that existed and changed.
    pub updated: u64,
    /// Records that existed and were the same.
    pub unchanged: u64,
    /// Records the store refused (e.g. a credential naming an unknown identity).
    pub rejected: Vec<RejectedRow>,
    /// Journal entries written.
    pub journal_entries: u64,
}

impl BatchOutcome {
    /// Adds another batch's counts.
    pub fn absorb(&mut self, other: BatchOutcome) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected.extend(other.rejected);
        self.journal_entries += other.journal_entries;
    }
}

pub(crate) fn content_hash<T: Serialize>(record: &T) -> String {
    let json = serde_json::to_vec(record).unwrap_or_default();
    hex::encode(&Sha256::digest(&json)[..16])
}

/// `VALUES` tuples for a multi-row insert. SQLite gets anonymous `?`: with numbered `$N` its
/// parameter-name lookup is linear per bind, which makes binding thousands of values quadratic.
fn placeholders(backend: Backend, rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push(',');
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&(r * columns + c + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// Keeps the last of several records with the same id: a file that repeats a record means
/// its later line.
fn last_wins<T>(records: Vec<(u64, T)>, id: impl Fn(&T) -> &str) -> (Vec<(u64, T)>, u64) {
    let mut index: HashMap<String, usize> = HashMap::with_capacity(records.len());
    let mut kept: Vec<Option<(u64, T)>> = Vec::with_capacity(records.len());
    let mut repeats = 0;
    for record in records {
        let key = id(&record.1).to_string();
        if let Some(&at) = index.get(&key) {
            kept[at] = None;
            repeats += 1;
        }
        index.insert(key, kept.len());
        kept.push(Some(record));
    }
    (kept.into_iter().flatten().collect(), repeats)
}

pub(crate) struct Written {
    id: String,
    first_journal: i64,
    hash: String,
}

impl Store {
    /// Upserts a batch by (provider, external id): new records are inserted, changed ones
    /// updated, identical ones left alone (no write, no journal entry). A credential naming
    /// an identity that is neither in the batch nor in the store is rejected, not guessed.
    ///
    /// Sources see different facts of one record (a credential report knows a key slot's last
    /// use but not its key id; discovery knows the key id), so a changed record is merged,
    /// not overwritten: what the batch says wins, but a fact it leaves unknown (`None`, no
    /// scopes, privilege `unknown`) keeps its stored value, and a last use only moves later.
    /// Status, kind and name always follow the batch. One exception: when a credential's
    /// stored provider id (`native_id`) differs from the batch's, the slot now holds another
    /// key, and the batch's record replaces the old one whole.
    pub async fn upsert_inventory(
        &self,
        batch: InventoryBatch,
        now: Timestamp,
    ) -> Result<BatchOutcome, StoreError> {
        let mut outcome = BatchOutcome::default();
        let (mut identities, identity_repeats) = last_wins(batch.identities, |i| i.id.as_str());
        let (mut credentials, credential_repeats) = last_wins(batch.credentials, |c| c.id.as_str());
        // Ids are hashes: written in id order, neighbouring rows share B-tree pages.
        identities.sort_unstable_by(|a, b| a.1.id.as_str().cmp(b.1.id.as_str()));
        credentials.sort_unstable_by(|a, b| a.1.id.as_str().cmp(b.1.id.as_str()));
        // A repeated record is written once; its earlier copies change nothing.
        outcome.unchanged += identity_repeats + credential_repeats;

        let known: HashSet<&str> = identities.iter().map(|(_, i)| i.id.as_str()).collect();
        let wanted: Vec<&str> = credentials
            .iter()
            .filter_map(|(_, c)| c.identity.as_ref().map(IdentityId::as_str))
            .filter(|id| !known.contains(id))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let existing = self.existing_identity_ids(&wanted).await?;
        let (credentials, orphans): (Vec<_>, Vec<_>) =
            credentials.into_iter().partition(|(_, c)| {
                c.identity
                    .as_ref()
                    .is_none_or(|id| known.contains(id.as_str()) || existing.contains(id.as_str()))
            });
        outcome.rejected.extend(orphans.into_iter().map(|(line, c)| RejectedRow {
            line,
            reason: format!(
                "credential '{}' names identity {} which is neither earlier in this file nor in the store \
                 (list identities before their credentials, or import the identities first)",
                c.external_key,
                c.identity.as_ref().map(IdentityId::as_str).unwrap_or_default(),
            ),
        }));
        drop(known);

        let total = (identities.len() + credentials.len()) as u64;
        if total == 0 {
            return Ok(outcome);
        }
        let lines = identities
            .iter()
            .map(|(l, _)| *l)
            .chain(credentials.iter().map(|(l, _)| *l));
        let (first_line, last_line) =
            lines.fold((u64::MAX, 0), |(lo, hi), l| (lo.min(l), hi.max(l)));

        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query("begin an import batch"))?;
        let reservation = journal::reserve(&mut tx).await?;
        let marker = reservation.seq;
        let updated_at = time_text(now);
        let mut written = Vec::new();
        for chunk in identities.chunks(ROWS_PER_STATEMENT) {
            written.extend(
                upsert_identities(
                    &mut tx,
                    self.backend(),
                    chunk,
                    &batch.source,
                    marker,
                    &updated_at,
                )
                .await?,
            );
        }
        for chunk in credentials.chunks(ROWS_PER_STATEMENT) {
            written.extend(
                upsert_credentials(
                    &mut tx,
                    self.backend(),
                    chunk,
                    &batch.source,
                    marker,
                    &updated_at,
                )
                .await?,
            );
        }
        for w in &written {
            if w.first_journal == marker {
                outcome.inserted += 1;
            } else {
                outcome.updated += 1;
            }
        }
        outcome.unchanged += total - written.len() as u64;
        if written.is_empty() {
            // Nothing changed: give back the reserved journal place, leave the store as it was.
            tx.rollback()
                .await
                .map_err(query("end an unchanged import batch"))?;
            return Ok(outcome);
        }
        written.sort_by(|a, b| a.id.cmp(&b.id));
        let mut digest = Sha256::new();
        for w in &written {
            digest.update(w.id.as_bytes());
            digest.update(b":");
            digest.update(w.hash.as_bytes());
            digest.update(b"\n");
        }
        let body = serde_json::json!({
            "source": batch.source,
            "file": batch.file,
            "lines": [first_line, last_line],
            "inserted": outcome.inserted,
            "updated": outcome.updated,
            "changes_sha256": hex::encode(digest.finalize()),
        });
        journal::write(
            &mut tx,
            reservation,
            now,
            "inventory.import",
            &batch.file,
            &body,
        )
        .await?;
        tx.commit().await.map_err(query("commit an import batch"))?;
        outcome.journal_entries = 1;
        Ok(outcome)
    }

    async fn existing_identity_ids(&self, ids: &[&str]) -> Result<HashSet<String>, StoreError> {
        let mut found = HashSet::new();
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!("SELECT id FROM identities WHERE id IN ({list})");
            let mut q = sqlx::query_scalar::<Any, String>(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            found.extend(
                q.fetch_all(&self.pool)
                    .await
                    .map_err(query("look up identities"))?,
            );
        }
        Ok(found)
    }
}

async fn upsert_identities(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    rows: &[(u64, Identity)],
    source: &str,
    marker: i64,
    updated_at: &str,
) -> Result<Vec<Written>, StoreError> {
    const COLUMNS: usize = 17;
    let sql = format!(
        "INSERT INTO identities (id, provider, external_id, name, kind, owner, status, privilege, mfa, \
         created_at, created_by, disabled_at, last_used_at, source, content_hash, first_journal, updated_at) \
         VALUES {} \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
         owner = COALESCE(excluded.owner, identities.owner), status = excluded.status, \
         privilege = CASE WHEN excluded.privilege = 'unknown' THEN identities.privilege ELSE excluded.privilege END, \
         mfa = COALESCE(excluded.mfa, identities.mfa), \
         created_at = COALESCE(excluded.created_at, identities.created_at), \
         created_by = COALESCE(excluded.created_by, identities.created_by), \
         disabled_at = CASE WHEN excluded.status = 'active' THEN excluded.disabled_at \
             ELSE COALESCE(excluded.disabled_at, identities.disabled_at) END, \
         last_used_at = CASE WHEN identities.last_used_at IS NULL \
             OR excluded.last_used_at > identities.last_used_at THEN excluded.last_used_at \
             ELSE identities.last_used_at END, \
         source = excluded.source, content_hash = excluded.content_hash, updated_at = excluded.updated_at \
         WHERE identities.content_hash <> excluded.content_hash \
         RETURNING id, first_journal, content_hash",
        placeholders(backend, rows.len(), COLUMNS)
    );
    let mut q = sqlx::query(&sql);
    for (_, i) in rows {
        q = q
            .bind(i.id.as_str().to_string())
            .bind(i.provider.as_str().to_string())
            .bind(i.external_id.clone())
            .bind(i.name.clone())
            .bind(i.kind.as_str())
            .bind(i.owner.clone())
            .bind(i.status.as_str())
            .bind(i.privilege.as_str())
            .bind(i.mfa.map(i64::from))
            .bind(opt_time_text(i.created_at))
            .bind(i.created_by.clone())
            .bind(opt_time_text(i.disabled_at))
            .bind(opt_time_text(i.last_used_at))
            .bind(source.to_string())
            .bind(content_hash(i))
            .bind(marker)
            .bind(updated_at.to_string());
    }
    written(
        q.fetch_all(&mut **tx)
            .await
            .map_err(query("write identities"))?,
    )
}

pub(crate) async fn upsert_credentials(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    rows: &[(u64, Credential)],
    source: &str,
    marker: i64,
    updated_at: &str,
) -> Result<Vec<Written>, StoreError> {
    const COLUMNS: usize = 18;
    // The merge `Store::upsert_inventory` describes: a key id from discovery, a fingerprint
    // from a scan, a last use or an expiry from a report survive a source that cannot see
    // them — unless the provider now names another key in the same slot.
    let replaced = "(excluded.native_id IS NOT NULL AND credentials.native_id IS NOT NULL \
                    AND excluded.native_id <> credentials.native_id)";
    let sql = format!(
        "INSERT INTO credentials (id, provider, external_key, native_id, identity_id, kind, status, \
         fingerprint, preview, issued_at, expires_at, last_used_at, last_used_from, scopes, source, \
         content_hash, first_journal, updated_at) \
         VALUES {} \
         ON CONFLICT (id) DO UPDATE SET native_id = COALESCE(excluded.native_id, credentials.native_id), \
         identity_id = COALESCE(excluded.identity_id, credentials.identity_id), kind = excluded.kind, \
         status = excluded.status, \
         fingerprint = CASE WHEN {replaced} THEN excluded.fingerprint \
             ELSE COALESCE(excluded.fingerprint, credentials.fingerprint) END, \
         preview = CASE WHEN {replaced} THEN excluded.preview \
             ELSE COALESCE(excluded.preview, credentials.preview) END, \
         issued_at = CASE WHEN {replaced} THEN excluded.issued_at \
             ELSE COALESCE(excluded.issued_at, credentials.issued_at) END, \
         expires_at = CASE WHEN {replaced} THEN excluded.expires_at \
             ELSE COALESCE(excluded.expires_at, credentials.expires_at) END, \
         last_used_at = CASE WHEN {replaced} OR credentials.last_used_at IS NULL \
             OR excluded.last_used_at > credentials.last_used_at THEN excluded.last_used_at \
             ELSE credentials.last_used_at END, \
         last_used_from = CASE WHEN {replaced} THEN excluded.last_used_from \
             WHEN excluded.last_used_at > credentials.last_used_at THEN excluded.last_used_from \
             WHEN excluded.last_used_at < credentials.last_used_at THEN credentials.last_used_from \
             ELSE COALESCE(excluded.last_used_from, credentials.last_used_from) END, \
         scopes = CASE WHEN {replaced} OR excluded.scopes <> '' THEN excluded.scopes \
             ELSE credentials.scopes END, \
         source = excluded.source, content_hash = excluded.content_hash, updated_at = excluded.updated_at \
         WHERE credentials.content_hash <> excluded.content_hash \
         RETURNING id, first_journal, content_hash",
        placeholders(backend, rows.len(), COLUMNS)
    );
    let mut q = sqlx::query(&sql);
    for (_, c) in rows {
        q = q
            .bind(c.id.as_str().to_string())
            .bind(c.provider.as_str().to_string())
            .bind(c.external_key.clone())
            .bind(c.native_id.clone())
            .bind(c.identity.as_ref().map(|i| i.as_str().to_string()))
            .bind(c.kind.as_str())
            .bind(c.status.as_str())
            .bind(c.fingerprint.as_ref().map(|f| f.as_str().to_string()))
            .bind(c.preview.clone())
            .bind(opt_time_text(c.issued_at))
            .bind(opt_time_text(c.expires_at))
            .bind(opt_time_text(c.last_used_at))
            .bind(c.last_used_from.clone())
            .bind(c.scopes.join(" "))
            .bind(source.to_string())
            .bind(content_hash(c))
            .bind(marker)
            .bind(updated_at.to_string());
    }
    written(
        q.fetch_all(&mut **tx)
            .await
            .map_err(query("write credentials"))?,
    )
}

fn written(rows: Vec<AnyRow>) -> Result<Vec<Written>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(Written {
                id: row.try_get("id").map_err(query("read back written rows"))?,
                first_journal: row
                    .try_get("first_journal")
                    .map_err(query("read back written rows"))?,
                hash: row
                    .try_get("content_hash")
                    .map_err(query("read back written rows"))?,
            })
        })
        .collect()
}

/// Filters for listing credentials. Empty filters match everything.
#[derive(Debug, Clone, Default)]
pub struct CredentialFilter {
    /// Only this provider.
    pub provider: Option<Provider>,
    /// Only this kind.
    pub kind: Option<CredentialKind>,
    /// Only credentials whose identity has this owner.
    pub owner: Option<String>,
    /// Only this status.
    pub status: Option<CredentialStatus>,
    /// Only credentials with no expiry.
    pub persistent: bool,
    /// Only credentials not used in this many days (never-used ones count once they are that
    /// old, or when their issue time is unknown).
    pub unused_days: Option<i64>,
    /// Only credentials issued more than this many days ago.
    pub older_days: Option<i64>,
    /// Only credentials of this identity.
    pub identity: Option<IdentityId>,
}

/// Filters for listing identities. Empty filters match everything.
#[derive(Debug, Clone, Default)]
pub struct IdentityFilter {
    /// Only this provider.
    pub provider: Option<Provider>,
    /// Only this kind.
    pub kind: Option<IdentityKind>,
    /// Only this owner.
    pub owner: Option<String>,
    /// Only this status.
    pub status: Option<IdentityStatus>,
    /// Only identities not seen acting in this many days.
    pub unused_days: Option<i64>,
    /// Only identities created more than this many days ago.
    pub older_days: Option<i64>,
}

/// A credential with the names a table needs.
#[derive(Debug, Clone, Serialize)]
pub struct CredentialRow {
    /// The credential.
    #[serde(flatten)]
    pub credential: Credential,
    /// Its identity's name.
    pub identity_name: Option<String>,
    /// Its identity's owner.
    pub owner: Option<String>,
}

/// What `show` found for an id.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ShowResult {
    /// An identity and its credentials.
    Identity {
        /// The identity.
        identity: Identity,
        /// Its credentials.
        credentials: Vec<CredentialRow>,
    },
    /// A credential and its identity.
    Credential {
        /// The credential.
        credential: Box<CredentialRow>,
        /// Its identity.
        identity: Option<Identity>,
    },
}

/// The figures a responder asks first, and counts by kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InventoryStats {
    /// Identities by kind.
    pub identities_by_kind: BTreeMap<String, i64>,
    /// Credentials by kind.
    pub credentials_by_kind: BTreeMap<String, i64>,
    /// All identities.
    pub identities: i64,
    /// All credentials.
    pub credentials: i64,
    /// Active access keys.
    pub active_access_keys: i64,
    /// Active access keys not used in 90 days.
    pub access_keys_unused_90d: i64,
    /// Active access keys issued more than 365 days ago.
    pub access_keys_older_365d: i64,
    /// Active identities with an active password and MFA off.
    pub password_users_without_mfa: i64,
    /// Active credentials with no expiry.
    pub persistent_credentials: i64,
    /// Active credentials whose identity has no owner, or that have no identity.
    pub unowned_credentials: i64,
}

fn days_before(now: Timestamp, days: i64) -> String {
    time_text(
        now.saturating_sub(SignedDuration::from_hours(days.saturating_mul(24)))
            .unwrap_or(now),
    )
}

/// A WHERE clause under construction with its bound values, in the order their `?` appear
/// (numbered for PostgreSQL when the query is built).
#[derive(Default)]
struct Conditions {
    clauses: Vec<String>,
    values: Vec<String>,
}

impl Conditions {
    /// Adds a clause in which each `?` stands for the next of `values`.
    fn push(&mut self, clause: &str, values: &[String]) {
        self.values.extend_from_slice(values);
        self.clauses.push(clause.to_string());
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "TRUE".into()
        } else {
            self.clauses.join(" AND ")
        }
    }
}

const CREDENTIAL_COLUMNS: &[&str] = &[
    "c.id",
    "c.provider",
    "c.external_key",
    "c.native_id",
    "c.identity_id",
    "c.kind",
    "c.status",
    "c.fingerprint",
    "c.preview",
    "c.issued_at",
    "c.expires_at",
    "c.last_used_at",
    "c.last_used_from",
    "c.scopes",
];
/// The credential columns, with the name and owner of the credential's identity when
/// `with_identity` (the query then reads [`CREDENTIALS_JOINED`]).
fn credential_columns(with_identity: bool) -> Vec<&'static str> {
    let mut columns = CREDENTIAL_COLUMNS.to_vec();
    if with_identity {
        columns.extend(["i.name AS identity_name", "i.owner AS owner"]);
    }
    columns
}
const IDENTITY_COLUMNS: &[&str] = &[
    "id",
    "provider",
    "external_id",
    "name",
    "kind",
    "owner",
    "status",
    "privilege",
    "mfa",
    "created_at",
    "created_by",
    "disabled_at",
    "last_used_at",
];
/// Credentials with the name and owner of their identity.
const CREDENTIALS_JOINED: &str =
    "FROM credentials c LEFT JOIN identities i ON i.id = c.identity_id";
/// Values per `IN (…)` list: well under both backends' bind limits.
const IN_LIST: usize = 2_000;

impl Store {
    /// Calls `each` for every credential matching `filter`, in id order, reading in pages so
    /// memory stays flat however large the inventory.
    pub async fn for_each_credential(
        &self,
        filter: &CredentialFilter,
        now: Timestamp,
        limit: Option<u64>,
        each: impl FnMut(CredentialRow),
    ) -> Result<u64, StoreError> {
        let mut cond = Conditions::default();
        if let Some(p) = &filter.provider {
            cond.push("c.provider = ?", &[p.to_string()]);
        }
        if let Some(k) = filter.kind {
            cond.push("c.kind = ?", &[k.to_string()]);
        }
        if let Some(o) = &filter.owner {
            cond.push("i.owner = ?", std::slice::from_ref(o));
        }
        if let Some(s) = filter.status {
            cond.push("c.status = ?", &[s.to_string()]);
        }
        if filter.persistent {
            cond.push("c.expires_at IS NULL", &[]);
        }
        if let Some(days) = filter.unused_days {
            let cutoff = days_before(now, days);
            cond.push(
                "(c.last_used_at < ? OR (c.last_used_at IS NULL AND (c.issued_at IS NULL OR c.issued_at < ?)))",
                &[cutoff.clone(), cutoff],
            );
        }
        if let Some(days) = filter.older_days {
            cond.push("c.issued_at < ?", &[days_before(now, days)]);
        }
        if let Some(id) = &filter.identity {
            cond.push("c.identity_id = ?", &[id.to_string()]);
        }
        let packed = PackedQuery::new(
            self.backend(),
            &credential_columns(true),
            &format!(
                "{CREDENTIALS_JOINED} WHERE {} AND c.id > ? ORDER BY c.id LIMIT ?",
                cond.sql()
            ),
            "id",
        );
        packed
            .page_through(
                &self.pool,
                &cond.values,
                limit,
                "list credentials",
                |row| {
                    let c = credential_row(row)?;
                    Ok((c.credential.id.to_string(), c))
                },
                each,
            )
            .await
    }

    /// Every credential of `provider`, bare (without its identity's name and owner, which the
    /// caller has or does not need: joining them cost PostgreSQL 10 µs a row), in id order,
    /// a page at a time.
    pub async fn for_each_credential_of(
        &self,
        provider: &Provider,
        each: impl FnMut(Credential),
    ) -> Result<u64, StoreError> {
        let packed = PackedQuery::new(
            self.backend(),
            &credential_columns(false),
            "FROM credentials c WHERE c.provider = ? AND c.id > ? ORDER BY c.id LIMIT ?",
            "id",
        );
        packed
            .page_through(
                &self.pool,
                &[provider.to_string()],
                None,
                "list credentials",
                |row| {
                    let c = credential_from(row)?;
                    Ok((c.id.to_string(), c))
                },
                each,
            )
            .await
    }

    /// The credentials with these ids, of these identities, or with these (provider, native
    /// id) pairs — each once, whatever number of lists names it. For reading a few thousand
    /// credentials of a large inventory without reading all of it.
    pub async fn credentials_named(
        &self,
        ids: &[String],
        identity_ids: &[String],
        natives: &[(String, String)],
    ) -> Result<Vec<Credential>, StoreError> {
        // (where clause, values) per query: ids, identities, then native ids by provider.
        let in_list = |n: usize| vec!["?"; n].join(", ");
        let mut lookups: Vec<(String, Vec<String>)> = Vec::new();
        for (column, list) in [("c.id", ids), ("c.identity_id", identity_ids)] {
            for chunk in list.chunks(IN_LIST) {
                lookups.push((
                    format!("{column} IN ({})", in_list(chunk.len())),
                    chunk.to_vec(),
                ));
            }
        }
        let mut by_provider: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (provider, native) in natives {
            by_provider
                .entry(provider)
                .or_default()
                .push(native.clone());
        }
        for (provider, list) in by_provider {
            for chunk in list.chunks(IN_LIST) {
                let mut values = vec![provider.to_string()];
                values.extend_from_slice(chunk);
                lookups.push((
                    format!(
                        "c.provider = ? AND c.native_id IN ({})",
                        in_list(chunk.len())
                    ),
                    values,
                ));
            }
        }
        let jobs = lookups.into_iter().map(|(clause, values)| async move {
            let packed = PackedQuery::new(
                self.backend(),
                CREDENTIAL_COLUMNS,
                &format!("FROM credentials c WHERE {clause}"),
                "id",
            );
            let mut q = sqlx::query(packed.sql());
            for v in values {
                q = q.bind(v);
            }
            packed
                .rows(&self.pool, q, "read credentials")
                .await?
                .iter()
                .map(credential_from)
                .collect::<Result<Vec<_>, _>>()
        });
        let mut found: HashMap<String, Credential> = HashMap::new();
        two_at_a_time(jobs.collect(), |page| {
            for c in page {
                found.entry(c.id.to_string()).or_insert(c);
            }
        })
        .await?;
        let mut all: Vec<Credential> = found.into_values().collect();
        all.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        Ok(all)
    }

    /// Calls `each` for every identity matching `filter`, in id order, in pages.
    pub async fn for_each_identity(
        &self,
        filter: &IdentityFilter,
        now: Timestamp,
        limit: Option<u64>,
        each: impl FnMut(Identity),
    ) -> Result<u64, StoreError> {
        let mut cond = Conditions::default();
        if let Some(p) = &filter.provider {
            cond.push("provider = ?", &[p.to_string()]);
        }
        if let Some(k) = filter.kind {
            cond.push("kind = ?", &[k.to_string()]);
        }
        if let Some(o) = &filter.owner {
            cond.push("owner = ?", std::slice::from_ref(o));
        }
        if let Some(s) = filter.status {
            cond.push("status = ?", &[s.to_string()]);
        }
        if let Some(days) = filter.unused_days {
            let cutoff = days_before(now, days);
            cond.push(
                "(last_used_at < ? OR (last_used_at IS NULL AND (created_at IS NULL OR created_at < ?)))",
                &[cutoff.clone(), cutoff],
            );
        }
        if let Some(days) = filter.older_days {
            cond.push("created_at < ?", &[days_before(now, days)]);
        }
        let packed = PackedQuery::new(
            self.backend(),
            IDENTITY_COLUMNS,
            &format!(
                "FROM identities WHERE {} AND id > ? ORDER BY id LIMIT ?",
                cond.sql()
            ),
            "id",
        );
        packed
            .page_through(
                &self.pool,
                &cond.values,
                limit,
                "list identities",
                |row| {
                    let identity = identity_from_row(row)?;
                    Ok((identity.id.to_string(), identity))
                },
                each,
            )
            .await
    }

    /// Finds an identity or credential by Evict id (`i_…`, `c_…`), or by `provider:external id`
    /// (identities first, then credentials).
    pub async fn show(&self, key: &str) -> Result<Option<ShowResult>, StoreError> {
        let key = key.trim();
        let (identity_id, credential_id) = if IdentityId::looks_like(key) {
            (Some(IdentityId::from_stored(key.to_string())), None)
        } else if CredentialId::looks_like(key) {
            (None, Some(CredentialId::from_stored(key.to_string())))
        } else if let Some((provider, external)) = key.split_once(':') {
            match Provider::new(provider) {
                Ok(p) => (
                    Some(IdentityId::derive(&p, external)),
                    Some(CredentialId::derive(&p, external)),
                ),
                Err(_) => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        if let Some(id) = identity_id
            && let Some(identity) = self.identity(&id).await?
        {
            let filter = CredentialFilter {
                identity: Some(id),
                ..Default::default()
            };
            let mut credentials = Vec::new();
            self.for_each_credential(&filter, Timestamp::UNIX_EPOCH, None, |c| {
                credentials.push(c)
            })
            .await?;
            return Ok(Some(ShowResult::Identity {
                identity,
                credentials,
            }));
        }
        if let Some(id) = credential_id {
            let sql = format!(
                "SELECT {} {CREDENTIALS_JOINED} WHERE c.id = $1",
                credential_columns(true).join(", ")
            );
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(query("read a credential"))?;
            if let Some(row) = row {
                let credential = credential_row(&row)?;
                let identity = match &credential.credential.identity {
                    Some(id) => self.identity(id).await?,
                    None => None,
                };
                return Ok(Some(ShowResult::Credential {
                    credential: Box::new(credential),
                    identity,
                }));
            }
        }
        Ok(None)
    }

    async fn identity(&self, id: &IdentityId) -> Result<Option<Identity>, StoreError> {
        let sql = format!(
            "SELECT {} FROM identities WHERE id = $1",
            IDENTITY_COLUMNS.join(", ")
        );
        sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(query("read an identity"))?
            .map(|row| identity_from_row(&row))
            .transpose()
    }

    /// Counts by kind and the posture figures of `evict inventory stats`.
    pub async fn inventory_stats(&self, now: Timestamp) -> Result<InventoryStats, StoreError> {
        let mut stats = InventoryStats::default();
        for (sql, map) in [
            (
                "SELECT kind, COUNT(*) FROM identities GROUP BY kind",
                &mut stats.identities_by_kind,
            ),
            (
                "SELECT kind, COUNT(*) FROM credentials GROUP BY kind",
                &mut stats.credentials_by_kind,
            ),
        ] {
            let rows = sqlx::query(sql)
                .fetch_all(&self.pool)
                .await
                .map_err(query("count by kind"))?;
            for row in rows {
                let kind: String = row.try_get(0).map_err(query("count by kind"))?;
                let count: i64 = row.try_get(1).map_err(query("count by kind"))?;
                map.insert(kind, count);
            }
        }
        stats.identities = stats.identities_by_kind.values().sum();
        stats.credentials = stats.credentials_by_kind.values().sum();
        let d90 = days_before(now, 90);
        let d365 = days_before(now, 365);
        let count = |sql: &'static str, binds: Vec<String>| {
            let pool = self.pool.clone();
            async move {
                let mut q = sqlx::query_scalar::<Any, i64>(sql);
                for b in binds {
                    q = q.bind(b);
                }
                q.fetch_one(&pool)
                    .await
                    .map_err(query("compute inventory figures"))
            }
        };
        stats.active_access_keys = count(
            "SELECT COUNT(*) FROM credentials WHERE kind = 'access_key' AND status = 'active'",
            vec![],
        )
        .await?;
        stats.access_keys_unused_90d = count(
            "SELECT COUNT(*) FROM credentials WHERE kind = 'access_key' AND status = 'active' \
             AND (last_used_at < $1 OR (last_used_at IS NULL AND (issued_at IS NULL OR issued_at < $2)))",
            vec![d90.clone(), d90],
        )
        .await?;
        stats.access_keys_older_365d = count(
            "SELECT COUNT(*) FROM credentials WHERE kind = 'access_key' AND status = 'active' AND issued_at < $1",
            vec![d365],
        )
        .await?;
        stats.password_users_without_mfa = count(
            "SELECT COUNT(*) FROM identities i WHERE i.status = 'active' AND i.mfa = 0 AND EXISTS \
             (SELECT 1 FROM credentials c WHERE c.identity_id = i.id AND c.kind = 'password' AND c.status = 'active')",
            vec![],
        )
        .await?;
        stats.persistent_credentials = count(
            "SELECT COUNT(*) FROM credentials WHERE status = 'active' AND expires_at IS NULL",
            vec![],
        )
        .await?;
        stats.unowned_credentials = count(
            "SELECT COUNT(*) FROM credentials c LEFT JOIN identities i ON i.id = c.identity_id \
             WHERE c.status = 'active' AND (c.identity_id IS NULL OR i.owner IS NULL)",
            vec![],
        )
        .await?;
        Ok(stats)
    }
}

fn identity_from_row(row: &impl Columns) -> Result<Identity, StoreError> {
    let provider: Provider = parsed_provider(row)?;
    let mfa = row.opt_int("mfa")?;
    Ok(Identity {
        id: IdentityId::from_stored(text(row, "id")?),
        provider,
        external_id: text(row, "external_id")?,
        name: text(row, "name")?,
        kind: parsed(row, "kind")?,
        owner: opt_text(row, "owner")?,
        status: parsed(row, "status")?,
        privilege: parsed::<PrivilegeTier>(row, "privilege")?,
        mfa: mfa.map(|m| m != 0),
        created_at: opt_time(row, "created_at")?,
        created_by: opt_text(row, "created_by")?,
        disabled_at: opt_time(row, "disabled_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
    })
}

fn parsed_provider(row: &impl Columns) -> Result<Provider, StoreError> {
    let value = text(row, "provider")?;
    Provider::new(&value).map_err(|e| StoreError::Corrupt {
        what: "provider",
        value,
        reason: e.to_string(),
    })
}

fn credential_from(row: &impl Columns) -> Result<Credential, StoreError> {
    let scopes = text(row, "scopes")?;
    Ok(Credential {
        id: CredentialId::from_stored(text(row, "id")?),
        provider: parsed_provider(row)?,
        external_key: text(row, "external_key")?,
        native_id: opt_text(row, "native_id")?,
        identity: opt_text(row, "identity_id")?.map(IdentityId::from_stored),
        kind: parsed(row, "kind")?,
        status: parsed(row, "status")?,
        fingerprint: opt_text(row, "fingerprint")?.map(Fingerprint::from_stored),
        preview: opt_text(row, "preview")?,
        issued_at: opt_time(row, "issued_at")?,
        expires_at: opt_time(row, "expires_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
        last_used_from: opt_text(row, "last_used_from")?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
    })
}

fn credential_row(row: &impl Columns) -> Result<CredentialRow, StoreError> {
    Ok(CredentialRow {
        credential: credential_from(row)?,
        identity_name: opt_text(row, "identity_name")?,
        owner: opt_text(row, "owner")?,
    })
}
