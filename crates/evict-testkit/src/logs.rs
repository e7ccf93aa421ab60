//! Synthetic audit logs of the synthetic organisation, with an embedded attack and its exact
//! ground truth: AWS CloudTrail (JSON lines, the S3 delivery tree of gzipped `{"Records":[…]}`
//! objects, or one JSON array), the Okta System Log and the GitHub audit-log export (JSON lines
//! or one JSON array).
//!
//! The logs span [`REFERENCE_NOW`](crate::REFERENCE_NOW) − 30 days … `REFERENCE_NOW`, at any
//! size (from the planted events alone to many millions of records), streamed in time order
//! with constant memory. Background activity is benign and routine: every long-term credential
//! is used from a fixed set of one to three addresses, role sessions are used 1–55 minutes
//! after they are issued and never across [`PATCHED_AT`], and nothing in the background uses
//! [`ATTACKER_IP`], [`ATTACKER_UA`], [`OUTSIDE_ACCOUNT`] or one of [`ATTACK_ONLY_ACTIONS`].
//!
//! The attack runs from [`COMPROMISED_AT`] to [`PATCHED_AT`] (with two persistence uses after
//! the patch); benign look-alikes of its steps happen before it. Every planted record is listed
//! in the returned truth with its event id, step name and action name; [`attack_plan`] gives the
//! identifiers involved (key ids, token hashes, names).
//!
//! Same seed and size ⇒ same bytes. Nothing here reads the clock or the environment.

mod cloudtrail;
mod github;
mod okta;
mod util;

#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use jiff::Timestamp;
use serde_json::{Value, json};

use util::{COMPROMISED_MS, PATCHED_MS, timestamp};

/// When the attacker got in (start of the exposure window).
pub const COMPROMISED_AT: &str = "2026-05-22T00:00:00Z";
/// When the vulnerability was patched (end of the exposure window).
pub const PATCHED_AT: &str = "2026-05-26T00:00:00Z";
/// The first instant the logs cover: `REFERENCE_NOW` − 30 days.
pub const LOGS_START: &str = "2026-05-02T00:00:00Z";
/// The attacker's source address (TEST-NET-3, never used by the background).
pub const ATTACKER_IP: &str = "203.0.113.66";
/// The attacker's user agent (never used by the background).
pub const ATTACKER_UA: &str = "python-requests/2.31.0 evil-kit/0.9";
/// The AWS account outside the organisation that the attacker trusts into a role.
pub const OUTSIDE_ACCOUNT: &str = "444455556666";
/// Where the pre-patch role session is used after the patch (not the attacker's address).
pub const PRE_PATCH_SESSION_IP: &str = "198.51.100.200";
/// Where the access key created during the attack is used after the patch.
pub const NEW_KEY_IP: &str = "198.51.100.201";
/// A zero-padded source address one background IAM user ([`ZERO_PADDED_IP_USER`]) sometimes
/// comes from; readers must keep it as written.
pub const ZERO_PADDED_IP: &str = "010.050.255.067";
/// The IAM user that sometimes appears from [`ZERO_PADDED_IP`].
pub const ZERO_PADDED_IP_USER: &str = "legacy-etl";

