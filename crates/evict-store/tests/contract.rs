//! The store contract: every test here runs against SQLite and PostgreSQL. Under CI=true a
#![allow(clippy::unwrap_used)] // tests fail loudly at the line that broke
//! missing PostgreSQL fails the run; elsewhere the PostgreSQL half is skipped with a notice.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use evict_store::import::{ImportKind, Quiet, import_file};
use evict_store::{CredentialFilter, Store, StoreError};
use evict_testkit::postgres::admin_url;
use evict_testkit::{InventoryFormat, reference_now, write_credential_report, write_inventory};
use sqlx::Connection;

/// A store on one backend, dropped (PostgreSQL database removed) at the end of the test.
struct TestStore {
    store: Store,
    reopen: String,
    _dir: tempfile::TempDir,
    pg_database: Option<String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evict test.db");
    let store = Store::open_sqlite_file(&path).await.unwrap();
    TestStore {
        store,
        reopen: format!("sqlite://{}", path.display()).replace(' ', "%20"),
        _dir: dir,
        pg_database: None,
    }
}

async fn postgres() -> Option<TestStore> {
    let admin = admin_url();
    let mut conn = match sqlx::PgConnection::connect(&admin).await {
        Ok(c) => c,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL is required under CI=true but {admin} is unreachable: {e}")
        }
        Err(e) => {
            eprintln!(
                "NOTICE: skipping the PostgreSQL half of this test: {admin} unreachable: {e}"
            );
            return None;
        }
    };
    let name = format!(
        "evict_contract_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("EVICT_TEST_POSTGRES_URL must end in /DATABASE"),
    };
    let store = Store::open_url(&url).await.unwrap();
    Some(TestStore {
        store,
        reopen: url,
        _dir: tempfile::tempdir().unwrap(),
        pg_database: Some(name),
    })
}

impl TestStore {
    async fn finish(self) {
        self.store.close().await;
        if let Some(name) = self.pg_database
            && let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url()).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
}

/// Runs the body once per backend.
macro_rules! on_both_backends {
    ($name:ident, |$ts:ident| $body:block) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_backend() {
                let $ts = sqlite().await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_backend() {
                let Some($ts) = postgres().await else { return };
                $body
            }
        }
    };
}

fn report_file(dir: &Path, users: u64) -> (PathBuf, evict_testkit::ReportTruth) {
    let path = dir.join(format!("report-{users}.csv"));
    let mut out = Vec::new();
    let truth = write_credential_report(11, users, &mut out).unwrap();
    std::fs::write(&path, out).unwrap();
    (path, truth)
}

/// Imports a credential report written by [`report_file`].
async fn import_report(store: &Store, path: &Path) -> evict_store::import::ImportSummary {
    import_file(
        store,
        ImportKind::AwsCredentialReport,
        path,
        reference_now(),
        &Quiet,
    )
    .await
    .unwrap()
}

async fn snapshot(store: &Store) -> Vec<String> {
    let mut all = Vec::new();
    for (table, order) in [
        ("identities", "id"),
        ("credentials", "id"),
        ("journal", "seq"),
        ("journal_head", "id"),
    ] {
        all.extend(store.dump_table(table, order).await.unwrap());
    }
    all
}

on_both_backends!(reimporting_a_report_leaves_the_store_unchanged, |ts| {
    let dir = tempfile::tempdir().unwrap();
    let (path, truth) = report_file(dir.path(), 300);
    let first = import_report(&ts.store, &path).await;
    assert_eq!(first.rows, truth.users);
    assert_eq!(first.rejected, 0);
    assert_eq!(
        first.inserted,
        truth.users + truth.passwords + truth.access_keys + truth.certificates
    );
    let before = snapshot(&ts.store).await;
    let later = reference_now()
        .checked_add(jiff::SignedDuration::from_hours(48))
        .unwrap();
    let second = import_file(
        &ts.store,
        ImportKind::AwsCredentialReport,
        &path,
        later,
        &Quiet,
    )
    .await
    .unwrap();
    assert_eq!(
        (second.inserted, second.updated, second.journal_entries),
        (0, 0, 0)
    );
    assert_eq!(second.unchanged, first.inserted);
    assert_eq!(snapshot(&ts.store).await, before);
    ts.finish().await;
});

