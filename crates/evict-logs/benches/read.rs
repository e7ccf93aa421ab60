//! Reader and record throughput on one thread.
//!
//! `cargo bench -p evict-logs --bench read` prints, for ~1 KB CloudTrail records:
//! - LazyRecord parse + 6 field lookups (ns/record), and the same with rsigma's `JsonEvent`;
//! - parse + normalise to an `Event` (ns/record);
//! - reader throughput for JSON lines, a bare array, and gzip `{"Records":[…]}` objects (MB/s of
//!   JSON), alone and with parse + normalise.
//!
//! `BENCH_ONLY=normalize` runs only parse + normalise (for `perf record`).

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use evict_logs::normalize::normalize;
use evict_logs::read::{SourceKind, read_file};
use evict_logs::record::LazyRecord;
use evict_model::RawPointer;
use rsigma_eval::{Event as _, JsonEvent};
use serde_json::{Value, json};

const SOURCES: [&str; 4] = [
    "iam.amazonaws.com",
    "s3.amazonaws.com",
    "sts.amazonaws.com",
    "ec2.amazonaws.com",
];
const NAMES: [&str; 4] = [
    "CreateAccessKey",
    "GetObject",
    "AssumeRole",
    "DescribeInstances",
];

/// A CloudTrail record of about 1 KB, varied by `i`.
fn record(i: usize) -> Value {
    let key = format!(
        "{}{:016}",
        if i.is_multiple_of(3) { "ASIA" } else { "AKIA" },
        i % 9973
    );
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": if i.is_multiple_of(3) { "AssumedRole" } else { "IAMUser" },
            "principalId": format!("AIDA{:016}:session-{i}", i % 101),
            "arn": format!("arn:aws:sts::111122223333:assumed-role/deploy-{}/session-{i}", i % 17),
            "accountId": "111122223333",
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": "arn:aws:iam::111122223333:role/deploy", "accountId": "111122223333", "userName": "deploy"},
                "attributes": {"creationDate": "2024-03-01T09:00:00Z", "mfaAuthenticated": "false"}
            }
        },
        "eventTime": format!("2024-03-01T12:{:02}:{:02}Z", (i / 60) % 60, i % 60),
        "eventSource": SOURCES[i % 4],
        "eventName": NAMES[i % 4],
        "awsRegion": "us-east-1",
        "sourceIPAddress": format!("198.51.{}.{}", i % 250, (i / 250) % 250),
        "userAgent": "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off command/iam.create-access-key",
        "requestParameters": {"userName": format!("svc-{}", i % 50), "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\"}]}"},
        "responseElements": null,
        "requestID": format!("{:08x}-aaaa-bbbb-cccc-{:012x}", i, i * 7),
        "eventID": format!("{:08x}-dddd-eeee-ffff-{:012x}", i * 3, i),
        "readOnly": !i.is_multiple_of(4),
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "iam.amazonaws.com"}
    })
}

fn per_record(name: &str, n: usize, elapsed: Duration) {
    println!(
        "{name:<48} {:>8.0} ns/record  ({:.0} records/s)",
        elapsed.as_nanos() as f64 / n as f64,
        n as f64 / elapsed.as_secs_f64()
    );
}

