//! The log readers as a spec: shapes, sources, offsets, bad input, and the lazy record's
//! agreement with rsigma's `JsonEvent`.
// Helpers outside `#[test]` functions unwrap too: a failing fixture should fail the test.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

use evict_logs::normalize::{Mapping, Normalizer, normalize};
use evict_logs::read::{
    ReadOptions, ReadSummary, RecordBatch, SourceKind, input_files, read_file, read_file_with,
    read_stream,
};
use evict_logs::record::LazyRecord;
use evict_model::{Event, Outcome, RawPointer};
use proptest::prelude::*;
use rsigma_eval::{Event as _, JsonEvent};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Fixtures, built at run time (no key-shaped literals).
// ---------------------------------------------------------------------------------------------

fn access_key(prefix: &str, fill: char) -> String {
    format!("{prefix}{}", fill.to_string().repeat(16))
}

fn cloudtrail(i: usize) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": format!("arn:aws:iam::111122223333:user/alice{i}"),
            "accountId": "111122223333",
            "accessKeyId": access_key("AKIA", 'Z'),
            "userName": format!("alice{i}"),
            "sessionContext": {
                "attributes": {"creationDate": "2024-03-01T09:00:00Z", "mfaAuthenticated": "false"}
            }
        },
        "eventTime": "2024-03-01T12:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "075.050.255.67",
        "userAgent": "aws-cli/2.15.0 Python/3.11",
        "requestParameters": {"userName": format!("backdoor{i}")},
        "responseElements": {"accessKey": {"accessKeyId": access_key("AKIA", 'Y'), "status": "Active"}},
        "requestID": format!("req-{i}"),
        "eventID": format!("ev-{i}"),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "clientProvidedHostHeader": "iam.amazonaws.com"}
    })
}

fn okta(i: usize) -> Value {
    json!({
        "uuid": format!("okta-{i}"),
        "published": "2024-03-01T12:00:00.123Z",
        "eventType": "user.session.start",
        "version": "0",
        "severity": "INFO",
        "actor": {"id": "00u1", "type": "User", "alternateId": "alice@example.com", "displayName": "Alice"},
        "client": {
            "userAgent": {"rawUserAgent": "Mozilla/5.0", "os": "Mac OS X", "browser": "CHROME"},
            "ipAddress": "203.0.113.9"
        },
        "outcome": {"result": if i.is_multiple_of(2) { "SUCCESS" } else { "FAILURE" }, "reason": "INVALID_CREDENTIALS"},
        "transaction": {"type": "WEB", "id": format!("tx-{i}"), "detail": {}},
        "authenticationContext": {"externalSessionId": format!("sess-{i}"), "credentialType": "PASSWORD"},
        "target": [{"id": "00u2", "type": "User", "alternateId": "bob@example.com"}]
    })
}

fn github(i: usize) -> Value {
    json!({
        "@timestamp": 1_709_294_400_000u64 + i as u64,
        "_document_id": format!("gh-{i}"),
        "action": "oauth_authorization.create",
        "actor": "mallory",
        "actor_ip": "198.51.100.20",
        "user_agent": "curl/8.0",
        "org": "acme",
        "user": "mallory",
        // Built at run time: a token hash in source text looks like a token to secret scanners.
        "hashed_token": (["dGVzdC", "1oYXNo"].concat()),
        "programmatic_access_type": "Personal access token (classic)"
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out);
    out
}

/// One record handed over by a reader.
#[derive(Debug, Clone)]
struct Got {
    bytes: Vec<u8>,
    offset: u64,
    line: u64,
    kind: SourceKind,
    file: String,
}

fn collect(batches: &mut Vec<Got>) -> impl FnMut(RecordBatch) + '_ {
    move |batch: RecordBatch| {
        for r in batch.records() {
            batches.push(Got {
                bytes: r.bytes.to_vec(),
                offset: r.offset,
                line: r.line,
                kind: batch.kind(),
                file: batch.file().to_string(),
            });
        }
    }
}

fn read_bytes(
    bytes: &[u8],
    kind: Option<SourceKind>,
    options: &ReadOptions,
) -> (Vec<Got>, ReadSummary) {
    let mut got = Vec::new();
    let summary = read_stream("mem.json", bytes, kind, options, &mut collect(&mut got));
    (got, summary)
}

fn small_blocks() -> ReadOptions {
    ReadOptions {
        block_size: 7,
        batch_bytes: 300,
        batch_records: 3,
        max_record: 1 << 20,
    }
}

/// Every record's offset points at its first byte in the (decompressed) stream.
fn assert_offsets(stream: &[u8], got: &[Got]) {
    for g in got {
        let at = g.offset as usize;
        assert_eq!(&stream[at..at + g.bytes.len()], &g.bytes[..], "offset {at}");
    }
}

fn events(got: &[Got]) -> Vec<Event> {
    got.iter()
        .map(|g| {
            let rec = LazyRecord::parse(&g.bytes).unwrap();
            let pointer = RawPointer {
                file: g.file.clone(),
                offset: g.offset,
            };
            normalize(g.kind, &rec, pointer).unwrap()
        })
        .collect()
}

