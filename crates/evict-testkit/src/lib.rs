//! A deterministic, seeded generator of a synthetic organisation for Evict's tests, demo and
//! benchmarks: an AWS IAM credential report, a generic inventory of identities and credentials,
//! source trees and git histories with planted secrets, and CloudTrail, Okta and GitHub audit
//! logs with a planted attack — at any size, streamed, with the ground truth the tests assert.
//!
//! Everything it writes is synthetic: account 123456789012 is AWS's documentation account, and
//! no generated value is a usable secret. It must never read the clock or the environment: the
//! same seed and size always give the same bytes.
//! The `postgres` and `servers` modules are the exception: they are where tests find the real
//! servers they run against.
#![forbid(unsafe_code)]
#![deny(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub mod logs;
pub mod postgres;
mod rng;
pub mod secrets;
pub mod servers;

use std::io::{self, Write};

use jiff::{SignedDuration, Timestamp};

pub use rng::Rng;

/// The "now" the generated organisation is built around. Tests and the demo pass it to evict
/// as `--now` so ages and "unused for N days" are reproducible.
pub const REFERENCE_NOW: &str = "2026-06-01T00:00:00Z";

/// The reference time as a timestamp.
pub fn reference_now() -> Timestamp {
    REFERENCE_NOW.parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The AWS account the synthetic organisation lives in (AWS's documentation account).
pub const ACCOUNT: &str = "123456789012";

/// What the generated credential report contains, computed while writing it, so tests can
/// assert evict's figures against it exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportTruth {
    /// Rows, including the root account.
    pub users: u64,
    /// Users with a console password (plus root).
    pub passwords: u64,
    /// Access keys present (active or inactive).
    pub access_keys: u64,
    /// Active access keys.
    pub active_access_keys: u64,
    /// Active access keys not used in 90 days (never-used ones issued over 90 days ago too).
    pub access_keys_unused_90d: u64,
    /// Active access keys issued more than 365 days ago.
    pub access_keys_older_365d: u64,
    /// Users with an enabled password and MFA off.
    pub password_users_without_mfa: u64,
    /// Signing certificates present.
    pub certificates: u64,
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n * 24)
}

fn at(now: Timestamp, days_ago: i64, seconds: i64) -> Timestamp {
    now.saturating_sub(days(days_ago))
        .and_then(|t| t.saturating_sub(SignedDuration::from_secs(seconds)))
        .unwrap_or(now)
}

fn aws_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"];
const SERVICES: [&str; 6] = ["s3", "ec2", "sts", "iam", "lambda", "dynamodb"];