on_both_backends!(stats_match_the_generated_ground_truth, |ts| {
    let dir = tempfile::tempdir().unwrap();
    let (path, truth) = report_file(dir.path(), 500);
    import_report(&ts.store, &path).await;
    let stats = ts.store.inventory_stats(reference_now()).await.unwrap();
    assert_eq!(stats.identities as u64, truth.users);
    assert_eq!(stats.active_access_keys as u64, truth.active_access_keys);
    assert_eq!(
        stats.access_keys_unused_90d as u64,
        truth.access_keys_unused_90d
    );
    assert_eq!(
        stats.access_keys_older_365d as u64,
        truth.access_keys_older_365d
    );
    assert_eq!(
        stats.password_users_without_mfa as u64,
        truth.password_users_without_mfa
    );
    assert!(truth.access_keys_unused_90d > 0 && truth.password_users_without_mfa > 0);
    ts.finish().await;
});

on_both_backends!(a_changed_row_is_an_update_with_a_journal_entry, |ts| {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = report_file(dir.path(), 20);
    import_report(&ts.store, &path).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // Turn MFA on for the first IAM user (line 3: header, root, user).
    let fields: Vec<&str> = lines[2].split(',').collect();
    let mut fields: Vec<String> = fields.into_iter().map(String::from).collect();
    fields[7] = if fields[7] == "true" {
        "false".into()
    } else {
        "true".into()
    };
    lines[2] = fields.join(",");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let again = import_report(&ts.store, &path).await;
    assert_eq!(
        (again.inserted, again.updated, again.journal_entries),
        (0, 1, 1)
    );
    let journal = ts.store.journal_verify().await.unwrap();
    assert!(journal.broken.is_none());
    assert_eq!(journal.entries, 2);
    ts.finish().await;
});

on_both_backends!(discovered_key_ids_survive_a_reimport, |ts| {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = report_file(dir.path(), 30);
    import_report(&ts.store, &path).await;
    let mut keys = Vec::new();
    let filter = CredentialFilter {
        kind: Some(evict_model::CredentialKind::AccessKey),
        ..Default::default()
    };
    ts.store
        .for_each_credential(&filter, reference_now(), Some(1), |c| {
            keys.push(c.credential.id)
        })
        .await
        .unwrap();
    // What discovery will do: attach the real key id to the slot.
    ts.store
        .execute_raw(&format!(
            "UPDATE credentials SET native_id = 'AKIA' || 'SYNTHETIC0001' WHERE id = '{}'",
            keys[0]
        ))
        .await
        .unwrap();
    let again = import_report(&ts.store, &path).await;
    assert_eq!(again.updated, 0);
    let Some(evict_store::ShowResult::Credential { credential, .. }) =
        ts.store.show(keys[0].as_str()).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        credential.credential.native_id.as_deref(),
        Some("AKIASYNTHETIC0001")
    );
    ts.finish().await;
});

/// One user, one access key slot and a password as a source sees them.
#[derive(Clone)]
struct Seen {
    identity: evict_model::Identity,
    slot: evict_model::Credential,
    password: evict_model::Credential,
}

fn seen() -> Seen {
    use evict_model::{Credential, CredentialKind, Identity, IdentityKind, Provider};
    let aws = Provider::new("aws").unwrap();
    let arn = "arn:aws:iam::123456789012:user/alice";
    let identity = Identity::new(aws.clone(), arn, IdentityKind::Human);
    let mut slot = Credential::new(
        aws.clone(),
        format!("{arn}#access_key_1"),
        CredentialKind::AccessKey,
    );
    slot.identity = Some(identity.id.clone());
    let mut password = Credential::new(aws, format!("{arn}#password"), CredentialKind::Password);
    password.identity = Some(identity.id.clone());
    Seen {
        identity,
        slot,
        password,
    }
}

