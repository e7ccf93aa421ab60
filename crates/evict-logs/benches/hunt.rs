//! Hunt throughput and peak memory against DuckDB, in the same run.
//!
//! `cargo bench -p evict-logs --bench hunt` generates (once, under target/bench-data/hunt) the
//! testkit's CloudTrail for its synthetic organisation, with the planted attack, as JSON lines
//! (`EVICT_BENCH_EVENTS`, default 5,000,000 events, about 5.5 GB) and a smaller file
//! (`EVICT_BENCH_SMALL_EVENTS`, default 1,000,000) to show memory stays flat as input grows, and
//! the same events as gzipped S3 objects in the `AWSLogs/…` tree. Then, on a warm page cache:
//! - Evict's hunt (in a child process, so its peak RSS is its own) with Evict's pack and every
//!   shipped SigmaHQ rule, the window built-ins (`--compromised-at`, `--patched-at`) and
//!   indicator hunts, and usage aggregation, on both cores;
//! - DuckDB (PyPI `duckdb`, `SET threads = 2`) running the rules' selections as one SQL filter
//!   over the same JSON-lines file with explicit columns: every `eventName` (and `eventSource`
//!   prefix) any CloudTrail rule selects, plus the indicator IP and user agent. That is less work
//!   than the hunt (no per-rule conditions, no window state, no usage), so the comparison
//!   favours DuckDB.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use evict_logs::hunt::{HuntOptions, Progress};
use evict_logs::normalize::Normalizer;
use evict_logs::sigma::{SigmaSet, builtin_hunts, builtin_sigmahq};
use evict_testkit::logs::{
    ATTACKER_IP, COMPROMISED_AT, CloudTrailOptions, CloudTrailShape, PATCHED_AT, write_cloudtrail,
};
use rsigma_parser::{Detection, Modifier, SigmaValue};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn data_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("bench-data/hunt")
}

/// Child: hunt `paths` and print `seconds records bytes hits peak_mib`.
fn child(paths: &[PathBuf]) {
    let engine = SigmaSet::standard(&[], true, true, None);
    let (files, _) = evict_logs::read::input_files(paths);
    let options = HuntOptions {
        compromised_at: Some(COMPROMISED_AT.parse().unwrap()),
        patched_at: Some(PATCHED_AT.parse().unwrap()),
        ioc_ips: vec![ATTACKER_IP.parse().unwrap()],
        ioc_user_agents: vec!["evil-kit".into()],
        max_hits_per_rule: evict_logs::hunt::DEFAULT_MAX_HITS_PER_RULE,
        ..HuntOptions::default()
    };
    let started = Instant::now();
    let report = evict_logs::hunt::run(
        &engine,
        &files,
        None,
        &Normalizer::new(None),
        &options,
        &Progress::default(),
    );
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{seconds} {} {} {} {}",
        report.events,
        report.read.bytes,
        report.hits_by_rule.values().sum::<u64>(),
        peak_rss_mib()
    );
}

struct Measured {
    seconds: f64,
    events: f64,
    bytes: f64,
    hits: u64,
    peak_mib: f64,
}