/// The IAM user whose long-term access key the attacker stole.
pub const COMPROMISED_IAM_USER: &str = "ci-deploy";
/// The IAM user the attacker creates a second access key for.
pub const KEY_TARGET_USER: &str = "billing-admin";
/// The IAM user (and, with `@example.com`, the Okta user) the attacker creates.
pub const BACKDOOR_USER: &str = "svc-backup-sync";
/// The role whose trust policy the attacker opens to [`OUTSIDE_ACCOUNT`].
pub const TRUSTED_ROLE: &str = "prod-deployer";
/// The legitimate AWS administrator who performs the benign look-alikes.
pub const AWS_ADMIN: &str = "alice.admin";
/// The user the legitimate administrators create before the attack (AWS, Okta, GitHub).
pub const NEW_HIRE: &str = "new-hire-1";
/// The compromised Okta administrator.
pub const OKTA_COMPROMISED_ADMIN: &str = "ops-admin@example.com";
/// The Okta user the attacker creates.
pub const OKTA_BACKDOOR_USER: &str = "svc-backup-sync@example.com";
/// The legitimate Okta administrator.
pub const OKTA_ADMIN: &str = "okta-admin@example.com";
/// The Okta user created (benignly) before the attack.
pub const OKTA_NEW_HIRE: &str = "new-hire-1@example.com";
/// The GitHub organisation.
pub const GITHUB_ORG: &str = "example-corp";
/// The GitHub enterprise (`business`).
pub const GITHUB_BUSINESS: &str = "example-enterprise";
/// The GitHub machine user whose classic personal access token the attacker stole.
pub const GITHUB_COMPROMISED_ACTOR: &str = "ci-bot";
/// The outside collaborator the attacker adds (admin on [`GITHUB_TARGET_REPO`]).
pub const GITHUB_OUTSIDE_COLLABORATOR: &str = "svc-backup-sync-gh";
/// The repository the attacker adds a collaborator and a deploy key to.
pub const GITHUB_TARGET_REPO: &str = "example-corp/infra";
/// The legitimate GitHub organisation owner.
pub const GITHUB_ADMIN: &str = "octo-admin";

/// Action names only the planted events use (the attack and its benign look-alikes): the
/// background never does these. Other attack actions (ListBuckets, GetObject, ConsoleLogin,
/// AssumeRole, DescribeInstances, GetUser, user.session.start, git.clone) are routine.
pub const ATTACK_ONLY_ACTIONS: &[&str] = &[
    "GetCallerIdentity",
    "ListUsers",
    "ListRoles",
    "CreateAccessKey",
    "CreateUser",
    "CreateLoginProfile",
    "AttachUserPolicy",
    "UpdateAssumeRolePolicy",
    "user.lifecycle.create",
    "user.account.privilege.grant",
    "system.api_token.create",
    "app.oauth2.as.consent.grant",
    "repo.add_member",
    "org.add_member",
    "public_key.create",
    "oauth_authorization.create",
    "personal_access_token.request_created",
    "personal_access_token.access_granted",
];

/// Label of planted events that belong to the attack.
pub const LABEL_ATTACK: &str = "attack";
/// Label of planted events that look like attack steps but are legitimate administration.
pub const LABEL_BENIGN_LOOKALIKE: &str = "benign_lookalike";

/// The identifiers of the embedded attack. They do not depend on the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttackPlan {
    /// Start of the exposure window ([`COMPROMISED_AT`]).
    pub compromised_at: Timestamp,
    /// End of the exposure window ([`PATCHED_AT`]).
    pub patched_at: Timestamp,
    /// [`ATTACKER_IP`].
    pub attacker_ip: &'static str,
    /// [`ATTACKER_UA`].
    pub attacker_user_agent: &'static str,
    /// [`OUTSIDE_ACCOUNT`].
    pub outside_account: &'static str,
    /// [`COMPROMISED_IAM_USER`].
    pub compromised_user: &'static str,
    /// The stolen long-term access key id of [`COMPROMISED_IAM_USER`] (`AKIA…`), also used by
    /// the background from its usual addresses.
    pub compromised_key_id: String,
    /// [`KEY_TARGET_USER`].
    pub key_target_user: &'static str,
    /// The access key id the attacker created for [`KEY_TARGET_USER`] (`AKIA…`).
    pub new_key_id: String,
    /// [`BACKDOOR_USER`].
    pub backdoor_user: &'static str,
    /// [`TRUSTED_ROLE`].
    pub trusted_role: &'static str,
    /// The role session (`ASIA…`) of [`TRUSTED_ROLE`] issued to the outside account before the
    /// patch and used after it.
    pub pre_patch_session_key_id: String,
    /// When that session was issued (`PATCHED_AT` − 3 h).
    pub pre_patch_session_created_at: Timestamp,
    /// [`PRE_PATCH_SESSION_IP`].
    pub pre_patch_session_ip: &'static str,
    /// [`NEW_KEY_IP`].
    pub new_key_ip: &'static str,
    /// The access key id [`AWS_ADMIN`] legitimately created for [`NEW_HIRE`] (a look-alike).
    pub lookalike_key_id: String,
    /// [`OKTA_COMPROMISED_ADMIN`].
    pub okta_admin: &'static str,
    /// Its Okta user id (`00u…`).
    pub okta_admin_id: String,
    /// [`OKTA_BACKDOOR_USER`].
    pub okta_backdoor_user: &'static str,
    /// Its Okta user id.
    pub okta_backdoor_user_id: String,
    /// The Okta session (`externalSessionId`) the attacker works in as
    /// [`OKTA_COMPROMISED_ADMIN`], from [`ATTACKER_IP`].
    pub okta_attacker_session_id: String,
    /// The id of the Okta API token the attacker created (`00T…`).
    pub okta_api_token_id: String,
    /// The id of the OAuth app the attacker granted consent to (`0oa…`).
    pub okta_oauth_app_id: String,
    /// [`GITHUB_ORG`].
    pub github_org: &'static str,
    /// [`GITHUB_COMPROMISED_ACTOR`].
    pub github_actor: &'static str,
    /// The `hashed_token` (base64 of 32 bytes) of its stolen classic token, also used by the
    /// background from its usual addresses.
    pub github_hashed_token: String,
    /// The `token_id` of that token.
    pub github_token_id: u64,
    /// [`GITHUB_OUTSIDE_COLLABORATOR`].
    pub github_outside_collaborator: &'static str,
    /// The `token_id` of the fine-grained token the attacker created.
    pub github_new_pat_id: u64,
    /// The fingerprint (`SHA256:…`) of the SSH key the attacker added to
    /// [`GITHUB_COMPROMISED_ACTOR`].
    pub github_ssh_key_fingerprint: String,
    /// The fingerprint of the deploy key the attacker added to [`GITHUB_TARGET_REPO`].
    pub github_deploy_key_fingerprint: String,
    /// The `oauth_application_id` of the OAuth app the attacker authorized.
    pub github_oauth_app_id: u64,
}