async fn upsert(store: &Store, source: &str, seen: &Seen) -> evict_store::BatchOutcome {
    let batch = evict_store::InventoryBatch {
        source: source.into(),
        file: source.into(),
        identities: vec![(1, seen.identity.clone())],
        credentials: vec![(2, seen.slot.clone()), (3, seen.password.clone())],
    };
    store
        .upsert_inventory(batch, reference_now())
        .await
        .unwrap()
}

async fn stored_credential(store: &Store, id: &str) -> evict_model::Credential {
    match store.show(id).await.unwrap() {
        Some(evict_store::ShowResult::Credential { credential, .. }) => credential.credential,
        other => panic!("{id}: {other:?}"),
    }
}

fn at(text: &str) -> Option<jiff::Timestamp> {
    Some(text.parse().unwrap())
}

on_both_backends!(a_source_that_cannot_see_a_fact_does_not_erase_it, |ts| {
    use evict_model::CredentialStatus;
    // What a credential report says: owner and MFA, the slot's last use, the password's
    // rotation deadline; no key id.
    let mut report = seen();
    report.identity.owner = Some("team-identity".into());
    report.identity.mfa = Some(true);
    report.identity.last_used_at = at("2024-05-01T10:00:00Z");
    report.slot.last_used_at = at("2024-05-01T10:00:00Z");
    report.slot.last_used_from = Some("us-east-1 iam".into());
    report.slot.issued_at = at("2023-01-01T00:00:00Z");
    report.password.expires_at = at("2025-01-01T00:00:00Z");
    let first = upsert(&ts.store, "aws-credential-report", &report).await;
    assert_eq!(first.inserted, 3);

    // What discovery says: the real key id, the key made Inactive since; nothing of owner,
    // MFA, last use or rotation deadline.
    let key_id = format!("{}{}", "AKIA", "TESTSLOTKEY00001");
    let mut discovered = seen();
    discovered.slot.native_id = Some(key_id.clone());
    discovered.slot.status = CredentialStatus::Inactive;
    discovered.slot.issued_at = at("2023-01-01T00:00:00Z");
    discovered.password.native_id = Some("alice".into());
    let synced = upsert(&ts.store, "sync:aws", &discovered).await;
    assert_eq!((synced.inserted, synced.updated), (0, 3), "{synced:?}");
    assert_eq!(
        ts.store.dump_table("identities", "id").await.unwrap().len(),
        1
    );

    let slot = stored_credential(&ts.store, report.slot.id.as_str()).await;
    assert_eq!(slot.native_id.as_deref(), Some(key_id.as_str()));
    assert_eq!(slot.status, CredentialStatus::Inactive);
    assert_eq!(slot.last_used_at, at("2024-05-01T10:00:00Z"));
    assert_eq!(slot.last_used_from.as_deref(), Some("us-east-1 iam"));
    let password = stored_credential(&ts.store, report.password.id.as_str()).await;
    assert_eq!(password.native_id.as_deref(), Some("alice"));
    assert_eq!(password.expires_at, at("2025-01-01T00:00:00Z"));
    let Some(evict_store::ShowResult::Identity { identity, .. }) =
        ts.store.show(report.identity.id.as_str()).await.unwrap()
    else {
        panic!("the identity is gone")
    };
    assert_eq!(identity.owner.as_deref(), Some("team-identity"));
    assert_eq!(identity.mfa, Some(true));
    assert_eq!(identity.last_used_at, at("2024-05-01T10:00:00Z"));

    // The same discovery again changes nothing.
    let again = upsert(&ts.store, "sync:aws", &discovered).await;
    assert_eq!((again.updated, again.journal_entries), (0, 0), "{again:?}");

    // An older last use never moves the record back; a later one moves it on.
    let mut stale = discovered.clone();
    stale.identity.last_used_at = at("2023-06-01T00:00:00Z");
    stale.slot.last_used_at = at("2023-06-01T00:00:00Z");
    stale.slot.last_used_from = Some("eu-west-1 s3".into());
    upsert(&ts.store, "old-report", &stale).await;
    let slot = stored_credential(&ts.store, report.slot.id.as_str()).await;
    assert_eq!(slot.last_used_at, at("2024-05-01T10:00:00Z"));
    assert_eq!(slot.last_used_from.as_deref(), Some("us-east-1 iam"));
    let mut fresh = discovered.clone();
    fresh.slot.last_used_at = at("2024-09-01T00:00:00Z");
    fresh.slot.last_used_from = Some("us-west-2 sts".into());
    upsert(&ts.store, "sync:aws", &fresh).await;
    let slot = stored_credential(&ts.store, report.slot.id.as_str()).await;
    assert_eq!(slot.last_used_at, at("2024-09-01T00:00:00Z"));
    assert_eq!(slot.last_used_from.as_deref(), Some("us-west-2 sts"));

    // The slot now holds another key: nothing of the old key is carried over to it.
    let other_key = format!("{}{}", "AKIA", "TESTSLOTKEY00002");
    let mut rotated = discovered.clone();
    rotated.slot.native_id = Some(other_key.clone());
    rotated.slot.status = CredentialStatus::Active;
    rotated.slot.issued_at = at("2024-10-01T00:00:00Z");
    upsert(&ts.store, "sync:aws", &rotated).await;
    let slot = stored_credential(&ts.store, report.slot.id.as_str()).await;
    assert_eq!(slot.native_id.as_deref(), Some(other_key.as_str()));
    assert_eq!(slot.issued_at, at("2024-10-01T00:00:00Z"));
    assert_eq!((slot.last_used_at, slot.last_used_from), (None, None));
    assert!(ts.store.journal_verify().await.unwrap().broken.is_none());
    ts.finish().await;
});