/// Writes an AWS IAM credential report with `users` IAM users plus the root account.
pub fn write_credential_report(
    seed: u64,
    users: u64,
    out: &mut impl Write,
) -> io::Result<ReportTruth> {
    let now = reference_now();
    let cutoff_90 = at(now, 90, 0);
    let cutoff_365 = at(now, 365, 0);
    let mut rng = Rng::new(seed ^ 0xC4ED_5EED);
    let mut truth = ReportTruth::default();
    writeln!(
        out,
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
    )?;
    writeln!(
        out,
        "<root_account>,arn:aws:iam::{ACCOUNT}:root,{},not_supported,{},not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
        aws_time(at(now, 2400, 0)),
        aws_time(at(now, 200, 3600)),
    )?;
    truth.users += 1;
    truth.passwords += 1;
    for i in 0..users {
        let human = rng.chance(0.6);
        let name = if human {
            format!("user-{i:07}")
        } else {
            format!("svc-{i:07}")
        };
        let age = rng.range(30, 2500) as i64;
        let created = at(now, age, rng.range(0, 86_400) as i64);
        let password = human && rng.chance(0.9);
        let mfa = human && rng.chance(0.7);
        let mut row = vec![
            name.clone(),
            format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
            aws_time(created),
            password.to_string(),
        ];
        if password {
            let changed_ago = rng.range(0, age as u64) as i64;
            let used = (rng.chance(0.9)).then(|| {
                aws_time(at(
                    now,
                    rng.range(0, changed_ago.max(1) as u64) as i64,
                    rng.range(0, 86_400) as i64,
                ))
            });
            row.push(used.unwrap_or_else(|| "N/A".into()));
            row.push(aws_time(at(now, changed_ago, 0)));
            row.push("N/A".into());
            truth.passwords += 1;
            if !mfa {
                truth.password_users_without_mfa += 1;
            }
        } else {
            row.extend(["N/A".into(), "N/A".into(), "N/A".into()]);
        }
        row.push(mfa.to_string());
        for slot in 0..2 {
            let has_key = if slot == 0 {
                rng.chance(if human { 0.4 } else { 0.95 })
            } else {
                rng.chance(0.15)
            };
            if !has_key {
                row.extend(["false", "N/A", "N/A", "N/A", "N/A"].map(String::from));
                continue;
            }
            let active = rng.chance(0.88);
            let rotated_ago = rng.range(0, age as u64) as i64;
            let rotated = at(now, rotated_ago, rng.range(0, 86_400) as i64);
            let used = rng.chance(0.8).then(|| {
                at(
                    now,
                    rng.range(0, rotated_ago.max(1) as u64) as i64,
                    rng.range(0, 3600) as i64,
                )
            });
            row.push(active.to_string());
            row.push(aws_time(rotated));
            match used {
                Some(u) => {
                    row.push(aws_time(u));
                    row.push(REGIONS[rng.below(REGIONS.len() as u64) as usize].into());
                    row.push(SERVICES[rng.below(SERVICES.len() as u64) as usize].into());
                }
                None => row.extend(["N/A", "N/A", "N/A"].map(String::from)),
            }
            truth.access_keys += 1;
            if active {
                truth.active_access_keys += 1;
                let unused = match used {
                    Some(u) => u < cutoff_90,
                    None => rotated < cutoff_90,
                };
                truth.access_keys_unused_90d += u64::from(unused);
                truth.access_keys_older_365d += u64::from(rotated < cutoff_365);
            }
        }
        for _ in 0..2 {
            if rng.chance(0.03) {
                row.push(rng.chance(0.7).to_string());
                row.push(aws_time(at(now, rng.range(0, age as u64) as i64, 0)));
                truth.certificates += 1;
            } else {
                row.extend(["false", "N/A"].map(String::from));
            }
        }
        writeln!(out, "{}", row.join(","))?;
        truth.users += 1;
    }
    Ok(truth)
}

/// The output form of [`write_inventory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InventoryFormat {
    /// CSV with a header.
    Csv,
    /// JSON lines.
    JsonLines,
}

/// What the generated inventory contains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InventoryTruth {
    /// Rows written (identities plus credentials).
    pub rows: u64,
    /// Identity rows.
    pub identities: u64,
    /// Credential rows.
    pub credentials: u64,
    /// Credentials with no identity.
    pub orphan_credentials: u64,
    /// Active credentials with no expiry.
    pub persistent_active: u64,
}

/// Identity kinds of a provider, each with the credential kinds it holds.
type ProviderShape = (
    &'static str,
    &'static [(&'static str, &'static [&'static str])],
);

const PROVIDERS: [ProviderShape; 5] = [
    (
        "slack",
        &[
            ("bot", &["api_token", "webhook_secret"]),
            ("human", &["session", "api_token"]),
        ],
    ),
    (
        "k8s",
        &[
            ("workload", &["api_token"]),
            ("service", &["api_token", "certificate"]),
        ],
    ),
    (
        "vault",
        &[("service", &["api_token"]), ("ai_agent", &["api_token"])],
    ),
    (
        "github",
        &[
            ("human", &["api_token", "ssh_key"]),
            ("oauth_app", &["client_secret", "oauth_grant"]),
            ("bot", &["api_token"]),
        ],
    ),
    (
        "okta",
        &[
            ("human", &["session", "device", "refresh_token"]),
            ("service", &["api_token"]),
        ],
    ),
];
const TEAMS: [&str; 6] = [
    "team-platform",
    "team-payments",
    "team-data",
    "team-identity",
    "team-web",
    "team-ml",
];