fn hunt(paths: &[PathBuf]) -> Measured {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .arg("--child")
        .args(paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<f64> = text
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    Measured {
        seconds: fields[0],
        events: fields[1],
        bytes: fields[2],
        hits: fields[3] as u64,
        peak_mib: fields[4],
    }
}

/// Every eventName the CloudTrail rules select, as SQL conditions.
fn cloudtrail_selections() -> (Vec<String>, usize, usize) {
    let mut exact = BTreeSet::new();
    let mut prefixes = BTreeSet::new();
    let (mut rules, mut without) = (0, 0);
    for text in builtin_hunts().into_iter().chain(builtin_sigmahq()) {
        let Ok(collection) = rsigma_parser::parse_sigma_yaml(&text.text) else {
            continue;
        };
        for rule in collection.rules {
            let aws = rule.logsource.product.as_deref() == Some("aws")
                && rule.logsource.service.as_deref() == Some("cloudtrail");
            if !aws {
                continue;
            }
            rules += 1;
            let before = exact.len() + prefixes.len();
            let mut found = false;
            for detection in rule.detection.named.values() {
                collect(detection, &mut exact, &mut prefixes, &mut found);
            }
            if !found && exact.len() + prefixes.len() == before {
                without += 1;
            }
        }
    }
    let mut conditions = Vec::new();
    if !exact.is_empty() {
        let list: Vec<String> = exact.iter().map(|n| format!("'{n}'")).collect();
        conditions.push(format!("eventName IN ({})", list.join(", ")));
    }
    for prefix in &prefixes {
        conditions.push(format!("eventName LIKE '{prefix}%'"));
    }
    (conditions, rules, without)
}

fn collect(
    detection: &Detection,
    exact: &mut BTreeSet<String>,
    prefixes: &mut BTreeSet<String>,
    found: &mut bool,
) {
    match detection {
        Detection::AllOf(items) => {
            for item in items {
                if item.field.name.as_deref() != Some("eventName") {
                    continue;
                }
                *found = true;
                let starts = item.field.has_modifier(Modifier::StartsWith);
                for value in &item.values {
                    let SigmaValue::String(s) = value else {
                        continue;
                    };
                    match s.as_plain() {
                        Some(plain) if !starts => {
                            exact.insert(plain.replace('\'', "''"));
                        }
                        Some(plain) => {
                            prefixes.insert(plain.replace('\'', "''"));
                        }
                        None => {
                            let original = s.original.clone();
                            let head = original.split(['*', '?']).next().unwrap_or("");
                            prefixes.insert(head.replace('\'', "''"));
                        }
                    }
                }
            }
        }
        Detection::AnyOf(list) => {
            for d in list {
                collect(d, exact, prefixes, found);
            }
        }
        _ => {}
    }
}

fn duckdb(file: &Path, conditions: &[String]) -> Option<(f64, u64, f64)> {
    let filter = conditions
        .iter()
        .cloned()
        .chain([
            format!("sourceIPAddress = '{ATTACKER_IP}'"),
            "lower(userAgent) LIKE '%evil-kit%'".to_string(),
        ])
        .collect::<Vec<_>>()
        .join(" OR ");
    let sql = format!(
        "SELECT count(*) FROM read_json('{}', format = 'newline_delimited', columns = {{\
         eventTime: 'VARCHAR', eventSource: 'VARCHAR', eventName: 'VARCHAR', \
         sourceIPAddress: 'VARCHAR', userAgent: 'VARCHAR', errorCode: 'VARCHAR', \
         userIdentity: 'JSON', requestParameters: 'JSON', responseElements: 'JSON', \
         additionalEventData: 'JSON'}}, maximum_object_size = 67108864) WHERE {filter}",
        file.display()
    );
    let script = String::from(
        "import duckdb, time, resource, sys\n\
         con = duckdb.connect()\n\
         con.execute('SET threads = 2')\n\
         con.execute('SET enable_progress_bar = false')\n\
         t = time.time()\n\
         n = con.execute(sys.argv[1]).fetchone()[0]\n\
         s = time.time() - t\n\
         print(s, n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n",
    );
    let out = Command::new("python3")
        .args(["-c", &script, &sql])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "duckdb did not run (pip install duckdb): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    let f: Vec<&str> = last.split_whitespace().collect();
    let parsed = (|| {
        Some((
            f.first()?.parse().ok()?,
            f.get(1)?.parse().ok()?,
            f.get(2)?.parse().ok()?,
        ))
    })();
    if parsed.is_none() {
        eprintln!("duckdb printed something unexpected: {text}");
    }
    parsed
}

fn generate(events: u64, shape: CloudTrailShape, dest: &Path) {
    let marker = dest.with_extension("done");
    if marker.exists() {
        return;
    }
    let started = Instant::now();
    let truth = write_cloudtrail(
        2026,
        events,
        &CloudTrailOptions {
            shape,
            logstash_timestamps: false,
        },
        dest,
    )
    .unwrap();
    std::fs::write(&marker, format!("{}\n", truth.events)).unwrap();
    eprintln!(
        "generated {} ({} events, {:.0} MB) in {:.0} s",
        dest.display(),
        truth.events,
        truth.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
}

fn report(label: &str, m: &Measured) {
    println!(
        "{label:<44} {:>8.2} s {:>10.0} events/s {:>7.0} MB/s {:>7.0} MiB peak  {} hits",
        m.seconds,
        m.events / m.seconds,
        m.bytes / 1e6 / m.seconds,
        m.peak_mib,
        m.hits
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let paths: Vec<PathBuf> = args[2..].iter().map(PathBuf::from).collect();
        child(&paths);
        return;
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        // `cargo test --benches` and IDE discovery: nothing to run here.
        return;
    }
    let dir = data_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let events = env_u64("EVICT_BENCH_EVENTS", 5_000_000);
    let small = env_u64("EVICT_BENCH_SMALL_EVENTS", 1_000_000);
    let big_file = dir.join(format!("cloudtrail-{events}.jsonl"));
    let small_file = dir.join(format!("cloudtrail-{small}.jsonl"));
    let s3_dir = dir.join(format!("s3-{events}"));
    generate(events, CloudTrailShape::JsonLines, &big_file);
    generate(small, CloudTrailShape::JsonLines, &small_file);
    generate(
        events,
        CloudTrailShape::S3Objects {
            records_per_file: 1000,
        },
        &s3_dir,
    );
    // Warm the page cache for both readers.
    for file in [&big_file, &small_file] {
        let _ = Command::new("cat")
            .arg(file)
            .stdout(std::process::Stdio::null())
            .status();
    }

    let (conditions, rules, without) = cloudtrail_selections();
    println!(
        "rules: Evict's pack + shipped SigmaHQ; {rules} CloudTrail rules, {without} of them select \
         no eventName and are not in DuckDB's filter"
    );
    let small_run = hunt(std::slice::from_ref(&small_file));
    report(
        &format!("evict hunt, JSON lines, {small} events"),
        &small_run,
    );
    let big_run = hunt(std::slice::from_ref(&big_file));
    report(
        &format!("evict hunt, JSON lines, {events} events"),
        &big_run,
    );
    let s3_run = hunt(std::slice::from_ref(&s3_dir));
    report(
        &format!("evict hunt, S3 .json.gz objects, {events} events"),
        &s3_run,
    );
    match duckdb(&big_file, &conditions) {
        Some((seconds, matched, peak)) => {
            println!(
                "{:<44} {seconds:>8.2} s {:>10.0} events/s {:>7.0} MB/s {peak:>7.0} MiB peak  {matched} rows",
                format!("duckdb filter, JSON lines, {events} events"),
                big_run.events / seconds,
                big_run.bytes / 1e6 / seconds,
            );
            println!(
                "evict / duckdb throughput: {:.2}x",
                seconds / big_run.seconds
            );
        }
        None => println!("duckdb: not run"),
    }
}