/// The identifiers of the embedded attack.
pub fn attack_plan() -> AttackPlan {
    AttackPlan {
        compromised_at: timestamp(COMPROMISED_MS),
        patched_at: timestamp(PATCHED_MS),
        attacker_ip: ATTACKER_IP,
        attacker_user_agent: ATTACKER_UA,
        outside_account: OUTSIDE_ACCOUNT,
        compromised_user: COMPROMISED_IAM_USER,
        compromised_key_id: cloudtrail::named_user_key(COMPROMISED_IAM_USER),
        key_target_user: KEY_TARGET_USER,
        new_key_id: cloudtrail::planted_key(1),
        backdoor_user: BACKDOOR_USER,
        trusted_role: TRUSTED_ROLE,
        pre_patch_session_key_id: cloudtrail::planted_session_key(),
        pre_patch_session_created_at: timestamp(cloudtrail::PRE_PATCH_SESSION_MS),
        pre_patch_session_ip: PRE_PATCH_SESSION_IP,
        new_key_ip: NEW_KEY_IP,
        lookalike_key_id: cloudtrail::planted_key(2),
        okta_admin: OKTA_COMPROMISED_ADMIN,
        okta_admin_id: okta::user_id(OKTA_COMPROMISED_ADMIN),
        okta_backdoor_user: OKTA_BACKDOOR_USER,
        okta_backdoor_user_id: okta::user_id(OKTA_BACKDOOR_USER),
        okta_attacker_session_id: okta::attacker_session_id(),
        okta_api_token_id: okta::api_token_id(),
        okta_oauth_app_id: okta::oauth_app_id(),
        github_org: GITHUB_ORG,
        github_actor: GITHUB_COMPROMISED_ACTOR,
        github_hashed_token: github::hashed_token(GITHUB_COMPROMISED_ACTOR),
        github_token_id: github::token_id(GITHUB_COMPROMISED_ACTOR),
        github_outside_collaborator: GITHUB_OUTSIDE_COLLABORATOR,
        github_new_pat_id: github::NEW_PAT_ID,
        github_ssh_key_fingerprint: github::ssh_key_fingerprint(),
        github_deploy_key_fingerprint: github::deploy_key_fingerprint(),
        github_oauth_app_id: github::OAUTH_APP_ID,
    }
}