on_both_backends!(
    credentials_of_unknown_identities_are_rejected_not_guessed,
    |ts| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.jsonl");
        std::fs::write(&path, concat!(
        r#"{"record":"credential","provider":"vault","external_id":"tok-1","kind":"api_token","identity":"svc-late"}"#, "\n",
        r#"{"record":"identity","provider":"vault","external_id":"svc-late","kind":"service"}"#, "\n",
        r#"{"record":"credential","provider":"vault","external_id":"tok-2","kind":"api_token","identity":"svc-late"}"#, "\n",
    )).unwrap();
        let summary = import_file(
            &ts.store,
            ImportKind::Inventory,
            &path,
            reference_now(),
            &Quiet,
        )
        .await
        .unwrap();
        // Same batch: the identity is known by the time the batch is written, so both stand.
        assert_eq!(summary.rejected, 0);
        assert_eq!(summary.inserted, 3);
        let lonely = dir.path().join("lonely.jsonl");
        std::fs::write(&lonely, r#"{"record":"credential","provider":"vault","external_id":"tok-3","kind":"api_token","identity":"nobody"}"#).unwrap();
        let summary = import_file(
            &ts.store,
            ImportKind::Inventory,
            &lonely,
            reference_now(),
            &Quiet,
        )
        .await
        .unwrap();
        assert_eq!((summary.rejected, summary.inserted), (1, 0));
        ts.finish().await;
    }
);

on_both_backends!(a_newer_schema_is_refused, |ts| {
    assert_eq!(
        ts.store.schema_version().await.unwrap(),
        ts.store.supported_schema_version()
    );
    // Opening again is a no-op.
    let again = Store::open_url(&ts.reopen).await.unwrap();
    again.close().await;
    ts.store
        .execute_raw(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, x'00', 0)",
        )
        .await
        .or_else(|_| {
            futures_lite_block(ts.store.execute_raw(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (9999, 'from the future', TRUE, '\\x00'::bytea, 0)",
            ))
        })
        .unwrap();
    let err = Store::open_url(&ts.reopen).await.unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 9999, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("newer than this evict supports"),
        "{err}"
    );
    ts.finish().await;
});

fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// Builds a journal of five entries, applies one tampering and returns where verify breaks.
async fn tamper(ts: &TestStore, sql: &str) -> Option<i64> {
    for n in 0..5 {
        ts.store
            .journal_append(
                reference_now(),
                "test.entry",
                &format!("subject-{n}"),
                &serde_json::json!({"n": n}),
            )
            .await
            .unwrap();
    }
    assert!(ts.store.journal_verify().await.unwrap().broken.is_none());
    ts.store.execute_raw(sql).await.unwrap();
    ts.store
        .journal_verify()
        .await
        .unwrap()
        .broken
        .map(|b| b.seq)
}

on_both_backends!(journal_edit_is_caught, |ts| {
    assert_eq!(
        tamper(&ts, "UPDATE journal SET body = '{\"n\":99}' WHERE seq = 3").await,
        Some(3)
    );
    ts.finish().await;
});

on_both_backends!(journal_subject_edit_is_caught, |ts| {
    assert_eq!(
        tamper(
            &ts,
            "UPDATE journal SET subject = 'someone-else' WHERE seq = 2"
        )
        .await,
        Some(2)
    );
    ts.finish().await;
});

on_both_backends!(journal_deletion_is_caught, |ts| {
    assert_eq!(
        tamper(&ts, "DELETE FROM journal WHERE seq = 2").await,
        Some(2)
    );
    ts.finish().await;
});

on_both_backends!(journal_reorder_is_caught, |ts| {
    let swap = "UPDATE journal SET seq = -1 WHERE seq = 2; UPDATE journal SET seq = 2 WHERE seq = 3; UPDATE journal SET seq = 3 WHERE seq = -1;";
    assert_eq!(tamper(&ts, swap).await, Some(2));
    ts.finish().await;
});

on_both_backends!(journal_truncation_is_caught, |ts| {
    assert_eq!(
        tamper(&ts, "DELETE FROM journal WHERE seq >= 4").await,
        Some(4)
    );
    ts.finish().await;
});

on_both_backends!(journal_rehash_without_head_is_caught, |ts| {
    // Deleting the last entry and the head row together still leaves a head mismatch.
    assert_eq!(
        tamper(
            &ts,
            "DELETE FROM journal WHERE seq = 5; UPDATE journal_head SET seq = 5"
        )
        .await,
        Some(5)
    );
    ts.finish().await;
});

on_both_backends!(concurrent_imports_keep_one_chain, |ts| {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for n in 0..3u64 {
        let path = dir.path().join(format!("inv-{n}.csv"));
        let mut out = Vec::new();
        write_inventory(100 + n, 5000, InventoryFormat::Csv, &mut out).unwrap();
        std::fs::write(&path, out).unwrap();
        paths.push(path);
    }
    let imports = paths
        .iter()
        .map(|p| import_file(&ts.store, ImportKind::Inventory, p, reference_now(), &Quiet));
    let results = futures_join_all(imports).await;
    let entries: u64 = results
        .iter()
        .map(|r| r.as_ref().unwrap().journal_entries)
        .sum();
    let journal = ts.store.journal_verify().await.unwrap();
    assert!(journal.broken.is_none(), "{:?}", journal.broken);
    assert_eq!(journal.entries as u64, entries);
    ts.finish().await;
});

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let futures: Vec<_> = futures.collect();
    let mut out = Vec::new();
    // Poll them together on this task so they really interleave on the store.
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.extend(done.into_iter().flatten());
    out
}