fn main() {
    let records: Vec<Vec<u8>> = (0..10_000)
        .map(|i| serde_json::to_vec(&record(i)).unwrap_or_default())
        .collect();
    let mean = records.iter().map(Vec::len).sum::<usize>() / records.len();
    println!(
        "CloudTrail records: {} of {mean} bytes on average",
        records.len()
    );
    let rounds = 50;
    let n = records.len() * rounds;
    let paths = [
        "eventName",
        "eventSource",
        "eventTime",
        "userIdentity.arn",
        "userIdentity.accessKeyId",
        "sourceIPAddress",
    ];

    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only == "normalize" {
        let start = Instant::now();
        for _ in 0..rounds * 4 {
            for (i, bytes) in records.iter().enumerate() {
                let Ok(rec) = LazyRecord::parse(bytes) else {
                    continue;
                };
                let pointer = RawPointer {
                    file: "AWSLogs/x.json.gz".into(),
                    offset: i as u64,
                };
                black_box(normalize(SourceKind::CloudTrail, &rec, pointer).ok());
            }
        }
        per_record(
            "LazyRecord parse + normalize to Event",
            n * 4,
            start.elapsed(),
        );
        return;
    }
    // LazyRecord: parse + 6 lookups.
    let start = Instant::now();
    for _ in 0..rounds {
        for bytes in &records {
            let Ok(rec) = LazyRecord::parse(bytes) else {
                continue;
            };
            for path in paths {
                black_box(rec.get_str(path));
            }
        }
    }
    per_record("LazyRecord parse + 6 get_str", n, start.elapsed());

    let start = Instant::now();
    for _ in 0..rounds {
        for bytes in &records {
            let Ok(rec) = LazyRecord::parse(bytes) else {
                continue;
            };
            for path in paths {
                black_box(rec.get_field(path));
            }
        }
    }
    per_record("LazyRecord parse + 6 Sigma get_field", n, start.elapsed());

    let start = Instant::now();
    for _ in 0..rounds / 5 {
        for bytes in &records {
            let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
                continue;
            };
            let event = JsonEvent::borrow(&value);
            for path in paths {
                black_box(event.get_field(path));
            }
        }
    }
    per_record(
        "(rsigma JsonEvent: serde_json + 6 get_field)",
        n / 5,
        start.elapsed(),
    );

    let start = Instant::now();
    for _ in 0..rounds {
        for (i, bytes) in records.iter().enumerate() {
            let Ok(rec) = LazyRecord::parse(bytes) else {
                continue;
            };
            let pointer = RawPointer {
                file: "AWSLogs/x.json.gz".into(),
                offset: i as u64,
            };
            black_box(normalize(SourceKind::CloudTrail, &rec, pointer).ok());
        }
    }
    per_record("LazyRecord parse + normalize to Event", n, start.elapsed());

    // Readers.
    let dir = std::env::temp_dir().join(format!("evict-logs-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let jsonl = dir.join("big.jsonl");
    let mut text = Vec::new();
    for _ in 0..20 {
        for r in &records {
            text.extend_from_slice(r);
            text.push(b'\n');
        }
    }
    let _ = std::fs::write(&jsonl, &text);
    let jsonl_bytes = text.len();
    // CloudTrail writes objects of up to a few MB; 100 objects of 2,000 records.
    let mut gz_files = Vec::new();
    let mut gz_json_bytes = 0;
    for f in 0..100 {
        let mut body = b"{\"Records\":[".to_vec();
        for (k, r) in records
            .iter()
            .skip((f * 2000) % 8000)
            .take(2000)
            .enumerate()
        {
            if k > 0 {
                body.push(b',');
            }
            body.extend_from_slice(r);
        }
        body.extend_from_slice(b"]}");
        gz_json_bytes += body.len();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = enc.write_all(&body);
        let path = dir.join(format!("{f:03}.json.gz"));
        let _ = std::fs::write(&path, enc.finish().unwrap_or_default());
        gz_files.push(path);
    }

    // The same records as one bare array, uncompressed: the byte-level splitter alone.
    let array = dir.join("big.json");
    let mut body = b"[".to_vec();
    for (k, r) in text
        .split(|&b| b == b'\n')
        .filter(|r| !r.is_empty())
        .enumerate()
    {
        if k > 0 {
            body.extend_from_slice(b",\n");
        }
        body.extend_from_slice(r);
    }
    body.push(b']');
    let array_bytes = body.len();
    let _ = std::fs::write(&array, &body);
    drop(body);

    let mb = |bytes: usize, d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    for _ in 0..2 {
        let start = Instant::now();
        let mut count = 0;
        let summary = read_file(&jsonl, None, &mut |batch| count += batch.len());
        let elapsed = start.elapsed();
        println!(
            "{:<48} {:>8.0} MB/s ({} records, {:.0} records/s)",
            "read JSON lines (split only)",
            mb(jsonl_bytes, elapsed),
            summary.records,
            count as f64 / elapsed.as_secs_f64()
        );

        let start = Instant::now();
        let mut count = 0;
        let summary = read_file(&array, None, &mut |batch| count += batch.len());
        let elapsed = start.elapsed();
        println!(
            "{:<48} {:>8.0} MB/s ({} records, {:.0} records/s)",
            "read a bare JSON array (split only)",
            mb(array_bytes, elapsed),
            summary.records,
            count as f64 / elapsed.as_secs_f64()
        );

        let start = Instant::now();
        let mut count = 0;
        let mut summary = evict_logs::read::ReadSummary::default();
        for path in &gz_files {
            summary.merge(read_file(path, None, &mut |batch| count += batch.len()));
        }
        let elapsed = start.elapsed();
        println!(
            "{:<48} {:>8.0} MB/s of JSON ({} records, {:.0} records/s)",
            "read gzip {\"Records\":[…]} objects (split only)",
            mb(gz_json_bytes, elapsed),
            summary.records,
            count as f64 / elapsed.as_secs_f64()
        );

        let start = Instant::now();
        let mut count = 0u64;
        let summary = read_file(&jsonl, None, &mut |batch| {
            for r in batch.records() {
                if let Ok(rec) = LazyRecord::parse(r.bytes) {
                    let pointer = batch.pointer(r.offset);
                    if normalize(batch.kind(), &rec, pointer).is_ok() {
                        count += 1;
                    }
                }
            }
        });
        let elapsed = start.elapsed();
        println!(
            "{:<48} {:>8.0} MB/s ({} records, {:.0} records/s)",
            "read JSON lines + parse + normalize",
            mb(jsonl_bytes, elapsed),
            summary.records,
            count as f64 / elapsed.as_secs_f64()
        );

        let start = Instant::now();
        let mut count = 0u64;
        for path in &gz_files {
            read_file(path, None, &mut |batch| {
                for r in batch.records() {
                    if let Ok(rec) = LazyRecord::parse(r.bytes) {
                        let pointer = batch.pointer(r.offset);
                        if normalize(batch.kind(), &rec, pointer).is_ok() {
                            count += 1;
                        }
                    }
                }
            });
        }
        let elapsed = start.elapsed();
        println!(
            "{:<48} {:>8.0} MB/s of JSON ({count} records, {:.0} records/s)",
            "read gzip objects + parse + normalize",
            mb(gz_json_bytes, elapsed),
            count as f64 / elapsed.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