/// Writes a generic inventory of `rows` rows: identities each followed by their credentials,
/// with some credentials that belong to nobody.
pub fn write_inventory(
    seed: u64,
    rows: u64,
    format: InventoryFormat,
    out: &mut impl Write,
) -> io::Result<InventoryTruth> {
    let now = reference_now();
    let mut rng = Rng::new(seed ^ 0x1A7E_2026);
    let mut truth = InventoryTruth::default();
    if format == InventoryFormat::Csv {
        writeln!(
            out,
            "record,provider,external_id,kind,name,owner,identity,status,privilege,mfa,created_at,expires_at,last_used_at,last_used_from,scopes"
        )?;
    }
    let mut n = 0u64;
    while truth.rows < rows {
        let (provider, kinds) = PROVIDERS[rng.below(PROVIDERS.len() as u64) as usize];
        let (identity_kind, credential_kinds) = kinds[rng.below(kinds.len() as u64) as usize];
        let orphan = rng.chance(0.05);
        let identity = format!("{identity_kind}-{n:08}");
        n += 1;
        let age = rng.range(10, 1500) as i64;
        if !orphan {
            let owner = rng
                .chance(0.9)
                .then(|| TEAMS[rng.below(TEAMS.len() as u64) as usize]);
            let status = if rng.chance(0.95) {
                "active"
            } else {
                "disabled"
            };
            let privilege = ["standard", "standard", "privileged", "admin"][rng.below(4) as usize];
            let mfa = (identity_kind == "human").then(|| rng.chance(0.8));
            let fields = [
                ("record", Some("identity".to_string())),
                ("provider", Some(provider.into())),
                ("external_id", Some(identity.clone())),
                ("kind", Some(identity_kind.into())),
                ("name", Some(format!("{identity_kind} {n}"))),
                ("owner", owner.map(String::from)),
                ("identity", None),
                ("status", Some(status.into())),
                ("privilege", Some(privilege.into())),
                ("mfa", mfa.map(|m| m.to_string())),
                ("created_at", Some(at(now, age, 0).to_string())),
                ("expires_at", None),
                (
                    "last_used_at",
                    rng.chance(0.8)
                        .then(|| at(now, rng.range(0, age as u64) as i64, 0).to_string()),
                ),
                ("last_used_from", None),
                ("scopes", None),
            ];
            write_row(out, format, &fields)?;
            truth.rows += 1;
            truth.identities += 1;
        }
        let count = if orphan { 1 } else { rng.range(1, 4) };
        for c in 0..count {
            if truth.rows >= rows {
                break;
            }
            let kind = credential_kinds[rng.below(credential_kinds.len() as u64) as usize];
            let issued_ago = rng.range(0, age as u64) as i64;
            let persistent = rng.chance(0.45);
            let expires = (!persistent).then(|| {
                let ttl = rng.range(1, 400) as i64;
                now.saturating_add(days(ttl - issued_ago.min(ttl) / 2))
                    .unwrap_or(now)
            });
            let status = if rng.chance(0.9) {
                "active"
            } else {
                "inactive"
            };
            let fields = [
                ("record", Some("credential".to_string())),
                ("provider", Some(provider.into())),
                ("external_id", Some(format!("{kind}-{identity}-{c}"))),
                ("kind", Some(kind.into())),
                ("name", None),
                ("owner", None),
                ("identity", (!orphan).then(|| identity.clone())),
                ("status", Some(status.into())),
                ("privilege", None),
                ("mfa", None),
                ("created_at", Some(at(now, issued_ago, 0).to_string())),
                ("expires_at", expires.map(|e| e.to_string())),
                (
                    "last_used_at",
                    rng.chance(0.7).then(|| {
                        at(now, rng.range(0, issued_ago.max(1) as u64) as i64, 0).to_string()
                    }),
                ),
                (
                    "last_used_from",
                    rng.chance(0.5)
                        .then(|| format!("198.51.100.{}", rng.below(255))),
                ),
                (
                    "scopes",
                    Some(
                        ["read", "read write", "admin:org repo", "chat:write"]
                            [rng.below(4) as usize]
                            .to_string(),
                    ),
                ),
            ];
            write_row(out, format, &fields)?;
            truth.rows += 1;
            truth.credentials += 1;
            truth.orphan_credentials += u64::from(orphan);
            truth.persistent_active += u64::from(persistent && status == "active");
        }
    }
    Ok(truth)
}