/// One planted record, as the ground truth lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlantedEvent {
    /// `cloudtrail`, `okta` or `github`.
    pub source: &'static str,
    /// The record's `eventID` (CloudTrail), `uuid` (Okta) or `_document_id` (GitHub).
    pub event_id: String,
    /// The attack step, e.g. `backdoor_user`; look-alikes carry the step name prefixed with
    /// `benign_`.
    pub step: &'static str,
    /// The action as written in the record (`eventName`, `eventType`, `action`).
    pub action: &'static str,
    /// When it happened.
    pub time: Timestamp,
    /// Part of the attack (true) or a benign look-alike (false).
    pub malicious: bool,
    /// For the S3 layout, the object (relative to the destination) holding the record.
    pub location: Option<String>,
}

impl PlantedEvent {
    /// [`LABEL_ATTACK`] or [`LABEL_BENIGN_LOOKALIKE`].
    pub fn label(&self) -> &'static str {
        if self.malicious {
            LABEL_ATTACK
        } else {
            LABEL_BENIGN_LOOKALIKE
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "source": self.source,
            "event_id": self.event_id,
            "step": self.step,
            "action": self.action,
            "time": self.time.to_string(),
            "malicious": self.malicious,
            "label": self.label(),
            "location": self.location,
        })
    }
}

/// What one generated log contains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogTruth {
    /// `cloudtrail`, `okta` or `github`.
    pub source: &'static str,
    /// Records written (background plus planted).
    pub events: u64,
    /// Bytes written to disk or to the writer (compressed bytes for the S3 layout).
    pub bytes: u64,
    /// Bytes of JSON text before compression (equal to `bytes` when not compressed).
    pub json_bytes: u64,
    /// Files written (0 when writing to a writer).
    pub files: u64,
    /// Every planted record, in time order.
    pub planted: Vec<PlantedEvent>,
}

impl LogTruth {
    /// The planted records that belong to the attack.
    pub fn attack(&self) -> impl Iterator<Item = &PlantedEvent> {
        self.planted.iter().filter(|p| p.malicious)
    }

    /// The ground truth as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "source": self.source,
            "events": self.events,
            "bytes": self.bytes,
            "json_bytes": self.json_bytes,
            "files": self.files,
            "planted": self.planted.iter().map(PlantedEvent::to_json).collect::<Vec<_>>(),
        })
    }
}

impl AttackPlan {
    /// The plan as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "compromised_at": self.compromised_at.to_string(),
            "patched_at": self.patched_at.to_string(),
            "attacker_ip": self.attacker_ip,
            "attacker_user_agent": self.attacker_user_agent,
            "outside_account": self.outside_account,
            "compromised_user": self.compromised_user,
            "compromised_key_id": self.compromised_key_id,
            "key_target_user": self.key_target_user,
            "new_key_id": self.new_key_id,
            "backdoor_user": self.backdoor_user,
            "trusted_role": self.trusted_role,
            "pre_patch_session_key_id": self.pre_patch_session_key_id,
            "pre_patch_session_created_at": self.pre_patch_session_created_at.to_string(),
            "pre_patch_session_ip": self.pre_patch_session_ip,
            "new_key_ip": self.new_key_ip,
            "lookalike_key_id": self.lookalike_key_id,
            "okta_admin": self.okta_admin,
            "okta_admin_id": self.okta_admin_id,
            "okta_backdoor_user": self.okta_backdoor_user,
            "okta_backdoor_user_id": self.okta_backdoor_user_id,
            "okta_attacker_session_id": self.okta_attacker_session_id,
            "okta_api_token_id": self.okta_api_token_id,
            "okta_oauth_app_id": self.okta_oauth_app_id,
            "github_org": self.github_org,
            "github_actor": self.github_actor,
            "github_hashed_token": self.github_hashed_token,
            "github_token_id": self.github_token_id,
            "github_outside_collaborator": self.github_outside_collaborator,
            "github_new_pat_id": self.github_new_pat_id,
            "github_ssh_key_fingerprint": self.github_ssh_key_fingerprint,
            "github_deploy_key_fingerprint": self.github_deploy_key_fingerprint,
            "github_oauth_app_id": self.github_oauth_app_id,
        })
    }
}