fn problems(summary: &ReadSummary) -> Vec<String> {
    summary.problems.iter().map(|p| p.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------

mod shapes {
    use super::*;

    #[test]
    fn cloudtrail_records_object_plain_and_gzip() {
        let records: Vec<Value> = (0..10).map(cloudtrail).collect();
        let text = serde_json::to_vec(&json!({ "Records": records })).unwrap();
        for options in [ReadOptions::default(), small_blocks()] {
            for bytes in [text.clone(), gzip(&text)] {
                let (got, summary) = read_bytes(&bytes, None, &options);
                assert_eq!(got.len(), 10, "{:?}", problems(&summary));
                assert!(summary.problems.is_empty(), "{:?}", problems(&summary));
                assert_eq!(summary.records, 10);
                assert_eq!(summary.bytes, text.len() as u64);
                assert!(got.iter().all(|g| g.kind == SourceKind::CloudTrail));
                assert_offsets(&text, &got);
                for (g, r) in got.iter().zip(&records) {
                    assert_eq!(serde_json::from_slice::<Value>(&g.bytes).unwrap(), *r);
                }
            }
        }
    }

    #[test]
    fn records_object_with_other_keys_and_concatenated_objects() {
        let a = json!({"Records": [cloudtrail(0)], "digest": {"Records": "not this"}});
        let b = json!({"meta": [1, {"x": "]"}], "Records": [cloudtrail(1), cloudtrail(2)]});
        let text = format!("{a}\n{b}\n");
        let (got, summary) = read_bytes(text.as_bytes(), None, &small_blocks());
        assert_eq!(got.len(), 3, "{:?}", problems(&summary));
        assert!(summary.problems.is_empty(), "{:?}", problems(&summary));
        assert_offsets(text.as_bytes(), &got);
    }

    #[test]
    fn bare_array_pretty_printed() {
        let records: Vec<Value> = (0..5).map(cloudtrail).collect();
        let text = serde_json::to_string_pretty(&records).unwrap();
        let (got, summary) = read_bytes(text.as_bytes(), None, &small_blocks());
        assert_eq!(got.len(), 5, "{:?}", problems(&summary));
        assert_offsets(text.as_bytes(), &got);
        // The first record starts on line 2, after the `[`.
        assert_eq!(got[0].line, 2);
        let expected_line = text[..got[1].offset as usize].matches('\n').count() as u64 + 1;
        assert_eq!(got[1].line, expected_line);
    }

    #[test]
    fn json_lines_with_blank_lines_and_crlf() {
        let mut text = String::from("\u{feff}");
        for i in 0..4 {
            text.push_str(&cloudtrail(i).to_string());
            text.push_str(if i % 2 == 0 { "\r\n" } else { "\n\n  \n" });
        }
        text.push_str(&cloudtrail(4).to_string()); // no final newline
        for options in [ReadOptions::default(), small_blocks()] {
            let (got, summary) = read_bytes(text.as_bytes(), None, &options);
            assert_eq!(got.len(), 5, "{:?}", problems(&summary));
            assert!(summary.problems.is_empty(), "{:?}", problems(&summary));
            assert_offsets(text.as_bytes(), &got);
            assert!(got.iter().all(|g| !g.bytes.ends_with(b"\r")));
            assert_eq!(
                got.iter().map(|g| g.line).collect::<Vec<_>>(),
                [1, 2, 5, 6, 9]
            );
        }
    }

    #[test]
    fn concatenated_pretty_objects() {
        let text = format!(
            "{}\n{}\n",
            serde_json::to_string_pretty(&okta(0)).unwrap(),
            serde_json::to_string_pretty(&okta(1)).unwrap()
        );
        let (got, summary) = read_bytes(text.as_bytes(), None, &small_blocks());
        assert_eq!(got.len(), 2, "{:?}", problems(&summary));
        assert_eq!(got[0].kind, SourceKind::Okta);
        assert_offsets(text.as_bytes(), &got);
    }

    #[test]
    fn s3_directory_layout() {
        let dir = tempfile::tempdir().unwrap();
        let day = dir
            .path()
            .join("AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01");
        std::fs::create_dir_all(&day).unwrap();
        for (n, name) in [
            "b_CloudTrail_20240301T1205Z.json.gz",
            "a_CloudTrail_20240301T1200Z.json.gz",
        ]
        .iter()
        .enumerate()
        {
            let records: Vec<Value> = (n * 3..n * 3 + 3).map(cloudtrail).collect();
            let text = serde_json::to_vec(&json!({ "Records": records })).unwrap();
            std::fs::write(day.join(name), gzip(&text)).unwrap();
        }
        let digest = dir
            .path()
            .join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/01");
        std::fs::create_dir_all(&digest).unwrap();
        std::fs::write(
            digest.join("d.json.gz"),
            gzip(b"{\"digestStartTime\":\"x\"}"),
        )
        .unwrap();
        std::fs::write(dir.path().join("README.txt"), "notes").unwrap();

        let (files, mut summary) = input_files(&[dir.path().to_path_buf()]);
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "a_CloudTrail_20240301T1200Z.json.gz",
                "b_CloudTrail_20240301T1205Z.json.gz"
            ]
        );
        assert_eq!(summary.skipped_by_reason["CloudTrail digest file"], 1);
        assert_eq!(
            summary.skipped_by_reason[evict_logs::read::NOT_A_LOG_NAME],
            1
        );
        let mut got = Vec::new();
        for file in &files {
            summary.merge(read_file(file, None, &mut collect(&mut got)));
        }
        assert_eq!(summary.files, 2);
        assert_eq!(summary.records, 6);
        let events = events(&got);
        assert!(events.iter().all(|e| e.action == "iam:createaccesskey"));
        assert!(
            events[0]
                .raw
                .file
                .ends_with("a_CloudTrail_20240301T1200Z.json.gz")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Sources and normalisation
// ---------------------------------------------------------------------------------------------

mod sources {
    use super::*;

    #[test]
    fn cloudtrail_event_fields() {
        let text = serde_json::to_vec(&json!({ "Records": [cloudtrail(7)] })).unwrap();
        let (got, _) = read_bytes(&text, None, &ReadOptions::default());
        let ev = &events(&got)[0];
        assert_eq!(ev.time.to_string(), "2024-03-01T12:00:00Z");
        assert_eq!(ev.provider.as_str(), "aws");
        assert_eq!(ev.id.as_deref(), Some("ev-7"));
        assert_eq!(ev.service.as_deref(), Some("iam.amazonaws.com"));
        assert_eq!(ev.raw_action, "CreateAccessKey");
        assert_eq!(ev.action, "iam:createaccesskey");
        assert_eq!(
            ev.actor_name.as_deref(),
            Some("arn:aws:iam::111122223333:user/alice7")
        );
        assert_eq!(ev.actor_kind.as_deref(), Some("IAMUser"));
        assert_eq!(ev.credential_native_id, Some(access_key("AKIA", 'Z')));
        assert_eq!(ev.credential_kind.as_deref(), Some("access_key"));
        let session = ev.session.as_ref().unwrap();
        assert_eq!(
            session.issued_at.unwrap().to_string(),
            "2024-03-01T09:00:00Z"
        );
        assert_eq!(session.mfa, Some(false));
        assert_eq!(ev.target.as_deref(), Some("backdoor7"));
        assert_eq!(ev.source.as_deref(), Some("075.050.255.67"));
        assert_eq!(ev.source_ip.unwrap().to_string(), "75.50.255.67");
        assert_eq!(ev.user_agent.as_deref(), Some("aws-cli/2.15.0 Python/3.11"));
        assert_eq!(ev.outcome, Outcome::Success);
        assert_eq!(ev.account.as_deref(), Some("111122223333"));
        assert_eq!(ev.region.as_deref(), Some("us-east-1"));
        assert_eq!(ev.raw.offset, got[0].offset);
    }

    #[test]
    fn cloudtrail_variants() {
        let mut login = cloudtrail(1);
        login["eventName"] = json!("ConsoleLogin");
        login["eventSource"] = json!("signin.amazonaws.com");
        login["responseElements"] = json!({"ConsoleLogin": "Failure"});
        login["additionalEventData"] = json!({"MFAUsed": "Yes"});
        login["sourceIPAddress"] = json!("AWS Internal");
        let mut temp = cloudtrail(2);
        temp["userIdentity"]["accessKeyId"] = json!(access_key("ASIA", 'Q'));
        temp["userIdentity"]["type"] = json!("AssumedRole");
        temp["errorCode"] = json!("AccessDenied");
        temp["sourceIPAddress"] = json!("ec2.amazonaws.com");
        temp["eventTime"] = json!(null);
        temp["@timestamp"] = json!("2024-03-02T00:00:00Z");
        let mut bare = json!({"eventVersion": "1.0", "eventName": "GetCallerIdentity",
            "eventTime": "2024-03-01T00:00:00Z", "userIdentity": "mistyped",
            "sourceIPAddress": 42, "requestParameters": null});
        bare["awsRegion"] = json!(["not", "a", "string"]);
        let text = format!("{login}\n{temp}\n{bare}\n");
        let (got, summary) = read_bytes(text.as_bytes(), None, &ReadOptions::default());
        assert_eq!(got.len(), 3, "{:?}", problems(&summary));
        let evs = events(&got);

        assert_eq!(evs[0].action, "signin:consolelogin");
        assert_eq!(evs[0].outcome, Outcome::Failure);
        assert_eq!(evs[0].session.as_ref().unwrap().mfa, Some(true));
        assert_eq!(evs[0].source.as_deref(), Some("AWS Internal"));
        assert_eq!(evs[0].source_ip, None);

        assert_eq!(evs[1].credential_kind.as_deref(), Some("temporary_key"));
        assert_eq!(evs[1].outcome, Outcome::Failure);
        assert_eq!(evs[1].error_code.as_deref(), Some("AccessDenied"));
        assert_eq!(evs[1].time.to_string(), "2024-03-02T00:00:00Z");
        assert_eq!(evs[1].source.as_deref(), Some("ec2.amazonaws.com"));
        assert_eq!(evs[1].source_ip, None);

        // Mistyped optional fields are just absent.
        assert_eq!(evs[2].action, "aws:getcalleridentity");
        assert_eq!(evs[2].actor_name, None);
        assert_eq!(evs[2].source, None);
        assert_eq!(evs[2].region, None);
        assert_eq!(evs[2].session, None);
    }

    #[test]
    fn records_without_time_are_errors_with_reason() {
        let mut no_time = cloudtrail(0);
        no_time.as_object_mut().unwrap().remove("eventTime");
        let mut bad_time = cloudtrail(1);
        bad_time["eventTime"] = json!("last tuesday");
        for (record, message) in [
            (
                no_time,
                "no usable time: eventTime or @timestamp is missing",
            ),
            (
                bad_time,
                "no usable time: eventTime \"\\\"last tuesday\\\"\" is not a time",
            ),
        ] {
            let bytes = record.to_string();
            let rec = LazyRecord::parse(bytes.as_bytes()).unwrap();
            let pointer = RawPointer {
                file: "f".into(),
                offset: 0,
            };
            let err = normalize(SourceKind::CloudTrail, &rec, pointer).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn okta_array_and_lines() {
        let records: Vec<Value> = (0..4).map(okta).collect();
        let array = serde_json::to_string_pretty(&records).unwrap();
        let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
        for text in [array, lines] {
            let (got, summary) = read_bytes(text.as_bytes(), None, &small_blocks());
            assert_eq!(got.len(), 4, "{:?}", problems(&summary));
            assert!(got.iter().all(|g| g.kind == SourceKind::Okta));
            assert_offsets(text.as_bytes(), &got);
            let evs = events(&got);
            let ev = &evs[0];
            assert_eq!(ev.provider.as_str(), "okta");
            assert_eq!(ev.action, "okta:user.session.start");
            assert_eq!(ev.actor_name.as_deref(), Some("alice@example.com"));
            assert_eq!(ev.actor_kind.as_deref(), Some("User"));
            assert_eq!(ev.credential_native_id.as_deref(), Some("sess-0"));
            assert_eq!(ev.credential_kind.as_deref(), Some("session"));
            let session = ev.session.as_ref().unwrap();
            assert_eq!(session.id.as_deref(), Some("sess-0"));
            assert_eq!(session.transaction_id.as_deref(), Some("tx-0"));
            assert_eq!(ev.target.as_deref(), Some("bob@example.com"));
            assert_eq!(ev.source_ip.unwrap().to_string(), "203.0.113.9");
            assert_eq!(ev.user_agent.as_deref(), Some("Mozilla/5.0"));
            assert_eq!(ev.outcome, Outcome::Success);
            assert_eq!(evs[1].outcome, Outcome::Failure);
            assert_eq!(evs[1].error_code.as_deref(), Some("INVALID_CREDENTIALS"));
        }
    }

    #[test]
    fn okta_api_token_is_the_credential() {
        let mut record = okta(0);
        record["transaction"]["detail"] = json!({"requestApiTokenId": "00Tabc"});
        let text = record.to_string();
        let rec = LazyRecord::parse(text.as_bytes()).unwrap();
        let pointer = RawPointer {
            file: "f".into(),
            offset: 0,
        };
        let ev = normalize(SourceKind::Okta, &rec, pointer).unwrap();
        assert_eq!(ev.credential_native_id.as_deref(), Some("00Tabc"));
        assert_eq!(ev.credential_kind.as_deref(), Some("api_token"));
    }

    #[test]
    fn what_an_action_created_is_named_by_its_id() {
        let created = |kind: SourceKind, record: Value| {
            let text = record.to_string();
            let rec = LazyRecord::parse(text.as_bytes()).unwrap();
            let pointer = RawPointer {
                file: "f".into(),
                offset: 0,
            };
            let ev = normalize(kind, &rec, pointer).unwrap();
            (ev.created, ev.target)
        };
        let mut key = cloudtrail(0);
        key["eventName"] = json!("CreateAccessKey");
        key["requestParameters"] = json!({"userName": "billing-admin"});
        key["responseElements"] = json!({"accessKey": {"userName": "billing-admin", "accessKeyId": "AKIAEXAMPLECREATED1", "status": "Active"}});
        assert_eq!(
            created(SourceKind::CloudTrail, key),
            (
                Some("AKIAEXAMPLECREATED1".into()),
                Some("billing-admin".into())
            )
        );
        let mut token = okta(0);
        token["eventType"] = json!("system.api_token.create");
        token["target"] = json!([{"id": "00Tnew", "type": "Token", "alternateId": "unknown", "displayName": "backup-sync"}]);
        assert_eq!(
            created(SourceKind::Okta, token.clone()),
            (Some("00Tnew".into()), Some("backup-sync".into())),
            "Okta's `unknown` alternate id is no name"
        );
        token["eventType"] = json!("system.api_token.revoke");
        assert_eq!(created(SourceKind::Okta, token).0, None, "only creations");
        for (action, field, value, id) in [
            (
                "public_key.create",
                "fingerprint",
                json!("SHA256:abc"),
                "SHA256:abc",
            ),
            (
                "oauth_authorization.create",
                "oauth_application_id",
                json!(991177),
                "991177",
            ),
            (
                "personal_access_token.access_granted",
                "personal_access_token_id",
                json!(5550001),
                "5550001",
            ),
        ] {
            let mut record = github(0);
            record["action"] = json!(action);
            record[field] = value;
            assert_eq!(
                created(SourceKind::GitHub, record).0.as_deref(),
                Some(id),
                "{action}"
            );
        }
        assert_eq!(created(SourceKind::GitHub, github(0)).0, None);
    }

    #[test]
    fn github_array_and_lines() {
        let records: Vec<Value> = (0..3).map(github).collect();
        let array = serde_json::to_string(&records).unwrap();
        let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
        for text in [array, lines] {
            let (got, summary) = read_bytes(text.as_bytes(), None, &small_blocks());
            assert_eq!(got.len(), 3, "{:?}", problems(&summary));
            assert!(got.iter().all(|g| g.kind == SourceKind::GitHub));
            let evs = events(&got);
            let ev = &evs[1];
            assert_eq!(ev.time.to_string(), "2024-03-01T12:00:00.001Z");
            assert_eq!(ev.provider.as_str(), "github");
            assert_eq!(ev.id.as_deref(), Some("gh-1"));
            assert_eq!(ev.action, "github:oauth_authorization.create");
            assert_eq!(ev.actor_name.as_deref(), Some("mallory"));
            assert_eq!(ev.credential_native_id.as_deref(), Some("dGVzdC1oYXNo"));
            assert_eq!(ev.credential_kind.as_deref(), Some("personal_access_token"));
            assert_eq!(ev.source_ip.unwrap().to_string(), "198.51.100.20");
            assert_eq!(ev.target.as_deref(), Some("mallory"));
            assert_eq!(ev.account.as_deref(), Some("acme"));
        }
        // `created_at` as text and `@timestamp` as numeric text.
        let rec =
            json!({"action": "repo.create", "actor": "a", "created_at": "2024-03-01T12:00:00Z"});
        let text = rec.to_string();
        let ev = normalize(
            SourceKind::GitHub,
            &LazyRecord::parse(text.as_bytes()).unwrap(),
            RawPointer {
                file: "f".into(),
                offset: 0,
            },
        )
        .unwrap();
        assert_eq!(ev.time.to_string(), "2024-03-01T12:00:00Z");
        assert_eq!(ev.service.as_deref(), Some("repo"));
    }

    #[test]
    fn json_lines_through_a_mapping_file() {
        let dir = tempfile::tempdir().unwrap();
        let mapping_path = dir.path().join("myapp.yml");
        std::fs::write(
            &mapping_path,
            "provider: myapp\ntime: ts\ntime_format: epoch_s\naction: event.type\n\
             actor: user.name\ncredential: token.id\ncredential_kind: api_token\n\
             source: ip\nuser_agent: ua\noutcome: result\nid: event_id\ntarget: object\n",
        )
        .unwrap();
        let mapping = Mapping::load(&mapping_path).unwrap();
        let log = dir.path().join("app.log");
        std::fs::write(
            &log,
            concat!(
                r#"{"ts":1709294400,"event":{"type":"Token.Create"},"user":{"name":"alice"},"token":{"id":77},"ip":"2001:db8::5","ua":"app/1","result":"DENIED","event_id":"e1","object":"svc"}"#,
                "\n",
                r#"{"ts":"1709294401.5","event":{"type":"login"},"result":"ok"}"#,
                "\n",
                r#"{"event":{"type":"login"}}"#,
                "\n"
            ),
        )
        .unwrap();
        let mut got = Vec::new();
        let summary = read_file(&log, Some(SourceKind::JsonLines), &mut collect(&mut got));
        assert_eq!(summary.records, 3);
        let normalizer = Normalizer::new(Some(mapping));
        let results: Vec<_> = got
            .iter()
            .map(|g| {
                let rec = LazyRecord::parse(&g.bytes).unwrap();
                let pointer = RawPointer {
                    file: g.file.clone(),
                    offset: g.offset,
                };
                normalizer.normalize(g.kind, &rec, pointer)
            })
            .collect();
        let ev = results[0].as_ref().unwrap();
        assert_eq!(ev.provider.as_str(), "myapp");
        assert_eq!(ev.action, "myapp:token.create");
        assert_eq!(ev.raw_action, "Token.Create");
        assert_eq!(ev.time.to_string(), "2024-03-01T12:00:00Z");
        assert_eq!(ev.actor_name.as_deref(), Some("alice"));
        assert_eq!(ev.credential_native_id.as_deref(), Some("77"));
        assert_eq!(ev.credential_kind.as_deref(), Some("api_token"));
        assert_eq!(ev.source_ip.unwrap().to_string(), "2001:db8::5");
        assert_eq!(ev.outcome, Outcome::Failure);
        assert_eq!(ev.target.as_deref(), Some("svc"));
        let ev = results[1].as_ref().unwrap();
        assert_eq!(ev.time.to_string(), "2024-03-01T12:00:01.5Z");
        assert_eq!(ev.outcome, Outcome::Success);
        let err = results[2].as_ref().unwrap_err();
        assert_eq!(err.to_string(), "no usable time: ts is missing");
        // Without a mapping, JSON lines cannot be normalised.
        let rec = LazyRecord::parse(&got[0].bytes).unwrap();
        let pointer = RawPointer {
            file: "f".into(),
            offset: 0,
        };
        assert!(normalize(SourceKind::JsonLines, &rec, pointer).is_err());
    }

    #[test]
    fn source_names() {
        for kind in SourceKind::ALL {
            assert_eq!(kind.to_string().parse::<SourceKind>().unwrap(), kind);
        }
        let err = "splunk".parse::<SourceKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown log source 'splunk': use cloudtrail, okta, github or jsonl"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

mod bad_input {
    use super::*;

    #[test]
    fn truncated_gzip_keeps_earlier_records_and_other_files() {
        let records: Vec<Value> = (0..400).map(cloudtrail).collect();
        let text = serde_json::to_vec(&json!({ "Records": records })).unwrap();
        let gz = gzip(&text);
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("a.json.gz");
        std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
        let good = dir.path().join("b.json.gz");
        std::fs::write(&good, &gz).unwrap();

        let (files, mut summary) = input_files(&[dir.path().to_path_buf()]);
        let mut got = Vec::new();
        for file in &files {
            summary.merge(read_file(file, None, &mut collect(&mut got)));
        }
        let from_cut = got.iter().filter(|g| g.file.ends_with("a.json.gz")).count();
        let from_good = got.iter().filter(|g| g.file.ends_with("b.json.gz")).count();
        assert!(from_cut > 0 && from_cut < 400, "{from_cut}");
        assert_eq!(from_good, 400);
        assert_eq!(summary.problems.len(), 1, "{:?}", problems(&summary));
        let problem = &summary.problems[0];
        let decompressed = gunzip(&gz[..gz.len() / 2]);
        assert_eq!(problem.offset, Some(decompressed.len() as u64));
        let message = problem.to_string();
        let expected = format!(
            "{}: offset {}: truncated gzip stream (unexpected end of file); {from_cut} records read before it; the record at offset ",
            cut.display(),
            decompressed.len()
        );
        assert!(message.starts_with(&expected), "{message}\n{expected}");
        assert_eq!(summary.skipped_by_reason["truncated gzip stream"], 1);
        let cut_records: Vec<Got> = got
            .iter()
            .filter(|g| g.file.ends_with("a.json.gz"))
            .cloned()
            .collect();
        assert_offsets(&decompressed, &cut_records);
    }

    #[test]
    fn corrupt_gzip() {
        let mut gz = gzip(&serde_json::to_vec(&json!({"Records": [cloudtrail(0)]})).unwrap());
        let middle = gz.len() / 2;
        for b in &mut gz[10..middle] {
            *b = 0xff;
        }
        let (got, summary) = read_bytes(&gz, None, &ReadOptions::default());
        assert!(got.is_empty());
        assert_eq!(summary.problems.len(), 1, "{:?}", problems(&summary));
        assert!(
            summary.problems[0]
                .reason
                .starts_with("corrupt gzip stream ("),
            "{:?}",
            problems(&summary)
        );
    }

    #[test]
    fn file_that_is_not_json() {
        for bytes in [&b"hello, world\n"[..], b"\x00\x01binary", b"<html></html>"] {
            let (got, summary) = read_bytes(bytes, None, &ReadOptions::default());
            assert!(got.is_empty());
            assert_eq!(summary.problems.len(), 1);
            assert!(
                summary.problems[0]
                    .to_string()
                    .starts_with("mem.json: line 1, offset 0: not JSON: the file starts with "),
                "{:?}",
                problems(&summary)
            );
        }
    }

    #[test]
    fn members_that_are_not_objects_are_skipped() {
        let text = format!(
            "[{}, 42, \"text\", [1,2], null, {}]",
            cloudtrail(0),
            cloudtrail(1)
        );
        let (got, summary) = read_bytes(text.as_bytes(), None, &small_blocks());
        assert_eq!(got.len(), 2, "{:?}", problems(&summary));
        assert_offsets(text.as_bytes(), &got);
        let reasons: Vec<String> = summary.problems.iter().map(|p| p.reason.clone()).collect();
        assert_eq!(
            reasons,
            [
                "not a JSON object (a number): skipped",
                "not a JSON object (a string): skipped",
                "not a JSON object (an array): skipped",
                "not a JSON object (null): skipped",
            ]
        );
        let at = text.find("42").unwrap() as u64;
        assert_eq!(summary.problems[0].offset, Some(at));
        assert_eq!(summary.skipped_by_reason["record not a JSON object"], 4);

        let lines = format!("{}\n[1]\n\"x\"\n{}\n", cloudtrail(0), cloudtrail(1));
        let (got, summary) = read_bytes(lines.as_bytes(), None, &ReadOptions::default());
        assert_eq!(got.len(), 2);
        assert_eq!(
            problems(&summary),
            [
                format!(
                    "mem.json: line 2, offset {}: not a JSON object (an array): skipped",
                    lines.find("[1]").unwrap()
                ),
                format!(
                    "mem.json: line 3, offset {}: not a JSON object (a string): skipped",
                    lines.find("\"x\"").unwrap()
                ),
            ]
        );
    }

    #[test]
    fn invalid_json_inside_an_array_resynchronises() {
        // A missing comma, a broken record, stray closers: every good record is still read.
        let text = format!(
            "[{} {}, {{\"eventVersion\": }}, }} {}]",
            cloudtrail(0),
            cloudtrail(1),
            cloudtrail(2)
        );
        let (got, summary) = read_bytes(text.as_bytes(), None, &small_blocks());
        assert_eq!(got.len(), 4, "{:?}", problems(&summary));
        assert_offsets(text.as_bytes(), &got);
        let reasons = problems(&summary);
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].contains("invalid JSON: expected ',' or ']' after a record, found '{'"));
        assert!(reasons[1].contains("invalid JSON: unexpected '}' between records"));
        // The broken record is delimited and handed over; parsing it says what is wrong.
        let err = LazyRecord::parse(&got[2].bytes).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid JSON at byte 17"),
            "{err}"
        );
    }

    #[test]
    fn unterminated_array_keeps_the_records_before() {
        let text = format!(
            "[{}, {}, {{\"eventVersion\": \"1\", \"x\": [",
            cloudtrail(0),
            cloudtrail(1)
        );
        let (got, summary) = read_bytes(text.as_bytes(), None, &small_blocks());
        assert_eq!(got.len(), 2);
        let at = text.rfind("{\"eventVersion\": \"1\"").unwrap();
        assert_eq!(
            problems(&summary),
            [format!(
                "mem.json: line 1, offset {at}: unexpected end of file inside this record (the file may be truncated)"
            )]
        );
        let text = format!("[{}, {}", cloudtrail(0), cloudtrail(1));
        let (got, summary) = read_bytes(text.as_bytes(), None, &ReadOptions::default());
        assert_eq!(got.len(), 2);
        assert!(problems(&summary)[0].ends_with(
            "unexpected end of file: the array of records is not closed (the file may be truncated)"
        ));
    }

    #[test]
    fn empty_files_are_counted_not_errors() {
        for bytes in [&b""[..], b"  \n\r\n", &gzip(b"")[..]] {
            let (got, summary) = read_bytes(bytes, None, &ReadOptions::default());
            assert!(got.is_empty());
            assert!(summary.problems.is_empty());
            assert_eq!(summary.skipped_by_reason["empty file"], 1);
            assert_eq!(summary.files, 1);
        }
        let (got, summary) = read_bytes(b"[]", None, &ReadOptions::default());
        assert!(got.is_empty() && summary.problems.is_empty());
    }

    #[test]
    fn a_fifty_megabyte_record() {
        let big = "A".repeat(50 << 20);
        let mut huge = cloudtrail(0);
        huge["requestParameters"]["policyDocument"] = json!(big);
        let text = serde_json::to_vec(&json!({"Records": [huge, cloudtrail(1)]})).unwrap();
        drop(big);
        // Within the limit: read.
        let (got, summary) = read_bytes(&text, None, &ReadOptions::default());
        assert_eq!(got.len(), 2, "{:?}", problems(&summary));
        assert!(got[0].bytes.len() > 50 << 20);
        let rec = LazyRecord::parse(&got[0].bytes).unwrap();
        assert_eq!(rec.get_str("eventName").as_deref(), Some("CreateAccessKey"));
        // Over the limit: skipped with a reason, the next record read, memory bounded.
        let options = ReadOptions {
            max_record: 1 << 20,
            ..ReadOptions::default()
        };
        let (got, summary) = read_bytes(&text, None, &options);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].bytes, serde_json::to_vec(&cloudtrail(1)).unwrap());
        assert_eq!(
            problems(&summary),
            ["mem.json: line 1, offset 12: record larger than 1 MiB: skipped"]
        );
        // The same as JSON lines and as a bare top-level object.
        let lines = format!(
            "{}\n{}\n",
            cloudtrail(1),
            String::from_utf8(
                serde_json::to_vec(&json!({"eventVersion": "x", "p": "B".repeat(3 << 20)}))
                    .unwrap()
            )
            .unwrap()
        );
        let (got, summary) = read_bytes(lines.as_bytes(), None, &options);
        assert_eq!(got.len(), 1);
        assert_eq!(
            problems(&summary),
            [format!(
                "mem.json: line 2, offset {}: record larger than 1 MiB: skipped",
                lines.find('\n').unwrap() + 1
            )]
        );
        let single =
            serde_json::to_vec(&json!({"eventVersion": "x", "p": "B".repeat(3 << 20)})).unwrap();
        let (got, summary) = read_bytes(&single, None, &options);
        assert!(got.is_empty());
        assert_eq!(
            problems(&summary),
            ["mem.json: line 1, offset 0: record larger than 1 MiB: skipped"]
        );
    }

    #[test]
    fn unreadable_paths_are_reported_and_the_rest_read() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.jsonl");
        std::fs::write(&good, format!("{}\n", okta(0))).unwrap();
        let missing = dir.path().join("missing.json");
        let (files, mut summary) = input_files(&[missing.clone(), good.clone()]);
        assert_eq!(files, std::slice::from_ref(&good));
        let mut got = Vec::new();
        for file in files.iter().chain([&missing]) {
            summary.merge(read_file(file, None, &mut collect(&mut got)));
        }
        assert_eq!(got.len(), 1);
        let messages = problems(&summary);
        assert_eq!(messages.len(), 2);
        assert!(
            messages
                .iter()
                .all(|m| m.contains("missing.json: unreadable: "))
        );
        assert_eq!(summary.skipped_by_reason["unreadable file"], 2);
        // A directory given as a file.
        let mut none = Vec::new();
        let summary = read_file(dir.path(), None, &mut collect(&mut none));
        assert_eq!(summary.problems.len(), 1);
    }

    #[test]
    fn unknown_source_asks_for_source() {
        let text = "{\"foo\":1,\"bar\":2}\n{\"foo\":3}\n";
        let (got, summary) = read_bytes(text.as_bytes(), None, &ReadOptions::default());
        assert!(got.is_empty());
        assert_eq!(
            problems(&summary),
            [
                "mem.json: line 1, offset 0: cannot tell which log this is from its first record (keys: foo, bar): pass --source cloudtrail|okta|github|jsonl"
            ]
        );
        let (got, _) = read_bytes(
            text.as_bytes(),
            Some(SourceKind::JsonLines),
            &ReadOptions::default(),
        );
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn a_first_line_cut_inside_an_array_does_not_hide_the_rest() {
        let mut text = String::from("{\"eventVersion\":\"1\",\"a\":[1,2\n");
        for i in 0..10 {
            text.push_str(&format!("{}\n", cloudtrail(i)));
        }
        // Found at the end of the file, and when the first "record" outgrows the size limit.
        for max_record in [1 << 20, 4096] {
            let options = ReadOptions {
                max_record,
                ..small_blocks()
            };
            let (got, summary) = read_bytes(text.as_bytes(), None, &options);
            assert!(summary.problems.is_empty(), "{:?}", problems(&summary));
            assert_eq!(got.len(), 11, "max_record {max_record}");
            assert!(LazyRecord::parse(&got[0].bytes).is_err());
            assert_eq!(got[10].line, 11);
            assert_offsets(text.as_bytes(), &got);
        }
    }

    #[test]
    fn a_broken_first_line_does_not_hide_the_rest() {
        let text = format!(
            "{{\"eventVersion\":\"1\",\"a\":\"cut\n{}\n{}\n",
            cloudtrail(0),
            cloudtrail(1)
        );
        let (got, summary) = read_bytes(text.as_bytes(), None, &ReadOptions::default());
        assert!(summary.problems.is_empty(), "{:?}", problems(&summary));
        assert_eq!(got.len(), 3);
        assert!(LazyRecord::parse(&got[0].bytes).is_err());
        assert_eq!(got[2].line, 3);
    }
}

// ---------------------------------------------------------------------------------------------
// The splitter over generated input, with every possible block boundary
// ---------------------------------------------------------------------------------------------

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z0-9 \\[\\]{}\",:\\\\\n\t\u{e9}\u{1F600}]{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z.@_ ]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-zA-Z.@_]{1,8}", json_value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn render(records: &[Value], shape: u8) -> Vec<u8> {
    match shape % 5 {
        0 => serde_json::to_vec(&json!({ "Records": records })).unwrap(),
        1 => serde_json::to_vec(records).unwrap(),
        2 => serde_json::to_vec_pretty(&json!({ "Records": records })).unwrap(),
        3 => serde_json::to_vec_pretty(records).unwrap(),
        _ => records
            .iter()
            .flat_map(|r| {
                let mut line = serde_json::to_vec(r).unwrap();
                line.extend_from_slice(b"\r\n");
                line
            })
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn splitter_finds_exactly_the_elements(
        records in prop::collection::vec(json_object(), 0..8),
        shape in 0u8..5,
        block in 1usize..40,
        batch_records in 1usize..5,
        gz in any::<bool>(),
    ) {
        let text = render(&records, shape);
        let bytes = if gz { gzip(&text) } else { text.clone() };
        let options = ReadOptions { block_size: block, batch_bytes: 64, batch_records, max_record: 1 << 20 };
        let (got, summary) = read_bytes(&bytes, Some(SourceKind::JsonLines), &options);
        prop_assert!(summary.problems.is_empty(), "{:?}", problems(&summary));
        prop_assert_eq!(got.len(), records.len());
        for (g, r) in got.iter().zip(&records) {
            // Compared as parsed text: serde_json's float printing does not always round-trip.
            let expected: Value = serde_json::from_slice(&serde_json::to_vec(r).unwrap()).unwrap();
            prop_assert_eq!(serde_json::from_slice::<Value>(&g.bytes).unwrap(), expected);
        }
        assert_offsets(&text, &got);
    }

    #[test]
    fn reader_never_panics_on_mangled_input(
        records in prop::collection::vec(json_object(), 1..4),
        shape in 0u8..5,
        cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        block in 1usize..40,
    ) {
        let mut text = render(&records, shape);
        for (at, byte) in cuts {
            let i = at.index(text.len());
            text[i] = byte;
        }
        let options = ReadOptions { block_size: block, batch_bytes: 64, batch_records: 2, max_record: 256 };
        let (got, _) = read_bytes(&text, Some(SourceKind::CloudTrail), &options);
        assert_offsets(&text, &got);
    }
}

// ---------------------------------------------------------------------------------------------
// LazyRecord agrees with rsigma's JsonEvent
// ---------------------------------------------------------------------------------------------

/// Every path to every value in `value` (object keys joined with dots; arrays are crossed by
/// any-member lookups, and indexed with `[n]`).
fn paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(path.clone());
                paths(v, &path, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                out.push(format!("{prefix}[{i}]"));
                out.push(format!("{prefix}[-{}]", i + 1));
                paths(item, prefix, out);
                paths(item, &format!("{prefix}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn assert_agrees(text: &str, extra: &[&str]) {
    let value: Value = serde_json::from_str(text).unwrap();
    let json = JsonEvent::borrow(&value);
    let lazy = LazyRecord::parse(text.as_bytes()).unwrap();
    let mut all = Vec::new();
    paths(&value, "", &mut all);
    all.extend(extra.iter().map(|s| s.to_string()));
    all.extend(["", ".", "missing", "a..b", "[0]", "x[", "x]", "a\\[0\\]"].map(String::from));
    for path in &all {
        assert_eq!(
            lazy.get_field(path),
            json.get_field(path),
            "path {path:?} of {text}"
        );
    }
    let mut a = Vec::new();
    lazy.visit_string_values(&mut |s| a.push(s.to_string()));
    let mut b = Vec::new();
    json.visit_string_values(&mut |s| b.push(s.to_string()));
    a.sort();
    b.sort();
    assert_eq!(a, b, "strings of {text}");
    assert_eq!(
        lazy.all_string_values().len(),
        json.all_string_values().len()
    );
    assert_eq!(lazy.to_json(), json.to_json());
    let mut keys: Vec<String> = lazy
        .top_level_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.into_owned())
        .collect();
    let mut json_keys: Vec<String> = json
        .top_level_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.into_owned())
        .collect();
    keys.sort();
    json_keys.sort();
    assert_eq!(keys, json_keys);
    for needle in ["alice", "zz-not-there", ""] {
        assert_eq!(
            lazy.any_string_value(&|s| s.contains(needle)),
            json.any_string_value(&|s| s.contains(needle))
        );
    }
}

#[test]
fn lazy_record_matches_json_event_on_log_shapes() {
    let corpus = [
        cloudtrail(3).to_string(),
        okta(1).to_string(),
        github(2).to_string(),
        json!({
            "resources": [{"ARN": "arn:1", "type": "AWS::IAM::User"}, {"ARN": "arn:2"}, {"type": "x"}],
            "nested": {"list": [[{"a": 1}, {"a": [2, 3]}], {"a": null}], "n": -0.0, "big": u64::MAX, "neg": i64::MIN},
            "actor.id": "flat", "actor": {"id": "nested", "name": "alice"},
            "@timestamp": 1709294400123u64, "f": 1.5e300, "g": -12, "e": "\u{e9}\u{1F600}\n\"\\"
        })
        .to_string(),
        r#"{"dup":1,"dup":{"x":"second"},"esc\u0061ped":"v\u00e9","arr":[],"obj":{},"deep":{"a":{"b":{"c":{"d":"leaf"}}}},"-0":-0,"num":1E2,"n2":-9223372036854775809,"n3":18446744073709551616,"n4":0.1e-5}"#.to_string(),
        r#"{"target":[{"alternateId":"bob","detailEntry":{"k":"v"}},{"alternateId":"carol","detailEntry":null}],"a[0]":"literal","b\\[1\\]":"escaped"}"#.to_string(),
    ];
    for text in &corpus {
        assert_agrees(
            text,
            &[
                "userIdentity.sessionContext.attributes.creationDate",
                "resources.ARN",
                "resources.type",
                "nested.list.a",
                "target.alternateId",
                "target.detailEntry.k",
                "target[1].alternateId",
                "target[-1].alternateId",
                "target[9].alternateId",
                "dup.x",
                "escaped",
                "deep.a.b.c.d",
                "deep.a.b.c.d.e",
                "a[0]",
                "b\\[1\\]",
                "actor.id",
                "nested.n",
            ],
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lazy_record_matches_json_event_on_generated_objects(object in json_object(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&object).unwrap()
        } else {
            serde_json::to_string(&object).unwrap()
        };
        assert_agrees(&text, &[]);
    }
}

#[test]
fn read_file_with_small_options_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("x.ndjson");
    let text: String = (0..20).map(|i| format!("{}\n", github(i))).collect();
    std::fs::write(&path, &text).unwrap();
    let mut got = Vec::new();
    let summary = read_file_with(&path, None, &small_blocks(), &mut collect(&mut got));
    assert_eq!(summary.records, 20);
    assert_offsets(text.as_bytes(), &got);
    assert!(Path::new(&got[0].file).ends_with("x.ndjson"));
}