fn write_row(
    out: &mut impl Write,
    format: InventoryFormat,
    fields: &[(&str, Option<String>)],
) -> io::Result<()> {
    match format {
        InventoryFormat::Csv => {
            let line: Vec<String> = fields
                .iter()
                .map(|(_, v)| match v {
                    Some(v) if v.contains([',', '"', '\n']) => {
                        format!("\"{}\"", v.replace('"', "\"\""))
                    }
                    Some(v) => v.clone(),
                    None => String::new(),
                })
                .collect();
            writeln!(out, "{}", line.join(","))
        }
        InventoryFormat::JsonLines => {
            let map: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .filter_map(|(k, v)| {
                    v.as_ref()
                        .map(|v| ((*k).to_string(), serde_json::Value::String(v.clone())))
                })
                .collect();
            writeln!(out, "{}", serde_json::Value::Object(map))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        write_credential_report(7, 50, &mut a).unwrap();
        write_credential_report(7, 50, &mut b).unwrap();
        write_credential_report(8, 50, &mut c).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn sizes_are_exact() {
        let mut out = Vec::new();
        let truth = write_credential_report(1, 100, &mut out).unwrap();
        assert_eq!(truth.users, 101);
        assert_eq!(
            out.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(),
            102
        );
        let mut out = Vec::new();
        let truth = write_inventory(1, 1000, InventoryFormat::JsonLines, &mut out).unwrap();
        assert_eq!(truth.rows, 1000);
        assert_eq!(truth.identities + truth.credentials, 1000);
        assert_eq!(
            out.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(),
            1000
        );
        assert!(truth.orphan_credentials > 0);
    }
}

/// What [`write_source_tree`] wrote.
#[derive(Debug, Clone, Default)]
pub struct TreeTruth {
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Secrets planted, with the file (relative to the tree) each went into.
    pub planted: Vec<(String, secrets::PlantedSecret)>,
}

/// Extensions of the real source files copied into a generated tree.
const SOURCE_EXTENSIONS: &[&str] = &[
    "rs", "c", "h", "cc", "hpp", "py", "js", "ts", "go", "java", "rb", "md", "txt", "toml", "json",
    "yaml", "yml", "sh", "html", "css", "xml",
];

/// Writes a source tree of about `target_bytes` into `out` by copying real text files from
/// `sources` (e.g. the cargo registry), giving each a unique first line so that no two files
/// are identical (content de-duplication cannot skip work), and planting one secret from
/// [`secrets::assorted`] into every `plant_every`-th file. Deterministic for a seed and the
/// same source files.
pub fn write_source_tree(
    seed: u64,
    sources: &[std::path::PathBuf],
    out: &std::path::Path,
    target_bytes: u64,
    plant_every: u64,
) -> io::Result<TreeTruth> {
    let mut inputs = Vec::new();
    for source in sources {
        collect_source_files(source, &mut inputs, 0)?;
    }
    inputs.sort();
    if inputs.is_empty() {
        return Err(io::Error::other("no source files found to copy"));
    }
    let mut rng = Rng::new(seed);
    let mut truth = TreeTruth::default();
    let mut round = 0u64;
    while truth.bytes < target_bytes {
        for input in &inputs {
            if truth.bytes >= target_bytes {
                break;
            }
            let Ok(content) = std::fs::read(input) else {
                continue;
            };
            let n = truth.files;
            let relative = format!("d{:03}/r{round}_{n:07}_{}", n % 997, file_name(input));
            let path = out.join(&relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut file = io::BufWriter::new(std::fs::File::create(&path)?);
            writeln!(file, "// generated copy {n} of {}", input.display())?;
            let mut written = content.len() as u64;
            if plant_every > 0 && n % plant_every == plant_every / 2 {
                let all = secrets::assorted(&mut rng);
                let planted = all[(n / plant_every) as usize % all.len()].clone();
                let cut = content.len() / 2;
                let cut = content[..cut]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                file.write_all(&content[..cut])?;
                writeln!(file, "{}", planted.text)?;
                file.write_all(&content[cut..])?;
                written += planted.text.len() as u64 + 1;
                truth.planted.push((relative.clone(), planted));
            } else {
                file.write_all(&content)?;
            }
            file.flush()?;
            truth.files += 1;
            truth.bytes += written;
        }
        round += 1;
    }
    Ok(truth)
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn collect_source_files(
    dir: &std::path::Path,
    out: &mut Vec<std::path::PathBuf>,
    depth: u32,
) -> io::Result<()> {
    if depth > 12 {
        return Ok(());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect_source_files(&path, out, depth + 1)?;
        } else if kind.is_file()
            && path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| SOURCE_EXTENSIONS.contains(&e))
            && entry.metadata().is_ok_and(|m| m.len() < (4 << 20))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Words for generated file contents.
const WORDS: &[&str] = &[
    "let", "value", "config", "client", "request", "handler", "return", "error", "result", "user",
    "session", "cache", "timeout", "retry", "buffer", "stream", "parse", "render", "index",
    "query", "build", "deploy", "service", "account", "policy", "region", "bucket",
];

/// Builds a git repository in `dir` (created) holding about `blobs` distinct blobs across
/// commits of 50 files each (new files and edits of earlier ones), with a secret from
/// [`secrets::assorted`] planted in every 1000th blob. Uses `git fast-import`, so 100k blobs
/// take seconds. Returns the planted secrets with their paths.
pub fn write_git_history(
    seed: u64,
    dir: &std::path::Path,
    blobs: u64,
) -> io::Result<Vec<(String, secrets::PlantedSecret)>> {
    use std::process::{Command, Stdio};
    std::fs::create_dir_all(dir)?;
    let status = Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .arg(dir)
        .status()?;
    if !status.success() {
        return Err(io::Error::other("git init failed"));
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()?;
    let mut stream = io::BufWriter::new(
        child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("no stdin for git fast-import"))?,
    );
    let mut rng = Rng::new(seed);
    let mut planted = Vec::new();
    let mut mark = 0u64;
    let mut written = 0u64;
    let mut commit = 0u64;
    let mut previous_commit: Option<u64> = None;
    let mut time = 1_700_000_000i64;
    while written < blobs {
        let mut changes = Vec::new();
        let mut changed: Vec<u64> = Vec::new();
        for _ in 0..50 {
            if written >= blobs {
                break;
            }
            // Two thirds new files, a third edits of files from earlier commits.
            // A file changed twice in one commit would leave its first version unreachable.
            let edit = rng.below(written.max(1));
            let file = if commit > 0 && rng.chance(0.33) && !changed.contains(&edit) {
                edit
            } else {
                written
            };
            changed.push(file);
            let path = format!("src/m{:03}/f{file:07}.txt", file % 500);
            let mut body = format!("// blob {written} of commit {commit}\n");
            for _ in 0..rng.range(20, 120) {
                let line: Vec<&str> = (0..rng.range(3, 12))
                    .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
                    .collect();
                body.push_str(&line.join(" "));
                body.push('\n');
            }
            if written % 1000 == 500 {
                let all = secrets::assorted(&mut rng);
                let secret = all[(written / 1000) as usize % all.len()].clone();
                body.push_str(&secret.text);
                body.push('\n');
                planted.push((path.clone(), secret));
            }
            mark += 1;
            write!(stream, "blob\nmark :{mark}\ndata {}\n", body.len())?;
            stream.write_all(body.as_bytes())?;
            stream.write_all(b"\n")?;
            changes.push((mark, path));
            written += 1;
        }
        mark += 1;
        time += 3600;
        let message = format!("change {commit}");
        write!(
            stream,
            "commit refs/heads/main\nmark :{mark}\nauthor Dev {n} <dev{n}@example.invalid> {time} +0000\n\
             committer Dev {n} <dev{n}@example.invalid> {time} +0000\ndata {}\n{message}\n",
            message.len(),
            n = commit % 7,
        )?;
        if let Some(parent) = previous_commit {
            writeln!(stream, "from :{parent}")?;
        }
        for (blob, path) in changes {
            writeln!(stream, "M 100644 :{blob} {path}")?;
        }
        stream.write_all(b"\n")?;
        previous_commit = Some(mark);
        commit += 1;
    }
    stream.flush()?;
    drop(stream);
    if !child.wait()?.success() {
        return Err(io::Error::other("git fast-import failed"));
    }
    Ok(planted)
}