/// How CloudTrail is laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CloudTrailShape {
    /// One record per line.
    #[default]
    JsonLines,
    /// The S3 delivery tree: `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
    /// <account>_CloudTrail_<region>_YYYYMMDDTHHMMZ_<16 hex>.json.gz`, each a gzipped
    /// `{"Records":[…]}` of at most `records_per_file` records of one region and one hour.
    S3Objects {
        /// The most records one object holds (at least 1).
        records_per_file: usize,
    },
    /// One JSON array of records (as `aws cloudtrail lookup-events` tooling exports).
    JsonArray,
}

/// The default records per S3 object.
pub const DEFAULT_RECORDS_PER_FILE: usize = 1000;

/// How CloudTrail is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CloudTrailOptions {
    /// The layout.
    pub shape: CloudTrailShape,
    /// In JSON lines only: every 7th record carries Logstash's `@timestamp` instead of
    /// `eventTime`.
    pub logstash_timestamps: bool,
}

/// How the Okta and GitHub exports are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExportShape {
    /// One record per line.
    #[default]
    JsonLines,
    /// One JSON array.
    JsonArray,
}

impl ExportShape {
    fn is_array(self) -> bool {
        self == ExportShape::JsonArray
    }

    fn extension(self) -> &'static str {
        match self {
            ExportShape::JsonLines => "jsonl",
            ExportShape::JsonArray => "json",
        }
    }
}

fn stream_truth(source: &'static str, events: u64, bytes: u64) -> LogTruth {
    LogTruth {
        source,
        events,
        bytes,
        json_bytes: bytes,
        files: 0,
        planted: Vec::new(),
    }
}

/// Writes about `events` CloudTrail records (never fewer than the planted ones) as JSON lines
/// or one JSON array to `out`. The S3 layout needs a directory: use [`write_cloudtrail`].
pub fn write_cloudtrail_to(
    seed: u64,
    events: u64,
    options: &CloudTrailOptions,
    out: &mut impl Write,
) -> io::Result<LogTruth> {
    let array = match options.shape {
        CloudTrailShape::JsonLines => false,
        CloudTrailShape::JsonArray => true,
        CloudTrailShape::S3Objects { .. } => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the S3 layout is a directory tree: use write_cloudtrail",
            ));
        }
    };
    let mut generator =
        cloudtrail::CloudTrail::new(seed, events, options.logstash_timestamps && !array);
    let mut framer = util::Framer::new(out, array);
    let (written, planted) = util::drive(
        &mut generator,
        "cloudtrail",
        events,
        seed,
        &mut |record, _, _, _| framer.record(record).map(|()| None),
    )?;
    let bytes = framer.finish()?;
    Ok(LogTruth {
        planted,
        ..stream_truth("cloudtrail", written, bytes)
    })
}

/// Writes about `events` CloudTrail records to `dest`: a file for JSON lines and the JSON
/// array, a directory (created) holding `AWSLogs/…` for the S3 layout.
pub fn write_cloudtrail(
    seed: u64,
    events: u64,
    options: &CloudTrailOptions,
    dest: &Path,
) -> io::Result<LogTruth> {
    match options.shape {
        CloudTrailShape::S3Objects { records_per_file } => {
            cloudtrail::write_s3(seed, events, records_per_file.max(1), dest)
        }
        _ => {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut out = BufWriter::with_capacity(1 << 20, File::create(dest)?);
            let mut truth = write_cloudtrail_to(seed, events, options, &mut out)?;
            out.flush()?;
            truth.files = 1;
            Ok(truth)
        }
    }
}

/// Writes about `events` Okta System Log records (never fewer than the planted ones).
pub fn write_okta(
    seed: u64,
    events: u64,
    shape: ExportShape,
    out: &mut impl Write,
) -> io::Result<LogTruth> {
    let mut generator = okta::Okta::new(seed, events);
    let mut framer = util::Framer::new(out, shape.is_array());
    let (written, planted) = util::drive(
        &mut generator,
        "okta",
        events,
        seed,
        &mut |record, _, _, _| framer.record(record).map(|()| None),
    )?;
    let bytes = framer.finish()?;
    Ok(LogTruth {
        planted,
        ..stream_truth("okta", written, bytes)
    })
}