on_both_backends!(incidents_open_once_and_journal_each_scope_change, |ts| {
    use evict_model::{Incident, IncidentStatus};
    let now = reference_now();
    let incident = Incident {
        name: "ci-breach".into(),
        compromised_at: "2026-05-22T00:00:00Z".parse().unwrap(),
        patched_at: Some("2026-05-26T00:00:00Z".parse().unwrap()),
        scope: vec!["provider:aws".into()],
        ioc_ips: vec!["203.0.113.66".into()],
        ioc_user_agents: vec!["evil-kit".into()],
        status: IncidentStatus::Open,
    };
    let opened = ts.store.open_incident(&incident, now).await.unwrap();
    assert_eq!(opened.incident, incident);
    assert_eq!(opened.first_journal, opened.last_journal);
    let again = ts.store.open_incident(&incident, now).await.unwrap_err();
    assert!(
        matches!(again, evict_store::IncidentError::Exists { .. }),
        "{again}"
    );
    let (changed, did) = ts
        .store
        .change_incident_scope(
            "ci-breach",
            &["repo:/src/infra".to_string()],
            &["provider:aws".to_string()],
            now,
        )
        .await
        .unwrap();
    assert!(did);
    assert_eq!(changed.incident.scope, vec!["repo:/src/infra".to_string()]);
    assert!(changed.last_journal > opened.last_journal);
    let (_, did) = ts
        .store
        .change_incident_scope("ci-breach", &["repo:/src/infra".to_string()], &[], now)
        .await
        .unwrap();
    assert!(!did, "adding what is there changes nothing");
    let listed = ts.store.incidents().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].incident.scope, changed.incident.scope);
    let missing = ts
        .store
        .change_incident_scope("nope", &[], &[], now)
        .await
        .unwrap_err();
    assert!(matches!(missing, evict_store::IncidentError::NotFound(_)));
    let report = ts.store.journal_verify().await.unwrap();
    assert!(report.broken.is_none());
    assert_eq!(report.entries, 2, "open and one scope change");
});

on_both_backends!(
    a_providers_credentials_and_named_ones_read_back_whole,
    |ts| {
        let dir = tempfile::tempdir().unwrap();
        // More rows than one packed page, so paging is exercised.
        let (path, _) = report_file(dir.path(), 4_000);
        import_report(&ts.store, &path).await;
        let aws = evict_model::Provider::new("aws").unwrap();
        let mut listed = Vec::new();
        let filter = CredentialFilter {
            provider: Some(aws.clone()),
            ..Default::default()
        };
        ts.store
            .for_each_credential(&filter, reference_now(), None, |c| {
                listed.push(c.credential)
            })
            .await
            .unwrap();
        assert!(listed.len() > 5_000, "{} credentials", listed.len());
        let mut bare = Vec::new();
        let n = ts
            .store
            .for_each_credential_of(&aws, |c| bare.push(c))
            .await
            .unwrap();
        assert_eq!(n as usize, bare.len());
        assert_eq!(bare, listed, "the same credentials, in the same id order");
        let none = ts
            .store
            .for_each_credential_of(&evict_model::Provider::new("okta").unwrap(), |_| {})
            .await
            .unwrap();
        assert_eq!(none, 0);
        // By id, by identity and by (provider, native id), each once.
        let ids: Vec<String> = listed.iter().take(3).map(|c| c.id.to_string()).collect();
        let holder = listed
            .iter()
            .find_map(|c| c.identity.clone())
            .unwrap()
            .to_string();
        let named = ts
            .store
            .credentials_named(&ids, std::slice::from_ref(&holder), &[])
            .await
            .unwrap();
        let expected: std::collections::BTreeSet<String> = listed
            .iter()
            .filter(|c| {
                ids.contains(&c.id.to_string())
                    || c.identity.as_ref().is_some_and(|i| i.to_string() == holder)
            })
            .map(|c| c.id.to_string())
            .collect();
        let got: Vec<String> = named.iter().map(|c| c.id.to_string()).collect();
        assert_eq!(got, expected.into_iter().collect::<Vec<_>>());
        ts.finish().await;
    }
);