/// Writes about `events` GitHub audit-log records (never fewer than the planted ones).
pub fn write_github(
    seed: u64,
    events: u64,
    shape: ExportShape,
    out: &mut impl Write,
) -> io::Result<LogTruth> {
    let mut generator = github::GitHub::new(seed, events);
    let mut framer = util::Framer::new(out, shape.is_array());
    let (written, planted) = util::drive(
        &mut generator,
        "github",
        events,
        seed,
        &mut |record, _, _, _| framer.record(record).map(|()| None),
    )?;
    let bytes = framer.finish()?;
    Ok(LogTruth {
        planted,
        ..stream_truth("github", written, bytes)
    })
}

/// How [`write_org_logs`] lays its files out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrgLogsOptions {
    /// CloudTrail's layout and options.
    pub cloudtrail: CloudTrailOptions,
    /// The Okta and GitHub layout.
    pub export: ExportShape,
}

/// What [`write_org_logs`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgLogsTruth {
    /// The attack's identifiers.
    pub plan: AttackPlan,
    /// CloudTrail: `cloudtrail.jsonl`, `cloudtrail.json` or the `cloudtrail/` tree.
    pub cloudtrail: LogTruth,
    /// Okta: `okta.jsonl` or `okta.json`.
    pub okta: LogTruth,
    /// GitHub: `github.jsonl` or `github.json`.
    pub github: LogTruth,
    /// Where each was written, relative to the directory: CloudTrail, Okta, GitHub.
    pub paths: [String; 3],
}

impl OrgLogsTruth {
    /// Every planted record of the three sources.
    pub fn planted(&self) -> impl Iterator<Item = &PlantedEvent> {
        self.cloudtrail
            .planted
            .iter()
            .chain(&self.okta.planted)
            .chain(&self.github.planted)
    }

    /// The ground truth as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "plan": self.plan.to_json(),
            "paths": {
                "cloudtrail": self.paths[0],
                "okta": self.paths[1],
                "github": self.paths[2],
            },
            "cloudtrail": self.cloudtrail.to_json(),
            "okta": self.okta.to_json(),
            "github": self.github.to_json(),
        })
    }
}

/// Writes the three logs of the organisation, `events_per_source` records each, under `dir`
/// (created). The three are written concurrently (one thread each); the bytes do not depend on
/// it.
pub fn write_org_logs(
    seed: u64,
    events_per_source: u64,
    options: &OrgLogsOptions,
    dir: &Path,
) -> io::Result<OrgLogsTruth> {
    std::fs::create_dir_all(dir)?;
    let ct_name = match options.cloudtrail.shape {
        CloudTrailShape::JsonLines => "cloudtrail.jsonl",
        CloudTrailShape::JsonArray => "cloudtrail.json",
        CloudTrailShape::S3Objects { .. } => "cloudtrail",
    };
    let ext = options.export.extension();
    let okta_name = format!("okta.{ext}");
    let github_name = format!("github.{ext}");
    let write_file = |name: &str, okta: bool| -> io::Result<LogTruth> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(dir.join(name))?);
        let mut truth = if okta {
            write_okta(seed, events_per_source, options.export, &mut out)?
        } else {
            write_github(seed, events_per_source, options.export, &mut out)?
        };
        out.flush()?;
        truth.files = 1;
        Ok(truth)
    };
    let (cloudtrail, okta, github) = std::thread::scope(|scope| {
        let okta = scope.spawn(|| write_file(&okta_name, true));
        let github = scope.spawn(|| write_file(&github_name, false));
        let cloudtrail = write_cloudtrail(
            seed,
            events_per_source,
            &options.cloudtrail,
            &dir.join(ct_name),
        );
        let join = |h: std::thread::ScopedJoinHandle<'_, io::Result<LogTruth>>| {
            h.join()
                .unwrap_or_else(|_| Err(io::Error::other("a log writer panicked")))
        };
        (cloudtrail, join(okta), join(github))
    });
    Ok(OrgLogsTruth {
        plan: attack_plan(),
        cloudtrail: cloudtrail?,
        okta: okta?,
        github: github?,
        paths: [ct_name.to_string(), okta_name, github_name],
    })
}
